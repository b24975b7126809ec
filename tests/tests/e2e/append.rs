//! `strata append` while a server serves the dataset: the server answers
//! the new version without a restart, no request fails while appends run,
//! and every answer equals the answer of the dataset version it names.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::support::*;

const BIG: &str = "performed(purchase WHERE amount >= 9000)";

/// The dataset version an answer names (`<manifest version>+<n>`).
fn version_of(dataset_version: &str) -> u64 {
    dataset_version
        .rsplit_once('+')
        .and_then(|(_, n)| n.parse().ok())
        .unwrap_or_else(|| panic!("no dataset version in {dataset_version:?}"))
}

/// Appends one purchase of 9,500 by a new customer `who`.
fn append_one(data: &str, dir: &std::path::Path, who: &str) -> String {
    let csv = dir.join(format!("{who}.csv"));
    std::fs::write(
        &csv,
        format!("customer,ts,kind,total\n{who},2025-12-20 12:00:00,purchase,9500\n"),
    )
    .unwrap();
    let (ok, out, err) = run_strata(&[
        "append",
        "--data",
        data,
        "--events",
        csv.to_str().unwrap(),
        "--profile-id",
        "customer",
        "--time",
        "ts",
        "--event-type",
        "kind",
        "--amount",
        "total",
    ]);
    assert!(ok, "{err}");
    out
}

#[tokio::test]
async fn a_running_server_answers_every_appended_version_exactly() {
    let server = TestServer::start(&[]).await;
    let data = server.data.to_str().unwrap().to_string();
    let mut c = server.segments().await;
    let first = c.count(count_req(BIG)).await.unwrap().into_inner();
    assert_eq!(version_of(&first.dataset_version), 0);
    let base = first.count;

    // Counting all the time while five appends land.
    let stop = Arc::new(AtomicBool::new(false));
    let counter = {
        let (stop, mut c) = (stop.clone(), server.segments().await);
        tokio::spawn(async move {
            let mut seen = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let r = c
                    .count(count_req(BIG))
                    .await
                    .expect("a count failed")
                    .into_inner();
                seen.push((version_of(&r.dataset_version), r.count));
            }
            seen
        })
    };
    let tmp = tempfile::tempdir().unwrap();
    for i in 1..=5u64 {
        let out = append_one(&data, tmp.path(), &format!("NEW-{i}"));
        assert!(out.contains(&format!("version {i},")), "{out}");
    }
    let last = c.count(count_req(BIG)).await.unwrap().into_inner();
    stop.store(true, Ordering::Relaxed);
    let seen = counter.await.unwrap();

    assert_eq!(version_of(&last.dataset_version), 5);
    assert_eq!(last.count, base + 5);
    assert!(!seen.is_empty());
    for (version, count) in &seen {
        assert_eq!(*count, base + version, "version {version} answered {count}");
    }
    let (ok, history, err) = run_strata(&["history", "--data", &data]);
    assert!(ok, "{err}");
    assert_eq!(
        history.lines().filter(|l| l.contains("append")).count(),
        5,
        "{history}"
    );
    assert!(history.contains("gen"), "{history}");
}
