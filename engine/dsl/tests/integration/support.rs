//! Shared test fixtures.

use strata_dsl::ast::Segment;
use strata_dsl::{Error, StaticCatalog};

/// The demo store schema plus saved segments that exercise references.
pub(crate) fn catalog() -> StaticCatalog {
    StaticCatalog::demo()
        .with_segment("loop_a", "consent_sms AND IN SEGMENT loop_b")
        .with_segment("loop_b", "IN SEGMENT loop_a")
        .with_segment(
            "vip_reachable",
            "IN SEGMENT vip AND IN SEGMENT email_reachable",
        )
}

/// Parses and checks, panicking with the rendered diagnostics on error.
pub(crate) fn ok(src: &str) -> Segment {
    match strata_dsl::parse_and_check(src, &catalog()) {
        Ok(s) => s,
        Err(e) => panic!("{src}\n{}", render(&e, src)),
    }
}

/// Parses and checks, expecting failure; returns the rendered diagnostics.
pub(crate) fn err(src: &str) -> String {
    match strata_dsl::parse_and_check(src, &catalog()) {
        Ok(s) => panic!("expected an error for {src:?}, got {s:?}"),
        Err(e) => render(&e, src),
    }
}

pub(crate) fn render(e: &Error, src: &str) -> String {
    match e.diagnostics() {
        Some(d) => d.render(src),
        None => e.to_string(),
    }
}
