//! Reports written as Parquet under `<data>/reports/<report>/`.

use std::path::PathBuf;

use chrono::SecondsFormat;
use parquet::file::metadata::KeyValue;

use super::{CohortPeriod, REPORTS_DIR, Report, ReportKind, ReportRequest};
use crate::dataset::Dataset;
use crate::{Error, Result};

/// Writes every table of `report` (computed for `req`) to
/// `<data>/reports/<report>/<table>.parquet`, each atomically (temp
/// file + rename), with the Strata Parquet settings. The key-value
/// metadata records `strata.report`, `strata.as_of`,
/// `strata.dataset_version` and the parameters (`strata.bins`,
/// `strata.window`, `strata.period`, `strata.segment`). Returns the files
/// written.
pub(crate) fn write(
    dataset: &Dataset,
    report: &Report,
    req: &ReportRequest,
) -> Result<Vec<PathBuf>> {
    let dir = dataset.dir().join(REPORTS_DIR).join(report.kind.name());
    std::fs::create_dir_all(&dir)?;
    let kv = |k: &str, v: String| KeyValue::new(format!("strata.{k}"), v);
    let mut meta = vec![
        kv("report", report.kind.name().to_string()),
        kv(
            "as_of",
            report.as_of.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        ),
        kv("dataset_version", dataset.version_id()),
    ];
    if let Some(b) = req.params.bins {
        meta.push(kv("bins", b.to_string()));
    }
    if let Some(w) = req.params.window {
        meta.push(kv("window", w.to_string()));
    }
    if report.kind == ReportKind::Retention {
        let period = match req.period {
            CohortPeriod::Week => "week",
            CohortPeriod::Month => "month",
        };
        meta.push(kv("period", period.to_string()));
    }
    if let Some(segment) = &req.segment {
        meta.push(kv("segment", strata_dsl::format(segment)));
    }
    let mut written = Vec::with_capacity(report.tables.len());
    for (name, batches) in &report.tables {
        let Some(first) = batches.first() else {
            return Err(Error::Internal(format!(
                "report table {name} has no schema"
            )));
        };
        let props = strata_datasets::writer_properties_builder()
            .set_key_value_metadata(Some(meta.clone()))
            .build();
        let path = dir.join(format!("{name}.parquet"));
        strata_datasets::write_parquet_file(&path, first.schema(), props, batches)?;
        written.push(path);
    }
    Ok(written)
}
