//! Integration tests of strata-core (one binary, see STYLE.md "Tests").

mod analytics;
mod engine_vs_reference;
mod plans;
mod random;
mod reference;
