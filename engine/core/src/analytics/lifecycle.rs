//! Lifecycle states with window W (docs/design.md#lifecycle):
//! new, returning, resurrecting, dormant, lost; `never` without activity.

use datafusion::functions_aggregate::expr_fn::bit_or;
use datafusion::logical_expr::{Operator, binary_expr, when};
use datafusion::prelude::{DataFrame, ident, lit};
use strata_dsl::ast::{Duration, TimeUnit};

use super::AnalyticsParams;
use crate::plan::expr::{ts_lit, union_all};
use crate::plan::months::{self, Cover};
use crate::scan::Scan;
use crate::{Result, time};

/// The default window W.
pub const DEFAULT_WINDOW: Duration = Duration {
    amount: 90,
    unit: TimeUnit::Days,
};

/// The states, in report order.
pub const STATES: &[&str] = &[
    "new",
    "returning",
    "resurrecting",
    "dormant",
    "lost",
    "never",
];

/// Activity before the previous window P (bits of a profile's activity).
const BEFORE: i64 = 1;
/// Activity in P = `[as_of - 2W, as_of - W)`.
const IN_P: i64 = 2;
/// Activity in the current window C = `[as_of - W, as_of)`.
const IN_C: i64 = 4;

/// One row per profile with at least one activity before as_of:
/// `profile_id, lifecycle`. Profiles without a row are `never`.
///
/// A profile's state only depends on whether it was active before P, in P
/// and in C. Each event contributes one of those bits, and the months that
/// no window bound falls inside give it from their partition alone
/// (`months::split`), so `event_time` is read only in the (at most three)
/// months holding a bound: one `bit_or` per profile over the union.
pub(crate) async fn per_profile(cx: &Scan<'_>, p: &AnalyticsParams) -> Result<DataFrame> {
    let w = p.window.unwrap_or(DEFAULT_WINDOW);
    let c_start = time::sub_duration(cx.as_of, w)?;
    // P = [as_of - 2W, as_of - W), with 2W taken from as_of (for calendar
    // months this differs from applying W twice when month ends clamp).
    let twice = Duration {
        amount: w.amount.saturating_mul(2),
        unit: w.unit,
    };
    let p_start = time::sub_duration(cx.as_of, twice)?;
    let windows = [
        (None, p_start, BEFORE),
        (Some(p_start), c_start, IN_P),
        (Some(c_start), cx.as_of, IN_C),
    ];
    let t = || ident("event_time");
    let by_time = when(t().gt_eq(ts_lit(c_start)), lit(IN_C))
        .when(t().gt_eq(ts_lit(p_start)), lit(IN_P))
        .otherwise(lit(BEFORE))?;

    let last = months::month_of_instant(time::last_instant_before(cx.as_of)?);
    let first = cx.dataset.first_event_month().map_or(last, |f| f.min(last));
    let mut scans = Vec::new();
    for branch in months::split(first, last, &[p_start, c_start, cx.as_of]) {
        // A timeless branch lies in one window; a timed one (never covered
        // whole) compares each event's time.
        let bit = windows
            .iter()
            .find(|(start, end, _)| branch.cover(*start, *end) == Cover::All)
            .map_or_else(|| by_time.clone(), |(_, _, bit)| lit(*bit));
        let scan = cx
            .events_in(cx.activity_types(), &branch)
            .await?
            .select(vec![ident("profile_id"), bit.alias(BIT)])?;
        scans.push(scan);
    }
    let activity = union_all(scans)?;
    let per = activity.aggregate(
        vec![ident("profile_id")],
        vec![bit_or(ident(BIT)).alias(BITS)],
    )?;
    let bits = || ident(BITS);
    let has = |bit: i64| binary_expr(bits(), Operator::BitwiseAnd, lit(bit)).not_eq(lit(0i64));
    Ok(per.select(vec![
        ident("profile_id"),
        when(bits().eq(lit(IN_C)), lit("new"))
            .when(has(IN_C).and(has(IN_P)), lit("returning"))
            .when(has(IN_C), lit("resurrecting"))
            .when(has(IN_P), lit("dormant"))
            .otherwise(lit("lost"))?
            .alias("lifecycle"),
    ])?)
}

/// The bit of one event, and the bits of a profile.
const BIT: &str = "__strata_life_bit";
const BITS: &str = "__strata_life_bits";
