//! Conversions between the wire types of `strata.v1` and the engine's.

use std::time::Duration;

use chrono::{DateTime, Utc};
use strata_core::Engine;
use strata_dsl::ast::Segment;
use strata_proto::v1;

use crate::error::{Error, Result};

/// Longest segment text accepted (the request size limit applies too).
pub(crate) const MAX_SEGMENT_TEXT: usize = 64 << 10;

pub(crate) fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: t.timestamp_subsec_nanos() as i32,
    }
}

pub(crate) fn duration(d: Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: d.as_secs() as i64,
        nanos: d.subsec_nanos() as i32,
    }
}

/// The as_of of a request, or the engine's default.
pub(crate) fn as_of(engine: &Engine, a: Option<&v1::AsOf>) -> Result<DateTime<Utc>> {
    match a.and_then(|a| a.time.as_ref()) {
        None => Ok(engine.default_as_of()),
        Some(t) => from_timestamp(t),
    }
}

/// A request's instant, checked to lie in the range every query accepts
/// (`strata_core::time::check_as_of`) before any arithmetic on it.
pub(crate) fn from_timestamp(t: &prost_types::Timestamp) -> Result<DateTime<Utc>> {
    let time = (0..1_000_000_000)
        .contains(&t.nanos)
        .then(|| DateTime::<Utc>::from_timestamp(t.seconds, t.nanos as u32))
        .flatten()
        .ok_or_else(|| {
            Error::InvalidArgument(format!(
                "as_of {{ seconds: {}, nanos: {} }} is not a valid time",
                t.seconds, t.nanos
            ))
        })?;
    Ok(strata_core::time::check_as_of(time)?)
}

/// A checked segment and its canonical text (the count cache key).
#[derive(Debug)]
pub(crate) struct Resolved {
    pub(crate) segment: Segment,
    pub(crate) canonical: String,
    /// The DSL text it was parsed from (`None` for JSON).
    pub(crate) text: Option<String>,
    /// Found while checking it (positions in `text`).
    pub(crate) warnings: strata_dsl::Diagnostics,
}

impl Resolved {
    /// The segment's warnings, on the wire.
    pub(crate) fn warnings(&self) -> Vec<v1::Diagnostic> {
        let text = self.text.as_deref().unwrap_or("");
        self.warnings.iter().map(|d| diagnostic(d, text)).collect()
    }
}

/// Parses and type-checks the segment of a request.
pub(crate) fn segment(engine: &Engine, s: Option<&v1::Segment>) -> Result<Resolved> {
    use v1::segment::Source;
    let source = s
        .and_then(|s| s.source.as_ref())
        .ok_or_else(|| Error::InvalidArgument("segment is required (dsl, json or name)".into()))?;
    let ((segment, warnings), text) = match source {
        Source::Dsl(text) => (parse_text(engine, text)?, Some(text.clone())),
        Source::Json(json) => {
            check_len(json)?;
            let seg = strata_dsl::from_json(json).map_err(strata_core::Error::from)?;
            engine.check(&seg)?;
            let warnings = engine.warnings(&seg, None)?;
            ((seg, warnings), None)
        }
        Source::Name(name) => {
            let text = engine.dataset().segments().get(name)?;
            (parse_text(engine, &text)?, Some(text))
        }
    };
    let canonical = strata_dsl::format(&segment);
    Ok(Resolved {
        segment,
        canonical,
        text,
        warnings,
    })
}

/// Parses and checks DSL text, keeping the text with any diagnostics; the
/// warnings come along.
pub(crate) fn parse_text(
    engine: &Engine,
    text: &str,
) -> Result<(Segment, strata_dsl::Diagnostics)> {
    check_len(text)?;
    engine
        .parse_warned(text)
        .map_err(|e| Error::from(e).with_source(text))
}

fn check_len(text: &str) -> Result<()> {
    if text.len() > MAX_SEGMENT_TEXT {
        return Err(Error::InvalidArgument(format!(
            "segment is {} bytes; at most {MAX_SEGMENT_TEXT} are accepted",
            text.len()
        )));
    }
    Ok(())
}

/// A diagnostic on the wire, with line and column computed from `text`.
pub(crate) fn diagnostic(d: &strata_dsl::Diagnostic, text: &str) -> v1::Diagnostic {
    let (line, column) = d.line_col(text);
    let end = strata_dsl::Diagnostic::new(
        strata_dsl::ast::Span::new(d.span.end as usize, d.span.end as usize),
        "",
    );
    let (end_line, end_column) = end.line_col(text);
    v1::Diagnostic {
        line: line as u32,
        column: column as u32,
        end_line: end_line as u32,
        end_column: end_column as u32,
        start_byte: d.span.start,
        end_byte: d.span.end,
        message: d.message.clone(),
        expected: d.expected.clone().unwrap_or_default(),
        suggestion: d.suggestion.clone().unwrap_or_default(),
        replacement: d.replacement.clone().unwrap_or_default(),
        severity: match d.severity {
            strata_dsl::Severity::Error => v1::Severity::Error,
            strata_dsl::Severity::Warning => v1::Severity::Warning,
        }
        .into(),
    }
}

/// `90d`, `12w`, `6m`, `48h` (empty: none): the DSL's durations.
pub(crate) fn window(field: &str, s: &str) -> Result<Option<strata_dsl::ast::Duration>> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    s.parse()
        .map(Some)
        .map_err(|e| Error::InvalidArgument(format!("{field}: {e}")))
}

/// Encodes record batches as one Arrow IPC stream.
pub(crate) fn arrow_ipc(
    schema: &arrow::datatypes::Schema,
    batches: &[arrow::record_batch::RecordBatch],
) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    let mut w = arrow::ipc::writer::StreamWriter::try_new(&mut buf, schema)
        .map_err(strata_core::Error::from)?;
    for b in batches {
        w.write(b).map_err(strata_core::Error::from)?;
    }
    w.finish().map_err(strata_core::Error::from)?;
    drop(w);
    Ok(buf)
}
