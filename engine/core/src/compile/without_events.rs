//! Whether a segment holds for a profile without events, decided from
//! the segment alone: it lets the compiler join only the profiles with
//! events.

use strata_dsl::ast::{AggFunc, CmpOp, Expr, ExprKind, Operand, Value};

/// Whether `e` holds for a profile without any event: `Some(b)` when that
/// does not depend on the profile's attributes or built-ins, `None` when
/// it may. docs/design.md#semantics: over no events count and sum are 0 and
/// avg / min / max / first / last are NULL; a comparison with NULL is false;
/// NOT is the complement.
pub(super) fn holds_without_events(e: &Expr) -> Option<bool> {
    match &e.kind {
        ExprKind::And { args } => {
            let v: Vec<Option<bool>> = args.iter().map(holds_without_events).collect();
            if v.contains(&Some(false)) {
                Some(false)
            } else if v.iter().all(|x| *x == Some(true)) {
                Some(true)
            } else {
                None
            }
        }
        ExprKind::Or { args } => {
            let v: Vec<Option<bool>> = args.iter().map(holds_without_events).collect();
            if v.contains(&Some(true)) {
                Some(true)
            } else if v.iter().all(|x| *x == Some(false)) {
                Some(false)
            } else {
                None
            }
        }
        ExprKind::Not { arg } => holds_without_events(arg).map(|b| !b),
        // `count(…) > 0` over no events.
        ExprKind::Performed { .. } => Some(false),
        ExprKind::Compare { .. }
        | ExprKind::InList { .. }
        | ExprKind::Between { .. }
        | ExprKind::IsNull { .. }
        | ExprKind::Contains { .. }
        | ExprKind::StartsWith { .. }
        | ExprKind::EndsWith { .. }
        | ExprKind::Truthy { .. } => match e.lhs() {
            Some(Operand::Aggregate(a)) => aggregate_without_events(&e.kind, a.func),
            Some(Operand::Field { .. } | Operand::TimePart { .. } | Operand::Builtin(_)) | None => {
                None
            }
        },
        // Attributes decide these (saved segments are inlined by now).
        ExprKind::Anniversary { .. } | ExprKind::InSegment { .. } => None,
    }
}

/// Whether condition `kind` on an aggregate `func` holds over no events.
fn aggregate_without_events(kind: &ExprKind, func: AggFunc) -> Option<bool> {
    let zero = zero_without_events(func);
    match kind {
        // count and sum are never NULL; the others are over no events.
        ExprKind::IsNull { negated, .. } => Some(zero == *negated),
        // A NULL aggregate (avg, min, max, first, last) compares false,
        // with every operator, in a list or a range, negated or not.
        ExprKind::Compare { .. } | ExprKind::Between { .. } | ExprKind::InList { .. } if !zero => {
            Some(false)
        }
        ExprKind::Compare { cmp, value, .. } => {
            let v = number(value)?;
            Some(match cmp {
                CmpOp::Eq => 0.0 == v,
                CmpOp::NotEq => 0.0 != v,
                CmpOp::Lt => 0.0 < v,
                CmpOp::LtEq => 0.0 <= v,
                CmpOp::Gt => 0.0 > v,
                CmpOp::GtEq => 0.0 >= v,
            })
        }
        ExprKind::Between {
            low, high, negated, ..
        } => Some((number(low)? <= 0.0 && 0.0 <= number(high)?) != *negated),
        ExprKind::InList { list, negated, .. } => {
            let mut found = false;
            for v in list {
                found |= number(v)? == 0.0;
            }
            Some(found != *negated)
        }
        // Not conditions an aggregate can be the subject of.
        ExprKind::Contains { .. }
        | ExprKind::StartsWith { .. }
        | ExprKind::EndsWith { .. }
        | ExprKind::Truthy { .. }
        | ExprKind::And { .. }
        | ExprKind::Or { .. }
        | ExprKind::Not { .. }
        | ExprKind::Performed { .. }
        | ExprKind::Anniversary { .. }
        | ExprKind::InSegment { .. } => None,
    }
}

/// Whether aggregate `f` over no events is 0 (else it is NULL).
fn zero_without_events(f: AggFunc) -> bool {
    match f {
        AggFunc::Count | AggFunc::CountDistinct | AggFunc::Sum => true,
        AggFunc::Avg | AggFunc::Min | AggFunc::Max | AggFunc::First | AggFunc::Last => false,
    }
}

/// A numeric literal's value (exact enough to compare with 0: only its
/// sign matters), `None` for other literals.
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) if f.is_finite() => Some(*f),
        _ => None,
    }
}
