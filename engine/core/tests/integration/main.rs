//! Integration tests of strata-core (one binary, see STYLE.md "Tests").

mod engine_vs_reference;
mod random;
mod reference;
