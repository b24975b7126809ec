//! The reports: RFM, channel mix, lifecycle and retention as small named
//! tables (docs/design.md#semantics), built with the DataFrame/Expr API.
//!
//! Every report is an aggregation of the same per-profile table a DSL
//! built-in joins ([`super::rfm::per_profile`] and friends), restricted to
//! the profiles in scope: the `profiles` table, or the members of
//! [`ReportRequest::segment`]. So `count(rfm.segment = 'champions')` is the
//! report's `champions` row, and `count(S AND lifecycle = 'new')` is the
//! `new` row of the lifecycle report restricted to `S`.
//!
//! Scores and states are computed over the whole dataset and then
//! restricted (exactly what the built-in does inside a segment): an RFM
//! report restricted to a segment shows that segment's members with their
//! dataset-wide scores, not scores re-ranked within the segment.
//!
//! Tables (columns in order):
//! - RFM `segments`: segment, profiles, share (of scored profiles in
//!   scope), avg_recency_days, avg_frequency, avg_monetary, revenue; one row
//!   per named segment in rule order, empty ones included.
//! - RFM `scores`: value (1..=bins), r_profiles, f_profiles, m_profiles.
//! - RFM `grid`: r, f, segment, profiles; every (r, f) cell.
//! - Channel mix `classes`: class, profiles, orders, revenue,
//!   revenue_per_profile for online_only, offline_only, omnichannel, none.
//!   `none` = profiles in scope with no purchase through an online or
//!   offline channel (no purchase at all, or only through unmapped / NULL
//!   channels), exactly the profiles for which `channel_mix = 'none'`;
//!   their orders and revenue are those unmapped purchases, so the classes
//!   add up to every purchase of the profiles in scope.
//! - Channel mix `channels`: channel, class (online / offline / other),
//!   profiles, orders, revenue, share (of revenue); by revenue descending.
//! - Lifecycle `states`: state, profiles, share (of profiles in scope) for
//!   new, returning, resurrecting, dormant, lost, never, and a last row
//!   `churned` = dormant + lost.
//! - Retention `cohorts`: cohort_start (Date32), period_index, cohort_size,
//!   active, fraction; the full triangle (zero cells included) up to the
//!   period holding the last instant before as_of.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{AsArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Int64Type, Schema};
use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, TimeDelta, Utc};
use datafusion::common::{JoinType, ScalarValue};
use datafusion::execution::memory_pool::MemoryReservation;
use datafusion::functions::expr_fn::nullif;
use datafusion::functions_aggregate::expr_fn::{bit_or, count, min, sum};
use datafusion::functions_aggregate::sum::sum_udaf;
use datafusion::logical_expr::expr::WindowFunction;
use datafusion::logical_expr::{
    GroupingSet, LogicalPlanBuilder, bitwise_and, bitwise_shift_left, bitwise_shift_right, cast,
    when,
};
use datafusion::prelude::{DataFrame, Expr, SessionContext, coalesce, ident, lit};
use parquet::file::metadata::KeyValue;

use super::{
    AnalyticsParams, CohortPeriod, Context, Report, ReportKind, ReportRequest, RowsPerId,
    channel_mix, lifecycle, rfm,
};
use crate::dataset::PROFILES;
use crate::time;
use crate::{Engine, Error, Result};

/// Directory of written reports inside a dataset: `<data>/reports/`.
pub const REPORTS_DIR: &str = "reports";

/// Most RFM bins a report accepts (the grid has bins² cells).
pub const MAX_REPORT_BINS: u32 = 100;

/// The profile-id column of the scope table.
const SCOPE_PID: &str = "__scope_pid";
/// The order column of label tables.
const ORD: &str = "__ord";
/// The join key of aggregates joined to label tables.
const KEY: &str = "__key";
/// Channel-mix cells: true on per-profile (class) rows, false on
/// per-channel rows.
const BY_PROFILE: &str = "__by_profile";

impl ReportKind {
    /// Every report, in CLI order.
    pub const ALL: [ReportKind; 4] = [
        ReportKind::Rfm,
        ReportKind::ChannelMix,
        ReportKind::Lifecycle,
        ReportKind::Retention,
    ];

    /// Snake-case name: `rfm`, `channel_mix`, `lifecycle`, `retention`
    /// (also the directory under `<data>/reports/`).
    pub fn name(self) -> &'static str {
        match self {
            ReportKind::Rfm => "rfm",
            ReportKind::ChannelMix => "channel_mix",
            ReportKind::Lifecycle => "lifecycle",
            ReportKind::Retention => "retention",
        }
    }

    /// The tables of the report, in the order [`Report::tables`] has them.
    pub fn table_names(self) -> &'static [&'static str] {
        match self {
            ReportKind::Rfm => &["segments", "scores", "grid"],
            ReportKind::ChannelMix => &["classes", "channels"],
            ReportKind::Lifecycle => &["states"],
            ReportKind::Retention => &["cohorts"],
        }
    }
}

impl Report {
    /// The batches of table `name`, if the report has it.
    pub fn table(&self, name: &str) -> Option<&[RecordBatch]> {
        self.tables
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, b)| b.as_slice())
    }
}

impl Engine {
    /// Computes report `kind` at `req.as_of` over every profile, or over the
    /// members of `req.segment`. See the module docs for the tables.
    pub async fn report(&self, kind: ReportKind, req: &ReportRequest) -> Result<Report> {
        if let Some(bins) = req.params.bins
            && (bins == 0 || bins > MAX_REPORT_BINS)
        {
            return Err(Error::InvalidArgument(format!(
                "bins must be between 1 and {MAX_REPORT_BINS}, not {bins}"
            )));
        }
        time::check_as_of(req.as_of)?;
        let cx = Context::new(self.session(), self.dataset(), req.as_of);
        let scope = self.scope(req).await?;
        let frames = match kind {
            ReportKind::Rfm => rfm_report(&cx, &req.params, &scope).await?,
            ReportKind::ChannelMix => channel_mix_report(&cx, &req.params, &scope).await?,
            ReportKind::Lifecycle => lifecycle_report(&cx, &req.params, &scope).await?,
            ReportKind::Retention => retention_report(&cx, req.period, &scope).await?,
        };
        let mut tables = Vec::with_capacity(frames.len());
        for (name, df) in frames {
            let schema = Arc::new(df.schema().as_arrow().clone());
            let mut batches = df.collect().await?;
            batches.retain(|b| b.num_rows() > 0);
            if batches.is_empty() {
                // Always one batch, so every table carries its schema.
                batches.push(RecordBatch::new_empty(schema));
            }
            tables.push((name.to_string(), batches));
        }
        Ok(Report {
            kind,
            as_of: req.as_of,
            tables,
        })
    }

    /// Writes every table of `report` (computed for `req`) to
    /// `<data>/reports/<report>/<table>.parquet`, each atomically (temp
    /// file + rename), with the Strata Parquet settings. The key-value
    /// metadata records `strata.report`, `strata.as_of`,
    /// `strata.dataset_version` and the parameters (`strata.bins`,
    /// `strata.window`, `strata.period`, `strata.segment`). Returns the files
    /// written.
    pub fn write_report(&self, report: &Report, req: &ReportRequest) -> Result<Vec<PathBuf>> {
        let dir = self
            .dataset()
            .dir()
            .join(REPORTS_DIR)
            .join(report.kind.name());
        std::fs::create_dir_all(&dir)?;
        let kv = |k: &str, v: String| KeyValue::new(format!("strata.{k}"), v);
        let mut meta = vec![
            kv("report", report.kind.name().to_string()),
            kv(
                "as_of",
                report.as_of.to_rfc3339_opts(SecondsFormat::AutoSi, true),
            ),
            kv(
                "dataset_version",
                self.dataset().manifest().dataset_version.clone(),
            ),
        ];
        if let Some(b) = req.params.bins {
            meta.push(kv("bins", b.to_string()));
        }
        if let Some(w) = req.params.window {
            meta.push(kv("window", w.to_string()));
        }
        if report.kind == ReportKind::Retention {
            let period = match req.period {
                CohortPeriod::Week => "week",
                CohortPeriod::Month => "month",
            };
            meta.push(kv("period", period.to_string()));
        }
        if let Some(segment) = &req.segment {
            meta.push(kv("segment", strata_dsl::format(segment)));
        }
        let mut written = Vec::with_capacity(report.tables.len());
        for (name, batches) in &report.tables {
            let Some(first) = batches.first() else {
                return Err(Error::Internal(format!(
                    "report table {name} has no schema"
                )));
            };
            let props = strata_datasets::writer_properties_builder()
                .set_key_value_metadata(Some(meta.clone()))
                .build();
            let path = dir.join(format!("{name}.parquet"));
            strata_datasets::write_parquet_file(&path, first.schema(), props, batches)?;
            written.push(path);
        }
        Ok(written)
    }

    /// The profiles the report covers.
    async fn scope(&self, req: &ReportRequest) -> Result<Scope> {
        Ok(match &req.segment {
            Some(segment) => Scope::Members(
                self.plan(segment, req.as_of)
                    .await?
                    .select(vec![ident("profile_id").alias(SCOPE_PID)])?,
            ),
            None => Scope::All,
        })
    }
}

/// The profiles a report covers: every profile, or a segment's members
/// (as one column [`SCOPE_PID`]; always a subset of `profiles`).
enum Scope {
    All,
    Members(DataFrame),
}

impl Scope {
    /// The profile ids in scope, as one column [`SCOPE_PID`].
    async fn ids(&self, cx: &Context<'_>) -> Result<DataFrame> {
        Ok(match self {
            Scope::All => cx
                .ctx
                .table(PROFILES)
                .await?
                .select(vec![ident("profile_id").alias(SCOPE_PID)])?,
            Scope::Members(m) => m.clone(),
        })
    }

    /// `df` (keyed by `profile_id`; aggregated per profile, so that this
    /// probes one row per id, not every event) restricted to the scope.
    /// Ids without a profile row are never in scope.
    async fn restrict(
        &self,
        cx: &Context<'_>,
        df: DataFrame,
        rows: RowsPerId,
    ) -> Result<DataFrame> {
        match self {
            Scope::All => cx.only_profiles(df, rows).await,
            Scope::Members(m) => in_scope(df, m.clone()),
        }
    }
}

/// `df` restricted to the profiles in scope (semi-join on `profile_id`).
fn in_scope(df: DataFrame, scope: DataFrame) -> Result<DataFrame> {
    Ok(df.join(
        scope,
        JoinType::LeftSemi,
        &["profile_id"],
        &[SCOPE_PID],
        None,
    )?)
}

/// A table of `labels` in column `name`, with their position in [`ORD`].
fn labels(ctx: &SessionContext, name: &str, labels: &[&str]) -> Result<DataFrame> {
    let schema = Arc::new(Schema::new(vec![
        Field::new(name, DataType::Utf8, false),
        Field::new(ORD, DataType::Int64, false),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from(labels.to_vec())),
            Arc::new(Int64Array::from_iter_values(0..labels.len() as i64)),
        ],
    )?;
    values_frame(ctx, &batch)
}

/// A table of the integers `1..=n` in column `name`.
fn range(ctx: &SessionContext, name: &str, n: u32) -> Result<DataFrame> {
    let schema = Arc::new(Schema::new(vec![Field::new(name, DataType::Int64, false)]));
    let batch = RecordBatch::try_new(
        schema,
        vec![Arc::new(Int64Array::from_iter_values(1..=i64::from(n)))],
    )?;
    values_frame(ctx, &batch)
}

/// `batch` as a `VALUES` plan with its column names. Unlike a `MemTable`
/// (`read_batch`), `VALUES` serializes with DataFusion's protobuf codec, so
/// the report also runs on a Ballista cluster. `VALUES` carries no names
/// through that codec (they come back as `column1`, …), hence the aliasing
/// projection on top. An empty batch becomes one row of NULLs filtered out.
fn values_frame(ctx: &SessionContext, batch: &RecordBatch) -> Result<DataFrame> {
    let schema = batch.schema();
    let row = |r: usize| -> Result<Vec<Expr>> {
        batch
            .columns()
            .iter()
            .map(|c| Ok(lit(ScalarValue::try_from_array(c, r)?)))
            .collect()
    };
    let empty = batch.num_rows() == 0;
    let rows = if empty {
        let nulls = schema
            .fields()
            .iter()
            .map(|f| Ok(lit(ScalarValue::try_from(f.data_type())?)))
            .collect::<Result<Vec<_>>>()?;
        vec![nulls]
    } else {
        (0..batch.num_rows()).map(row).collect::<Result<_>>()?
    };
    let names = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| ident(format!("column{}", i + 1)).alias(f.name()));
    let mut df =
        DataFrame::new(ctx.state(), LogicalPlanBuilder::values(rows)?.build()?).select(names)?;
    if empty {
        df = df.filter(lit(false))?;
    }
    Ok(df)
}

/// The result of `df` as one batch (for small results). The batches'
/// own schema wins over the logical one (string columns may come back as
/// views).
async fn collect_one(df: DataFrame) -> Result<RecordBatch> {
    let logical = Arc::new(df.schema().as_arrow().clone());
    let batches = df.collect().await?;
    let schema = batches.first().map_or(logical, |b| b.schema());
    Ok(arrow::compute::concat_batches(&schema, &batches)?)
}

/// `sum(e) OVER ()`.
fn total(e: Expr) -> Expr {
    Expr::from(WindowFunction::new(sum_udaf(), vec![e]))
}

/// `num / den` as Float64, NULL when `den` is 0.
fn ratio(num: Expr, den: Expr) -> Expr {
    cast(num, DataType::Float64) / nullif(cast(den, DataType::Float64), lit(0f64))
}

/// `count(e)` with its NULL (from an outer join) read as 0.
fn zero_if_null(e: Expr) -> Expr {
    coalesce(vec![e, lit(0i64)])
}

// ---- RFM --------------------------------------------------------------------

async fn rfm_report(
    cx: &Context<'_>,
    p: &AnalyticsParams,
    scope: &Scope,
) -> Result<Vec<(&'static str, DataFrame)>> {
    let bins = p.bins.unwrap_or(rfm::DEFAULT_BINS);
    // The scored set is already only profiles; a segment narrows it further.
    let scored = rfm::scored(cx, p).await?;
    let scored = match scope {
        Scope::Members(m) => in_scope(scored, m.clone())?,
        Scope::All => scored,
    };
    // One pass: at most bins³ cells, from which every table is derived.
    // Money is summed exactly (the amount's own type) and converted once,
    // in `segments`, so revenue does not depend on the order of rows.
    let cells = scored.aggregate(
        vec![ident("r"), ident("f"), ident("m"), ident("segment")],
        vec![
            count(lit(1i64)).alias("profiles"),
            sum(ident("recency_days")).alias("sum_recency_days"),
            sum(ident("frequency")).alias("sum_frequency"),
            sum(ident(rfm::MONETARY_SUM)).alias("sum_monetary"),
        ],
    )?;
    let cells = cx.cache(cells, "rfm report cells").await?;

    let by_segment = cells.clone().aggregate(
        vec![ident("segment").alias(KEY)],
        vec![
            sum(ident("profiles")).alias("profiles"),
            sum(ident("sum_recency_days")).alias("sum_recency_days"),
            sum(ident("sum_frequency")).alias("sum_frequency"),
            sum(ident("sum_monetary")).alias("sum_monetary"),
        ],
    )?;
    let profiles = || zero_if_null(ident("profiles"));
    // Profiles whose purchases all lack an amount have monetary 0.
    let monetary = || {
        coalesce(vec![
            cast(ident("sum_monetary"), DataType::Float64),
            lit(0f64),
        ])
    };
    let segments = labels(cx.ctx, "segment", rfm::SEGMENTS)?
        .join(by_segment, JoinType::Left, &["segment"], &[KEY], None)?
        .select(vec![
            ident("segment"),
            ident(ORD),
            profiles().alias("profiles"),
            ratio(profiles(), total(profiles())).alias("share"),
            ratio(ident("sum_recency_days"), ident("profiles")).alias("avg_recency_days"),
            ratio(ident("sum_frequency"), ident("profiles")).alias("avg_frequency"),
            ratio(monetary(), ident("profiles")).alias("avg_monetary"),
            monetary().alias("revenue"),
        ])?
        .sort(vec![ident(ORD).sort(true, false)])?
        .drop_columns(&[ORD])?;

    let dist = |score: &str| -> Result<DataFrame> {
        Ok(cells.clone().aggregate(
            vec![ident(score).alias(format!("{KEY}_{score}"))],
            vec![sum(ident("profiles")).alias(format!("{score}_profiles"))],
        )?)
    };
    let mut scores = range(cx.ctx, "value", bins)?;
    for s in ["r", "f", "m"] {
        scores = scores.join(
            dist(s)?,
            JoinType::Left,
            &["value"],
            &[&format!("{KEY}_{s}")],
            None,
        )?;
    }
    let scores = scores
        .select(vec![
            ident("value"),
            zero_if_null(ident("r_profiles")).alias("r_profiles"),
            zero_if_null(ident("f_profiles")).alias("f_profiles"),
            zero_if_null(ident("m_profiles")).alias("m_profiles"),
        ])?
        .sort(vec![ident("value").sort(true, false)])?;

    let by_rf = cells.aggregate(
        vec![ident("r").alias("__r"), ident("f").alias("__f")],
        vec![sum(ident("profiles")).alias("profiles")],
    )?;
    let grid = range(cx.ctx, "r", bins)?
        .join(range(cx.ctx, "f", bins)?, JoinType::Inner, &[], &[], None)?
        .join(by_rf, JoinType::Left, &["r", "f"], &["__r", "__f"], None)?
        .select(vec![
            ident("r"),
            ident("f"),
            rfm::segment_expr(ident("r"), ident("f")).alias("segment"),
            profiles().alias("profiles"),
        ])?
        .sort(vec![
            ident("r").sort(true, false),
            ident("f").sort(true, false),
        ])?;

    Ok(vec![
        ("segments", segments),
        ("scores", scores),
        ("grid", grid),
    ])
}

// ---- channel mix --------------------------------------------------------------

async fn channel_mix_report(
    cx: &Context<'_>,
    p: &AnalyticsParams,
    scope: &Scope,
) -> Result<Vec<(&'static str, DataFrame)>> {
    let since = p
        .window
        .map(|w| time::sub_duration(cx.as_of, w))
        .transpose()?;
    let channels = &cx.dataset.manifest().channels;
    let in_list = channel_mix::in_channels;

    // One pass over the purchases, for both tables: orders and revenue per
    // (profile, channel) of the profiles in scope. Revenue stays exact (the
    // amount's own type) until the last step.
    let pairs = cx.events_of(cx.purchase_types(), since).await?.aggregate(
        vec![ident("profile_id"), ident("channel")],
        vec![
            count(lit(1i64)).alias("orders"),
            sum(ident("amount")).alias("revenue"),
        ],
    )?;
    let pairs = scope.restrict(cx, pairs, RowsPerId::One).await?;
    // Then one aggregation with two grouping sets over those pairs:
    // per profile (its class, the built-in's `channel_mix`: online /
    // offline count the pairs through such channels, so > 0 iff a purchase
    // went through one) and per channel (each pair is one distinct profile
    // of that channel). `profile_id` is NULL exactly on the per-channel
    // rows: the scope join has dropped NULL ids.
    let sets = Expr::GroupingSet(GroupingSet::GroupingSets(vec![
        vec![ident("profile_id")],
        vec![ident("channel")],
    ]));
    let per_profile = || ident("profile_id").is_not_null();
    let [online, offline] = channel_mix::class_counts(cx)?;
    let class = channel_mix::class(
        ident("online").gt(lit(0i64)),
        ident("offline").gt(lit(0i64)),
    )?;
    let cells = pairs
        .aggregate(
            vec![sets],
            vec![
                online,
                offline,
                count(lit(1i64)).alias("pairs"),
                sum(ident("orders")).alias("orders"),
                sum(ident("revenue")).alias("revenue"),
            ],
        )?
        .select(vec![
            per_profile().alias(BY_PROFILE),
            when(per_profile(), class)
                .otherwise(ident("channel"))?
                .alias(KEY),
            when(per_profile(), lit(1i64))
                .otherwise(ident("pairs"))?
                .alias("profiles"),
            ident("orders"),
            ident("revenue"),
        ])?
        .aggregate(
            vec![ident(BY_PROFILE), ident(KEY)],
            vec![
                sum(ident("profiles")).alias("profiles"),
                sum(ident("orders")).alias("orders"),
                sum(ident("revenue")).alias("revenue"),
            ],
        )?;
    // A handful of rows: run the pass once (with the scope's size, for the
    // profiles without any purchase) and build both tables from the result.
    let (cells, in_scope_n) = futures::try_join!(collect_one(cells), async {
        Ok(scope.ids(cx).await?.count().await?)
    })?;
    // Profiles in scope with no purchase at all are `none` too.
    let purchasers = {
        let by_profile = cells.column(0).as_boolean();
        let profiles = cells.column(2).as_primitive::<Int64Type>();
        (0..cells.num_rows())
            .filter(|&i| by_profile.value(i))
            .map(|i| profiles.value(i))
            .sum::<i64>()
    };
    let without_purchase = in_scope_n as i64 - purchasers;
    let cells = values_frame(cx.ctx, &cells)?;

    let by_class = cells.clone().filter(ident(BY_PROFILE))?;
    let revenue = || coalesce(vec![cast(ident("revenue"), DataType::Float64), lit(0f64)]);
    let profiles = || {
        zero_if_null(ident("profiles"))
            + when(ident("class").eq(lit("none")), lit(without_purchase))
                .otherwise(lit(0i64))
                .expect("CASE with a branch")
    };
    let classes = labels(cx.ctx, "class", channel_mix::CLASSES)?
        .join(by_class, JoinType::Left, &["class"], &[KEY], None)?
        .select(vec![
            ident("class"),
            ident(ORD),
            profiles().alias("profiles"),
            zero_if_null(ident("orders")).alias("orders"),
            revenue().alias("revenue"),
            ratio(revenue(), profiles()).alias("revenue_per_profile"),
        ])?
        .sort(vec![ident(ORD).sort(true, false)])?
        .drop_columns(&[ORD])?;

    let by_channel = cells.filter(ident(BY_PROFILE).is_false())?.select(vec![
        ident(KEY).alias("channel"),
        ident("profiles"),
        ident("orders"),
        ident("revenue").alias("__revenue"),
    ])?;
    // A channel whose purchases all lack an amount has revenue 0.
    let revenue = || coalesce(vec![cast(ident("__revenue"), DataType::Float64), lit(0f64)]);
    let channels = by_channel
        .select(vec![
            ident("channel"),
            when(in_list(&channels.online), lit("online"))
                .when(in_list(&channels.offline), lit("offline"))
                .otherwise(lit("other"))?
                .alias("class"),
            ident("profiles"),
            ident("orders"),
            revenue().alias("revenue"),
            ratio(revenue(), total(ident("__revenue"))).alias("share"),
        ])?
        .sort(vec![
            ident("revenue").sort(false, false),
            ident("channel").sort(true, false),
        ])?;
    Ok(vec![("classes", classes), ("channels", channels)])
}

// ---- lifecycle ------------------------------------------------------------------

async fn lifecycle_report(
    cx: &Context<'_>,
    p: &AnalyticsParams,
    scope: &Scope,
) -> Result<Vec<(&'static str, DataFrame)>> {
    let states = lifecycle::per_profile(cx, p).await?.select(vec![
        ident("profile_id").alias("__lpid"),
        ident("lifecycle"),
    ])?;
    // The states (profiles with activity) build the hash table; every
    // profile in scope probes it.
    let by_state = states
        .join(
            scope.ids(cx).await?,
            JoinType::Right,
            &["__lpid"],
            &[SCOPE_PID],
            None,
        )?
        .aggregate(
            vec![coalesce(vec![ident("lifecycle"), lit("never")]).alias(KEY)],
            vec![count(lit(1i64)).alias("profiles")],
        )?;
    // At most six rows: the table (every state in order, churned last,
    // shares of the profiles in scope) is put together here from them, as
    // one VALUES plan. (Joined and unioned as plans, the little table made
    // a cross join that Ballista 55 plans with a partitioned left side and
    // rejects.)
    let counts = collect_one(by_state).await?;
    let names = arrow::compute::cast(counts.column(0), &DataType::Utf8)?;
    let (Some(names), Some(profiles)) = (
        names.as_string_opt::<i32>(),
        counts.column(1).as_primitive_opt::<Int64Type>(),
    ) else {
        return Err(Error::Internal(format!(
            "lifecycle counts have types {:?}",
            counts.schema()
        )));
    };
    let of = |state: &str| -> i64 {
        (0..arrow::array::Array::len(names))
            .find(|&i| names.value(i) == state)
            .map_or(0, |i| profiles.value(i))
    };
    let mut rows: Vec<(&str, i64)> = lifecycle::STATES.iter().map(|s| (*s, of(s))).collect();
    let total: i64 = rows.iter().map(|(_, n)| n).sum();
    rows.push(("churned", of("dormant") + of("lost")));
    let share = |n: i64| (total > 0).then(|| n as f64 / total as f64);
    let schema = Arc::new(Schema::new(vec![
        Field::new("state", DataType::Utf8, false),
        Field::new("profiles", DataType::Int64, false),
        Field::new("share", DataType::Float64, true),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from_iter_values(rows.iter().map(|(s, _)| *s))),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|(_, n)| *n))),
            Arc::new(Float64Array::from_iter(rows.iter().map(|(_, n)| share(*n)))),
        ],
    )?;
    let table = values_frame(cx.ctx, &batch)?;
    Ok(vec![("states", table)])
}

// ---- retention ------------------------------------------------------------------

/// Index of the period holding `date`: weeks since the Monday 1970-01-05
/// (so a Monday's epoch day + 3 is a multiple of 7), or `year * 12 + month
/// - 1`.
fn period_index(period: CohortPeriod, date: NaiveDate) -> i64 {
    match period {
        CohortPeriod::Week => {
            let days = i64::from(time::date32(date));
            (days - i64::from(date.weekday().num_days_from_monday()) + 3).div_euclid(7)
        }
        CohortPeriod::Month => i64::from(date.year()) * 12 + i64::from(date.month0()),
    }
}

/// First day of period `idx` (inverse of [`period_index`]).
fn period_start(period: CohortPeriod, idx: i64) -> Result<NaiveDate> {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
    let out = match period {
        CohortPeriod::Week => idx
            .checked_mul(7)
            .and_then(|d| TimeDelta::try_days(d - 3))
            .and_then(|d| epoch.checked_add_signed(d)),
        CohortPeriod::Month => i32::try_from(idx.div_euclid(12))
            .ok()
            .and_then(|y| NaiveDate::from_ymd_opt(y, idx.rem_euclid(12) as u32 + 1, 1)),
    };
    out.ok_or_else(|| Error::Internal(format!("cohort period {idx} out of range")))
}

/// The period index of an event time, as a plan expression: integer
/// arithmetic on the UTC day number, exact for any sign. (`date_trunc` on
/// a UTC timestamp gives the same periods but converts every value through
/// the time-zone machinery, a tenth of the retention report's time.)
fn period_index_expr(period: CohortPeriod, t: Expr) -> Expr {
    const MICROS_PER_DAY: i64 = 86_400_000_000;
    let days = floor_div(cast(t, DataType::Int64), MICROS_PER_DAY);
    match period {
        // Day 0 (1970-01-01) is a Thursday: Monday-based weeks start on
        // the days d with d + 3 divisible by 7.
        CohortPeriod::Week => floor_div(days + lit(3i64), 7),
        // Month of a day number, from H. Hinnant's `civil_from_days`: days
        // since 0000-03-01 split into 400-year eras, the year of the era
        // (March-based), the day of that year and its month (0 = March).
        // With March-based years, `year * 12 + month - 1` of the civil date
        // is `(era * 400 + year_of_era) * 12 + march_month + 2`.
        CohortPeriod::Month => {
            let z = days + lit(719_468i64);
            let era = floor_div(z.clone(), 146_097);
            let doe = z - era.clone() * lit(146_097i64);
            let yoe = (doe.clone() - doe.clone() / lit(1460i64) + doe.clone() / lit(36_524i64)
                - doe.clone() / lit(146_096i64))
                / lit(365i64);
            let doy = doe
                - (lit(365i64) * yoe.clone() + yoe.clone() / lit(4i64) - yoe.clone() / lit(100i64));
            let march_month = (lit(5i64) * doy + lit(2i64)) / lit(153i64);
            (era * lit(400i64) + yoe) * lit(12i64) + march_month + lit(2i64)
        }
    }
}

/// `floor(a / b)` for `b > 0` (SQL integer division truncates toward 0).
fn floor_div(a: Expr, b: i64) -> Expr {
    let rem = ((a.clone() % lit(b)) + lit(b)) % lit(b);
    (a - rem) / lit(b)
}

/// The last period shown: the one holding the last instant that exists
/// (as_of itself is excluded, so a period starting exactly at as_of is
/// empty by definition and not shown).
fn last_period(period: CohortPeriod, as_of: DateTime<Utc>) -> Result<i64> {
    let last = time::last_instant_before(as_of)?;
    Ok(period_index(period, last.date_naive()))
}

/// Most periods the one-pass plan ([`cells_by_masks`]) tracks: 8 masks of
/// 64 (42 years of months, nearly 10 of weeks). Longer histories take
/// [`cells_by_pairs`].
const MAX_MASK_PERIODS: i64 = 8 * 64;

async fn retention_report(
    cx: &Context<'_>,
    period: CohortPeriod,
    scope: &Scope,
) -> Result<Vec<(&'static str, DataFrame)>> {
    let last = last_period(period, cx.as_of)?;
    // No event is older than the first event partition's month.
    let first = cx
        .dataset
        .first_event_month()
        .map_or(last, |d| period_index(period, d).min(last));
    let cells = if last - first < MAX_MASK_PERIODS {
        cells_by_masks(cx, period, scope, first, last).await?
    } else {
        None
    };
    let cells = match cells {
        Some(cells) => cells,
        None => cells_by_pairs(cx, period, scope).await?,
    };

    // The triangle: every cohort × every period from its start to the last.
    let _memory = reserve_triangle(cx, &cells, last)?;
    let (mut starts, mut ks, mut sizes, mut actives, mut fractions) =
        (vec![], vec![], vec![], vec![], vec![]);
    for (&c, &n) in &cells.sizes {
        let start = time::date32(period_start(period, c)?);
        for k in 0..=(last - c).max(0) {
            let active = cells.active.get(&(c, k)).copied().unwrap_or(0);
            starts.push(start);
            ks.push(k);
            sizes.push(n);
            actives.push(active);
            fractions.push(active as f64 / n as f64);
        }
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("cohort_start", DataType::Date32, false),
        Field::new("period_index", DataType::Int64, false),
        Field::new("cohort_size", DataType::Int64, false),
        Field::new("active", DataType::Int64, false),
        Field::new("fraction", DataType::Float64, true),
    ]));
    let triangle = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Date32Array::from(starts)),
            Arc::new(Int64Array::from(ks)),
            Arc::new(Int64Array::from(sizes)),
            Arc::new(Int64Array::from(actives)),
            Arc::new(Float64Array::from(fractions)),
        ],
    )?;
    Ok(vec![("cohorts", values_frame(cx.ctx, &triangle)?)])
}

/// Most cells a retention triangle may have (about 36 MB of columns): ten
/// years of weekly cohorts have about 140,000, a century of monthly ones
/// about 720,000. An as_of far past the data would ask for millions.
const MAX_TRIANGLE_CELLS: u64 = 1_000_000;

/// Bytes of one triangle cell: a Date32, three Int64 and a Float64.
const TRIANGLE_CELL_BYTES: u64 = 36;

/// Checks the size of the triangle `cells` and `last` make, and reserves
/// its columns in the session's memory pool (released when dropped).
fn reserve_triangle(cx: &Context<'_>, cells: &Cells, last: i64) -> Result<MemoryReservation> {
    let total = cells.sizes.keys().fold(0u64, |n, &c| {
        n.saturating_add(u64::try_from(last.saturating_sub(c)).unwrap_or(0) + 1)
    });
    if total > MAX_TRIANGLE_CELLS {
        return Err(Error::ResourcesExhausted(format!(
            "the retention triangle would have {total} cells; at most {MAX_TRIANGLE_CELLS}: \
             choose an as_of nearer the data or monthly periods"
        )));
    }
    cx.reserve("retention triangle", (total * TRIANGLE_CELL_BYTES) as usize)
}

/// The non-empty cells of a retention matrix.
#[derive(Debug, Default)]
struct Cells {
    /// Cohort (period index of each profile's first active period) → size.
    sizes: BTreeMap<i64, i64>,
    /// (cohort, periods since its start) → profiles active then (> 0).
    active: HashMap<(i64, i64), i64>,
}

/// The retention cells in one aggregation over the events, grouped by
/// profile: the first active period (the cohort) and the set of active
/// periods as bits, bit `j` of mask `j / 64` standing for period `last -
/// j`; then one small aggregation by cohort counts each bit. Instead of
/// the distinct (profile, period) pairs, a hash table of 1 row per
/// profile. `None` if an event lies before `first` (a partition holding
/// events of another month): the masks would not cover it.
async fn cells_by_masks(
    cx: &Context<'_>,
    period: CohortPeriod,
    scope: &Scope,
    first: i64,
    last: i64,
) -> Result<Option<Cells>> {
    let span = last - first + 1;
    let masks = (span + 63) / 64;
    let p = period_index_expr(period, ident("event_time"));
    let back = lit(last) - p.clone();
    let mut per_profile_aggs = vec![min(p).alias("__c")];
    for i in 0..masks {
        let bit = if masks == 1 {
            bitwise_shift_left(lit(1i64), back.clone())
        } else {
            let lo = 64 * i;
            when(
                back.clone()
                    .gt_eq(lit(lo))
                    .and(back.clone().lt(lit(lo + 64))),
                bitwise_shift_left(lit(1i64), back.clone() - lit(lo)),
            )
            .otherwise(lit(0i64))?
        };
        per_profile_aggs.push(bit_or(bit).alias(format!("__m{i}")));
    }
    let per_profile = cx
        .events_of(cx.activity_types(), None)
        .await?
        .aggregate(vec![ident("profile_id")], per_profile_aggs)?;
    let per_profile = scope.restrict(cx, per_profile, RowsPerId::One).await?;
    let mut cohort_aggs = vec![count(lit(1i64)).alias("__n")];
    for j in 0..span {
        let mask = ident(format!("__m{}", j / 64));
        let bit = bitwise_and(bitwise_shift_right(mask, lit(j % 64)), lit(1i64));
        cohort_aggs.push(sum(bit).alias(format!("__a{j}")));
    }
    let batches = per_profile
        .aggregate(vec![ident("__c")], cohort_aggs)?
        .collect()
        .await?;

    let mut cells = Cells::default();
    for b in &batches {
        let (c, n) = (int64_column(b, 0)?, int64_column(b, 1)?);
        let bits = (0..span as usize)
            .map(|j| int64_column(b, 2 + j))
            .collect::<Result<Vec<_>>>()?;
        for row in 0..b.num_rows() {
            let c = c.value(row);
            if c < first {
                return Ok(None);
            }
            cells.sizes.insert(c, n.value(row));
            for k in 0..=(last - c) {
                let active = bits[(last - c - k) as usize].value(row);
                if active > 0 {
                    cells.active.insert((c, k), active);
                }
            }
        }
    }
    Ok(Some(cells))
}

/// Column `i` of a retention aggregate (every one is Int64).
fn int64_column(b: &RecordBatch, i: usize) -> Result<&Int64Array> {
    b.column(i)
        .as_any()
        .downcast_ref::<Int64Array>()
        .ok_or_else(|| Error::Internal("retention cells are not Int64".into()))
}

/// The retention cells from the distinct (profile, period) pairs: any
/// span of periods, at the cost of a hash table of every pair and a join.
async fn cells_by_pairs(cx: &Context<'_>, period: CohortPeriod, scope: &Scope) -> Result<Cells> {
    let activity = cx.events_of(cx.activity_types(), None).await?;
    let active = activity.aggregate(
        vec![
            ident("profile_id"),
            period_index_expr(period, ident("event_time")).alias("__p"),
        ],
        vec![],
    )?;
    let active = scope.restrict(cx, active, RowsPerId::Several).await?;
    let active = cx.cache(active, "retention active periods").await?;
    let cohort_of = active.clone().aggregate(
        vec![ident("profile_id").alias("__cpid")],
        vec![min(ident("__p")).alias("__c")],
    )?;
    // One row per profile builds the hash table; every active period probes.
    let cells = cohort_of
        .clone()
        .join(active, JoinType::Inner, &["__cpid"], &["profile_id"], None)?
        .aggregate(
            vec![
                ident("__c").alias("__cc"),
                (ident("__p") - ident("__c")).alias("__k"),
            ],
            vec![count(lit(1i64)).alias("active")],
        )?
        .collect()
        .await?;
    let sizes = cohort_of
        .aggregate(vec![ident("__c")], vec![count(lit(1i64)).alias("n")])?
        .collect()
        .await?;
    let mut out = Cells::default();
    for b in &sizes {
        let (c, n) = (int64_column(b, 0)?, int64_column(b, 1)?);
        out.sizes
            .extend(c.values().iter().copied().zip(n.values().iter().copied()));
    }
    for b in &cells {
        let (c, k, a) = (
            int64_column(b, 0)?,
            int64_column(b, 1)?,
            int64_column(b, 2)?,
        );
        for row in 0..b.num_rows() {
            out.active
                .insert((c.value(row), k.value(row)), a.value(row));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plan expression agrees with [`period_index`] on days around
    /// month, year, century and epoch boundaries, before 1970 included.
    #[tokio::test]
    async fn period_index_expr_matches_period_index() {
        let ctx = SessionContext::new();
        let mut days: Vec<NaiveDate> = Vec::new();
        for (y, m) in [
            (1600, 2),
            (1899, 12),
            (1900, 2),
            (1969, 12),
            (1970, 1),
            (2000, 2),
            (2024, 2),
            (2100, 3),
        ] {
            let first = NaiveDate::from_ymd_opt(y, m, 1).unwrap();
            for k in -40..40 {
                days.push(first + TimeDelta::days(k));
            }
        }
        let micros: Vec<i64> = days
            .iter()
            .flat_map(|d| {
                let t = d.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp_micros();
                [t, t + 1, t + 86_400_000_000 - 1]
            })
            .collect();
        let ty = DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, Some("UTC".into()));
        let schema = Arc::new(Schema::new(vec![Field::new("t", ty, false)]));
        let array =
            arrow::array::TimestampMicrosecondArray::from(micros.clone()).with_timezone("UTC");
        let batch = RecordBatch::try_new(schema, vec![Arc::new(array)]).unwrap();
        for period in [CohortPeriod::Week, CohortPeriod::Month] {
            let out = values_frame(&ctx, &batch)
                .unwrap()
                .select(vec![period_index_expr(period, ident("t")).alias("p")])
                .unwrap()
                .collect()
                .await
                .unwrap();
            let got: Vec<i64> = out
                .iter()
                .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
                .collect();
            let want: Vec<i64> = micros
                .iter()
                .map(|t| {
                    let d = DateTime::from_timestamp_micros(*t).unwrap().date_naive();
                    period_index(period, d)
                })
                .collect();
            assert_eq!(got, want, "{period:?}");
        }
    }

    #[test]
    fn period_indices_round_trip() {
        for period in [CohortPeriod::Week, CohortPeriod::Month] {
            let mut d = NaiveDate::from_ymd_opt(1969, 12, 1).unwrap();
            while d < NaiveDate::from_ymd_opt(1971, 3, 1).unwrap() {
                let i = period_index(period, d);
                let s = period_start(period, i).unwrap();
                assert!(s <= d && period_index(period, s) == i, "{period:?} {d} {s}");
                if period == CohortPeriod::Week {
                    assert_eq!(s.weekday(), chrono::Weekday::Mon);
                    assert!((d - s).num_days() < 7);
                } else {
                    assert_eq!((s.year(), s.month(), s.day()), (d.year(), d.month(), 1));
                }
                d = d.succ_opt().unwrap();
            }
        }
    }
}
