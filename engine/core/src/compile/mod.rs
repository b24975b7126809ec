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

use datafusion::common::JoinType;
use datafusion::prelude::{DataFrame, Expr as DfExpr, ident};
use strata_dsl::ast::{
    AggFunc, Aggregate, Builtin, BuiltinFunc, BuiltinParams, EventFilter, Expr, ExprKind, Operand,
};

use crate::Result;
use crate::analytics::AnalyticsParams;
use crate::plan::tables::PROFILES;
use crate::scan::Scan;

mod builtins;
mod events;
mod literal;
mod predicate;
mod without_events;

use without_events::holds_without_events;

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
    cx: Scan<'a>,
    needs: Needs,
}

impl std::fmt::Debug for Compiler<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiler")
            .field("as_of", &self.cx.as_of)
            .field("needs", &self.needs)
            .finish_non_exhaustive()
    }
}

impl<'a> Compiler<'a> {
    pub(crate) fn new(cx: Scan<'a>) -> Self {
        Compiler {
            cx,
            needs: Needs::default(),
        }
    }

    /// The profiles (all profile columns) that belong to the segment.
    pub(crate) async fn members(mut self, expr: &Expr) -> Result<DataFrame> {
        self.collect(expr);
        let predicate = self.predicate(expr, false, Scope::Profile)?;
        let profile_columns: Vec<DfExpr> = self
            .cx
            .dataset
            .profiles_schema()
            .fields()
            .iter()
            .map(|f| ident(f.name()))
            .collect();

        let mut df = self.cx.ctx.table(PROFILES).await?;
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
                JoinType::Inner
            } else {
                JoinType::Right
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
                JoinType::Right,
                &[&pid],
                &["profile_id"],
                None,
            )?;
        }
        Ok(df.filter(predicate)?.select(profile_columns)?)
    }

    // ---- collecting what the segment needs -------------------------------

    /// Every behaviour and built-in table the segment uses, outside event
    /// filters (a `WHERE` names event properties, never aggregates).
    fn collect(&mut self, e: &Expr) {
        for (node, at) in e.walk() {
            if at.in_where() {
                continue;
            }
            if let ExprKind::Performed { filter } = &node.kind {
                self.needs.behaviour_index(performed(filter));
            } else if let Some(lhs) = node.lhs() {
                self.collect_operand(lhs);
            }
        }
    }

    fn collect_operand(&mut self, op: &Operand) {
        match op {
            Operand::Field { .. } | Operand::TimePart { .. } => {}
            Operand::Aggregate(a) => {
                self.needs.behaviour_index(behaviour(a));
            }
            Operand::Builtin(b) => {
                self.needs.builtin_index(builtin_table(b));
            }
        }
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
