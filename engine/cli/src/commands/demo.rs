//! `strata demo`: make sure the demo dataset exists, then show what Strata
//! does with it (counts of a few segments, embedded).

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;

use super::query::runtime;

#[derive(Debug, Default, Args)]
pub(crate) struct DemoArgs {
    /// Where the demo dataset lives (generated on first use).
    #[arg(long, env = "STRATA_DATA", default_value = "demo-data")]
    pub(crate) data: Option<PathBuf>,
}

/// Segments shown by the demo, with what they mean.
const DEMO_SEGMENTS: &[(&str, &str)] = &[
    ("consents to email", "consent_email"),
    (
        "bought at least twice in the last 90 days",
        "count(purchase WITHIN 90d) >= 2",
    ),
    (
        "abandoned a cart over 200 this week and did not buy",
        "performed(cart_abandoned WHERE amount >= 200 WITHIN 7d) AND NOT performed(purchase WITHIN 7d)",
    ),
    (
        "lapsed VIPs who accept email",
        "sum(purchase.amount) >= 1000 AND NOT performed(purchase WITHIN 180d) AND consent_email",
    ),
];

pub(crate) fn run(a: DemoArgs) -> anyhow::Result<()> {
    let data = a.data.unwrap_or_else(|| PathBuf::from("demo-data"));
    if !data.join(strata_datasets::MANIFEST_FILE).exists() {
        super::serve::generate_demo(&data)?;
    } else if data == std::path::Path::new(super::serve::DEMO_DATA) {
        super::serve::upgrade_demo(&data)?;
    }
    super::data::run_describe(super::data::DescribeArgs {
        data: data.clone(),
        at_version: None,
    })?;
    runtime()?.block_on(async {
        let engine = strata_core::Engine::open(&data, strata_core::EngineConfig::default()).await?;
        let as_of = engine.default_as_of();
        let total = engine.total_profiles().await?;
        println!("\nSegments at {} ({total} profiles):", as_of.to_rfc3339());
        for (what, dsl) in DEMO_SEGMENTS {
            let seg = engine.parse(dsl)?;
            let start = Instant::now();
            let n = engine.count(&seg, as_of).await?;
            println!(
                "  {n:>8}  {what:<55} {:>7.1} ms   {dsl}",
                start.elapsed().as_secs_f64() * 1e3
            );
        }
        anyhow::Ok(())
    })
}
