//! The report side of the oracle: each report table, aggregated naively
//! from the per-profile built-ins (`builtins.rs`) over a scope of profile
//! ids, in the report's own columns (docs/design.md#reports), and the
//! retention cohorts (docs/design.md#retention).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Months, NaiveDate, TimeDelta};
use strata_dsl::ast::Duration;

use super::builtins::{CLASSES, RFM_SEGMENTS, Rfm, STATES, cents, channel, rfm_segment};
use super::{MICROS_PER_DAY, Reference, date_of_days};

/// `num / den`, `None` when `den` is 0 (an empty group has no average).
pub(crate) fn ratio(num: f64, den: f64) -> Option<f64> {
    (den != 0.0).then(|| num / den)
}

/// A row of a report table: its label and numbers (a column a table does
/// not have is left at its default).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Row {
    pub(crate) label: &'static str,
    pub(crate) profiles: i64,
    pub(crate) share: Option<f64>,
    /// RFM `segments`: averages of the segment's profiles.
    pub(crate) avg_recency_days: Option<f64>,
    pub(crate) avg_frequency: Option<f64>,
    pub(crate) avg_monetary: Option<f64>,
    /// Money, in units (not cents).
    pub(crate) revenue: f64,
    /// Channel mix `classes`.
    pub(crate) orders: i64,
    pub(crate) revenue_per_profile: Option<f64>,
}

/// The RFM report: `segments` (rule order), `scores` (value and r/f/m
/// profiles, for values 1..=bins), `grid` (r, f, segment, profiles).
#[derive(Debug, Clone)]
pub(crate) struct RfmReport {
    pub(crate) segments: Vec<Row>,
    pub(crate) scores: Vec<(i64, [i64; 3])>,
    pub(crate) grid: Vec<(i64, i64, &'static str, i64)>,
}

/// One row of the channel-mix `channels` table.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ChannelRow {
    /// `online`, `offline` or `other`.
    pub(crate) class: &'static str,
    pub(crate) profiles: i64,
    pub(crate) orders: i64,
    pub(crate) revenue: f64,
    pub(crate) share: Option<f64>,
}

/// The channel-mix report: `classes` (class order) and `channels` (by
/// channel; the report orders them by revenue).
#[derive(Debug, Clone)]
pub(crate) struct MixReport {
    pub(crate) classes: Vec<Row>,
    pub(crate) channels: BTreeMap<Option<String>, ChannelRow>,
}

/// A retention cohort period (UTC; weeks start on Monday).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Period {
    Week,
    Month,
}

/// One cell of the retention triangle.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RetentionCell {
    pub(crate) cohort_start: NaiveDate,
    pub(crate) period_index: i64,
    pub(crate) cohort_size: i64,
    pub(crate) active: i64,
    pub(crate) fraction: Option<f64>,
}

impl Reference<'_> {
    /// The RFM report over `scope` (scores ranked over every profile).
    pub(crate) fn rfm_report(
        &self,
        scope: &BTreeSet<i64>,
        bins: Option<u32>,
        lookback: Option<Duration>,
    ) -> RfmReport {
        let b = i64::from(bins.unwrap_or(5));
        let all = self.rfm(bins, lookback);
        let scored: Vec<_> = scope.iter().filter_map(|id| all.get(id)).collect();
        let n = scored.len() as f64;
        let segments = RFM_SEGMENTS
            .iter()
            .map(|&name| {
                let rows: Vec<_> = scored.iter().filter(|v| v.segment == name).collect();
                let k = rows.len() as f64;
                let sum_rec: i64 = rows.iter().map(|v| v.recency_days).sum();
                let sum_freq: i64 = rows.iter().map(|v| v.frequency).sum();
                let sum_mon: i128 = rows.iter().map(|v| v.monetary).sum();
                Row {
                    label: name,
                    profiles: rows.len() as i64,
                    share: ratio(k, n),
                    avg_recency_days: ratio(sum_rec as f64, k),
                    avg_frequency: ratio(sum_freq as f64, k),
                    avg_monetary: ratio(sum_mon as f64 / 100.0, k),
                    revenue: sum_mon as f64 / 100.0,
                    ..Row::default()
                }
            })
            .collect();
        let count = |pick: &dyn Fn(&Rfm) -> bool| -> i64 {
            scored.iter().filter(|v| pick(v)).count() as i64
        };
        let scores = (1..=b)
            .map(|s| {
                (
                    s,
                    [
                        count(&|v| v.r == s),
                        count(&|v| v.f == s),
                        count(&|v| v.m == s),
                    ],
                )
            })
            .collect();
        let grid = (1..=b)
            .flat_map(|r| (1..=b).map(move |f| (r, f)))
            .map(|(r, f)| (r, f, rfm_segment(r, f, b), count(&|v| v.r == r && v.f == f)))
            .collect();
        RfmReport {
            segments,
            scores,
            grid,
        }
    }

    /// The channel-mix report over `scope`.
    pub(crate) fn channel_mix_report(
        &self,
        scope: &BTreeSet<i64>,
        window: Option<Duration>,
    ) -> MixReport {
        let mixes: Vec<_> = scope
            .iter()
            .map(|&id| self.channel_mix(id, window))
            .collect();
        let classes = CLASSES
            .iter()
            .map(|&class| {
                let rows: Vec<_> = mixes.iter().filter(|m| m.class == class).collect();
                let rev: i128 = rows.iter().map(|m| m.revenue).sum();
                Row {
                    label: class,
                    profiles: rows.len() as i64,
                    orders: rows.iter().map(|m| m.orders).sum(),
                    revenue: rev as f64 / 100.0,
                    revenue_per_profile: ratio(rev as f64 / 100.0, rows.len() as f64),
                    ..Row::default()
                }
            })
            .collect();
        // Per channel: distinct profiles, orders, revenue (cents).
        let mut sums: BTreeMap<Option<String>, (BTreeSet<i64>, i64, i128)> = BTreeMap::new();
        for &id in scope {
            for e in self.purchases(id, window) {
                let row = sums.entry(channel(e)).or_default();
                row.0.insert(id);
                row.1 += 1;
                row.2 += cents(e);
            }
        }
        let total: i128 = sums.values().map(|v| v.2).sum();
        let channels = sums
            .into_iter()
            .map(|(ch, (ids, orders, rev))| {
                let class = match &ch {
                    Some(c) if self.data.online_channels.contains(c) => "online",
                    Some(c) if self.data.offline_channels.contains(c) => "offline",
                    _ => "other",
                };
                let row = ChannelRow {
                    class,
                    profiles: ids.len() as i64,
                    orders,
                    revenue: rev as f64 / 100.0,
                    share: ratio(rev as f64, total as f64),
                };
                (ch, row)
            })
            .collect();
        MixReport { classes, channels }
    }

    /// The lifecycle report over `scope`: the six states, then `churned`
    /// (dormant + lost).
    pub(crate) fn lifecycle_report(
        &self,
        scope: &BTreeSet<i64>,
        window: Option<Duration>,
    ) -> Vec<Row> {
        let states: Vec<&str> = scope.iter().map(|&id| self.lifecycle(id, window)).collect();
        let row = |label: &'static str, n: usize| Row {
            label,
            profiles: n as i64,
            share: ratio(n as f64, scope.len() as f64),
            ..Row::default()
        };
        let mut rows: Vec<Row> = STATES
            .iter()
            .map(|&name| row(name, states.iter().filter(|s| **s == name).count()))
            .collect();
        let churned = states
            .iter()
            .filter(|s| matches!(**s, "dormant" | "lost"))
            .count();
        rows.push(row("churned", churned));
        rows
    }

    /// The retention triangle over `scope`: a profile's cohort is the period
    /// of its first activity; each cohort runs to the period holding the
    /// last instant that exists (as_of − 1 µs), zero cells included.
    pub(crate) fn retention(&self, scope: &BTreeSet<i64>, period: Period) -> Vec<RetentionCell> {
        // profile → periods with activity.
        let mut periods: BTreeMap<i64, BTreeSet<NaiveDate>> = BTreeMap::new();
        for &id in scope {
            for e in self.existing_events(id) {
                if self.data.activity_types.contains(&e.event_type) {
                    periods
                        .entry(id)
                        .or_default()
                        .insert(period_of(period, e.time_micros));
                }
            }
        }
        let mut cohorts: BTreeMap<NaiveDate, Vec<i64>> = BTreeMap::new();
        for (id, ps) in &periods {
            cohorts
                .entry(*ps.first().expect("non-empty"))
                .or_default()
                .push(*id);
        }
        let last = period_of(period, self.as_of - 1);
        let mut out = Vec::new();
        for (start, members) in cohorts {
            let (mut q, mut k) = (start, 0);
            while q <= last {
                let active = members.iter().filter(|id| periods[id].contains(&q)).count() as i64;
                let size = members.len() as i64;
                out.push(RetentionCell {
                    cohort_start: start,
                    period_index: k,
                    cohort_size: size,
                    active,
                    fraction: ratio(active as f64, size as f64),
                });
                q = next_period(period, q);
                k += 1;
            }
        }
        out
    }
}

/// First day of the calendar period (UTC) holding instant `t`.
fn period_of(period: Period, t: i64) -> NaiveDate {
    let d = date_of_days(t.div_euclid(MICROS_PER_DAY));
    match period {
        Period::Week => d - TimeDelta::days(i64::from(d.weekday().num_days_from_monday())),
        Period::Month => d.with_day(1).expect("day 1"),
    }
}

fn next_period(period: Period, d: NaiveDate) -> NaiveDate {
    match period {
        Period::Week => d + TimeDelta::days(7),
        Period::Month => d + Months::new(1),
    }
}
