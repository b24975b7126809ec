//! The segment predicate: NOT pushed to the leaves, each leaf a DataFusion
//! expression over the joined row.

use arrow::datatypes::{DataType, TimeUnit as ArrowTimeUnit};
use datafusion::common::ScalarValue;
use datafusion::functions::expr_fn;
use datafusion::logical_expr::cast;
use datafusion::prelude::{Expr as DfExpr, coalesce, ident, lit};
use strata_dsl::ast::{
    AggFunc, BuiltinFunc, CmpOp, Expr, ExprKind, Operand, TimePart, TimeValue, Value,
};

use super::events::zero_of;
use super::literal::{is_decimal, value_lit};
use super::{
    Behaviour, Compiler, INTERNAL, Scope, behaviour, behaviour_column, builtin_table, performed,
};
use crate::plan::expr::{conjunction, disjunction, ts_lit};
use crate::time;
use crate::{Error, Result};

impl Compiler<'_> {
    // ---- the predicate ----------------------------------------------------

    /// Translates `e` (negated when `neg`), with NOT pushed to the leaves.
    pub(super) fn predicate(&mut self, e: &Expr, neg: bool, scope: Scope) -> Result<DfExpr> {
        match &e.kind {
            ExprKind::And { args } | ExprKind::Or { args } => {
                let is_and = matches!(e.kind, ExprKind::And { .. });
                let parts = args
                    .iter()
                    .map(|a| self.predicate(a, neg, scope))
                    .collect::<Result<Vec<_>>>()?;
                // De Morgan: NOT (a AND b) = NOT a OR NOT b.
                Ok(if is_and != neg {
                    conjunction(parts)
                } else {
                    disjunction(parts)
                })
            }
            ExprKind::Not { arg } => self.predicate(arg, !neg, scope),
            ExprKind::Compare { .. }
            | ExprKind::InList { .. }
            | ExprKind::Between { .. }
            | ExprKind::Contains { .. }
            | ExprKind::StartsWith { .. }
            | ExprKind::EndsWith { .. }
            | ExprKind::IsNull { .. }
            | ExprKind::Truthy { .. }
            | ExprKind::Performed { .. }
            | ExprKind::Anniversary { .. }
            | ExprKind::InSegment { .. } => {
                let leaf = self.leaf(e, scope)?;
                Ok(if neg { leaf.is_not_true() } else { leaf })
            }
        }
    }

    fn leaf(&mut self, e: &Expr, scope: Scope) -> Result<DfExpr> {
        Ok(match &e.kind {
            ExprKind::Compare { lhs, cmp, value } => {
                let (l, ty) = self.operand(lhs, scope)?;
                let (l, r) = self.align(l, &ty, value)?;
                match cmp {
                    CmpOp::Eq => l.eq(r),
                    CmpOp::NotEq => l.not_eq(r),
                    CmpOp::Lt => l.lt(r),
                    CmpOp::LtEq => l.lt_eq(r),
                    CmpOp::Gt => l.gt(r),
                    CmpOp::GtEq => l.gt_eq(r),
                }
            }
            ExprKind::InList { lhs, list, negated } => {
                let (l, ty) = self.operand(lhs, scope)?;
                let pairs = list
                    .iter()
                    .map(|v| self.align(l.clone(), &ty, v))
                    .collect::<Result<Vec<_>>>()?;
                in_list(pairs, *negated)?
            }
            ExprKind::Between {
                lhs,
                low,
                high,
                negated,
            } => {
                let (l, ty) = self.operand(lhs, scope)?;
                let (l_lo, lo) = self.align(l.clone(), &ty, low)?;
                let (l_hi, hi) = self.align(l, &ty, high)?;
                match (l_lo == l_hi, *negated) {
                    (true, false) => l_lo.between(lo, hi),
                    (true, true) => l_lo.not_between(lo, hi),
                    // The bounds compare with differently cast sides.
                    (false, negated) => {
                        let within = l_lo.gt_eq(lo).and(l_hi.lt_eq(hi));
                        if negated { !within } else { within }
                    }
                }
            }
            ExprKind::Contains {
                lhs,
                value,
                ignore_case,
            } => {
                let (l, ty) = self.operand(lhs, scope)?;
                let needle = value_lit(value, &ty, self.cx.as_of)?;
                match ty {
                    DataType::List(_) | DataType::LargeList(_) => {
                        datafusion::functions_nested::expr_fn::array_has(l, needle)
                    }
                    _ => text_match(expr_fn::contains, l, needle, *ignore_case),
                }
            }
            ExprKind::StartsWith {
                lhs,
                value,
                ignore_case,
            } => {
                let (l, ty) = self.operand(lhs, scope)?;
                let prefix = value_lit(value, &ty, self.cx.as_of)?;
                text_match(expr_fn::starts_with, l, prefix, *ignore_case)
            }
            ExprKind::EndsWith {
                lhs,
                value,
                ignore_case,
            } => {
                let (l, ty) = self.operand(lhs, scope)?;
                let suffix = value_lit(value, &ty, self.cx.as_of)?;
                text_match(expr_fn::ends_with, l, suffix, *ignore_case)
            }
            ExprKind::IsNull { lhs, negated } => {
                let (l, _) = self.operand(lhs, scope)?;
                if *negated {
                    l.is_not_null()
                } else {
                    l.is_null()
                }
            }
            // A positive leaf stays bare like a comparison: a NULL flag
            // drops the row as false would (a negated one becomes
            // `IS NOT TRUE` in `predicate`), and a bare boolean column is
            // a plain bitmap in the filter instead of a null-aware
            // comparison (W1c at m, `consent_email OR consent_push`:
            // 19.8 -> 15.4 ms hot).
            ExprKind::Truthy { lhs } => self.operand(lhs, scope)?.0,
            ExprKind::Performed { filter } => {
                let i = self.needs.behaviour_index(performed(filter));
                ident(behaviour_column(i)).gt(lit(0i64))
            }
            ExprKind::Anniversary { field, days } => {
                let f = ident(&field.name);
                let key = expr_fn::date_part(lit("month"), f.clone()) * lit(100i32)
                    + expr_fn::date_part(lit("day"), f);
                let keys = time::anniversary_keys(self.cx.as_of, *days)
                    .into_iter()
                    .map(|k| lit(k as i32))
                    .collect();
                key.in_list(keys, false)
            }
            ExprKind::InSegment { name } => {
                return Err(Error::Internal(format!(
                    "segment reference '{}' was not inlined",
                    name.name
                )));
            }
            ExprKind::And { .. } | ExprKind::Or { .. } | ExprKind::Not { .. } => {
                return Err(Error::Internal("boolean node treated as a leaf".into()));
            }
        })
    }

    /// An operand as an expression over the joined row, with its type.
    fn operand(&mut self, op: &Operand, scope: Scope) -> Result<(DfExpr, DataType)> {
        match op {
            Operand::Field { name } => {
                let schema = match scope {
                    Scope::Profile => self.cx.dataset.profiles_schema(),
                    Scope::Event => self.cx.dataset.events_schema(),
                };
                let field = schema.field_with_name(&name.name).map_err(|_| {
                    Error::Internal(format!(
                        "unchecked field '{}' reached the compiler",
                        name.name
                    ))
                })?;
                Ok((ident(&name.name), field.data_type().clone()))
            }
            Operand::TimePart { part, field, .. } => {
                let (column, ty) = self.operand(
                    &Operand::Field {
                        name: field.clone(),
                    },
                    scope,
                )?;
                Ok((time_part(*part, column, &ty), DataType::Int64))
            }
            Operand::Aggregate(a) => {
                if scope == Scope::Event {
                    return Err(Error::Internal("aggregate inside an event filter".into()));
                }
                let b = behaviour(a);
                let ty = self.aggregate_type(&b)?;
                let i = self.needs.behaviour_index(b);
                let c = ident(behaviour_column(i));
                // Over no events: count and sum are 0, the others NULL.
                Ok(match a.func {
                    AggFunc::Count | AggFunc::CountDistinct => (coalesce(vec![c, lit(0i64)]), ty),
                    AggFunc::Sum => (coalesce(vec![c, zero_of(&ty)]), ty),
                    _ => (c, ty),
                })
            }
            Operand::Builtin(b) => {
                let i = self.needs.builtin_index(builtin_table(b));
                let (column, ty, none) = match b.func {
                    BuiltinFunc::RfmR => ("r", DataType::Int64, None),
                    BuiltinFunc::RfmF => ("f", DataType::Int64, None),
                    BuiltinFunc::RfmM => ("m", DataType::Int64, None),
                    BuiltinFunc::RfmSegment => ("segment", DataType::Utf8, None),
                    BuiltinFunc::RfmRecencyDays => ("recency_days", DataType::Int64, None),
                    BuiltinFunc::RfmFrequency => ("frequency", DataType::Int64, None),
                    BuiltinFunc::RfmMonetary => ("monetary", DataType::Float64, None),
                    BuiltinFunc::ChannelMix => ("channel_mix", DataType::Utf8, Some("none")),
                    BuiltinFunc::Lifecycle => ("lifecycle", DataType::Utf8, Some("never")),
                };
                let c = ident(format!("{INTERNAL}_t{i}_{column}"));
                let c = match none {
                    Some(v) => coalesce(vec![c, lit(v)]),
                    None => c,
                };
                Ok((c, ty))
            }
        }
    }

    fn aggregate_type(&self, b: &Behaviour) -> Result<DataType> {
        let events = self.cx.dataset.events_schema();
        let prop = || -> Result<DataType> {
            let name = b.property.as_deref().unwrap_or("");
            events
                .field_with_name(name)
                .map(|f| f.data_type().clone())
                .map_err(|_| Error::Internal(format!("unchecked property '{name}'")))
        };
        Ok(match b.func {
            AggFunc::Count | AggFunc::CountDistinct => DataType::Int64,
            AggFunc::Sum => match prop()? {
                DataType::Decimal128(_, s) => DataType::Decimal128(38, s),
                DataType::Float16 | DataType::Float32 | DataType::Float64 => DataType::Float64,
                DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => {
                    DataType::UInt64
                }
                _ => DataType::Int64,
            },
            AggFunc::Avg => DataType::Float64,
            AggFunc::Min | AggFunc::Max => prop()?,
            AggFunc::First | AggFunc::Last => {
                DataType::Timestamp(ArrowTimeUnit::Microsecond, Some("UTC".into()))
            }
        })
    }

    /// The left side and literal of a comparison, coerced so that times
    /// compare as instants and dates as dates.
    fn align(&self, l: DfExpr, ty: &DataType, v: &Value) -> Result<(DfExpr, DfExpr)> {
        if let (DataType::Date32 | DataType::Date64, Value::Time(t)) = (ty, v)
            && !matches!(t, TimeValue::Date { .. } | TimeValue::Today)
        {
            // A date is midnight UTC of that day, compared as an instant.
            let utc = DataType::Timestamp(ArrowTimeUnit::Microsecond, Some("UTC".into()));
            return Ok((cast(l, utc), ts_lit(time::resolve(*t, self.cx.as_of)?)));
        }
        let r = value_lit(v, ty, self.cx.as_of)?;
        // A float no Decimal128 holds (1e300, 5e-324): DataFusion would
        // cast it to the column's decimal type and fail; compare as floats,
        // which orders such a value right against every decimal.
        if is_decimal(ty) && matches!(r, DfExpr::Literal(ScalarValue::Float64(_), _)) {
            return Ok((cast(l, DataType::Float64), r));
        }
        Ok((l, r))
    }
}

/// `l IN (r, ...)` from the aligned `(l, r)` pairs of a list, or NOT IN.
/// Repeated values are dropped (they change nothing but the plan's size).
/// When the values do not all compare with the same left side (a decimal
/// column cast to `Float64` for a value no Decimal128 holds, see
/// [`Compiler::align`]), the list is the OR of its equalities, which is
/// what SQL defines IN to be.
fn in_list(mut pairs: Vec<(DfExpr, DfExpr)>, negated: bool) -> Result<DfExpr> {
    let mut seen = std::collections::HashSet::with_capacity(pairs.len());
    pairs.retain(|p| seen.insert(p.clone()));
    let Some(left) = pairs.first().map(|(l, _)| l.clone()) else {
        return Err(Error::Internal("an empty IN list".into()));
    };
    if pairs.iter().all(|(l, _)| *l == left) {
        return Ok(left.in_list(pairs.into_iter().map(|(_, r)| r).collect(), negated));
    }
    let any = disjunction(pairs.into_iter().map(|(l, r)| l.eq(r)).collect());
    Ok(if negated { !any } else { any })
}

/// `f(text, pattern)`, both sides in lower case (Unicode lowercase, as
/// DataFusion's `lower`) when case is ignored.
fn text_match(
    f: fn(DfExpr, DfExpr) -> DfExpr,
    text: DfExpr,
    pattern: DfExpr,
    ignore_case: bool,
) -> DfExpr {
    if ignore_case {
        f(expr_fn::lower(text), expr_fn::lower(pattern))
    } else {
        f(text, pattern)
    }
}

/// A part of a date or timestamp column as an Int64, in UTC: DataFusion's
/// `date_part` on the timestamp (a date at its midnight), the day of the
/// week renumbered from `dow` (0 = Sunday) to ISO (1 = Monday .. 7).
fn time_part(part: TimePart, column: DfExpr, ty: &DataType) -> DfExpr {
    let instant = match ty {
        DataType::Date32 | DataType::Date64 => cast(
            column,
            DataType::Timestamp(ArrowTimeUnit::Microsecond, Some("UTC".into())),
        ),
        _ => column,
    };
    let part_of = |name: &str| {
        cast(
            expr_fn::date_part(lit(name), instant.clone()),
            DataType::Int64,
        )
    };
    match part {
        TimePart::Year => part_of("year"),
        TimePart::Month => part_of("month"),
        TimePart::Day => part_of("day"),
        TimePart::Hour => part_of("hour"),
        TimePart::DayOfWeek => (part_of("dow") + lit(6i64)) % lit(7i64) + lit(1i64),
    }
}
