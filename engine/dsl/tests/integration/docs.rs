//! Every example in docs/dsl.md is a test:
//! - ` ```seg ` blocks parse, type-check against the demo catalog and
//!   survive format → parse unchanged;
//! - ` ```seg-error ` blocks fail with exactly the rendering in the
//!   ` ```text ` block that follows.

use std::path::PathBuf;

use strata_dsl::{format, parse, parse_and_check};

use crate::support;

fn doc() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/dsl.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `(info string, body)` of every fenced block, in order.
fn blocks(doc: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in doc.lines() {
        match (&mut current, line.strip_prefix("```")) {
            (None, Some(info)) => current = Some((info.trim().to_string(), String::new())),
            (Some(_), Some("")) => out.extend(current.take()),
            (Some((_, body)), _) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(current.is_none(), "unclosed code block in docs/dsl.md");
    out
}

#[test]
fn seg_examples_are_valid() {
    let doc = doc();
    let catalog = strata_dsl::StaticCatalog::demo();
    let mut n = 0;
    for (info, body) in blocks(&doc) {
        if info != "seg" {
            continue;
        }
        n += 1;
        let seg = parse_and_check(&body, &catalog)
            .unwrap_or_else(|e| panic!("{body}\n{}", support::render(&e, &body)));
        let warnings = strata_dsl::warnings(&seg, &catalog, Some(&body));
        assert!(warnings.is_empty(), "{}", warnings.render(&body));
        let text = format(&seg);
        assert_eq!(parse(&text).expect("formatted text parses"), seg, "{text}");
    }
    assert!(n >= 25, "only {n} seg examples");
}

#[test]
fn error_examples_render_as_documented() {
    let doc = doc();
    let blocks = blocks(&doc);
    let mut n = 0;
    for (i, (info, body)) in blocks.iter().enumerate() {
        if info != "seg-error" {
            continue;
        }
        n += 1;
        let (next_info, expected) = blocks.get(i + 1).expect("a text block after seg-error");
        assert_eq!(next_info, "text", "after {body}");
        let src = body.trim_end_matches('\n');
        let actual = support::err(src);
        assert_eq!(&actual, expected, "docs/dsl.md example:\n{src}");
    }
    assert!(n >= 5, "only {n} error examples");
}

#[test]
fn warning_examples_render_as_documented() {
    let doc = doc();
    let blocks = blocks(&doc);
    let catalog = strata_dsl::StaticCatalog::demo();
    let mut n = 0;
    for (i, (info, body)) in blocks.iter().enumerate() {
        if info != "seg-warning" {
            continue;
        }
        n += 1;
        let (next_info, expected) = blocks.get(i + 1).expect("a text block after seg-warning");
        assert_eq!(next_info, "text", "after {body}");
        let src = body.trim_end_matches('\n');
        let seg = parse_and_check(src, &catalog)
            .unwrap_or_else(|e| panic!("{src}\n{}", support::render(&e, src)));
        let actual = strata_dsl::warnings(&seg, &catalog, Some(src)).render(src);
        assert_eq!(&actual, expected, "docs/dsl.md example:\n{src}");
    }
    assert!(n >= 1, "no warning example");
}

#[test]
fn json_example_matches() {
    let doc = doc();
    let blocks = blocks(&doc);
    let i = blocks
        .iter()
        .position(|(info, _)| info == "json")
        .expect("json block");
    let seg = parse(&blocks[i - 1].1).expect("example before the JSON");
    let from_doc = strata_dsl::from_json(&blocks[i].1).expect("JSON example is valid");
    assert_eq!(from_doc, seg);
}
