//! The lifecycle report: states.

use std::sync::Arc;

use arrow::array::{AsArray, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Int64Type, Schema};
use datafusion::common::JoinType;
use datafusion::functions_aggregate::expr_fn::count;
use datafusion::prelude::{DataFrame, coalesce, ident, lit};

use super::frames::{KEY, collect_one, values_frame};
use super::scope::{SCOPE_PID, Scope};
use crate::analytics::{AnalyticsParams, lifecycle};
use crate::scan::Scan;
use crate::{Error, Result};

pub(super) async fn tables(
    cx: &Scan<'_>,
    p: &AnalyticsParams,
    scope: &Scope,
) -> Result<Vec<(&'static str, DataFrame)>> {
    let states = lifecycle::per_profile(cx, p).await?.select(vec![
        ident("profile_id").alias("__lpid"),
        ident("lifecycle"),
    ])?;
    // The states (profiles with activity) build the hash table; every
    // profile in scope probes it.
    let by_state = states
        .join(
            scope.ids(cx).await?,
            JoinType::Right,
            &["__lpid"],
            &[SCOPE_PID],
            None,
        )?
        .aggregate(
            vec![coalesce(vec![ident("lifecycle"), lit("never")]).alias(KEY)],
            vec![count(lit(1i64)).alias("profiles")],
        )?;
    // At most six rows: the table (every state in order, churned last,
    // shares of the profiles in scope) is put together here from them, as
    // one VALUES plan. (Joined and unioned as plans, the little table made
    // a cross join that Ballista 55 plans with a partitioned left side and
    // rejects.)
    let counts = collect_one(by_state).await?;
    let names = arrow::compute::cast(counts.column(0), &DataType::Utf8)?;
    let (Some(names), Some(profiles)) = (
        names.as_string_opt::<i32>(),
        counts.column(1).as_primitive_opt::<Int64Type>(),
    ) else {
        return Err(Error::Internal(format!(
            "lifecycle counts have types {:?}",
            counts.schema()
        )));
    };
    let of = |state: &str| -> i64 {
        (0..arrow::array::Array::len(names))
            .find(|&i| names.value(i) == state)
            .map_or(0, |i| profiles.value(i))
    };
    let mut rows: Vec<(&str, i64)> = lifecycle::STATES.iter().map(|s| (*s, of(s))).collect();
    let total: i64 = rows.iter().map(|(_, n)| n).sum();
    rows.push(("churned", of("dormant") + of("lost")));
    let share = |n: i64| (total > 0).then(|| n as f64 / total as f64);
    let schema = Arc::new(Schema::new(vec![
        Field::new("state", DataType::Utf8, false),
        Field::new("profiles", DataType::Int64, false),
        Field::new("share", DataType::Float64, true),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from_iter_values(rows.iter().map(|(s, _)| *s))),
            Arc::new(Int64Array::from_iter_values(rows.iter().map(|(_, n)| *n))),
            Arc::new(Float64Array::from_iter(rows.iter().map(|(_, n)| share(*n)))),
        ],
    )?;
    let table = values_frame(cx.ctx, &batch)?;
    Ok(vec![("states", table)])
}
