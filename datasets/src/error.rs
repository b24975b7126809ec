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
    /// A concurrent write got there first; retrying may succeed.
    Conflict,
    /// What the caller asked to remove is still used (a saved segment that
    /// other saved segments refer to).
    InUse,
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
    /// A Delta table's transaction log could not be read or written.
    #[error("table {}: {source}", path.display())]
    Table {
        /// The table directory.
        path: PathBuf,
        /// The underlying error.
        source: Box<deltalake_core::DeltaTableError>,
    },
    /// The dataset is in an older format that must be converted first.
    #[error(
        "{} is a format-{found} dataset; convert it in place with `strata upgrade --data {}` (its files stay, a Delta log is written beside them)",
        dir.display(), dir.display()
    )]
    NeedsUpgrade {
        /// The dataset directory.
        dir: PathBuf,
        /// Its manifest's `format_version`.
        found: u32,
    },
    /// The dataset version asked for does not exist.
    #[error("{}", version_not_found(*version, *latest))]
    VersionNotFound {
        /// The dataset directory.
        dir: PathBuf,
        /// The version asked for.
        version: u64,
        /// The latest version, if the dataset has any.
        latest: Option<u64>,
    },
    /// The dataset version asked for predates an erasure: its files are
    /// gone.
    #[error(
        "dataset version {version} can no longer be read: version {erasure} erased profiles (strata forget) and deleted the files it read; read version {erasure} or later"
    )]
    VersionErased {
        /// The version asked for.
        version: u64,
        /// The erasure after it.
        erasure: u64,
    },
    /// A version older than the last vacuum's retention window.
    #[error(
        "dataset version {version} can no longer be read: a vacuum deleted its files; versions {readable_from} and later can be read"
    )]
    VersionVacuumed {
        /// The version asked for.
        version: u64,
        /// The oldest readable version.
        readable_from: u64,
    },
    /// Another writer committed first.
    #[error("conflict: {0}")]
    Conflict(String),
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
            Error::BadRow(_)
            | Error::InvalidArgument(_)
            | Error::Manifest { .. }
            | Error::NeedsUpgrade { .. } => ErrorKind::InvalidInput,
            Error::Table { source, .. } => table_kind(source),
            Error::VersionNotFound { .. }
            | Error::VersionErased { .. }
            | Error::VersionVacuumed { .. } => ErrorKind::NotFound,
            Error::Conflict(_) => ErrorKind::Conflict,
            Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                ErrorKind::NotFound
            }
            Error::Io { .. } | Error::Parquet { .. } | Error::Arrow(_) | Error::Internal(_) => {
                ErrorKind::Internal
            }
        }
    }
}

fn version_not_found(version: u64, latest: Option<u64>) -> String {
    match latest {
        Some(latest) => {
            format!("dataset version {version} does not exist (the versions are 0 to {latest})")
        }
        None => format!("dataset version {version} does not exist (the dataset has no versions)"),
    }
}

/// A version that does not exist (or no longer can be read) is the
/// caller's to fix; everything else of the log is internal.
fn table_kind(e: &deltalake_core::DeltaTableError) -> ErrorKind {
    use deltalake_core::DeltaTableError as E;
    match e {
        E::InvalidVersion(_) | E::NotATable(_) => ErrorKind::NotFound,
        E::VersionAlreadyExists(_) => ErrorKind::AlreadyExists,
        _ => ErrorKind::Internal,
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
