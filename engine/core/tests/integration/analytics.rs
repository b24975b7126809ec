//! The reports: RFM, channel mix, lifecycle and retention
//! computed by `Engine::report` must equal the naive report tables of the
//! oracle (`reference/reports.rs`, from docs/design.md#semantics) — over
//! random small datasets (ties, single-customer datasets, events on window
//! edges and at as_of) and over hand-made edge cases — and must agree with
//! the DSL built-ins (`count(rfm.segment = 'champions')` is the champions
//! row).
//!
//! `STRATA_ANALYTICS_SEED` / `STRATA_ANALYTICS_DATASETS` vary the random
//! datasets (default: a fixed seed, 40 datasets).

use std::collections::{BTreeMap, BTreeSet};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::{cast, concat_batches};
use arrow::datatypes::{DataType, Date32Type, Float64Type, Int64Type};
use chrono::NaiveDate;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use strata_core::Engine;
use strata_core::analytics::AnalyticsParams;
use strata_core::report::{CohortPeriod, Report, ReportKind, ReportRequest};
use strata_dsl::ast::{Duration, TimeUnit};

use crate::random::{self, RandomDataset};
use crate::reference::{
    CLASSES, MICROS_PER_DAY, MICROS_PER_HOUR, Period, RFM_SEGMENTS, Reference, STATES, Val,
    date_of_days, sub,
};
use crate::support::{env_u64, event, handmade, instant, micros, open_dataset, profile};

const DEFAULT_SEED: u64 = 0x5742_A7A0_0000_0505;

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

// ---------------------------------------------------------------------------
// Scopes: all profiles or a simple segment
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

    /// The scope's profiles, by the oracle's DSL evaluator.
    fn members(self, reference: &Reference<'_>) -> BTreeSet<i64> {
        match self.dsl() {
            None => reference.data().profiles.iter().map(|p| p.id).collect(),
            Some(s) => reference.members(&strata_dsl::parse(s).expect("scope parses")),
        }
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
    reference: Reference<'a>,
    scope: Scope,
    /// The scope's profile ids.
    ids: BTreeSet<i64>,
    label: String,
}

impl<'a> Case<'a> {
    fn new(engine: &'a Engine, ds: &'a RandomDataset, scope: Scope, label: String) -> Self {
        let reference = Reference::new(&ds.data, ds.as_of);
        let ids = scope.members(&reference);
        Case {
            engine,
            reference,
            scope,
            ids,
            label,
        }
    }

    fn request(&self, params: AnalyticsParams, period: CohortPeriod) -> ReportRequest {
        let segment = self
            .scope
            .dsl()
            .map(|s| self.engine.parse(s).unwrap_or_else(|e| panic!("{s}: {e}")));
        ReportRequest {
            as_of: instant(self.reference.as_of()),
            segment,
            params,
            period,
        }
    }

    async fn report(&self, kind: ReportKind, req: &ReportRequest, what: &str) -> Report {
        self.engine
            .report(kind, req)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"))
    }

    async fn count(&self, cond: &str) -> i64 {
        let text = self.scope.and(cond);
        let seg = self
            .engine
            .parse(&text)
            .unwrap_or_else(|e| panic!("{}: {text}: {e}", self.label));
        self.engine
            .count(&seg, instant(self.reference.as_of()))
            .await
            .expect("count") as i64
    }

    async fn check_rfm(&self, bins: Option<u32>, lookback: Option<Duration>) {
        let what = format!("{} rfm bins={bins:?} lookback={lookback:?}", self.label);
        let params = AnalyticsParams {
            bins,
            window: lookback,
        };
        let req = self.request(params, CohortPeriod::Month);
        let report = self.report(ReportKind::Rfm, &req, &what).await;
        let b = i64::from(bins.unwrap_or(5));
        let want = self.reference.rfm_report(&self.ids, bins, lookback);

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
        for (i, row) in want.segments.iter().enumerate() {
            let name = row.label;
            let w = format!("{what} segment {name}");
            assert_eq!(profiles[i], row.profiles, "{w}");
            assert_close(share[i], row.share, &w);
            assert_close(rec[i], row.avg_recency_days, &w);
            assert_close(freq[i], row.avg_frequency, &w);
            assert_close(mon[i], row.avg_monetary, &w);
            assert_close(rev[i], Some(row.revenue), &w);
            // The built-in agrees with the row.
            let dsl = self.count(&format!("{rfm}.segment = '{name}'")).await;
            assert_eq!(dsl, profiles[i], "{w}: DSL count");
        }

        let t = Table::of(&report, "scores");
        assert_eq!(t.i64s("value"), (1..=b).collect::<Vec<_>>(), "{what}");
        for (j, col) in ["r_profiles", "f_profiles", "m_profiles"]
            .into_iter()
            .enumerate()
        {
            let want: Vec<i64> = want.scores.iter().map(|(_, n)| n[j]).collect();
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
        for (i, &(want_r, want_f, want_seg, want_n)) in want.grid.iter().enumerate() {
            assert_eq!((r[i], f[i]), (want_r, want_f), "{what} grid order");
            assert_eq!(seg[i], want_seg, "{what} grid segment");
            assert_eq!(cnt[i], want_n, "{what} grid ({}, {})", r[i], f[i]);
        }
    }

    async fn check_channel_mix(&self, window: Option<Duration>) {
        let what = format!("{} channel_mix window={window:?}", self.label);
        let params = AnalyticsParams { bins: None, window };
        let req = self.request(params, CohortPeriod::Month);
        let report = self.report(ReportKind::ChannelMix, &req, &what).await;
        let want = self.reference.channel_mix_report(&self.ids, window);

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
        for (i, row) in want.classes.iter().enumerate() {
            let class = row.label;
            let w = format!("{what} class {class}");
            assert_eq!(profiles[i], row.profiles, "{w}");
            assert_eq!(orders[i], row.orders, "{w}");
            assert_close(revenue[i], Some(row.revenue), &w);
            assert_close(rpp[i], row.revenue_per_profile, &w);
            let dsl = self.count(&format!("{builtin} = '{class}'")).await;
            assert_eq!(dsl, profiles[i], "{w}: DSL count");
        }

        // Per channel: distinct profiles, orders, revenue, share of revenue.
        let t = Table::of(&report, "channels");
        assert_eq!(t.len(), want.channels.len(), "{what} channels");
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
            let row = &want.channels[&ch[i]];
            assert_eq!(profiles[i], row.profiles, "{w}");
            assert_eq!(orders[i], row.orders, "{w}");
            assert_close(revenue[i], Some(row.revenue), &w);
            assert_close(share[i], row.share, &w);
            assert_eq!(class[i], row.class, "{w}");
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
        let window = window_days.map(days);
        let params = AnalyticsParams { bins: None, window };
        let req = self.request(params, CohortPeriod::Month);
        let report = self.report(ReportKind::Lifecycle, &req, &what).await;
        let want = self.reference.lifecycle_report(&self.ids, window);
        let t = Table::of(&report, "states");
        let mut names: Vec<&str> = STATES.to_vec();
        names.push("churned");
        assert_eq!(t.labels("state"), names, "{what}");
        let (profiles, share) = (t.i64s("profiles"), t.f64s("share"));
        let builtin = match window_days {
            Some(d) => format!("lifecycle(window = {d}d)"),
            None => "lifecycle".to_string(),
        };
        for (i, row) in want.iter().enumerate() {
            let name = row.label;
            let cond = if name == "churned" {
                format!("{builtin} IN ('dormant', 'lost')")
            } else {
                format!("{builtin} = '{name}'")
            };
            let w = format!("{what} state {name}");
            assert_eq!(profiles[i], row.profiles, "{w}");
            assert_close(share[i], row.share, &w);
            assert_eq!(self.count(&cond).await, row.profiles, "{w}: DSL count");
        }
    }

    async fn check_retention(&self, period: CohortPeriod) {
        let what = format!("{} retention {period:?}", self.label);
        let req = self.request(AnalyticsParams::default(), period);
        let report = self.report(ReportKind::Retention, &req, &what).await;
        let naive_period = match period {
            CohortPeriod::Week => Period::Week,
            CohortPeriod::Month => Period::Month,
        };
        let want = self.reference.retention(&self.ids, naive_period);
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
        let cells: Vec<(NaiveDate, i64, i64, i64)> = want
            .iter()
            .map(|c| (c.cohort_start, c.period_index, c.cohort_size, c.active))
            .collect();
        assert_eq!(got, cells, "{what}");
        for (i, f) in t.f64s("fraction").into_iter().enumerate() {
            assert_close(f, want[i].fraction, &what);
        }
    }
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
        let (_dir, engine) = open_dataset(&ds, &mut rng).await;
        let has_purchase = ds.event_types.iter().any(|t| t == "purchase");
        let scope = match i % 4 {
            0 => Scope::All,
            1 => Scope::AgeAtLeast21,
            2 => Scope::NotUs,
            _ if has_purchase => Scope::PurchasedWithin30d,
            _ => Scope::All,
        };
        let label = format!(
            "seed {seed:#x} dataset {i} (as_of {}, {} profiles, {} events, scope {scope:?})",
            instant(ds.as_of),
            ds.data.profiles.len(),
            ds.data.events.len()
        );
        let case = Case::new(&engine, &ds, scope, label);
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
        vec![profile(7, &[("age", Val::Int(30))])],
        vec![
            event(
                7,
                as_of - 10 * MICROS_PER_DAY,
                "purchase",
                Some("web"),
                Some(1050),
            ),
            event(7, as_of, "purchase", Some("pos"), Some(99_999)),
            event(7, as_of + 1, "purchase", Some("pos"), Some(99_999)),
        ],
    );
    let mut rng = StdRng::seed_from_u64(1);
    let (_dir, engine) = open_dataset(&ds, &mut rng).await;

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
            profile(1, &[]),
            profile(2, &[]),
            profile(3, &[]),
            profile(4, &[]),
        ],
        vec![
            // 1: only purchase exactly at the lookback edge.
            event(1, year_ago, "purchase", Some("pos"), Some(500)),
            // 2: a microsecond before the edge (outside), and one inside.
            event(2, year_ago - 1, "purchase", Some("web"), Some(500)),
            event(
                2,
                as_of - MICROS_PER_DAY,
                "purchase",
                Some("web"),
                Some(500),
            ),
            // 3 ties with 2 inside the lookback.
            event(
                3,
                as_of - MICROS_PER_DAY,
                "purchase",
                Some("app"),
                Some(500),
            ),
            // 4: activity exactly at the lifecycle C edge (as_of - 90d).
            event(
                4,
                as_of - 90 * MICROS_PER_DAY,
                "purchase",
                Some("pos"),
                Some(100),
            ),
            event(
                4,
                as_of - 180 * MICROS_PER_DAY,
                "purchase",
                Some("pos"),
                Some(100),
            ),
        ],
    );
    let mut rng = StdRng::seed_from_u64(2);
    let (_dir, engine) = open_dataset(&ds, &mut rng).await;
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
    let case = Case::new(&engine, &ds, Scope::All, "window edges".into());
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
    let profiles = (1..=6).map(|id| profile(id, &[])).collect();
    let mut events = Vec::new();
    for id in 1..=6i64 {
        for j in 0..9i64 {
            let days_back = (id * 613 + j * 389) % 4400 + 1;
            let t = as_of - days_back * MICROS_PER_DAY - j * MICROS_PER_HOUR;
            events.push(event(
                id,
                t,
                "purchase",
                Some("web"),
                Some(100 * (id as i128 + j as i128)),
            ));
        }
    }
    // The oldest purchase: more than 10 years (> 512 weeks) back.
    events.push(event(
        6,
        as_of - 4390 * MICROS_PER_DAY,
        "purchase",
        Some("pos"),
        Some(100),
    ));
    let ds = handmade(as_of, profiles, events);
    let mut rng = StdRng::seed_from_u64(3);
    let (_dir, engine) = open_dataset(&ds, &mut rng).await;
    let case = Case::new(&engine, &ds, Scope::All, "long histories".into());
    case.check_retention(CohortPeriod::Month).await;
    case.check_retention(CohortPeriod::Week).await;
    case.check_rfm(None, None).await;
    case.check_rfm(Some(3), None).await;
}

/// A dataset with profiles and no events at all.
#[tokio::test]
async fn no_events() {
    let as_of = micros(2024, 5, 15, 10, 30, 0, 0);
    let ds = handmade(
        as_of,
        vec![profile(1, &[]), profile(2, &[("age", Val::Int(22))])],
        vec![],
    );
    let mut rng = StdRng::seed_from_u64(3);
    let (_dir, engine) = open_dataset(&ds, &mut rng).await;
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
        vec![profile(1, &[("age", Val::Int(21))]), profile(2, &[])],
        vec![
            event(
                1,
                as_of - 3 * MICROS_PER_DAY,
                "purchase",
                Some("web"),
                Some(1000),
            ),
            event(
                2,
                as_of - 40 * MICROS_PER_DAY,
                "purchase",
                Some("pos"),
                Some(2000),
            ),
        ],
    );
    let mut rng = StdRng::seed_from_u64(4);
    let (dir, engine) = open_dataset(&ds, &mut rng).await;
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
            assert_eq!(kv["strata.dataset_version"], engine.dataset().version_id());
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
