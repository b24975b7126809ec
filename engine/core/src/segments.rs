//! Saved segments: `<data>/segments/<name>.seg`, plain DSL text, written
//! atomically (`strata_datasets::write_atomic`). Saving or deleting bumps the dataset
//! version, because `IN SEGMENT name` changes meaning.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use strata_datasets::{Replace, write_atomic};

use crate::{Error, Result};

const EXT: &str = "seg";

/// The saved segments of one dataset directory.
/// Where saved segment `name` is kept, relative to the dataset directory
/// (`segments/vip.seg`), as errors inside it name it.
pub(crate) fn file_name(name: &str) -> String {
    format!("segments/{name}.{EXT}")
}

#[derive(Debug, Clone)]
pub struct SegmentStore {
    data_dir: PathBuf,
}

impl SegmentStore {
    pub fn new(data_dir: &Path) -> Self {
        SegmentStore {
            data_dir: data_dir.to_path_buf(),
        }
    }

    /// `<data>/segments`.
    pub fn dir(&self) -> PathBuf {
        self.data_dir.join("segments")
    }

    /// Checks a segment name: 1..=64 of `[A-Za-z0-9_-]`, starting with a letter.
    pub fn validate_name(name: &str) -> Result<()> {
        let ok = !name.is_empty()
            && name.len() <= 64
            && name.starts_with(|c: char| c.is_ascii_alphabetic())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if ok {
            Ok(())
        } else {
            Err(Error::InvalidArgument(format!(
                "segment name '{name}' must be 1 to 64 letters, digits, '_' or '-', starting with a letter"
            )))
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.data_dir.join(file_name(name))
    }

    /// The DSL text of segment `name`.
    pub fn get(&self, name: &str) -> Result<String> {
        Self::validate_name(name)?;
        match std::fs::read_to_string(self.path(name)) {
            Ok(s) => Ok(s),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Error::SegmentNotFound {
                name: name.to_string(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// Every saved segment, by name.
    pub fn load_all(&self) -> Result<BTreeMap<String, String>> {
        let mut out = BTreeMap::new();
        let entries = match std::fs::read_dir(self.dir()) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e.into()),
        };
        for entry in entries {
            let path = entry?.path();
            if path.extension().and_then(|e| e.to_str()) != Some(EXT) {
                continue;
            }
            let Some(name) = path.file_stem().and_then(|s| s.to_str()) else {
                continue;
            };
            if Self::validate_name(name).is_ok() {
                out.insert(name.to_string(), std::fs::read_to_string(&path)?);
            }
        }
        Ok(out)
    }

    /// Saves (creates or replaces) segment `name` atomically and bumps the
    /// dataset version. The caller validates the text first.
    pub fn save(&self, name: &str, text: &str) -> Result<()> {
        Self::validate_name(name)?;
        std::fs::create_dir_all(self.dir())?;
        write_atomic(&self.path(name), text.as_bytes(), Replace::Yes)?;
        self.bump_version()
    }

    /// Creates segment `name` atomically, failing with
    /// [`Error::SegmentExists`] if it exists (even when another writer
    /// creates it at the same moment), and bumps the dataset version.
    pub fn create(&self, name: &str, text: &str) -> Result<()> {
        Self::validate_name(name)?;
        std::fs::create_dir_all(self.dir())?;
        write_atomic(&self.path(name), text.as_bytes(), Replace::No).map_err(|e| match e {
            strata_datasets::Error::Io { source, .. }
                if source.kind() == std::io::ErrorKind::AlreadyExists =>
            {
                Error::SegmentExists {
                    name: name.to_string(),
                }
            }
            other => other.into(),
        })?;
        self.bump_version()
    }

    /// Deletes segment `name` (and its materialized membership, if any).
    pub fn delete(&self, name: &str) -> Result<()> {
        Self::validate_name(name)?;
        match std::fs::remove_file(self.path(name)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::SegmentNotFound {
                    name: name.to_string(),
                });
            }
            Err(e) => return Err(e.into()),
        }
        let materialized = self.dir().join(name);
        if materialized.is_dir() {
            std::fs::remove_dir_all(materialized)?;
        }
        self.bump_version()
    }

    fn bump_version(&self) -> Result<()> {
        let mut manifest = strata_datasets::Manifest::load(&self.data_dir)?;
        manifest.bump_version();
        manifest.save(&self.data_dir)?;
        Ok(())
    }
}
