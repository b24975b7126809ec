//! `strata forget`: profiles erased on request (the right to be
//! forgotten), from every file of the dataset.
//!
//! One erasure is one dataset write:
//! 1. the profiles are found by `external_id`;
//! 2. each live file of `profiles` and `events` that holds one of them is
//!    rewritten without their rows (a file that holds none is not
//!    touched), under a new name;
//! 3. an erasure journal, `_strata_log/erasure.json`, records the version
//!    the erasure will make, the profile ids, and the files to delete: the
//!    replaced ones, and files no longer live (removed by an earlier
//!    version, or left by a killed write) that hold one of the profiles;
//! 4. the tables' commits and the next dataset version are recorded;
//! 5. the journal is carried out: every other Parquet file in the dataset
//!    with a `profile_id` column (features, memberships, report rows) is
//!    rewritten in place without the profiles, the listed files are
//!    deleted, and the journal is removed.
//!
//! A process killed before step 4 leaves the old version (the next write
//! repairs the tables and drops the journal); one killed after it leaves a
//! journal that the next write to the dataset carries out first
//! ([`resume`], called by [`DatasetWrite::begin`]). Versions older than
//! the erasure cannot be read any more ([`erased_after`]): their files
//! are gone.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::atomic::{Replace, write_atomic};
use crate::dataset_log::{DATASET_LOG, dataset_log_dir, read_version, versions};
use crate::dataset_write::DatasetWrite;
use crate::error::{Error, Result};
use crate::layout::{EVENTS_DIR, PROFILES_DIR, data_files, read_dir};
use crate::rewrite::{Ids, holds, may_hold, without};
use crate::table::{Change, NewFile, TableFile, TableSnapshot};

/// The operation name of an erasure in the dataset log.
pub const FORGET_OPERATION: &str = "forget";

/// The journal's file name inside `_strata_log/`.
const JOURNAL: &str = "erasure.json";

/// What [`forget`] did.
#[derive(Debug, Clone, Default)]
pub struct ForgetSummary {
    /// The dataset version the erasure made (`None`: no profile matched,
    /// nothing was written).
    pub version: Option<u64>,
    /// Profiles erased.
    pub profiles: u64,
    /// The external ids asked for that no profile has.
    pub not_found: Vec<String>,
    /// Events removed.
    pub events: u64,
    /// Table files rewritten without the profiles (or dropped, when
    /// nothing else was in them).
    pub files_rewritten: u64,
    /// Derived files (features, memberships, reports) rewritten.
    pub derived_files: u64,
    /// Files deleted from disk.
    pub files_deleted: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// An earlier call with the same idempotency key made `version`.
    pub already_applied: bool,
}

/// What the next writer must finish when an erasure was interrupted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Journal {
    /// The dataset version the erasure makes.
    version: u64,
    /// The erased profiles.
    profile_ids: Vec<i64>,
    /// Files to delete, relative to the dataset directory.
    delete: Vec<String>,
}

/// Erases the profiles with `external_ids` from the dataset at `dir`, as
/// one write; unknown ids are reported, not an error. With
/// `idempotency_key`, a call whose key an earlier version carries changes
/// nothing and reports that version.
pub fn forget(
    dir: &Path,
    external_ids: &[String],
    idempotency_key: Option<&str>,
) -> Result<ForgetSummary> {
    let started = Instant::now();
    if external_ids.is_empty() {
        return Err(Error::InvalidArgument(
            "no external id given (--external-id or --external-ids-file)".into(),
        ));
    }
    let mut write = DatasetWrite::begin(dir)?;
    if let Some(key) = idempotency_key
        && let Some(done) = write.applied(key)?
    {
        return Ok(ForgetSummary {
            version: Some(done.version),
            already_applied: true,
            profiles: done.rows_removed.get(PROFILES_DIR).copied().unwrap_or(0),
            events: done.rows_removed.get(EVENTS_DIR).copied().unwrap_or(0),
            elapsed: started.elapsed(),
            ..ForgetSummary::default()
        });
    }
    let profiles = write.files(PROFILES_DIR)?;
    let found = find_profiles(dir, &profiles, external_ids)?;
    let mut summary = ForgetSummary {
        not_found: external_ids
            .iter()
            .filter(|e| !found.contains_key(e.as_str()))
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
        profiles: found.len() as u64,
        ..ForgetSummary::default()
    };
    if found.is_empty() {
        summary.elapsed = started.elapsed();
        return Ok(summary);
    }
    let ids = Ids::new(found.into_values().collect());
    let version = write.base().version + 1;
    let tag = format!("e{version:06}-{:08x}", rand::random::<u32>());
    let mut journal = Journal {
        version,
        profile_ids: ids.as_slice().to_vec(),
        delete: Vec::new(),
    };
    let mut rewritten = Vec::new();
    let mut removed = BTreeMap::new();
    for table in [PROFILES_DIR, EVENTS_DIR] {
        let snapshot = write.files(table)?;
        let change = rewrite_table(&dir.join(table), &snapshot, &ids, &tag)?;
        journal
            .delete
            .extend(change.removes.iter().map(|f| format!("{table}/{}", f.path)));
        journal.delete.extend(
            dead_files(&dir.join(table), &snapshot, &ids)?
                .into_iter()
                .map(|p| format!("{table}/{p}")),
        );
        removed.insert(table.to_string(), change.rows_removed);
        summary.files_rewritten += change.removes.len() as u64;
        rewritten.push((table, change));
    }
    summary.events = removed.get(EVENTS_DIR).copied().unwrap_or(0);
    write_journal(dir, &journal)?;
    for (table, change) in &rewritten {
        if !change.removes.is_empty() {
            write.commit(table, &change.adds, &change.removes, Change::Delete)?;
        }
    }
    let record = write.finish(FORGET_OPERATION, BTreeMap::new(), removed, idempotency_key)?;
    let done = carry_out(dir, &journal)?;
    drop(write);
    summary.version = Some(record.version);
    summary.derived_files = done.derived_files;
    summary.files_deleted = done.files_deleted;
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// Finishes an erasure a killed process left half done: carried out when
/// its version was recorded (`latest` is the latest dataset version),
/// dropped otherwise (the write never happened; its tables are repaired).
/// The caller holds the write lock.
pub(crate) fn resume(dir: &Path, latest: u64) -> Result<()> {
    let path = dataset_log_dir(dir).join(JOURNAL);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(&path, e)),
    };
    let journal: Journal = serde_json::from_str(&text)
        .map_err(|e| Error::Internal(format!("{}: {e}", path.display())))?;
    if journal.version <= latest {
        tracing::warn!(
            version = journal.version,
            "an erasure was interrupted after it was recorded; finishing it"
        );
        carry_out(dir, &journal)?;
    } else {
        std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
    }
    Ok(())
}

/// The erasure recorded after dataset version `version`, if any: the
/// files of `version` may be gone.
pub(crate) fn erased_after(dir: &Path, version: u64) -> Result<Option<u64>> {
    for v in versions(dir)?.into_iter().filter(|&v| v > version) {
        if read_version(dir, Some(v))?.is_some_and(|r| r.operation == FORGET_OPERATION) {
            return Ok(Some(v));
        }
    }
    Ok(None)
}

/// External id → profile id of the profiles asked for that exist.
fn find_profiles(
    dir: &Path,
    profiles: &TableSnapshot,
    external_ids: &[String],
) -> Result<BTreeMap<String, i64>> {
    let wanted: HashSet<&str> = external_ids.iter().map(String::as_str).collect();
    let mut found = BTreeMap::new();
    crate::import::scan_keys(
        &dir.join(PROFILES_DIR),
        profiles,
        "external_id",
        |id, ext| {
            if let Some(ext) = ext
                && wanted.contains(ext)
            {
                found.insert(ext.to_string(), id);
            }
        },
    )?;
    Ok(found)
}

/// A table's part of the erasure.
#[derive(Debug, Default)]
struct TableChange {
    adds: Vec<NewFile>,
    removes: Vec<TableFile>,
    rows_removed: u64,
}

/// Rewrites the live files of the table at `table_dir` that hold one of
/// `ids` (found by the log's `profile_id` bounds, then the files' own
/// row groups), two at a time; `tag` makes the new names unique.
fn rewrite_table(
    table_dir: &Path,
    snapshot: &TableSnapshot,
    ids: &Ids,
    tag: &str,
) -> Result<TableChange> {
    let candidates: Vec<&TableFile> = snapshot.files.iter().filter(|f| may_hold(f, ids)).collect();
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let chunk = candidates.len().div_ceil(workers).max(1);
    let rewrite_chunk = |w: usize, files: &[&TableFile]| -> Result<Vec<Rewritten>> {
        let mut out = Vec::new();
        for (i, f) in files.iter().enumerate() {
            out.extend(rewrite_file(
                table_dir,
                f,
                ids,
                &format!("{tag}-{w}{i:04}"),
            )?);
        }
        Ok(out)
    };
    let rewritten: Vec<Rewritten> = std::thread::scope(|s| {
        let handles: Vec<_> = candidates
            .chunks(chunk)
            .enumerate()
            .map(|(w, files)| s.spawn(move || rewrite_chunk(w, files)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(panicked())))
            .collect::<Result<Vec<_>>>()
    })?
    .into_iter()
    .flatten()
    .collect();
    let mut change = TableChange::default();
    for r in rewritten {
        change.removes.push(r.old);
        change.adds.extend(r.new);
        change.rows_removed += r.dropped;
    }
    Ok(change)
}

fn panicked() -> Error {
    Error::Internal("a file rewrite panicked".into())
}

/// A table file rewritten without the erased profiles.
struct Rewritten {
    /// The file replaced.
    old: TableFile,
    /// Its replacement (none when nothing was left).
    new: Option<NewFile>,
    /// Rows dropped.
    dropped: u64,
}

/// `file` rewritten without `ids` next to itself, if it holds any.
fn rewrite_file(
    table_dir: &Path,
    file: &TableFile,
    ids: &Ids,
    tag: &str,
) -> Result<Option<Rewritten>> {
    let src = table_dir.join(&file.path);
    if holds(&src, ids)? != Some(true) {
        return Ok(None);
    }
    let new_path = match file.path.rsplit_once('/') {
        Some((partition, _)) => format!("{partition}/part-{tag}.parquet"),
        None => format!("part-{tag}.parquet"),
    };
    let filtered = without(&src, &table_dir.join(&new_path), ids, false)?;
    let new = (filtered.kept > 0).then(|| NewFile {
        path: new_path,
        partition_values: file.partition_values.clone(),
    });
    Ok(Some(Rewritten {
        old: file.clone(),
        new,
        dropped: filtered.dropped,
    }))
}

/// Data files under `table_dir` that `snapshot` does not list and that
/// may hold one of `ids` (relative paths): files of removed versions not
/// yet vacuumed, and leftovers of killed writes (hidden temp files, which
/// only dataset writes make here, and the caller holds the write lock).
fn dead_files(table_dir: &Path, snapshot: &TableSnapshot, ids: &Ids) -> Result<Vec<String>> {
    let live: HashSet<&str> = snapshot.files.iter().map(|f| f.path.as_str()).collect();
    let mut out = Vec::new();
    for (rel, path) in data_files(table_dir)? {
        if live.contains(rel.as_str()) {
            continue;
        }
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        // A temp file may be incomplete: unreadable, so it cannot tell.
        if name.starts_with('.') || holds(&path, ids).unwrap_or(Some(true)) != Some(false) {
            out.push(rel);
        }
    }
    Ok(out)
}

fn write_journal(dir: &Path, journal: &Journal) -> Result<()> {
    let text = serde_json::to_string_pretty(journal)
        .map_err(|e| Error::Internal(format!("erasure journal: {e}")))?;
    write_atomic(
        &dataset_log_dir(dir).join(JOURNAL),
        text.as_bytes(),
        Replace::Yes,
    )
}

/// What carrying out a journal did.
#[derive(Debug, Default)]
struct Done {
    derived_files: u64,
    files_deleted: u64,
}

/// Purges the derived files, deletes the journal's files, then the
/// journal. Safe to repeat.
fn carry_out(dir: &Path, journal: &Journal) -> Result<Done> {
    let ids = Ids::new(journal.profile_ids.clone());
    let mut done = Done::default();
    for path in derived_files(dir)? {
        if holds(&path, &ids)? == Some(true) {
            without(&path, &path, &ids, true)?;
            done.derived_files += 1;
        }
    }
    for rel in &journal.delete {
        let path = dir.join(rel);
        crate::fault::point("before deleting a replaced file");
        match std::fs::remove_file(&path) {
            Ok(()) => done.files_deleted += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(&path, e)),
        }
    }
    let path = dataset_log_dir(dir).join(JOURNAL);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(done),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(done),
        Err(e) => Err(Error::io(&path, e)),
    }
}

/// Every Parquet file in the dataset outside the tables and the logs
/// (what the engine derives: features, memberships, reports), at any
/// depth; hidden files are skipped (temp files of a write in progress).
fn derived_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in read_dir(&d)? {
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            let top = d == dir;
            if name.starts_with('.')
                || (top && [PROFILES_DIR, EVENTS_DIR, DATASET_LOG].contains(&name.as_str()))
            {
                continue;
            }
            if path.is_dir() {
                pending.push(path);
            } else if name.ends_with(".parquet") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}
