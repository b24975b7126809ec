//! `strata rfm | channel-mix | lifecycle | retention`: the reports of
//! docs/design.md#semantics, computed embedded over a dataset directory and
//! printed as terminal tables, CSV, JSON or Parquet; `--write` stores them
//! under `<data>/reports/`, `--plot` draws the R×F grid or the cohort
//! heat-map as SVG.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use chrono::{DateTime, Utc};
use clap::{Args, ValueEnum};
use strata_core::analytics::AnalyticsParams;
use strata_core::report::{CohortPeriod, Report, ReportKind, ReportRequest};
use strata_dsl::ast::Duration;

use super::plot;
use super::query::{EngineArgs, parse_as_of, runtime};
use super::report_tables::{cohorts, table};

/// Flags of the four report commands (each uses the ones that apply to it).
#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    #[command(flatten)]
    pub(crate) engine: EngineArgs,
    /// Evaluate at this instant: 2025-06-30, 2025-06-30T12:00:00Z or now
    /// (default: the dataset's as_of if it has one, else now).
    #[arg(long, value_parser = parse_as_of)]
    pub(crate) as_of: Option<DateTime<Utc>>,
    /// Restrict the report to the members of this segment (DSL text).
    #[arg(long)]
    pub(crate) segment: Option<String>,
    /// RFM: number of score bins (1-100, default 5).
    #[arg(long)]
    pub(crate) bins: Option<u32>,
    /// RFM: only purchases within this lookback, e.g. 365d, 12m, 1y.
    #[arg(long, value_parser = parse_duration)]
    pub(crate) lookback: Option<Duration>,
    /// Channel mix: only purchases within this window; lifecycle: the
    /// window W (default 90d).
    #[arg(long, value_parser = parse_duration)]
    pub(crate) window: Option<Duration>,
    /// Retention: cohort period (weeks start on Monday, UTC).
    #[arg(long, value_enum)]
    pub(crate) period: Option<Period>,
    /// Output format. csv / json / parquet with -o write one file per table
    /// into that directory.
    #[arg(long, value_enum, default_value = "table")]
    pub(crate) format: ReportFormat,
    /// Output directory (required for parquet).
    #[arg(short = 'o', long)]
    pub(crate) output: Option<PathBuf>,
    /// Also store every table as `<data>/reports/<report>/<table>.parquet`.
    #[arg(long)]
    pub(crate) write: bool,
    /// Draw an SVG: the R×F grid (rfm) or the cohort heat-map (retention).
    #[arg(long)]
    pub(crate) plot: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Period {
    Week,
    Month,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum ReportFormat {
    Table,
    Csv,
    Json,
    Parquet,
}

/// `30d`, `12h`, `2w`, `6m`, `1y`: the DSL's duration syntax.
pub(crate) fn parse_duration(s: &str) -> Result<Duration, String> {
    s.parse()
        .map_err(|e: strata_dsl::DurationError| e.to_string())
}

impl ReportArgs {
    /// Rejects flags that do not apply to `kind`.
    fn check(&self, kind: ReportKind) -> anyhow::Result<()> {
        let cmd = command_name(kind);
        let rfm = kind == ReportKind::Rfm;
        if !rfm && self.bins.is_some() {
            bail!("--bins applies to `strata rfm` only");
        }
        if !rfm && self.lookback.is_some() {
            bail!("--lookback applies to `strata rfm` only (use --window for {cmd})");
        }
        if rfm && self.window.is_some() {
            bail!("`strata rfm` takes --lookback, not --window");
        }
        if kind == ReportKind::Retention && self.window.is_some() {
            bail!("--window does not apply to `strata retention`");
        }
        if kind != ReportKind::Retention && self.period.is_some() {
            bail!("--period applies to `strata retention` only");
        }
        if self.plot.is_some() && !matches!(kind, ReportKind::Rfm | ReportKind::Retention) {
            bail!("--plot is available for `strata rfm` and `strata retention`");
        }
        if self.format == ReportFormat::Parquet && self.output.is_none() {
            bail!("--format parquet needs -o DIR (one file per table)");
        }
        Ok(())
    }

    fn params(&self) -> AnalyticsParams {
        AnalyticsParams {
            bins: self.bins,
            window: self.lookback.or(self.window),
        }
    }
}

fn command_name(kind: ReportKind) -> &'static str {
    match kind {
        ReportKind::Rfm => "strata rfm",
        ReportKind::ChannelMix => "strata channel-mix",
        ReportKind::Lifecycle => "strata lifecycle",
        ReportKind::Retention => "strata retention",
    }
}

/// Runs one report command.
pub(crate) fn run(kind: ReportKind, a: ReportArgs) -> anyhow::Result<()> {
    a.check(kind)?;
    runtime()?.block_on(async {
        let engine = a.engine.open().await?;
        let as_of = a.as_of.unwrap_or_else(|| engine.default_as_of());
        let segment = match &a.segment {
            Some(text) => Some(super::dsl::check(&engine, text, None)?),
            None => None,
        };
        let req = ReportRequest {
            as_of,
            segment,
            params: a.params(),
            period: match a.period {
                Some(Period::Week) => CohortPeriod::Week,
                Some(Period::Month) | None => CohortPeriod::Month,
            },
        };
        let start = Instant::now();
        let report = engine.report(kind, &req).await?;
        let elapsed = start.elapsed();

        let header = parameters(kind, &req, a.segment.as_deref());
        output(&report, a.format, a.output.as_deref(), &header)?;
        if a.write {
            for path in engine.write_report(&report, &req)? {
                eprintln!("wrote {}", path.display());
            }
        }
        if let Some(path) = &a.plot {
            let svg = match kind {
                ReportKind::Rfm => plot::rfm_grid(&report, req.params.bins.unwrap_or(5))?,
                _ => plot::retention(&report, req.period)?,
            };
            std::fs::write(path, svg).with_context(|| format!("writing {}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
        eprintln!(
            "{} at {} in {:.1} ms",
            kind.name(),
            as_of.to_rfc3339(),
            elapsed.as_secs_f64() * 1e3
        );
        Ok(())
    })
}

/// What a report was computed with, as its first lines: as_of, the
/// parameters that apply to it (defaults named) and the scope.
fn parameters(kind: ReportKind, req: &ReportRequest, segment: Option<&str>) -> String {
    let window = |default: &str| {
        req.params.window.map_or(default.to_string(), |d| {
            format!("{}{}", d.amount, d.unit.suffix())
        })
    };
    let mut lines = vec![
        format!("{} report", kind.name()),
        format!("  as_of     {}", req.as_of.to_rfc3339()),
    ];
    match kind {
        ReportKind::Rfm => {
            lines.push(format!("  bins      {}", req.params.bins.unwrap_or(5)));
            lines.push(format!(
                "  lookback  {}",
                window("every purchase before as_of")
            ));
        }
        ReportKind::ChannelMix => lines.push(format!(
            "  window    {}",
            window("every purchase before as_of")
        )),
        ReportKind::Lifecycle => lines.push(format!("  window    {}", window("90d"))),
        ReportKind::Retention => lines.push(format!(
            "  period    {}",
            match req.period {
                CohortPeriod::Week => "week",
                CohortPeriod::Month => "month",
            }
        )),
    }
    let scope = segment.map_or("every profile".to_string(), |s| {
        format!(
            "the members of: {}",
            s.split_whitespace().collect::<Vec<_>>().join(" ")
        )
    });
    lines.push(format!("  scope     {scope}"));
    lines.join("\n") + "\n\n"
}

/// What a table's shares are shares of, printed under its name.
fn caption(kind: ReportKind, table: &str) -> Option<&'static str> {
    match (kind, table) {
        (ReportKind::Rfm, "segments") => {
            Some("(share: of the scored profiles, those with a purchase in the lookback)")
        }
        (ReportKind::Lifecycle, "states") => Some("(share: of the profiles in scope)"),
        (ReportKind::Retention, "cohorts") => {
            Some("(% of each cohort active k periods after its first)")
        }
        _ => None,
    }
}

fn output(
    report: &Report,
    format: ReportFormat,
    dir: Option<&Path>,
    header: &str,
) -> anyhow::Result<()> {
    if let Some(dir) = dir {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    match format {
        ReportFormat::Table => {
            let mut out = header.to_string();
            for (name, _) in &report.tables {
                let batch = table(report, name)?;
                out.push_str(&format!("{name}\n"));
                if let Some(c) = caption(report.kind, name) {
                    out.push_str(c);
                    out.push('\n');
                }
                match (report.kind, name.as_str()) {
                    (ReportKind::Retention, "cohorts") => {
                        let triangle = retention_triangle(&batch)?;
                        let width = triangle.lines().map(|l| l.chars().count()).max();
                        out.push_str(&triangle);
                        if width.is_some_and(|w| w > 100) {
                            out.push_str(
                                "(wider than 100 columns: --format csv, or -o DIR, gives it \
                                 to a spreadsheet)\n",
                            );
                        }
                    }
                    (ReportKind::Lifecycle, "states") => out.push_str(&states_and_churned(&batch)?),
                    _ => out.push_str(&pretty(&batch)?),
                }
                out.push('\n');
            }
            match dir {
                Some(d) => std::fs::write(d.join(format!("{}.txt", report.kind.name())), out)?,
                None => print!("{out}"),
            }
        }
        ReportFormat::Csv => {
            for (i, (name, _)) in report.tables.iter().enumerate() {
                let batch = table(report, name)?;
                match dir {
                    Some(d) => {
                        let path = d.join(format!("{name}.csv"));
                        let mut w = arrow::csv::Writer::new(std::fs::File::create(&path)?);
                        w.write(&batch)?;
                        eprintln!("wrote {}", path.display());
                    }
                    None => {
                        let mut stdout = std::io::stdout().lock();
                        if i > 0 {
                            writeln!(stdout)?;
                        }
                        writeln!(stdout, "# {name}")?;
                        arrow::csv::Writer::new(&mut stdout).write(&batch)?;
                    }
                }
            }
        }
        ReportFormat::Json => {
            // Built by hand so tables and columns keep their order.
            let mut tables = Vec::new();
            for (name, _) in &report.tables {
                let batch = table(report, name)?;
                let mut w = arrow::json::LineDelimitedWriter::new(Vec::new());
                w.write(&batch)?;
                w.finish()?;
                let rows = String::from_utf8(w.into_inner())?;
                let rows: Vec<String> = rows.lines().map(|r| format!("      {r}")).collect();
                let body = if rows.is_empty() {
                    "[]".to_string()
                } else {
                    format!("[\n{}\n    ]", rows.join(",\n"))
                };
                tables.push(format!("    {}: {body}", serde_json::to_string(name)?));
            }
            let text = format!(
                "{{\n  \"report\": {},\n  \"as_of\": {},\n  \"tables\": {{\n{}\n  }}\n}}",
                serde_json::to_string(report.kind.name())?,
                serde_json::to_string(&report.as_of.to_rfc3339())?,
                tables.join(",\n")
            );
            match dir {
                Some(d) => std::fs::write(d.join(format!("{}.json", report.kind.name())), text)?,
                None => println!("{text}"),
            }
        }
        ReportFormat::Parquet => {
            let dir = dir.context("--format parquet needs -o DIR")?;
            for (name, batches) in &report.tables {
                let path = dir.join(format!("{name}.parquet"));
                let schema = batches.first().context("empty report table")?.schema();
                strata_datasets::write_parquet_file(
                    &path,
                    schema,
                    strata_datasets::writer_properties(),
                    batches,
                )?;
                eprintln!("wrote {}", path.display());
            }
        }
    }
    Ok(())
}

/// A cell as terminal text: shares and fractions as percentages, other
/// floats with two decimals.
fn cell(batch: &RecordBatch, col: usize, row: usize) -> anyhow::Result<String> {
    let array = batch.column(col);
    if array.is_null(row) {
        return Ok("-".into());
    }
    let name = batch.schema().field(col).name().clone();
    Ok(match array.data_type() {
        DataType::Float64 => {
            let v = array.as_primitive::<Float64Type>().value(row);
            if name == "share" || name == "fraction" {
                format!("{:.1}%", 100.0 * v)
            } else {
                format!("{v:.2}")
            }
        }
        _ => {
            let f = ArrayFormatter::try_new(array.as_ref(), &FormatOptions::default())?;
            f.value(row).to_string()
        }
    })
}

/// A boxed terminal table, numbers right-aligned.
/// Lifecycle states as a table, and the churned subtotal (dormant + lost,
/// a row of the data) on a line of its own below it, so that it is not
/// read as one more state.
fn states_and_churned(batch: &RecordBatch) -> anyhow::Result<String> {
    let states = batch.column(0).as_string::<i32>();
    let is_churned: arrow::array::BooleanArray = (0..batch.num_rows())
        .map(|i| Some(states.value(i) == "churned"))
        .collect();
    let keep = arrow::compute::not(&is_churned)?;
    let mut out = pretty(&arrow::compute::filter_record_batch(batch, &keep)?)?;
    let churned = arrow::compute::filter_record_batch(batch, &is_churned)?;
    if churned.num_rows() == 1 && churned.num_columns() >= 3 {
        out.push_str(&format!(
            "churned (dormant + lost): {} profiles, {}\n",
            cell(&churned, 1, 0)?,
            cell(&churned, 2, 0)?
        ));
    }
    Ok(out)
}

fn pretty(batch: &RecordBatch) -> anyhow::Result<String> {
    let schema = batch.schema();
    let headers: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let numeric: Vec<bool> = schema
        .fields()
        .iter()
        .map(|f| f.data_type().is_numeric())
        .collect();
    let mut rows = Vec::with_capacity(batch.num_rows());
    for r in 0..batch.num_rows() {
        rows.push(
            (0..batch.num_columns())
                .map(|c| cell(batch, c, r))
                .collect::<anyhow::Result<Vec<_>>>()?,
        );
    }
    Ok(boxed(&headers, &rows, &numeric))
}

fn boxed(headers: &[String], rows: &[Vec<String>], right: &[bool]) -> String {
    let width: Vec<usize> = (0..headers.len())
        .map(|c| {
            rows.iter()
                .map(|r| r[c].chars().count())
                .chain([headers[c].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let rule = {
        let parts: Vec<String> = width.iter().map(|w| "-".repeat(w + 2)).collect();
        format!("+{}+\n", parts.join("+"))
    };
    let line = |cells: &[String], align: &dyn Fn(usize) -> bool| {
        let parts: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(c, s)| {
                if align(c) {
                    format!(" {s:>w$} ", w = width[c])
                } else {
                    format!(" {s:<w$} ", w = width[c])
                }
            })
            .collect();
        format!("|{}|\n", parts.join("|"))
    };
    let mut out = rule.clone();
    out.push_str(&line(headers, &|_| false));
    out.push_str(&rule);
    for r in rows {
        out.push_str(&line(r, &|c| right[c]));
    }
    out.push_str(&rule);
    out
}

/// Cohorts down, periods across, cells in percent.
fn retention_triangle(batch: &RecordBatch) -> anyhow::Result<String> {
    let rows = cohorts(batch)?;
    let periods = rows.iter().map(|r| r.2.len()).max().unwrap_or(0);
    let mut headers = vec!["cohort".to_string(), "size".to_string()];
    headers.extend((0..periods).map(|k| k.to_string()));
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|(label, size, fr)| {
            let mut r = vec![label.clone(), size.to_string()];
            r.extend((0..periods).map(|k| match fr.get(k).copied().flatten() {
                Some(f) => format!("{:.1}", 100.0 * f),
                None => String::new(),
            }));
            r
        })
        .collect();
    let mut right = vec![false];
    right.extend(std::iter::repeat_n(true, periods + 1));
    Ok(boxed(&headers, &cells, &right))
}

#[cfg(test)]
mod tests {
    use strata_dsl::ast::TimeUnit;

    use super::*;

    #[test]
    fn durations_parse_like_the_dsl() {
        assert_eq!(
            parse_duration("365d").unwrap(),
            Duration::new(365, TimeUnit::Days)
        );
        assert_eq!(
            parse_duration("6m").unwrap(),
            Duration::new(6, TimeUnit::Months)
        );
        assert!(parse_duration("0d").is_err());
        assert!(parse_duration("30").is_err());
        assert!(parse_duration("d").is_err());
    }
}
