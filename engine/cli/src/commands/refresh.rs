//! `strata refresh`: build the per-profile features for an as_of.

use std::time::Instant;

use clap::Args;

use super::query::{EngineArgs, parse_as_of, runtime};

#[derive(Debug, Args)]
pub(crate) struct RefreshArgs {
    #[command(flatten)]
    pub(crate) engine: EngineArgs,
    /// Build the features for this instant (default: the dataset's as_of if
    /// it has one, else now). Queries at another as_of do not use them.
    #[arg(long, value_parser = parse_as_of)]
    pub(crate) as_of: Option<chrono::DateTime<chrono::Utc>>,
}

pub(crate) fn run(a: RefreshArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let engine = a.engine.open().await?;
        let as_of = a.as_of.unwrap_or_else(|| engine.default_as_of());
        let start = Instant::now();
        let s = engine.refresh_features(as_of).await?;
        println!(
            "wrote {} ({} profiles) for as_of {} and dataset version {} in {:.2}s",
            s.path.display(),
            s.rows,
            s.stamp.as_of.to_rfc3339(),
            s.stamp.dataset_version,
            start.elapsed().as_secs_f64()
        );
        Ok(())
    })
}
