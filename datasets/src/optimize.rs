//! `strata optimize`: months of events put back into the chunk layout, and
//! runs of small profile files merged.
//!
//! Appends leave a month with more files than it needs: each append adds
//! files of its own, which overlap the month's earlier files in profile
//! ids. The engine stays correct on such a month, but reads more files
//! and, where files overlap, cannot use its id-range plan. An optimize
//! rewrites every month that is not laid out as chunks
//! ([`crate::chunks::laid_out`]) into one file per chunk (more when a
//! chunk has more than `rows_per_file` rows), sorted by
//! `(profile_id, event_time)` like an import's, and merges runs of
//! adjacent small `profiles` files. Rows do not change: the commits are
//! Delta `OPTIMIZE` commits whose actions say no data changed. One dataset
//! version; nothing is written when nothing needs it, so running it again
//! is a no-op.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray};
use arrow::compute::{concat_batches, filter_record_batch};
use arrow::datatypes::{Field, Int64Type, Schema, SchemaRef, TimestampMicrosecondType};
use arrow::record_batch::RecordBatch;

use crate::chunks::{by_month, id_range, laid_out, rows};
use crate::dataset_write::DatasetWrite;
use crate::error::{Error, Result};
use crate::import::{FileCuts, IMPORT_FILE_ROWS, WrittenFile, conform, sorted_by_id, write_events};
use crate::layout::{EVENTS_DIR, PROFILES_DIR, parse_partition_dir_name};
use crate::parquet_io::AtomicParquetWriter;
use crate::rewrite::read_all;
use crate::table::{Change, NewFile, TableFile, TableSnapshot};

/// The operation name of an optimize in the dataset log.
pub const OPTIMIZE_OPERATION: &str = "optimize";

/// A file with fewer rows than `rows_per_file / SMALL_FRACTION` is small.
const SMALL_FRACTION: u64 = 8;

/// An append that would leave a chunk of a month with this many small
/// files merges them into its own file of that chunk instead.
const MERGE_AT: usize = 8;

/// What [`optimize`] does.
#[derive(Debug, Clone)]
pub struct OptimizeConfig {
    /// Only this month (`YYYY-MM`) of the events; `None`: every month (and
    /// the profiles table).
    pub month: Option<String>,
    /// Rows per written file at most (a file ends at a profile boundary).
    pub rows_per_file: usize,
    /// A call whose key an earlier version carries changes nothing.
    pub idempotency_key: Option<String>,
}

impl Default for OptimizeConfig {
    fn default() -> Self {
        OptimizeConfig {
            month: None,
            rows_per_file: IMPORT_FILE_ROWS,
            idempotency_key: None,
        }
    }
}

/// What [`optimize`] did.
#[derive(Debug, Clone, Default)]
pub struct OptimizeSummary {
    /// The dataset version it made (`None`: nothing needed rewriting).
    pub version: Option<u64>,
    /// An earlier call with the same idempotency key made `version`.
    pub already_applied: bool,
    /// The months rewritten.
    pub months: Vec<String>,
    /// Table files replaced.
    pub files_removed: u64,
    /// Table files written.
    pub files_written: u64,
    /// Rows moved into the new files.
    pub rows: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Wall time.
    pub elapsed: Duration,
}

/// The files one table's rewrite replaces and writes.
#[derive(Default)]
struct Rewritten {
    removes: Vec<TableFile>,
    adds: Vec<NewFile>,
    rows: u64,
    bytes: u64,
}

/// Optimizes the dataset at `dir` as one write.
pub fn optimize(dir: &Path, config: &OptimizeConfig) -> Result<OptimizeSummary> {
    let started = Instant::now();
    if config.rows_per_file == 0 {
        return Err(Error::InvalidArgument(
            "rows per file must be at least 1".into(),
        ));
    }
    if let Some(month) = &config.month
        && parse_partition_dir_name(&format!("event_month={month}")).is_none()
    {
        return Err(Error::InvalidArgument(format!(
            "--month {month:?} is not a month; write it as YYYY-MM"
        )));
    }
    let mut write = DatasetWrite::begin(dir)?;
    let key = config.idempotency_key.as_deref();
    if let Some(key) = key
        && let Some(done) = write.applied(key)?
    {
        return Ok(OptimizeSummary {
            version: Some(done.version),
            already_applied: true,
            elapsed: started.elapsed(),
            ..OptimizeSummary::default()
        });
    }
    let tag = format!(
        "o{:06}-{:08x}",
        write.base().version + 1,
        rand::random::<u32>()
    );
    let events = write.files(EVENTS_DIR)?;
    let mut summary = OptimizeSummary::default();
    let cuts = write.chunks(&events);
    let months = rewrite_events(dir, &events, &cuts, config, &tag, &mut summary.months)?;
    let profiles = match config.month {
        Some(_) => Rewritten::default(),
        None => merge_profiles(dir, &write.files(PROFILES_DIR)?, config.rows_per_file, &tag)?,
    };
    for (table, change) in [(EVENTS_DIR, &months), (PROFILES_DIR, &profiles)] {
        if !change.removes.is_empty() {
            write.commit(table, &change.adds, &change.removes, Change::Rewrite)?;
        }
        summary.files_removed += change.removes.len() as u64;
        summary.files_written += change.adds.len() as u64;
        summary.rows += change.rows;
        summary.bytes += change.bytes;
    }
    if summary.files_removed > 0 {
        let record = write.finish(OPTIMIZE_OPERATION, BTreeMap::new(), BTreeMap::new(), key)?;
        summary.version = Some(record.version);
    }
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// Rewrites each month of `events` not laid out as chunks (only
/// `config.month`, when given) and names them in `months`.
fn rewrite_events(
    dir: &Path,
    events: &TableSnapshot,
    cuts: &[i64],
    config: &OptimizeConfig,
    tag: &str,
    months: &mut Vec<String>,
) -> Result<Rewritten> {
    let mut out = Rewritten::default();
    for (month, files) in by_month(events) {
        let wanted = config.month.as_deref().is_none_or(|m| m == month);
        if !wanted || laid_out(&files, cuts, config.rows_per_file) {
            continue;
        }
        let (written, rows) = rewrite_month(dir, &events.file_schema, &files, cuts, config, tag)?;
        check_rows(month, &files, rows)?;
        out.rows += rows as u64;
        out.bytes += written.iter().map(|w| w.bytes).sum::<u64>();
        out.adds.extend(written.iter().map(WrittenFile::to_commit));
        out.removes.extend(files.into_iter().cloned());
        months.push(month.to_string());
    }
    Ok(out)
}

/// Writes the rows of one month's `files` again, chunk by chunk (one
/// chunk's rows in memory at a time: appended files lie in one chunk
/// each, so a file is read about once); returns the files written and the
/// rows they hold.
fn rewrite_month(
    dir: &Path,
    schema: &SchemaRef,
    files: &[&TableFile],
    cuts: &[i64],
    config: &OptimizeConfig,
    tag: &str,
) -> Result<(Vec<WrittenFile>, usize)> {
    let mut written = Vec::new();
    let mut rows = 0;
    for chunk in 0..=cuts.len() {
        let lo = chunk.checked_sub(1).map_or(i64::MIN, |c| cuts[c]);
        let hi = cuts.get(chunk).copied().unwrap_or(i64::MAX);
        let holding: Vec<&TableFile> = files
            .iter()
            .copied()
            .filter(|f| id_range(f).is_none_or(|(a, b)| a < hi && b >= lo))
            .collect();
        if holding.is_empty() {
            continue;
        }
        let batch = read_files(&dir.join(EVENTS_DIR), &holding, schema, Some((lo, hi)))?;
        if batch.num_rows() == 0 {
            continue;
        }
        let pid = column::<Int64Type>(&batch, "profile_id")?;
        let time = column::<TimestampMicrosecondType>(&batch, "event_time")?;
        let cuts = FileCuts {
            rows: config.rows_per_file,
            chunks: cuts,
        };
        written.extend(write_events(
            dir,
            schema,
            batch.columns(),
            (pid, time),
            cuts,
            |n| format!("part-{tag}-c{chunk:03}-{n:04}.parquet"),
        )?);
        rows += batch.num_rows();
    }
    Ok((written, rows))
}

/// The small events files an append touching the chunks `touched`
/// (event month `YYYY-MM`, chunk) should merge into its own files: those
/// of each touched chunk that already has `MERGE_AT - 1` or more small
/// files lying inside it. Appends then leave at most `MERGE_AT` small
/// files per chunk and month, so months stay fast between optimizes.
pub(crate) fn small_files_to_merge(
    events: &TableSnapshot,
    cuts: &[i64],
    rows_per_file: usize,
    touched: &std::collections::BTreeSet<(String, usize)>,
) -> Vec<TableFile> {
    let small = (rows_per_file as u64 / SMALL_FRACTION).max(1);
    let mut groups: BTreeMap<(String, usize), Vec<&TableFile>> = BTreeMap::new();
    for file in &events.files {
        let Some((lo, hi)) = id_range(file) else {
            continue;
        };
        let chunk = crate::chunks::chunk_of(cuts, lo);
        let key = (crate::chunks::month_of(file).to_string(), chunk);
        if rows(file) < small
            && chunk == crate::chunks::chunk_of(cuts, hi)
            && touched.contains(&key)
        {
            groups.entry(key).or_default().push(file);
        }
    }
    groups
        .into_values()
        .filter(|files| files.len() + 1 >= MERGE_AT)
        .flatten()
        .cloned()
        .collect()
}

/// Every row of the events `files`, as the table's `schema`.
pub(crate) fn read_events(
    dir: &Path,
    files: &[TableFile],
    schema: &SchemaRef,
) -> Result<RecordBatch> {
    let files: Vec<&TableFile> = files.iter().collect();
    read_files(&dir.join(EVENTS_DIR), &files, schema, None)
}

/// Merges each run of two or more adjacent small files of `profiles`
/// (by id) into files of at most `rows_per_file` rows.
fn merge_profiles(
    dir: &Path,
    profiles: &TableSnapshot,
    rows_per_file: usize,
    tag: &str,
) -> Result<Rewritten> {
    let table_dir = dir.join(PROFILES_DIR);
    let small = (rows_per_file as u64 / SMALL_FRACTION).max(1);
    let mut out = Rewritten::default();
    for (n, run) in small_runs(profiles, small).into_iter().enumerate() {
        let batch = read_files(&table_dir, &run, &profiles.file_schema, None)?;
        check_rows("profiles", &run, batch.num_rows())?;
        for (k, start) in (0..batch.num_rows()).step_by(rows_per_file).enumerate() {
            let part = batch.slice(start, rows_per_file.min(batch.num_rows() - start));
            let name = format!("part-{tag}-{n:03}{k:02}.parquet");
            let mut w = AtomicParquetWriter::create(
                &table_dir.join(&name),
                batch.schema(),
                sorted_by_id(),
            )?;
            w.write(&part)?;
            out.bytes += w.finish()?.bytes;
            out.adds.push(NewFile {
                path: name,
                partition_values: BTreeMap::new(),
            });
        }
        out.rows += batch.num_rows() as u64;
        out.removes.extend(run.into_iter().cloned());
    }
    Ok(out)
}

/// Runs of two or more files of `table`, adjacent in id order, disjoint,
/// each with fewer than `small` rows.
fn small_runs(table: &TableSnapshot, small: u64) -> Vec<Vec<&TableFile>> {
    let mut files: Vec<(i64, i64, &TableFile)> = table
        .files
        .iter()
        .filter_map(|f| id_range(f).map(|(lo, hi)| (lo, hi, f)))
        .collect();
    files.sort_unstable_by_key(|&(lo, hi, _)| (lo, hi));
    let mut runs: Vec<Vec<&TableFile>> = Vec::new();
    let mut run: Vec<&TableFile> = Vec::new();
    let mut last_hi = i64::MIN;
    for (lo, hi, file) in files {
        if rows(file) >= small || lo <= last_hi {
            runs.push(std::mem::take(&mut run));
        }
        if rows(file) < small {
            run.push(file);
        }
        last_hi = hi;
    }
    runs.push(run);
    runs.retain(|r| r.len() >= 2);
    runs
}

/// Every row of `files` (under `table_dir`) in the order given, as
/// `schema` (files written before a column was added read it as NULL);
/// with `ids`, only the rows whose `profile_id` is in `lo..hi`.
fn read_files(
    table_dir: &Path,
    files: &[&TableFile],
    schema: &SchemaRef,
    ids: Option<(i64, i64)>,
) -> Result<RecordBatch> {
    let schema = with_field_metadata(table_dir, files, schema)?;
    let mut batches = Vec::new();
    for file in files {
        for batch in read_all(&table_dir.join(&file.path))? {
            let fields: Vec<Field> = batch
                .schema()
                .fields()
                .iter()
                .map(|f| f.as_ref().clone())
                .collect();
            let columns: Vec<ArrayRef> =
                conform(&fields, batch.columns(), &schema, table_name(table_dir))?;
            let batch = RecordBatch::try_new(schema.clone(), columns)?;
            batches.push(match ids {
                Some(range) => in_range(&batch, range)?,
                None => batch,
            });
        }
    }
    Ok(concat_batches(&schema, &batches)?)
}

/// The rows of `batch` whose `profile_id` is in `lo..hi`.
fn in_range(batch: &RecordBatch, (lo, hi): (i64, i64)) -> Result<RecordBatch> {
    let pid = column::<Int64Type>(batch, "profile_id")?;
    if pid.iter().all(|&p| p >= lo && p < hi) {
        return Ok(batch.clone());
    }
    let keep: BooleanArray = pid.iter().map(|&p| Some(p >= lo && p < hi)).collect();
    Ok(filter_record_batch(batch, &keep)?)
}

/// `schema` with each field's metadata (the importer's `source_column`)
/// taken from the first of `files` that has the field.
fn with_field_metadata(
    table_dir: &Path,
    files: &[&TableFile],
    schema: &SchemaRef,
) -> Result<SchemaRef> {
    let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
    for file in files {
        let own = crate::rewrite::file_arrow_schema(&table_dir.join(&file.path))?;
        for field in fields.iter_mut().filter(|f| f.metadata().is_empty()) {
            if let Ok(theirs) = own.field_with_name(field.name()) {
                field.set_metadata(theirs.metadata().clone());
            }
        }
    }
    Ok(std::sync::Arc::new(Schema::new_with_metadata(
        fields,
        schema.metadata().clone(),
    )))
}

fn table_name(table_dir: &Path) -> &str {
    table_dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("table")
}

/// The values of the non-null column `name` of `batch`.
fn column<'a, T: arrow::datatypes::ArrowPrimitiveType>(
    batch: &'a RecordBatch,
    name: &str,
) -> Result<&'a [T::Native]> {
    let array = batch
        .column_by_name(name)
        .and_then(|c| c.as_primitive_opt::<T>())
        .filter(|c| c.null_count() == 0)
        .ok_or_else(|| Error::Internal(format!("events: {name} is missing, mistyped or NULL")))?;
    Ok(array.values())
}

/// The rows read from `files` are the rows the log records for them.
fn check_rows(what: &str, files: &[&TableFile], read: usize) -> Result<()> {
    let logged: u64 = files.iter().map(|f| rows(f)).sum();
    if logged != read as u64 {
        return Err(Error::Internal(format!(
            "{what}: the log records {logged} rows in the files to rewrite, they hold {read}"
        )));
    }
    Ok(())
}
