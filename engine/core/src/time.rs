//! Resolving the DSL's times and durations against `as_of`.
//!
//! Every time in a compiled plan is a literal: `as_of` is known when a
//! segment is compiled, so `-30d`, `today` and windows become fixed instants
//! (which also lets DataFusion prune partitions and row groups).

use chrono::{DateTime, Datelike, Months, NaiveDate, TimeDelta, TimeZone, Utc};
use strata_dsl::ast::{Duration, TimeUnit, TimeValue};

use crate::{Error, Result};

/// Microseconds since the Unix epoch, UTC.
pub type Micros = i64;

/// Earliest year an `as_of` (or any instant a request names) may fall in.
pub const MIN_YEAR: i32 = 1900;
/// Latest year an `as_of` may fall in.
pub const MAX_YEAR: i32 = 9999;

/// `t` if it lies in the years [`MIN_YEAR`]..=[`MAX_YEAR`] (UTC), else an
/// `InvalidArgument` naming the range. Every query checks its `as_of` so,
/// before any date arithmetic: windows, calendar periods and the instant
/// before `as_of` then always exist (a window is at most about 100 years,
/// `strata_dsl` checks that).
pub fn check_as_of(t: DateTime<Utc>) -> Result<DateTime<Utc>> {
    if (MIN_YEAR..=MAX_YEAR).contains(&t.year()) {
        Ok(t)
    } else {
        Err(Error::InvalidArgument(format!(
            "as_of {} is out of range: it must fall in the years {MIN_YEAR} to {MAX_YEAR} (UTC)",
            t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
        )))
    }
}

/// The last instant before `t` (`t` - 1 µs): the last one that exists for
/// a query at `t`.
pub fn last_instant_before(t: DateTime<Utc>) -> Result<DateTime<Utc>> {
    t.checked_sub_signed(TimeDelta::microseconds(1))
        .ok_or_else(|| Error::InvalidArgument(format!("no instant exists before {t}")))
}

/// `t - d`, with calendar months and years (day clamped to month end).
pub fn sub_duration(t: DateTime<Utc>, d: Duration) -> Result<DateTime<Utc>> {
    let amount = i64::from(d.amount);
    let out = match d.unit {
        TimeUnit::Hours => t.checked_sub_signed(TimeDelta::hours(amount)),
        TimeUnit::Days => t.checked_sub_signed(TimeDelta::days(amount)),
        TimeUnit::Weeks => t.checked_sub_signed(TimeDelta::weeks(amount)),
        TimeUnit::Months => t.checked_sub_months(Months::new(d.amount)),
        TimeUnit::Years => d
            .amount
            .checked_mul(12)
            .and_then(|m| t.checked_sub_months(Months::new(m))),
    };
    out.ok_or_else(|| Error::InvalidArgument(format!("{d:?} before {t} is out of range")))
}

/// The instant a [`TimeValue`] denotes at `as_of`.
pub fn resolve(v: TimeValue, as_of: DateTime<Utc>) -> Result<DateTime<Utc>> {
    match v {
        TimeValue::Date { year, month, day } => NaiveDate::from_ymd_opt(year, month, day)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|dt| Utc.from_utc_datetime(&dt))
            .ok_or_else(|| Error::InvalidArgument(format!("invalid date {year}-{month}-{day}"))),
        TimeValue::Timestamp { micros } => DateTime::from_timestamp_micros(micros)
            .ok_or_else(|| Error::InvalidArgument(format!("timestamp {micros} out of range"))),
        TimeValue::Ago { duration } => sub_duration(as_of, duration),
        TimeValue::Today => Ok(midnight(as_of)),
        TimeValue::Now => Ok(as_of),
    }
}

/// Midnight UTC of `t`'s date.
pub fn midnight(t: DateTime<Utc>) -> DateTime<Utc> {
    Utc.from_utc_datetime(&t.date_naive().and_hms_opt(0, 0, 0).expect("midnight"))
}

/// Whether `t` is the first instant of a UTC month: then the events
/// partitions alone split the events at `t` (every event of a month before
/// `t`'s is earlier than `t`, every event of `t`'s month or later is not),
/// and an `event_time` comparison with `t` adds nothing to a partition
/// filter. The dataset writers (`strata gen`, `strata import`) put each
/// event in the partition of its UTC month.
pub fn is_month_start(t: DateTime<Utc>) -> bool {
    t.day() == 1 && t == midnight(t)
}

/// `YYYY-MM` of `t`, the events partition holding it.
pub fn month_key(t: DateTime<Utc>) -> String {
    format!("{:04}-{:02}", t.year(), t.month())
}

/// Days since the Unix epoch of a date (Arrow Date32).
pub fn date32(d: NaiveDate) -> i32 {
    (d - NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days() as i32
}

/// The `month * 100 + day` keys of the `days` calendar days starting with
/// `as_of`'s date: the anniversaries that fall in that range. A Feb 29 is
/// celebrated on Feb 28 in non-leap years.
pub fn anniversary_keys(as_of: DateTime<Utc>, days: u32) -> Vec<i64> {
    let start = as_of.date_naive();
    let mut keys = Vec::new();
    for i in 0..i64::from(days.min(366)) {
        let d = start + TimeDelta::days(i);
        keys.push(i64::from(d.month() * 100 + d.day()));
        let leap = NaiveDate::from_ymd_opt(d.year(), 2, 29).is_some();
        if !leap && d.month() == 2 && d.day() == 28 {
            keys.push(229);
        }
    }
    keys.sort_unstable();
    keys.dedup();
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn as_of_range() {
        assert!(check_as_of(t("1900-01-01T00:00:00Z")).is_ok());
        assert!(check_as_of(t("9999-12-31T23:59:59.999999Z")).is_ok());
        let err = check_as_of(t("1899-12-31T23:59:59Z"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("years 1900 to 9999"), "{err}");
        assert!(check_as_of(DateTime::<Utc>::MAX_UTC).is_err());
        assert!(last_instant_before(DateTime::<Utc>::MIN_UTC).is_err());
    }

    #[test]
    fn month_starts() {
        assert!(is_month_start(t("2026-01-01T00:00:00Z")));
        assert!(is_month_start(t("2024-03-01T00:00:00Z")));
        assert!(!is_month_start(t("2026-01-01T00:00:00.000001Z")));
        assert!(!is_month_start(t("2025-12-31T23:59:59.999999Z")));
        assert!(!is_month_start(t("2026-01-02T00:00:00Z")));
    }

    #[test]
    fn months_clamp_to_month_end() {
        let d = Duration {
            amount: 1,
            unit: TimeUnit::Months,
        };
        assert_eq!(
            sub_duration(t("2025-03-31T12:00:00Z"), d).unwrap(),
            t("2025-02-28T12:00:00Z")
        );
    }

    #[test]
    fn anniversaries_cover_feb_29_in_non_leap_years() {
        let keys = anniversary_keys(t("2025-02-27T10:00:00Z"), 2);
        assert_eq!(keys, vec![227, 228, 229]);
        let keys = anniversary_keys(t("2024-02-28T10:00:00Z"), 1);
        assert_eq!(keys, vec![228]);
    }
}
