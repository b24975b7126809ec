//! `strata parse` and `strata fmt`: the DSL on its own, no dataset needed.

use std::path::{Path, PathBuf};

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
        Err(e) => return Err(rendered(&e, &a.segment, None)),
    }
    Ok(())
}

pub(crate) fn fmt(a: FmtArgs) -> anyhow::Result<()> {
    let mut unformatted = Vec::new();
    for path in &a.files {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let seg = strata_dsl::parse(&text).map_err(|e| rendered(&e, &text, Some(path)))?;
        // Files end with a newline, as editors save them.
        let formatted = strata_dsl::format(&seg) + "\n";
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

/// DSL diagnostics rendered for a terminal, each already headed `error:`:
/// `main` prints them as they are, not behind another `error:`.
#[derive(Debug)]
pub(crate) struct Rendered(String);

impl std::fmt::Display for Rendered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.trim_end())
    }
}

impl std::error::Error for Rendered {}

/// A DSL error as the user should see it: with line, column and caret, and
/// `origin` (the file it was read from) before each position.
pub(crate) fn rendered(e: &strata_dsl::Error, src: &str, origin: Option<&Path>) -> anyhow::Error {
    match e {
        strata_dsl::Error::Dsl(d) => {
            let origin = origin.map(|p| p.display().to_string());
            Rendered(d.render_in(src, origin.as_deref())).into()
        }
        other => anyhow::anyhow!("{other}"),
    }
}

/// Parses and checks `text` against the engine's catalog: a DSL error is
/// rendered with line, column and caret (and `origin`, the file it was read
/// from); warnings go to stderr and the segment is returned all the same.
pub(crate) fn check(
    engine: &strata_core::Engine,
    text: &str,
    origin: Option<&Path>,
) -> anyhow::Result<strata_dsl::ast::Segment> {
    let (segment, warnings) = engine
        .parse_warned(text)
        .map_err(|e| rendered_core(e, text, origin))?;
    let origin = origin.map(|p| p.display().to_string());
    eprint!("{}", warnings.render_in(text, origin.as_deref()));
    Ok(segment)
}

/// [`rendered`] for an engine error that may be a DSL error.
fn rendered_core(e: strata_core::Error, src: &str, origin: Option<&Path>) -> anyhow::Error {
    match e {
        strata_core::Error::Dsl(d) => rendered(&d, src, origin),
        other => other.into(),
    }
}
