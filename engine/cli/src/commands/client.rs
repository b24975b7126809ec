//! Client mode of `strata count` and `strata members`: the same commands,
//! answered by a `strata serve` over gRPC (`--server URL`).

use std::time::Instant;

use anyhow::Context;
use arrow::array::Int64Array;
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;
use chrono::{DateTime, Utc};
use clap::Args;
use futures::StreamExt;
use std::sync::Arc;
use strata_proto::v1;
use strata_proto::v1::segment_service_client::SegmentServiceClient;
use tonic::codec::CompressionEncoding;
use tonic::metadata::MetadataValue;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// Where the server is.
#[derive(Debug, Clone, Args)]
pub(crate) struct ClientArgs {
    /// Ask this server instead of running embedded, e.g.
    /// http://127.0.0.1:50051 (https:// for TLS).
    #[arg(long, env = "STRATA_SERVER")]
    pub(crate) server: Option<String>,
    /// Bearer token for the server.
    #[arg(long, env = "STRATA_TOKEN", hide_env_values = true)]
    pub(crate) token: Option<String>,
    /// CA certificate (PEM) to trust for an https:// server, e.g. a private
    /// CA or the server's self-signed certificate.
    #[arg(long, env = "STRATA_CA_CERT")]
    pub(crate) ca_cert: Option<std::path::PathBuf>,
}

/// Adds the bearer token to every request.
type AuthFn =
    Box<dyn FnMut(tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> + Send>;

type Client = SegmentServiceClient<InterceptedService<Channel, AuthFn>>;

/// A SegmentService client for `url`, sending `c.token` if given and
/// trusting `c.ca_cert` for TLS.
pub(crate) async fn connect(url: &str, c: &ClientArgs) -> anyhow::Result<Client> {
    let token = c.token.as_deref();
    let mut endpoint = Channel::from_shared(url.to_string())
        .with_context(|| format!("'{url}' is not a server URL (e.g. http://127.0.0.1:50051)"))?;
    if url.starts_with("https://") {
        let mut tls = tonic::transport::ClientTlsConfig::new().with_enabled_roots();
        if let Some(ca) = &c.ca_cert {
            let pem = std::fs::read(ca).with_context(|| format!("reading {}", ca.display()))?;
            tls = tls.ca_certificate(tonic::transport::Certificate::from_pem(pem));
        }
        endpoint = endpoint.tls_config(tls)?;
    } else if c.ca_cert.is_some() {
        anyhow::bail!("--ca-cert needs an https:// server URL, not '{url}'");
    }
    let channel = endpoint
        .connect()
        .await
        .with_context(|| format!("connecting to {url}"))?;
    let header: Option<MetadataValue<_>> = match token {
        Some(t) => Some(
            format!("Bearer {t}")
                .parse()
                .context("token has invalid characters")?,
        ),
        None => None,
    };
    let interceptor: AuthFn = Box::new(move |mut req: tonic::Request<()>| {
        if let Some(h) = &header {
            req.metadata_mut().insert("authorization", h.clone());
        }
        Ok(req)
    });
    Ok(SegmentServiceClient::with_interceptor(channel, interceptor)
        .accept_compressed(CompressionEncoding::Zstd)
        .max_decoding_message_size(256 << 20))
}

fn as_of(t: Option<DateTime<Utc>>) -> Option<v1::AsOf> {
    t.map(|t| v1::AsOf {
        time: Some(prost_types::Timestamp {
            seconds: t.timestamp(),
            nanos: t.timestamp_subsec_nanos() as i32,
        }),
    })
}

fn segment(text: String) -> Option<v1::Segment> {
    Some(v1::Segment {
        source: Some(v1::segment::Source::Dsl(text)),
    })
}

/// A gRPC error as the user should see it.
fn status(s: tonic::Status) -> anyhow::Error {
    anyhow::anyhow!("{:?}: {}", s.code(), s.message())
}

pub(crate) async fn count(
    c: &ClientArgs,
    url: &str,
    text: String,
    at: Option<DateTime<Utc>>,
) -> anyhow::Result<()> {
    let mut client = connect(url, c).await?;
    let r = client
        .count(v1::CountRequest {
            segment: segment(text.clone()),
            as_of: as_of(at),
            no_cache: false,
        })
        .await
        .map_err(status)?
        .into_inner();
    eprint!("{}", warnings(&r.warnings, &text));
    println!("{}", r.count);
    let elapsed = r
        .elapsed
        .map_or(0.0, |d| d.seconds as f64 * 1e3 + d.nanos as f64 / 1e6);
    let at = r
        .as_of
        .and_then(|t| DateTime::<Utc>::from_timestamp(t.seconds, t.nanos as u32))
        .map(|t| t.to_rfc3339())
        .unwrap_or_default();
    eprintln!(
        "{} of {} profiles ({:.2}%) at {at} in {elapsed:.1} ms{}",
        r.count,
        r.total_profiles,
        100.0 * r.count as f64 / r.total_profiles.max(1) as f64,
        if r.cached { " (cached)" } else { "" }
    );
    Ok(())
}

/// The server's warnings about `text`, rendered like local ones.
fn warnings(wire: &[v1::Diagnostic], text: &str) -> String {
    let mut d = strata_dsl::Diagnostics::default();
    for w in wire {
        let span = strata_dsl::ast::Span::new(w.start_byte as usize, w.end_byte as usize);
        let mut one = strata_dsl::Diagnostic::warning(span, &w.message);
        if !w.expected.is_empty() {
            one = one.with_expected(&w.expected);
        }
        if !w.suggestion.is_empty() {
            one = one.with_suggestion(&w.suggestion);
        }
        d.0.push(one);
    }
    d.render(text)
}

/// Which members to ask the server for.
#[derive(Debug)]
pub(crate) struct MembersAsk {
    pub(crate) text: String,
    pub(crate) at: Option<DateTime<Utc>>,
    pub(crate) columns: Vec<String>,
    pub(crate) limit: Option<usize>,
    pub(crate) after: Option<i64>,
}

/// Streams members from the server into `sink` (ids only, or the
/// requested columns from the batches' Arrow IPC).
pub(crate) async fn members(
    c: &ClientArgs,
    url: &str,
    ask: MembersAsk,
    mut write: impl FnMut(&RecordBatch) -> anyhow::Result<()>,
) -> anyhow::Result<usize> {
    let MembersAsk {
        text,
        at,
        columns,
        limit,
        after,
    } = ask;
    let mut client = connect(url, c).await?;
    let cursor = match (after, at) {
        (Some(a), Some(t)) => format!("m1.{}.{a}", t.timestamp_micros()),
        (Some(_), None) => anyhow::bail!("--after with --server needs --as-of too"),
        (None, _) => String::new(),
    };
    let with_columns = !columns.is_empty();
    let mut stream = client
        .members(v1::MembersRequest {
            segment: segment(text),
            as_of: if cursor.is_empty() { as_of(at) } else { None },
            columns,
            cursor,
            limit: limit.unwrap_or(0) as u64,
            batch_size: 0,
        })
        .await
        .map_err(status)?
        .into_inner();
    let ids_schema = Arc::new(Schema::new(vec![Field::new(
        "profile_id",
        DataType::Int64,
        false,
    )]));
    let start = Instant::now();
    let mut rows = 0;
    while let Some(msg) = stream.next().await {
        let msg = msg.map_err(status)?;
        if with_columns {
            let reader = arrow::ipc::reader::StreamReader::try_new(
                std::io::Cursor::new(msg.arrow_ipc),
                None,
            )?;
            for b in reader {
                let b = b?;
                rows += b.num_rows();
                write(&b)?;
            }
        } else {
            rows += msg.profile_ids.len();
            let b = RecordBatch::try_new(
                ids_schema.clone(),
                vec![Arc::new(Int64Array::from(msg.profile_ids))],
            )?;
            write(&b)?;
        }
    }
    eprintln!(
        "{rows} members in {:.1} ms (from {url})",
        start.elapsed().as_secs_f64() * 1e3
    );
    Ok(rows)
}
