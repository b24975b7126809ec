//! `upsert_profiles`: columns the file has overwrite, the rest stay, new
//! keys become new profiles, new columns only when asked.

use std::collections::BTreeMap;
use std::path::Path;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::concat_batches;
use arrow::datatypes::Int64Type;
use strata_datasets::{
    Error, UpsertConfig, block_on, load_snapshot, profiles_dir, read_version, upsert_profiles,
};

use crate::append::dataset;
use crate::common::read_file;

/// Every profile row at the latest version, sorted by id, with the
/// table's columns (NULL where a file lacks one).
fn table(dir: &Path) -> RecordBatch {
    let s = block_on(load_snapshot(dir, None)).unwrap().unwrap();
    let schema = s.profiles.file_schema.clone();
    let batches: Vec<RecordBatch> = s
        .profiles
        .files
        .iter()
        .map(|f| {
            let b = read_file(&profiles_dir(dir).join(&f.path));
            let columns = schema
                .fields()
                .iter()
                .map(|field| match b.column_by_name(field.name()) {
                    Some(c) => arrow::compute::cast(c, field.data_type()).unwrap(),
                    None => arrow::array::new_null_array(field.data_type(), b.num_rows()),
                })
                .collect();
            RecordBatch::try_new(schema.clone(), columns).unwrap()
        })
        .collect();
    let all = concat_batches(&schema, &batches).unwrap();
    let ids = all.column(0).as_primitive::<Int64Type>();
    let mut order: Vec<u32> = (0..all.num_rows() as u32).collect();
    order.sort_by_key(|&i| ids.value(i as usize));
    let idx = arrow::array::UInt32Array::from(order);
    let columns = all
        .columns()
        .iter()
        .map(|c| arrow::compute::take(c, &idx, None).unwrap())
        .collect();
    RecordBatch::try_new(schema, columns).unwrap()
}

/// Column `name` of the profile with external id `ext`, as text.
fn cell(t: &RecordBatch, ext: &str, name: &str) -> Option<String> {
    let e = t.column_by_name("external_id").unwrap().as_string::<i32>();
    let row = (0..t.num_rows()).find(|&i| e.value(i) == ext)?;
    let c =
        arrow::compute::cast(t.column_by_name(name)?, &arrow::datatypes::DataType::Utf8).ok()?;
    let c = c.as_string::<i32>();
    c.is_valid(row).then(|| c.value(row).to_string())
}

fn write(dir: &Path, name: &str, text: &str) -> UpsertConfig {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    UpsertConfig::new(path)
}

#[test]
fn given_columns_overwrite_absent_ones_stay_and_new_keys_become_profiles() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = dataset(tmp.path());
    let before = table(&dir);
    let exts: Vec<String> = {
        let e = before
            .column_by_name("external_id")
            .unwrap()
            .as_string::<i32>();
        vec![e.value(3).to_string(), e.value(150).to_string()]
    };
    let max_id = before
        .column(0)
        .as_primitive::<Int64Type>()
        .values()
        .iter()
        .max()
        .copied()
        .unwrap();
    let config = write(
        tmp.path(),
        "changes.csv",
        &format!(
            "external_id,loyalty_tier,consent_email\n{},platinum,false\n{},,true\nnew-customer-1,gold,true\n",
            exts[0], exts[1]
        ),
    );
    let s = upsert_profiles(&dir, &config, Some("crm-2025-12-31")).unwrap();
    assert_eq!(
        (s.version, s.updated, s.created, s.input_rows),
        (1, 2, 1, 3)
    );
    assert!(s.files_rewritten >= 1);
    let after = table(&dir);
    assert_eq!(after.num_rows(), before.num_rows() + 1);
    assert_eq!(
        cell(&after, &exts[0], "loyalty_tier").as_deref(),
        Some("platinum")
    );
    assert_eq!(
        cell(&after, &exts[0], "consent_email").as_deref(),
        Some("false")
    );
    // An empty cell writes NULL.
    assert_eq!(cell(&after, &exts[1], "loyalty_tier"), None);
    assert_eq!(
        cell(&after, &exts[1], "consent_email").as_deref(),
        Some("true")
    );
    // Columns the file lacks keep their values.
    for ext in &exts {
        for column in ["email", "country", "birth_date", "signup_at"] {
            assert_eq!(
                cell(&after, ext, column),
                cell(&before, ext, column),
                "{ext} {column}"
            );
        }
    }
    // Every profile not in the file is unchanged.
    let untouched = |t: &RecordBatch| {
        let e = t.column_by_name("external_id").unwrap().as_string::<i32>();
        let keep: arrow::array::BooleanArray = (0..t.num_rows())
            .map(|i| {
                Some(!exts.contains(&e.value(i).to_string()) && e.value(i) != "new-customer-1")
            })
            .collect();
        arrow::compute::filter_record_batch(t, &keep).unwrap()
    };
    assert_eq!(untouched(&after), untouched(&before));
    assert_eq!(
        cell(&after, "new-customer-1", "profile_id"),
        Some((max_id + 1).to_string())
    );
    assert_eq!(
        cell(&after, "new-customer-1", "loyalty_tier").as_deref(),
        Some("gold")
    );
    assert_eq!(cell(&after, "new-customer-1", "email"), None);

    // A retry with the same key writes nothing.
    let again = upsert_profiles(&dir, &config, Some("crm-2025-12-31")).unwrap();
    assert!(again.already_applied);
    assert_eq!(again.version, 1);
    let record = read_version(&dir, None).unwrap().unwrap();
    assert_eq!(
        (record.version, record.operation.as_str()),
        (1, "upsert-profiles")
    );
    assert_eq!(
        record.rows_added,
        BTreeMap::from([("profiles".to_string(), 1)])
    );
}

#[test]
fn unknown_columns_need_add_columns_and_values_must_fit() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = dataset(tmp.path());
    let ext = {
        let t = table(&dir);
        t.column_by_name("external_id")
            .unwrap()
            .as_string::<i32>()
            .value(7)
            .to_string()
    };
    let config = write(
        tmp.path(),
        "new.csv",
        &format!("external_id,vip_score\n{ext},42\n"),
    );
    match upsert_profiles(&dir, &config, None) {
        Err(Error::InvalidArgument(m)) => assert!(
            m.contains("vip_score") && m.contains("--add-columns"),
            "{m}"
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(read_version(&dir, None).unwrap().unwrap().version, 0);
    let added = UpsertConfig {
        add_columns: true,
        ..config
    };
    let s = upsert_profiles(&dir, &added, None).unwrap();
    assert_eq!(s.added_columns, ["vip_score"]);
    let t = table(&dir);
    assert_eq!(cell(&t, &ext, "vip_score").as_deref(), Some("42"));
    let nulls = t.column_by_name("vip_score").unwrap().null_count();
    assert_eq!(nulls, t.num_rows() - 1);
    // The Delta schema has the column too.
    let snapshot = block_on(load_snapshot(&dir, None)).unwrap().unwrap();
    assert!(
        snapshot
            .profiles
            .file_schema
            .field_with_name("vip_score")
            .is_ok()
    );

    let bad = write(
        tmp.path(),
        "bad.csv",
        &format!("external_id,birth_date\n{ext},not-a-date\n"),
    );
    match upsert_profiles(&dir, &bad, None) {
        Err(Error::InvalidArgument(m)) => {
            assert!(
                m.contains("row 1") && m.contains("birth_date") && m.contains("not-a-date"),
                "{m}"
            )
        }
        other => panic!("{other:?}"),
    }
}

/// external_id → loyalty_tier of every profile at the latest version.
pub(crate) fn tiers(dir: &Path) -> BTreeMap<String, Option<String>> {
    let t = table(dir);
    let e = t.column_by_name("external_id").unwrap().as_string::<i32>();
    (0..t.num_rows())
        .map(|i| {
            let ext = e.value(i).to_string();
            let tier = cell(&t, &ext, "loyalty_tier");
            (ext, tier)
        })
        .collect()
}
