//! Reading report tables back: one table as one batch, the retention
//! cohorts as rows of a triangle. Shared by the text output
//! ([`super::analytics`]) and the plots ([`super::plot`]).

use anyhow::Context;
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::concat_batches;
use arrow::datatypes::{Date32Type, Float64Type, Int64Type};
use strata_core::report::Report;

/// One table of a report as a single batch.
pub(crate) fn table(report: &Report, name: &str) -> anyhow::Result<RecordBatch> {
    let batches = report
        .table(name)
        .with_context(|| format!("the report has no table '{name}'"))?;
    let first = batches.first().context("empty report table")?;
    Ok(concat_batches(&first.schema(), batches)?)
}

/// Retention cells by cohort: `(cohort_start, cohort_size, fraction per k)`.
pub(crate) type Cohorts = Vec<(String, i64, Vec<Option<f64>>)>;

/// The cohorts table as rows of a triangle.
pub(crate) fn cohorts(batch: &RecordBatch) -> anyhow::Result<Cohorts> {
    let col = |name: &str| -> anyhow::Result<&dyn Array> {
        Ok(batch
            .column_by_name(name)
            .with_context(|| format!("cohorts table without {name}"))?
            .as_ref())
    };
    let start = col("cohort_start")?.as_primitive::<Date32Type>();
    let k = col("period_index")?.as_primitive::<Int64Type>();
    let size = col("cohort_size")?.as_primitive::<Int64Type>();
    let fraction = col("fraction")?.as_primitive::<Float64Type>();
    let mut out: Cohorts = Vec::new();
    for i in 0..batch.num_rows() {
        let label = start
            .value_as_date(i)
            .map(|d| d.to_string())
            .unwrap_or_default();
        if out.last().is_none_or(|(l, _, _)| *l != label) {
            out.push((label, size.value(i), Vec::new()));
        }
        let row = &mut out.last_mut().expect("pushed").2;
        let k = usize::try_from(k.value(i)).context("negative period index")?;
        if row.len() <= k {
            row.resize(k + 1, None);
        }
        row[k] = fraction.is_valid(i).then(|| fraction.value(i));
    }
    Ok(out)
}
