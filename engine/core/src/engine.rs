//! The execution API: counts, member lists and plan explanations for
//! segments over one dataset.

use std::path::Path;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use chrono::{DateTime, Utc};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::functions_aggregate::count::count_all;
use datafusion::physical_plan::display::DisplayableExecutionPlan;
use datafusion::physical_plan::displayable;
use datafusion::physical_plan::stream::RecordBatchReceiverStreamBuilder;
use datafusion::prelude::{DataFrame, SessionConfig, SessionContext, ident, lit};
use strata_dsl::ast::Segment;

use crate::compile::Compiler;
use crate::dataset::{Dataset, DatasetCatalog, PROFILES};
use crate::expand::Expander;
use crate::inline_strings::InlineStringPredicates;
use crate::{EngineConfig, Error, Result};

/// A dataset opened for segment queries.
///
/// Cheap to share behind an `Arc`; every method takes `&self` and queries
/// run concurrently.
pub struct Engine {
    ctx: SessionContext,
    dataset: Dataset,
    config: EngineConfig,
}

/// Which members to return and how.
#[derive(Debug, Clone, Default)]
pub struct MembersRequest {
    /// Profile columns to return besides `profile_id` (empty: ids only).
    pub columns: Vec<String>,
    /// Resume after this profile id (the last id of the previous page).
    pub after: Option<i64>,
    /// At most this many members.
    pub limit: Option<usize>,
}

/// The plans of a segment, as text.
#[derive(Debug, Clone)]
pub struct Explain {
    pub logical: String,
    pub optimized: String,
    pub physical: String,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("dataset", &self.dataset)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Opens the dataset at `dir` with a DataFusion runtime limited by
    /// `config` (threads, memory), in this process or on `config.cluster`.
    pub async fn open(dir: &Path, config: EngineConfig) -> Result<Self> {
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_limit(config.memory_limit, 1.0)
            .with_disk_manager_builder(disk_manager(&config.spill))
            .build_arc()?;
        let mut session = SessionConfig::new()
            .with_target_partitions(config.threads.max(1))
            .with_batch_size(config.batch_size)
            .with_information_schema(false);
        let opts = session.options_mut();
        // Filters are evaluated after decoding, not inside the Parquet
        // reader (`pushdown_filters`, DataFusion's default): on Strata's
        // files (ZSTD, 8 Ki-row pages, events sorted by profile) the
        // reader's row selections cost more than decoding whole pages.
        // Measured at m scale, same session, same binary: W2 139 → 121 ms,
        // W3 589 → 495 ms, the four reports 10–17% faster; row-group and
        // page pruning by statistics still apply.
        opts.execution.parquet.pushdown_filters = false;
        // Joins are built on the side the plans put on the left: the
        // compiler and the analytics know which side is small (per-profile
        // aggregates of a segment's events, a handful of labels), while the
        // statistics estimate of an aggregate over filtered events is the
        // row count of its input and would swap the profiles in as the
        // build side.
        opts.optimizer.join_reordering = false;
        let mut state = SessionStateBuilder::new()
            .with_config(session)
            .with_runtime_env(runtime)
            .with_default_features();
        // Strata's own physical rewrites run in this process only: a
        // Ballista cluster gets DataFusion's plans, which it can serialize.
        if config.cluster.is_none() {
            state = state.with_physical_optimizer_rule(Arc::new(InlineStringPredicates));
        }
        let state = state.build();
        let ctx = crate::cluster::context(state, config.cluster.as_ref()).await?;
        let dataset = Dataset::open(dir, &ctx, config.cluster.is_none()).await?;
        Ok(Engine {
            ctx,
            dataset,
            config,
        })
    }

    pub fn dataset(&self) -> &Dataset {
        &self.dataset
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The DataFusion session (tables `profiles` and `events` registered).
    pub fn session(&self) -> &SessionContext {
        &self.ctx
    }

    /// The as_of used when a request gives none: the dataset's own as_of
    /// stamp (set by `strata gen`) if any, else now.
    pub fn default_as_of(&self) -> DateTime<Utc> {
        self.dataset.manifest().as_of.unwrap_or_else(Utc::now)
    }

    /// The DSL's view of this dataset (schemas, event types, saved segments).
    pub fn catalog(&self) -> Result<DatasetCatalog<'_>> {
        DatasetCatalog::new(&self.dataset)
    }

    /// Parses and type-checks DSL text.
    pub fn parse(&self, text: &str) -> Result<Segment> {
        let catalog = self.catalog()?;
        Ok(strata_dsl::parse_and_check(text, &catalog)?)
    }

    /// Checks that saving `text` (already parsed and checked) as segment
    /// `name` keeps it and every saved segment using it free of cycles and
    /// within the size limits.
    pub fn check_save(&self, name: &str, text: &str) -> Result<()> {
        crate::expand::check_save(&self.catalog()?, name, text)
    }

    /// Type-checks a segment given as an AST (e.g. from JSON).
    pub fn check(&self, segment: &Segment) -> Result<()> {
        let catalog = self.catalog()?;
        Ok(strata_dsl::check(segment, &catalog)?)
    }

    /// The profiles of `segment` at `as_of`, every profile column.
    pub async fn plan(&self, segment: &Segment, as_of: DateTime<Utc>) -> Result<DataFrame> {
        let as_of = crate::time::check_as_of(as_of)?;
        let catalog = self.catalog()?;
        let expr = Expander::new(&catalog).expand(&segment.expr)?;
        let df = Compiler::new(&self.ctx, &self.dataset, as_of)
            .members(&expr)
            .await?;
        crate::depth::check(df.logical_plan())?;
        Ok(df)
    }

    /// Number of profiles in `segment` at `as_of`.
    pub async fn count(&self, segment: &Segment, as_of: DateTime<Utc>) -> Result<u64> {
        let df = self
            .plan(segment, as_of)
            .await?
            .select(vec![ident("profile_id")])?;
        Ok(df.count().await? as u64)
    }

    /// Number of profiles in the dataset.
    pub async fn total_profiles(&self) -> Result<u64> {
        Ok(self.ctx.table(PROFILES).await?.count().await? as u64)
    }

    /// The members of `segment` at `as_of`, ordered by `profile_id`,
    /// `profile_id` first and then the requested columns.
    pub async fn members(
        &self,
        segment: &Segment,
        as_of: DateTime<Utc>,
        req: &MembersRequest,
    ) -> Result<SendableRecordBatchStream> {
        let df = self.members_frame(segment, as_of, req).await?;
        let stream = if self.config.cluster.is_some() {
            // Ballista's shuffles do not keep sort orders (see
            // `cluster::context`): the cluster filters and joins, the
            // member list is put in profile_id order here (in memory).
            let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
            let batches = df.collect().await?;
            ordered_stream(sorted_by_profile_id(
                schema,
                batches,
                self.config.batch_size,
            )?)
        } else {
            // The limit is applied to the stream, not as a fetch on the
            // sort: DataFusion 55's top-k (sort with fetch) over the
            // declared-sorted profiles returned wrong pages after a cursor
            // in the engine-vs-reference property test.
            read_ahead(
                df.sort(vec![ident("profile_id").sort(true, false)])?
                    .execute_stream()
                    .await?,
            )
        };
        Ok(match req.limit {
            Some(limit) => limit_stream(stream, limit),
            None => stream,
        })
    }

    /// The schema [`Engine::members`] returns for `req`: `profile_id`, then
    /// the requested columns, each a profile column named once (and not
    /// `profile_id`, which always comes first).
    pub fn members_schema(&self, req: &MembersRequest) -> Result<SchemaRef> {
        let profiles = self.dataset.profiles_schema();
        let mut fields = vec![profiles.field_with_name("profile_id")?.clone()];
        let mut seen = std::collections::HashSet::new();
        for c in &req.columns {
            if c == "profile_id" || !seen.insert(c) {
                return Err(Error::InvalidArgument(format!(
                    "column '{c}' is asked for twice (profile_id always comes first)"
                )));
            }
            fields.push(
                profiles
                    .field_with_name(c)
                    .map_err(|_| self.unknown_column(c))?
                    .clone(),
            );
        }
        Ok(Arc::new(arrow::datatypes::Schema::new(fields)))
    }

    async fn members_frame(
        &self,
        segment: &Segment,
        as_of: DateTime<Utc>,
        req: &MembersRequest,
    ) -> Result<DataFrame> {
        self.members_schema(req)?;
        let mut df = self.plan(segment, as_of).await?;
        if let Some(after) = req.after {
            df = df.filter(ident("profile_id").gt(lit(after)))?;
        }
        let mut cols = vec![ident("profile_id")];
        cols.extend(req.columns.iter().map(ident));
        df = df.select(cols)?;
        // No `df.limit(..)`: DataFusion 55 pushes the fetch into the Parquet
        // scan together with the pushed-down filters and cuts rows before
        // filtering them, so a page could miss members (found by the
        // engine-vs-reference test). [`Engine::members`] cuts the stream.
        Ok(df)
    }

    fn unknown_column(&self, c: &str) -> Error {
        let names: Vec<String> = self
            .dataset
            .profiles_schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let hint = strata_dsl::did_you_mean(c, names.iter().map(String::as_str))
            .map(|s| format!(" (did you mean '{s}'?)"))
            .unwrap_or_default();
        Error::InvalidArgument(format!("unknown profile column '{c}'{hint}"))
    }

    /// Logical, optimized and physical plans of the count query.
    pub async fn explain(&self, segment: &Segment, as_of: DateTime<Utc>) -> Result<Explain> {
        let df = self
            .plan(segment, as_of)
            .await?
            .select(vec![ident("profile_id")])?;
        let logical = df.logical_plan().display_indent().to_string();
        let optimized = df
            .clone()
            .into_optimized_plan()?
            .display_indent()
            .to_string();
        let physical = df.create_physical_plan().await?;
        let physical = displayable(physical.as_ref()).indent(true).to_string();
        Ok(Explain {
            logical,
            optimized,
            physical,
        })
    }

    /// Runs the count query and returns its physical plan annotated with
    /// what each operator did (rows, time, bytes scanned, pruning): the
    /// `EXPLAIN ANALYZE` of a segment.
    pub async fn explain_analyze(&self, segment: &Segment, as_of: DateTime<Utc>) -> Result<String> {
        let df = self
            .plan(segment, as_of)
            .await?
            .select(vec![ident("profile_id")])?
            .aggregate(vec![], vec![count_all()])?;
        let task = df.task_ctx();
        let plan = df.create_physical_plan().await?;
        datafusion::physical_plan::collect(Arc::clone(&plan), Arc::new(task)).await?;
        Ok(DisplayableExecutionPlan::with_metrics(plan.as_ref())
            .set_show_statistics(false)
            .indent(false)
            .to_string())
    }
}

/// The spill files' home and cap, as DataFusion's disk manager.
fn disk_manager(spill: &crate::SpillConfig) -> DiskManagerBuilder {
    let mode = match (&spill.dir, spill.max_bytes) {
        (_, 0) => DiskManagerMode::Disabled,
        (Some(dir), _) => DiskManagerMode::Directories(vec![dir.clone()]),
        (None, _) => DiskManagerMode::OsTmpDirectory,
    };
    DiskManagerBuilder::default()
        .with_mode(mode)
        .with_max_temp_directory_size(spill.max_bytes)
}

/// `batches` sorted by their first column (`profile_id`), as a stream of
/// batches of at most `batch_size` rows.
fn sorted_by_profile_id(
    schema: SchemaRef,
    batches: Vec<arrow::record_batch::RecordBatch>,
    batch_size: usize,
) -> Result<SendableRecordBatchStream> {
    let all = arrow::compute::concat_batches(&schema, &batches)?;
    let order = arrow::compute::sort_to_indices(all.column(0), None, None)?;
    let sorted = arrow::compute::take_record_batch(&all, &order)?;
    let chunks: Vec<_> = (0..sorted.num_rows())
        .step_by(batch_size.max(1))
        .map(|at| Ok(sorted.slice(at, batch_size.min(sorted.num_rows() - at))))
        .collect();
    Ok(Box::pin(
        datafusion::physical_plan::stream::RecordBatchStreamAdapter::new(
            schema,
            futures::stream::iter(chunks),
        ),
    ))
}

/// `stream` (profile_id first), failing if the ids are not strictly
/// increasing: a cluster's planner must keep the final order, and a page
/// out of order would break the resumable cursor silently.
fn ordered_stream(stream: SendableRecordBatchStream) -> SendableRecordBatchStream {
    use arrow::array::AsArray;
    use arrow::datatypes::Int64Type;
    use datafusion::error::DataFusionError;
    use futures::StreamExt;
    let schema = stream.schema();
    let checked = stream.scan(None::<i64>, |last, batch| {
        let out = batch.and_then(|b| {
            let ids = b
                .column(0)
                .as_primitive_opt::<Int64Type>()
                .ok_or_else(|| DataFusionError::Internal("profile_id is not Int64".to_string()))?;
            for &id in ids.values() {
                if last.is_some_and(|l| id <= l) {
                    return Err(DataFusionError::Execution(format!(
                        "the cluster returned members out of profile_id order ({id} after {})",
                        last.unwrap_or_default()
                    )));
                }
                *last = Some(id);
            }
            Ok(b)
        });
        futures::future::ready(Some(out))
    });
    Box::pin(datafusion::physical_plan::stream::RecordBatchStreamAdapter::new(schema, checked))
}

/// Batches a member list may run ahead of its consumer.
const READ_AHEAD: usize = 2;

/// Drives `stream` in its own task, up to [`READ_AHEAD`] batches ahead of
/// the consumer, so the query reads and merges the next batches while the
/// caller encodes the ones it has (Parquet, CSV, gRPC messages) on the
/// other core. Dropping the returned stream aborts the task and with it
/// the query.
fn read_ahead(mut stream: SendableRecordBatchStream) -> SendableRecordBatchStream {
    use futures::StreamExt;
    let mut builder = RecordBatchReceiverStreamBuilder::new(stream.schema(), READ_AHEAD);
    let tx = builder.tx();
    builder.spawn(async move {
        while let Some(item) = stream.next().await {
            let failed = item.is_err();
            if tx.send(item).await.is_err() || failed {
                break;
            }
        }
        Ok(())
    });
    builder.build()
}

/// The first `limit` rows of `stream`; dropping the rest of the stream
/// cancels the query.
fn limit_stream(stream: SendableRecordBatchStream, limit: usize) -> SendableRecordBatchStream {
    use futures::StreamExt;
    let schema = stream.schema();
    let limited = stream.scan(limit, |left, batch| {
        let next = match batch {
            Ok(_) if *left == 0 => None,
            Ok(b) => {
                let n = b.num_rows().min(*left);
                *left -= n;
                Some(Ok(b.slice(0, n)))
            }
            Err(e) => Some(Err(e)),
        };
        futures::future::ready(next)
    });
    Box::pin(datafusion::physical_plan::stream::RecordBatchStreamAdapter::new(schema, limited))
}
