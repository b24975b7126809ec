//! The JSON form.

use strata_dsl::{Error, from_json, parse, to_json};

#[test]
fn json_roundtrip_and_shape() {
    let s = parse("country = 'US' AND count(purchase WITHIN 30d) >= 2").unwrap();
    let back = from_json(&to_json(&s)).unwrap();
    assert_eq!(back, s);
    let v: serde_json::Value = serde_json::from_str(&to_json(&s)).unwrap();
    assert_eq!(v["expr"]["op"], "and");
    assert_eq!(v["expr"]["args"][0]["op"], "compare");
    assert_eq!(v["expr"]["args"][0]["cmp"], "=");
    assert_eq!(
        v["expr"]["args"][0]["value"],
        serde_json::json!({"kind": "string", "value": "US"})
    );
}

#[test]
fn hand_written_json() {
    let json = r#"{"expr": {"op": "and", "args": [
        {"op": "truthy", "lhs": {"kind": "field", "name": {"name": "consent_email"}}},
        {"op": "compare",
         "lhs": {"kind": "aggregate", "func": "count",
                 "filter": {"event": {"kind": "type", "name": {"name": "purchase"}},
                            "window": {"kind": "within", "duration": {"amount": 30, "unit": "days"}}}},
         "cmp": ">=", "value": {"kind": "int", "value": 2}}
    ]}}"#;
    let s = from_json(json).unwrap();
    assert_eq!(
        strata_dsl::format(&s),
        "consent_email AND count(purchase WITHIN 30d) >= 2"
    );
}

#[test]
fn bad_json_is_a_json_error() {
    assert!(matches!(from_json("{"), Err(Error::Json(_))));
    assert!(matches!(
        from_json(r#"{"expr": {"op": "nope"}}"#),
        Err(Error::Json(_))
    ));
}

#[test]
fn structurally_invalid_json_is_rejected() {
    // An AND with one argument cannot be written as text.
    let json = r#"{"expr": {"op": "and", "args": [
        {"op": "truthy", "lhs": {"kind": "field", "name": {"name": "a"}}}]}}"#;
    let e = from_json(json).unwrap_err();
    assert!(e.to_string().contains("at least two"), "{e}");
    // sum without a property; a month 13.
    for json in [
        r#"{"expr": {"op": "compare", "lhs": {"kind": "aggregate", "func": "sum", "filter": {"event": {"kind": "any"}}}, "cmp": ">", "value": {"kind": "int", "value": 1}}}"#,
        r#"{"expr": {"op": "compare", "lhs": {"kind": "field", "name": {"name": "d"}}, "cmp": ">", "value": {"kind": "time", "value": {"kind": "date", "year": 2024, "month": 13, "day": 1}}}}"#,
        r#"{"expr": {"op": "truthy", "lhs": {"kind": "field", "name": {"name": ""}}}}"#,
    ] {
        assert!(matches!(from_json(json), Err(Error::Dsl(_))), "{json}");
    }
}

#[test]
fn structural_diagnostics_come_in_walk_order() {
    // No spans: the order is the validator's own. A condition's own rules
    // come before its WHERE, its window and values after.
    let json = r#"{"expr": {"op": "and", "args": [
        {"op": "compare",
         "lhs": {"kind": "aggregate", "func": "sum",
                 "filter": {"event": {"kind": "type", "name": {"name": ""}},
                            "predicate": {"op": "performed", "filter": {"event": {"kind": "any"},
                                "window": {"kind": "within", "duration": {"amount": 0, "unit": "days"}}}},
                            "window": {"kind": "within", "duration": {"amount": 0, "unit": "hours"}}}},
         "cmp": ">", "value": {"kind": "float", "value": 1.0}},
        {"op": "in_list", "lhs": {"kind": "field", "name": {"name": "country"}}, "list": [], "negated": false}
    ]}}"#;
    let e = from_json(json).unwrap_err();
    let msgs: Vec<&str> = e
        .diagnostics()
        .unwrap()
        .iter()
        .map(|d| d.message.as_str())
        .collect();
    assert_eq!(
        msgs,
        [
            "sum(...) needs a property to aggregate",
            "empty event type",
            "performed(...) cannot be used inside WHERE",
            "a duration of 0d is empty",
            "a duration of 0h is empty",
            "the list is empty",
        ]
    );
}
