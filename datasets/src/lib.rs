//! Strata datasets.
