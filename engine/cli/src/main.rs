//! `strata`: generate or import a dataset, query segments, serve them.

use clap::{Parser, Subcommand};
use strata_core::report::ReportKind;

mod commands;

/// Strata: customer segmentation over Parquet.
#[derive(Debug, Parser)]
#[command(name = "strata", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve a dataset over gRPC (`strata` alone serves the demo dataset,
    /// generated on first start, on 127.0.0.1:50051).
    Serve(commands::serve::ServeArgs),
    /// Print a few demo counts: generate the demo dataset on first use, then
    /// query it embedded.
    Demo(commands::demo::DemoArgs),
    /// Generate a realistic synthetic store dataset.
    Gen(commands::data::GenArgs),
    /// Import your own events (and profiles) from CSV, JSON lines or Parquet.
    Import(Box<commands::data::ImportArgs>),
    /// Describe a dataset: tables, schemas, rows, time range, size, version.
    Describe(commands::data::DescribeArgs),
    /// Append events to a dataset (the column flags of `strata import`),
    /// as one atomic write; unseen external ids become new profiles.
    Append(Box<commands::data::AppendArgs>),
    /// Update profiles from a file, matched by external id (or --key):
    /// the file's columns overwrite, the others stay; unknown ids become
    /// new profiles.
    UpsertProfiles(commands::writes::UpsertArgs),
    /// Erase profiles by external id (the right to be forgotten): their
    /// rows go from every file of the dataset, and older versions with them.
    Forget(commands::writes::ForgetArgs),
    /// Rewrite the months appends left in many overlapping files back into
    /// one file per profile chunk, and merge small profile files.
    Optimize(commands::writes::OptimizeArgs),
    /// Delete the files no version of the retention window lists.
    Vacuum(commands::writes::VacuumArgs),
    /// List the dataset's versions: time, operation, rows added and removed.
    History(commands::data::HistoryArgs),
    /// Convert a dataset of an older format in place (its files stay).
    Upgrade(commands::data::UpgradeArgs),
    /// Build the per-profile features (RFM, channel mix, lifecycle, ...)
    /// that make built-in segments fast.
    Refresh(commands::refresh::RefreshArgs),
    /// Count the profiles in a segment.
    Count(commands::query::CountArgs),
    /// List the members of a segment (csv, jsonl or parquet).
    Members(commands::query::MembersArgs),
    /// Show the logical and physical plans of a segment.
    Explain(commands::query::ExplainArgs),
    /// Save a segment under a name, for `IN SEGMENT name` and `--segment`.
    Save(commands::segments::SaveArgs),
    /// List the saved segments.
    Segments(commands::segments::ListArgs),
    /// Delete a saved segment (refused while others refer to it).
    Delete(commands::segments::DeleteArgs),
    /// Parse a segment and print its AST (JSON with --json).
    Parse(commands::dsl::ParseArgs),
    /// Rewrite .seg files in canonical form.
    Fmt(commands::dsl::FmtArgs),
    /// RFM report: named segments, score distributions, the R×F grid.
    Rfm(commands::analytics::ReportArgs),
    /// Channel-mix report: online only / offline only / omnichannel / none,
    /// and revenue by channel.
    ChannelMix(commands::analytics::ReportArgs),
    /// Lifecycle report: new, returning, resurrecting, dormant, lost, never.
    Lifecycle(commands::analytics::ReportArgs),
    /// Retention report: weekly or monthly cohorts by first activity.
    Retention(commands::analytics::ReportArgs),
    /// Run an Apache DataFusion Ballista scheduler or executor, for
    /// `--cluster df://HOST:PORT` (needs `--features ballista`).
    Cluster(commands::cluster::ClusterArgs),
}

fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("STRATA_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let command = cli
        .command
        .unwrap_or_else(|| Command::Serve(commands::serve::ServeArgs::defaults()));
    let result = match command {
        Command::Serve(a) => commands::serve::run(a),
        Command::Demo(a) => commands::demo::run(a),
        Command::Gen(a) => commands::data::run_gen(a),
        Command::Import(a) => commands::data::run_import(*a),
        Command::Describe(a) => commands::data::run_describe(a),
        Command::Append(a) => commands::data::run_append(*a),
        Command::UpsertProfiles(a) => commands::writes::run_upsert(a),
        Command::Forget(a) => commands::writes::run_forget(a),
        Command::Optimize(a) => commands::writes::run_optimize(a),
        Command::Vacuum(a) => commands::writes::run_vacuum(a),
        Command::History(a) => commands::data::run_history(a),
        Command::Upgrade(a) => commands::data::run_upgrade(a),
        Command::Refresh(a) => commands::refresh::run(a),
        Command::Count(a) => commands::query::count(a),
        Command::Members(a) => commands::query::members(a),
        Command::Explain(a) => commands::query::explain(a),
        Command::Save(a) => commands::segments::save(a),
        Command::Segments(a) => commands::segments::list(a),
        Command::Delete(a) => commands::segments::delete(a),
        Command::Parse(a) => commands::dsl::parse(a),
        Command::Fmt(a) => commands::dsl::fmt(a),
        Command::Rfm(a) => commands::analytics::run(ReportKind::Rfm, a),
        Command::ChannelMix(a) => commands::analytics::run(ReportKind::ChannelMix, a),
        Command::Lifecycle(a) => commands::analytics::run(ReportKind::Lifecycle, a),
        Command::Retention(a) => commands::analytics::run(ReportKind::Retention, a),
        Command::Cluster(a) => commands::cluster::run(a),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            match e.downcast_ref::<commands::dsl::Rendered>() {
                Some(rendered) => eprintln!("{rendered}"),
                None => eprintln!("error: {e:#}"),
            }
            std::process::ExitCode::FAILURE
        }
    }
}
