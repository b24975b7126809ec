//! `strata.toml`: what a dataset directory contains and how to read it.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use crate::atomic::{Replace, write_atomic};
use crate::error::{Error, Result};
use crate::layout::MANIFEST_FILE;

/// The manifest format this crate writes: 2, tables are Delta tables.
/// Format 1 (the same Parquet files, no transaction log) is still read
/// by [`Manifest::load`] so that `strata upgrade` can convert it; every
/// reader of data checks [`Manifest::ensure_current`].
pub const FORMAT_VERSION: u32 = 2;

/// The contents of `<data>/strata.toml`.
///
/// `roles` name the columns **as they are in the Parquet files** (the writers
/// of this crate always write the canonical names `profile_id`, `event_time`,
/// `event_type`, `amount`, `channel`); where the data came from and which
/// source column fed which role is recorded in [`Manifest::generator`] or
/// [`Manifest::import`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Manifest format version ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// Changes on every write of the dataset (data, segments, features), so
    /// caches keyed by it are never stale.
    pub dataset_version: String,
    /// The instant the data was generated "as of" (every event is before it).
    /// The engine uses it as the default query `as_of` when set; imports
    /// leave it unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<DateTime<Utc>>,
    /// Event types that count as purchases (RFM, channel mix).
    #[serde(default = "default_purchase_types")]
    pub purchase_types: Vec<String>,
    /// Event types that count as activity (lifecycle, retention).
    #[serde(default = "default_purchase_types")]
    pub activity_types: Vec<String>,
    /// Which columns play which role.
    #[serde(default)]
    pub roles: Roles,
    /// Channel classes for the channel mix.
    #[serde(default)]
    pub channels: Channels,
    /// Set when the dataset was written by `strata gen`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator: Option<GeneratorInfo>,
    /// Set when the dataset was written by `strata import`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import: Option<ImportInfo>,
    /// Keys this version does not know, kept as they are on load/save.
    #[serde(flatten)]
    pub extra: BTreeMap<String, toml::Value>,
}

/// Column names for the roles the engine needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roles {
    /// Profile key, Int64, in both tables.
    pub profile_id: String,
    /// Event timestamp (µs, UTC).
    pub event_time: String,
    /// Event type (Utf8).
    pub event_type: String,
    /// Monetary amount of an event (Decimal128(18,2)), if the data has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    /// Channel of an event (Utf8), if the data has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
}

impl Default for Roles {
    fn default() -> Self {
        Roles {
            profile_id: "profile_id".into(),
            event_time: "event_time".into(),
            event_type: "event_type".into(),
            amount: Some("amount".into()),
            channel: Some("channel".into()),
        }
    }
}

/// Which channel values are online and which offline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Channels {
    /// Online channels (default `web`, `app`, `social`).
    pub online: Vec<String>,
    /// Offline channels (default `pos`).
    pub offline: Vec<String>,
}

impl Default for Channels {
    fn default() -> Self {
        Channels {
            online: vec!["web".into(), "app".into(), "social".into()],
            offline: vec!["pos".into()],
        }
    }
}

/// How a generated dataset was made (enough to make it again).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GeneratorInfo {
    /// Scale name (`s`, `m`, `l`, or `custom`).
    pub scale: String,
    /// RNG seed.
    pub seed: u64,
    /// Number of profiles.
    pub profiles: u64,
    /// Number of events written.
    pub events: u64,
}

/// Where an imported dataset came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportInfo {
    /// The event input file(s).
    pub events_files: Vec<String>,
    /// The profile input file, if one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profiles_file: Option<String>,
    /// Canonical column name → the source column (or `const:<value>`) that
    /// fed it.
    pub columns: BTreeMap<String, String>,
    /// Rows imported.
    pub rows: u64,
    /// Rows skipped (`--skip-bad-rows`, `--skip-missing-ids`).
    pub skipped_rows: u64,
}

fn default_purchase_types() -> Vec<String> {
    vec!["purchase".into()]
}

impl Default for Manifest {
    fn default() -> Self {
        Manifest::new()
    }
}

impl Manifest {
    /// A manifest with default roles and channel classes and a fresh version.
    pub fn new() -> Self {
        Manifest {
            format_version: FORMAT_VERSION,
            dataset_version: fresh_version(),
            as_of: None,
            purchase_types: default_purchase_types(),
            activity_types: default_purchase_types(),
            roles: Roles::default(),
            channels: Channels::default(),
            generator: None,
            import: None,
            extra: BTreeMap::new(),
        }
    }

    /// Reads `<dir>/strata.toml`.
    pub fn load(dir: impl AsRef<Path>) -> Result<Manifest> {
        let path = dir.as_ref().join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::Manifest {
            path: path.clone(),
            message: if e.kind() == std::io::ErrorKind::NotFound {
                "not found (is this a Strata dataset directory?)".into()
            } else {
                e.to_string()
            },
        })?;
        Manifest::from_toml(&text).map_err(|message| Error::Manifest { path, message })
    }

    /// Parses manifest text.
    pub fn from_toml(text: &str) -> Result<Manifest, String> {
        let m: Manifest = toml::from_str(text).map_err(|e| e.to_string())?;
        if m.format_version == 0 || m.format_version > FORMAT_VERSION {
            return Err(format!(
                "format_version {} is not supported (this build reads up to {FORMAT_VERSION})",
                m.format_version
            ));
        }
        Ok(m)
    }

    /// Fails with [`Error::NeedsUpgrade`] unless the dataset at `dir` is in
    /// the current format.
    pub fn ensure_current(&self, dir: &Path) -> Result<()> {
        if self.format_version < FORMAT_VERSION {
            return Err(Error::NeedsUpgrade {
                dir: dir.to_path_buf(),
                found: self.format_version,
            });
        }
        Ok(())
    }

    /// The manifest as TOML text.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a manifest always serializes")
    }

    /// Writes `<dir>/strata.toml` atomically (temp file + rename).
    pub fn save(&self, dir: impl AsRef<Path>) -> Result<()> {
        let path = dir.as_ref().join(MANIFEST_FILE);
        write_atomic(&path, self.to_toml().as_bytes(), Replace::Yes)
    }

    /// Gives the dataset a new `dataset_version` (current time + random
    /// suffix). Call before [`Manifest::save`] whenever the data changes.
    pub fn bump_version(&mut self) {
        let mut v = fresh_version();
        while v == self.dataset_version {
            v = fresh_version();
        }
        self.dataset_version = v;
    }
}

fn fresh_version() -> String {
    format!(
        "{}-{:08x}",
        Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true),
        rand::random::<u32>()
    )
}
