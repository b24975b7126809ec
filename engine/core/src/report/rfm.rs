//! The RFM report: segments, scores, grid.

use arrow::datatypes::DataType;
use datafusion::common::JoinType;
use datafusion::functions_aggregate::expr_fn::{count, sum};
use datafusion::logical_expr::cast;
use datafusion::prelude::{DataFrame, coalesce, ident, lit};

use super::frames::{KEY, ORD, labels, range, ratio, total, zero_if_null};
use super::scope::{Scope, in_scope};
use crate::Result;
use crate::analytics::{AnalyticsParams, rfm};
use crate::scan::Scan;

pub(super) async fn tables(
    cx: &Scan<'_>,
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
            rfm::segment_expr(ident("r"), ident("f"), i64::from(bins)).alias("segment"),
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
