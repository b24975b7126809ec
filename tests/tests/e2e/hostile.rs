//! Hostile and extreme requests: each answered with its documented code,
//! while the server stays up, answers health within a second, and keeps
//! its resident memory under the limit. CI runs these against the shipped
//! binary too (`STRATA_BIN`, the release build with default features).

use std::time::{Duration, Instant};

use futures::StreamExt;
use strata_proto::v1;
use strata_proto::v1::analytics_service_client::AnalyticsServiceClient;
use tonic::Code;
use tonic::codec::CompressionEncoding;

use crate::support::*;

/// The memory limit the hostile servers run with.
const MEMORY_LIMIT: &str = "1GiB";

async fn hostile_server(extra: &[&str]) -> TestServer {
    let mut args = vec!["--memory-limit", MEMORY_LIMIT];
    args.extend_from_slice(extra);
    TestServer::start(&args).await
}

/// The server is alive, answers health within a second, and its resident
/// memory is under the limit.
async fn still_serving(server: &TestServer, after: &str) {
    let started = Instant::now();
    let status = tokio::time::timeout(Duration::from_secs(1), server.health()).await;
    assert_eq!(
        status.ok(),
        Some(tonic_health::pb::health_check_response::ServingStatus::Serving as i32),
        "health did not answer SERVING within 1 s after {after}"
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid()))
        .unwrap_or_else(|_| panic!("the server died after {after}"));
    let rss_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .expect("VmRSS");
    assert!(
        rss_kb < 1 << 20,
        "RSS {rss_kb} kB over the limit after {after}"
    );
}

async fn count_code(server: &TestServer, req: v1::CountRequest) -> Result<u64, tonic::Status> {
    let mut c = server.segments().await;
    let mut req = tonic::Request::new(req);
    req.set_timeout(Duration::from_secs(60));
    c.count(req).await.map(|r| r.into_inner().count)
}

fn assert_code<T: std::fmt::Debug>(r: Result<T, tonic::Status>, code: Code, needle: &str) {
    let err = r.expect_err("the request should fail");
    assert_eq!(err.code(), code, "{}", err.message());
    assert!(
        err.message().contains(needle),
        "'{needle}' not in: {}",
        err.message()
    );
}

fn or_chain(n: usize) -> String {
    (1..=n)
        .map(|k| format!("profile_id > {k}"))
        .collect::<Vec<_>>()
        .join(" OR ")
}

#[tokio::test]
async fn hostile_wide_and_deep_segments() {
    let server = hostile_server(&[]).await;
    let base = count_code(&server, count_req("profile_id > 1"))
        .await
        .unwrap();

    // The 56 KB request that overflowed a worker's stack: a flat OR of
    // 3,000 comparisons is over the documented limit, named.
    let text = or_chain(3000);
    assert!(text.len() > 50_000);
    // The answer's trailers stay small (the diagnostic quotes the 56 KB
    // line, cut): the client sees the server's INVALID_ARGUMENT, not an
    // HTTP/2 error about oversized headers.
    assert_code(
        count_code(&server, count_req(&text)).await,
        Code::InvalidArgument,
        "at most 1000 are allowed",
    );
    still_serving(&server, "a 3,000-term OR").await;

    // At the limit, wide OR and AND chains run and answer right.
    let or = count_code(&server, count_req(&or_chain(1000)))
        .await
        .unwrap();
    assert_eq!(or, base);
    let and = (1..=1000)
        .map(|k| format!("profile_id > {k}"))
        .collect::<Vec<_>>()
        .join(" AND ");
    let and_count = count_code(&server, count_req(&and)).await.unwrap();
    let expected = count_code(&server, count_req("profile_id > 1000"))
        .await
        .unwrap();
    assert_eq!(and_count, expected);
    still_serving(&server, "1,000-term chains").await;

    // Deep nesting, as text and as JSON.
    let deep = format!("{}consent_email{}", "(".repeat(500), ")".repeat(500));
    assert_code(
        count_code(&server, count_req(&deep)).await,
        Code::InvalidArgument,
        "nested too deeply",
    );
    let mut json =
        r#"{"op":"truthy","lhs":{"kind":"field","name":{"name":"consent_email"}}}"#.to_string();
    for _ in 0..2000 {
        json = format!(r#"{{"op":"not","arg":{json}}}"#);
    }
    let req = v1::CountRequest {
        segment: Some(v1::Segment {
            source: Some(v1::segment::Source::Json(format!(r#"{{"expr":{json}}}"#))),
        }),
        ..Default::default()
    };
    assert_eq!(
        count_code(&server, req).await.unwrap_err().code(),
        Code::InvalidArgument
    );
    still_serving(&server, "deep nesting").await;

    // A long IN list (60 KB of text) runs, with the hash lookup.
    let mut values: Vec<String> = (0..7000).map(|i| format!("'x{i}'")).collect();
    values.push("'GB'".into());
    let text = format!("country IN ({})", values.join(", "));
    let listed = count_code(&server, count_req(&text)).await.unwrap();
    let gb = count_code(&server, count_req("country = 'GB'"))
        .await
        .unwrap();
    assert_eq!(listed, gb);
    still_serving(&server, "a 7,000-value IN list").await;
}

async fn save(server: &TestServer, name: &str, dsl: &str) -> Result<(), tonic::Status> {
    let mut c = server.segments().await;
    let mut req = tonic::Request::new(v1::SaveSegmentRequest {
        name: name.into(),
        dsl: dsl.into(),
        create_only: false,
    });
    req.set_timeout(Duration::from_secs(30));
    c.save_segment(req).await.map(|_| ())
}

fn refs(name: &str, n: usize) -> String {
    vec![format!("IN SEGMENT {name}"); n].join(" OR ")
}

#[tokio::test]
async fn hostile_saved_segment_expansion() {
    let server = hostile_server(&[]).await;
    save(&server, "s3", "country = 'GB'").await.unwrap();
    save(&server, "s2", &refs("s3", 30)).await.unwrap();
    // 30 x 30 = 900 conditions: still within the limit, and runs.
    save(&server, "s1", &refs("s2", 30)).await.unwrap();
    let gb = count_code(&server, count_req("country = 'GB'"))
        .await
        .unwrap();
    assert_eq!(
        count_code(&server, count_req("IN SEGMENT s1"))
            .await
            .unwrap(),
        gb
    );
    // A fourth level would be 27,000 conditions: refused when saved.
    let started = Instant::now();
    assert_code(
        save(&server, "s0", &refs("s1", 30)).await,
        Code::InvalidArgument,
        "at most 1000",
    );
    // Widening the innermost one would push s1 over: refused too, naming s1.
    assert_code(
        save(&server, "s3", &["consent_email"; 5].join(" OR ")).await,
        Code::InvalidArgument,
        "segment 's1', which uses it",
    );
    // Two segments referencing each other thousands of times.
    save(&server, "a", "consent_email").await.unwrap();
    save(&server, "b", &refs("a", 900)).await.unwrap();
    let err = save(&server, "a", &refs("b", 900)).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{}", err.message());
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    still_serving(&server, "expansion bombs").await;
    assert_eq!(
        save(&server, "s3", "country = 'GB'")
            .await
            .map_err(|e| e.code()),
        Ok(())
    );
}

#[tokio::test]
async fn hostile_times_and_cursors() {
    let server = hostile_server(&[]).await;
    let extremes = [
        (i64::MAX, 0),
        (i64::MIN, 0),
        (-62_135_596_800, 0), // 0001-01-01
        (253_402_300_800, 0), // 10000-01-01
        (-2_208_988_801, 0),  // 1899-12-31T23:59:59
        (0, -1),
        (0, 2_000_000_000),
    ];
    let mut analytics = AnalyticsServiceClient::new(server.channel().await);
    for (seconds, nanos) in extremes {
        let as_of = Some(v1::AsOf {
            time: Some(prost_types::Timestamp { seconds, nanos }),
        });
        let mut req = count_req(SEG);
        req.as_of = as_of;
        let what = format!("as_of {seconds}s {nanos}ns");
        assert_eq!(
            count_code(&server, req).await.unwrap_err().code(),
            Code::InvalidArgument,
            "{what}"
        );
        let mut req = members_req(SEG);
        req.as_of = as_of;
        let mut c = server.segments().await;
        assert_eq!(
            collect_ids(&mut c, req).await.unwrap_err().code(),
            Code::InvalidArgument,
            "{what}"
        );
        let r = analytics
            .retention(v1::RetentionRequest {
                as_of,
                ..Default::default()
            })
            .await;
        assert_eq!(r.unwrap_err().code(), Code::InvalidArgument, "{what}");
        let r = analytics
            .rfm(v1::RfmRequest {
                as_of,
                ..Default::default()
            })
            .await;
        assert_eq!(r.unwrap_err().code(), Code::InvalidArgument, "{what}");
        still_serving(&server, &what).await;
    }
    // The last year accepted: a weekly triangle to year 9999 would have
    // millions of cells, refused as over the report limit.
    let as_of = Some(v1::AsOf {
        time: Some(prost_types::Timestamp {
            seconds: 253_402_300_799, // 9999-12-31T23:59:59
            nanos: 0,
        }),
    });
    for period in [1, 2] {
        let r = analytics
            .retention(v1::RetentionRequest {
                as_of,
                period,
                ..Default::default()
            })
            .await;
        assert_code(r, Code::ResourceExhausted, "retention triangle");
    }
    let mut req = count_req(SEG);
    req.as_of = as_of;
    count_code(&server, req).await.unwrap();
    still_serving(&server, "as_of 9999").await;

    for cursor in [
        "m1.9223372036854775807.5",
        "m1.-9223372036854775808.1",
        "m1.-62135596800000000.1",
        "m1.0.9223372036854775807",
    ] {
        let mut req = members_req(SEG);
        req.cursor = cursor.into();
        let mut c = server.segments().await;
        match collect_ids(&mut c, req).await {
            // After the largest id there is nobody; 1970 is in range.
            Ok((ids, _)) => assert!(
                cursor.ends_with("9223372036854775807") && ids.is_empty(),
                "{cursor}"
            ),
            Err(e) => assert_eq!(e.code(), Code::InvalidArgument, "{cursor}"),
        }
    }
    still_serving(&server, "extreme cursors").await;
}

#[tokio::test]
async fn hostile_columns_and_slow_readers() {
    let server = hostile_server(&[
        "--stream-idle-timeout",
        "2s",
        "--max-concurrent-queries",
        "1",
    ])
    .await;
    let mut c = server.segments().await;
    for columns in [
        vec!["email", "email"],
        vec!["profile_id"],
        vec!["email", "no_such_column"],
    ] {
        let mut req = members_req(SEG);
        req.columns = columns.iter().map(|s| s.to_string()).collect();
        let err = collect_ids(&mut c, req).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{columns:?}");
    }

    // A client that reads one batch and then nothing holds the only slot
    // until the idle timeout; then a count gets it, and the stalled
    // stream, read again, ends with an error, never with OK.
    let mut stalled = c.members(slow_members_req()).await.unwrap().into_inner();
    stalled.next().await.unwrap().unwrap();
    let started = Instant::now();
    let mut req = tonic::Request::new(count_req("consent_email"));
    req.set_timeout(Duration::from_secs(30));
    let mut other = server.segments().await;
    other.count(req).await.unwrap();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1500) && waited < Duration::from_secs(20),
        "{waited:?}"
    );
    let mut end = None;
    while let Some(item) = stalled.next().await {
        if let Err(status) = item {
            end = Some(status);
            break;
        }
    }
    let end = end.expect("a stalled stream ended with OK");
    assert_eq!(end.code(), Code::DeadlineExceeded, "{}", end.message());
    assert!(
        end.message().contains("stream-idle-timeout"),
        "{}",
        end.message()
    );
    still_serving(&server, "a slow reader").await;
}

#[tokio::test]
async fn hostile_bodies() {
    let server = hostile_server(&[]).await;
    // Over the 1 MiB request limit, plain and gzip-compressed (10 MiB that
    // compress to a few KB).
    for compressed in [false, true] {
        let mut c = server.segments().await;
        if compressed {
            c = c.send_compressed(CompressionEncoding::Gzip);
        }
        let text = format!("country = '{}'", "x".repeat(10 << 20));
        let err = c.count(count_req(&text)).await.unwrap_err();
        assert!(
            matches!(
                err.code(),
                Code::ResourceExhausted | Code::InvalidArgument | Code::OutOfRange
            ),
            "{:?}: {}",
            err.code(),
            err.message()
        );
        still_serving(&server, "an oversized body").await;
    }
    // Under the request limit but over the segment text limit.
    let text = format!("country = '{}'", "x".repeat(100_000));
    assert_code(
        count_code(&server, count_req(&text)).await,
        Code::InvalidArgument,
        "bytes",
    );
    still_serving(&server, "a long segment").await;
}
