//! `strata serve` (and `strata` with no subcommand): the gRPC server.

use std::path::Path;

use clap::{Args, Parser};

/// `strata serve`: every flag also reads an `STRATA_…` environment variable.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    pub(crate) config: strata_server::Config,
}

impl ServeArgs {
    /// The flags' defaults (and environment), as `strata serve` with no
    /// flags would have them.
    pub(crate) fn defaults() -> ServeArgs {
        #[derive(Parser)]
        struct Wrap {
            #[command(flatten)]
            args: ServeArgs,
        }
        Wrap::parse_from(["strata"]).args
    }
}

/// The dataset `strata` serves when given no flags; generated on first start.
pub(crate) const DEMO_DATA: &str = "demo-data";

/// A demo dataset an older build generated (format 1) is converted in
/// place: it is Strata's own, and the first command must keep working.
pub(crate) fn upgrade_demo(data: &Path) -> anyhow::Result<()> {
    let manifest = strata_datasets::Manifest::load(data)?;
    if manifest.ensure_current(data).is_err() {
        eprintln!("converting {} to the current format", data.display());
        strata_datasets::upgrade(data)?;
    }
    Ok(())
}

pub(crate) fn run(a: ServeArgs) -> anyhow::Result<()> {
    let config = a.config;
    // Before the demo dataset is generated: a refused --listen fails fast.
    config.check()?;
    let data = config.data.data.clone();
    if !data.join(strata_datasets::MANIFEST_FILE).exists() {
        if data != Path::new(DEMO_DATA) {
            anyhow::bail!(
                "{} is not a Strata dataset (no {}): create one with `strata gen --out {0}` or `strata import`",
                data.display(),
                strata_datasets::MANIFEST_FILE
            );
        }
        generate_demo(&data)?;
    } else if data == Path::new(DEMO_DATA) {
        upgrade_demo(&data)?;
    }
    let tls = config.has_tls();
    let token = config.auth.enabled();
    super::query::runtime()?.block_on(async move {
        let stop = strata_server::CancellationToken::new();
        tokio::spawn({
            let stop = stop.clone();
            async move {
                shutdown_signal().await;
                eprintln!("stopping: finishing running requests (Ctrl-C again to quit now)");
                stop.cancel();
                shutdown_signal().await;
                std::process::exit(130);
            }
        });
        let server = strata_server::BoundServer::bind(config).await?;
        let addr = server.local_addr();
        println!("listening on {addr}");
        let (scheme, ca, grpcurl) = if tls {
            ("https", " --ca-cert CERT.pem", "-cacert CERT.pem")
        } else {
            ("http", "", "-plaintext")
        };
        eprintln!(
            "serving {} on {addr}{}{}; try:\n  strata count --server {scheme}://{addr}{ca} 'consent_email'\n  grpcurl {grpcurl} {addr} list",
            data.display(),
            if tls { " (TLS)" } else { "" },
            if token { " (token required)" } else { "" },
        );
        server.run(stop).await?;
        eprintln!("stopped");
        anyhow::Ok(())
    })
}

/// Generates the demo dataset (scale s, seed 7) into `data`.
pub(crate) fn generate_demo(data: &Path) -> anyhow::Result<()> {
    #[derive(Parser)]
    struct Wrap {
        #[command(flatten)]
        gen_args: super::data::GenArgs,
    }
    eprintln!(
        "generating the demo dataset (scale s, seed 7) into {} (first start only) ...",
        data.display()
    );
    let out = data.to_string_lossy();
    let args =
        Wrap::try_parse_from(["gen", "--scale", "s", "--seed", "7", "--out", &out])?.gen_args;
    super::data::run_gen(args)?;
    Ok(())
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
