//! Scale-out: every example segment of docs/dsl.md and all four analyses
//! give the same answers on an Apache DataFusion Ballista cluster as
//! embedded — first on an in-process standalone cluster, then on a real
//! scheduler and executor, each its own `strata cluster …` process on
//! loopback.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration as StdDuration;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::concat_batches;
use arrow::datatypes::{DataType, Float64Type};
use futures::TryStreamExt;
use strata_core::analytics::AnalyticsParams;
use strata_core::cluster::Cluster;
use strata_core::report::{CohortPeriod, Report, ReportKind, ReportRequest};
use strata_core::{Engine, EngineConfig, MembersRequest, SegmentStore};
use strata_dsl::ast::{Duration, TimeUnit};

use crate::support::{base_dataset, copy_dir, strata_bin};

/// The saved segments docs/dsl.md refers to.
const SAVED: [(&str, &str); 2] = [
    (
        "vip",
        "rfm.segment IN ('champions', 'loyal', 'cannot_lose')",
    ),
    ("email_reachable", "consent_email AND email IS NOT NULL"),
];

/// Every ```seg block of docs/dsl.md.
fn doc_segments() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/dsl.md");
    let doc = std::fs::read_to_string(&path).expect("docs/dsl.md");
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in doc.lines() {
        match (&mut current, line.strip_prefix("```")) {
            (None, Some(info)) if info.trim() == "seg" => current = Some(String::new()),
            (Some(_), Some("")) => out.extend(current.take()),
            (Some(body), _) => {
                body.push_str(line);
                body.push('\n');
            }
            _ => {}
        }
    }
    assert!(
        out.len() >= 25,
        "only {} seg examples in docs/dsl.md",
        out.len()
    );
    out
}

/// A private copy of the test dataset with the saved segments in place.
fn dataset() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    copy_dir(base_dataset(), tmp.path());
    let store = SegmentStore::new(tmp.path());
    for (name, text) in SAVED {
        store.save(name, text).expect("save segment");
    }
    tmp
}

async fn engine(dir: &Path, cluster: Option<Cluster>) -> Engine {
    let config = EngineConfig {
        threads: 2,
        cluster,
        ..EngineConfig::default()
    };
    Engine::open(dir, config).await.expect("open engine")
}

/// Member ids of `text`, in the order the engine returns them.
async fn member_ids(engine: &Engine, text: &str) -> Vec<i64> {
    let seg = engine.parse(text).expect("segment checks");
    let as_of = engine.default_as_of();
    let req = MembersRequest::default();
    let batches: Vec<RecordBatch> = engine
        .members(&seg, as_of, &req)
        .await
        .expect("members")
        .try_collect()
        .await
        .expect("members stream");
    batches
        .iter()
        .flat_map(|b| {
            b.column(0)
                .as_primitive::<arrow::datatypes::Int64Type>()
                .values()
                .to_vec()
        })
        .collect()
}

/// Every report of interest: the four analyses with default parameters,
/// weekly retention, a 30-day lifecycle, 3 RFM bins, and each restricted
/// to a segment.
fn report_requests(
    as_of: chrono::DateTime<chrono::Utc>,
) -> Vec<(ReportKind, String, ReportRequest)> {
    let mut out = Vec::new();
    let base = ReportRequest {
        as_of,
        segment: None,
        params: AnalyticsParams::default(),
        period: CohortPeriod::Month,
    };
    for kind in ReportKind::ALL {
        out.push((kind, "default".to_string(), base.clone()));
    }
    let week = ReportRequest {
        period: CohortPeriod::Week,
        ..base.clone()
    };
    out.push((ReportKind::Retention, "week".into(), week));
    let bins = ReportRequest {
        params: AnalyticsParams {
            bins: Some(3),
            window: None,
        },
        ..base.clone()
    };
    out.push((ReportKind::Rfm, "bins=3".into(), bins));
    let window = ReportRequest {
        params: AnalyticsParams {
            bins: None,
            window: Some(Duration::new(30, TimeUnit::Days)),
        },
        ..base.clone()
    };
    out.push((ReportKind::Lifecycle, "window=30d".into(), window));
    out
}

/// The reports of [`report_requests`], restricted to `segment` when given.
async fn reports(engine: &Engine, segment: Option<&str>) -> Vec<(String, Report)> {
    let mut out = Vec::new();
    for (kind, label, mut req) in report_requests(engine.default_as_of()) {
        req.segment = segment.map(|s| engine.parse(s).expect("segment checks"));
        let report = engine.report(kind, &req).await.unwrap_or_else(|e| {
            panic!("{kind:?} {label} failed: {e}");
        });
        out.push((format!("{kind:?} {label} segment={segment:?}"), report));
    }
    out
}

/// Asserts two reports are the same table for table, row for row. Float64
/// columns (revenue sums, shares) may differ in the last bits because a
/// cluster adds partial sums in another order; everything else is exact.
fn assert_same_report(what: &str, local: &Report, remote: &Report) {
    assert_eq!(local.tables.len(), remote.tables.len(), "{what}");
    for ((name, l), (rname, r)) in local.tables.iter().zip(&remote.tables) {
        assert_eq!(name, rname, "{what}");
        let l = concat_batches(&l[0].schema(), l).expect("concat");
        let r = concat_batches(&r[0].schema(), r).expect("concat");
        assert_eq!(
            l.schema().fields().len(),
            r.schema().fields().len(),
            "{what}/{name}"
        );
        assert_eq!(l.num_rows(), r.num_rows(), "{what}/{name}: row count");
        assert!(l.num_rows() > 0, "{what}/{name}: empty table");
        for (i, (lc, rc)) in l.columns().iter().zip(r.columns()).enumerate() {
            let col = l.schema().field(i).name().clone();
            if lc.data_type() == &DataType::Float64 && rc.data_type() == &DataType::Float64 {
                let (lc, rc) = (
                    lc.as_primitive::<Float64Type>(),
                    rc.as_primitive::<Float64Type>(),
                );
                for row in 0..lc.len() {
                    assert_eq!(
                        lc.is_null(row),
                        rc.is_null(row),
                        "{what}/{name}.{col}[{row}]"
                    );
                    if lc.is_null(row) {
                        continue;
                    }
                    let (a, b) = (lc.value(row), rc.value(row));
                    assert!(
                        (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0),
                        "{what}/{name}.{col}[{row}]: {a} vs {b}"
                    );
                }
            } else {
                assert_eq!(lc.as_ref(), rc.as_ref(), "{what}/{name}.{col}");
            }
        }
    }
}

/// Runs the whole corpus on `remote` and on an embedded engine over the
/// same files, and requires the same answers.
async fn assert_matches_embedded(dir: &Path, remote: &Engine) {
    let local = engine(dir, None).await;
    let as_of = local.default_as_of();
    let mut nonempty = 0;
    for text in doc_segments() {
        let seg = local.parse(&text).expect("doc example checks");
        let n_local = local.count(&seg, as_of).await.expect("embedded count");
        let seg = remote
            .parse(&text)
            .expect("doc example checks on the cluster");
        let n_remote = remote
            .count(&seg, as_of)
            .await
            .unwrap_or_else(|e| panic!("cluster count failed for:\n{text}\n{e}"));
        assert_eq!(n_local, n_remote, "count of:\n{text}");
        let ids_local = member_ids(&local, &text).await;
        let ids_remote = member_ids(remote, &text).await;
        assert_eq!(ids_local.len() as u64, n_local, "{text}");
        assert_eq!(ids_local, ids_remote, "members of:\n{text}");
        nonempty += usize::from(n_local > 0);
    }
    assert!(
        nonempty >= 10,
        "only {nonempty} examples have members: a weak test"
    );

    for segment in [None, Some("consent_email AND count(purchase) >= 2")] {
        let l = reports(&local, segment).await;
        let r = reports(remote, segment).await;
        for ((what, l), (_, r)) in l.iter().zip(&r) {
            assert_same_report(what, l, r);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn standalone_cluster_matches_embedded() {
    let tmp = dataset();
    let remote = engine(tmp.path(), Some(Cluster::Standalone)).await;
    assert_matches_embedded(tmp.path(), &remote).await;
}

/// A free loopback port (bound, then released for the child to take).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A `strata cluster …` child process, killed on drop.
struct ClusterProcess(Child);

impl ClusterProcess {
    fn start(args: &[String]) -> ClusterProcess {
        let child = Command::new(strata_bin())
            .arg("cluster")
            .args(args)
            .env("RUST_LOG", "warn")
            .env("STRATA_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn strata cluster");
        ClusterProcess(child)
    }
}

impl Drop for ClusterProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn scheduler_and_executor_processes_match_embedded() {
    let tmp = dataset();
    let work = tempfile::tempdir().expect("work dir");
    let (sched, flight, grpc) = (free_port(), free_port(), free_port());
    let _scheduler = ClusterProcess::start(&[
        "scheduler".into(),
        "--bind".into(),
        format!("127.0.0.1:{sched}"),
    ]);
    let _executor = ClusterProcess::start(&[
        "executor".into(),
        "--scheduler".into(),
        format!("127.0.0.1:{sched}"),
        "--port".into(),
        flight.to_string(),
        "--grpc-port".into(),
        grpc.to_string(),
        "--concurrent-tasks".into(),
        "2".into(),
        "--work-dir".into(),
        work.path().display().to_string(),
    ]);
    let cluster: Cluster = format!("df://127.0.0.1:{sched}").parse().unwrap();

    // The scheduler takes a moment to listen; the executor to register
    // (until it does, the scheduler holds jobs back).
    let remote = tokio::time::timeout(StdDuration::from_secs(60), async {
        loop {
            match Engine::open(
                tmp.path(),
                EngineConfig {
                    threads: 2,
                    cluster: Some(cluster.clone()),
                    ..EngineConfig::default()
                },
            )
            .await
            {
                Ok(e) => break e,
                Err(_) => tokio::time::sleep(StdDuration::from_millis(200)).await,
            }
        }
    })
    .await
    .expect("the cluster never answered");
    assert_matches_embedded(tmp.path(), &remote).await;

    // The CLI's flag reaches the same cluster.
    let seg = "count(purchase WITHIN 365d) >= 2 AND consent_email";
    let count = |extra: &[&str]| {
        let out = Command::new(strata_bin())
            .args(["count", "--data"])
            .arg(tmp.path())
            .args(extra)
            .arg(seg)
            .output()
            .expect("strata count");
        assert!(
            out.status.success(),
            "strata count {extra:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let on_cluster = count(&["--cluster", &cluster.to_string()]);
    let embedded = count(&[]);
    assert_eq!(on_cluster.trim(), embedded.trim());
    assert!(!embedded.trim().is_empty());
}

#[tokio::test]
async fn unreachable_cluster_is_a_clear_error() {
    let tmp = dataset();
    let port = free_port();
    let err = Engine::open(
        tmp.path(),
        EngineConfig {
            cluster: Some(format!("df://127.0.0.1:{port}").parse().unwrap()),
            ..EngineConfig::default()
        },
    )
    .await
    .expect_err("nothing listens there");
    let msg = err.to_string();
    assert!(
        matches!(err, strata_core::Error::Cluster(_))
            && msg.contains(&format!("df://127.0.0.1:{port}")),
        "{msg}"
    );
}
