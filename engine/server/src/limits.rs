//! Admission control: how many queries run and wait, the memory guard, and
//! request deadlines.
//!
//! A query first takes a ticket (running + waiting); when none is left it is
//! refused at once with RESOURCE_EXHAUSTED. With a ticket it waits for a run
//! slot until its deadline. While the process's resident memory is above
//! 90% of the memory limit, new queries are refused with
//! RESOURCE_EXHAUSTED (the running ones finish and release memory).

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
}

/// Held while a query runs; releases its slot and ticket when dropped.
#[derive(Debug)]
pub(crate) struct Admission {
    _slot: OwnedSemaphorePermit,
    _ticket: OwnedSemaphorePermit,
}

impl Limits {
    pub(crate) fn new(config: &LimitsConfig, memory_limit: usize) -> Self {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let max_running = match config.max_concurrent_queries {
            0 => 2 * cores,
            n => n,
        };
        Limits {
            tickets: Arc::new(Semaphore::new(max_running + config.max_queued_queries)),
            slots: Arc::new(Semaphore::new(max_running)),
            max_running,
            max_waiting: config.max_queued_queries,
            memory_limit,
            max_timeout: config.max_request_timeout,
            stream_idle: config.stream_idle_timeout,
        }
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

    /// Runs `fut` with a slot, stopping it (dropping it: DataFusion cancels
    /// the query) when `deadline` passes.
    pub(crate) async fn run<T>(
        &self,
        deadline: Instant,
        fut: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        let started = Instant::now();
        let _admission = self.admit(deadline).await?;
        tokio::time::timeout_at(deadline, fut)
            .await
            .map_err(|_| Error::DeadlineExceeded(started.elapsed()))?
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

    #[test]
    fn grpc_timeout() {
        assert_eq!(parse_grpc_timeout("100m"), Some(Duration::from_millis(100)));
        assert_eq!(parse_grpc_timeout("2S"), Some(Duration::from_secs(2)));
        assert_eq!(parse_grpc_timeout("S"), None);
        assert_eq!(parse_grpc_timeout("12x"), None);
    }
}
