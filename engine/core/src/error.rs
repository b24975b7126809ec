//! The one error type of `strata-core`.
//!
//! Variants separate the user's mistakes (bad DSL, unknown segment, bad
//! argument) from limits (memory) and from broken invariants (`Internal`), so
//! that a transport maps each to the right status in one place.

use datafusion::error::DataFusionError;
pub use strata_datasets::ErrorKind;

/// Errors of the engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The segment text or JSON is wrong: parse or type errors with spans.
    #[error("{0}")]
    Dsl(#[from] strata_dsl::Error),

    /// A saved segment referenced by name does not exist.
    #[error("segment '{name}' not found")]
    SegmentNotFound { name: String },

    /// A saved segment of that name exists (and the caller asked to create).
    #[error("segment '{name}' exists already")]
    SegmentExists { name: String },

    /// A saved segment to delete is referenced by other saved segments.
    #[error(
        "segment '{name}' is used by {}: change or delete {} first",
        users.iter().map(|u| format!("'{u}'")).collect::<Vec<_>>().join(", "),
        if users.len() == 1 { "it" } else { "them" }
    )]
    SegmentInUse { name: String, users: Vec<String> },

    /// Saved segments reference each other in a cycle.
    #[error("segment reference cycle: {}", path.join(" -> "))]
    SegmentCycle { path: Vec<String> },

    /// A caller passed an argument that cannot be honoured.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// The query needed more memory than the configured limit.
    #[error("query exceeded the memory limit: {0}")]
    ResourcesExhausted(String),

    /// The Ballista cluster could not be reached or started.
    #[error("cluster: {0}")]
    Cluster(String),

    /// The dataset directory or its manifest is unusable.
    #[error(transparent)]
    Dataset(#[from] strata_datasets::Error),

    /// A DataFusion failure that is not one of the above.
    #[error("query failed: {0}")]
    DataFusion(DataFusionError),

    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),

    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),

    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),

    /// A broken invariant: a bug in Strata.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// What kind of failure this is, for a front end to map to its codes:
    /// DSL, argument and cycle errors are the caller's
    /// ([`ErrorKind::InvalidInput`]), dataset errors keep their own kind.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Dsl(_) | Error::SegmentCycle { .. } | Error::InvalidArgument(_) => {
                ErrorKind::InvalidInput
            }
            Error::SegmentNotFound { .. } => ErrorKind::NotFound,
            Error::SegmentExists { .. } => ErrorKind::AlreadyExists,
            Error::SegmentInUse { .. } => ErrorKind::InUse,
            Error::ResourcesExhausted(_) => ErrorKind::ResourceExhausted,
            Error::Cluster(_) => ErrorKind::Unavailable,
            Error::Dataset(e) => e.kind(),
            Error::DataFusion(_)
            | Error::Arrow(_)
            | Error::Parquet(_)
            | Error::Io(_)
            | Error::Internal(_) => ErrorKind::Internal,
        }
    }
}

impl From<DataFusionError> for Error {
    fn from(e: DataFusionError) -> Self {
        match e.find_root() {
            DataFusionError::ResourcesExhausted(msg) => Error::ResourcesExhausted(msg.clone()),
            _ => Error::DataFusion(e),
        }
    }
}

/// `Result` with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
