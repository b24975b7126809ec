//! `forget`: erased profiles leave every file of the dataset; nothing
//! else changes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{AsArray, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Int64Type, Schema};
use parquet::file::metadata::KeyValue;
use strata_datasets::{
    Error, FORGET_OPERATION, block_on, events_dir, forget, load_snapshot, profiles_dir,
    read_version, write_parquet_file, writer_properties_builder,
};

use crate::append::{dataset, events, profiles};
use crate::common::read_file;

/// Every Parquet file under `dir` (hidden ones too), at any depth.
fn parquet_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(parquet_under(&path));
        } else if path.to_string_lossy().contains(".parquet") {
            out.push(path);
        }
    }
    out
}

/// The profile ids in a file's `profile_id` column.
fn ids_in(path: &Path) -> BTreeSet<i64> {
    let b = read_file(path);
    b.column_by_name("profile_id")
        .map_or_else(BTreeSet::new, |c| {
            c.as_primitive::<Int64Type>().iter().flatten().collect()
        })
}

/// A report-like derived file: one row per profile id, with metadata.
fn write_derived(path: &Path, ids: &[i64]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let schema = Arc::new(Schema::new(vec![
        Field::new("profile_id", DataType::Int64, false),
        Field::new("label", DataType::Utf8, true),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from(ids.to_vec())),
            Arc::new(StringArray::from_iter_values(
                ids.iter().map(|i| format!("p{i}")),
            )),
        ],
    )
    .unwrap();
    let props = writer_properties_builder()
        .set_key_value_metadata(Some(vec![KeyValue::new(
            "strata.report".into(),
            "rfm".to_string(),
        )]))
        .build();
    write_parquet_file(path, schema, props, &[batch]).unwrap();
}

#[test]
fn forgotten_profiles_leave_every_file_and_the_rest_stays() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = dataset(tmp.path());
    let before_profiles = profiles(&dir);
    let before_events = events(&dir);
    let gone: Vec<(String, i64)> = before_profiles
        .iter()
        .step_by(97)
        .take(3)
        .map(|(e, &i)| (e.clone(), i))
        .collect();
    let gone_ids: BTreeSet<i64> = gone.iter().map(|g| g.1).collect();
    // A derived file, and a file no version lists that holds one of them.
    let all_ids: Vec<i64> = before_profiles.values().copied().collect();
    let derived = dir.join("reports/rfm/scores.parquet");
    write_derived(&derived, &all_ids);
    let snapshot = block_on(load_snapshot(&dir, None)).unwrap().unwrap();
    let holders = |root: &Path, files: &[strata_datasets::TableFile]| -> Vec<String> {
        files
            .iter()
            .filter(|f| !ids_in(&root.join(&f.path)).is_disjoint(&gone_ids))
            .map(|f| f.path.clone())
            .collect()
    };
    let event_holders = holders(&events_dir(&dir), &snapshot.events.files);
    let profile_holders = holders(&profiles_dir(&dir), &snapshot.profiles.files);
    let dead = events_dir(&dir).join(event_holders[0].replace("part-", "part-old-"));
    std::fs::copy(events_dir(&dir).join(&event_holders[0]), &dead).unwrap();

    let mut asked: Vec<String> = gone.iter().map(|g| g.0.clone()).collect();
    asked.push("nobody@example.com".into());
    let s = forget(&dir, &asked, Some("erase-1")).unwrap();

    assert_eq!(s.version, Some(1));
    assert_eq!(s.profiles, 3);
    assert_eq!(s.not_found, ["nobody@example.com"]);
    let expected: Vec<_> = before_events
        .iter()
        .filter(|e| !gone_ids.contains(&e.0))
        .cloned()
        .collect();
    assert_eq!(s.events as usize, before_events.len() - expected.len());
    assert!(s.events > 0);
    assert_eq!(events(&dir), expected);
    let mut expected_profiles = before_profiles.clone();
    expected_profiles.retain(|_, id| !gone_ids.contains(id));
    assert_eq!(profiles(&dir), expected_profiles);
    // Only the files that held them were rewritten, and deleted with the
    // dead copy.
    let rewritten = event_holders.len() + profile_holders.len();
    assert_eq!(s.files_rewritten as usize, rewritten, "{s:?}");
    assert_eq!(s.files_deleted as usize, rewritten + 1, "{s:?}");
    assert_eq!(s.derived_files, 1);
    for f in parquet_under(&dir) {
        assert!(
            ids_in(&f).is_disjoint(&gone_ids),
            "{} holds a forgotten profile",
            f.display()
        );
    }
    assert!(!dead.exists());
    // The derived file keeps its other rows and its metadata.
    let kept = read_file(&derived);
    assert_eq!(kept.num_rows(), all_ids.len() - gone_ids.len());
    let meta =
        parquet::file::reader::SerializedFileReader::new(std::fs::File::open(&derived).unwrap())
            .unwrap();
    let kv = parquet::file::reader::FileReader::metadata(&meta)
        .file_metadata()
        .key_value_metadata()
        .cloned()
        .unwrap();
    assert!(kv.iter().any(|kv| kv.key == "strata.report"));

    let record = read_version(&dir, None).unwrap().unwrap();
    assert_eq!(record.operation, FORGET_OPERATION);
    assert_eq!(
        record.rows_removed,
        BTreeMap::from([
            ("events".to_string(), s.events),
            ("profiles".to_string(), 3)
        ])
    );
    match block_on(load_snapshot(&dir, Some(0))).unwrap() {
        Err(Error::VersionErased {
            version: 0,
            erasure: 1,
        }) => {}
        other => panic!("reading version 0 after the erasure: {other:?}"),
    }
    // Forgetting them again finds nobody and writes nothing.
    let again = forget(&dir, &asked[..1], None).unwrap();
    assert_eq!(again.version, None);
    assert_eq!(read_version(&dir, None).unwrap().unwrap().version, 1);
    // A retry with the first call's key reports what that call did.
    let retry = forget(&dir, &asked, Some("erase-1")).unwrap();
    assert!(retry.already_applied);
    assert_eq!((retry.version, retry.profiles), (Some(1), s.profiles));
}

#[test]
fn no_external_id_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = dataset(tmp.path());
    assert!(matches!(
        forget(&dir, &[], None),
        Err(Error::InvalidArgument(_))
    ));
}
