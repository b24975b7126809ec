//! The features file's place, stamp and columns:
//! `<data>/features/profile_features.parquet`, stamped (Parquet key-value
//! metadata) with the dataset version and the as_of it was built for.
//! [`crate::features`] writes it; a dataset registers it only when its
//! stamp is readable, and the compiler reads it only when the stamp matches
//! the query.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

/// Directory of the features under the dataset.
pub const FEATURES_DIR: &str = "features";
/// The features file.
pub const FEATURES_FILE: &str = "profile_features.parquet";
pub(crate) const KEY_VERSION: &str = "strata.dataset_version";
pub(crate) const KEY_AS_OF: &str = "strata.as_of";

/// What a features file was built for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureStamp {
    pub dataset_version: String,
    pub as_of: DateTime<Utc>,
}

/// `<data>/features/profile_features.parquet`.
pub fn features_path(data_dir: &Path) -> PathBuf {
    data_dir.join(FEATURES_DIR).join(FEATURES_FILE)
}

/// Reads the stamp of the features file, `None` if there is none or it is
/// unreadable (an unreadable file is treated as absent: it is rebuildable).
pub(crate) fn read_stamp(data_dir: &Path) -> Option<FeatureStamp> {
    let file = std::fs::File::open(features_path(data_dir)).ok()?;
    let reader = parquet::file::reader::SerializedFileReader::new(file).ok()?;
    let kv = parquet::file::reader::FileReader::metadata(&reader)
        .file_metadata()
        .key_value_metadata()?
        .clone();
    let get = |k: &str| kv.iter().find(|e| e.key == k).and_then(|e| e.value.clone());
    Some(FeatureStamp {
        dataset_version: get(KEY_VERSION)?,
        as_of: DateTime::parse_from_rfc3339(&get(KEY_AS_OF)?)
            .ok()?
            .with_timezone(&Utc),
    })
}

/// Column names of the features table that stand for each built-in table,
/// in the order of the per-profile tables' columns.
pub(crate) const RFM_COLUMNS: &[(&str, &str)] = &[
    ("rfm_recency_days", "recency_days"),
    ("rfm_frequency", "frequency"),
    ("rfm_monetary", "monetary"),
    ("rfm_r", "r"),
    ("rfm_f", "f"),
    ("rfm_m", "m"),
    ("rfm_segment", "segment"),
];
