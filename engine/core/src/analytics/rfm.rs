//! RFM: recency, frequency, monetary scores with rank-based bins and the
//! named segments (DESIGN.md "Semantics", RFM).

use arrow::datatypes::DataType;
use datafusion::functions_aggregate::count::count_udaf;
use datafusion::functions_aggregate::expr_fn::{count, max, sum};
use datafusion::functions_window::expr_fn::rank;
use datafusion::logical_expr::expr::WindowFunction;
use datafusion::logical_expr::{ExprFunctionExt, cast, when};
use datafusion::prelude::{DataFrame, Expr, coalesce, ident, lit};

use super::{AnalyticsParams, Context};
use crate::Result;
use crate::time;

/// Default number of score bins.
pub const DEFAULT_BINS: u32 = 5;

/// Named segments, in the order their rules are tried.
pub const SEGMENTS: &[&str] = &[
    "hibernating",
    "at_risk",
    "cannot_lose",
    "about_to_sleep",
    "need_attention",
    "loyal",
    "promising",
    "new_customers",
    "potential_loyalists",
    "champions",
];

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Column of [`scored`]: the profile's `sum(amount)` in the amount's own
/// type (exact for decimals), which reports add up before converting.
pub(crate) const MONETARY_SUM: &str = "__rfm_monetary_sum";

/// One row per profile with at least one purchase before as_of (within the
/// lookback, if any): `profile_id, recency_days, frequency, monetary, r, f,
/// m, segment`.
pub async fn per_profile(cx: &Context<'_>, p: &AnalyticsParams) -> Result<DataFrame> {
    Ok(scored(cx, p).await?.drop_columns(&[MONETARY_SUM])?)
}

/// [`per_profile`] plus [`MONETARY_SUM`]. `monetary` (Float64, what the
/// DSL's `rfm.monetary` compares and what `m` ranks) is rounded; sums of
/// it depend on the order rows arrive in, so reports sum [`MONETARY_SUM`]
/// instead and convert once at the end (deterministic answers).
pub(crate) async fn scored(cx: &Context<'_>, p: &AnalyticsParams) -> Result<DataFrame> {
    let bins = i64::from(p.bins.unwrap_or(DEFAULT_BINS));
    let since = p
        .window
        .map(|w| time::sub_duration(cx.as_of, w))
        .transpose()?;
    let as_of_micros = cx.as_of.timestamp_micros();
    let purchases = cx.events_of(cx.purchase_types(), since).await?;
    let per_id = purchases.aggregate(
        vec![ident("profile_id")],
        vec![
            max(ident("event_time")).alias("last_purchase"),
            count(lit(1i64)).alias("frequency"),
            sum(ident("amount")).alias(MONETARY_SUM),
        ],
    )?;
    // Only profiles are scored: events of ids without a profile row take no
    // part in the ranking (n counts profiles). Restricted here, after the
    // aggregation, on one row per id.
    let inputs = cx.only_profiles(per_id).await?.select(vec![
        ident("profile_id"),
        ((lit(as_of_micros) - cast(ident("last_purchase"), DataType::Int64)) / lit(MICROS_PER_DAY))
            .alias("recency_days"),
        ident("frequency"),
        coalesce(vec![
            cast(ident(MONETARY_SUM), DataType::Float64),
            lit(0f64),
        ])
        .alias("monetary"),
        ident(MONETARY_SUM),
    ])?;

    let n = Expr::from(WindowFunction::new(count_udaf(), vec![lit(1i64)]));
    let score = |order: Expr| -> Result<Expr> {
        let rank = cast(
            rank().order_by(vec![order.sort(true, true)]).build()?,
            DataType::Int64,
        );
        Ok(lit(1i64) + lit(bins) * (rank - lit(1i64)) / cast(n.clone(), DataType::Int64))
    };
    // recency ranks DESC: the longest ago gets rank 1 (score 1).
    let r_rank = {
        let rank = cast(
            rank()
                .order_by(vec![ident("recency_days").sort(false, true)])
                .build()?,
            DataType::Int64,
        );
        lit(1i64) + lit(bins) * (rank - lit(1i64)) / cast(n.clone(), DataType::Int64)
    };
    let scored = inputs.select(vec![
        ident("profile_id"),
        ident("recency_days"),
        ident("frequency"),
        ident("monetary"),
        ident(MONETARY_SUM),
        r_rank.alias("r"),
        score(ident("frequency"))?.alias("f"),
        score(ident("monetary"))?.alias("m"),
    ])?;
    Ok(scored.select(vec![
        ident("profile_id"),
        ident("recency_days"),
        ident("frequency"),
        ident("monetary"),
        ident("r"),
        ident("f"),
        ident("m"),
        segment_expr(ident("r"), ident("f")).alias("segment"),
        ident(MONETARY_SUM),
    ])?)
}

/// The named segment of (r, f); first matching rule wins.
pub(crate) fn segment_expr(r: Expr, f: Expr) -> Expr {
    let le = |e: &Expr, v: i64| e.clone().lt_eq(lit(v));
    let eq = |e: &Expr, v: i64| e.clone().eq(lit(v));
    let ge = |e: &Expr, v: i64| e.clone().gt_eq(lit(v));
    when(le(&r, 2).and(le(&f, 2)), lit("hibernating"))
        .when(le(&r, 2).and(le(&f, 4)), lit("at_risk"))
        .when(le(&r, 2), lit("cannot_lose"))
        .when(eq(&r, 3).and(le(&f, 2)), lit("about_to_sleep"))
        .when(eq(&r, 3).and(eq(&f, 3)), lit("need_attention"))
        .when((eq(&r, 3).or(eq(&r, 4))).and(ge(&f, 4)), lit("loyal"))
        .when(eq(&r, 4).and(eq(&f, 1)), lit("promising"))
        .when(eq(&r, 5).and(eq(&f, 1)), lit("new_customers"))
        .when(ge(&r, 4).and(le(&f, 3)), lit("potential_loyalists"))
        .otherwise(lit("champions"))
        .expect("CASE with branches")
}
