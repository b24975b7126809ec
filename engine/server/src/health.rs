//! Standard gRPC health (`grpc.health.v1.Health`) with a bound on `Watch`
//! streams.
//!
//! A `Watch` stream never ends on its own, and tonic-health's service opens
//! as many as clients ask for. [`BoundedHealth`] delegates both methods to
//! tonic-health's [`HealthService`], and lets at most N `Watch` streams be
//! open at once: beyond that, RESOURCE_EXHAUSTED. The slot is held by the
//! returned stream, so it is freed when the stream is dropped (the client
//! cancels, or its connection closes). `Check` is not bounded: it answers at
//! once, and the per-connection stream limit bounds it.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::Stream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::{Request, Response, Status};
use tonic_health::pb::health_server::{Health, HealthServer};
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};
use tonic_health::server::{HealthReporter, HealthService, WatchStream};

use crate::error::Error;

/// tonic-health's service, with at most `max_watches` open `Watch` streams.
#[derive(Debug)]
pub(crate) struct BoundedHealth {
    inner: HealthService,
    watches: Arc<Semaphore>,
}

impl BoundedHealth {
    /// The service answering for `reporter`'s statuses.
    pub(crate) fn new(reporter: HealthReporter, max_watches: usize) -> Self {
        BoundedHealth {
            inner: HealthService::from_health_reporter(reporter),
            watches: Arc::new(Semaphore::new(max_watches)),
        }
    }

    /// As a tonic service.
    pub(crate) fn server(reporter: HealthReporter, max_watches: usize) -> HealthServer<Self> {
        HealthServer::new(Self::new(reporter, max_watches))
    }
}

#[tonic::async_trait]
impl Health for BoundedHealth {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        self.inner.check(request).await
    }

    type WatchStream = Permitted<WatchStream>;

    async fn watch(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let permit = self.watches.clone().try_acquire_owned().map_err(|_| {
            Status::from(Error::Busy(
                "too many health Watch streams are open; retry later or use Check".into(),
            ))
        })?;
        let response = self.inner.watch(request).await?;
        Ok(response.map(|stream| Permitted {
            inner: stream,
            _permit: permit,
        }))
    }
}

/// A stream holding a slot as long as it lives.
#[derive(Debug)]
pub(crate) struct Permitted<S> {
    inner: S,
    _permit: OwnedSemaphorePermit,
}

impl<S: Stream + Unpin> Stream for Permitted<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        Pin::new(&mut self.inner).poll_next(cx)
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;
    use tonic::Code;
    use tonic_health::pb::health_check_response::ServingStatus;

    use super::*;

    fn req() -> Request<HealthCheckRequest> {
        Request::new(HealthCheckRequest {
            service: String::new(),
        })
    }

    #[tokio::test]
    async fn watches_beyond_the_bound_are_resource_exhausted() {
        let health = BoundedHealth::new(HealthReporter::new(), 2);
        let mut first = health.watch(req()).await.unwrap().into_inner();
        let second = health.watch(req()).await.unwrap().into_inner();
        let third = health.watch(req()).await.unwrap_err();
        assert_eq!(third.code(), Code::ResourceExhausted);
        // The streams still answer, and dropping one frees its slot.
        let status = first.next().await.unwrap().unwrap().status;
        assert_eq!(status, ServingStatus::Serving as i32);
        drop(second);
        assert!(health.watch(req()).await.is_ok());
    }

    #[tokio::test]
    async fn check_is_delegated_and_not_bounded() {
        let reporter = HealthReporter::new();
        let health = BoundedHealth::new(reporter.clone(), 1);
        let watch = health.watch(req()).await.unwrap();
        let status = health.check(req()).await.unwrap().into_inner().status;
        assert_eq!(status, ServingStatus::Serving as i32);
        let unknown = Request::new(HealthCheckRequest {
            service: "nope".into(),
        });
        assert_eq!(
            health.check(unknown).await.unwrap_err().code(),
            Code::NotFound
        );
        // A failed watch (unknown service) takes no slot.
        let unknown = Request::new(HealthCheckRequest {
            service: "nope".into(),
        });
        drop(watch);
        assert!(health.watch(unknown).await.is_err());
        assert!(health.watch(req()).await.is_ok());
    }
}
