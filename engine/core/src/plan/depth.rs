//! The nesting depth of a compiled plan's expressions, measured without
//! recursion and checked before the plan is optimized or run.
//!
//! Segments are bounded at the source (`strata_dsl::MAX_DEPTH`,
//! `MAX_CONDITIONS`) and the compiler joins conditions as balanced trees,
//! so a compiled plan stays far below [`MAX_EXPR_DEPTH`]; the check makes
//! that a verified property of every plan rather than an assumption, since
//! many passes over expressions (DataFusion's `Display`, `Clone`, `Drop`,
//! physical evaluation) recurse once per level.

use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::logical_expr::{Expr, LogicalPlan};

use crate::{Error, Result};

/// Deepest expression a compiled plan may hold.
pub(crate) const MAX_EXPR_DEPTH: usize = 512;

/// Refuses a plan whose expressions nest deeper than [`MAX_EXPR_DEPTH`].
pub(crate) fn check(plan: &LogicalPlan) -> Result<()> {
    let depth = plan_depth(plan)?;
    if depth > MAX_EXPR_DEPTH {
        return Err(Error::InvalidArgument(format!(
            "the segment compiles to expressions nested {depth} deep; at most {MAX_EXPR_DEPTH} \
             are allowed: simplify it"
        )));
    }
    Ok(())
}

/// The deepest expression of any node of `plan`.
pub(crate) fn plan_depth(plan: &LogicalPlan) -> Result<usize> {
    let mut deepest = 0;
    plan.apply(|node| {
        for e in node.expressions() {
            deepest = deepest.max(expr_depth(&e)?);
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    Ok(deepest)
}

/// Levels of `root` (a column or literal alone is 1), with an explicit
/// stack instead of recursion. Subqueries count as leaves.
pub(crate) fn expr_depth(root: &Expr) -> datafusion::error::Result<usize> {
    let mut deepest = 0;
    let mut stack = vec![(root, 1usize)];
    while let Some((e, d)) = stack.pop() {
        deepest = deepest.max(d);
        e.apply_children(|child| {
            stack.push((child, d + 1));
            Ok(TreeNodeRecursion::Continue)
        })?;
    }
    Ok(deepest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::{col, lit};

    #[test]
    fn measures_without_recursing() {
        assert_eq!(expr_depth(&col("a")).unwrap(), 1);
        assert_eq!(expr_depth(&col("a").gt(lit(1)).and(col("b"))).unwrap(), 3);
        let chain = (0..2_000).fold(col("a"), |acc, i| acc.or(col("a").gt(lit(i))));
        assert_eq!(expr_depth(&chain).unwrap(), 2_002);
    }
}
