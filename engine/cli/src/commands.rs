//! One module per family of subcommands.

pub(crate) mod analytics;
pub(crate) mod client;
pub(crate) mod cluster;
pub(crate) mod data;
pub(crate) mod demo;
pub(crate) mod dsl;
pub(crate) mod plot;
pub(crate) mod query;
pub(crate) mod refresh;
pub(crate) mod report_tables;
pub(crate) mod segments;
pub(crate) mod serve;
pub(crate) mod writes;
