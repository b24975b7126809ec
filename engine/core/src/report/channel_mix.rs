//! The channel-mix report: classes and channels.

use arrow::array::AsArray;
use arrow::datatypes::{DataType, Int64Type};
use datafusion::common::JoinType;
use datafusion::functions_aggregate::expr_fn::{count, sum};
use datafusion::logical_expr::{GroupingSet, cast, when};
use datafusion::prelude::{DataFrame, Expr, coalesce, ident, lit};

use super::frames::{KEY, ORD, collect_one, labels, ratio, total, values_frame, zero_if_null};
use super::scope::Scope;
use crate::Result;
use crate::analytics::{AnalyticsParams, channel_mix};
use crate::scan::{RowsPerId, Scan};
use crate::time;

/// Channel-mix cells: true on per-profile (class) rows, false on
/// per-channel rows.
const BY_PROFILE: &str = "__by_profile";

pub(super) async fn tables(
    cx: &Scan<'_>,
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
