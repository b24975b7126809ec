//! `strata serve` configuration: clap-derive blocks, every flag with a long
//! name, an `STRATA_…` environment variable and a default.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Everything the server needs to start.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    #[clap(flatten)]
    pub data: DataConfig,
    #[clap(flatten)]
    pub net: NetConfig,
    #[clap(flatten)]
    pub auth: AuthConfig,
    #[clap(flatten)]
    pub limits: LimitsConfig,
    #[clap(flatten)]
    pub cache: CacheConfig,
}

/// Which dataset, and how the engine runs.
#[derive(Debug, Clone, clap::Args)]
pub struct DataConfig {
    /// Dataset directory to serve (the demo dataset is generated there on
    /// first start when it is the default `demo-data`).
    #[arg(long, env = "STRATA_DATA", default_value = "demo-data")]
    pub data: PathBuf,
    /// Threads per query (0: all cores).
    #[arg(long, env = "STRATA_THREADS", default_value_t = 0)]
    pub threads: usize,
    /// Memory limit of the server, e.g. 2GiB. Query operators get half of
    /// it (a query needing more fails with RESOURCE_EXHAUSTED), and new
    /// queries are refused with RESOURCE_EXHAUSTED while the process's
    /// resident memory is above 90% of it.
    #[arg(long, env = "STRATA_MEMORY_LIMIT", default_value = "2GiB", value_parser = parse_bytes)]
    pub memory_limit: usize,
    /// Run every query on this Apache DataFusion Ballista cluster:
    /// `df://HOST:PORT` (a scheduler whose executors can read --data at the
    /// same path) or `standalone` (scheduler and executor in this process).
    /// Needs a strata built with `--features ballista`.
    #[arg(long, env = "STRATA_CLUSTER")]
    pub cluster: Option<strata_core::cluster::Cluster>,
}

/// Where to listen.
#[derive(Debug, Clone, clap::Args)]
pub struct NetConfig {
    /// Address to listen on (port 0: any free port; the bound address is
    /// printed as `listening on ADDR`).
    #[arg(long, env = "STRATA_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,
    /// TLS certificate chain (PEM). With --tls-key, serve over TLS.
    #[arg(long, env = "STRATA_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, env = "STRATA_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

/// Who may call.
#[derive(Debug, Clone, clap::Args)]
pub struct AuthConfig {
    /// Bearer token clients must send (`authorization: Bearer TOKEN`).
    /// Unset: no authentication. Health and reflection stay open.
    #[arg(long, env = "STRATA_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

/// How much the server takes on.
#[derive(Debug, Clone, clap::Args)]
pub struct LimitsConfig {
    /// Queries that run at once (0: twice the number of cores).
    #[arg(long, env = "STRATA_MAX_CONCURRENT_QUERIES", default_value_t = 0)]
    pub max_concurrent_queries: usize,
    /// Queries that may wait for a slot; beyond that, RESOURCE_EXHAUSTED.
    #[arg(long, env = "STRATA_MAX_QUEUED_QUERIES", default_value_t = 256)]
    pub max_queued_queries: usize,
    /// Largest request message accepted, e.g. 1MiB.
    #[arg(long, env = "STRATA_MAX_REQUEST_SIZE", default_value = "1MiB", value_parser = parse_bytes)]
    pub max_request_size: usize,
    /// Cap on a request's deadline, e.g. 300s, 10m: requests without a
    /// deadline, or with a longer one, stop with DEADLINE_EXCEEDED then.
    #[arg(long, env = "STRATA_MAX_REQUEST_TIMEOUT", default_value = "10m", value_parser = parse_duration)]
    pub max_request_timeout: Duration,
}

/// The count cache.
#[derive(Debug, Clone, clap::Args)]
pub struct CacheConfig {
    /// Counts kept, keyed by (segment, as_of, dataset version); 0 disables.
    #[arg(long, env = "STRATA_COUNT_CACHE_ENTRIES", default_value_t = 10_000)]
    pub count_cache_entries: usize,
}

impl Config {
    /// Defaults, serving `data`.
    pub fn for_data(data: impl Into<PathBuf>) -> Config {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Wrap {
            #[clap(flatten)]
            config: Config,
        }
        let mut c = Wrap::parse_from(["strata"]).config;
        c.data.data = data.into();
        c
    }
}

/// `4GiB`, `512MiB`, `100MB`, `1048576`.
pub fn parse_bytes(s: &str) -> Result<usize, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: usize = num
        .parse()
        .map_err(|_| format!("'{s}' is not a size: use e.g. 4GiB, 512MiB"))?;
    let mult: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "kib" | "k" => 1 << 10,
        "mb" => 1_000_000,
        "mib" | "m" => 1 << 20,
        "gb" => 1_000_000_000,
        "gib" | "g" => 1 << 30,
        other => return Err(format!("unknown size unit '{other}': use KiB, MiB or GiB")),
    };
    n.checked_mul(mult)
        .ok_or_else(|| format!("'{s}' is too large"))
}

/// `500ms`, `30s`, `10m`, `1h`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a duration: use e.g. 500ms, 30s, 10m"))?;
    Ok(match unit {
        "ms" => Duration::from_millis(n),
        "" | "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        other => {
            return Err(format!(
                "unknown duration unit '{other}': use ms, s, m or h"
            ));
        }
    })
}
