//! `strata save | segments | delete`: a dataset's saved segments, the ones
//! `IN SEGMENT name` and `--segment` refer to.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use strata_core::SegmentStore;

use super::query::{EngineArgs, runtime};

#[derive(Debug, Args)]
pub(crate) struct SaveArgs {
    #[command(flatten)]
    pub(crate) engine: EngineArgs,
    /// The segment's name: 1 to 64 letters, digits, '_' or '-', starting
    /// with a letter.
    pub(crate) name: String,
    /// The segment in the DSL (or use -f).
    #[arg(required_unless_present = "file", conflicts_with = "file")]
    pub(crate) segment: Option<String>,
    /// Read the segment from a .seg file.
    #[arg(short = 'f', long)]
    pub(crate) file: Option<PathBuf>,
    /// Fail if a segment of that name exists (default: replace it).
    #[arg(long)]
    pub(crate) create_only: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    #[command(flatten)]
    pub(crate) engine: EngineArgs,
}

#[derive(Debug, Args)]
pub(crate) struct DeleteArgs {
    #[command(flatten)]
    pub(crate) engine: EngineArgs,
    /// The saved segment to delete.
    pub(crate) name: String,
}

/// Checks the segment against the dataset (errors name the file and
/// position, warnings go to stderr), refuses cycles and expansions over the
/// limits, then saves it atomically.
pub(crate) fn save(a: SaveArgs) -> anyhow::Result<()> {
    SegmentStore::validate_name(&a.name)?;
    let text = match (&a.segment, &a.file) {
        (Some(s), _) => s.clone(),
        (None, Some(f)) => {
            std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?
        }
        (None, None) => anyhow::bail!("give a segment or -f FILE"),
    };
    runtime()?.block_on(async {
        let engine = a.engine.open().await?;
        super::dsl::check(&engine, &text, a.file.as_deref())?;
        engine.check_save(&a.name, &text)?;
        let store = engine.dataset().segments();
        if a.create_only {
            store.create(&a.name, &text)?;
        } else {
            store.save(&a.name, &text)?;
        }
        eprintln!(
            "saved segment '{}': IN SEGMENT {} refers to it",
            a.name, a.name
        );
        Ok(())
    })
}

/// Each saved segment's name, then its DSL as saved, indented by four
/// spaces; a blank line between segments.
pub(crate) fn list(a: ListArgs) -> anyhow::Result<()> {
    let store = SegmentStore::new(&a.engine.data);
    let saved = store.load_all()?;
    for (i, (name, text)) in saved.iter().enumerate() {
        if i > 0 {
            println!();
        }
        println!("{name}");
        for line in text.trim_end().lines() {
            println!("    {line}");
        }
    }
    if saved.is_empty() {
        eprintln!("no saved segments in {}", a.engine.data.display());
    }
    Ok(())
}

/// Deletes a saved segment that no other saved segment refers to.
pub(crate) fn delete(a: DeleteArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let engine = a.engine.open().await?;
        engine.check_delete(&a.name)?;
        engine.dataset().segments().delete(&a.name)?;
        eprintln!("deleted segment '{}'", a.name);
        Ok(())
    })
}
