//! `strata parse` and `strata fmt`: the DSL on its own, no dataset needed.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;

#[derive(Debug, Args)]
pub(crate) struct ParseArgs {
    /// The segment, in the DSL.
    pub(crate) segment: String,
    /// Print the AST as JSON (the API's second way in) instead of the
    /// canonical text.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct FmtArgs {
    /// .seg files to rewrite in place.
    #[arg(required = true)]
    pub(crate) files: Vec<PathBuf>,
    /// Only check: exit with an error if a file is not formatted.
    #[arg(long)]
    pub(crate) check: bool,
}

pub(crate) fn parse(a: ParseArgs) -> anyhow::Result<()> {
    match strata_dsl::parse(&a.segment) {
        Ok(seg) if a.json => println!("{}", strata_dsl::to_json(&seg)),
        Ok(seg) => println!("{}", strata_dsl::format(&seg)),
        Err(e) => bail!("{}", render(&e, &a.segment)),
    }
    Ok(())
}

pub(crate) fn fmt(a: FmtArgs) -> anyhow::Result<()> {
    let mut unformatted = Vec::new();
    for path in &a.files {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let seg = strata_dsl::parse(&text)
            .map_err(|e| anyhow::anyhow!("{}:\n{}", path.display(), render(&e, &text)))?;
        let formatted = strata_dsl::format(&seg);
        if formatted == text {
            continue;
        }
        if a.check {
            unformatted.push(path.display().to_string());
            continue;
        }
        strata_datasets::write_atomic(path, formatted.as_bytes(), strata_datasets::Replace::Yes)?;
        eprintln!("formatted {}", path.display());
    }
    if !unformatted.is_empty() {
        bail!("not formatted: {}", unformatted.join(", "));
    }
    Ok(())
}

/// A DSL error as the user should see it: with line, column and caret.
pub(crate) fn render(e: &strata_dsl::Error, src: &str) -> String {
    match e {
        strata_dsl::Error::Dsl(d) => d.render(src),
        other => other.to_string(),
    }
}
