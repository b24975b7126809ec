//! DSL literals as DataFusion literals of the column's type: decimals as
//! the decimal numbers they were written as, times as instants or dates.

use arrow::datatypes::DataType;
use chrono::{DateTime, Utc};
use datafusion::common::ScalarValue;
use datafusion::prelude::{Expr as DfExpr, lit};
use strata_dsl::ast::Value;

use crate::Result;
use crate::plan::expr::ts_lit;
use crate::time;

pub(super) fn value_lit(v: &Value, ty: &DataType, as_of: DateTime<Utc>) -> Result<DfExpr> {
    Ok(match v {
        Value::Int(i) => lit(*i),
        Value::Float(f) if is_decimal(ty) => decimal_lit(*f).unwrap_or_else(|| lit(*f)),
        Value::Float(f) => lit(*f),
        Value::String(s) => lit(s.clone()),
        Value::Bool(b) => lit(*b),
        Value::Time(t) => {
            let instant = time::resolve(*t, as_of)?;
            match ty {
                DataType::Date32 | DataType::Date64 => lit(ScalarValue::Date32(Some(
                    time::date32(instant.date_naive()),
                ))),
                _ => ts_lit(instant),
            }
        }
    })
}

pub(super) fn is_decimal(ty: &DataType) -> bool {
    matches!(
        ty,
        DataType::Decimal32(..)
            | DataType::Decimal64(..)
            | DataType::Decimal128(..)
            | DataType::Decimal256(..)
    )
}

/// A float literal as the decimal number it was written as (its shortest
/// round-trip text, which is what the DSL formatter prints), for comparing
/// with decimal columns exactly. Left as a `Float64`, DataFusion would coerce
/// its binary expansion instead (`139.98` → `139.979999999999984`), so that
/// `sum(purchase.amount) = 139.98` is false when the sum is 139.98.
/// `None` if it does not fit a Decimal128.
fn decimal_lit(f: f64) -> Option<DfExpr> {
    let text = format!("{f}"); // never in exponent notation
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let value: i128 = format!("{int}{frac}").parse().ok()?;
    let int_digits = int.trim_start_matches('-').trim_start_matches('0').len();
    let precision = (int_digits + frac.len()).max(1);
    if precision > 38 {
        return None;
    }
    Some(lit(ScalarValue::Decimal128(
        Some(value),
        precision as u8,
        frac.len() as i8,
    )))
}
