//! The profiles a report covers.

use datafusion::common::JoinType;
use datafusion::prelude::{DataFrame, ident};

use super::ReportRequest;
use crate::Result;
use crate::plan::tables::PROFILES;
use crate::query;
use crate::scan::{RowsPerId, Scan};

/// The profile-id column of the scope table.
pub(super) const SCOPE_PID: &str = "__scope_pid";

/// The profiles a report covers: every profile, or a segment's members
/// (as one column [`SCOPE_PID`]; always a subset of `profiles`).
pub(super) enum Scope {
    All,
    Members(DataFrame),
}

impl Scope {
    /// The profiles the report covers.
    pub(super) async fn of(cx: &Scan<'_>, req: &ReportRequest) -> Result<Scope> {
        Ok(match &req.segment {
            Some(segment) => Scope::Members(
                query::plan(cx, segment)
                    .await?
                    .select(vec![ident("profile_id").alias(SCOPE_PID)])?,
            ),
            None => Scope::All,
        })
    }

    /// The profile ids in scope, as one column [`SCOPE_PID`].
    pub(super) async fn ids(&self, cx: &Scan<'_>) -> Result<DataFrame> {
        Ok(match self {
            Scope::All => cx
                .ctx
                .table(PROFILES)
                .await?
                .select(vec![ident("profile_id").alias(SCOPE_PID)])?,
            Scope::Members(m) => m.clone(),
        })
    }

    /// `df` (keyed by `profile_id`; aggregated per profile, so that this
    /// probes one row per id, not every event) restricted to the scope.
    /// Ids without a profile row are never in scope.
    pub(super) async fn restrict(
        &self,
        cx: &Scan<'_>,
        df: DataFrame,
        rows: RowsPerId,
    ) -> Result<DataFrame> {
        match self {
            Scope::All => cx.only_profiles(df, rows).await,
            Scope::Members(m) => in_scope(df, m.clone()),
        }
    }
}

/// `df` restricted to the profiles in scope (semi-join on `profile_id`).
pub(super) fn in_scope(df: DataFrame, scope: DataFrame) -> Result<DataFrame> {
    Ok(df.join(
        scope,
        JoinType::LeftSemi,
        &["profile_id"],
        &[SCOPE_PID],
        None,
    )?)
}
