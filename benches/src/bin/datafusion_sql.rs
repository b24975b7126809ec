//! Plain DataFusion SQL over a Strata dataset: the same engine as Strata
//! without Strata's planner, for the comparison harness
//! (`benches/compare/run.sh`).
//!
//! Registers `profiles` and `events` (hive-partitioned by `event_month`)
//! exactly as Strata does (same listing options and session options), runs
//! one SQL statement `1 + runs` times in one process (first = cold) and
//! prints `{"times_ms": [...], "answer": [rows as JSON objects]}`. `{run}` in
//! the SQL is replaced by the run number (for `COPY ... TO` targets).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use arrow::datatypes::DataType;
use clap::Parser;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::prelude::{SessionConfig, SessionContext, col};
use serde_json::{Value, json};

#[derive(Debug, Parser)]
struct Cli {
    /// Dataset directory.
    #[arg(long)]
    data: PathBuf,
    /// Threads: target partitions and tokio workers.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Hot runs after the cold one.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// The SQL statement.
    sql: String,
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
    // The session options of `strata_core::Engine::open`, except
    // `join_reordering` (Strata turns it off: its planner puts the small
    // side of each join on the left; SQL has no such planner).
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_limit(4 << 30, 1.0)
        .build_arc()?;
    let mut session = SessionConfig::new()
        .with_target_partitions(cli.threads.max(1))
        .with_batch_size(8192);
    let opts = session.options_mut();
    opts.execution.parquet.pushdown_filters = false;
    let ctx = SessionContext::new_with_config_rt(session, runtime);
    register(
        &ctx,
        "profiles",
        &cli.data.join("profiles"),
        vec![],
        &["profile_id"],
    )
    .await?;
    register(
        &ctx,
        "events",
        &cli.data.join("events"),
        vec![("event_month".to_string(), DataType::Utf8)],
        &["profile_id", "event_time"],
    )
    .await?;

    let mut times = Vec::with_capacity(cli.runs + 1);
    let mut answer = Value::Null;
    let mut stable = true;
    for run in 0..=cli.runs {
        let sql = cli.sql.replace("{run}", &run.to_string());
        let started = Instant::now();
        let batches = ctx.sql(&sql).await?.collect().await?;
        times.push(started.elapsed().as_secs_f64() * 1e3);
        let mut w = arrow::json::ArrayWriter::new(Vec::new());
        for b in &batches {
            w.write(b)?;
        }
        w.finish()?;
        let bytes = w.into_inner();
        let mut a: Value = if bytes.is_empty() {
            json!([])
        } else {
            serde_json::from_slice(&bytes)?
        };
        // Row order is not part of the answer.
        if let Value::Array(rows) = &mut a {
            rows.sort_by_key(|r| r.to_string());
        }
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

/// A Parquet listing table over `dir`, declared sorted by `sort`.
async fn register(
    ctx: &SessionContext,
    name: &str,
    dir: &std::path::Path,
    partitions: Vec<(String, DataType)>,
    sort: &[&str],
) -> anyhow::Result<()> {
    let url = ListingTableUrl::parse(format!("{}/", dir.canonicalize()?.display()))?;
    let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
        .with_file_extension(".parquet")
        .with_table_partition_cols(partitions)
        .with_file_sort_order(vec![
            sort.iter().map(|c| col(*c).sort(true, false)).collect(),
        ]);
    let schema = options.infer_schema(&ctx.state(), &url).await?;
    let config = ListingTableConfig::new(url)
        .with_listing_options(options)
        .with_schema(schema);
    ctx.register_table(name, Arc::new(ListingTable::try_new(config)?))?;
    Ok(())
}

/// Peak resident set size of this process (VmHWM), in KiB.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
