//! `strata upsert-profiles`: profile rows from a file, matched to the
//! dataset's profiles by a key column (`external_id` by default), as one
//! write.
//!
//! A column the file has overwrites that column of the matched profiles
//! (an empty cell writes NULL); a column it lacks keeps its values. A row
//! whose key no profile has becomes a new profile with the next id. A
//! column the table lacks is an error, unless new columns are allowed:
//! then the table's schema grows by that column (NULL for every other
//! profile), committed with the rows. Only the files that hold a matched
//! profile are rewritten; new profiles go to a new file.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Int64Array, RecordBatch, StringArray, UInt32Array,
    new_null_array,
};
use arrow::compute::kernels::zip::zip;
use arrow::compute::{CastOptions, cast, cast_with_options, concat, take};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef};

use super::InputFormat;
use super::append::find_keys;
use super::collect::{Interner, ProfileCollector, Skips};
use super::read::{ProfileSink, detect_format, read_file};
use crate::dataset_write::DatasetWrite;
use crate::error::{BadRow, Error, Result};
use crate::layout::{PROFILES_DIR, profiles_dir};
use crate::parquet_io::{AtomicParquetWriter, ascending, writer_properties_builder};
use crate::rewrite::{Ids, file_arrow_schema, may_hold, read_all};
use crate::table::{Change, NewFile, TableFile, TableSnapshot};

/// What to upsert and how (see `strata upsert-profiles --help`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpsertConfig {
    /// The profile file (CSV, JSON lines or Parquet).
    pub profiles: PathBuf,
    /// Input format (`None`: from the extension).
    pub format: Option<InputFormat>,
    /// CSV delimiter (`None`: `,`, or tab for `.tsv`).
    pub delimiter: Option<u8>,
    /// The column that matches rows to profiles: a text column of both
    /// the file and the table.
    pub key: String,
    /// Columns the table lacks are added instead of refused.
    pub add_columns: bool,
    /// Skip unreadable rows and rows without a key instead of failing.
    pub skip_bad_rows: bool,
}

impl UpsertConfig {
    /// Defaults for `profiles`: matched by `external_id`, no new columns,
    /// stop at the first bad row.
    pub fn new(profiles: PathBuf) -> Self {
        UpsertConfig {
            profiles,
            format: None,
            delimiter: None,
            key: "external_id".into(),
            add_columns: false,
            skip_bad_rows: false,
        }
    }
}

/// What [`upsert_profiles`] did.
#[derive(Debug, Clone, Default)]
pub struct UpsertSummary {
    /// The dataset version written (or, when `already_applied`, the one an
    /// earlier call with the same key wrote).
    pub version: u64,
    /// An earlier call with the same idempotency key had done it.
    pub already_applied: bool,
    /// Profile rows read.
    pub input_rows: u64,
    /// Existing profiles changed.
    pub updated: u64,
    /// New profiles.
    pub created: u64,
    /// Columns added to the table.
    pub added_columns: Vec<String>,
    /// Rows skipped (bad rows and missing keys).
    pub skipped_rows: u64,
    /// The first few skipped rows.
    pub bad_row_examples: Vec<BadRow>,
    /// Table files rewritten.
    pub files_rewritten: u64,
    /// Wall time.
    pub elapsed: Duration,
}

/// Upserts the profiles of `config` into the dataset at `dir` as one
/// write. With `idempotency_key`, a call whose key an earlier version
/// carries changes nothing and reports that version.
pub fn upsert_profiles(
    dir: &Path,
    config: &UpsertConfig,
    idempotency_key: Option<&str>,
) -> Result<UpsertSummary> {
    let started = Instant::now();
    let mut write = DatasetWrite::begin(dir)?;
    if let Some(key) = idempotency_key
        && let Some(done) = write.applied(key)?
    {
        return Ok(UpsertSummary {
            version: done.version,
            already_applied: true,
            created: done.rows_added.get(PROFILES_DIR).copied().unwrap_or(0),
            elapsed: started.elapsed(),
            ..UpsertSummary::default()
        });
    }
    let input = read_profiles(
        &config.profiles,
        config.format,
        config.delimiter,
        &config.key,
        config.skip_bad_rows,
    )?;
    let mut summary = UpsertSummary {
        input_rows: input.keys.len() as u64,
        skipped_rows: input.skips.bad_rows + input.skips.missing_ids,
        bad_row_examples: input.skips.examples.clone(),
        ..UpsertSummary::default()
    };
    let source = ProfileSource {
        input,
        key: &config.key,
        file: &config.profiles,
        add_columns: config.add_columns,
    };
    let done = write_profiles(&mut write, dir, source, &[], "u")?;
    summary.updated = done.updated;
    summary.created = done.created;
    summary.added_columns = done.added_columns;
    summary.files_rewritten = done.files_rewritten;
    let rows_added = BTreeMap::from([(PROFILES_DIR.to_string(), summary.created)]);
    summary.version = write
        .finish(
            "upsert-profiles",
            rows_added,
            BTreeMap::new(),
            idempotency_key,
        )?
        .version;
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// The rows of a profile file: keys, and each column's values.
#[derive(Default)]
pub(super) struct Input {
    keys: Vec<String>,
    columns: Vec<InputColumn>,
    pub(super) skips: Skips,
}

impl Input {
    /// Rows read.
    pub(super) fn rows(&self) -> usize {
        self.keys.len()
    }

    /// Adds a row with every column NULL for each of `keys` the input
    /// does not have.
    fn add_keys<'k>(&mut self, keys: impl Iterator<Item = &'k str>) -> Result<()> {
        let have: HashSet<&str> = self.keys.iter().map(String::as_str).collect();
        let extra: Vec<String> = keys
            .filter(|k| !have.contains(k))
            .map(str::to_string)
            .collect();
        if extra.is_empty() {
            return Ok(());
        }
        for c in &mut self.columns {
            let pad =
                |a: &ArrayRef| concat(&[a.as_ref(), &new_null_array(a.data_type(), extra.len())]);
            c.values = pad(&c.values)?;
            c.inferred = pad(&c.inferred)?;
        }
        self.keys.extend(extra);
        Ok(())
    }
}

/// A profile file as one write sees it.
pub(super) struct ProfileSource<'a> {
    pub(super) input: Input,
    /// The table's text column the keys match.
    pub(super) key: &'a str,
    /// The file, for messages.
    pub(super) file: &'a Path,
    /// Columns the table lacks are added.
    pub(super) add_columns: bool,
}

/// What [`write_profiles`] committed.
#[derive(Debug, Default)]
pub(super) struct ProfilesWritten {
    pub(super) updated: u64,
    pub(super) created: u64,
    pub(super) added_columns: Vec<String>,
    pub(super) files_rewritten: u64,
}

/// Applies `source` to the profiles table of `write` and commits it:
/// matched profiles updated, other keys and the `pending` profiles (new
/// ids already given, by an append's events) created. `prefix` starts the
/// new files' names.
pub(super) fn write_profiles(
    write: &mut DatasetWrite,
    dir: &Path,
    mut source: ProfileSource<'_>,
    pending: &[(String, i64)],
    prefix: &str,
) -> Result<ProfilesWritten> {
    let table = write.files(PROFILES_DIR)?;
    source
        .input
        .add_keys(pending.iter().map(|p| p.0.as_str()))?;
    let plan = Plan::new(dir, &table, source, pending)?;
    let tag = format!(
        "{prefix}{:06}-{:08x}",
        write.base().version + 1,
        rand::random::<u32>()
    );
    let change = plan.apply(&profiles_dir(dir), &table, &tag)?;
    let schema = (!plan.added.is_empty()).then_some(plan.schema.as_ref());
    if !change.adds.is_empty() || schema.is_some() {
        let kind = if change.removes.is_empty() && schema.is_none() {
            Change::Append
        } else {
            Change::Upsert
        };
        write.commit_with_schema(PROFILES_DIR, &change.adds, &change.removes, kind, schema)?;
    }
    Ok(ProfilesWritten {
        updated: change.updated,
        created: plan.created.len() as u64,
        added_columns: plan.added.iter().map(|f| f.name().clone()).collect(),
        files_rewritten: change.removes.len() as u64,
    })
}

struct InputColumn {
    name: String,
    values: ArrayRef,
    /// The values were text (CSV, JSON): typed by the table's column.
    text: bool,
    /// The type inferred from the values, for a new column.
    inferred: ArrayRef,
}

/// Reads the profile file at `path`, its key in column `key`.
pub(super) fn read_profiles(
    path: &Path,
    format: Option<InputFormat>,
    delimiter: Option<u8>,
    key: &str,
    skip_bad_rows: bool,
) -> Result<Input> {
    let format = detect_format(path, format)?;
    let skips = Skips {
        skip_bad_rows,
        skip_missing_ids: skip_bad_rows,
        ..Skips::default()
    };
    let mut collector = ProfileCollector::new(key.to_string(), skips);
    let mut keys = Interner::default();
    read_file(
        path,
        format,
        delimiter,
        &mut ProfileSink {
            profiles: &mut collector,
            keys: &mut keys,
        },
    )?;
    let row_keys = collector
        .key
        .iter()
        .map(|&k| keys.values[k as usize].to_string())
        .collect();
    let mut columns = Vec::new();
    for p in std::mem::take(&mut collector.props) {
        let name = p.name.clone();
        let (values, inferred, text) = p.finish_raw()?;
        columns.push(InputColumn {
            name,
            text,
            values,
            inferred,
        });
    }
    Ok(Input {
        keys: row_keys,
        columns,
        skips: collector.skips,
    })
}

/// What the upsert writes, decided before any file is touched.
struct Plan {
    /// The table's schema after the upsert.
    schema: SchemaRef,
    /// Columns the upsert adds.
    added: Vec<Field>,
    /// Input columns typed as their table column, by table column name.
    values: HashMap<String, ArrayRef>,
    /// Profile id → input row, for the profiles that exist.
    updates: HashMap<i64, u32>,
    /// (new id, input row) of the new profiles.
    created: Vec<(i64, u32)>,
}

impl Plan {
    fn new(
        dir: &Path,
        table: &TableSnapshot,
        source: ProfileSource<'_>,
        pending: &[(String, i64)],
    ) -> Result<Plan> {
        let key = source.key;
        match table.file_schema.field_with_name(key) {
            Ok(f) if f.data_type() == &DataType::Utf8 => {}
            _ => {
                return Err(Error::InvalidArgument(format!(
                    "--key {key}: the profiles table has no text column of that name"
                )));
            }
        }
        let keys = source.input.keys.clone();
        let (schema, added, mut values) = typed_columns(&table.file_schema, source)?;
        let (updates, created) = match_keys(dir, table, key, &keys, pending)?;
        values.insert(
            key.to_string(),
            Arc::new(StringArray::from_iter_values(&keys)) as ArrayRef,
        );
        Ok(Plan {
            schema,
            added,
            values,
            updates,
            created,
        })
    }

    /// Rewrites the files holding updated profiles and writes the new ones.
    fn apply(&self, table_dir: &Path, table: &TableSnapshot, tag: &str) -> Result<Applied> {
        let ids = Ids::new(self.updates.keys().copied().collect());
        let mut out = Applied::default();
        for (n, file) in table.files.iter().filter(|f| may_hold(f, &ids)).enumerate() {
            let name = format!("part-{tag}-{n:05}.parquet");
            if let Some(updated) = self.rewrite(table_dir, file, &name)? {
                out.updated += updated;
                out.removes.push(file.clone());
                out.adds.push(NewFile {
                    path: name,
                    partition_values: BTreeMap::new(),
                });
            }
        }
        if !self.created.is_empty() {
            let name = format!("part-{tag}-new.parquet");
            let like = match table.files.first() {
                Some(f) => Some(file_arrow_schema(&table_dir.join(&f.path))?),
                None => None,
            };
            self.write_created(&table_dir.join(&name), like.as_deref())?;
            out.adds.push(NewFile {
                path: name,
                partition_values: BTreeMap::new(),
            });
        }
        Ok(out)
    }

    /// `file` with the updated profiles' input columns overwritten, as
    /// `name`; `None` (nothing written) when it holds none of them. The
    /// file keeps its own column types; added columns follow them.
    fn rewrite(&self, table_dir: &Path, file: &TableFile, name: &str) -> Result<Option<u64>> {
        let src = table_dir.join(&file.path);
        let batches = read_all(&src)?;
        if !batches
            .iter()
            .any(|b| self.rows_of(b).iter().any(Option::is_some))
        {
            return Ok(None);
        }
        let Some(first) = batches.first() else {
            return Ok(None);
        };
        let schema = self.file_schema(&first.schema());
        let mut writer =
            AtomicParquetWriter::create(&table_dir.join(name), schema.clone(), sorted_by_id())?;
        let mut updated = 0;
        for batch in batches {
            let rows = self.rows_of(&batch);
            updated += rows.iter().filter(|r| r.is_some()).count() as u64;
            let mask: BooleanArray = rows.iter().map(|r| Some(r.is_some())).collect();
            let idx: UInt32Array = rows.into_iter().collect();
            let columns = schema
                .fields()
                .iter()
                .map(|f| {
                    let old = match batch.column_by_name(f.name()) {
                        Some(c) => c.clone(),
                        None => new_null_array(f.data_type(), batch.num_rows()),
                    };
                    match self.values.get(f.name()) {
                        Some(new) => {
                            let new = cast(&take(new.as_ref(), &idx, None)?, f.data_type())?;
                            Ok(zip(&mask, &new, &old)?)
                        }
                        None => Ok(old),
                    }
                })
                .collect::<Result<Vec<_>>>()?;
            writer.write(&RecordBatch::try_new(schema.clone(), columns)?)?;
        }
        writer.finish()?;
        Ok(Some(updated))
    }

    /// A file's own schema with the added columns after its columns.
    fn file_schema(&self, file: &Schema) -> SchemaRef {
        let mut fields: Vec<Field> = file.fields().iter().map(|f| f.as_ref().clone()).collect();
        for f in self.schema.fields() {
            if file.field_with_name(f.name()).is_err() {
                fields.push(f.as_ref().clone());
            }
        }
        Arc::new(Schema::new_with_metadata(fields, file.metadata().clone()))
    }

    /// The input row of each row of `batch`, if its profile is updated.
    fn rows_of(&self, batch: &RecordBatch) -> Vec<Option<u32>> {
        let Some(ids) = batch.column_by_name("profile_id") else {
            return vec![None; batch.num_rows()];
        };
        ids.as_primitive::<Int64Type>()
            .iter()
            .map(|id| id.and_then(|id| self.updates.get(&id).copied()))
            .collect()
    }

    /// The new profiles, ids ascending, as one file at `path`, with the
    /// column types of `like` (a file of the table) where it has them.
    fn write_created(&self, path: &Path, like: Option<&Schema>) -> Result<()> {
        let schema = match like {
            Some(like) => self.file_schema(like),
            None => self.schema.clone(),
        };
        let idx: UInt32Array = self.created.iter().map(|&(_, row)| Some(row)).collect();
        let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(
            self.created.iter().map(|c| c.0),
        ));
        let columns = schema
            .fields()
            .iter()
            .map(|f| match (f.name().as_str(), self.values.get(f.name())) {
                ("profile_id", _) => Ok(ids.clone()),
                (_, Some(v)) => Ok(cast(&take(v.as_ref(), &idx, None)?, f.data_type())?),
                (_, None) => Ok(new_null_array(f.data_type(), idx.len())),
            })
            .collect::<Result<Vec<_>>>()?;
        let batch = RecordBatch::try_new(schema.clone(), columns)?;
        let mut writer = AtomicParquetWriter::create(path, schema, sorted_by_id())?;
        writer.write(&batch)?;
        writer.finish()?;
        Ok(())
    }
}

/// What [`Plan::apply`] wrote.
#[derive(Debug, Default)]
struct Applied {
    adds: Vec<NewFile>,
    removes: Vec<TableFile>,
    updated: u64,
}

/// The table's schema after `source` (grown by its new columns when
/// they may be added), the columns added, and the input's values typed as
/// their table columns.
fn typed_columns(
    table: &Schema,
    source: ProfileSource<'_>,
) -> Result<(SchemaRef, Vec<Field>, HashMap<String, ArrayRef>)> {
    let mut fields: Vec<Field> = table.fields().iter().map(|f| f.as_ref().clone()).collect();
    let mut added = Vec::new();
    let mut values = HashMap::new();
    for c in source.input.columns {
        let value = match table.field_with_name(&c.name) {
            Ok(f) => typed(&c, f.data_type(), source.file)?,
            Err(_) if source.add_columns => {
                let field = Field::new(&c.name, c.inferred.data_type().clone(), true);
                added.push(field.clone());
                fields.push(field);
                c.inferred
            }
            Err(_) => {
                let known: Vec<&str> = table.fields().iter().map(|f| f.name().as_str()).collect();
                return Err(Error::InvalidArgument(format!(
                    "{}: column {} is not in the profiles table (its columns: {}); pass --add-columns to add it",
                    source.file.display(),
                    c.name,
                    known.join(", ")
                )));
            }
        };
        values.insert(c.name, value);
    }
    Ok((Arc::new(Schema::new(fields)), added, values))
}

/// Profile id → row of the rows whose key a profile has, and (id, row) of
/// the others, ascending: `pending` keys with their given ids, the rest
/// with ids after every id there is.
type Matched = (HashMap<i64, u32>, Vec<(i64, u32)>);

fn match_keys(
    dir: &Path,
    table: &TableSnapshot,
    key: &str,
    keys: &[String],
    pending: &[(String, i64)],
) -> Result<Matched> {
    let pending: HashMap<&str, i64> = pending.iter().map(|(k, id)| (k.as_str(), *id)).collect();
    // An append's new profiles alone (no profile file): nothing to look up.
    let (known, max_id) = if keys.iter().all(|k| pending.contains_key(k.as_str())) {
        (vec![None; keys.len()], 0)
    } else {
        let wanted: Vec<&str> = keys.iter().map(String::as_str).collect();
        find_keys(&profiles_dir(dir), table, key, &wanted)?
    };
    let mut next = pending.values().copied().fold(max_id, i64::max);
    let mut updates = HashMap::new();
    let mut created = Vec::new();
    for (row, k) in keys.iter().enumerate() {
        let row = row as u32;
        if let Some(id) = known[row as usize] {
            updates.insert(id, row);
        } else if let Some(&id) = pending.get(k.as_str()) {
            created.push((id, row));
        } else {
            next += 1;
            created.push((next, row));
        }
    }
    created.sort_unstable();
    Ok((updates, created))
}

pub(crate) fn sorted_by_id() -> parquet::file::properties::WriterProperties {
    writer_properties_builder()
        .set_sorting_columns(Some(ascending(&[0])))
        .build()
}

/// `column`'s values as `data_type`: text parsed as that type, typed
/// input cast to it; a value that does not fit is an error naming its row.
fn typed(column: &InputColumn, data_type: &DataType, file: &Path) -> Result<ArrayRef> {
    let source = &column.values;
    if source.data_type() == data_type {
        return Ok(source.clone());
    }
    let strict = CastOptions {
        safe: false,
        ..CastOptions::default()
    };
    if let Ok(v) = cast_with_options(source, data_type, &strict) {
        return Ok(v);
    }
    // Find the first value that does not fit, for the message.
    let lenient = cast(source, data_type)?;
    let row = (0..source.len())
        .find(|&i| source.is_valid(i) && lenient.is_null(i))
        .unwrap_or(0);
    let shown = cast(&source.slice(row, 1), &DataType::Utf8)
        .ok()
        .and_then(|a| {
            a.as_string::<i32>()
                .iter()
                .next()
                .flatten()
                .map(str::to_string)
        })
        .unwrap_or_default();
    Err(Error::InvalidArgument(format!(
        "{}: row {}: column {}: {shown:?} is not a value of the table's type {data_type}{}",
        file.display(),
        row + 1,
        column.name,
        if column.text {
            ""
        } else {
            " (the file's type could not be cast)"
        }
    )))
}
