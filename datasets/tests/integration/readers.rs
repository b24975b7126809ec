//! DuckDB, Polars and pyarrow read every file as written, hive partitioning
//! included (datasets/tests/readers.py), for a generated and an imported
//! dataset.
//!
//! Needs `STRATA_PYTHON`: a python with duckdb, polars and pyarrow (CI's
//! `.ci/run` makes one). Without it the test prints a notice and passes,
//! unless `STRATA_REQUIRE_PYTHON` is set (as in CI), where it fails.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use strata_datasets::{ColumnSource, GenConfig, ImportConfig, Role, generate, import};

fn python() -> Option<String> {
    match std::env::var("STRATA_PYTHON") {
        Ok(p) => Some(p),
        Err(_) if std::env::var_os("STRATA_REQUIRE_PYTHON").is_some() => {
            panic!("STRATA_REQUIRE_PYTHON is set but STRATA_PYTHON is not")
        }
        Err(_) => {
            eprintln!(
                "notice: STRATA_PYTHON unset; skipping the DuckDB/Polars/pyarrow readers check"
            );
            None
        }
    }
}

fn check(python: &str, dir: &Path) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/readers.py");
    let out = Command::new(python)
        .arg(&script)
        .arg(dir)
        .output()
        .expect("run readers.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "readers.py failed on {}:\n{stdout}\n{stderr}",
        dir.display()
    );
    assert!(stdout.contains("OK"), "{stdout}\n{stderr}");
}

#[test]
fn duckdb_polars_and_pyarrow_read_generated_and_imported_datasets() {
    let Some(python) = python() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let generated = tmp.path().join("gen");
    generate(
        &GenConfig {
            profiles: 3_000,
            seed: 7,
            ..GenConfig::default()
        },
        &generated,
    )
    .unwrap();
    check(&python, &generated);

    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/online_retail.csv");
    let imported = tmp.path().join("retail");
    // strata import --profile-id CustomerID --time InvoiceDate
    //   --event-type-const purchase --amount UnitPrice --amount-times Quantity
    //   --refund-if-negative --skip-missing-ids
    let config = ImportConfig {
        profile_id: "CustomerID".into(),
        time: "InvoiceDate".into(),
        roles: BTreeMap::from([
            (Role::EventType, ColumnSource::Const("purchase".into())),
            (Role::Amount, ColumnSource::Column("UnitPrice".into())),
        ]),
        amount_times: Some("Quantity".into()),
        refund_if_negative: true,
        skip_missing_ids: true,
        ..ImportConfig::new(vec![fixture])
    };
    import(&config, &imported).unwrap();
    check(&python, &imported);
}
