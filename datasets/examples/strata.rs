//! The datasets part of the `strata` command, for trying the crate on its
//! own: `cargo run --release -p strata-datasets --example strata -- gen --scale s --out /tmp/s`.

use clap::{Parser, Subcommand};
use strata_datasets::cli::{DescribeArgs, GenArgs, ImportArgs, run_describe, run_gen, run_import};

#[derive(Debug, Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Generate a synthetic store dataset.
    Gen(GenArgs),
    /// Import CSV / JSON lines / Parquet into a dataset.
    Import(Box<ImportArgs>),
    /// Describe a dataset.
    Describe(DescribeArgs),
}

fn main() {
    let result = match Cli::parse().command {
        Command::Gen(a) => run_gen(a),
        Command::Import(a) => run_import(*a),
        Command::Describe(a) => run_describe(a),
    };
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
