//! Plan building blocks every layer above uses: expression helpers
//! ([`expr`]), the names of the registered tables ([`tables`]), the month
//! branches of the events ([`months`]), the plan-depth check ([`depth`]), a
//! memory-accounted table ([`held_table`]) and Strata's physical rewrite
//! ([`inline_strings`]).
//!
//! Nothing here knows a dataset, a segment or an analysis.

pub(crate) mod depth;
pub(crate) mod expr;
pub(crate) mod held_table;
pub(crate) mod inline_strings;
pub(crate) mod months;
pub(crate) mod tables;
