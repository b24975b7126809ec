//! Writing a whole dataset atomically: everything goes into a hidden temp
//! directory next to the target, which replaces the target only when the
//! writer commits. A failed or interrupted write leaves the target as it was.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::layout::MANIFEST_FILE;

/// A temp directory that becomes the dataset at `target` on [`commit`].
///
/// [`commit`]: Staging::commit
#[derive(Debug)]
pub(crate) struct Staging {
    target: PathBuf,
    tmp: PathBuf,
    committed: bool,
}

impl Staging {
    /// Checks that `target` may be (re)placed — it does not exist, is an
    /// empty directory or holds a dataset — and creates the temp directory.
    pub(crate) fn new(target: &Path) -> Result<Staging> {
        if target.exists() {
            if !target.is_dir() {
                return Err(Error::InvalidArgument(format!(
                    "{} exists and is not a directory",
                    target.display()
                )));
            }
            let empty = std::fs::read_dir(target)
                .map_err(|e| Error::io(target, e))?
                .next()
                .is_none();
            if !empty && !target.join(MANIFEST_FILE).is_file() {
                return Err(Error::InvalidArgument(format!(
                    "{} is not empty and holds no {MANIFEST_FILE}; refusing to replace it",
                    target.display()
                )));
            }
        }
        let name = target
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| Error::InvalidArgument(format!("bad target {}", target.display())))?;
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
        let tmp = parent.join(format!(".{name}.tmp-{:08x}", rand::random::<u32>()));
        std::fs::create_dir(&tmp).map_err(|e| Error::io(&tmp, e))?;
        Ok(Staging {
            target: target.to_path_buf(),
            tmp,
            committed: false,
        })
    }

    /// The temp directory to write into.
    pub(crate) fn path(&self) -> &Path {
        &self.tmp
    }

    /// Moves the staged dataset into place. An existing dataset at the
    /// target is renamed away, the new one renamed in, the old one deleted;
    /// its saved segment definitions (`segments/*.seg`) are carried over.
    pub(crate) fn commit(mut self) -> Result<()> {
        let old_segments = self.target.join("segments");
        if old_segments.is_dir() {
            let new_segments = self.tmp.join("segments");
            for entry in
                std::fs::read_dir(&old_segments).map_err(|e| Error::io(&old_segments, e))?
            {
                let path = entry.map_err(|e| Error::io(&old_segments, e))?.path();
                if path.extension().is_some_and(|x| x == "seg") && path.is_file() {
                    std::fs::create_dir_all(&new_segments)
                        .map_err(|e| Error::io(&new_segments, e))?;
                    let to = new_segments.join(path.file_name().expect("file name"));
                    std::fs::copy(&path, &to).map_err(|e| Error::io(&to, e))?;
                }
            }
        }
        if self.target.exists() {
            let old = self.tmp.with_file_name(format!(
                ".{}.old-{:08x}",
                self.target
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or("data"),
                rand::random::<u32>()
            ));
            std::fs::rename(&self.target, &old).map_err(|e| Error::io(&self.target, e))?;
            if let Err(e) = std::fs::rename(&self.tmp, &self.target) {
                // Put the old dataset back.
                let _ = std::fs::rename(&old, &self.target);
                return Err(Error::io(&self.target, e));
            }
            self.committed = true;
            std::fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))?;
        } else {
            std::fs::rename(&self.tmp, &self.target).map_err(|e| Error::io(&self.target, e))?;
            self.committed = true;
        }
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
}
