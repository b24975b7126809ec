//! Warnings: segments that run but probably do not say what was meant.
//!
//! Today that is a text value no profile or event has (`loyalty_tier =
//! 'Gold'` where the tiers are `gold`, `silver`, ...): the count would be 0
//! (or everyone, for `!=`) with no hint why. The catalog knows a column's
//! values only when they are few and cheap to read ([`Catalog::profile_values`]);
//! other columns get no warning.

use crate::ast::{CmpOp, Expr, ExprKind, Ident, Operand, Segment, Span, Value};
use crate::catalog::Catalog;
use crate::error::Diagnostic;
use crate::format;
use crate::locate::Locator;
use crate::parser::operand_span;
use crate::suggest;
use crate::visit::{Position, Scope};

/// Known values listed in a warning; the rest are counted.
const SHOWN_VALUES: usize = 12;

pub(crate) fn warnings(seg: &Segment, catalog: &dyn Catalog, src: Option<&str>) -> Vec<Diagnostic> {
    let loc = Locator::new(src);
    let mut out = Vec::new();
    for (e, at) in seg.expr.walk() {
        for (i, value, span) in compared_text(e, loc) {
            if let Some(d) = unknown_value(catalog, at, i, value, span) {
                out.push(d);
            }
        }
    }
    out
}

/// The text values an equality or IN list compares a plain field with, each
/// with the field and the value's span.
fn compared_text<'e>(e: &'e Expr, loc: Locator<'_>) -> Vec<(&'e Ident, &'e str, Span)> {
    let (name, values): (&Ident, Vec<&Value>) = match &e.kind {
        ExprKind::Compare {
            lhs: Operand::Field { name },
            cmp: CmpOp::Eq | CmpOp::NotEq,
            value,
        } => (name, vec![value]),
        ExprKind::InList {
            lhs: Operand::Field { name },
            list,
            ..
        } => (name, list.iter().collect()),
        _ => return Vec::new(),
    };
    let lhs = e.lhs().expect("a comparison has a left-hand side");
    let region = Span::new(operand_span(lhs).end as usize, e.span.end as usize);
    values
        .into_iter()
        .enumerate()
        .filter_map(|(i, v)| match v {
            Value::String(s) => Some((name, s.as_str(), loc.value(region, i, e.span))),
            _ => None,
        })
        .collect()
}

fn unknown_value(
    catalog: &dyn Catalog,
    at: Position,
    field: &Ident,
    value: &str,
    span: Span,
) -> Option<Diagnostic> {
    let (known, holder) = match at.scope {
        Scope::Profile => (catalog.profile_values(&field.name)?, "profile"),
        Scope::Event => (catalog.event_values(&field.name)?, "event"),
    };
    if known.iter().any(|k| k == value) {
        return None;
    }
    let name = match format::ident(&field.name) {
        quoted if quoted.starts_with('`') => quoted,
        plain => format!("`{plain}`"),
    };
    let d = Diagnostic::warning(
        span,
        format!("no {holder} has {name} = {}", format::string(value)),
    )
    .with_expected(listed(&known));
    Some(
        match suggest::best(value, known.iter().map(String::as_str)) {
            Some(near) => d.did_you_mean(&format::string(&near)),
            None => d,
        },
    )
}

/// "one of 'a', 'b', ... (and N more)", or "no value" for an empty column.
fn listed(known: &[String]) -> String {
    if known.is_empty() {
        return "no value: the column is always NULL".into();
    }
    let shown: Vec<String> = known
        .iter()
        .take(SHOWN_VALUES)
        .map(|k| format::string(k))
        .collect();
    let more = known.len().saturating_sub(SHOWN_VALUES);
    let tail = if more > 0 {
        format!(" (and {more} more)")
    } else {
        String::new()
    };
    format!("one of {}{tail}", shown.join(", "))
}
