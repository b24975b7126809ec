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
use std::io::BufWriter;
use std::path::Path;

use arrow::array::{AsArray, BooleanArray};
use arrow::compute::filter_record_batch;
use arrow::datatypes::Int64Type;
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::arrow_writer::{ArrowColumnWriter, compute_leaves};
use parquet::column::writer::ColumnCloseResult;
use parquet::file::metadata::PageIndexPolicy;
use parquet::file::metadata::{KeyValue, ParquetMetaData};
use parquet::file::statistics::Statistics;
use parquet::file::writer::SerializedFileWriter;

use crate::atomic::{AtomicFile, Replace};
use crate::error::{Error, Result};
use crate::parquet_io::writer_properties_builder;
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
/// order and the key-value metadata. Row groups whose statistics rule the
/// ids out are copied as they are, without decoding; the others are
/// decoded, filtered and encoded again. With no row left, `dst` is written
/// only if `keep_empty`.
pub(crate) fn without(src: &Path, dst: &Path, ids: &Ids, keep_empty: bool) -> Result<Filtered> {
    let file = File::open(src).map_err(|e| Error::io(src, e))?;
    let options = ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Optional);
    let source = ArrowReaderMetadata::load(&file, options).map_err(|e| Error::parquet(src, e))?;
    let meta = source.metadata().clone();
    let schema = source.schema().clone();
    let pid = schema
        .index_of(PROFILE_ID)
        .map_err(|_| Error::Internal(format!("{}: no {PROFILE_ID} column", src.display())))?;
    let pid_leaf = profile_id_column(&meta)
        .ok_or_else(|| Error::Internal(format!("{}: no Int64 {PROFILE_ID}", src.display())))?;
    let mut props = writer_properties_builder().set_key_value_metadata(user_metadata(&meta));
    if let Some(order) = meta
        .row_groups()
        .first()
        .and_then(|rg| rg.sorting_columns())
    {
        props = props.set_sorting_columns(Some(order.clone()));
    }
    let out_file = BufWriter::with_capacity(1 << 20, AtomicFile::create(dst)?);
    let arrow = ArrowWriter::try_new(out_file, schema.clone(), Some(props.build()))
        .map_err(|e| Error::parquet(dst, e))?;
    let (mut writer, factory) = arrow
        .into_serialized_writer()
        .map_err(|e| Error::parquet(dst, e))?;
    // Raw chunks fit only a file of the same Parquet schema.
    let same_schema = writer.schema_descr() == meta.file_metadata().schema_descr();
    let candidates = candidate_row_groups(&meta, pid_leaf, ids);
    let mut out = Filtered::default();
    let mut written_groups = 0;
    for rg in 0..meta.num_row_groups() {
        if same_schema && !candidates.contains(&rg) {
            copy_row_group(&mut writer, &file, &meta, rg).map_err(|e| Error::parquet(dst, e))?;
            out.kept += meta.row_group(rg).num_rows() as u64;
            written_groups += 1;
            continue;
        }
        let reader = ParquetRecordBatchReaderBuilder::new_with_metadata(
            file.try_clone().map_err(|e| Error::io(src, e))?,
            source.clone(),
        )
        .with_row_groups(vec![rg])
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(|e| Error::parquet(src, e))?;
        let mut columns = factory
            .create_column_writers(written_groups)
            .map_err(|e| Error::parquet(dst, e))?;
        let mut kept_rows = 0;
        for batch in reader {
            let batch = batch.map_err(|e| read_error(src, e))?;
            let kept = keep_rows(&batch, pid, ids)?;
            out.dropped += (batch.num_rows() - kept.num_rows()) as u64;
            kept_rows += kept.num_rows();
            encode(&mut columns, &schema, &kept).map_err(|e| Error::parquet(dst, e))?;
        }
        if kept_rows > 0 {
            let mut group = writer
                .next_row_group()
                .map_err(|e| Error::parquet(dst, e))?;
            for c in columns {
                let chunk = c.close().map_err(|e| Error::parquet(dst, e))?;
                chunk
                    .append_to_row_group(&mut group)
                    .map_err(|e| Error::parquet(dst, e))?;
            }
            group.close().map_err(|e| Error::parquet(dst, e))?;
            out.kept += kept_rows as u64;
            written_groups += 1;
        }
    }
    if out.kept == 0 && !keep_empty {
        return Ok(out);
    }
    let file = writer
        .into_inner()
        .map_err(|e| Error::parquet(dst, e))?
        .into_inner()
        .map_err(|e| Error::io(dst, e.into_error()))?;
    out.bytes = file.len()?;
    file.commit(Replace::Yes)?;
    Ok(out)
}

/// The rows of `batch` whose profile id (column `pid`) is not in `ids`.
fn keep_rows(batch: &RecordBatch, pid: usize, ids: &Ids) -> Result<RecordBatch> {
    let keep: BooleanArray = batch
        .column(pid)
        .as_primitive::<Int64Type>()
        .iter()
        .map(|id| Some(!id.is_some_and(|id| ids.contains(id))))
        .collect();
    Ok(filter_record_batch(batch, &keep)?)
}

/// Encodes `batch` into the open row group's column writers.
fn encode(
    columns: &mut [ArrowColumnWriter],
    schema: &arrow::datatypes::Schema,
    batch: &RecordBatch,
) -> parquet::errors::Result<()> {
    let mut writers = columns.iter_mut();
    for (array, field) in batch.columns().iter().zip(schema.fields()) {
        for leaves in compute_leaves(field, array)? {
            let writer = writers.next().ok_or_else(|| {
                parquet::errors::ParquetError::General("too few column writers".into())
            })?;
            writer.write(&leaves)?;
        }
    }
    Ok(())
}

/// Copies row group `rg` of `input` (described by `meta`, page index
/// included when present) into `writer` without decoding it.
fn copy_row_group<W: std::io::Write + Send>(
    writer: &mut SerializedFileWriter<W>,
    input: &File,
    meta: &ParquetMetaData,
    rg: usize,
) -> parquet::errors::Result<()> {
    let group = meta.row_group(rg);
    let column_index = meta.column_index().and_then(|c| c.get(rg));
    let offset_index = meta.offset_index().and_then(|o| o.get(rg));
    let mut out = writer.next_row_group()?;
    for (i, column) in group.columns().iter().enumerate() {
        let close = ColumnCloseResult {
            bytes_written: column.compressed_size() as u64,
            rows_written: group.num_rows() as u64,
            metadata: column.clone(),
            bloom_filter: None,
            column_index: column_index.and_then(|c| c.get(i)).cloned(),
            offset_index: offset_index.and_then(|o| o.get(i)).cloned(),
        };
        out.append_column(input, close)?;
    }
    out.close()?;
    Ok(())
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
    use std::sync::Arc;

    use arrow::array::{Array, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use parquet::arrow::arrow_reader::{RowSelection, RowSelector};

    use super::*;
    use crate::parquet_io::{ascending, write_parquet_file};

    /// Ids 1..=5000 in five row groups of 1000, sorted, with a label.
    fn five_groups(path: &Path) {
        let schema = Arc::new(Schema::new(vec![
            Field::new(PROFILE_ID, DataType::Int64, false),
            Field::new("label", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from_iter_values(1..=5000)),
                Arc::new(StringArray::from_iter_values(
                    (1..=5000).map(|i| format!("p{i}")),
                )),
            ],
        )
        .unwrap();
        let props = writer_properties_builder()
            .set_max_row_group_row_count(Some(1000))
            .set_data_page_row_count_limit(100)
            .set_write_batch_size(100)
            .set_sorting_columns(Some(ascending(&[0])))
            .set_key_value_metadata(Some(vec![KeyValue::new("k".into(), "v".to_string())]))
            .build();
        write_parquet_file(path, schema, props, &[batch]).unwrap();
    }

    #[test]
    fn untouched_row_groups_are_copied_and_stay_readable_by_page() {
        let dir = tempfile::tempdir().unwrap();
        let (src, dst) = (dir.path().join("a.parquet"), dir.path().join("b.parquet"));
        five_groups(&src);
        let ids = Ids::new(vec![1500, 1501, 9999]);
        assert_eq!(holds(&src, &ids).unwrap(), Some(true));
        let f = without(&src, &dst, &ids, false).unwrap();
        assert_eq!((f.kept, f.dropped), (4998, 2));
        assert_eq!(holds(&dst, &ids).unwrap(), Some(false));
        let all = read_all(&dst).unwrap();
        let got: Vec<i64> = all
            .iter()
            .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
            .collect();
        let want: Vec<i64> = (1..=5000).filter(|i| *i != 1500 && *i != 1501).collect();
        assert_eq!(got, want);
        let labels: Vec<String> = all
            .iter()
            .flat_map(|b| {
                let l = b.column(1).as_string::<i32>();
                (0..l.len())
                    .map(|i| l.value(i).to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(labels[1498], "p1499");
        assert_eq!(labels[1499], "p1502");
        // Five row groups, the sort order and metadata kept, and the page
        // index of the copied groups still points at their pages.
        let file = File::open(&dst).unwrap();
        let options = ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Required);
        let builder = ParquetRecordBatchReaderBuilder::try_new_with_options(file, options).unwrap();
        let meta = builder.metadata().clone();
        assert_eq!(meta.num_row_groups(), 5);
        assert_eq!(meta.row_group(4).sorting_columns(), Some(&ascending(&[0])));
        assert!(user_metadata(&meta).unwrap().iter().any(|kv| kv.key == "k"));
        let picked = builder
            .with_row_selection(RowSelection::from(vec![
                RowSelector::skip(3500),
                RowSelector::select(10),
            ]))
            .build()
            .unwrap()
            .flat_map(|b| {
                b.unwrap()
                    .column(0)
                    .as_primitive::<Int64Type>()
                    .values()
                    .to_vec()
            })
            .collect::<Vec<_>>();
        assert_eq!(picked, (3503..3513).collect::<Vec<i64>>());
    }

    #[test]
    fn ids_answer_ranges() {
        let ids = Ids::new(vec![9, 3, 3, 20]);
        assert_eq!(ids.as_slice(), [3, 9, 20]);
        assert!(ids.contains(9) && !ids.contains(10));
        assert!(ids.any_in(4, 9) && ids.any_in(20, 20) && ids.any_in(i64::MIN, 3));
        assert!(!ids.any_in(4, 8) && !ids.any_in(21, i64::MAX) && !ids.any_in(10, 19));
    }
}
