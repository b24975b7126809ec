//! Strata's engine.
