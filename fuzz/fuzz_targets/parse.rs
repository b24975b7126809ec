//! Fuzzes the parser: it must never panic, and whatever parses must format
//! to text that parses back to the same AST (and type-checking must not
//! panic either).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    let catalog = strata_dsl::StaticCatalog::demo();
    match strata_dsl::parse(src) {
        Ok(seg) => {
            let text = strata_dsl::format(&seg);
            let back = strata_dsl::parse(&text)
                .unwrap_or_else(|e| panic!("formatted text does not parse: {text:?}: {e}"));
            assert_eq!(back, seg, "format round trip: {src:?} -> {text:?}");
            let json = strata_dsl::to_json(&seg);
            assert_eq!(strata_dsl::from_json(&json).expect("JSON round trip"), seg);
            let _ = strata_dsl::check(&seg, &catalog);
        }
        Err(e) => {
            if let Some(d) = e.diagnostics() {
                assert!(!d.is_empty());
                let _ = d.render(src);
                for diag in d.iter() {
                    let _ = diag.line_col(src);
                }
            }
        }
    }
    let _ = strata_dsl::parse_and_check(src, &catalog);
});
