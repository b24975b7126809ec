//! Saved segments: `<data>/segments/<name>.seg`, plain DSL text, written
//! atomically (temp file + rename). Saving or deleting bumps the dataset
//! version, because `IN SEGMENT name` changes meaning.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::{Error, Result};

const EXT: &str = "seg";

/// The saved segments of one dataset directory.
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
        self.dir().join(format!("{name}.{EXT}"))
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
            Error::Io(io) if io.kind() == std::io::ErrorKind::AlreadyExists => {
                Error::SegmentExists {
                    name: name.to_string(),
                }
            }
            other => other,
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

/// Whether [`write_atomic`] may replace an existing file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Replace {
    Yes,
    /// Fail with `ErrorKind::AlreadyExists` if the file exists.
    No,
}

/// Writes `bytes` to `path` through a temp file in the same directory (a
/// name unique to this process and call), fsynced, then renamed into place
/// (or hard-linked, which fails if `path` exists, with [`Replace::No`]),
/// and fsyncs the directory: readers see the old or the new content, never
/// a partial file, and concurrent writers never share a temp file.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8], replace: Replace) -> Result<()> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let dir = path
        .parent()
        .ok_or_else(|| Error::Internal(format!("no parent for {}", path.display())))?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("file"),
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        match replace {
            Replace::Yes => std::fs::rename(&tmp, path),
            Replace::No => std::fs::hard_link(&tmp, path).and_then(|()| std::fs::remove_file(&tmp)),
        }
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written?;
    std::fs::File::open(dir)?.sync_all()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_saves_never_mix_or_leave_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.seg");
        let texts: Vec<String> = (0..8).map(|i| format!("{i}").repeat(100_000)).collect();
        std::thread::scope(|s| {
            for t in &texts {
                let path = &path;
                s.spawn(move || {
                    for _ in 0..20 {
                        write_atomic(path, t.as_bytes(), Replace::Yes).unwrap();
                    }
                });
            }
        });
        let got = std::fs::read_to_string(&path).unwrap();
        assert!(texts.contains(&got), "a mixed file");
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "temp files left behind");
    }

    #[test]
    fn create_only_has_one_winner() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.seg");
        let wins = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            for i in 0..8 {
                let (path, wins) = (&path, &wins);
                s.spawn(
                    move || match write_atomic(path, format!("{i}").as_bytes(), Replace::No) {
                        Ok(()) => {
                            wins.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(Error::Io(e)) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                        Err(e) => panic!("{e}"),
                    },
                );
            }
        });
        assert_eq!(wins.load(Ordering::SeqCst), 1);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
