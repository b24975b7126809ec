//! Admission control: how many queries run and wait, the memory guard, and
//! request deadlines.
//!
//! A query first takes a ticket (running + waiting); when none is left it is
//! refused at once with RESOURCE_EXHAUSTED. With a ticket it waits for a run
//! slot until its deadline. While the process's resident memory is above
//! 90% of the memory limit, new queries are refused with
//! RESOURCE_EXHAUSTED (the running ones finish and release memory).
//!
//! Admitted queries run on a runtime of their own ([`QueryRuntime`]), not on
//! the one that serves connections: DataFusion's work is CPU-bound, and on
//! the serving runtime it held health checks and refusals back by more
//! than a second under heavy requests (docs/design.md#deadlines-and-streams).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::config::LimitsConfig;
use crate::error::{Error, Result};

/// Limits shared by every service.
#[derive(Debug)]
pub(crate) struct Limits {
    tickets: Arc<Semaphore>,
    slots: Arc<Semaphore>,
    max_running: usize,
    max_waiting: usize,
    memory_limit: usize,
    max_timeout: Duration,
    stream_idle: Duration,
    queries: QueryRuntime,
}

/// Held while a query runs; releases its slot and ticket when dropped.
#[derive(Debug)]
pub(crate) struct Admission {
    _slot: OwnedSemaphorePermit,
    _ticket: OwnedSemaphorePermit,
}

impl Limits {
    /// Limits for a server whose queries use `threads` threads.
    pub(crate) fn new(config: &LimitsConfig, memory_limit: usize, threads: usize) -> Result<Self> {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let max_running = match config.max_concurrent_queries {
            0 => 2 * cores,
            n => n,
        };
        Ok(Limits {
            tickets: Arc::new(Semaphore::new(max_running + config.max_queued_queries)),
            slots: Arc::new(Semaphore::new(max_running)),
            max_running,
            max_waiting: config.max_queued_queries,
            memory_limit,
            max_timeout: config.max_request_timeout,
            stream_idle: config.stream_idle_timeout,
            queries: QueryRuntime::new(threads)?,
        })
    }

    /// The deadline of a request: its `grpc-timeout`, capped by the
    /// server's maximum.
    ///
    /// A client's deadline is brought forward by 5% + 25 ms (at most half
    /// of it) so that the server's DEADLINE_EXCEEDED reaches the client
    /// before its own timer (or tonic's `grpc-timeout` timer on the server)
    /// fires and reports CANCELLED. 2% + 1 ms was too little on a loaded
    /// 2-core machine: the answer arrived after the client had given up.
    pub(crate) fn deadline<T>(&self, req: &tonic::Request<T>) -> Instant {
        let asked = req
            .metadata()
            .get("grpc-timeout")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_grpc_timeout);
        let timeout = match asked {
            Some(t) if t < self.max_timeout => {
                t.saturating_sub((t / 20 + Duration::from_millis(25)).min(t / 2))
            }
            _ => self.max_timeout,
        };
        Instant::now() + timeout
    }

    /// How long a member stream waits for its client to read.
    pub(crate) fn stream_idle_timeout(&self) -> Duration {
        self.stream_idle
    }

    /// Waits (until `deadline`) for a slot to run a query.
    pub(crate) async fn admit(&self, deadline: Instant) -> Result<Admission> {
        if let Some(rss) = resident_bytes()
            && rss > self.memory_limit / 10 * 9
        {
            return Err(Error::Busy(format!(
                "server memory is at {} MiB of its {} MiB limit; retry later",
                rss >> 20,
                self.memory_limit >> 20
            )));
        }
        let ticket = self.tickets.clone().try_acquire_owned().map_err(|_| {
            Error::Busy(format!(
                "server busy: {} queries running and {} waiting (the limits); retry with backoff",
                self.max_running, self.max_waiting
            ))
        })?;
        let started = Instant::now();
        let slot = tokio::time::timeout_at(deadline, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| Error::DeadlineExceeded(started.elapsed()))?
            .map_err(|_| Error::Internal("query slots closed".into()))?;
        Ok(Admission {
            _slot: slot,
            _ticket: ticket,
        })
    }

    /// Runs `fut` with a slot on the query runtime, stopping it (aborting
    /// its task: DataFusion cancels the query) when `deadline` passes or
    /// the caller goes away.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        deadline: Instant,
        fut: impl Future<Output = Result<T>> + Send + 'static,
    ) -> Result<T> {
        let started = Instant::now();
        let _admission = self.admit(deadline).await?;
        tokio::time::timeout_at(deadline, self.queries.spawn(fut))
            .await
            .map_err(|_| Error::DeadlineExceeded(started.elapsed()))?
    }

    /// Runs `fut` on the query runtime on its own (a member stream, which
    /// holds its admission and watches its own deadline).
    pub(crate) fn detach(&self, fut: impl Future<Output = ()> + Send + 'static) {
        drop(self.queries.runtime().spawn(fut));
    }
}

/// A multi-threaded tokio runtime for queries, shut down in the background
/// when dropped (a runtime may not block while it is dropped inside
/// another).
#[derive(Debug)]
pub(crate) struct QueryRuntime {
    runtime: Option<tokio::runtime::Runtime>,
}

impl QueryRuntime {
    fn new(threads: usize) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("strata-query")
            .enable_all()
            .build()
            .map_err(|e| Error::Internal(format!("cannot start the query runtime: {e}")))?;
        Ok(QueryRuntime {
            runtime: Some(runtime),
        })
    }

    fn runtime(&self) -> &tokio::runtime::Runtime {
        self.runtime
            .as_ref()
            .expect("the query runtime lives until dropped")
    }

    /// `fut` as a task of this runtime; dropping the returned future aborts
    /// the task.
    fn spawn<T: Send + 'static>(
        &self,
        fut: impl Future<Output = Result<T>> + Send + 'static,
    ) -> impl Future<Output = Result<T>> {
        let task = AbortOnDrop(self.runtime().spawn(fut));
        async move {
            let mut task = task;
            match (&mut task.0).await {
                Ok(out) => out,
                Err(e) if e.is_panic() => {
                    tracing::error!(error = %e, "query task panicked");
                    Err(Error::Internal("the query failed inside the server".into()))
                }
                Err(e) => Err(Error::Internal(format!("the query task ended: {e}"))),
            }
        }
    }
}

impl Drop for QueryRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// A task aborted when its handle is dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// `grpc-timeout` header value: up to 8 digits and a unit (H M S m u n).
pub(crate) fn parse_grpc_timeout(v: &str) -> Option<Duration> {
    if v.len() < 2 || v.len() > 9 {
        return None;
    }
    let (num, unit) = v.split_at(v.len() - 1);
    let n: u64 = num.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// Resident memory of this process: `VmRSS` of Linux's
/// `/proc/self/status`, which the kernel gives in kB (no page size to
/// assume).
pub(crate) fn resident_bytes() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    kb.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resident_memory_is_read() {
        let rss = resident_bytes().unwrap();
        // A test process holds more than a MiB and less than a TiB.
        assert!(rss > 1 << 20 && rss < 1 << 40, "{rss}");
    }

    /// A query panicking on the query runtime is an error of its request;
    /// one past its deadline is stopped.
    #[tokio::test]
    async fn queries_run_apart_and_fail_alone() {
        let config = LimitsConfig {
            max_concurrent_queries: 0,
            max_queued_queries: 4,
            max_request_size: 1 << 20,
            max_request_timeout: Duration::from_secs(60),
            stream_idle_timeout: Duration::from_secs(30),
            max_ingest_bytes: 1 << 20,
        };
        let limits = Limits::new(&config, usize::MAX, 1).unwrap();
        let soon = Instant::now() + Duration::from_secs(5);
        let on = limits
            .run(soon, async {
                Ok(std::thread::current().name().map(String::from))
            })
            .await
            .unwrap();
        assert_eq!(on.as_deref(), Some("strata-query"));
        let panicked = limits
            .run(soon, async move {
                if soon > Instant::now() {
                    panic!("boom");
                }
                Ok(())
            })
            .await;
        assert!(matches!(panicked, Err(Error::Internal(_))), "{panicked:?}");
        let late = limits
            .run(Instant::now() + Duration::from_millis(50), async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                Ok(())
            })
            .await;
        assert!(matches!(late, Err(Error::DeadlineExceeded(_))), "{late:?}");
    }

    #[test]
    fn grpc_timeout() {
        assert_eq!(parse_grpc_timeout("100m"), Some(Duration::from_millis(100)));
        assert_eq!(parse_grpc_timeout("2S"), Some(Duration::from_secs(2)));
        assert_eq!(parse_grpc_timeout("S"), None);
        assert_eq!(parse_grpc_timeout("12x"), None);
    }
}
