//! Random small datasets (written as real Strata dataset directories) and
//! random segments over them, for the engine-vs-reference property test.
//!
//! The data is built to hit the edges of the semantics: NULLs everywhere,
//! profiles without events, tied amounts and counts, and event times
//! clustered on window edges (as_of itself, as_of - 7d, as_of - 30d, month
//! starts, one microsecond either side). Segment literals are drawn from the
//! data (often the exact value of some profile), so conditions are rarely
//! all-true or all-false and comparisons often hit ties.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Decimal128Array, Float64Array, Int32Array, Int64Array,
    ListBuilder, StringArray, StringBuilder, TimestampMicrosecondArray,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit as ArrowTimeUnit};
use arrow::record_batch::RecordBatch;
use chrono::{DateTime, Datelike, NaiveDate};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use strata_datasets::Manifest;
use strata_dsl::ast::{
    AggFunc, Aggregate, Builtin, BuiltinFunc, BuiltinParams, CmpOp, Duration, EventFilter,
    EventSel, Expr, ExprKind, Ident, Operand, Segment, TextTest, TimePart, TimeUnit, TimeValue,
    Value, Window,
};

use crate::reference::{
    Data, Event, MICROS_PER_DAY, MICROS_PER_HOUR, Profile, Reference, Val, date_of_days,
    days_of_date, sub,
};
use crate::support::micros;

/// A generated dataset, in memory.
#[derive(Debug, Clone)]
pub(crate) struct RandomDataset {
    pub(crate) data: Data,
    pub(crate) as_of: i64,
    /// Instants on or near window edges (and every event time).
    pub(crate) times: Vec<i64>,
    /// Event types present in the data.
    pub(crate) event_types: Vec<String>,
    /// Rows per Parquet row group / page (small, to exercise pruning).
    pub(crate) row_group_rows: usize,
    pub(crate) page_rows: usize,
}

/// Short and long values: strings of at most 12 bytes are compared inside
/// their Arrow views (`inline_strings`), longer ones are not.
const COUNTRIES: &[&str] = &[
    "US",
    "UK",
    "DE",
    "FR",
    "U%S",
    "u_s",
    "Ünited",
    "",
    "US ",
    "d'Arc",
    "South Africa",
    "United Kingdom",
    "United Kingdoms",
];
const INTERESTS: &[&str] = &["sports", "music", "travel", "Sports", "mu"];
const EVENT_TYPES: &[&str] = &[
    "purchase",
    "session_start",
    "page_view",
    "add_to_cart",
    "refund",
];
const CHANNELS: &[&str] = &["web", "app", "pos", "email", "social"];
const CATEGORIES: &[&str] = &["shoes", "shirts", "shoe%", "bags", "Shoes"];
const AMOUNTS_CENTS: &[i128] = &[
    0, 999, 1000, 1999, 2000, 2001, 10_000, 25_050, 5, -1000, 12_345, 199_999, 3_333, 7,
];
const SCORES: &[f64] = &[0.0, -1.5, 2.25, 3.1, 100.0, 0.1, 0.3, 1e-3];

fn dur(amount: u32, unit: TimeUnit) -> Duration {
    Duration::new(amount, unit)
}

/// Durations used in windows and relative times.
fn durations() -> Vec<Duration> {
    use TimeUnit::*;
    vec![
        dur(1, Hours),
        dur(12, Hours),
        dur(1, Days),
        dur(7, Days),
        dur(30, Days),
        dur(90, Days),
        dur(180, Days),
        dur(2, Weeks),
        dur(1, Months),
        dur(3, Months),
        dur(6, Months),
        dur(1, Years),
    ]
}

fn pick_as_of(rng: &mut StdRng) -> i64 {
    let fixed = [
        micros(2024, 3, 1, 0, 0, 0, 0),
        micros(2024, 3, 31, 12, 0, 0, 0),
        micros(2023, 3, 31, 8, 15, 0, 0),
        micros(2024, 2, 29, 23, 59, 59, 999_999),
        micros(2024, 1, 1, 0, 0, 0, 0),
        micros(2024, 5, 15, 10, 30, 0, 123_456),
        micros(2025, 12, 31, 0, 0, 0, 0),
        micros(2023, 2, 28, 6, 0, 0, 0),
    ];
    if rng.random_bool(0.8) {
        *fixed.choose(rng).expect("non-empty")
    } else {
        micros(2022, 1, 1, 0, 0, 0, 0) + rng.random_range(0..3 * 365 * MICROS_PER_DAY)
    }
}

/// Instants on window edges around `as_of`.
fn edge_times(as_of: i64) -> Vec<i64> {
    let day_start = as_of.div_euclid(MICROS_PER_DAY) * MICROS_PER_DAY;
    let date = date_of_days(as_of.div_euclid(MICROS_PER_DAY));
    let month_start = days_of_date(date.with_day(1).expect("day 1")) * MICROS_PER_DAY;
    let prev_month_start = sub(month_start, dur(1, TimeUnit::Months));
    let mut t = vec![
        as_of,
        as_of - 1,
        as_of + 1,
        as_of + MICROS_PER_DAY,
        as_of - MICROS_PER_HOUR,
        day_start,
        day_start - 1,
        month_start,
        month_start - 1,
        prev_month_start,
    ];
    for d in durations() {
        let edge = sub(as_of, d);
        t.extend([edge, edge - 1, edge + 1]);
    }
    // Lifecycle's previous window starts at as_of - 2W.
    for days in [14, 60, 120, 180] {
        t.push(as_of - days * MICROS_PER_DAY);
    }
    t.sort_unstable();
    t.dedup();
    t
}

fn pick_time(rng: &mut StdRng, as_of: i64, edges: &[i64]) -> i64 {
    if rng.random_bool(0.55) {
        *edges.choose(rng).expect("non-empty")
    } else {
        // Mostly the past year, some up to two years back.
        let span = if rng.random_bool(0.8) { 400 } else { 800 };
        as_of - rng.random_range(0..span * MICROS_PER_DAY)
    }
}

fn maybe<T>(rng: &mut StdRng, p_null: f64, f: impl FnOnce(&mut StdRng) -> T) -> Option<T> {
    if rng.random_bool(p_null) {
        None
    } else {
        Some(f(rng))
    }
}

/// A random dataset: 1–60 profiles with 0–40 events each.
pub(crate) fn dataset(rng: &mut StdRng) -> RandomDataset {
    let as_of = pick_as_of(rng);
    let edges = edge_times(as_of);
    let as_of_date = date_of_days(as_of.div_euclid(MICROS_PER_DAY));
    let n_profiles = match rng.random_range(0..10) {
        0 => 1,
        1 => rng.random_range(2..=5),
        _ => rng.random_range(5..=60),
    };
    let mut ids = BTreeSet::new();
    while ids.len() < n_profiles {
        ids.insert(rng.random_range(-50..=1000i64));
    }
    // Share of profiles without events; all of them in some datasets.
    let p_no_events = *[0.0, 0.1, 0.2, 0.3, 0.5, 0.0, 0.2, 1.0]
        .choose(rng)
        .expect("p");
    let max_events = rng.random_range(1..=40);
    // Fewer event types in some datasets, so some types are often absent.
    let n_types = rng.random_range(1..=EVENT_TYPES.len());
    let types: Vec<&str> = EVENT_TYPES[..n_types].to_vec();

    let mut profiles = Vec::new();
    let mut events = Vec::new();
    for &id in &ids {
        let mut attrs = BTreeMap::new();
        let country = maybe(rng, 0.25, |r| {
            Val::Str(COUNTRIES.choose(r).expect("c").to_string())
        });
        attrs.insert("country".into(), country.unwrap_or(Val::Null));
        let age = maybe(rng, 0.2, |r| Val::Int(r.random_range(18..=24)));
        attrs.insert("age".into(), age.unwrap_or(Val::Null));
        let score = maybe(rng, 0.2, |r| Val::Float(*SCORES.choose(r).expect("s")));
        attrs.insert("score".into(), score.unwrap_or(Val::Null));
        let consent = maybe(rng, 0.25, |r| Val::Bool(r.random_bool(0.5)));
        attrs.insert("consent".into(), consent.unwrap_or(Val::Null));
        let birth = maybe(rng, 0.2, |r| {
            let year = r.random_range(1960..=2006);
            let candidates = [
                (as_of_date.month(), as_of_date.day()),
                (2, 29),
                (2, 28),
                (3, 1),
                (12, 31),
                (1, 1),
                (r.random_range(1..=12), r.random_range(1..=28)),
            ];
            let (mut m, mut d) = *candidates.choose(r).expect("c");
            // Near as_of's date: a few days either side.
            let shift = r.random_range(-3i64..=40);
            let mut date = if (m, d) == (as_of_date.month(), as_of_date.day()) {
                let base = NaiveDate::from_ymd_opt(2000, m, d.min(28)).expect("date");
                let shifted = date_of_days(days_of_date(base) + shift);
                m = shifted.month();
                d = shifted.day();
                NaiveDate::from_ymd_opt(year, m, d)
            } else {
                NaiveDate::from_ymd_opt(year, m, d)
            };
            if date.is_none() {
                // Feb 29 in a non-leap year: use a leap year instead.
                date = NaiveDate::from_ymd_opt(2000 - 4 * r.random_range(0..10), m, d);
            }
            Val::Date(days_of_date(date.expect("valid birth date")) as i32)
        });
        attrs.insert("birth_date".into(), birth.unwrap_or(Val::Null));
        let signup = maybe(rng, 0.2, |r| {
            Val::Ts(pick_time(r, as_of, &edges) - r.random_range(0..2) * 365 * MICROS_PER_DAY)
        });
        attrs.insert("signup_at".into(), signup.unwrap_or(Val::Null));
        let interests = maybe(rng, 0.2, |r| {
            let n = r.random_range(0..=3);
            Val::List(
                (0..n)
                    .map(|_| maybe(r, 0.1, |r| INTERESTS.choose(r).expect("i").to_string()))
                    .collect(),
            )
        });
        attrs.insert("interests".into(), interests.unwrap_or(Val::Null));
        profiles.push(Profile { id, attrs });

        if rng.random_bool(p_no_events) {
            continue;
        }
        let n = rng.random_range(0..=max_events);
        for _ in 0..n {
            let event_type = if rng.random_bool(0.45) {
                "purchase"
            } else {
                types.choose(rng).expect("types")
            };
            let event_type = if types.contains(&event_type) {
                event_type
            } else {
                types[0]
            };
            let mut props = BTreeMap::new();
            let channel = maybe(rng, 0.15, |r| {
                Val::Str(CHANNELS.choose(r).expect("ch").to_string())
            });
            props.insert("channel".into(), channel.unwrap_or(Val::Null));
            let p_null_amount = if event_type == "purchase" { 0.05 } else { 0.7 };
            let amount = maybe(rng, p_null_amount, |r| {
                Val::Dec(*AMOUNTS_CENTS.choose(r).expect("a"))
            });
            props.insert("amount".into(), amount.unwrap_or(Val::Null));
            let quantity = maybe(rng, 0.3, |r| Val::Int(r.random_range(0..=3)));
            props.insert("quantity".into(), quantity.unwrap_or(Val::Null));
            let category = maybe(rng, 0.3, |r| {
                Val::Str(CATEGORIES.choose(r).expect("cat").to_string())
            });
            props.insert("category".into(), category.unwrap_or(Val::Null));
            events.push(Event {
                profile_id: id,
                time_micros: pick_time(rng, as_of, &edges),
                event_type: event_type.to_string(),
                props,
            });
        }
    }
    // Orphan events (no profile row) in some datasets: never members, and
    // not profiles for RFM.
    if rng.random_bool(0.2) {
        for _ in 0..rng.random_range(1..=10) {
            let mut props = BTreeMap::new();
            let channel = CHANNELS.choose(rng).expect("ch").to_string();
            props.insert("channel".into(), Val::Str(channel));
            props.insert(
                "amount".into(),
                Val::Dec(*AMOUNTS_CENTS.choose(rng).expect("a")),
            );
            props.insert("quantity".into(), Val::Null);
            props.insert("category".into(), Val::Null);
            events.push(Event {
                profile_id: 5000 + rng.random_range(0..3),
                time_micros: pick_time(rng, as_of, &edges),
                event_type: "purchase".into(),
                props,
            });
        }
    }
    events.sort_by_key(|e| (e.profile_id, e.time_micros));

    let purchase_types = if rng.random_bool(0.15) && types.contains(&"refund") {
        vec!["purchase".to_string(), "refund".to_string()]
    } else {
        vec!["purchase".to_string()]
    };
    let activity_types = if rng.random_bool(0.3) && types.len() >= 2 {
        vec!["purchase".to_string(), types[1].to_string()]
    } else {
        vec!["purchase".to_string()]
    };
    let mut times = edges;
    times.extend(events.iter().map(|e| e.time_micros));
    times.sort_unstable();
    times.dedup();
    let event_types: BTreeSet<String> = events.iter().map(|e| e.event_type.clone()).collect();
    RandomDataset {
        data: Data {
            profiles,
            events,
            purchase_types,
            activity_types,
            online_channels: vec!["web".into(), "app".into(), "social".into()],
            offline_channels: vec!["pos".into()],
            saved: BTreeMap::new(),
        },
        as_of,
        times,
        event_types: event_types.into_iter().collect(),
        row_group_rows: *[3, 16, 1000].choose(rng).expect("rg"),
        page_rows: *[2, 5, 1000].choose(rng).expect("page"),
    }
}

// ---------------------------------------------------------------------------
// Writing a dataset directory
// ---------------------------------------------------------------------------

fn ts_type() -> DataType {
    DataType::Timestamp(ArrowTimeUnit::Microsecond, Some("UTC".into()))
}

fn profiles_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("profile_id", DataType::Int64, false),
        Field::new("country", DataType::Utf8, true),
        Field::new("age", DataType::Int32, true),
        Field::new("score", DataType::Float64, true),
        Field::new("consent", DataType::Boolean, true),
        Field::new("birth_date", DataType::Date32, true),
        Field::new("signup_at", ts_type(), true),
        Field::new(
            "interests",
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            true,
        ),
    ]))
}

fn events_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("profile_id", DataType::Int64, false),
        Field::new("event_time", ts_type(), false),
        Field::new("event_type", DataType::Utf8, false),
        Field::new("channel", DataType::Utf8, true),
        Field::new("amount", DataType::Decimal128(18, 2), true),
        Field::new("quantity", DataType::Int64, true),
        Field::new("category", DataType::Utf8, true),
    ]))
}

fn str_col<'a>(vals: impl Iterator<Item = &'a Val>) -> ArrayRef {
    Arc::new(StringArray::from(
        vals.map(|v| match v {
            Val::Str(s) => Some(s.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>(),
    ))
}

fn profiles_batch(profiles: &[Profile]) -> RecordBatch {
    let attr = |name: &'static str| profiles.iter().map(move |p| &p.attrs[name]);
    let mut interests = ListBuilder::new(StringBuilder::new());
    for v in attr("interests") {
        match v {
            Val::List(items) => {
                for i in items {
                    interests.values().append_option(i.as_deref());
                }
                interests.append(true);
            }
            _ => interests.append(false),
        }
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(
            profiles.iter().map(|p| p.id).collect::<Vec<_>>(),
        )),
        str_col(attr("country")),
        Arc::new(Int32Array::from(
            attr("age")
                .map(|v| match v {
                    Val::Int(i) => Some(*i as i32),
                    _ => None,
                })
                .collect::<Vec<_>>(),
        )),
        Arc::new(Float64Array::from(
            attr("score")
                .map(|v| match v {
                    Val::Float(f) => Some(*f),
                    _ => None,
                })
                .collect::<Vec<_>>(),
        )),
        Arc::new(BooleanArray::from(
            attr("consent")
                .map(|v| match v {
                    Val::Bool(b) => Some(*b),
                    _ => None,
                })
                .collect::<Vec<_>>(),
        )),
        Arc::new(Date32Array::from(
            attr("birth_date")
                .map(|v| match v {
                    Val::Date(d) => Some(*d),
                    _ => None,
                })
                .collect::<Vec<_>>(),
        )),
        Arc::new(
            TimestampMicrosecondArray::from(
                attr("signup_at")
                    .map(|v| match v {
                        Val::Ts(t) => Some(*t),
                        _ => None,
                    })
                    .collect::<Vec<_>>(),
            )
            .with_timezone("UTC"),
        ),
        Arc::new(interests.finish()),
    ];
    RecordBatch::try_new(profiles_schema(), columns).expect("profiles batch")
}

fn events_batch(events: &[&Event]) -> RecordBatch {
    let prop = |name: &'static str| events.iter().map(move |e| &e.props[name]);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(
            events.iter().map(|e| e.profile_id).collect::<Vec<_>>(),
        )),
        Arc::new(
            TimestampMicrosecondArray::from(
                events.iter().map(|e| e.time_micros).collect::<Vec<_>>(),
            )
            .with_timezone("UTC"),
        ),
        Arc::new(StringArray::from(
            events
                .iter()
                .map(|e| e.event_type.as_str())
                .collect::<Vec<_>>(),
        )),
        str_col(prop("channel")),
        Arc::new(
            Decimal128Array::from(
                prop("amount")
                    .map(|v| match v {
                        Val::Dec(c) => Some(*c),
                        _ => None,
                    })
                    .collect::<Vec<_>>(),
            )
            .with_precision_and_scale(18, 2)
            .expect("decimal"),
        ),
        Arc::new(Int64Array::from(
            prop("quantity")
                .map(|v| match v {
                    Val::Int(i) => Some(*i),
                    _ => None,
                })
                .collect::<Vec<_>>(),
        )),
        str_col(prop("category")),
    ];
    RecordBatch::try_new(events_schema(), columns).expect("events batch")
}

fn write_file(path: &Path, batch: &RecordBatch, ds: &RandomDataset, sorted_cols: &[usize]) {
    let props = strata_datasets::writer_properties_builder()
        .set_max_row_group_row_count(Some(ds.row_group_rows))
        .set_data_page_row_count_limit(ds.page_rows)
        .set_write_batch_size(ds.page_rows)
        .set_sorting_columns(Some(strata_datasets::ascending(sorted_cols)))
        .build();
    strata_datasets::write_parquet_file(path, batch.schema(), props, std::slice::from_ref(batch))
        .expect("write parquet");
}

/// Writes `ds` as a Strata dataset directory at `dir`: manifest, profiles
/// (one or two files), events by month, saved segments.
pub(crate) fn write(ds: &RandomDataset, dir: &Path, rng: &mut StdRng) {
    std::fs::create_dir_all(strata_datasets::profiles_dir(dir)).expect("mkdir");
    std::fs::create_dir_all(strata_datasets::events_dir(dir)).expect("mkdir");
    let mut manifest = Manifest::new();
    manifest.as_of = DateTime::from_timestamp_micros(ds.as_of);
    manifest.purchase_types = ds.data.purchase_types.clone();
    manifest.activity_types = ds.data.activity_types.clone();
    manifest.save(dir).expect("manifest");

    // Profiles, split in two files (by id ranges) half of the time.
    let profiles = &ds.data.profiles;
    let split = if profiles.len() > 1 && rng.random_bool(0.5) {
        rng.random_range(1..profiles.len())
    } else {
        profiles.len()
    };
    for (i, part) in [&profiles[..split], &profiles[split..]]
        .into_iter()
        .enumerate()
    {
        if part.is_empty() {
            continue;
        }
        let path = strata_datasets::profiles_dir(dir).join(strata_datasets::part_file_name(i));
        write_file(&path, &profiles_batch(part), ds, &[0]);
    }

    // Events by month (UTC), sorted by (profile_id, event_time).
    let mut by_month: BTreeMap<(i32, u32), Vec<&Event>> = BTreeMap::new();
    for e in &ds.data.events {
        let d = date_of_days(e.time_micros.div_euclid(MICROS_PER_DAY));
        by_month.entry((d.year(), d.month())).or_default().push(e);
    }
    if by_month.is_empty() {
        // No events at all: one empty file keeps the table's schema.
        let month = date_of_days(ds.as_of.div_euclid(MICROS_PER_DAY));
        by_month.insert((month.year(), month.month()), Vec::new());
    }
    for ((y, m), events) in by_month {
        let part_dir =
            strata_datasets::events_dir(dir).join(strata_datasets::partition_dir_name(y, m));
        std::fs::create_dir_all(&part_dir).expect("mkdir");
        // Two files per month (split by profile) some of the time.
        let split = if events.len() > 1 && rng.random_bool(0.3) {
            let at = rng.random_range(1..events.len());
            let pid = events[at].profile_id;
            events
                .iter()
                .position(|e| e.profile_id == pid)
                .unwrap_or(at)
        } else {
            events.len()
        };
        for (i, part) in [&events[..split], &events[split..]].into_iter().enumerate() {
            if part.is_empty() && i > 0 {
                continue;
            }
            let path = part_dir.join(strata_datasets::part_file_name(i));
            write_file(&path, &events_batch(part), ds, &[0, 1]);
        }
    }
    // The files written, as version 0 of each table's Delta log.
    strata_datasets::upgrade(dir).expect("delta logs");

    if !ds.data.saved.is_empty() {
        let seg_dir = dir.join("segments");
        std::fs::create_dir_all(&seg_dir).expect("mkdir");
        for (name, text) in &ds.data.saved {
            std::fs::write(seg_dir.join(format!("{name}.seg")), text).expect("write segment");
        }
    }
}

// ---------------------------------------------------------------------------
// Random segments
// ---------------------------------------------------------------------------

/// Generates random, type-correct segments over one [`RandomDataset`].
pub(crate) struct SegmentGen<'a> {
    pub(crate) rng: &'a mut StdRng,
    pub(crate) ds: &'a RandomDataset,
    pub(crate) reference: &'a Reference<'a>,
    /// Names of saved segments that may be referenced.
    pub(crate) saved: Vec<String>,
}

impl std::fmt::Debug for SegmentGen<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentGen")
            .field("saved", &self.saved)
            .finish()
    }
}

fn e(kind: ExprKind) -> Expr {
    Expr::new(kind)
}

fn field(name: &str) -> Operand {
    Operand::Field {
        name: Ident::new(name),
    }
}

const ALL_CMPS: [CmpOp; 6] = [
    CmpOp::Eq,
    CmpOp::NotEq,
    CmpOp::Lt,
    CmpOp::LtEq,
    CmpOp::Gt,
    CmpOp::GtEq,
];

impl SegmentGen<'_> {
    /// A random segment of depth ≤ 4.
    pub(crate) fn segment(&mut self) -> Segment {
        let depth = self.rng.random_range(1..=4);
        Segment::new(self.expr(depth))
    }

    /// A boolean expression with at most `depth` levels.
    pub(crate) fn expr(&mut self, depth: u32) -> Expr {
        if depth <= 1 || self.rng.random_bool(0.35) {
            return self.leaf();
        }
        match self.rng.random_range(0..5) {
            0 | 1 => e(ExprKind::And {
                args: self.args(depth),
            }),
            2 | 3 => e(ExprKind::Or {
                args: self.args(depth),
            }),
            _ => e(ExprKind::Not {
                arg: Box::new(self.expr(depth - 1)),
            }),
        }
    }

    fn args(&mut self, depth: u32) -> Vec<Expr> {
        let n = self.rng.random_range(2..=3);
        (0..n).map(|_| self.expr(depth - 1)).collect()
    }

    fn cmp(&mut self) -> CmpOp {
        *ALL_CMPS.choose(self.rng).expect("cmp")
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    fn leaf(&mut self) -> Expr {
        let w = self.rng.random_range(0..100);
        match w {
            0..=21 => self.attribute_condition(),
            22..=24 => {
                let name = *["birth_date", "signup_at"].choose(self.rng).expect("f");
                self.time_part_condition(name)
            }
            25..=34 => {
                let filter = self.filter();
                e(ExprKind::Performed { filter })
            }
            35..=59 => self.aggregate_condition(),
            60..=79 => self.builtin_condition(),
            80..=89 => {
                let name = if self.chance(0.6) {
                    "birth_date"
                } else {
                    "signup_at"
                };
                let days = *[1, 2, 7, 30, 31, 60, 365, 366]
                    .choose(self.rng)
                    .expect("days");
                let days = if self.chance(0.3) {
                    self.rng.random_range(1..=45)
                } else {
                    days
                };
                e(ExprKind::Anniversary {
                    field: Ident::new(name),
                    days,
                })
            }
            _ => {
                if let Some(name) = self.saved.choose(self.rng).cloned() {
                    e(ExprKind::InSegment {
                        name: Ident::new(name),
                    })
                } else {
                    self.attribute_condition()
                }
            }
        }
    }

    /// Non-NULL values of a profile attribute.
    fn attr_values(&self, name: &str) -> Vec<Val> {
        self.ds
            .data
            .profiles
            .iter()
            .map(|p| p.attrs[name].clone())
            .filter(|v| *v != Val::Null)
            .collect()
    }

    fn attribute_condition(&mut self) -> Expr {
        let name = *[
            "country",
            "age",
            "score",
            "consent",
            "birth_date",
            "signup_at",
            "interests",
        ]
        .choose(self.rng)
        .expect("attr");
        let values = self.attr_values(name);
        let lhs = field(name);
        if self.chance(0.12) {
            let negated = self.chance(0.5);
            return e(ExprKind::IsNull { lhs, negated });
        }
        match name {
            "consent" => match self.rng.random_range(0..3) {
                0 => e(ExprKind::Truthy { lhs }),
                1 => {
                    let cmp = if self.chance(0.5) {
                        CmpOp::Eq
                    } else {
                        CmpOp::NotEq
                    };
                    let value = Value::Bool(self.chance(0.5));
                    e(ExprKind::Compare { lhs, cmp, value })
                }
                _ => e(ExprKind::InList {
                    lhs,
                    list: vec![Value::Bool(self.chance(0.5))],
                    negated: self.chance(0.5),
                }),
            },
            "interests" => {
                let value = Value::String(INTERESTS.choose(self.rng).expect("i").to_string());
                e(ExprKind::Contains {
                    lhs,
                    value,
                    ignore_case: false,
                })
            }
            "country" => {
                let s = match values.choose(self.rng) {
                    Some(Val::Str(s)) => s.clone(),
                    _ => COUNTRIES.choose(self.rng).expect("c").to_string(),
                };
                match self.rng.random_range(0..5) {
                    0 => {
                        let cmp = self.cmp();
                        e(ExprKind::Compare {
                            lhs,
                            cmp,
                            value: Value::String(s),
                        })
                    }
                    1 => {
                        let mut list = vec![Value::String(s)];
                        for _ in 0..self.rng.random_range(0..3) {
                            list.push(Value::String(
                                COUNTRIES.choose(self.rng).expect("c").to_string(),
                            ));
                        }
                        e(ExprKind::InList {
                            lhs,
                            list,
                            negated: self.chance(0.4),
                        })
                    }
                    2 | 3 => e(self.text_match(lhs, &s)),
                    _ => {
                        let other = COUNTRIES.choose(self.rng).expect("c").to_string();
                        let (low, high) = if s <= other { (s, other) } else { (other, s) };
                        e(ExprKind::Between {
                            lhs,
                            low: Value::String(low),
                            high: Value::String(high),
                            negated: self.chance(0.3),
                        })
                    }
                }
            }
            _ => {
                // Numbers and times: compare, IN, BETWEEN with drawn values.
                let mut lit = || -> Value {
                    match values.choose(self.rng) {
                        Some(v) if !self.rng.random_bool(0.15) => self.literal(v, name),
                        _ => self.fallback_literal(name),
                    }
                };
                let a = lit();
                let b = lit();
                match self.rng.random_range(0..4) {
                    0 | 1 => {
                        let cmp = self.cmp();
                        e(ExprKind::Compare { lhs, cmp, value: a })
                    }
                    2 => e(ExprKind::InList {
                        lhs,
                        list: vec![a, b],
                        negated: self.chance(0.4),
                    }),
                    _ => {
                        let (low, high) = self.ordered(a, b);
                        e(ExprKind::Between {
                            lhs,
                            low,
                            high,
                            negated: self.chance(0.3),
                        })
                    }
                }
            }
        }
    }

    /// Orders two literals of one kind so the range is not empty at the
    /// dataset's as_of (relative times resolved there: the DSL refuses a
    /// range of them that is empty at every as_of).
    fn ordered(&self, a: Value, b: Value) -> (Value, Value) {
        let as_of = self.ds.as_of;
        let key = |v: &Value| -> Option<(i128, i128)> {
            match v {
                Value::Int(i) => Some((i128::from(*i), 1)),
                Value::Float(f) => Some(crate::reference::decimal_of(*f)),
                Value::Time(t) => Some((i128::from(crate::reference::resolve(t, as_of)), 1)),
                _ => None,
            }
        };
        match (key(&a), key(&b)) {
            (Some(x), Some(y)) if x.0 * y.1 > y.0 * x.1 => (b, a),
            _ => (a, b),
        }
    }

    /// A prefix (or any substring) of `s`, sometimes empty.
    /// CONTAINS, STARTS WITH or ENDS WITH a part of `s` (a substring, a
    /// prefix, a suffix), sometimes ignoring case with the part's case
    /// changed at random.
    fn text_match(&mut self, lhs: Operand, s: &str) -> ExprKind {
        let (test, part) = match self.rng.random_range(0..3) {
            0 => (TextTest::Contains, Part::Any),
            1 => (TextTest::StartsWith, Part::Prefix),
            _ => (TextTest::EndsWith, Part::Suffix),
        };
        let part = self.substring(s, part);
        let ignore_case = self.chance(0.4);
        let part = if ignore_case {
            part.chars()
                .map(|c| match self.chance(0.5) {
                    true => c.to_uppercase().collect::<String>(),
                    false => c.to_lowercase().collect(),
                })
                .collect()
        } else {
            part
        };
        test.expr(lhs, Value::String(part), ignore_case)
    }

    /// A part of `s`: a substring, prefix or suffix, sometimes empty.
    fn substring(&mut self, s: &str, part: Part) -> String {
        let chars: Vec<char> = s.chars().collect();
        if chars.is_empty() {
            return String::new();
        }
        let start = match part {
            Part::Prefix => 0,
            Part::Any | Part::Suffix => self.rng.random_range(0..chars.len()),
        };
        let end = match part {
            Part::Suffix => chars.len(),
            Part::Any | Part::Prefix => self.rng.random_range(start..=chars.len()),
        };
        let mut out: String = chars[start..end].iter().collect();
        if out.is_empty() && self.chance(0.5) {
            // Patterns that a LIKE-based implementation would misread.
            out = ["%", "_", "U%", "u_"]
                .choose(self.rng)
                .expect("p")
                .to_string();
        }
        out
    }

    /// A literal for comparing with `v`, a value of `name`.
    fn literal(&mut self, v: &Val, name: &str) -> Value {
        match v {
            Val::Int(i) => {
                if self.chance(0.15) {
                    Value::Float(*i as f64 + 0.5)
                } else {
                    Value::Int(*i)
                }
            }
            Val::Float(f) => {
                if f.fract() == 0.0 && self.chance(0.5) {
                    Value::Int(*f as i64)
                } else {
                    Value::Float(*f)
                }
            }
            Val::Dec(c) => self.cents_literal(*c),
            Val::Rat(n, d) => {
                // Rounded to cents: near the value, rarely exactly on it.
                let cents = n * 100 / d;
                self.cents_literal(cents)
            }
            Val::Str(s) => Value::String(s.clone()),
            Val::Bool(b) => Value::Bool(*b),
            Val::Date(d) => {
                let date = date_of_days(i64::from(*d));
                Value::Time(TimeValue::Date {
                    year: date.year(),
                    month: date.month(),
                    day: date.day(),
                })
            }
            Val::Ts(t) => {
                if self.chance(0.7) {
                    Value::Time(TimeValue::Timestamp { micros: *t })
                } else {
                    Value::Time(self.time_value())
                }
            }
            Val::List(_) | Val::Null => self.fallback_literal(name),
        }
    }

    fn cents_literal(&mut self, c: i128) -> Value {
        match self.rng.random_range(0..6) {
            0 if c % 100 == 0 => Value::Int((c / 100) as i64),
            // Three decimals: between two cent values.
            1 => Value::Float((c as f64 * 10.0 + 5.0) / 1000.0),
            _ => Value::Float(c as f64 / 100.0),
        }
    }

    /// A literal for `name` when the data offers none.
    fn fallback_literal(&mut self, name: &str) -> Value {
        match name {
            "age" | "quantity" | "count" => Value::Int(self.rng.random_range(0..=25)),
            "score" => Value::Float(*SCORES.choose(self.rng).expect("s")),
            "amount" | "sum" | "avg" => {
                let cents = *AMOUNTS_CENTS.choose(self.rng).expect("a");
                self.cents_literal(cents)
            }
            "channel" => Value::String(CHANNELS.choose(self.rng).expect("ch").to_string()),
            "category" => Value::String(CATEGORIES.choose(self.rng).expect("cat").to_string()),
            "country" => Value::String(COUNTRIES.choose(self.rng).expect("c").to_string()),
            _ => Value::Time(self.time_value()),
        }
    }

    /// A DSL time: relative, today/now, or an exact instant near an edge.
    fn time_value(&mut self) -> TimeValue {
        match self.rng.random_range(0..10) {
            0 => TimeValue::Now,
            1 => TimeValue::Today,
            2..=4 => TimeValue::Ago {
                duration: *durations().choose(self.rng).expect("d"),
            },
            5 => {
                let t = *self.ds.times.choose(self.rng).expect("times");
                let d = date_of_days(t.div_euclid(MICROS_PER_DAY));
                TimeValue::Date {
                    year: d.year(),
                    month: d.month(),
                    day: d.day(),
                }
            }
            _ => TimeValue::Timestamp {
                micros: *self.ds.times.choose(self.rng).expect("times"),
            },
        }
    }

    fn window(&mut self) -> Option<Window> {
        match self.rng.random_range(0..10) {
            0..=2 => None,
            3..=6 => Some(Window::Within {
                duration: *durations().choose(self.rng).expect("d"),
            }),
            // `SINCE now` is refused as always empty.
            7 => Some(Window::Since {
                from: match self.time_value() {
                    TimeValue::Now => TimeValue::Today,
                    t => t,
                },
            }),
            _ => {
                // Ends in order at the dataset's as_of: the DSL refuses a
                // window that is empty at every as_of (`BETWEEN -30d AND
                // -60d`), and one empty at this as_of is no window to test.
                let (from, to) = (self.time_value(), self.time_value());
                let as_of = self.ds.as_of;
                let (a, b) = (
                    crate::reference::resolve(&from, as_of),
                    crate::reference::resolve(&to, as_of),
                );
                Some(match a.cmp(&b) {
                    std::cmp::Ordering::Less => Window::Between { from, to },
                    std::cmp::Ordering::Greater => Window::Between { from: to, to: from },
                    std::cmp::Ordering::Equal => Window::Within {
                        duration: *durations().choose(self.rng).expect("d"),
                    },
                })
            }
        }
    }

    fn filter(&mut self) -> EventFilter {
        let event = if self.chance(0.15) || self.ds.event_types.is_empty() {
            EventSel::Any
        } else {
            let t = if self.chance(0.5) && self.ds.event_types.iter().any(|t| t == "purchase") {
                "purchase".to_string()
            } else {
                self.ds.event_types.choose(self.rng).expect("types").clone()
            };
            EventSel::Type {
                name: Ident::new(t),
            }
        };
        let predicate = if self.chance(0.4) {
            let depth = self.rng.random_range(1..=2);
            Some(Box::new(self.event_predicate(depth)))
        } else {
            None
        };
        EventFilter {
            event,
            predicate,
            window: self.window(),
            span: Default::default(),
        }
    }

    /// Non-NULL values of an event property.
    fn prop_values(&self, name: &str) -> Vec<Val> {
        self.ds
            .data
            .events
            .iter()
            .map(|e| {
                if name == "event_time" {
                    Val::Ts(e.time_micros)
                } else {
                    e.props[name].clone()
                }
            })
            .filter(|v| *v != Val::Null)
            .collect()
    }

    /// `month(field) = 3`, `day_of_week(field) IN (6, 7)`, ...: a part of
    /// a date or timestamp field (no hour of a date) against values in
    /// and around its range.
    fn time_part_condition(&mut self, name: &str) -> Expr {
        let parts: &[TimePart] = if name == "birth_date" {
            &[
                TimePart::Year,
                TimePart::Month,
                TimePart::Day,
                TimePart::DayOfWeek,
            ]
        } else {
            &TimePart::ALL
        };
        let part = *parts.choose(self.rng).expect("part");
        let (lo, hi) = match part {
            TimePart::Year => (1950, 2030),
            TimePart::Month => (0, 13),
            TimePart::Day => (0, 32),
            TimePart::DayOfWeek => (0, 8),
            TimePart::Hour => (-1, 24),
        };
        let lhs = Operand::TimePart {
            part,
            field: Ident::new(name),
            span: Default::default(),
        };
        let value = |g: &mut Self| Value::Int(g.rng.random_range(lo..=hi));
        if self.chance(0.5) {
            let list = vec![value(self), value(self)];
            let negated = self.chance(0.3);
            return e(ExprKind::InList { lhs, list, negated });
        }
        let value = value(self);
        let cmp = self.cmp();
        e(ExprKind::Compare { lhs, cmp, value })
    }

    fn event_predicate(&mut self, depth: u32) -> Expr {
        if depth > 1 && self.chance(0.5) {
            return match self.rng.random_range(0..3) {
                0 => e(ExprKind::And {
                    args: vec![
                        self.event_predicate(depth - 1),
                        self.event_predicate(depth - 1),
                    ],
                }),
                1 => e(ExprKind::Or {
                    args: vec![
                        self.event_predicate(depth - 1),
                        self.event_predicate(depth - 1),
                    ],
                }),
                _ => e(ExprKind::Not {
                    arg: Box::new(self.event_predicate(depth - 1)),
                }),
            };
        }
        if self.chance(0.1) {
            return self.time_part_condition("event_time");
        }
        let name = *["channel", "amount", "quantity", "category", "event_time"]
            .choose(self.rng)
            .expect("prop");
        let lhs = field(name);
        if name != "event_time" && self.chance(0.1) {
            let negated = self.chance(0.5);
            return e(ExprKind::IsNull { lhs, negated });
        }
        let values = self.prop_values(name);
        let lit = |g: &mut Self| -> Value {
            match values.choose(g.rng) {
                Some(v) if !g.rng.random_bool(0.1) => g.literal(v, name),
                _ => g.fallback_literal(name),
            }
        };
        let a = lit(self);
        let b = lit(self);
        let text = matches!(name, "channel" | "category");
        match self.rng.random_range(0..5) {
            0 | 1 => {
                let cmp = if text && self.chance(0.6) {
                    *[CmpOp::Eq, CmpOp::NotEq].choose(self.rng).expect("cmp")
                } else {
                    self.cmp()
                };
                e(ExprKind::Compare { lhs, cmp, value: a })
            }
            2 => e(ExprKind::InList {
                lhs,
                list: vec![a, b],
                negated: self.chance(0.4),
            }),
            3 if text => {
                let Value::String(s) = a else {
                    unreachable!("text literal")
                };
                e(self.text_match(lhs, &s))
            }
            _ => {
                let (low, high) = if text {
                    match (a, b) {
                        (Value::String(x), Value::String(y)) if x > y => {
                            (Value::String(y), Value::String(x))
                        }
                        (x, y) => (x, y),
                    }
                } else {
                    self.ordered(a, b)
                };
                e(ExprKind::Between {
                    lhs,
                    low,
                    high,
                    negated: self.chance(0.3),
                })
            }
        }
    }

    /// A profile whose value of `op` is not NULL, if one is found quickly.
    fn sample_value(&mut self, op: &Operand) -> Option<Val> {
        for _ in 0..6 {
            let p = self.ds.data.profiles.choose(self.rng)?;
            let v = self.reference.operand(op, p);
            if v != Val::Null {
                return Some(v);
            }
        }
        None
    }

    fn aggregate_condition(&mut self) -> Expr {
        let func = *AggFunc::ALL.choose(self.rng).expect("func");
        let property = match func {
            AggFunc::Count | AggFunc::First | AggFunc::Last => None,
            AggFunc::Sum | AggFunc::Avg => Some(if self.chance(0.7) {
                "amount"
            } else {
                "quantity"
            }),
            AggFunc::Min | AggFunc::Max => Some(
                *["amount", "quantity", "channel", "category", "event_time"]
                    .choose(self.rng)
                    .expect("prop"),
            ),
            AggFunc::CountDistinct => Some(
                *["channel", "category", "amount", "quantity"]
                    .choose(self.rng)
                    .expect("prop"),
            ),
        };
        let filter = self.filter();
        let lhs = Operand::Aggregate(Aggregate {
            func,
            property: property.map(Ident::new),
            filter,
            span: Default::default(),
        });
        if matches!(
            func,
            AggFunc::Avg | AggFunc::Min | AggFunc::Max | AggFunc::First | AggFunc::Last
        ) && self.chance(0.15)
        {
            let negated = self.chance(0.5);
            return e(ExprKind::IsNull { lhs, negated });
        }
        let kind_name = match (func, property) {
            (AggFunc::Count | AggFunc::CountDistinct, _) => "count",
            (AggFunc::First | AggFunc::Last, _) => "event_time",
            (AggFunc::Sum, Some(p)) | (AggFunc::Avg, Some(p)) if p == "quantity" => "quantity",
            (AggFunc::Sum, _) => "sum",
            (AggFunc::Avg, _) => "avg",
            (_, Some(p)) => p,
            _ => "count",
        };
        let lit = |g: &mut Self| -> Value {
            match g.sample_value(&lhs) {
                Some(v) if !g.rng.random_bool(0.1) => g.literal(&v, kind_name),
                _ => g.fallback_literal(kind_name),
            }
        };
        let a = if matches!(func, AggFunc::Count | AggFunc::CountDistinct) && self.chance(0.2) {
            Value::Int(self.rng.random_range(0..=2))
        } else {
            lit(self)
        };
        let b = lit(self);
        match self.rng.random_range(0..6) {
            0..=3 => {
                let cmp = self.cmp();
                e(ExprKind::Compare { lhs, cmp, value: a })
            }
            4 => e(ExprKind::InList {
                lhs,
                list: vec![a, b],
                negated: self.chance(0.3),
            }),
            _ => {
                let (low, high) = match (a, b) {
                    (Value::String(x), Value::String(y)) if x > y => {
                        (Value::String(y), Value::String(x))
                    }
                    (x, y) => self.ordered(x, y),
                };
                e(ExprKind::Between {
                    lhs,
                    low,
                    high,
                    negated: self.chance(0.3),
                })
            }
        }
    }

    fn builtin_condition(&mut self) -> Expr {
        let func = *BuiltinFunc::ALL.choose(self.rng).expect("builtin");
        let mut params = BuiltinParams::default();
        if func.is_rfm() {
            if self.chance(0.3) {
                params.bins = Some(*[1, 2, 3, 4, 5, 7, 10].choose(self.rng).expect("bins"));
            }
            if self.chance(0.3) {
                params.lookback = Some(*durations().choose(self.rng).expect("d"));
            }
        } else if self.chance(0.35) {
            let choices = if func == BuiltinFunc::Lifecycle {
                // Lifecycle's previous window is [as_of - 2W, as_of - W):
                // fixed-length units only (2 × 1 month is not 1 month twice).
                vec![
                    dur(7, TimeUnit::Days),
                    dur(30, TimeUnit::Days),
                    dur(60, TimeUnit::Days),
                    dur(2, TimeUnit::Weeks),
                    dur(12, TimeUnit::Hours),
                ]
            } else {
                durations()
            };
            params.window = Some(*choices.choose(self.rng).expect("d"));
        }
        let lhs = Operand::Builtin(Builtin {
            func,
            params,
            span: Default::default(),
        });
        if self.chance(0.1) {
            let negated = self.chance(0.5);
            return e(ExprKind::IsNull { lhs, negated });
        }
        if let Some(values) = func.values() {
            let a = Value::String(values.choose(self.rng).expect("v").to_string());
            let a = match (self.chance(0.5), self.sample_value(&lhs)) {
                (true, Some(Val::Str(s))) => Value::String(s),
                _ => a,
            };
            return match self.rng.random_range(0..3) {
                0 => {
                    let cmp = if self.chance(0.7) {
                        CmpOp::Eq
                    } else {
                        CmpOp::NotEq
                    };
                    e(ExprKind::Compare { lhs, cmp, value: a })
                }
                _ => {
                    let mut list = vec![a];
                    for _ in 0..self.rng.random_range(0..3) {
                        list.push(Value::String(
                            values.choose(self.rng).expect("v").to_string(),
                        ));
                    }
                    e(ExprKind::InList {
                        lhs,
                        list,
                        negated: self.chance(0.3),
                    })
                }
            };
        }
        let bins = i64::from(params.bins.unwrap_or(5));
        let lit = |g: &mut Self| -> Value {
            match g.sample_value(&lhs) {
                Some(v) if !g.rng.random_bool(0.15) => g.literal(&v, "amount"),
                _ if matches!(
                    func,
                    BuiltinFunc::RfmR | BuiltinFunc::RfmF | BuiltinFunc::RfmM
                ) =>
                {
                    Value::Int(g.rng.random_range(1..=bins))
                }
                _ => g.fallback_literal(if func == BuiltinFunc::RfmMonetary {
                    "amount"
                } else {
                    "age"
                }),
            }
        };
        let a = lit(self);
        let b = lit(self);
        match self.rng.random_range(0..5) {
            0..=2 => {
                let cmp = self.cmp();
                e(ExprKind::Compare { lhs, cmp, value: a })
            }
            3 => e(ExprKind::InList {
                lhs,
                list: vec![a, b],
                negated: self.chance(0.3),
            }),
            _ => {
                let (low, high) = self.ordered(a, b);
                e(ExprKind::Between {
                    lhs,
                    low,
                    high,
                    negated: self.chance(0.3),
                })
            }
        }
    }
}

/// Adds 0–3 saved segments to `ds` (each may use the ones before it).
pub(crate) fn add_saved_segments(ds: &mut RandomDataset, rng: &mut StdRng) {
    let n = rng.random_range(0..=3);
    for i in 0..n {
        let text = {
            let reference = Reference::new(&ds.data, ds.as_of);
            let mut seed_rng = StdRng::seed_from_u64(rng.random());
            let mut g = SegmentGen {
                rng: &mut seed_rng,
                ds,
                reference: &reference,
                saved: ds.data.saved.keys().cloned().collect(),
            };
            let depth = g.rng.random_range(1..=2);
            strata_dsl::format(&Segment::new(g.expr(depth)))
        };
        // Saved text as a person writes it: comments and spacing.
        let text = if rng.random_bool(0.4) {
            format!("# saved segment {i}\n{text}  # the end\n")
        } else {
            text
        };
        ds.data.saved.insert(format!("saved_{i}"), text);
    }
}

/// Which part of a text [`SegmentGen::substring`] takes.
#[derive(Clone, Copy)]
enum Part {
    Any,
    Prefix,
    Suffix,
}
