//! Turning a dataset's Parquet tables into Delta tables and recording
//! dataset version 0: at the end of every `strata import` and `strata gen`
//! (in the staging directory, before it takes the target's place), and in
//! place for a dataset of format 1 (`strata upgrade`), whose files stay
//! where they are.

use std::collections::BTreeMap;
use std::path::Path;

use arrow::datatypes::Schema;
use chrono::Utc;

use crate::dataset_log::{DatasetVersion, read_version, record_version};
use crate::error::Result;
use crate::layout::{EVENT_MONTH, EVENTS_DIR, PROFILES_DIR, events_dir, profiles_dir};
use crate::manifest::{FORMAT_VERSION, Manifest};
use crate::schema::{events_schema, profiles_schema};
use crate::table::{block_on, create_from_files, is_table, snapshot};

/// What [`upgrade`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpgradeSummary {
    /// The format the dataset was in.
    pub from_format: u32,
    /// The tables that got a transaction log (empty: it had them already).
    pub converted: Vec<&'static str>,
}

/// Converts the dataset at `dir` to the current format in place: each
/// table without a Delta log gets one whose version 0 lists the files it
/// has (nothing is rewritten), then the manifest says format
/// [`FORMAT_VERSION`]. Safe to rerun after an interruption: a table that
/// has its log is left as it is, and the manifest is written last. A
/// dataset in the current format is left untouched.
pub fn upgrade(dir: &Path) -> Result<UpgradeSummary> {
    let mut manifest = Manifest::load(dir)?;
    let from_format = manifest.format_version;
    let converted = create_tables(dir, &profiles_schema(), &events_schema(), "upgrade")?;
    if from_format < FORMAT_VERSION {
        manifest.format_version = FORMAT_VERSION;
        manifest.bump_version();
        manifest.save(dir)?;
    }
    Ok(UpgradeSummary {
        from_format,
        converted,
    })
}

/// Gives `profiles/` and `events/` under `root` a Delta log each, unless
/// they have one (`profiles` and `events` are their schemas when a table
/// has no files), then records dataset version 0 (made by `operation`)
/// unless the dataset has a version. Returns the tables it converted.
pub(crate) fn create_tables(
    root: &Path,
    profiles: &Schema,
    events: &Schema,
    operation: &str,
) -> Result<Vec<&'static str>> {
    let mut converted = Vec::new();
    let tables = [
        ("profiles", profiles_dir(root), profiles, None),
        ("events", events_dir(root), events, Some(EVENT_MONTH)),
    ];
    for (name, dir, schema, partition) in tables {
        if !is_table(&dir) {
            block_on(create_from_files(&dir, schema, partition))??;
            converted.push(name);
        }
    }
    if read_version(root, None)?.is_none() {
        record_first_version(root, operation)?;
    }
    Ok(converted)
}

fn record_first_version(root: &Path, operation: &str) -> Result<()> {
    let mut tables = BTreeMap::new();
    let mut rows_added = BTreeMap::new();
    let mut chunks = None;
    for (name, dir) in [
        (PROFILES_DIR, profiles_dir(root)),
        (EVENTS_DIR, events_dir(root)),
    ] {
        let table = block_on(snapshot(&dir, None))??;
        let rows = table
            .files
            .iter()
            .map(|f| f.stats.as_ref().map_or(0, |s| s.num_records))
            .sum();
        tables.insert(name.to_string(), table.version);
        rows_added.insert(name.to_string(), rows);
        if name == EVENTS_DIR {
            chunks = Some(crate::chunks::cuts(&table));
        }
    }
    record_version(
        root,
        &DatasetVersion {
            version: 0,
            tables,
            operation: operation.to_string(),
            timestamp: Utc::now(),
            rows_added,
            rows_removed: BTreeMap::new(),
            idempotency_key: None,
            chunks,
        },
    )
}
