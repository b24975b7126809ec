//! The integration tests of strata-dsl (one binary, many modules).

mod check;
mod docs;
mod format;
mod golden;
mod json;
mod parse;
mod props;
mod support;
