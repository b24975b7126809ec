//! RFM: recency, frequency, monetary scores with rank-based bins and the
//! named segments (DESIGN.md "Semantics", RFM).

use arrow::datatypes::DataType;
use datafusion::common::JoinType;
use datafusion::functions_aggregate::count::count_udaf;
use datafusion::functions_aggregate::expr_fn::{count, max, sum};
use datafusion::functions_aggregate::sum::sum_udaf;
use datafusion::functions_window::expr_fn::rank;
use datafusion::logical_expr::expr::WindowFunction;
use datafusion::logical_expr::{ExprFunctionExt, cast, when};
use datafusion::prelude::{DataFrame, Expr, coalesce, ident, lit};

use super::{AnalyticsParams, Context, RowsPerId};
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
    let inputs = cx
        .only_profiles(per_id, RowsPerId::One)
        .await?
        .select(vec![
            ident("profile_id"),
            ((lit(as_of_micros) - cast(ident("last_purchase"), DataType::Int64))
                / lit(MICROS_PER_DAY))
            .alias("recency_days"),
            ident("frequency"),
            coalesce(vec![
                cast(ident(MONETARY_SUM), DataType::Float64),
                lit(0f64),
            ])
            .alias("monetary"),
            ident(MONETARY_SUM),
        ])?;

    // Held once: it is read three times below (two histograms and the
    // scoring), and each read would otherwise aggregate the events again.
    let inputs = inputs.cache().await?;

    // r and f rank small integer domains (days, counts): RANK() is one plus
    // the number of rows ranked before, counted on a histogram of the
    // values (a few hundred rows) and joined back, instead of sorting every
    // scored profile twice. m ranks sums of money, nearly all distinct: a
    // window RANK.
    let r = counted_score(&inputs, "recency_days", false, bins)?;
    let f = counted_score(&inputs, "frequency", true, bins)?;
    let n = Expr::from(WindowFunction::new(count_udaf(), vec![lit(1i64)]));
    let m_rank = cast(
        rank()
            .order_by(vec![ident("monetary").sort(true, true)])
            .build()?,
        DataType::Int64,
    );
    let m = lit(1i64) + lit(bins) * (m_rank - lit(1i64)) / cast(n, DataType::Int64);
    // The histograms are the build sides (left: joins keep their order).
    let with_r = r.join(inputs, JoinType::Inner, &[R_VALUE], &["recency_days"], None)?;
    let scored = f
        .join(with_r, JoinType::Inner, &[F_VALUE], &["frequency"], None)?
        .select(vec![
            ident("profile_id"),
            ident("recency_days"),
            ident("frequency"),
            ident("monetary"),
            ident(MONETARY_SUM),
            ident(format!("{R_VALUE}_score")).alias("r"),
            ident(format!("{F_VALUE}_score")).alias("f"),
            m.alias("m"),
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

const R_VALUE: &str = "__rfm_r_value";
const F_VALUE: &str = "__rfm_f_value";

/// `(value, score)` for every distinct value of `column` in `inputs`, the
/// score being `1 + floor(bins * (RANK() - 1) / n)` with RANK() over
/// `column` ascending or descending: RANK() - 1 is the number of rows with
/// a value ranked strictly before, a running sum over the histogram.
/// Columns: `__rfm_{r|f}_value` and `__rfm_{r|f}_value_score`.
fn counted_score(
    inputs: &DataFrame,
    column: &str,
    ascending: bool,
    bins: i64,
) -> Result<DataFrame> {
    let value = if column == "recency_days" {
        R_VALUE
    } else {
        F_VALUE
    };
    let rows = || ident("__rows");
    let hist = inputs.clone().aggregate(
        vec![ident(column).alias(value)],
        vec![count(lit(1i64)).alias("__rows")],
    )?;
    // The values are distinct: the default frame (up to the current value)
    // sums the rows of this value and of every value ranked before it.
    let window_sum = || Expr::from(WindowFunction::new(sum_udaf(), vec![rows()]));
    let upto = window_sum()
        .order_by(vec![ident(value).sort(ascending, true)])
        .build()?;
    let n = window_sum();
    let before = cast(upto, DataType::Int64) - rows();
    Ok(hist.select(vec![
        ident(value),
        (lit(1i64) + lit(bins) * before / cast(n, DataType::Int64)).alias(format!("{value}_score")),
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
