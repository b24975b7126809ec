//! Walking and rewriting segment expressions, in the manner of DataFusion's
//! `TreeNode`: [`Expr::apply`] and [`Expr::visit`] visit, [`Expr::walk`]
//! and [`Expr::operands`] iterate, [`Expr::transform_up`],
//! [`Expr::transform_down`] and [`Expr::map_children`] rewrite.
//!
//! # Children
//!
//! The children of an expression ([`Expr::children`]) are every expression
//! nested directly in it:
//!
//! - the operands of AND, OR and NOT ([`Expr::args`], the boolean
//!   structure), and
//! - the `WHERE` predicate of a condition's event filter
//!   ([`Expr::where_clause`]): `p` in `performed(e WHERE p)` and in
//!   `count(e WHERE p) >= 1`.
//!
//! A node never has both (a condition has no boolean operands, AND / OR /
//! NOT have no event filter). Every walk and rewrite here goes into `WHERE`
//! predicates; the [`Position`] of a node tells whether it is inside one
//! ([`Scope::Event`]: fields name event properties there). To stay on the
//! boolean structure, skip [`Scope::Event`] nodes, or return
//! [`Recursion::Jump`] from conditions (`!e.is_connective()`).
//!
//! # Order and stack
//!
//! Nodes are visited depth first, a node before its children (pre-order)
//! and, for [`Expr::visit`]'s `f_up` and [`Expr::transform_up`], after them
//! as well; children left to right, in source order. Every walk and rewrite
//! here keeps its own stack instead of recursing, so any AST, however built
//! and however deep, is safe to walk.
//!
//! Every `match` over [`ExprKind`] in this module lists every variant: a
//! new kind of expression fails to compile here, and code that walks with
//! these helpers needs no change.

use crate::ast::{EventFilter, Expr, ExprKind, Operand};

/// What a walk does after visiting a node (DataFusion's
/// `TreeNodeRecursion`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Recursion {
    /// Go on: into the node's children, then on to the rest of the tree.
    Continue,
    /// Returned before the children: skip them (and go on with the rest of
    /// the tree; [`Visitor::f_up`] is still called for the node). Returned
    /// by [`Visitor::f_up`]: skip `f_up` of the ancestors up to the first
    /// one with children left to visit.
    Jump,
    /// Stop the walk at once.
    Stop,
}

/// Whether a node is part of the segment's boolean structure over profiles
/// or inside an event filter's `WHERE`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Outside any `WHERE`: fields name profile attributes.
    #[default]
    Profile,
    /// Inside an event filter's `WHERE` (at any depth): fields name event
    /// properties.
    Event,
}

/// Where a node sits, relative to the node a walk starts from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Position {
    /// Levels below the start: each AND / OR / NOT and each `WHERE` is one
    /// (the measure of [`crate::Size::depth`]).
    pub depth: usize,
    pub scope: Scope,
}

impl Position {
    /// The node a walk starts from.
    pub const ROOT: Position = Position {
        depth: 0,
        scope: Scope::Profile,
    };

    /// Whether the node is inside an event filter's `WHERE`.
    pub fn in_where(self) -> bool {
        self.scope == Scope::Event
    }

    /// The position of an operand of AND / OR / NOT at `self`.
    fn arg(self) -> Position {
        Position {
            depth: self.depth + 1,
            scope: self.scope,
        }
    }

    /// The position of the `WHERE` predicate of a condition at `self`.
    fn predicate(self) -> Position {
        Position {
            depth: self.depth + 1,
            scope: Scope::Event,
        }
    }
}

/// A visit of every node with a call before its children (`f_down`) and
/// one after them (`f_up`), for [`Expr::visit`] (DataFusion's
/// `TreeNodeVisitor`). Both default to [`Recursion::Continue`].
pub trait Visitor<'n> {
    type Error;

    /// Called before the node's children.
    fn f_down(&mut self, _node: &'n Expr, _at: Position) -> Result<Recursion, Self::Error> {
        Ok(Recursion::Continue)
    }

    /// Called after the node's children (also when `f_down` skipped them).
    fn f_up(&mut self, _node: &'n Expr, _at: Position) -> Result<Recursion, Self::Error> {
        Ok(Recursion::Continue)
    }
}

impl Expr {
    /// Whether this is AND, OR or NOT (else it is a condition).
    pub fn is_connective(&self) -> bool {
        match &self.kind {
            ExprKind::And { .. } | ExprKind::Or { .. } | ExprKind::Not { .. } => true,
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
            | ExprKind::InSegment { .. } => false,
        }
    }

    /// The boolean operands: the arguments of AND / OR, the argument of NOT;
    /// none for a condition.
    pub fn args(&self) -> &[Expr] {
        match &self.kind {
            ExprKind::And { args } | ExprKind::Or { args } => args,
            ExprKind::Not { arg } => std::slice::from_ref(&**arg),
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
            | ExprKind::InSegment { .. } => &[],
        }
    }

    /// The left-hand side of a condition on an operand (`country` in
    /// `country = 'US'`, `count(...)` in `count(...) >= 2`); `None` for
    /// AND / OR / NOT, `performed`, `anniversary` and `IN SEGMENT`.
    pub fn lhs(&self) -> Option<&Operand> {
        match &self.kind {
            ExprKind::Compare { lhs, .. }
            | ExprKind::InList { lhs, .. }
            | ExprKind::Between { lhs, .. }
            | ExprKind::Contains { lhs, .. }
            | ExprKind::StartsWith { lhs, .. }
            | ExprKind::EndsWith { lhs, .. }
            | ExprKind::IsNull { lhs, .. }
            | ExprKind::Truthy { lhs } => Some(lhs),
            ExprKind::And { .. }
            | ExprKind::Or { .. }
            | ExprKind::Not { .. }
            | ExprKind::Performed { .. }
            | ExprKind::Anniversary { .. }
            | ExprKind::InSegment { .. } => None,
        }
    }

    /// The events the condition looks at: the filter of `performed(...)`
    /// or of its aggregate operand.
    pub fn event_filter(&self) -> Option<&EventFilter> {
        match &self.kind {
            ExprKind::Performed { filter } => Some(filter),
            ExprKind::Compare { lhs, .. }
            | ExprKind::InList { lhs, .. }
            | ExprKind::Between { lhs, .. }
            | ExprKind::Contains { lhs, .. }
            | ExprKind::StartsWith { lhs, .. }
            | ExprKind::EndsWith { lhs, .. }
            | ExprKind::IsNull { lhs, .. }
            | ExprKind::Truthy { lhs } => lhs.event_filter(),
            ExprKind::And { .. }
            | ExprKind::Or { .. }
            | ExprKind::Not { .. }
            | ExprKind::Anniversary { .. }
            | ExprKind::InSegment { .. } => None,
        }
    }

    fn event_filter_mut(&mut self) -> Option<&mut EventFilter> {
        match &mut self.kind {
            ExprKind::Performed { filter } => Some(filter),
            ExprKind::Compare { lhs, .. }
            | ExprKind::InList { lhs, .. }
            | ExprKind::Between { lhs, .. }
            | ExprKind::Contains { lhs, .. }
            | ExprKind::StartsWith { lhs, .. }
            | ExprKind::EndsWith { lhs, .. }
            | ExprKind::IsNull { lhs, .. }
            | ExprKind::Truthy { lhs } => match lhs {
                Operand::Aggregate(a) => Some(&mut a.filter),
                Operand::Field { .. } | Operand::TimePart { .. } | Operand::Builtin(_) => None,
            },
            ExprKind::And { .. }
            | ExprKind::Or { .. }
            | ExprKind::Not { .. }
            | ExprKind::Anniversary { .. }
            | ExprKind::InSegment { .. } => None,
        }
    }

    /// The `WHERE` predicate of the condition's event filter
    /// ([`Expr::event_filter`]), if it has one.
    pub fn where_clause(&self) -> Option<&Expr> {
        self.event_filter()?.predicate.as_deref()
    }

    /// Every expression nested directly in this one, in source order:
    /// [`Expr::args`], then [`Expr::where_clause`].
    pub fn children(&self) -> impl Iterator<Item = &Expr> + '_ {
        self.args().iter().chain(self.where_clause())
    }

    /// Every node of the tree, this one first, pre-order, each with its
    /// [`Position`]. To skip subtrees or stop early, use [`Expr::apply`].
    pub fn walk(&self) -> impl Iterator<Item = (&Expr, Position)> + '_ {
        Walk {
            stack: vec![(self, Position::ROOT)],
        }
    }

    /// The left-hand operand of every condition of the tree (see
    /// [`Expr::lhs`]), in source order, with the condition's [`Position`]:
    /// inside `WHERE` ([`Scope::Event`]) a field names an event property.
    /// The event filters of `performed(...)` are not operands; find them
    /// with [`Expr::walk`] and [`Expr::event_filter`].
    pub fn operands(&self) -> impl Iterator<Item = (&Operand, Position)> + '_ {
        self.walk().filter_map(|(e, at)| Some((e.lhs()?, at)))
    }

    /// Calls `f` on every node, pre-order, as long as it returns
    /// [`Recursion::Continue`]; [`Recursion::Jump`] skips the node's
    /// children, [`Recursion::Stop`] ends the walk, an error ends it with
    /// that error. Returns [`Recursion::Stop`] if the walk was stopped,
    /// else [`Recursion::Continue`] (DataFusion's `TreeNode::apply`).
    pub fn apply<'n, E>(
        &'n self,
        f: impl FnMut(&'n Expr) -> Result<Recursion, E>,
    ) -> Result<Recursion, E> {
        struct Down<F>(F);
        impl<'n, E, F: FnMut(&'n Expr) -> Result<Recursion, E>> Visitor<'n> for Down<F> {
            type Error = E;
            fn f_down(&mut self, node: &'n Expr, _at: Position) -> Result<Recursion, E> {
                (self.0)(node)
            }
        }
        self.visit(&mut Down(f))
    }

    /// Visits every node: `visitor.f_down` before its children, `f_up`
    /// after them, with the node's [`Position`], as [`Recursion`] directs
    /// (DataFusion's `TreeNode::visit`). Returns [`Recursion::Stop`] if the
    /// walk was stopped, else [`Recursion::Continue`].
    pub fn visit<'n, V: Visitor<'n> + ?Sized>(
        &'n self,
        visitor: &mut V,
    ) -> Result<Recursion, V::Error> {
        enum Step<'n> {
            Down(&'n Expr, Position),
            Up(&'n Expr, Position),
        }
        let mut stack = vec![Step::Down(self, Position::ROOT)];
        // `f_up` returned Jump: skip the ancestors' `f_up` until a node
        // with children left to visit.
        let mut jumping = false;
        while let Some(step) = stack.pop() {
            match step {
                Step::Down(e, at) => {
                    jumping = false;
                    match visitor.f_down(e, at)? {
                        Recursion::Stop => return Ok(Recursion::Stop),
                        Recursion::Jump => stack.push(Step::Up(e, at)),
                        Recursion::Continue => {
                            stack.push(Step::Up(e, at));
                            push_children(&mut stack, e, at, Step::Down);
                        }
                    }
                }
                Step::Up(_, _) if jumping => {}
                Step::Up(e, at) => match visitor.f_up(e, at)? {
                    Recursion::Stop => return Ok(Recursion::Stop),
                    Recursion::Jump => jumping = true,
                    Recursion::Continue => {}
                },
            }
        }
        Ok(Recursion::Continue)
    }

    /// This node with `f` applied to each of its children (not to their
    /// children), in source order (DataFusion's `TreeNode::map_children`).
    pub fn map_children<E>(
        mut self,
        mut f: impl FnMut(Expr) -> Result<Expr, E>,
    ) -> Result<Expr, E> {
        let children = self.take_children();
        let mapped = children
            .into_iter()
            .map(&mut f)
            .collect::<Result<Vec<_>, E>>()?;
        self.put_children(mapped);
        Ok(self)
    }

    /// Rewrites the tree bottom-up: `f` gets every node after its children
    /// were rewritten (post-order) and returns its replacement, or an error
    /// that ends the rewrite (DataFusion's `TreeNode::transform_up`). The
    /// replacement is not walked again. Spans stay as they are unless `f`
    /// changes them.
    pub fn transform_up<E>(self, mut f: impl FnMut(Expr) -> Result<Expr, E>) -> Result<Expr, E> {
        let mut parents: Vec<Rewrite> = Vec::new();
        let mut node = self;
        loop {
            let mut current = Rewrite::new(node);
            loop {
                if let Some(child) = current.pending.next() {
                    parents.push(current);
                    node = child;
                    break;
                }
                let done = f(current.finish())?;
                match parents.pop() {
                    Some(mut parent) => {
                        parent.done.push(done);
                        current = parent;
                    }
                    None => return Ok(done),
                }
            }
        }
    }

    /// Rewrites the tree top-down: `f` gets every node before its children
    /// (pre-order) and returns its replacement, whose children are then
    /// rewritten in turn, or an error that ends the rewrite (DataFusion's
    /// `TreeNode::transform_down`). `f` is not called again on the
    /// replacement itself: to replace a node by one that may need replacing
    /// too, loop inside `f`. Spans stay as they are unless `f` changes them.
    pub fn transform_down<E>(self, mut f: impl FnMut(Expr) -> Result<Expr, E>) -> Result<Expr, E> {
        let mut parents: Vec<Rewrite> = Vec::new();
        let mut node = f(self)?;
        loop {
            let mut current = Rewrite::new(node);
            loop {
                if let Some(child) = current.pending.next() {
                    parents.push(current);
                    node = f(child)?;
                    break;
                }
                let done = current.finish();
                match parents.pop() {
                    Some(mut parent) => {
                        parent.done.push(done);
                        current = parent;
                    }
                    None => return Ok(done),
                }
            }
        }
    }

    /// Moves the children out, in [`Expr::children`] order (an emptied
    /// NOT holds a placeholder until [`Expr::put_children`]).
    fn take_children(&mut self) -> Vec<Expr> {
        match &mut self.kind {
            ExprKind::And { args } | ExprKind::Or { args } => std::mem::take(args),
            ExprKind::Not { arg } => vec![std::mem::replace(&mut **arg, placeholder())],
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
            | ExprKind::InSegment { .. } => self
                .event_filter_mut()
                .and_then(|f| f.predicate.take())
                .map(|p| vec![*p])
                .unwrap_or_default(),
        }
    }

    /// Puts back children taken by [`Expr::take_children`] (as many, in the
    /// same order).
    fn put_children(&mut self, mut children: Vec<Expr>) {
        match &mut self.kind {
            ExprKind::And { args } | ExprKind::Or { args } => *args = children,
            ExprKind::Not { arg } => {
                if let Some(c) = children.pop() {
                    **arg = c;
                }
            }
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
                if let (Some(p), Some(f)) = (children.pop(), self.event_filter_mut()) {
                    f.predicate = Some(Box::new(p));
                }
            }
        }
    }
}

impl Operand {
    /// The events an aggregate looks at; `None` for fields and built-ins.
    pub fn event_filter(&self) -> Option<&EventFilter> {
        match self {
            Operand::Aggregate(a) => Some(&a.filter),
            Operand::Field { .. } | Operand::TimePart { .. } | Operand::Builtin(_) => None,
        }
    }
}

/// Stands in for a NOT's argument while it is being rewritten (allocates
/// nothing).
fn placeholder() -> Expr {
    Expr::new(ExprKind::And { args: Vec::new() })
}

/// Pushes `e`'s children on a stack, last first (so they pop in order).
fn push_children<'n, T>(
    stack: &mut Vec<T>,
    e: &'n Expr,
    at: Position,
    step: impl Fn(&'n Expr, Position) -> T,
) {
    if let Some(p) = e.where_clause() {
        stack.push(step(p, at.predicate()));
    }
    for a in e.args().iter().rev() {
        stack.push(step(a, at.arg()));
    }
}

/// The pre-order iterator of [`Expr::walk`].
struct Walk<'n> {
    stack: Vec<(&'n Expr, Position)>,
}

impl<'n> Iterator for Walk<'n> {
    type Item = (&'n Expr, Position);

    fn next(&mut self) -> Option<Self::Item> {
        let (e, at) = self.stack.pop()?;
        push_children(&mut self.stack, e, at, |c, p| (c, p));
        Some((e, at))
    }
}

/// A node being rewritten: its children taken out, those not yet rewritten
/// and those rewritten.
struct Rewrite {
    node: Expr,
    pending: std::vec::IntoIter<Expr>,
    done: Vec<Expr>,
}

impl Rewrite {
    fn new(mut node: Expr) -> Self {
        let children = node.take_children();
        Rewrite {
            done: Vec::with_capacity(children.len()),
            pending: children.into_iter(),
            node,
        }
    }

    /// The node with its rewritten children back in place.
    fn finish(mut self) -> Expr {
        self.node.put_children(self.done);
        self.node
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use super::*;
    use crate::ast::Ident;

    fn parse(src: &str) -> Expr {
        crate::parser::parse_syntax(src).unwrap().expr
    }

    fn text(e: &Expr) -> String {
        e.to_string()
    }

    const SRC: &str = "a = 1 AND (NOT b OR count(purchase WHERE x > 1 AND performed(y WHERE z) WITHIN 30d) >= 2) AND IN SEGMENT s";

    #[test]
    fn children_include_where_predicates() {
        let e = parse(SRC);
        assert_eq!(e.children().count(), 3);
        let or = &e.args()[1];
        let agg = &or.args()[1];
        assert!(agg.args().is_empty());
        let kids: Vec<String> = agg.children().map(text).collect();
        assert_eq!(kids, ["x > 1 AND performed(y WHERE z)"]);
        assert!(agg.lhs().is_some() && agg.event_filter().is_some());
        assert!(!agg.is_connective() && or.is_connective());
        assert_eq!(e.args()[2].children().count(), 0);
    }

    #[test]
    fn walk_is_preorder_in_source_order_with_positions() {
        let e = parse(SRC);
        let seen: Vec<(String, usize, Scope)> = e
            .walk()
            .map(|(n, at)| (text(n), at.depth, at.scope))
            .collect();
        let short: Vec<(&str, usize, bool)> = seen
            .iter()
            .map(|(t, d, s)| (t.split(' ').next().unwrap_or(""), *d, *s == Scope::Event))
            .collect();
        assert_eq!(
            short,
            [
                ("a", 0, false),
                ("a", 1, false),
                ("NOT", 1, false),
                ("NOT", 2, false),
                ("b", 3, false),
                ("count(purchase", 2, false),
                ("x", 3, true),
                ("x", 4, true),
                ("performed(y", 4, true),
                ("z", 5, true),
                ("IN", 1, false),
            ]
        );
        let ops: Vec<String> = e.operands().map(|(o, _)| o.to_string()).collect();
        assert_eq!(ops.len(), 5, "{ops:?}"); // a, b, count(...), x, z
    }

    #[test]
    fn apply_jumps_and_stops() {
        let e = parse(SRC);
        let mut seen = 0;
        let r = e.apply(|n| {
            seen += 1;
            Ok::<_, Infallible>(if n.is_connective() {
                Recursion::Continue
            } else {
                Recursion::Jump
            })
        });
        assert_eq!(r, Ok(Recursion::Continue));
        assert_eq!(seen, 7); // the boolean structure only
        let mut refs = Vec::new();
        let r = e.apply(|n| {
            if let ExprKind::InSegment { name } = &n.kind {
                refs.push(&name.name);
                return Ok(Recursion::Stop);
            }
            Ok::<_, Infallible>(Recursion::Continue)
        });
        assert_eq!((r, refs), (Ok(Recursion::Stop), vec![&"s".to_string()]));
        let err = e.apply(|n| match n.kind {
            ExprKind::Performed { .. } => Err("performed"),
            _ => Ok(Recursion::Continue),
        });
        assert_eq!(err, Err("performed"));
    }

    #[test]
    fn visit_calls_up_after_children_and_jump_skips_parents() {
        struct Log(Vec<String>, bool);
        impl<'n> Visitor<'n> for Log {
            type Error = Infallible;
            fn f_down(&mut self, n: &'n Expr, _: Position) -> Result<Recursion, Infallible> {
                self.0.push(format!("down {n}"));
                Ok(Recursion::Continue)
            }
            fn f_up(&mut self, n: &'n Expr, _: Position) -> Result<Recursion, Infallible> {
                self.0.push(format!("up {n}"));
                Ok(if self.1 && n.to_string() == "b" {
                    Recursion::Jump
                } else {
                    Recursion::Continue
                })
            }
        }
        let e = parse("a AND NOT (b OR c) AND NOT b");
        let mut log = Log(Vec::new(), false);
        let Ok(_) = e.visit(&mut log);
        assert_eq!(
            log.0,
            [
                "down a AND NOT (b OR c) AND NOT b",
                "down a",
                "up a",
                "down NOT (b OR c)",
                "down b OR c",
                "down b",
                "up b",
                "down c",
                "up c",
                "up b OR c",
                "up NOT (b OR c)",
                "down NOT b",
                "down b",
                "up b",
                "up NOT b",
                "up a AND NOT (b OR c) AND NOT b",
            ]
        );
        // Jump from f_up: `b OR c` goes on with `c`; after the last `b` the
        // ancestors' f_up are skipped.
        let mut log = Log(Vec::new(), true);
        let Ok(_) = e.visit(&mut log);
        assert_eq!(log.0.len(), 14);
        assert_eq!(log.0.last().map(String::as_str), Some("up b"));
        assert!(log.0.contains(&"up b OR c".to_string()));
    }

    #[test]
    fn transforms_rewrite_every_level_including_where() {
        let rename = |mut e: Expr| {
            if let ExprKind::Truthy {
                lhs: Operand::Field { name },
            } = &mut e.kind
            {
                name.name = name.name.to_uppercase();
            }
            Ok::<_, Infallible>(e)
        };
        let Ok(up) = parse(SRC).transform_up(rename);
        let Ok(down) = parse(SRC).transform_down(rename);
        let want = "a = 1 AND (NOT B OR count(purchase WHERE x > 1 AND performed(y WHERE Z) WITHIN 30d) >= 2) AND IN SEGMENT s";
        assert_eq!(text(&up), want);
        assert_eq!(up, down);

        // Post-order: children first; pre-order: parents first.
        let mut order = Vec::new();
        let Ok(_) = parse("NOT (a OR b)").transform_up(|e| {
            order.push(e.to_string());
            Ok::<_, Infallible>(e)
        });
        assert_eq!(order, ["a", "b", "a OR b", "NOT (a OR b)"]);
        order.clear();
        let Ok(_) = parse("NOT (a OR b)").transform_down(|e| {
            order.push(e.to_string());
            Ok::<_, Infallible>(e)
        });
        assert_eq!(order, ["NOT (a OR b)", "a OR b", "a", "b"]);

        // Errors end the rewrite.
        let r = parse(SRC).transform_up(|e| match e.kind {
            ExprKind::InSegment { .. } => Err("ref"),
            _ => Ok(e),
        });
        assert_eq!(r, Err("ref"));
    }

    #[test]
    fn transform_down_inlines_and_walks_the_replacement() {
        // As the engine inlines saved segments: the replacement's own
        // references are replaced as well.
        let saved = |name: &str| match name {
            "outer" => Some(parse("x AND IN SEGMENT inner")),
            "inner" => Some(parse("NOT y")),
            _ => None,
        };
        let r = parse("IN SEGMENT outer OR z").transform_down(|mut e| {
            while let ExprKind::InSegment { name } = &e.kind {
                e = saved(&name.name).ok_or_else(|| name.name.clone())?;
            }
            Ok::<_, String>(e)
        });
        assert_eq!(r.map(|e| text(&e)), Ok("x AND NOT y OR z".to_string()));
        let r = parse("IN SEGMENT ghost").transform_down(|e| match &e.kind {
            ExprKind::InSegment { name } => saved(&name.name).ok_or(name.name.clone()),
            _ => Ok(e),
        });
        assert_eq!(r, Err("ghost".to_string()));
    }

    #[test]
    fn map_children_keeps_spans_and_shape() {
        let e = parse(SRC);
        let span = e.span;
        let Ok(m) = e.clone().map_children(Ok::<_, Infallible>);
        assert_eq!(m, e);
        assert_eq!(m.span, span);
        let agg = e.args()[1].args()[1].clone();
        let Ok(m) = agg.map_children(|_| Ok::<_, Infallible>(parse("w")));
        assert_eq!(text(&m), "count(purchase WHERE w WITHIN 30d) >= 2");
    }

    #[test]
    fn deep_trees_do_not_overflow_the_stack() {
        let mut e = Expr::new(ExprKind::Truthy {
            lhs: Operand::Field {
                name: Ident::new("x"),
            },
        });
        for _ in 0..200_000 {
            e = Expr::new(ExprKind::Not { arg: Box::new(e) });
        }
        assert_eq!(e.walk().map(|(_, at)| at.depth).max(), Some(200_000));
        let Ok(r) = e.apply(|_| Ok::<_, Infallible>(Recursion::Continue));
        assert_eq!(r, Recursion::Continue);
        let Ok(e) = e.transform_up(Ok::<_, Infallible>);
        let Ok(mut e) = e.transform_down(Ok::<_, Infallible>);
        // Dropping is recursive in Rust: unwind the chain by hand.
        while let ExprKind::Not { arg } = e.kind {
            e = *arg;
        }
    }
}
