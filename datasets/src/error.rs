//! The crate's one error type.
//!
//! User mistakes (a bad argument, a bad input row, a directory that is not a
//! dataset) are kept apart from I/O failures and broken invariants
//! ([`Error::Internal`]).

use std::fmt;
use std::path::{Path, PathBuf};

/// What kind of failure an error is, independent of any transport: a
/// front end (the gRPC server, the CLI) maps kinds to its own codes in one
/// place. Shared by the crates above (`strata-core` re-exports it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The caller's mistake: a bad argument, row, file or segment.
    InvalidInput,
    /// Something the caller named does not exist.
    NotFound,
    /// Something the caller asked to create exists already.
    AlreadyExists,
    /// A limit was reached (memory, size).
    ResourceExhausted,
    /// A service this one needs (a cluster) cannot be reached.
    Unavailable,
    /// A failure of the machine (I/O) or a broken invariant: not the
    /// caller's to fix.
    Internal,
}

/// `Result` with this crate's [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file system operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory the operation was about.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Reading or writing a Parquet file failed.
    #[error("{}: {source}", path.display())]
    Parquet {
        /// The Parquet file.
        path: PathBuf,
        /// The underlying error.
        source: parquet::errors::ParquetError,
    },
    /// An Arrow operation failed (building or casting arrays).
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// `strata.toml` is missing, unreadable or invalid.
    #[error("manifest {}: {message}", path.display())]
    Manifest {
        /// Path of the manifest file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// An input row could not be imported.
    #[error("{0}")]
    BadRow(Box<BadRow>),
    /// A command-line argument or option is invalid.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A broken invariant: a bug in this crate.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// Wraps a Parquet error with the file it happened on.
    pub fn parquet(path: impl AsRef<Path>, source: parquet::errors::ParquetError) -> Self {
        Error::Parquet {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    /// What kind of failure this is: mistakes of the user (bad argument,
    /// bad row, bad manifest) are [`ErrorKind::InvalidInput`], a missing
    /// file [`ErrorKind::NotFound`], other I/O and Parquet failures and bugs
    /// [`ErrorKind::Internal`].
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::BadRow(_) | Error::InvalidArgument(_) | Error::Manifest { .. } => {
                ErrorKind::InvalidInput
            }
            Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                ErrorKind::NotFound
            }
            Error::Io { .. } | Error::Parquet { .. } | Error::Arrow(_) | Error::Internal(_) => {
                ErrorKind::Internal
            }
        }
    }
}

/// One input row that could not be imported: where it is and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRow {
    /// The input file.
    pub file: PathBuf,
    /// 1-based line number in the file (for CSV the header is line 1).
    pub line: u64,
    /// The column (as named in the input) holding the offending value.
    pub column: String,
    /// The offending value as it appears in the input.
    pub value: String,
    /// What is wrong with it.
    pub message: String,
}

impl fmt::Display for BadRow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: column `{}`: {}: {:?}",
            self.file.display(),
            self.line,
            self.column,
            self.message,
            self.value
        )
    }
}

impl From<BadRow> for Error {
    fn from(row: BadRow) -> Self {
        Error::BadRow(Box::new(row))
    }
}
