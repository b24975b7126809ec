//! Materialized per-profile features: `<data>/features/profile_features.parquet`.
//!
//! One row per profile with what segments and reports ask for again and
//! again: first/last purchase and activity, purchase count and revenue
//! overall and per channel class, the RFM inputs and scores, the channel-mix
//! class and the lifecycle state, all at the default parameters.
//!
//! The file is stamped (Parquet key-value metadata) with the dataset version
//! and the as_of it was built for. The compiler uses it only when both match
//! the query — a stale feature table is never used — and falls back to the
//! events otherwise. Building features does not change the dataset version:
//! they derive from the data, they do not change what a segment means.

use std::path::PathBuf;

use arrow::datatypes::DataType;
use datafusion::common::JoinType;
use datafusion::functions_aggregate::expr_fn::{count, max, min, sum};
use datafusion::logical_expr::{ExprFunctionExt, cast};
use datafusion::prelude::{DataFrame, Expr, coalesce, ident, lit};
use futures::StreamExt;
use parquet::file::metadata::KeyValue;

use crate::Result;
use crate::analytics::{self, AnalyticsParams};
use crate::dataset::features_file::{
    FeatureStamp, KEY_AS_OF, KEY_VERSION, RFM_COLUMNS, features_path,
};
use crate::plan::tables::PROFILES;
use crate::scan::Scan;

/// What [`crate::Engine::refresh_features`] wrote.
#[derive(Debug, Clone)]
pub struct FeaturesSummary {
    pub path: PathBuf,
    pub rows: u64,
    pub stamp: FeatureStamp,
}

/// Builds the features for the scan's as_of and writes them atomically.
pub(crate) async fn refresh(cx: &Scan<'_>) -> Result<FeaturesSummary> {
    let as_of = cx.as_of;
    let df = features_frame(cx).await?;
    let stamp = FeatureStamp {
        dataset_version: cx.dataset.version_id(),
        as_of,
    };
    let schema = std::sync::Arc::new(df.schema().as_arrow().clone());
    let props = strata_datasets::writer_properties_builder()
        .set_key_value_metadata(Some(vec![
            KeyValue::new(KEY_VERSION.to_string(), stamp.dataset_version.clone()),
            KeyValue::new(KEY_AS_OF.to_string(), as_of.to_rfc3339()),
        ]))
        .build();
    let path = features_path(cx.dataset.dir());
    std::fs::create_dir_all(path.parent().expect("features dir"))?;
    let mut writer = strata_datasets::AtomicParquetWriter::create(&path, schema, props)?;
    let mut stream = df
        .sort(vec![ident("profile_id").sort(true, false)])?
        .execute_stream()
        .await?;
    while let Some(batch) = stream.next().await {
        writer.write(&batch?)?;
    }
    let rows = writer.rows();
    writer.finish()?;
    Ok(FeaturesSummary { path, rows, stamp })
}

/// All profiles, left-joined with their purchase and activity aggregates
/// and the built-in tables at default parameters.
async fn features_frame(cx: &Scan<'_>) -> Result<DataFrame> {
    let channels = &cx.dataset.manifest().channels;
    let in_list =
        |l: &[String]| ident("channel").in_list(l.iter().cloned().map(lit).collect(), false);
    // Revenue as Float64 (like rfm.monetary), optionally for one channel class.
    let revenue = |class: Option<&[String]>| -> Result<Expr> {
        let s = sum(ident("amount"));
        let s = match class {
            Some(l) => s.filter(in_list(l)).build()?,
            None => s,
        };
        Ok(cast(s, DataType::Float64))
    };
    let orders =
        |class: &[String]| -> Result<Expr> { Ok(count(lit(1i64)).filter(in_list(class)).build()?) };
    let purchases = cx.events_of(cx.purchase_types(), None).await?.aggregate(
        vec![ident("profile_id").alias("p_pid")],
        vec![
            min(ident("event_time")).alias("first_purchase"),
            max(ident("event_time")).alias("last_purchase"),
            count(lit(1i64)).alias("purchase_count"),
            revenue(None)?.alias("revenue"),
            orders(&channels.online)?.alias("online_orders"),
            revenue(Some(&channels.online))?.alias("online_revenue"),
            orders(&channels.offline)?.alias("offline_orders"),
            revenue(Some(&channels.offline))?.alias("offline_revenue"),
        ],
    )?;
    let activity = cx.events_of(cx.activity_types(), None).await?.aggregate(
        vec![ident("profile_id").alias("a_pid")],
        vec![
            min(ident("event_time")).alias("first_activity"),
            max(ident("event_time")).alias("last_activity"),
        ],
    )?;
    let defaults = AnalyticsParams::default();
    let rfm = analytics::rfm::per_profile(cx, &defaults).await?;
    let rfm = rfm.select(
        std::iter::once(ident("profile_id").alias("r_pid"))
            .chain(
                RFM_COLUMNS
                    .iter()
                    .map(|(feature, column)| ident(*column).alias(*feature)),
            )
            .collect::<Vec<Expr>>(),
    )?;
    let mix = analytics::channel_mix::per_profile(cx, &defaults)
        .await?
        .select(vec![
            ident("profile_id").alias("c_pid"),
            ident("channel_mix"),
        ])?;
    let life = analytics::lifecycle::per_profile(cx, &defaults)
        .await?
        .select(vec![ident("profile_id").alias("l_pid"), ident("lifecycle")])?;

    let profiles = cx
        .ctx
        .table(PROFILES)
        .await?
        .select(vec![ident("profile_id")])?;
    // Every profile, with each per-profile table (rows only for profiles
    // with events: the hash table's side) joined in.
    let mut joined = profiles;
    for (table, pid) in [
        (purchases, "p_pid"),
        (activity, "a_pid"),
        (rfm, "r_pid"),
        (mix, "c_pid"),
        (life, "l_pid"),
    ] {
        joined = table.join(joined, JoinType::Right, &[pid], &["profile_id"], None)?;
    }
    let zero = |c: &str| coalesce(vec![ident(c), lit(0i64)]).alias(c);
    let zero_f = |c: &str| coalesce(vec![ident(c), lit(0f64)]).alias(c);
    let mut cols = vec![
        ident("profile_id"),
        ident("first_purchase"),
        ident("last_purchase"),
        zero("purchase_count"),
        zero_f("revenue"),
        zero("online_orders"),
        zero_f("online_revenue"),
        zero("offline_orders"),
        zero_f("offline_revenue"),
        ident("first_activity"),
        ident("last_activity"),
    ];
    cols.extend(RFM_COLUMNS.iter().map(|(f, _)| ident(*f)));
    cols.push(coalesce(vec![ident("channel_mix"), lit("none")]).alias("channel_mix"));
    cols.push(coalesce(vec![ident("lifecycle"), lit("never")]).alias("lifecycle"));
    Ok(joined.select(cols)?)
}
