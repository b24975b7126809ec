//! Strata's engine: segments in the DSL become DataFusion plans over a
//! Parquet dataset.
//!
//! ```no_run
//! # async fn demo() -> strata_core::Result<()> {
//! use strata_core::{Engine, EngineConfig};
//! let engine = Engine::open("demo-data".as_ref(), EngineConfig::default()).await?;
//! let segment = engine.parse("consent_email AND count(purchase WITHIN 90d) >= 2")?;
//! let n = engine.count(&segment, engine.default_as_of()).await?;
//! println!("{n} profiles");
//! # Ok(()) }
//! ```
//!
//! - [`Engine`] opens a dataset ([`Dataset`]) and answers `count`, `members`
//!   and `explain`;
//! - the compiler (private) turns the checked AST into one plan: attribute
//!   filters on `profiles`, one aggregation over `events` for all
//!   behavioural conditions, built-ins joined per profile;
//! - [`analytics`] holds the per-profile tables of RFM, channel mix and
//!   lifecycle, [`report`] the four reports built on them;
//! - [`cluster`] runs the same plans on an Apache DataFusion Ballista
//!   cluster (`ballista` feature) when [`EngineConfig::cluster`] says so.

// Modules in layers, lowest first; a module uses only modules of its own
// layer or below (checked by the `layers` test, docs/design.md#crates-and-layers).
//
// 0. foundations: errors, time arithmetic, configuration, the cluster.
pub mod cluster;
mod config;
mod error;
pub mod time;
// 1. plan building blocks: expressions, table names, month branches.
mod plan;
// 2. the dataset: its files and tables, the session it is queried in.
mod dataset;
mod segments;
mod session;
// 3. the events scan every query shares.
mod scan;
// 4. the built-ins' per-profile tables.
pub mod analytics;
// 5. segments: saved segments inlined, compiled, queried.
mod compile;
mod expand;
mod query;
// 6. what is built on segments and built-ins.
mod features;
mod materialize;
pub mod report;
// 7. the facade.
mod engine;
// 8. what is built on the facade: describing the data.
mod discover;

pub use config::{EngineConfig, SpillConfig};
pub use dataset::features_file::{FEATURES_DIR, FEATURES_FILE, FeatureStamp, features_path};
pub use dataset::{Dataset, DatasetCatalog};
pub use discover::{ColumnValues, Discovery, MAX_LISTED_VALUES, ValueCount};
pub use engine::Engine;
pub use error::{Error, ErrorKind, Result};
pub use features::FeaturesSummary;
pub use materialize::{MEMBERS_FILE, Materialized};
pub use query::{CountBy, Explain, MAX_GROUPS, MembersRequest};
pub use segments::SegmentStore;

#[cfg(test)]
mod layers;
