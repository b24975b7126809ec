//! Type checking against the demo catalog.

use strata_dsl::{FieldType, StaticCatalog};

use crate::support::{catalog, err, ok};

#[test]
fn valid_segments_check() {
    for src in [
        "consent_email",
        "country = 'US' AND NOT city = 'Paris'",
        "interests CONTAINS 'running'",
        "email STARTS WITH 'a' OR email IS NULL",
        "birth_date < 2000-01-01 AND signup_at >= -30d",
        "signup_at BETWEEN 2024-01-01 AND 2024-06-30T12:00:00Z",
        "count(purchase WHERE amount >= 200.5 AND quantity > 1 WITHIN 180d) >= 2",
        "avg(purchase.amount) > 10 AND min(purchase.amount) >= 1 AND max(any.quantity) < 10",
        "min(purchase.category) = 'a' AND max(purchase.amount) > 1",
        "first(account_created) >= -7d AND last(purchase) < -90d",
        "rfm(bins = 4, lookback = 365d).segment = 'loyal'",
        "rfm.r >= 4 AND rfm.monetary > 100.0",
        "channel_mix(window = 365d) = 'omnichannel'",
        "lifecycle IN ('dormant', 'lost')",
        "anniversary(birth_date) WITHIN NEXT 7d",
        "IN SEGMENT vip AND NOT IN SEGMENT vip_reachable",
        "performed(cart_abandoned WHERE amount >= 200 WITHIN 7d) AND NOT performed(purchase WITHIN 7d)",
        "count(any WHERE NOT (channel = 'web' OR channel = 'app') SINCE -6m) = 0",
        "email ENDS WITH '@gmail.com' IGNORING CASE AND first_name CONTAINS 'ann' IGNORING CASE",
        "performed(purchase BEFORE 2024-11-25) AND NOT performed(purchase BEFORE -30d)",
        "count(purchase WHERE category STARTS WITH 'sh' IGNORING CASE BEFORE today) > 0",
        "count(distinct purchase.category WITHIN 365d) >= 3",
        "month(birth_date) = 3 AND day_of_week(signup_at) IN (6, 7) AND hour(signup_at) < 9",
        "count(purchase WHERE day_of_week(event_time) IN (6, 7) AND hour(event_time) >= 18) >= 2",
        // Relative ends in order, or in an order that depends on as_of.
        "count(purchase BETWEEN -60d AND -30d) > 0",
        "count(purchase BETWEEN -1m AND -30d) > 0",
        "performed(purchase BETWEEN today AND now)",
        "performed(purchase BETWEEN -1y AND -360d)",
        "birth_date BETWEEN -35y AND -25y",
        "birth_date BETWEEN -12m AND -1y",
    ] {
        ok(src);
    }
}

#[test]
fn all_type_errors_are_reported() {
    let src = "contry = 'US' AND age > 5 AND count(purchse) >= '2' AND lifecycle = 'churn' AND sum(purchase.currency) > 1";
    let e = strata_dsl::parse_and_check(src, &catalog()).unwrap_err();
    let msgs: Vec<_> = e
        .diagnostics()
        .unwrap()
        .iter()
        .map(|d| d.message.clone())
        .collect();
    assert_eq!(msgs.len(), 6, "{msgs:#?}");
}

#[test]
fn check_works_on_programmatic_asts() {
    let seg = strata_dsl::parse("contry = 'US'").unwrap();
    let e = strata_dsl::check(&seg, &catalog()).unwrap_err();
    assert!(e.to_string().contains("unknown field `contry`"), "{e}");
    assert!(strata_dsl::check(&strata_dsl::parse("country = 'US'").unwrap(), &catalog()).is_ok());
}

#[test]
fn other_types_only_null_tests() {
    let c = StaticCatalog::new()
        .with_profile_field("blob", FieldType::Other)
        .with_event_type("purchase");
    assert!(strata_dsl::parse_and_check("blob IS NOT NULL", &c).is_ok());
    assert!(strata_dsl::parse_and_check("blob = 'x'", &c).is_err());
}

#[test]
fn empty_event_type_list_means_unknown() {
    let c = StaticCatalog::new().with_event_property("amount", FieldType::Float);
    assert!(strata_dsl::parse_and_check("sum(whatever.amount) > 1", &c).is_ok());
}

#[test]
fn hints() {
    let r = err("birth_date = '2000-01-01'");
    assert!(r.contains("write dates unquoted: 2000-01-01"), "{r}");
    let r = err("count(purchase WITHIN 30) > 0");
    assert!(r.contains("did you mean `30d`?"), "{r}");
    let r = err("rfm.segment = 'champion'");
    assert!(r.contains("did you mean 'champions'?"), "{r}");
}

/// The JSON form of `src` without spans, as a program would build it.
fn without_spans(src: &str) -> strata_dsl::ast::Segment {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                m.remove("span");
                m.values_mut().for_each(strip);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v: serde_json::Value =
        serde_json::from_str(&strata_dsl::to_json(&strata_dsl::parse(src).unwrap())).unwrap();
    strip(&mut v);
    serde_json::from_value(v).unwrap()
}

#[test]
fn diagnostics_without_spans_come_in_walk_order() {
    // All spans are 0..0: the order is the checker's own. An aggregate's
    // event type comes before its WHERE, its property and value after.
    let seg = without_spans(
        "count(purchse WHERE amout > 1 AND country = 'x' WITHIN 30d) >= 'a' \
         AND sum(purchase.currency WHERE chanel = 'web') > 1 AND contry = 'US'",
    );
    let e = strata_dsl::check(&seg, &StaticCatalog::demo()).unwrap_err();
    let msgs: Vec<&str> = e
        .diagnostics()
        .unwrap()
        .iter()
        .map(|d| d.message.as_str())
        .collect();
    assert_eq!(
        msgs,
        [
            "unknown event type `purchse`",
            "unknown event property `amout`",
            "`country` is a profile attribute, not an event property",
            "count(...) is an integer, but 'a' is text",
            "unknown event property `chanel`",
            "sum(...) needs a numeric property, but `currency` is text",
            "unknown field `contry`",
        ]
    );
}

/// The demo catalog knowing the values of two columns.
fn with_values() -> StaticCatalog {
    catalog()
        .with_profile_values("loyalty_tier", ["bronze", "silver", "gold"])
        .with_event_values("category", ["shoes", "bags", "outdoor"])
}

fn warnings(src: &str) -> String {
    let c = with_values();
    let seg = strata_dsl::parse_and_check(src, &c).expect("a valid segment");
    strata_dsl::warnings(&seg, &c, Some(src)).render(src)
}

#[test]
fn a_value_no_profile_has_is_a_warning_with_the_known_values() {
    let src = "loyalty_tier = 'Gold' AND consent_email";
    assert_eq!(
        warnings(src),
        "warning: no profile has `loyalty_tier` = 'Gold'\n \
         --> 1:16\n  |\n1 | loyalty_tier = 'Gold' AND consent_email\n  \
         |                ^^^^^^\n  = expected one of 'bronze', 'silver', 'gold'\n  \
         = help: did you mean 'gold'?\n"
    );
}

#[test]
fn values_in_lists_and_where_are_warned_one_by_one() {
    let src = "loyalty_tier NOT IN ('gold', 'platinum') \
               AND count(purchase WHERE category IN ('toys', 'shoes') WITHIN 30d) > 0";
    let w = warnings(src);
    assert!(
        w.contains("no profile has `loyalty_tier` = 'platinum'"),
        "{w}"
    );
    assert!(w.contains("no event has `category` = 'toys'"), "{w}");
    assert_eq!(w.matches("warning:").count(), 2, "{w}");
    // The caret is under the value itself.
    assert!(
        w.contains("1 | loyalty_tier NOT IN ('gold', 'platinum')"),
        "{w}"
    );
}

#[test]
fn known_values_and_unknown_columns_give_no_warning() {
    for src in [
        "loyalty_tier IN ('gold', 'silver')",
        "loyalty_tier != 'bronze'",
        "count(purchase WHERE category = 'shoes') > 0",
        // No values known for `country`: nothing to say.
        "country = 'Atlantis'",
        // Only equality and lists: a prefix is not a value.
        "loyalty_tier STARTS WITH 'G'",
    ] {
        assert_eq!(warnings(src), "", "{src}");
    }
}

#[test]
fn an_always_null_column_says_so() {
    let c = catalog().with_profile_values("purchase_intent", Vec::<String>::new());
    let src = "purchase_intent = 'high'";
    let seg = strata_dsl::parse_and_check(src, &c).unwrap();
    let w = strata_dsl::warnings(&seg, &c, Some(src)).render(src);
    assert!(
        w.contains("expected no value: the column is always NULL"),
        "{w}"
    );
}
