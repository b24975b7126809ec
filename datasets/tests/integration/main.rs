//! Integration tests of strata-datasets (one binary, several modules).

mod common;
mod describe;
mod generate;
mod import;
mod manifest;
mod readers;
