//! `strata vacuum`: files no readable version needs, deleted.
//!
//! Every write leaves the files it replaced on disk, so that queries still
//! reading the version before it keep working and `--at-version` can read
//! old versions; killed writes leave files no version lists. A vacuum
//! keeps the latest version and every version that was the latest at
//! some moment of the retention window (its successor was recorded less
//! than `retain` ago), and deletes every other file of the `profiles` and
//! `events` tables that is older than `retain`. The versions it gives up
//! are recorded first (`_strata_log/vacuum.json`), so that reading one
//! says it was vacuumed instead of failing on a missing file.

use std::collections::HashSet;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::atomic::{Replace, write_atomic};
use crate::dataset_log::{DatasetVersion, dataset_log_dir, read_version, versions};
use crate::dataset_write::DatasetWrite;
use crate::error::{Error, Result};
use crate::layout::{EVENTS_DIR, PROFILES_DIR, data_files};
use crate::table::{block_on, snapshot};

/// The record of the oldest version a vacuum left readable.
const RECORD: &str = "vacuum.json";

/// What [`vacuum`] did.
#[derive(Debug, Clone, Default)]
pub struct VacuumSummary {
    /// The oldest dataset version still readable.
    pub readable_from: u64,
    /// The versions kept readable.
    pub versions_kept: u64,
    /// Files deleted.
    pub files_deleted: u64,
    /// Bytes they held.
    pub bytes_deleted: u64,
    /// Wall time.
    pub elapsed: Duration,
}

#[derive(Debug, Serialize, Deserialize)]
struct Record {
    readable_from: u64,
    vacuumed_at: chrono::DateTime<Utc>,
}

/// Deletes the files of the dataset at `dir` that no version of the
/// retention window `retain` lists.
pub fn vacuum(dir: &Path, retain: Duration) -> Result<VacuumSummary> {
    let started = Instant::now();
    let write = DatasetWrite::begin(dir)?;
    let cutoff = Utc::now()
        - chrono::Duration::from_std(retain)
            .map_err(|_| Error::InvalidArgument(format!("--retain {retain:?} is too long")))?;
    let kept = kept_versions(dir, cutoff)?;
    let readable_from = kept.first().map_or(write.base().version, |v| v.version);
    record(dir, readable_from)?;
    let mut summary = VacuumSummary {
        readable_from,
        versions_kept: kept.len() as u64,
        ..VacuumSummary::default()
    };
    let old_enough = SystemTime::now() - retain;
    for table in [PROFILES_DIR, EVENTS_DIR] {
        let table_dir = dir.join(table);
        let mut live = HashSet::new();
        for version in &kept {
            let files = block_on(snapshot(&table_dir, Some(version.table(table)?)))??;
            live.extend(files.files.into_iter().map(|f| f.path));
        }
        for (rel, path) in data_files(&table_dir)? {
            let meta = std::fs::metadata(&path).map_err(|e| Error::io(&path, e))?;
            let modified = meta.modified().map_err(|e| Error::io(&path, e))?;
            if live.contains(&rel) || modified > old_enough {
                continue;
            }
            crate::fault::point("before a vacuum deletion");
            std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
            summary.files_deleted += 1;
            summary.bytes_deleted += meta.len();
        }
    }
    drop(write);
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// The versions to keep readable, oldest first: the latest, and each one
/// whose successor was recorded after `cutoff`.
fn kept_versions(dir: &Path, cutoff: chrono::DateTime<Utc>) -> Result<Vec<DatasetVersion>> {
    let all = versions(dir)?;
    let from = readable_from(dir)?;
    let mut kept = Vec::new();
    let mut next: Option<DatasetVersion> = None;
    for &v in all.iter().rev().filter(|&&v| v >= from) {
        let record = read_version(dir, Some(v))?
            .ok_or_else(|| Error::Internal(format!("dataset version {v} vanished")))?;
        let keep = next.as_ref().is_none_or(|n| n.timestamp > cutoff);
        if !keep {
            break;
        }
        next = Some(record.clone());
        kept.push(record);
    }
    kept.reverse();
    Ok(kept)
}

fn record(dir: &Path, readable_from: u64) -> Result<()> {
    let text = serde_json::to_string_pretty(&Record {
        readable_from,
        vacuumed_at: Utc::now(),
    })
    .map_err(|e| Error::Internal(format!("vacuum record: {e}")))?;
    write_atomic(
        &dataset_log_dir(dir).join(RECORD),
        text.as_bytes(),
        Replace::Yes,
    )
}

/// The oldest version the last vacuum left readable (0 before any).
pub(crate) fn readable_from(dir: &Path) -> Result<u64> {
    let path = dataset_log_dir(dir).join(RECORD);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str::<Record>(&text)
            .map(|r| r.readable_from)
            .map_err(|e| Error::Internal(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(Error::io(&path, e)),
    }
}
