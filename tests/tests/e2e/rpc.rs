//! Every RPC of SegmentService and DatasetService, on the happy path.

use strata_proto::v1;

use crate::support::*;

#[tokio::test]
async fn validate_reports_line_column_and_suggestion() {
    let server = TestServer::start(&[]).await;
    let mut c = server.segments().await;

    let ok = c
        .validate(v1::ValidateRequest {
            dsl: "consent_email   AND count(purchase WITHIN 90d)>=2".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(ok.valid, "{ok:?}");
    assert!(ok.diagnostics.is_empty());
    assert!(!ok.canonical.is_empty());

    let bad = c
        .validate(v1::ValidateRequest {
            dsl: "consent_email AND\n  count(purchse WITHIN 90d) >= 2".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!bad.valid);
    let d = &bad.diagnostics[0];
    assert_eq!((d.line, d.column), (2, 9), "{d:?}");
    assert!(d.message.contains("purchse"), "{d:?}");
    assert!(d.suggestion.contains("purchase"), "{d:?}");
    assert_eq!(d.replacement, "purchase");
    assert!(bad.rendered.contains('^'), "{}", bad.rendered);
}

#[tokio::test]
async fn count_and_validate_warn_of_a_value_no_profile_or_event_has() {
    let server = TestServer::start(&[]).await;
    let mut c = server.segments().await;
    let r = c
        .count(count_req("loyalty_tier = 'Gold'"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.count, 0);
    let [w] = &r.warnings[..] else {
        panic!("one warning: {r:?}")
    };
    assert_eq!(w.severity(), v1::Severity::Warning);
    assert_eq!(
        (w.line, w.column, w.start_byte, w.end_byte),
        (1, 16, 15, 21)
    );
    assert!(
        w.message.contains("no profile has `loyalty_tier` = 'Gold'"),
        "{w:?}"
    );
    assert!(
        w.expected.contains("'gold'") && w.expected.contains("'silver'"),
        "{w:?}"
    );
    assert_eq!(w.replacement, "'gold'");

    // A cached answer keeps its warning; a known value has none.
    let again = c
        .count(count_req("loyalty_tier = 'Gold'"))
        .await
        .unwrap()
        .into_inner();
    assert!(again.cached && again.warnings.len() == 1, "{again:?}");
    let known = c
        .count(count_req("loyalty_tier = 'gold'"))
        .await
        .unwrap()
        .into_inner();
    assert!(known.count > 0 && known.warnings.is_empty(), "{known:?}");

    let v = c
        .validate(v1::ValidateRequest {
            dsl: "count(purchase WHERE category IN ('shoes', 'toys')) > 0".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(v.valid && v.diagnostics.is_empty(), "{v:?}");
    assert_eq!(v.warnings.len(), 1, "{v:?}");
    assert!(
        v.rendered_warnings
            .starts_with("warning: no event has `category` = 'toys'"),
        "{}",
        v.rendered_warnings
    );
}

#[tokio::test]
async fn count_is_cached_per_dataset_version() {
    let server = TestServer::start(&[]).await;
    let mut c = server.segments().await;
    let first = c.count(count_req(SEG)).await.unwrap().into_inner();
    assert!(first.count > 0 && first.count <= PROFILES, "{first:?}");
    assert_eq!(first.total_profiles, PROFILES);
    assert!(!first.cached);
    assert!(first.as_of.is_some() && first.elapsed.is_some());

    // The same segment written differently is the same cache entry.
    let again = c
        .count(count_req("count( purchase )>=1  "))
        .await
        .unwrap()
        .into_inner();
    assert!(again.cached, "{again:?}");
    assert_eq!(again.count, first.count);
    assert_eq!(again.dataset_version, first.dataset_version);

    // Another as_of is another entry.
    let mut other = count_req(SEG);
    other.as_of = Some(v1::AsOf {
        time: Some(prost_types::Timestamp {
            seconds: 1_700_000_000,
            nanos: 0,
        }),
    });
    let other = c.count(other).await.unwrap().into_inner();
    assert!(!other.cached);
    assert!(other.count <= first.count);

    // A write to the dataset changes the version and so invalidates.
    c.save_segment(v1::SaveSegmentRequest {
        name: "buyers".into(),
        dsl: SEG.into(),
        create_only: false,
    })
    .await
    .unwrap();
    let after = c.count(count_req(SEG)).await.unwrap().into_inner();
    assert_ne!(after.dataset_version, first.dataset_version);
    assert!(!after.cached, "{after:?}");
    assert_eq!(after.count, first.count);

    // no_cache runs the query even when cached.
    let mut fresh = count_req(SEG);
    fresh.no_cache = true;
    assert!(!c.count(fresh).await.unwrap().into_inner().cached);
}

#[tokio::test]
async fn explain_shows_plans() {
    let server = TestServer::start(&[]).await;
    let mut c = server.segments().await;
    let e = c
        .explain(v1::ExplainRequest {
            segment: dsl("consent_email AND count(purchase WITHIN 90d) >= 1"),
            as_of: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!e.logical.is_empty() && !e.optimized.is_empty() && !e.physical.is_empty());
    assert!(
        e.physical.contains("DataSourceExec") || e.physical.contains("Parquet"),
        "{}",
        e.physical
    );
}

#[tokio::test]
async fn members_stream_every_id_in_order_and_resume() {
    let server = TestServer::start(&[]).await;
    let mut c = server.segments().await;
    let count = c.count(count_req(SEG)).await.unwrap().into_inner().count;

    let mut req = members_req(SEG);
    req.batch_size = 100;
    let (ids, batches) = collect_ids(&mut c, req).await.unwrap();
    assert_eq!(ids.len() as u64, count);
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "ids not strictly ascending"
    );
    assert!(batches.len() > 2);
    assert!(batches.iter().all(|b| b.profile_ids.len() <= 100));
    assert_eq!(batches.last().unwrap().sent, count);

    // Resume after the second batch with its cursor: the rest, exactly.
    let mut resume = members_req(SEG);
    resume.cursor = batches[1].cursor.clone();
    let (rest, _) = collect_ids(&mut c, resume).await.unwrap();
    assert_eq!(rest.as_slice(), &ids[200..]);

    // limit
    let mut limited = members_req(SEG);
    limited.limit = 7;
    let (first7, _) = collect_ids(&mut c, limited).await.unwrap();
    assert_eq!(first7.as_slice(), &ids[..7]);
}

#[tokio::test]
async fn members_with_columns_as_arrow_ipc() {
    let server = TestServer::start(&[]).await;
    let mut c = server.segments().await;
    let mut req = members_req("consent_email");
    req.columns = vec!["email".into(), "country".into()];
    req.batch_size = 500;
    let (ids, batches) = collect_ids(&mut c, req).await.unwrap();
    let mut rows = 0;
    let mut ipc_ids = Vec::new();
    for b in &batches {
        let reader =
            arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(&b.arrow_ipc), None)
                .unwrap();
        for batch in reader {
            let batch = batch.unwrap();
            let names: Vec<_> = batch
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect();
            assert_eq!(names, ["profile_id", "email", "country"]);
            rows += batch.num_rows();
            let col = batch
                .column(0)
                .as_any()
                .downcast_ref::<arrow::array::Int64Array>()
                .unwrap();
            ipc_ids.extend(col.values().iter().copied());
        }
    }
    assert_eq!(rows, ids.len());
    assert_eq!(ipc_ids, ids);
}

#[tokio::test]
async fn saved_segments_crud_and_reference() {
    let server = TestServer::start(&[]).await;
    let mut c = server.segments().await;
    let saved = c
        .save_segment(v1::SaveSegmentRequest {
            name: "email_ok".into(),
            dsl: "consent_email".into(),
            create_only: true,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(saved.name, "email_ok");
    assert!(server.data.join("segments/email_ok.seg").is_file());

    let got = c
        .get_segment(v1::GetSegmentRequest {
            name: "email_ok".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.dsl, "consent_email");

    c.save_segment(v1::SaveSegmentRequest {
        name: "email_buyers".into(),
        dsl: format!("IN SEGMENT email_ok AND {SEG}"),
        create_only: false,
    })
    .await
    .unwrap();
    let list = c
        .list_segments(v1::ListSegmentsRequest {})
        .await
        .unwrap()
        .into_inner();
    let names: Vec<_> = list.segments.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["email_buyers", "email_ok"]);

    // Count by name equals the inline definition.
    let by_name = c
        .count(v1::CountRequest {
            segment: named("email_buyers"),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .count;
    let inline = c
        .count(count_req(&format!("consent_email AND {SEG}")))
        .await
        .unwrap()
        .into_inner()
        .count;
    assert_eq!(by_name, inline);

    let exists = c
        .save_segment(v1::SaveSegmentRequest {
            name: "email_ok".into(),
            dsl: "consent_sms".into(),
            create_only: true,
        })
        .await
        .unwrap_err();
    assert_eq!(exists.code(), tonic::Code::AlreadyExists);

    c.delete_segment(v1::DeleteSegmentRequest {
        name: "email_buyers".into(),
    })
    .await
    .unwrap();
    assert!(!server.data.join("segments/email_buyers.seg").exists());
    let gone = c
        .get_segment(v1::GetSegmentRequest {
            name: "email_buyers".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(gone.code(), tonic::Code::NotFound);
}

#[tokio::test]
async fn materialize_writes_parquet_under_segments() {
    let server = TestServer::start(&[]).await;
    let mut c = server.segments().await;
    c.save_segment(v1::SaveSegmentRequest {
        name: "buyers".into(),
        dsl: SEG.into(),
        create_only: false,
    })
    .await
    .unwrap();
    let m = c
        .materialize(v1::MaterializeRequest {
            name: "buyers".into(),
            as_of: None,
            columns: vec!["email".into()],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(m.path, "segments/buyers/members.parquet");
    let count = c.count(count_req(SEG)).await.unwrap().into_inner().count;
    assert_eq!(m.rows, count);
    let file = std::fs::File::open(server.data.join(&m.path)).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .unwrap()
        .build()
        .unwrap();
    let rows: usize = reader.map(|b| b.unwrap().num_rows()).sum();
    assert_eq!(rows as u64, count);
}

#[tokio::test]
async fn describe_the_dataset() {
    let server = TestServer::start(&[]).await;
    let mut d = server.datasets().await;
    let r = d
        .describe(v1::DescribeRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.name, "shop");
    assert_eq!(r.profiles.as_ref().unwrap().rows, PROFILES);
    assert!(r.events.as_ref().unwrap().rows > PROFILES);
    assert!(r.event_types.iter().any(|t| t == "purchase"));
    assert!(!r.dataset_version.is_empty());
    assert!(
        r.profiles
            .as_ref()
            .unwrap()
            .columns
            .iter()
            .any(|c| c.name == "profile_id" && c.data_type == "Int64" && c.dsl_type == "integer")
    );

    // Event types with counts: together every event, as the log counts them.
    let by_type: u64 = r.event_type_counts.iter().map(|c| c.count).sum();
    assert_eq!(by_type, r.events.as_ref().unwrap().rows);
    assert!(
        r.event_type_counts
            .windows(2)
            .all(|w| w[0].count >= w[1].count)
    );
    // Low-cardinality text values, each count what a segment counts.
    let tiers = r
        .text_values
        .iter()
        .find(|c| c.table == "profiles" && c.column == "loyalty_tier")
        .expect("loyalty_tier has few values");
    assert!(tiers.values.iter().any(|v| v.value == "gold"), "{tiers:?}");
    let mut s = server.segments().await;
    for v in &tiers.values {
        let text = format!("loyalty_tier = '{}'", v.value);
        let n = s.count(count_req(&text)).await.unwrap().into_inner().count;
        assert_eq!(n, v.count, "{text}");
    }
    assert!(
        r.text_values
            .iter()
            .any(|c| c.table == "events" && c.column == "channel"),
        "{:?}",
        r.text_values
    );
    // Columns with many values are not listed.
    assert!(!r.text_values.iter().any(|c| c.column == "email"));
}

#[tokio::test]
async fn compression_gzip_and_zstd() {
    use tonic::codec::CompressionEncoding;
    let server = TestServer::start(&[]).await;
    for enc in [CompressionEncoding::Gzip, CompressionEncoding::Zstd] {
        let mut c = server
            .segments()
            .await
            .send_compressed(enc)
            .accept_compressed(enc);
        let n = c.count(count_req(SEG)).await.unwrap().into_inner().count;
        assert!(n > 0);
        let (ids, _) = collect_ids(&mut c, members_req(SEG)).await.unwrap();
        assert_eq!(ids.len() as u64, n);
    }
}

#[tokio::test]
async fn analytics_reports_whole_and_per_segment() {
    use strata_proto::v1::analytics_service_client::AnalyticsServiceClient;
    let server = TestServer::start(&[]).await;
    let mut a =
        AnalyticsServiceClient::new(server.channel().await).max_decoding_message_size(64 << 20);
    let tables = |r: &v1::Report| r.tables.iter().map(|t| t.name.clone()).collect::<Vec<_>>();

    let rfm = a.rfm(v1::RfmRequest::default()).await.unwrap().into_inner();
    assert_eq!(tables(&rfm), ["segments", "scores", "grid"]);
    let seg = &rfm.tables[0];
    assert!(seg.rows > 0 && !seg.arrow_ipc.is_empty() && seg.json_rows.contains('{'));
    let batches: Vec<_> =
        arrow::ipc::reader::StreamReader::try_new(std::io::Cursor::new(&seg.arrow_ipc), None)
            .unwrap()
            .map(|b| b.unwrap())
            .collect();
    assert_eq!(
        batches.iter().map(|b| b.num_rows() as u64).sum::<u64>(),
        seg.rows
    );

    let mix = a
        .channel_mix(v1::ChannelMixRequest {
            segment: dsl("consent_email"),
            window: "365d".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(tables(&mix), ["classes", "channels"]);
    let life = a
        .lifecycle(v1::LifecycleRequest {
            window: "30d".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(tables(&life), ["states"]);
    let ret = a
        .retention(v1::RetentionRequest {
            period: v1::retention_request::Period::Week as i32,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(tables(&ret), ["cohorts"]);

    let err = a
        .lifecycle(v1::LifecycleRequest {
            window: "ninety days".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    let err = a
        .rfm(v1::RfmRequest {
            segment: named("nope"),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);
}
