//! The tables as Delta tables: what `strata gen` commits, what a reader of
//! the log sees, and `strata upgrade` of a format-1 dataset.

use std::path::Path;

use strata_datasets::{
    DELTA_LOG, ErrorKind, FORMAT_VERSION, Manifest, block_on, describe, events_dir, generate,
    parquet_files, profiles_dir, snapshot, upgrade,
};

use crate::common::{all_events, event_files, small_config, small_dataset};

fn files_on_disk(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = event_files(dir)
        .into_iter()
        .map(|(_, f)| {
            f.strip_prefix(events_dir(dir))
                .unwrap()
                .display()
                .to_string()
        })
        .collect();
    out.sort();
    out
}

#[test]
fn generated_tables_list_every_file_with_statistics() {
    let dir = small_dataset();
    let events = block_on(snapshot(&events_dir(dir), None)).unwrap().unwrap();
    assert_eq!(events.version, 0);
    assert_eq!(events.partition_columns, ["event_month"]);
    let listed: Vec<String> = events.files.iter().map(|f| f.path.clone()).collect();
    assert_eq!(listed, files_on_disk(dir));
    let rows: u64 = events
        .files
        .iter()
        .map(|f| f.stats.as_ref().expect("stats").num_records)
        .sum();
    assert_eq!(rows, all_events(dir).num_rows() as u64);
    for f in &events.files {
        let month = f.partition_values["event_month"].as_deref().unwrap();
        assert!(
            f.path.starts_with(&format!("event_month={month}/")),
            "{f:?}"
        );
        let stats = f.stats.as_ref().unwrap();
        let (lo, hi) = (
            &stats.min_values["profile_id"],
            &stats.max_values["profile_id"],
        );
        assert!(lo.as_i64().unwrap() <= hi.as_i64().unwrap(), "{f:?}");
        assert_eq!(stats.nulls("profile_id"), Some(0));
    }
    let profiles = block_on(snapshot(&profiles_dir(dir), None))
        .unwrap()
        .unwrap();
    assert_eq!(
        profiles.files.len(),
        parquet_files(&profiles_dir(dir)).unwrap().len()
    );
    assert!(profiles.partition_columns.is_empty());
    assert!(profiles.file_schema.field_with_name("profile_id").is_ok());
    assert!(events.file_schema.field_with_name("event_month").is_err());
}

/// A format-1 dataset: the same files without logs, manifest format 1.
fn format_one(dir: &Path) {
    generate(&small_config(), dir).unwrap();
    for table in [profiles_dir(dir), events_dir(dir)] {
        std::fs::remove_dir_all(table.join(DELTA_LOG)).unwrap();
    }
    std::fs::remove_dir_all(strata_datasets::dataset_log_dir(dir)).unwrap();
    let mut m = Manifest::load(dir).unwrap();
    m.format_version = 1;
    m.save(dir).unwrap();
}

#[test]
fn a_format_one_dataset_is_refused_until_upgraded_in_place() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("old");
    format_one(&dir);
    let before = files_on_disk(&dir);

    let e = describe(&dir).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
    assert!(e.to_string().contains("strata upgrade --data"), "{e}");

    let s = upgrade(&dir).unwrap();
    assert_eq!(s.from_format, 1);
    assert_eq!(s.converted, ["profiles", "events"]);
    assert_eq!(Manifest::load(&dir).unwrap().format_version, FORMAT_VERSION);
    assert_eq!(files_on_disk(&dir), before, "no data file moves");
    let d = describe(&dir).unwrap();
    assert_eq!(d.profiles.rows, small_config().profiles);
    assert_eq!(d.versions, (0, 0));

    // Again: nothing to do, nothing written.
    let s = upgrade(&dir).unwrap();
    assert_eq!((s.from_format, s.converted.len()), (FORMAT_VERSION, 0));
}

#[test]
fn an_interrupted_upgrade_finishes_on_the_next_run() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("half");
    format_one(&dir);
    // As if killed after the first table's commit: profiles has its log,
    // events has none, the manifest still says format 1.
    block_on(strata_datasets::create_from_files(
        &profiles_dir(&dir),
        &strata_datasets::profiles_schema(),
        None,
    ))
    .unwrap()
    .unwrap();
    assert!(describe(&dir).is_err());
    let s = upgrade(&dir).unwrap();
    assert_eq!(s.converted, ["events"]);
    assert_eq!(
        describe(&dir).unwrap().events.rows,
        all_events(&dir).num_rows() as u64
    );
}

#[test]
fn a_file_the_log_does_not_list_is_not_part_of_the_table() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("stray");
    generate(&small_config(), &dir).unwrap();
    let d = describe(&dir).unwrap();
    let (_, first) = event_files(&dir).remove(0);
    std::fs::copy(&first, first.with_file_name("part-99999.parquet")).unwrap();
    let again = describe(&dir).unwrap();
    assert_eq!(again.events.rows, d.events.rows);
    assert_eq!(again.events.files, d.events.files);
}
