//! A client that goes away mid-stream stops its query: the slot is freed
//! and the server's CPU goes quiet.

use std::time::Duration;

use futures::StreamExt;

use crate::support::*;

#[tokio::test]
async fn client_disconnecting_mid_stream_stops_the_query() {
    let server =
        TestServer::start(&["--max-concurrent-queries", "1", "--max-queued-queries", "0"]).await;
    // Many small batches: the query cannot finish into the buffers.
    let mut c = server.segments().await;
    let mut stream = c.members(slow_members_req()).await.unwrap().into_inner();
    let mut got = 0;
    while got < 10 {
        got += stream.next().await.unwrap().unwrap().profile_ids.len();
    }
    // The server is blocked on a full stream: the only slot is taken.
    let mut other = server.segments().await;
    let mut fresh = count_req(SEG);
    fresh.no_cache = true;
    assert_eq!(
        other.count(fresh).await.unwrap_err().code(),
        tonic::Code::ResourceExhausted
    );
    // Walk away mid-stream.
    drop(stream);
    drop(c);
    tokio::time::sleep(Duration::from_millis(300)).await;

    // CPU goes quiet: under 10% of one core over the next second.
    let before = server.cpu_time();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let used = server.cpu_time() - before;
    assert!(
        used < Duration::from_millis(100),
        "server used {used:?} of CPU after the client left"
    );

    // And the only query slot is free again.
    let mut c = server.segments().await;
    let mut fresh = count_req(SEG);
    fresh.no_cache = true;
    c.count(fresh).await.expect("slot freed after disconnect");
    assert_eq!(server.health().await, 1);
}

#[tokio::test]
async fn deadline_mid_stream_stops_the_stream_with_deadline_exceeded() {
    let server = TestServer::start(&[]).await;
    let mut c = server.segments().await;
    let mut req = tonic::Request::new(slow_members_req());
    req.set_timeout(Duration::from_millis(500));
    let mut stream = c.members(req).await.unwrap().into_inner();
    // Read slowly so the deadline passes mid-stream.
    let mut last = None;
    let mut received = 0;
    while let Some(item) = stream.next().await {
        match item {
            Ok(b) => {
                received += b.profile_ids.len();
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(e) => {
                last = Some(e);
                break;
            }
        }
    }
    let err = last.unwrap_or_else(|| panic!("stream ended without error after {received} ids"));
    assert!(
        matches!(
            err.code(),
            tonic::Code::DeadlineExceeded | tonic::Code::Cancelled
        ),
        "{err:?}"
    );
    assert_eq!(server.health().await, 1);
}
