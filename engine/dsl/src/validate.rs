//! Structural rules every segment must follow, whatever the dataset: the
//! rules the grammar cannot express (and that ASTs from JSON or programs
//! may break). A segment that passes formats to text that parses back to it.

use std::convert::Infallible;

use crate::ast::{
    AggFunc, Aggregate, Builtin, Duration, EventFilter, EventSel, Expr, ExprKind, Operand, Segment,
    Span, TimeUnit, TimeValue, Value, Window,
};
use crate::error::Diagnostic;
use crate::format;
use crate::locate::Locator;
use crate::parser::operand_span;
use crate::size;
use crate::time;
use crate::visit::{Position, Recursion, Visitor};

/// Longest duration accepted, per unit (about 100 years).
pub(crate) fn max_amount(unit: TimeUnit) -> u32 {
    match unit {
        TimeUnit::Hours => 876_600,
        TimeUnit::Days => 36_525,
        TimeUnit::Weeks => 5_218,
        TimeUnit::Months => 1_200,
        TimeUnit::Years => 100,
    }
}

/// Largest number of RFM bins.
pub(crate) const MAX_BINS: u32 = 100;
/// Longest anniversary window, in days.
pub(crate) const MAX_ANNIVERSARY_DAYS: u32 = 366;

pub(crate) fn validate(seg: &Segment, loc: Locator<'_>) -> Vec<Diagnostic> {
    if let Some(d) = size::limit_error(&seg.expr) {
        return vec![d];
    }
    let mut v = Validator {
        loc,
        diags: Vec::new(),
    };
    for c in &seg.comments {
        if c.text.contains(['\n', '\r']) {
            v.diags.push(Diagnostic::new(
                c.span,
                "a comment cannot contain a line break",
            ));
        }
    }
    let Ok(_) = seg.expr.visit(&mut v);
    v.diags
}

struct Validator<'a> {
    loc: Locator<'a>,
    diags: Vec<Diagnostic>,
}

impl Validator<'_> {
    fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn not_in_where(&mut self, span: Span, what: &str) {
        self.push(
            Diagnostic::new(span, format!("{what} cannot be used inside WHERE"))
                .with_expected("conditions on the event's own properties, e.g. amount >= 100")
                .with_suggestion("move it out of the aggregate and join it with AND"),
        );
    }

    fn name(&mut self, name: &crate::ast::Ident, what: &str) {
        if name.name.is_empty() {
            self.push(Diagnostic::new(name.span, format!("empty {what}")));
        }
    }

    /// The rules on `e` itself and its left-hand side, checked before its
    /// `WHERE` predicate (if any) is walked.
    fn head(&mut self, e: &Expr, in_where: bool) {
        match &e.kind {
            ExprKind::And { args } | ExprKind::Or { args } => {
                if args.len() < 2 {
                    let op = if matches!(e.kind, ExprKind::And { .. }) {
                        "AND"
                    } else {
                        "OR"
                    };
                    self.push(Diagnostic::new(
                        e.span,
                        format!(
                            "an {op} needs at least two conditions, found {}",
                            args.len()
                        ),
                    ));
                }
            }
            ExprKind::Not { .. } => {}
            ExprKind::Compare { lhs, .. }
            | ExprKind::Contains { lhs, .. }
            | ExprKind::StartsWith { lhs, .. }
            | ExprKind::EndsWith { lhs, .. }
            | ExprKind::InList { lhs, .. }
            | ExprKind::Between { lhs, .. }
            | ExprKind::IsNull { lhs, .. }
            | ExprKind::Truthy { lhs } => self.operand(lhs, in_where),
            ExprKind::Performed { filter } => {
                if in_where {
                    self.not_in_where(e.span, "performed(...)");
                }
                self.event(filter);
            }
            ExprKind::Anniversary { field, days } => {
                if in_where {
                    self.not_in_where(e.span, "anniversary(...)");
                }
                self.name(field, "field name");
                if !(1..=MAX_ANNIVERSARY_DAYS).contains(days) {
                    self.push(
                        Diagnostic::new(
                            self.loc.last_token(e.span, e.span),
                            format!("an anniversary window of {days} days is not allowed"),
                        )
                        .with_expected(format!("1 to {MAX_ANNIVERSARY_DAYS} days")),
                    );
                }
            }
            ExprKind::InSegment { name } => {
                if in_where {
                    self.not_in_where(e.span, "IN SEGMENT");
                }
                self.name(name, "segment name");
            }
        }
    }

    /// The rules checked after `e`'s `WHERE` predicate: its window, its
    /// values.
    fn tail(&mut self, e: &Expr) {
        if let Some(f) = e.event_filter() {
            self.window(f);
        }
        let region = |lhs: &Operand| Span::new(operand_span(lhs).end as usize, e.span.end as usize);
        match &e.kind {
            ExprKind::Compare { lhs, value, .. }
            | ExprKind::Contains { lhs, value, .. }
            | ExprKind::StartsWith { lhs, value, .. }
            | ExprKind::EndsWith { lhs, value, .. } => {
                self.value(value, self.loc.value(region(lhs), 0, e.span));
            }
            ExprKind::InList { lhs, list, .. } => {
                if list.is_empty() {
                    self.push(
                        Diagnostic::new(e.span, "the list is empty")
                            .with_expected("at least one value"),
                    );
                }
                for (i, v) in list.iter().enumerate() {
                    self.value(v, self.loc.value(region(lhs), i, e.span));
                }
            }
            ExprKind::Between { lhs, low, high, .. } => {
                self.value(low, self.loc.value(region(lhs), 0, e.span));
                self.value(high, self.loc.value(region(lhs), 1, e.span));
                if range_is_empty(low, high) {
                    self.push(
                        Diagnostic::new(
                            e.span,
                            "the range is empty: the low end is greater than the high end",
                        )
                        .with_suggestion(format!(
                            "write the {} first: BETWEEN {} AND {}",
                            match low {
                                Value::Time(_) => "earlier time",
                                _ => "smaller value",
                            },
                            format::value(high),
                            format::value(low)
                        )),
                    );
                }
            }
            ExprKind::And { .. }
            | ExprKind::Or { .. }
            | ExprKind::Not { .. }
            | ExprKind::IsNull { .. }
            | ExprKind::Truthy { .. }
            | ExprKind::Performed { .. }
            | ExprKind::Anniversary { .. }
            | ExprKind::InSegment { .. } => {}
        }
    }

    fn operand(&mut self, op: &Operand, in_where: bool) {
        match op {
            Operand::Field { name } | Operand::TimePart { field: name, .. } => {
                self.name(name, "field name")
            }
            Operand::Aggregate(a) => {
                if in_where {
                    self.not_in_where(a.span, &format!("{}(...)", a.func.name()));
                }
                self.aggregate(a);
            }
            Operand::Builtin(b) => {
                if in_where {
                    self.not_in_where(b.span, &format!("`{}`", b.func.name()));
                }
                self.builtin(b);
            }
        }
    }

    fn aggregate(&mut self, a: &Aggregate) {
        let f = a.func.name();
        match (&a.property, a.func.needs_property()) {
            (None, true) => {
                let ev = match &a.filter.event {
                    EventSel::Type { name } => name.name.as_str(),
                    EventSel::Any => "any",
                };
                let call = a.func.call();
                self.push(
                    Diagnostic::new(a.span, format!("{call}...) needs a property to aggregate"))
                        .with_expected(format!("{call}event.property ...)"))
                        .with_suggestion(match a.func {
                            AggFunc::CountDistinct => format!("e.g. {call}{ev}.category)"),
                            _ => format!("e.g. {call}{ev}.amount)"),
                        }),
                );
            }
            (Some(p), false) => {
                let what = match a.func {
                    AggFunc::Count => "counts events",
                    _ => "is the time of an event",
                };
                self.push(
                    Diagnostic::new(p.span, format!("{f}(...) {what} and takes no property"))
                        .with_suggestion(format!(
                            "to filter on `{}` use WHERE, e.g. {f}(event WHERE {} >= 100)",
                            p.name, p.name
                        )),
                );
            }
            (Some(p), true) => self.name(p, "property name"),
            (None, false) => {}
        }
        self.event(&a.filter);
    }

    /// The event type of a filter (its `WHERE` is walked after it).
    fn event(&mut self, f: &EventFilter) {
        if let EventSel::Type { name } = &f.event {
            self.name(name, "event type");
        }
    }

    /// The window of a filter (after its `WHERE`).
    fn window(&mut self, f: &EventFilter) {
        let Some(w) = &f.window else { return };
        let span = self.loc.window(f.span, f.span);
        match w {
            Window::Within { duration } => self.duration(duration, span),
            Window::Before { to } => self.time(to, span),
            Window::Since { from } => {
                self.time(from, span);
                if *from == TimeValue::Now {
                    self.push(
                        Diagnostic::new(
                            span,
                            "the window is empty: SINCE now ends where it starts",
                        )
                        .with_suggestion("events before as_of: drop the window, or SINCE today"),
                    );
                }
            }
            Window::Between { from, to } => {
                self.time(from, span);
                self.time(to, span);
                if never_before(from, to) {
                    self.push(
                        Diagnostic::new(
                            span,
                            "the window is empty: its start is not before its end",
                        )
                        .with_suggestion(format!(
                            "write the earlier time first: BETWEEN {} AND {}",
                            format::time_value(to),
                            format::time_value(from)
                        )),
                    );
                }
            }
        }
    }

    fn builtin(&mut self, b: &Builtin) {
        let p = &b.params;
        let allowed = b.func.param_names();
        let owner = if b.func.is_rfm() {
            "rfm"
        } else {
            b.func.name()
        };
        for (name, given) in [
            ("bins", p.bins.is_some()),
            ("lookback", p.lookback.is_some()),
            ("window", p.window.is_some()),
        ] {
            if given && !allowed.contains(&name) {
                self.push(
                    Diagnostic::new(
                        self.loc.param(b.span, name, b.span),
                        format!("`{owner}` has no parameter `{name}`"),
                    )
                    .with_expected(format!("only {}", allowed.join(", "))),
                );
            }
        }
        if let Some(bins) = p.bins
            && !(1..=MAX_BINS).contains(&bins)
        {
            self.push(
                Diagnostic::new(
                    self.loc.param(b.span, "bins", b.span),
                    format!("{bins} bins is not allowed"),
                )
                .with_expected(format!("1 to {MAX_BINS} bins")),
            );
        }
        if let Some(d) = &p.lookback {
            self.duration(d, self.loc.param(b.span, "lookback", b.span));
        }
        if let Some(d) = &p.window {
            self.duration(d, self.loc.param(b.span, "window", b.span));
        }
    }

    fn duration(&mut self, d: &Duration, span: Span) {
        let u = d.unit.suffix();
        if d.amount == 0 {
            self.push(
                Diagnostic::new(span, format!("a duration of 0{u} is empty"))
                    .with_expected("a duration of at least 1"),
            );
        } else if d.amount > max_amount(d.unit) {
            self.push(
                Diagnostic::new(span, format!("the duration {}{u} is too long", d.amount))
                    .with_expected(format!(
                        "at most about 100 years ({}{u})",
                        max_amount(d.unit)
                    )),
            );
        }
    }

    fn value(&mut self, v: &Value, span: Span) {
        match v {
            Value::Float(f) if !f.is_finite() => {
                self.push(
                    Diagnostic::new(span, format!("{f} is not a number"))
                        .with_expected("a finite number"),
                );
            }
            Value::Time(t) => self.time(t, span),
            _ => {}
        }
    }

    fn time(&mut self, t: &TimeValue, span: Span) {
        match t {
            TimeValue::Date { year, month, day } => {
                if let Some(e) = time::date_error(*year, *month, *day) {
                    self.push(Diagnostic::new(span, format!("invalid date: {e}")));
                }
            }
            TimeValue::Timestamp { micros } => {
                let (lo, hi) = time::micros_range();
                if !(lo..=hi).contains(micros) {
                    self.push(Diagnostic::new(
                        span,
                        "the timestamp is out of range (years 1..=9999)",
                    ));
                }
            }
            TimeValue::Ago { duration } => self.duration(duration, span),
            TimeValue::Today | TimeValue::Now => {}
        }
    }
}

/// A node's own rules before its `WHERE` predicate is walked, the rest
/// after, so diagnostics come in source order.
impl<'n> Visitor<'n> for Validator<'_> {
    type Error = Infallible;

    fn f_down(&mut self, e: &'n Expr, at: Position) -> Result<Recursion, Infallible> {
        self.head(e, at.in_where());
        Ok(Recursion::Continue)
    }

    fn f_up(&mut self, e: &'n Expr, _at: Position) -> Result<Recursion, Infallible> {
        self.tail(e);
        Ok(Recursion::Continue)
    }
}

/// True when the range `low..=high` holds no value, whatever as_of is:
/// literals of one kind in the wrong order, or relative times whose low end
/// is always the later instant (`BETWEEN -25y AND -35y`).
fn range_is_empty(low: &Value, high: &Value) -> bool {
    if let (Value::Time(l), Value::Time(h)) = (low, high)
        && let (Some(l), Some(h)) = (before_as_of(l), before_as_of(h))
    {
        return l.1 < h.0;
    }
    matches!((order_key(low), order_key(high)), (Some(l), Some(h)) if l.greater_than(&h))
}

/// True when instant `a` is at or after instant `b` for every as_of, so
/// the window `[a, b)` is empty: absolute times in that order, or relative
/// times where `a` is never further back than `b` (`BETWEEN -30d AND -60d`).
fn never_before(a: &TimeValue, b: &TimeValue) -> bool {
    if let (Some(a), Some(b)) = (before_as_of(a), before_as_of(b)) {
        return b.0 >= a.1;
    }
    matches!((time_key(a), time_key(b)), (Some(a), Some(b)) if a >= b)
}

/// How far before as_of a relative time falls, as the least and the most
/// microseconds over all as_of: calendar months are 28 to 31 days back,
/// years 365 to 366, `today` is up to a day back. None for absolute times.
fn before_as_of(t: &TimeValue) -> Option<(i64, i64)> {
    const HOUR: i64 = 3_600_000_000;
    const DAY: i64 = 24 * HOUR;
    let (lo, hi) = match t {
        TimeValue::Now => (0, 0),
        TimeValue::Today => (0, DAY - 1),
        TimeValue::Ago { duration } => {
            let n = i64::from(duration.amount);
            match duration.unit {
                TimeUnit::Hours => (n * HOUR, n * HOUR),
                TimeUnit::Days => (n * DAY, n * DAY),
                TimeUnit::Weeks => (7 * n * DAY, 7 * n * DAY),
                TimeUnit::Months => (28 * n * DAY, 31 * n * DAY),
                TimeUnit::Years => (365 * n * DAY, 366 * n * DAY),
            }
        }
        TimeValue::Date { .. } | TimeValue::Timestamp { .. } => return None,
    };
    Some((lo, hi))
}

/// A comparable key for literal values of one kind (numbers, strings,
/// absolute times), to spot empty ranges.
enum Key<'a> {
    Num(f64),
    Str(&'a str),
    Time(i64),
}

impl Key<'_> {
    /// `self > other` for keys of the same kind; `false` otherwise.
    fn greater_than(&self, other: &Self) -> bool {
        match (self, other) {
            (Key::Num(a), Key::Num(b)) => a > b,
            (Key::Str(a), Key::Str(b)) => a > b,
            (Key::Time(a), Key::Time(b)) => a > b,
            _ => false,
        }
    }
}

fn order_key(v: &Value) -> Option<Key<'_>> {
    match v {
        Value::Int(i) => Some(Key::Num(*i as f64)),
        Value::Float(f) => Some(Key::Num(*f)),
        Value::String(s) => Some(Key::Str(s)),
        Value::Time(t) => time_key(t).map(Key::Time),
        Value::Bool(_) => None,
    }
}

/// Microseconds of a valid absolute time.
fn time_key(t: &TimeValue) -> Option<i64> {
    match t {
        TimeValue::Date { year, month, day } => time::date_error(*year, *month, *day)
            .is_none()
            .then(|| time::days_from_civil(*year, *month, *day) * 86_400_000_000),
        TimeValue::Timestamp { micros } => Some(*micros),
        _ => None,
    }
}
