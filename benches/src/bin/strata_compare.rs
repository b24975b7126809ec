//! Times one workload on the Strata engine API, in-process, for the
//! comparison harness (`benches/compare/run.sh`).
//!
//! One process runs one workload `1 + runs` times: the first run is the cold
//! one (fresh process: no Parquet metadata or plan caches; the OS page cache
//! is whatever the harness left), the rest are hot. Opening the dataset is
//! not timed (a server opens it once). Prints one JSON object on stdout:
//! `{"times_ms": [cold, hot...], "answer": ...}` where the answer is a count,
//! a report's tables as JSON rows, or the number of exported rows.
//!
//! ```text
//! strata-compare --data DIR --threads 2 --runs 5 count 'country = "US"'
//! strata-compare --data DIR members 'consent_email' --columns email --out /tmp/x-{run}.parquet
//! strata-compare --data DIR report rfm
//! ```

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use arrow::record_batch::RecordBatch;
use clap::{Parser, Subcommand};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::properties::WriterProperties;
use futures::StreamExt;
use serde_json::{Value, json};
use strata_core::analytics::AnalyticsParams;
use strata_core::report::{CohortPeriod, ReportKind, ReportRequest};
use strata_core::{Engine, EngineConfig, MembersRequest};

#[derive(Debug, Parser)]
struct Cli {
    /// Dataset directory.
    #[arg(long)]
    data: PathBuf,
    /// Threads: DataFusion target partitions and tokio workers.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Hot runs after the cold one.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Run on this Ballista cluster (`df://HOST:PORT` or `standalone`;
    /// needs `--features strata-core/ballista`), see benches/cluster/run.sh.
    #[arg(long)]
    cluster: Option<strata_core::cluster::Cluster>,
    #[command(subcommand)]
    work: Work,
}

#[derive(Debug, Subcommand)]
enum Work {
    /// Count the members of a segment.
    Count { segment: String },
    /// Export the members (ids + columns) to Parquet (snappy); `{run}` in
    /// `--out` is replaced by the run number.
    Members {
        segment: String,
        #[arg(long, value_delimiter = ',')]
        columns: Vec<String>,
        #[arg(long)]
        out: String,
    },
    /// Compute a report: rfm, channel-mix, lifecycle, retention (monthly).
    Report { kind: String },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.threads.max(1))
        .enable_all()
        .build()?;
    rt.block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = EngineConfig {
        threads: cli.threads,
        cluster: cli.cluster.clone(),
        ..EngineConfig::default()
    };
    let engine = Engine::open(&cli.data, config)
        .await
        .with_context(|| format!("opening {}", cli.data.display()))?;
    let mut times = Vec::with_capacity(cli.runs + 1);
    let mut answer = Value::Null;
    let mut stable = true;
    for run in 0..=cli.runs {
        let started = Instant::now();
        let a = once(&engine, &cli.work, run).await?;
        times.push(started.elapsed().as_secs_f64() * 1e3);
        if run == 0 {
            answer = a;
        } else if a != answer {
            // Float sums may differ in the last bits from run to run (parallel
            // aggregation order); the harness compares rounded values and
            // reports the instability.
            eprintln!("run {run} answered differently from run 0");
            stable = false;
        }
    }
    println!(
        "{}",
        json!({
            "times_ms": times,
            "answer": answer,
            "stable": stable,
            "peak_rss_kib": peak_rss_kib(),
        })
    );
    Ok(())
}

async fn once(engine: &Engine, work: &Work, run: usize) -> anyhow::Result<Value> {
    let as_of = engine.default_as_of();
    Ok(match work {
        Work::Count { segment } => {
            let seg = engine.parse(segment)?;
            json!(engine.count(&seg, as_of).await?)
        }
        Work::Members {
            segment,
            columns,
            out,
        } => {
            let seg = engine.parse(segment)?;
            let req = MembersRequest {
                columns: columns.clone(),
                ..MembersRequest::default()
            };
            let schema = engine.members_schema(&req)?;
            let mut stream = engine.members(&seg, as_of, &req).await?;
            let path = out.replace("{run}", &run.to_string());
            let props = WriterProperties::builder()
                .set_compression(Compression::SNAPPY)
                .build();
            let mut writer =
                ArrowWriter::try_new(std::fs::File::create(&path)?, schema, Some(props))?;
            let mut rows = 0usize;
            while let Some(batch) = stream.next().await {
                let batch = batch?;
                rows += batch.num_rows();
                writer.write(&batch)?;
            }
            writer.close()?;
            json!(rows)
        }
        Work::Report { kind } => {
            let kind = match kind.as_str() {
                "rfm" => ReportKind::Rfm,
                "channel-mix" | "channel_mix" => ReportKind::ChannelMix,
                "lifecycle" => ReportKind::Lifecycle,
                "retention" => ReportKind::Retention,
                other => bail!("unknown report '{other}'"),
            };
            let req = ReportRequest {
                as_of,
                segment: None,
                params: AnalyticsParams::default(),
                period: CohortPeriod::Month,
            };
            let report = engine.report(kind, &req).await?;
            let mut tables = serde_json::Map::new();
            for (name, batches) in &report.tables {
                tables.insert(name.clone(), rows_json(batches)?);
            }
            Value::Object(tables)
        }
    })
}

/// Batches as a JSON array of row objects.
fn rows_json(batches: &[RecordBatch]) -> anyhow::Result<Value> {
    let mut w = arrow::json::ArrayWriter::new(Vec::new());
    for b in batches {
        w.write(b)?;
    }
    w.finish()?;
    let bytes = w.into_inner();
    if bytes.is_empty() {
        return Ok(json!([]));
    }
    Ok(serde_json::from_slice(&bytes)?)
}

/// Peak resident set size of this process (VmHWM), in KiB.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
