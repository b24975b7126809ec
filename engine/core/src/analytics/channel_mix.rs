//! Channel mix: online only, offline only, omnichannel or none, from the
//! channels of a profile's purchases (docs/design.md#channel-mix).

use datafusion::functions_aggregate::expr_fn::count;
use datafusion::logical_expr::{ExprFunctionExt, when};
use datafusion::prelude::{DataFrame, Expr, ident, lit};

use super::AnalyticsParams;
use crate::Result;
use crate::scan::Scan;
use crate::time;

/// The classes, in report order.
pub const CLASSES: &[&str] = &["online_only", "offline_only", "omnichannel", "none"];

/// One row per profile with at least one purchase before as_of (within the
/// window, if any): `profile_id, channel_mix`. Profiles without a row are
/// `none`.
pub(crate) async fn per_profile(cx: &Scan<'_>, p: &AnalyticsParams) -> Result<DataFrame> {
    let since = p
        .window
        .map(|w| time::sub_duration(cx.as_of, w))
        .transpose()?;
    let purchases = cx.events_of(cx.purchase_types(), since).await?;
    let per = purchases.aggregate(vec![ident("profile_id")], class_counts(cx)?.to_vec())?;
    Ok(per.select(vec![
        ident("profile_id"),
        class(
            ident("online").gt(lit(0i64)),
            ident("offline").gt(lit(0i64)),
        )?
        .alias("channel_mix"),
    ])?)
}

/// `channel IN (the channels of `list`)`.
pub(crate) fn in_channels(list: &[String]) -> Expr {
    ident("channel").in_list(list.iter().cloned().map(lit).collect(), false)
}

/// The aggregates `online` and `offline`: rows through a channel of the
/// manifest's online / offline class (input to [`class`]).
pub(crate) fn class_counts(cx: &Scan<'_>) -> Result<[Expr; 2]> {
    let channels = &cx.dataset.manifest().channels;
    Ok([
        count(lit(1i64))
            .filter(in_channels(&channels.online))
            .build()?
            .alias("online"),
        count(lit(1i64))
            .filter(in_channels(&channels.offline))
            .build()?
            .alias("offline"),
    ])
}

/// The class of a profile that has (`online`, `offline`) purchases through
/// an online / offline channel.
pub(crate) fn class(online: Expr, offline: Expr) -> Result<Expr> {
    Ok(
        when(online.clone().and(offline.clone()), lit("omnichannel"))
            .when(online, lit("online_only"))
            .when(offline, lit("offline_only"))
            .otherwise(lit("none"))?,
    )
}
