//! Materialized memberships: the members of a saved segment written as
//! Parquet under `<data>/segments/<name>/`, for BI tools.
//!
//! The file is written next to its final place under a hidden temporary name
//! and renamed into place, so a reader sees the previous membership or the
//! new one, never a partial file. Materializing does not change the dataset
//! version: it derives from the dataset, it does not change what segments
//! mean.

use std::path::PathBuf;

use futures::StreamExt;

use crate::dataset::DatasetCatalog;
use crate::query::{self, MembersRequest};
use crate::scan::Scan;
use crate::{EngineConfig, Result};

/// Name of the membership file inside `segments/<name>/`.
pub const MEMBERS_FILE: &str = "members.parquet";

/// What [`crate::Engine::materialize`] wrote.
#[derive(Debug, Clone)]
pub struct Materialized {
    /// The file written, relative to the dataset directory
    /// (`segments/<name>/members.parquet`).
    pub relative_path: PathBuf,
    /// Members written.
    pub rows: u64,
}

/// Computes the members of saved segment `name` at the scan's as_of (with
/// `columns` besides `profile_id`) and writes them to
/// `segments/<name>/members.parquet`, replacing the previous file
/// atomically.
pub(crate) async fn write(
    cx: &Scan<'_>,
    config: &EngineConfig,
    name: &str,
    columns: &[String],
) -> Result<Materialized> {
    let store = cx.dataset.segments();
    let text = store.get(name)?;
    let segment = strata_dsl::parse_and_check(&text, &DatasetCatalog::new(cx.dataset)?)?;
    let req = MembersRequest {
        columns: columns.to_vec(),
        ..MembersRequest::default()
    };
    let schema = query::members_schema(cx.dataset, &req)?;
    let mut stream = query::members(cx, config, &segment, &req).await?;

    let dir = store.dir().join(name);
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(MEMBERS_FILE);
    let mut writer = strata_datasets::AtomicParquetWriter::create(
        &path,
        schema,
        strata_datasets::writer_properties(),
    )?;
    while let Some(batch) = stream.next().await {
        writer.write(&batch?)?;
    }
    let rows = writer.finish()?.rows;
    Ok(Materialized {
        relative_path: PathBuf::from("segments").join(name).join(MEMBERS_FILE),
        rows,
    })
}
