//! The Strata segment language.
//!
//! (The DSL helper replaces this front door.)

pub mod ast;
mod catalog;

pub use catalog::{Catalog, FieldType, StaticCatalog};
