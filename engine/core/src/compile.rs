//! The compiler: a checked segment AST becomes a DataFusion plan over the
//! dataset's Parquet tables, built with the DataFrame/Expr API.
//!
//! Shape of every plan (docs/design.md#plan-shape):
//! ```text
//! profiles ──(attribute filters pushed into the scan)──┐
//! events ─ filter(as_of, needed types, needed months) ─ aggregate by profile_id:
//!          one filtered aggregate per behavioural condition ──┤ LEFT JOIN
//! built-ins (rfm / channel_mix / lifecycle per profile) ──────┤ LEFT JOIN
//!                                                             └─ filter(segment predicate)
//! ```
//! All behavioural conditions share ONE aggregation pass over the events.
//! The months it reads are split at the windows' bounds ([`months`]): the
//! months no bound falls inside decide every window from their partition,
//! so `event_time` is decoded only where a bound cuts a month.
//!
//! Two-valued membership: a comparison with a NULL operand is false and NOT
//! is the complement. The predicate is built with NOT pushed to the leaves
//! (De Morgan); a negated leaf `x` becomes `x IS NOT TRUE`, a positive leaf
//! stays as it is (a NULL there drops the row exactly as false would), so
//! positive predicates keep their Parquet pruning.

use std::sync::Arc;

use arrow::datatypes::{DataType, TimeUnit as ArrowTimeUnit};
use chrono::{DateTime, Utc};
use datafusion::common::ScalarValue;
use datafusion::functions_aggregate::expr_fn::{avg, count, max, min, sum};
use datafusion::logical_expr::{ExprFunctionExt, Operator, binary_expr, cast, when};
use datafusion::prelude::{DataFrame, Expr as DfExpr, SessionContext, coalesce, ident, lit};
use strata_dsl::ast::{
    AggFunc, Aggregate, Builtin, BuiltinFunc, BuiltinParams, CmpOp, EventFilter, EventSel, Expr,
    ExprKind, Operand, TimeValue, Value, Window,
};

use crate::analytics::{self, AnalyticsParams};
use crate::dataset::{Dataset, EVENTS, FEATURES, PROFILES};
use crate::months::{self, Branch, Cover};
use crate::time::{self, Micros};
use crate::{Error, Result};

/// Prefix of the columns the compiler adds; user columns never start with it.
const INTERNAL: &str = "__strata";

/// A behavioural condition: one filtered aggregate over events.
#[derive(Debug, Clone, PartialEq)]
struct Behaviour {
    func: AggFunc,
    property: Option<String>,
    filter: EventFilter,
}

/// A built-in family with its parameters: one per-profile table.
#[derive(Debug, Clone, Copy, PartialEq)]
enum BuiltinTable {
    Rfm(AnalyticsParams),
    ChannelMix(AnalyticsParams),
    Lifecycle(AnalyticsParams),
}

/// What a segment needs beyond the profiles table.
#[derive(Debug, Default)]
struct Needs {
    behaviours: Vec<Behaviour>,
    builtins: Vec<BuiltinTable>,
}

impl Needs {
    fn behaviour_index(&mut self, b: Behaviour) -> usize {
        if let Some(i) = self.behaviours.iter().position(|x| *x == b) {
            return i;
        }
        self.behaviours.push(b);
        self.behaviours.len() - 1
    }
    fn builtin_index(&mut self, b: BuiltinTable) -> usize {
        if let Some(i) = self.builtins.iter().position(|x| *x == b) {
            return i;
        }
        self.builtins.push(b);
        self.builtins.len() - 1
    }
}

/// Where a `Field` operand is resolved.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Scope {
    Profile,
    Event,
}

/// Compiles one (already inlined and type-checked) segment at one `as_of`.
pub(crate) struct Compiler<'a> {
    ctx: &'a SessionContext,
    dataset: &'a Dataset,
    as_of: DateTime<Utc>,
    needs: Needs,
}

impl std::fmt::Debug for Compiler<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiler")
            .field("as_of", &self.as_of)
            .field("needs", &self.needs)
            .finish_non_exhaustive()
    }
}

/// What the events scan of a segment guarantees for every row it returns.
#[derive(Debug, Default)]
struct Scanned {
    /// The scan keeps one event type only.
    event_type: Option<String>,
    /// The scan keeps `event_time >= start` only.
    start: Option<DateTime<Utc>>,
}

impl<'a> Compiler<'a> {
    pub(crate) fn new(ctx: &'a SessionContext, dataset: &'a Dataset, as_of: DateTime<Utc>) -> Self {
        Compiler {
            ctx,
            dataset,
            as_of,
            needs: Needs::default(),
        }
    }

    /// The profiles (all profile columns) that belong to the segment.
    pub(crate) async fn members(mut self, expr: &Expr) -> Result<DataFrame> {
        self.collect(expr);
        let predicate = self.predicate(expr, false, Scope::Profile)?;
        let profile_columns: Vec<DfExpr> = self
            .dataset
            .profiles_schema()
            .fields()
            .iter()
            .map(|f| ident(f.name()))
            .collect();

        let mut df = self.ctx.table(PROFILES).await?;
        if !self.needs.behaviours.is_empty() {
            let behaviours = self.behaviour_table().await?;
            // A profile without a row in the behaviour table has the
            // "no events" value in every behavioural column. When the
            // segment is false for such a profile whatever its attributes,
            // only profiles with a row can be members: an inner join, which
            // also lets the behavioural part of the predicate filter the
            // aggregated rows before the join.
            //
            // The behaviour table is the join's left (build) side and the
            // profiles its right (probe) side: it has a row only per profile
            // with events in the segment's windows, usually far fewer rows
            // than there are profiles (the session keeps joins as written).
            let join = if holds_without_events(expr) == Some(false) {
                datafusion::common::JoinType::Inner
            } else {
                datafusion::common::JoinType::Right
            };
            df = behaviours.join(
                df,
                join,
                &[&format!("{INTERNAL}_b_pid")],
                &["profile_id"],
                None,
            )?;
        }
        for (i, table) in self.needs.builtins.clone().into_iter().enumerate() {
            let per_profile = self.builtin_table(table).await?;
            let pid = format!("{INTERNAL}_t{i}_pid");
            let cols: Vec<DfExpr> = per_profile
                .schema()
                .fields()
                .iter()
                .map(|f| {
                    let name = if f.name() == "profile_id" {
                        pid.clone()
                    } else {
                        format!("{INTERNAL}_t{i}_{}", f.name())
                    };
                    ident(f.name()).alias(name)
                })
                .collect();
            df = per_profile.select(cols)?.join(
                df,
                datafusion::common::JoinType::Right,
                &[&pid],
                &["profile_id"],
                None,
            )?;
        }
        Ok(df.filter(predicate)?.select(profile_columns)?)
    }

    // ---- collecting what the segment needs -------------------------------

    fn collect(&mut self, e: &Expr) {
        match &e.kind {
            ExprKind::And { args } | ExprKind::Or { args } => {
                args.iter().for_each(|a| self.collect(a))
            }
            ExprKind::Not { arg } => self.collect(arg),
            ExprKind::Compare { lhs, .. }
            | ExprKind::InList { lhs, .. }
            | ExprKind::Between { lhs, .. }
            | ExprKind::Contains { lhs, .. }
            | ExprKind::StartsWith { lhs, .. }
            | ExprKind::IsNull { lhs, .. }
            | ExprKind::Truthy { lhs } => self.collect_operand(lhs),
            ExprKind::Performed { filter } => {
                self.needs.behaviour_index(performed(filter));
            }
            ExprKind::Anniversary { .. } | ExprKind::InSegment { .. } => {}
        }
    }

    fn collect_operand(&mut self, op: &Operand) {
        match op {
            Operand::Field { .. } => {}
            Operand::Aggregate(a) => {
                self.needs.behaviour_index(behaviour(a));
            }
            Operand::Builtin(b) => {
                self.needs.builtin_index(builtin_table(b));
            }
        }
    }

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
    async fn behaviour_table(&mut self) -> Result<DataFrame> {
        let as_of = self.as_of;
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
        let first = match (earliest, self.dataset.first_event_month()) {
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
                let agg = aggregate_of(b, Self::value_name(b)?.map(ident))?;
                let agg = match flag {
                    Flag::Always => agg,
                    Flag::Never => agg.filter(lit(false)).build()?,
                    Flag::When(c) => agg.filter(c).build()?,
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
            let agg = aggregate_of(b, value)?;
            let agg = if filtered[i] {
                agg.filter(ident(flag_column(i)).eq(lit(1i32))).build()?
            } else {
                agg
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
        if branch.cuts(self.as_of) {
            scan.push(ident("event_time").lt(ts_lit(self.as_of)));
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
        let df = self.ctx.table(EVENTS).await?;
        Ok((df.filter(conjunction(scan))?, flags))
    }

    /// The event column a condition aggregates: its property, `event_time`
    /// for first/last, none for a count.
    fn value_name(b: &Behaviour) -> Result<Option<&str>> {
        Ok(match b.func {
            AggFunc::Count => None,
            AggFunc::First | AggFunc::Last => Some("event_time"),
            AggFunc::Sum | AggFunc::Avg | AggFunc::Min | AggFunc::Max => Some(
                b.property
                    .as_deref()
                    .ok_or_else(|| Error::Internal(format!("{:?} without a property", b.func)))?,
            ),
        })
    }

    /// A literal standing for the column `name` in a branch where the
    /// condition counts no event (never aggregated): a typed NULL, or a
    /// zero where the column is not nullable (a union takes its fields'
    /// nullability from its first input). `None` when there is no such
    /// literal for the type.
    fn placeholder(&self, name: &str) -> Result<Option<DfExpr>> {
        let field = self
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
        let as_of = self.as_of;
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
            if end < self.as_of {
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

    // ---- built-in per-profile tables -------------------------------------

    async fn builtin_table(&self, t: BuiltinTable) -> Result<DataFrame> {
        if let Some(df) = self.builtin_from_features(t).await? {
            return Ok(df);
        }
        let ctx = analytics::Context::new(self.ctx, self.dataset, self.as_of);
        match t {
            BuiltinTable::Rfm(p) => analytics::rfm::per_profile(&ctx, &p).await,
            BuiltinTable::ChannelMix(p) => analytics::channel_mix::per_profile(&ctx, &p).await,
            BuiltinTable::Lifecycle(p) => analytics::lifecycle::per_profile(&ctx, &p).await,
        }
    }

    /// The built-in's table read from fresh materialized features, when they
    /// cover it (default parameters, same as_of and dataset version).
    async fn builtin_from_features(&self, t: BuiltinTable) -> Result<Option<DataFrame>> {
        let default = AnalyticsParams::default();
        if !self.dataset.fresh_features(self.as_of) {
            return Ok(None);
        }
        let cols: Vec<DfExpr> = match t {
            BuiltinTable::Rfm(p) if p == default => crate::features::RFM_COLUMNS
                .iter()
                .map(|(feature, column)| ident(*feature).alias(*column))
                .collect(),
            BuiltinTable::ChannelMix(p) if p == default => vec![ident("channel_mix")],
            BuiltinTable::Lifecycle(p) if p == default => vec![ident("lifecycle")],
            _ => return Ok(None),
        };
        let mut select = vec![ident("profile_id")];
        select.extend(cols);
        Ok(Some(self.ctx.table(FEATURES).await?.select(select)?))
    }

    // ---- the predicate ----------------------------------------------------

    /// Translates `e` (negated when `neg`), with NOT pushed to the leaves.
    fn predicate(&mut self, e: &Expr, neg: bool, scope: Scope) -> Result<DfExpr> {
        match &e.kind {
            ExprKind::And { args } | ExprKind::Or { args } => {
                let is_and = matches!(e.kind, ExprKind::And { .. });
                let parts = args
                    .iter()
                    .map(|a| self.predicate(a, neg, scope))
                    .collect::<Result<Vec<_>>>()?;
                // De Morgan: NOT (a AND b) = NOT a OR NOT b.
                Ok(if is_and != neg {
                    conjunction(parts)
                } else {
                    disjunction(parts)
                })
            }
            ExprKind::Not { arg } => self.predicate(arg, !neg, scope),
            _ => {
                let leaf = self.leaf(e, scope)?;
                Ok(if neg { leaf.is_not_true() } else { leaf })
            }
        }
    }

    fn leaf(&mut self, e: &Expr, scope: Scope) -> Result<DfExpr> {
        Ok(match &e.kind {
            ExprKind::Compare { lhs, cmp, value } => {
                let (l, ty) = self.operand(lhs, scope)?;
                let (l, r) = self.align(l, &ty, value)?;
                match cmp {
                    CmpOp::Eq => l.eq(r),
                    CmpOp::NotEq => l.not_eq(r),
                    CmpOp::Lt => l.lt(r),
                    CmpOp::LtEq => l.lt_eq(r),
                    CmpOp::Gt => l.gt(r),
                    CmpOp::GtEq => l.gt_eq(r),
                }
            }
            ExprKind::InList { lhs, list, negated } => {
                let (l, ty) = self.operand(lhs, scope)?;
                let pairs = list
                    .iter()
                    .map(|v| self.align(l.clone(), &ty, v))
                    .collect::<Result<Vec<_>>>()?;
                in_list(pairs, *negated)?
            }
            ExprKind::Between {
                lhs,
                low,
                high,
                negated,
            } => {
                let (l, ty) = self.operand(lhs, scope)?;
                let (l_lo, lo) = self.align(l.clone(), &ty, low)?;
                let (l_hi, hi) = self.align(l, &ty, high)?;
                match (l_lo == l_hi, *negated) {
                    (true, false) => l_lo.between(lo, hi),
                    (true, true) => l_lo.not_between(lo, hi),
                    // The bounds compare with differently cast sides.
                    (false, negated) => {
                        let within = l_lo.gt_eq(lo).and(l_hi.lt_eq(hi));
                        if negated { !within } else { within }
                    }
                }
            }
            ExprKind::Contains { lhs, value } => {
                let (l, ty) = self.operand(lhs, scope)?;
                let needle = value_lit(value, &ty, self.as_of)?;
                match ty {
                    DataType::List(_) | DataType::LargeList(_) => {
                        datafusion::functions_nested::expr_fn::array_has(l, needle)
                    }
                    _ => datafusion::functions::expr_fn::contains(l, needle),
                }
            }
            ExprKind::StartsWith { lhs, value } => {
                let (l, ty) = self.operand(lhs, scope)?;
                datafusion::functions::expr_fn::starts_with(l, value_lit(value, &ty, self.as_of)?)
            }
            ExprKind::IsNull { lhs, negated } => {
                let (l, _) = self.operand(lhs, scope)?;
                if *negated {
                    l.is_not_null()
                } else {
                    l.is_null()
                }
            }
            // A positive leaf stays bare like a comparison: a NULL flag
            // drops the row as false would (a negated one becomes
            // `IS NOT TRUE` in `predicate`), and a bare boolean column is
            // a plain bitmap in the filter instead of a null-aware
            // comparison (W1c at m, `consent_email OR consent_push`:
            // 19.8 -> 15.4 ms hot).
            ExprKind::Truthy { lhs } => self.operand(lhs, scope)?.0,
            ExprKind::Performed { filter } => {
                let i = self.needs.behaviour_index(performed(filter));
                ident(behaviour_column(i)).gt(lit(0i64))
            }
            ExprKind::Anniversary { field, days } => {
                let f = ident(&field.name);
                let key = datafusion::functions::expr_fn::date_part(lit("month"), f.clone())
                    * lit(100i32)
                    + datafusion::functions::expr_fn::date_part(lit("day"), f);
                let keys = time::anniversary_keys(self.as_of, *days)
                    .into_iter()
                    .map(|k| lit(k as i32))
                    .collect();
                key.in_list(keys, false)
            }
            ExprKind::InSegment { name } => {
                return Err(Error::Internal(format!(
                    "segment reference '{}' was not inlined",
                    name.name
                )));
            }
            ExprKind::And { .. } | ExprKind::Or { .. } | ExprKind::Not { .. } => {
                return Err(Error::Internal("boolean node treated as a leaf".into()));
            }
        })
    }

    /// An operand as an expression over the joined row, with its type.
    fn operand(&mut self, op: &Operand, scope: Scope) -> Result<(DfExpr, DataType)> {
        match op {
            Operand::Field { name } => {
                let schema = match scope {
                    Scope::Profile => self.dataset.profiles_schema(),
                    Scope::Event => self.dataset.events_schema(),
                };
                let field = schema.field_with_name(&name.name).map_err(|_| {
                    Error::Internal(format!(
                        "unchecked field '{}' reached the compiler",
                        name.name
                    ))
                })?;
                Ok((ident(&name.name), field.data_type().clone()))
            }
            Operand::Aggregate(a) => {
                if scope == Scope::Event {
                    return Err(Error::Internal("aggregate inside an event filter".into()));
                }
                let b = behaviour(a);
                let ty = self.aggregate_type(&b)?;
                let i = self.needs.behaviour_index(b);
                let c = ident(behaviour_column(i));
                // Over no events: count and sum are 0, the others NULL.
                Ok(match a.func {
                    AggFunc::Count => (coalesce(vec![c, lit(0i64)]), ty),
                    AggFunc::Sum => (coalesce(vec![c, zero_of(&ty)]), ty),
                    _ => (c, ty),
                })
            }
            Operand::Builtin(b) => {
                let i = self.needs.builtin_index(builtin_table(b));
                let (column, ty, none) = match b.func {
                    BuiltinFunc::RfmR => ("r", DataType::Int64, None),
                    BuiltinFunc::RfmF => ("f", DataType::Int64, None),
                    BuiltinFunc::RfmM => ("m", DataType::Int64, None),
                    BuiltinFunc::RfmSegment => ("segment", DataType::Utf8, None),
                    BuiltinFunc::RfmRecencyDays => ("recency_days", DataType::Int64, None),
                    BuiltinFunc::RfmFrequency => ("frequency", DataType::Int64, None),
                    BuiltinFunc::RfmMonetary => ("monetary", DataType::Float64, None),
                    BuiltinFunc::ChannelMix => ("channel_mix", DataType::Utf8, Some("none")),
                    BuiltinFunc::Lifecycle => ("lifecycle", DataType::Utf8, Some("never")),
                };
                let c = ident(format!("{INTERNAL}_t{i}_{column}"));
                let c = match none {
                    Some(v) => coalesce(vec![c, lit(v)]),
                    None => c,
                };
                Ok((c, ty))
            }
        }
    }

    fn aggregate_type(&self, b: &Behaviour) -> Result<DataType> {
        let events = self.dataset.events_schema();
        let prop = || -> Result<DataType> {
            let name = b.property.as_deref().unwrap_or("");
            events
                .field_with_name(name)
                .map(|f| f.data_type().clone())
                .map_err(|_| Error::Internal(format!("unchecked property '{name}'")))
        };
        Ok(match b.func {
            AggFunc::Count => DataType::Int64,
            AggFunc::Sum => match prop()? {
                DataType::Decimal128(_, s) => DataType::Decimal128(38, s),
                DataType::Float16 | DataType::Float32 | DataType::Float64 => DataType::Float64,
                DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => {
                    DataType::UInt64
                }
                _ => DataType::Int64,
            },
            AggFunc::Avg => DataType::Float64,
            AggFunc::Min | AggFunc::Max => prop()?,
            AggFunc::First | AggFunc::Last => {
                DataType::Timestamp(ArrowTimeUnit::Microsecond, Some("UTC".into()))
            }
        })
    }

    /// The left side and literal of a comparison, coerced so that times
    /// compare as instants and dates as dates.
    fn align(&self, l: DfExpr, ty: &DataType, v: &Value) -> Result<(DfExpr, DfExpr)> {
        if let (DataType::Date32 | DataType::Date64, Value::Time(t)) = (ty, v)
            && !matches!(t, TimeValue::Date { .. } | TimeValue::Today)
        {
            // A date is midnight UTC of that day, compared as an instant.
            let utc = DataType::Timestamp(ArrowTimeUnit::Microsecond, Some("UTC".into()));
            return Ok((cast(l, utc), ts_lit(time::resolve(*t, self.as_of)?)));
        }
        let r = value_lit(v, ty, self.as_of)?;
        // A float no Decimal128 holds (1e300, 5e-324): DataFusion would
        // cast it to the column's decimal type and fail; compare as floats,
        // which orders such a value right against every decimal.
        if is_decimal(ty) && matches!(r, DfExpr::Literal(ScalarValue::Float64(_), _)) {
            return Ok((cast(l, DataType::Float64), r));
        }
        Ok((l, r))
    }
}

/// Whether `e` holds for a profile without any event: `Some(b)` when that
/// does not depend on the profile's attributes or built-ins, `None` when
/// it may. docs/design.md#semantics: over no events count and sum are 0 and
/// avg / min / max / first / last are NULL; a comparison with NULL is false;
/// NOT is the complement.
fn holds_without_events(e: &Expr) -> Option<bool> {
    match &e.kind {
        ExprKind::And { args } => {
            let v: Vec<Option<bool>> = args.iter().map(holds_without_events).collect();
            if v.contains(&Some(false)) {
                Some(false)
            } else if v.iter().all(|x| *x == Some(true)) {
                Some(true)
            } else {
                None
            }
        }
        ExprKind::Or { args } => {
            let v: Vec<Option<bool>> = args.iter().map(holds_without_events).collect();
            if v.contains(&Some(true)) {
                Some(true)
            } else if v.iter().all(|x| *x == Some(false)) {
                Some(false)
            } else {
                None
            }
        }
        ExprKind::Not { arg } => holds_without_events(arg).map(|b| !b),
        // `count(…) > 0` over no events.
        ExprKind::Performed { .. } => Some(false),
        // A NULL aggregate (avg, min, max, first, last) compares false,
        // with every operator, in a list or a range, negated or not.
        ExprKind::Compare {
            lhs: Operand::Aggregate(a),
            ..
        }
        | ExprKind::Between {
            lhs: Operand::Aggregate(a),
            ..
        }
        | ExprKind::InList {
            lhs: Operand::Aggregate(a),
            ..
        } if !zero_without_events(a.func) => Some(false),
        ExprKind::Compare {
            lhs: Operand::Aggregate(_),
            cmp,
            value,
        } => {
            let v = number(value)?;
            Some(match cmp {
                CmpOp::Eq => 0.0 == v,
                CmpOp::NotEq => 0.0 != v,
                CmpOp::Lt => 0.0 < v,
                CmpOp::LtEq => 0.0 <= v,
                CmpOp::Gt => 0.0 > v,
                CmpOp::GtEq => 0.0 >= v,
            })
        }
        ExprKind::Between {
            lhs: Operand::Aggregate(_),
            low,
            high,
            negated,
        } => Some((number(low)? <= 0.0 && 0.0 <= number(high)?) != *negated),
        ExprKind::InList {
            lhs: Operand::Aggregate(_),
            list,
            negated,
        } => {
            let mut found = false;
            for v in list {
                found |= number(v)? == 0.0;
            }
            Some(found != *negated)
        }
        // count and sum are never NULL; the others are over no events.
        ExprKind::IsNull {
            lhs: Operand::Aggregate(a),
            negated,
        } => Some(zero_without_events(a.func) == *negated),
        _ => None,
    }
}

/// Whether aggregate `f` over no events is 0 (else it is NULL).
fn zero_without_events(f: AggFunc) -> bool {
    match f {
        AggFunc::Count | AggFunc::Sum => true,
        AggFunc::Avg | AggFunc::Min | AggFunc::Max | AggFunc::First | AggFunc::Last => false,
    }
}

/// A numeric literal's value (exact enough to compare with 0: only its
/// sign matters), `None` for other literals.
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(f) if f.is_finite() => Some(*f),
        _ => None,
    }
}

fn behaviour(a: &Aggregate) -> Behaviour {
    Behaviour {
        func: a.func,
        property: a.property.as_ref().map(|p| p.name.clone()),
        filter: a.filter.clone(),
    }
}

fn performed(f: &EventFilter) -> Behaviour {
    Behaviour {
        func: AggFunc::Count,
        property: None,
        filter: f.clone(),
    }
}

fn builtin_table(b: &Builtin) -> BuiltinTable {
    let BuiltinParams {
        bins,
        lookback,
        window,
    } = b.params;
    match b.func {
        BuiltinFunc::RfmR
        | BuiltinFunc::RfmF
        | BuiltinFunc::RfmM
        | BuiltinFunc::RfmSegment
        | BuiltinFunc::RfmRecencyDays
        | BuiltinFunc::RfmFrequency
        | BuiltinFunc::RfmMonetary => BuiltinTable::Rfm(AnalyticsParams {
            bins,
            window: lookback,
        }),
        BuiltinFunc::ChannelMix => BuiltinTable::ChannelMix(AnalyticsParams { bins: None, window }),
        BuiltinFunc::Lifecycle => BuiltinTable::Lifecycle(AnalyticsParams { bins: None, window }),
    }
}

fn behaviour_column(i: usize) -> String {
    format!("{INTERNAL}_b{i}")
}

/// Whether an event counts for condition `i`, in a union of month branches.
fn flag_column(i: usize) -> String {
    format!("{INTERNAL}_f{i}")
}

/// The value condition `i` aggregates, in a union of month branches.
fn value_column(i: usize) -> String {
    format!("{INTERNAL}_v{i}")
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
        AggFunc::Sum => sum(value()?),
        AggFunc::Avg => avg(value()?),
        AggFunc::Min | AggFunc::First => min(value()?),
        AggFunc::Max | AggFunc::Last => max(value()?),
    })
}

/// The rows of every frame, in one (`UNION ALL`).
pub(crate) fn union_all(frames: Vec<DataFrame>) -> Result<DataFrame> {
    let mut frames = frames.into_iter();
    let first = frames
        .next()
        .ok_or_else(|| Error::Internal("a union of no plans".into()))?;
    frames.try_fold(first, |u, f| Ok(u.union(f)?))
}

fn zero_of(ty: &DataType) -> DfExpr {
    match ty {
        DataType::Decimal128(p, s) => lit(ScalarValue::Decimal128(Some(0), *p, *s)),
        DataType::Float64 => lit(0f64),
        DataType::UInt64 => lit(0u64),
        _ => lit(0i64),
    }
}

/// A UTC microsecond timestamp literal.
pub(crate) fn ts_lit(t: DateTime<Utc>) -> DfExpr {
    lit(ScalarValue::TimestampMicrosecond(
        Some(t.timestamp_micros() as Micros),
        Some(Arc::from("UTC")),
    ))
}

fn value_lit(v: &Value, ty: &DataType, as_of: DateTime<Utc>) -> Result<DfExpr> {
    Ok(match v {
        Value::Int(i) => lit(*i),
        Value::Float(f) if is_decimal(ty) => decimal_lit(*f).unwrap_or_else(|| lit(*f)),
        Value::Float(f) => lit(*f),
        Value::String(s) => lit(s.clone()),
        Value::Bool(b) => lit(*b),
        Value::Time(t) => {
            let instant = time::resolve(*t, as_of)?;
            match ty {
                DataType::Date32 | DataType::Date64 => lit(ScalarValue::Date32(Some(
                    time::date32(instant.date_naive()),
                ))),
                _ => ts_lit(instant),
            }
        }
    })
}

/// `l IN (r, ...)` from the aligned `(l, r)` pairs of a list, or NOT IN.
/// Repeated values are dropped (they change nothing but the plan's size).
/// When the values do not all compare with the same left side (a decimal
/// column cast to `Float64` for a value no Decimal128 holds, see
/// [`Compiler::align`]), the list is the OR of its equalities, which is
/// what SQL defines IN to be.
fn in_list(mut pairs: Vec<(DfExpr, DfExpr)>, negated: bool) -> Result<DfExpr> {
    let mut seen = std::collections::HashSet::with_capacity(pairs.len());
    pairs.retain(|p| seen.insert(p.clone()));
    let Some(left) = pairs.first().map(|(l, _)| l.clone()) else {
        return Err(Error::Internal("an empty IN list".into()));
    };
    if pairs.iter().all(|(l, _)| *l == left) {
        return Ok(left.in_list(pairs.into_iter().map(|(_, r)| r).collect(), negated));
    }
    let any = disjunction(pairs.into_iter().map(|(l, r)| l.eq(r)).collect());
    Ok(if negated { !any } else { any })
}

fn is_decimal(ty: &DataType) -> bool {
    matches!(
        ty,
        DataType::Decimal32(..)
            | DataType::Decimal64(..)
            | DataType::Decimal128(..)
            | DataType::Decimal256(..)
    )
}

/// A float literal as the decimal number it was written as (its shortest
/// round-trip text, which is what the DSL formatter prints), for comparing
/// with decimal columns exactly. Left as a `Float64`, DataFusion would coerce
/// its binary expansion instead (`139.98` → `139.979999999999984`), so that
/// `sum(purchase.amount) = 139.98` is false when the sum is 139.98.
/// `None` if it does not fit a Decimal128.
fn decimal_lit(f: f64) -> Option<DfExpr> {
    let text = format!("{f}"); // never in exponent notation
    let (int, frac) = text.split_once('.').unwrap_or((&text, ""));
    let value: i128 = format!("{int}{frac}").parse().ok()?;
    let int_digits = int.trim_start_matches('-').trim_start_matches('0').len();
    let precision = (int_digits + frac.len()).max(1);
    if precision > 38 {
        return None;
    }
    Some(lit(ScalarValue::Decimal128(
        Some(value),
        precision as u8,
        frac.len() as i8,
    )))
}

/// `parts` joined by AND (`true` when empty), as a balanced tree.
pub(crate) fn conjunction(parts: Vec<DfExpr>) -> DfExpr {
    balanced(parts, Operator::And).unwrap_or_else(|| lit(true))
}

/// `parts` joined by OR (`false` when empty), as a balanced tree.
pub(crate) fn disjunction(parts: Vec<DfExpr>) -> DfExpr {
    balanced(parts, Operator::Or).unwrap_or_else(|| lit(false))
}

/// `parts` joined by `op` pairwise, level by level: a tree of depth
/// log2(n) rather than DataFusion's left-deep chain of depth n, so a wide
/// segment stays shallow for every recursive pass over the plan (planning,
/// display, evaluation).
fn balanced(mut parts: Vec<DfExpr>, op: Operator) -> Option<DfExpr> {
    while parts.len() > 1 {
        let mut level = Vec::with_capacity(parts.len().div_ceil(2));
        let mut it = parts.into_iter();
        while let Some(a) = it.next() {
            level.push(match it.next() {
                Some(b) => binary_expr(a, op, b),
                None => a,
            });
        }
        parts = level;
    }
    parts.pop()
}
