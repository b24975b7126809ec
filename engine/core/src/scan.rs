//! The events scan every query shares: a session with a dataset's tables
//! registered and the instant a query is evaluated at ([`Scan`]), the
//! events of some types in a window or a month branch, restricting
//! per-profile tables to the profiles, and memory-accounted caching.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use datafusion::common::JoinType;
use datafusion::datasource::MemTable;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::physical_plan::execute_stream_partitioned;
use datafusion::prelude::{DataFrame, Expr, SessionContext, ident, lit};
use futures::StreamExt;

use crate::dataset::Dataset;
use crate::plan::expr::{conjunction, ts_lit};
use crate::plan::held_table::HeldTable;
use crate::plan::months::Branch;
use crate::plan::tables::{EVENT_MONTH, EVENTS, PROFILES};
use crate::time;
use crate::{Error, Result};

/// Profile ids of the `profiles` table, in [`Scan::only_profiles`].
const KNOWN_PID: &str = "__strata_known_pid";

/// What every query runs against: a session with the dataset's tables
/// registered, and the instant it is evaluated at.
#[derive(Clone, Copy)]
pub(crate) struct Scan<'a> {
    pub(crate) ctx: &'a SessionContext,
    pub(crate) dataset: &'a Dataset,
    pub(crate) as_of: DateTime<Utc>,
}

impl std::fmt::Debug for Scan<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scan")
            .field("dataset", &self.dataset.dir())
            .field("as_of", &self.as_of)
            .finish_non_exhaustive()
    }
}

impl<'a> Scan<'a> {
    pub(crate) fn new(ctx: &'a SessionContext, dataset: &'a Dataset, as_of: DateTime<Utc>) -> Self {
        Scan {
            ctx,
            dataset,
            as_of,
        }
    }

    /// `bytes` reserved in the session's memory pool as `what` (released
    /// when the reservation is dropped): buffers an analysis holds outside
    /// DataFusion's operators count against the same limit, and a query
    /// over it fails with `ResourcesExhausted`.
    pub(crate) fn reserve(&self, what: &str, bytes: usize) -> Result<MemoryReservation> {
        let reservation = MemoryConsumer::new(what).register(&self.ctx.runtime_env().memory_pool);
        reservation.try_grow(bytes)?;
        Ok(reservation)
    }

    /// `df` computed once and held in memory (as `DataFrame::cache`, one
    /// task per partition), its batches reserved in the memory pool as
    /// `what` as they arrive and for as long as the returned frame's table
    /// lives ([`HeldTable`]).
    ///
    /// On a cluster the session has a cache factory (Ballista's), and the
    /// cache is a plan node the executors hold: a table of this process's
    /// memory could not be shipped to them.
    pub(crate) async fn cache(&self, df: DataFrame, what: &str) -> Result<DataFrame> {
        if self.ctx.state_ref().read().cache_factory().is_some() {
            return Ok(df.cache().await?);
        }
        let task = Arc::new(df.task_ctx());
        let plan = df.create_physical_plan().await?;
        let schema = plan.schema();
        let reservation = Arc::new(self.reserve(what, 0)?);
        let mut tasks = tokio::task::JoinSet::new();
        for (i, mut stream) in execute_stream_partitioned(plan, task)?
            .into_iter()
            .enumerate()
        {
            let reservation = Arc::clone(&reservation);
            tasks.spawn(async move {
                let mut batches = Vec::new();
                while let Some(batch) = stream.next().await {
                    let batch = batch?;
                    reservation.try_grow(batch.get_array_memory_size())?;
                    batches.push(batch);
                }
                Ok::<_, Error>((i, batches))
            });
        }
        let mut partitions = Vec::new();
        while let Some(done) = tasks.join_next().await {
            partitions.push(done.map_err(|e| Error::Internal(format!("cache task: {e}")))??);
        }
        partitions.sort_by_key(|(i, _)| *i);
        let table = MemTable::try_new(schema, partitions.into_iter().map(|(_, b)| b).collect())?;
        let reservation = Arc::try_unwrap(reservation)
            .map_err(|_| Error::Internal("cache reservation still shared".into()))?;
        Ok(self.ctx.read_table(HeldTable::new(table, reservation))?)
    }

    /// Events of the given types with `since <= event_time < as_of`, reading
    /// only the partitions that can hold them.
    ///
    /// Not restricted to ids with a row in `profiles`: events of such ids
    /// are not events of profiles, but every caller aggregates by
    /// `profile_id` first and then keeps only profiles (RFM's scored set,
    /// a report's scope, the compiler's and the features' left joins from
    /// `profiles`). Restricting after the aggregation gives the same
    /// answers and probes one row per id instead of every event.
    pub(crate) async fn events_of(
        &self,
        types: &[String],
        since: Option<DateTime<Utc>>,
    ) -> Result<DataFrame> {
        let last_instant = time::last_instant_before(self.as_of)?;
        let mut filters: Vec<Expr> = vec![
            ident(EVENT_MONTH).lt_eq(lit(time::month_key(last_instant))),
            ident("event_type").in_list(types.iter().cloned().map(lit).collect(), false),
        ];
        // At a month boundary the partition filter is exact: no per-row
        // time comparison (and no reading `event_time` for it).
        if !time::is_month_start(self.as_of) {
            filters.push(ident("event_time").lt(ts_lit(self.as_of)));
        }
        if let Some(since) = since {
            filters.push(ident(EVENT_MONTH).gt_eq(lit(time::month_key(since))));
            if !time::is_month_start(since) {
                filters.push(ident("event_time").gt_eq(ts_lit(since)));
            }
        }
        Ok(self.ctx.table(EVENTS).await?.filter(conjunction(filters))?)
    }

    /// Events of the given types in the months of `branch`, before as_of.
    pub(crate) async fn events_in(&self, types: &[String], branch: &Branch) -> Result<DataFrame> {
        let mut filters = vec![
            branch.filter(),
            ident("event_type").in_list(types.iter().cloned().map(lit).collect(), false),
        ];
        if branch.cuts(self.as_of) {
            filters.push(ident("event_time").lt(ts_lit(self.as_of)));
        }
        Ok(self.ctx.table(EVENTS).await?.filter(conjunction(filters))?)
    }

    /// `df` (aggregated per `profile_id`: one row per id, or a few)
    /// restricted to the ids that have a row in `profiles`.
    ///
    /// Joins keep the side the plan puts on the left as the hash table
    /// (see `session::context`): with one row per id, `df` (the ids with
    /// matching events) is the smaller side; with several, the profiles.
    pub(crate) async fn only_profiles(&self, df: DataFrame, rows: RowsPerId) -> Result<DataFrame> {
        let known = self
            .ctx
            .table(PROFILES)
            .await?
            .select(vec![ident("profile_id").alias(KNOWN_PID)])?;
        Ok(match rows {
            RowsPerId::One => df.join(
                known,
                JoinType::LeftSemi,
                &["profile_id"],
                &[KNOWN_PID],
                None,
            )?,
            RowsPerId::Several => {
                known.join(df, JoinType::RightSemi, &[KNOWN_PID], &["profile_id"], None)?
            }
        })
    }

    pub(crate) fn purchase_types(&self) -> &[String] {
        &self.dataset.manifest().purchase_types
    }

    pub(crate) fn activity_types(&self) -> &[String] {
        &self.dataset.manifest().activity_types
    }
}

/// How many rows per profile a per-profile table has, for choosing the
/// build side of its join with the profiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RowsPerId {
    One,
    Several,
}
