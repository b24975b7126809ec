//! `optimize`: months that appends made overlap put back into the chunk
//! layout, rows unchanged; small profile files merged; a second run is a
//! no-op.

use std::collections::BTreeMap;
use std::path::Path;

use strata_datasets::{
    OptimizeConfig, TableFile, append, block_on, load_snapshot, optimize, read_version, vacuum,
};

use crate::append::{csv, dataset, events, profiles};

/// `profile_id` (min, max) of each file, by month.
fn ranges(files: &[TableFile]) -> BTreeMap<String, Vec<(i64, i64)>> {
    let mut out: BTreeMap<String, Vec<(i64, i64)>> = BTreeMap::new();
    for f in files {
        let s = f.stats.as_ref().unwrap();
        let month = f.partition_values["event_month"].clone().unwrap();
        out.entry(month).or_default().push((
            s.min_values["profile_id"].as_i64().unwrap(),
            s.max_values["profile_id"].as_i64().unwrap(),
        ));
    }
    for r in out.values_mut() {
        r.sort_unstable();
    }
    out
}

/// The chunk of each id in `lo..=hi` (panics when they differ: a file
/// straddles a chunk boundary).
fn chunk(cuts: &[i64], (lo, hi): (i64, i64)) -> usize {
    let of = |id: i64| cuts.partition_point(|&c| c <= id);
    assert_eq!(of(lo), of(hi), "{lo}..={hi} straddles one of {cuts:?}");
    of(lo)
}

fn recorded_chunks(dir: &Path) -> Vec<i64> {
    read_version(dir, None).unwrap().unwrap().chunks.unwrap()
}

fn snapshot_files(dir: &Path) -> (Vec<TableFile>, Vec<TableFile>) {
    let s = block_on(load_snapshot(dir, None)).unwrap().unwrap();
    (s.events.files, s.profiles.files)
}

/// Three appends of events across the whole id range (and new customers).
fn append_days(tmp: &Path, dir: &Path) {
    let known = profiles(dir);
    let mut by_id: Vec<(&i64, &String)> = known.iter().map(|(e, i)| (i, e)).collect();
    by_id.sort();
    let (low, high) = (by_id[0].1.clone(), by_id[by_id.len() - 1].1.clone());
    for day in 1..=3 {
        let new = format!("NEW-{day}");
        let rows = [
            (
                low.as_str(),
                format!("2025-12-0{day} 10:00:00"),
                "purchase",
                "5",
            ),
            (
                high.as_str(),
                format!("2025-12-0{day} 11:00:00"),
                "purchase",
                "7",
            ),
            (
                new.as_str(),
                format!("2025-11-0{day} 12:00:00"),
                "page_view",
                "",
            ),
        ];
        let rows: Vec<(&str, &str, &str, &str)> = rows
            .iter()
            .map(|(c, t, k, a)| (*c, t.as_str(), *k, *a))
            .collect();
        append(&csv(tmp, &format!("day{day}.csv"), &rows), dir, None).unwrap();
    }
}

#[test]
fn appends_keep_to_the_chunks_and_optimize_compacts_what_they_added() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = dataset(tmp.path());
    let (_, profiles0) = snapshot_files(&dir);
    let cuts = recorded_chunks(&dir);
    assert_eq!(cuts.len(), 1, "the small dataset has two chunks: {cuts:?}");

    append_days(tmp.path(), &dir);
    let (files, profile_files) = snapshot_files(&dir);
    // An append cuts its files at the chunk boundaries.
    assert_eq!(recorded_chunks(&dir), cuts);
    for r in ranges(&files).into_values().flatten() {
        chunk(&cuts, r);
    }
    assert_eq!(profile_files.len(), profiles0.len() + 3);
    let before = (events(&dir), profiles(&dir));
    let december = ranges(&files)["2025-12"].clone();
    assert!(
        december.windows(2).any(|w| w[1].0 <= w[0].1),
        "{december:?}"
    );

    let done = optimize(&dir, &OptimizeConfig::default()).unwrap();
    assert_eq!(done.version, Some(4));
    assert!(
        done.months.contains(&"2025-12".to_string()),
        "{:?}",
        done.months
    );
    assert_eq!(
        read_version(&dir, None).unwrap().unwrap().operation,
        "optimize"
    );
    assert_eq!((events(&dir), profiles(&dir)), before, "rows do not change");

    let (files, profile_files) = snapshot_files(&dir);
    for (month, r) in ranges(&files) {
        let chunks: Vec<usize> = r.iter().map(|&r| chunk(&cuts, r)).collect();
        assert!(
            chunks.windows(2).all(|w| w[0] < w[1]),
            "{month}: one file per chunk: {r:?}"
        );
    }
    assert_eq!(recorded_chunks(&dir), cuts);
    // All profile files are small (2,000 rows): they became one.
    assert_eq!(profile_files.len(), 1);

    let again = optimize(&dir, &OptimizeConfig::default()).unwrap();
    assert_eq!((again.version, again.files_removed), (None, 0));
    assert_eq!(read_version(&dir, None).unwrap().unwrap().version, 4);
}

#[test]
fn one_month_only_and_bad_months() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = dataset(tmp.path());
    append_days(tmp.path(), &dir);
    let before = events(&dir);
    let config = OptimizeConfig {
        month: Some("2025-11".into()),
        ..OptimizeConfig::default()
    };
    let done = optimize(&dir, &config).unwrap();
    assert_eq!(done.months, ["2025-11"]);
    assert_eq!(events(&dir), before);
    let (files, _) = snapshot_files(&dir);
    let december = &ranges(&files)["2025-12"];
    assert!(december.windows(2).any(|w| w[1].0 <= w[0].1), "untouched");

    for bad in ["2025-13", "November", "2025-1"] {
        let config = OptimizeConfig {
            month: Some(bad.into()),
            ..OptimizeConfig::default()
        };
        let err = optimize(&dir, &config).unwrap_err().to_string();
        assert!(err.contains("YYYY-MM"), "{bad}: {err}");
    }
}

#[test]
fn a_retried_optimize_with_the_same_key_reports_the_first() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = dataset(tmp.path());
    append_days(tmp.path(), &dir);
    let config = OptimizeConfig {
        idempotency_key: Some("nightly-1".into()),
        ..OptimizeConfig::default()
    };
    let first = optimize(&dir, &config).unwrap();
    let again = optimize(&dir, &config).unwrap();
    assert!(!first.already_applied && again.already_applied);
    assert_eq!(again.version, first.version);
}

/// Every data file under the two tables, relative to the dataset.
fn table_files_on_disk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for table in ["profiles", "events"] {
        for entry in walk(&dir.join(table)) {
            let rel = entry
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if !rel.contains("_delta_log") {
                out.push(rel);
            }
        }
    }
    out.sort();
    out
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn vacuum_deletes_what_no_retained_version_lists() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = dataset(tmp.path());
    append_days(tmp.path(), &dir);
    optimize(&dir, &OptimizeConfig::default()).unwrap();
    let stray = dir.join("events/event_month=2025-12/part-left-by-a-killed-write.parquet");
    std::fs::write(&stray, b"not even parquet").unwrap();
    let before = (events(&dir), profiles(&dir));
    let on_disk = table_files_on_disk(&dir);

    // Within a week of every write, everything stays.
    let week = std::time::Duration::from_secs(7 * 86_400);
    let kept = vacuum(&dir, week).unwrap();
    assert_eq!((kept.files_deleted, kept.readable_from), (0, 0));
    assert_eq!(table_files_on_disk(&dir), on_disk);
    assert!(block_on(load_snapshot(&dir, Some(0))).unwrap().is_ok());

    // With no retention only the latest version's files remain.
    let done = vacuum(&dir, std::time::Duration::ZERO).unwrap();
    assert_eq!((done.readable_from, done.versions_kept), (4, 1));
    let (events_live, profiles_live) = snapshot_files(&dir);
    let mut live: Vec<String> = events_live
        .iter()
        .map(|f| format!("events/{}", f.path))
        .chain(profiles_live.iter().map(|f| format!("profiles/{}", f.path)))
        .collect();
    live.sort();
    assert_eq!(table_files_on_disk(&dir), live);
    assert_eq!(done.files_deleted as usize, on_disk.len() - live.len());
    assert!(!stray.exists());
    assert_eq!((events(&dir), profiles(&dir)), before);
    let err = block_on(load_snapshot(&dir, Some(1))).unwrap().unwrap_err();
    assert!(err.to_string().contains("vacuum"), "{err}");
    assert!(block_on(load_snapshot(&dir, Some(4))).unwrap().is_ok());
}

#[test]
fn files_that_straddle_a_chunk_boundary_are_split_at_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = dataset(tmp.path());
    // Record one more boundary, inside the first chunk: every file of that
    // chunk now straddles it (as files written before chunks were recorded
    // may).
    let record = dir.join("_strata_log/00000000000000000000.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&record).unwrap()).unwrap();
    let mut cuts: Vec<i64> = serde_json::from_value(v["chunks"].clone()).unwrap();
    cuts.insert(0, 500);
    v["chunks"] = serde_json::to_value(&cuts).unwrap();
    std::fs::write(&record, serde_json::to_string(&v).unwrap()).unwrap();
    let before = (events(&dir), profiles(&dir));

    let done = optimize(&dir, &OptimizeConfig::default()).unwrap();
    assert!(
        done.files_removed > 0 && done.version == Some(1),
        "{done:?}"
    );
    assert_eq!((events(&dir), profiles(&dir)), before, "rows do not change");
    let (files, _) = snapshot_files(&dir);
    for (month, r) in ranges(&files) {
        let chunks: Vec<usize> = r.iter().map(|&r| chunk(&cuts, r)).collect();
        assert!(chunks.windows(2).all(|w| w[0] < w[1]), "{month}: {r:?}");
    }
    assert_eq!(
        optimize(&dir, &OptimizeConfig::default()).unwrap().version,
        None
    );
}

#[test]
fn appends_merge_a_chunks_small_files_once_there_are_eight() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = dataset(tmp.path());
    let cuts = recorded_chunks(&dir);
    let (low, low_id) = {
        let p = profiles(&dir);
        let (e, i) = p.iter().min_by_key(|(_, i)| **i).unwrap();
        (e.clone(), *i)
    };
    let mut expected = events(&dir);
    for day in 1..=12 {
        let t = format!("2025-12-{day:02} 09:00:00");
        let rows = [(low.as_str(), t.as_str(), "purchase", "4")];
        append(&csv(tmp.path(), &format!("d{day}.csv"), &rows), &dir, None).unwrap();
        let micros = strata_datasets::parse_timestamp(&t).unwrap();
        expected.push((low_id, "purchase".to_string(), micros));
        let (files, _) = snapshot_files(&dir);
        let in_chunk = ranges(&files)["2025-12"]
            .iter()
            .filter(|&&r| chunk(&cuts, r) == 0)
            .count();
        assert!(in_chunk <= 8, "day {day}: {in_chunk} files in the chunk");
    }
    expected.sort();
    assert_eq!(events(&dir), expected, "every event once");
}
