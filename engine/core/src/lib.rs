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
//! - [`analytics`] holds RFM, channel mix, lifecycle and retention;
//! - [`cluster`] runs the same plans on an Apache DataFusion Ballista
//!   cluster (`ballista` feature) when [`EngineConfig::cluster`] says so.

pub mod analytics;
pub mod cluster;
mod compile;
mod config;
mod dataset;
mod depth;
mod dictionary_pages;
mod engine;
mod error;
mod expand;
mod features;
mod held_table;
mod inline_strings;
mod materialize;
mod months;
mod ranges;
mod segments;
pub mod time;

pub use config::{EngineConfig, SpillConfig};
pub use dataset::{Dataset, DatasetCatalog};
pub use engine::{Engine, Explain, MembersRequest};
pub use error::{Error, Result};
pub use features::{FEATURES_DIR, FEATURES_FILE, FeatureStamp, FeaturesSummary, features_path};
pub use materialize::{MEMBERS_FILE, Materialized};
pub use segments::SegmentStore;
