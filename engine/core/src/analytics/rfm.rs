//! RFM: recency, frequency, monetary scores with rank-based bins and the
//! named segments (docs/design.md#rfm).

use std::cmp::Ordering;

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Float64Type, Int64Type};
use datafusion::common::ScalarValue;
use datafusion::functions_aggregate::expr_fn::{count, max, sum};
use datafusion::logical_expr::{cast, when};
use datafusion::prelude::{DataFrame, Expr, coalesce, ident, lit};

use super::AnalyticsParams;
use crate::scan::{RowsPerId, Scan};
use crate::time;
use crate::{Error, Result};

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
pub(crate) async fn per_profile(cx: &Scan<'_>, p: &AnalyticsParams) -> Result<DataFrame> {
    Ok(scored(cx, p).await?.drop_columns(&[MONETARY_SUM])?)
}

/// [`per_profile`] plus [`MONETARY_SUM`]. `monetary` (Float64, what the
/// DSL's `rfm.monetary` compares and what `m` ranks) is rounded; sums of
/// it depend on the order rows arrive in, so reports sum [`MONETARY_SUM`]
/// instead and convert once at the end (deterministic answers).
pub(crate) async fn scored(cx: &Scan<'_>, p: &AnalyticsParams) -> Result<DataFrame> {
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

    // Held once: read for the order statistics, then scored.
    let inputs = cx.cache(inputs, "rfm inputs").await?;

    // A score is monotone in its value, so it is 1 plus the number of
    // score boundaries the value lies beyond: the boundaries are order
    // statistics of the column (see `boundaries`), found here on the
    // collected columns, and the scoring is a projection of comparisons.
    // (Instead of a window RANK over every scored profile per score.)
    let columns = inputs
        .clone()
        .select(vec![
            ident("recency_days"),
            ident("frequency"),
            ident("monetary"),
        ])?
        .collect()
        .await?;
    // The collected columns and their copies below, 24 bytes a buyer.
    let rows: usize = columns.iter().map(|b| b.num_rows()).sum();
    let held: usize = columns.iter().map(|b| b.get_array_memory_size()).sum();
    let _memory = cx.reserve("rfm score columns", held + rows * 24)?;
    let (mut recency, mut frequency, mut monetary) = (vec![], vec![], vec![]);
    for b in &columns {
        if b.columns().iter().any(|c| c.null_count() > 0) {
            return Err(Error::Internal("NULL RFM input".into()));
        }
        recency.extend_from_slice(b.column(0).as_primitive::<Int64Type>().values());
        frequency.extend_from_slice(b.column(1).as_primitive::<Int64Type>().values());
        monetary.extend_from_slice(b.column(2).as_primitive::<Float64Type>().values());
    }
    // r ranks recency descending (the most recent buyers score highest).
    let r = score(
        ident("recency_days"),
        boundaries(&mut recency, |a, b| b.cmp(a), bins),
        Expr::lt,
    );
    let f = score(
        ident("frequency"),
        boundaries(&mut frequency, i64::cmp, bins),
        Expr::gt,
    );
    let m = score(
        ident("monetary"),
        boundaries(&mut monetary, f64::total_cmp, bins),
        Expr::gt,
    );
    let scored = inputs.select(vec![
        ident("profile_id"),
        ident("recency_days"),
        ident("frequency"),
        ident("monetary"),
        r.alias("r"),
        f.alias("f"),
        m.alias("m"),
        ident(MONETARY_SUM),
    ])?;
    Ok(scored.select(vec![
        ident("profile_id"),
        ident("recency_days"),
        ident("frequency"),
        ident("monetary"),
        ident("r"),
        ident("f"),
        ident("m"),
        segment_expr(ident("r"), ident("f"), bins).alias("segment"),
        ident(MONETARY_SUM),
    ])?)
}

/// The score boundaries of `values` ranked by `order` into `bins` bins:
/// for s in 1..bins, the value at 0-based position `ceil(s * n / bins) -
/// 1` of `values` sorted by `order` (`values` is reordered).
///
/// The score `1 + floor(bins * (RANK() - 1) / n)` of a value v is 1 plus
/// the number of s in 1..bins with `RANK() - 1 >= ceil(s * n / bins)`
/// (floor counts the whole s below its argument; RANK() - 1 is an
/// integer). RANK() - 1 is the number of values ranked strictly before v,
/// and "at least k values strictly before v" holds exactly when v is
/// ranked after the k-th value of the sorted list (position k - 1). So the
/// score is 1 plus the number of boundaries v is ranked after, ties
/// included (equal values get equal scores, as RANK gives them).
fn boundaries<T: Copy>(values: &mut [T], order: impl Fn(&T, &T) -> Ordering, bins: i64) -> Vec<T> {
    let n = values.len() as i64;
    if n == 0 {
        return vec![];
    }
    let mut out = Vec::with_capacity(bins as usize);
    // Positions are non-decreasing in s. After a selection at `pos`,
    // `values[..=pos]` are the `pos + 1` first values with the boundary at
    // `pos`, so the next selection looks only at what lies after it.
    let mut selected = 0usize;
    for s in 1..bins {
        let pos = ((s * n + bins - 1) / bins - 1) as usize;
        if pos >= selected {
            values[selected..].select_nth_unstable_by(pos - selected, &order);
            selected = pos + 1;
        }
        out.push(values[pos]);
    }
    out
}

/// `1 + (number of boundaries b with beyond(column, b))`, as Int64.
fn score<T>(column: Expr, boundaries: Vec<T>, beyond: fn(Expr, Expr) -> Expr) -> Expr
where
    ScalarValue: From<T>,
{
    boundaries.into_iter().fold(lit(1i64), |acc, b| {
        acc + cast(
            beyond(column.clone(), lit(ScalarValue::from(b))),
            DataType::Int64,
        )
    })
}

/// The named segment of scores (r, f) out of `bins`: the rules are
/// written for 5-point scores, so other scores are first rescaled to 5
/// ([`five_point`]); first matching rule wins.
pub(crate) fn segment_expr(r: Expr, f: Expr, bins: i64) -> Expr {
    let (r, f) = (five_point(r, bins), five_point(f, bins));
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

/// The 5-point score of score `s` (1..=bins): s's place between 1 and
/// `bins` mapped linearly onto 1..5 and rounded half up,
/// `floor((8 (s - 1) + bins - 1) / (2 (bins - 1))) + 1` on integers
/// (the numerator is never negative, so the division truncates like
/// floor). The lowest score stays 1 and the highest becomes 5, so the
/// corner segments (champions, hibernating, cannot_lose, new_customers)
/// exist for any bins from 2 up; one bin is the middle, 3.
fn five_point(s: Expr, bins: i64) -> Expr {
    match bins {
        5 => s,
        1 => lit(3i64),
        _ => (lit(8i64) * (s - lit(1i64)) + lit(bins - 1)) / lit(2 * (bins - 1)) + lit(1i64),
    }
}
