//! Integration tests of strata-datasets (one binary, several modules).

mod append;
mod common;
mod delta;
mod describe;
mod forget;
mod generate;
mod import;
mod manifest;
mod optimize;
mod readers;
mod upsert;
