//! `strata append`: new events, read with exactly the column mapping of
//! `strata import`, added to a dataset as one write.
//!
//! Events of profiles the dataset knows (by `external_id`) get their
//! profile id; unseen external ids get new ids after the largest one, in
//! the importer's order, and a row each in `profiles` (attributes NULL).
//! A profile id, once given, never changes. The new events are written as
//! new files of their months (sorted by profile and time, like an import's)
//! and committed together with the new profiles: readers see all of it or
//! none of it ([`crate::dataset_write`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::File;
use std::path::Path;
use std::time::{Duration, Instant};

use arrow::array::{Array, ArrayRef, AsArray, new_null_array};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{Field, Schema};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::upsert::{Input, ProfileSource, read_profiles, write_profiles};
use super::{FileCuts, Inputs, Interner, event_arrays, key_order, read_inputs, write_events};
use crate::chunks::chunk_of;
use crate::dataset_write::DatasetWrite;
use crate::error::{BadRow, Error, Result};
use crate::import::ImportConfig;
use crate::layout::{EVENTS_DIR, PROFILES_DIR, profiles_dir};
use crate::optimize::{read_events, small_files_to_merge};
use crate::table::{Change, NewFile, TableFile, TableSnapshot};

/// What [`append`] did.
#[derive(Debug, Clone, Default)]
pub struct AppendSummary {
    /// The dataset version the append made (or, when `already_applied`,
    /// the one an earlier call with the same key made).
    pub version: u64,
    /// The earlier call with the same idempotency key had done it all.
    pub already_applied: bool,
    /// Data rows read from the event files.
    pub input_rows: u64,
    /// Events added.
    pub events: u64,
    /// Rows skipped (bad rows and missing ids).
    pub skipped_rows: u64,
    /// The first few skipped bad rows.
    pub bad_row_examples: Vec<BadRow>,
    /// Profiles created (for unseen external ids of the events or of
    /// `--profiles`).
    pub new_profiles: u64,
    /// Existing profiles the `--profiles` file updated.
    pub updated_profiles: u64,
    /// Parquet files written.
    pub files: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Wall time.
    pub elapsed: Duration,
}

/// Appends the events of `config` to the dataset at `dir` as one write.
/// With `idempotency_key`, a call whose key an earlier version carries
/// changes nothing and reports that version.
pub fn append(
    config: &ImportConfig,
    dir: &Path,
    idempotency_key: Option<&str>,
) -> Result<AppendSummary> {
    let started = Instant::now();
    config.validate()?;
    if !config.profile_columns.is_empty() {
        return Err(Error::InvalidArgument(
            "--profile-column is for strata import; update profiles with --profiles FILE or strata upsert-profiles"
                .into(),
        ));
    }
    let mut write = DatasetWrite::begin(dir)?;
    if let Some(key) = idempotency_key
        && let Some(done) = write.applied(key)?
    {
        return Ok(AppendSummary {
            version: done.version,
            already_applied: true,
            events: done.rows_added.get(EVENTS_DIR).copied().unwrap_or(0),
            new_profiles: done.rows_added.get(PROFILES_DIR).copied().unwrap_or(0),
            elapsed: started.elapsed(),
            ..AppendSummary::default()
        });
    }
    // The profile file is read below, matched against the table.
    let events_only = ImportConfig {
        profiles: None,
        ..config.clone()
    };
    let Inputs { mut events, .. } = read_inputs(&events_only)?;
    let profiles = write.files(PROFILES_DIR)?;
    let ids = ProfileIds::assign(dir, &profiles, &events.keys)?;
    let (fields, columns, pid) = event_arrays(&mut events, &ids.rank)?;
    let table = write.files(EVENTS_DIR)?;
    let columns = conform(&fields, &columns, &table.file_schema, EVENTS_DIR)?;
    let tag = format!(
        "v{:06}-{:08x}",
        write.base().version + 1,
        rand::random::<u32>()
    );
    let cuts = write.chunks(&table);
    let touched = touched_chunks(&pid, &events.time, &cuts);
    let merged = small_files_to_merge(&table, &cuts, config.rows_per_file, &touched);
    let (columns, all_pid, all_time) =
        with_merged(dir, &table, &merged, columns, &pid, &events.time)?;
    let written = write_events(
        dir,
        &table.file_schema,
        &columns,
        (&all_pid, &all_time),
        FileCuts {
            rows: config.rows_per_file,
            chunks: &cuts,
        },
        |n| format!("part-{tag}-{n:05}.parquet"),
    )?;
    let mut summary = AppendSummary {
        input_rows: events.rows_read,
        events: pid.len() as u64,
        skipped_rows: events.skips.bad_rows + events.skips.missing_ids,
        bad_row_examples: std::mem::take(&mut events.skips.examples),
        new_profiles: ids.new.len() as u64,
        files: written.len() as u64,
        bytes: written.iter().map(|w| w.bytes).sum(),
        ..AppendSummary::default()
    };
    let adds: Vec<NewFile> = written.iter().map(|w| w.to_commit()).collect();
    if !adds.is_empty() {
        write.commit(EVENTS_DIR, &adds, &merged, Change::Append)?;
    }
    let input = match &config.profiles {
        Some(file) => {
            let input = read_profiles(
                file,
                None,
                config.delimiter,
                &config.profiles_id,
                config.skip_bad_rows,
            )?;
            summary.skipped_rows += input.skips.bad_rows + input.skips.missing_ids;
            summary
                .bad_row_examples
                .extend(input.skips.examples.iter().cloned());
            input
        }
        None => Input::default(),
    };
    if input.rows() > 0 || !ids.new.is_empty() {
        let source = ProfileSource {
            input,
            key: "external_id",
            file: config
                .profiles
                .as_deref()
                .unwrap_or(Path::new("--profiles")),
            add_columns: false,
        };
        let done = write_profiles(&mut write, dir, source, &ids.new, "v")?;
        summary.new_profiles = done.created;
        summary.updated_profiles = done.updated;
    }
    let rows_added = BTreeMap::from([
        (EVENTS_DIR.to_string(), summary.events),
        (PROFILES_DIR.to_string(), summary.new_profiles),
    ]);
    summary.version = write
        .finish("append", rows_added, BTreeMap::new(), idempotency_key)?
        .version;
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// The (event month `YYYY-MM`, chunk) of every event.
fn touched_chunks(pid: &[i64], time: &[i64], cuts: &[i64]) -> BTreeSet<(String, usize)> {
    let keys: BTreeSet<(i32, usize)> = pid
        .iter()
        .zip(time)
        .map(|(&p, &t)| (super::month_key(t), chunk_of(cuts, p)))
        .collect();
    keys.into_iter()
        .map(|(m, c)| {
            (
                format!("{:04}-{:02}", m.div_euclid(12), m.rem_euclid(12) + 1),
                c,
            )
        })
        .collect()
}

/// The new events' `columns`, profile ids and times, followed by the rows
/// of the small files `merged` (read as the table's schema).
fn with_merged(
    dir: &Path,
    table: &TableSnapshot,
    merged: &[TableFile],
    columns: Vec<ArrayRef>,
    pid: &[i64],
    time: &[i64],
) -> Result<(Vec<ArrayRef>, Vec<i64>, Vec<i64>)> {
    if merged.is_empty() {
        return Ok((columns, pid.to_vec(), time.to_vec()));
    }
    let old = read_events(dir, merged, &table.file_schema)?;
    let old_pid = old
        .column_by_name("profile_id")
        .and_then(|c| c.as_primitive_opt::<arrow::datatypes::Int64Type>())
        .ok_or_else(|| Error::Internal("events: profile_id is not Int64".into()))?;
    let old_time = old
        .column_by_name("event_time")
        .and_then(|c| c.as_primitive_opt::<arrow::datatypes::TimestampMicrosecondType>())
        .ok_or_else(|| Error::Internal("events: event_time is not a timestamp".into()))?;
    let columns = columns
        .iter()
        .zip(old.columns())
        .map(|(new, old)| arrow::compute::concat(&[new.as_ref(), old.as_ref()]))
        .collect::<Result<Vec<_>, _>>()?;
    let all_pid = pid.iter().chain(old_pid.values()).copied().collect();
    let all_time = time.iter().chain(old_time.values()).copied().collect();
    Ok((columns, all_pid, all_time))
}

/// The profile id of every input key.
struct ProfileIds {
    /// Key index → profile id.
    rank: Vec<i64>,
    /// The keys the dataset did not know, with their new ids (ascending).
    new: Vec<(String, i64)>,
}

impl ProfileIds {
    /// Known keys keep their ids; unseen ones get ids after the largest,
    /// in the importer's key order (of the unseen keys).
    fn assign(dir: &Path, profiles: &TableSnapshot, keys: &Interner) -> Result<ProfileIds> {
        let wanted: Vec<&str> = keys.values.iter().map(|k| &**k).collect();
        let (known, max_id) = find_keys(&profiles_dir(dir), profiles, "external_id", &wanted)?;
        let mut rank: Vec<i64> = known.iter().map(|id| id.unwrap_or(0)).collect();
        let unseen: Vec<usize> = (0..wanted.len()).filter(|&k| known[k].is_none()).collect();
        let names: Vec<&str> = unseen.iter().map(|&k| wanted[k]).collect();
        let mut new = Vec::with_capacity(unseen.len());
        for (next, position) in (max_id + 1..).zip(key_order(&names)) {
            rank[unseen[position]] = next;
            new.push((names[position].to_string(), next));
        }
        Ok(ProfileIds { rank, new })
    }
}

/// The profile id of each of `wanted` (values of the text column `key`)
/// among the live files of `profiles` (the table at `table_dir`), and the
/// largest profile id (0 without profiles). Only the wanted keys are
/// indexed: a profile's key is looked up, never copied.
pub(crate) fn find_keys(
    table_dir: &Path,
    profiles: &TableSnapshot,
    key: &str,
    wanted: &[&str],
) -> Result<(Vec<Option<i64>>, i64)> {
    let index: HashMap<&str, usize, foldhash::fast::RandomState> =
        wanted.iter().enumerate().map(|(i, k)| (*k, i)).collect();
    let mut found = vec![None; wanted.len()];
    let mut max_id = 0;
    scan_keys(table_dir, profiles, key, |id, k| {
        max_id = max_id.max(id);
        if let Some(&i) = k.and_then(|k| index.get(k)) {
            found[i] = Some(id);
        }
    })?;
    Ok((found, max_id))
}

/// Calls `visit` with the profile id and the value of text column `key`
/// (`external_id`, or another key of `strata upsert-profiles`) of every
/// profile in the live files of `profiles` (the table at `table_dir`).
pub(crate) fn scan_keys(
    table_dir: &Path,
    profiles: &TableSnapshot,
    key: &str,
    mut visit: impl FnMut(i64, Option<&str>),
) -> Result<()> {
    for f in &profiles.files {
        let path = table_dir.join(&f.path);
        let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
        let builder =
            ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| Error::parquet(&path, e))?;
        let mask = ProjectionMask::columns(builder.parquet_schema(), ["profile_id", key]);
        let reader = builder
            .with_projection(mask)
            .build()
            .map_err(|e| Error::parquet(&path, e))?;
        for batch in reader {
            let batch = batch?;
            let (Some(ids), Some(external)) = (
                batch.column_by_name("profile_id"),
                batch.column_by_name(key),
            ) else {
                return Err(Error::InvalidArgument(format!(
                    "{}: the profiles have no {key} column, so profiles cannot be found by it",
                    f.path
                )));
            };
            let ids = ids.as_primitive::<arrow::datatypes::Int64Type>();
            let external = arrow::compute::cast(external, &arrow::datatypes::DataType::Utf8)?;
            for (id, ext) in ids.iter().zip(external.as_string::<i32>().iter()) {
                if let Some(id) = id {
                    visit(id, ext);
                }
            }
        }
    }
    Ok(())
}

/// `columns` (described by `fields`) as the columns of `target`, the
/// schema of the table they go into: same-named columns cast to the
/// table's types, columns the input lacks NULL. An input column the table
/// does not have, a value that does not fit the table's type, or a missing
/// column the table requires is an error naming the column.
pub(crate) fn conform(
    fields: &[Field],
    columns: &[ArrayRef],
    target: &Schema,
    table: &str,
) -> Result<Vec<ArrayRef>> {
    if let Some(extra) = fields
        .iter()
        .find(|f| target.field_with_name(f.name()).is_err())
    {
        let known: Vec<&str> = target.fields().iter().map(|f| f.name().as_str()).collect();
        return Err(Error::InvalidArgument(format!(
            "column {} is not in the {table} table (its columns: {}); map it to one of them or drop it with --drop",
            extra.name(),
            known.join(", ")
        )));
    }
    let rows = columns.first().map_or(0, |c| c.len());
    let strict = CastOptions {
        safe: false,
        ..CastOptions::default()
    };
    target
        .fields()
        .iter()
        .map(|t| match fields.iter().position(|f| f.name() == t.name()) {
            Some(i) if columns[i].data_type() == t.data_type() => Ok(columns[i].clone()),
            Some(i) => cast_with_options(&columns[i], t.data_type(), &strict).map_err(|e| {
                Error::InvalidArgument(format!(
                    "column {} does not fit the {table} table's type {}: {e}",
                    t.name(),
                    t.data_type()
                ))
            }),
            None if t.is_nullable() => Ok(new_null_array(t.data_type(), rows)),
            None => Err(Error::InvalidArgument(format!(
                "the {table} table requires column {}, which the input does not have",
                t.name()
            ))),
        })
        .collect()
}
