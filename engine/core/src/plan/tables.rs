//! Names of the tables a dataset registers in its session, and of the
//! columns every plan relies on.

/// Every profile: one row per `profile_id`.
pub(crate) const PROFILES: &str = "profiles";
/// Every event, hive-partitioned by [`EVENT_MONTH`].
pub(crate) const EVENTS: &str = "events";
/// Materialized per-profile features, when present and fresh.
pub(crate) const FEATURES: &str = "features";
/// The hive partition column of the events table (`YYYY-MM`).
pub(crate) const EVENT_MONTH: &str = "event_month";
