//! Python's side: DuckDB reads a materialized membership, Polars and the
//! `deltalake` package read the tables as Delta tables, and the example
//! client in `examples/python` runs against a real server.
//!
//! Needs `STRATA_PYTHON` (a python with the packages of
//! `.ci/requirements.txt`); skipped with a notice without it, unless
//! `STRATA_REQUIRE_PYTHON` is set.

use std::path::{Path, PathBuf};
use std::process::Command;

use strata_proto::v1;

use crate::support::*;

fn python() -> Option<PathBuf> {
    match std::env::var_os("STRATA_PYTHON") {
        Some(p) => Some(PathBuf::from(p)),
        None if std::env::var_os("STRATA_REQUIRE_PYTHON").is_some() => {
            panic!("STRATA_REQUIRE_PYTHON is set but STRATA_PYTHON is not")
        }
        None => {
            eprintln!("notice: STRATA_PYTHON unset; skipping the Python part of this test");
            None
        }
    }
}

/// Runs `script` with `arg` as its `sys.argv[1]`; its stdout.
fn run_script(py: &Path, script: &str, arg: &Path) -> String {
    let out = Command::new(py)
        .arg("-c")
        .arg(script)
        .arg(arg)
        .output()
        .expect("running python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

#[tokio::test]
async fn save_count_materialize_then_duckdb_reads_it() {
    let server = TestServer::start(&[]).await;
    let mut c = server.segments().await;
    let text = "consent_email AND count(purchase) >= 1";
    c.save_segment(v1::SaveSegmentRequest {
        name: "email_buyers".into(),
        dsl: text.into(),
        create_only: true,
    })
    .await
    .unwrap();
    let count = c
        .count(v1::CountRequest {
            segment: named("email_buyers"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .count;
    let m = c
        .materialize(v1::MaterializeRequest {
            name: "email_buyers".into(),
            as_of: None,
            columns: vec!["country".into()],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(m.rows, count);
    let (ids, _) = collect_ids(&mut c, members_req(text)).await.unwrap();

    let Some(py) = python() else { return };
    let script = r#"
import sys, duckdb
con = duckdb.connect()
n, lo, hi, distinct = con.execute(
    "SELECT count(*), min(profile_id), max(profile_id), count(DISTINCT profile_id) "
    "FROM read_parquet(?)", [sys.argv[1] + "/segments/email_buyers/*.parquet"]).fetchone()
cols = [d[0] for d in con.execute("SELECT * FROM read_parquet(?) LIMIT 1", [sys.argv[1] + "/segments/email_buyers/members.parquet"]).description]
print(n, lo, hi, distinct, ",".join(cols))
"#;
    let line = run_script(&py, script, &server.data);
    let f: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(f[0].parse::<u64>().unwrap(), count, "{line}");
    assert_eq!(f[1].parse::<i64>().unwrap(), ids[0], "{line}");
    assert_eq!(f[2].parse::<i64>().unwrap(), *ids.last().unwrap(), "{line}");
    assert_eq!(f[3].parse::<u64>().unwrap(), count, "{line}");
    assert_eq!(f[4], "profile_id,country");
}

#[tokio::test]
async fn polars_and_deltalake_read_the_tables_and_agree() {
    let server = TestServer::start(&[]).await;
    let d = server
        .datasets()
        .await
        .describe(v1::DescribeRequest::default())
        .await
        .unwrap()
        .into_inner();
    let mut c = server.segments().await;
    let buyers = c
        .count(count_req("performed(purchase)"))
        .await
        .unwrap()
        .into_inner()
        .count;

    let Some(py) = python() else { return };
    let script = r#"
import sys, polars as pl
from deltalake import DeltaTable
root = sys.argv[1]
profiles, events = DeltaTable(root + "/profiles"), DeltaTable(root + "/events")
n_profiles = profiles.to_pyarrow_table(columns=["profile_id"]).num_rows
ev = pl.scan_delta(root + "/events")
n_events = ev.select(pl.len()).collect().item()
buyers = (ev.filter(pl.col("event_type") == "purchase")
            .select(pl.col("profile_id").n_unique()).collect().item())
months = ev.select(pl.col("event_month").n_unique()).collect().item()
print(n_profiles, n_events, buyers, months, profiles.version(), events.version(),
      ",".join(events.metadata().partition_columns))
"#;
    let line = run_script(&py, script, &server.data);
    let f: Vec<&str> = line.split_whitespace().collect();
    let events = d.events.unwrap();
    assert_eq!(
        f[0].parse::<u64>().unwrap(),
        d.profiles.unwrap().rows,
        "{line}"
    );
    assert_eq!(f[1].parse::<u64>().unwrap(), events.rows, "{line}");
    assert_eq!(f[2].parse::<u64>().unwrap(), buyers, "{line}");
    assert_eq!(
        f[3].parse::<usize>().unwrap(),
        events.partitions as usize,
        "{line}"
    );
    assert_eq!(&f[4..], ["0", "0", "event_month"], "{line}");
}

#[tokio::test]
async fn python_example_client_runs() {
    let Some(py) = python() else { return };
    let server = TestServer::start(&["--token", "py-token"]).await;
    let args = ["--server", &server.addr, "--token", "py-token", SEG];
    let stdout = run_repo_script(&py, "examples/python/client.py", &args);
    let mut c = server.segments().await;
    let mut req = tonic::Request::new(count_req(SEG));
    req.metadata_mut()
        .insert("authorization", "Bearer py-token".parse().unwrap());
    let n = c.count(req).await.unwrap().into_inner().count;
    assert!(
        stdout.contains(&format!("count: {n} of {PROFILES}")),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("members: {n} ids")), "{stdout}");
    assert!(stdout.contains("error: INVALID_ARGUMENT"), "{stdout}");
    assert!(stdout.contains("did you mean"), "{stdout}");
}

#[tokio::test]
async fn python_ingest_example_appends_once() {
    let Some(py) = python() else { return };
    let server = TestServer::start(&["--token", "py-admin"]).await;
    let args = ["--server", &server.addr, "--token", "py-admin"];
    let args = [&args[..], &["--customer", "py-new-1", "--purchases", "4"]].concat();
    let stdout = run_repo_script(&py, "examples/python/ingest.py", &args);
    assert!(stdout.contains("first: version 1 "), "{stdout}");
    assert!(
        stdout.contains("already_applied=False, events_added=4, profiles_created=1"),
        "{stdout}"
    );
    assert!(stdout.contains("retry: version 1 "), "{stdout}");
    assert!(stdout.contains("already_applied=True"), "{stdout}");
    assert!(stdout.contains("count: 1 "), "{stdout}");
    let mut c = server.segments().await;
    let mut req = tonic::Request::new(count_req(
        "external_id = 'py-new-1' AND count(purchase WHERE amount = 9.99) = 4",
    ));
    req.metadata_mut()
        .insert("authorization", "Bearer py-admin".parse().unwrap());
    assert_eq!(c.count(req).await.unwrap().into_inner().count, 1);
}

/// A real public transactions file (CDNOW, from the `lifetimes` wheel on
/// PyPI): 1997 imported, 1998 appended month by month with the import's
/// flags, five customers forgotten; every count, the event total and a
/// member list equal DuckDB's over the source minus those customers, and
/// no Parquet file holds them (tests/public/cdnow.py).
#[test]
fn a_public_transactions_file_appended_by_month_and_forgotten_matches_duckdb() {
    let Some(py) = python() else { return };
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cdnow");
    let _ = std::fs::remove_dir_all(work.join("cdnow"));
    let (strata, work) = (strata_bin().to_str().unwrap(), work.to_str().unwrap());
    let stdout = run_repo_script(
        &py,
        "tests/public/cdnow.py",
        &["--strata", strata, "--work", work],
    );
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("ok ")).count(),
        11,
        "{stdout}"
    );
}

/// Runs the repository's Python script `script` with `args`; its stdout,
/// after asserting that it succeeded.
fn run_repo_script(py: &Path, script: &str, args: &[&str]) -> String {
    let out = Command::new(py)
        .arg(workspace().join(script))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("running {script}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{script}: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}
