//! How big a segment is: its nesting depth, its conditions and its listed
//! values, measured without recursion (any AST, however built, is safe to
//! measure), and the limits every segment must stay within, as written and
//! with its saved segments inlined.
//!
//! The limits keep every pass over a segment, in this crate and in the
//! engine (which turns AND / OR chains into DataFusion expressions), far
//! from the end of a thread's stack and its planning time small.

use crate::ast::{Expr, ExprKind, Span};
use crate::error::Diagnostic;

/// Segments nested deeper than this (AND / OR / NOT / WHERE levels) are
/// rejected, as written and with their saved segments inlined.
pub const MAX_DEPTH: usize = 64;

/// Most conditions (comparisons, `performed`, `anniversary`, conditions
/// inside `WHERE`) a segment may hold, with its saved segments inlined.
pub const MAX_CONDITIONS: usize = 1_000;

/// Most values all `IN (...)` lists of a segment may hold together, with
/// its saved segments inlined.
pub const MAX_LIST_VALUES: usize = 100_000;

/// The size of a segment (or of an expression).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Size {
    /// Deepest AND / OR / NOT / WHERE level of any node (a lone condition
    /// is 0).
    pub depth: usize,
    /// Conditions: every node that is not AND, OR, NOT or `IN SEGMENT`.
    pub conditions: usize,
    /// Values of all `IN (...)` lists.
    pub list_values: usize,
}

/// A reference to a saved segment inside an expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentRef {
    /// The saved segment's name.
    pub name: String,
    /// The level the reference sits at (its definition's root goes there).
    pub depth: usize,
}

/// An expression's own size and the saved segments it refers to (once per
/// `IN SEGMENT`, last in the text first; not followed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shape {
    pub size: Size,
    pub refs: Vec<SegmentRef>,
    /// Where a node deeper than [`MAX_DEPTH`] is: the last one in the text
    /// one level too deep.
    pub too_deep_at: Option<Span>,
}

impl Size {
    /// This size with `inner` inlined at level `depth` (saturating: sizes
    /// of expansion bombs stay representable and over every limit).
    pub fn with_inlined(self, inner: Size, depth: usize) -> Size {
        Size {
            depth: self.depth.max(depth.saturating_add(inner.depth)),
            conditions: self.conditions.saturating_add(inner.conditions),
            list_values: self.list_values.saturating_add(inner.list_values),
        }
    }

    /// The first limit this size exceeds, if any.
    pub fn over_limit(&self) -> Option<OverLimit> {
        let (message, help) = if self.depth > MAX_DEPTH {
            (
                format!("the segment is nested too deeply (more than {MAX_DEPTH} levels)"),
                "flatten the condition: fewer nested groups and NOTs",
            )
        } else if self.conditions > MAX_CONDITIONS {
            (
                format!(
                    "the segment has {} conditions; at most {MAX_CONDITIONS} are allowed",
                    shown(self.conditions)
                ),
                "use an IN list instead of many `=` joined by OR",
            )
        } else if self.list_values > MAX_LIST_VALUES {
            (
                format!(
                    "the segment's IN lists hold {} values; at most {MAX_LIST_VALUES} are allowed",
                    shown(self.list_values)
                ),
                "save the values as a profile attribute and compare that",
            )
        } else {
            return None;
        };
        Some(OverLimit { message, help })
    }
}

/// Which limit a segment exceeds: a sentence naming the limit, and advice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverLimit {
    pub message: String,
    pub help: &'static str,
}

impl std::fmt::Display for OverLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// A count for a message: saturated counts are "more than can be counted".
fn shown(n: usize) -> String {
    if n == usize::MAX {
        "more than 2^64".to_string()
    } else {
        n.to_string()
    }
}

/// Measures `root`: its size and its saved-segment references.
pub fn shape(root: &Expr) -> Shape {
    let mut out = Shape::default();
    for (e, at) in root.walk() {
        let d = at.depth;
        out.size.depth = out.size.depth.max(d);
        if d == MAX_DEPTH + 1 {
            out.too_deep_at = Some(e.span);
        }
        match &e.kind {
            ExprKind::And { .. } | ExprKind::Or { .. } | ExprKind::Not { .. } => {}
            ExprKind::InSegment { name } => out.refs.push(SegmentRef {
                name: name.name.clone(),
                depth: d,
            }),
            ExprKind::InList { list, .. } => {
                out.size.conditions += 1;
                out.size.list_values += list.len();
            }
            ExprKind::Compare { .. }
            | ExprKind::Between { .. }
            | ExprKind::Contains { .. }
            | ExprKind::StartsWith { .. }
            | ExprKind::EndsWith { .. }
            | ExprKind::IsNull { .. }
            | ExprKind::Truthy { .. }
            | ExprKind::Performed { .. }
            | ExprKind::Anniversary { .. } => out.size.conditions += 1,
        }
    }
    // Last first: the order the engine has always resolved them in.
    out.refs.reverse();
    out
}

/// The diagnostic for a segment over a limit (as written), if it is.
pub(crate) fn limit_error(root: &Expr) -> Option<Diagnostic> {
    let shape = shape(root);
    let over = shape.size.over_limit()?;
    let at = shape.too_deep_at.unwrap_or(root.span);
    Some(Diagnostic::new(at, over.message).with_suggestion(over.help))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn size(src: &str) -> Size {
        shape(&crate::parser::parse_syntax(src).unwrap().expr).size
    }

    #[test]
    fn counts_conditions_values_and_levels() {
        let s = size("a = 1 AND (b IN (1, 2, 3) OR NOT count(purchase WHERE x > 1) >= 2)");
        assert_eq!(
            s,
            Size {
                depth: 4,
                conditions: 4,
                list_values: 3
            }
        );
        assert_eq!(size("consent_email").depth, 0);
    }

    #[test]
    fn refs_record_their_level() {
        let sh = shape(
            &crate::parser::parse_syntax("a = 1 OR NOT IN SEGMENT vip")
                .unwrap()
                .expr,
        );
        assert_eq!(
            sh.refs,
            vec![SegmentRef {
                name: "vip".into(),
                depth: 2
            }]
        );
        assert_eq!(sh.size.conditions, 1);
    }

    #[test]
    fn inlining_saturates_and_names_the_limit() {
        let big = Size {
            depth: 1,
            conditions: usize::MAX - 1,
            list_values: 0,
        };
        let s = big.with_inlined(big, 3);
        assert_eq!(s.conditions, usize::MAX);
        assert_eq!(s.depth, 4);
        let msg = s.over_limit().unwrap().message;
        assert!(msg.contains("at most 1000"), "{msg}");
        assert_eq!(Size::default().over_limit(), None);
    }
}
