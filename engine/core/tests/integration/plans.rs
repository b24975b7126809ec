//! The engine on a generated store: plan shape (one events aggregation,
//! partition pruning), resumable member pages, fresh vs stale features,
//! memory limit, segment references.

use futures::StreamExt;
use strata_core::{Engine, EngineConfig, Error, MembersRequest};

use crate::support::{config, copy_store, count, ids, open, open_with, store};

/// The physical plan of `dsl` at the dataset's as_of, as text.
async fn physical_plan(engine: &Engine, dsl: &str) -> String {
    let seg = engine.parse(dsl).unwrap();
    engine
        .explain(&seg, engine.default_as_of())
        .await
        .unwrap()
        .physical
}

#[tokio::test]
async fn five_behavioural_conditions_share_one_events_aggregation() {
    let engine = open(store()).await;
    let seg = engine
        .parse(
            "count(purchase WITHIN 30d) >= 1 AND sum(purchase.amount WITHIN 30d) > 50 \
             AND performed(email_open WITHIN 14d) AND NOT performed(cart_abandoned WITHIN 7d) \
             AND max(purchase.amount WHERE channel = 'pos' WITHIN 30d) > 10",
        )
        .unwrap();
    let plan = engine
        .explain(&seg, engine.default_as_of())
        .await
        .unwrap()
        .physical;
    // One pass: a partial aggregate (merged by a final one), or a single
    // one per range of profile ids (events grouped by `profile_id` range).
    let passes = plan
        .lines()
        .filter(|l| l.contains("AggregateExec:") && !l.contains("mode=Final"))
        .count();
    assert_eq!(passes, 1, "one aggregation pass over events:\n{plan}");
    // as_of is 2026-01-01: a 30-day window reads December 2025 only.
    assert!(plan.contains("event_month=2025-12"), "{plan}");
    let other_months = plan
        .match_indices("event_month=")
        .filter(|(i, _)| !plan[*i..].starts_with("event_month=2025-12"))
        .count();
    assert_eq!(other_months, 0, "partition pruning:\n{plan}");
}

/// `explain_analyze` runs the count: the plan carries what each operator
/// did, the join emits exactly the members, and the hash table is built
/// from the segment's per-profile behaviour rows (left, listed first), with
/// the profiles probing it.
#[tokio::test]
async fn explain_analyze_shows_the_executed_plan_built_on_the_behaviours() {
    let engine = open(store()).await;
    let dsl = "count(purchase WITHIN 90d) >= 2";
    let n = count(&engine, dsl).await;
    assert!(n > 0 && n < 1000, "{n} members: pick another segment");
    let seg = engine.parse(dsl).unwrap();
    let plan = engine
        .explain_analyze(&seg, engine.default_as_of())
        .await
        .unwrap();
    let join = plan
        .find("HashJoinExec")
        .unwrap_or_else(|| panic!("a hash join:\n{plan}"));
    let join_line = plan[join..].lines().next().unwrap();
    assert!(
        join_line.contains(&format!("output_rows={n},")),
        "the join emits the {n} members:\n{plan}"
    );
    let below = &plan[join..];
    let (events, profiles) = (below.find("/events/"), below.find("/profiles/"));
    assert!(
        matches!((events, profiles), (Some(e), Some(p)) if e < p),
        "behaviours build, profiles probe:\n{plan}"
    );
}

#[tokio::test]
async fn attribute_only_segments_do_not_read_events() {
    let engine = open(store()).await;
    let seg = engine.parse("consent_email AND country = 'US'").unwrap();
    let plan = engine
        .explain(&seg, engine.default_as_of())
        .await
        .unwrap()
        .physical;
    assert!(!plan.contains("events"), "{plan}");
}

#[tokio::test]
async fn member_pages_resume_after_the_cursor() {
    let engine = open(store()).await;
    let dsl = "performed(purchase)";
    let all = ids(&engine, dsl, &MembersRequest::default()).await;
    assert!(all.len() > 500, "{} members", all.len());
    assert!(
        all.windows(2).all(|w| w[0] < w[1]),
        "ordered, no duplicates"
    );
    assert_eq!(all.len() as u64, count(&engine, dsl).await);

    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = ids(
            &engine,
            dsl,
            &MembersRequest {
                after,
                limit: Some(333),
                ..MembersRequest::default()
            },
        )
        .await;
        if page.is_empty() {
            break;
        }
        after = page.last().copied();
        paged.extend(page);
    }
    assert_eq!(paged, all);
}

#[tokio::test]
async fn members_carry_requested_columns_and_reject_unknown_ones() {
    let engine = open(store()).await;
    let seg = engine.parse("consent_email").unwrap();
    let req = MembersRequest {
        columns: vec!["email".into(), "country".into()],
        limit: Some(10),
        ..MembersRequest::default()
    };
    let mut s = engine
        .members(&seg, engine.default_as_of(), &req)
        .await
        .unwrap();
    let b = s.next().await.unwrap().unwrap();
    let names: Vec<_> = b
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["profile_id", "email", "country"]);

    let bad = MembersRequest {
        columns: vec!["emial".into()],
        ..MembersRequest::default()
    };
    let err = engine
        .members(&seg, engine.default_as_of(), &bad)
        .await
        .err()
        .expect("unknown column");
    let msg = err.to_string();
    assert!(matches!(err, Error::InvalidArgument(_)), "{msg}");
    assert!(msg.contains("did you mean 'email'"), "{msg}");
}

const BUILTIN_SEGMENTS: &[&str] = &[
    "rfm.segment = 'champions'",
    "rfm.r >= 4 AND rfm.f <= 2",
    "rfm.monetary > 500",
    "channel_mix = 'omnichannel'",
    "channel_mix = 'none'",
    "lifecycle IN ('dormant', 'lost')",
    "lifecycle = 'never'",
    "NOT rfm.segment = 'hibernating'",
];

#[tokio::test]
async fn fresh_features_give_the_same_counts_and_stale_ones_are_ignored() {
    let dir = copy_store();
    let data = dir.path().join("shop");
    let engine = open(&data).await;
    let mut from_events = Vec::new();
    for dsl in BUILTIN_SEGMENTS {
        from_events.push(count(&engine, dsl).await);
    }
    let as_of = engine.default_as_of();
    engine.refresh_features(as_of).await.unwrap();

    // Reopened: the features are fresh for this as_of and used.
    let engine = open(&data).await;
    assert!(engine.dataset().fresh_features(as_of));
    let seg = engine.parse(BUILTIN_SEGMENTS[0]).unwrap();
    let plan = engine.explain(&seg, as_of).await.unwrap().physical;
    assert!(plan.contains("profile_features.parquet"), "{plan}");
    assert!(!plan.contains("event_month="), "{plan}");
    for (dsl, expected) in BUILTIN_SEGMENTS.iter().zip(&from_events) {
        assert_eq!(count(&engine, dsl).await, *expected, "{dsl}");
    }

    // Another as_of: not covered, computed from events.
    let earlier = as_of - chrono::TimeDelta::days(30);
    assert!(!engine.dataset().fresh_features(earlier));
    let plan = engine.explain(&seg, earlier).await.unwrap().physical;
    assert!(!plan.contains("profile_features.parquet"), "{plan}");

    // A write changes the dataset version: the features become stale.
    engine
        .dataset()
        .segments()
        .save("vip", "rfm.segment = 'champions'")
        .unwrap();
    let engine = open(&data).await;
    assert!(!engine.dataset().fresh_features(as_of));
    let plan = engine.explain(&seg, as_of).await.unwrap().physical;
    assert!(!plan.contains("profile_features.parquet"), "{plan}");
    assert_eq!(count(&engine, BUILTIN_SEGMENTS[0]).await, from_events[0]);
}

/// A refresh for another as_of while an engine is open replaces the file
/// its features table reads: the engine must notice and not answer from
/// features of the wrong as_of.
#[tokio::test]
async fn a_refresh_while_open_is_not_mistaken_for_fresh_features() {
    let dir = copy_store();
    let data = dir.path().join("shop");
    let as_of = open(&data).await.default_as_of();
    open(&data).await.refresh_features(as_of).await.unwrap();
    let serving = open(&data).await;
    assert!(serving.dataset().fresh_features(as_of));
    let mut truth = Vec::new();
    for dsl in BUILTIN_SEGMENTS {
        truth.push(count(&serving, dsl).await);
    }

    // Another process refreshes for a year earlier.
    let earlier = as_of - chrono::TimeDelta::days(365);
    open(&data).await.refresh_features(earlier).await.unwrap();
    assert!(!serving.dataset().fresh_features(as_of));
    let seg = serving.parse(BUILTIN_SEGMENTS[0]).unwrap();
    let plan = serving.explain(&seg, as_of).await.unwrap().physical;
    assert!(!plan.contains("profile_features.parquet"), "{plan}");
    for (dsl, expected) in BUILTIN_SEGMENTS.iter().zip(&truth) {
        assert_eq!(count(&serving, dsl).await, *expected, "{dsl}");
    }
}

#[tokio::test]
async fn only_the_files_the_delta_log_lists_are_read() {
    let dir = copy_store();
    let data = dir.path().join("shop");
    let segments = [
        "count(purchase) >= 2",
        "count(page_view) >= 3",
        "sum(purchase.amount) > 100",
        "performed(email_open)",
    ];
    let engine = open(&data).await;
    let mut truth = Vec::new();
    for dsl in segments {
        truth.push(count(&engine, dsl).await);
    }
    // A copy of a month's file that no commit lists, as a crashed write
    // or a removed version leaves behind.
    let month = std::fs::read_dir(strata_datasets::events_dir(&data))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("event_month=")
        })
        .unwrap();
    let file = strata_datasets::parquet_files(&month).unwrap().remove(0);
    std::fs::copy(&file, month.join("part-99999.parquet")).unwrap();
    let engine = open(&data).await;
    for (dsl, expected) in segments.iter().zip(&truth) {
        assert_eq!(count(&engine, dsl).await, *expected, "{dsl}");
    }
    let versions = engine.dataset().versions();
    assert_eq!((versions.profiles, versions.events), (0, 0));
}

#[tokio::test]
async fn an_engine_keeps_its_version_and_a_new_one_sees_an_append() {
    let dir = copy_store();
    let data = dir.path().join("shop");
    let old = open(&data).await;
    let as_of = old.default_as_of();
    old.refresh_features(as_of).await.unwrap();
    let old = open(&data).await;
    assert!(old.dataset().fresh_features(as_of));
    let big = "performed(purchase WHERE amount >= 9000)";
    let before = count(&old, big).await;
    let known = ids(&old, "performed(purchase)", &MembersRequest::default()).await[0];
    let external = format!("C-new-{known}");
    let csv = dir.path().join("day.csv");
    std::fs::write(
        &csv,
        format!("customer,ts,kind,total\n{external},2025-12-15 10:00:00,purchase,9500\n"),
    )
    .unwrap();
    let config = strata_datasets::ImportConfig {
        profile_id: "customer".into(),
        time: "ts".into(),
        roles: [
            (
                strata_datasets::Role::EventType,
                strata_datasets::ColumnSource::Column("kind".into()),
            ),
            (
                strata_datasets::Role::Amount,
                strata_datasets::ColumnSource::Column("total".into()),
            ),
        ]
        .into(),
        ..strata_datasets::ImportConfig::new(vec![csv])
    };
    strata_datasets::append(&config, &data, None).unwrap();

    let new = open(&data).await;
    assert_eq!(count(&new, big).await, before + 1);
    assert_eq!(
        count(&old, big).await,
        before,
        "an open engine keeps its version"
    );
    assert_eq!(new.dataset().versions().dataset, 1);
    assert_ne!(new.dataset().version_id(), old.dataset().version_id());
    // The features were built for version 0: not used for version 1.
    assert!(!new.dataset().fresh_features(as_of));
    let plan = new
        .explain(&new.parse(BUILTIN_SEGMENTS[0]).unwrap(), as_of)
        .await
        .unwrap();
    assert!(
        !plan.physical.contains("profile_features.parquet"),
        "{}",
        plan.physical
    );
}

#[tokio::test]
async fn a_format_one_dataset_is_refused_with_the_upgrade_hint() {
    let dir = copy_store();
    let data = dir.path().join("shop");
    let mut manifest = strata_datasets::Manifest::load(&data).unwrap();
    manifest.format_version = 1;
    manifest.save(&data).unwrap();
    let e = Engine::open(&data, config()).await.unwrap_err();
    assert!(e.to_string().contains("strata upgrade --data"), "{e}");
    strata_datasets::upgrade(&data).unwrap();
    let engine = open(&data).await;
    assert!(count(&engine, "performed(purchase)").await > 0);
}

#[tokio::test]
async fn saved_segments_compose_and_cycles_are_errors() {
    let dir = copy_store();
    let data = dir.path().join("shop");
    let engine = open(&data).await;
    let store = engine.dataset().segments();
    store.save("buyers", "performed(purchase)").unwrap();
    store
        .save("email_buyers", "IN SEGMENT buyers AND consent_email")
        .unwrap();
    let engine = open(&data).await;
    assert_eq!(
        count(&engine, "IN SEGMENT email_buyers").await,
        count(&engine, "performed(purchase) AND consent_email").await
    );
    assert_eq!(
        count(&engine, "NOT IN SEGMENT buyers").await,
        count(&engine, "NOT performed(purchase)").await
    );

    store.save("a", "IN SEGMENT b").unwrap();
    store.save("b", "IN SEGMENT a").unwrap();
    let engine = open(&data).await;
    let err = match engine.parse("IN SEGMENT a") {
        Err(e) => e,
        Ok(seg) => engine
            .count(&seg, engine.default_as_of())
            .await
            .expect_err("cycle"),
    };
    let msg = err.to_string();
    assert!(
        msg.contains("cycle") || msg.contains("refers to itself"),
        "{msg}"
    );
}

#[tokio::test]
async fn a_query_over_the_memory_limit_fails_cleanly() {
    let engine = open_with(
        store(),
        EngineConfig {
            memory_limit: 64 << 10,
            ..config()
        },
    )
    .await;
    let seg = engine
        .parse("count(any) > 3 AND sum(purchase.amount) > 10 AND avg(add_to_cart.amount) > 1")
        .unwrap_or_else(|e| panic!("{e}"));
    let err = engine
        .count(&seg, engine.default_as_of())
        .await
        .expect_err("64 KiB is not enough");
    assert!(matches!(err, Error::ResourcesExhausted(_)), "{err}");
}

/// With two threads the events of the store's two profile chunks are read
/// as two `profile_id` ranges, each aggregated on its own
/// (`SinglePartitioned`); one thread reads them as the listing table
/// groups them. Counts, members and every report agree.
#[tokio::test]
async fn events_grouped_by_profile_range_give_the_same_answers() {
    use strata_core::report::{CohortPeriod, ReportKind, ReportRequest};

    // The store's first id chunk holds 69% of the event bytes (its
    // profiles signed up first), too lopsided for two threads: the engine
    // keeps the listing plan there. Its 2025 months split 42% / 58%.
    let copy = copy_store();
    let dir = copy.path().join("shop");
    for e in std::fs::read_dir(dir.join("events")).unwrap() {
        let path = e.unwrap().path();
        if !path.to_string_lossy().contains("event_month=2025-") {
            std::fs::remove_dir_all(path).unwrap();
        }
    }
    // A new events log for the months kept (the old one went with them).
    std::fs::remove_dir_all(strata_datasets::dataset_log_dir(&dir)).unwrap();
    strata_datasets::upgrade(&dir).unwrap();
    let lopsided = physical_plan(&open(store()).await, "count(purchase) >= 2").await;
    assert!(!lopsided.contains("mode=SinglePartitioned"), "{lopsided}");

    let ranged = open(&dir).await;
    let plain = open_with(
        &dir,
        EngineConfig {
            threads: 1,
            ..config()
        },
    )
    .await;
    let simple = "count(purchase) >= 2 AND sum(purchase.amount) > 100";
    let plan = physical_plan(&ranged, simple).await;
    assert!(plan.contains("mode=SinglePartitioned"), "{plan}");
    // Month branches read the same ranges: their union keeps them.
    let windowed = "count(purchase WITHIN 45d) >= 1";
    let plan = physical_plan(&ranged, windowed).await;
    assert!(
        plan.contains("InterleaveExec") && plan.contains("mode=SinglePartitioned"),
        "{plan}"
    );
    let all = MembersRequest::default();
    for dsl in [
        simple,
        windowed,
        "count(purchase) >= 2 AND sum(purchase.amount WITHIN 400d) > 100 \
         OR lifecycle = 'dormant' OR rfm.segment = 'champions'",
    ] {
        let n = count(&ranged, dsl).await;
        assert!(n > 0, "{dsl}");
        assert_eq!(n, count(&plain, dsl).await, "{dsl}");
        assert_eq!(ids(&ranged, dsl, &all).await, ids(&plain, dsl, &all).await);
    }

    for kind in [
        ReportKind::Rfm,
        ReportKind::ChannelMix,
        ReportKind::Lifecycle,
        ReportKind::Retention,
    ] {
        let req = ReportRequest {
            as_of: ranged.default_as_of(),
            segment: None,
            params: Default::default(),
            period: CohortPeriod::Month,
        };
        let text = |r: strata_core::report::Report| {
            r.tables
                .iter()
                .map(|(name, batches)| {
                    format!(
                        "{name}\n{}",
                        arrow::util::pretty::pretty_format_batches(batches).unwrap()
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        let a = text(ranged.report(kind, &req).await.unwrap());
        let b = text(plain.report(kind, &req).await.unwrap());
        assert_eq!(a, b, "{kind:?}");
    }
}
