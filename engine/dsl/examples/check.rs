//! Parses and checks a segment against the demo store schema, then prints
//! its canonical form or the rendered diagnostics.
//!
//! ```text
//! cargo run -p strata-dsl --example check -- "count(purchse WITHIN 30d) >= 2"
//! echo "consent_email and country='US'" | cargo run -p strata-dsl --example check
//! ```

use std::io::Read;
use std::process::ExitCode;

fn main() -> ExitCode {
    let src = match std::env::args().nth(1) {
        Some(s) => s,
        None => {
            let mut s = String::new();
            if let Err(e) = std::io::stdin().read_to_string(&mut s) {
                eprintln!("cannot read stdin: {e}");
                return ExitCode::FAILURE;
            }
            s
        }
    };
    match strata_dsl::parse_and_check(&src, &strata_dsl::StaticCatalog::demo()) {
        Ok(segment) => {
            println!("{}", strata_dsl::format(&segment));
            ExitCode::SUCCESS
        }
        Err(e) => {
            match e.diagnostics() {
                Some(d) => eprint!("{}", d.render(&src)),
                None => eprintln!("{e}"),
            }
            ExitCode::FAILURE
        }
    }
}
