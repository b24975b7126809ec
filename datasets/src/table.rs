//! The dataset's tables as Delta Lake tables.
//!
//! A table directory (`profiles/`, `events/`) holds the Parquet files
//! Strata writes itself (sorted, ZSTD, page index: [`crate::parquet_io`])
//! and a Delta transaction log, `_delta_log/`, which says which of them
//! make up each version of the table, with per-file statistics (rows, and
//! per column the minimum, maximum and null count). Readers take the live
//! files of one version and their statistics from the log, never from a
//! directory listing: a file the log does not list is not part of the
//! table (a file of a removed version, or of a write that never committed).
//!
//! The log is written and read with delta-rs (`deltalake-core`), so Spark,
//! Polars, DuckDB's `delta_scan` and the Python `deltalake` package read the
//! same tables.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::datatypes::{Schema, SchemaRef};
use deltalake_core::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake_core::kernel::transaction::{CommitBuilder, TableReference};
use deltalake_core::kernel::{
    Action, Add, DataType as DeltaType, Metadata, MetadataExt, Remove, StructField, StructType,
};
use deltalake_core::operations::convert_to_delta::ConvertToDeltaBuilder;
use deltalake_core::operations::create::CreateBuilder;
use deltalake_core::protocol::DeltaOperation;
use deltalake_core::protocol::SaveMode;
use deltalake_core::{
    DeltaTable, DeltaTableBuilder, DeltaTableError, TableProperty, ensure_table_uri,
};
use parquet::basic::{LogicalType, TimeUnit};
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};
use parquet::file::statistics::Statistics;
use serde::{Deserialize, Serialize};
use serde_json::Map;

use crate::error::{Error, Result};
use crate::layout::parquet_files;

/// The transaction log's directory inside a table directory.
pub const DELTA_LOG: &str = "_delta_log";

/// One version of a table: its live data files.
#[derive(Debug, Clone)]
pub struct TableSnapshot {
    /// The Delta table version (0 is the table's first commit).
    pub version: u64,
    /// The table's partition columns (values in each file's
    /// [`TableFile::partition_values`]).
    pub partition_columns: Vec<String>,
    /// The columns stored in the files (the table's schema without its
    /// partition columns), as the log records them.
    pub file_schema: SchemaRef,
    /// The live files, sorted by path.
    pub files: Vec<TableFile>,
}

/// A live data file of a table version, as its add action in the log says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableFile {
    /// Path relative to the table directory, `/`-separated
    /// (`event_month=2025-01/part-00003.parquet`).
    pub path: String,
    /// Bytes on disk.
    pub size: u64,
    /// Partition column → its value in this file (`None`: NULL).
    pub partition_values: BTreeMap<String, Option<String>>,
    /// The file's statistics, when the writer recorded them.
    pub stats: Option<FileStatistics>,
}

/// Per-file statistics of an add action (Delta's `stats` JSON). Values are
/// JSON as the Delta protocol writes them: numbers, strings, timestamps as
/// ISO-8601 text, dates as `YYYY-MM-DD`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FileStatistics {
    /// Rows in the file.
    pub num_records: u64,
    /// Column → smallest value.
    #[serde(default)]
    pub min_values: BTreeMap<String, serde_json::Value>,
    /// Column → largest value.
    #[serde(default)]
    pub max_values: BTreeMap<String, serde_json::Value>,
    /// Column → number of NULLs (a number for a plain column).
    #[serde(default)]
    pub null_count: BTreeMap<String, serde_json::Value>,
}

impl FileStatistics {
    /// The NULL count of a plain (not nested) column, if recorded.
    pub fn nulls(&self, column: &str) -> Option<u64> {
        self.null_count.get(column)?.as_u64()
    }
}

/// Whether `dir` holds a Delta table (its `_delta_log/` has a commit).
pub fn is_table(dir: &Path) -> bool {
    std::fs::read_dir(dir.join(DELTA_LOG)).is_ok_and(|mut entries| {
        entries.any(|e| {
            e.is_ok_and(|e| {
                let name = e.file_name();
                let name = name.to_string_lossy();
                name.ends_with(".json") || name.ends_with(".checkpoint.parquet")
            })
        })
    })
}

/// The columns whose statistics the log records: those the planner uses
/// (file grouping by id range, time pruning). Text columns are left out on
/// purpose: a log file is never rewritten, so a customer's email or name
/// as a file's minimum would outlive `strata forget`.
pub const STATS_COLUMNS: &[&str] = &["profile_id", "event_time"];

/// Makes the Parquet files under `dir` version 0 of a new Delta table: one
/// commit with an add action (statistics of the [`STATS_COLUMNS`] it has,
/// read from each file's footer) per file. `partition_column` names the
/// hive directories (`<column>=<value>/`) the files are in, a string
/// column. A directory without Parquet files becomes an empty table of
/// `schema`. Fails if `dir` is a Delta table already.
pub async fn create_from_files(
    dir: &Path,
    schema: &Schema,
    partition_column: Option<&str>,
) -> Result<u64> {
    let stats_columns: Vec<&str> = STATS_COLUMNS
        .iter()
        .copied()
        .filter(|c| schema.index_of(c).is_ok())
        .collect();
    let stats_columns = Some(stats_columns.join(","));
    let has_files = match partition_column {
        None => !parquet_files(dir)?.is_empty(),
        Some(_) => has_partitioned_files(dir)?,
    };
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let location = location(dir)?;
    let partition_fields = partition_column
        .map(|c| StructField::new(c, DeltaType::STRING, true))
        .into_iter();
    let table = if has_files {
        ConvertToDeltaBuilder::new()
            .with_location(location)
            .with_partition_schema(partition_fields)
            .with_configuration_property(TableProperty::DataSkippingStatsColumns, stats_columns)
            .with_save_mode(SaveMode::ErrorIfExists)
            .await
    } else {
        let columns: StructType = schema.try_into_kernel().map_err(|e| delta(dir, e.into()))?;
        CreateBuilder::new()
            .with_location(location)
            .with_columns(columns.fields().cloned().chain(partition_fields))
            .with_partition_columns(partition_column)
            .with_configuration_property(TableProperty::DataSkippingStatsColumns, stats_columns)
            .with_save_mode(SaveMode::ErrorIfExists)
            .await
    }
    .map_err(|e| delta(dir, e))?;
    version_of(dir, &table)
}

/// The live files of `dir`'s table at `version` (the latest when `None`).
pub async fn snapshot(dir: &Path, version: Option<u64>) -> Result<TableSnapshot> {
    let table = open_table(dir, version).await?;
    let state = table.snapshot().map_err(|e| delta(dir, e))?;
    let mut files: Vec<TableFile> = state
        .log_data()
        .iter()
        .map(|f| TableFile {
            path: f.path().into_owned(),
            size: u64::try_from(f.size()).unwrap_or(0),
            partition_values: f.partition_values_map().into_iter().collect(),
            stats: f.stats().and_then(|s| serde_json::from_str(&s).ok()),
        })
        .collect();
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let partition_columns = state.metadata().partition_columns().to_vec();
    let schema = state.snapshot().arrow_schema();
    let file_schema = Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .filter(|f| !partition_columns.contains(f.name()))
            .cloned()
            .collect::<Vec<_>>(),
    ));
    Ok(TableSnapshot {
        version: version_of(dir, &table)?,
        partition_columns,
        file_schema,
        files,
    })
}

/// Runs `future` to completion from synchronous code, inside or outside a
/// tokio runtime: on a scoped thread of its own with a current-thread
/// runtime, so it never blocks (or nests inside) a caller's runtime.
pub fn block_on<F>(future: F) -> Result<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    std::thread::scope(|s| {
        s.spawn(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| Error::io(".", e))?;
            Ok(runtime.block_on(future))
        })
        .join()
        .unwrap_or_else(|_| Err(Error::Internal("a table operation panicked".into())))
    })
}

fn has_partitioned_files(dir: &Path) -> Result<bool> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(Error::io(dir, e)),
    };
    for entry in entries {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() && name.contains('=') && !parquet_files(&path)?.is_empty() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// `dir` (which must exist) as the absolute path delta-rs opens.
fn location(dir: &Path) -> Result<String> {
    let abs: PathBuf = dir.canonicalize().map_err(|e| Error::io(dir, e))?;
    abs.to_str()
        .map(str::to_string)
        .ok_or_else(|| Error::InvalidArgument(format!("{} is not UTF-8", abs.display())))
}

fn version_of(dir: &Path, table: &DeltaTable) -> Result<u64> {
    table
        .version()
        .ok_or_else(|| Error::Internal(format!("{}: a loaded table has no version", dir.display())))
}

fn delta(dir: &Path, source: DeltaTableError) -> Error {
    Error::Table {
        path: dir.to_path_buf(),
        source: Box::new(source),
    }
}

/// A data file written into a table directory, to be committed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NewFile {
    /// Path relative to the table directory, `/`-separated.
    pub(crate) path: String,
    /// Partition column → value (empty for an unpartitioned table).
    pub(crate) partition_values: BTreeMap<String, Option<String>>,
}

/// What a commit does to a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    /// Adds rows (`strata append`).
    Append,
    /// Rewrites files without changing rows (`strata optimize`).
    Rewrite,
    /// Removes rows (`strata forget`).
    Delete,
    /// Changes and adds rows (`strata upsert-profiles`).
    Upsert,
    /// Puts the table back to a version's files (repairing a write that
    /// committed to a table but never became a dataset version).
    Restore(u64),
}

/// Commits `adds` and `removes` to the table at `dir` on top of version
/// `base`, as one Delta commit; returns the new version. The statistics
/// of each added file (rows; the [`STATS_COLUMNS`] it has) are read from
/// its footer. With `schema`, the table's file columns become `schema`
/// (columns added: files without them read them as NULL) in the same
/// commit. Fails if another commit got there first (the caller holds
/// the dataset's write lock, so that is a bug or a foreign writer).
pub(crate) async fn commit(
    dir: &Path,
    base: u64,
    adds: &[NewFile],
    removes: &[TableFile],
    change: Change,
    schema: Option<&Schema>,
) -> Result<u64> {
    let table = open_table(dir, Some(base)).await?;
    let mut actions = Vec::with_capacity(adds.len() + removes.len() + 1);
    if let Some(schema) = schema {
        actions.push(Action::Metadata(metadata_with(&table, dir, schema)?));
    }
    for f in adds {
        actions.push(Action::Add(add_action(dir, f, change)?));
    }
    let now = chrono::Utc::now().timestamp_millis();
    for f in removes {
        actions.push(Action::Remove(remove_action(f, now, change)));
    }
    let state = table.snapshot().map_err(|e| delta(dir, e))?;
    let partition_by = Some(state.metadata().partition_columns().to_vec());
    let operation = match change {
        Change::Append => DeltaOperation::Write {
            mode: SaveMode::Append,
            partition_by,
            predicate: None,
        },
        Change::Delete => DeltaOperation::Delete { predicate: None },
        Change::Upsert => DeltaOperation::Update { predicate: None },
        Change::Rewrite => DeltaOperation::Optimize {
            predicate: None,
            target_size: 0,
        },
        Change::Restore(v) => DeltaOperation::Restore {
            version: Some(v),
            datetime: None,
        },
    };
    let committed = CommitBuilder::default()
        .with_actions(actions)
        .with_max_retries(0)
        .build(
            Some(state as &dyn TableReference),
            table.log_store(),
            operation,
        )
        .await
        .map_err(|e| delta(dir, e))?;
    Ok(committed.version())
}

/// The table's metadata with its file columns replaced by `schema` (the
/// partition columns kept, after them).
fn metadata_with(table: &DeltaTable, dir: &Path, schema: &Schema) -> Result<Metadata> {
    let state = table.snapshot().map_err(|e| delta(dir, e))?;
    let metadata = state.metadata().clone();
    let partitions = metadata.partition_columns().to_vec();
    let current = state.snapshot().schema();
    let columns: StructType = schema.try_into_kernel().map_err(|e| delta(dir, e.into()))?;
    let mut fields: Vec<StructField> = columns.fields().cloned().collect();
    fields.extend(
        current
            .fields()
            .filter(|f| partitions.contains(f.name()))
            .cloned(),
    );
    let schema = StructType::try_new(fields).map_err(|e| delta(dir, e.into()))?;
    metadata
        .with_schema(&schema)
        .map_err(|e| delta(dir, e.into()))
}

/// The table's latest version, from a listing of its log (no replay).
pub(crate) async fn latest_version(dir: &Path) -> Result<u64> {
    unloaded_table(dir)?
        .get_latest_version()
        .await
        .map_err(|e| delta(dir, e))
}

fn unloaded_table(dir: &Path) -> Result<DeltaTable> {
    let url = ensure_table_uri(location(dir)?).map_err(|e| delta(dir, e))?;
    DeltaTableBuilder::from_url(url)
        .and_then(DeltaTableBuilder::build)
        .map_err(|e| delta(dir, e))
}

async fn open_table(dir: &Path, version: Option<u64>) -> Result<DeltaTable> {
    let mut table = unloaded_table(dir)?;
    match version {
        Some(v) => table.load_version(v).await,
        None => table.load().await,
    }
    .map_err(|e| delta(dir, e))?;
    Ok(table)
}

fn remove_action(f: &TableFile, now: i64, change: Change) -> Remove {
    Remove {
        path: f.path.clone(),
        // A rewrite moves rows between files: readers of the change feed
        // see no change of data.
        data_change: change != Change::Rewrite,
        deletion_timestamp: Some(now),
        extended_file_metadata: Some(true),
        partition_values: Some(f.partition_values.clone().into_iter().collect()),
        size: i64::try_from(f.size).ok(),
        ..Remove::default()
    }
}

/// The add action of a written file, its statistics read from its footer.
fn add_action(dir: &Path, file: &NewFile, change: Change) -> Result<Add> {
    let path = dir.join(&file.path);
    let handle = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
    let size = handle.metadata().map_err(|e| Error::io(&path, e))?.len();
    let meta = ParquetMetaDataReader::new()
        .parse_and_finish(&handle)
        .map_err(|e| Error::parquet(&path, e))?;
    let stats = footer_statistics(&meta);
    Ok(Add {
        path: file.path.clone(),
        size: i64::try_from(size).map_err(|_| Error::Internal("file too large".into()))?,
        partition_values: file.partition_values.clone().into_iter().collect(),
        modification_time: chrono::Utc::now().timestamp_millis(),
        data_change: change != Change::Rewrite,
        stats: Some(stats.to_string()),
        ..Add::default()
    })
}

/// Delta `stats` JSON of a file: its rows, and for each of the
/// [`STATS_COLUMNS`] it has as a top-level Int64 or microsecond-timestamp
/// column, the minimum, maximum and NULL count over its row groups.
/// Timestamps are written as Delta writers write them, to the millisecond,
/// truncated.
fn footer_statistics(meta: &ParquetMetaData) -> serde_json::Value {
    let schema = meta.file_metadata().schema_descr();
    let (mut min, mut max, mut nulls) = (Map::new(), Map::new(), Map::new());
    for &name in STATS_COLUMNS {
        let Some(i) = (0..schema.num_columns()).find(|&i| schema.column(i).path().string() == name)
        else {
            continue;
        };
        let timestamp = matches!(
            schema.column(i).logical_type_ref(),
            Some(LogicalType::Timestamp(t)) if t.unit == TimeUnit::MICROS
        );
        let (mut lo, mut hi, mut null_count, mut complete) = (i64::MAX, i64::MIN, 0u64, true);
        for rg in meta.row_groups() {
            match rg.column(i).statistics() {
                Some(Statistics::Int64(s)) => {
                    null_count += s.null_count_opt().unwrap_or(0);
                    match (s.min_opt(), s.max_opt()) {
                        (Some(&a), Some(&b)) => (lo, hi) = (lo.min(a), hi.max(b)),
                        _ if rg.num_rows() > s.null_count_opt().unwrap_or(0) as i64 => {
                            complete = false
                        }
                        _ => {}
                    }
                }
                _ => complete = false,
            }
        }
        if !complete {
            continue;
        }
        nulls.insert(name.into(), null_count.into());
        if lo <= hi {
            let value = |v: i64| -> serde_json::Value {
                if timestamp {
                    delta_timestamp(v).map_or(serde_json::Value::Null, Into::into)
                } else {
                    v.into()
                }
            };
            min.insert(name.into(), value(lo));
            max.insert(name.into(), value(hi));
        }
    }
    serde_json::json!({
        "numRecords": meta.file_metadata().num_rows(),
        "minValues": min,
        "maxValues": max,
        "nullCount": nulls,
    })
}

fn delta_timestamp(micros: i64) -> Option<String> {
    let t = chrono::DateTime::from_timestamp_micros(micros.div_euclid(1000) * 1000)?;
    Some(t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
}
