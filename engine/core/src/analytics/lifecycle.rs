//! Lifecycle states with window W (DESIGN.md "Semantics", lifecycle):
//! new, returning, resurrecting, dormant, lost; `never` without activity.

use datafusion::functions_aggregate::expr_fn::{count, min};
use datafusion::logical_expr::{ExprFunctionExt, when};
use datafusion::prelude::{DataFrame, ident, lit};
use strata_dsl::ast::{Duration, TimeUnit};

use super::{AnalyticsParams, Context};
use crate::Result;
use crate::compile::ts_lit;
use crate::time;

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

/// One row per profile with at least one activity before as_of:
/// `profile_id, lifecycle`. Profiles without a row are `never`.
pub async fn per_profile(cx: &Context<'_>, p: &AnalyticsParams) -> Result<DataFrame> {
    let w = p.window.unwrap_or(DEFAULT_WINDOW);
    let c_start = time::sub_duration(cx.as_of, w)?;
    // P = [as_of - 2W, as_of - W), with 2W taken from as_of (for calendar
    // months this differs from applying W twice when month ends clamp).
    let twice = Duration {
        amount: w.amount.saturating_mul(2),
        unit: w.unit,
    };
    let p_start = time::sub_duration(cx.as_of, twice)?;
    let activity = cx.events_of(cx.activity_types(), None).await?;
    let t = || ident("event_time");
    let per = activity.aggregate(
        vec![ident("profile_id")],
        vec![
            min(t()).alias("first_activity"),
            count(lit(1i64))
                .filter(t().gt_eq(ts_lit(c_start)))
                .build()?
                .alias("in_c"),
            count(lit(1i64))
                .filter(t().gt_eq(ts_lit(p_start)).and(t().lt(ts_lit(c_start))))
                .build()?
                .alias("in_p"),
        ],
    )?;
    let in_c = ident("in_c").gt(lit(0i64));
    let in_p = ident("in_p").gt(lit(0i64));
    Ok(per.select(vec![
        ident("profile_id"),
        when(ident("first_activity").gt_eq(ts_lit(c_start)), lit("new"))
            .when(in_c.clone().and(in_p.clone()), lit("returning"))
            .when(in_c, lit("resurrecting"))
            .when(in_p, lit("dormant"))
            .otherwise(lit("lost"))?
            .alias("lifecycle"),
    ])?)
}
