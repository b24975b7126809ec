//! Golden tests for diagnostics: each wrong input and the exact report a user
//! sees are stored in `tests/golden/<name>.txt`. Regenerate with
//! `UPDATE_GOLDEN=1 cargo test -p strata-dsl --test integration golden`
//! and review the diff.

use std::path::PathBuf;

use crate::support;

const SEP_INPUT: &str = "==== input ====\n";
const SEP_OUTPUT: &str = "\n==== diagnostics ====\n";

fn cases() -> Vec<(&'static str, String)> {
    let mut c: Vec<(&'static str, String)> = vec![
        // --- names ----------------------------------------------------
        ("typo_field", "contry = 'US'".into()),
        ("typo_event_type", "performed(purchse WITHIN 30d)".into()),
        ("typo_event_property", "sum(purchase.amout WITHIN 30d) > 100".into()),
        ("typo_function", "cout(purchase WITHIN 30d) >= 2".into()),
        ("typo_rfm_member", "rfm.segmnt = 'champions'".into()),
        ("typo_builtin", "chanel_mix = 'omnichannel'".into()),
        ("typo_rfm_name", "rfn.segment = 'loyal'".into()),
        ("typo_segment_name", "IN SEGMENT vipp AND consent_email".into()),
        ("typo_keyword", "country = 'US' ADN consent_email".into()),
        ("typo_param", "rfm(bin = 4).segment = 'loyal'".into()),
        ("rfm_value_typo", "rfm.segment = 'champion'".into()),
        ("channel_mix_value_typo", "channel_mix IN ('omni_channel', 'online_only')".into()),
        ("lifecycle_churned", "lifecycle = 'churned'".into()),
        ("event_property_at_top_level", "amount >= 200".into()),
        ("profile_field_in_where", "count(purchase WHERE country = 'US') >= 1".into()),
        ("event_type_as_field", "purchase AND consent_email".into()),
        ("dotted_name_at_top_level", "purchase.amount > 100".into()),
        ("keyword_as_field", "segment = 'vip'".into()),
        ("non_ascii_name", "país = 'ES'".into()),
        ("segment_cycle", "IN SEGMENT loop_a".into()),
        // --- types ----------------------------------------------------
        ("string_where_number_belongs", "count(purchase WHERE amount >= '200' WITHIN 180d) >= 2".into()),
        ("date_compared_to_string", "birth_date < '2000-01-01'".into()),
        ("number_where_string_belongs", "country = 42".into()),
        ("string_for_boolean", "consent_email = 'yes'".into()),
        ("int_for_timestamp", "signup_at > 30".into()),
        ("sum_of_text_property", "sum(purchase.currency WITHIN 30d) > 10".into()),
        ("truthy_non_boolean", "country AND consent_email".into()),
        ("truthy_count", "count(purchase WITHIN 30d) AND consent_email".into()),
        ("contains_on_timestamp", "signup_at CONTAINS '2024'".into()),
        ("contains_wrong_element", "interests CONTAINS 3".into()),
        ("list_compared_with_equals", "interests = 'running'".into()),
        ("starts_with_on_number", "profile_id STARTS WITH '12'".into()),
        ("boolean_ordering", "consent_email > false".into()),
        ("anniversary_of_text", "anniversary(country) WITHIN NEXT 7d".into()),
        // --- syntax ---------------------------------------------------
        ("empty_input", String::new()),
        ("only_a_comment", "# who are my best customers?\n".into()),
        ("missing_close_paren_aggregate", "count(purchase WITHIN 30d >= 2".into()),
        ("missing_close_paren_group", "(country = 'US' OR country = 'CA'\n  AND consent_email".into()),
        ("unmatched_close_paren", "country = 'US')".into()),
        ("trailing_garbage", "country = 'US' city = 'Paris'".into()),
        ("missing_operator", "country 'US'".into()),
        ("missing_value", "country =".into()),
        ("missing_condition_after_and", "consent_email AND".into()),
        ("bare_word_value", "country = US".into()),
        ("compare_with_null", "email = NULL".into()),
        ("is_with_value", "email IS 'x'".into()),
        ("not_without_in", "country NOT 'US'".into()),
        ("in_without_field", "IN ('US', 'CA')".into()),
        ("empty_in_list", "country IN ()".into()),
        ("unterminated_string", "country = 'US AND consent_email".into()),
        ("double_quoted_string", "country = \"US\"".into()),
        ("double_equals", "country == 'US'".into()),
        ("c_style_operators", "consent_email && !consent_sms".into()),
        ("integer_too_large", "profile_id > 99999999999999999999".into()),
        ("number_with_trailing_dot", "count(purchase) > 5.".into()),
        // --- functions ------------------------------------------------
        ("count_with_property", "count(purchase.amount WITHIN 30d) > 1".into()),
        ("sum_without_property", "sum(purchase WITHIN 30d) > 100".into()),
        ("aggregate_inside_where", "count(purchase WHERE count(refund) > 0) > 0".into()),
        ("performed_with_property", "performed(purchase.amount)".into()),
        ("where_after_window", "count(purchase WITHIN 30d WHERE amount > 50) > 0".into()),
        ("count_without_parens", "count purchase >= 2".into()),
        ("rfm_without_score", "rfm = 'loyal'".into()),
        ("bins_zero", "rfm(bins = 0).r = 1".into()),
        ("param_of_other_builtin", "channel_mix(bins = 4) = 'none'".into()),
        ("lookback_without_unit", "rfm(lookback = 365).r >= 4".into()),
        // --- time -----------------------------------------------------
        ("window_without_unit", "count(purchase WITHIN 30) >= 2".into()),
        ("window_with_unit_word", "count(purchase WITHIN 30 days) >= 2".into()),
        ("unknown_unit", "count(purchase WITHIN 30days) >= 2".into()),
        ("negative_window", "count(purchase WITHIN -30d) >= 2".into()),
        ("zero_window", "count(purchase WITHIN 0d) >= 2".into()),
        ("since_positive_duration", "count(purchase SINCE 30d) >= 2".into()),
        ("duration_as_value", "signup_at >= 30d".into()),
        ("bad_date_month_13", "signup_at >= 2024-13-01".into()),
        ("bad_date_feb_29", "birth_date = 2023-02-29".into()),
        ("bad_date_format", "birth_date = 2023-2-9".into()),
        ("timestamp_without_zone", "signup_at >= 2024-05-01T10:30:00".into()),
        ("empty_window", "count(purchase BETWEEN 2024-05-01 AND 2024-01-01) > 0".into()),
        ("anniversary_in_hours", "anniversary(birth_date) WITHIN NEXT 12h".into()),
        ("reversed_between", "profile_id BETWEEN 10 AND 5".into()),
        ("count_distinct_without_property", "count(distinct purchase WITHIN 30d) > 2".into()),
        ("hour_of_a_date", "hour(birth_date) < 12".into()),
        ("month_of_text", "month(country) = 3".into()),
        ("ends_with_on_number", "profile_id ENDS WITH '7'".into()),
        ("ignoring_case_on_a_list", "interests CONTAINS 'Running' IGNORING CASE".into()),
        ("relative_window_swapped", "count(purchase BETWEEN -30d AND -60d) > 0".into()),
        ("relative_window_now_today", "performed(purchase BETWEEN now AND today)".into()),
        ("since_now", "count(email_open SINCE now) = 0".into()),
        ("relative_range_swapped", "birth_date BETWEEN -25y AND -35y".into()),
        // --- errors that teach (issue 20) ------------------------------
        ("window_after_the_comparison", "count(purchase) > 3 WITHIN 30d".into()),
        ("window_after_performed", "performed(purchase) WITHIN 30d".into()),
        ("like_operator", "email LIKE '%@gmail.com'".into()),
        ("words_after_the_event", "performed(purchase in last 30 days)".into()),
        ("comma_after_the_event", "performed(purchase, WITHIN 30d)".into()),
        ("count_star", "count(*) > 2".into()),
        ("slash_date", "signup_at >= 01/12/2025".into()),
        ("hyphenated_event_type", "performed(add-to-cart WITHIN 7d)".into()),
        ("keyword_typo_in_call", "count(purchase WITHN 30d) > 1".into()),
        ("or_of_bare_values", "count(purchase WHERE category = 'shoes' OR 'bags') > 0".into()),
        ("property_of_a_property", "sum(amount.amount WITHIN 30d) > 1".into()),
        ("event_type_as_property", "count(any WHERE event_type = 'purchase') > 0".into()),
        ("profile_date_part_as_property", "sum(birth_date.month WITHIN 30d) > 1".into()),
        // --- several at once -----------------------------------------
        (
            "several_type_errors",
            "contry = 'US'\n  AND count(purchse WITHIN 30d) >= '2'\n  AND rfm.segment = 'champion'".into(),
        ),
        (
            "several_syntax_errors",
            "country = AND count(purchase WITHIN 30) > 1 AND (city = 'Paris' OR".into(),
        ),
        (
            "multiline_error_position",
            "# lapsed VIPs\nrfm.segment IN ('champions', 'loyal')\n  AND count(purchase WHERE chanel = 'web' WITHIN 180d) >= 2\n".into(),
        ),
    ];
    c.push((
        "deep_not_nesting",
        format!("{}consent_email", "NOT ".repeat(70)),
    ));
    c.push((
        "deep_paren_nesting",
        format!("{}consent_email{}", "(".repeat(200), ")".repeat(200)),
    ));
    c
}

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn render_case(src: &str) -> String {
    format!("{SEP_INPUT}{src}{SEP_OUTPUT}{}", support::err(src))
}

#[test]
fn golden_diagnostics() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let cases = cases();
    let mut names = std::collections::BTreeSet::new();
    let mut failures = Vec::new();
    for (name, src) in &cases {
        assert!(names.insert(*name), "duplicate golden case {name}");
        let actual = render_case(src);
        let path = golden_dir().join(format!("{name}.txt"));
        if update {
            std::fs::write(&path, &actual).expect("write golden file");
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(expected) if expected == actual => {}
            Ok(expected) => failures.push(format!(
                "{name}: output differs\n--- expected\n{expected}\n--- actual\n{actual}"
            )),
            Err(_) => failures.push(format!("{name}: missing {}", path.display())),
        }
    }
    assert!(cases.len() >= 45, "at least 45 golden cases");
    assert!(
        failures.is_empty(),
        "{} golden mismatches (run with UPDATE_GOLDEN=1 to accept):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every golden file belongs to a case (no stale files).
#[test]
fn no_stale_golden_files() {
    let names: std::collections::BTreeSet<String> =
        cases().iter().map(|(n, _)| format!("{n}.txt")).collect();
    for entry in std::fs::read_dir(golden_dir()).expect("golden dir") {
        let file = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        assert!(names.contains(&file), "stale golden file {file}");
    }
}
