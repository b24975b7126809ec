//! `strata describe`: what a dataset holds, read from the manifest, the
//! tables' Delta logs (which files are live) and those files' Parquet
//! footers only (no data scan).

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::datatypes::{DataType, SchemaRef};
use chrono::{DateTime, Utc};
use parquet::arrow::parquet_to_arrow_schema;
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::file::statistics::Statistics;

use crate::dataset_log::load_snapshot;
use crate::error::{Error, Result};
use crate::layout::{EVENT_MONTH, events_dir, profiles_dir};
use crate::manifest::Manifest;
use crate::table::{TableFile, block_on};

fn partition_name(value: &str) -> String {
    format!("{EVENT_MONTH}={value}")
}

/// What `strata describe` reports about a dataset.
#[derive(Debug, Clone)]
pub struct Description {
    /// The dataset directory.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// The dataset version described (`_strata_log`).
    pub version: u64,
    /// The Delta versions of `profiles` and `events` it names.
    pub versions: (u64, u64),
    /// The `profiles` table.
    pub profiles: TableDescription,
    /// The `events` table.
    pub events: TableDescription,
    /// Bytes of every file under the directory (including features,
    /// segments and reports).
    pub total_bytes: u64,
}

/// One table (or one partition of it).
#[derive(Debug, Clone, Default)]
pub struct TableDescription {
    /// Number of Parquet files.
    pub files: usize,
    /// Number of row groups.
    pub row_groups: usize,
    /// Rows (from the footers).
    pub rows: u64,
    /// Bytes of the Parquet files.
    pub bytes: u64,
    /// Arrow schema of the first file (`None` without files).
    pub schema: Option<SchemaRef>,
    /// Smallest and largest event time (from row-group statistics).
    pub time_range: Option<(DateTime<Utc>, DateTime<Utc>)>,
    /// Hive partitions (events only), in month order.
    pub partitions: Vec<(String, TableDescription)>,
}

/// Describes the latest version of the dataset in `dir` from its manifest,
/// its tables' logs and the live files' Parquet footers.
pub fn describe(dir: impl AsRef<Path>) -> Result<Description> {
    describe_version(dir, None)
}

/// [`describe`] of dataset version `at` (`None`: the latest).
pub fn describe_version(dir: impl AsRef<Path>, at: Option<u64>) -> Result<Description> {
    let dir = dir.as_ref();
    let manifest = Manifest::load(dir)?;
    manifest.ensure_current(dir)?;
    let time_col = manifest.roles.event_time.clone();
    let (profiles_dir, events_dir) = (profiles_dir(dir), events_dir(dir));
    let snapshot = block_on(load_snapshot(dir, at))??;
    let (profiles_table, events_table) = (&snapshot.profiles, &snapshot.events);
    let live = |root: &Path, files: &[&TableFile]| -> Vec<PathBuf> {
        files.iter().map(|f| root.join(&f.path)).collect()
    };
    let all_profiles: Vec<&TableFile> = profiles_table.files.iter().collect();
    let profiles = describe_files(&live(&profiles_dir, &all_profiles), None)?;
    let mut months: BTreeMap<String, Vec<&TableFile>> = BTreeMap::new();
    for f in &events_table.files {
        let month = f.partition_values.get(EVENT_MONTH).cloned().flatten();
        let name = partition_name(month.as_deref().unwrap_or("__null__"));
        months.entry(name).or_default().push(f);
    }
    let mut events = TableDescription::default();
    for (name, files) in months {
        let part = describe_files(&live(&events_dir, &files), Some(&time_col))?;
        events.files += part.files;
        events.row_groups += part.row_groups;
        events.rows += part.rows;
        events.bytes += part.bytes;
        if events.schema.is_none() {
            events.schema.clone_from(&part.schema);
        }
        events.time_range = merge_range(events.time_range, part.time_range);
        events.partitions.push((name, part));
    }
    Ok(Description {
        dir: dir.to_path_buf(),
        manifest,
        version: snapshot.number(),
        versions: (profiles_table.version, events_table.version),
        profiles,
        events,
        total_bytes: dir_size(dir)?,
    })
}

fn merge_range(
    a: Option<(DateTime<Utc>, DateTime<Utc>)>,
    b: Option<(DateTime<Utc>, DateTime<Utc>)>,
) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    match (a, b) {
        (Some((a0, a1)), Some((b0, b1))) => Some((a0.min(b0), a1.max(b1))),
        (a, None) => a,
        (None, b) => b,
    }
}

fn describe_files(files: &[PathBuf], time_col: Option<&str>) -> Result<TableDescription> {
    let mut t = TableDescription {
        files: files.len(),
        ..TableDescription::default()
    };
    for path in files {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        t.bytes += file.metadata().map_err(|e| Error::io(path, e))?.len();
        let reader = SerializedFileReader::new(file).map_err(|e| Error::parquet(path, e))?;
        let meta = reader.metadata();
        let fm = meta.file_metadata();
        t.rows += fm.num_rows() as u64;
        t.row_groups += meta.num_row_groups();
        let schema = parquet_to_arrow_schema(fm.schema_descr(), fm.key_value_metadata())
            .map_err(|e| Error::parquet(path, e))?;
        let time_idx = time_col.and_then(|c| {
            let i = schema.index_of(c).ok()?;
            matches!(schema.field(i).data_type(), DataType::Timestamp(..)).then_some(i)
        });
        if let Some(i) = time_idx {
            let unit_micros = match schema.field(i).data_type() {
                DataType::Timestamp(arrow::datatypes::TimeUnit::Millisecond, _) => 1000,
                DataType::Timestamp(arrow::datatypes::TimeUnit::Nanosecond, _) => -1000,
                DataType::Timestamp(arrow::datatypes::TimeUnit::Second, _) => 1_000_000,
                _ => 1,
            };
            for rg in meta.row_groups() {
                if let Some(Statistics::Int64(s)) = rg.column(i).statistics()
                    && let (Some(&lo), Some(&hi)) = (s.min_opt(), s.max_opt())
                {
                    let to_time = |v: i64| {
                        let micros = if unit_micros > 0 {
                            v.saturating_mul(unit_micros)
                        } else {
                            v / -unit_micros
                        };
                        DateTime::<Utc>::from_timestamp_micros(micros)
                    };
                    if let (Some(lo), Some(hi)) = (to_time(lo), to_time(hi)) {
                        t.time_range = merge_range(t.time_range, Some((lo, hi)));
                    }
                }
            }
        }
        if t.schema.is_none() {
            t.schema = Some(Arc::new(schema));
        }
    }
    Ok(t)
}

fn dir_size(dir: &Path) -> Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let ft = entry.file_type().map_err(|e| Error::io(entry.path(), e))?;
        if ft.is_dir() {
            total += dir_size(&entry.path())?;
        } else if ft.is_file() {
            total += entry
                .metadata()
                .map_err(|e| Error::io(entry.path(), e))?
                .len();
        }
    }
    Ok(total)
}

/// Human-readable byte count (KiB, MiB, GiB).
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

fn write_schema(f: &mut fmt::Formatter<'_>, schema: &Option<SchemaRef>) -> fmt::Result {
    if let Some(schema) = schema {
        for field in schema.fields() {
            writeln!(
                f,
                "    {:<18} {}{}",
                field.name(),
                field.data_type(),
                if field.is_nullable() { "" } else { " NOT NULL" }
            )?;
        }
    }
    Ok(())
}

impl fmt::Display for Description {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.manifest;
        writeln!(f, "dataset  {}", self.dir.display())?;
        writeln!(f, "format   {}", m.format_version)?;
        writeln!(f, "version  {}", m.dataset_version)?;
        writeln!(
            f,
            "data     version {} (Delta: profiles v{}, events v{})",
            self.version, self.versions.0, self.versions.1
        )?;
        if let Some(as_of) = m.as_of {
            writeln!(f, "as_of    {}", as_of.to_rfc3339())?;
        }
        writeln!(f, "size     {}", human_bytes(self.total_bytes))?;
        if let Some(g) = &m.generator {
            writeln!(
                f,
                "source   strata gen --scale {} --seed {} ({} profiles)",
                g.scale, g.seed, g.profiles
            )?;
        }
        if let Some(i) = &m.import {
            writeln!(f, "source   strata import {}", i.events_files.join(" "))?;
            for (canonical, source) in &i.columns {
                writeln!(f, "           {canonical:<16} <- {source}")?;
            }
        }
        let r = &m.roles;
        writeln!(
            f,
            "roles    profile_id={} event_time={} event_type={} amount={} channel={}",
            r.profile_id,
            r.event_time,
            r.event_type,
            r.amount.as_deref().unwrap_or("-"),
            r.channel.as_deref().unwrap_or("-")
        )?;
        writeln!(
            f,
            "channels online=[{}] offline=[{}]",
            m.channels.online.join(", "),
            m.channels.offline.join(", ")
        )?;
        writeln!(
            f,
            "types    purchase=[{}] activity=[{}]",
            m.purchase_types.join(", "),
            m.activity_types.join(", ")
        )?;
        let p = &self.profiles;
        writeln!(
            f,
            "\nprofiles  {} rows, {} files, {} row groups, {}",
            p.rows,
            p.files,
            p.row_groups,
            human_bytes(p.bytes)
        )?;
        write_schema(f, &p.schema)?;
        let e = &self.events;
        writeln!(
            f,
            "\nevents    {} rows, {} files, {} row groups, {}, {} partitions",
            e.rows,
            e.files,
            e.row_groups,
            human_bytes(e.bytes),
            e.partitions.len()
        )?;
        if let Some((lo, hi)) = e.time_range {
            writeln!(f, "  time range {} .. {}", lo.to_rfc3339(), hi.to_rfc3339())?;
        }
        write_schema(f, &e.schema)?;
        writeln!(f, "  partitions")?;
        for (name, part) in &e.partitions {
            writeln!(
                f,
                "    {name}  {:>11} rows  {:>3} files  {:>10}",
                part.rows,
                part.files,
                human_bytes(part.bytes)
            )?;
        }
        Ok(())
    }
}
