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
