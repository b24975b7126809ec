//! Integration tests of strata-core (one binary).

mod analytics;
mod engine_vs_reference;
mod plans;
mod random;
mod reference;
mod support;
