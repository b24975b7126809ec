//! End-to-end tests of Strata live in `tests/e2e/`; this library is empty.
