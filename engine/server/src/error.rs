//! The server's error type and the ONE place where errors become gRPC
//! statuses ([`Error::status_code`], [`Error::into_status`], `impl
//! From<Error> for Status`); the engine's errors by their transport-neutral
//! [`ErrorKind`].
//!
//! Handlers return `Result<T, Error>`; `?` on a `strata_core::Error` wraps
//! it. (The orphan rule forbids `impl From<strata_core::Error> for Status`
//! here, so the core error travels inside [`Error::Core`].)

use std::path::{Path, PathBuf};

use strata_core::ErrorKind;
use strata_dsl::{Diagnostic, Diagnostics};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The engine failed (bad segment, unknown segment, memory, ...).
    #[error("{0}")]
    Core(#[from] strata_core::Error),

    /// A segment that does not parse or type-check, with its source text
    /// (empty for JSON) so diagnostics can name line and column.
    #[error("invalid segment: {}", .diagnostics)]
    InvalidSegment {
        text: String,
        diagnostics: Diagnostics,
    },

    /// A request field is missing or out of range.
    #[error("{0}")]
    InvalidArgument(String),

    /// The request carries no valid token.
    #[error("{0}")]
    Unauthenticated(String),

    /// The token may not call this method.
    #[error("{0}")]
    PermissionDenied(String),

    /// The thing asked for exists already.
    #[error("{0}")]
    AlreadyExists(String),

    /// The server is at its concurrency or memory limit.
    #[error("{0}")]
    Busy(String),

    /// The request's deadline (or the server's cap on it) passed.
    #[error("deadline exceeded after {0:?}; the query was stopped")]
    DeadlineExceeded(std::time::Duration),

    /// A streaming client took no message for this long.
    #[error(
        "the client read nothing for {0:?} (the server's --stream-idle-timeout); \
         the stream was stopped: resume from the last cursor"
    )]
    StreamIdle(std::time::Duration),

    /// A broken invariant.
    #[error("internal error: {0}")]
    Internal(String),
}

pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

/// Longest status message sent, in bytes as it travels: percent-encoded in
/// the `grpc-message` trailer, where a space or a `>` takes three bytes.
/// Longer messages are cut.
const MAX_MESSAGE: usize = 4096;
/// Most BadRequest field violations sent, and the longest one (bytes).
/// With the message, the trailers stay far under the 16 KiB header list a
/// client accepts by default; over it, the client's HTTP/2 layer drops the
/// answer (and, well over it, the whole connection) instead of showing it.
const MAX_VIOLATIONS: usize = 20;
const MAX_VIOLATION: usize = 512;

impl Error {
    /// The gRPC status code of this error: user mistakes are
    /// `INVALID_ARGUMENT`, missing things `NOT_FOUND`, limits
    /// `RESOURCE_EXHAUSTED`, deadlines `DEADLINE_EXCEEDED`, an unreachable
    /// Ballista cluster `UNAVAILABLE`, the rest `INTERNAL`. The engine's
    /// errors map by their [`ErrorKind`].
    pub fn status_code(&self) -> Code {
        match self {
            Error::InvalidSegment { .. } | Error::InvalidArgument(_) => Code::InvalidArgument,
            Error::Unauthenticated(_) => Code::Unauthenticated,
            Error::PermissionDenied(_) => Code::PermissionDenied,
            Error::AlreadyExists(_) => Code::AlreadyExists,
            Error::Busy(_) => Code::ResourceExhausted,
            Error::DeadlineExceeded(_) | Error::StreamIdle(_) => Code::DeadlineExceeded,
            Error::Internal(_) => Code::Internal,
            Error::Core(e) => code_of(e.kind()),
        }
    }

    /// Attaches the segment text to a DSL error so that its diagnostics can
    /// give line and column.
    pub(crate) fn with_source(self, text: &str) -> Error {
        match self {
            Error::Core(strata_core::Error::Dsl(e)) => match e.diagnostics() {
                Some(d) => Error::InvalidSegment {
                    text: text.to_string(),
                    diagnostics: d.clone(),
                },
                None => Error::Core(strata_core::Error::Dsl(e)),
            },
            other => other,
        }
    }

    /// The status, with paths outside the dataset removed from the message
    /// and its size bounded: the message cut to [`MAX_MESSAGE`] encoded
    /// bytes (a diagnostic quotes its source line, which can be 64 KiB),
    /// the details to [`MAX_VIOLATIONS`] violations. The details repeat
    /// the message (a `google.rpc.Status`), so the cut comes first.
    pub(crate) fn into_status(self, data_dir: &Path) -> Status {
        let code = self.status_code();
        let (message, violations) = self.message_and_violations(data_dir);
        let message = match cut_encoded(&message, MAX_MESSAGE) {
            cut if cut.len() == message.len() => message,
            cut => format!("{cut} …(cut)"),
        };
        match violations {
            Some(v) => Status::with_error_details(code, message, ErrorDetails::with_bad_request(v)),
            None => Status::new(code, message),
        }
    }

    /// The whole message, and the BadRequest violations of a bad segment.
    fn message_and_violations(self, data_dir: &Path) -> (String, Option<Vec<FieldViolation>>) {
        match self {
            Error::InvalidSegment { text, diagnostics } => {
                let violations = diagnostics
                    .iter()
                    .take(MAX_VIOLATIONS)
                    .map(|d| violation(describe(d, &text)))
                    .collect();
                let message = if text.is_empty() {
                    format!("invalid segment: {diagnostics}")
                } else {
                    format!("invalid segment:\n{}", diagnostics.render(&text))
                };
                (message, Some(violations))
            }
            Error::Core(strata_core::Error::Dsl(e)) => {
                let message = e.to_string();
                let violations = match e.diagnostics() {
                    Some(d) => d
                        .iter()
                        .take(MAX_VIOLATIONS)
                        .map(|d| violation(describe(d, "")))
                        .collect(),
                    None => vec![violation(message.clone())],
                };
                (message, Some(violations))
            }
            other => {
                let code = other.status_code();
                let message = scrub_paths(&other.to_string(), data_dir);
                if code == Code::Internal {
                    tracing::error!(error = %message, "request failed");
                }
                (message, None)
            }
        }
    }
}

/// The status of an error whose message names no file system path (the
/// auth interceptor's); others go through `Error::into_status`.
impl From<Error> for Status {
    fn from(e: Error) -> Status {
        Status::new(e.status_code(), e.to_string())
    }
}

/// The gRPC code of a kind of engine or dataset failure.
fn code_of(kind: ErrorKind) -> Code {
    match kind {
        ErrorKind::InvalidInput => Code::InvalidArgument,
        ErrorKind::NotFound => Code::NotFound,
        ErrorKind::AlreadyExists => Code::AlreadyExists,
        ErrorKind::ResourceExhausted => Code::ResourceExhausted,
        ErrorKind::Unavailable => Code::Unavailable,
        ErrorKind::Conflict => Code::Aborted,
        ErrorKind::InUse => Code::FailedPrecondition,
        ErrorKind::Internal => Code::Internal,
    }
}

/// The longest prefix of `message` (whole characters) whose
/// percent-encoded form, as tonic writes `grpc-message`, fits `budget`.
fn cut_encoded(message: &str, budget: usize) -> &str {
    let mut used = 0;
    for (i, c) in message.char_indices() {
        let plain = c.is_ascii_graphic()
            && !matches!(c, '"' | '#' | '%' | '<' | '>' | '`' | '?' | '{' | '}');
        used += if plain { 1 } else { 3 * c.len_utf8() };
        if used > budget {
            return &message[..i];
        }
    }
    message
}

/// A violation of the `segment` field, its description cut to
/// [`MAX_VIOLATION`] bytes.
fn violation(mut description: String) -> FieldViolation {
    if description.len() > MAX_VIOLATION {
        let mut cut = MAX_VIOLATION;
        while !description.is_char_boundary(cut) {
            cut -= 1;
        }
        description.truncate(cut);
        description.push_str(" …(cut)");
    }
    FieldViolation::new("segment", description)
}

/// `line:column: message (expected …; help: …)` — the description of a
/// BadRequest field violation. Without source text, no position.
pub(crate) fn describe(d: &Diagnostic, text: &str) -> String {
    if text.is_empty() {
        d.to_string()
    } else {
        let (line, col) = d.line_col(text);
        format!("{line}:{col}: {d}")
    }
}

/// Rewrites a message so it names no file system path outside the dataset:
/// the dataset directory becomes `<dataset>` and any other absolute path
/// becomes `<path>`.
pub(crate) fn scrub_paths(message: &str, data_dir: &Path) -> String {
    let mut out = message.to_string();
    let mut roots: Vec<PathBuf> = vec![data_dir.to_path_buf()];
    if let Ok(c) = data_dir.canonicalize() {
        roots.push(c);
    }
    if let Ok(cwd) = std::env::current_dir() {
        roots.push(cwd.join(data_dir));
    }
    roots.sort_by_key(|r| std::cmp::Reverse(r.as_os_str().len()));
    for root in roots {
        let root = root.to_string_lossy().trim_end_matches('/').to_string();
        if root.len() > 1 {
            out = out.replace(&root, "<dataset>");
        }
    }
    // Any absolute path left (temp dirs, the server's own files): hide it.
    let mut scrubbed = String::with_capacity(out.len());
    let mut rest = out.as_str();
    while let Some(i) = rest.find('/') {
        let (before, from) = rest.split_at(i);
        let starts_word = before
            .chars()
            .last()
            .is_none_or(|c| c.is_whitespace() || matches!(c, '\'' | '"' | '(' | '=' | ':' | '`'));
        let end = from
            .find(|c: char| c.is_whitespace() || matches!(c, '\'' | '"' | ')' | ',' | ':' | '`'))
            .unwrap_or(from.len());
        let candidate = &from[..end];
        scrubbed.push_str(before);
        if starts_word && candidate.len() > 1 && candidate[1..].contains('/') {
            scrubbed.push_str("<path>");
        } else {
            scrubbed.push_str(candidate);
        }
        rest = &from[end..];
    }
    scrubbed.push_str(rest);
    scrubbed
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A dataset's user errors reach the client as the user's, whatever
    /// crate they come from; the machine's stay `INTERNAL`.
    #[test]
    fn codes_follow_the_kind_across_crates() {
        let bad_row = strata_datasets::Error::BadRow(Box::new(strata_datasets::BadRow {
            file: "events.csv".into(),
            line: 7,
            column: "amount".into(),
            value: "12,5".into(),
            message: "not a number".into(),
        }));
        let missing = strata_datasets::Error::io(
            "segments/x.dsl",
            std::io::Error::from(std::io::ErrorKind::NotFound),
        );
        let broken = strata_datasets::Error::io(
            "segments/x.dsl",
            std::io::Error::from(std::io::ErrorKind::PermissionDenied),
        );
        for (e, code) in [
            (bad_row, Code::InvalidArgument),
            (missing, Code::NotFound),
            (broken, Code::Internal),
        ] {
            let e = Error::Core(strata_core::Error::Dataset(e));
            assert_eq!(e.status_code(), code, "{e}");
        }
        let refused = Status::from(Error::PermissionDenied("read only".into()));
        assert_eq!(refused.code(), Code::PermissionDenied);
    }

    #[test]
    fn scrub_hides_paths_outside_dataset() {
        let dir = Path::new("/srv/data/shop");
        let m = scrub_paths(
            "failed to read /srv/data/shop/profiles/p.parquet and /etc/passwd: no",
            dir,
        );
        assert_eq!(
            m,
            "failed to read <dataset>/profiles/p.parquet and <path>: no"
        );
        assert_eq!(scrub_paths("a/b ratio 1/2", dir), "a/b ratio 1/2");
    }

    #[test]
    fn codes() {
        let e = Error::Core(strata_core::Error::SegmentNotFound { name: "x".into() });
        assert_eq!(e.status_code(), Code::NotFound);
        let e = Error::Core(strata_core::Error::ResourcesExhausted("x".into()));
        assert_eq!(e.status_code(), Code::ResourceExhausted);
        assert_eq!(
            Error::Busy("x".into()).status_code(),
            Code::ResourceExhausted
        );
    }

    #[test]
    fn statuses_stay_small_as_they_travel() {
        // A 56 KB one-line segment with an error: its diagnostic quotes
        // the line; spaces and '>' triple when percent-encoded.
        let text = (1..=3000)
            .map(|k| format!("profile_id > {k} OR"))
            .collect::<Vec<_>>()
            .join(" ");
        let e = strata_dsl::parse(&text).unwrap_err();
        let diagnostics = e.diagnostics().expect("a syntax error").clone();
        let status = Error::InvalidSegment { text, diagnostics }.into_status(Path::new("/d"));
        assert!(status.message().ends_with("…(cut)"));
        let mut trailers = http::HeaderMap::new();
        status.add_header(&mut trailers).unwrap();
        let size: usize = trailers
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len())
            .sum();
        assert!(size <= 12 << 10, "{size} bytes of trailers");
        assert_eq!(cut_encoded("a b", 3), "a");
        assert_eq!(cut_encoded("a b", 4), "a ");
        assert_eq!(cut_encoded("a b", 5), "a b");
        assert_eq!(cut_encoded("éa", 6), "é");
    }
}
