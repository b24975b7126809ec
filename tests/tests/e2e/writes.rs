//! `strata upsert-profiles`, `strata forget`, `strata append` and
//! `strata optimize` from the CLI: the engine and Python's Delta readers see what they wrote, and a
//! write killed at any of its crash points leaves the dataset at the old
//! version or the new one, after which the same command succeeds.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::*;

/// A fresh copy of the test dataset, `name` under cargo's tmp directory.
fn fresh(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(base_dataset(), &dir);
    dir
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn count(data: &Path, dsl: &str) -> u64 {
    let (ok, out, err) = run_strata(&["count", "--data", s(data), dsl]);
    assert!(ok, "count {dsl}: {err}");
    out.trim().parse().unwrap()
}

/// The latest dataset version, from `strata history`.
fn version(data: &Path) -> u64 {
    let (ok, out, err) = run_strata(&["history", "--data", s(data)]);
    assert!(ok, "{err}");
    out.lines()
        .last()
        .and_then(|l| l.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no version in {out}"))
}

/// The first `n` external ids of profiles that made a purchase.
fn buyers(data: &Path, n: usize) -> Vec<String> {
    let limit = n.to_string();
    let (ok, out, err) = run_strata(&[
        "members",
        "--data",
        s(data),
        "performed(purchase)",
        "--columns",
        "external_id",
        "--limit",
        &limit,
    ]);
    assert!(ok, "{err}");
    let ids: Vec<String> = out
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), n, "{out}");
    ids
}

#[test]
fn upserted_columns_and_forgotten_customers_reach_the_engine_and_python() {
    let data = fresh("writes-readers");
    let ids = buyers(&data, 3);
    let buyers_before = count(&data, "performed(purchase)");
    let csv = data.with_extension("crm.csv");
    std::fs::write(
        &csv,
        format!(
            "external_id,vip,loyalty_tier\n{},yes,platinum\n{},yes,\nbrand-new,yes,gold\n",
            ids[0], ids[1]
        ),
    )
    .unwrap();
    let args = ["upsert-profiles", "--data", s(&data), "--profiles", s(&csv)];
    let (ok, _, err) = run_strata(&args);
    assert!(!ok && err.contains("--add-columns"), "{err}");
    let (ok, out, err) = run_strata(&[&args[..], &["--add-columns"]].concat());
    assert!(ok, "{err}");
    assert!(out.contains("2 profiles updated, 1 created"), "{out}");
    // Files written before the column read it as NULL.
    assert_eq!(count(&data, "vip = 'yes'"), 3);
    assert_eq!(count(&data, "vip IS NULL"), PROFILES - 2);
    assert_eq!(
        count(
            &data,
            &format!("external_id = '{}' AND loyalty_tier IS NULL", ids[1])
        ),
        1
    );
    // The version before the upsert reads as it was.
    let at0 = [
        "count",
        "--data",
        s(&data),
        "--at-version",
        "0",
        "external_id = 'brand-new'",
    ];
    let (ok, out, err) = run_strata(&at0);
    assert!(
        ok && out.trim() == "0" && err.contains("dataset version 0"),
        "{out} {err}"
    );
    assert_eq!(count(&data, "external_id = 'brand-new'"), 1);

    let (ok, out, err) = run_strata(&[
        "forget",
        "--data",
        s(&data),
        "--external-id",
        &ids[0],
        "--external-id",
        "nobody",
    ]);
    assert!(ok, "{err}");
    assert!(
        out.contains("forgot 1 profiles") && out.contains("nobody"),
        "{out}"
    );
    assert_eq!(count(&data, &format!("external_id = '{}'", ids[0])), 0);
    assert_eq!(count(&data, "performed(purchase)"), buyers_before - 1);
    assert_eq!(count(&data, "vip = 'yes'"), 2);
    // Versions before the erasure are gone, and say so.
    let (ok, _, err) = run_strata(&at0);
    assert!(!ok && err.contains("can no longer be read"), "{err}");

    let Some(py) = std::env::var_os("STRATA_PYTHON") else {
        assert!(
            std::env::var_os("STRATA_REQUIRE_PYTHON").is_none(),
            "STRATA_REQUIRE_PYTHON is set but STRATA_PYTHON is not"
        );
        eprintln!("notice: STRATA_PYTHON unset; skipping the Python part of this test");
        return;
    };
    let script = r#"
import sys, polars as pl
from deltalake import DeltaTable
root, gone = sys.argv[1], sys.argv[2]
p = pl.scan_delta(root + "/profiles")
vip = p.filter(pl.col("vip") == "yes").select(pl.len()).collect().item()
gone_ids = p.filter(pl.col("external_id") == gone).select(pl.len()).collect().item()
ev = DeltaTable(root + "/events").to_pyarrow_table(columns=["profile_id"])
buyers = (pl.scan_delta(root + "/events").filter(pl.col("event_type") == "purchase")
          .select(pl.col("profile_id").n_unique()).collect().item())
print(vip, gone_ids, buyers, DeltaTable(root + "/profiles").version())
"#;
    let out = Command::new(py)
        .args(["-c", script, s(&data), &ids[0]])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let f: Vec<&str> = stdout.split_whitespace().collect();
    assert_eq!(f[0], "2", "{stdout}");
    assert_eq!(f[1], "0", "{stdout}");
    assert_eq!(f[2].parse::<u64>().unwrap(), buyers_before - 1, "{stdout}");
    assert_eq!(f[3], "2", "{stdout}");
}

/// Runs `args` (a write to a copy of `template`; `DATA` stands for the
/// copy) with a crash armed at point 1, 2, ... until it finishes. After
/// each crash the dataset must read as the old version (its version and
/// `probe`'s count on `template`) or the new one (`new`), no erasure may be
/// left half done after a rerun, and the same command must then succeed
/// with the new answer. Returns the number of crash points passed.
fn crash_everywhere(template: &Path, args: &[&str], probe: &str, new: u64) -> u64 {
    let old = (version(template), count(template, probe));
    let done = (old.0 + 1, new);
    for n in 1.. {
        let dir = template.with_extension(format!("crash-{n}"));
        let _ = std::fs::remove_dir_all(&dir);
        copy_dir(template, &dir);
        let args: Vec<&str> = args
            .iter()
            .map(|a| if *a == "DATA" { s(&dir) } else { a })
            .collect();
        let run = Command::new(strata_bin())
            .args(&args)
            .env("STRATA_FAULT_AT", n.to_string())
            .output()
            .unwrap();
        if run.status.success() {
            assert_eq!(
                (version(&dir), count(&dir, probe)),
                done,
                "{args:?} finished"
            );
            let _ = std::fs::remove_dir_all(&dir);
            return n - 1;
        }
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(
            stderr.contains("crashing at"),
            "{args:?} at point {n}: {stderr}"
        );
        let state = (version(&dir), count(&dir, probe));
        assert!(
            state == old || state == done,
            "{args:?} killed at point {n} ({stderr}): version and {probe} {state:?}, expected {old:?} or {done:?}"
        );
        let (ok, _, err) = run_strata(&args);
        assert!(ok, "{args:?} after a crash at point {n}: {err}");
        assert_eq!(
            (version(&dir), count(&dir, probe)),
            done,
            "{args:?} rerun after point {n}"
        );
        assert!(
            !dir.join("_strata_log/erasure.json").exists(),
            "an erasure left half done"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
    unreachable!()
}

#[test]
fn writes_killed_at_every_crash_point_leave_the_old_or_the_new_version() {
    let data = fresh("writes-crash");
    let who = buyers(&data, 1).remove(0);
    let apply = |args: &[&str]| {
        let args: Vec<&str> = args
            .iter()
            .map(|a| if *a == "DATA" { s(&data) } else { a })
            .collect();
        let (ok, _, err) = run_strata(&args);
        assert!(ok, "{err}");
    };

    // An append over four months: a new customer and a known one. The
    // idempotency key makes the rerun after a crash past the version
    // record a no-op, as a client's retry would be.
    let csv = data.with_extension("late.csv");
    let mut rows = String::from("customer,ts,kind,total\n");
    for (c, day) in [
        ("late-1", "2025-09-03"),
        (&who, "2025-10-04"),
        ("late-1", "2025-11-05"),
        (&who, "2025-12-06"),
    ] {
        rows.push_str(&format!("{c},{day} 10:00:00,purchase,12.5\n"));
    }
    std::fs::write(&csv, rows).unwrap();
    let append = [
        "append",
        "--data",
        "DATA",
        "--events",
        s(&csv),
        "--profile-id",
        "customer",
        "--time",
        "ts",
        "--event-type",
        "kind",
        "--amount",
        "total",
        "--idempotency-key",
        "late-1",
    ];
    let probe = format!(
        "external_id = 'late-1' OR (external_id = '{who}' AND count(purchase WHERE amount = 12.5) >= 2)"
    );
    let points = crash_everywhere(&data, &append, &probe, 2);
    eprintln!("append: {points} crash points");
    assert!(points >= 10, "append passed {points} crash points");
    apply(&append);

    let crm = data.with_extension("crm.csv");
    std::fs::write(
        &crm,
        format!("external_id,loyalty_tier\n{who},platinum\nlate-2,gold\n"),
    )
    .unwrap();
    let upsert = [
        "upsert-profiles",
        "--data",
        "DATA",
        "--profiles",
        s(&crm),
        "--idempotency-key",
        "crm-1",
    ];
    let tiers =
        format!("(external_id = '{who}' AND loyalty_tier = 'platinum') OR external_id = 'late-2'");
    let points = crash_everywhere(&data, &upsert, &tiers, 2);
    eprintln!("upsert-profiles: {points} crash points");
    assert!(points >= 6, "upsert passed {points} crash points");
    apply(&upsert);

    // The append left four months overlapping and small profile files;
    // optimize rewrites them, and no answer changes.
    let optimize = [
        "optimize",
        "--data",
        "DATA",
        "--idempotency-key",
        "nightly-1",
    ];
    let spenders = "sum(purchase.amount WITHIN 120d) > 20 OR loyalty_tier = 'platinum'";
    let points = crash_everywhere(&data, &optimize, spenders, count(&data, spenders));
    eprintln!("optimize: {points} crash points");
    assert!(points >= 20, "optimize passed {points} crash points");
    apply(&optimize);

    let forget = ["forget", "--data", "DATA", "--external-id", &who];
    let known = format!("external_id = '{who}' OR external_id = 'late-1'");
    let points = crash_everywhere(&data, &forget, &known, 1);
    eprintln!("forget: {points} crash points");
    assert!(points >= 20, "forget passed {points} crash points");
    apply(&forget);

    // Without retention, only the latest version's files stay; the
    // answers do not move.
    let before = count(&data, spenders);
    let (ok, out, err) = run_strata(&["vacuum", "--data", s(&data), "--retain", "0h"]);
    assert!(ok && out.contains("deleted"), "{out}{err}");
    assert_eq!(count(&data, spenders), before);
    let (ok, _, err) = run_strata(&["vacuum", "--data", s(&data), "--retain", "7x"]);
    assert!(!ok && err.contains("use h, d or w"), "{err}");
}

#[test]
fn two_appenders_at_once_both_land_and_nothing_is_lost_or_doubled() {
    let data = fresh("writes-two-appenders");
    let mut children = Vec::new();
    for who in ["twin-a", "twin-b"] {
        let csv = data.with_extension(format!("{who}.csv"));
        let mut rows = String::from("customer,ts,kind,total\n");
        for day in 1..=20 {
            rows.push_str(&format!("{who},2025-12-{day:02} 10:00:00,purchase,3.5\n"));
        }
        std::fs::write(&csv, rows).unwrap();
        let child = Command::new(strata_bin())
            .args(["append", "--data", s(&data), "--events", s(&csv)])
            .args(["--profile-id", "customer", "--time", "ts"])
            .args(["--event-type", "kind", "--amount", "total"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        children.push(child);
    }
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(version(&data), 2, "two versions, one per appender");
    for who in ["twin-a", "twin-b"] {
        let exactly = format!("external_id = '{who}' AND count(purchase WHERE amount = 3.5) = 20");
        assert_eq!(count(&data, &exactly), 1, "{who}");
    }
}
