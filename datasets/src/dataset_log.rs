//! The dataset's own log: which version of each table makes up each
//! dataset version.
//!
//! Delta commits are per table, and a write may touch several tables (an
//! append that creates profiles, an erasure). Readers therefore never take
//! a table's latest version: they read the latest dataset version, a file
//! `_strata_log/NNNNNNNNNNNNNNNNNNNN.json` naming one version of every
//! table, and load each table at that version. A write commits to the
//! tables first and creates the next dataset version's file last,
//! create-only (a hard link, which never replaces): that file is the
//! moment the write becomes visible, all of it at once, and two writers
//! can never both create version N.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::atomic::{Replace, write_atomic};
use crate::error::{Error, Result};
use crate::layout::{EVENTS_DIR, PROFILES_DIR, events_dir, profiles_dir};
use crate::table::{TableSnapshot, snapshot};

/// The dataset log's directory inside a dataset directory.
pub const DATASET_LOG: &str = "_strata_log";

/// One dataset version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetVersion {
    /// 0 for the dataset as imported, generated or upgraded; +1 per write.
    pub version: u64,
    /// Table name (`profiles`, `events`) → its Delta version.
    pub tables: BTreeMap<String, u64>,
    /// What made it: `import`, `gen`, `upgrade`, `append`, …
    pub operation: String,
    /// When it was committed.
    pub timestamp: DateTime<Utc>,
    /// Rows the write added and removed, per table.
    #[serde(default)]
    pub rows_added: BTreeMap<String, u64>,
    /// Rows the write removed, per table.
    #[serde(default)]
    pub rows_removed: BTreeMap<String, u64>,
    /// The caller's key for the write, when given: a retry with the same
    /// key finds this version instead of writing again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// The first profile id of each events chunk after the first: the
    /// boundaries appends and optimize cut their files at. Found from the
    /// files when the dataset is created and carried by every write;
    /// `None` in records written before they were recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunks: Option<Vec<i64>>,
}

impl DatasetVersion {
    /// The Delta version of `table` in this dataset version.
    pub fn table(&self, table: &str) -> Result<u64> {
        self.tables.get(table).copied().ok_or_else(|| {
            Error::Internal(format!(
                "dataset version {} names no version of {table}",
                self.version
            ))
        })
    }
}

/// `<dir>/_strata_log`.
pub fn dataset_log_dir(dir: &Path) -> PathBuf {
    dir.join(DATASET_LOG)
}

fn record_path(dir: &Path, version: u64) -> PathBuf {
    dataset_log_dir(dir).join(format!("{version:020}.json"))
}

/// The dataset versions on record, oldest first.
pub fn versions(dir: &Path) -> Result<Vec<u64>> {
    let log = dataset_log_dir(dir);
    let entries = match std::fs::read_dir(&log) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(&log, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let name = entry.map_err(|e| Error::io(&log, e))?.file_name();
        let name = name.to_string_lossy();
        if let Some(v) = name.strip_suffix(".json").and_then(|v| v.parse().ok())
            && name.len() == 25
        {
            out.push(v);
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// Dataset version `version`, or the latest when `None`; `Ok(None)` when
/// the dataset has no log yet.
pub fn read_version(dir: &Path, version: Option<u64>) -> Result<Option<DatasetVersion>> {
    let all = versions(dir)?;
    let Some(&latest) = all.last() else {
        return match version {
            None => Ok(None),
            Some(v) => Err(no_such_version(dir, v, None)),
        };
    };
    let v = version.unwrap_or(latest);
    if !all.contains(&v) {
        return Err(no_such_version(dir, v, Some(latest)));
    }
    let path = record_path(dir, v);
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let record: DatasetVersion = serde_json::from_str(&text)
        .map_err(|e| Error::Internal(format!("{}: {e}", path.display())))?;
    Ok(Some(record))
}

fn no_such_version(dir: &Path, v: u64, latest: Option<u64>) -> Error {
    Error::VersionNotFound {
        dir: dir.to_path_buf(),
        version: v,
        latest,
    }
}

/// Records `record` as the next dataset version: fails with
/// [`Error::Conflict`] when another writer recorded that version first.
pub fn record_version(dir: &Path, record: &DatasetVersion) -> Result<()> {
    let log = dataset_log_dir(dir);
    std::fs::create_dir_all(&log).map_err(|e| Error::io(&log, e))?;
    let text = serde_json::to_string_pretty(record)
        .map_err(|e| Error::Internal(format!("dataset version: {e}")))?;
    let path = record_path(dir, record.version);
    match write_atomic(&path, text.as_bytes(), Replace::No) {
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(Error::Conflict(format!(
                "dataset version {} was written by another writer at the same time",
                record.version
            )))
        }
        other => other,
    }
}

/// The tables of one dataset version, as their logs list them.
#[derive(Debug, Clone)]
pub struct DatasetSnapshot {
    /// The dataset version read (`None`: the dataset has no log; its
    /// tables were read at their latest versions).
    pub version: Option<DatasetVersion>,
    /// The `profiles` table at that version.
    pub profiles: TableSnapshot,
    /// The `events` table at that version.
    pub events: TableSnapshot,
}

impl DatasetSnapshot {
    /// The dataset version number read (0 for a dataset without a log).
    pub fn number(&self) -> u64 {
        self.version.as_ref().map_or(0, |v| v.version)
    }
}

/// Reads dataset version `at` (the latest when `None`) of the dataset at
/// `dir`: the record, then each table at the version it names.
/// A version older than an erasure is [`Error::VersionErased`].
pub async fn load_snapshot(dir: &Path, at: Option<u64>) -> Result<DatasetSnapshot> {
    let version = read_version(dir, at)?;
    if let Some(v) = at
        && let Some(erasure) = crate::forget::erased_after(dir, v)?
    {
        return Err(Error::VersionErased {
            version: v,
            erasure,
        });
    }
    if let Some(v) = at
        && v < crate::vacuum::readable_from(dir)?
    {
        return Err(Error::VersionVacuumed {
            version: v,
            readable_from: crate::vacuum::readable_from(dir)?,
        });
    }
    let table_version = |name: &str| version.as_ref().map(|v| v.table(name)).transpose();
    let (profiles, events) = (table_version(PROFILES_DIR)?, table_version(EVENTS_DIR)?);
    let (profiles_dir, events_dir) = (profiles_dir(dir), events_dir(dir));
    let (profiles, events) = futures::try_join!(
        snapshot(&profiles_dir, profiles),
        snapshot(&events_dir, events),
    )?;
    Ok(DatasetSnapshot {
        version,
        profiles,
        events,
    })
}
