//! Where things are in a dataset directory.
//!
//! ```text
//! <data>/strata.toml
//! <data>/profiles/part-00000.parquet …      sorted by profile_id
//! <data>/events/event_month=YYYY-MM/part-00000.parquet …
//!                                           sorted by (profile_id, event_time)
//! ```

use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, Utc};

use crate::error::{Error, Result};

/// File name of the manifest inside a dataset directory.
pub const MANIFEST_FILE: &str = "strata.toml";
/// Directory of the profiles table.
pub const PROFILES_DIR: &str = "profiles";
/// Directory of the events table.
pub const EVENTS_DIR: &str = "events";
/// Name of the hive partition column of `events` (not stored in the files).
pub const EVENT_MONTH: &str = "event_month";

/// `<dir>/profiles`.
pub fn profiles_dir(dir: impl AsRef<Path>) -> PathBuf {
    dir.as_ref().join(PROFILES_DIR)
}

/// `<dir>/events`.
pub fn events_dir(dir: impl AsRef<Path>) -> PathBuf {
    dir.as_ref().join(EVENTS_DIR)
}

/// `event_month=YYYY-MM`, the partition directory name for a month.
pub fn partition_dir_name(year: i32, month: u32) -> String {
    format!("{EVENT_MONTH}={year:04}-{month:02}")
}

/// The partition directory name of the month `t` falls in (UTC).
pub fn partition_for(t: DateTime<Utc>) -> String {
    partition_dir_name(t.year(), t.month())
}

/// Parses `event_month=YYYY-MM` into (year, month).
pub fn parse_partition_dir_name(name: &str) -> Option<(i32, u32)> {
    let value = name.strip_prefix(EVENT_MONTH)?.strip_prefix('=')?;
    let (y, m) = value.split_once('-')?;
    if y.len() != 4 || m.len() != 2 {
        return None;
    }
    let (y, m) = (y.parse().ok()?, m.parse().ok()?);
    (1..=12).contains(&m).then_some((y, m))
}

/// `part-00042.parquet`: data file names sort lexically in profile order.
pub fn part_file_name(index: usize) -> String {
    format!("part-{index:05}.parquet")
}

/// Lists the `*.parquet` files directly in `dir`, sorted by name.
/// A missing directory is an empty list.
pub fn parquet_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !name.starts_with('.') && name.ends_with(".parquet") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Lists the partitions of `<dir>/events` as (name, path), sorted by month.
pub fn event_partitions(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let events = events_dir(dir);
    let entries = match std::fs::read_dir(&events) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(&events, e)),
    };
    let mut parts = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| Error::io(&events, e))?.path();
        if let Some(name) = path.file_name().and_then(|n| n.to_str())
            && parse_partition_dir_name(name).is_some()
            && path.is_dir()
        {
            parts.push((name.to_string(), path));
        }
    }
    parts.sort();
    Ok(parts)
}

/// Every file under a table directory outside its Delta log, as
/// (path relative to `table_dir`, path); one level of partition
/// directories.
pub(crate) fn data_files(table_dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    for entry in read_dir(table_dir)? {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if path.is_dir() {
            if name == crate::table::DELTA_LOG {
                continue;
            }
            for inner in read_dir(&path)? {
                let inner_path = inner.path();
                if inner_path.is_file() {
                    let inner_name = inner.file_name().to_string_lossy().into_owned();
                    out.push((format!("{name}/{inner_name}"), inner_path));
                }
            }
        } else if name.ends_with(".parquet") || name.starts_with('.') {
            out.push((name, path));
        }
    }
    out.sort();
    Ok(out)
}

pub(crate) fn read_dir(dir: &Path) -> Result<Vec<std::fs::DirEntry>> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .collect::<std::io::Result<Vec<_>>>()
            .map_err(|e| Error::io(dir, e)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(Error::io(dir, e)),
    }
}
