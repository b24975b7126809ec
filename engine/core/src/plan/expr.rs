//! Expression and plan helpers: shallow boolean trees, timestamp literals,
//! unions.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Operator, binary_expr};
use datafusion::prelude::{DataFrame, Expr, lit};

use crate::time::Micros;
use crate::{Error, Result};

/// A UTC microsecond timestamp literal.
pub(crate) fn ts_lit(t: DateTime<Utc>) -> Expr {
    lit(ScalarValue::TimestampMicrosecond(
        Some(t.timestamp_micros() as Micros),
        Some(Arc::from("UTC")),
    ))
}

/// `parts` joined by AND (`true` when empty), as a balanced tree.
pub(crate) fn conjunction(parts: Vec<Expr>) -> Expr {
    balanced(parts, Operator::And).unwrap_or_else(|| lit(true))
}

/// `parts` joined by OR (`false` when empty), as a balanced tree.
pub(crate) fn disjunction(parts: Vec<Expr>) -> Expr {
    balanced(parts, Operator::Or).unwrap_or_else(|| lit(false))
}

/// `parts` joined by `op` pairwise, level by level: a tree of depth
/// log2(n) rather than DataFusion's left-deep chain of depth n, so a wide
/// segment stays shallow for every recursive pass over the plan (planning,
/// display, evaluation).
fn balanced(mut parts: Vec<Expr>, op: Operator) -> Option<Expr> {
    while parts.len() > 1 {
        let mut level = Vec::with_capacity(parts.len().div_ceil(2));
        let mut it = parts.into_iter();
        while let Some(a) = it.next() {
            level.push(match it.next() {
                Some(b) => binary_expr(a, op, b),
                None => a,
            });
        }
        parts = level;
    }
    parts.pop()
}

/// The rows of every frame, in one (`UNION ALL`).
pub(crate) fn union_all(frames: Vec<DataFrame>) -> Result<DataFrame> {
    let mut frames = frames.into_iter();
    let first = frames
        .next()
        .ok_or_else(|| Error::Internal("a union of no plans".into()))?;
    frames.try_fold(first, |u, f| Ok(u.union(f)?))
}
