//! Crash points for the fault-injection tests of dataset writes.
//!
//! Every step of a write that leaves something on disk (a file renamed
//! into place, a Delta commit, a dataset version recorded, a file deleted)
//! passes a [`point`]. With `STRATA_FAULT_AT=N` in the environment the
//! process aborts at the N-th point it reaches (no destructor runs, no
//! buffer is flushed: what a SIGKILL leaves), after printing the point's
//! name to stderr; without it a point costs one relaxed atomic load.
//! The end-to-end tests run each write with N = 1, 2, ... until it
//! finishes, and check after each crash that the dataset reads as the old
//! version or the new one, and that the write then succeeds.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The environment variable that arms the crash points.
pub const FAULT_ENV: &str = "STRATA_FAULT_AT";

static PASSED: AtomicU64 = AtomicU64::new(0);

fn armed() -> Option<u64> {
    static AT: OnceLock<Option<u64>> = OnceLock::new();
    *AT.get_or_init(|| std::env::var(FAULT_ENV).ok()?.parse().ok())
}

/// A crash point named `what`.
pub(crate) fn point(what: &str) {
    let Some(at) = armed() else { return };
    if PASSED.fetch_add(1, Ordering::Relaxed) + 1 == at {
        eprintln!("{FAULT_ENV}={at}: crashing at {what}");
        std::process::abort();
    }
}
