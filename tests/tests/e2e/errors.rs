//! Each error code the API promises, from the real server.

use std::time::Duration;

use strata_proto::v1;
use strata_proto::v1::segment_service_client::SegmentServiceClient;
use tonic::Code;
use tonic_types::StatusExt;

use crate::support::*;

#[tokio::test]
async fn bad_dsl_is_invalid_argument_with_bad_request_details() {
    let server = TestServer::start(&[]).await;
    let mut c = server.segments().await;
    let err = c
        .count(count_req(
            "consent_email AND\ncount(purchse WITHIN 90d) >= 2",
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("2:7"), "{}", err.message());
    let bad = err.get_details_bad_request().expect("BadRequest details");
    let v = &bad.field_violations[0];
    assert_eq!(v.field, "segment");
    assert!(v.description.starts_with("2:7: "), "{}", v.description);
    assert!(
        v.description.contains("did you mean `purchase`"),
        "{}",
        v.description
    );

    // Members, Explain and SaveSegment map the same way.
    let err = collect_ids(&mut c, members_req("country = "))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.get_details_bad_request().is_some());
    let err = c
        .save_segment(v1::SaveSegmentRequest {
            name: "x".into(),
            dsl: "contry = 'US'".into(),
            create_only: false,
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.get_details_bad_request().unwrap().field_violations[0]
            .description
            .contains("country"),
        "{err:?}"
    );
    // Unknown column, bad cursor, bad name, missing segment.
    let mut req = members_req(SEG);
    req.columns = vec!["emial".into()];
    let err = collect_ids(&mut c, req).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("email"), "{}", err.message());
    let mut req = members_req(SEG);
    req.cursor = "garbage".into();
    assert_eq!(
        collect_ids(&mut c, req).await.unwrap_err().code(),
        Code::InvalidArgument
    );
    let err = c
        .get_segment(v1::GetSegmentRequest {
            name: "../etc".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let err = c.count(v1::CountRequest::default()).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn unknown_segment_is_not_found() {
    let server = TestServer::start(&[]).await;
    let mut c = server.segments().await;
    for err in [
        c.count(v1::CountRequest {
            segment: named("nope"),
            ..Default::default()
        })
        .await
        .unwrap_err(),
        c.get_segment(v1::GetSegmentRequest {
            name: "nope".into(),
        })
        .await
        .unwrap_err(),
        c.delete_segment(v1::DeleteSegmentRequest {
            name: "nope".into(),
        })
        .await
        .unwrap_err(),
        c.materialize(v1::MaterializeRequest {
            name: "nope".into(),
            ..Default::default()
        })
        .await
        .unwrap_err(),
    ] {
        assert_eq!(err.code(), Code::NotFound, "{err:?}");
        assert!(
            !err.message().contains(server.data.to_str().unwrap()),
            "{err:?}"
        );
    }
}

#[tokio::test]
async fn over_the_concurrency_limit_is_resource_exhausted() {
    let server =
        TestServer::start(&["--max-concurrent-queries", "1", "--max-queued-queries", "0"]).await;
    let mut holder = server.segments().await;
    // A stream that is not read holds the only slot.
    let stream = holder
        .members(slow_members_req())
        .await
        .unwrap()
        .into_inner();
    let mut c = server.segments().await;
    let mut fresh = count_req(SEG);
    fresh.no_cache = true;
    let err = c.count(fresh.clone()).await.unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    // Health answers all the same.
    assert_eq!(server.health().await, 1);
    // Letting go of the stream frees the slot.
    drop(stream);
    drop(holder);
    let mut ok = false;
    for _ in 0..50 {
        if c.count(fresh.clone()).await.is_ok() {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ok, "slot not released after the client went away");
}

#[tokio::test]
async fn over_the_memory_limit_is_resource_exhausted() {
    // 16 MiB: below the server's own resident memory, so every query is
    // refused, and the server stays up.
    let server = TestServer::start(&["--memory-limit", "16MiB"]).await;
    let mut c = server.segments().await;
    let err = c.count(count_req(SEG)).await.unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    assert!(err.message().contains("memory"), "{}", err.message());
    assert_eq!(server.health().await, 1);
}

#[tokio::test]
async fn client_deadline_is_deadline_exceeded() {
    // The only query slot is held by an unread stream, so a count waits in
    // the queue until its deadline passes; the server answers
    // DEADLINE_EXCEEDED just before the client's own timer would fire.
    let server = TestServer::start(&["--max-concurrent-queries", "1"]).await;
    let mut holder = server.segments().await;
    let _stream = holder
        .members(slow_members_req())
        .await
        .unwrap()
        .into_inner();

    let mut c = server.segments().await;
    let mut req = tonic::Request::new(v1::CountRequest {
        segment: dsl(SEG),
        no_cache: true,
        ..Default::default()
    });
    req.set_timeout(Duration::from_millis(300));
    let err = c.count(req).await.unwrap_err();
    assert_eq!(err.code(), Code::DeadlineExceeded, "{err:?}");
    assert_eq!(server.health().await, 1);

    // The server's cap applies to requests without a deadline.
    let capped = TestServer::start(&["--max-request-timeout", "1ms"]).await;
    let mut c = capped.segments().await;
    let mut req = members_req(SEG);
    req.batch_size = 10;
    let err = collect_ids(&mut c, req).await.unwrap_err();
    assert_eq!(err.code(), Code::DeadlineExceeded, "{err:?}");
}

#[tokio::test]
async fn missing_or_wrong_token_is_unauthenticated() {
    let server = TestServer::start(&["--token", "s3cret"]).await;
    let mut c = server.segments().await;
    assert_eq!(
        c.count(count_req(SEG)).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    let mut wrong = tonic::Request::new(count_req(SEG));
    wrong
        .metadata_mut()
        .insert("authorization", "Bearer nope".parse().unwrap());
    assert_eq!(
        c.count(wrong).await.unwrap_err().code(),
        Code::Unauthenticated
    );
    let mut d = server.datasets().await;
    assert_eq!(
        d.describe(v1::DescribeRequest {}).await.unwrap_err().code(),
        Code::Unauthenticated
    );

    let token: tonic::metadata::MetadataValue<_> = "Bearer s3cret".parse().unwrap();
    let mut authed = SegmentServiceClient::with_interceptor(
        server.channel().await,
        move |mut r: tonic::Request<()>| {
            r.metadata_mut().insert("authorization", token.clone());
            Ok(r)
        },
    );
    assert!(authed.count(count_req(SEG)).await.is_ok());
    // Health stays open for probes.
    assert_eq!(server.health().await, 1);
}

#[tokio::test]
async fn oversized_requests_are_refused_and_the_server_stays_up() {
    let server = TestServer::start(&["--max-request-size", "64KiB"]).await;
    let mut c = server.segments().await;
    let huge = format!("consent_email OR {}", "consent_sms OR ".repeat(10_000)) + "consent_push";
    let err = c.count(count_req(&huge)).await.unwrap_err();
    assert!(
        matches!(
            err.code(),
            Code::OutOfRange | Code::ResourceExhausted | Code::InvalidArgument
        ),
        "{err:?}"
    );
    // Under the message limit but over the segment text limit.
    let server2 = TestServer::start(&[]).await;
    let mut c2 = server2.segments().await;
    let err = c2.count(count_req(&huge)).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(c.count(count_req(SEG)).await.is_ok());
}

#[tokio::test]
async fn errors_do_not_leak_paths() {
    let server = TestServer::start(&[]).await;
    let mut c = server.segments().await;
    // Break a saved segment on disk: it no longer checks.
    std::fs::create_dir_all(server.data.join("segments")).unwrap();
    std::fs::write(server.data.join("segments/broken.seg"), "count(nothing) >").unwrap();
    let err = c
        .count(v1::CountRequest {
            segment: named("broken"),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    let tmp = server.data.parent().unwrap().to_str().unwrap();
    assert!(!err.message().contains(tmp), "{err:?}");
}
