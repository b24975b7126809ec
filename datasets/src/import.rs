//! `strata import`: users' own data into a dataset.

mod append;
mod collect;
mod props;
mod read;
mod roles;
mod upsert;
mod values;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{
    Array, ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray, UInt32Array,
};
use arrow::compute::take;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use chrono::{DateTime, Datelike};

pub use self::append::{AppendSummary, append};
pub(crate) use self::append::{conform, scan_keys};
use self::collect::{EventCollector, Interner, Mapping, ProfileCollector, Skips, TimeParser};
use self::read::{ProfileSink, detect_format, peek_columns, read_file};
pub use self::roles::{ROLES, Role, RoleKind, RoleSpec, roles_in_flag_order};
pub(crate) use self::upsert::sorted_by_id;
pub use self::upsert::{UpsertConfig, UpsertSummary, upsert_profiles};
use crate::error::{BadRow, Error, Result};
use crate::layout::{EVENT_MONTH, events_dir, part_file_name, partition_dir_name, profiles_dir};
use crate::manifest::{ImportInfo, Manifest, Roles};
use crate::parquet_io::{AtomicParquetWriter, ascending, writer_properties_builder};
use crate::schema::timestamp_type;
use crate::staging::Staging;

/// Input file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputFormat {
    /// Comma (or --delimiter) separated values with a header line.
    Csv,
    /// One JSON object per line.
    Jsonl,
    /// Apache Parquet.
    Parquet,
}

impl InputFormat {
    /// Every format, in the order `--help` lists them.
    pub const ALL: [InputFormat; 3] = [InputFormat::Csv, InputFormat::Jsonl, InputFormat::Parquet];

    /// `csv`, `jsonl` or `parquet` (what `--format` takes).
    pub fn name(self) -> &'static str {
        match self {
            InputFormat::Csv => "csv",
            InputFormat::Jsonl => "jsonl",
            InputFormat::Parquet => "parquet",
        }
    }

    /// One line for `--help`.
    pub fn description(self) -> &'static str {
        match self {
            InputFormat::Csv => "Comma (or --delimiter) separated values with a header line",
            InputFormat::Jsonl => "One JSON object per line",
            InputFormat::Parquet => "Apache Parquet",
        }
    }
}

impl std::fmt::Display for InputFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for InputFormat {
    type Err = Error;

    /// [`InputFormat::name`] back to the format.
    fn from_str(s: &str) -> Result<Self> {
        InputFormat::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                Error::InvalidArgument(format!("unknown format {s:?} (csv, jsonl or parquet)"))
            })
    }
}

/// Where a canonical column's values come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnSource {
    /// An input column.
    Column(String),
    /// The same value for every row.
    Const(String),
}

/// What to import and how (see `strata import --help`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportConfig {
    /// Event input files.
    pub events: Vec<PathBuf>,
    /// Input format (`None`: from the extension).
    pub format: Option<InputFormat>,
    /// CSV delimiter (`None`: `,`, or tab for `.tsv`).
    pub delimiter: Option<u8>,
    /// Profile id column.
    pub profile_id: String,
    /// Event time column.
    pub time: String,
    /// strftime format of the time column (`None`: auto-detect).
    pub time_format: Option<String>,
    /// The column (or constant, for roles with [`RoleSpec::constant`]) of
    /// each role given explicitly. A role not in the map takes the input
    /// column with its canonical name, if there is one; a required role
    /// (the event type) takes that column in any case.
    pub roles: BTreeMap<Role, ColumnSource>,
    /// Column the amount is multiplied by.
    pub amount_times: Option<String>,
    /// Rows with a negative amount become `refund` events.
    pub refund_if_negative: bool,
    /// Input columns to leave out.
    pub drop: Vec<String>,
    /// (event column, profile column name) copied to derived profiles.
    pub profile_columns: Vec<(String, String)>,
    /// Profile input file.
    pub profiles: Option<PathBuf>,
    /// Profile id column of the profile file.
    pub profiles_id: String,
    /// Skip unreadable rows instead of failing.
    pub skip_bad_rows: bool,
    /// Skip rows with an empty profile id instead of failing.
    pub skip_missing_ids: bool,
    /// Manifest purchase types.
    pub purchase_types: Vec<String>,
    /// Manifest activity types (empty: the purchase types).
    pub activity_types: Vec<String>,
    /// Most rows per Parquet file (at least 1; default
    /// [`IMPORT_FILE_ROWS`]). Profiles are split into files of exactly this
    /// many rows (the last one fewer). A month with more events is split
    /// into several files at a profile boundary: a file is closed at the
    /// first profile boundary at or after this many rows, so it holds at
    /// most this many rows plus the rest of the profile that reaches the
    /// limit, and a profile's events of one month are never in two files.
    pub rows_per_file: usize,
}

impl ImportConfig {
    /// Defaults for `events` (the defaults of the `strata import` flags):
    /// columns `profile_id`, `event_time`, `event_type`, other roles from
    /// the columns with their canonical names, stop at the first bad row,
    /// purchase type `purchase`, [`IMPORT_FILE_ROWS`] rows per file.
    pub fn new(events: Vec<PathBuf>) -> Self {
        ImportConfig {
            events,
            format: None,
            delimiter: None,
            profile_id: "profile_id".into(),
            time: "event_time".into(),
            time_format: None,
            roles: BTreeMap::new(),
            amount_times: None,
            refund_if_negative: false,
            drop: Vec::new(),
            profile_columns: Vec::new(),
            profiles: None,
            profiles_id: "profile_id".into(),
            skip_bad_rows: false,
            skip_missing_ids: false,
            purchase_types: vec!["purchase".into()],
            activity_types: Vec::new(),
            rows_per_file: IMPORT_FILE_ROWS,
        }
    }

    /// Checks what can be checked before reading any input.
    fn validate(&self) -> Result<()> {
        if self.events.is_empty() {
            return Err(Error::InvalidArgument("no --events file given".into()));
        }
        if self.rows_per_file == 0 {
            return Err(Error::InvalidArgument(
                "rows per file must be at least 1".into(),
            ));
        }
        for (role, source) in &self.roles {
            if let ColumnSource::Const(v) = source
                && role.spec().constant.is_none()
            {
                return Err(Error::InvalidArgument(format!(
                    "{role} cannot be a constant ({v:?}): only {} can",
                    ROLES
                        .iter()
                        .filter(|s| s.constant.is_some())
                        .map(|s| s.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        Ok(())
    }
}

/// What `import` did.
#[derive(Debug, Clone, Default)]
pub struct ImportSummary {
    /// Data rows read from the event files.
    pub input_rows: u64,
    /// Events written.
    pub events: u64,
    /// Rows skipped (bad rows and missing ids).
    pub skipped_rows: u64,
    /// The first few skipped bad rows.
    pub bad_row_examples: Vec<BadRow>,
    /// Profiles written.
    pub profiles: u64,
    /// Parquet files written.
    pub files: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Wall time.
    pub elapsed: Duration,
}

/// Default [`ImportConfig::rows_per_file`]: a month with more rows is split
/// into several files (at a profile boundary, so files cover disjoint
/// profile ranges).
pub const IMPORT_FILE_ROWS: usize = 1 << 20;

/// Imports into `out`. Everything is written to a temp directory next to
/// `out` and renamed into place at the end, so a failed import leaves `out`
/// exactly as it was.
pub fn import(config: &ImportConfig, out: &Path) -> Result<ImportSummary> {
    let started = Instant::now();
    config.validate()?;
    let staging = Staging::new(out)?;
    let Inputs {
        mapping,
        mut events,
        mut profiles,
    } = read_inputs(config)?;

    // Dense ids in sorted external-id order.
    let order = sorted_keys(&events.keys);
    let mut rank = vec![0i64; order.len()];
    for (pos, &k) in order.iter().enumerate() {
        rank[k as usize] = pos as i64 + 1;
    }

    let root = staging.path();
    let mut summary = ImportSummary {
        input_rows: events.rows_read,
        events: events.accepted() as u64,
        skipped_rows: events.skips.bad_rows + events.skips.missing_ids,
        bad_row_examples: std::mem::take(&mut events.skips.examples),
        profiles: order.len() as u64,
        ..ImportSummary::default()
    };
    if let Some(pc) = &mut profiles {
        summary.skipped_rows += pc.skips.bad_rows + pc.skips.missing_ids;
        summary.bad_row_examples.append(&mut pc.skips.examples);
    }

    let (event_fields, event_columns, pid) = event_arrays(&mut events, &rank)?;
    let written = write_events(
        root,
        &Arc::new(Schema::new(event_fields.clone())),
        &event_columns,
        (&pid, &events.time),
        FileCuts {
            rows: config.rows_per_file,
            chunks: &[],
        },
        part_file_name,
    )?;
    summary.files += written.len() as u64;
    summary.bytes += written.iter().map(|w| w.bytes).sum::<u64>();
    let (files, bytes) = write_profiles(
        root,
        config,
        &events,
        &order,
        &pid,
        &event_fields,
        &event_columns,
        profiles,
    )?;
    summary.files += files;
    summary.bytes += bytes;

    let mut manifest = Manifest::new();
    manifest.roles = Roles {
        amount: mapping
            .source(Role::Amount)
            .map(|_| Role::Amount.name().into()),
        channel: mapping
            .source(Role::Channel)
            .map(|_| Role::Channel.name().into()),
        ..Roles::default()
    };
    manifest.purchase_types = config.purchase_types.clone();
    manifest.activity_types = if config.activity_types.is_empty() {
        config.purchase_types.clone()
    } else {
        config.activity_types.clone()
    };
    manifest.import = Some(ImportInfo {
        events_files: config
            .events
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        profiles_file: config.profiles.as_ref().map(|p| p.display().to_string()),
        columns: describe_mapping(config, &mapping),
        rows: summary.events,
        skipped_rows: summary.skipped_rows,
    });
    // A table without rows (every row skipped) takes the canonical schema.
    crate::upgrade::create_tables(
        root,
        &crate::schema::profiles_schema(),
        &crate::schema::events_schema(),
        "import",
    )?;
    manifest.save(root)?;
    staging.commit()?;
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// What the input files hold, collected in memory: events (with their
/// profile keys interned) and profile rows.
struct Inputs {
    mapping: Mapping,
    events: EventCollector,
    profiles: Option<ProfileCollector>,
}

/// Reads every input file of `config` (validated).
fn read_inputs(config: &ImportConfig) -> Result<Inputs> {
    let first = &config.events[0];
    let format = detect_format(first, config.format)?;
    for f in &config.events[1..] {
        if detect_format(f, config.format)? != format {
            return Err(Error::InvalidArgument(format!(
                "{}: all --events files must have the same format",
                f.display()
            )));
        }
    }
    let header = peek_columns(first, format, config.delimiter)?;
    let mapping = resolve_mapping(config, &header);
    let skips = || Skips {
        skip_bad_rows: config.skip_bad_rows,
        skip_missing_ids: config.skip_missing_ids,
        ..Skips::default()
    };
    let mut events = EventCollector::new(
        mapping.clone(),
        TimeParser {
            format: config.time_format.clone(),
        },
        config.refund_if_negative,
        skips(),
    );
    for f in &config.events {
        read_file(f, format, config.delimiter, &mut events)?;
    }
    let mut profiles = None;
    if let Some(pf) = &config.profiles {
        let mut pc = ProfileCollector::new(config.profiles_id.clone(), skips());
        read_file(
            pf,
            detect_format(pf, None).or_else(|_| detect_format(pf, config.format))?,
            config.delimiter,
            &mut ProfileSink {
                profiles: &mut pc,
                keys: &mut events.keys,
            },
        )?;
        profiles = Some(pc);
    }
    Ok(Inputs {
        mapping,
        events,
        profiles,
    })
}

/// Applies defaults: a role without a flag takes the column with its
/// canonical name, if the input has one (a required role: in any case).
fn resolve_mapping(config: &ImportConfig, header: &[String]) -> Mapping {
    let has = |name: &str| header.iter().any(|h| h == name);
    let roles = ROLES
        .iter()
        .filter_map(|spec| {
            let source = config.roles.get(&spec.role).cloned().or_else(|| {
                (spec.required || has(spec.name)).then(|| ColumnSource::Column(spec.name.into()))
            })?;
            Some((spec, source))
        })
        .collect();
    Mapping {
        profile_id: config.profile_id.clone(),
        time: config.time.clone(),
        roles,
        amount_times: config.amount_times.clone(),
        drop: config.drop.clone(),
    }
}

/// `[import.columns]` of the manifest: which source fed each column.
fn describe_mapping(config: &ImportConfig, m: &Mapping) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    out.insert(
        "profile_id".into(),
        format!("{} (dense ids; original in external_id)", m.profile_id),
    );
    out.insert(
        "event_time".into(),
        match &config.time_format {
            Some(f) => format!("{} (format {f})", m.time),
            None => m.time.clone(),
        },
    );
    for (spec, source) in &m.roles {
        let mut s = match source {
            ColumnSource::Column(n) => n.clone(),
            ColumnSource::Const(v) => format!("const:{v}"),
        };
        match spec.role {
            Role::EventType if config.refund_if_negative => {
                s.push_str(" (refund when amount < 0)");
            }
            Role::Amount => {
                if let Some(t) = &m.amount_times {
                    s = format!("{s} * {t}");
                }
            }
            _ => {}
        }
        out.insert(spec.name.into(), s);
    }
    out
}

/// Key codes in profile id order: numeric when every id is an integer
/// without leading zeros, else by bytes.
fn sorted_keys(keys: &Interner) -> Vec<u32> {
    let keys: Vec<&str> = keys.values.iter().map(|k| &**k).collect();
    key_order(&keys).into_iter().map(|k| k as u32).collect()
}

/// Positions of `keys` in profile id order: numeric when every key is an
/// integer without leading zeros, else by bytes.
pub(crate) fn key_order(keys: &[&str]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..keys.len()).collect();
    let numeric: Option<Vec<i64>> = keys
        .iter()
        .map(|k| {
            let digits = k.strip_prefix('-').unwrap_or(k);
            if digits.len() > 1 && digits.starts_with('0') {
                return None;
            }
            k.parse::<i64>().ok()
        })
        .collect();
    match numeric {
        Some(n) => order.sort_unstable_by_key(|&k| n[k]),
        None => order.sort_unstable_by(|&a, &b| keys[a].cmp(keys[b])),
    }
    order
}

/// The event columns in input order, and the dense profile id of each row.
fn event_arrays(
    ev: &mut EventCollector,
    rank: &[i64],
) -> Result<(Vec<Field>, Vec<ArrayRef>, Vec<i64>)> {
    let pid: Vec<i64> = ev.key.iter().map(|&k| rank[k as usize]).collect();
    let mut fields = vec![
        Field::new("profile_id", DataType::Int64, false),
        Field::new("event_time", timestamp_type(), false),
    ];
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(pid.clone())),
        Arc::new(TimestampMicrosecondArray::from(ev.time.clone()).with_timezone("UTC")),
    ];
    for role in &mut ev.roles {
        let (field, col) = role.finish()?;
        fields.push(field);
        cols.push(col);
    }
    for p in std::mem::take(&mut ev.props) {
        let source = p.source.clone();
        let (f, a) = p.finish()?;
        fields.push(f.with_metadata([("source_column".to_string(), source)].into()));
        cols.push(a);
    }
    Ok((fields, cols, pid))
}

pub(crate) fn month_key(t: i64) -> i32 {
    let dt = DateTime::from_timestamp_micros(t).expect("parsed times are in range");
    dt.year() * 12 + dt.month0() as i32
}

/// A Parquet file [`write_events`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WrittenFile {
    /// The month's partition directory name (`event_month=YYYY-MM`).
    pub(crate) partition: String,
    /// The file's name in it.
    pub(crate) name: String,
    /// Bytes on disk.
    pub(crate) bytes: u64,
}

impl WrittenFile {
    /// The file as a table file to commit.
    pub(crate) fn to_commit(&self) -> crate::table::NewFile {
        crate::table::NewFile {
            path: format!("{}/{}", self.partition, self.name),
            partition_values: BTreeMap::from([(
                EVENT_MONTH.to_string(),
                self.partition.split_once('=').map(|(_, v)| v.to_string()),
            )]),
        }
    }
}

/// Where [`write_events`] ends a file besides the end of a month.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FileCuts<'a> {
    /// At the first profile boundary at or after this many rows.
    pub(crate) rows: usize,
    /// Before each of these profile ids (the first ids of the table's
    /// chunks after the first, ascending; see [`crate::chunks`]).
    pub(crate) chunks: &'a [i64],
}

/// Writes the events (`cols` in `schema`) under `<root>/events/`, one
/// directory per month, sorted by (profile id, time), months cut into
/// files as `cuts` says, the month's `n`-th file named `file_name(n)`.
pub(crate) fn write_events(
    root: &Path,
    schema: &SchemaRef,
    cols: &[ArrayRef],
    (pid, time): (&[i64], &[i64]),
    cuts: FileCuts<'_>,
    file_name: impl Fn(usize) -> String,
) -> Result<Vec<WrittenFile>> {
    let months: Vec<i32> = time.iter().map(|&t| month_key(t)).collect();
    let mut perm: Vec<u32> = (0..pid.len() as u32).collect();
    perm.sort_unstable_by_key(|&i| {
        let i = i as usize;
        (months[i], pid[i], time[i], i)
    });
    let props = writer_properties_builder()
        .set_sorting_columns(Some(ascending(&[0, 1])))
        .build();
    let mut written = Vec::new();
    let mut start = 0;
    while start < perm.len() {
        let month = months[perm[start] as usize];
        let end = start + perm[start..].partition_point(|&i| months[i as usize] == month);
        let partition = partition_dir_name(month.div_euclid(12), month.rem_euclid(12) as u32 + 1);
        let dir = events_dir(root).join(&partition);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let mut file_start = start;
        let mut part = 0;
        // A file ends at the first profile boundary at or after
        // `cuts.rows` rows, at the end of its chunk, or at the end of the
        // month.
        while file_start < end {
            let chunk = crate::chunks::chunk_of(cuts.chunks, pid[perm[file_start] as usize]);
            let chunk_end = match cuts.chunks.get(chunk) {
                Some(&cut) => {
                    file_start + perm[file_start..end].partition_point(|&i| pid[i as usize] < cut)
                }
                None => end,
            };
            let mut file_end = (file_start + cuts.rows).min(chunk_end);
            while file_end < chunk_end
                && pid[perm[file_end] as usize] == pid[perm[file_end - 1] as usize]
            {
                file_end += 1;
            }
            let name = file_name(part);
            part += 1;
            let mut w =
                AtomicParquetWriter::create(&dir.join(&name), schema.clone(), props.clone())?;
            for chunk in perm[file_start..file_end].chunks(crate::parquet_io::ROW_GROUP_ROWS) {
                let idx = UInt32Array::from(chunk.to_vec());
                let columns = cols
                    .iter()
                    .map(|c| take(c.as_ref(), &idx, None))
                    .collect::<Result<Vec<_>, _>>()?;
                w.write(&RecordBatch::try_new(schema.clone(), columns)?)?;
            }
            let bytes = w.finish()?.bytes;
            written.push(WrittenFile {
                partition: partition.clone(),
                name,
                bytes,
            });
            file_start = file_end;
        }
        start = end;
    }
    if written.is_empty() {
        std::fs::create_dir_all(events_dir(root)).map_err(|e| Error::io(root, e))?;
    }
    Ok(written)
}

#[allow(clippy::too_many_arguments)]
fn write_profiles(
    root: &Path,
    config: &ImportConfig,
    events: &EventCollector,
    order: &[u32],
    pid: &[i64],
    event_fields: &[Field],
    event_cols: &[ArrayRef],
    profiles: Option<ProfileCollector>,
) -> Result<(u64, u64)> {
    let n = order.len();
    let mut fields = vec![
        Field::new("profile_id", DataType::Int64, false),
        Field::new("external_id", DataType::Utf8, true),
    ];
    let mut cols: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from_iter_values(1..=n as i64)),
        Arc::new(
            order
                .iter()
                .map(|&k| Some(&*events.keys.values[k as usize]))
                .collect::<StringArray>(),
        ),
    ];
    if let Some(pc) = profiles {
        let mut row_of_key = vec![None; events.keys.values.len()];
        for (row, &k) in pc.key.iter().enumerate() {
            row_of_key[k as usize] = Some(row as u32);
        }
        let idx: UInt32Array = order.iter().map(|&k| row_of_key[k as usize]).collect();
        for p in pc.props {
            let source = p.source.clone();
            let (f, a) = p.finish()?;
            fields.push(f.with_metadata([("source_column".to_string(), source)].into()));
            cols.push(take(a.as_ref(), &idx, None)?);
        }
    }
    if !config.profile_columns.is_empty() {
        // The latest event of each profile.
        let mut last: Vec<Option<u32>> = vec![None; n];
        for (i, &p) in pid.iter().enumerate() {
            let slot = &mut last[p as usize - 1];
            if slot.is_none_or(|j| events.time[j as usize] <= events.time[i]) {
                *slot = Some(i as u32);
            }
        }
        let idx: UInt32Array = last.into_iter().collect();
        for (src, name) in &config.profile_columns {
            let pos = event_fields
                .iter()
                .position(|f| f.metadata().get("source_column") == Some(src) || (f.name() == src && f.metadata().is_empty()))
                .ok_or_else(|| {
                    Error::InvalidArgument(format!(
                        "--profile-column {src}: no such event column (columns mapped to a role cannot be copied)"
                    ))
                })?;
            if fields.iter().any(|f| f.name() == name) {
                return Err(Error::InvalidArgument(format!(
                    "--profile-column {src}={name}: the profiles already have a column {name:?}"
                )));
            }
            fields.push(Field::new(
                name,
                event_fields[pos].data_type().clone(),
                true,
            ));
            cols.push(take(event_cols[pos].as_ref(), &idx, None)?);
        }
    }
    let schema: SchemaRef = Arc::new(Schema::new(fields));
    let props = writer_properties_builder()
        .set_sorting_columns(Some(ascending(&[0])))
        .build();
    let dir = profiles_dir(root);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let (mut files, mut bytes) = (0, 0);
    let mut start = 0;
    while start < n || (n == 0 && files == 0) {
        let end = (start + config.rows_per_file).min(n);
        let batch = RecordBatch::try_new(
            schema.clone(),
            cols.iter().map(|c| c.slice(start, end - start)).collect(),
        )?;
        let mut w = AtomicParquetWriter::create(
            &dir.join(part_file_name(files as usize)),
            schema.clone(),
            props.clone(),
        )?;
        w.write(&batch)?;
        bytes += w.finish()?.bytes;
        files += 1;
        start = end;
        if n == 0 {
            break;
        }
    }
    Ok((files, bytes))
}

/// Parses a time in one of the auto-detected forms into µs since the epoch
/// (UTC): RFC 3339, `YYYY-MM-DD[ T]HH:MM[:SS[.f]]` with optional zone
/// (`Z`, `+09:00`, `+0900`, `+09`, ` UTC`; none = UTC), `YYYY-MM-DD`
/// (midnight UTC), `M/D/YYYY[ H:MM[:SS]][ AM|PM]` (US order, as in many
/// spreadsheet exports), `YYYY/MM/DD[ …]`, or a Unix epoch number
/// (seconds; milliseconds above 10^11; microseconds above 10^14).
///
/// ```
/// use strata_datasets::parse_timestamp;
/// assert_eq!(parse_timestamp("2024-05-01"), Some(1_714_521_600_000_000));
/// assert_eq!(parse_timestamp("2024-05-01T09:00:00+09:00"), Some(1_714_521_600_000_000));
/// assert_eq!(parse_timestamp("12/1/2010 8:26"), parse_timestamp("2010-12-01 08:26:00"));
/// ```
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.is_empty() {
        return None;
    }
    let mut c = Cursor { b, i: 0 };
    // Epoch numbers.
    if b.iter().all(|x| x.is_ascii_digit() || *x == b'-') && !b[1..].contains(&b'-') {
        if b.len() == 8 && b[0] != b'-' {
            // YYYYMMDD
            let v: i64 = s.parse().ok()?;
            return date_micros((v / 10000) as i32, (v / 100 % 100) as u32, (v % 100) as u32);
        }
        let v: i64 = s.parse().ok()?;
        let a = v.unsigned_abs();
        return Some(if a < 100_000_000_000 {
            v.checked_mul(1_000_000)?
        } else if a < 100_000_000_000_000 {
            v.checked_mul(1_000)?
        } else {
            v
        });
    }
    let a = c.number(4)?;
    let (y, m, d) = match c.peek() {
        Some(b'-') if c.i == 4 => {
            c.i += 1;
            let m = c.number(2)?;
            c.expect(b'-')?;
            (a as i32, m as u32, c.number(2)? as u32)
        }
        Some(b'/') if c.i == 4 => {
            c.i += 1;
            let m = c.number(2)?;
            c.expect(b'/')?;
            (a as i32, m as u32, c.number(2)? as u32)
        }
        Some(b'/') if c.i <= 2 => {
            c.i += 1;
            let d = c.number(2)?;
            c.expect(b'/')?;
            let start = c.i;
            let mut y = c.number(4)? as i32;
            if c.i - start == 2 {
                y += if y < 70 { 2000 } else { 1900 };
            } else if c.i - start != 4 {
                return None;
            }
            (y, a as u32, d as u32)
        }
        _ => return None,
    };
    let midnight = date_micros(y, m, d)?;
    if c.done() {
        return Some(midnight);
    }
    match c.peek()? {
        b'T' | b't' | b' ' => c.i += 1,
        _ => return None,
    }
    let h = c.number(2)?;
    c.expect(b':')?;
    let min = c.number(2)?;
    let mut sec = 0;
    let mut micros = 0i64;
    if c.peek() == Some(b':') {
        c.i += 1;
        sec = c.number(2)?;
        if c.peek() == Some(b'.') || c.peek() == Some(b',') {
            c.i += 1;
            let start = c.i;
            let mut digits = 0;
            while let Some(x) = c.peek().filter(u8::is_ascii_digit) {
                if digits < 6 {
                    micros = micros * 10 + (x - b'0') as i64;
                    digits += 1;
                }
                c.i += 1;
            }
            if c.i == start {
                return None;
            }
            micros *= 10i64.pow(6 - digits);
        }
    }
    let mut hour = h;
    // Optional zone or AM/PM.
    c.skip_spaces();
    let rest = &s[c.i..];
    let mut offset_secs = 0i64;
    let upper = rest.to_ascii_uppercase();
    let zone = if let Some(r) = upper.strip_prefix("AM") {
        if !(1..=12).contains(&hour) {
            return None;
        }
        hour %= 12;
        r.trim_start()
    } else if let Some(r) = upper.strip_prefix("PM") {
        if !(1..=12).contains(&hour) {
            return None;
        }
        hour = hour % 12 + 12;
        r.trim_start()
    } else {
        upper.as_str()
    };
    match zone {
        "" | "Z" | "UTC" | "GMT" => {}
        z => {
            let sign = match z.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let digits: String = z[1..].chars().filter(|ch| *ch != ':').collect();
            if !digits.bytes().all(|x| x.is_ascii_digit()) {
                return None;
            }
            let (oh, om) = match digits.len() {
                2 => (digits.parse::<i64>().ok()?, 0),
                4 => (
                    digits[..2].parse::<i64>().ok()?,
                    digits[2..].parse::<i64>().ok()?,
                ),
                _ => return None,
            };
            if oh > 18 || om > 59 {
                return None;
            }
            offset_secs = sign * (oh * 3600 + om * 60);
        }
    }
    if hour > 23 || min > 59 || sec > 60 {
        return None;
    }
    let secs = hour as i64 * 3600 + min as i64 * 60 + sec as i64 - offset_secs;
    Some(midnight + secs * 1_000_000 + micros)
}

/// µs of midnight UTC on a date.
fn date_micros(y: i32, m: u32, d: u32) -> Option<i64> {
    let date = chrono::NaiveDate::from_ymd_opt(y, m, d)?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_micros())
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn done(&self) -> bool {
        self.i >= self.b.len()
    }
    fn expect(&mut self, x: u8) -> Option<()> {
        (self.peek()? == x).then(|| self.i += 1)
    }
    fn skip_spaces(&mut self) {
        while self.peek() == Some(b' ') {
            self.i += 1;
        }
    }
    /// Up to `max` digits (at least one).
    fn number(&mut self, max: usize) -> Option<u64> {
        let start = self.i;
        let mut v = 0u64;
        while self.i - start < max {
            match self.peek() {
                Some(x) if x.is_ascii_digit() => {
                    v = v * 10 + (x - b'0') as u64;
                    self.i += 1;
                }
                _ => break,
            }
        }
        (self.i > start).then_some(v)
    }
}

/// Parses `s` with a strftime `format` into µs since the epoch (UTC).
/// Formats with `%z`/`%:z` carry their zone; others are UTC; date-only
/// formats mean midnight UTC.
pub(crate) fn parse_with_format(s: &str, format: &str) -> Option<i64> {
    let s = s.trim();
    if format.contains("%z") || format.contains("%:z") || format.contains("%#z") {
        return DateTime::parse_from_str(s, format)
            .ok()
            .map(|t| t.timestamp_micros());
    }
    if let Ok(t) = chrono::NaiveDateTime::parse_from_str(s, format) {
        return Some(t.and_utc().timestamp_micros());
    }
    chrono::NaiveDate::parse_from_str(s, format)
        .ok()
        .and_then(|d| Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_micros()))
}
