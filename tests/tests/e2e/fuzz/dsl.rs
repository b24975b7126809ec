//! Segments for the fuzzer: a small AST of our own, a grammar-driven
//! generator over the dataset's real names (mixed with unknown ones),
//! renderers to the DSL text and to the JSON form (docs/dsl.md), and
//! mutators for both.
//!
//! The AST is ours, not `strata_dsl::ast`, so that it can hold what the
//! real one cannot (a year 262143, a duration of 2^40 days, a negative
//! number of days) and so that deep nesting is one node ([`Expr::Nest`])
//! rendered by repetition: neither the generator nor the renderers recurse
//! more than a few levels, however deep the segment the server is sent.

use rand::Rng;
use rand::rngs::StdRng;
use strata_proto::v1;

use super::{chance, pick};

// ---------------------------------------------------------------------------
// The dataset's names
// ---------------------------------------------------------------------------

/// The coarse type of a column, from Describe's Arrow data type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ty {
    Int,
    Float,
    Text,
    Bool,
    Date,
    Time,
    List,
}

impl Ty {
    const ALL: [Ty; 7] = [
        Ty::Int,
        Ty::Float,
        Ty::Text,
        Ty::Bool,
        Ty::Date,
        Ty::Time,
        Ty::List,
    ];

    fn of(data_type: &str) -> Ty {
        let t = data_type;
        if t.starts_with("Timestamp") {
            Ty::Time
        } else if t.starts_with("Date") {
            Ty::Date
        } else if t.contains("List") {
            Ty::List
        } else if t == "Boolean" {
            Ty::Bool
        } else if t.starts_with("Float") || t.starts_with("Decimal") {
            Ty::Float
        } else if t.starts_with("Int") || t.starts_with("UInt") {
            Ty::Int
        } else {
            Ty::Text
        }
    }

    fn numeric(self) -> bool {
        matches!(self, Ty::Int | Ty::Float)
    }
}

/// The names segments are written with: the dataset's own, from Describe.
#[derive(Debug, Clone)]
pub(super) struct Vocab {
    /// Profile columns (profile_id included).
    pub(super) profile: Vec<(String, Ty)>,
    /// Event properties (event columns but the id, type and partition).
    pub(super) props: Vec<(String, Ty)>,
    /// Event types present in the data.
    pub(super) events: Vec<String>,
    /// The dataset's as_of (seconds), the default query as_of.
    pub(super) as_of_secs: i64,
}

/// Event columns that are not properties a `WHERE` can name.
const EVENT_INTERNAL: &[&str] = &["profile_id", "event_type", "event_month"];

impl Vocab {
    pub(super) fn from_describe(d: &v1::DescribeResponse) -> Vocab {
        let columns = |t: Option<&v1::TableInfo>| -> Vec<(String, Ty)> {
            t.map(|t| {
                t.columns
                    .iter()
                    .map(|c| (c.name.clone(), Ty::of(&c.data_type)))
                    .collect()
            })
            .unwrap_or_default()
        };
        let mut profile = columns(d.profiles.as_ref());
        if profile.is_empty() {
            profile.push(("profile_id".into(), Ty::Int));
        }
        let props = columns(d.events.as_ref())
            .into_iter()
            .filter(|(n, _)| !EVENT_INTERNAL.contains(&n.as_str()))
            .collect();
        let mut events = d.event_types.clone();
        if events.is_empty() {
            events.push("purchase".into());
        }
        Vocab {
            profile,
            props,
            events,
            as_of_secs: d.as_of.as_ref().map_or(1_750_000_000, |t| t.seconds),
        }
    }

    /// Profile column names, for `MembersRequest.columns`.
    pub(super) fn column_names(&self) -> Vec<String> {
        self.profile.iter().map(|(n, _)| n.clone()).collect()
    }
}

// ---------------------------------------------------------------------------
// The AST
// ---------------------------------------------------------------------------

/// A boolean condition.
#[derive(Debug, Clone)]
pub(super) enum Expr {
    /// `a AND b AND …` / `a OR b OR …` (a nested chain gets parentheses).
    Chain {
        and: bool,
        args: Vec<Expr>,
    },
    Not(Box<Expr>),
    Paren(Box<Expr>),
    /// `depth` levels of one kind of nesting around `inner`, written by
    /// repetition (no recursion however deep).
    Nest {
        kind: Nest,
        depth: usize,
        filler: Box<Expr>,
        inner: Box<Expr>,
    },
    /// `# text` on the line before the condition.
    Commented(String, Box<Expr>),
    Compare(Operand, &'static str, Value),
    InList {
        lhs: Operand,
        list: Vec<Value>,
        negated: bool,
    },
    Between {
        lhs: Operand,
        low: Value,
        high: Value,
        negated: bool,
    },
    Contains(Operand, Value),
    StartsWith(Operand, Value),
    IsNull {
        lhs: Operand,
        negated: bool,
    },
    Truthy(Operand),
    Performed(Filter),
    Anniversary {
        field: String,
        window: Dur,
    },
    InSegment(String),
}

/// How [`Expr::Nest`] nests.
#[derive(Debug, Clone, Copy)]
pub(super) enum Nest {
    /// `NOT NOT … x`.
    Not,
    /// `((( x )))`; in JSON, one-argument `and`s.
    Paren,
    /// `NOT (NOT (… x))`.
    NotParen,
    /// `f AND (f OR (f AND (… x)))`: a real binary tree that deep.
    Binary,
}

/// What a condition is about.
#[derive(Debug, Clone)]
pub(super) enum Operand {
    Field(String),
    Agg {
        func: &'static str,
        property: Option<String>,
        filter: Box<Filter>,
    },
    /// `func` is the JSON name (`rfm_segment`, `channel_mix`, …); `params`
    /// `None` writes no parentheses.
    Builtin {
        func: &'static str,
        params: Option<Vec<Param>>,
    },
}

/// The events of an aggregate or `performed(…)`.
#[derive(Debug, Clone)]
pub(super) struct Filter {
    /// `None`: `any`.
    event: Option<String>,
    predicate: Option<Box<Expr>>,
    window: Option<Window>,
}

#[derive(Debug, Clone)]
pub(super) enum Window {
    Within(Dur),
    Since(Time),
    Between(Time, Time),
}

#[derive(Debug, Clone)]
pub(super) enum Param {
    Bins(i64),
    Lookback(Dur),
    Window(Dur),
}

/// `30d`; any amount (negative, above u32) and, rarely, a unit that is none.
#[derive(Debug, Clone, Copy)]
pub(super) struct Dur {
    amount: i64,
    unit: char,
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Ymd {
    y: i64,
    m: i64,
    d: i64,
}

#[derive(Debug, Clone)]
pub(super) enum Time {
    Date(Ymd),
    /// Text `2024-05-01T10:30:00.25+02:00`; JSON micros (computed, or
    /// `fallback_micros` when the text is no valid instant).
    Stamp {
        date: Ymd,
        hms: (i64, i64, i64),
        frac: Option<String>,
        tz: &'static str,
        fallback_micros: i64,
    },
    Ago(Dur),
    Today,
    Now,
}

#[derive(Debug, Clone)]
pub(super) enum Value {
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
    Time(Time),
}

// ---------------------------------------------------------------------------
// Text rendering
// ---------------------------------------------------------------------------

const RESERVED: &[&str] = &[
    "and",
    "or",
    "not",
    "in",
    "segment",
    "between",
    "contains",
    "starts",
    "with",
    "is",
    "null",
    "within",
    "next",
    "since",
    "where",
    "true",
    "false",
    "today",
    "now",
    "any",
    "count",
    "sum",
    "avg",
    "min",
    "max",
    "first",
    "last",
    "performed",
    "anniversary",
    "rfm",
    "channel_mix",
    "lifecycle",
];

/// A name as the DSL writes it: plain, or backquoted when it must be.
fn name_text(name: &str) -> String {
    let mut chars = name.chars();
    let plain = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !RESERVED.iter().any(|k| k.eq_ignore_ascii_case(name));
    if plain {
        name.to_string()
    } else {
        format!("`{}`", name.replace('`', "``"))
    }
}

fn string_text(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

impl Expr {
    /// The segment as DSL text.
    pub(super) fn text(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        match self {
            Expr::Chain { and, args } => {
                let sep = if *and { " AND " } else { " OR " };
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        out.push_str(sep);
                    }
                    a.write_operand(out);
                }
            }
            Expr::Not(e) => {
                out.push_str("NOT ");
                e.write_operand(out);
            }
            Expr::Paren(e) => {
                out.push('(');
                e.write(out);
                out.push(')');
            }
            Expr::Nest {
                kind,
                depth,
                filler,
                inner,
            } => write_nest(out, *kind, *depth, filler, inner),
            Expr::Commented(c, e) => {
                out.push_str("# ");
                out.push_str(c);
                out.push('\n');
                e.write(out);
            }
            Expr::Compare(lhs, op, v) => {
                lhs.write(out);
                out.push(' ');
                out.push_str(op);
                out.push(' ');
                v.write(out);
            }
            Expr::InList { lhs, list, negated } => {
                lhs.write(out);
                out.push_str(if *negated { " NOT IN (" } else { " IN (" });
                for (i, v) in list.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    v.write(out);
                }
                out.push(')');
            }
            Expr::Between {
                lhs,
                low,
                high,
                negated,
            } => {
                lhs.write(out);
                out.push_str(if *negated {
                    " NOT BETWEEN "
                } else {
                    " BETWEEN "
                });
                low.write(out);
                out.push_str(" AND ");
                high.write(out);
            }
            Expr::Contains(lhs, v) => {
                lhs.write(out);
                out.push_str(" CONTAINS ");
                v.write(out);
            }
            Expr::StartsWith(lhs, v) => {
                lhs.write(out);
                out.push_str(" STARTS WITH ");
                v.write(out);
            }
            Expr::IsNull { lhs, negated } => {
                lhs.write(out);
                out.push_str(if *negated { " IS NOT NULL" } else { " IS NULL" });
            }
            Expr::Truthy(lhs) => lhs.write(out),
            Expr::Performed(f) => {
                out.push_str("performed(");
                f.write(out, None);
                out.push(')');
            }
            Expr::Anniversary { field, window } => {
                out.push_str(&format!(
                    "anniversary({}) WITHIN NEXT {}",
                    name_text(field),
                    window.text()
                ));
            }
            Expr::InSegment(n) => {
                out.push_str("IN SEGMENT ");
                out.push_str(&name_text(n));
            }
        }
    }

    /// As the operand of AND, OR or NOT: a chain in parentheses.
    fn write_operand(&self, out: &mut String) {
        if matches!(self, Expr::Chain { .. }) {
            out.push('(');
            self.write(out);
            out.push(')');
        } else {
            self.write(out);
        }
    }
}

fn write_nest(out: &mut String, kind: Nest, depth: usize, filler: &Expr, inner: &Expr) {
    match kind {
        Nest::Not => {
            out.push_str(&"NOT ".repeat(depth));
            inner.write_operand(out);
        }
        Nest::Paren | Nest::NotParen => {
            let open = if matches!(kind, Nest::Paren) {
                "("
            } else {
                "NOT ("
            };
            out.push_str(&open.repeat(depth));
            inner.write(out);
            out.push_str(&")".repeat(depth));
        }
        Nest::Binary => {
            let f = filler.text();
            for i in 0..depth {
                out.push_str(&f);
                out.push_str(if i % 2 == 0 { " AND (" } else { " OR (" });
            }
            inner.write(out);
            out.push_str(&")".repeat(depth));
        }
    }
}

impl Operand {
    fn write(&self, out: &mut String) {
        match self {
            Operand::Field(n) => out.push_str(&name_text(n)),
            Operand::Agg {
                func,
                property,
                filter,
            } => {
                out.push_str(func);
                out.push('(');
                filter.write(out, property.as_deref());
                out.push(')');
            }
            Operand::Builtin { func, params } => {
                let params = params.as_ref().map(|ps| {
                    let ps: Vec<String> = ps.iter().map(Param::text).collect();
                    format!("({})", ps.join(", "))
                });
                let params = params.unwrap_or_default();
                match func.strip_prefix("rfm_") {
                    Some(member) => out.push_str(&format!("rfm{params}.{member}")),
                    None => out.push_str(&format!("{func}{params}")),
                }
            }
        }
    }
}

impl Filter {
    fn write(&self, out: &mut String, property: Option<&str>) {
        match &self.event {
            None => out.push_str("any"),
            Some(e) => out.push_str(&name_text(e)),
        }
        if let Some(p) = property {
            out.push('.');
            out.push_str(&name_text(p));
        }
        if let Some(p) = &self.predicate {
            out.push_str(" WHERE ");
            p.write(out);
        }
        if let Some(w) = &self.window {
            out.push(' ');
            out.push_str(&w.text());
        }
    }
}

impl Window {
    fn text(&self) -> String {
        match self {
            Window::Within(d) => format!("WITHIN {}", d.text()),
            Window::Since(t) => format!("SINCE {}", t.text()),
            Window::Between(a, b) => format!("BETWEEN {} AND {}", a.text(), b.text()),
        }
    }
}

impl Param {
    fn text(&self) -> String {
        match self {
            Param::Bins(n) => format!("bins = {n}"),
            Param::Lookback(d) => format!("lookback = {}", d.text()),
            Param::Window(d) => format!("window = {}", d.text()),
        }
    }
}

impl Dur {
    fn text(&self) -> String {
        format!("{}{}", self.amount, self.unit)
    }

    fn unit_name(&self) -> &'static str {
        match self.unit {
            'h' => "hours",
            'd' => "days",
            'w' => "weeks",
            'm' => "months",
            'y' => "years",
            _ => "fortnights",
        }
    }

    /// The anniversary window in days (what the JSON form holds).
    fn days(&self) -> i64 {
        if self.unit == 'w' {
            self.amount.saturating_mul(7)
        } else {
            self.amount
        }
    }
}

impl Ymd {
    fn text(&self) -> String {
        format!("{:04}-{:02}-{:02}", self.y, self.m, self.d)
    }
}

impl Time {
    fn text(&self) -> String {
        match self {
            Time::Date(d) => d.text(),
            Time::Stamp {
                date,
                hms: (h, mi, s),
                frac,
                tz,
                ..
            } => {
                let frac = frac.as_ref().map(|f| format!(".{f}")).unwrap_or_default();
                format!("{}T{h:02}:{mi:02}:{s:02}{frac}{tz}", date.text())
            }
            Time::Ago(d) => format!("-{}", d.text()),
            Time::Today => "today".into(),
            Time::Now => "now".into(),
        }
    }

    /// Microseconds since the epoch of a timestamp's text, if it is one.
    fn micros(&self) -> Option<i64> {
        let Time::Stamp {
            date,
            hms: (h, mi, s),
            frac,
            tz,
            ..
        } = self
        else {
            return None;
        };
        let frac_micros = match frac {
            None => 0,
            Some(f) if f.len() <= 6 => f.parse::<i64>().ok()? * 10i64.pow(6 - f.len() as u32),
            Some(_) => return None,
        };
        let naive = chrono::NaiveDate::from_ymd_opt(
            i32::try_from(date.y).ok()?,
            u32::try_from(date.m).ok()?,
            u32::try_from(date.d).ok()?,
        )?
        .and_hms_micro_opt(
            u32::try_from(*h).ok()?,
            u32::try_from(*mi).ok()?,
            u32::try_from(*s).ok()?,
            u32::try_from(frac_micros).ok()?,
        )?;
        let offset_secs = match *tz {
            "Z" => 0,
            tz => {
                let sign = if tz.starts_with('-') { -1 } else { 1 };
                let h: i64 = tz.get(1..3)?.parse().ok()?;
                let m: i64 = tz.get(4..6)?.parse().ok()?;
                sign * (h * 3600 + m * 60)
            }
        };
        Some(naive.and_utc().timestamp_micros() - offset_secs * 1_000_000)
    }
}

impl Value {
    fn write(&self, out: &mut String) {
        match self {
            Value::Int(n) => out.push_str(&n.to_string()),
            Value::Float(f) => out.push_str(&format!("{f:?}")),
            Value::Str(s) => out.push_str(&string_text(s)),
            Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Value::Time(t) => out.push_str(&t.text()),
        }
    }
}

// ---------------------------------------------------------------------------
// JSON rendering (with optional structural corruption)
// ---------------------------------------------------------------------------

/// Values the JSON writer puts where a node or a field value should be.
const JSON_JUNK: &[&str] = &[
    "null",
    "{}",
    "[]",
    "\"\"",
    "0",
    "-1",
    "true",
    "1e999",
    "18446744073709551616",
    "-9223372036854775809",
    "4294967296",
    "\"\\u0000\"",
    "[null]",
    "{\"op\":\"and\",\"args\":[]}",
    "{\"kind\":\"any\"}",
];

/// Writes the JSON form of a segment; each object is corrupted with
/// probability `p` (a field dropped, duplicated or added, a tag renamed,
/// a value replaced by junk, an extreme span).
pub(super) struct Json<'r> {
    rng: &'r mut StdRng,
    p: f64,
}

fn quoted(s: &str) -> String {
    // Serialising a &str cannot fail.
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

impl<'r> Json<'r> {
    pub(super) fn new(rng: &'r mut StdRng, p: f64) -> Self {
        Json { rng, p }
    }

    pub(super) fn segment(&mut self, e: &Expr) -> String {
        let mut fields = vec![("expr", self.expr(e))];
        if chance(self.rng, 0.1) {
            fields.push(("comments", "[{\"text\":\" fuzz\"}]".to_string()));
        }
        self.obj(fields)
    }

    fn obj(&mut self, mut fields: Vec<(&'static str, String)>) -> String {
        if self.p > 0.0 && chance(self.rng, self.p) {
            match self.rng.random_range(0..7) {
                0 => return pick(self.rng, JSON_JUNK).to_string(),
                1 if !fields.is_empty() => {
                    let i = self.rng.random_range(0..fields.len());
                    fields.remove(i);
                }
                2 => fields.push(("extra", "1".into())),
                3 if !fields.is_empty() => fields[0].1 = "\"bogus\"".into(),
                4 => fields.push(("span", self.span())),
                5 if !fields.is_empty() => {
                    let i = self.rng.random_range(0..fields.len());
                    let dup = fields[i].clone();
                    fields.push(dup);
                }
                _ if !fields.is_empty() => {
                    let i = self.rng.random_range(0..fields.len());
                    fields[i].1 = pick(self.rng, JSON_JUNK).to_string();
                }
                _ => {}
            }
        }
        let body: Vec<String> = fields
            .iter()
            .map(|(k, v)| format!("{}:{v}", quoted(k)))
            .collect();
        format!("{{{}}}", body.join(","))
    }

    fn span(&mut self) -> String {
        let ends = [
            0i64,
            1,
            7,
            1 << 20,
            u32::MAX as i64,
            -1,
            u32::MAX as i64 + 1,
        ];
        let (a, b) = (*pick(self.rng, &ends), *pick(self.rng, &ends));
        format!("{{\"start\":{a},\"end\":{b}}}")
    }

    fn op(name: &str) -> String {
        quoted(name)
    }

    fn expr(&mut self, e: &Expr) -> String {
        match e {
            Expr::Chain { and, args } => {
                let args: Vec<String> = args.iter().map(|a| self.expr(a)).collect();
                let op = if *and { "and" } else { "or" };
                self.obj(vec![
                    ("op", Self::op(op)),
                    ("args", format!("[{}]", args.join(","))),
                ])
            }
            Expr::Not(e) => {
                let arg = self.expr(e);
                self.obj(vec![("op", Self::op("not")), ("arg", arg)])
            }
            Expr::Paren(e) | Expr::Commented(_, e) => self.expr(e),
            Expr::Nest {
                kind,
                depth,
                filler,
                inner,
            } => self.nest(*kind, *depth, filler, inner),
            Expr::Compare(lhs, cmp, v) => {
                let (lhs, value) = (self.operand(lhs), self.value(v));
                self.obj(vec![
                    ("op", Self::op("compare")),
                    ("lhs", lhs),
                    ("cmp", quoted(cmp)),
                    ("value", value),
                ])
            }
            Expr::InList { lhs, list, negated } => {
                let lhs = self.operand(lhs);
                let list: Vec<String> = list.iter().map(|v| self.value(v)).collect();
                self.obj(vec![
                    ("op", Self::op("in_list")),
                    ("lhs", lhs),
                    ("list", format!("[{}]", list.join(","))),
                    ("negated", negated.to_string()),
                ])
            }
            Expr::Between {
                lhs,
                low,
                high,
                negated,
            } => {
                let (lhs, low, high) = (self.operand(lhs), self.value(low), self.value(high));
                self.obj(vec![
                    ("op", Self::op("between")),
                    ("lhs", lhs),
                    ("low", low),
                    ("high", high),
                    ("negated", negated.to_string()),
                ])
            }
            Expr::Contains(lhs, v) | Expr::StartsWith(lhs, v) => {
                let op = if matches!(e, Expr::Contains(..)) {
                    "contains"
                } else {
                    "starts_with"
                };
                let (lhs, value) = (self.operand(lhs), self.value(v));
                self.obj(vec![("op", Self::op(op)), ("lhs", lhs), ("value", value)])
            }
            Expr::IsNull { lhs, negated } => {
                let lhs = self.operand(lhs);
                self.obj(vec![
                    ("op", Self::op("is_null")),
                    ("lhs", lhs),
                    ("negated", negated.to_string()),
                ])
            }
            Expr::Truthy(lhs) => {
                let lhs = self.operand(lhs);
                self.obj(vec![("op", Self::op("truthy")), ("lhs", lhs)])
            }
            Expr::Performed(f) => {
                let filter = self.filter(f);
                self.obj(vec![("op", Self::op("performed")), ("filter", filter)])
            }
            Expr::Anniversary { field, window } => {
                let field = self.ident(field);
                self.obj(vec![
                    ("op", Self::op("anniversary")),
                    ("field", field),
                    ("days", window.days().to_string()),
                ])
            }
            Expr::InSegment(n) => {
                let name = self.ident(n);
                self.obj(vec![("op", Self::op("in_segment")), ("name", name)])
            }
        }
    }

    /// Deep nesting by repetition, like the text renderer.
    fn nest(&mut self, kind: Nest, depth: usize, filler: &Expr, inner: &Expr) -> String {
        let inner = self.expr(inner);
        let (open, close) = match kind {
            Nest::Not | Nest::NotParen => ("{\"op\":\"not\",\"arg\":".to_string(), "}"),
            Nest::Paren => ("{\"op\":\"and\",\"args\":[".to_string(), "]}"),
            Nest::Binary => {
                let f = self.expr(filler);
                (format!("{{\"op\":\"or\",\"args\":[{f},"), "]}")
            }
        };
        let mut out = open.repeat(depth);
        out.push_str(&inner);
        out.push_str(&close.repeat(depth));
        out
    }

    fn ident(&mut self, name: &str) -> String {
        self.obj(vec![("name", quoted(name))])
    }

    fn operand(&mut self, o: &Operand) -> String {
        match o {
            Operand::Field(n) => {
                let name = self.ident(n);
                self.obj(vec![("kind", quoted("field")), ("name", name)])
            }
            Operand::Agg {
                func,
                property,
                filter,
            } => {
                let mut fields = vec![("kind", quoted("aggregate")), ("func", quoted(func))];
                if let Some(p) = property {
                    fields.push(("property", self.ident(p)));
                }
                fields.push(("filter", self.filter(filter)));
                self.obj(fields)
            }
            Operand::Builtin { func, params } => {
                let mut fields = vec![("kind", quoted("builtin")), ("func", quoted(func))];
                if let Some(ps) = params {
                    let ps: Vec<(&'static str, String)> =
                        ps.iter().map(|p| self.param(p)).collect();
                    fields.push(("params", self.obj(ps)));
                }
                self.obj(fields)
            }
        }
    }

    fn param(&mut self, p: &Param) -> (&'static str, String) {
        match p {
            Param::Bins(n) => ("bins", n.to_string()),
            Param::Lookback(d) => ("lookback", self.dur(d)),
            Param::Window(d) => ("window", self.dur(d)),
        }
    }

    fn filter(&mut self, f: &Filter) -> String {
        let event = match &f.event {
            None => self.obj(vec![("kind", quoted("any"))]),
            Some(e) => {
                let name = self.ident(e);
                self.obj(vec![("kind", quoted("type")), ("name", name)])
            }
        };
        let mut fields = vec![("event", event)];
        if let Some(p) = &f.predicate {
            fields.push(("predicate", self.expr(p)));
        }
        if let Some(w) = &f.window {
            fields.push(("window", self.window(w)));
        }
        self.obj(fields)
    }

    fn window(&mut self, w: &Window) -> String {
        match w {
            Window::Within(d) => {
                let d = self.dur(d);
                self.obj(vec![("kind", quoted("within")), ("duration", d)])
            }
            Window::Since(t) => {
                let t = self.time(t);
                self.obj(vec![("kind", quoted("since")), ("from", t)])
            }
            Window::Between(a, b) => {
                let (a, b) = (self.time(a), self.time(b));
                self.obj(vec![("kind", quoted("between")), ("from", a), ("to", b)])
            }
        }
    }

    fn dur(&mut self, d: &Dur) -> String {
        self.obj(vec![
            ("amount", d.amount.to_string()),
            ("unit", quoted(d.unit_name())),
        ])
    }

    fn time(&mut self, t: &Time) -> String {
        match t {
            Time::Date(d) => self.obj(vec![
                ("kind", quoted("date")),
                ("year", d.y.to_string()),
                ("month", d.m.to_string()),
                ("day", d.d.to_string()),
            ]),
            Time::Stamp {
                fallback_micros, ..
            } => {
                let micros = t.micros().unwrap_or(*fallback_micros);
                self.obj(vec![
                    ("kind", quoted("timestamp")),
                    ("micros", micros.to_string()),
                ])
            }
            Time::Ago(d) => {
                let d = self.dur(d);
                self.obj(vec![("kind", quoted("ago")), ("duration", d)])
            }
            Time::Today => self.obj(vec![("kind", quoted("today"))]),
            Time::Now => self.obj(vec![("kind", quoted("now"))]),
        }
    }

    fn value(&mut self, v: &Value) -> String {
        let (kind, value) = match v {
            Value::Int(n) => ("int", n.to_string()),
            Value::Float(f) => ("float", serde_json::to_string(f).unwrap_or("0.5".into())),
            Value::Str(s) => ("string", quoted(s)),
            Value::Bool(b) => ("bool", b.to_string()),
            Value::Time(t) => ("time", self.time(t)),
        };
        self.obj(vec![("kind", quoted(kind)), ("value", value)])
    }
}

// ---------------------------------------------------------------------------
// The grammar generator
// ---------------------------------------------------------------------------

const CMP: &[&str] = &["=", "!=", "<", "<=", ">", ">="];
const AGG: &[&str] = &["count", "sum", "avg", "min", "max", "first", "last"];
const RFM_SEGMENTS: &[&str] = &[
    "champions",
    "loyal",
    "potential_loyalists",
    "new_customers",
    "promising",
    "need_attention",
    "about_to_sleep",
    "at_risk",
    "cannot_lose",
    "hibernating",
    "champion",
];
const CHANNEL_MIXES: &[&str] = &["online_only", "offline_only", "omnichannel", "none", "both"];
const LIFECYCLES: &[&str] = &[
    "new",
    "returning",
    "resurrecting",
    "dormant",
    "lost",
    "never",
    "churned",
];
/// Text values that occur in the generated data, and a few that do not.
const TEXTS: &[&str] = &[
    "US",
    "DE",
    "GB",
    "FR",
    "NL",
    "CA",
    "en",
    "de",
    "gold",
    "silver",
    "basic",
    "web",
    "app",
    "store",
    "running",
    "@example.",
    "An",
    "shoe",
    "EUR",
    "purchase",
];
/// Text values that are hard on a parser, a string view or a LIKE pattern.
const HARD_TEXTS: &[&str] = &[
    "",
    "'",
    "''",
    "it's",
    "%",
    "_",
    "\\",
    "%_%",
    "\u{0}",
    "\n",
    "\r\n",
    "😀",
    "名前",
    "\u{202e}abc",
    "a\u{301}",
    "\u{feff}",
    "\u{10ffff}",
    "  ",
    "NULL",
    "exactly12byt",
    "thirteen_byte",
];
const HARD_INTS: &[i64] = &[
    0,
    -1,
    1,
    3000,
    3001,
    i64::MIN,
    i64::MAX,
    i64::MIN + 1,
    i32::MAX as i64 + 1,
    u32::MAX as i64,
    1 << 53,
];
const HARD_FLOATS: &[f64] = &[
    0.0,
    -0.0,
    0.5,
    80.5,
    1e300,
    -1e300,
    f64::MAX,
    f64::MIN,
    f64::MIN_POSITIVE,
    5e-324,
    9007199254740993.0,
];
const HARD_YEARS: &[i64] = &[
    0, 1, 1899, 1900, 1969, 1970, 9999, 10000, 262143, -1, 2147483648,
];
const TIME_ZONES: &[&str] = &[
    "Z", "+02:00", "-05:00", "+14:00", "-12:00", "+99:99", "+00:00",
];
/// Instants (µs) at and past the edges of what chrono and the engine take:
/// a timestamp's JSON form when its text is none, and cursors.
pub(super) const HARD_MICROS: &[i64] = &[
    i64::MIN,
    i64::MAX,
    0,
    -1,
    253_402_300_799_999_999,
    253_402_300_800_000_000,
    -62_135_596_800_000_000,
    -62_135_596_800_000_001,
    -62_167_219_200_000_001,
];
const KEYWORD_NAMES: &[&str] = &["segment", "AND", "count", "any", "rfm", "NULL", "in"];
const ODD_NAMES: &[&str] = &[
    "",
    "名前",
    "ñame",
    "a\u{301}",
    "page view",
    "a`b",
    "profile_id.x",
    "😀",
    "\u{0}",
    "../x",
];

/// Builds random segments from the grammar of docs/dsl.md over the
/// dataset's names; mostly well-typed, sometimes not.
pub(super) struct SegGen<'a> {
    rng: &'a mut StdRng,
    vocab: &'a Vocab,
    saved: &'a [String],
}

impl<'a> SegGen<'a> {
    pub(super) fn new(rng: &'a mut StdRng, vocab: &'a Vocab, saved: &'a [String]) -> Self {
        SegGen { rng, vocab, saved }
    }

    fn below(&mut self, n: u32) -> u32 {
        self.rng.random_range(0..n)
    }

    fn chance(&mut self, p: f64) -> bool {
        chance(self.rng, p)
    }

    /// A segment of a random shape: ordinary, very wide, very deep, a huge
    /// IN list, a deep or wide WHERE.
    pub(super) fn segment(&mut self) -> Expr {
        match self.below(100) {
            0..=54 => self.expr(4),
            55..=64 => self.wide(),
            65..=72 => self.deep(),
            73..=78 => self.big_in_list(),
            79..=85 => self.big_where(),
            86..=89 => {
                let c = self.comment();
                Expr::Commented(c, Box::new(self.expr(3)))
            }
            _ => self.leaf(),
        }
    }

    /// A small, mostly valid segment: what mutations start from.
    pub(super) fn small(&mut self) -> Expr {
        self.expr(3)
    }

    /// A single condition (what saved segments add to their references).
    pub(super) fn leaf(&mut self) -> Expr {
        match self.below(100) {
            0..=34 => self.profile_cond(),
            35..=59 => self.aggregate_cond(),
            60..=69 => Expr::Performed(self.filter()),
            70..=84 => self.builtin_cond(),
            85..=91 => self.anniversary(),
            _ => self.in_segment(),
        }
    }

    fn expr(&mut self, depth: u32) -> Expr {
        if depth == 0 || self.chance(0.4) {
            return self.leaf();
        }
        match self.below(6) {
            0..=2 => {
                let n = self.rng.random_range(2..5);
                let and = self.chance(0.6);
                let args = (0..n).map(|_| self.expr(depth - 1)).collect();
                Expr::Chain { and, args }
            }
            3 => Expr::Not(Box::new(self.expr(depth - 1))),
            4 => Expr::Paren(Box::new(self.expr(depth - 1))),
            _ => self.leaf(),
        }
    }

    // -- shapes ------------------------------------------------------------

    /// A flat AND or OR of hundreds to tens of thousands of short terms.
    fn wide(&mut self) -> Expr {
        let n = *pick(self.rng, &[50, 500, 1000, 2000, 3000, 4000, 10_000, 60_000]);
        let and = self.chance(0.5);
        let args = (0..n).map(|_| self.short_leaf()).collect();
        Expr::Chain { and, args }
    }

    /// NOT, parentheses or AND/OR nested up to 100,000 deep.
    fn deep(&mut self) -> Expr {
        let depth = *pick(
            self.rng,
            &[
                10, 32, 63, 64, 65, 100, 127, 128, 129, 256, 1000, 5000, 20_000, 100_000,
            ],
        );
        let kind = *pick(
            self.rng,
            &[Nest::Not, Nest::Paren, Nest::NotParen, Nest::Binary],
        );
        let filler = Box::new(self.short_leaf());
        let inner = Box::new(self.leaf());
        Expr::Nest {
            kind,
            depth,
            filler,
            inner,
        }
    }

    fn big_in_list(&mut self) -> Expr {
        let n = *pick(self.rng, &[100, 1000, 3000, 5000, 10_000, 50_000]);
        let negated = self.chance(0.3);
        let (name, ty) = if self.chance(0.5) {
            ("profile_id".to_string(), Ty::Int)
        } else {
            self.column(ColumnSet::Profile)
        };
        let list = (0..n)
            .map(|i| match ty {
                Ty::Int => Value::Int(i as i64),
                Ty::Text | Ty::List => Value::Str(format!("v{i}")),
                _ => self.value(ty),
            })
            .collect();
        Expr::InList {
            lhs: Operand::Field(name),
            list,
            negated,
        }
    }

    /// performed(…) or count(…) with a deep, wide or huge-IN `WHERE`.
    fn big_where(&mut self) -> Expr {
        let predicate = match self.below(3) {
            0 => {
                let depth = *pick(self.rng, &[63, 64, 65, 128, 1000, 20_000]);
                let kind = *pick(self.rng, &[Nest::Not, Nest::Paren, Nest::Binary]);
                Expr::Nest {
                    kind,
                    depth,
                    filler: Box::new(self.prop_cond()),
                    inner: Box::new(self.prop_cond()),
                }
            }
            1 => {
                let n = *pick(self.rng, &[100, 1000, 3000, 10_000]);
                let and = self.chance(0.5);
                Expr::Chain {
                    and,
                    args: (0..n).map(|_| self.prop_cond()).collect(),
                }
            }
            _ => {
                let (name, ty) = self.column(ColumnSet::Props);
                let n = *pick(self.rng, &[1000, 5000, 20_000]);
                Expr::InList {
                    lhs: Operand::Field(name),
                    list: (0..n).map(|_| self.value(ty)).collect(),
                    negated: false,
                }
            }
        };
        let filter = Filter {
            event: Some(self.event_type()),
            predicate: Some(Box::new(predicate)),
            window: self.chance(0.5).then(|| self.window()),
        };
        if self.chance(0.5) {
            Expr::Performed(filter)
        } else {
            let lhs = Operand::Agg {
                func: "count",
                property: None,
                filter: Box::new(filter),
            };
            Expr::Compare(lhs, ">=", Value::Int(1))
        }
    }

    /// A condition of 10 to 30 bytes, for wide chains and fillers.
    fn short_leaf(&mut self) -> Expr {
        match self.below(5) {
            0 => {
                let n = self.rng.random_range(0..3001);
                Expr::Compare(Operand::Field("profile_id".into()), "=", Value::Int(n))
            }
            1 => match self.bool_column() {
                Some(c) => Expr::Truthy(Operand::Field(c)),
                None => Expr::Compare(Operand::Field("profile_id".into()), ">", Value::Int(0)),
            },
            2 => {
                let v = Value::Str(pick(self.rng, TEXTS).to_string());
                Expr::Compare(Operand::Field("country".into()), "=", v)
            }
            3 => Expr::Performed(Filter {
                event: Some(self.event_type()),
                predicate: None,
                window: None,
            }),
            _ => {
                let lhs = Operand::Builtin {
                    func: "rfm_r",
                    params: None,
                };
                Expr::Compare(lhs, ">=", Value::Int(self.rng.random_range(1..6)))
            }
        }
    }

    fn comment(&mut self) -> String {
        let long = "x".repeat(1000);
        pick(
            self.rng,
            &[" a comment", "😀 unicode", "#", "'", "", long.as_str()],
        )
        .to_string()
    }

    // -- conditions --------------------------------------------------------

    fn profile_cond(&mut self) -> Expr {
        let (name, ty) = self.column(ColumnSet::Profile);
        self.cond(Operand::Field(name), ty)
    }

    fn prop_cond(&mut self) -> Expr {
        let (name, ty) = self.column(ColumnSet::Props);
        self.cond(Operand::Field(name), ty)
    }

    /// A condition on `lhs` of type `ty` (sometimes of another type).
    fn cond(&mut self, lhs: Operand, ty: Ty) -> Expr {
        let ty = if self.chance(0.1) {
            *pick(self.rng, &Ty::ALL)
        } else {
            ty
        };
        let negated = self.chance(0.3);
        // The forms every type has, and those only some have.
        let form = match (ty, self.below(8)) {
            (Ty::Bool, 0..=3) => Form::Truthy,
            (Ty::Bool, 4..=6) => Form::IsBool,
            (Ty::List, 0..=5) | (Ty::Text, 0..=1) => Form::Contains,
            (Ty::Text, 2) => Form::StartsWith,
            (_, n) => [
                Form::Compare,
                Form::Compare,
                Form::Compare,
                Form::InList,
                Form::InList,
                Form::Between,
                Form::Between,
                Form::IsNull,
            ][n as usize],
        };
        let text_or = |t: Ty| if t == Ty::List { Ty::Text } else { t };
        match form {
            Form::Truthy => Expr::Truthy(lhs),
            Form::IsBool => Expr::Compare(lhs, "=", Value::Bool(self.chance(0.5))),
            Form::Contains => Expr::Contains(lhs, self.value(text_or(ty))),
            Form::StartsWith => Expr::StartsWith(lhs, self.value(ty)),
            Form::Compare => {
                let cmp = *pick(self.rng, CMP);
                Expr::Compare(lhs, cmp, self.value(ty))
            }
            Form::InList => {
                let n = self.rng.random_range(1..8);
                let list = (0..n).map(|_| self.value(ty)).collect();
                Expr::InList { lhs, list, negated }
            }
            Form::Between => Expr::Between {
                lhs,
                low: self.value(ty),
                high: self.value(ty),
                negated,
            },
            Form::IsNull => Expr::IsNull { lhs, negated },
        }
    }

    fn aggregate_cond(&mut self) -> Expr {
        let func = *pick(self.rng, AGG);
        let needs_property = matches!(func, "sum" | "avg" | "min" | "max");
        let (property, prop_ty) = if needs_property != self.chance(0.05) {
            let numeric = matches!(func, "sum" | "avg");
            let (n, t) = self.property(numeric);
            (Some(n), t)
        } else {
            (None, Ty::Int)
        };
        let ty = match func {
            "count" => Ty::Int,
            "first" | "last" => Ty::Time,
            "avg" => Ty::Float,
            _ => prop_ty,
        };
        let lhs = Operand::Agg {
            func,
            property,
            filter: Box::new(self.filter()),
        };
        match self.below(6) {
            0..=3 => {
                let cmp = *pick(self.rng, CMP);
                Expr::Compare(lhs, cmp, self.agg_value(func, ty))
            }
            4 => Expr::Between {
                lhs,
                low: self.agg_value(func, ty),
                high: self.agg_value(func, ty),
                negated: self.chance(0.3),
            },
            _ => Expr::IsNull {
                lhs,
                negated: self.chance(0.5),
            },
        }
    }

    /// Counts are compared to small numbers mostly.
    fn agg_value(&mut self, func: &str, ty: Ty) -> Value {
        if func == "count" && self.chance(0.8) {
            Value::Int(self.rng.random_range(0..6))
        } else {
            self.value(ty)
        }
    }

    fn filter(&mut self) -> Filter {
        let event = match self.below(10) {
            0 => None,
            _ => Some(self.event_type()),
        };
        let predicate = self.chance(0.4).then(|| Box::new(self.prop_expr(2)));
        let window = self.chance(0.7).then(|| self.window());
        Filter {
            event,
            predicate,
            window,
        }
    }

    /// A WHERE condition: event properties, and rarely what WHERE forbids.
    fn prop_expr(&mut self, depth: u32) -> Expr {
        if depth == 0 || self.chance(0.5) {
            return match self.below(20) {
                0 => self.profile_cond(),
                1 => self.builtin_cond(),
                2 => self.in_segment(),
                _ => self.prop_cond(),
            };
        }
        match self.below(3) {
            0 => Expr::Not(Box::new(self.prop_expr(depth - 1))),
            _ => {
                let and = self.chance(0.5);
                let args = (0..2).map(|_| self.prop_expr(depth - 1)).collect();
                Expr::Chain { and, args }
            }
        }
    }

    fn builtin_cond(&mut self) -> Expr {
        let (func, values, ty): (&'static str, &[&str], Ty) = match self.below(9) {
            0..=1 => ("rfm_segment", RFM_SEGMENTS, Ty::Text),
            2 => ("rfm_r", &[], Ty::Int),
            3 => (*pick(self.rng, &["rfm_f", "rfm_m"]), &[], Ty::Int),
            4 => (
                *pick(self.rng, &["rfm_recency_days", "rfm_frequency"]),
                &[],
                Ty::Int,
            ),
            5 => ("rfm_monetary", &[], Ty::Float),
            6 => ("channel_mix", CHANNEL_MIXES, Ty::Text),
            _ => ("lifecycle", LIFECYCLES, Ty::Text),
        };
        let params = self.chance(0.3).then(|| self.params(func));
        let lhs = Operand::Builtin { func, params };
        if values.is_empty() {
            let v = if ty == Ty::Int && self.chance(0.7) {
                Value::Int(self.rng.random_range(0..7))
            } else {
                self.value(ty)
            };
            let cmp = *pick::<&str>(self.rng, CMP);
            return Expr::Compare(lhs, cmp, v);
        }
        let choice = self.below(5);
        let rng = &mut *self.rng;
        let mut value = || Value::Str(pick(rng, values).to_string());
        match choice {
            0..=1 => Expr::Compare(lhs, "=", value()),
            2 => Expr::Compare(lhs, "!=", value()),
            3 => {
                let list = (0..3).map(|_| value()).collect();
                Expr::InList {
                    lhs,
                    list,
                    negated: false,
                }
            }
            _ => Expr::IsNull {
                lhs,
                negated: false,
            },
        }
    }

    /// Parameters for `func`, sometimes ones it does not take, or twice.
    fn params(&mut self, func: &str) -> Vec<Param> {
        let rfm = func.starts_with("rfm");
        let n = self.rng.random_range(0..3);
        (0..n)
            .map(|_| match (rfm != self.chance(0.1), self.below(2)) {
                (true, 0) => Param::Bins(self.bins()),
                (true, _) => Param::Lookback(self.dur()),
                (false, _) => Param::Window(self.dur()),
            })
            .collect()
    }

    fn bins(&mut self) -> i64 {
        if self.chance(0.7) {
            *pick(self.rng, &[1, 2, 3, 4, 5, 10, 100])
        } else {
            *pick(
                self.rng,
                &[0, 101, u32::MAX as i64, u32::MAX as i64 + 1, i64::MAX, -1],
            )
        }
    }

    fn anniversary(&mut self) -> Expr {
        let dates: Vec<String> = self
            .vocab
            .profile
            .iter()
            .filter(|(_, t)| matches!(t, Ty::Date | Ty::Time))
            .map(|(n, _)| n.clone())
            .collect();
        let field = if dates.is_empty() || self.chance(0.1) {
            self.column(ColumnSet::Profile).0
        } else {
            pick(self.rng, &dates).clone()
        };
        let window = if self.chance(0.8) {
            Dur {
                amount: self.rng.random_range(1..367),
                unit: *pick(self.rng, &['d', 'w']),
            }
        } else {
            Dur {
                amount: *pick(self.rng, &[0, 53, 366, 367, u32::MAX as i64, -1]),
                unit: *pick(self.rng, &['d', 'w', 'm', 'h']),
            }
        };
        Expr::Anniversary { field, window }
    }

    fn in_segment(&mut self) -> Expr {
        let name = if !self.saved.is_empty() && self.chance(0.8) {
            pick(self.rng, self.saved).clone()
        } else {
            self.unknown_name("vip")
        };
        Expr::InSegment(name)
    }

    // -- names -------------------------------------------------------------

    fn bool_column(&mut self) -> Option<String> {
        let bools: Vec<&String> = self
            .vocab
            .profile
            .iter()
            .filter(|(_, t)| *t == Ty::Bool)
            .map(|(n, _)| n)
            .collect();
        (!bools.is_empty()).then(|| pick(self.rng, &bools).to_string())
    }

    /// A column and its type; sometimes a name the dataset does not have.
    fn column(&mut self, set: ColumnSet) -> (String, Ty) {
        let vocab = self.vocab;
        let cols = match set {
            ColumnSet::Profile => &vocab.profile,
            ColumnSet::Props => &vocab.props,
        };
        if cols.is_empty() || self.chance(0.08) {
            let base = cols.first().map_or("country", |(n, _)| n.as_str());
            let ty = *pick(self.rng, &Ty::ALL);
            return (self.unknown_name(base), ty);
        }
        let (n, t) = pick(self.rng, cols);
        (n.clone(), *t)
    }

    /// An event property for sum/avg (numeric) or min/max (any).
    fn property(&mut self, numeric: bool) -> (String, Ty) {
        let vocab = self.vocab;
        let fit: Vec<&(String, Ty)> = vocab
            .props
            .iter()
            .filter(|(_, t)| !numeric || t.numeric())
            .collect();
        if fit.is_empty() || self.chance(0.08) {
            return self.column(ColumnSet::Props);
        }
        let (n, t) = pick(self.rng, &fit);
        (n.clone(), *t)
    }

    fn event_type(&mut self) -> String {
        if self.chance(0.06) {
            return self.unknown_name("purchase");
        }
        pick(self.rng, &self.vocab.events).clone()
    }

    /// A name near `base` (a typo) or one no dataset has.
    fn unknown_name(&mut self, base: &str) -> String {
        match self.below(5) {
            0 if base.len() > 1 => {
                let cut = self.rng.random_range(0..base.len());
                let mut s = base.to_string();
                if s.is_char_boundary(cut) && s.is_char_boundary(cut + 1) {
                    s.remove(cut);
                }
                s
            }
            1 => pick(self.rng, KEYWORD_NAMES).to_string(),
            2 => pick(self.rng, ODD_NAMES).to_string(),
            3 => "n".repeat(*pick(self.rng, &[64, 65, 5000])),
            _ => format!("{base}_x"),
        }
    }

    // -- values ------------------------------------------------------------

    fn value(&mut self, ty: Ty) -> Value {
        match ty {
            Ty::Int => Value::Int(self.int()),
            Ty::Float if self.chance(0.3) => Value::Int(self.int()),
            Ty::Float => Value::Float(self.float()),
            Ty::Text | Ty::List => Value::Str(self.text()),
            Ty::Bool => Value::Bool(self.chance(0.5)),
            Ty::Date | Ty::Time => Value::Time(self.time()),
        }
    }

    fn int(&mut self) -> i64 {
        match self.below(10) {
            0..=3 => self.rng.random_range(0..10),
            4..=6 => self.rng.random_range(0..3001),
            _ => *pick(self.rng, HARD_INTS),
        }
    }

    fn float(&mut self) -> f64 {
        if self.chance(0.7) {
            (self.rng.random_range(0..100_000) as f64) / 100.0
        } else {
            *pick(self.rng, HARD_FLOATS)
        }
    }

    fn text(&mut self) -> String {
        match self.below(10) {
            0..=6 => pick(self.rng, TEXTS).to_string(),
            7..=8 => pick(self.rng, HARD_TEXTS).to_string(),
            _ => "é".repeat(*pick(self.rng, &[6, 7, 5000])),
        }
    }

    fn dur(&mut self) -> Dur {
        let unit = if self.chance(0.97) {
            *pick(self.rng, &['h', 'd', 'w', 'm', 'y'])
        } else {
            *pick(self.rng, &['s', 'D', 'x'])
        };
        let amount = if self.chance(0.8) {
            *pick(self.rng, &[1, 2, 7, 12, 30, 60, 90, 180, 365])
        } else {
            *pick(
                self.rng,
                &[
                    0,
                    100,
                    101,
                    1200,
                    1201,
                    5217,
                    36_500,
                    36_525,
                    36_526,
                    876_600,
                    u32::MAX as i64,
                    u32::MAX as i64 + 1,
                    1 << 40,
                    i64::MAX,
                    -1,
                ],
            )
        };
        Dur { amount, unit }
    }

    fn window(&mut self) -> Window {
        match self.below(5) {
            0..=2 => Window::Within(self.dur()),
            3 => Window::Since(self.time()),
            _ => Window::Between(self.time(), self.time()),
        }
    }

    fn time(&mut self) -> Time {
        match self.below(10) {
            0..=2 => Time::Date(self.ymd()),
            3..=4 => self.stamp(),
            5..=7 => Time::Ago(self.dur()),
            8 => Time::Today,
            _ => Time::Now,
        }
    }

    fn ymd(&mut self) -> Ymd {
        let y = if self.chance(0.7) {
            self.rng.random_range(2015..2027)
        } else {
            *pick(self.rng, HARD_YEARS)
        };
        let m = if self.chance(0.9) {
            self.rng.random_range(1..13)
        } else {
            *pick(self.rng, &[0, 13, 99, -1])
        };
        let d = if self.chance(0.9) {
            self.rng.random_range(1..29)
        } else {
            *pick(self.rng, &[0, 29, 30, 31, 32, 99])
        };
        Ymd { y, m, d }
    }

    fn stamp(&mut self) -> Time {
        let date = self.ymd();
        let hms = if self.chance(0.9) {
            (
                self.rng.random_range(0..24),
                self.rng.random_range(0..60),
                self.rng.random_range(0..60),
            )
        } else {
            (*pick(self.rng, &[24, 99]), 60, 60)
        };
        let frac = match self.below(4) {
            0 => Some("25".to_string()),
            1 => Some(pick(self.rng, &["123456", "1234567", "0", "999999"]).to_string()),
            _ => None,
        };
        let tz = *pick::<&str>(self.rng, TIME_ZONES);
        Time::Stamp {
            date,
            hms,
            frac,
            tz,
            fallback_micros: *pick(self.rng, HARD_MICROS),
        }
    }
}

/// The shape of a condition on one operand.
#[derive(Debug, Clone, Copy)]
enum Form {
    Truthy,
    IsBool,
    Contains,
    StartsWith,
    Compare,
    InList,
    Between,
    IsNull,
}

#[derive(Debug, Clone, Copy)]
enum ColumnSet {
    Profile,
    Props,
}

// ---------------------------------------------------------------------------
// Mutations of text (DSL or JSON)
// ---------------------------------------------------------------------------

/// Snippets inserted into segment text.
const SNIPPETS: &[&str] = &[
    "é",
    "😀",
    "\u{0}",
    "\u{202e}",
    "\u{feff}",
    "\u{301}",
    "ｃｏｕｎｔ",
    "\r",
    "\t",
    "\n#",
    "'",
    "`",
    "\"",
    "(",
    ")",
    "[",
    "{",
    ",",
    ".",
    "..",
    "-",
    "9999999999999999999999",
    "1e309",
    "-0",
    " AND ",
    " OR ",
    " NOT ",
    "IN SEGMENT ",
    " WITHIN ",
    " WHERE ",
    " BETWEEN ",
    "99999999y",
    "\u{10ffff}",
];

/// `text` after one to four random edits: bit flips, truncation, inserted
/// unicode and tokens, deleted or duplicated ranges. Always valid UTF-8
/// (protobuf strings must be).
pub(super) fn mutate_text(rng: &mut StdRng, text: &str) -> String {
    let mut s = text.to_string();
    for _ in 0..rng.random_range(1..5) {
        s = mutate_once(rng, &s);
    }
    s
}

fn mutate_once(rng: &mut StdRng, s: &str) -> String {
    let (a, b) = {
        let (x, y) = (boundary(rng, s), boundary(rng, s));
        (x.min(y), x.max(y))
    };
    match rng.random_range(0..7) {
        0 if !s.is_empty() => {
            let mut bytes = s.as_bytes().to_vec();
            let i = rng.random_range(0..bytes.len());
            bytes[i] ^= 1 << rng.random_range(0..8);
            String::from_utf8_lossy(&bytes).into_owned()
        }
        1 => s[..a].to_string(),
        2 | 3 => format!("{}{}{}", &s[..a], pick(rng, SNIPPETS), &s[a..]),
        4 => format!("{}{}", &s[..a], &s[b..]),
        5 => format!("{}{}", &s[..b], &s[a..]),
        _ => {
            let c = char::from_u32(rng.random_range(0..0x11_0000)).unwrap_or('\u{fffd}');
            format!("{}{c}{}", &s[..a], &s[a..])
        }
    }
}

/// A random char boundary of `s` (0 and `s.len()` included).
fn boundary(rng: &mut StdRng, s: &str) -> usize {
    let at = rng.random_range(0..=s.len());
    (0..=at).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0)
}
