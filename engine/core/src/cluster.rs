//! Where queries run: in this process (the default), or on an Apache
//! DataFusion Ballista cluster.
//!
//! Strata's plans use only DataFusion's built-in operators and functions,
//! `VALUES`, listing tables and Strata's Delta table provider, which the
//! scheduler plans into plain Parquet scans: a stock `ballista-executor`
//! runs every task, and nothing Strata-specific is registered there. The
//! scheduler decodes the logical plan, so it needs the table provider's
//! codec (`LogTableCodec`): `run_scheduler` and the standalone cluster
//! have it. The same [`crate::Engine`] API answers counts, member lists and
//! reports either way; only the [`SessionContext`] differs.
//!
//! - [`Cluster::Remote`] (`df://host:port`) sends each query to a running
//!   scheduler. The dataset must be on a path every executor can read.
//! - [`Cluster::Standalone`] starts a scheduler and one executor inside this
//!   process (once, then reused): the same code path as a real cluster,
//!   without the processes. Tests and demos use it.
//!
//! With the `ballista` cargo feature off, asking for a cluster is an
//! [`Error::InvalidArgument`] that says how to rebuild.

use datafusion::execution::SessionState;
use datafusion::prelude::SessionContext;

use crate::{Error, Result};

pub use crate::config::{Cluster, DEFAULT_SCHEDULER_PORT};

/// The session queries run in: `state` as is when `cluster` is `None`,
/// else `state` upgraded to plan and run on the cluster.
pub(crate) async fn context(
    state: SessionState,
    cluster: Option<&Cluster>,
) -> Result<SessionContext> {
    match cluster {
        None => Ok(SessionContext::new_with_state(state)),
        Some(cluster) => ballista_context(state, cluster).await,
    }
}

#[cfg(not(feature = "ballista"))]
async fn ballista_context(_state: SessionState, cluster: &Cluster) -> Result<SessionContext> {
    Err(Error::InvalidArgument(format!(
        "cannot run on cluster {cluster}: this strata was built without Ballista; \
         rebuild with `cargo build --release --features ballista`"
    )))
}

#[cfg(feature = "ballista")]
async fn ballista_context(state: SessionState, cluster: &Cluster) -> Result<SessionContext> {
    use std::sync::Arc;

    use ballista::extension::{SessionConfigExt, SessionStateExt};

    use crate::dataset::log_table_codec::LogTableCodec;
    use ballista_core::config::BALLISTA_ADAPTIVE_PLANNER_ENABLED;
    use datafusion::execution::session_state::SessionStateBuilder;

    // Ballista 55 turns DataFusion's sort-preserving repartitions into
    // shuffles that concatenate map outputs, so any operator planned to
    // rely on an input order downstream of a shuffle sees unsorted data.
    // Found by tests/e2e/cluster.rs over Strata's sorted Parquet files: a
    // sort-merge join lost a member in about one run in three, and RFM's
    // RANK gave wrong scores. So on a cluster:
    // - no sort order is declared or inferred (`Dataset::open` declares
    //   none; without statistics collection DataFusion does not read the
    //   files' `sorting_columns` either), so nothing relies on one;
    // - hash joins instead of Ballista's preferred sort-merge joins (the
    //   build sides here are per-profile tables, one row per profile);
    // - the static planner: the adaptive one returned a sorted member list
    //   as several sorted runs, concatenated;
    // - DataFusion's join reordering back on (embedded Strata turns it off
    //   and builds on the side its plans put left): a LEFT join whose small
    //   build side is on the left (report label tables) lost its unmatched
    //   rows once Ballista split the probe side across tasks; reordered,
    //   such a join builds on the right.
    // `Engine::members` also sorts and checks what a cluster returns. (A
    // standalone scheduler plans with this state's config, so it is set
    // before the scheduler starts.)
    let config = state
        .config()
        .clone()
        .upgrade_for_ballista()
        .set_bool(BALLISTA_ADAPTIVE_PLANNER_ENABLED, false)
        .set_bool("datafusion.optimizer.prefer_hash_join", true)
        .set_bool("datafusion.optimizer.join_reordering", true)
        .set_bool("datafusion.execution.collect_statistics", false)
        .with_ballista_logical_extension_codec(Arc::new(LogTableCodec::default()));
    let state = SessionStateBuilder::new_from_existing(state)
        .with_config(config)
        .build();
    let url = match cluster {
        Cluster::Standalone => ballista_impl::standalone_scheduler(&state).await?,
        Cluster::Remote { .. } => {
            let url = cluster.scheduler_url().unwrap_or_default();
            ballista_impl::connect(&url).await.map_err(|e| {
                Error::Cluster(format!(
                    "cannot reach the Ballista scheduler at {cluster}: {e}"
                ))
            })?;
            url
        }
    };
    Ok(SessionContext::new_with_state(
        state.upgrade_for_ballista(url)?,
    ))
}

#[cfg(feature = "ballista")]
pub use ballista_impl::{ExecutorOptions, run_executor, run_scheduler};

#[cfg(feature = "ballista")]
mod ballista_impl {
    use std::net::SocketAddr;
    use std::path::PathBuf;
    use std::sync::Arc;
    use std::time::Duration;

    use ballista_core::registry::BallistaFunctionRegistry;
    use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
    use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
    use ballista_scheduler::cluster::BallistaCluster;
    use ballista_scheduler::config::SchedulerConfig;
    use datafusion::execution::SessionState;
    use datafusion::execution::session_state::SessionStateBuilder;
    use tokio::sync::Mutex;
    use tonic::transport::Channel;

    use crate::dataset::log_table_codec::LogTableCodec;
    use crate::{Error, Result};

    /// How long to wait for a scheduler to answer before giving up.
    const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

    pub(super) async fn connect(url: &str) -> Result<SchedulerGrpcClient<Channel>, String> {
        let attempt = SchedulerGrpcClient::connect(url.to_string());
        match tokio::time::timeout(CONNECT_TIMEOUT, attempt).await {
            Ok(Ok(client)) => Ok(client),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {CONNECT_TIMEOUT:?}")),
        }
    }

    /// The URL of this process's standalone scheduler, started (with one
    /// executor) on first use and restarted if it is gone (its runtime
    /// ended, e.g. between tests).
    pub(super) async fn standalone_scheduler(state: &SessionState) -> Result<String> {
        static URL: Mutex<Option<String>> = Mutex::const_new(None);
        let mut url = URL.lock().await;
        if let Some(u) = url.as_ref()
            && connect(u).await.is_ok()
        {
            return Ok(u.clone());
        }
        let addr = ballista_scheduler::standalone::new_standalone_scheduler_from_state(state)
            .await
            .map_err(|e| Error::Cluster(format!("starting a standalone scheduler: {e}")))?;
        let u = format!("http://localhost:{}", addr.port());
        let client = loop {
            match SchedulerGrpcClient::connect(u.clone()).await {
                Ok(c) => break c,
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        };
        let vcores = state.config().target_partitions().max(1);
        ballista_executor::new_standalone_executor_from_state(client, vcores, state)
            .await
            .map_err(|e| Error::Cluster(format!("starting a standalone executor: {e}")))?;
        *url = Some(u.clone());
        Ok(u)
    }

    /// Runs a Ballista scheduler on `bind` until the process is stopped:
    /// the stock scheduler, as `ballista-scheduler` would run it, with the
    /// codec of Strata's Delta tables.
    pub async fn run_scheduler(bind: SocketAddr) -> Result<()> {
        let config = SchedulerConfig {
            override_logical_codec: Some(Arc::new(LogTableCodec::default())),
            bind_host: bind.ip().to_string(),
            bind_port: bind.port(),
            external_host: bind.ip().to_string(),
            ..SchedulerConfig::default()
        };
        let cluster = BallistaCluster::new_from_config(&config)
            .await
            .map_err(|e| Error::Cluster(e.to_string()))?;
        ballista_scheduler::scheduler_process::start_server(cluster, bind, Arc::new(config))
            .await
            .map_err(|e| Error::Cluster(e.to_string()))
    }

    /// Where an executor listens and whom it serves.
    #[derive(Debug, Clone)]
    pub struct ExecutorOptions {
        /// The scheduler to register with.
        pub scheduler: SocketAddr,
        /// Host to bind and advertise.
        pub bind_host: String,
        /// Arrow Flight port (shuffle data and results).
        pub port: u16,
        /// gRPC port (tasks from the scheduler).
        pub grpc_port: u16,
        /// Tasks run at once (0: all cores).
        pub concurrent_tasks: usize,
        /// Shuffle files go here (default: a temporary directory).
        pub work_dir: Option<PathBuf>,
        /// Memory pool of the executor, in bytes (None: Ballista's default).
        pub memory_limit: Option<u64>,
    }

    /// Runs a Ballista executor until the process is stopped (Ctrl-C,
    /// SIGTERM or the scheduler's stop request): the stock executor, as
    /// `ballista-executor` would run it.
    pub async fn run_executor(opts: ExecutorOptions) -> Result<()> {
        let config = ExecutorProcessConfig {
            bind_host: opts.bind_host.clone(),
            external_host: Some(opts.bind_host.clone()),
            port: opts.port,
            grpc_port: opts.grpc_port,
            scheduler_host: opts.scheduler.ip().to_string(),
            scheduler_port: opts.scheduler.port(),
            scheduler_connect_timeout_seconds: 30,
            vcores: opts.concurrent_tasks,
            work_dir: opts.work_dir.map(|p| p.display().to_string()),
            memory_pool_size: opts.memory_limit,
            print_thread_info: false,
            // Every DataFusion built-in, nested (array) functions included:
            // Ballista's default registry has only the core scalar
            // functions, so a list `CONTAINS` (`array_has`) would not decode.
            override_function_registry: Some(Arc::new(BallistaFunctionRegistry::from(
                &SessionStateBuilder::new().with_default_features().build(),
            ))),
            ..ExecutorProcessConfig::default()
        };
        start_executor_process(Arc::new(config))
            .await
            .map_err(|e| Error::Cluster(e.to_string()))
    }
}
