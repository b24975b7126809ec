//! The reports: RFM, channel mix, lifecycle and retention as small named
//! tables (docs/design.md#semantics), built with the DataFrame/Expr API.
//!
//! Every report is an aggregation of the same per-profile table a DSL
//! built-in joins (`analytics::rfm::per_profile` and friends), restricted to
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

use std::sync::Arc;

use arrow::array::RecordBatch;
use chrono::{DateTime, Utc};

use crate::analytics::AnalyticsParams;
use crate::scan::Scan;
use crate::{Error, Result};

mod channel_mix;
mod frames;
mod lifecycle;
mod retention;
mod rfm;
mod scope;
mod write;

use scope::Scope;
pub(crate) use write::write;

/// Directory of written reports inside a dataset: `<data>/reports/`.
pub const REPORTS_DIR: &str = "reports";

/// Most RFM bins a report accepts (the grid has bins² cells).
pub const MAX_REPORT_BINS: u32 = 100;

/// The four reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportKind {
    Rfm,
    ChannelMix,
    Lifecycle,
    Retention,
}

/// Calendar period of a retention cohort (UTC; weeks start on Monday).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum CohortPeriod {
    Week,
    #[default]
    Month,
}

/// What a report is computed over.
#[derive(Debug, Clone)]
pub struct ReportRequest {
    pub as_of: DateTime<Utc>,
    /// Restrict the report to the members of this (checked) segment.
    pub segment: Option<strata_dsl::ast::Segment>,
    pub params: AnalyticsParams,
    /// Retention only.
    pub period: CohortPeriod,
}

/// A report: one or more named tables of Arrow data, small enough to hold
/// in memory (segment sizes, distributions, a cohort matrix).
#[derive(Debug, Clone)]
pub struct Report {
    pub kind: ReportKind,
    pub as_of: DateTime<Utc>,
    /// `(name, batches)`, e.g. `("segments", ..)`, `("scores", ..)`.
    pub tables: Vec<(String, Vec<RecordBatch>)>,
}

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

/// Computes report `kind` at the scan's as_of over every profile, or over
/// the members of `req.segment`. See the module docs for the tables.
pub(crate) async fn run(cx: &Scan<'_>, kind: ReportKind, req: &ReportRequest) -> Result<Report> {
    if let Some(bins) = req.params.bins
        && (bins == 0 || bins > MAX_REPORT_BINS)
    {
        return Err(Error::InvalidArgument(format!(
            "bins must be between 1 and {MAX_REPORT_BINS}, not {bins}"
        )));
    }
    let scope = Scope::of(cx, req).await?;
    let frames = match kind {
        ReportKind::Rfm => rfm::tables(cx, &req.params, &scope).await?,
        ReportKind::ChannelMix => channel_mix::tables(cx, &req.params, &scope).await?,
        ReportKind::Lifecycle => lifecycle::tables(cx, &req.params, &scope).await?,
        ReportKind::Retention => retention::tables(cx, req.period, &scope).await?,
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
