//! `strata count | members | explain`, embedded: the engine runs in this
//! process over a dataset directory; or, with `--server URL`, count and
//! members ask a `strata serve` over gRPC (see `client.rs`).

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use arrow::record_batch::RecordBatch;
use chrono::{DateTime, Utc};
use clap::{Args, ValueEnum};
use futures::StreamExt;
use strata_core::{Engine, EngineConfig, MembersRequest};
use strata_dsl::ast::Segment;

/// Where the data is and how to run, shared by every query command.
#[derive(Debug, Clone, Args)]
pub(crate) struct EngineArgs {
    /// Dataset directory.
    #[arg(long, env = "STRATA_DATA", default_value = "demo-data")]
    pub(crate) data: PathBuf,
    /// Threads per query (default: all cores).
    #[arg(long, env = "STRATA_THREADS")]
    pub(crate) threads: Option<usize>,
    /// Memory limit for a query, e.g. 2GiB, 512MiB.
    #[arg(long, env = "STRATA_MEMORY_LIMIT", default_value = "4GiB", value_parser = strata_server::parse_bytes)]
    pub(crate) memory_limit: usize,
    /// Run on this Apache DataFusion Ballista cluster instead of in this
    /// process: `df://HOST:PORT` (its executors must read --data at the same
    /// path) or `standalone` (an in-process scheduler and executor). Needs a
    /// strata built with `--features ballista`.
    #[arg(long, env = "STRATA_CLUSTER")]
    pub(crate) cluster: Option<strata_core::cluster::Cluster>,
    /// Read this dataset version (see `strata history`) instead of the
    /// latest: the same answer as when it was current.
    #[arg(long, value_name = "N")]
    pub(crate) at_version: Option<u64>,
}

impl EngineArgs {
    pub(crate) fn config(&self) -> EngineConfig {
        let mut c = EngineConfig {
            memory_limit: self.memory_limit,
            cluster: self.cluster.clone(),
            at_version: self.at_version,
            ..EngineConfig::default()
        };
        if let Some(t) = self.threads {
            c.threads = t;
        }
        c
    }

    pub(crate) async fn open(&self) -> anyhow::Result<Engine> {
        Engine::open(&self.data, self.config())
            .await
            .with_context(|| format!("opening dataset {}", self.data.display()))
    }
}

/// The segment to run and when.
#[derive(Debug, Clone, Args)]
pub(crate) struct SegmentArgs {
    /// The segment in the DSL (or use -f).
    #[arg(required_unless_present = "file", conflicts_with = "file")]
    pub(crate) segment: Option<String>,
    /// Read the segment from a .seg file.
    #[arg(short = 'f', long)]
    pub(crate) file: Option<PathBuf>,
    /// Evaluate at this instant: 2025-06-30, 2025-06-30T12:00:00Z or now
    /// (default: the dataset's as_of if it has one, else now).
    #[arg(long, value_parser = parse_as_of)]
    pub(crate) as_of: Option<DateTime<Utc>>,
}

impl SegmentArgs {
    pub(crate) fn text(&self) -> anyhow::Result<String> {
        match (&self.segment, &self.file) {
            (Some(s), _) => Ok(s.clone()),
            (None, Some(f)) => {
                std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))
            }
            (None, None) => bail!("give a segment or -f FILE"),
        }
    }

    /// Parses and checks the segment against the engine's catalog, rendering
    /// DSL errors with line, column and caret; warnings go to stderr and
    /// the segment still runs.
    pub(crate) fn parse(&self, engine: &Engine) -> anyhow::Result<(Segment, DateTime<Utc>)> {
        let text = self.text()?;
        let segment = super::dsl::check(engine, &text, self.file.as_deref())?;
        Ok((
            segment,
            self.as_of.unwrap_or_else(|| engine.default_as_of()),
        ))
    }
}

#[derive(Debug, Args)]
pub(crate) struct CountArgs {
    #[command(flatten)]
    pub(crate) engine: EngineArgs,
    #[command(flatten)]
    pub(crate) segment: SegmentArgs,
    #[command(flatten)]
    pub(crate) client: super::client::ClientArgs,
    /// Also print the segment's size per value of this profile attribute
    /// (embedded only; at most 1,000 values, largest first).
    #[arg(long, value_name = "ATTRIBUTE", conflicts_with = "server")]
    pub(crate) by: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum Format {
    Csv,
    Jsonl,
    Parquet,
}

#[derive(Debug, Args)]
pub(crate) struct MembersArgs {
    #[command(flatten)]
    pub(crate) engine: EngineArgs,
    #[command(flatten)]
    pub(crate) segment: SegmentArgs,
    #[command(flatten)]
    pub(crate) client: super::client::ClientArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "csv")]
    pub(crate) format: Format,
    /// Profile columns to include besides profile_id, comma separated.
    #[arg(long, value_delimiter = ',')]
    pub(crate) columns: Vec<String>,
    /// At most this many members.
    #[arg(long)]
    pub(crate) limit: Option<usize>,
    /// Resume after this profile_id (the last one of the previous page).
    #[arg(long)]
    pub(crate) after: Option<i64>,
    /// Write to this file instead of stdout (required for parquet).
    #[arg(short = 'o', long)]
    pub(crate) output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct ExplainArgs {
    #[command(flatten)]
    pub(crate) engine: EngineArgs,
    #[command(flatten)]
    pub(crate) segment: SegmentArgs,
    /// Run the count and print the physical plan with what each operator
    /// did (rows, time, bytes and row groups read), like EXPLAIN ANALYZE.
    #[arg(long)]
    pub(crate) analyze: bool,
}

/// Stack of every runtime thread. Segments are bounded in depth and size
/// at the source (`strata_dsl::MAX_DEPTH`, `MAX_CONDITIONS`), and the
/// compiler builds balanced expressions, but DataFusion's optimizer joins
/// conjunctions back into left-deep chains, and evaluating or dropping
/// such a chain recurses once per condition. 8 MiB (Linux's main-thread
/// default, 4x tokio's) keeps a 1,000-condition chain far from the end of
/// the stack in any build profile; the memory is reserved, not resident.
const THREAD_STACK: usize = 8 << 20;

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(THREAD_STACK)
        .build()?)
}

pub(crate) fn count(a: CountArgs) -> anyhow::Result<()> {
    if let Some(url) = &a.client.server {
        let text = a.segment.text()?;
        return runtime()?.block_on(super::client::count(&a.client, url, text, a.segment.as_of));
    }
    runtime()?.block_on(async {
        let engine = a.engine.open().await?;
        let (segment, as_of) = a.segment.parse(&engine)?;
        let start = Instant::now();
        let n = engine.count(&segment, as_of).await?;
        let total = engine.total_profiles().await?;
        // Before any output: a wrong attribute is an error, not half a list.
        let by = match &a.by {
            Some(column) => Some((column, engine.count_by(&segment, as_of, column).await?)),
            None => None,
        };
        println!("{n}");
        if let Some((column, by)) = by {
            for (value, count) in &by.groups {
                let share = 100.0 * *count as f64 / n.max(1) as f64;
                println!(
                    "{}\t{count}\t{share:.1}%",
                    value.as_deref().unwrap_or("NULL")
                );
            }
            if by.truncated {
                eprintln!(
                    "only the {} largest values of {column} are shown",
                    by.groups.len()
                );
            }
        }
        eprintln!(
            "{n} of {total} profiles ({:.2}%) at {}, dataset version {}, in {:.1} ms",
            100.0 * n as f64 / total.max(1) as f64,
            as_of.to_rfc3339(),
            engine.dataset().versions().dataset,
            start.elapsed().as_secs_f64() * 1e3
        );
        Ok(())
    })
}

pub(crate) fn explain(a: ExplainArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let engine = a.engine.open().await?;
        let (segment, as_of) = a.segment.parse(&engine)?;
        if a.analyze {
            let start = Instant::now();
            let plan = engine.explain_analyze(&segment, as_of).await?;
            println!("== physical plan, executed ==\n{plan}");
            eprintln!("ran in {:.1} ms", start.elapsed().as_secs_f64() * 1e3);
            return Ok(());
        }
        let e = engine.explain(&segment, as_of).await?;
        println!("== logical plan ==\n{}\n", e.logical);
        println!("== optimized logical plan ==\n{}\n", e.optimized);
        println!("== physical plan ==\n{}", e.physical);
        Ok(())
    })
}

pub(crate) fn members(a: MembersArgs) -> anyhow::Result<()> {
    if let Some(url) = &a.client.server {
        return members_remote(a.clone_for_remote(), url.clone());
    }
    runtime()?.block_on(async {
        let engine = a.engine.open().await?;
        let (segment, as_of) = a.segment.parse(&engine)?;
        let req = MembersRequest {
            columns: a.columns.clone(),
            after: a.after,
            limit: a.limit,
        };
        let schema = engine.members_schema(&req)?;
        let mut stream = engine.members(&segment, as_of, &req).await?;
        let start = Instant::now();
        let mut sink = Sink::new(a.format, a.output.as_deref(), schema)?;
        let mut rows = 0usize;
        while let Some(batch) = stream.next().await {
            let batch = batch?;
            rows += batch.num_rows();
            sink.write(&batch)?;
        }
        sink.finish()?;
        eprintln!(
            "{rows} members in {:.1} ms",
            start.elapsed().as_secs_f64() * 1e3
        );
        Ok(())
    })
}

impl MembersArgs {
    fn clone_for_remote(&self) -> MembersArgs {
        MembersArgs {
            engine: self.engine.clone(),
            segment: self.segment.clone(),
            client: self.client.clone(),
            format: self.format,
            columns: self.columns.clone(),
            limit: self.limit,
            after: self.after,
            output: self.output.clone(),
        }
    }
}

/// `strata members --server URL`: the same output, streamed from a server.
fn members_remote(a: MembersArgs, url: String) -> anyhow::Result<()> {
    let text = a.segment.text()?;
    runtime()?.block_on(async {
        let mut sink: Option<Sink> = None;
        super::client::members(
            &a.client,
            &url,
            super::client::MembersAsk {
                text,
                at: a.segment.as_of,
                columns: a.columns.clone(),
                limit: a.limit,
                after: a.after,
            },
            |batch| {
                if sink.is_none() {
                    sink = Some(Sink::new(a.format, a.output.as_deref(), batch.schema())?);
                }
                sink.as_mut().expect("sink").write(batch)
            },
        )
        .await?;
        if let Some(sink) = sink {
            sink.finish()?;
        }
        Ok(())
    })
}

/// Where member batches go.
enum Sink {
    Csv(arrow::csv::Writer<Box<dyn Write>>),
    Jsonl(arrow::json::LineDelimitedWriter<Box<dyn Write>>),
    Parquet(strata_datasets::AtomicParquetWriter),
}

impl Sink {
    fn new(
        format: Format,
        output: Option<&std::path::Path>,
        schema: arrow::datatypes::SchemaRef,
    ) -> anyhow::Result<Self> {
        let out = || -> anyhow::Result<Box<dyn Write>> {
            Ok(match output {
                Some(p) => Box::new(std::io::BufWriter::new(std::fs::File::create(p)?)),
                None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
            })
        };
        Ok(match format {
            Format::Csv => Sink::Csv(arrow::csv::Writer::new(out()?)),
            Format::Jsonl => Sink::Jsonl(arrow::json::LineDelimitedWriter::new(out()?)),
            Format::Parquet => {
                let Some(path) = output else {
                    bail!("--format parquet needs -o FILE");
                };
                Sink::Parquet(strata_datasets::AtomicParquetWriter::create(
                    path,
                    schema,
                    strata_datasets::writer_properties(),
                )?)
            }
        })
    }

    fn write(&mut self, batch: &RecordBatch) -> anyhow::Result<()> {
        match self {
            Sink::Csv(w) => w.write(&csv_ready(batch)?)?,
            Sink::Jsonl(w) => w.write(batch)?,
            Sink::Parquet(w) => w.write(batch)?,
        }
        Ok(())
    }

    fn finish(self) -> anyhow::Result<()> {
        match self {
            Sink::Csv(w) => w.into_inner().flush()?,
            Sink::Jsonl(mut w) => {
                w.finish()?;
                w.into_inner().flush()?
            }
            Sink::Parquet(w) => {
                w.finish()?;
            }
        }
        Ok(())
    }
}

/// `2025-06-30`, `2025-06-30T12:00:00Z` (any RFC 3339), `2025-06-30
/// 12:00:00` (UTC) or `now`: the DSL crate's reading of an instant.
pub(crate) fn parse_as_of(s: &str) -> Result<DateTime<Utc>, String> {
    let micros = strata_dsl::parse_instant(s)
        .map_err(|e| e.to_string())?
        .micros_or(Utc::now().timestamp_micros());
    DateTime::from_timestamp_micros(micros).ok_or_else(|| format!("'{s}' is out of range"))
}

/// `batch` with its nested columns (lists, structs) as JSON text, which CSV
/// can hold: `["running","travel"]`; NULL stays an empty field.
fn csv_ready(batch: &RecordBatch) -> anyhow::Result<RecordBatch> {
    use arrow::array::{ArrayRef, StringArray};
    use arrow::datatypes::{Field, Schema};
    let schema = batch.schema();
    if !schema.fields().iter().any(|f| f.data_type().is_nested()) {
        return Ok(batch.clone());
    }
    let mut fields = Vec::with_capacity(batch.num_columns());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(batch.num_columns());
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        if !field.data_type().is_nested() {
            fields.push(field.as_ref().clone());
            columns.push(column.clone());
            continue;
        }
        let one = RecordBatch::try_new(
            std::sync::Arc::new(Schema::new(vec![field.as_ref().clone()])),
            vec![column.clone()],
        )?;
        let mut w = arrow::json::ArrayWriter::new(Vec::new());
        w.write(&one)?;
        w.finish()?;
        let rows: Vec<serde_json::Map<String, serde_json::Value>> =
            serde_json::from_slice(&w.into_inner())?;
        // A NULL value is left out of its row's object.
        let text: StringArray = rows
            .iter()
            .map(|r| r.get(field.name()).map(|v| v.to_string()))
            .collect();
        fields.push(Field::new(
            field.name(),
            arrow::datatypes::DataType::Utf8,
            true,
        ));
        columns.push(std::sync::Arc::new(text));
    }
    Ok(RecordBatch::try_new(
        std::sync::Arc::new(Schema::new(fields)),
        columns,
    )?)
}
