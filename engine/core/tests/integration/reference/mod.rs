//! The naive oracle, one for the whole binary: straight from
//! docs/design.md#semantics and the AST docs (`engine/dsl/src/ast.rs`),
//! written without looking at the engine (it uses nothing of strata-core),
//! profile by profile over in-memory data. Slow and simple on purpose.
//!
//! - this file: the data, the DSL evaluator ([`Reference`]) and time;
//! - `builtins.rs`: the per-profile built-ins (RFM scores and segment,
//!   channel-mix class, lifecycle state), defined once for both the DSL
//!   (`rfm.r`, `channel_mix`, `lifecycle`) and the reports;
//! - `reports.rs`: the naive report tables, aggregated from those built-ins,
//!   and the retention cohorts.
//!
//! `engine_vs_reference.rs` compares the engine's members with the
//! evaluator's, `analytics.rs` the engine's reports with `reports.rs`.
//!
//! Numbers are compared exactly: integers and decimal amounts (i128 cents)
//! as rationals, literals by the decimal text they stand for; only `Float`
//! columns compare as `f64`.

mod builtins;
mod reports;

use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::rc::Rc;

use chrono::{Datelike, Days, NaiveDate};
use strata_dsl::ast::{
    AggFunc, Aggregate, Builtin, BuiltinFunc, CmpOp, Duration, EventFilter, EventSel, Expr,
    ExprKind, Operand, Segment, TimePart, TimeUnit, TimeValue, Value, Window,
};

use builtins::Rfm;
pub(crate) use builtins::{CLASSES, RFM_SEGMENTS, STATES, five_point, rfm_segment};
pub(crate) use reports::Period;

pub(crate) const MICROS_PER_DAY: i64 = 86_400_000_000;
pub(crate) const MICROS_PER_HOUR: i64 = 3_600_000_000;

/// A value of a profile attribute or event property.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    Null,
    Int(i64),
    Float(f64),
    /// A Decimal(18, 2) amount, in cents.
    Dec(i128),
    /// An exact fraction `num / den` (den > 0), e.g. an average.
    Rat(i128, i128),
    Str(String),
    Bool(bool),
    /// Days since 1970-01-01.
    Date(i32),
    /// Microseconds since the epoch, UTC.
    Ts(i64),
    /// A list of strings (elements may be NULL); a NULL list is `Null`.
    List(Vec<Option<String>>),
}

#[derive(Debug, Clone)]
pub(crate) struct Profile {
    pub(crate) id: i64,
    pub(crate) attrs: BTreeMap<String, Val>,
}

#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub(crate) profile_id: i64,
    pub(crate) time_micros: i64,
    pub(crate) event_type: String,
    /// Properties besides the time and type (`channel`, `amount`, ...).
    pub(crate) props: BTreeMap<String, Val>,
}

/// Everything a segment can look at.
#[derive(Debug, Clone)]
pub(crate) struct Data {
    pub(crate) profiles: Vec<Profile>,
    pub(crate) events: Vec<Event>,
    pub(crate) purchase_types: Vec<String>,
    pub(crate) activity_types: Vec<String>,
    pub(crate) online_channels: Vec<String>,
    pub(crate) offline_channels: Vec<String>,
    /// Saved segments: name → DSL text.
    pub(crate) saved: BTreeMap<String, String>,
}

/// Evaluates segments over [`Data`] at one `as_of`.
#[derive(Debug)]
pub(crate) struct Reference<'a> {
    data: &'a Data,
    as_of: i64,
    events_of: HashMap<i64, Vec<&'a Event>>,
    saved: BTreeMap<String, Segment>,
    rfm_cache: RefCell<HashMap<RfmParams, Rc<HashMap<i64, Rfm>>>>,
}

/// RFM's parameters: bins, lookback.
type RfmParams = (Option<u32>, Option<Duration>);

impl<'a> Reference<'a> {
    pub(crate) fn new(data: &'a Data, as_of: i64) -> Self {
        let mut events_of: HashMap<i64, Vec<&Event>> = HashMap::new();
        for e in &data.events {
            events_of.entry(e.profile_id).or_default().push(e);
        }
        let saved = data
            .saved
            .iter()
            .map(|(name, text)| {
                let seg = strata_dsl::parse(text).unwrap_or_else(|e| {
                    panic!("saved segment {name} does not parse: {e:?}\n{text}")
                });
                (name.clone(), seg)
            })
            .collect();
        Reference {
            data,
            as_of,
            events_of,
            saved,
            rfm_cache: RefCell::new(HashMap::new()),
        }
    }

    pub(crate) fn data(&self) -> &'a Data {
        self.data
    }

    pub(crate) fn as_of(&self) -> i64 {
        self.as_of
    }

    /// The ids of the profiles in `segment`.
    pub(crate) fn members(&self, segment: &Segment) -> BTreeSet<i64> {
        self.data
            .profiles
            .iter()
            .filter(|p| self.eval(&segment.expr, p))
            .map(|p| p.id)
            .collect()
    }

    /// The events of profile `id` that exist at as_of (`event_time < as_of`).
    fn existing_events(&self, id: i64) -> impl Iterator<Item = &'a Event> + '_ {
        self.events_of
            .get(&id)
            .into_iter()
            .flatten()
            .copied()
            .filter(move |e| e.time_micros < self.as_of)
    }

    /// Whether profile `p` is in `e`.
    pub(crate) fn eval(&self, e: &Expr, p: &Profile) -> bool {
        match &e.kind {
            ExprKind::And { args } => args.iter().all(|a| self.eval(a, p)),
            ExprKind::Or { args } => args.iter().any(|a| self.eval(a, p)),
            ExprKind::Not { arg } => !self.eval(arg, p),
            ExprKind::Performed { filter } => self.matching(filter, p.id).next().is_some(),
            ExprKind::Anniversary { field, days } => {
                let date = match p.attrs.get(&field.name).unwrap_or(&Val::Null) {
                    Val::Date(d) => date_of_days(i64::from(*d)),
                    Val::Ts(t) => date_of_days(t.div_euclid(MICROS_PER_DAY)),
                    Val::Null => return false,
                    other => panic!("anniversary of {other:?}"),
                };
                anniversary_within(date, self.as_of, *days)
            }
            ExprKind::InSegment { name } => {
                let seg = self
                    .saved
                    .get(&name.name)
                    .unwrap_or_else(|| panic!("unknown saved segment {}", name.name));
                self.eval(&seg.expr, p)
            }
            _ => {
                let lhs = lhs_of(e);
                let v = self.operand(lhs, p);
                condition(e, &v, self.as_of)
            }
        }
    }

    /// The value of an operand for profile `p`.
    pub(crate) fn operand(&self, op: &Operand, p: &Profile) -> Val {
        match op {
            Operand::Field { name } => p.attrs.get(&name.name).cloned().unwrap_or(Val::Null),
            Operand::TimePart { part, field, .. } => {
                time_part(*part, p.attrs.get(&field.name).unwrap_or(&Val::Null))
            }
            Operand::Aggregate(a) => self.aggregate(a, p.id),
            Operand::Builtin(b) => self.builtin(b, p.id),
        }
    }

    /// The existing events of profile `id` that `f` selects.
    fn matching<'s>(&'s self, f: &'s EventFilter, id: i64) -> impl Iterator<Item = &'a Event> + 's {
        let (lo, hi) = match &f.window {
            None => (i64::MIN, self.as_of),
            Some(Window::Within { duration }) => (sub(self.as_of, *duration), self.as_of),
            Some(Window::Since { from }) => (resolve(from, self.as_of), self.as_of),
            Some(Window::Between { from, to }) => (
                resolve(from, self.as_of),
                resolve(to, self.as_of).min(self.as_of),
            ),
            Some(Window::Before { to }) => (i64::MIN, resolve(to, self.as_of).min(self.as_of)),
        };
        self.existing_events(id).filter(move |e| {
            let type_ok = match &f.event {
                EventSel::Any => true,
                EventSel::Type { name } => e.event_type == name.name,
            };
            type_ok
                && lo <= e.time_micros
                && e.time_micros < hi
                && f.predicate
                    .as_deref()
                    .is_none_or(|pred| self.eval_event(pred, e))
        })
    }

    /// Whether event `ev` satisfies a `WHERE` condition.
    fn eval_event(&self, e: &Expr, ev: &Event) -> bool {
        match &e.kind {
            ExprKind::And { args } => args.iter().all(|a| self.eval_event(a, ev)),
            ExprKind::Or { args } => args.iter().any(|a| self.eval_event(a, ev)),
            ExprKind::Not { arg } => !self.eval_event(arg, ev),
            _ => {
                let v = match lhs_of(e) {
                    Operand::Field { name } => event_prop(ev, &name.name),
                    Operand::TimePart { part, field, .. } => {
                        time_part(*part, &event_prop(ev, &field.name))
                    }
                    other => panic!("WHERE with a non-field operand: {other:?}"),
                };
                condition(e, &v, self.as_of)
            }
        }
    }

    fn aggregate(&self, a: &Aggregate, id: i64) -> Val {
        let events: Vec<&Event> = self.matching(&a.filter, id).collect();
        let values = || -> Vec<Val> {
            let prop = &a.property.as_ref().expect("aggregate property").name;
            events
                .iter()
                .map(|e| event_prop(e, prop))
                .filter(|v| *v != Val::Null)
                .collect()
        };
        match a.func {
            AggFunc::Count => Val::Int(events.len() as i64),
            AggFunc::CountDistinct => {
                let mut distinct = values();
                distinct.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
                distinct.dedup();
                Val::Int(distinct.len() as i64)
            }
            AggFunc::First => events
                .iter()
                .map(|e| e.time_micros)
                .min()
                .map_or(Val::Null, Val::Ts),
            AggFunc::Last => events
                .iter()
                .map(|e| e.time_micros)
                .max()
                .map_or(Val::Null, Val::Ts),
            AggFunc::Sum => {
                let (num, den) = sum_exact(&values());
                // A sum of integers or cents is an integer or cents again.
                if den == 1 {
                    Val::Int(num as i64)
                } else {
                    Val::Dec(num)
                }
            }
            AggFunc::Avg => {
                let vs = values();
                if vs.is_empty() {
                    return Val::Null;
                }
                if let Some(Val::Float(_)) = vs.first() {
                    let s: f64 = vs.iter().map(as_f64).sum();
                    return Val::Float(s / vs.len() as f64);
                }
                let (num, den) = sum_exact(&vs);
                Val::Rat(num, den * vs.len() as i128)
            }
            AggFunc::Min | AggFunc::Max => {
                let mut best: Option<Val> = None;
                for v in values() {
                    best = match best {
                        None => Some(v),
                        Some(b) => {
                            let ord = order(&v, &b).expect("values of one property compare");
                            let better = if a.func == AggFunc::Min {
                                ord == Ordering::Less
                            } else {
                                ord == Ordering::Greater
                            };
                            Some(if better { v } else { b })
                        }
                    };
                }
                best.unwrap_or(Val::Null)
            }
        }
    }

    fn builtin(&self, b: &Builtin, id: i64) -> Val {
        match b.func {
            BuiltinFunc::ChannelMix => Val::Str(self.channel_mix(id, b.params.window).class.into()),
            BuiltinFunc::Lifecycle => Val::Str(self.lifecycle(id, b.params.window).into()),
            f => {
                let table = self.rfm(b.params.bins, b.params.lookback);
                let Some(r) = table.get(&id) else {
                    return Val::Null;
                };
                match f {
                    BuiltinFunc::RfmR => Val::Int(r.r),
                    BuiltinFunc::RfmF => Val::Int(r.f),
                    BuiltinFunc::RfmM => Val::Int(r.m),
                    BuiltinFunc::RfmSegment => Val::Str(r.segment.into()),
                    BuiltinFunc::RfmRecencyDays => Val::Int(r.recency_days),
                    BuiltinFunc::RfmFrequency => Val::Int(r.frequency),
                    BuiltinFunc::RfmMonetary => Val::Dec(r.monetary),
                    BuiltinFunc::ChannelMix | BuiltinFunc::Lifecycle => unreachable!(),
                }
            }
        }
    }
}

/// A part of a date or timestamp value, UTC, by calendar arithmetic on
/// the days (independent of the engine's `date_part`).
fn time_part(part: TimePart, v: &Val) -> Val {
    let micros = match v {
        Val::Date(d) => i64::from(*d) * MICROS_PER_DAY,
        Val::Ts(t) => *t,
        Val::Null => return Val::Null,
        other => panic!("a time part of {other:?}"),
    };
    let days = micros.div_euclid(MICROS_PER_DAY);
    let date = date_of_days(days);
    Val::Int(match part {
        TimePart::Year => i64::from(date.year()),
        TimePart::Month => i64::from(date.month()),
        TimePart::Day => i64::from(date.day()),
        // 1970-01-01 was a Thursday (ISO 4).
        TimePart::DayOfWeek => (days + 3).rem_euclid(7) + 1,
        TimePart::Hour => micros.rem_euclid(MICROS_PER_DAY) / 3_600_000_000,
    })
}

fn event_prop(ev: &Event, name: &str) -> Val {
    match name {
        "event_time" => Val::Ts(ev.time_micros),
        "event_type" => Val::Str(ev.event_type.clone()),
        _ => ev.props.get(name).cloned().unwrap_or(Val::Null),
    }
}

/// The operand of a condition (every kind but And/Or/Not/Performed/...).
fn lhs_of(e: &Expr) -> &Operand {
    e.lhs()
        .unwrap_or_else(|| panic!("not a condition: {:?}", e.kind))
}

/// A condition on an operand's value `v` (two-valued: NULL → false, except
/// for IS NULL).
fn condition(e: &Expr, v: &Val, as_of: i64) -> bool {
    match &e.kind {
        ExprKind::IsNull { negated, .. } => (*v == Val::Null) != *negated,
        _ if *v == Val::Null => false,
        ExprKind::Truthy { .. } => *v == Val::Bool(true),
        ExprKind::Compare { cmp, value, .. } => {
            let ord = compare(v, value, as_of);
            match cmp {
                CmpOp::Eq => ord == Ordering::Equal,
                CmpOp::NotEq => ord != Ordering::Equal,
                CmpOp::Lt => ord == Ordering::Less,
                CmpOp::LtEq => ord != Ordering::Greater,
                CmpOp::Gt => ord == Ordering::Greater,
                CmpOp::GtEq => ord != Ordering::Less,
            }
        }
        ExprKind::InList { list, negated, .. } => {
            let found = list.iter().any(|x| compare(v, x, as_of) == Ordering::Equal);
            found != *negated
        }
        ExprKind::Between {
            low, high, negated, ..
        } => {
            let inside = compare(v, low, as_of) != Ordering::Less
                && compare(v, high, as_of) != Ordering::Greater;
            inside != *negated
        }
        ExprKind::Contains {
            value, ignore_case, ..
        } => {
            let Value::String(needle) = value else {
                panic!("CONTAINS {value:?}")
            };
            match v {
                Val::Str(s) => {
                    let (s, needle) = cased(s, needle, *ignore_case);
                    s.contains(needle.as_str())
                }
                Val::List(items) => items.iter().any(|i| i.as_deref() == Some(needle.as_str())),
                other => panic!("CONTAINS on {other:?}"),
            }
        }
        ExprKind::StartsWith {
            value, ignore_case, ..
        }
        | ExprKind::EndsWith {
            value, ignore_case, ..
        } => {
            let (Val::Str(s), Value::String(part)) = (v, value) else {
                panic!("STARTS / ENDS WITH on {v:?} {value:?}")
            };
            let (s, part) = cased(s, part, *ignore_case);
            match e.kind {
                ExprKind::StartsWith { .. } => s.starts_with(part.as_str()),
                _ => s.ends_with(part.as_str()),
            }
        }
        other => panic!("not a condition: {other:?}"),
    }
}

/// Text and pattern as compared: both lower-cased when case is ignored.
fn cased(s: &str, pattern: &str, ignore_case: bool) -> (String, String) {
    if ignore_case {
        (s.to_lowercase(), pattern.to_lowercase())
    } else {
        (s.to_string(), pattern.to_string())
    }
}

/// Compares a non-NULL value with a literal of a type the checker accepted.
fn compare(v: &Val, lit: &Value, as_of: i64) -> Ordering {
    match (v, lit) {
        (Val::Str(a), Value::String(b)) => a.as_bytes().cmp(b.as_bytes()),
        (Val::Bool(a), Value::Bool(b)) => a.cmp(b),
        (Val::Date(d), Value::Time(t)) => (i64::from(*d) * MICROS_PER_DAY).cmp(&resolve(t, as_of)),
        (Val::Ts(a), Value::Time(t)) => a.cmp(&resolve(t, as_of)),
        (Val::Float(a), Value::Int(b)) => a.partial_cmp(&(*b as f64)).expect("finite"),
        (Val::Float(a), Value::Float(b)) => a.partial_cmp(b).expect("finite"),
        (_, Value::Int(b)) => cmp_rat(exact(v), (i128::from(*b), 1)),
        // A literal past i128 (1e300, 5e-324) is nowhere near a decimal
        // value: f64 orders them right.
        (_, Value::Float(b)) => match try_decimal_of(*b) {
            Some(d) => cmp_rat(exact(v), d),
            None => as_f64(v).partial_cmp(b).expect("finite"),
        },
        _ => panic!("cannot compare {v:?} with {lit:?}"),
    }
}

/// Orders two values of one column.
pub(crate) fn order(a: &Val, b: &Val) -> Option<Ordering> {
    match (a, b) {
        (Val::Str(x), Val::Str(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (Val::Ts(x), Val::Ts(y)) => Some(x.cmp(y)),
        (Val::Date(x), Val::Date(y)) => Some(x.cmp(y)),
        (Val::Float(x), Val::Float(y)) => x.partial_cmp(y),
        (Val::Int(_) | Val::Dec(_) | Val::Rat(..), Val::Int(_) | Val::Dec(_) | Val::Rat(..)) => {
            Some(cmp_rat(exact(a), exact(b)))
        }
        _ => None,
    }
}

/// An exact number as (numerator, denominator > 0).
fn exact(v: &Val) -> (i128, i128) {
    match v {
        Val::Int(i) => (i128::from(*i), 1),
        Val::Dec(c) => (*c, 100),
        Val::Rat(n, d) => (*n, *d),
        other => panic!("not an exact number: {other:?}"),
    }
}

fn cmp_rat(a: (i128, i128), b: (i128, i128)) -> Ordering {
    (a.0 * b.1).cmp(&(b.0 * a.1))
}

fn as_f64(v: &Val) -> f64 {
    match v {
        Val::Float(f) => *f,
        other => {
            let (n, d) = exact(other);
            n as f64 / d as f64
        }
    }
}

/// Sum of integers or cents, as (sum, 1) or (cents, 100); (0, 1) if empty.
fn sum_exact(vs: &[Val]) -> (i128, i128) {
    let mut sum = 0i128;
    let mut den = 1;
    for v in vs {
        match v {
            Val::Int(i) => sum += i128::from(*i),
            Val::Dec(c) => {
                sum += c;
                den = 100;
            }
            other => panic!("sum of {other:?}"),
        }
    }
    (sum, den)
}

/// The decimal number a float literal stands for: its shortest round-trip
/// text (which is what the DSL formatter writes), read exactly.
pub(crate) fn decimal_of(f: f64) -> (i128, i128) {
    try_decimal_of(f).expect("a literal of at most 38 digits")
}

/// [`decimal_of`], or `None` when the number does not fit an i128 fraction.
fn try_decimal_of(f: f64) -> Option<(i128, i128)> {
    let text = format!("{f}");
    let (neg, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.as_str()),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let num: i128 = format!("{int}{frac}").parse().ok()?;
    let den = 10i128.checked_pow(u32::try_from(frac.len()).ok()?)?;
    // Products in `cmp_rat` must not overflow either.
    if num.unsigned_abs() > 1 << 100 || den > 1 << 100 {
        return None;
    }
    Some((if neg { -num } else { num }, den))
}

/// Resolves a DSL time against as_of, in µs.
pub(crate) fn resolve(t: &TimeValue, as_of: i64) -> i64 {
    match t {
        TimeValue::Date { year, month, day } => {
            let d = NaiveDate::from_ymd_opt(*year, *month, *day).expect("valid date");
            days_of_date(d) * MICROS_PER_DAY
        }
        TimeValue::Timestamp { micros } => *micros,
        TimeValue::Ago { duration } => sub(as_of, *duration),
        TimeValue::Today => as_of.div_euclid(MICROS_PER_DAY) * MICROS_PER_DAY,
        TimeValue::Now => as_of,
    }
}

/// `t - d`; months and years are calendar months with the day clamped to
/// the month's last day, keeping the time of day.
pub(crate) fn sub(t: i64, d: Duration) -> i64 {
    let n = i64::from(d.amount);
    match d.unit {
        TimeUnit::Hours => t - n * MICROS_PER_HOUR,
        TimeUnit::Days => t - n * MICROS_PER_DAY,
        TimeUnit::Weeks => t - 7 * n * MICROS_PER_DAY,
        TimeUnit::Months | TimeUnit::Years => {
            let months = if d.unit == TimeUnit::Years { 12 * n } else { n };
            let date = date_of_days(t.div_euclid(MICROS_PER_DAY));
            let time_of_day = t.rem_euclid(MICROS_PER_DAY);
            let index = i64::from(date.year()) * 12 + i64::from(date.month0()) - months;
            let (year, month) = (index.div_euclid(12) as i32, index.rem_euclid(12) as u32 + 1);
            let day = date.day().min(days_in_month(year, month));
            let new = NaiveDate::from_ymd_opt(year, month, day).expect("clamped date");
            days_of_date(new) * MICROS_PER_DAY + time_of_day
        }
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    let next = if month == 12 {
        NaiveDate::from_ymd_opt(year + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(year, month + 1, 1)
    };
    next.expect("valid").pred_opt().expect("valid").day()
}

fn epoch() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")
}

pub(crate) fn date_of_days(days: i64) -> NaiveDate {
    if days >= 0 {
        epoch() + Days::new(days as u64)
    } else {
        epoch() - Days::new(days.unsigned_abs())
    }
}

pub(crate) fn days_of_date(d: NaiveDate) -> i64 {
    d.signed_duration_since(epoch()).num_days()
}

/// Whether the month/day of `date` falls on one of the `days` calendar days
/// starting with as_of's date (Feb 29 counts as Feb 28 in non-leap years).
fn anniversary_within(date: NaiveDate, as_of: i64, days: u32) -> bool {
    let start = date_of_days(as_of.div_euclid(MICROS_PER_DAY));
    (0..u64::from(days)).any(|i| {
        let day = start + Days::new(i);
        let leap = NaiveDate::from_ymd_opt(day.year(), 2, 29).is_some();
        let (m, d) = if date.month() == 2 && date.day() == 29 && !leap {
            (2, 28)
        } else {
            (date.month(), date.day())
        };
        day.month() == m && day.day() == d
    })
}
