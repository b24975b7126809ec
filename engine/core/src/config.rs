//! Engine configuration.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

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
    /// The dataset version to read (`None`: the latest when the engine
    /// opens). A version older than an erasure cannot be read.
    pub at_version: Option<u64>,
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
            at_version: None,
        }
    }
}

/// The port a Ballista scheduler listens on when a URL names none.
pub const DEFAULT_SCHEDULER_PORT: u16 = 50050;

/// A Ballista cluster to run queries on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cluster {
    /// A scheduler and an executor inside this process.
    Standalone,
    /// A running scheduler at `host:port` (written `df://host:port`).
    Remote { host: String, port: u16 },
}

impl Cluster {
    /// The scheduler's gRPC endpoint, `http://host:port`.
    pub fn scheduler_url(&self) -> Option<String> {
        match self {
            Cluster::Standalone => None,
            Cluster::Remote { host, port } => Some(format!("http://{host}:{port}")),
        }
    }
}

impl fmt::Display for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cluster::Standalone => f.write_str("standalone"),
            Cluster::Remote { host, port } => write!(f, "df://{host}:{port}"),
        }
    }
}

impl FromStr for Cluster {
    type Err = String;

    /// `df://host:port` (port defaults to 50050) or `standalone`.
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        if s == "standalone" {
            return Ok(Cluster::Standalone);
        }
        let Some(rest) = s.strip_prefix("df://") else {
            return Err(format!(
                "'{s}' is not a cluster: use df://HOST:PORT (a Ballista scheduler) or standalone"
            ));
        };
        let rest = rest.trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) => {
                let port = p
                    .parse::<u16>()
                    .map_err(|_| format!("'{p}' in '{s}' is not a port number"))?;
                (h, port)
            }
            None => (rest, DEFAULT_SCHEDULER_PORT),
        };
        if host.is_empty() || host.contains('/') {
            return Err(format!("'{s}' has no host: use df://HOST:PORT"));
        }
        Ok(Cluster::Remote {
            host: host.to_string(),
            port,
        })
    }
}

#[cfg(test)]
mod cluster_tests {
    use super::*;

    #[test]
    fn parses_cluster_urls() {
        assert_eq!("standalone".parse(), Ok(Cluster::Standalone));
        assert_eq!(
            "df://sched.internal:50070".parse(),
            Ok(Cluster::Remote {
                host: "sched.internal".into(),
                port: 50070
            })
        );
        assert_eq!(
            "df://localhost".parse(),
            Ok(Cluster::Remote {
                host: "localhost".into(),
                port: DEFAULT_SCHEDULER_PORT
            })
        );
        assert_eq!(
            "df://127.0.0.1:50050/"
                .parse::<Cluster>()
                .map(|c| c.to_string()),
            Ok("df://127.0.0.1:50050".to_string())
        );
        assert!("http://x:1".parse::<Cluster>().is_err());
        assert!("df://:50050".parse::<Cluster>().is_err());
        assert!("df://host:port".parse::<Cluster>().is_err());
    }
}
