//! The canonical pretty-printer. For every valid segment
//! `parse(&format(&s)) == s`: parentheses are written exactly where the AST
//! nests, names that are keywords or odd are backquoted, floats are written
//! in their shortest exact form.

use std::fmt::{self, Write as _};

use crate::ast::{
    Aggregate, Builtin, BuiltinParams, CmpOp, Comment, Duration, EventFilter, EventSel, Expr,
    ExprKind, Ident, Operand, Segment, TextTest, TimeValue, Value, Window,
};
use crate::lexer;
use crate::time;

/// Lines longer than this put each top-level AND / OR operand on its own line.
const MAX_WIDTH: usize = 80;

pub(crate) fn segment(seg: &Segment) -> String {
    let single = [&seg.expr];
    let (op, args): (Option<&str>, Vec<&Expr>) = match &seg.expr.kind {
        ExprKind::And { args } if args.len() >= 2 => (Some("AND"), args.iter().collect()),
        ExprKind::Or { args } if args.len() >= 2 => (Some("OR"), args.iter().collect()),
        _ => (None, single.to_vec()),
    };
    let n = args.len();
    // Comment slots: 0 = header, i = before operand i, n = trailing.
    let mut slots: Vec<Vec<&Comment>> = vec![Vec::new(); n + 1];
    let mut min_slot = 0;
    for c in &seg.comments {
        let slot = if c.span.start == 0 && c.span.end == 0 {
            0
        } else {
            args.iter()
                .position(|a| a.span.end > c.span.start)
                .unwrap_or(n)
        };
        let slot = slot.max(min_slot);
        min_slot = slot;
        slots[slot].push(c);
    }
    let mut out = String::new();
    for c in &slots[0] {
        let _ = writeln!(out, "#{}", c.text);
    }
    let parts: Vec<String> = args
        .iter()
        .map(|a| {
            let mut s = String::new();
            match op {
                Some(op) => chain_arg(&mut s, a, op),
                None => expr(&mut s, a),
            }
            s
        })
        .collect();
    let inline_len: usize = parts.iter().map(|p| p.len() + 5).sum();
    let inner_comments = slots[1..n].iter().any(|s| !s.is_empty());
    match op {
        Some(op) if inline_len > MAX_WIDTH || inner_comments => {
            for (i, p) in parts.iter().enumerate() {
                if i == 0 {
                    out.push_str(p);
                    continue;
                }
                out.push('\n');
                for c in &slots[i] {
                    let _ = writeln!(out, "  #{}", c.text);
                }
                let _ = write!(out, "  {op} {p}");
            }
        }
        Some(op) => out.push_str(&parts.join(&format!(" {op} "))),
        None => out.push_str(&parts[0]),
    }
    for c in &slots[n] {
        let _ = write!(out, "\n#{}", c.text);
    }
    out
}

/// An operand of an AND / OR chain, parenthesised where the AST nests.
fn chain_arg(out: &mut String, e: &Expr, op: &str) {
    let nested = match &e.kind {
        ExprKind::Or { .. } => true,
        ExprKind::And { .. } => op == "AND",
        ExprKind::Not { .. }
        | ExprKind::Compare { .. }
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
    };
    paren_if(out, e, nested);
}

fn paren_if(out: &mut String, e: &Expr, paren: bool) {
    if paren {
        out.push('(');
        expr(out, e);
        out.push(')');
    } else {
        expr(out, e);
    }
}

pub(crate) fn expr(out: &mut String, e: &Expr) {
    match &e.kind {
        ExprKind::And { args } | ExprKind::Or { args } => {
            let op = if matches!(e.kind, ExprKind::And { .. }) {
                "AND"
            } else {
                "OR"
            };
            for (i, a) in args.iter().enumerate() {
                if i > 0 {
                    let _ = write!(out, " {op} ");
                }
                chain_arg(out, a, op);
            }
        }
        ExprKind::Not { arg } => {
            out.push_str("NOT ");
            let group = matches!(arg.kind, ExprKind::And { .. } | ExprKind::Or { .. });
            paren_if(out, arg, group);
        }
        ExprKind::Compare { lhs, cmp, value: v } => {
            operand(out, lhs);
            let _ = write!(out, " {} {}", cmp.as_str(), value(v));
        }
        ExprKind::InList { lhs, list, negated } => {
            operand(out, lhs);
            out.push_str(if *negated { " NOT IN (" } else { " IN (" });
            for (i, v) in list.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&value(v));
            }
            out.push(')');
        }
        ExprKind::Between {
            lhs,
            low,
            high,
            negated,
        } => {
            operand(out, lhs);
            let not = if *negated { " NOT" } else { "" };
            let _ = write!(out, "{not} BETWEEN {} AND {}", value(low), value(high));
        }
        ExprKind::Contains {
            lhs,
            value: v,
            ignore_case,
        } => text_test(out, lhs, TextTest::Contains, v, *ignore_case),
        ExprKind::StartsWith {
            lhs,
            value: v,
            ignore_case,
        } => text_test(out, lhs, TextTest::StartsWith, v, *ignore_case),
        ExprKind::EndsWith {
            lhs,
            value: v,
            ignore_case,
        } => text_test(out, lhs, TextTest::EndsWith, v, *ignore_case),
        ExprKind::IsNull { lhs, negated } => {
            operand(out, lhs);
            out.push_str(if *negated { " IS NOT NULL" } else { " IS NULL" });
        }
        ExprKind::Truthy { lhs } => operand(out, lhs),
        ExprKind::Performed { filter } => {
            out.push_str("performed(");
            event_filter(out, filter, None);
            out.push(')');
        }
        ExprKind::Anniversary { field, days } => {
            let _ = write!(
                out,
                "anniversary({}) WITHIN NEXT {days}d",
                ident(&field.name)
            );
        }
        ExprKind::InSegment { name } => {
            let _ = write!(out, "IN SEGMENT {}", ident(&name.name));
        }
    }
}

fn operand(out: &mut String, op: &Operand) {
    match op {
        Operand::Field { name } => out.push_str(&ident(&name.name)),
        Operand::Aggregate(a) => aggregate(out, a),
        Operand::Builtin(b) => builtin(out, b),
        Operand::TimePart { part, field, .. } => {
            let _ = write!(out, "{}({})", part.name(), ident(&field.name));
        }
    }
}

fn aggregate(out: &mut String, a: &Aggregate) {
    out.push_str(&a.func.call());
    event_filter(out, &a.filter, a.property.as_ref());
    out.push(')');
}

fn event_filter(out: &mut String, f: &EventFilter, property: Option<&Ident>) {
    match &f.event {
        EventSel::Type { name } => out.push_str(&ident(&name.name)),
        EventSel::Any => out.push_str("any"),
    }
    if let Some(p) = property {
        let _ = write!(out, ".{}", ident(&p.name));
    }
    if let Some(p) = &f.predicate {
        out.push_str(" WHERE ");
        // `WHERE flag BETWEEN a AND b` would read as a BETWEEN condition.
        let paren = matches!(f.window, Some(Window::Between { .. })) && ends_with_operand(p);
        paren_if(out, p, paren);
    }
    if let Some(w) = &f.window {
        out.push(' ');
        window(out, w);
    }
}

/// Whether the printed expression ends with a bare operand (a Truthy not
/// closed by a parenthesis), which a following BETWEEN would attach to.
fn ends_with_operand(e: &Expr) -> bool {
    match &e.kind {
        ExprKind::Truthy { .. } => true,
        ExprKind::And { args } => args.last().is_some_and(|a| {
            !matches!(a.kind, ExprKind::And { .. } | ExprKind::Or { .. }) && ends_with_operand(a)
        }),
        ExprKind::Or { args } => args
            .last()
            .is_some_and(|a| !matches!(a.kind, ExprKind::Or { .. }) && ends_with_operand(a)),
        ExprKind::Not { arg } => {
            !matches!(arg.kind, ExprKind::And { .. } | ExprKind::Or { .. })
                && ends_with_operand(arg)
        }
        // A BETWEEN after these cannot attach to them.
        ExprKind::Compare { .. }
        | ExprKind::InList { .. }
        | ExprKind::Between { .. }
        | ExprKind::Contains { .. }
        | ExprKind::StartsWith { .. }
        | ExprKind::EndsWith { .. }
        | ExprKind::IsNull { .. }
        | ExprKind::Performed { .. }
        | ExprKind::Anniversary { .. }
        | ExprKind::InSegment { .. } => false,
    }
}

fn text_test(out: &mut String, lhs: &Operand, test: TextTest, v: &Value, ignore_case: bool) {
    operand(out, lhs);
    let _ = write!(out, " {} {}", test.keyword(), value(v));
    if ignore_case {
        out.push_str(" IGNORING CASE");
    }
}

fn window(out: &mut String, w: &Window) {
    match w {
        Window::Within { duration: d } => {
            let _ = write!(out, "WITHIN {}", duration(d));
        }
        Window::Since { from } => {
            let _ = write!(out, "SINCE {}", time_value(from));
        }
        Window::Between { from, to } => {
            let _ = write!(out, "BETWEEN {} AND {}", time_value(from), time_value(to));
        }
        Window::Before { to } => {
            let _ = write!(out, "BEFORE {}", time_value(to));
        }
    }
}

fn builtin(out: &mut String, b: &Builtin) {
    let name = b.func.name();
    let (head, member) = match b.func.rfm_member() {
        Some(m) => ("rfm", Some(m)),
        None => (name, None),
    };
    out.push_str(head);
    params(out, &b.params);
    if let Some(m) = member {
        let _ = write!(out, ".{m}");
    }
}

fn params(out: &mut String, p: &BuiltinParams) {
    let mut items = Vec::new();
    if let Some(b) = p.bins {
        items.push(format!("bins = {b}"));
    }
    if let Some(d) = &p.lookback {
        items.push(format!("lookback = {}", duration(d)));
    }
    if let Some(d) = &p.window {
        items.push(format!("window = {}", duration(d)));
    }
    if !items.is_empty() {
        let _ = write!(out, "({})", items.join(", "));
    }
}

/// A name as DSL code: bare when possible, else backquoted.
pub(crate) fn ident(name: &str) -> String {
    if lexer::is_plain_ident(name) {
        name.to_string()
    } else {
        format!("`{}`", name.replace('`', "``"))
    }
}

/// A string literal as DSL code.
pub(crate) fn string(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

pub(crate) fn value(v: &Value) -> String {
    match v {
        Value::Int(i) => i.to_string(),
        // Debug is the shortest text that parses back to the same f64, with
        // a `.0` or an exponent, so it never reads as an integer.
        Value::Float(f) => format!("{f:?}"),
        Value::String(s) => string(s),
        Value::Bool(b) => b.to_string(),
        Value::Time(t) => time_value(t),
    }
}

pub(crate) fn time_value(t: &TimeValue) -> String {
    match t {
        TimeValue::Date { year, month, day } => format!("{year:04}-{month:02}-{day:02}"),
        TimeValue::Timestamp { micros } => time::format_timestamp(*micros),
        TimeValue::Ago { duration: d } => format!("-{}", duration(d)),
        TimeValue::Today => "today".into(),
        TimeValue::Now => "now".into(),
    }
}

pub(crate) fn duration(d: &Duration) -> String {
    format!("{}{}", d.amount, d.unit.suffix())
}

// ---- Display: every node prints as canonical DSL text ---------------------

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&segment(self))
    }
}

impl fmt::Display for Expr {
    /// The expression on one line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        expr(&mut s, self);
        f.write_str(&s)
    }
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        operand(&mut s, self);
        f.write_str(&s)
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&value(self))
    }
}

impl fmt::Display for TimeValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&time_value(self))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&duration(self))
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = String::new();
        window(&mut s, self);
        f.write_str(&s)
    }
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&ident(&self.name))
    }
}

impl fmt::Display for CmpOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
