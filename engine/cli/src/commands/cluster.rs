//! `strata cluster scheduler | executor`: the stock Apache DataFusion
//! Ballista scheduler and executor, in the `strata` binary, so that a
//! cluster for `--cluster df://HOST:PORT` needs nothing else installed.
//! They run Strata's plans unchanged (built-in operators only); the upstream
//! `ballista-scheduler` / `ballista-executor` binaries of the same version
//! work as well (docs/scale-out.md).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Subcommand};

#[cfg_attr(not(feature = "ballista"), allow(dead_code))]
#[derive(Debug, Args)]
pub(crate) struct ClusterArgs {
    #[command(subcommand)]
    pub(crate) role: Role,
}

#[cfg_attr(not(feature = "ballista"), allow(dead_code))]
#[derive(Debug, Subcommand)]
pub(crate) enum Role {
    /// Run a Ballista scheduler: it plans queries into stages and hands
    /// tasks to executors.
    Scheduler(SchedulerArgs),
    /// Run a Ballista executor: it registers with a scheduler and runs tasks
    /// (reading the dataset's Parquet files itself).
    Executor(ExecutorArgs),
}

// Without the feature the arguments are parsed (so `--help` shows them) but
// never read: `run` says how to rebuild.
#[cfg_attr(not(feature = "ballista"), allow(dead_code))]
#[derive(Debug, Args)]
pub(crate) struct SchedulerArgs {
    /// Address to listen on; clients use `--cluster df://HOST:PORT`.
    #[arg(long, env = "STRATA_SCHEDULER_BIND", default_value = "127.0.0.1:50050")]
    pub(crate) bind: SocketAddr,
}

#[cfg_attr(not(feature = "ballista"), allow(dead_code))]
#[derive(Debug, Args)]
pub(crate) struct ExecutorArgs {
    /// The scheduler to register with.
    #[arg(long, env = "STRATA_SCHEDULER", default_value = "127.0.0.1:50050")]
    pub(crate) scheduler: SocketAddr,
    /// Host to bind and advertise to the scheduler and other executors.
    #[arg(long, env = "STRATA_EXECUTOR_HOST", default_value = "127.0.0.1")]
    pub(crate) bind_host: String,
    /// Arrow Flight port (query results and shuffle data).
    #[arg(long, env = "STRATA_EXECUTOR_PORT", default_value_t = 50051)]
    pub(crate) port: u16,
    /// gRPC port (tasks from the scheduler).
    #[arg(long, env = "STRATA_EXECUTOR_GRPC_PORT", default_value_t = 50052)]
    pub(crate) grpc_port: u16,
    /// Tasks run at once (0: all cores).
    #[arg(long, env = "STRATA_EXECUTOR_TASKS", default_value_t = 0)]
    pub(crate) concurrent_tasks: usize,
    /// Directory for shuffle files (default: a temporary directory).
    #[arg(long, env = "STRATA_EXECUTOR_WORK_DIR")]
    pub(crate) work_dir: Option<PathBuf>,
    /// Memory pool of the executor's operators, e.g. 4GiB (default:
    /// Ballista's share of the machine's memory).
    #[arg(long, env = "STRATA_EXECUTOR_MEMORY_LIMIT", value_parser = strata_server::parse_bytes)]
    pub(crate) memory_limit: Option<usize>,
}

#[cfg(not(feature = "ballista"))]
pub(crate) fn run(_: ClusterArgs) -> anyhow::Result<()> {
    anyhow::bail!(
        "this strata was built without Ballista: rebuild with `cargo build --release --features ballista`"
    )
}

#[cfg(feature = "ballista")]
pub(crate) fn run(a: ClusterArgs) -> anyhow::Result<()> {
    use strata_core::cluster::{ExecutorOptions, run_executor, run_scheduler};

    // Ballista's own binaries give their threads 32 MiB stacks: plan
    // (de)serialization recurses with the depth of the plan.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(32 << 20)
        .build()?;
    runtime.block_on(async move {
        match a.role {
            Role::Scheduler(s) => {
                println!("ballista scheduler listening on {}", s.bind);
                run_scheduler(s.bind).await?;
            }
            Role::Executor(e) => {
                println!(
                    "ballista executor on {}:{} (grpc {}), scheduler {}",
                    e.bind_host, e.port, e.grpc_port, e.scheduler
                );
                run_executor(ExecutorOptions {
                    scheduler: e.scheduler,
                    bind_host: e.bind_host,
                    port: e.port,
                    grpc_port: e.grpc_port,
                    concurrent_tasks: e.concurrent_tasks,
                    work_dir: e.work_dir,
                    memory_limit: e.memory_limit.map(|m| m as u64),
                })
                .await?;
            }
        }
        Ok(())
    })
}
