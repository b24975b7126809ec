//! The crate's error type and the diagnostics a user sees.
//!
//! Diagnostics carry byte-offset [`Span`]s; line and column are computed only
//! when a diagnostic is shown ([`Diagnostic::line_col`],
//! [`Diagnostics::render`]).

use std::fmt::{self, Write as _};

use crate::ast::Span;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The segment is not valid: syntax errors, unknown names, type errors.
    /// These are the user's mistakes; show them with [`Diagnostics::render`].
    #[error("invalid segment: {0}")]
    Dsl(Diagnostics),
    /// The JSON text is not the JSON form of a segment.
    #[error("invalid segment JSON: {0}")]
    Json(#[from] serde_json::Error),
}

impl Error {
    /// The diagnostics of an [`Error::Dsl`].
    pub fn diagnostics(&self) -> Option<&Diagnostics> {
        match self {
            Error::Dsl(d) => Some(d),
            Error::Json(_) => None,
        }
    }
}

impl From<Diagnostics> for Error {
    fn from(d: Diagnostics) -> Self {
        Error::Dsl(d)
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One mistake in a segment, with where it is and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Diagnostic {
    /// The exact source text the mistake is about (byte offsets). For ASTs
    /// that were not parsed from text (JSON, programs) this is `0..0`.
    pub span: Span,
    /// What is wrong, e.g. "unknown event type `purchse`".
    pub message: String,
    /// What was expected there, as a noun phrase, e.g. "`)`" or "a number".
    pub expected: Option<String>,
    /// How to fix it, e.g. "did you mean `purchase`?".
    pub suggestion: Option<String>,
    /// Text that could replace `span` to fix the mistake (machine-applicable
    /// quick fix), e.g. `purchase`.
    pub replacement: Option<String>,
    /// Other places worth pointing at, e.g. the `(` that is never closed.
    pub related: Vec<Related>,
    /// A mistake, or a warning about a segment that runs but is likely
    /// not what was meant.
    pub severity: Severity,
}

/// How bad a [`Diagnostic`] is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Severity {
    /// The segment cannot run.
    #[default]
    Error,
    /// The segment runs, but probably does not say what was meant (e.g. a
    /// value no profile has): see [`crate::warnings`].
    Warning,
}

impl Severity {
    /// `error` or `warning`, as rendered.
    pub fn label(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// A secondary location of a [`Diagnostic`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Related {
    pub span: Span,
    pub message: String,
}

impl Diagnostic {
    /// A diagnostic with a message and nothing else.
    pub fn new(span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            span,
            message: message.into(),
            expected: None,
            suggestion: None,
            replacement: None,
            related: Vec::new(),
            severity: Severity::Error,
        }
    }

    /// A warning with a message and nothing else.
    pub fn warning(span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::new(span, message)
        }
    }

    /// Sets what was expected.
    pub fn with_expected(mut self, expected: impl Into<String>) -> Self {
        self.expected = Some(expected.into());
        self
    }

    /// Sets the help text.
    pub fn with_suggestion(mut self, suggestion: impl Into<String>) -> Self {
        self.suggestion = Some(suggestion.into());
        self
    }

    /// Sets the machine-applicable replacement of `span`.
    pub fn with_replacement(mut self, replacement: impl Into<String>) -> Self {
        self.replacement = Some(replacement.into());
        self
    }

    /// Sets a "did you mean ...?" help and the replacement `code` (DSL
    /// text, e.g. `purchase`, `'champions'`, `` `odd name` ``). Code that
    /// is not already quoted is shown in backquotes.
    pub(crate) fn did_you_mean(self, code: &str) -> Self {
        let shown = if code.starts_with(['\'', '`']) {
            code.to_string()
        } else {
            format!("`{code}`")
        };
        self.with_suggestion(format!("did you mean {shown}?"))
            .with_replacement(code)
    }

    /// Adds a secondary location.
    pub fn with_related(mut self, span: Span, message: impl Into<String>) -> Self {
        self.related.push(Related {
            span,
            message: message.into(),
        });
        self
    }

    /// 1-based line and column (counted in characters) of the start of the
    /// span in `src`. Offsets past the end or inside a character are clamped.
    pub fn line_col(&self, src: &str) -> (usize, usize) {
        line_col(src, self.span.start as usize)
    }
}

impl fmt::Display for Diagnostic {
    /// `message (expected ...; help: ...)`, without source positions (use
    /// [`Diagnostics::render`] to show them).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        match (&self.expected, &self.suggestion) {
            (Some(e), Some(s)) => write!(f, " (expected {e}; help: {s})"),
            (Some(e), None) => write!(f, " (expected {e})"),
            (None, Some(s)) => write!(f, " (help: {s})"),
            (None, None) => Ok(()),
        }
    }
}

/// All mistakes found in one segment, in source order (never empty when
/// carried by an [`Error`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Renders every diagnostic against the source text, compiler style:
    ///
    /// ```text
    /// error: unknown event type `purchse`
    ///  --> 1:7
    ///   |
    /// 1 | count(purchse WITHIN 30d) >= 2
    ///   |       ^^^^^^^
    ///   = expected an event type
    ///   = help: did you mean `purchase`?
    /// ```
    pub fn render(&self, src: &str) -> String {
        self.render_in(src, None)
    }

    /// [`render`](Self::render) for a segment read from `origin` (a file
    /// path or a saved segment's name), named before each position:
    /// ` --> vip.seg:2:7`.
    pub fn render_in(&self, src: &str, origin: Option<&str>) -> String {
        let mut out = String::new();
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            render_one(&mut out, d, src, origin);
        }
        out
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Diagnostic> {
        self.0.iter()
    }
}

impl std::ops::Deref for Diagnostics {
    type Target = [Diagnostic];
    fn deref(&self) -> &[Diagnostic] {
        &self.0
    }
}

impl IntoIterator for Diagnostics {
    type Item = Diagnostic;
    type IntoIter = std::vec::IntoIter<Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl<'a> IntoIterator for &'a Diagnostics {
    type Item = &'a Diagnostic;
    type IntoIter = std::slice::Iter<'a, Diagnostic>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.as_slice() {
            [] => f.write_str("no errors"),
            [one] => write!(f, "{one}"),
            [first, rest @ ..] => write!(f, "{first} (and {} more)", rest.len()),
        }
    }
}

/// The largest char boundary `<= offset` (clamped to the text).
fn floor_boundary(src: &str, offset: usize) -> usize {
    let mut o = offset.min(src.len());
    while !src.is_char_boundary(o) {
        o -= 1;
    }
    o
}

pub(crate) fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let o = floor_boundary(src, offset);
    let before = &src[..o];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = src[line_start..o].chars().count() + 1;
    (line, col)
}

/// Byte range of the line containing `offset` (without the line break).
fn line_bounds(src: &str, offset: usize) -> (usize, usize) {
    let o = floor_boundary(src, offset);
    let start = src[..o].rfind('\n').map_or(0, |i| i + 1);
    let end = src[o..].find('\n').map_or(src.len(), |i| o + i);
    let end = if end > start && src.as_bytes()[end - 1] == b'\r' {
        end - 1
    } else {
        end
    };
    (start, end.max(start))
}

/// Leading whitespace that lines up with `src[line_start..offset]` (tabs kept).
fn pad_to(src: &str, line_start: usize, offset: usize) -> String {
    src[line_start..offset]
        .chars()
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect()
}

/// `(line number, line text, pad, marker width)` for a span.
fn locate(src: &str, span: Span) -> (usize, &str, String, usize) {
    let start = floor_boundary(src, span.start as usize);
    let (ls, le) = line_bounds(src, start);
    let start = start.min(le);
    let end = floor_boundary(src, (span.end as usize).max(start)).min(le);
    let width = src[start..end].chars().count().max(1);
    let (line, _) = line_col(src, start);
    (line, &src[ls..le], pad_to(src, ls, start), width)
}

fn render_one(out: &mut String, d: &Diagnostic, src: &str, origin: Option<&str>) {
    let (line, col) = d.line_col(src);
    // Marks: the primary `^^^` first, then related `---` with their labels;
    // shown under their source lines, in line order.
    let (l, text, pad, width) = locate(src, d.span);
    let mut marks: Vec<(usize, &str, String)> =
        vec![(l, text, format!("{pad}{}", "^".repeat(width)))];
    for r in &d.related {
        let (rl, rtext, rpad, rwidth) = locate(src, r.span);
        marks.push((
            rl,
            rtext,
            format!("{rpad}{} {}", "-".repeat(rwidth), r.message),
        ));
    }
    marks.sort_by_key(|(l, ..)| *l);
    let max_line = marks.iter().map(|(l, ..)| *l).max().unwrap_or(l);
    let gutter = " ".repeat(max_line.to_string().len());
    let _ = writeln!(out, "{}: {}", d.severity.label(), d.message);
    let origin = origin.map(|o| format!("{o}:")).unwrap_or_default();
    let _ = writeln!(out, "{gutter}--> {origin}{line}:{col}");
    let _ = writeln!(out, "{gutter} |");
    let mut shown = None;
    for (ml, mtext, mark) in &marks {
        if shown != Some(*ml) {
            let _ = writeln!(out, "{ml:>w$} | {mtext}", w = gutter.len());
            shown = Some(*ml);
        }
        let _ = writeln!(out, "{gutter} | {mark}");
    }
    if let Some(e) = &d.expected {
        let _ = writeln!(out, "{gutter} = expected {e}");
    }
    if let Some(s) = &d.suggestion {
        let _ = writeln!(out, "{gutter} = help: {s}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_chars() {
        let src = "a = 'é'\n  bb";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 8), (1, 8)); // the '\n' itself
        assert_eq!(line_col(src, 9), (2, 1));
        assert_eq!(line_col(src, 11), (2, 3));
        assert_eq!(line_col(src, 6), (1, 6)); // inside 'é' → clamped
        assert_eq!(line_col(src, 1000), (2, 5));
    }

    #[test]
    fn render_points_at_span() {
        let d = Diagnostic::new(Span::new(4, 7), "bad").with_expected("good");
        let r = Diagnostics(vec![d]).render("ab  cde\nx");
        assert_eq!(
            r,
            "error: bad\n --> 1:5\n  |\n1 | ab  cde\n  |     ^^^\n  = expected good\n"
        );
    }
}
