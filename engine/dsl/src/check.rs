//! Type checking against a [`Catalog`]: names exist, values fit their
//! fields, functions get what they need. Every mistake is reported, not just
//! the first.

use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;

use crate::ast::{
    AggFunc, Aggregate, BuiltinFunc, CmpOp, EventFilter, EventSel, Expr, ExprKind, Ident, Operand,
    Segment, Span, TextTest, TimePart, Value,
};
use crate::catalog::{Catalog, FieldType};
use crate::error::Diagnostic;
use crate::format;
use crate::locate::Locator;
use crate::parser::{self, operand_span};
use crate::size;
use crate::suggest;
use crate::validate;
use crate::visit::{Position, Recursion, Scope, Visitor};

/// How deep `IN SEGMENT` references are followed when looking for cycles.
const MAX_SEGMENT_DEPTH: usize = 32;

pub(crate) fn check(seg: &Segment, catalog: &dyn Catalog, src: Option<&str>) -> Vec<Diagnostic> {
    // A segment over a size limit is not walked any further.
    if let Some(d) = size::limit_error(&seg.expr) {
        return vec![d];
    }
    let loc = Locator::new(src);
    let mut diags = validate::validate(seg, loc);
    let mut c = Checker {
        catalog,
        loc,
        diags: Vec::new(),
        profile_names: None,
        event_prop_names: None,
        event_types: None,
        segment_status: BTreeMap::new(),
    };
    let Ok(_) = seg.expr.visit(&mut c);
    diags.extend(c.diags);
    diags.sort_by_key(|d| d.span.start);
    diags.dedup();
    diags.truncate(parser::MAX_DIAGNOSTICS);
    diags
}

/// What is known about a condition's left-hand side.
struct Info {
    ty: FieldType,
    /// How to name it in messages, e.g. `` `amount` `` or `count(...)`.
    label: String,
    /// A short example of the operand, for hints.
    code: String,
    builtin: Option<BuiltinFunc>,
}

struct Checker<'a> {
    catalog: &'a dyn Catalog,
    loc: Locator<'a>,
    diags: Vec<Diagnostic>,
    profile_names: Option<Vec<String>>,
    event_prop_names: Option<Vec<String>>,
    event_types: Option<Vec<String>>,
    /// Saved segments already followed: `None` = fine, `Some(msg)` = broken.
    segment_status: BTreeMap<String, Option<String>>,
}

pub(crate) fn type_name(t: &FieldType) -> String {
    match t {
        FieldType::Bool => "a boolean".into(),
        FieldType::Int => "an integer".into(),
        FieldType::Float => "a number".into(),
        FieldType::String => "text".into(),
        FieldType::Date => "a date".into(),
        FieldType::Timestamp => "a timestamp".into(),
        FieldType::List(inner) => {
            let i = type_name(inner);
            let i = i.trim_start_matches("an ").trim_start_matches("a ");
            format!("a list of {i}")
        }
        FieldType::Other => "a value of a type the DSL cannot compare".into(),
    }
}

fn value_kind(v: &Value) -> &'static str {
    match v {
        Value::Int(_) | Value::Float(_) => "a number",
        Value::String(_) => "text",
        Value::Bool(_) => "a boolean",
        Value::Time(_) => "a time",
    }
}

fn is_numeric(t: &FieldType) -> bool {
    matches!(t, FieldType::Int | FieldType::Float)
}

fn is_time(t: &FieldType) -> bool {
    matches!(t, FieldType::Date | FieldType::Timestamp)
}

/// The literal as DSL text (for hints).
fn lit(v: &Value) -> String {
    format::value(v)
}

impl Checker<'_> {
    fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    fn profile_names(&mut self) -> Vec<String> {
        if self.profile_names.is_none() {
            let mut names = self.catalog.profile_fields();
            names.extend(BuiltinFunc::ALL.iter().map(|b| b.name().to_string()));
            self.profile_names = Some(names);
        }
        self.profile_names.clone().unwrap_or_default()
    }

    fn event_prop_names(&mut self) -> Vec<String> {
        if self.event_prop_names.is_none() {
            self.event_prop_names = Some(self.catalog.event_properties());
        }
        self.event_prop_names.clone().unwrap_or_default()
    }

    fn event_types(&mut self) -> Vec<String> {
        if self.event_types.is_none() {
            self.event_types = Some(self.catalog.event_types());
        }
        self.event_types.clone().unwrap_or_default()
    }

    fn with_did_you_mean(d: Diagnostic, word: &str, names: &[String]) -> Diagnostic {
        match suggest::best(word, names.iter().map(String::as_str)) {
            Some(s) => {
                let code = if BuiltinFunc::ALL.iter().any(|b| b.name() == s) {
                    s
                } else {
                    format::ident(&s)
                };
                d.did_you_mean(&code)
            }
            None => d,
        }
    }

    // ---- expressions ---------------------------------------------------

    /// Checks condition `e`, after its event type and its `WHERE` were
    /// (see the `Visitor` impl below).
    fn condition(&mut self, e: &Expr, ctx: Scope) {
        let region = |lhs: &Operand| Span::new(operand_span(lhs).end as usize, e.span.end as usize);
        match &e.kind {
            ExprKind::And { .. } | ExprKind::Or { .. } | ExprKind::Not { .. } => {}
            ExprKind::Compare { lhs, cmp, value } => {
                let Some(info) = self.operand(lhs, ctx) else {
                    return;
                };
                let vspan = self.loc.value(region(lhs), 0, e.span);
                self.compare(&info, *cmp, value, vspan, e.span);
            }
            ExprKind::InList { lhs, list, .. } => {
                let Some(info) = self.operand(lhs, ctx) else {
                    return;
                };
                if !self.comparable(&info, e.span, "IN (...)") {
                    return;
                }
                let spans = self.loc.values(region(lhs));
                for (i, v) in list.iter().enumerate() {
                    let vspan = spans.get(i).copied().unwrap_or(e.span);
                    if self.value_fits(&info, v, vspan) {
                        self.member(&info, v, vspan);
                    }
                }
            }
            ExprKind::Between { lhs, low, high, .. } => {
                let Some(info) = self.operand(lhs, ctx) else {
                    return;
                };
                if info.ty == FieldType::Bool {
                    self.push(
                        Diagnostic::new(
                            e.span,
                            format!("{} is a boolean and has no range", info.label),
                        )
                        .with_suggestion(format!("compare it: {} = true", info.code)),
                    );
                    return;
                }
                if !self.comparable(&info, e.span, "BETWEEN") {
                    return;
                }
                for (i, v) in [low, high].into_iter().enumerate() {
                    let vspan = self.loc.value(region(lhs), i, e.span);
                    self.value_fits(&info, v, vspan);
                }
            }
            ExprKind::Contains {
                lhs,
                value,
                ignore_case,
            } => {
                let Some(info) = self.operand(lhs, ctx) else {
                    return;
                };
                let vspan = self.loc.value(region(lhs), 0, e.span);
                match &info.ty {
                    FieldType::String => {
                        self.value_fits(&info, value, vspan);
                    }
                    FieldType::List(_) if *ignore_case => self.push(
                        Diagnostic::new(
                            e.span,
                            format!(
                                "IGNORING CASE needs text, but {} is {}",
                                info.label,
                                type_name(&info.ty)
                            ),
                        )
                        .with_suggestion(format!(
                            "list elements match exactly: {} CONTAINS {}",
                            info.code,
                            format::value(value)
                        )),
                    ),
                    FieldType::List(elem) => {
                        let elem_info = Info {
                            ty: (**elem).clone(),
                            label: format!("an element of {}", info.label),
                            code: info.code.clone(),
                            builtin: None,
                        };
                        self.value_fits(&elem_info, value, vspan);
                    }
                    other => self.push(
                        Diagnostic::new(
                            e.span,
                            format!(
                                "CONTAINS needs text or a list, but {} is {}",
                                info.label,
                                type_name(other)
                            ),
                        )
                        .with_suggestion(match other {
                            t if is_time(t) => {
                                format!("compare it with a time, e.g. {} >= 2024-01-01", info.code)
                            }
                            t if is_numeric(t) => {
                                format!("compare it with =, <, >, e.g. {} >= 1", info.code)
                            }
                            _ => format!("compare it with =, e.g. {} = true", info.code),
                        }),
                    ),
                }
            }
            ExprKind::StartsWith { lhs, value, .. } | ExprKind::EndsWith { lhs, value, .. } => {
                let Some(info) = self.operand(lhs, ctx) else {
                    return;
                };
                let vspan = self.loc.value(region(lhs), 0, e.span);
                if info.ty == FieldType::String {
                    self.value_fits(&info, value, vspan);
                } else {
                    let op = match e.kind {
                        ExprKind::EndsWith { .. } => TextTest::EndsWith.keyword(),
                        _ => TextTest::StartsWith.keyword(),
                    };
                    self.push(
                        Diagnostic::new(
                            e.span,
                            format!(
                                "{op} needs text, but {} is {}",
                                info.label,
                                type_name(&info.ty)
                            ),
                        )
                        .with_expected("a text field"),
                    );
                }
            }
            ExprKind::IsNull { lhs, .. } => {
                self.operand(lhs, ctx);
            }
            ExprKind::Truthy { lhs } => {
                let Some(info) = self.operand(lhs, ctx) else {
                    return;
                };
                self.truthy(&info, e.span);
            }
            ExprKind::Performed { .. } => {}
            ExprKind::Anniversary { field, .. } => {
                if ctx == Scope::Event {
                    return; // reported by validation
                }
                let Some(info) = self.field(field, Scope::Profile) else {
                    return;
                };
                if !is_time(&info.ty) {
                    self.push(
                        Diagnostic::new(
                            field.span,
                            format!(
                                "anniversary(...) needs a date, but {} is {}",
                                info.label,
                                type_name(&info.ty)
                            ),
                        )
                        .with_expected("a date or timestamp field, e.g. birth_date"),
                    );
                }
            }
            ExprKind::InSegment { name } => self.in_segment(name),
        }
    }

    /// Whether `info` can be compared with values (not a list or unknown type).
    fn comparable(&mut self, info: &Info, span: Span, what: &str) -> bool {
        match &info.ty {
            FieldType::List(_) => {
                self.push(
                    Diagnostic::new(
                        span,
                        format!("{} is a list and cannot be used with {what}", info.label),
                    )
                    .with_suggestion(format!(
                        "test its elements with CONTAINS, e.g. {} CONTAINS '...'",
                        info.code
                    )),
                );
                false
            }
            FieldType::Other => {
                self.push(
                    Diagnostic::new(
                        span,
                        format!("{} has a type the DSL cannot compare", info.label),
                    )
                    .with_suggestion(format!(
                        "only {} IS NULL / IS NOT NULL can be used",
                        info.code
                    )),
                );
                false
            }
            _ => true,
        }
    }

    fn compare(&mut self, info: &Info, cmp: CmpOp, value: &Value, vspan: Span, span: Span) {
        if !self.comparable(info, span, cmp.as_str()) {
            return;
        }
        if info.ty == FieldType::Bool && !matches!(cmp, CmpOp::Eq | CmpOp::NotEq) {
            self.push(
                Diagnostic::new(
                    span,
                    format!("{} is a boolean; it has no order", info.label),
                )
                .with_expected("= or !=")
                .with_suggestion(format!("write {} or NOT {}", info.code, info.code)),
            );
            return;
        }
        if self.value_fits(info, value, vspan) && matches!(cmp, CmpOp::Eq | CmpOp::NotEq) {
            self.member(info, value, vspan);
        }
    }

    /// Whether `value` can be compared with `info`; reports if not.
    fn value_fits(&mut self, info: &Info, value: &Value, vspan: Span) -> bool {
        let ok = match (&info.ty, value) {
            (FieldType::Bool, Value::Bool(_)) => true,
            (t, Value::Int(_) | Value::Float(_)) if is_numeric(t) => true,
            (FieldType::String, Value::String(_)) => true,
            (t, Value::Time(_)) if is_time(t) => true,
            _ => false,
        };
        if ok {
            return true;
        }
        let mut d = Diagnostic::new(
            vspan,
            format!(
                "{} is {}, but {} is {}",
                info.label,
                type_name(&info.ty),
                lit(value),
                value_kind(value)
            ),
        )
        .with_expected(type_name(&info.ty));
        d = match (&info.ty, value) {
            (t, Value::String(s)) if is_numeric(t) && (s.trim().parse::<f64>().is_ok()) => d
                .with_suggestion(format!("write numbers without quotes: {}", s.trim()))
                .with_replacement(s.trim()),
            (t, Value::String(s)) if is_time(t) => match parser::unquoted_time(s.trim()) {
                Some(_) => d
                    .with_suggestion(format!("write dates unquoted: {}", s.trim()))
                    .with_replacement(s.trim()),
                None => d.with_suggestion(
                    "write a date unquoted (2024-05-01), a time before as_of (-30d), today or now",
                ),
            },
            (t, Value::Int(n)) if is_time(t) && *n > 0 => {
                let fix = format!("-{n}d");
                d.with_suggestion(format!("for the time {n} days before as_of write {fix}"))
                    .with_replacement(fix)
            }
            (FieldType::String, v) => {
                let q = format::string(&lit(v));
                d.with_suggestion(format!("text is written in single quotes: {q}"))
                    .with_replacement(q)
            }
            (FieldType::Bool, Value::String(s)) => {
                let b = matches!(s.to_ascii_lowercase().as_str(), "true" | "yes" | "y" | "1");
                d.with_suggestion(format!(
                    "write true or false without quotes: {} = {b}",
                    info.code
                ))
                .with_replacement(b.to_string())
            }
            _ => d,
        };
        self.push(d);
        false
    }

    /// Values of the string built-ins (rfm.segment, channel_mix, lifecycle)
    /// must be one of their known values.
    fn member(&mut self, info: &Info, value: &Value, vspan: Span) {
        let (Some(b), Value::String(s)) = (info.builtin, value) else {
            return;
        };
        let Some(values) = b.values() else { return };
        if values.contains(&s.as_str()) {
            return;
        }
        let what = match b {
            BuiltinFunc::RfmSegment => "an RFM segment",
            BuiltinFunc::ChannelMix => "a channel-mix class",
            _ => "a lifecycle state",
        };
        let list = values
            .iter()
            .map(|v| format!("'{v}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let mut d = Diagnostic::new(vspan, format!("{} is not {what}", lit(value)))
            .with_expected(format!("one of {list}"));
        if b == BuiltinFunc::Lifecycle && s.eq_ignore_ascii_case("churned") {
            d = d.with_suggestion(format!(
                "churned means dormant or lost: {} IN ('dormant', 'lost')",
                info.code
            ));
        } else if let Some(best) = suggest::best(s, values.iter().copied()) {
            d = d.did_you_mean(&format!("'{best}'"));
        }
        self.push(d);
    }

    fn truthy(&mut self, info: &Info, span: Span) {
        if info.ty == FieldType::Bool {
            return;
        }
        let example = match (&info.ty, info.builtin) {
            (_, Some(b)) if b.values().is_some() => {
                format!("{} = '{}'", info.code, b.values().unwrap_or(&[""])[0])
            }
            (FieldType::List(_), _) => format!("{} CONTAINS '...'", info.code),
            (FieldType::String, _) => format!("{} = '...' or {} IS NOT NULL", info.code, info.code),
            (FieldType::Date | FieldType::Timestamp, _) => format!("{} >= -30d", info.code),
            (FieldType::Other, _) => format!("{} IS NOT NULL", info.code),
            _ => format!("{} > 0", info.code),
        };
        let mut d = Diagnostic::new(
            span,
            format!("{} is {}, not a condition", info.label, type_name(&info.ty)),
        )
        .with_expected("a boolean field or a comparison")
        .with_suggestion(format!("compare it, e.g. {example}"));
        if info.label.starts_with("count(") {
            d = d.with_suggestion(format!("compare it, e.g. {example}, or use performed(...)"));
        }
        self.push(d);
    }

    // ---- operands ------------------------------------------------------

    fn operand(&mut self, op: &Operand, ctx: Scope) -> Option<Info> {
        match op {
            Operand::Field { name } => self.field(name, ctx),
            Operand::TimePart { part, field, span } => self.time_part(*part, field, *span, ctx),
            Operand::Aggregate(a) => {
                if ctx == Scope::Event {
                    return None; // reported by validation
                }
                self.aggregate(a)
            }
            Operand::Builtin(b) => {
                if ctx == Scope::Event {
                    return None;
                }
                Some(Info {
                    ty: b.func.result_type(),
                    label: format!("`{}`", b.func.name()),
                    code: b.func.name().to_string(),
                    builtin: Some(b.func),
                })
            }
        }
    }

    /// `month(birth_date)`: an integer, of a date or timestamp field (an
    /// hour of a timestamp only).
    fn time_part(&mut self, part: TimePart, field: &Ident, span: Span, ctx: Scope) -> Option<Info> {
        let info = self.field(field, ctx)?;
        let f = part.name();
        let fits = match info.ty {
            FieldType::Timestamp => true,
            FieldType::Date => part != TimePart::Hour,
            _ => false,
        };
        if !fits {
            let d = Diagnostic::new(
                span,
                format!(
                    "{f}(...) needs {}, but {} is {}",
                    match part {
                        TimePart::Hour => "a timestamp",
                        _ => "a date or a timestamp",
                    },
                    info.label,
                    type_name(&info.ty)
                ),
            )
            .with_expected(match part {
                TimePart::Hour => "a timestamp field, e.g. hour(signup_at)",
                _ => "a date or timestamp field, e.g. month(birth_date)",
            });
            self.push(d);
            return None;
        }
        Some(Info {
            ty: FieldType::Int,
            label: format!("{f}({})", info.code),
            code: format!("{f}({})", info.code),
            builtin: None,
        })
    }

    fn field(&mut self, name: &Ident, ctx: Scope) -> Option<Info> {
        let n = name.name.as_str();
        let code = format::ident(n);
        let found = match ctx {
            Scope::Profile => self.catalog.profile_field(n),
            Scope::Event => self.catalog.event_property(n),
        };
        if let Some(ty) = found {
            return Some(Info {
                ty,
                label: format!("`{n}`"),
                code,
                builtin: None,
            });
        }
        let d = match ctx {
            Scope::Profile if self.catalog.event_property(n).is_some() => {
                Diagnostic::new(name.span, format!("`{n}` is an event property, not a profile attribute"))
                    .with_suggestion(format!(
                        "use it inside an aggregate, e.g. count(purchase WHERE {code} >= 100) >= 1 or sum(purchase.{code} WITHIN 30d) >= 100"
                    ))
            }
            Scope::Profile if self.event_types().iter().any(|t| t == n) => {
                Diagnostic::new(name.span, format!("`{n}` is an event type, not a profile attribute"))
                    .with_suggestion(format!("did you mean performed({code})?"))
                    .with_replacement(format!("performed({code})"))
            }
            Scope::Profile => {
                let names = self.profile_names();
                let d = Diagnostic::new(name.span, format!("unknown field `{n}`"))
                    .with_expected("a profile attribute or a built-in (rfm.segment, channel_mix, lifecycle, ...)");
                Self::with_did_you_mean(d, n, &names)
            }
            Scope::Event if self.catalog.profile_field(n).is_some() => {
                Diagnostic::new(name.span, format!("`{n}` is a profile attribute, not an event property"))
                    .with_suggestion(format!(
                        "WHERE filters events; move the condition on `{n}` out of the aggregate and join it with AND"
                    ))
            }
            Scope::Event if n == "event_type" => {
                Diagnostic::new(name.span, "the event type is not a property inside WHERE")
                    .with_suggestion(
                        "name the event type first: count(purchase WHERE ...), or list several \
                         types as separate conditions joined with OR",
                    )
            }
            Scope::Event => {
                let names = self.event_prop_names();
                let d = Diagnostic::new(name.span, format!("unknown event property `{n}`"))
                    .with_expected("an event property");
                Self::with_did_you_mean(d, n, &names)
            }
        };
        self.push(d);
        None
    }

    /// What is known about aggregate `a` (its event filter is checked by
    /// the walk).
    fn aggregate(&mut self, a: &Aggregate) -> Option<Info> {
        let f = a.func.name();
        let label = format!("{f}(...)");
        let ty = match (a.func, &a.property) {
            (AggFunc::Count | AggFunc::CountDistinct, _) => FieldType::Int,
            (AggFunc::First | AggFunc::Last, _) => FieldType::Timestamp,
            (_, None) => return None, // reported by validation
            (func, Some(p)) => {
                let info = self.field(p, Scope::Event)?;
                let ok = match func {
                    AggFunc::Sum | AggFunc::Avg => is_numeric(&info.ty),
                    _ => is_numeric(&info.ty) || is_time(&info.ty) || info.ty == FieldType::String,
                };
                if !ok {
                    let needs = if matches!(func, AggFunc::Sum | AggFunc::Avg) {
                        "a numeric property"
                    } else {
                        "a number, text, date or timestamp property"
                    };
                    let d = Diagnostic::new(
                        p.span,
                        format!(
                            "{f}(...) needs {needs}, but {} is {}",
                            info.label,
                            type_name(&info.ty)
                        ),
                    )
                    .with_expected(needs);
                    let d = if matches!(func, AggFunc::Sum | AggFunc::Avg) {
                        d.with_suggestion("count events instead, e.g. count(purchase WHERE ...)")
                    } else {
                        d
                    };
                    self.push(d);
                    return None;
                }
                match func {
                    AggFunc::Avg => FieldType::Float,
                    _ => info.ty,
                }
            }
        };
        let ev = match &a.filter.event {
            EventSel::Type { name } => format::ident(&name.name),
            EventSel::Any => "any".into(),
        };
        let code = match &a.property {
            Some(p) if a.func.needs_property() => format!("{f}({ev}.{})", format::ident(&p.name)),
            _ => format!("{f}({ev})"),
        };
        Some(Info {
            ty,
            label,
            code,
            builtin: None,
        })
    }

    /// The event type of an event filter (its `WHERE` is walked after).
    fn event_type(&mut self, f: &EventFilter) {
        if let EventSel::Type { name } = &f.event {
            let types = self.event_types();
            // An empty list means the dataset's event types are unknown.
            if !types.is_empty() && !types.contains(&name.name) {
                let mut d =
                    Diagnostic::new(name.span, format!("unknown event type `{}`", name.name))
                        .with_expected("an event type of the dataset, or any");
                if self.catalog.event_property(&name.name).is_some() {
                    d = d.with_suggestion(format!(
                        "`{0}` is a property; aggregate it as e.g. sum(purchase.{0})",
                        name.name
                    ));
                } else if self.catalog.profile_field(&name.name).is_some() {
                    d = d.with_suggestion(format!(
                        "`{0}` is a profile attribute: compare it on its own, outside any \
                         aggregate, e.g. {0} IS NOT NULL",
                        format::ident(&name.name)
                    ));
                } else {
                    d = Self::with_did_you_mean(d, &name.name, &types);
                }
                self.push(d);
            }
        }
    }

    fn in_segment(&mut self, name: &Ident) {
        let n = &name.name;
        if self.catalog.segment(n).is_none() {
            let names = self.catalog.segments();
            let d = Diagnostic::new(name.span, format!("unknown segment `{n}`"))
                .with_expected("the name of a saved segment");
            let d = Self::with_did_you_mean(d, n, &names);
            self.push(d);
            return;
        }
        let mut path = Vec::new();
        if let Some(problem) = self.follow_segment(n, &mut path) {
            self.push(Diagnostic::new(name.span, problem.message()));
        }
    }

    /// Follows saved segments referenced from `name`; returns a problem
    /// (cycle, invalid saved text) if there is one.
    fn follow_segment(&mut self, name: &str, path: &mut Vec<String>) -> Option<SegmentProblem> {
        if let Some(pos) = path.iter().position(|p| p == name) {
            let mut cycle: Vec<&str> = path[pos..].iter().map(String::as_str).collect();
            cycle.push(name);
            return Some(SegmentProblem::Cycle(format!(
                "segment `{}` refers to itself: {}",
                name,
                cycle.join(" → ")
            )));
        }
        if let Some(status) = self.segment_status.get(name) {
            return status.clone().map(SegmentProblem::Broken);
        }
        if path.len() >= MAX_SEGMENT_DEPTH {
            return Some(SegmentProblem::Broken(format!(
                "saved segments are nested more than {MAX_SEGMENT_DEPTH} deep"
            )));
        }
        let Some(text) = self.catalog.segment(name) else {
            return Some(SegmentProblem::Broken(format!(
                "saved segment `{name}` does not exist"
            )));
        };
        let status = match parser::parse_syntax(&text) {
            Err(d) => Some(SegmentProblem::Broken(format!(
                "saved segment `{name}` is invalid: {}",
                d.first().map_or("", |d| d.message.as_str())
            ))),
            Ok(seg) => {
                let mut refs = BTreeSet::new();
                collect_refs(&seg.expr, &mut refs);
                path.push(name.to_string());
                let mut problem = None;
                for r in refs {
                    if self.catalog.segment(&r).is_none() {
                        problem = Some(SegmentProblem::Broken(format!(
                            "saved segment `{name}` uses unknown segment `{r}`"
                        )));
                    } else {
                        problem = self.follow_segment(&r, path);
                    }
                    if problem.is_some() {
                        break;
                    }
                }
                path.pop();
                problem
            }
        };
        // Cycles depend on the path; only cache outcomes that do not.
        match &status {
            Some(SegmentProblem::Cycle(_)) => {}
            Some(SegmentProblem::Broken(m)) => {
                self.segment_status
                    .insert(name.to_string(), Some(m.clone()));
            }
            None => {
                self.segment_status.insert(name.to_string(), None);
            }
        }
        status
    }
}

/// The walk of the checker: a condition's event type is checked before its
/// `WHERE` predicate, the rest of it (the aggregated property, the values)
/// after.
impl<'n> Visitor<'n> for Checker<'_> {
    type Error = Infallible;

    fn f_down(&mut self, e: &'n Expr, at: Position) -> Result<Recursion, Infallible> {
        if let ExprKind::Performed { filter } = &e.kind {
            self.event_type(filter);
        } else if let Some(Operand::Aggregate(a)) = e.lhs() {
            if at.in_where() {
                // An aggregate inside WHERE is reported by validation; its
                // filter is not looked into.
                return Ok(Recursion::Jump);
            }
            self.event_type(&a.filter);
        }
        Ok(Recursion::Continue)
    }

    fn f_up(&mut self, e: &'n Expr, at: Position) -> Result<Recursion, Infallible> {
        self.condition(e, at.scope);
        Ok(Recursion::Continue)
    }
}

/// Why a referenced saved segment cannot be used.
#[derive(Debug, Clone)]
enum SegmentProblem {
    /// A reference cycle through the path followed: depends on the path,
    /// so it is not cached per segment.
    Cycle(String),
    /// A problem of the segment itself, whatever the path.
    Broken(String),
}

impl SegmentProblem {
    fn message(self) -> String {
        match self {
            SegmentProblem::Cycle(m) | SegmentProblem::Broken(m) => m,
        }
    }
}

/// The saved segments `e` refers to (outside `WHERE`, where they are not
/// allowed).
fn collect_refs(e: &Expr, out: &mut BTreeSet<String>) {
    for (e, at) in e.walk() {
        if let (ExprKind::InSegment { name }, Scope::Profile) = (&e.kind, at.scope) {
            out.insert(name.name.clone());
        }
    }
}
