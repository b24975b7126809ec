//! `strata serve` configuration: clap-derive blocks, every flag with a long
//! name, an `STRATA_…` environment variable and a default.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::RangedU64ValueParser;

use crate::Error;

/// Everything the server needs to start.
#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    #[clap(flatten)]
    pub data: DataConfig,
    #[clap(flatten)]
    pub net: NetConfig,
    #[clap(flatten)]
    pub transport: TransportConfig,
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
    /// Directory where queries over the memory limit spill (default: the
    /// OS temp directory).
    #[arg(long, env = "STRATA_SPILL_DIR")]
    pub spill_dir: Option<PathBuf>,
    /// Most disk the spill files of all queries may take at once, e.g.
    /// 10GiB; a query needing more fails with RESOURCE_EXHAUSTED. 0: no
    /// spilling (a query over the memory limit fails at once).
    #[arg(long, env = "STRATA_MAX_SPILL_SIZE", default_value = "10GiB", value_parser = parse_bytes)]
    pub max_spill_size: usize,
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
    /// Serve on a non-loopback address with neither a token nor TLS (anyone
    /// who can reach the port may read and change segments). Without it,
    /// such a `--listen` refuses to start.
    #[arg(long, env = "STRATA_ALLOW_INSECURE_PUBLIC")]
    pub allow_insecure_public: bool,
}

/// How much one client may hold of the transport: connections, HTTP/2
/// streams, resets, handshakes, health watches.
#[derive(Debug, Clone, clap::Args)]
pub struct TransportConfig {
    /// Connections open at once. Beyond that the server accepts no more:
    /// new connections wait in the kernel's accept queue until one closes.
    #[arg(long, env = "STRATA_MAX_CONNECTIONS", default_value_t = 1024,
          value_parser = RangedU64ValueParser::<usize>::new().range(1..=MAX_PERMITS))]
    pub max_connections: usize,
    /// HTTP/2 streams (calls) open at once on one connection
    /// (SETTINGS_MAX_CONCURRENT_STREAMS); clients queue the others.
    #[arg(long, env = "STRATA_MAX_CONCURRENT_STREAMS", default_value_t = 64,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_concurrent_streams: u32,
    /// Streams a client may open and reset before the server accepts them,
    /// at once, before the connection is closed (GOAWAY ENHANCE_YOUR_CALM;
    /// the "rapid reset" attack).
    #[arg(
        long,
        env = "STRATA_HTTP2_MAX_PENDING_ACCEPT_RESET_STREAMS",
        default_value_t = 20
    )]
    pub http2_max_pending_accept_reset_streams: usize,
    /// Streams the server may reset because of the client's protocol
    /// errors before the connection is closed (GOAWAY ENHANCE_YOUR_CALM).
    #[arg(
        long,
        env = "STRATA_HTTP2_MAX_LOCAL_ERROR_RESET_STREAMS",
        default_value_t = 1024
    )]
    pub http2_max_local_error_reset_streams: usize,
    /// Interval of the HTTP/2 pings that find dead connections (0: no pings).
    #[arg(long, env = "STRATA_HTTP2_KEEPALIVE_INTERVAL", default_value = "30s", value_parser = parse_duration)]
    pub http2_keepalive_interval: Duration,
    /// A connection whose ping is not answered within this is closed.
    #[arg(long, env = "STRATA_HTTP2_KEEPALIVE_TIMEOUT", default_value = "20s", value_parser = parse_duration)]
    pub http2_keepalive_timeout: Duration,
    /// Time a new connection has to start talking: its first 24 bytes (the
    /// HTTP/2 preface, or a TLS ClientHello) must arrive within it, and with
    /// TLS the whole TLS handshake must finish within it (0: no limit).
    /// A connection that stays silent is closed, freeing its slot.
    #[arg(long, env = "STRATA_HANDSHAKE_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub handshake_timeout: Duration,
    /// Health `Watch` streams open at once (they never end on their own);
    /// beyond that, RESOURCE_EXHAUSTED.
    #[arg(long, env = "STRATA_MAX_HEALTH_WATCHES", default_value_t = 256,
          value_parser = RangedU64ValueParser::<usize>::new().range(1..=MAX_PERMITS))]
    pub max_health_watches: usize,
}

/// Upper bound of the connection and watch limits (a semaphore's permits).
const MAX_PERMITS: u64 = 1 << 20;

/// Who may call.
#[derive(Debug, Clone, clap::Args)]
pub struct AuthConfig {
    /// Admin token (`authorization: Bearer TOKEN`): every RPC. With neither
    /// this nor --read-token, no authentication. Health and reflection stay
    /// open.
    #[arg(
        long,
        alias = "admin-token",
        env = "STRATA_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,
    /// Read token: the RPCs that only read (Validate, Explain, Count,
    /// Members, GetSegment, ListSegments, every AnalyticsService RPC,
    /// Describe); the others answer PERMISSION_DENIED to it.
    #[arg(long, env = "STRATA_READ_TOKEN", hide_env_values = true)]
    pub read_token: Option<String>,
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
    /// How long a member stream waits for its client to take the next
    /// batch: a client that stops reading for longer loses the stream
    /// (DEADLINE_EXCEEDED when it reads again) and its query slot and
    /// buffers are released.
    #[arg(long, env = "STRATA_STREAM_IDLE_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub stream_idle_timeout: Duration,
    /// Largest input one IngestService call may stream (spooled to disk
    /// under the dataset, not held in memory), e.g. 1GiB; beyond it,
    /// RESOURCE_EXHAUSTED.
    #[arg(long, env = "STRATA_MAX_INGEST_BYTES", default_value = "1GiB", value_parser = parse_bytes)]
    pub max_ingest_bytes: usize,
}

/// The count cache.
#[derive(Debug, Clone, clap::Args)]
pub struct CacheConfig {
    /// Counts kept, keyed by (segment, as_of, dataset version); 0 disables.
    #[arg(long, env = "STRATA_COUNT_CACHE_ENTRIES", default_value_t = 10_000)]
    pub count_cache_entries: usize,
    /// Most memory the cached counts' keys may take (their segment texts),
    /// e.g. 64MiB; the oldest entries are dropped first.
    #[arg(long, env = "STRATA_COUNT_CACHE_BYTES", default_value = "64MiB", value_parser = parse_bytes)]
    pub count_cache_bytes: usize,
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

impl Config {
    /// Refuses what must not be served: the same token for both roles, or
    /// a non-loopback address with neither a token nor TLS (unless
    /// --allow-insecure-public).
    pub fn check(&self) -> Result<(), Error> {
        let auth = &self.auth;
        if auth.admin().is_some() && auth.admin() == auth.read() {
            return Err(Error::InvalidArgument(
                "--read-token must differ from --token (the admin token)".into(),
            ));
        }
        if self.insecure_public() && !self.net.allow_insecure_public {
            return Err(Error::InvalidArgument(format!(
                "refusing to serve {} with no token and no TLS: anyone who can reach it could \
                 read and change segments. Set --token (and --tls-cert/--tls-key), listen on \
                 127.0.0.1, or pass --allow-insecure-public (STRATA_ALLOW_INSECURE_PUBLIC=true)",
                self.net.listen
            )));
        }
        Ok(())
    }

    /// Whether `--listen` reaches beyond this machine.
    pub fn is_public(&self) -> bool {
        !self.net.listen.ip().to_canonical().is_loopback()
    }

    /// Whether TLS is configured.
    pub fn has_tls(&self) -> bool {
        self.net.tls_cert.is_some() && self.net.tls_key.is_some()
    }

    fn insecure_public(&self) -> bool {
        self.is_public() && !self.has_tls() && !self.auth.enabled()
    }
}

impl AuthConfig {
    /// The admin token, if one is set (an empty one is none).
    pub fn admin(&self) -> Option<&str> {
        self.token.as_deref().filter(|t| !t.is_empty())
    }

    /// The read token, if one is set (an empty one is none).
    pub fn read(&self) -> Option<&str> {
        self.read_token.as_deref().filter(|t| !t.is_empty())
    }

    /// Whether requests need a token at all.
    pub fn enabled(&self) -> bool {
        self.admin().is_some() || self.read().is_some()
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
