//! The segment AST. Every node carries the byte span of the source text it
//! was parsed from (`Span::default()` for ASTs built by programs, e.g. from
//! JSON). Spans are ignored by `PartialEq` so that `parse(format(ast)) == ast`
//! compares structure, not positions.
//!
//! The JSON form of a segment is the serde form of [`Segment`].

use serde::{Deserialize, Serialize};

/// Half-open byte range `[start, end)` into the source text.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, Eq, PartialOrd, Ord)]
pub struct Span {
    pub start: u32,
    pub end: u32,
}

impl std::hash::Hash for Span {
    /// Consistent with `PartialEq`: spans never take part in hashing either.
    fn hash<H: std::hash::Hasher>(&self, _state: &mut H) {}
}

impl PartialEq for Span {
    /// Spans never take part in AST equality.
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span {
            start: start as u32,
            end: end as u32,
        }
    }
    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span {
            start: self.start.min(other.start),
            end: self.end.max(other.end),
        }
    }
    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.end as usize
    }
}

/// A name as written, with its span.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ident {
    pub name: String,
    #[serde(default, skip_serializing_if = "is_default_span")]
    pub span: Span,
}

/// A whole segment definition: one boolean expression over profiles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub expr: Expr,
    /// Comments in the source (`# ...` to end of line), in order, without the
    /// leading `#`. The formatter re-emits them; they have no meaning.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub comments: Vec<Comment>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comment {
    pub text: String,
    #[serde(default, skip_serializing_if = "is_default_span")]
    pub span: Span,
}

/// A boolean expression. Membership is two-valued (docs/design.md#semantics):
/// a comparison with a NULL operand is false, NOT is the set complement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Expr {
    #[serde(flatten)]
    pub kind: ExprKind,
    #[serde(default, skip_serializing_if = "is_default_span")]
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum ExprKind {
    /// `a AND b AND c` (a chain is one node; a parenthesised group stays nested).
    And { args: Vec<Expr> },
    /// `a OR b OR c`.
    Or { args: Vec<Expr> },
    /// `NOT a`: the complement of `a`.
    Not { arg: Box<Expr> },
    /// `lhs <op> value`, e.g. `age >= 18`, `count(purchase WITHIN 30d) >= 2`.
    Compare {
        lhs: Operand,
        cmp: CmpOp,
        value: Value,
    },
    /// `lhs [NOT] IN (v1, v2, ...)`.
    InList {
        lhs: Operand,
        list: Vec<Value>,
        negated: bool,
    },
    /// `lhs [NOT] BETWEEN low AND high` (inclusive both ends).
    Between {
        lhs: Operand,
        low: Value,
        high: Value,
        negated: bool,
    },
    /// `lhs CONTAINS value [IGNORING CASE]`: substring for strings,
    /// element for lists (case is ignored for strings only).
    Contains {
        lhs: Operand,
        value: Value,
        #[serde(default, skip_serializing_if = "is_false")]
        ignore_case: bool,
    },
    /// `lhs STARTS WITH value [IGNORING CASE]`.
    StartsWith {
        lhs: Operand,
        value: Value,
        #[serde(default, skip_serializing_if = "is_false")]
        ignore_case: bool,
    },
    /// `lhs ENDS WITH value [IGNORING CASE]`.
    EndsWith {
        lhs: Operand,
        value: Value,
        #[serde(default, skip_serializing_if = "is_false")]
        ignore_case: bool,
    },
    /// `lhs IS [NOT] NULL`.
    IsNull { lhs: Operand, negated: bool },
    /// A boolean operand on its own, e.g. `consent_email`: true when the
    /// value is true (NULL is false).
    Truthy { lhs: Operand },
    /// `performed(filter)`: at least one matching event.
    Performed { filter: EventFilter },
    /// `anniversary(field) WITHIN NEXT n DAYS`: the field's month and day fall
    /// on one of the `days` calendar days starting with as_of's date (Feb 29
    /// counts as Feb 28 in non-leap years).
    Anniversary { field: Ident, days: u32 },
    /// `IN SEGMENT name`: membership of a saved segment (its definition is
    /// inlined by the engine).
    InSegment { name: Ident },
}

/// What is compared: a profile attribute, an event aggregate, or a built-in.
/// Inside an event filter's `WHERE`, `Field` names an event property instead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Operand {
    Field {
        name: Ident,
    },
    /// `month(birth_date)`, `hour(event_time)`: a part of a date or
    /// timestamp field, in UTC (an integer; NULL when the field is).
    TimePart {
        part: TimePart,
        field: Ident,
        #[serde(default, skip_serializing_if = "is_default_span")]
        span: Span,
    },
    Aggregate(Aggregate),
    Builtin(Builtin),
}

/// The parts of a time [`Operand::TimePart`] can take, all in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimePart {
    /// The year, e.g. 2024.
    Year,
    /// 1 (January) to 12.
    Month,
    /// Day of the month, 1 to 31.
    Day,
    /// ISO day of the week: 1 (Monday) to 7 (Sunday).
    DayOfWeek,
    /// 0 to 23 (timestamps only).
    Hour,
}

impl TimePart {
    pub const ALL: [TimePart; 5] = [
        TimePart::Year,
        TimePart::Month,
        TimePart::Day,
        TimePart::DayOfWeek,
        TimePart::Hour,
    ];

    /// The function's name in the DSL: `year`, `month`, `day`,
    /// `day_of_week`, `hour`.
    pub fn name(self) -> &'static str {
        match self {
            TimePart::Year => "year",
            TimePart::Month => "month",
            TimePart::Day => "day",
            TimePart::DayOfWeek => "day_of_week",
            TimePart::Hour => "hour",
        }
    }

    /// Looks a part up by its function name (case-insensitive).
    pub fn from_name(name: &str) -> Option<TimePart> {
        TimePart::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(name))
    }
}

/// `count(purchase WHERE ... WITHIN 30d)`, `sum(purchase.amount ...)`,
/// `last(purchase)`, ...
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Aggregate {
    pub func: AggFunc,
    /// The property aggregated (`amount` in `sum(purchase.amount)`);
    /// required for sum/avg/min/max, absent for count/first/last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property: Option<Ident>,
    pub filter: EventFilter,
    #[serde(default, skip_serializing_if = "is_default_span")]
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AggFunc {
    /// Number of matching events (0 when none).
    Count,
    /// `count(distinct event.property)`: number of distinct non-NULL
    /// values of the property (0 when none).
    CountDistinct,
    /// Sum of the property (0 when none).
    Sum,
    /// Average of the property (NULL when none).
    Avg,
    /// Minimum of the property (NULL when none).
    Min,
    /// Maximum of the property (NULL when none).
    Max,
    /// Time of the first matching event (NULL when none).
    First,
    /// Time of the last matching event (NULL when none).
    Last,
}

/// Which events an aggregate or `performed` looks at.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventFilter {
    pub event: EventSel,
    /// Property conditions (`WHERE channel = 'web' AND amount >= 200`); only
    /// `Field` operands, naming event columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predicate: Option<Box<Expr>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<Window>,
    #[serde(default, skip_serializing_if = "is_default_span")]
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventSel {
    /// One event type, e.g. `purchase`.
    Type { name: Ident },
    /// Events of any type (`any`).
    Any,
}

/// A time window relative to as_of; always also `event_time < as_of`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Window {
    /// `WITHIN 30d`: `as_of - 30d <= event_time < as_of`.
    Within { duration: Duration },
    /// `SINCE t`: `t <= event_time < as_of`.
    Since { from: TimeValue },
    /// `BETWEEN t1 AND t2`: `t1 <= event_time < t2` (and `< as_of`).
    Between { from: TimeValue, to: TimeValue },
    /// `BEFORE t`: `event_time < t` (and `< as_of`).
    Before { to: TimeValue },
}

/// `30d`, `2w`, `6m`, `1y`, `12h`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Duration {
    pub amount: u32,
    pub unit: TimeUnit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeUnit {
    /// `h`
    Hours,
    /// `d`
    Days,
    /// `w` (7 days)
    Weeks,
    /// `m`: calendar months (day clamped to the month's last day).
    Months,
    /// `y`: calendar years (12 months).
    Years,
}

/// A point in time, resolved against as_of by the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TimeValue {
    /// `2024-05-01`: midnight UTC of that date.
    Date { year: i32, month: u32, day: u32 },
    /// `2024-05-01T10:30:00Z`: microseconds since the Unix epoch, UTC.
    Timestamp { micros: i64 },
    /// `-30d`: as_of minus the duration.
    Ago { duration: Duration },
    /// `today`: midnight UTC of as_of's date.
    Today,
    /// `now`: as_of itself.
    Now,
}

/// A literal on the right-hand side of a condition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Value {
    Int(i64),
    /// Always finite.
    Float(f64),
    String(String),
    Bool(bool),
    Time(TimeValue),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CmpOp {
    #[serde(rename = "=")]
    Eq,
    #[serde(rename = "!=")]
    NotEq,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    LtEq,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    GtEq,
}

/// A built-in per-profile analytic (docs/design.md#semantics).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Builtin {
    pub func: BuiltinFunc,
    /// Optional parameters, e.g. `rfm(bins = 4, lookback = 365d).segment`,
    /// `lifecycle(window = 60d)`, `channel_mix(window = 365d)`.
    #[serde(default)]
    pub params: BuiltinParams,
    #[serde(default, skip_serializing_if = "is_default_span")]
    pub span: Span,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BuiltinFunc {
    /// `rfm.r`: recency score 1..=bins (Int).
    RfmR,
    /// `rfm.f`: frequency score (Int).
    RfmF,
    /// `rfm.m`: monetary score (Int).
    RfmM,
    /// `rfm.segment`: named RFM segment (String), e.g. 'champions'.
    RfmSegment,
    /// `rfm.recency_days` (Int).
    RfmRecencyDays,
    /// `rfm.frequency` (Int).
    RfmFrequency,
    /// `rfm.monetary` (Float).
    RfmMonetary,
    /// `channel_mix`: 'online_only' | 'offline_only' | 'omnichannel' | 'none'.
    ChannelMix,
    /// `lifecycle`: 'new' | 'returning' | 'resurrecting' | 'dormant' | 'lost' | 'never'.
    Lifecycle,
}

/// Parameters of a built-in. Which apply: rfm.*: bins, lookback;
/// channel_mix: window; lifecycle: window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BuiltinParams {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bins: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lookback: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<Duration>,
}

/// The three tests on text: [`ExprKind::Contains`],
/// [`ExprKind::StartsWith`] and [`ExprKind::EndsWith`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TextTest {
    Contains,
    StartsWith,
    EndsWith,
}

impl TextTest {
    /// The keywords, as the canonical form writes them.
    pub fn keyword(self) -> &'static str {
        match self {
            TextTest::Contains => "CONTAINS",
            TextTest::StartsWith => "STARTS WITH",
            TextTest::EndsWith => "ENDS WITH",
        }
    }

    /// `lhs <test> value [IGNORING CASE]`.
    pub fn expr(self, lhs: Operand, value: Value, ignore_case: bool) -> ExprKind {
        match self {
            TextTest::Contains => ExprKind::Contains {
                lhs,
                value,
                ignore_case,
            },
            TextTest::StartsWith => ExprKind::StartsWith {
                lhs,
                value,
                ignore_case,
            },
            TextTest::EndsWith => ExprKind::EndsWith {
                lhs,
                value,
                ignore_case,
            },
        }
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_default_span(s: &Span) -> bool {
    s.start == 0 && s.end == 0
}

// ---------------------------------------------------------------------------
// Helpers (additive; the data types above are the contract).
// ---------------------------------------------------------------------------

impl Ident {
    /// A name with no source position (for ASTs built by programs).
    pub fn new(name: impl Into<String>) -> Self {
        Ident {
            name: name.into(),
            span: Span::default(),
        }
    }
}

impl Expr {
    /// An expression with no source position (for ASTs built by programs).
    pub fn new(kind: ExprKind) -> Self {
        Expr {
            kind,
            span: Span::default(),
        }
    }
}

impl Segment {
    /// A segment without comments.
    pub fn new(expr: Expr) -> Self {
        Segment {
            expr,
            comments: Vec::new(),
        }
    }
}

impl AggFunc {
    /// Every aggregate function, in documentation order.
    pub const ALL: [AggFunc; 8] = [
        AggFunc::Count,
        AggFunc::CountDistinct,
        AggFunc::Sum,
        AggFunc::Avg,
        AggFunc::Min,
        AggFunc::Max,
        AggFunc::First,
        AggFunc::Last,
    ];

    /// The function's name in the DSL (`count`, `sum`, ...; `count` for
    /// `count(distinct ...)`, see [`AggFunc::call`]).
    pub fn name(self) -> &'static str {
        match self {
            AggFunc::Count | AggFunc::CountDistinct => "count",
            AggFunc::Sum => "sum",
            AggFunc::Avg => "avg",
            AggFunc::Min => "min",
            AggFunc::Max => "max",
            AggFunc::First => "first",
            AggFunc::Last => "last",
        }
    }

    /// Looks a function up by name (case-insensitive).
    pub fn from_name(name: &str) -> Option<AggFunc> {
        AggFunc::ALL
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(name))
    }

    /// The call up to its event, as written: `count(`, `count(distinct `,
    /// `sum(`.
    pub fn call(self) -> String {
        match self {
            AggFunc::CountDistinct => "count(distinct ".to_string(),
            f => format!("{}(", f.name()),
        }
    }

    /// Whether the function aggregates a property (`sum(purchase.amount)`)
    /// rather than the events themselves (`count(purchase)`).
    pub fn needs_property(self) -> bool {
        matches!(
            self,
            AggFunc::CountDistinct | AggFunc::Sum | AggFunc::Avg | AggFunc::Min | AggFunc::Max
        )
    }
}

impl BuiltinFunc {
    /// Every built-in, in documentation order.
    pub const ALL: [BuiltinFunc; 9] = [
        BuiltinFunc::RfmR,
        BuiltinFunc::RfmF,
        BuiltinFunc::RfmM,
        BuiltinFunc::RfmSegment,
        BuiltinFunc::RfmRecencyDays,
        BuiltinFunc::RfmFrequency,
        BuiltinFunc::RfmMonetary,
        BuiltinFunc::ChannelMix,
        BuiltinFunc::Lifecycle,
    ];

    /// The named RFM segments (docs/design.md#semantics), values of `rfm.segment`.
    pub const RFM_SEGMENTS: &'static [&'static str] = &[
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
    ];
    /// The channel-mix classes, values of `channel_mix`.
    pub const CHANNEL_MIX_CLASSES: &'static [&'static str] =
        &["online_only", "offline_only", "omnichannel", "none"];
    /// The lifecycle states, values of `lifecycle`.
    pub const LIFECYCLE_STATES: &'static [&'static str] = &[
        "new",
        "returning",
        "resurrecting",
        "dormant",
        "lost",
        "never",
    ];

    /// The built-in as written in the DSL without parameters
    /// (`rfm.segment`, `channel_mix`, ...).
    pub fn name(self) -> &'static str {
        match self {
            BuiltinFunc::RfmR => "rfm.r",
            BuiltinFunc::RfmF => "rfm.f",
            BuiltinFunc::RfmM => "rfm.m",
            BuiltinFunc::RfmSegment => "rfm.segment",
            BuiltinFunc::RfmRecencyDays => "rfm.recency_days",
            BuiltinFunc::RfmFrequency => "rfm.frequency",
            BuiltinFunc::RfmMonetary => "rfm.monetary",
            BuiltinFunc::ChannelMix => "channel_mix",
            BuiltinFunc::Lifecycle => "lifecycle",
        }
    }

    /// For `rfm.*`, the member after the dot (`segment` for `rfm.segment`).
    pub fn rfm_member(self) -> Option<&'static str> {
        self.name().strip_prefix("rfm.")
    }

    /// Whether this is one of the `rfm.*` scores.
    pub fn is_rfm(self) -> bool {
        self.rfm_member().is_some()
    }

    /// The type of the built-in's value.
    pub fn result_type(self) -> crate::FieldType {
        use crate::FieldType;
        match self {
            BuiltinFunc::RfmR
            | BuiltinFunc::RfmF
            | BuiltinFunc::RfmM
            | BuiltinFunc::RfmRecencyDays
            | BuiltinFunc::RfmFrequency => FieldType::Int,
            BuiltinFunc::RfmMonetary => FieldType::Float,
            BuiltinFunc::RfmSegment | BuiltinFunc::ChannelMix | BuiltinFunc::Lifecycle => {
                FieldType::String
            }
        }
    }

    /// The closed set of values of a string-valued built-in.
    pub fn values(self) -> Option<&'static [&'static str]> {
        match self {
            BuiltinFunc::RfmSegment => Some(Self::RFM_SEGMENTS),
            BuiltinFunc::ChannelMix => Some(Self::CHANNEL_MIX_CLASSES),
            BuiltinFunc::Lifecycle => Some(Self::LIFECYCLE_STATES),
            _ => None,
        }
    }

    /// The parameter names this built-in accepts.
    pub fn param_names(self) -> &'static [&'static str] {
        if self.is_rfm() {
            &["bins", "lookback"]
        } else {
            &["window"]
        }
    }
}

impl TimeUnit {
    /// Every unit, in the order of its size.
    pub const ALL: [TimeUnit; 5] = [
        TimeUnit::Hours,
        TimeUnit::Days,
        TimeUnit::Weeks,
        TimeUnit::Months,
        TimeUnit::Years,
    ];

    /// The unit's one-letter suffix (`h`, `d`, `w`, `m`, `y`).
    pub fn suffix(self) -> char {
        match self {
            TimeUnit::Hours => 'h',
            TimeUnit::Days => 'd',
            TimeUnit::Weeks => 'w',
            TimeUnit::Months => 'm',
            TimeUnit::Years => 'y',
        }
    }

    /// The unit for a suffix letter (lower case only).
    pub fn from_suffix(c: char) -> Option<TimeUnit> {
        TimeUnit::ALL.into_iter().find(|u| u.suffix() == c)
    }

    /// The unit a duration's suffix names, as the lexer and
    /// `Duration::from_str` read it: one letter, in either case (`d`, `D`;
    /// `m` is months).
    pub fn from_suffix_str(suffix: &str) -> Option<TimeUnit> {
        let mut chars = suffix.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => TimeUnit::from_suffix(c.to_ascii_lowercase()),
            _ => None,
        }
    }
}

impl Duration {
    pub fn new(amount: u32, unit: TimeUnit) -> Self {
        Duration { amount, unit }
    }
}

impl CmpOp {
    /// The operator as written (`=`, `!=`, `<`, `<=`, `>`, `>=`).
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "=",
            CmpOp::NotEq => "!=",
            CmpOp::Lt => "<",
            CmpOp::LtEq => "<=",
            CmpOp::Gt => ">",
            CmpOp::GtEq => ">=",
        }
    }
}
