//! `strata gen`, `strata import` and `strata describe`: the flags, and the
//! calls into `strata-datasets` (which knows nothing of clap or terminals).
//!
//! The role flags of `import` (`--amount`, `--channel`/`--channel-const`,
//! ...) are built from the role table [`strata_datasets::ROLES`]: a role
//! added there gets its flags, help and conflicts here without a change.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::builder::{PossibleValue, PossibleValuesParser, RangedU64ValueParser, TypedValueParser};
use clap::{Arg, ArgAction, ArgMatches, Command, FromArgMatches};
use indicatif::{ProgressBar, ProgressStyle};
use strata_datasets::{
    ColumnSource, DEFAULT_AS_OF, FORMAT_VERSION, GenConfig, GenProgress, IMPORT_FILE_ROWS,
    ImportConfig, InputFormat, Role, RoleSpec, Scale, generate, import, roles_in_flag_order,
};

use super::query::parse_as_of;

/// `strata gen`: write a synthetic store dataset.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct GenArgs {
    /// Size: s = 100k profiles, m = 1M, l = 10M (about 50 events per
    /// profile on average, over the 3 years before --as-of).
    #[arg(long, value_parser = scale_parser(), default_value_t = Scale::S)]
    pub(crate) scale: Scale,
    /// Number of profiles, overriding --scale (for tests and experiments).
    #[arg(long)]
    pub(crate) profiles: Option<u64>,
    /// RNG seed. The same seed, scale and --as-of give identical files.
    #[arg(long, default_value_t = 42)]
    pub(crate) seed: u64,
    /// Output dataset directory. Replaced atomically if it holds a dataset
    /// (saved segment definitions `segments/*.seg` are kept); refused if it
    /// holds anything else.
    #[arg(long)]
    pub(crate) out: PathBuf,
    /// End of the generated history (exclusive): RFC 3339 time or a date
    /// (midnight UTC). Fixed by default so runs are reproducible.
    #[arg(long, default_value = DEFAULT_AS_OF, value_parser = parse_as_of)]
    pub(crate) as_of: DateTime<Utc>,
    /// Worker threads (default: all cores). Does not change the output.
    #[arg(long)]
    pub(crate) threads: Option<usize>,
}

/// `strata import`: load your own events (and optionally profiles) from
/// CSV, JSON lines or Parquet into a dataset.
///
/// Columns are mapped to roles with flags (a role without a flag takes the
/// column with its canonical name, e.g. `amount`, if there is one); every
/// other column is kept as an event (or profile) property with an inferred
/// type (Int64, Float64, Boolean, Date32, Timestamp or Utf8; Parquet inputs
/// keep their types). String profile ids become dense Int64 `profile_id`s
/// 1..N in sorted id order (numeric order when every id is an integer) and
/// are kept as `external_id`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_long_help = IMPORT_EXAMPLES)]
pub(crate) struct ImportArgs {
    /// Event input file(s); all must have the same format and columns.
    #[arg(long = "events", required = true, num_args = 1..)]
    pub(crate) events: Vec<PathBuf>,
    /// Input format (default: from the file extension: .csv/.tsv/.txt,
    /// .json/.jsonl/.ndjson, .parquet).
    #[arg(long, value_parser = format_parser())]
    pub(crate) format: Option<InputFormat>,
    /// CSV field delimiter (default `,`; `\t` for .tsv files).
    #[arg(long)]
    pub(crate) delimiter: Option<char>,
    /// Target dataset directory. Written to a temp directory next to it and
    /// renamed into place only when everything succeeded; an existing
    /// dataset there is replaced (its `segments/*.seg` are kept).
    #[arg(long, visible_alias = "data")]
    pub(crate) out: PathBuf,

    /// Column with the profile (customer) id.
    #[arg(long, default_value = "profile_id")]
    pub(crate) profile_id: String,
    /// Column with the event time.
    #[arg(long, default_value = "event_time")]
    pub(crate) time: String,
    /// strftime format of --time values, e.g. `%d/%m/%Y %H:%M` for
    /// day-first dates (`%z` for a zone offset). Default: auto-detect.
    #[arg(long)]
    pub(crate) time_format: Option<String>,
    /// `--event-type` ... `--campaign-id`, from the role table.
    #[command(flatten)]
    pub(crate) roles: RoleArgs,
    /// Input columns to leave out.
    #[arg(long = "drop", value_name = "COL")]
    pub(crate) drop: Vec<String>,
    /// Copy an event column to the derived profiles as COL or COL=name (the
    /// value of the profile's latest event), e.g. `Country=country`.
    #[arg(long = "profile-column", value_name = "COL[=NAME]")]
    pub(crate) profile_columns: Vec<String>,

    /// Profile input file (CSV, JSON lines or Parquet). Without it,
    /// profiles are derived from the events (profile_id, external_id and
    /// --profile-column values).
    #[arg(long)]
    pub(crate) profiles: Option<PathBuf>,
    /// Column of --profiles with the profile id (the same ids as the
    /// events' --profile-id).
    #[arg(long, default_value = "profile_id")]
    pub(crate) profiles_id: String,

    /// Skip rows that cannot be read (bad time, number, ...) and report how
    /// many were skipped, instead of stopping at the first one.
    #[arg(long)]
    pub(crate) skip_bad_rows: bool,
    /// Skip rows with an empty profile id (counted), instead of failing.
    #[arg(long)]
    pub(crate) skip_missing_ids: bool,
    /// Event types that are purchases (manifest; repeatable).
    #[arg(long = "purchase-type", default_value = "purchase")]
    pub(crate) purchase_types: Vec<String>,
    /// Event types that are activity for lifecycle/retention (manifest;
    /// default: the purchase types).
    #[arg(long = "activity-type")]
    pub(crate) activity_types: Vec<String>,
    /// Most rows per Parquet file; a month with more events is split at a
    /// profile boundary (for tests and experiments).
    #[arg(long, hide = true, default_value_t = IMPORT_FILE_ROWS,
          value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    pub(crate) rows_per_file: usize,
}

const IMPORT_EXAMPLES: &str = "\
Times: RFC 3339 (2024-05-01T08:26:00+09:00), 2010-12-01 08:26:00 (no zone
= UTC), 2024-05-01 (midnight UTC), 12/1/2010 8:26 (month/day/year, as in US
spreadsheet exports), Unix epoch seconds or milliseconds. Anything else:
--time-format, e.g. '%d/%m/%Y %H:%M' for day-first dates.

A bad row stops the import with its file, line, column and value (the
target is left untouched); --skip-bad-rows skips and counts such rows.
Text that is not UTF-8 is read as Latin-1.

Example: the UCI \"Online Retail\" file (InvoiceNo, StockCode, Description,
Quantity, InvoiceDate, UnitPrice, CustomerID, Country) saved as CSV:

  strata import --events online_retail.csv --out retail \\
    --profile-id CustomerID --time InvoiceDate --event-type-const purchase \\
    --amount UnitPrice --amount-times Quantity --quantity Quantity \\
    --order-id InvoiceNo --product-id StockCode --channel-const web \\
    --currency-const GBP --refund-if-negative --skip-missing-ids \\
    --profile-column Country=country

Each row (an invoice line) becomes one event with amount = UnitPrice x
Quantity; cancelled invoices (InvoiceNo C536379, negative Quantity) become
`refund` events with a negative amount; rows without CustomerID are skipped
and counted; Description, UnitPrice and Country stay as event properties;
each profile gets the country of its latest invoice.";

/// `strata describe`: tables, schemas, row counts, time range, partitions,
/// size and manifest of a dataset (read from footers, no scan).
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct DescribeArgs {
    /// Dataset directory.
    #[arg(long)]
    pub(crate) data: PathBuf,
    /// Describe this dataset version (see `strata history`) instead of the
    /// latest.
    #[arg(long, value_name = "N")]
    pub(crate) at_version: Option<u64>,
}

/// The role flags of `strata import`, one group per row of the role table
/// (in [`roles_in_flag_order`]): `--<role> COL`, `--<role>-const VALUE`
/// for roles that can be constants (the two conflict), and after
/// `--amount` its `--amount-times` and `--refund-if-negative` (both
/// require `--amount`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RoleArgs {
    /// The roles given a column or a constant.
    pub(crate) roles: BTreeMap<Role, ColumnSource>,
    /// `--amount-times`.
    pub(crate) amount_times: Option<String>,
    /// `--refund-if-negative`.
    pub(crate) refund_if_negative: bool,
}

const AMOUNT_TIMES: &str = "amount_times";
const REFUND_IF_NEGATIVE: &str = "refund_if_negative";

/// The clap id, option and value name of one flag (as clap derive would
/// name a field `order_id`: id `order_id`, `--order-id <ORDER_ID>`).
#[derive(Debug)]
struct Flag {
    id: String,
    long: String,
    value_name: String,
    help: &'static str,
}

impl Flag {
    fn new(id: String, help: &'static str) -> Self {
        Flag {
            long: id.replace('_', "-"),
            value_name: id.to_ascii_uppercase(),
            id,
            help,
        }
    }

    /// `--long <VALUE_NAME>`, taking one string.
    fn arg(&'static self) -> Arg {
        Arg::new(self.id.as_str())
            .long(self.long.as_str())
            .value_name(self.value_name.as_str())
            .help(self.help)
            .action(ArgAction::Set)
            .value_parser(clap::value_parser!(String))
    }
}

/// A role's flags: its column and, if it can be one, its constant.
#[derive(Debug)]
struct RoleFlags {
    spec: &'static RoleSpec,
    column: Flag,
    constant: Option<Flag>,
}

/// The role flags, built once: clap (without its `string` feature) takes
/// ids and names as `&'static str`.
fn role_flags() -> &'static [RoleFlags] {
    static FLAGS: OnceLock<Vec<RoleFlags>> = OnceLock::new();
    FLAGS.get_or_init(|| {
        roles_in_flag_order()
            .map(|spec| RoleFlags {
                spec,
                column: Flag::new(spec.name.to_string(), spec.help),
                constant: spec
                    .constant
                    .map(|help| Flag::new(format!("{}_const", spec.name), help)),
            })
            .collect()
    })
}

impl clap::Args for RoleArgs {
    fn augment_args(mut cmd: Command) -> Command {
        for f in role_flags() {
            let mut column = f.column.arg();
            if let Some(c) = &f.constant {
                column = column.conflicts_with(c.id.as_str());
            }
            cmd = cmd.arg(column);
            if let Some(c) = &f.constant {
                cmd = cmd.arg(c.arg());
            }
            if f.spec.role == Role::Amount {
                cmd = cmd
                    .arg(
                        Arg::new(AMOUNT_TIMES)
                            .long("amount-times")
                            .value_name("AMOUNT_TIMES")
                            .help("Multiply --amount by this column, e.g. unit price × quantity")
                            .action(ArgAction::Set)
                            .value_parser(clap::value_parser!(String))
                            .requires(f.column.id.as_str()),
                    )
                    .arg(
                        Arg::new(REFUND_IF_NEGATIVE)
                            .long("refund-if-negative")
                            .help(
                                "Give rows with a negative amount the event type `refund` \
                                 (returns, cancelled invoices); the amount stays negative",
                            )
                            .action(ArgAction::SetTrue)
                            .requires(f.column.id.as_str()),
                    );
            }
        }
        cmd
    }

    fn augment_args_for_update(cmd: Command) -> Command {
        Self::augment_args(cmd)
    }
}

impl FromArgMatches for RoleArgs {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut args = RoleArgs::default();
        args.update_from_arg_matches(matches)?;
        Ok(args)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        let value = |id: &str| matches.get_one::<String>(id).cloned();
        for f in role_flags() {
            let source = value(&f.column.id).map(ColumnSource::Column).or_else(|| {
                f.constant
                    .as_ref()
                    .and_then(|c| value(&c.id))
                    .map(ColumnSource::Const)
            });
            if let Some(source) = source {
                self.roles.insert(f.spec.role, source);
            }
        }
        if let Some(t) = value(AMOUNT_TIMES) {
            self.amount_times = Some(t);
        }
        self.refund_if_negative |= matches.get_flag(REFUND_IF_NEGATIVE);
        Ok(())
    }
}

/// `--scale`: `s`, `m` or `l`, with their sizes in `--help`.
fn scale_parser() -> impl TypedValueParser<Value = Scale> {
    choice_parser(&Scale::ALL, Scale::name, Scale::description)
}

/// `--delimiter` as the byte the readers take.
pub(crate) fn ascii_delimiter(c: Option<char>) -> strata_datasets::Result<Option<u8>> {
    match c {
        None => Ok(None),
        Some(c) if c.is_ascii() => Ok(Some(c as u8)),
        Some(c) => Err(strata_datasets::Error::InvalidArgument(format!(
            "--delimiter {c:?}: must be one ASCII character"
        ))),
    }
}

/// `--format`: `csv`, `jsonl` or `parquet`, described in `--help`.
pub(crate) fn format_parser() -> impl TypedValueParser<Value = InputFormat> {
    choice_parser(
        &InputFormat::ALL,
        InputFormat::name,
        InputFormat::description,
    )
}

/// One of `all` by its name, each listed in `--help` with its description.
fn choice_parser<T: Copy + Send + Sync + 'static>(
    all: &'static [T],
    name: fn(T) -> &'static str,
    description: fn(T) -> &'static str,
) -> impl TypedValueParser<Value = T> {
    PossibleValuesParser::new(
        all.iter()
            .map(|&v| PossibleValue::new(name(v)).help(description(v))),
    )
    .map(move |chosen| {
        *all.iter()
            .find(|&&v| name(v) == chosen)
            .expect("one of the possible values")
    })
}

/// `gen`'s progress bar on stderr, drawn from the first update on.
#[derive(Debug, Default)]
struct StderrProgressBar {
    bar: OnceLock<ProgressBar>,
}

impl GenProgress for StderrProgressBar {
    fn update(&self, profiles: u64, total: u64, events: u64, elapsed: Duration) {
        let bar = self.bar.get_or_init(|| {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} profiles {msg}",
                )
                .expect("valid template"),
            );
            bar
        });
        bar.set_position(profiles);
        bar.set_message(format!(
            "{events} events, {:.1}M events/s",
            events as f64 / elapsed.as_secs_f64() / 1e6
        ));
    }

    fn finish(&self) {
        if let Some(bar) = self.bar.get() {
            bar.finish_and_clear();
        }
    }
}

/// Runs `strata gen`.
pub(crate) fn run_gen(args: GenArgs) -> anyhow::Result<()> {
    let mut config = GenConfig::for_scale(args.scale);
    if let Some(n) = args.profiles {
        config.profiles = n;
        config.scale = None;
    }
    config.seed = args.seed;
    config.as_of = args.as_of;
    config.threads = args.threads.unwrap_or(0);
    if std::io::stderr().is_terminal() {
        config.progress = Some(Arc::new(StderrProgressBar::default()));
    }
    let s = generate(&config, &args.out)?;
    println!(
        "wrote {}: {} profiles, {} events, {} files ({} event partitions), {} in {:.2}s ({:.0} events/s)",
        args.out.display(),
        s.profiles,
        s.events,
        s.files,
        s.partitions,
        strata_datasets::human_bytes(s.bytes),
        s.elapsed.as_secs_f64(),
        s.events as f64 / s.elapsed.as_secs_f64().max(1e-9)
    );
    Ok(())
}

impl ImportArgs {
    /// The library configuration these flags describe.
    pub(crate) fn to_config(&self) -> strata_datasets::Result<ImportConfig> {
        use strata_datasets::Error;
        let a = self.clone();
        let mut profile_columns = Vec::new();
        for spec in &a.profile_columns {
            let (src, name) = spec.split_once('=').unwrap_or((spec, spec));
            if src.is_empty() || name.is_empty() {
                return Err(Error::InvalidArgument(format!(
                    "--profile-column {spec:?}: expected COL or COL=NAME"
                )));
            }
            profile_columns.push((src.to_string(), name.to_string()));
        }
        let delimiter = ascii_delimiter(a.delimiter)?;
        Ok(ImportConfig {
            events: a.events,
            format: a.format,
            delimiter,
            profile_id: a.profile_id,
            time: a.time,
            time_format: a.time_format,
            roles: a.roles.roles,
            amount_times: a.roles.amount_times,
            refund_if_negative: a.roles.refund_if_negative,
            drop: a.drop,
            profile_columns,
            profiles: a.profiles,
            profiles_id: a.profiles_id,
            skip_bad_rows: a.skip_bad_rows,
            skip_missing_ids: a.skip_missing_ids,
            purchase_types: a.purchase_types,
            activity_types: a.activity_types,
            rows_per_file: a.rows_per_file,
        })
    }
}

/// Runs `strata import`.
pub(crate) fn run_import(args: ImportArgs) -> anyhow::Result<()> {
    let config = args.to_config()?;
    let s = import(&config, &args.out)?;
    println!(
        "imported {} into {}: {} events ({} skipped), {} profiles, {}",
        args.events
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        args.out.display(),
        s.events,
        s.skipped_rows,
        s.profiles,
        written(s.files, s.bytes, s.elapsed, s.input_rows)
    );
    print_skipped(&s.bad_row_examples);
    Ok(())
}

/// `N files, SIZE in S s (R rows/s)`.
fn written(files: u64, bytes: u64, elapsed: Duration, input_rows: u64) -> String {
    format!(
        "{files} files, {} in {:.2}s ({:.0} rows/s)",
        strata_datasets::human_bytes(bytes),
        elapsed.as_secs_f64(),
        input_rows as f64 / elapsed.as_secs_f64().max(1e-9)
    )
}

fn print_skipped(rows: &[strata_datasets::BadRow]) {
    for bad in rows {
        println!("  skipped: {bad}");
    }
}

/// Arguments of `strata append`: the flags of `strata import` (its
/// `--out`, alias `--data`, names the dataset to append to).
#[derive(Debug, clap::Args)]
pub(crate) struct AppendArgs {
    #[command(flatten)]
    pub(crate) import: ImportArgs,
    /// A key for this append: rerun with the same key (after a lost answer
    /// or a crash) and nothing is appended twice.
    #[arg(long)]
    pub(crate) idempotency_key: Option<String>,
}

pub(crate) fn run_append(args: AppendArgs) -> anyhow::Result<()> {
    let a = &args.import;
    if a.purchase_types != ["purchase"] || !a.activity_types.is_empty() {
        anyhow::bail!(
            "--purchase-type and --activity-type belong to the dataset (strata import sets them), not to an append"
        );
    }
    let config = a.to_config()?;
    let s = strata_datasets::append(&config, &a.out, args.idempotency_key.as_deref())?;
    if s.already_applied {
        println!(
            "already appended: version {} has idempotency key {:?} ({} events, {} new profiles); nothing written",
            s.version,
            args.idempotency_key.as_deref().unwrap_or_default(),
            s.events,
            s.new_profiles
        );
        return Ok(());
    }
    println!(
        "appended to {}: version {}, {} events ({} skipped), {} new profiles, {} profiles updated, {}",
        a.out.display(),
        s.version,
        s.events,
        s.skipped_rows,
        s.new_profiles,
        s.updated_profiles,
        written(s.files, s.bytes, s.elapsed, s.input_rows)
    );
    print_skipped(&s.bad_row_examples);
    Ok(())
}

/// Arguments of `strata history`.
#[derive(Debug, clap::Args)]
pub(crate) struct HistoryArgs {
    /// Dataset directory.
    #[arg(long)]
    pub(crate) data: PathBuf,
}

/// Prints every dataset version, oldest first.
pub(crate) fn run_history(args: HistoryArgs) -> anyhow::Result<()> {
    let rows = |m: &BTreeMap<String, u64>| {
        m.iter()
            .filter(|(_, n)| **n > 0)
            .map(|(t, n)| format!("{t} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "{:>7}  {:<24}  {:<9}  rows added / removed",
        "version", "time (UTC)", "operation"
    );
    for v in strata_datasets::versions(&args.data)? {
        let Some(r) = strata_datasets::read_version(&args.data, Some(v))? else {
            continue;
        };
        println!(
            "{:>7}  {:<24}  {:<9}  +[{}] -[{}]",
            r.version,
            r.timestamp.format("%Y-%m-%d %H:%M:%S%.3f"),
            r.operation,
            rows(&r.rows_added),
            rows(&r.rows_removed)
        );
    }
    Ok(())
}

/// Runs `strata describe`.
pub(crate) fn run_describe(args: DescribeArgs) -> anyhow::Result<()> {
    print!(
        "{}",
        strata_datasets::describe_version(&args.data, args.at_version)?
    );
    let config = strata_core::EngineConfig {
        at_version: args.at_version,
        ..strata_core::EngineConfig::default()
    };
    let discovery = super::query::runtime()?.block_on(async {
        let engine = strata_core::Engine::open(&args.data, config).await?;
        engine.discover().await
    })?;
    print!("{}", discovery_text(&discovery));
    Ok(())
}

/// The event types with counts, then every attribute and property with its
/// DSL type and, for text with few values, the values with counts.
fn discovery_text(d: &strata_core::Discovery) -> String {
    use std::fmt::Write as _;
    let mut out = String::from("\nevent types (events of each):\n");
    for t in &d.event_types {
        let _ = writeln!(out, "  {:<24} {:>12}", t.value, thousands(t.count));
    }
    for (title, table, fields) in [
        ("profile attributes", "profiles", &d.profile_attributes),
        ("event properties", "events", &d.event_properties),
    ] {
        let _ = writeln!(
            out,
            "\n{title} (DSL type; values with counts where there are at most {}):",
            strata_core::MAX_LISTED_VALUES
        );
        for (name, ty) in fields {
            let values = d
                .values
                .iter()
                .find(|v| v.table == table && v.column == *name)
                .map(|v| {
                    v.values
                        .iter()
                        .map(|c| format!("'{}' {}", c.value, thousands(c.count)))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default();
            let _ = writeln!(out, "  {name:<24} {:<14} {values}", ty.to_string());
        }
    }
    out
}

/// `1234567` as `1,234,567`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Arguments of `strata upgrade`.
#[derive(Debug, clap::Args)]
pub(crate) struct UpgradeArgs {
    /// Dataset directory.
    #[arg(long)]
    pub(crate) data: PathBuf,
}

pub(crate) fn run_upgrade(args: UpgradeArgs) -> anyhow::Result<()> {
    let summary = strata_datasets::upgrade(&args.data)?;
    if summary.converted.is_empty() && summary.from_format == FORMAT_VERSION {
        println!(
            "{} is already in format {FORMAT_VERSION}: nothing to do",
            args.data.display()
        );
    } else {
        println!(
            "upgraded {} from format {} to {FORMAT_VERSION}: Delta logs written for {}; no data file was rewritten",
            args.data.display(),
            summary.from_format,
            if summary.converted.is_empty() {
                "none (they had them)".to_string()
            } else {
                summary.converted.join(", ")
            }
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::error::ErrorKind;
    use clap::{CommandFactory, Parser};
    use strata_datasets::ROLES;

    use super::*;
    use crate::{Cli, Command as Subcommand};

    fn parse(args: &[&str]) -> Result<Subcommand, clap::Error> {
        let argv = ["strata"].iter().chain(args).copied();
        Ok(Cli::try_parse_from(argv)?.command.expect("a subcommand"))
    }

    fn import_args(args: &[&str]) -> Result<ImportArgs, clap::Error> {
        let argv: Vec<&str> = ["import", "--events", "e.csv", "--out", "o"]
            .into_iter()
            .chain(args.iter().copied())
            .collect();
        match parse(&argv)? {
            Subcommand::Import(a) => Ok(*a),
            other => panic!("{other:?}"),
        }
    }

    fn gen_args(args: &[&str]) -> Result<GenArgs, clap::Error> {
        let argv: Vec<&str> = ["gen", "--out", "o"]
            .into_iter()
            .chain(args.iter().copied())
            .collect();
        match parse(&argv)? {
            Subcommand::Gen(a) => Ok(a),
            other => panic!("{other:?}"),
        }
    }

    fn help(name: &str) -> String {
        let mut cmd = Cli::command();
        cmd.build();
        cmd.find_subcommand_mut(name)
            .expect("subcommand")
            .render_long_help()
            .to_string()
    }

    #[test]
    fn the_commands_are_well_formed() {
        let mut cmd = Cli::command();
        cmd.build();
        for name in ["gen", "import", "describe"] {
            cmd.find_subcommand(name)
                .expect(name)
                .clone()
                .debug_assert();
        }
    }

    #[test]
    fn the_documented_online_retail_command_gives_this_config() {
        // The example of `strata import --help`, as printed.
        let example: String = IMPORT_EXAMPLES
            .lines()
            .skip_while(|l| !l.trim_start().starts_with("strata import"))
            .take_while(|l| !l.trim().is_empty())
            .collect::<Vec<_>>()
            .join(" ")
            .replace('\\', " ");
        let argv: Vec<&str> = example.split_whitespace().skip(1).collect();
        let Subcommand::Import(args) = parse(&argv).unwrap() else {
            panic!("not an import")
        };
        assert_eq!(args.out, PathBuf::from("retail"));
        let roles = BTreeMap::from([
            (Role::EventType, ColumnSource::Const("purchase".into())),
            (Role::Amount, ColumnSource::Column("UnitPrice".into())),
            (Role::Quantity, ColumnSource::Column("Quantity".into())),
            (Role::OrderId, ColumnSource::Column("InvoiceNo".into())),
            (Role::ProductId, ColumnSource::Column("StockCode".into())),
            (Role::Channel, ColumnSource::Const("web".into())),
            (Role::Currency, ColumnSource::Const("GBP".into())),
        ]);
        assert_eq!(
            args.to_config().unwrap(),
            ImportConfig {
                profile_id: "CustomerID".into(),
                time: "InvoiceDate".into(),
                roles,
                amount_times: Some("Quantity".into()),
                refund_if_negative: true,
                skip_missing_ids: true,
                profile_columns: vec![("Country".into(), "country".into())],
                ..ImportConfig::new(vec!["online_retail.csv".into()])
            }
        );
    }

    #[test]
    fn no_flags_give_the_library_defaults() {
        let a = import_args(&[]).unwrap();
        assert_eq!(
            a.to_config().unwrap(),
            ImportConfig::new(vec!["e.csv".into()])
        );
        assert_eq!(a.roles, RoleArgs::default());
    }

    #[test]
    fn every_role_has_its_flags_and_a_column_conflicts_with_a_constant() {
        for spec in ROLES {
            let flag = format!("--{}", spec.flag());
            let a = import_args(&[&flag, "Col"]).unwrap();
            assert_eq!(
                a.roles.roles,
                BTreeMap::from([(spec.role, ColumnSource::Column("Col".into()))]),
                "{flag}"
            );
            let const_flag = format!("--{}-const", spec.flag());
            match spec.const_flag() {
                Some(_) => {
                    let a = import_args(&[&const_flag, "v"]).unwrap();
                    assert_eq!(
                        a.roles.roles,
                        BTreeMap::from([(spec.role, ColumnSource::Const("v".into()))]),
                        "{const_flag}"
                    );
                    for args in [
                        [&flag, "c", &const_flag, "v"],
                        [&const_flag, "v", &flag, "c"],
                    ] {
                        let e = import_args(&args).unwrap_err();
                        assert_eq!(e.kind(), ErrorKind::ArgumentConflict, "{args:?}: {e}");
                    }
                }
                None => {
                    let e = import_args(&[&const_flag, "v"]).unwrap_err();
                    assert_eq!(e.kind(), ErrorKind::UnknownArgument, "{const_flag}");
                }
            }
            let e = import_args(&[&flag, "a", &flag, "b"]).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::ArgumentConflict, "{flag} twice");
        }
    }

    #[test]
    fn amount_times_and_refund_if_negative_need_an_amount() {
        for args in [&["--amount-times", "q"][..], &["--refund-if-negative"]] {
            let e = import_args(args).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::MissingRequiredArgument, "{args:?}");
            assert!(e.to_string().contains("--amount <AMOUNT>"), "{e}");
        }
        let a = import_args(&[
            "--amount",
            "price",
            "--amount-times",
            "q",
            "--refund-if-negative",
        ])
        .unwrap();
        assert_eq!(
            a.roles,
            RoleArgs {
                roles: BTreeMap::from([(Role::Amount, ColumnSource::Column("price".into()))]),
                amount_times: Some("q".into()),
                refund_if_negative: true,
            }
        );
    }

    #[test]
    fn help_lists_the_flags_in_order_with_the_table_help() {
        let h = help("import");
        let options: Vec<&str> = h
            .lines()
            .filter_map(|l| l.strip_prefix("      --"))
            .map(|l| l.split([' ', '\n']).next().unwrap())
            .collect();
        assert_eq!(
            options,
            [
                "events",
                "format",
                "delimiter",
                "out",
                "profile-id",
                "time",
                "time-format",
                "event-type",
                "event-type-const",
                "amount",
                "amount-times",
                "refund-if-negative",
                "channel",
                "channel-const",
                "currency",
                "currency-const",
                "order-id",
                "product-id",
                "category",
                "quantity",
                "payment-method",
                "campaign-id",
                "drop",
                "profile-column",
                "profiles",
                "profiles-id",
                "skip-bad-rows",
                "skip-missing-ids",
                "purchase-type",
                "activity-type",
            ]
        );
        for spec in ROLES {
            let value = spec.name.to_ascii_uppercase();
            assert!(
                h.contains(&format!(
                    "--{} <{value}>\n          {}\n",
                    spec.flag(),
                    spec.help
                )),
                "{}",
                spec.name
            );
            if let Some(c) = spec.constant {
                assert!(
                    h.contains(&format!(
                        "--{}-const <{value}_CONST>\n          {c}\n",
                        spec.flag()
                    )),
                    "{}",
                    spec.name
                );
            }
        }
        assert!(h.contains("- jsonl:   One JSON object per line"), "{h}");
        assert!(h.contains("Example: the UCI \"Online Retail\" file"));
        assert!(!h.contains("rows-per-file"), "hidden");
    }

    #[test]
    fn rows_per_file_is_a_hidden_flag_of_at_least_one() {
        assert_eq!(import_args(&[]).unwrap().rows_per_file, IMPORT_FILE_ROWS);
        let a = import_args(&["--rows-per-file", "100"]).unwrap();
        assert_eq!(a.to_config().unwrap().rows_per_file, 100);
        let e = import_args(&["--rows-per-file", "0"]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ValueValidation);
    }

    #[test]
    fn format_delimiter_and_profile_columns() {
        let a = import_args(&["--format", "jsonl", "--delimiter", ";"]).unwrap();
        let c = a.to_config().unwrap();
        assert_eq!(
            (c.format, c.delimiter),
            (Some(InputFormat::Jsonl), Some(b';'))
        );
        let e = import_args(&["--format", "xml"]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidValue);
        assert!(
            e.to_string()
                .contains("[possible values: csv, jsonl, parquet]")
        );

        let e = import_args(&["--delimiter", "é"]).unwrap().to_config();
        assert!(
            e.unwrap_err()
                .to_string()
                .contains("--delimiter 'é': must be one ASCII character")
        );
        let a = import_args(&["--profile-column", "Country", "--profile-column", "A=b"]);
        assert_eq!(
            a.unwrap().to_config().unwrap().profile_columns,
            [
                ("Country".to_string(), "Country".to_string()),
                ("A".into(), "b".into())
            ]
        );
        for bad in ["=x", "x="] {
            let e = import_args(&["--profile-column", bad]).unwrap().to_config();
            assert!(
                e.unwrap_err()
                    .to_string()
                    .contains("expected COL or COL=NAME"),
                "{bad}"
            );
        }
    }

    #[test]
    fn gen_flags() {
        let a = gen_args(&[]).unwrap();
        assert_eq!(
            (a.scale, a.seed, a.profiles, a.threads),
            (Scale::S, 42, None, None)
        );
        assert_eq!(a.as_of, parse_as_of(DEFAULT_AS_OF).unwrap());
        let a = gen_args(&["--scale", "m", "--as-of", "2025-06-01", "--threads", "3"]).unwrap();
        assert_eq!((a.scale, a.threads), (Scale::M, Some(3)));
        assert_eq!(a.as_of.to_rfc3339(), "2025-06-01T00:00:00+00:00");
        let e = gen_args(&["--scale", "xl"]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidValue);
        assert!(e.to_string().contains("[possible values: s, m, l]"), "{e}");
        let e = gen_args(&["--as-of", "soon"]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ValueValidation);
        assert!(e.to_string().contains("'soon' is not a time"), "{e}");

        let h = help("gen");
        assert!(h.contains("- s: 100k profiles, about 5M events"), "{h}");
        assert!(h.contains("[default: s]"), "{h}");
    }

    #[test]
    fn instants() {
        let t = |s: &str| parse_as_of(s).unwrap().to_rfc3339();
        assert_eq!(t("2025-12-01"), "2025-12-01T00:00:00+00:00");
        assert_eq!(t("2025-12-01 10:30:00"), "2025-12-01T10:30:00+00:00");
        assert_eq!(t("2025-12-01T10:30:00+02:00"), "2025-12-01T08:30:00+00:00");
        assert!(parse_as_of("2025-13-01").is_err());
    }

    #[test]
    fn describe_flags() {
        let Subcommand::Describe(a) = parse(&["describe", "--data", "d"]).unwrap() else {
            panic!()
        };
        assert_eq!(a.data, PathBuf::from("d"));
        let e = parse(&["describe"]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::MissingRequiredArgument);
    }
}
