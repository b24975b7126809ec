//! The `gen`, `import` and `describe` subcommands, as clap-derive argument
//! structs and `run_*` functions for the `strata` binary:
//!
//! ```ignore
//! Command::Gen(a) => strata_datasets::cli::run_gen(a),
//! ```

use std::io::IsTerminal;
use std::path::PathBuf;

use chrono::{DateTime, Utc};

use crate::describe::{describe, human_bytes};
use crate::error::{Error, Result};
use crate::generate::{GenConfig, Scale, generate};
use crate::import::{ColumnSource, ImportConfig, InputFormat, import, parse_timestamp};

/// `strata gen`: write a synthetic store dataset.
#[derive(Debug, Clone, clap::Args)]
pub struct GenArgs {
    /// Size: s = 100k profiles, m = 1M, l = 10M (about 50 events per
    /// profile on average, over the 3 years before --as-of).
    #[arg(long, value_enum, default_value_t = Scale::S)]
    pub scale: Scale,
    /// Number of profiles, overriding --scale (for tests and experiments).
    #[arg(long)]
    pub profiles: Option<u64>,
    /// RNG seed. The same seed, scale and --as-of give identical files.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Output dataset directory. Replaced atomically if it holds a dataset
    /// (saved segment definitions `segments/*.seg` are kept); refused if it
    /// holds anything else.
    #[arg(long)]
    pub out: PathBuf,
    /// End of the generated history (exclusive): RFC 3339 time or a date
    /// (midnight UTC). Fixed by default so runs are reproducible.
    #[arg(long, default_value = crate::generate::DEFAULT_AS_OF, value_parser = parse_instant)]
    pub as_of: DateTime<Utc>,
    /// Worker threads (default: all cores). Does not change the output.
    #[arg(long)]
    pub threads: Option<usize>,
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
pub struct ImportArgs {
    /// Event input file(s); all must have the same format and columns.
    #[arg(long = "events", required = true, num_args = 1..)]
    pub events: Vec<PathBuf>,
    /// Input format (default: from the file extension: .csv/.tsv/.txt,
    /// .json/.jsonl/.ndjson, .parquet).
    #[arg(long, value_enum)]
    pub format: Option<InputFormat>,
    /// CSV field delimiter (default `,`; `\t` for .tsv files).
    #[arg(long)]
    pub delimiter: Option<char>,
    /// Target dataset directory. Written to a temp directory next to it and
    /// renamed into place only when everything succeeded; an existing
    /// dataset there is replaced (its `segments/*.seg` are kept).
    #[arg(long, visible_alias = "data")]
    pub out: PathBuf,

    /// Column with the profile (customer) id.
    #[arg(long, default_value = "profile_id")]
    pub profile_id: String,
    /// Column with the event time.
    #[arg(long, default_value = "event_time")]
    pub time: String,
    /// strftime format of --time values, e.g. `%d/%m/%Y %H:%M` for
    /// day-first dates (`%z` for a zone offset). Default: auto-detect.
    #[arg(long)]
    pub time_format: Option<String>,
    /// Column with the event type (default: `event_type`).
    #[arg(long, conflicts_with = "event_type_const")]
    pub event_type: Option<String>,
    /// One event type for every row, e.g. `purchase` for a transactions file.
    #[arg(long)]
    pub event_type_const: Option<String>,
    /// Column with the monetary amount (decimal, stored as Decimal(18,2)).
    #[arg(long)]
    pub amount: Option<String>,
    /// Multiply --amount by this column, e.g. unit price × quantity.
    #[arg(long, requires = "amount")]
    pub amount_times: Option<String>,
    /// Give rows with a negative amount the event type `refund` (returns,
    /// cancelled invoices); the amount stays negative.
    #[arg(long, requires = "amount")]
    pub refund_if_negative: bool,
    /// Column with the channel (web, app, pos, ...).
    #[arg(long, conflicts_with = "channel_const")]
    pub channel: Option<String>,
    /// One channel for every row, e.g. `web` for an online shop's export.
    #[arg(long)]
    pub channel_const: Option<String>,
    /// Column with the currency code.
    #[arg(long, conflicts_with = "currency_const")]
    pub currency: Option<String>,
    /// One currency for every row, e.g. `GBP`.
    #[arg(long)]
    pub currency_const: Option<String>,
    /// Column with the order id (→ `order_id`).
    #[arg(long)]
    pub order_id: Option<String>,
    /// Column with the product id (→ `product_id`).
    #[arg(long)]
    pub product_id: Option<String>,
    /// Column with the product category (→ `category`).
    #[arg(long)]
    pub category: Option<String>,
    /// Column with the quantity (→ `quantity`, Int64).
    #[arg(long)]
    pub quantity: Option<String>,
    /// Column with the payment method (→ `payment_method`).
    #[arg(long)]
    pub payment_method: Option<String>,
    /// Column with the campaign id (→ `campaign_id`).
    #[arg(long)]
    pub campaign_id: Option<String>,
    /// Input columns to leave out.
    #[arg(long = "drop", value_name = "COL")]
    pub drop: Vec<String>,
    /// Copy an event column to the derived profiles as COL or COL=name (the
    /// value of the profile's latest event), e.g. `Country=country`.
    #[arg(long = "profile-column", value_name = "COL[=NAME]")]
    pub profile_columns: Vec<String>,

    /// Profile input file (CSV, JSON lines or Parquet). Without it,
    /// profiles are derived from the events (profile_id, external_id and
    /// --profile-column values).
    #[arg(long)]
    pub profiles: Option<PathBuf>,
    /// Column of --profiles with the profile id (the same ids as the
    /// events' --profile-id).
    #[arg(long, default_value = "profile_id")]
    pub profiles_id: String,

    /// Skip rows that cannot be read (bad time, number, ...) and report how
    /// many were skipped, instead of stopping at the first one.
    #[arg(long)]
    pub skip_bad_rows: bool,
    /// Skip rows with an empty profile id (counted), instead of failing.
    #[arg(long)]
    pub skip_missing_ids: bool,
    /// Event types that are purchases (manifest; repeatable).
    #[arg(long = "purchase-type", default_value = "purchase")]
    pub purchase_types: Vec<String>,
    /// Event types that are activity for lifecycle/retention (manifest;
    /// default: the purchase types).
    #[arg(long = "activity-type")]
    pub activity_types: Vec<String>,
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
pub struct DescribeArgs {
    /// Dataset directory.
    #[arg(long)]
    pub data: PathBuf,
}

/// Parses an instant: RFC 3339, `YYYY-MM-DD HH:MM:SS` (UTC) or a date
/// (midnight UTC).
pub fn parse_instant(s: &str) -> Result<DateTime<Utc>, String> {
    parse_timestamp(s)
        .and_then(DateTime::<Utc>::from_timestamp_micros)
        .ok_or_else(|| format!("not a time: {s:?} (use RFC 3339 or YYYY-MM-DD)"))
}

/// Runs `strata gen`.
pub fn run_gen(args: GenArgs) -> Result<()> {
    let mut config = GenConfig::for_scale(args.scale);
    if let Some(n) = args.profiles {
        config.profiles = n;
        config.scale = None;
    }
    config.seed = args.seed;
    config.as_of = args.as_of;
    config.threads = args.threads.unwrap_or(0);
    config.progress = std::io::stderr().is_terminal();
    let s = generate(&config, &args.out)?;
    println!(
        "wrote {}: {} profiles, {} events, {} files ({} event partitions), {} in {:.2}s ({:.0} events/s)",
        args.out.display(),
        s.profiles,
        s.events,
        s.files,
        s.partitions,
        human_bytes(s.bytes),
        s.elapsed.as_secs_f64(),
        s.events as f64 / s.elapsed.as_secs_f64().max(1e-9)
    );
    Ok(())
}

fn role(column: Option<String>, constant: Option<String>) -> Option<ColumnSource> {
    match (column, constant) {
        (Some(c), _) => Some(ColumnSource::Column(c)),
        (None, Some(v)) => Some(ColumnSource::Const(v)),
        (None, None) => None,
    }
}

impl ImportArgs {
    /// The library configuration these flags describe.
    pub fn to_config(&self) -> Result<ImportConfig> {
        let a = self.clone();
        let event_type = role(a.event_type, a.event_type_const)
            .unwrap_or_else(|| ColumnSource::Column("event_type".into()));
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
        let delimiter = match a.delimiter {
            None => None,
            Some(c) if c.is_ascii() => Some(c as u8),
            Some(c) => {
                return Err(Error::InvalidArgument(format!(
                    "--delimiter {c:?}: must be one ASCII character"
                )));
            }
        };
        Ok(ImportConfig {
            events: a.events,
            format: a.format,
            delimiter,
            profile_id: a.profile_id,
            time: a.time,
            time_format: a.time_format,
            event_type,
            amount: a.amount,
            amount_times: a.amount_times,
            refund_if_negative: a.refund_if_negative,
            channel: role(a.channel, a.channel_const),
            currency: role(a.currency, a.currency_const),
            order_id: a.order_id,
            product_id: a.product_id,
            category: a.category,
            quantity: a.quantity,
            payment_method: a.payment_method,
            campaign_id: a.campaign_id,
            drop: a.drop,
            profile_columns,
            profiles: a.profiles,
            profiles_id: a.profiles_id,
            skip_bad_rows: a.skip_bad_rows,
            skip_missing_ids: a.skip_missing_ids,
            purchase_types: a.purchase_types,
            activity_types: a.activity_types,
        })
    }
}

/// Runs `strata import`.
pub fn run_import(args: ImportArgs) -> Result<()> {
    let config = args.to_config()?;
    let s = import(&config, &args.out)?;
    println!(
        "imported {} into {}: {} events ({} skipped), {} profiles, {} files, {} in {:.2}s ({:.0} rows/s)",
        args.events
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        args.out.display(),
        s.events,
        s.skipped_rows,
        s.profiles,
        s.files,
        human_bytes(s.bytes),
        s.elapsed.as_secs_f64(),
        s.input_rows as f64 / s.elapsed.as_secs_f64().max(1e-9)
    );
    for bad in &s.bad_row_examples {
        println!("  skipped: {bad}");
    }
    Ok(())
}

/// Runs `strata describe`.
pub fn run_describe(args: DescribeArgs) -> Result<()> {
    print!("{}", describe(&args.data)?);
    Ok(())
}
