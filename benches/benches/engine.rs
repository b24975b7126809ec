//! Engine benchmarks over a generated dataset: plan compilation, counts
//! (attributes only, one and five behavioural conditions, an RFM built-in
//! with and without fresh features), member streaming (ids/s) and the four
//! reports.
//!
//! Data: `strata_datasets::generate` with seed 42 and STRATA_BENCH_PROFILES
//! profiles (default 100 000, the `s` scale; about 50 events per profile),
//! written once into `target/bench-data/bench-p<profiles>-seed42` and reused.
//! Engine: `EngineConfig { threads: 2, .. }`, a 2-worker tokio runtime.
//!
//! Run: `cargo bench -p strata-benches --bench engine` (add `-- count` to run
//! one group). The DSL parser has its own bench in `engine/dsl/benches`.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::StreamExt;
use strata_core::analytics::AnalyticsParams;
use strata_core::report::{CohortPeriod, ReportKind, ReportRequest};
use strata_core::{Engine, EngineConfig, MembersRequest};
use strata_datasets::{GenConfig, Scale};

const SEED: u64 = 42;

const ATTRIBUTES: &str = "country = 'GB' AND consent_email";
const ONE_BEHAVIOUR: &str = "count(purchase WITHIN 90d) >= 2";
const FIVE_BEHAVIOURS: &str = "count(purchase WITHIN 90d) >= 2 \
    AND sum(purchase.amount WHERE channel IN ('web', 'app', 'social') WITHIN 365d) > 500 \
    AND NOT performed(cart_abandoned WITHIN 30d) \
    AND count(email_open WITHIN 60d) >= 1 \
    AND last(session_start) > -30d";
const CHAMPIONS: &str = "rfm.segment = 'champions'";
/// About 60% of the profiles: the member-streaming segment.
const LARGE: &str = "consent_email OR consent_push";

fn data_dir() -> PathBuf {
    let profiles: u64 = std::env::var("STRATA_BENCH_PROFILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(Scale::S.profiles());
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target
        .join("bench-data")
        .join(format!("bench-p{profiles}-seed{SEED}"));
    if !dir.join("strata.toml").exists() {
        let config = GenConfig {
            scale: None,
            profiles,
            seed: SEED,
            ..GenConfig::for_scale(Scale::S)
        };
        eprintln!("generating {profiles} profiles into {}", dir.display());
        std::fs::create_dir_all(dir.parent().expect("has a parent")).expect("create bench-data");
        strata_datasets::generate(&config, &dir).expect("generate the bench dataset");
    }
    dir
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let dir = data_dir();
    let engine = rt
        .block_on(Engine::open(
            &dir,
            EngineConfig {
                threads: 2,
                ..EngineConfig::default()
            },
        ))
        .expect("open the bench dataset");
    let as_of = engine.default_as_of();
    let total = rt
        .block_on(engine.total_profiles())
        .expect("count profiles");
    eprintln!(
        "bench dataset {}: {total} profiles, as_of {as_of}",
        dir.display()
    );
    let parse = |s: &str| engine.parse(s).expect("bench segment checks");

    // ---- plan compilation ----------------------------------------------------
    let mut g = c.benchmark_group("plan");
    let five = parse(FIVE_BEHAVIOURS);
    g.bench_function("logical_five_behaviours", |b| {
        b.to_async(&rt).iter(|| async {
            let df = engine.plan(black_box(&five), as_of).await.expect("plan");
            df.into_optimized_plan().expect("optimize")
        })
    });
    g.bench_function("physical_five_behaviours", |b| {
        b.to_async(&rt).iter(|| async {
            let df = engine.plan(black_box(&five), as_of).await.expect("plan");
            df.create_physical_plan().await.expect("physical plan")
        })
    });
    g.finish();

    // ---- counts ----------------------------------------------------------------
    let mut g = c.benchmark_group("count");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    for (name, text) in [
        ("attributes", ATTRIBUTES),
        ("one_behaviour", ONE_BEHAVIOUR),
        ("five_behaviours", FIVE_BEHAVIOURS),
    ] {
        let seg = parse(text);
        g.bench_function(name, |b| {
            b.to_async(&rt)
                .iter(|| async { engine.count(black_box(&seg), as_of).await.expect("count") })
        });
    }
    g.finish();

    // ---- a built-in, from the events and from fresh features -------------------
    // `strata refresh` at as_of, then the same count at as_of (features
    // fresh: read from features/) and a day earlier (features stale for that
    // as_of: computed from the events).
    rt.block_on(engine.refresh_features(as_of))
        .expect("refresh features");
    let engine = rt
        .block_on(Engine::open(
            &dir,
            EngineConfig {
                threads: 2,
                ..EngineConfig::default()
            },
        ))
        .expect("reopen the bench dataset");
    let champions = parse(CHAMPIONS);
    let mut g = c.benchmark_group("builtin");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    for (name, at) in [
        ("champions_fresh_features", as_of),
        ("champions_from_events", as_of - chrono::TimeDelta::days(1)),
    ] {
        g.bench_function(name, |b| {
            b.to_async(&rt).iter(|| async {
                engine
                    .count(black_box(&champions), at)
                    .await
                    .expect("count")
            })
        });
    }
    g.finish();

    // ---- member streaming --------------------------------------------------------
    let seg = parse(LARGE);
    let members = rt
        .block_on(engine.count(&seg, as_of))
        .expect("count members");
    let mut g = c.benchmark_group("members");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.throughput(Throughput::Elements(members));
    g.bench_function("stream_ids", |b| {
        b.to_async(&rt).iter(|| async {
            let mut stream = engine
                .members(&seg, as_of, &MembersRequest::default())
                .await
                .expect("members");
            let mut n = 0usize;
            while let Some(batch) = stream.next().await {
                n += batch.expect("batch").num_rows();
            }
            assert_eq!(n as u64, members);
        })
    });
    g.finish();

    // ---- reports -------------------------------------------------------------------
    let mut g = c.benchmark_group("report");
    g.sample_size(10).measurement_time(Duration::from_secs(15));
    for kind in ReportKind::ALL {
        let req = ReportRequest {
            as_of,
            segment: None,
            params: AnalyticsParams::default(),
            period: CohortPeriod::Month,
        };
        g.bench_function(kind.name(), |b| {
            b.to_async(&rt)
                .iter(|| async { engine.report(kind, black_box(&req)).await.expect("report") })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
