//! `append`: new events and profiles as one write, ids kept, retries and
//! killed writers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow::array::AsArray;
use arrow::datatypes::Int64Type;
use strata_datasets::{
    DatasetVersion, ImportConfig, append, block_on, dataset_log_dir, events_dir, generate,
    load_snapshot, read_version, versions,
};

use crate::common::{read_file, small_config};

/// A fresh copy of the small generated dataset (appends change it).
pub(crate) fn dataset(tmp: &Path) -> PathBuf {
    let dir = tmp.join("shop");
    generate(&small_config(), &dir).unwrap();
    dir
}

/// (external_id, profile_id) of every profile at the latest version.
pub(crate) fn profiles(dir: &Path) -> BTreeMap<String, i64> {
    let s = block_on(load_snapshot(dir, None)).unwrap().unwrap();
    let mut out = BTreeMap::new();
    for f in &s.profiles.files {
        let b = read_file(&strata_datasets::profiles_dir(dir).join(&f.path));
        let ids = b
            .column_by_name("profile_id")
            .unwrap()
            .as_primitive::<Int64Type>();
        let ext = b.column_by_name("external_id").unwrap();
        let ext = ext.as_string::<i32>();
        for i in 0..b.num_rows() {
            out.insert(ext.value(i).to_string(), ids.value(i));
        }
    }
    out
}

/// Every event at the latest version as (profile_id, event_type, micros).
pub(crate) fn events(dir: &Path) -> Vec<(i64, String, i64)> {
    let s = block_on(load_snapshot(dir, None)).unwrap().unwrap();
    let mut out = Vec::new();
    for f in &s.events.files {
        let b = read_file(&events_dir(dir).join(&f.path));
        let ids = b
            .column_by_name("profile_id")
            .unwrap()
            .as_primitive::<Int64Type>();
        let types = b.column_by_name("event_type").unwrap();
        let types = types.as_string::<i32>();
        let time = b.column_by_name("event_time").unwrap();
        let time = time.as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
        for i in 0..b.num_rows() {
            out.push((ids.value(i), types.value(i).to_string(), time.value(i)));
        }
    }
    out.sort();
    out
}

pub(crate) fn csv(dir: &Path, name: &str, rows: &[(&str, &str, &str, &str)]) -> ImportConfig {
    let mut text = String::from("customer,ts,kind,total\n");
    for (c, t, k, a) in rows {
        text.push_str(&format!("{c},{t},{k},{a}\n"));
    }
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    crate::import::csv_config(path)
}

fn micros(t: &str) -> i64 {
    strata_datasets::parse_timestamp(t).unwrap()
}

#[test]
fn appended_events_keep_known_ids_and_new_customers_get_new_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = dataset(tmp.path());
    let before_profiles = profiles(&dir);
    let before_events = events(&dir);
    let (known, &known_id) = before_profiles.iter().next().unwrap();
    let max_id = *before_profiles.values().max().unwrap();
    let config = csv(
        tmp.path(),
        "day1.csv",
        &[
            (known, "2025-12-30 10:00:00", "purchase", "12.50"),
            ("NEW-B", "2025-12-31 09:00:00", "purchase", "3"),
            ("NEW-A", "2025-11-02", "page_view", ""),
            (known, "2025-12-31 23:59:59", "email_open", ""),
        ],
    );
    let s = append(&config, &dir, None).unwrap();
    assert_eq!((s.version, s.events, s.new_profiles), (1, 4, 2));

    let after = profiles(&dir);
    assert_eq!(after.len(), before_profiles.len() + 2);
    // Every old id stays; the new ones follow the largest, in key order.
    for (ext, id) in &before_profiles {
        assert_eq!(after[ext], *id, "{ext}");
    }
    assert_eq!((after["NEW-A"], after["NEW-B"]), (max_id + 1, max_id + 2));

    let mut expected = before_events.clone();
    expected.extend([
        (known_id, "purchase".into(), micros("2025-12-30 10:00:00")),
        (max_id + 2, "purchase".into(), micros("2025-12-31 09:00:00")),
        (max_id + 1, "page_view".into(), micros("2025-11-02")),
        (known_id, "email_open".into(), micros("2025-12-31 23:59:59")),
    ]);
    expected.sort();
    assert_eq!(events(&dir), expected);

    let v: DatasetVersion = read_version(&dir, None).unwrap().unwrap();
    assert_eq!(v.operation, "append");
    assert_eq!(v.rows_added["events"], 4);
    assert_eq!(v.tables["events"], 1);
    assert_eq!(v.tables["profiles"], 1);
    // Version 0 still reads as it was.
    let old = block_on(load_snapshot(&dir, Some(0))).unwrap().unwrap();
    let rows: u64 = old
        .events
        .files
        .iter()
        .map(|f| f.stats.as_ref().unwrap().num_records)
        .sum();
    assert_eq!(rows, before_events.len() as u64);
}

#[test]
fn a_retried_append_with_the_same_key_is_applied_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = dataset(tmp.path());
    let n = events(&dir).len();
    let config = csv(
        tmp.path(),
        "a.csv",
        &[("X1", "2025-12-01", "purchase", "9")],
    );
    let first = append(&config, &dir, Some("batch-7")).unwrap();
    let again = append(&config, &dir, Some("batch-7")).unwrap();
    assert!(!first.already_applied && again.already_applied);
    assert_eq!(again.version, first.version);
    assert_eq!(events(&dir).len(), n + 1);
    let other = append(&config, &dir, Some("batch-8")).unwrap();
    assert_eq!(other.version, first.version + 1);
    assert_eq!(events(&dir).len(), n + 2);
    assert_eq!(versions(&dir).unwrap(), [0, 1, 2]);
}

#[test]
fn a_writer_killed_before_recording_its_version_leaves_the_old_version() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = dataset(tmp.path());
    let before = events(&dir);
    let lost = csv(
        tmp.path(),
        "lost.csv",
        &[("L1", "2025-12-01", "purchase", "1")],
    );
    append(&lost, &dir, None).unwrap();
    // As if killed after the table commits, before the dataset version.
    std::fs::remove_file(dataset_log_dir(&dir).join(format!("{:020}.json", 1))).unwrap();
    assert_eq!(events(&dir), before, "readers follow the dataset log");
    assert!(!profiles(&dir).contains_key("L1"));

    let next = csv(
        tmp.path(),
        "next.csv",
        &[("N1", "2025-12-02", "purchase", "2")],
    );
    let s = append(&next, &dir, None).unwrap();
    assert_eq!(s.version, 1);
    let after = events(&dir);
    assert_eq!(after.len(), before.len() + 1);
    let ids = profiles(&dir);
    assert!(ids.contains_key("N1") && !ids.contains_key("L1"));
}

#[test]
fn input_columns_the_table_lacks_are_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = dataset(tmp.path());
    let path = tmp.path().join("extra.csv");
    std::fs::write(
        &path,
        "customer,ts,kind,total,mood\nA,2025-12-01,purchase,1,happy\n",
    )
    .unwrap();
    let config = ImportConfig {
        events: vec![path],
        ..csv(tmp.path(), "unused.csv", &[])
    };
    let e = append(&config, &dir, None).unwrap_err();
    assert!(
        e.to_string()
            .contains("column mood is not in the events table"),
        "{e}"
    );
    assert_eq!(versions(&dir).unwrap(), [0]);
    let e = block_on(load_snapshot(&dir, Some(3))).unwrap().unwrap_err();
    assert!(
        e.to_string().contains("dataset version 3 does not exist"),
        "{e}"
    );
}

#[test]
fn an_append_with_profiles_updates_and_creates_them_in_the_same_version() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = dataset(tmp.path());
    let before = profiles(&dir);
    let (known, &known_id) = before.iter().next().unwrap();
    let max_id = *before.values().max().unwrap();
    let mut config = csv(
        tmp.path(),
        "day.csv",
        &[("brand-new", "2025-12-30 10:00:00", "purchase", "5")],
    );
    let crm = tmp.path().join("crm.csv");
    std::fs::write(
        &crm,
        format!("customer,loyalty_tier\n{known},platinum\nbrand-new,gold\nprofile-only,silver\n"),
    )
    .unwrap();
    config.profiles = Some(crm);
    config.profiles_id = "customer".into();
    let s = append(&config, &dir, None).unwrap();
    assert_eq!(
        (s.version, s.events, s.new_profiles, s.updated_profiles),
        (1, 1, 2, 1)
    );
    assert_eq!(versions(&dir).unwrap(), [0, 1]);
    let after = profiles(&dir);
    assert_eq!(after[known.as_str()], known_id);
    // The event's new customer gets the first new id, the profile-only one
    // the next.
    assert_eq!(after["brand-new"], max_id + 1);
    assert_eq!(after["profile-only"], max_id + 2);
    assert_eq!(after.len(), before.len() + 2);
    let tiers = crate::upsert::tiers(&dir);
    assert_eq!(tiers[known.as_str()].as_deref(), Some("platinum"));
    assert_eq!(tiers["brand-new"].as_deref(), Some("gold"));
    assert_eq!(tiers["profile-only"].as_deref(), Some("silver"));
    let record = read_version(&dir, None).unwrap().unwrap();
    assert_eq!(record.rows_added["profiles"], 2);
}
