//! Durations and instants written outside a segment: command-line flags,
//! API parameters, configuration. One reading of each for every front end:
//!
//! - a [`Duration`] is read as the segment language writes it (`90d`,
//!   `12h`, `2w`, `6m` = six months, `1y`), with the lexer's unit table
//!   ([`TimeUnit::from_suffix_str`]);
//! - an instant ([`parse_instant`]) is `now`, a date (midnight UTC), an RFC
//!   3339 timestamp, or a date and time without a zone (UTC): every
//!   timestamp and date literal of the language, and more.

use std::fmt;
use std::str::FromStr;

use crate::ast::{Duration, TimeUnit, TimeValue};
use crate::time;

/// Why a text is not a [`Duration`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DurationError {
    /// Not a whole number followed by a unit.
    #[error("'{0}' is not a duration: use e.g. 90d, 12w, 6m, 1y")]
    NotADuration(String),
    /// The number does not fit (more than 4294967295).
    #[error("'{0}' is not a duration: the number is too large (at most 4294967295)")]
    TooLarge(String),
    /// `0d`, `0y`, ...
    #[error("'{0}': a duration is at least 1")]
    Zero(String),
    /// A number followed by something other than h, d, w, m or y.
    #[error("unknown duration unit '{unit}': use h, d, w, m or y")]
    UnknownUnit { input: String, unit: String },
}

impl FromStr for Duration {
    type Err = DurationError;

    /// A duration as the segment language writes it: a whole number of at
    /// least 1 and a unit, `h` (hours), `d` (days), `w` (weeks), `m`
    /// (calendar months, not minutes) or `y` (years), in either case, e.g.
    /// `90d`, `12h`, `6m`. Spaces around it are ignored.
    ///
    /// ```
    /// use strata_dsl::ast::{Duration, TimeUnit};
    /// assert_eq!("6m".parse(), Ok(Duration::new(6, TimeUnit::Months)));
    /// let e = "0d".parse::<Duration>().unwrap_err();
    /// assert_eq!(e.to_string(), "'0d': a duration is at least 1");
    /// ```
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (digits, suffix) = s.split_at(split);
        if digits.is_empty() {
            return Err(DurationError::NotADuration(s.to_string()));
        }
        let Ok(amount) = digits.parse::<u32>() else {
            return Err(DurationError::TooLarge(s.to_string()));
        };
        if amount == 0 {
            return Err(DurationError::Zero(s.to_string()));
        }
        match TimeUnit::from_suffix_str(suffix) {
            Some(unit) => Ok(Duration::new(amount, unit)),
            None => Err(DurationError::UnknownUnit {
                input: s.to_string(),
                unit: suffix.to_string(),
            }),
        }
    }
}

/// An instant written as text: [`parse_instant`]'s result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Instant {
    /// `now`: whatever the caller's clock says.
    Now,
    /// Microseconds since the Unix epoch (UTC), within years 1..=9999.
    Micros(i64),
}

impl Instant {
    /// The instant in microseconds since the Unix epoch, `now_micros` for
    /// [`Instant::Now`].
    pub fn micros_or(self, now_micros: i64) -> i64 {
        match self {
            Instant::Now => now_micros,
            Instant::Micros(m) => m,
        }
    }

    /// The instant as a segment time value (`now` or a timestamp).
    pub fn time_value(self) -> TimeValue {
        match self {
            Instant::Now => TimeValue::Now,
            Instant::Micros(micros) => TimeValue::Timestamp { micros },
        }
    }
}

impl fmt::Display for Instant {
    /// `now`, or the timestamp as the segment language writes it
    /// (`2025-06-30T12:00:00Z`); [`parse_instant`] reads it back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Instant::Now => f.write_str("now"),
            Instant::Micros(m) => f.write_str(&time::format_timestamp(*m)),
        }
    }
}

impl FromStr for Instant {
    type Err = InstantError;

    /// See [`parse_instant`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_instant(s)
    }
}

/// Why a text is not an instant ([`parse_instant`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstantError {
    /// The text, without surrounding spaces.
    pub input: String,
    /// What is wrong with it when it looks like a date, e.g. "day 30 does
    /// not exist: February 2025 has 28 days".
    pub reason: Option<String>,
}

/// The accepted forms, for messages.
const INSTANT_FORMS: &str =
    "use 2025-06-30, 2025-06-30T12:00:00Z (RFC 3339, any offset), 2025-06-30 12:00:00 (UTC) or now";

impl fmt::Display for InstantError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.reason {
            Some(r) => write!(f, "'{}' is not a time ({r}): {INSTANT_FORMS}", self.input),
            None => write!(f, "'{}' is not a time: {INSTANT_FORMS}", self.input),
        }
    }
}

impl std::error::Error for InstantError {}

/// Reads an instant (a command-line `--as-of`, an API parameter). Accepted,
/// with spaces around ignored:
///
/// - `now`, in any case: [`Instant::Now`], for the caller to resolve;
/// - a date `YYYY-MM-DD`: midnight UTC (month and day may have one digit);
/// - a date and a time `YYYY-MM-DD[T| ]HH:MM[:SS[.fraction]]` (`t`, `,`
///   too), then a zone: `Z`, `UTC`, an offset `±HH:MM`, `±HHMM` or `±HH`
///   (converted to UTC), or none for UTC. This covers RFC 3339
///   (`2025-06-30T12:00:00+02:00`) and every timestamp literal of the
///   segment language. Digits past microseconds are dropped; a leap second
///   (`:60`) is the next second.
///
/// Years are 0001..=9999 (after conversion to UTC).
///
/// ```
/// use strata_dsl::{Instant, parse_instant};
/// assert_eq!(parse_instant("NOW"), Ok(Instant::Now));
/// assert_eq!(parse_instant("2024-05-01"), Ok(Instant::Micros(1_714_521_600_000_000)));
/// assert_eq!(parse_instant("2024-05-01T09:00:00+09:00"), parse_instant("2024-05-01 00:00:00"));
/// ```
pub fn parse_instant(s: &str) -> Result<Instant, InstantError> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("now") {
        return Ok(Instant::Now);
    }
    micros(s)
        .map(Instant::Micros)
        .map_err(|reason| InstantError {
            input: s.to_string(),
            reason,
        })
}

/// Reads a date or timestamp; the error is a reason when there is one.
fn micros(s: &str) -> Result<i64, Option<String>> {
    let mut c = Cursor { s, i: 0 };
    let year_digits = c.digits();
    let year = match year_digits.len() {
        0 => return Err(None),
        4 => parse_u32(year_digits)?,
        _ if c.peek() == Some(b'-') => {
            return Err(Some(format!(
                "years are written with 4 digits ({:04}..={})",
                time::MIN_YEAR,
                time::MAX_YEAR
            )));
        }
        _ => return Err(None),
    };
    c.expect(b'-')?;
    let month = c.one_or_two()?;
    c.expect(b'-')?;
    let day = c.one_or_two()?;
    let year = year as i32;
    if let Some(e) = time::date_error(year, month, day) {
        return Err(Some(e));
    }
    if c.done() {
        return Ok(time::micros_from_parts(year, month, day, 0, 0, 0));
    }
    if !matches!(c.peek(), Some(b'T' | b't' | b' ')) {
        return Err(None);
    }
    c.i += 1;
    let clock_start = c.i;
    let hour = c.one_or_two()?;
    c.expect(b':')?;
    let minute = c.one_or_two()?;
    let (mut second, mut frac) = (0, 0i64);
    if c.peek() == Some(b':') {
        c.i += 1;
        second = c.one_or_two()?;
        if matches!(c.peek(), Some(b'.' | b',')) {
            c.i += 1;
            let digits = c.digits();
            if digits.is_empty() {
                return Err(None);
            }
            // Microseconds: the first six digits, padded.
            for k in 0..6 {
                let d = digits.as_bytes().get(k).map_or(0, |b| i64::from(b - b'0'));
                frac = frac * 10 + d;
            }
        }
    }
    let clock = &s[clock_start..c.i];
    let offset = zone(c.rest().trim_start())?;
    if hour > 23 || minute > 59 || second > 60 {
        return Err(Some(format!("{clock} is not a time of day")));
    }
    let secs = i64::from(hour * 3600 + minute * 60 + second);
    let micros = time::micros_from_parts(year, month, day, secs, frac, offset);
    let (lo, hi) = time::micros_range();
    if !(lo..=hi).contains(&micros) {
        return Err(Some(
            "the instant is out of range (years 1..=9999 UTC)".to_string(),
        ));
    }
    Ok(micros)
}

/// The offset from UTC of a zone, in seconds: none, `Z`, `UTC`, `±HH:MM`,
/// `±HHMM`, `±HH`.
fn zone(z: &str) -> Result<i64, Option<String>> {
    if z.is_empty() || z.eq_ignore_ascii_case("z") || z.eq_ignore_ascii_case("utc") {
        return Ok(0);
    }
    let sign = match z.as_bytes()[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return Err(None),
    };
    let bad = || Some(format!("bad time zone offset `{z}`"));
    let body = &z[1..];
    let (h, m) = match (body.len(), body.split_once(':')) {
        (5, Some((h, m))) if h.len() == 2 => (h, m),
        (4, None) => body.split_at(2),
        (2, None) => (body, "00"),
        _ => return Err(bad()),
    };
    if !(h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit())) {
        return Err(bad());
    }
    let (h, m) = (parse_u32(h)?, parse_u32(m)?);
    if h > 23 || m > 59 {
        return Err(bad());
    }
    Ok(sign * i64::from(h * 3600 + m * 60))
}

fn parse_u32(digits: &str) -> Result<u32, Option<String>> {
    digits.parse().map_err(|_| None)
}

/// A position in an ASCII-digit-and-punctuation text.
struct Cursor<'a> {
    s: &'a str,
    i: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.i).copied()
    }

    fn done(&self) -> bool {
        self.i >= self.s.len()
    }

    fn rest(&self) -> &'a str {
        &self.s[self.i..]
    }

    /// The run of ASCII digits here (maybe empty).
    fn digits(&mut self) -> &'a str {
        let start = self.i;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.i += 1;
        }
        &self.s[start..self.i]
    }

    /// A number of one or two digits.
    fn one_or_two(&mut self) -> Result<u32, Option<String>> {
        let d = self.digits();
        if !(1..=2).contains(&d.len()) {
            return Err(None);
        }
        parse_u32(d)
    }

    fn expect(&mut self, b: u8) -> Result<(), Option<String>> {
        if self.peek() == Some(b) {
            self.i += 1;
            Ok(())
        } else {
            Err(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Result<Duration, String> {
        s.parse::<Duration>().map_err(|e| e.to_string())
    }

    #[test]
    fn durations_read_as_the_language_writes_them() {
        assert_eq!(d("90d"), Ok(Duration::new(90, TimeUnit::Days)));
        assert_eq!(d("12h"), Ok(Duration::new(12, TimeUnit::Hours)));
        assert_eq!(d("2w"), Ok(Duration::new(2, TimeUnit::Weeks)));
        assert_eq!(d("1y"), Ok(Duration::new(1, TimeUnit::Years)));
        // `m` is months, never minutes; the unit may be upper case, as in
        // a segment.
        assert_eq!(d("6m"), Ok(Duration::new(6, TimeUnit::Months)));
        assert_eq!(d("6M"), Ok(Duration::new(6, TimeUnit::Months)));
        assert_eq!(d(" 007d "), Ok(Duration::new(7, TimeUnit::Days)));
        assert_eq!(
            d("4294967295h"),
            Ok(Duration::new(u32::MAX, TimeUnit::Hours))
        );
        // Every unit reads back from its own text.
        for unit in TimeUnit::ALL {
            let x = Duration::new(3, unit);
            assert_eq!(d(&x.to_string()), Ok(x));
        }
    }

    #[test]
    fn duration_errors_name_the_accepted_forms() {
        assert_eq!(d("0d"), Err("'0d': a duration is at least 1".into()));
        assert_eq!(
            d("6x"),
            Err("unknown duration unit 'x': use h, d, w, m or y".into())
        );
        assert_eq!(
            d("6"),
            Err("unknown duration unit '': use h, d, w, m or y".into())
        );
        assert_eq!(
            d("6mo"),
            Err("unknown duration unit 'mo': use h, d, w, m or y".into())
        );
        assert_eq!(
            d("1.5d"),
            Err("unknown duration unit '.5d': use h, d, w, m or y".into())
        );
        for bad in ["", "d", "-6d", "+6d", "abc", " "] {
            assert_eq!(
                d(bad),
                Err(format!(
                    "'{}' is not a duration: use e.g. 90d, 12w, 6m, 1y",
                    bad.trim()
                )),
                "{bad:?}"
            );
        }
        assert!(matches!(
            "4294967296d".parse::<Duration>(),
            Err(DurationError::TooLarge(_))
        ));
    }

    #[test]
    fn the_lexer_reads_durations_the_same_way() {
        for text in ["90d", "12H", "2w", "6m", "1Y", "007d", "4294967295h"] {
            let l = crate::lexer::lex(text);
            let Some(crate::lexer::Tok::Duration { duration, .. }) =
                l.tokens.first().map(|t| t.tok.clone())
            else {
                panic!("{text}: {:?}", l.tokens);
            };
            assert_eq!(text.parse(), Ok(duration), "{text}");
        }
    }

    fn at(s: &str) -> i64 {
        match parse_instant(s) {
            Ok(Instant::Micros(m)) => m,
            other => panic!("{s}: {other:?}"),
        }
    }

    const H: i64 = 3_600_000_000;

    #[test]
    fn instants() {
        let midnight = 1_751_241_600_000_000; // 2025-06-30T00:00:00Z
        assert_eq!(parse_instant("now"), Ok(Instant::Now));
        assert_eq!(parse_instant(" Now "), Ok(Instant::Now));
        assert_eq!(at("2025-06-30"), midnight);
        assert_eq!(at("2025-6-30"), midnight);
        assert_eq!(at("2025-06-30T12:00:00Z"), midnight + 12 * H);
        assert_eq!(at("2025-06-30t12:00:00z"), midnight + 12 * H);
        assert_eq!(at("2025-06-30 12:00:00"), midnight + 12 * H);
        assert_eq!(at("2025-06-30 12:00:00 UTC"), midnight + 12 * H);
        assert_eq!(at("2025-06-30T12:00"), midnight + 12 * H);
        assert_eq!(at("2025-06-30 8:05:09"), midnight + 8 * H + 309_000_000);
        // Offsets are converted to UTC.
        assert_eq!(at("2025-06-30T12:00:00+02:00"), midnight + 10 * H);
        assert_eq!(at("2025-06-30T12:00:00-0530"), midnight + 17 * H + H / 2);
        assert_eq!(at("2025-06-30T01:00:00+02"), midnight - H);
        assert_eq!(at("2025-06-30T12:00:00-00:00"), midnight + 12 * H);
        // Fractions: microseconds kept, digits past them dropped.
        assert_eq!(at("2025-06-30T00:00:00.5Z"), midnight + 500_000);
        assert_eq!(at("2025-06-30T00:00:00,123456789Z"), midnight + 123_456);
        // A leap second is the next second.
        assert_eq!(at("2025-06-30T23:59:60Z"), midnight + 24 * H);
        // Leap days.
        assert_eq!(at("2024-02-29"), at("2024-03-01") - 24 * H);
        assert_eq!(at("2000-02-29T00:00:00Z"), 951_782_400_000_000);
        // The extreme years.
        assert_eq!(at("0001-01-01"), time::micros_range().0);
        assert_eq!(at("9999-12-31T23:59:59.999999Z"), time::micros_range().1);
    }

    #[test]
    fn every_time_literal_of_the_language_is_an_instant() {
        for text in [
            "2024-05-01",
            "2024-05-01T10:30:00Z",
            "2024-05-01T10:30Z",
            "2024-05-01T12:30:00+02:00",
            "2024-05-01T10:30:00.120Z",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999999Z",
        ] {
            let l = crate::lexer::lex(text);
            assert!(l.diags.is_empty(), "{text}");
            let want = match l.tokens[0].tok {
                crate::lexer::Tok::Time(TimeValue::Timestamp { micros }) => micros,
                crate::lexer::Tok::Time(TimeValue::Date { year, month, day }) => {
                    time::micros_from_parts(year, month, day, 0, 0, 0)
                }
                ref t => panic!("{text}: {t:?}"),
            };
            assert_eq!(at(text), want, "{text}");
            // And the formatted instant reads back.
            let i = Instant::Micros(want);
            assert_eq!(parse_instant(&i.to_string()), Ok(i));
        }
    }

    fn err(s: &str) -> String {
        parse_instant(s).unwrap_err().to_string()
    }

    #[test]
    fn instant_errors_name_the_accepted_forms() {
        let forms = "use 2025-06-30, 2025-06-30T12:00:00Z (RFC 3339, any offset), 2025-06-30 12:00:00 (UTC) or now";
        assert_eq!(
            err("yesterday"),
            format!("'yesterday' is not a time: {forms}")
        );
        assert_eq!(
            err("2025-02-29"),
            format!(
                "'2025-02-29' is not a time (day 29 does not exist: February 2025 has 28 days): {forms}"
            )
        );
        assert_eq!(
            err("0000-01-01"),
            format!("'0000-01-01' is not a time (year 0 is out of range (1..=9999)): {forms}")
        );
        assert!(err("10000-01-01").contains("years are written with 4 digits (0001..=9999)"));
        assert!(err("9999-12-31T23:00:00-02:00").contains("the instant is out of range"));
        assert!(err("0001-01-01T00:00:00+01:00").contains("the instant is out of range"));
        assert!(err("2025-13-01").contains("month 13 does not exist"));
        assert!(err("2025-06-30T24:00:00Z").contains("24:00:00 is not a time of day"));
        assert!(err("2025-06-30T12:00:00+24:00").contains("bad time zone offset `+24:00`"));
        for bad in [
            "",
            "now!",
            "2025",
            "2025-06",
            "2025-06-30T",
            "2025-06-30T12",
            "2025-06-30T12:00:00.Z",
            "2025-06-30T12:00:00 PST",
            "2025/06/30",
            "30-06-2025",
            "2025-06-30x",
            "1751241600",
            "+2025-06-30",
        ] {
            assert!(parse_instant(bad).is_err(), "{bad:?}");
            assert!(err(bad).ends_with(forms), "{bad:?}");
        }
    }
}
