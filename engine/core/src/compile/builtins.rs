//! The built-ins' per-profile tables a segment joins: from fresh
//! materialized features when they cover it, else computed.

use datafusion::prelude::{DataFrame, Expr as DfExpr, ident};

use super::{BuiltinTable, Compiler};
use crate::Result;
use crate::analytics::{self, AnalyticsParams};
use crate::dataset::features_file::RFM_COLUMNS;
use crate::plan::tables::FEATURES;

impl Compiler<'_> {
    // ---- built-in per-profile tables -------------------------------------

    pub(super) async fn builtin_table(&self, t: BuiltinTable) -> Result<DataFrame> {
        if let Some(df) = self.builtin_from_features(t).await? {
            return Ok(df);
        }
        let ctx = &self.cx;
        match t {
            BuiltinTable::Rfm(p) => analytics::rfm::per_profile(ctx, &p).await,
            BuiltinTable::ChannelMix(p) => analytics::channel_mix::per_profile(ctx, &p).await,
            BuiltinTable::Lifecycle(p) => analytics::lifecycle::per_profile(ctx, &p).await,
        }
    }

    /// The built-in's table read from fresh materialized features, when they
    /// cover it (default parameters, same as_of and dataset version).
    async fn builtin_from_features(&self, t: BuiltinTable) -> Result<Option<DataFrame>> {
        let default = AnalyticsParams::default();
        if !self.cx.dataset.fresh_features(self.cx.as_of) {
            return Ok(None);
        }
        let cols: Vec<DfExpr> = match t {
            BuiltinTable::Rfm(p) if p == default => RFM_COLUMNS
                .iter()
                .map(|(feature, column)| ident(*feature).alias(*column))
                .collect(),
            BuiltinTable::ChannelMix(p) if p == default => vec![ident("channel_mix")],
            BuiltinTable::Lifecycle(p) if p == default => vec![ident("lifecycle")],
            _ => return Ok(None),
        };
        let mut select = vec![ident("profile_id")];
        select.extend(cols);
        Ok(Some(self.cx.ctx.table(FEATURES).await?.select(select)?))
    }
}
