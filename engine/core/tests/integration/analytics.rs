//! The reports: RFM, channel mix, lifecycle and retention
//! computed by `Engine::report` must equal the numbers computed naively,
//! profile by profile, from docs/design.md#semantics — over random small
//! datasets (ties, single-customer datasets, events on window edges and at
//! as_of) and over hand-made edge cases — and must agree with the DSL
//! built-ins (`count(rfm.segment = 'champions')` is the champions row).
//!
//! `STRATA_ANALYTICS_SEED` / `STRATA_ANALYTICS_DATASETS` vary the random
//! datasets (default: a fixed seed, 40 datasets).

use std::collections::{BTreeMap, BTreeSet};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::{cast, concat_batches};
use arrow::datatypes::{DataType, Date32Type, Float64Type, Int64Type};
use chrono::{DateTime, Datelike, Months, NaiveDate, TimeDelta, Utc};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use strata_core::analytics::{AnalyticsParams, CohortPeriod, Report, ReportKind, ReportRequest};
use strata_core::{Engine, EngineConfig};
use strata_dsl::ast::{Duration, TimeUnit};

use crate::random::{self, RandomDataset, micros};
use crate::reference::{
    Data, Event, MICROS_PER_DAY, MICROS_PER_HOUR, Profile, Val, date_of_days, rfm_segment, sub,
};

const DEFAULT_SEED: u64 = 0x5742_A7A0_0000_0505;

const RFM_SEGMENTS: &[&str] = &[
    "hibernating",
    "at_risk",
    "cannot_lose",
    "about_to_sleep",
    "need_attention",
    "loyal",
    "promising",
    "new_customers",
    "potential_loyalists",
    "champions",
];
const CLASSES: &[&str] = &["online_only", "offline_only", "omnichannel", "none"];
const STATES: &[&str] = &[
    "new",
    "returning",
    "resurrecting",
    "dormant",
    "lost",
    "never",
];

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    let v = v.trim();
    match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => v.parse().ok(),
    }
}

fn config() -> EngineConfig {
    EngineConfig {
        threads: 2,
        memory_limit: 512 << 20,
        batch_size: 8192,
        cluster: None,
        ..EngineConfig::default()
    }
}

fn instant(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).expect("in range")
}

fn days(n: u32) -> Duration {
    Duration::new(n, TimeUnit::Days)
}

// ---------------------------------------------------------------------------
// Reading report tables
// ---------------------------------------------------------------------------

/// One report table, concatenated.
struct Table(Option<RecordBatch>);

impl Table {
    fn of(report: &Report, name: &str) -> Table {
        let batches = report
            .table(name)
            .unwrap_or_else(|| panic!("report has no table {name}"));
        Table(
            batches
                .first()
                .map(|b| concat_batches(&b.schema(), batches).expect("concat")),
        )
    }
    fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |b| b.num_rows())
    }
    fn column(&self, name: &str, ty: &DataType) -> Option<arrow::array::ArrayRef> {
        let b = self.0.as_ref()?;
        let c = b
            .column_by_name(name)
            .unwrap_or_else(|| panic!("no column {name}"));
        Some(cast(c, ty).expect("cast"))
    }
    fn i64s(&self, name: &str) -> Vec<i64> {
        self.column(name, &DataType::Int64)
            .map_or_else(Vec::new, |c| {
                let a = c.as_primitive::<Int64Type>();
                assert_eq!(a.null_count(), 0, "{name} has NULLs");
                a.values().to_vec()
            })
    }
    fn f64s(&self, name: &str) -> Vec<Option<f64>> {
        self.column(name, &DataType::Float64)
            .map_or_else(Vec::new, |c| {
                c.as_primitive::<Float64Type>().iter().collect()
            })
    }
    fn strs(&self, name: &str) -> Vec<Option<String>> {
        self.column(name, &DataType::Utf8)
            .map_or_else(Vec::new, |c| {
                c.as_string::<i32>()
                    .iter()
                    .map(|s| s.map(str::to_string))
                    .collect()
            })
    }
    fn labels(&self, name: &str) -> Vec<String> {
        self.strs(name)
            .into_iter()
            .map(|s| s.expect("label"))
            .collect()
    }
    fn dates(&self, name: &str) -> Vec<NaiveDate> {
        self.column(name, &DataType::Date32)
            .map_or_else(Vec::new, |c| {
                c.as_primitive::<Date32Type>()
                    .values()
                    .iter()
                    .map(|&d| date_of_days(i64::from(d)))
                    .collect()
            })
    }
}

#[track_caller]
fn assert_close(got: Option<f64>, want: Option<f64>, what: &str) {
    match (got, want) {
        (None, None) => {}
        (Some(g), Some(w)) if (g - w).abs() <= 1e-9 * w.abs().max(1.0) => {}
        _ => panic!("{what}: got {got:?}, want {want:?}"),
    }
}

fn ratio(num: f64, den: f64) -> Option<f64> {
    (den != 0.0).then(|| num / den)
}

// ---------------------------------------------------------------------------
// Naive computations, straight from docs/design.md#semantics
// ---------------------------------------------------------------------------

/// Events that exist at as_of (`event_time < as_of`), of profile `id`.
fn existing<'a>(data: &'a Data, as_of: i64, id: i64) -> impl Iterator<Item = &'a Event> + 'a {
    data.events
        .iter()
        .filter(move |e| e.profile_id == id && e.time_micros < as_of)
}

fn cents(e: &Event) -> i128 {
    match e.props.get("amount") {
        Some(Val::Dec(c)) => *c,
        Some(Val::Null) | None => 0,
        Some(other) => panic!("amount {other:?}"),
    }
}

fn channel(e: &Event) -> Option<String> {
    match e.props.get("channel") {
        Some(Val::Str(s)) => Some(s.clone()),
        _ => None,
    }
}

#[derive(Debug, Clone)]
struct NaiveRfm {
    recency_days: i64,
    frequency: i64,
    monetary: i128,
    r: i64,
    f: i64,
    m: i64,
}

/// RFM of every profile with a purchase before as_of (within the lookback).
fn naive_rfm(
    data: &Data,
    as_of: i64,
    bins: i64,
    lookback: Option<Duration>,
) -> BTreeMap<i64, NaiveRfm> {
    let since = lookback.map_or(i64::MIN, |d| sub(as_of, d));
    let mut rows = BTreeMap::new();
    for p in &data.profiles {
        let purchases: Vec<&Event> = existing(data, as_of, p.id)
            .filter(|e| data.purchase_types.contains(&e.event_type) && e.time_micros >= since)
            .collect();
        if let Some(last) = purchases.iter().map(|e| e.time_micros).max() {
            rows.insert(
                p.id,
                (
                    (as_of - last).div_euclid(MICROS_PER_DAY),
                    purchases.len() as i64,
                    purchases.iter().map(|e| cents(e)).sum::<i128>(),
                ),
            );
        }
    }
    let n = rows.len() as i64;
    let score = |rank: usize| 1 + bins * (rank as i64 - 1) / n;
    rows.iter()
        .map(|(&id, &(rec, freq, mon))| {
            // RANK(): 1 + the rows ordered strictly before.
            let r = score(1 + rows.values().filter(|o| o.0 > rec).count());
            let f = score(1 + rows.values().filter(|o| o.1 < freq).count());
            let m = score(1 + rows.values().filter(|o| o.2 < mon).count());
            let v = NaiveRfm {
                recency_days: rec,
                frequency: freq,
                monetary: mon,
                r,
                f,
                m,
            };
            (id, v)
        })
        .collect()
}

/// Channel-mix class, orders and revenue (cents) of one profile.
fn naive_mix(
    data: &Data,
    as_of: i64,
    window: Option<Duration>,
    id: i64,
) -> (&'static str, i64, i128) {
    let since = window.map_or(i64::MIN, |d| sub(as_of, d));
    let (mut online, mut offline, mut orders, mut revenue) = (false, false, 0, 0);
    for e in existing(data, as_of, id) {
        if !data.purchase_types.contains(&e.event_type) || e.time_micros < since {
            continue;
        }
        orders += 1;
        revenue += cents(e);
        if let Some(ch) = channel(e) {
            online |= data.online_channels.contains(&ch);
            offline |= data.offline_channels.contains(&ch);
        }
    }
    let class = match (online, offline) {
        (true, true) => "omnichannel",
        (true, false) => "online_only",
        (false, true) => "offline_only",
        (false, false) => "none",
    };
    (class, orders, revenue)
}

/// Lifecycle state of one profile with a window of `w` days.
fn naive_lifecycle(data: &Data, as_of: i64, w: i64, id: i64) -> &'static str {
    let c = as_of - w * MICROS_PER_DAY;
    let p = as_of - 2 * w * MICROS_PER_DAY;
    let times: Vec<i64> = existing(data, as_of, id)
        .filter(|e| data.activity_types.contains(&e.event_type))
        .map(|e| e.time_micros)
        .collect();
    let Some(&first) = times.iter().min() else {
        return "never";
    };
    let in_c = times.iter().any(|&t| t >= c);
    let in_p = times.iter().any(|&t| t >= p && t < c);
    if first >= c {
        "new"
    } else if in_c && in_p {
        "returning"
    } else if in_c {
        "resurrecting"
    } else if in_p {
        "dormant"
    } else {
        "lost"
    }
}

/// First day of the calendar period (UTC) holding instant `t`.
fn period_of(period: CohortPeriod, t: i64) -> NaiveDate {
    let d = date_of_days(t.div_euclid(MICROS_PER_DAY));
    match period {
        CohortPeriod::Week => d - TimeDelta::days(i64::from(d.weekday().num_days_from_monday())),
        CohortPeriod::Month => d.with_day(1).expect("day 1"),
    }
}

fn next_period(period: CohortPeriod, d: NaiveDate) -> NaiveDate {
    match period {
        CohortPeriod::Week => d + TimeDelta::days(7),
        CohortPeriod::Month => d + Months::new(1),
    }
}

/// `(cohort_start, k, cohort_size, active)` for the whole triangle.
fn naive_retention(
    data: &Data,
    as_of: i64,
    period: CohortPeriod,
    scope: &BTreeSet<i64>,
) -> Vec<(NaiveDate, i64, i64, i64)> {
    // profile → periods with activity.
    let mut periods: BTreeMap<i64, BTreeSet<NaiveDate>> = BTreeMap::new();
    for &id in scope {
        for e in existing(data, as_of, id) {
            if data.activity_types.contains(&e.event_type) {
                periods
                    .entry(id)
                    .or_default()
                    .insert(period_of(period, e.time_micros));
            }
        }
    }
    let mut cohorts: BTreeMap<NaiveDate, Vec<i64>> = BTreeMap::new();
    for (id, ps) in &periods {
        cohorts
            .entry(*ps.first().expect("non-empty"))
            .or_default()
            .push(*id);
    }
    // The last period shown holds the last instant that exists.
    let last = period_of(period, as_of - 1);
    let mut out = Vec::new();
    for (start, members) in cohorts {
        let (mut q, mut k) = (start, 0);
        while q <= last {
            let active = members.iter().filter(|id| periods[id].contains(&q)).count() as i64;
            out.push((start, k, members.len() as i64, active));
            q = next_period(period, q);
            k += 1;
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Scopes: all profiles or a simple segment with an obvious naive meaning
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum Scope {
    All,
    AgeAtLeast21,
    NotUs,
    PurchasedWithin30d,
}

impl Scope {
    fn dsl(self) -> Option<&'static str> {
        match self {
            Scope::All => None,
            Scope::AgeAtLeast21 => Some("age >= 21"),
            Scope::NotUs => Some("NOT country = 'US'"),
            Scope::PurchasedWithin30d => Some("count(purchase WITHIN 30d) >= 1"),
        }
    }

    fn contains(self, data: &Data, as_of: i64, p: &Profile) -> bool {
        match self {
            Scope::All => true,
            Scope::AgeAtLeast21 => matches!(p.attrs.get("age"), Some(Val::Int(a)) if *a >= 21),
            Scope::NotUs => !matches!(p.attrs.get("country"), Some(Val::Str(c)) if c == "US"),
            Scope::PurchasedWithin30d => existing(data, as_of, p.id).any(|e| {
                e.event_type == "purchase" && e.time_micros >= as_of - 30 * MICROS_PER_DAY
            }),
        }
    }

    fn members(self, data: &Data, as_of: i64) -> BTreeSet<i64> {
        data.profiles
            .iter()
            .filter(|p| self.contains(data, as_of, p))
            .map(|p| p.id)
            .collect()
    }

    /// `(<scope>) AND <cond>` in the DSL.
    fn and(self, cond: &str) -> String {
        match self.dsl() {
            Some(s) => format!("({s}) AND {cond}"),
            None => cond.to_string(),
        }
    }
}

// ---------------------------------------------------------------------------
// One dataset, checked
// ---------------------------------------------------------------------------

struct Case<'a> {
    engine: &'a Engine,
    data: &'a Data,
    as_of: i64,
    scope: Scope,
    label: String,
}

impl Case<'_> {
    fn request(&self, params: AnalyticsParams, period: CohortPeriod) -> ReportRequest {
        let segment = self
            .scope
            .dsl()
            .map(|s| self.engine.parse(s).unwrap_or_else(|e| panic!("{s}: {e}")));
        ReportRequest {
            as_of: instant(self.as_of),
            segment,
            params,
            period,
        }
    }

    async fn count(&self, cond: &str) -> i64 {
        let text = self.scope.and(cond);
        let seg = self
            .engine
            .parse(&text)
            .unwrap_or_else(|e| panic!("{}: {text}: {e}", self.label));
        self.engine
            .count(&seg, instant(self.as_of))
            .await
            .expect("count") as i64
    }

    async fn check_rfm(&self, bins: Option<u32>, lookback: Option<Duration>) {
        let what = format!("{} rfm bins={bins:?} lookback={lookback:?}", self.label);
        let params = AnalyticsParams {
            bins,
            window: lookback,
        };
        let report = self
            .engine
            .report(ReportKind::Rfm, &self.request(params, CohortPeriod::Month))
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let b = i64::from(bins.unwrap_or(5));
        let scope = self.scope.members(self.data, self.as_of);
        let all = naive_rfm(self.data, self.as_of, b, lookback);
        let scored: Vec<(&i64, &NaiveRfm)> =
            all.iter().filter(|(id, _)| scope.contains(id)).collect();
        let n = scored.len() as f64;

        let t = Table::of(&report, "segments");
        assert_eq!(t.labels("segment"), RFM_SEGMENTS, "{what}");
        let (profiles, share) = (t.i64s("profiles"), t.f64s("share"));
        let (rec, freq, mon, rev) = (
            t.f64s("avg_recency_days"),
            t.f64s("avg_frequency"),
            t.f64s("avg_monetary"),
            t.f64s("revenue"),
        );
        let mut params_text = Vec::new();
        if let Some(b) = bins {
            params_text.push(format!("bins = {b}"));
        }
        if let Some(l) = lookback {
            params_text.push(format!("lookback = {l}"));
        }
        let rfm = if params_text.is_empty() {
            "rfm".to_string()
        } else {
            format!("rfm({})", params_text.join(", "))
        };
        for (i, name) in RFM_SEGMENTS.iter().enumerate() {
            let rows: Vec<&NaiveRfm> = scored
                .iter()
                .filter(|(_, v)| rfm_segment(v.r, v.f) == *name)
                .map(|(_, v)| *v)
                .collect();
            let k = rows.len() as f64;
            let w = format!("{what} segment {name}");
            assert_eq!(profiles[i], rows.len() as i64, "{w}");
            assert_close(share[i], ratio(k, n), &w);
            let sum_rec: i64 = rows.iter().map(|v| v.recency_days).sum();
            let sum_freq: i64 = rows.iter().map(|v| v.frequency).sum();
            let sum_mon: i128 = rows.iter().map(|v| v.monetary).sum();
            assert_close(rec[i], ratio(sum_rec as f64, k), &w);
            assert_close(freq[i], ratio(sum_freq as f64, k), &w);
            assert_close(mon[i], ratio(sum_mon as f64 / 100.0, k), &w);
            assert_close(rev[i], Some(sum_mon as f64 / 100.0), &w);
            // The built-in agrees with the row.
            let dsl = self.count(&format!("{rfm}.segment = '{name}'")).await;
            assert_eq!(dsl, profiles[i], "{w}: DSL count");
        }

        let t = Table::of(&report, "scores");
        assert_eq!(t.i64s("value"), (1..=b).collect::<Vec<_>>(), "{what}");
        for (col, pick) in [
            ("r_profiles", (|v: &NaiveRfm| v.r) as fn(&NaiveRfm) -> i64),
            ("f_profiles", |v: &NaiveRfm| v.f),
            ("m_profiles", |v: &NaiveRfm| v.m),
        ] {
            let want: Vec<i64> = (1..=b)
                .map(|s| scored.iter().filter(|(_, v)| pick(v) == s).count() as i64)
                .collect();
            assert_eq!(t.i64s(col), want, "{what} {col}");
        }
        // r distribution against the built-in, for the top score.
        let dsl = self.count(&format!("{rfm}.r = {b}")).await;
        assert_eq!(
            dsl,
            *t.i64s("r_profiles").last().expect("bins >= 1"),
            "{what}: r = {b}"
        );

        let t = Table::of(&report, "grid");
        let (r, f, seg, cnt) = (
            t.i64s("r"),
            t.i64s("f"),
            t.labels("segment"),
            t.i64s("profiles"),
        );
        assert_eq!(t.len() as i64, b * b, "{what} grid size");
        for i in 0..t.len() {
            assert_eq!(
                (r[i], f[i]),
                (i as i64 / b + 1, i as i64 % b + 1),
                "{what} grid order"
            );
            assert_eq!(seg[i], rfm_segment(r[i], f[i]), "{what} grid segment");
            let want = scored
                .iter()
                .filter(|(_, v)| v.r == r[i] && v.f == f[i])
                .count() as i64;
            assert_eq!(cnt[i], want, "{what} grid ({}, {})", r[i], f[i]);
        }
    }

    async fn check_channel_mix(&self, window: Option<Duration>) {
        let what = format!("{} channel_mix window={window:?}", self.label);
        let params = AnalyticsParams { bins: None, window };
        let report = self
            .engine
            .report(
                ReportKind::ChannelMix,
                &self.request(params, CohortPeriod::Month),
            )
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let scope = self.scope.members(self.data, self.as_of);
        let per: Vec<(i64, (&str, i64, i128))> = scope
            .iter()
            .map(|&id| (id, naive_mix(self.data, self.as_of, window, id)))
            .collect();

        let t = Table::of(&report, "classes");
        assert_eq!(t.labels("class"), CLASSES, "{what}");
        let (profiles, orders, revenue, rpp) = (
            t.i64s("profiles"),
            t.i64s("orders"),
            t.f64s("revenue"),
            t.f64s("revenue_per_profile"),
        );
        let builtin = match window {
            Some(w) => format!("channel_mix(window = {w})"),
            None => "channel_mix".to_string(),
        };
        for (i, class) in CLASSES.iter().enumerate() {
            let rows: Vec<_> = per.iter().filter(|(_, v)| v.0 == *class).collect();
            let w = format!("{what} class {class}");
            let rev: i128 = rows.iter().map(|(_, v)| v.2).sum();
            assert_eq!(profiles[i], rows.len() as i64, "{w}");
            assert_eq!(orders[i], rows.iter().map(|(_, v)| v.1).sum::<i64>(), "{w}");
            assert_close(revenue[i], Some(rev as f64 / 100.0), &w);
            assert_close(rpp[i], ratio(rev as f64 / 100.0, rows.len() as f64), &w);
            let dsl = self.count(&format!("{builtin} = '{class}'")).await;
            assert_eq!(dsl, profiles[i], "{w}: DSL count");
        }

        // Per channel: distinct profiles, orders, revenue, share of revenue.
        let since = window.map_or(i64::MIN, |d| sub(self.as_of, d));
        let mut want: BTreeMap<Option<String>, (BTreeSet<i64>, i64, i128)> = BTreeMap::new();
        for &id in &scope {
            for e in existing(self.data, self.as_of, id) {
                if self.data.purchase_types.contains(&e.event_type) && e.time_micros >= since {
                    let row = want.entry(channel(e)).or_default();
                    row.0.insert(id);
                    row.1 += 1;
                    row.2 += cents(e);
                }
            }
        }
        let total: i128 = want.values().map(|v| v.2).sum();
        let t = Table::of(&report, "channels");
        assert_eq!(t.len(), want.len(), "{what} channels");
        let (ch, class, profiles, orders, revenue, share) = (
            t.strs("channel"),
            t.labels("class"),
            t.i64s("profiles"),
            t.i64s("orders"),
            t.f64s("revenue"),
            t.f64s("share"),
        );
        for i in 0..t.len() {
            let w = format!("{what} channel {:?}", ch[i]);
            let (ids, o, rev) = &want[&ch[i]];
            assert_eq!(profiles[i], ids.len() as i64, "{w}");
            assert_eq!(orders[i], *o, "{w}");
            assert_close(revenue[i], Some(*rev as f64 / 100.0), &w);
            assert_close(share[i], ratio(*rev as f64, total as f64), &w);
            let want_class = match &ch[i] {
                Some(c) if self.data.online_channels.contains(c) => "online",
                Some(c) if self.data.offline_channels.contains(c) => "offline",
                _ => "other",
            };
            assert_eq!(class[i], want_class, "{w}");
            if i > 0 {
                assert!(
                    revenue[i - 1] >= revenue[i],
                    "{what}: channels by revenue, descending"
                );
            }
        }
    }

    async fn check_lifecycle(&self, window_days: Option<u32>) {
        let what = format!("{} lifecycle window={window_days:?}", self.label);
        let params = AnalyticsParams {
            bins: None,
            window: window_days.map(days),
        };
        let report = self
            .engine
            .report(
                ReportKind::Lifecycle,
                &self.request(params, CohortPeriod::Month),
            )
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let w = i64::from(window_days.unwrap_or(90));
        let scope = self.scope.members(self.data, self.as_of);
        let states: Vec<&str> = scope
            .iter()
            .map(|&id| naive_lifecycle(self.data, self.as_of, w, id))
            .collect();
        let t = Table::of(&report, "states");
        let mut names: Vec<&str> = STATES.to_vec();
        names.push("churned");
        assert_eq!(t.labels("state"), names, "{what}");
        let (profiles, share) = (t.i64s("profiles"), t.f64s("share"));
        let builtin = match window_days {
            Some(d) => format!("lifecycle(window = {d}d)"),
            None => "lifecycle".to_string(),
        };
        for (i, name) in names.iter().enumerate() {
            let (want, cond) = if *name == "churned" {
                let n = states
                    .iter()
                    .filter(|s| matches!(**s, "dormant" | "lost"))
                    .count();
                (n, format!("{builtin} IN ('dormant', 'lost')"))
            } else {
                let n = states.iter().filter(|s| *s == name).count();
                (n, format!("{builtin} = '{name}'"))
            };
            let w = format!("{what} state {name}");
            assert_eq!(profiles[i], want as i64, "{w}");
            assert_close(share[i], ratio(want as f64, scope.len() as f64), &w);
            assert_eq!(self.count(&cond).await, want as i64, "{w}: DSL count");
        }
    }

    async fn check_retention(&self, period: CohortPeriod) {
        let what = format!("{} retention {period:?}", self.label);
        let report = self
            .engine
            .report(
                ReportKind::Retention,
                &self.request(AnalyticsParams::default(), period),
            )
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let scope = self.scope.members(self.data, self.as_of);
        let want = naive_retention(self.data, self.as_of, period, &scope);
        let t = Table::of(&report, "cohorts");
        let got: Vec<(NaiveDate, i64, i64, i64)> = {
            let (c, k, n, a) = (
                t.dates("cohort_start"),
                t.i64s("period_index"),
                t.i64s("cohort_size"),
                t.i64s("active"),
            );
            (0..t.len()).map(|i| (c[i], k[i], n[i], a[i])).collect()
        };
        assert_eq!(got, want, "{what}");
        for (i, f) in t.f64s("fraction").into_iter().enumerate() {
            assert_close(f, ratio(want[i].3 as f64, want[i].2 as f64), &what);
        }
    }
}

async fn open(ds: &RandomDataset, rng: &mut StdRng) -> (tempfile::TempDir, Engine) {
    let dir = tempfile::tempdir().expect("tempdir");
    random::write(ds, dir.path(), rng);
    let engine = Engine::open(dir.path(), config()).await.expect("open");
    (dir, engine)
}

fn choose<T: Copy>(rng: &mut StdRng, xs: &[T]) -> T {
    *xs.choose(rng).expect("non-empty")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_equal_naive_computation_on_random_datasets() {
    let seed = env_u64("STRATA_ANALYTICS_SEED").unwrap_or(DEFAULT_SEED);
    let n = env_u64("STRATA_ANALYTICS_DATASETS").unwrap_or(40);
    let mut rng = StdRng::seed_from_u64(seed);
    for i in 0..n {
        let ds = random::dataset(&mut rng);
        let (_dir, engine) = open(&ds, &mut rng).await;
        let has_purchase = ds.event_types.iter().any(|t| t == "purchase");
        let scope = match i % 4 {
            0 => Scope::All,
            1 => Scope::AgeAtLeast21,
            2 => Scope::NotUs,
            _ if has_purchase => Scope::PurchasedWithin30d,
            _ => Scope::All,
        };
        let case = Case {
            engine: &engine,
            data: &ds.data,
            as_of: ds.as_of,
            scope,
            label: format!(
                "seed {seed:#x} dataset {i} (as_of {}, {} profiles, {} events, scope {scope:?})",
                instant(ds.as_of),
                ds.data.profiles.len(),
                ds.data.events.len()
            ),
        };
        let bins = choose(&mut rng, &[None, Some(1), Some(3), Some(5), Some(7)]);
        let lookback = choose(
            &mut rng,
            &[
                None,
                Some(days(30)),
                Some(days(90)),
                Some(Duration::new(1, TimeUnit::Months)),
                Some(Duration::new(1, TimeUnit::Years)),
            ],
        );
        case.check_rfm(bins, lookback).await;
        let window = choose(
            &mut rng,
            &[
                None,
                Some(days(7)),
                Some(days(30)),
                Some(Duration::new(3, TimeUnit::Months)),
            ],
        );
        case.check_channel_mix(window).await;
        let w = choose(&mut rng, &[None, Some(7), Some(14), Some(30), Some(60)]);
        case.check_lifecycle(w).await;
        case.check_retention(if rng.random_bool(0.5) {
            CohortPeriod::Week
        } else {
            CohortPeriod::Month
        })
        .await;
    }
}

// ---------------------------------------------------------------------------
// Hand-made edge cases
// ---------------------------------------------------------------------------

fn profile(id: i64, age: Option<i64>) -> Profile {
    let mut attrs = BTreeMap::new();
    for name in [
        "country",
        "score",
        "consent",
        "birth_date",
        "signup_at",
        "interests",
    ] {
        attrs.insert(name.to_string(), Val::Null);
    }
    attrs.insert("age".into(), age.map_or(Val::Null, Val::Int));
    Profile { id, attrs }
}

fn event(id: i64, t: i64, ty: &str, ch: &str, cents: i128) -> Event {
    let mut props = BTreeMap::new();
    props.insert("channel".into(), Val::Str(ch.into()));
    props.insert("amount".into(), Val::Dec(cents));
    props.insert("quantity".into(), Val::Null);
    props.insert("category".into(), Val::Null);
    Event {
        profile_id: id,
        time_micros: t,
        event_type: ty.into(),
        props,
    }
}

fn handmade(as_of: i64, profiles: Vec<Profile>, mut events: Vec<Event>) -> RandomDataset {
    events.sort_by_key(|e| (e.profile_id, e.time_micros));
    let event_types: BTreeSet<String> = events.iter().map(|e| e.event_type.clone()).collect();
    RandomDataset {
        data: Data {
            profiles,
            events,
            purchase_types: vec!["purchase".into()],
            activity_types: vec!["purchase".into()],
            online_channels: vec!["web".into(), "app".into(), "social".into()],
            offline_channels: vec!["pos".into()],
            saved: BTreeMap::new(),
        },
        as_of,
        times: Vec::new(),
        event_types: event_types.into_iter().collect(),
        row_group_rows: 1000,
        page_rows: 1000,
    }
}

async fn report(
    engine: &Engine,
    kind: ReportKind,
    as_of: i64,
    params: AnalyticsParams,
    period: CohortPeriod,
) -> Report {
    let req = ReportRequest {
        as_of: instant(as_of),
        segment: None,
        params,
        period,
    };
    engine.report(kind, &req).await.expect("report")
}

/// One customer, one purchase 10 days ago, one more exactly at as_of (which
/// does not exist yet), one a microsecond after.
#[tokio::test]
async fn single_customer_and_an_event_at_as_of() {
    let as_of = micros(2025, 3, 5, 12, 0, 0, 0); // a Wednesday
    let ds = handmade(
        as_of,
        vec![profile(7, Some(30))],
        vec![
            event(7, as_of - 10 * MICROS_PER_DAY, "purchase", "web", 1050),
            event(7, as_of, "purchase", "pos", 99_999),
            event(7, as_of + 1, "purchase", "pos", 99_999),
        ],
    );
    let mut rng = StdRng::seed_from_u64(1);
    let (_dir, engine) = open(&ds, &mut rng).await;

    let r = report(
        &engine,
        ReportKind::Rfm,
        as_of,
        AnalyticsParams::default(),
        CohortPeriod::Month,
    )
    .await;
    let t = Table::of(&r, "segments");
    // n = 1: every rank is 1, every score 1: hibernating.
    assert_eq!(t.i64s("profiles")[0], 1);
    assert_eq!(t.i64s("profiles").iter().sum::<i64>(), 1);
    assert_eq!(t.f64s("avg_recency_days")[0], Some(10.0));
    assert_eq!(t.f64s("avg_monetary")[0], Some(10.5));
    assert_eq!(t.f64s("share")[0], Some(1.0));
    assert_eq!(t.f64s("share")[9], Some(0.0));
    assert_eq!(
        t.f64s("avg_frequency")[9],
        None,
        "empty segment has no average"
    );

    let r = report(
        &engine,
        ReportKind::ChannelMix,
        as_of,
        AnalyticsParams::default(),
        CohortPeriod::Month,
    )
    .await;
    let t = Table::of(&r, "classes");
    assert_eq!(t.i64s("profiles"), [1, 0, 0, 0]);
    assert_eq!(t.i64s("orders"), [1, 0, 0, 0]);
    assert_eq!(
        t.f64s("revenue_per_profile"),
        [Some(10.5), None, None, None]
    );
    let t = Table::of(&r, "channels");
    assert_eq!(t.strs("channel"), [Some("web".to_string())]);
    assert_eq!(t.f64s("share"), [Some(1.0)]);

    let r = report(
        &engine,
        ReportKind::Lifecycle,
        as_of,
        AnalyticsParams::default(),
        CohortPeriod::Month,
    )
    .await;
    assert_eq!(
        Table::of(&r, "states").i64s("profiles"),
        [1, 0, 0, 0, 0, 0, 0]
    );

    let r = report(
        &engine,
        ReportKind::Retention,
        as_of,
        AnalyticsParams::default(),
        CohortPeriod::Week,
    )
    .await;
    let t = Table::of(&r, "cohorts");
    // First activity on Sunday 2025-02-23: the week of Monday 2025-02-17;
    // as_of's week starts Monday 2025-03-03: three periods.
    assert_eq!(
        t.dates("cohort_start"),
        [NaiveDate::from_ymd_opt(2025, 2, 17).unwrap(); 3]
    );
    assert_eq!(t.i64s("period_index"), [0, 1, 2]);
    assert_eq!(t.i64s("active"), [1, 0, 0]);
    assert_eq!(t.f64s("fraction"), [Some(1.0), Some(0.0), Some(0.0)]);
}

/// Purchases exactly on the lookback / window edge count; a microsecond
/// earlier they do not. Ties share a rank.
#[tokio::test]
async fn window_edges_and_ties() {
    let as_of = micros(2024, 3, 1, 0, 0, 0, 0); // a Friday, a month start
    let year_ago = sub(as_of, Duration::new(1, TimeUnit::Years));
    let ds = handmade(
        as_of,
        vec![
            profile(1, None),
            profile(2, None),
            profile(3, None),
            profile(4, None),
        ],
        vec![
            // 1: only purchase exactly at the lookback edge.
            event(1, year_ago, "purchase", "pos", 500),
            // 2: a microsecond before the edge (outside), and one inside.
            event(2, year_ago - 1, "purchase", "web", 500),
            event(2, as_of - MICROS_PER_DAY, "purchase", "web", 500),
            // 3 ties with 2 inside the lookback.
            event(3, as_of - MICROS_PER_DAY, "purchase", "app", 500),
            // 4: activity exactly at the lifecycle C edge (as_of - 90d).
            event(4, as_of - 90 * MICROS_PER_DAY, "purchase", "pos", 100),
            event(4, as_of - 180 * MICROS_PER_DAY, "purchase", "pos", 100),
        ],
    );
    let mut rng = StdRng::seed_from_u64(2);
    let (_dir, engine) = open(&ds, &mut rng).await;
    let params = AnalyticsParams {
        bins: None,
        window: Some(Duration::new(1, TimeUnit::Years)),
    };
    let r = report(&engine, ReportKind::Rfm, as_of, params, CohortPeriod::Month).await;
    let t = Table::of(&r, "grid");
    // Recency ranks: 1 (365 d) 1st, 4 (90 d) 2nd, 2 and 3 (1 d) tie 3rd → r
    // = 1, 2, 3, 3 (n = 4); frequency: 1, 2, 3 tie 1st, 4 (2 purchases) 4th
    // → f = 1, 1, 1, 4.
    let cell = |r: i64, f: i64| t.i64s("profiles")[((r - 1) * 5 + f - 1) as usize];
    assert_eq!((cell(1, 1), cell(2, 4), cell(3, 1)), (1, 1, 2));
    let case = Case {
        engine: &engine,
        data: &ds.data,
        as_of,
        scope: Scope::All,
        label: "window edges".into(),
    };
    case.check_rfm(None, Some(Duration::new(1, TimeUnit::Years)))
        .await;
    case.check_channel_mix(Some(Duration::new(1, TimeUnit::Years)))
        .await;
    case.check_lifecycle(None).await;
    case.check_retention(CohortPeriod::Month).await;
    case.check_retention(CohortPeriod::Week).await;

    let r = report(
        &engine,
        ReportKind::Lifecycle,
        as_of,
        AnalyticsParams::default(),
        CohortPeriod::Month,
    )
    .await;
    // 1: lost (only a year ago); 2: resurrecting (a year ago and yesterday);
    // 3: new; 4: returning (exactly on the C edge and on the P edge).
    let t = Table::of(&r, "states");
    assert_eq!(t.i64s("profiles"), [1, 1, 1, 0, 1, 0, 1]);
}

/// Twelve years of history: monthly retention needs several 64-period
/// masks, weekly retention more periods than the masks hold (the plan over
/// distinct (profile, period) pairs); both must equal the naive triangle.
#[tokio::test]
async fn long_histories() {
    let as_of = micros(2025, 6, 18, 9, 30, 0, 0);
    let profiles = (1..=6).map(|id| profile(id, None)).collect();
    let mut events = Vec::new();
    for id in 1..=6i64 {
        for j in 0..9i64 {
            let days_back = (id * 613 + j * 389) % 4400 + 1;
            let t = as_of - days_back * MICROS_PER_DAY - j * MICROS_PER_HOUR;
            events.push(event(
                id,
                t,
                "purchase",
                "web",
                100 * (id as i128 + j as i128),
            ));
        }
    }
    // The oldest purchase: more than 10 years (> 512 weeks) back.
    events.push(event(
        6,
        as_of - 4390 * MICROS_PER_DAY,
        "purchase",
        "pos",
        100,
    ));
    let ds = handmade(as_of, profiles, events);
    let mut rng = StdRng::seed_from_u64(3);
    let (_dir, engine) = open(&ds, &mut rng).await;
    let case = Case {
        engine: &engine,
        data: &ds.data,
        as_of,
        scope: Scope::All,
        label: "long histories".into(),
    };
    case.check_retention(CohortPeriod::Month).await;
    case.check_retention(CohortPeriod::Week).await;
    case.check_rfm(None, None).await;
    case.check_rfm(Some(3), None).await;
}

/// A dataset with profiles and no events at all.
#[tokio::test]
async fn no_events() {
    let as_of = micros(2024, 5, 15, 10, 30, 0, 0);
    let ds = handmade(as_of, vec![profile(1, None), profile(2, Some(22))], vec![]);
    let mut rng = StdRng::seed_from_u64(3);
    let (_dir, engine) = open(&ds, &mut rng).await;
    let r = report(
        &engine,
        ReportKind::Rfm,
        as_of,
        AnalyticsParams::default(),
        CohortPeriod::Month,
    )
    .await;
    assert_eq!(Table::of(&r, "segments").i64s("profiles"), [0; 10]);
    let r = report(
        &engine,
        ReportKind::ChannelMix,
        as_of,
        AnalyticsParams::default(),
        CohortPeriod::Month,
    )
    .await;
    assert_eq!(Table::of(&r, "classes").i64s("profiles"), [0, 0, 0, 2]);
    assert_eq!(Table::of(&r, "channels").len(), 0);
    let r = report(
        &engine,
        ReportKind::Lifecycle,
        as_of,
        AnalyticsParams::default(),
        CohortPeriod::Month,
    )
    .await;
    assert_eq!(
        Table::of(&r, "states").i64s("profiles"),
        [0, 0, 0, 0, 0, 2, 0]
    );
    let r = report(
        &engine,
        ReportKind::Retention,
        as_of,
        AnalyticsParams::default(),
        CohortPeriod::Month,
    )
    .await;
    assert_eq!(Table::of(&r, "cohorts").len(), 0);
    let bad = AnalyticsParams {
        bins: Some(0),
        window: None,
    };
    let req = ReportRequest {
        as_of: instant(as_of),
        segment: None,
        params: bad,
        period: CohortPeriod::Month,
    };
    assert!(matches!(
        engine.report(ReportKind::Rfm, &req).await,
        Err(strata_core::Error::InvalidArgument(_))
    ));
}

/// `write_report` stores every table under `<data>/reports/<report>/`,
/// stamped with as_of, the dataset version and the parameters, and the
/// files read back as the report's tables.
#[tokio::test]
async fn written_reports_are_stamped_parquet() {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    let as_of = micros(2024, 5, 15, 10, 30, 0, 0);
    let ds = handmade(
        as_of,
        vec![profile(1, Some(21)), profile(2, None)],
        vec![
            event(1, as_of - 3 * MICROS_PER_DAY, "purchase", "web", 1000),
            event(2, as_of - 40 * MICROS_PER_DAY, "purchase", "pos", 2000),
        ],
    );
    let mut rng = StdRng::seed_from_u64(4);
    let (dir, engine) = open(&ds, &mut rng).await;
    for kind in ReportKind::ALL {
        let req = ReportRequest {
            as_of: instant(as_of),
            segment: Some(engine.parse("age >= 21 OR age IS NULL").expect("parse")),
            params: AnalyticsParams {
                bins: (kind == ReportKind::Rfm).then_some(3),
                window: None,
            },
            period: CohortPeriod::Week,
        };
        let report = engine.report(kind, &req).await.expect("report");
        let written = engine.write_report(&report, &req).expect("write");
        assert_eq!(written.len(), kind.table_names().len());
        for (path, name) in written.iter().zip(kind.table_names()) {
            assert_eq!(
                *path,
                dir.path()
                    .join("reports")
                    .join(kind.name())
                    .join(format!("{name}.parquet"))
            );
            let file = std::fs::File::open(path).expect("open");
            let builder = ParquetRecordBatchReaderBuilder::try_new(file).expect("parquet");
            let kv: BTreeMap<String, String> = builder
                .metadata()
                .file_metadata()
                .key_value_metadata()
                .expect("key-value metadata")
                .iter()
                .filter_map(|kv| Some((kv.key.clone(), kv.value.clone()?)))
                .collect();
            assert_eq!(kv["strata.report"], kind.name());
            assert_eq!(kv["strata.as_of"], "2024-05-15T10:30:00Z");
            assert_eq!(
                kv["strata.dataset_version"],
                engine.dataset().manifest().dataset_version
            );
            assert_eq!(kv["strata.segment"], "age >= 21 OR age IS NULL");
            assert_eq!(
                kv.get("strata.bins").map(String::as_str),
                (kind == ReportKind::Rfm).then_some("3")
            );
            assert_eq!(
                kv.get("strata.period").map(String::as_str),
                (kind == ReportKind::Retention).then_some("week")
            );
            let batches: Vec<RecordBatch> = builder
                .build()
                .expect("reader")
                .map(|b| b.expect("batch"))
                .collect();
            let read = concat_batches(&batches[0].schema(), &batches).expect("concat");
            let want = Table::of(&report, name).0.expect("table");
            assert_eq!(read.columns(), want.columns(), "{name} round trip");
        }
        // No temp files are left next to the tables.
        let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("reports").join(kind.name()))
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| !n.ends_with(".parquet"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}
