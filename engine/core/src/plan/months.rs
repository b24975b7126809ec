//! Splitting an events scan by month, so that time windows are decided by
//! the partitions instead of by `event_time`.
//!
//! Every event lives in the partition of its UTC month (`event_month=YYYY-MM`,
//! see [`time::is_month_start`]). A window `[start, end)` therefore holds
//! every event of a month, none of them, or (only in a month with `start` or
//! `end` strictly inside it) some. [`split`] cuts the months a scan reads at
//! every window bound:
//!
//! - runs of months that no bound falls inside become *timeless* branches,
//!   where each window is a constant ([`Cover::All`] or [`Cover::Nothing`])
//!   and `event_time` need not be read at all;
//! - the months with a bound inside form one *timed* branch, where windows
//!   compare `event_time` row by row.
//!
//! `event_time` is the widest column a per-profile aggregation reads (8
//! nearly incompressible bytes per event), so a lifecycle over three years
//! of events that only compares times in its last two window months decodes
//! a fraction of what one scan comparing every event would.

use chrono::{DateTime, Datelike, Months, NaiveDate, TimeZone, Utc};
use datafusion::prelude::{Expr, ident, lit};

use super::expr::{conjunction, disjunction};
use super::tables::EVENT_MONTH;

/// How a window covers the events of a [`Branch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cover {
    /// Every event of the branch is in the window.
    All,
    /// No event of the branch is.
    Nothing,
    /// Decided event by event, by `event_time`.
    Rows,
}

/// Months of an events scan that are read together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Branch {
    /// Inclusive runs of months (their first days), ascending; a timeless
    /// branch has exactly one.
    runs: Vec<(NaiveDate, NaiveDate)>,
    timed: bool,
}

impl Branch {
    /// The partition filter that reads this branch's months.
    pub(crate) fn filter(&self) -> Expr {
        let key = |d: NaiveDate| lit(format!("{:04}-{:02}", d.year(), d.month()));
        disjunction(
            self.runs
                .iter()
                .map(|&(a, b)| {
                    if a == b {
                        ident(EVENT_MONTH).eq(key(a))
                    } else {
                        conjunction(vec![
                            ident(EVENT_MONTH).gt_eq(key(a)),
                            ident(EVENT_MONTH).lt_eq(key(b)),
                        ])
                    }
                })
                .collect(),
        )
    }

    /// The first instant of the branch's first month.
    pub(crate) fn begin(&self) -> DateTime<Utc> {
        self.runs
            .first()
            .map_or(DateTime::<Utc>::MAX_UTC, |&(first, _)| instant(first))
    }

    /// Whether `t` falls strictly inside one of the branch's months, so
    /// that a comparison with `t` splits the events of that month.
    pub(crate) fn cuts(&self, t: DateTime<Utc>) -> bool {
        self.runs.iter().any(|&(a, b)| {
            instant(a) <= t && t < instant(next(b)) && !crate::time::is_month_start(t)
        })
    }

    /// How the window `[start, end)` (no `start`: unbounded) covers the
    /// events of this branch.
    pub(crate) fn cover(&self, start: Option<DateTime<Utc>>, end: DateTime<Utc>) -> Cover {
        let (Some(&(first, _)), Some(&(_, last))) = (self.runs.first(), self.runs.last()) else {
            return Cover::Nothing;
        };
        let (begin, finish) = (instant(first), instant(next(last)));
        if start.is_some_and(|s| finish <= s) || end <= begin {
            Cover::Nothing
        } else if !self.timed && start.is_none_or(|s| s <= begin) && finish <= end {
            Cover::All
        } else {
            Cover::Rows
        }
    }
}

/// The months `first..=last` (first days of months), cut at `bounds`: one
/// timeless branch per run of months with no bound inside (a bound on a
/// month's first instant separates runs), and one timed branch holding the
/// months that have a bound inside. Empty when `first > last`.
pub(crate) fn split(first: NaiveDate, last: NaiveDate, bounds: &[DateTime<Utc>]) -> Vec<Branch> {
    let mut branches = Vec::new();
    let mut timed: Vec<(NaiveDate, NaiveDate)> = Vec::new();
    let mut run: Option<(NaiveDate, NaiveDate)> = None;
    let mut m = month_of(first);
    while m <= last {
        let (begin, end) = (instant(m), instant(next(m)));
        if bounds.iter().any(|&b| begin < b && b < end) {
            branches.extend(run.take().map(timeless));
            match timed.last_mut() {
                Some((_, to)) if next(*to) == m => *to = m,
                _ => timed.push((m, m)),
            }
        } else {
            if bounds.contains(&begin) {
                branches.extend(run.take().map(timeless));
            }
            run = Some(run.map_or((m, m), |(from, _)| (from, m)));
        }
        m = next(m);
    }
    branches.extend(run.map(timeless));
    if !timed.is_empty() {
        branches.push(Branch {
            runs: timed,
            timed: true,
        });
    }
    branches
}

/// First day of the month of `t`.
pub(crate) fn month_of_instant(t: DateTime<Utc>) -> NaiveDate {
    month_of(t.date_naive())
}

fn timeless(run: (NaiveDate, NaiveDate)) -> Branch {
    Branch {
        runs: vec![run],
        timed: false,
    }
}

fn month_of(d: NaiveDate) -> NaiveDate {
    d.with_day(1).expect("every month has a first day")
}

fn next(m: NaiveDate) -> NaiveDate {
    m.checked_add_months(Months::new(1))
        .unwrap_or(NaiveDate::MAX)
}

fn instant(d: NaiveDate) -> DateTime<Utc> {
    Utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).expect("midnight"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn runs(b: &Branch) -> (Vec<(String, String)>, bool) {
        (
            b.runs
                .iter()
                .map(|(a, z)| (a.format("%Y-%m").to_string(), z.format("%Y-%m").to_string()))
                .collect(),
            b.timed,
        )
    }

    #[test]
    fn lifecycle_windows_leave_two_timed_months() {
        // as_of 2026-01-01, W = 90 days: P starts 2025-07-05, C 2025-10-03.
        let bounds = [
            t("2025-07-05T00:00:00Z"),
            t("2025-10-03T00:00:00Z"),
            t("2026-01-01T00:00:00Z"),
        ];
        let b = split(d("2023-01-01"), d("2025-12-01"), &bounds);
        let got: Vec<_> = b.iter().map(runs).collect();
        let r = |a: &str, z: &str| (a.to_string(), z.to_string());
        assert_eq!(
            got,
            vec![
                (vec![r("2023-01", "2025-06")], false),
                (vec![r("2025-08", "2025-09")], false),
                (vec![r("2025-11", "2025-12")], false),
                (vec![r("2025-07", "2025-07"), r("2025-10", "2025-10")], true),
            ]
        );
        let (old, p, c) = (
            (None, bounds[0]),
            (Some(bounds[0]), bounds[1]),
            (Some(bounds[1]), bounds[2]),
        );
        assert_eq!(b[0].cover(old.0, old.1), Cover::All);
        assert_eq!(b[0].cover(p.0, p.1), Cover::Nothing);
        assert_eq!(b[1].cover(p.0, p.1), Cover::All);
        assert_eq!(b[1].cover(c.0, c.1), Cover::Nothing);
        assert_eq!(b[2].cover(c.0, c.1), Cover::All);
        assert_eq!(b[2].cover(old.0, old.1), Cover::Nothing);
        assert_eq!(b[3].cover(c.0, c.1), Cover::Rows);
        assert!(b[3].cuts(bounds[0]) && b[3].cuts(bounds[1]));
        assert!(!b[3].cuts(bounds[2]) && !b[0].cuts(bounds[0]));
    }

    #[test]
    fn bounds_on_month_starts_only_separate_runs() {
        let bounds = [t("2025-01-01T00:00:00Z"), t("2026-01-01T00:00:00Z")];
        let b = split(d("2024-11-01"), d("2025-12-01"), &bounds);
        assert_eq!(b.len(), 2);
        assert!(b.iter().all(|b| !b.timed));
        assert_eq!(b[0].cover(Some(bounds[0]), bounds[1]), Cover::Nothing);
        assert_eq!(b[1].cover(Some(bounds[0]), bounds[1]), Cover::All);
    }

    #[test]
    fn a_mid_month_as_of_times_its_month() {
        let as_of = t("2025-12-15T12:00:00Z");
        let b = split(d("2025-10-01"), d("2025-12-01"), &[as_of]);
        assert_eq!(b.len(), 2);
        assert!(!b[0].timed && b[1].timed);
        assert!(b[1].cuts(as_of) && !b[0].cuts(as_of));
        assert_eq!(b[0].cover(None, as_of), Cover::All);
        assert_eq!(b[1].cover(None, as_of), Cover::Rows);
    }

    #[test]
    fn no_months_no_branches() {
        assert!(split(d("2025-02-01"), d("2025-01-01"), &[]).is_empty());
    }

    #[test]
    fn month_filter_selects_the_runs() {
        let bounds = [t("2025-07-05T00:00:00Z"), t("2025-10-03T00:00:00Z")];
        let b = split(d("2025-06-01"), d("2025-11-01"), &bounds);
        let timed = b.iter().find(|b| b.timed).unwrap();
        assert_eq!(
            timed.filter().to_string(),
            "event_month = Utf8(\"2025-07\") OR event_month = Utf8(\"2025-10\")"
        );
        assert_eq!(b[0].filter().to_string(), "event_month = Utf8(\"2025-06\")");
        assert_eq!(
            b[1].filter().to_string(),
            "event_month >= Utf8(\"2025-08\") AND event_month <= Utf8(\"2025-09\")"
        );
    }
}
