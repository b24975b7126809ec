//! The canonical formatter.

use strata_dsl::ast::*;
use strata_dsl::{format, parse};

fn roundtrip(src: &str) -> String {
    let s = parse(src).unwrap_or_else(|e| panic!("{src}: {e}"));
    let f = format(&s);
    let back = parse(&f).unwrap_or_else(|e| panic!("{f}: {e}"));
    assert_eq!(back, s, "{f}");
    assert_eq!(format(&back), f, "format is idempotent");
    f
}

#[test]
fn canonical_spelling() {
    assert_eq!(
        roundtrip("a and not b or COUNT( purchase where x=1 within 30d )>=2"),
        "a AND NOT b OR count(purchase WHERE x = 1 WITHIN 30d) >= 2"
    );
    assert_eq!(roundtrip("x in ( 1,2 )"), "x IN (1, 2)");
    assert_eq!(roundtrip("rfm().segment = 'x'"), "rfm.segment = 'x'");
    assert_eq!(
        roundtrip("rfm(lookback=1y, bins=3).r = 1"),
        "rfm(bins = 3, lookback = 1y).r = 1"
    );
    assert_eq!(
        roundtrip("anniversary(b) within next 2w"),
        "anniversary(b) WITHIN NEXT 14d"
    );
    assert_eq!(
        roundtrip("t = 2024-05-01T12:30:00.120+02:00"),
        "t = 2024-05-01T10:30:00.12Z"
    );
    assert_eq!(roundtrip("x = 'it''s'"), "x = 'it''s'");
    assert_eq!(
        roundtrip("`segment` = 1 AND `a b` AND `x``y`"),
        "`segment` = 1 AND `a b` AND `x``y`"
    );
    assert_eq!(
        roundtrip("count(`any`) > 0 AND count('page view') > 0"),
        "count(`any`) > 0 AND count(`page view`) > 0"
    );
}

#[test]
fn groups_keep_their_parentheses() {
    assert_eq!(roundtrip("(a AND b) AND c"), "(a AND b) AND c");
    assert_eq!(roundtrip("a AND (b OR c)"), "a AND (b OR c)");
    assert_eq!(roundtrip("(a AND b) OR c"), "a AND b OR c");
    assert_eq!(roundtrip("(a OR b) OR c"), "(a OR b) OR c");
    assert_eq!(roundtrip("NOT (a AND b)"), "NOT (a AND b)");
    assert_eq!(roundtrip("NOT NOT a"), "NOT NOT a");
}

#[test]
fn floats_are_exact() {
    for f in [
        0.1,
        1.0,
        -2.5,
        1e300,
        1e-7,
        5e-324,
        f64::MAX,
        -0.0,
        123456789.125,
    ] {
        let seg = Segment::new(Expr::new(ExprKind::Compare {
            lhs: Operand::Field {
                name: Ident::new("x"),
            },
            cmp: CmpOp::Eq,
            value: Value::Float(f),
        }));
        let back = parse(&format(&seg)).unwrap();
        let ExprKind::Compare {
            value: Value::Float(g),
            ..
        } = back.expr.kind
        else {
            panic!("{}", format(&seg))
        };
        assert_eq!(f.to_bits(), g.to_bits(), "{f}");
    }
}

#[test]
fn truthy_before_between_window_is_parenthesised() {
    let src = "count(e WHERE (flag) BETWEEN 2024-01-01 AND 2024-02-01) > 0";
    let s = parse(src).unwrap();
    let ExprKind::Compare {
        lhs: Operand::Aggregate(a),
        ..
    } = &s.expr.kind
    else {
        panic!()
    };
    assert!(matches!(
        a.filter.predicate.as_deref().map(|p| &p.kind),
        Some(ExprKind::Truthy { .. })
    ));
    assert_eq!(roundtrip(src), src);
    roundtrip("count(e WHERE a = 1 AND NOT flag BETWEEN -3d AND now) > 0");
}

#[test]
fn text_matches_and_before_windows() {
    for src in [
        "email ENDS WITH '@gmail.com'",
        "first_name CONTAINS 'ann' IGNORING CASE",
        "city STARTS WITH 'san' IGNORING CASE\n  AND email ENDS WITH '.ES' IGNORING CASE",
        "performed(purchase BEFORE 2024-11-25)",
        "count(purchase WHERE category ENDS WITH 'wear' IGNORING CASE BEFORE -30d) > 0",
        // The new words are not reserved: fields may be named so.
        "ends ENDS WITH 'x' AND before = 1 AND ignoring AND case CONTAINS 'y'",
        "count(e WHERE before BEFORE now) > 0",
        "count(distinct purchase.category WITHIN 365d) >= 3",
        "count(distinct any.channel WHERE amount > 0) = 1",
        "month(birth_date) = 3 AND day_of_week(signup_at) IN (6, 7)",
        "count(purchase WHERE hour(event_time) < 12 AND year(event_time) = 2024) > 0",
        // Fields named like the parts.
        "month = 3 AND day(`odd field`) = 1",
        // An event type named `distinct`.
        "count(distinct BEFORE now) > 0 AND count(distinct) = 2",
    ] {
        assert_eq!(roundtrip(src), src);
    }
    // Keywords in any case, canonical upper case.
    assert_eq!(
        roundtrip("email ends with 'x' ignoring case"),
        "email ENDS WITH 'x' IGNORING CASE"
    );
}

#[test]
fn long_segments_break_per_operand_and_keep_comments() {
    let src = "# lapsed omnichannel VIPs who accept email
rfm.segment IN ('champions', 'loyal', 'cannot_lose') AND channel_mix = 'omnichannel'
  AND consent_email # opted in
  # web only
  AND count(purchase WHERE channel = 'web' AND amount >= 200 WITHIN 180d) >= 2
  AND NOT performed(purchase WITHIN 60d)
# end";
    let f = roundtrip(src);
    assert_eq!(
        f,
        "# lapsed omnichannel VIPs who accept email
rfm.segment IN ('champions', 'loyal', 'cannot_lose')
  AND channel_mix = 'omnichannel'
  AND consent_email
  # opted in
  # web only
  AND count(purchase WHERE channel = 'web' AND amount >= 200 WITHIN 180d) >= 2
  AND NOT performed(purchase WITHIN 60d)
# end"
    );
}

#[test]
fn programmatic_comments_go_first() {
    let mut s = parse("a AND b").unwrap();
    s.comments.push(Comment {
        text: " note".into(),
        span: Span::default(),
    });
    assert_eq!(format(&s), "# note\na AND b");
    assert_eq!(parse(&format(&s)).unwrap(), s);
}

#[test]
fn display_matches_format() {
    let s = parse("a AND b = 2").unwrap();
    assert_eq!(s.to_string(), format(&s));
    assert_eq!(s.expr.to_string(), "a AND b = 2");
}
