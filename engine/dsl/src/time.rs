//! Calendar arithmetic for date and timestamp literals (proleptic Gregorian,
//! UTC). Only years 1..=9999 are accepted, so nothing here can overflow.

pub(crate) const MIN_YEAR: i32 = 1;
pub(crate) const MAX_YEAR: i32 = 9999;
const MICROS_PER_SEC: i64 = 1_000_000;
const SECS_PER_DAY: i64 = 86_400;

pub(crate) fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

pub(crate) fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        2 => 28,
        _ => 0,
    }
}

pub(crate) const MONTH_NAMES: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Why a date is not valid, or `None` if it is.
pub(crate) fn date_error(year: i32, month: u32, day: u32) -> Option<String> {
    if !(MIN_YEAR..=MAX_YEAR).contains(&year) {
        return Some(format!(
            "year {year} is out of range ({MIN_YEAR}..={MAX_YEAR})"
        ));
    }
    if !(1..=12).contains(&month) {
        return Some(format!("month {month} does not exist (months are 01..12)"));
    }
    let dim = days_in_month(year, month);
    if !(1..=dim).contains(&day) {
        return Some(format!(
            "day {day} does not exist: {} {year} has {dim} days",
            MONTH_NAMES[month as usize - 1]
        ));
    }
    None
}

/// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
pub(crate) fn days_from_civil(year: i32, month: u32, day: u32) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day number (inverse of [`days_from_civil`]).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Smallest and largest timestamp literal (years 1..=9999), in µs.
pub(crate) fn micros_range() -> (i64, i64) {
    let lo = days_from_civil(MIN_YEAR, 1, 1) * SECS_PER_DAY * MICROS_PER_SEC;
    let hi = days_from_civil(MAX_YEAR + 1, 1, 1) * SECS_PER_DAY * MICROS_PER_SEC - 1;
    (lo, hi)
}

/// Microseconds since the epoch of a UTC date and time.
pub(crate) fn micros_from_parts(
    year: i32,
    month: u32,
    day: u32,
    secs_of_day: i64,
    micros: i64,
    offset_secs: i64,
) -> i64 {
    let secs = days_from_civil(year, month, day) * SECS_PER_DAY + secs_of_day - offset_secs;
    secs * MICROS_PER_SEC + micros
}

/// `YYYY-MM-DDTHH:MM:SS[.ffffff]Z` for a timestamp within [`micros_range`].
pub(crate) fn format_timestamp(micros: i64) -> String {
    let secs = micros.div_euclid(MICROS_PER_SEC);
    let frac = micros.rem_euclid(MICROS_PER_SEC);
    let days = secs.div_euclid(SECS_PER_DAY);
    let sod = secs.rem_euclid(SECS_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    let mut s = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    );
    if frac != 0 {
        let f = format!("{frac:06}");
        s.push('.');
        s.push_str(f.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_roundtrip() {
        for z in [-719_162, -1, 0, 1, 19_844, 2_932_896] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y as i32, m, d), z);
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2024, 5, 1), 19_844);
    }

    #[test]
    fn timestamps() {
        assert_eq!(format_timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            format_timestamp(1_714_559_400_000_000 + 120_000),
            "2024-05-01T10:30:00.12Z"
        );
        let (lo, hi) = micros_range();
        assert_eq!(format_timestamp(lo), "0001-01-01T00:00:00Z");
        assert_eq!(format_timestamp(hi), "9999-12-31T23:59:59.999999Z");
        assert!(date_error(2024, 2, 29).is_none());
        assert!(date_error(2023, 2, 29).is_some());
        assert!(date_error(2024, 13, 1).is_some());
    }
}
