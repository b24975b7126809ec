//! The built-in analyses as per-profile tables: RFM, channel mix and
//! lifecycle, exactly as docs/design.md#semantics defines them. The DSL
//! built-ins join these tables; the reports ([`crate::report`]) aggregate
//! them, so a built-in and its report always agree.

use strata_dsl::ast::Duration;

pub mod channel_mix;
pub mod lifecycle;
pub mod rfm;

/// Optional parameters shared by the analyses: RFM `bins` and `lookback`
/// (as `window`), the channel-mix window, the lifecycle window W.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AnalyticsParams {
    pub bins: Option<u32>,
    pub window: Option<Duration>,
}
