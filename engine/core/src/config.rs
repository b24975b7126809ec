//! Engine configuration.

use std::path::PathBuf;

use crate::cluster::Cluster;

/// How the engine runs queries.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Threads (DataFusion target partitions) per query.
    pub threads: usize,
    /// Memory pool limit for DataFusion operators, in bytes. A query that
    /// needs more fails with [`crate::Error::ResourcesExhausted`] instead of
    /// taking the machine down.
    pub memory_limit: usize,
    /// Rows per Arrow batch.
    pub batch_size: usize,
    /// Run queries on this Ballista cluster instead of in this process.
    pub cluster: Option<Cluster>,
    /// Where operators over the memory limit may spill, and how much.
    pub spill: SpillConfig,
}

/// Spill files of operators that outgrow the memory pool (sorts,
/// aggregations). Past `max_bytes` on disk a query fails with
/// [`crate::Error::ResourcesExhausted`]; with `max_bytes == 0` nothing
/// spills and a query over the memory limit fails at once.
#[derive(Debug, Clone)]
pub struct SpillConfig {
    /// Directory for spill files (`None`: the OS temp directory).
    pub dir: Option<PathBuf>,
    /// Most bytes of spill files at once, over all queries.
    pub max_bytes: u64,
}

impl Default for SpillConfig {
    fn default() -> Self {
        SpillConfig {
            dir: None,
            max_bytes: 10 << 30,
        }
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            threads: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            memory_limit: 4 << 30,
            batch_size: 8192,
            cluster: None,
            spill: SpillConfig::default(),
        }
    }
}
