//! End-to-end tests: the real `strata` binary, started on port 0 by
//! [`support::TestServer`], driven over gRPC (and the CLI's client mode).
//!
//! One test binary with modules (faster to build than one per file).

mod support;

mod append;
mod cancel;
mod cli;
mod cluster;
mod errors;
mod fuzz;
mod hostile;
mod ingest;
mod python;
mod reflection;
mod rpc;
mod tls;
mod transport;
mod writes;
