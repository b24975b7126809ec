//! Parquet writer settings shared by every Strata table, and an atomic
//! Parquet file writer.

use std::io::BufWriter;
use std::path::{Path, PathBuf};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::SortingColumn;
use parquet::file::properties::{EnabledStatistics, WriterProperties, WriterPropertiesBuilder};

use crate::atomic::{AtomicFile, Replace};
use crate::error::{Error, Result};

/// Rows per row group: 128 Ki.
///
/// See `datasets/README.md` ("Parquet layout") for the reasoning: big enough
/// that per-row-group costs (footer metadata, decoder setup, one statistics
/// entry) are noise, small enough that (a) a month file splits into several
/// row groups so DuckDB/Polars/DataFusion can scan them in parallel and prune
/// them by `profile_id` range, and (b) a writer with one open file per month
/// holds only a few MB of encoded pages per file.
pub const ROW_GROUP_ROWS: usize = 128 * 1024;

/// Rows per data page (upper bound): 8 Ki. The page index then locates a
/// single profile's events to within a few thousand rows.
pub const PAGE_ROWS: usize = 8 * 1024;

/// ZSTD level: 1 (fast; most of the gain of higher levels comes from the
/// dictionary/RLE encodings that run before it).
pub const ZSTD_LEVEL: i32 = 1;

/// The writer properties of every Strata Parquet file: ZSTD, page-level
/// statistics (column index) and offset index, [`ROW_GROUP_ROWS`] rows per
/// row group, [`PAGE_ROWS`] rows per page.
///
/// The engine uses the same settings for features, segment memberships and
/// reports; add `sorting_columns` with [`writer_properties_builder`] when
/// the rows are sorted.
pub fn writer_properties() -> WriterProperties {
    writer_properties_builder().build()
}

/// [`writer_properties`] as a builder, for adding sorting columns or
/// per-column settings.
pub fn writer_properties_builder() -> WriterPropertiesBuilder {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(ZSTD_LEVEL).expect("valid zstd level"),
        ))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_offset_index_disabled(false)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_data_page_row_count_limit(PAGE_ROWS)
        .set_write_batch_size(PAGE_ROWS.min(8192))
}

/// `SortingColumn` entries (ascending, nulls last) for the given column
/// indices, for [`WriterPropertiesBuilder::set_sorting_columns`].
pub fn ascending(columns: &[usize]) -> Vec<SortingColumn> {
    columns
        .iter()
        .map(|&i| SortingColumn {
            column_idx: i as i32,
            descending: false,
            nulls_first: false,
        })
        .collect()
}

/// Size and row count of a finished Parquet file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileStats {
    /// Rows in the file.
    pub rows: u64,
    /// Bytes on disk.
    pub bytes: u64,
}

/// Writes one Parquet file atomically ([`AtomicFile`]): the data goes to
/// a hidden temp file next to the target and takes its name in
/// [`finish`](Self::finish). Dropping the writer without finishing removes
/// the temp file.
#[derive(Debug)]
pub struct AtomicParquetWriter {
    path: PathBuf,
    writer: ArrowWriter<BufWriter<AtomicFile>>,
    rows: u64,
}

impl AtomicParquetWriter {
    /// Starts writing `path` with `schema` and `props`.
    pub fn create(path: &Path, schema: SchemaRef, props: WriterProperties) -> Result<Self> {
        let file = AtomicFile::create(path)?;
        let writer =
            ArrowWriter::try_new(BufWriter::with_capacity(1 << 20, file), schema, Some(props))
                .map_err(|e| Error::parquet(path, e))?;
        Ok(AtomicParquetWriter {
            path: path.to_path_buf(),
            writer,
            rows: 0,
        })
    }

    /// Appends a batch (its schema must be the writer's).
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.writer
            .write(batch)
            .map_err(|e| Error::parquet(&self.path, e))?;
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Bytes currently buffered in memory by the writer (encoded pages of the
    /// open row group).
    pub fn in_progress_bytes(&self) -> usize {
        self.writer.in_progress_size()
    }

    /// Writes the footer, fsyncs and renames the file into place.
    pub fn finish(self) -> Result<FileStats> {
        let buf = self
            .writer
            .into_inner()
            .map_err(|e| Error::parquet(&self.path, e))?;
        let file = buf
            .into_inner()
            .map_err(|e| Error::io(&self.path, e.into_error()))?;
        let bytes = file.len()?;
        file.commit(Replace::Yes)?;
        Ok(FileStats {
            rows: self.rows,
            bytes,
        })
    }
}

/// Writes `batches` to `path` in one go (atomically).
pub fn write_parquet_file(
    path: &Path,
    schema: SchemaRef,
    props: WriterProperties,
    batches: &[RecordBatch],
) -> Result<FileStats> {
    let mut w = AtomicParquetWriter::create(path, schema, props)?;
    for b in batches {
        w.write(b)?;
    }
    w.finish()
}
