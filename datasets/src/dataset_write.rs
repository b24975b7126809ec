//! One write to a dataset, from the write lock to the next dataset version.
//!
//! 1. [`DatasetWrite::begin`] takes the dataset's write lock (an advisory
//!    lock on `_strata_log/.lock`, which the kernel releases when the
//!    process dies, so a killed writer never leaves it held), reads the
//!    latest dataset version, and repairs what a killed writer may have
//!    left: a table whose log is ahead of the version the dataset names
//!    got commits that never became a dataset version, and is put back to
//!    that version's files by one restore commit.
//! 2. The write adds its files to the table directories under new names
//!    and commits them to each table it changes ([`DatasetWrite::commit`]).
//! 3. [`DatasetWrite::finish`] records the next dataset version naming the
//!    new table versions: from that moment readers see the whole write.
//!
//! A process killed anywhere leaves the dataset at the old version
//! (readers follow the dataset log, and the next writer repairs the
//! tables) or at the new one; files written but never committed stay on
//! disk, unread, until a vacuum.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::Utc;

use crate::dataset_log::{DatasetVersion, dataset_log_dir, read_version, record_version, versions};
use crate::error::{Error, Result};
use crate::manifest::Manifest;
use crate::table::{Change, NewFile, TableFile, block_on, commit, latest_version, snapshot};

/// How long a writer waits for another one to finish.
const LOCK_WAIT: Duration = Duration::from_secs(600);

/// A write in progress; dropping it without [`finish`](Self::finish)
/// releases the lock and leaves the dataset as it was.
#[derive(Debug)]
pub(crate) struct DatasetWrite {
    dir: PathBuf,
    _lock: File,
    base: DatasetVersion,
    /// Each table's Delta version to commit on top of (after repair).
    heads: BTreeMap<String, u64>,
    /// Each table's Delta version once this write committed to it.
    changed: BTreeMap<String, u64>,
    finished: bool,
}

impl DatasetWrite {
    /// Locks the dataset at `dir` for writing and repairs its tables.
    pub(crate) fn begin(dir: &Path) -> Result<DatasetWrite> {
        Manifest::load(dir)?.ensure_current(dir)?;
        let lock = lock(dir)?;
        let base = read_version(dir, None)?.ok_or_else(|| Error::NeedsUpgrade {
            dir: dir.to_path_buf(),
            found: crate::manifest::FORMAT_VERSION,
        })?;
        let mut heads = BTreeMap::new();
        for (table, &version) in &base.tables {
            heads.insert(table.clone(), repair(&dir.join(table), version)?);
        }
        crate::forget::resume(dir, base.version)?;
        Ok(DatasetWrite {
            dir: dir.to_path_buf(),
            _lock: lock,
            base,
            heads,
            changed: BTreeMap::new(),
            finished: false,
        })
    }

    /// The dataset version this write builds on.
    pub(crate) fn base(&self) -> &DatasetVersion {
        &self.base
    }

    /// The earlier version written with idempotency key `key`, if any.
    pub(crate) fn applied(&self, key: &str) -> Result<Option<DatasetVersion>> {
        for v in versions(&self.dir)?.into_iter().rev() {
            if let Some(record) = read_version(&self.dir, Some(v))?
                && record.idempotency_key.as_deref() == Some(key)
            {
                return Ok(Some(record));
            }
        }
        Ok(None)
    }

    /// The events table's chunk boundaries ([`crate::chunks`]): as
    /// recorded, or found from `events` (the base version's events table)
    /// in a dataset recorded before they were.
    pub(crate) fn chunks(&self, events: &crate::table::TableSnapshot) -> Vec<i64> {
        self.base
            .chunks
            .clone()
            .unwrap_or_else(|| crate::chunks::cuts(events))
    }

    /// The live files of `table` at the base version.
    pub(crate) fn files(&self, table: &str) -> Result<crate::table::TableSnapshot> {
        block_on(snapshot(&self.dir.join(table), Some(self.head(table)?)))?
    }

    fn head(&self, table: &str) -> Result<u64> {
        self.heads
            .get(table)
            .copied()
            .ok_or_else(|| Error::Internal(format!("the dataset has no table {table}")))
    }

    /// Commits `adds` and `removes` to `table` (once per table and write).
    pub(crate) fn commit(
        &mut self,
        table: &str,
        adds: &[NewFile],
        removes: &[TableFile],
        change: Change,
    ) -> Result<()> {
        self.commit_with_schema(table, adds, removes, change, None)
    }

    /// [`commit`](Self::commit), changing the table's file columns to
    /// `schema` in the same commit when given.
    pub(crate) fn commit_with_schema(
        &mut self,
        table: &str,
        adds: &[NewFile],
        removes: &[TableFile],
        change: Change,
        schema: Option<&arrow::datatypes::Schema>,
    ) -> Result<()> {
        if self.finished {
            return Err(Error::Internal("a commit after the write finished".into()));
        }
        let dir = self.dir.join(table);
        crate::fault::point("before a table commit");
        let version = block_on(commit(
            &dir,
            self.head(table)?,
            adds,
            removes,
            change,
            schema,
        ))??;
        crate::fault::point("after a table commit");
        self.heads.insert(table.to_string(), version);
        self.changed.insert(table.to_string(), version);
        Ok(())
    }

    /// Records the next dataset version: the tables this write changed at
    /// their new versions, the others as they were. The lock is held until
    /// the write is dropped (work that must follow the record, such as an
    /// erasure's deletions, runs under it); a write finishes once.
    pub(crate) fn finish(
        &mut self,
        operation: &str,
        rows_added: BTreeMap<String, u64>,
        rows_removed: BTreeMap<String, u64>,
        idempotency_key: Option<&str>,
    ) -> Result<DatasetVersion> {
        if self.finished {
            return Err(Error::Internal("a dataset write finished twice".into()));
        }
        let mut tables = self.base.tables.clone();
        tables.extend(std::mem::take(&mut self.changed));
        let record = DatasetVersion {
            version: self.base.version + 1,
            tables,
            operation: operation.to_string(),
            timestamp: Utc::now(),
            rows_added,
            rows_removed,
            idempotency_key: idempotency_key.map(str::to_string),
            chunks: self.base.chunks.clone(),
        };
        record_version(&self.dir, &record)?;
        self.finished = true;
        Ok(record)
    }
}

/// Takes `<dir>/_strata_log/.lock`, waiting up to [`LOCK_WAIT`].
fn lock(dir: &Path) -> Result<File> {
    let log = dataset_log_dir(dir);
    std::fs::create_dir_all(&log).map_err(|e| Error::io(&log, e))?;
    let path = log.join(".lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::io(&path, e))?;
    let started = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) if started.elapsed() < LOCK_WAIT => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(Error::Conflict(format!(
                    "another write has held the dataset for over {LOCK_WAIT:?}"
                )));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(&path, e)),
        }
    }
}

/// Puts the table at `dir` back to the files of `recorded` when its log
/// is ahead (commits of a writer that died before recording a dataset
/// version); returns the version to commit on top of.
fn repair(dir: &Path, recorded: u64) -> Result<u64> {
    let latest = block_on(latest_version(dir))??;
    if latest <= recorded {
        return Ok(recorded);
    }
    let want = block_on(snapshot(dir, Some(recorded)))??;
    let have = block_on(snapshot(dir, Some(latest)))??;
    let keep: BTreeSet<&str> = want.files.iter().map(|f| f.path.as_str()).collect();
    let present: BTreeSet<&str> = have.files.iter().map(|f| f.path.as_str()).collect();
    let removes: Vec<TableFile> = have
        .files
        .iter()
        .filter(|f| !keep.contains(f.path.as_str()))
        .cloned()
        .collect();
    let adds: Vec<NewFile> = want
        .files
        .iter()
        .filter(|f| !present.contains(f.path.as_str()))
        .map(|f| NewFile {
            path: f.path.clone(),
            partition_values: f.partition_values.clone(),
        })
        .collect();
    tracing::warn!(
        table = %dir.display(),
        recorded,
        latest,
        "a write died after committing to the table; restoring version {recorded}"
    );
    block_on(commit(
        dir,
        latest,
        &adds,
        &removes,
        Change::Restore(recorded),
        None,
    ))?
}
