//! Engine configuration.

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
        }
    }
}
