//! The engine the services share, reopened when the dataset on disk
//! changes.
//!
//! Every request asks [`EngineHandle::current`] for the engine. That stats
//! `strata.toml` and the dataset log's directory (cheap); only when one
//! changed is the manifest read, and only when the version id (the
//! manifest's `dataset_version` and the latest dataset version) changed
//! *and* a table's Delta log changed is the engine reopened (saving a segment bumps the version but
//! needs no reopen: saved segments are read per query). Queries already
//! running keep the engine they started with.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use strata_core::{Engine, EngineConfig};
use tokio::sync::{Mutex, OnceCell};

use crate::error::{Error, Result};

/// The engine and the dataset version it answers for.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) engine: Arc<Engine>,
    pub(crate) version: String,
    stamp: Stamp,
    data: Fingerprint,
    total_profiles: Arc<OnceCell<u64>>,
}

impl Loaded {
    /// Profiles in the dataset, if already computed for this engine.
    pub(crate) fn known_total_profiles(&self) -> Option<u64> {
        self.total_profiles.get().copied()
    }

    /// Profiles in the dataset (computed once per engine).
    pub(crate) async fn total_profiles(&self) -> Result<u64> {
        let engine = self.engine.clone();
        Ok(*self
            .total_profiles
            .get_or_try_init(|| async move { engine.total_profiles().await })
            .await?)
    }
}

/// Identity of `strata.toml` on disk, and the modification time of the
/// dataset log's directory: changes whenever the manifest is rewritten or
/// a write records a dataset version.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
    log_modified: Option<SystemTime>,
}

/// Names, sizes and times of the files of the Delta logs of `profiles/` and
/// `events/`.
type Fingerprint = Vec<(PathBuf, u64, Option<SystemTime>)>;

/// Shared access to the current engine.
#[derive(Debug)]
pub(crate) struct EngineHandle {
    dir: PathBuf,
    config: EngineConfig,
    current: RwLock<Arc<Loaded>>,
    reload: Mutex<()>,
}

impl EngineHandle {
    pub(crate) async fn open(dir: &Path, config: EngineConfig) -> Result<Self> {
        let loaded = load(dir, &config).await?;
        Ok(EngineHandle {
            dir: dir.to_path_buf(),
            config,
            current: RwLock::new(Arc::new(loaded)),
            reload: Mutex::new(()),
        })
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    fn snapshot(&self) -> Arc<Loaded> {
        self.current.read().expect("engine lock").clone()
    }

    /// The engine for the dataset as it is on disk now.
    pub(crate) async fn current(&self) -> Result<Arc<Loaded>> {
        let now = self.snapshot();
        match stamp(&self.dir) {
            Ok(s) if s == now.stamp => return Ok(now),
            Ok(_) => {}
            // The manifest is being replaced (or gone): keep serving.
            Err(_) => return Ok(now),
        }
        let _guard = self.reload.lock().await;
        let now = self.snapshot();
        let Ok(stamp) = stamp(&self.dir) else {
            return Ok(now);
        };
        if stamp == now.stamp {
            return Ok(now);
        }
        let manifest = match strata_datasets::Manifest::load(&self.dir) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "manifest unreadable; serving the previous version");
                return Ok(now);
            }
        };
        let id = version_id(&self.dir, &manifest)?;
        let next = if id == now.version {
            Loaded {
                engine: now.engine.clone(),
                version: now.version.clone(),
                stamp,
                data: now.data.clone(),
                total_profiles: now.total_profiles.clone(),
            }
        } else {
            let data = fingerprint(&self.dir)?;
            if data == now.data {
                tracing::info!(version = %id, "dataset version changed (data unchanged)");
                Loaded {
                    engine: now.engine.clone(),
                    version: id,
                    stamp,
                    data,
                    total_profiles: now.total_profiles.clone(),
                }
            } else {
                tracing::info!(version = %id, "dataset changed; reopening");
                match load(&self.dir, &self.config).await {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::warn!(error = %e, "reopening failed; serving the previous version");
                        return Ok(now);
                    }
                }
            }
        };
        let next = Arc::new(next);
        *self.current.write().expect("engine lock") = next.clone();
        Ok(next)
    }
}

impl EngineHandle {
    /// Runs the query `run` on the current engine; when it fails inside
    /// the engine and a write has made a newer version meanwhile, runs it
    /// once more on that version. An erasure (or a vacuum) deletes the
    /// files of the version before it as soon as the new version is
    /// recorded, so a query that raced it fails on a missing file: its
    /// client gets the answer of the new version instead, which the
    /// answer names.
    pub(crate) async fn on_current<T, F, Fut>(&self, run: F) -> Result<T>
    where
        F: Fn(Arc<Loaded>) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let loaded = self.current().await?;
        match run(loaded.clone()).await {
            Err(e) if e.status_code() == tonic::Code::Internal => {
                let now = self.current().await?;
                if Arc::ptr_eq(&now.engine, &loaded.engine) {
                    return Err(e);
                }
                tracing::info!(
                    error = %e,
                    version = %now.version,
                    "a query raced a write that replaced its files; running it on the new version"
                );
                run(now).await
            }
            other => other,
        }
    }
}

async fn load(dir: &Path, config: &EngineConfig) -> Result<Loaded> {
    let stamp = stamp(dir).map_err(|e| Error::Core(e.into()))?;
    let data = fingerprint(dir)?;
    let engine = Engine::open(dir, config.clone()).await?;
    // The version as of the stamp we took (the engine's own copy could be
    // newer if a write raced; a newer stamp then triggers another check).
    let version = engine.dataset().version_id();
    Ok(Loaded {
        engine: Arc::new(engine),
        version,
        stamp,
        data,
        total_profiles: Arc::new(OnceCell::new()),
    })
}

fn stamp(dir: &Path) -> std::io::Result<Stamp> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(dir.join(strata_datasets::MANIFEST_FILE))?;
    let log = std::fs::metadata(strata_datasets::dataset_log_dir(dir)).ok();
    Ok(Stamp {
        modified: m.modified().ok(),
        len: m.len(),
        inode: m.ino(),
        log_modified: log.and_then(|l| l.modified().ok()),
    })
}

/// What [`strata_core::Dataset::version_id`] of the dataset on disk now
/// would be.
fn version_id(dir: &Path, manifest: &strata_datasets::Manifest) -> Result<String> {
    let latest = strata_datasets::versions(dir)
        .map_err(|e| Error::Core(e.into()))?
        .last()
        .copied()
        .unwrap_or(0);
    Ok(format!("{}+{latest}", manifest.dataset_version))
}

fn fingerprint(dir: &Path) -> Result<Fingerprint> {
    let mut out = Vec::new();
    // Every change of a table's data is a commit to its Delta log.
    for table in [
        strata_datasets::profiles_dir(dir),
        strata_datasets::events_dir(dir),
    ] {
        let log = table.join(strata_datasets::DELTA_LOG);
        for entry in std::fs::read_dir(&log).map_err(|e| Error::Core(e.into()))? {
            let path = entry.map_err(|e| Error::Core(e.into()))?.path();
            let m = std::fs::metadata(&path).map_err(|e| Error::Core(e.into()))?;
            out.push((path, m.len(), m.modified().ok()));
        }
    }
    out.sort();
    Ok(out)
}
