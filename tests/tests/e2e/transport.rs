//! One client must not take the server down: roles (an admin and a read
//! token), the refusal to serve a public address unprotected, and the
//! transport limits (connections, streams per connection, health watches,
//! silent connections).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use strata_proto::v1;
use strata_proto::v1::analytics_service_client::AnalyticsServiceClient;
use tonic::Code;
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use crate::support::*;

/// `req` with `authorization: Bearer token`.
fn with_token<T>(req: T, token: &str) -> tonic::Request<T> {
    let mut r = tonic::Request::new(req);
    r.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    r
}

fn save_req(name: &str) -> v1::SaveSegmentRequest {
    v1::SaveSegmentRequest {
        name: name.into(),
        dsl: "consent_email".into(),
        create_only: false,
    }
}

/// The code of a unary call's result.
fn code<T>(r: Result<tonic::Response<T>, tonic::Status>) -> Code {
    match r {
        Ok(_) => Code::Ok,
        Err(s) => s.code(),
    }
}

#[tokio::test]
async fn read_token_reads_admin_token_also_writes() {
    let server = TestServer::start(&["--token", "adm1n", "--read-token", "r3ad"]).await;
    let mut c = server.segments().await;

    // The read token: every read, no write.
    assert_eq!(
        code(c.count(with_token(count_req(SEG), "r3ad")).await),
        Code::Ok
    );
    let list = v1::ListSegmentsRequest::default();
    assert_eq!(
        code(c.list_segments(with_token(list, "r3ad")).await),
        Code::Ok
    );
    let mut d = server.datasets().await;
    let describe = with_token(v1::DescribeRequest {}, "r3ad");
    assert_eq!(code(d.describe(describe).await), Code::Ok);
    let mut a = AnalyticsServiceClient::new(server.channel().await);
    let rfm = with_token(v1::RfmRequest::default(), "r3ad");
    assert_eq!(code(a.rfm(rfm).await), Code::Ok);
    let err = c
        .save_segment(with_token(save_req("by_reader"), "r3ad"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied, "{err:?}");
    assert!(err.message().contains("admin token"), "{}", err.message());
    let delete = v1::DeleteSegmentRequest {
        name: "by_reader".into(),
    };
    assert_eq!(
        code(c.delete_segment(with_token(delete, "r3ad")).await),
        Code::PermissionDenied
    );
    let materialize = v1::MaterializeRequest {
        name: "by_reader".into(),
        ..Default::default()
    };
    assert_eq!(
        code(c.materialize(with_token(materialize, "r3ad")).await),
        Code::PermissionDenied
    );
    assert!(!server.data.join("segments/by_reader.seg").exists());

    // The admin token: both.
    assert_eq!(
        code(c.count(with_token(count_req(SEG), "adm1n")).await),
        Code::Ok
    );
    let saved = c
        .save_segment(with_token(save_req("by_admin"), "adm1n"))
        .await;
    assert_eq!(code(saved), Code::Ok);

    // No token, a wrong one: UNAUTHENTICATED, reads and writes alike.
    assert_eq!(code(c.count(count_req(SEG)).await), Code::Unauthenticated);
    assert_eq!(
        code(c.save_segment(save_req("anon")).await),
        Code::Unauthenticated
    );
    assert_eq!(
        code(c.count(with_token(count_req(SEG), "adm1n-not")).await),
        Code::Unauthenticated
    );
    // Health stays open.
    assert_eq!(server.health().await, 1);
}

#[tokio::test]
async fn a_read_token_alone_serves_reads_and_no_writes() {
    let server = TestServer::start(&["--read-token", "r3ad"]).await;
    let mut c = server.segments().await;
    assert_eq!(
        code(c.count(with_token(count_req(SEG), "r3ad")).await),
        Code::Ok
    );
    assert_eq!(code(c.count(count_req(SEG)).await), Code::Unauthenticated);
    for token in ["r3ad", "anything"] {
        let r = c.save_segment(with_token(save_req("x"), token)).await;
        assert_eq!(code(r), Code::PermissionDenied, "{token}");
    }
}

/// Spawns `strata serve ARGS` over a copy of the test dataset: whether it
/// printed `listening on` (then it is killed), else its stderr.
fn serve_starts(args: &[&str]) -> Result<(), String> {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("shop");
    copy_dir(base_dataset(), &data);
    let mut child = Command::new(strata_bin())
        .arg("serve")
        .args(args)
        .arg("--data")
        .arg(&data)
        .env("STRATA_LOG", "warn")
        .env_remove("STRATA_TOKEN")
        .env_remove("STRATA_READ_TOKEN")
        .env_remove("STRATA_ALLOW_INSECURE_PUBLIC")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let listening = stdout
        .lines()
        .map_while(Result::ok)
        .any(|l| l.starts_with("listening on "));
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    if listening {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn a_public_address_needs_a_token_tls_or_an_explicit_flag() {
    let err = serve_starts(&["--listen", "0.0.0.0:0"]).unwrap_err();
    assert!(err.contains("--allow-insecure-public"), "{err}");
    assert!(err.contains("0.0.0.0:0"), "{err}");
    serve_starts(&["--listen", "0.0.0.0:0", "--allow-insecure-public"])
        .expect("starts with --allow-insecure-public");
    // A token without TLS: starts (with a warning in the log).
    serve_starts(&["--listen", "0.0.0.0:0", "--token", "t"]).expect("starts with a token");
    // Loopback needs nothing.
    serve_starts(&["--listen", "127.0.0.1:0"]).expect("starts on loopback");
}

fn endpoint(server: &TestServer) -> Endpoint {
    Channel::from_shared(server.url()).unwrap()
}

fn health_req() -> HealthCheckRequest {
    HealthCheckRequest {
        service: String::new(),
    }
}

/// A health check on `channel`, `Some(status)` if answered within `wait`.
async fn check_within(channel: &Channel, wait: Duration) -> Option<i32> {
    let mut h = HealthClient::new(channel.clone());
    let r = tokio::time::timeout(wait, h.check(health_req()))
        .await
        .ok()?;
    Some(r.expect("health check").into_inner().status)
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_until_one_closes() {
    let server = TestServer::start(&["--max-connections", "4"]).await;
    // Four connections, each served.
    let mut open = Vec::new();
    for _ in 0..4 {
        let channel = endpoint(&server).connect().await.expect("connect");
        assert_eq!(
            check_within(&channel, Duration::from_secs(10)).await,
            Some(1)
        );
        open.push(channel);
    }
    // A fifth connects (the kernel queues it) but is not served.
    let extra = tokio::time::timeout(Duration::from_secs(5), endpoint(&server).connect())
        .await
        .expect("the TCP connect waits in the backlog, not in the client")
        .expect("connect");
    assert_eq!(
        check_within(&extra, Duration::from_millis(700)).await,
        None,
        "a connection beyond the limit was served"
    );
    // One closes: the fifth is served, and the others still are.
    drop(open.pop());
    assert_eq!(check_within(&extra, Duration::from_secs(10)).await, Some(1));
    for channel in &open {
        assert_eq!(check_within(channel, Duration::from_secs(5)).await, Some(1));
    }
}

#[tokio::test]
async fn silent_connections_are_closed_after_the_handshake_timeout() {
    use tokio::io::AsyncReadExt;
    let server = TestServer::start(&["--max-connections", "2", "--handshake-timeout", "1s"]).await;
    // Two sockets that never send a byte take every slot ...
    let mut silent = Vec::new();
    for _ in 0..2 {
        silent.push(tokio::net::TcpStream::connect(&server.addr).await.unwrap());
    }
    let start = Instant::now();
    // ... until the server closes them, and serves the next client.
    let channel = endpoint(&server).connect().await.expect("connect");
    assert_eq!(
        check_within(&channel, Duration::from_secs(10)).await,
        Some(1)
    );
    // The server's SETTINGS may come first; then the connection closes.
    for mut s in silent {
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut rest)).await;
        assert!(read.is_ok(), "a silent connection was kept open");
    }
    assert!(
        start.elapsed() >= Duration::from_millis(500),
        "served before the silent connections timed out: the limit did not hold"
    );
}

/// A health Watch stream on `channel`, after its first message.
async fn watch(
    channel: &Channel,
) -> Result<tonic::Streaming<tonic_health::pb::HealthCheckResponse>, tonic::Status> {
    let mut h = HealthClient::new(channel.clone());
    let mut stream = h.watch(health_req()).await?.into_inner();
    let first = stream.next().await.expect("a first status")?;
    assert_eq!(first.status, 1);
    Ok(stream)
}

#[tokio::test]
async fn streams_beyond_max_concurrent_streams_wait_on_the_same_connection() {
    let server = TestServer::start(&["--max-concurrent-streams", "2"]).await;
    let channel = endpoint(&server).connect().await.expect("connect");
    let first = watch(&channel).await.expect("watch 1");
    let mut second = watch(&channel).await.expect("watch 2");
    // A third stream on the connection waits (the client queues it) ...
    assert_eq!(
        check_within(&channel, Duration::from_millis(700)).await,
        None
    );
    // ... and runs once a stream closes; the connection stays up.
    drop(first);
    assert_eq!(
        check_within(&channel, Duration::from_secs(10)).await,
        Some(1)
    );
    let still_open = tokio::time::timeout(Duration::from_millis(200), second.next()).await;
    assert!(still_open.is_err(), "the open watch ended: {still_open:?}");
    assert_eq!(
        check_within(&channel, Duration::from_secs(5)).await,
        Some(1)
    );
}

#[tokio::test]
async fn watch_streams_beyond_the_bound_are_resource_exhausted() {
    let server = TestServer::start(&["--max-health-watches", "2"]).await;
    let channel = server.channel().await;
    let first = watch(&channel).await.expect("watch 1");
    let _second = watch(&channel).await.expect("watch 2");
    let err = watch(&channel).await.unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    // Check is not bounded.
    assert_eq!(
        check_within(&channel, Duration::from_secs(5)).await,
        Some(1)
    );
    // A closed watch frees its slot (once the server sees the cancel).
    drop(first);
    let start = Instant::now();
    loop {
        match watch(&channel).await {
            Ok(_) => break,
            Err(e) if e.code() == Code::ResourceExhausted => {
                assert!(start.elapsed() < Duration::from_secs(5), "slot never freed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("{e:?}"),
        }
    }
}
