//! `strata.v1.IngestService` on a real server: streamed appends, upserts,
//! erasures and optimize reach the next count; retries with a key apply
//! once; bad input, a read token and an oversized stream get their codes
//! and the server keeps serving.

use std::collections::HashMap;

use strata_proto::v1;
use strata_proto::v1::ingest_service_client::IngestServiceClient;
use tonic::Code;
use tonic::transport::Channel;

use crate::support::*;

const ADMIN: &str = "ing-admin";
const READ: &str = "ing-read";

fn with_token<T>(req: T, token: &str) -> tonic::Request<T> {
    let mut r = tonic::Request::new(req);
    r.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    r
}

async fn ingest(server: &TestServer) -> IngestServiceClient<Channel> {
    IngestServiceClient::new(server.channel().await)
}

async fn count(server: &TestServer, dsl: &str) -> (u64, String) {
    let mut c = server.segments().await;
    let r = c
        .count(with_token(count_req(dsl), READ))
        .await
        .unwrap()
        .into_inner();
    (r.count, r.dataset_version)
}

fn append_options(key: &str) -> v1::AppendOptions {
    v1::AppendOptions {
        idempotency_key: key.into(),
        format: v1::InputFormat::JsonLines as i32,
        profile_id_column: "customer".into(),
        time_column: "ts".into(),
        role_columns: HashMap::from([
            ("event_type".to_string(), "kind".to_string()),
            ("amount".to_string(), "total".to_string()),
        ]),
        ..Default::default()
    }
}

/// `text` as a stream of messages of at most `chunk` bytes, the options in
/// the first.
fn chunks(options: v1::AppendOptions, text: &str, chunk: usize) -> Vec<v1::AppendEventsRequest> {
    text.as_bytes()
        .chunks(chunk)
        .enumerate()
        .map(|(i, data)| v1::AppendEventsRequest {
            options: (i == 0).then(|| options.clone()),
            data: data.to_vec(),
        })
        .collect()
}

async fn append(
    c: &mut IngestServiceClient<Channel>,
    token: &str,
    messages: Vec<v1::AppendEventsRequest>,
) -> Result<v1::WriteResult, tonic::Status> {
    c.append_events(with_token(tokio_stream::iter(messages), token))
        .await
        .map(|r| r.into_inner())
}

const EVENTS: &str = concat!(
    r#"{"customer": "ingest-1", "ts": "2025-12-01 10:00:00", "kind": "purchase", "total": 12.5}"#,
    "\n",
    r#"{"customer": "ingest-1", "ts": "2025-12-02 11:00:00", "kind": "purchase", "total": 12.5}"#,
    "\n",
    r#"{"customer": "ingest-2", "ts": "2025-11-20 09:30:00", "kind": "page_view", "total": null}"#,
    "\n",
);
const PROBE: &str = "external_id = 'ingest-1' AND count(purchase WHERE amount = 12.5) >= 2";

#[tokio::test]
async fn streamed_writes_reach_the_next_count_and_retries_apply_once() {
    let server = TestServer::start(&["--token", ADMIN, "--read-token", READ]).await;
    let mut c = ingest(&server).await;
    let (before, _) = count(&server, "count(purchase) >= 1").await;
    assert_eq!(count(&server, PROBE).await.0, 0);

    // Seven-byte chunks: a line is split over several messages.
    let done = append(&mut c, ADMIN, chunks(append_options("day-1"), EVENTS, 7))
        .await
        .unwrap();
    assert_eq!(
        (done.version, done.events_added, done.profiles_created),
        (1, 3, 2)
    );
    assert!(!done.already_applied);
    let (n, version) = count(&server, PROBE).await;
    assert_eq!((n, version), (1, done.dataset_version.clone()));
    assert_eq!(count(&server, "count(purchase) >= 1").await.0, before + 1);

    // The answer was lost; the client retries with the same key.
    let retry = append(
        &mut c,
        ADMIN,
        chunks(append_options("day-1"), EVENTS, 1 << 20),
    )
    .await
    .unwrap();
    assert!(retry.already_applied);
    assert_eq!(retry.version, done.version);
    assert_eq!(
        count(
            &server,
            "count(purchase WHERE amount = 12.5) >= 2 AND external_id = 'ingest-1'"
        )
        .await
        .0,
        1
    );

    let crm = "external_id,loyalty_tier\ningest-1,platinum\n";
    let upsert = v1::UpsertProfilesRequest {
        options: Some(v1::UpsertOptions {
            idempotency_key: "crm-1".into(),
            format: v1::InputFormat::Csv as i32,
            ..Default::default()
        }),
        data: crm.as_bytes().to_vec(),
    };
    let done = c
        .upsert_profiles(with_token(tokio_stream::iter([upsert]), ADMIN))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((done.version, done.profiles_updated), (2, 1));
    let tiered = "external_id = 'ingest-1' AND loyalty_tier = 'platinum'";
    assert_eq!(count(&server, tiered).await.0, 1);

    let optimized = c
        .optimize(with_token(v1::OptimizeRequest::default(), ADMIN))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(optimized.version, 3);
    assert!(optimized.files_removed > 0);
    assert_eq!(count(&server, PROBE).await.0, 1);
    let again = c
        .optimize(with_token(v1::OptimizeRequest::default(), ADMIN))
        .await
        .unwrap()
        .into_inner();
    assert!(again.nothing_written);
    assert_eq!(again.version, 3);

    let forget = v1::ForgetProfilesRequest {
        idempotency_key: "erase-1".into(),
        external_ids: vec!["ingest-1".into(), "nobody".into()],
    };
    let done = c
        .forget_profiles(with_token(forget.clone(), ADMIN))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        (done.version, done.profiles_removed, done.events_removed),
        (4, 1, 2)
    );
    assert_eq!(done.not_found, ["nobody"]);
    assert_eq!(
        count(&server, PROBE).await,
        (0, done.dataset_version.clone())
    );
    let retry = c
        .forget_profiles(with_token(forget, ADMIN))
        .await
        .unwrap()
        .into_inner();
    assert!(retry.already_applied && retry.version == 4);
}

#[tokio::test]
async fn bad_streams_get_their_codes_and_nothing_is_written() {
    let server = TestServer::start(&[
        "--token",
        ADMIN,
        "--read-token",
        READ,
        "--max-ingest-bytes",
        "4KiB",
    ])
    .await;
    let mut c = ingest(&server).await;
    let code = |r: Result<v1::WriteResult, tonic::Status>| {
        r.map(|_| Code::Ok).unwrap_or_else(|s| s.code())
    };

    let r = append(&mut c, READ, chunks(append_options(""), EVENTS, 64)).await;
    assert_eq!(code(r), Code::PermissionDenied);
    let r = append(&mut c, "wrong", chunks(append_options(""), EVENTS, 64)).await;
    assert_eq!(code(r), Code::Unauthenticated);

    let bad = EVENTS.replace("2025-12-02 11:00:00", "yesterday-ish");
    let err = append(&mut c, ADMIN, chunks(append_options(""), &bad, 64))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(err.message().contains("line 2"), "{}", err.message());
    assert!(
        !err.message().contains("/tmp"),
        "no server path: {}",
        err.message()
    );

    let no_options = vec![v1::AppendEventsRequest {
        options: None,
        data: EVENTS.as_bytes().to_vec(),
    }];
    let err = append(&mut c, ADMIN, no_options).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("options"), "{}", err.message());

    let mut unknown_role = append_options("");
    unknown_role
        .role_columns
        .insert("colour".into(), "kind".into());
    let err = append(&mut c, ADMIN, chunks(unknown_role, EVENTS, 64))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("unknown role"), "{}", err.message());

    let big = EVENTS.repeat(60);
    let err = append(&mut c, ADMIN, chunks(append_options(""), &big, 1000))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");

    // Nothing of the above was written, the spool is empty, and the
    // server still answers.
    assert_eq!(count(&server, PROBE).await.0, 0);
    let history = std::fs::read_dir(server.data.join("_strata_log"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".json")
        })
        .count();
    assert_eq!(history, 1, "only version 0 is recorded");
    let spool = server.data.join("_strata_log/incoming");
    let left = std::fs::read_dir(&spool).map_or(0, |d| d.count());
    assert_eq!(left, 0, "the spool is cleaned up");
    let ok = append(&mut c, ADMIN, chunks(append_options(""), EVENTS, 64))
        .await
        .unwrap();
    assert_eq!(ok.version, 1);
}

/// One append of a new customer `live-{i}` with one purchase of 7.77.
fn live_append(i: usize) -> Vec<v1::AppendEventsRequest> {
    let line = format!(
        "{{\"customer\": \"live-{i}\", \"ts\": \"2025-12-{:02} 08:00:00\", \"kind\": \"purchase\", \"total\": 7.77}}\n",
        1 + i % 28
    );
    chunks(append_options(&format!("live-{i}")), &line, 1 << 20)
}

const LIVE: &str = "count(purchase WHERE amount = 7.77) >= 1";
const TIERED: &str = "loyalty_tier = 'streamed'";

/// The writer of the concurrency test: 50 appends, an upsert after the
/// 25th, a forget after the 40th, an optimize at the end. Returns the
/// answers of [`LIVE`] and [`TIERED`] each version it made must give,
/// [`LIVE`] answering `base` before the first.
async fn write_all(server: &TestServer, base: u64) -> HashMap<String, (u64, u64)> {
    let mut c = ingest(server).await;
    let mut expected = HashMap::new();
    let (mut live, mut tiered) = (base, 0u64);
    for i in 1..=50 {
        let r = append(&mut c, ADMIN, live_append(i)).await.unwrap();
        live += 1;
        expected.insert(r.dataset_version, (live, tiered));
        if i == 25 {
            let crm: String = std::iter::once("external_id,loyalty_tier\n".to_string())
                .chain((1..=5).map(|k| format!("live-{k},streamed\n")))
                .collect();
            let upsert = v1::UpsertProfilesRequest {
                options: Some(v1::UpsertOptions {
                    format: v1::InputFormat::Csv as i32,
                    ..Default::default()
                }),
                data: crm.into_bytes(),
            };
            let r = c
                .upsert_profiles(with_token(tokio_stream::iter([upsert]), ADMIN))
                .await
                .unwrap()
                .into_inner();
            tiered = 5;
            expected.insert(r.dataset_version, (live, tiered));
        }
        if i == 40 {
            let forget = v1::ForgetProfilesRequest {
                external_ids: vec!["live-2".into()],
                ..Default::default()
            };
            let r = c
                .forget_profiles(with_token(forget, ADMIN))
                .await
                .unwrap()
                .into_inner();
            (live, tiered) = (live - 1, tiered - 1);
            expected.insert(r.dataset_version, (live, tiered));
        }
    }
    let r = c
        .optimize(with_token(v1::OptimizeRequest::default(), ADMIN))
        .await
        .unwrap()
        .into_inner();
    assert!(!r.nothing_written, "the appends left months to optimize");
    expected.insert(r.dataset_version, (live, tiered));
    expected
}

#[tokio::test]
async fn eight_readers_see_exactly_the_version_each_answer_names_while_writes_run() {
    let server =
        std::sync::Arc::new(TestServer::start(&["--token", ADMIN, "--read-token", READ]).await);
    let initial = count(&server, LIVE).await;
    assert_eq!(count(&server, TIERED).await.0, 0);
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut readers = Vec::new();
    for r in 0..8 {
        let (server, done) = (server.clone(), done.clone());
        readers.push(tokio::spawn(async move {
            let mut c = server.segments().await;
            let mut seen = Vec::new();
            let mut k = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) || k < 4 {
                if r == 7 && k % 2 == 0 {
                    // A member list: it names no version, so its size must
                    // be the answer of one of them.
                    use futures::StreamExt;
                    let mut stream = c
                        .members(with_token(members_req(LIVE), READ))
                        .await
                        .unwrap_or_else(|s| panic!("members, request {k}: {s:?}"))
                        .into_inner();
                    let mut n = 0;
                    while let Some(batch) = stream.next().await {
                        let batch = batch.unwrap_or_else(|s| panic!("members, request {k}: {s:?}"));
                        n += batch.profile_ids.len() as u64;
                    }
                    seen.push(("members", String::new(), n));
                    k += 1;
                    continue;
                }
                let probe = if (r + k) % 2 == 0 { LIVE } else { TIERED };
                let answer = c
                    .count(with_token(count_req(probe), READ))
                    .await
                    .unwrap_or_else(|s| panic!("reader {r}, request {k}: {s:?}"))
                    .into_inner();
                seen.push((probe, answer.dataset_version, answer.count));
                k += 1;
            }
            seen
        }));
    }
    let mut expected = write_all(&server, initial.0).await;
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    expected.insert(initial.1, (initial.0, 0));
    let (mut answers, mut lists) = (0, 0);
    let mut versions = std::collections::BTreeSet::new();
    for reader in readers {
        for (probe, version, n) in reader.await.unwrap() {
            if probe == "members" {
                assert!(
                    expected.values().any(|&(live, _)| live == n),
                    "a list of {n} members"
                );
                lists += 1;
                continue;
            }
            let (live, tiered) = expected.get(&version).unwrap_or_else(|| {
                panic!("an answer names version {version}, which no write made")
            });
            let want = if probe == LIVE { *live } else { *tiered };
            assert_eq!(n, want, "{probe} at {version}");
            versions.insert(version);
            answers += 1;
        }
    }
    eprintln!(
        "{answers} counts over {} versions, {lists} member lists",
        versions.len()
    );
    assert!(versions.len() >= 3, "the readers saw the data change");
    assert_eq!(count(&server, LIVE).await.0, initial.0 + 49);
    assert_eq!(count(&server, TIERED).await.0, 4);
}
