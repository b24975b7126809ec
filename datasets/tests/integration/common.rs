//! Helpers shared by the test modules.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::compute::concat_batches;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use strata_datasets::{GenConfig, event_partitions, generate, parquet_files, profiles_dir};

/// Every file under `dir` (relative path → bytes).
pub(crate) fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.insert(
                    path.strip_prefix(root).unwrap().to_path_buf(),
                    std::fs::read(&path).unwrap(),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// All rows of one Parquet file.
pub(crate) fn read_file(path: &Path) -> RecordBatch {
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap();
    let schema = builder.schema().clone();
    let batches: Vec<RecordBatch> = builder.build().unwrap().map(|b| b.unwrap()).collect();
    concat_batches(&schema, &batches).unwrap()
}

/// All event files of a dataset, in (partition, file) order.
pub(crate) fn event_files(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for (name, path) in event_partitions(dir).unwrap() {
        for f in parquet_files(&path).unwrap() {
            out.push((name.clone(), f));
        }
    }
    out
}

/// All events of a dataset in one batch.
pub(crate) fn all_events(dir: &Path) -> RecordBatch {
    let batches: Vec<RecordBatch> = event_files(dir).iter().map(|(_, f)| read_file(f)).collect();
    concat_batches(&batches[0].schema(), &batches).unwrap()
}

/// All profiles of a dataset in one batch.
pub(crate) fn all_profiles(dir: &Path) -> RecordBatch {
    let batches: Vec<RecordBatch> = parquet_files(&profiles_dir(dir))
        .unwrap()
        .iter()
        .map(|f| read_file(f))
        .collect();
    concat_batches(&batches[0].schema(), &batches).unwrap()
}

/// A small generated dataset (2,000 profiles), generated once per test run
/// under cargo's target tmp directory (replacing the previous run's), so
/// that nothing is left in /tmp.
pub(crate) fn small_dataset() -> &'static Path {
    use std::sync::OnceLock;
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("datasets-small");
        // `generate` would keep an earlier run's saved segments.
        let _ = std::fs::remove_dir_all(&out);
        generate(&small_config(), &out).unwrap();
        out
    })
}

pub(crate) fn small_config() -> GenConfig {
    GenConfig {
        profiles: 2_000,
        seed: 7,
        ..GenConfig::default()
    }
}
