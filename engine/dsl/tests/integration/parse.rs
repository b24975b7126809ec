//! Parsing: precedence, every construct, spans.

use strata_dsl::ast::*;
use strata_dsl::parse;

fn expr(src: &str) -> Expr {
    match parse(src) {
        Ok(s) => s.expr,
        Err(e) => panic!("{src}: {}", e.diagnostics().unwrap().render(src)),
    }
}

fn field(name: &str) -> Operand {
    Operand::Field {
        name: Ident::new(name),
    }
}

fn truthy(name: &str) -> Expr {
    Expr::new(ExprKind::Truthy { lhs: field(name) })
}

fn and(args: Vec<Expr>) -> Expr {
    Expr::new(ExprKind::And { args })
}

fn or(args: Vec<Expr>) -> Expr {
    Expr::new(ExprKind::Or { args })
}

fn not(arg: Expr) -> Expr {
    Expr::new(ExprKind::Not { arg: Box::new(arg) })
}

fn text(src: &str, span: Span) -> &str {
    &src[span.range()]
}

#[test]
fn precedence_not_and_or() {
    assert_eq!(
        expr("a OR b AND NOT c"),
        or(vec![truthy("a"), and(vec![truthy("b"), not(truthy("c"))])])
    );
    assert_eq!(
        expr("NOT a AND b"),
        and(vec![not(truthy("a")), truthy("b")])
    );
    assert_eq!(
        expr("a AND b OR c AND d"),
        or(vec![
            and(vec![truthy("a"), truthy("b")]),
            and(vec![truthy("c"), truthy("d")])
        ])
    );
}

#[test]
fn chains_are_flat_groups_stay_nested() {
    assert_eq!(
        expr("a AND b AND c"),
        and(vec![truthy("a"), truthy("b"), truthy("c")])
    );
    assert_eq!(
        expr("(a AND b) AND c"),
        and(vec![and(vec![truthy("a"), truthy("b")]), truthy("c")])
    );
    assert_eq!(
        expr("a AND (b OR c)"),
        and(vec![truthy("a"), or(vec![truthy("b"), truthy("c")])])
    );
    // Redundant parentheses around a single condition leave no trace.
    assert_eq!(expr("((a))"), truthy("a"));
    assert_eq!(expr("NOT (a)"), not(truthy("a")));
}

#[test]
fn keywords_are_case_insensitive() {
    assert_eq!(expr("a and not b Or c"), expr("a AND NOT b OR c"));
    assert_eq!(
        expr("COUNT(purchase within 30D) >= 1").to_string(),
        "count(purchase WITHIN 30d) >= 1"
    );
}

#[test]
fn comparisons_and_values() {
    let cases: &[(&str, CmpOp, Value)] = &[
        ("x = 5", CmpOp::Eq, Value::Int(5)),
        ("x != -5", CmpOp::NotEq, Value::Int(-5)),
        ("x < 2.5", CmpOp::Lt, Value::Float(2.5)),
        ("x <= -2.5", CmpOp::LtEq, Value::Float(-2.5)),
        ("x > 'it''s'", CmpOp::Gt, Value::String("it's".into())),
        ("x >= true", CmpOp::GtEq, Value::Bool(true)),
        ("x = FALSE", CmpOp::Eq, Value::Bool(false)),
        ("x = 1e3", CmpOp::Eq, Value::Float(1000.0)),
        (
            "x = 2024-05-01",
            CmpOp::Eq,
            Value::Time(TimeValue::Date {
                year: 2024,
                month: 5,
                day: 1,
            }),
        ),
        (
            "x = 2024-05-01T10:30:00Z",
            CmpOp::Eq,
            Value::Time(TimeValue::Timestamp {
                micros: 1_714_559_400_000_000,
            }),
        ),
        (
            "x = 2024-05-01T12:30:00.5+02:00",
            CmpOp::Eq,
            Value::Time(TimeValue::Timestamp {
                micros: 1_714_559_400_500_000,
            }),
        ),
        (
            "x = -30d",
            CmpOp::Eq,
            Value::Time(TimeValue::Ago {
                duration: Duration::new(30, TimeUnit::Days),
            }),
        ),
        ("x = today", CmpOp::Eq, Value::Time(TimeValue::Today)),
        ("x = NOW", CmpOp::Eq, Value::Time(TimeValue::Now)),
        ("x = -9223372036854775808", CmpOp::Eq, Value::Int(i64::MIN)),
    ];
    for (src, cmp, value) in cases {
        assert_eq!(
            expr(src),
            Expr::new(ExprKind::Compare {
                lhs: field("x"),
                cmp: *cmp,
                value: value.clone()
            }),
            "{src}"
        );
    }
}

#[test]
fn every_tail() {
    let e = expr("c NOT IN ('US', 'CA')");
    assert!(matches!(e.kind, ExprKind::InList { negated: true, ref list, .. } if list.len() == 2));
    let e = expr("age BETWEEN 18 AND 30");
    assert!(matches!(e.kind, ExprKind::Between { negated: false, .. }));
    let e = expr("age NOT BETWEEN 18 AND 30 AND b");
    assert!(matches!(e.kind, ExprKind::And { ref args } if args.len() == 2));
    assert!(matches!(
        expr("i CONTAINS 'x'").kind,
        ExprKind::Contains { .. }
    ));
    assert!(matches!(
        expr("e STARTS WITH 'x'").kind,
        ExprKind::StartsWith { .. }
    ));
    assert!(matches!(
        expr("e IS NULL").kind,
        ExprKind::IsNull { negated: false, .. }
    ));
    assert!(matches!(
        expr("e IS NOT NULL").kind,
        ExprKind::IsNull { negated: true, .. }
    ));
    assert!(matches!(expr("`odd name`").kind, ExprKind::Truthy { .. }));
}

#[test]
fn behaviour_and_builtins() {
    let e = expr("count(purchase WHERE channel = 'web' AND amount >= 200 WITHIN 180d) >= 2");
    let ExprKind::Compare {
        lhs: Operand::Aggregate(a),
        ..
    } = e.kind
    else {
        panic!("{e:?}")
    };
    assert_eq!(a.func, AggFunc::Count);
    assert!(
        matches!(a.filter.predicate.as_deref().map(|p| &p.kind), Some(ExprKind::And { args }) if args.len() == 2)
    );
    assert_eq!(
        a.filter.window,
        Some(Window::Within {
            duration: Duration::new(180, TimeUnit::Days)
        })
    );

    let e = expr("sum(any.amount SINCE 2024-01-01) > 0");
    let ExprKind::Compare {
        lhs: Operand::Aggregate(a),
        ..
    } = e.kind
    else {
        panic!()
    };
    assert_eq!(a.filter.event, EventSel::Any);
    assert_eq!(a.property.map(|p| p.name).as_deref(), Some("amount"));

    let e = expr("last(`page view`) BETWEEN -7d AND now");
    assert!(matches!(e.kind, ExprKind::Between { .. }));
    let e = expr("count('page view' BETWEEN 2024-01-01 AND today) > 0");
    let ExprKind::Compare {
        lhs: Operand::Aggregate(a),
        ..
    } = e.kind
    else {
        panic!()
    };
    assert_eq!(
        a.filter.event,
        EventSel::Type {
            name: Ident::new("page view")
        }
    );

    let e = expr("rfm(bins = 4, lookback = 365d).segment = 'loyal'");
    let ExprKind::Compare {
        lhs: Operand::Builtin(b),
        ..
    } = e.kind
    else {
        panic!()
    };
    assert_eq!(b.func, BuiltinFunc::RfmSegment);
    assert_eq!(b.params.bins, Some(4));
    assert_eq!(b.params.lookback, Some(Duration::new(365, TimeUnit::Days)));

    for (src, func) in [
        ("rfm.r = 1", BuiltinFunc::RfmR),
        ("rfm.f = 1", BuiltinFunc::RfmF),
        ("rfm.m = 1", BuiltinFunc::RfmM),
        ("rfm.recency_days = 1", BuiltinFunc::RfmRecencyDays),
        ("rfm.frequency = 1", BuiltinFunc::RfmFrequency),
        ("rfm.monetary = 1", BuiltinFunc::RfmMonetary),
        ("channel_mix = 'none'", BuiltinFunc::ChannelMix),
        ("lifecycle(window = 60d) = 'new'", BuiltinFunc::Lifecycle),
    ] {
        let ExprKind::Compare {
            lhs: Operand::Builtin(b),
            ..
        } = expr(src).kind
        else {
            panic!("{src}")
        };
        assert_eq!(b.func, func, "{src}");
    }

    assert_eq!(
        expr("anniversary(birth_date) WITHIN NEXT 2w").kind,
        ExprKind::Anniversary {
            field: Ident::new("birth_date"),
            days: 14
        }
    );
    assert_eq!(
        expr("IN SEGMENT vip").kind,
        ExprKind::InSegment {
            name: Ident::new("vip")
        }
    );
    assert!(matches!(
        expr("NOT performed(purchase WITHIN 60d)").kind,
        ExprKind::Not { .. }
    ));
}

#[test]
fn comments_are_collected() {
    let s = parse("# head\na # inline\n AND b # tail").unwrap();
    let texts: Vec<_> = s.comments.iter().map(|c| c.text.as_str()).collect();
    assert_eq!(texts, [" head", " inline", " tail"]);
}

#[test]
fn spans_point_at_the_source() {
    let src = "consent_email AND NOT count(purchase WHERE amount >= 200 WITHIN 30d) >= 2";
    let s = parse(src).unwrap();
    assert_eq!(text(src, s.expr.span), src);
    let ExprKind::And { args } = &s.expr.kind else {
        panic!()
    };
    assert_eq!(text(src, args[0].span), "consent_email");
    assert_eq!(
        text(src, args[1].span),
        "NOT count(purchase WHERE amount >= 200 WITHIN 30d) >= 2"
    );
    let ExprKind::Not { arg } = &args[1].kind else {
        panic!()
    };
    let ExprKind::Compare {
        lhs: Operand::Aggregate(a),
        ..
    } = &arg.kind
    else {
        panic!()
    };
    assert_eq!(
        text(src, a.span),
        "count(purchase WHERE amount >= 200 WITHIN 30d)"
    );
    assert_eq!(
        text(src, a.filter.span),
        "purchase WHERE amount >= 200 WITHIN 30d"
    );
    let pred = a.filter.predicate.as_ref().unwrap();
    assert_eq!(text(src, pred.span), "amount >= 200");
    let EventSel::Type { name } = &a.filter.event else {
        panic!()
    };
    assert_eq!(text(src, name.span), "purchase");

    let src = "rfm(bins = 4).segment IN ('loyal') AND IN SEGMENT `v i p`";
    let s = parse(src).unwrap();
    let ExprKind::And { args } = &s.expr.kind else {
        panic!()
    };
    let ExprKind::InList {
        lhs: Operand::Builtin(b),
        ..
    } = &args[0].kind
    else {
        panic!()
    };
    assert_eq!(text(src, b.span), "rfm(bins = 4).segment");
    let ExprKind::InSegment { name } = &args[1].kind else {
        panic!()
    };
    assert_eq!(text(src, name.span), "`v i p`");
    assert_eq!(name.name, "v i p");
}

#[test]
fn diagnostics_have_positions() {
    let src = "country = 'US'\n  AND contry = 'FR'";
    let e = strata_dsl::parse_and_check(src, &crate::support::catalog()).unwrap_err();
    let d = &e.diagnostics().unwrap()[0];
    assert_eq!(text(src, d.span), "contry");
    assert_eq!(d.line_col(src), (2, 7));
    assert_eq!(d.replacement.as_deref(), Some("country"));
    assert_eq!(d.suggestion.as_deref(), Some("did you mean `country`?"));
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    for n in [65, 127, 129, 1_000, 100_000] {
        let src = format!("{}a{}", "(NOT ".repeat(n), ")".repeat(n));
        assert!(parse(&src).is_err(), "{n}");
        let src = format!("{}a", "NOT ".repeat(n));
        assert!(parse(&src).is_err(), "{n}");
    }
    // Up to the limit is fine.
    let src = format!("{}a", "NOT ".repeat(strata_dsl::MAX_DEPTH));
    assert!(parse(&src).is_ok());
    let src = format!("{}a{}", "(".repeat(100), ")".repeat(100));
    assert!(parse(&src).is_ok());
}

#[test]
fn odd_inputs_do_not_panic() {
    for src in [
        "",
        " ",
        "#",
        "(",
        ")",
        "'",
        "`",
        "``",
        "-",
        "-1e",
        "9999-99-99T99:99:99Z",
        "2024-01-01T",
        "1.",
        ".5",
        "é",
        "🙂 = '🙂'",
        "count(",
        "rfm(",
        "rfm(bins",
        "rfm(bins =",
        "anniversary(",
        "performed(purchase WHERE",
        "x IN (",
        "x IN (1,",
        "x BETWEEN 1",
        "\u{0}",
        "a = 1e999",
        "a = 99999999999999999999999",
        "count(purchase WITHIN 99999999999d) > 0",
        "a = '\u{FEFF}'",
    ] {
        let _ = parse(src);
        let _ = strata_dsl::parse_and_check(src, &crate::support::catalog());
    }
}
