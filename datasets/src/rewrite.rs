//! Parquet files read and rewritten without the rows of some profiles.
//!
//! Every Strata file keyed by profile has an Int64 `profile_id` column:
//! the tables' files, and what the engine derives from them (features,
//! memberships, report rows). [`holds`] tells whether a file has a row of
//! a set of profiles, reading only the row groups whose `profile_id`
//! statistics admit one; [`without`] writes a copy without those rows,
//! with the original's schema, sort order and key-value metadata.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;

use arrow::array::{AsArray, BooleanArray};
use arrow::compute::filter_record_batch;
use arrow::datatypes::Int64Type;
use arrow::record_batch::RecordBatch;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::metadata::{KeyValue, ParquetMetaData};
use parquet::file::statistics::Statistics;

use crate::error::{Error, Result};
use crate::parquet_io::{AtomicParquetWriter, writer_properties_builder};
use crate::table::TableFile;

/// The profile id column of every table and derived file.
const PROFILE_ID: &str = "profile_id";

/// Rows per batch when rewriting.
const BATCH_ROWS: usize = 64 * 1024;

/// A set of profile ids, sorted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ids(Vec<i64>);

impl Ids {
    pub(crate) fn new(mut ids: Vec<i64>) -> Ids {
        ids.sort_unstable();
        ids.dedup();
        Ids(ids)
    }

    pub(crate) fn as_slice(&self) -> &[i64] {
        &self.0
    }

    pub(crate) fn contains(&self, id: i64) -> bool {
        self.0.binary_search(&id).is_ok()
    }

    /// Whether an id lies in `lo..=hi`.
    pub(crate) fn any_in(&self, lo: i64, hi: i64) -> bool {
        let first = self.0.partition_point(|&id| id < lo);
        self.0.get(first).is_some_and(|&id| id <= hi)
    }
}

/// Whether the Parquet file at `path` has a row of `ids`; `None` when it
/// has no top-level `profile_id` column.
pub(crate) fn holds(path: &Path, ids: &Ids) -> Result<Option<bool>> {
    let builder = reader(path)?;
    let Some(column) = profile_id_column(builder.metadata()) else {
        return Ok(None);
    };
    let groups = candidate_row_groups(builder.metadata(), column, ids);
    if groups.is_empty() {
        return Ok(Some(false));
    }
    let mask = ProjectionMask::leaves(builder.parquet_schema(), [column]);
    let batches = builder
        .with_projection(mask)
        .with_row_groups(groups)
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(|e| Error::parquet(path, e))?;
    for batch in batches {
        let batch = batch.map_err(|e| read_error(path, e))?;
        let pid = batch.column(0).as_primitive::<Int64Type>();
        if pid.iter().flatten().any(|id| ids.contains(id)) {
            return Ok(Some(true));
        }
    }
    Ok(Some(false))
}

/// Whether the log's `profile_id` bounds of `file` admit one of `ids`
/// (yes when it records none).
pub(crate) fn may_hold(file: &TableFile, ids: &Ids) -> bool {
    let bound = |m: &BTreeMap<String, serde_json::Value>| m.get(PROFILE_ID)?.as_i64();
    match &file.stats {
        Some(s) => match (bound(&s.min_values), bound(&s.max_values)) {
            (Some(lo), Some(hi)) => ids.any_in(lo, hi),
            _ => s.num_records > 0,
        },
        None => true,
    }
}

/// The Arrow schema of the Parquet file at `path`.
pub(crate) fn file_arrow_schema(path: &Path) -> Result<arrow::datatypes::SchemaRef> {
    Ok(reader(path)?.schema().clone())
}

/// Every row of the Parquet file at `path`.
pub(crate) fn read_all(path: &Path) -> Result<Vec<RecordBatch>> {
    reader(path)?
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(|e| Error::parquet(path, e))?
        .map(|b| b.map_err(|e| read_error(path, e)))
        .collect()
}

/// Rows a [`without`] kept and dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Filtered {
    pub(crate) kept: u64,
    pub(crate) dropped: u64,
    /// Bytes of the file written (0 when none was).
    pub(crate) bytes: u64,
}

/// Writes the rows of `src` whose `profile_id` is not in `ids` to `dst`
/// (atomically; `dst` may be `src`), keeping the schema, the declared sort
/// order and the key-value metadata. With no row left, `dst` is written
/// only if `keep_empty`.
pub(crate) fn without(src: &Path, dst: &Path, ids: &Ids, keep_empty: bool) -> Result<Filtered> {
    let builder = reader(src)?;
    let meta = builder.metadata().clone();
    let schema = builder.schema().clone();
    let pid = schema
        .index_of(PROFILE_ID)
        .map_err(|_| Error::Internal(format!("{}: no {PROFILE_ID} column", src.display())))?;
    let batches = builder
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(|e| Error::parquet(src, e))?;
    let mut props = writer_properties_builder().set_key_value_metadata(user_metadata(&meta));
    if let Some(order) = meta
        .row_groups()
        .first()
        .and_then(|rg| rg.sorting_columns())
    {
        props = props.set_sorting_columns(Some(order.clone()));
    }
    let mut writer = AtomicParquetWriter::create(dst, schema, props.build())?;
    let mut out = Filtered::default();
    for batch in batches {
        let batch = batch.map_err(|e| read_error(src, e))?;
        let ids_col = batch.column(pid).as_primitive::<Int64Type>();
        let keep: BooleanArray = ids_col
            .iter()
            .map(|id| Some(!id.is_some_and(|id| ids.contains(id))))
            .collect();
        let kept = filter_record_batch(&batch, &keep)?;
        out.dropped += (batch.num_rows() - kept.num_rows()) as u64;
        if kept.num_rows() > 0 {
            writer.write(&kept)?;
        }
    }
    out.kept = writer.rows();
    if out.kept > 0 || keep_empty {
        out.bytes = writer.finish()?.bytes;
    }
    Ok(out)
}

fn read_error(path: &Path, e: arrow::error::ArrowError) -> Error {
    Error::parquet(
        path,
        parquet::errors::ParquetError::ArrowError(e.to_string()),
    )
}

fn reader(path: &Path) -> Result<ParquetRecordBatchReaderBuilder<File>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| Error::parquet(path, e))
}

/// The leaf index of a top-level Int64 `profile_id` column.
fn profile_id_column(meta: &ParquetMetaData) -> Option<usize> {
    let schema = meta.file_metadata().schema_descr();
    (0..schema.num_columns()).find(|&i| {
        let c = schema.column(i);
        c.path().string() == PROFILE_ID && c.physical_type() == parquet::basic::Type::INT64
    })
}

/// The row groups whose `profile_id` statistics admit an id of `ids`
/// (all of them where statistics are missing).
fn candidate_row_groups(meta: &ParquetMetaData, column: usize, ids: &Ids) -> Vec<usize> {
    meta.row_groups()
        .iter()
        .enumerate()
        .filter(|(_, rg)| match rg.column(column).statistics() {
            Some(Statistics::Int64(s)) => match (s.min_opt(), s.max_opt()) {
                (Some(&lo), Some(&hi)) => ids.any_in(lo, hi),
                // Only NULLs, or no bounds recorded.
                _ => s.null_count_opt() != Some(rg.num_rows() as u64),
            },
            _ => true,
        })
        .map(|(i, _)| i)
        .collect()
}

/// The file's key-value metadata without the Arrow schema (the writer
/// writes its own).
fn user_metadata(meta: &ParquetMetaData) -> Option<Vec<KeyValue>> {
    let kv: Vec<KeyValue> = meta
        .file_metadata()
        .key_value_metadata()?
        .iter()
        .filter(|kv| kv.key != "ARROW:schema")
        .cloned()
        .collect();
    (!kv.is_empty()).then_some(kv)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_answer_ranges() {
        let ids = Ids::new(vec![9, 3, 3, 20]);
        assert_eq!(ids.as_slice(), [3, 9, 20]);
        assert!(ids.contains(9) && !ids.contains(10));
        assert!(ids.any_in(4, 9) && ids.any_in(20, 20) && ids.any_in(i64::MIN, 3));
        assert!(!ids.any_in(4, 8) && !ids.any_in(21, i64::MAX) && !ids.any_in(10, 19));
    }
}
