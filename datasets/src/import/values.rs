//! Parsing cell values: decimals, integers, and type inference for the
//! user's own columns.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, StringArray,
    TimestampMicrosecondArray,
};

use super::parse_timestamp;

/// A decimal as (mantissa, scale): `12.50` = (1250, 2).
pub(super) fn parse_decimal(s: &str) -> Option<(i128, u32)> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.is_empty() {
        return None;
    }
    let (neg, mut i) = match b[0] {
        b'-' => (true, 1),
        b'+' => (false, 1),
        _ => (false, 0),
    };
    let (mut m, mut scale, mut digits, mut dot) = (0i128, 0u32, 0, false);
    while i < b.len() {
        match b[i] {
            c @ b'0'..=b'9' => {
                if digits >= 30 {
                    return None;
                }
                m = m * 10 + (c - b'0') as i128;
                digits += 1;
                if dot {
                    scale += 1;
                }
            }
            b'.' if !dot => dot = true,
            b'e' | b'E' => {
                // Scientific notation (JSON floats): go through f64.
                let v: f64 = s.parse().ok()?;
                if !v.is_finite() {
                    return None;
                }
                return Some(((v * 1e6).round() as i128, 6));
            }
            _ => return None,
        }
        i += 1;
    }
    if digits == 0 {
        return None;
    }
    Some((if neg { -m } else { m }, scale))
}

/// Rescales to `to` decimal places, rounding half away from zero.
pub(super) fn rescale(m: i128, scale: u32, to: u32) -> Option<i128> {
    if scale <= to {
        m.checked_mul(10i128.checked_pow(to - scale)?)
    } else {
        let div = 10i128.checked_pow(scale - to)?;
        let (q, r) = (m / div, m % div);
        Some(if r.abs() * 2 >= div {
            q + m.signum()
        } else {
            q
        })
    }
}

/// Largest |value| of a Decimal128(18, _) mantissa.
pub(super) const MAX_DECIMAL18: i128 = 999_999_999_999_999_999;

/// Cents of `a` (or of `a × b`), within Decimal128(18, 2).
pub(super) fn cents(a: (i128, u32), b: Option<(i128, u32)>) -> Option<i128> {
    let (m, scale) = match b {
        None => a,
        Some((bm, bs)) => (a.0.checked_mul(bm)?, a.1 + bs),
    };
    let c = rescale(m, scale, 2)?;
    (c.abs() <= MAX_DECIMAL18).then_some(c)
}

/// An integer; `3.0` is accepted as 3.
pub(super) fn parse_int(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(v) = s.parse::<i64>() {
        return Some(v);
    }
    let (m, scale) = parse_decimal(s)?;
    let div = 10i128.checked_pow(scale)?;
    (m % div == 0)
        .then(|| i64::try_from(m / div).ok())
        .flatten()
}

fn looks_integer(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = b.strip_prefix(b"-").unwrap_or(b);
    !digits.is_empty()
        && digits.len() <= 18
        && digits.iter().all(u8::is_ascii_digit)
        // leading zeros (zip codes, "00042") are text, not numbers
        && !(digits.len() > 1 && digits[0] == b'0')
}

fn looks_float(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = b.strip_prefix(b"-").unwrap_or(b);
    if digits.len() > 1 && digits[0] == b'0' && digits[1] != b'.' {
        return false;
    }
    digits
        .first()
        .is_some_and(|c| c.is_ascii_digit() || *c == b'.')
        && s.parse::<f64>().is_ok_and(f64::is_finite)
}

fn parse_bool(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

fn is_iso_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10 && b[4] == b'-' && b[7] == b'-' && parse_timestamp(s).is_some()
}

fn is_iso_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 16
        && b[4] == b'-'
        && b[7] == b'-'
        && (b[10] == b' ' || b[10] == b'T')
        && parse_timestamp(s).is_some()
}

/// Gives a text column its natural type: Int64, Float64, Boolean, Date32,
/// Timestamp(µs, UTC) when every non-null value has that form, else Utf8.
pub(super) fn infer(values: &StringArray) -> ArrayRef {
    let valid = || values.iter().flatten();
    if values.null_count() == values.len() {
        return Arc::new(values.clone());
    }
    if valid().all(looks_integer) {
        return Arc::new(
            values
                .iter()
                .map(|v| v.and_then(|s| s.parse().ok()))
                .collect::<Int64Array>(),
        );
    }
    if valid().all(looks_float) {
        return Arc::new(
            values
                .iter()
                .map(|v| v.and_then(|s| s.parse().ok()))
                .collect::<Float64Array>(),
        );
    }
    if valid().all(|s| parse_bool(s).is_some()) {
        return Arc::new(
            values
                .iter()
                .map(|v| v.and_then(parse_bool))
                .collect::<BooleanArray>(),
        );
    }
    if valid().all(is_iso_date) {
        return Arc::new(
            values
                .iter()
                .map(|v| {
                    v.and_then(parse_timestamp)
                        .map(|us| us.div_euclid(86_400_000_000) as i32)
                })
                .collect::<Date32Array>(),
        );
    }
    if valid().all(is_iso_timestamp) {
        return Arc::new(
            values
                .iter()
                .map(|v| v.and_then(parse_timestamp))
                .collect::<TimestampMicrosecondArray>()
                .with_timezone("UTC"),
        );
    }
    Arc::new(values.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals() {
        assert_eq!(parse_decimal("2.55"), Some((255, 2)));
        assert_eq!(parse_decimal("-1.5"), Some((-15, 1)));
        assert_eq!(parse_decimal("7"), Some((7, 0)));
        assert_eq!(parse_decimal("1e2"), Some((100_000_000, 6)));
        assert_eq!(parse_decimal("abc"), None);
        assert_eq!(parse_decimal("."), None);
        assert_eq!(
            cents(parse_decimal("2.55").unwrap(), parse_decimal("6")),
            Some(1530)
        );
        assert_eq!(
            cents(parse_decimal("4.25").unwrap(), parse_decimal("-12")),
            Some(-5100)
        );
        assert_eq!(cents(parse_decimal("0.125").unwrap(), None), Some(13));
        assert_eq!(cents(parse_decimal("-0.125").unwrap(), None), Some(-13));
        assert_eq!(parse_int("3.0"), Some(3));
        assert_eq!(parse_int("3.5"), None);
    }

    #[test]
    fn inference() {
        let a = StringArray::from(vec![Some("1"), None, Some("-20")]);
        assert_eq!(infer(&a).data_type(), &arrow::datatypes::DataType::Int64);
        let a = StringArray::from(vec![Some("02134"), Some("10001")]);
        assert_eq!(infer(&a).data_type(), &arrow::datatypes::DataType::Utf8);
        let a = StringArray::from(vec![Some("1.5"), Some("2")]);
        assert_eq!(infer(&a).data_type(), &arrow::datatypes::DataType::Float64);
        let a = StringArray::from(vec![Some("TRUE"), Some("false")]);
        assert_eq!(infer(&a).data_type(), &arrow::datatypes::DataType::Boolean);
        let a = StringArray::from(vec![Some("2024-05-01"), None]);
        assert_eq!(infer(&a).data_type(), &arrow::datatypes::DataType::Date32);
        let a = StringArray::from(vec![Some("85123A"), Some("71053")]);
        assert_eq!(infer(&a).data_type(), &arrow::datatypes::DataType::Utf8);
    }
}
