//! Property tests: random ASTs survive format → parse and JSON; arbitrary
//! text never makes the parser panic.

use proptest::prelude::*;
use strata_dsl::ast::*;
use strata_dsl::{format, from_json, parse, to_json};

// ---- generators -------------------------------------------------------------

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[a-z_][a-z0-9_]{0,10}",
        1 => prop::sample::select(vec![
            "and", "OR", "not", "in", "segment", "between", "count", "rfm", "any", "today",
            "true", "null", "channel_mix", "performed", "Where", "next",
        ])
        .prop_map(String::from),
        1 => "[ -~]{1,8}",
        1 => "\\PC{1,6}",
    ]
}

fn ident() -> impl Strategy<Value = Ident> {
    name().prop_map(Ident::new)
}

fn duration() -> impl Strategy<Value = Duration> {
    prop::sample::select(TimeUnit::ALL.to_vec()).prop_flat_map(|unit| {
        let max: u32 = match unit {
            TimeUnit::Hours => 876_600,
            TimeUnit::Days => 36_525,
            TimeUnit::Weeks => 5_218,
            TimeUnit::Months => 1_200,
            TimeUnit::Years => 100,
        };
        (1..=max).prop_map(move |amount| Duration { amount, unit })
    })
}

/// Timestamps between 0001-01-01 and 9999-12-31 (µs).
const MIN_MICROS: i64 = -62_135_596_800_000_000;
const MAX_MICROS: i64 = 253_402_300_799_999_999;

fn time_value() -> impl Strategy<Value = TimeValue> {
    prop_oneof![
        (1i32..=9999, 1u32..=12, 1u32..=28).prop_map(|(year, month, day)| TimeValue::Date {
            year,
            month,
            day
        }),
        (MIN_MICROS..=MAX_MICROS).prop_map(|micros| TimeValue::Timestamp { micros }),
        (MIN_MICROS / 1_000_000..=MAX_MICROS / 1_000_000).prop_map(|s| TimeValue::Timestamp {
            micros: s * 1_000_000
        }),
        duration().prop_map(|duration| TimeValue::Ago { duration }),
        Just(TimeValue::Today),
        Just(TimeValue::Now),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::Int),
        (-1000i64..1000).prop_map(Value::Int),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::Float),
        (-1000i32..1000).prop_map(|i| Value::Float(f64::from(i) / 8.0)),
        "\\PC{0,8}".prop_map(Value::String),
        "['a-z\n ]{0,6}".prop_map(Value::String),
        any::<bool>().prop_map(Value::Bool),
        time_value().prop_map(Value::Time),
    ]
}

/// Puts comparable literal pairs in order, so ranges are never empty.
fn ordered(low: Value, high: Value) -> (Value, Value) {
    let key = |v: &Value| -> Option<(u8, f64, String)> {
        match v {
            Value::Int(i) => Some((0, *i as f64, String::new())),
            Value::Float(f) => Some((0, *f, String::new())),
            Value::String(s) => Some((1, 0.0, s.clone())),
            _ => None,
        }
    };
    match (key(&low), key(&high)) {
        (Some(a), Some(b)) if a.0 == b.0 && (a.1 > b.1 || a.2 > b.2) => (high, low),
        _ => match (&low, &high) {
            (Value::Time(a), Value::Time(b)) => {
                if later(a, b) == Some(std::cmp::Ordering::Greater) {
                    return (high, low);
                }
                (low, high)
            }
            _ => (low, high),
        },
    }
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = y - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn abs_micros(t: &TimeValue) -> Option<i64> {
    match t {
        TimeValue::Date { year, month, day } => Some(
            days_from_civil(i64::from(*year), i64::from(*month), i64::from(*day)) * 86_400_000_000,
        ),
        TimeValue::Timestamp { micros } => Some(*micros),
        _ => None,
    }
}

/// Roughly how far before as_of a relative time is, in µs (a month taken as
/// 29.5 days, a year as 365.5, `today` as half a day back): any figure
/// inside the range a time can be back puts two times in an order the
/// validator accepts.
fn back_micros(t: &TimeValue) -> Option<i64> {
    const HOUR: i64 = 3_600_000_000;
    let hours = match t {
        TimeValue::Now => 0,
        TimeValue::Today => 12,
        TimeValue::Ago { duration } => {
            let n = i64::from(duration.amount);
            match duration.unit {
                TimeUnit::Hours => n,
                TimeUnit::Days => 24 * n,
                TimeUnit::Weeks => 168 * n,
                TimeUnit::Months => 708 * n,
                TimeUnit::Years => 8772 * n,
            }
        }
        _ => return None,
    };
    Some(hours * HOUR)
}

/// Whether `a` is the later instant: absolute times compared, relative
/// ones by how far back they are; `None` when they cannot be ordered.
fn later(a: &TimeValue, b: &TimeValue) -> Option<std::cmp::Ordering> {
    match (abs_micros(a), abs_micros(b)) {
        (Some(x), Some(y)) => Some(x.cmp(&y)),
        _ => Some(back_micros(b)?.cmp(&back_micros(a)?)),
    }
}

fn window() -> impl Strategy<Value = Window> {
    use std::cmp::Ordering;
    prop_oneof![
        duration().prop_map(|duration| Window::Within { duration }),
        time_value()
            .prop_filter("SINCE now is empty", |t| *t != TimeValue::Now)
            .prop_map(|from| Window::Since { from }),
        time_value().prop_map(|to| Window::Before { to }),
        (time_value(), time_value()).prop_filter_map("non-empty window", |(a, b)| {
            match later(&a, &b) {
                Some(Ordering::Equal) => None,
                Some(Ordering::Greater) => Some(Window::Between { from: b, to: a }),
                _ => Some(Window::Between { from: a, to: b }),
            }
        }),
    ]
}

/// A condition on an operand (no And/Or/Not).
fn condition(lhs: BoxedStrategy<Operand>) -> BoxedStrategy<ExprKind> {
    prop_oneof![
        (
            lhs.clone(),
            prop::sample::select(vec![
                CmpOp::Eq,
                CmpOp::NotEq,
                CmpOp::Lt,
                CmpOp::LtEq,
                CmpOp::Gt,
                CmpOp::GtEq
            ]),
            value()
        )
            .prop_map(|(lhs, cmp, value)| ExprKind::Compare { lhs, cmp, value }),
        (
            lhs.clone(),
            prop::collection::vec(value(), 1..4),
            any::<bool>()
        )
            .prop_map(|(lhs, list, negated)| ExprKind::InList { lhs, list, negated }),
        (lhs.clone(), value(), value(), any::<bool>()).prop_map(|(lhs, a, b, negated)| {
            let (low, high) = ordered(a, b);
            ExprKind::Between {
                lhs,
                low,
                high,
                negated,
            }
        }),
        // One arm for the three text tests: each arm of the union costs
        // stack in every generation.
        (
            lhs.clone(),
            value(),
            any::<bool>(),
            prop::sample::select(vec![
                TextTest::Contains,
                TextTest::StartsWith,
                TextTest::EndsWith
            ])
        )
            .prop_map(|(lhs, value, ignore_case, test)| test.expr(lhs, value, ignore_case)),
        (lhs.clone(), any::<bool>()).prop_map(|(lhs, negated)| ExprKind::IsNull { lhs, negated }),
        lhs.prop_map(|lhs| ExprKind::Truthy { lhs }),
    ]
    .boxed()
}

fn field() -> BoxedStrategy<Operand> {
    ident().prop_map(|name| Operand::Field { name }).boxed()
}

/// Event-property conditions for WHERE (fields only), nested a little.
fn predicate() -> BoxedStrategy<Expr> {
    let leaf = condition(field()).prop_map(Expr::new);
    leaf.prop_recursive(3, 12, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4)
                .prop_map(|args| Expr::new(ExprKind::And { args })),
            prop::collection::vec(inner.clone(), 2..4)
                .prop_map(|args| Expr::new(ExprKind::Or { args })),
            inner.prop_map(|e| Expr::new(ExprKind::Not { arg: Box::new(e) })),
        ]
    })
    .boxed()
}

fn event_filter() -> impl Strategy<Value = EventFilter> {
    (
        prop_oneof![1 => Just(EventSel::Any), 4 => ident().prop_map(|name| EventSel::Type { name })],
        prop::option::of(predicate().prop_map(Box::new)),
        prop::option::of(window()),
    )
        .prop_map(|(event, predicate, window)| EventFilter {
            event,
            predicate,
            window,
            span: Span::default(),
        })
}

fn aggregate() -> impl Strategy<Value = Aggregate> {
    (
        prop::sample::select(AggFunc::ALL.to_vec()),
        ident(),
        event_filter(),
    )
        .prop_map(|(func, prop, filter)| Aggregate {
            func,
            property: func.needs_property().then_some(prop),
            filter,
            span: Span::default(),
        })
}

fn builtin() -> impl Strategy<Value = Builtin> {
    (
        prop::sample::select(BuiltinFunc::ALL.to_vec()),
        prop::option::of(1u32..=100),
        prop::option::of(duration()),
        prop::option::of(duration()),
    )
        .prop_map(|(func, bins, d1, d2)| {
            let params = if func.is_rfm() {
                BuiltinParams {
                    bins,
                    lookback: d1,
                    window: None,
                }
            } else {
                BuiltinParams {
                    bins: None,
                    lookback: None,
                    window: d2,
                }
            };
            Builtin {
                func,
                params,
                span: Span::default(),
            }
        })
}

fn time_part() -> BoxedStrategy<Operand> {
    (prop::sample::select(TimePart::ALL.to_vec()), ident())
        .prop_map(|(part, field)| Operand::TimePart {
            part,
            field,
            span: Span::default(),
        })
        .boxed()
}

fn profile_operand() -> BoxedStrategy<Operand> {
    prop_oneof![
        3 => field(),
        1 => time_part(),
        2 => aggregate().prop_map(Operand::Aggregate),
        1 => builtin().prop_map(Operand::Builtin),
    ]
    .boxed()
}

fn expr() -> impl Strategy<Value = Expr> {
    let leaf = prop_oneof![
        6 => condition(profile_operand()),
        1 => event_filter().prop_map(|filter| ExprKind::Performed { filter }),
        1 => (ident(), 1u32..=366).prop_map(|(field, days)| ExprKind::Anniversary { field, days }),
        1 => ident().prop_map(|name| ExprKind::InSegment { name }),
    ]
    .prop_map(Expr::new);
    leaf.prop_recursive(5, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..5)
                .prop_map(|args| Expr::new(ExprKind::And { args })),
            prop::collection::vec(inner.clone(), 2..5)
                .prop_map(|args| Expr::new(ExprKind::Or { args })),
            inner.prop_map(|e| Expr::new(ExprKind::Not { arg: Box::new(e) })),
        ]
    })
}

fn segment() -> impl Strategy<Value = Segment> {
    (expr(), prop::collection::vec("[^\r\n]{0,12}", 0..3)).prop_map(|(expr, comments)| Segment {
        expr,
        comments: comments
            .into_iter()
            .map(|text| Comment {
                text,
                span: Span::default(),
            })
            .collect(),
    })
}

/// Fragments that make syntactically interesting soups.
fn token() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "AND",
            "OR",
            "NOT",
            "IN",
            "SEGMENT",
            "BETWEEN",
            "CONTAINS",
            "STARTS",
            "WITH",
            "IS",
            "NULL",
            "WITHIN",
            "NEXT",
            "SINCE",
            "WHERE",
            "true",
            "false",
            "today",
            "now",
            "any",
            "count",
            "sum",
            "avg",
            "min",
            "max",
            "first",
            "last",
            "performed",
            "anniversary",
            "rfm",
            "channel_mix",
            "lifecycle",
            "(",
            ")",
            ",",
            ".",
            "=",
            "!=",
            "<",
            "<=",
            ">",
            ">=",
            "==",
            "<>",
            "&&",
            "||",
            "!",
            "'x'",
            "''",
            "'",
            "`a b`",
            "`",
            "\"s\"",
            "30d",
            "-30d",
            "2w",
            "30",
            "-5",
            "2.5",
            "1e9",
            "2024-05-01",
            "2024-13-01",
            "2024-05-01T10:30:00Z",
            "2024-05-01T10:30",
            "#c\n",
            "\n",
            "é",
            "bins",
            "window",
            "lookback",
            "purchase",
            "amount",
            "country",
            "r",
            "segment",
            "x",
            "9999999999999999999999",
        ])
        .prop_map(String::from),
        "[a-z]{1,4}",
        "\\PC{1,2}",
    ]
}

// ---- properties -------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn format_then_parse_is_identity(seg in segment()) {
        // Every generated AST is valid...
        let json = to_json(&seg);
        prop_assert!(from_json(&json).is_ok(), "invalid generated AST: {:?}", from_json(&json).err());
        // ...and its text parses back to it.
        let text = format(&seg);
        let back = match parse(&text) {
            Ok(b) => b,
            Err(e) => return Err(TestCaseError::fail(format!(
                "{text}\n{}", e.diagnostics().map(|d| d.render(&text)).unwrap_or_default()
            ))),
        };
        prop_assert_eq!(&back, &seg, "{}", text);
        // Formatting is a fixed point, also for ASTs with spans.
        prop_assert_eq!(format(&back), text);
    }

    #[test]
    fn json_roundtrip(seg in segment()) {
        let back = from_json(&to_json(&seg)).expect("valid JSON AST");
        prop_assert_eq!(&back, &seg);
        // Floats come back bit for bit (PartialEq alone would accept -0.0 == 0.0).
        prop_assert_eq!(format(&back), format(&seg));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn arbitrary_text_never_panics(src in "\\PC{0,64}") {
        let _ = strata_dsl::parse_and_check(&src, &crate::support::catalog());
    }

    #[test]
    fn arbitrary_bytes_as_text_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        let src = String::from_utf8_lossy(&bytes);
        let _ = strata_dsl::parse_and_check(&src, &crate::support::catalog());
    }

    #[test]
    fn token_soup_never_panics(tokens in prop::collection::vec(token(), 0..24), seps in prop::collection::vec(prop::sample::select(vec!["", " ", "  ", "\n"]), 24)) {
        let mut src = String::new();
        for (t, s) in tokens.iter().zip(seps.iter().cycle()) {
            src.push_str(t);
            src.push_str(s);
        }
        if let Ok(seg) = parse(&src) {
            // Whatever parses formats to text that parses back to it.
            let text = format(&seg);
            let back = parse(&text);
            prop_assert!(back.is_ok(), "{src:?} -> {text:?}");
            prop_assert_eq!(back.unwrap(), seg);
        }
        if let Err(e) = strata_dsl::parse_and_check(&src, &crate::support::catalog()) {
            let d = e.diagnostics().expect("diagnostics");
            prop_assert!(!d.is_empty());
            let _ = d.render(&src);
        }
    }
}
