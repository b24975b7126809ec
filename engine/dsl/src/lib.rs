//! The Strata segment language: a small, typed language for "which
//! customers?" questions, parsed into an AST that the engine compiles to
//! DataFusion plans. This crate has no DataFusion dependency: it lexes,
//! parses, type-checks against a [`Catalog`], formats, and converts to and
//! from JSON.
//!
//! ```
//! use strata_dsl::{StaticCatalog, format, parse_and_check};
//!
//! let src = "
//! ## lapsed omnichannel VIPs who accept email
//! rfm.segment IN ('champions', 'loyal', 'cannot_lose')
//!   AND channel_mix = 'omnichannel'
//!   AND consent_email
//!   AND count(purchase WHERE channel = 'web' AND amount >= 200 WITHIN 180d) >= 2
//!   AND NOT performed(purchase WITHIN 60d)";
//! let segment = parse_and_check(src, &StaticCatalog::demo())?;
//! // The canonical text parses back to the same AST.
//! assert_eq!(strata_dsl::parse(&format(&segment))?, segment);
//!
//! // Mistakes come back as diagnostics with positions and suggestions.
//! let bad = "count(purchse WITHIN 30d) >= 2";
//! let err = parse_and_check(bad, &StaticCatalog::demo()).unwrap_err();
//! let report = err.diagnostics().unwrap().render(bad);
//! assert!(report.contains("did you mean `purchase`?"));
//! # Ok::<(), strata_dsl::Error>(())
//! ```
//!
//! # Semantics
//!
//! The meaning of a segment is defined in docs/design.md#semantics; in short:
//!
//! - Every query is evaluated at an instant `as_of` (default now); only
//!   events with `event_time < as_of` exist. A window `WITHIN 30d` is
//!   `as_of - 30d <= event_time < as_of`; `-30d` is the instant
//!   `as_of - 30d`; `today` is midnight UTC of as_of's date. Months (`m`)
//!   and years (`y`) are calendar months and years (the day is clamped to the
//!   month's last day); a date without a time is midnight UTC.
//! - Membership is two-valued: a comparison with a NULL operand is false,
//!   AND / OR / NOT work on plain booleans and NOT is the set complement, so
//!   `NOT country = 'US'` includes profiles with no country while
//!   `country != 'US'` does not. `IS [NOT] NULL` tests for missing values.
//! - Aggregates over no matching events: `count` and `sum` are 0;
//!   `avg`, `min`, `max`, `first`, `last` are NULL (so any comparison on
//!   them is false).
//! - Precedence: NOT binds tighter than AND, AND tighter than OR.
//!
//! The full language, with an example of every construct, the JSON form and
//! the error messages, is in `docs/dsl.md`.
//!
//! # Walking and rewriting
//!
//! [`ast::Expr`] has DataFusion-`TreeNode`-like helpers: `children`,
//! `walk`, `operands`, `apply` and `visit` (with a [`Visitor`]) to look,
//! `map_children`, `transform_up` and `transform_down` to rewrite. They go
//! into event filters' `WHERE` predicates too, and never recurse.
//! Durations (`"6m".parse::<ast::Duration>()`) and instants
//! ([`parse_instant`]) written outside a segment are read here as well.
//!
//! # JSON
//!
//! The JSON form of a segment is the serde form of [`ast::Segment`]
//! ([`to_json`], [`from_json`]). It is as expressive as the text: every
//! segment [`from_json`] accepts formats to text that parses back to it.
//!
//! ```
//! let seg = strata_dsl::parse("consent_email AND country = 'US'")?;
//! let json = strata_dsl::to_json(&seg);
//! assert_eq!(strata_dsl::from_json(&json)?, seg);
//! # Ok::<(), strata_dsl::Error>(())
//! ```

pub mod ast;
mod catalog;
mod check;
mod error;
mod format;
mod lexer;
mod lint;
mod locate;
mod parser;
mod size;
mod suggest;
mod time;
mod time_text;
mod validate;
mod visit;

pub use catalog::{Catalog, FieldType, StaticCatalog};
pub use error::{Diagnostic, Diagnostics, Error, Related, Result, Severity};
pub use size::{
    MAX_CONDITIONS, MAX_DEPTH, MAX_LIST_VALUES, OverLimit, SegmentRef, Shape, Size, shape,
};
pub use time_text::{DurationError, Instant, InstantError, parse_instant};
pub use visit::{Position, Recursion, Scope, Visitor};

use ast::Segment;

/// The longest segment text accepted, in bytes (16 MiB).
pub const MAX_SOURCE_LEN: usize = 16 << 20;

/// Parses segment text into its AST.
///
/// Checks syntax and the rules that hold for every dataset (e.g. `sum`
/// needs a property, dates exist, nesting depth), but not names or types:
/// use [`check`] or [`parse_and_check`] for those.
pub fn parse(src: &str) -> Result<Segment> {
    let seg = parser::parse_syntax(src).map_err(Diagnostics)?;
    let diags = validate::validate(&seg, locate::Locator::new(Some(src)));
    if diags.is_empty() {
        Ok(seg)
    } else {
        Err(Error::Dsl(Diagnostics(diags)))
    }
}

/// Type-checks a segment against a catalog: fields, event types, event
/// properties and saved segments exist, values fit their fields, functions
/// get what they need. Reports every mistake found.
///
/// Diagnostics point at the nodes' spans; values, windows and parameters
/// have no span of their own, so use [`parse_and_check`] to have them
/// pointed at exactly.
pub fn check(segment: &Segment, catalog: &dyn Catalog) -> Result<()> {
    finish(check::check(segment, catalog, None))
}

/// [`parse`] then [`check`], with diagnostics pointing at the exact text.
pub fn parse_and_check(src: &str, catalog: &dyn Catalog) -> Result<Segment> {
    let seg = parser::parse_syntax(src).map_err(Diagnostics)?;
    finish(check::check(&seg, catalog, Some(src)))?;
    Ok(seg)
}

/// Warnings about a checked segment that runs but probably does not say
/// what was meant: a text value that no profile or event has, among the
/// values the catalog knows ([`Catalog::profile_values`]). `src` is the
/// segment's text, to point at the values exactly. The segment still runs;
/// show the warnings with [`Diagnostics::render`].
pub fn warnings(segment: &Segment, catalog: &dyn Catalog, src: Option<&str>) -> Diagnostics {
    Diagnostics(lint::warnings(segment, catalog, src))
}

fn finish(diags: Vec<Diagnostic>) -> Result<()> {
    if diags.is_empty() {
        Ok(())
    } else {
        Err(Error::Dsl(Diagnostics(diags)))
    }
}

/// The candidate nearest to `word` by edit distance (optimal string
/// alignment, case-insensitive; at most 1 edit for words up to 5 chars, 2 up
/// to 9, else 3), for "did you mean ...?" hints outside the DSL (e.g. column
/// names in API requests).
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    suggest::best(word, candidates)
}

/// The canonical text of a segment: upper-case keywords, lower-case
/// functions, one top-level AND / OR operand per line when long, comments
/// kept. For every valid segment, `parse(&format(&s)) == s`.
pub fn format(segment: &Segment) -> String {
    format::segment(segment)
}

/// The JSON form of a segment (compact; spans are included when known).
pub fn to_json(segment: &Segment) -> String {
    serde_json::to_string(segment).unwrap_or_else(|e| {
        // Serializing plain data to a String cannot fail; keep a trace if it
        // ever does rather than panicking in a server.
        format!("{{\"error\":{:?}}}", e.to_string())
    })
}

/// Reads the JSON form of a segment and checks the rules that hold for
/// every dataset (as [`parse`] does for text).
pub fn from_json(json: &str) -> Result<Segment> {
    let seg: Segment = serde_json::from_str(json)?;
    let diags = validate::validate(&seg, locate::Locator::new(None));
    finish(diags)?;
    Ok(seg)
}
