//! The one aggregation over the events that serves every behavioural
//! condition of a segment, split into month branches at the windows' bounds.

use arrow::datatypes::DataType;
use chrono::{DateTime, Utc};
use datafusion::common::ScalarValue;
use datafusion::functions_aggregate::expr_fn::{avg, count, count_distinct, max, min, sum};
use datafusion::logical_expr::{ExprFunctionExt, cast, when};
use datafusion::prelude::{DataFrame, Expr as DfExpr, ident, lit};
use strata_dsl::ast::{AggFunc, EventFilter, EventSel, Window};

use super::{Behaviour, Compiler, INTERNAL, Scope, behaviour_column, flag_column, value_column};
use crate::plan::expr::{conjunction, ts_lit, union_all};
use crate::plan::months::{self, Branch, Cover};
use crate::plan::tables::EVENTS;
use crate::time;
use crate::{Error, Result};

/// What the events scan of a segment guarantees for every row it returns.
#[derive(Debug, Default)]
struct Scanned {
    /// The scan keeps one event type only.
    event_type: Option<String>,
    /// The scan keeps `event_time >= start` only.
    start: Option<DateTime<Utc>>,
}

/// Whether an event of a scan counts for a condition.
#[derive(Debug)]
enum Flag {
    /// Every event of the scan does.
    Always,
    /// None does.
    Never,
    /// Those for which the expression is true.
    When(DfExpr),
}

/// A condition's aggregate over `value` (its [`Compiler::value_name`]
/// column, none for a count).
fn aggregate_of(b: &Behaviour, value: Option<DfExpr>) -> Result<DfExpr> {
    let value = || {
        value
            .clone()
            .ok_or_else(|| Error::Internal(format!("{:?} without a value", b.func)))
    };
    Ok(match b.func {
        AggFunc::Count => count(lit(1i64)),
        AggFunc::CountDistinct => count_distinct(value()?),
        AggFunc::Sum => sum(value()?),
        AggFunc::Avg => avg(value()?),
        AggFunc::Min | AggFunc::First => min(value()?),
        AggFunc::Max | AggFunc::Last => max(value()?),
    })
}

/// [`aggregate_of`] over the events where `cond` holds: a `FILTER` clause,
/// except for `count(distinct ...)`, whose value is NULLed where `cond` does
/// not hold instead (count distinct skips NULLs): DataFusion 55 does not
/// honour a `FILTER` on a distinct count in every plan it makes of one.
fn aggregate_when(b: &Behaviour, value: Option<DfExpr>, cond: DfExpr) -> Result<DfExpr> {
    match (b.func, value) {
        (AggFunc::CountDistinct, Some(v)) => aggregate_of(b, Some(when(cond, v).end()?)),
        (_, value) => Ok(aggregate_of(b, value)?.filter(cond).build()?),
    }
}

impl Compiler<'_> {
    // ---- the events aggregation ------------------------------------------

    /// One aggregation over the events: a row per profile with at least one
    /// event the segment looks at, a column per behavioural condition.
    ///
    /// The months the segment can see are split at the conditions' window
    /// bounds ([`months::split`]): months no bound falls inside decide each
    /// window from the partition and never read `event_time`; only the
    /// months with a bound inside compare it. With several branches, each
    /// projects a flag per condition (and the value it aggregates), and the
    /// branches are unioned into the one aggregation.
    pub(super) async fn behaviour_table(&mut self) -> Result<DataFrame> {
        let as_of = self.cx.as_of;
        let behaviours = self.needs.behaviours.clone();
        let windows = behaviours
            .iter()
            .map(|b| self.window_bounds(b.filter.window.as_ref()))
            .collect::<Result<Vec<_>>>()?;
        // Months the segment can see: up to as_of's month, from the earliest
        // window start when every condition has a window, else from the
        // first events partition.
        let last = months::month_of_instant(time::last_instant_before(as_of)?);
        let earliest = windows
            .iter()
            .map(|(start, _)| *start)
            .collect::<Option<Vec<_>>>()
            .and_then(|starts| starts.into_iter().min());
        // No event is older than the first events partition's month.
        let first = match (earliest, self.cx.dataset.first_event_month()) {
            (Some(start), Some(first)) => months::month_of_instant(start).max(first),
            (Some(start), None) => months::month_of_instant(start),
            (None, Some(first)) => first,
            (None, None) => last,
        }
        .min(last);
        let mut bounds = vec![as_of];
        for (start, end) in &windows {
            bounds.extend(*start);
            bounds.push(*end);
        }
        let mut scans = Vec::new();
        let mut idle = None;
        for branch in months::split(first, last, &bounds) {
            let (scan, flags) = self.branch_scan(&branch, &behaviours, &windows).await?;
            // A branch no condition can count in is not read at all (one
            // such stays when there is nothing else, so that the table keeps
            // its columns).
            if flags.iter().any(|f| !matches!(f, Flag::Never)) {
                scans.push((scan, flags));
            } else if idle.is_none() {
                idle = Some((scan, flags));
            }
        }
        if scans.is_empty() {
            scans.extend(idle);
        }
        let pid = format!("{INTERNAL}_b_pid");

        if scans.len() == 1 {
            let (scan, flags) = scans.remove(0);
            let mut aggs = Vec::with_capacity(behaviours.len());
            for (i, (b, flag)) in behaviours.iter().zip(flags).enumerate() {
                let value = Self::value_name(b)?.map(ident);
                let agg = match flag {
                    Flag::Always => aggregate_of(b, value)?,
                    Flag::Never => aggregate_when(b, value, lit(false))?,
                    Flag::When(c) => aggregate_when(b, value, c)?,
                };
                aggs.push(agg.alias(behaviour_column(i)));
            }
            return Ok(scan.aggregate(vec![ident("profile_id").alias(pid)], aggs)?);
        }

        // Several branches: each projects, per condition, whether the event
        // counts (a flag) and the value it aggregates.
        let filtered: Vec<bool> = (0..behaviours.len())
            .map(|i| scans.iter().any(|(_, f)| !matches!(f[i], Flag::Always)))
            .collect();
        let mut projected = Vec::with_capacity(scans.len());
        for (scan, flags) in scans {
            let mut cols = vec![ident("profile_id")];
            for (i, (b, flag)) in behaviours.iter().zip(flags).enumerate() {
                let active = !matches!(flag, Flag::Never);
                if filtered[i] {
                    // 1 or 0, never NULL, in every branch: a union takes
                    // its fields' nullability from its first input, and
                    // DataFusion 55 does not always agree with itself about
                    // a boolean expression's (`x IS TRUE` is nullable once
                    // planned).
                    let flag = match flag {
                        Flag::Always => lit(1i32),
                        Flag::Never => lit(0i32),
                        Flag::When(c) => when(c, lit(1i32)).otherwise(lit(0i32))?,
                    };
                    cols.push(flag.alias(flag_column(i)));
                }
                if let Some(name) = Self::value_name(b)? {
                    // Where the condition counts no event, its value is a
                    // literal, so that the column is not read there.
                    let value = match active {
                        true => ident(name),
                        false => self.placeholder(name)?.unwrap_or_else(|| ident(name)),
                    };
                    cols.push(value.alias(value_column(i)));
                }
            }
            projected.push(scan.select(cols)?);
        }
        let union = union_all(projected)?;
        let mut aggs = Vec::with_capacity(behaviours.len());
        for (i, b) in behaviours.iter().enumerate() {
            let value = Self::value_name(b)?.map(|_| ident(value_column(i)));
            let agg = if filtered[i] {
                aggregate_when(b, value, ident(flag_column(i)).eq(lit(1i32)))?
            } else {
                aggregate_of(b, value)?
            };
            aggs.push(agg.alias(behaviour_column(i)));
        }
        Ok(union.aggregate(vec![ident("profile_id").alias(pid)], aggs)?)
    }

    /// The events of one month branch that any condition can count, and
    /// for each condition whether an event of the scan counts for it.
    async fn branch_scan(
        &mut self,
        branch: &Branch,
        behaviours: &[Behaviour],
        windows: &[(Option<DateTime<Utc>>, DateTime<Utc>)],
    ) -> Result<(DataFrame, Vec<Flag>)> {
        let covers: Vec<Cover> = windows
            .iter()
            .map(|(start, end)| branch.cover(*start, *end))
            .collect();
        let active = || {
            behaviours
                .iter()
                .zip(&covers)
                .filter(|(_, c)| **c != Cover::Nothing)
        };
        let mut scan = vec![branch.filter()];
        if branch.cuts(self.cx.as_of) {
            scan.push(ident("event_time").lt(ts_lit(self.cx.as_of)));
        }
        // What every scanned event already satisfies: a condition's FILTER
        // leaves it out (with one condition, usually no FILTER at all, and
        // the scan then returns only profile ids).
        let mut scanned = Scanned::default();
        let timed_starts = windows
            .iter()
            .zip(&covers)
            .filter(|(_, c)| **c != Cover::Nothing)
            .map(|((start, _), c)| if *c == Cover::Rows { *start } else { None })
            .collect::<Option<Vec<_>>>();
        if let Some(start) = timed_starts.and_then(|s| s.into_iter().min()) {
            if start > branch.begin() {
                scan.push(ident("event_time").gt_eq(ts_lit(start)));
            }
            scanned.start = Some(start);
        }
        let mut types: Vec<String> = Vec::new();
        let mut any_type = false;
        for (b, _) in active() {
            match &b.filter.event {
                EventSel::Type { name } => {
                    if !types.contains(&name.name) {
                        types.push(name.name.clone())
                    }
                }
                EventSel::Any => any_type = true,
            }
        }
        if !any_type {
            if let [only] = types.as_slice() {
                scanned.event_type = Some(only.clone());
            }
            scan.push(ident("event_type").in_list(types.into_iter().map(lit).collect(), false));
        }
        let mut flags = Vec::with_capacity(behaviours.len());
        for ((b, cover), window) in behaviours.iter().zip(&covers).zip(windows) {
            flags.push(match cover {
                Cover::Nothing => Flag::Never,
                Cover::All => self.event_condition(&b.filter, &scanned, None)?,
                Cover::Rows => self.event_condition(&b.filter, &scanned, Some(*window))?,
            });
        }
        if active().next().is_none() {
            scan.push(lit(false));
        }
        let df = self.cx.ctx.table(EVENTS).await?;
        Ok((df.filter(conjunction(scan))?, flags))
    }

    /// The event column a condition aggregates: its property, `event_time`
    /// for first/last, none for a count.
    fn value_name(b: &Behaviour) -> Result<Option<&str>> {
        Ok(match b.func {
            AggFunc::Count => None,
            AggFunc::First | AggFunc::Last => Some("event_time"),
            AggFunc::CountDistinct | AggFunc::Sum | AggFunc::Avg | AggFunc::Min | AggFunc::Max => {
                Some(
                    b.property.as_deref().ok_or_else(|| {
                        Error::Internal(format!("{:?} without a property", b.func))
                    })?,
                )
            }
        })
    }

    /// A literal standing for the column `name` in a branch where the
    /// condition counts no event (never aggregated): a typed NULL, or a
    /// zero where the column is not nullable (a union takes its fields'
    /// nullability from its first input). `None` when there is no such
    /// literal for the type.
    fn placeholder(&self, name: &str) -> Result<Option<DfExpr>> {
        let field = self
            .cx
            .dataset
            .events_schema()
            .field_with_name(name)
            .map_err(|_| Error::Internal(format!("no event column '{name}'")))?;
        let ty = field.data_type();
        Ok(if field.is_nullable() {
            Some(cast(lit(ScalarValue::Null), ty.clone()))
        } else {
            ScalarValue::new_zero(ty).ok().map(lit)
        })
    }

    /// `[start, end)` of a window; `None` start means unbounded, and the end
    /// never exceeds as_of.
    fn window_bounds(&self, w: Option<&Window>) -> Result<(Option<DateTime<Utc>>, DateTime<Utc>)> {
        let as_of = self.cx.as_of;
        Ok(match w {
            None => (None, as_of),
            Some(Window::Within { duration }) => {
                (Some(time::sub_duration(as_of, *duration)?), as_of)
            }
            Some(Window::Since { from }) => (Some(time::resolve(*from, as_of)?), as_of),
            Some(Window::Between { from, to }) => (
                Some(time::resolve(*from, as_of)?),
                time::resolve(*to, as_of)?.min(as_of),
            ),
            Some(Window::Before { to }) => (None, time::resolve(*to, as_of)?.min(as_of)),
        })
    }

    /// Whether a scanned event counts for a condition: its event type, its
    /// `window` (`[start, end)`, given only where `event_time` decides it:
    /// elsewhere the month does), its property predicate.
    fn event_condition(
        &mut self,
        f: &EventFilter,
        scanned: &Scanned,
        window: Option<(Option<DateTime<Utc>>, DateTime<Utc>)>,
    ) -> Result<Flag> {
        let mut parts = Vec::new();
        if let EventSel::Type { name } = &f.event
            && scanned.event_type.as_ref() != Some(&name.name)
        {
            parts.push(ident("event_type").eq(lit(name.name.clone())));
        }
        if let Some((start, end)) = window {
            if let Some(start) = start
                && scanned.start != Some(start)
            {
                parts.push(ident("event_time").gt_eq(ts_lit(start)));
            }
            if end < self.cx.as_of {
                parts.push(ident("event_time").lt(ts_lit(end)));
            }
        }
        if let Some(p) = &f.predicate {
            parts.push(self.predicate(p, false, Scope::Event)?);
        }
        Ok(if parts.is_empty() {
            Flag::Always
        } else {
            Flag::When(conjunction(parts))
        })
    }
}

pub(super) fn zero_of(ty: &DataType) -> DfExpr {
    match ty {
        DataType::Decimal128(p, s) => lit(ScalarValue::Decimal128(Some(0), *p, *s)),
        DataType::Float64 => lit(0f64),
        DataType::UInt64 => lit(0u64),
        _ => lit(0i64),
    }
}
