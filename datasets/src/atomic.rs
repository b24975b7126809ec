//! Atomic file writes, the one implementation every crate uses: a write
//! goes to a hidden temp file next to its target, is fsynced, and takes
//! the target's name only on [`AtomicFile::commit`], after which the
//! directory is fsynced too. Readers see the old content or the new, never
//! a part; a killed process leaves at most a hidden temp file (never
//! picked up by a table scan: it has no `.parquet` or `.seg` extension);
//! concurrent writers of one target never share a temp file.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// Whether a commit may replace an existing target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replace {
    /// Rename over it: last writer wins.
    Yes,
    /// Fail with [`io::ErrorKind::AlreadyExists`] if the target exists,
    /// even when another writer creates it at the same moment (a hard
    /// link, which never replaces).
    No,
}

/// A temp file that becomes `path` on [`commit`](Self::commit); dropped
/// without a commit, it is removed.
#[derive(Debug)]
pub struct AtomicFile {
    path: PathBuf,
    tmp: PathBuf,
    file: Option<File>,
}

/// A temp path next to `path` (same directory, so a rename is atomic),
/// unique to this process and call: `.<name>.tmp-<pid>-<seq>-<random>`.
pub fn temp_path_for(path: &Path) -> PathBuf {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    path.with_file_name(format!(
        ".{name}.tmp-{}-{}-{:08x}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed),
        rand::random::<u32>()
    ))
}

impl AtomicFile {
    /// Starts writing `path` (its directory must exist).
    pub fn create(path: &Path) -> Result<AtomicFile> {
        let tmp = temp_path_for(path);
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| Error::io(&tmp, e))?;
        Ok(AtomicFile {
            path: path.to_path_buf(),
            tmp,
            file: Some(file),
        })
    }

    /// The target path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes written so far.
    pub fn len(&self) -> Result<u64> {
        let file = self.file.as_ref().ok_or_else(committed)?;
        Ok(file.metadata().map_err(|e| Error::io(&self.tmp, e))?.len())
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.len()? == 0)
    }

    /// Fsyncs the data, gives it the target's name and fsyncs the
    /// directory. On an error the temp file is removed and the target is
    /// as it was.
    pub fn commit(mut self, replace: Replace) -> Result<()> {
        let file = self.file.take().ok_or_else(committed)?;
        crate::fault::point("a file written, before its rename");
        let placed = file.sync_all().and_then(|()| {
            drop(file);
            match replace {
                Replace::Yes => std::fs::rename(&self.tmp, &self.path),
                Replace::No => std::fs::hard_link(&self.tmp, &self.path)
                    .and_then(|()| std::fs::remove_file(&self.tmp)),
            }
        });
        if let Err(e) = placed {
            let _ = std::fs::remove_file(&self.tmp);
            return Err(Error::io(&self.path, e));
        }
        sync_dir(&self.path)?;
        crate::fault::point("a file renamed into place");
        Ok(())
    }
}

fn committed() -> Error {
    Error::Internal("atomic file used after its commit".into())
}

/// Fsyncs the directory holding `path`, so that a rename in it survives a
/// crash.
fn sync_dir(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| Error::io(dir, e))
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.file {
            Some(f) => f.write(buf),
            None => Err(io::Error::other("atomic file used after its commit")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.file {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8], replace: Replace) -> Result<()> {
    let mut file = AtomicFile::create(path)?;
    file.write_all(bytes).map_err(|e| Error::io(path, e))?;
    file.commit(replace)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn concurrent_writes_never_mix_or_leave_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.seg");
        let texts: Vec<String> = (0..8).map(|i| format!("{i}").repeat(100_000)).collect();
        std::thread::scope(|s| {
            for t in &texts {
                let path = &path;
                s.spawn(move || {
                    for _ in 0..20 {
                        write_atomic(path, t.as_bytes(), Replace::Yes).unwrap();
                        let read = std::fs::read_to_string(path).unwrap();
                        assert!(texts_contain(&read), "a mixed or partial file");
                    }
                });
            }
        });
        let last = std::fs::read_to_string(&path).unwrap();
        assert!(texts.contains(&last));
        assert_eq!(names(dir.path()), ["s.seg"]);
    }

    /// One of the written texts: one digit repeated 100,000 times.
    fn texts_contain(read: &str) -> bool {
        read.len() == 100_000 && read.chars().all(|c| read.starts_with(c))
    }

    #[test]
    fn create_only_has_one_winner() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.seg");
        let won: usize = std::thread::scope(|s| {
            let tries: Vec<_> = (0..8)
                .map(|i| {
                    let path = &path;
                    s.spawn(move || {
                        match write_atomic(path, format!("{i}").as_bytes(), Replace::No) {
                            Ok(()) => 1,
                            Err(Error::Io { source, .. })
                                if source.kind() == io::ErrorKind::AlreadyExists =>
                            {
                                0
                            }
                            Err(e) => panic!("{e}"),
                        }
                    })
                })
                .collect();
            tries.into_iter().map(|t| t.join().unwrap()).sum()
        });
        assert_eq!(won, 1);
        assert_eq!(names(dir.path()), ["s.seg"]);
    }

    #[test]
    fn an_uncommitted_file_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.parquet");
        std::fs::write(&path, b"old").unwrap();
        {
            let mut f = AtomicFile::create(&path).unwrap();
            f.write_all(b"new, unfinished").unwrap();
        }
        assert_eq!(std::fs::read(&path).unwrap(), b"old");
        assert_eq!(names(dir.path()), ["t.parquet"]);
    }
}
