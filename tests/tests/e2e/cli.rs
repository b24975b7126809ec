//! The CLI's client mode: `strata count|members --server URL` give the same
//! answers as embedded mode.

use crate::support::*;

#[tokio::test]
async fn count_and_members_over_grpc_match_embedded() {
    let server = TestServer::start(&["--token", "t0k"]).await;
    let url = server.url();
    let data = server.data.to_str().unwrap();

    let (ok, remote, err) = run_strata(&["count", "--server", &url, "--token", "t0k", SEG]);
    assert!(ok, "{err}");
    let (ok, local, err) = run_strata(&["count", "--data", data, SEG]);
    assert!(ok, "{err}");
    assert_eq!(remote.trim(), local.trim());

    let (ok, remote, err) = run_strata(&[
        "members",
        "--server",
        &url,
        "--token",
        "t0k",
        "--columns",
        "country",
        SEG,
    ]);
    assert!(ok, "{err}");
    let (ok, local, err) = run_strata(&["members", "--data", data, "--columns", "country", SEG]);
    assert!(ok, "{err}");
    assert_eq!(remote, local);
    assert_eq!(remote.lines().count() as u64, local.lines().count() as u64);

    // A value no profile has: the count runs, the warning goes to stderr.
    let gold = "loyalty_tier = 'Gold'";
    let (ok, remote, remote_err) = run_strata(&["count", "--server", &url, "--token", "t0k", gold]);
    assert!(ok, "{remote_err}");
    let (ok, local, local_err) = run_strata(&["count", "--data", data, gold]);
    assert!(ok, "{local_err}");
    assert_eq!((remote.trim(), local.trim()), ("0", "0"));
    for err in [&remote_err, &local_err] {
        assert!(
            err.contains("warning: no profile has `loyalty_tier` = 'Gold'"),
            "{err}"
        );
        assert!(err.contains("did you mean 'gold'?"), "{err}");
    }

    let (ok, _, err) = run_strata(&["count", "--server", &url, SEG]);
    assert!(!ok);
    assert!(err.contains("Unauthenticated"), "{err}");
    let (ok, _, err) = run_strata(&[
        "count",
        "--server",
        &url,
        "--token",
        "t0k",
        "count(purchse) >= 1",
    ]);
    assert!(!ok);
    assert!(err.contains("did you mean `purchase`"), "{err}");
}

#[test]
fn dsl_errors_say_error_once_and_name_the_file() {
    let data = base_dataset().to_str().unwrap();
    let (ok, _, err) = run_strata(&["count", "--data", data, "count(purchse) >= 1"]);
    assert!(!ok);
    assert!(
        err.starts_with("error: unknown event type `purchse`"),
        "{err}"
    );
    assert_eq!(err.matches("error:").count(), 1, "{err}");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lapsed.seg");
    std::fs::write(
        &file,
        "consent_email\n  AND count(purchse WITHIN 90d) = 0\n",
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let (ok, _, err) = run_strata(&["count", "--data", data, "-f", f]);
    assert!(!ok);
    assert!(err.contains(&format!("--> {f}:2:13")), "{err}");

    // A warning from a file names it too, and the count still runs.
    std::fs::write(&file, "loyalty_tier = 'Gold'\n").unwrap();
    let (ok, out, err) = run_strata(&["count", "--data", data, "-f", f]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "0");
    assert!(err.contains(&format!("--> {f}:1:16")), "{err}");
}

#[test]
fn fmt_writes_and_accepts_a_final_newline() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("vip.seg");
    std::fs::write(&file, "rfm.segment in ('champions','loyal')").unwrap();
    let f = file.to_str().unwrap();
    let (ok, _, err) = run_strata(&["fmt", "--check", f]);
    assert!(!ok && err.contains("not formatted"), "{err}");
    let (ok, _, err) = run_strata(&["fmt", f]);
    assert!(ok, "{err}");
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(text, "rfm.segment IN ('champions', 'loyal')\n");
    let (ok, _, err) = run_strata(&["fmt", "--check", f]);
    assert!(ok, "{err}");
}

#[test]
fn save_list_and_delete_segments_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("shop");
    copy_dir(base_dataset(), &data);
    let d = data.to_str().unwrap();

    let (ok, _, err) = run_strata(&[
        "save",
        "--data",
        d,
        "big_buyers",
        "sum(purchase.amount) > 500",
    ]);
    assert!(ok, "{err}");
    let file = dir.path().join("reachable.seg");
    std::fs::write(&file, "IN SEGMENT big_buyers\n  AND consent_email\n").unwrap();
    let f = file.to_str().unwrap();
    let (ok, _, err) = run_strata(&["save", "--data", d, "reachable", "-f", f]);
    assert!(ok, "{err}");

    // The saved segments count like their text.
    let (_, by_name, _) = run_strata(&["count", "--data", d, "IN SEGMENT reachable"]);
    let (_, by_text, _) = run_strata(&[
        "count",
        "--data",
        d,
        "sum(purchase.amount) > 500 AND consent_email",
    ]);
    assert_eq!(by_name.trim(), by_text.trim());
    assert!(by_name.trim().parse::<u64>().unwrap() > 0, "{by_name}");

    let (ok, list, err) = run_strata(&["segments", "--data", d]);
    assert!(ok, "{err}");
    assert!(
        list.contains("big_buyers\n    sum(purchase.amount) > 500\n"),
        "{list}"
    );
    assert!(
        list.contains("reachable\n    IN SEGMENT big_buyers\n      AND consent_email\n"),
        "{list}"
    );

    // A mistake in the file names the file; a name in use is not deleted.
    std::fs::write(&file, "IN SEGMENT big_buyer").unwrap();
    let (ok, _, err) = run_strata(&["save", "--data", d, "broken", "-f", f]);
    assert!(!ok);
    assert!(
        err.contains(&format!("--> {f}:1:12")) && err.contains("big_buyers"),
        "{err}"
    );
    let (ok, _, err) = run_strata(&["delete", "--data", d, "big_buyers"]);
    assert!(!ok);
    assert!(err.contains("is used by 'reachable'"), "{err}");
    let (ok, _, err) = run_strata(&[
        "save",
        "--data",
        d,
        "--create-only",
        "reachable",
        "consent_sms",
    ]);
    assert!(!ok && err.contains("exists already"), "{err}");

    for name in ["reachable", "big_buyers"] {
        let (ok, _, err) = run_strata(&["delete", "--data", d, name]);
        assert!(ok, "{err}");
    }
    let (ok, list, _) = run_strata(&["segments", "--data", d]);
    assert!(ok && list.is_empty(), "{list}");
}

#[test]
fn describe_lists_event_types_properties_and_values() {
    let data = base_dataset().to_str().unwrap();
    let (ok, out, err) = run_strata(&["describe", "--data", data]);
    assert!(ok, "{err}");
    let section = |title: &str| {
        let start = out
            .find(title)
            .unwrap_or_else(|| panic!("{title} in {out}"));
        out[start..]
            .lines()
            .skip(1)
            .take_while(|l| !l.is_empty())
            .collect::<Vec<_>>()
    };
    let types = section("event types");
    assert!(
        types
            .iter()
            .any(|l| l.trim_start().starts_with("purchase ")),
        "{types:?}"
    );
    let attrs = section("profile attributes");
    let tier = attrs
        .iter()
        .find(|l| l.trim_start().starts_with("loyalty_tier "))
        .unwrap();
    assert!(tier.contains("text") && tier.contains("'gold' "), "{tier}");
    let props = section("event properties");
    let amount = props
        .iter()
        .find(|l| l.trim_start().starts_with("amount "))
        .unwrap();
    assert!(amount.contains("number"), "{amount}");
}

#[test]
fn reports_say_what_they_were_computed_with() {
    let data = base_dataset().to_str().unwrap();
    let (ok, out, err) = run_strata(&[
        "lifecycle",
        "--data",
        data,
        "--window",
        "30d",
        "--segment",
        "consent_email",
    ]);
    assert!(ok, "{err}");
    assert!(out.starts_with("lifecycle report\n  as_of     "), "{out}");
    assert!(out.contains("\n  window    30d\n"), "{out}");
    assert!(
        out.contains("\n  scope     the members of: consent_email\n"),
        "{out}"
    );
    // The churned subtotal is below the states, and is dormant + lost.
    let profiles = |state: &str| -> u64 {
        let row = out
            .lines()
            .find(|l| l.starts_with(&format!("| {state} ")))
            .unwrap();
        row.split('|').nth(2).unwrap().trim().parse().unwrap()
    };
    assert!(!out.contains("| churned "), "{out}");
    let churned = out
        .lines()
        .find(|l| l.starts_with("churned (dormant + lost): "))
        .unwrap();
    let n: u64 = churned["churned (dormant + lost): ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(n, profiles("dormant") + profiles("lost"), "{out}");

    let (ok, out, err) = run_strata(&["rfm", "--data", data, "--bins", "4"]);
    assert!(ok, "{err}");
    assert!(
        out.contains("\n  bins      4\n  lookback  every purchase before as_of\n"),
        "{out}"
    );
    assert!(out.contains("(share: of the scored profiles"), "{out}");
}

#[test]
fn members_csv_writes_list_columns_as_json() {
    let data = base_dataset().to_str().unwrap();
    let seg = "consent_email";
    let (ok, csv, err) = run_strata(&["members", "--data", data, "--columns", "interests", seg]);
    assert!(ok, "{err}");
    let (ok, jsonl, err) = run_strata(&[
        "members",
        "--data",
        data,
        "--columns",
        "interests",
        "--format",
        "jsonl",
        seg,
    ]);
    assert!(ok, "{err}");
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("profile_id,interests"));
    let rows: Vec<&str> = lines.collect();
    let json: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), json.len());
    let mut lists = 0;
    for (row, j) in rows.iter().zip(&json) {
        let (id, field) = row.split_once(',').unwrap();
        assert_eq!(id, j["profile_id"].to_string());
        match j.get("interests") {
            Some(list) => {
                // CSV quoting: the JSON text in quotes, its quotes doubled
                // (`[]` needs none).
                let text = field
                    .strip_prefix('"')
                    .and_then(|f| f.strip_suffix('"'))
                    .unwrap_or(field);
                let parsed: serde_json::Value =
                    serde_json::from_str(&text.replace("\"\"", "\"")).unwrap();
                assert_eq!(&parsed, list, "{row}");
                lists += 1;
            }
            None => assert_eq!(field, "", "{row}"),
        }
    }
    assert!(lists > 0, "no profile with interests");
}

#[test]
fn count_by_an_attribute_matches_one_count_per_value() {
    let data = base_dataset().to_str().unwrap();
    let (ok, out, err) = run_strata(&[
        "count",
        "--data",
        data,
        "--by",
        "loyalty_tier",
        "consent_email",
    ]);
    assert!(ok, "{err}");
    let mut lines = out.lines();
    let total: u64 = lines.next().unwrap().parse().unwrap();
    let mut sum = 0;
    for line in lines {
        let mut cols = line.split('\t');
        let (value, n) = (
            cols.next().unwrap(),
            cols.next().unwrap().parse::<u64>().unwrap(),
        );
        let seg = match value {
            "NULL" => "consent_email AND loyalty_tier IS NULL".to_string(),
            v => format!("consent_email AND loyalty_tier = '{v}'"),
        };
        let (_, one, _) = run_strata(&["count", "--data", data, &seg]);
        assert_eq!(one.trim().parse::<u64>().unwrap(), n, "{seg}");
        sum += n;
    }
    assert_eq!(sum, total);
}
