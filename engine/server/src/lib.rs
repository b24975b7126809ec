//! Strata's gRPC front end (`strata.v1`): the segment, analytics, dataset
//! and ingest services, standard health and reflection, bearer-token auth with an
//! admin and a read role, connection and stream limits, admission limits, a
//! count cache, and [`serve`], which runs them until a
//! [`CancellationToken`] says stop.
//!
//! ```no_run
//! # async fn demo() -> Result<(), strata_server::Error> {
//! let config = strata_server::Config::for_data("demo-data");
//! let stop = tokio_util::sync::CancellationToken::new();
//! strata_server::serve(config, stop).await?; // prints `listening on ADDR`
//! # Ok(()) }
//! ```
//!
//! Errors become statuses in one place: [`Error::status_code`].

mod analytics_service;
mod auth;
mod cache;
mod config;
mod convert;
mod dataset_service;
mod error;
mod health;
mod ingest_service;
mod limits;
mod net;
mod segment_service;
mod server;
mod state;

pub use analytics_service::AnalyticsSvc;
pub use config::{
    AuthConfig, CacheConfig, Config, DataConfig, LimitsConfig, NetConfig, TransportConfig,
    parse_bytes, parse_duration,
};
pub use dataset_service::DatasetSvc;
pub use error::Error;
pub use ingest_service::IngestSvc;
pub use segment_service::SegmentSvc;
pub use server::{BoundServer, serve};
pub use tokio_util::sync::CancellationToken;

/// What every service shares.
#[derive(Debug)]
pub(crate) struct Shared {
    engines: state::EngineHandle,
    limits: limits::Limits,
    cache: cache::CountCache,
}
