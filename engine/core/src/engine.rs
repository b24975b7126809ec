//! The facade: [`Engine`] holds a dataset opened in a DataFusion session,
//! and each of its methods checks its arguments and calls the module that
//! does the work (the way DataFusion's `SessionContext` delegates to its
//! state): segments to [`crate::query`], reports to [`crate::report`],
//! features to [`crate::features`], memberships to [`crate::materialize`].

use std::path::{Path, PathBuf};

use arrow::datatypes::SchemaRef;
use chrono::{DateTime, Utc};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::prelude::{DataFrame, SessionContext};
use strata_dsl::Diagnostics;
use strata_dsl::ast::Segment;

use crate::dataset::{Dataset, DatasetCatalog};
use crate::features::FeaturesSummary;
use crate::materialize::Materialized;
use crate::plan::tables::PROFILES;
use crate::query::{self, CountBy, Explain, MembersRequest};
use crate::report::{self, Report, ReportKind, ReportRequest};
use crate::scan::Scan;
use crate::{EngineConfig, Result, features, materialize, session, time};

/// A dataset opened for segment queries.
///
/// Cheap to share behind an `Arc`; every method takes `&self` and queries
/// run concurrently.
pub struct Engine {
    ctx: SessionContext,
    dataset: Dataset,
    config: EngineConfig,
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
        let ctx = session::context(&config).await?;
        let dataset = Dataset::open(dir, &ctx, config.cluster.is_none(), config.at_version).await?;
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
        Ok(strata_dsl::parse_and_check(text, &self.catalog()?)?)
    }

    /// [`parse`](Self::parse) and [`warnings`](Self::warnings) against one
    /// catalog (saved segments read once).
    pub fn parse_warned(&self, text: &str) -> Result<(Segment, Diagnostics)> {
        let catalog = self.catalog()?;
        let segment = strata_dsl::parse_and_check(text, &catalog)?;
        let warnings = strata_dsl::warnings(&segment, &catalog, Some(text));
        Ok((segment, warnings))
    }

    /// Warnings about a checked segment that runs but probably does not say
    /// what was meant (text values no profile or event has); `text` is its
    /// source, when it has one, to point at the values.
    pub fn warnings(&self, segment: &Segment, text: Option<&str>) -> Result<Diagnostics> {
        Ok(strata_dsl::warnings(segment, &self.catalog()?, text))
    }

    /// Checks that saving `text` (already parsed and checked) as segment
    /// `name` keeps it and every saved segment using it free of cycles and
    /// within the size limits.
    pub fn check_save(&self, name: &str, text: &str) -> Result<()> {
        crate::expand::check_save(&self.catalog()?, name, text)
    }

    /// Checks that deleting saved segment `name` breaks no other saved
    /// segment (none refers to it).
    pub fn check_delete(&self, name: &str) -> Result<()> {
        crate::expand::check_delete(&self.catalog()?, name)
    }

    /// Type-checks a segment given as an AST (e.g. from JSON).
    pub fn check(&self, segment: &Segment) -> Result<()> {
        Ok(strata_dsl::check(segment, &self.catalog()?)?)
    }

    /// The profiles of `segment` at `as_of`, every profile column.
    pub async fn plan(&self, segment: &Segment, as_of: DateTime<Utc>) -> Result<DataFrame> {
        query::plan(&self.scan(as_of)?, segment).await
    }

    /// Number of profiles in `segment` at `as_of`.
    pub async fn count(&self, segment: &Segment, as_of: DateTime<Utc>) -> Result<u64> {
        query::count(&self.scan(as_of)?, segment).await
    }

    /// The members of `segment` at `as_of` per value of profile attribute
    /// `column` (at most [`query::MAX_GROUPS`] values, largest first).
    pub async fn count_by(
        &self,
        segment: &Segment,
        as_of: DateTime<Utc>,
        column: &str,
    ) -> Result<CountBy> {
        query::count_by(&self.scan(as_of)?, segment, column).await
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
        query::members(&self.scan(as_of)?, &self.config, segment, req).await
    }

    /// The schema [`Engine::members`] returns for `req`: `profile_id`, then
    /// the requested columns, each a profile column named once (and not
    /// `profile_id`, which always comes first).
    pub fn members_schema(&self, req: &MembersRequest) -> Result<SchemaRef> {
        query::members_schema(&self.dataset, req)
    }

    /// Logical, optimized and physical plans of the count query.
    pub async fn explain(&self, segment: &Segment, as_of: DateTime<Utc>) -> Result<Explain> {
        query::explain(&self.scan(as_of)?, segment).await
    }

    /// Runs the count query and returns its physical plan annotated with
    /// what each operator did (rows, time, bytes scanned, pruning): the
    /// `EXPLAIN ANALYZE` of a segment.
    pub async fn explain_analyze(&self, segment: &Segment, as_of: DateTime<Utc>) -> Result<String> {
        query::explain_analyze(&self.scan(as_of)?, segment).await
    }

    /// Computes report `kind` at `req.as_of` over every profile, or over the
    /// members of `req.segment` (the tables: [`crate::report`]).
    pub async fn report(&self, kind: ReportKind, req: &ReportRequest) -> Result<Report> {
        report::run(&self.scan(req.as_of)?, kind, req).await
    }

    /// Writes every table of `report` (computed for `req`) to
    /// `<data>/reports/<report>/<table>.parquet`, each atomically (temp
    /// file + rename), with the Strata Parquet settings. The key-value
    /// metadata records `strata.report`, `strata.as_of`,
    /// `strata.dataset_version` and the parameters (`strata.bins`,
    /// `strata.window`, `strata.period`, `strata.segment`). Returns the files
    /// written.
    pub fn write_report(&self, report: &Report, req: &ReportRequest) -> Result<Vec<PathBuf>> {
        report::write(&self.dataset, report, req)
    }

    /// Builds the features for `as_of` and writes them atomically.
    pub async fn refresh_features(&self, as_of: DateTime<Utc>) -> Result<FeaturesSummary> {
        features::refresh(&self.scan(as_of)?).await
    }

    /// Computes the members of saved segment `name` at `as_of` (with
    /// `columns` besides `profile_id`) and writes them to
    /// `segments/<name>/members.parquet`, replacing the previous file
    /// atomically.
    pub async fn materialize(
        &self,
        name: &str,
        as_of: DateTime<Utc>,
        columns: &[String],
    ) -> Result<Materialized> {
        materialize::write(&self.scan(as_of)?, &self.config, name, columns).await
    }

    /// The scan of this dataset at `as_of`, once as_of is in range.
    fn scan(&self, as_of: DateTime<Utc>) -> Result<Scan<'_>> {
        Ok(Scan::new(
            &self.ctx,
            &self.dataset,
            time::check_as_of(as_of)?,
        ))
    }
}
