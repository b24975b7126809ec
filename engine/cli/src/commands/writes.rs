//! The writes that change a dataset in place besides `strata append`:
//! `strata upsert-profiles`, `strata forget`, `strata optimize` and
//! `strata vacuum`.

use std::path::PathBuf;

use anyhow::Context;
use strata_datasets::{InputFormat, UpsertConfig};

use super::data::{ascii_delimiter, format_parser};

/// Arguments of `strata upsert-profiles`.
#[derive(Debug, clap::Args)]
pub(crate) struct UpsertArgs {
    /// Dataset directory.
    #[arg(long)]
    pub(crate) data: PathBuf,
    /// Profile file (CSV, JSON lines or Parquet): a key column and the
    /// columns to set.
    #[arg(long)]
    pub(crate) profiles: PathBuf,
    /// The column that matches rows to profiles (a text column of the
    /// profiles table).
    #[arg(long, default_value = "external_id")]
    pub(crate) key: String,
    /// Add the file's columns the table lacks (NULL for other profiles)
    /// instead of refusing them.
    #[arg(long)]
    pub(crate) add_columns: bool,
    /// Input format (default: from the file extension).
    #[arg(long, value_parser = format_parser())]
    pub(crate) format: Option<InputFormat>,
    /// CSV field delimiter (default `,`; `\t` for .tsv files).
    #[arg(long)]
    pub(crate) delimiter: Option<char>,
    /// Skip unreadable rows and rows without a key instead of failing.
    #[arg(long)]
    pub(crate) skip_bad_rows: bool,
    /// A key for this upsert: rerun with the same key and nothing is
    /// applied twice.
    #[arg(long)]
    pub(crate) idempotency_key: Option<String>,
}

/// Upserts the profiles, then prints what changed and the new version.
pub(crate) fn run_upsert(args: UpsertArgs) -> anyhow::Result<()> {
    let config = UpsertConfig {
        profiles: args.profiles.clone(),
        format: args.format,
        delimiter: ascii_delimiter(args.delimiter)?,
        key: args.key.clone(),
        add_columns: args.add_columns,
        skip_bad_rows: args.skip_bad_rows,
    };
    let key = args.idempotency_key.as_deref();
    let s = strata_datasets::upsert_profiles(&args.data, &config, key)?;
    if s.already_applied {
        println!(
            "already applied: version {} has idempotency key {:?}; nothing written",
            s.version,
            key.unwrap_or_default()
        );
        return Ok(());
    }
    println!(
        "upserted {} rows into {}: version {}, {} profiles updated, {} created, {} files rewritten, in {:.2}s",
        s.input_rows,
        args.data.display(),
        s.version,
        s.updated,
        s.created,
        s.files_rewritten,
        s.elapsed.as_secs_f64()
    );
    if !s.added_columns.is_empty() {
        println!("  columns added: {}", s.added_columns.join(", "));
    }
    for bad in &s.bad_row_examples {
        println!("  skipped: {bad}");
    }
    Ok(())
}

/// Arguments of `strata forget`.
#[derive(Debug, clap::Args)]
pub(crate) struct ForgetArgs {
    /// Dataset directory.
    #[arg(long)]
    pub(crate) data: PathBuf,
    /// External id of a profile to erase (repeatable).
    #[arg(
        long = "external-id",
        value_name = "ID",
        required_unless_present = "external_ids_file"
    )]
    pub(crate) external_ids: Vec<String>,
    /// A file of external ids, one per line (blank lines are skipped).
    #[arg(long, value_name = "FILE")]
    pub(crate) external_ids_file: Option<PathBuf>,
    /// A key for this erasure: rerun with the same key and it reports the
    /// first run's version instead of looking again.
    #[arg(long)]
    pub(crate) idempotency_key: Option<String>,
}

/// Erases the profiles and everything derived from them, then prints what
/// went and the new version.
pub(crate) fn run_forget(args: ForgetArgs) -> anyhow::Result<()> {
    let mut ids = args.external_ids.clone();
    if let Some(file) = &args.external_ids_file {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        ids.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string),
        );
    }
    let s = strata_datasets::forget(&args.data, &ids, args.idempotency_key.as_deref())?;
    if s.already_applied {
        println!(
            "already applied: version {} has idempotency key {:?}; nothing written",
            s.version.unwrap_or_default(),
            args.idempotency_key.unwrap_or_default()
        );
        return Ok(());
    }
    let Some(version) = s.version else {
        println!(
            "no profile of {} has any of the {} external ids given; nothing written",
            args.data.display(),
            ids.len()
        );
        return Ok(());
    };
    println!(
        "forgot {} profiles in {}: version {version}; removed {} events; rewrote {} table files and {} derived files; deleted {} files from disk, in {:.2}s",
        s.profiles,
        args.data.display(),
        s.events,
        s.files_rewritten,
        s.derived_files,
        s.files_deleted,
        s.elapsed.as_secs_f64()
    );
    if !s.not_found.is_empty() {
        let shown: Vec<&str> = s.not_found.iter().take(10).map(String::as_str).collect();
        println!(
            "  not found ({}): {}{}",
            s.not_found.len(),
            shown.join(", "),
            if s.not_found.len() > shown.len() {
                ", ..."
            } else {
                ""
            }
        );
    }
    println!("  versions before {version} can no longer be read: their files are gone");
    Ok(())
}

/// Arguments of `strata optimize`.
#[derive(Debug, clap::Args)]
pub(crate) struct OptimizeArgs {
    /// Dataset directory.
    #[arg(long)]
    pub(crate) data: PathBuf,
    /// Only this month of the events (`YYYY-MM`); the profiles table is
    /// then left as it is.
    #[arg(long)]
    pub(crate) month: Option<String>,
    /// A key for this optimize: rerun with the same key and nothing is
    /// written again.
    #[arg(long)]
    pub(crate) idempotency_key: Option<String>,
}

/// Rewrites the months appends left overlapping, then prints what it did.
pub(crate) fn run_optimize(args: OptimizeArgs) -> anyhow::Result<()> {
    let config = strata_datasets::OptimizeConfig {
        month: args.month.clone(),
        idempotency_key: args.idempotency_key.clone(),
        ..strata_datasets::OptimizeConfig::default()
    };
    let s = strata_datasets::optimize(&args.data, &config)?;
    match s.version {
        Some(v) if s.already_applied => println!(
            "already applied: version {v} has idempotency key {:?}; nothing written",
            config.idempotency_key.unwrap_or_default()
        ),
        Some(v) => println!(
            "optimized {}: version {v}; {} months rewritten ({}), {} files replaced by {}, {} rows, {}, in {:.2}s",
            args.data.display(),
            s.months.len(),
            s.months.join(", "),
            s.files_removed,
            s.files_written,
            s.rows,
            strata_datasets::human_bytes(s.bytes),
            s.elapsed.as_secs_f64()
        ),
        None => println!(
            "{} is laid out already; nothing written",
            args.data.display()
        ),
    }
    Ok(())
}

/// Arguments of `strata vacuum`.
#[derive(Debug, clap::Args)]
pub(crate) struct VacuumArgs {
    /// Dataset directory.
    #[arg(long)]
    pub(crate) data: PathBuf,
    /// Keep every version that was the latest within this long ago
    /// (`0h`, `12h`, `7d`, `2w`), and files younger than that.
    #[arg(long, default_value = "7d", value_parser = parse_retention)]
    pub(crate) retain: std::time::Duration,
}

/// Deletes the files no retained version lists, then prints what went.
pub(crate) fn run_vacuum(args: VacuumArgs) -> anyhow::Result<()> {
    let s = strata_datasets::vacuum(&args.data, args.retain)?;
    println!(
        "vacuumed {}: deleted {} files ({}); versions {} and later can be read ({} kept), in {:.2}s",
        args.data.display(),
        s.files_deleted,
        strata_datasets::human_bytes(s.bytes_deleted),
        s.readable_from,
        s.versions_kept,
        s.elapsed.as_secs_f64()
    );
    Ok(())
}

/// `0h`, `12h`, `7d`, `2w`.
fn parse_retention(s: &str) -> Result<std::time::Duration, String> {
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n
        .parse()
        .map_err(|_| format!("'{s}' is not a retention: use e.g. 0h, 12h, 7d, 2w"))?;
    let hours = match unit {
        "h" => 1,
        "d" => 24,
        "w" => 24 * 7,
        other => return Err(format!("unknown unit '{other}': use h, d or w")),
    };
    n.checked_mul(hours * 3600)
        .filter(|&secs| secs <= 100 * 365 * 86_400)
        .map(std::time::Duration::from_secs)
        .ok_or_else(|| format!("'{s}' is longer than 100 years"))
}
