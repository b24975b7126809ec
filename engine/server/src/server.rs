//! Building and running the tonic server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use strata_core::EngineConfig;
use strata_proto::v1::analytics_service_server::AnalyticsServiceServer;
use strata_proto::v1::dataset_service_server::DatasetServiceServer;
use strata_proto::v1::ingest_service_server::IngestServiceServer;
use strata_proto::v1::segment_service_server::SegmentServiceServer;
use tokio_util::sync::CancellationToken;
use tonic::codec::CompressionEncoding;
use tonic::transport::{Identity, Server, ServerTlsConfig};

use crate::auth::AuthLayer;
use crate::cache::CountCache;
use crate::error::{Error, Result};
use crate::health::BoundedHealth;
use crate::limits::Limits;
use crate::state::EngineHandle;
use crate::{AnalyticsSvc, Config, DatasetSvc, IngestSvc, SegmentSvc, Shared, TransportConfig};

/// A server with its dataset open and its socket bound, not yet serving.
#[derive(Debug)]
pub struct BoundServer {
    config: Config,
    shared: Arc<Shared>,
    listener: tokio::net::TcpListener,
}

impl BoundServer {
    /// Checks the configuration ([`Config::check`]), opens the dataset and
    /// binds the listen address.
    pub async fn bind(config: Config) -> Result<BoundServer> {
        config.check()?;
        if config.is_public() && !config.has_tls() && config.auth.enabled() {
            tracing::warn!(
                listen = %config.net.listen,
                "serving a non-loopback address without TLS: tokens travel in clear text \
                 (set --tls-cert and --tls-key)"
            );
        }
        let mut engine = EngineConfig {
            // Operators get half of the limit; the rest is for scans,
            // buffers and the server itself.
            memory_limit: config.data.memory_limit / 2,
            cluster: config.data.cluster.clone(),
            spill: strata_core::SpillConfig {
                dir: config.data.spill_dir.clone(),
                max_bytes: config.data.max_spill_size as u64,
            },
            ..EngineConfig::default()
        };
        if config.data.threads > 0 {
            engine.threads = config.data.threads;
        }
        let limits = Limits::new(&config.limits, config.data.memory_limit, engine.threads)?;
        let engines = EngineHandle::open(&config.data.data, engine).await?;
        let shared = Arc::new(Shared {
            engines,
            limits,
            cache: CountCache::new(
                config.cache.count_cache_entries,
                config.cache.count_cache_bytes,
            ),
        });
        let listener = tokio::net::TcpListener::bind(config.net.listen)
            .await
            .map_err(|e| {
                Error::InvalidArgument(format!("cannot listen on {}: {e}", config.net.listen))
            })?;
        Ok(BoundServer {
            config,
            shared,
            listener,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or(self.config.net.listen)
    }

    /// Serves until `stop` is cancelled, then stops accepting, lets running
    /// requests finish, and returns.
    pub async fn run(self, stop: CancellationToken) -> Result<()> {
        let BoundServer {
            config,
            shared,
            listener,
        } = self;
        let max = config.limits.max_request_size;

        let segments = SegmentServiceServer::new(SegmentSvc::new(shared.clone()))
            .max_decoding_message_size(max)
            .max_encoding_message_size(64 << 20)
            .accept_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Zstd)
            .send_compressed(CompressionEncoding::Zstd)
            .send_compressed(CompressionEncoding::Gzip);
        let datasets = DatasetServiceServer::new(DatasetSvc::new(shared.clone()))
            .max_decoding_message_size(max)
            .accept_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Zstd)
            .send_compressed(CompressionEncoding::Zstd)
            .send_compressed(CompressionEncoding::Gzip);

        let analytics = AnalyticsServiceServer::new(AnalyticsSvc::new(shared.clone()))
            .max_decoding_message_size(max)
            .max_encoding_message_size(64 << 20)
            .accept_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Zstd)
            .send_compressed(CompressionEncoding::Zstd)
            .send_compressed(CompressionEncoding::Gzip);

        let ingest = IngestServiceServer::new(IngestSvc::new(
            shared.clone(),
            config.limits.max_ingest_bytes as u64,
        ))
        .max_decoding_message_size(max)
        .accept_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Zstd)
        .send_compressed(CompressionEncoding::Zstd)
        .send_compressed(CompressionEncoding::Gzip);

        let health = tonic_health::server::HealthReporter::new();
        let health_service =
            BoundedHealth::server(health.clone(), config.transport.max_health_watches);
        health
            .set_serving::<SegmentServiceServer<SegmentSvc>>()
            .await;
        health
            .set_serving::<DatasetServiceServer<DatasetSvc>>()
            .await;
        health
            .set_serving::<AnalyticsServiceServer<AnalyticsSvc>>()
            .await;
        health.set_serving::<IngestServiceServer<IngestSvc>>().await;
        let reflection = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(strata_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1()
            .map_err(|e| Error::Internal(format!("reflection: {e}")))?;
        let reflection_alpha = tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(strata_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .build_v1alpha()
            .map_err(|e| Error::Internal(format!("reflection: {e}")))?;

        let mut builder = transport(&config.transport);
        if let Some(tls) = tls_config(&config)? {
            builder = builder
                .tls_config(tls)
                .map_err(|e| Error::InvalidArgument(format!("TLS: {e}")))?;
        }
        let router = builder
            .layer(AuthLayer::new(&config.auth))
            .add_service(health_service)
            .add_service(reflection)
            .add_service(reflection_alpha)
            .add_service(segments)
            .add_service(datasets)
            .add_service(analytics)
            .add_service(ingest);

        let shutdown = {
            let stop = stop.clone();
            let health = health.clone();
            async move {
                stop.cancelled().await;
                tracing::info!("shutting down");
                health
                    .set_not_serving::<SegmentServiceServer<SegmentSvc>>()
                    .await;
                health
                    .set_not_serving::<AnalyticsServiceServer<AnalyticsSvc>>()
                    .await;
                health
                    .set_not_serving::<DatasetServiceServer<DatasetSvc>>()
                    .await;
                health
                    .set_not_serving::<IngestServiceServer<IngestSvc>>()
                    .await;
            }
        };
        let t = &config.transport;
        let incoming = crate::net::incoming(listener, t.max_connections, t.handshake_timeout);
        router
            .serve_with_incoming_shutdown(incoming, shutdown)
            .await
            .map_err(|e| Error::Internal(format!("server: {e}")))
    }
}

/// The HTTP/2 limits of `t`. (TCP_NODELAY is set per socket by
/// [`crate::net::incoming`]: tonic ignores its TCP settings with an
/// incoming stream.)
fn transport(t: &TransportConfig) -> Server {
    let nonzero = |d: Duration| (!d.is_zero()).then_some(d);
    Server::builder()
        .max_concurrent_streams(t.max_concurrent_streams)
        .http2_max_pending_accept_reset_streams(Some(t.http2_max_pending_accept_reset_streams))
        // Explicit: tonic passes its unset `None` on to hyper, which means
        // no limit at all rather than hyper's default of 1024.
        .http2_max_local_error_reset_streams(Some(t.http2_max_local_error_reset_streams))
        .http2_keepalive_interval(nonzero(t.http2_keepalive_interval))
        .http2_keepalive_timeout(Some(t.http2_keepalive_timeout))
}

/// TLS with --tls-cert and --tls-key, with the handshake timeout.
fn tls_config(config: &Config) -> Result<Option<ServerTlsConfig>> {
    let (Some(cert), Some(key)) = (&config.net.tls_cert, &config.net.tls_key) else {
        return Ok(None);
    };
    let read = |p: &std::path::Path| {
        std::fs::read(p)
            .map_err(|e| Error::InvalidArgument(format!("cannot read {}: {e}", p.display())))
    };
    // tonic's server asks rustls for the process's crypto provider, and
    // rustls cannot pick one when two are built in (ring for tonic, aws-lc
    // for delta-rs' object store client): install ring, tonic's, once.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut tls = ServerTlsConfig::new().identity(Identity::from_pem(read(cert)?, read(key)?));
    let handshake = config.transport.handshake_timeout;
    if !handshake.is_zero() {
        tls = tls.timeout(handshake);
    }
    Ok(Some(tls))
}

/// Opens the dataset, binds, prints `listening on ADDR` on stdout, and
/// serves until `stop` is cancelled.
pub async fn serve(config: Config, stop: CancellationToken) -> Result<()> {
    let server = BoundServer::bind(config).await?;
    let addr = server.local_addr();
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on {addr}");
        let _ = out.flush();
    }
    server.run(stop).await
}
