//! Small frames the reports are built of: label and range tables as
//! `VALUES` plans, and a few expressions.

use std::sync::Arc;

use arrow::array::{Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::ScalarValue;
use datafusion::functions::expr_fn::nullif;
use datafusion::functions_aggregate::sum::sum_udaf;
use datafusion::logical_expr::expr::WindowFunction;
use datafusion::logical_expr::{LogicalPlanBuilder, cast};
use datafusion::prelude::{DataFrame, Expr, SessionContext, coalesce, ident, lit};

use crate::Result;

/// The order column of label tables.
pub(super) const ORD: &str = "__ord";
/// The join key of aggregates joined to label tables.
pub(super) const KEY: &str = "__key";

/// A table of `labels` in column `name`, with their position in [`ORD`].
pub(super) fn labels(ctx: &SessionContext, name: &str, labels: &[&str]) -> Result<DataFrame> {
    let schema = Arc::new(Schema::new(vec![
        Field::new(name, DataType::Utf8, false),
        Field::new(ORD, DataType::Int64, false),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from(labels.to_vec())),
            Arc::new(Int64Array::from_iter_values(0..labels.len() as i64)),
        ],
    )?;
    values_frame(ctx, &batch)
}

/// A table of the integers `1..=n` in column `name`.
pub(super) fn range(ctx: &SessionContext, name: &str, n: u32) -> Result<DataFrame> {
    let schema = Arc::new(Schema::new(vec![Field::new(name, DataType::Int64, false)]));
    let batch = RecordBatch::try_new(
        schema,
        vec![Arc::new(Int64Array::from_iter_values(1..=i64::from(n)))],
    )?;
    values_frame(ctx, &batch)
}

/// `batch` as a `VALUES` plan with its column names. Unlike a `MemTable`
/// (`read_batch`), `VALUES` serializes with DataFusion's protobuf codec, so
/// the report also runs on a Ballista cluster. `VALUES` carries no names
/// through that codec (they come back as `column1`, …), hence the aliasing
/// projection on top. An empty batch becomes one row of NULLs filtered out.
pub(super) fn values_frame(ctx: &SessionContext, batch: &RecordBatch) -> Result<DataFrame> {
    let schema = batch.schema();
    let row = |r: usize| -> Result<Vec<Expr>> {
        batch
            .columns()
            .iter()
            .map(|c| Ok(lit(ScalarValue::try_from_array(c, r)?)))
            .collect()
    };
    let empty = batch.num_rows() == 0;
    let rows = if empty {
        let nulls = schema
            .fields()
            .iter()
            .map(|f| Ok(lit(ScalarValue::try_from(f.data_type())?)))
            .collect::<Result<Vec<_>>>()?;
        vec![nulls]
    } else {
        (0..batch.num_rows()).map(row).collect::<Result<_>>()?
    };
    let names = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| ident(format!("column{}", i + 1)).alias(f.name()));
    let mut df =
        DataFrame::new(ctx.state(), LogicalPlanBuilder::values(rows)?.build()?).select(names)?;
    if empty {
        df = df.filter(lit(false))?;
    }
    Ok(df)
}

/// The result of `df` as one batch (for small results). The batches'
/// own schema wins over the logical one (string columns may come back as
/// views).
pub(super) async fn collect_one(df: DataFrame) -> Result<RecordBatch> {
    let logical = Arc::new(df.schema().as_arrow().clone());
    let batches = df.collect().await?;
    let schema = batches.first().map_or(logical, |b| b.schema());
    Ok(arrow::compute::concat_batches(&schema, &batches)?)
}

/// `sum(e) OVER ()`.
pub(super) fn total(e: Expr) -> Expr {
    Expr::from(WindowFunction::new(sum_udaf(), vec![e]))
}

/// `num / den` as Float64, NULL when `den` is 0.
pub(super) fn ratio(num: Expr, den: Expr) -> Expr {
    cast(num, DataType::Float64) / nullif(cast(den, DataType::Float64), lit(0f64))
}

/// `count(e)` with its NULL (from an outer join) read as 0.
pub(super) fn zero_if_null(e: Expr) -> Expr {
    coalesce(vec![e, lit(0i64)])
}
