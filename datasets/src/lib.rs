//! Strata datasets: the on-disk layout of a Strata dataset, the Parquet
//! settings every table uses, the synthetic store generator (`strata gen`),
//! the importer for users' own CSV / JSON lines / Parquet files
//! (`strata import`) and `strata describe`.
//!
//! A dataset is a directory:
//!
//! ```text
//! <data>/strata.toml                               Manifest
//! <data>/profiles/part-NNNNN.parquet               sorted by profile_id
//! <data>/events/event_month=YYYY-MM/part-NNNNN.parquet
//!                                                  sorted by (profile_id, event_time)
//! ```
//!
//! Generate a small dataset, then read its manifest and describe it:
//!
//! ```
//! use strata_datasets::{describe, generate, GenConfig, Manifest};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let out = dir.path().join("shop");
//! let summary = generate(&GenConfig { profiles: 300, ..GenConfig::default() }, &out).unwrap();
//! assert!(summary.events > 0);
//!
//! let manifest = Manifest::load(&out).unwrap();
//! assert_eq!(manifest.format_version, 2);
//! assert_eq!(manifest.purchase_types, ["purchase"]);
//!
//! let d = describe(&out).unwrap();
//! assert_eq!(d.profiles.rows, 300);
//! assert_eq!(d.events.rows, summary.events);
//! ```

mod atomic;
mod chunks;
mod dataset_log;
mod dataset_write;
mod describe;
mod error;
mod fault;
mod forget;
mod generate;
mod import;
mod layout;
mod manifest;
mod optimize;
mod parquet_io;
mod rewrite;
mod schema;
mod staging;
mod table;
mod upgrade;
mod vacuum;

pub use atomic::{AtomicFile, Replace, temp_path_for, write_atomic};
pub use dataset_log::{
    DATASET_LOG, DatasetSnapshot, DatasetVersion, dataset_log_dir, load_snapshot, read_version,
    record_version, versions,
};
pub use describe::{Description, TableDescription, describe, describe_version, human_bytes};
pub use error::{BadRow, Error, ErrorKind, Result};
pub use fault::FAULT_ENV;
pub use forget::{FORGET_OPERATION, ForgetSummary, forget};
pub use generate::{
    CHUNK_PROFILES, DEFAULT_AS_OF, GenConfig, GenProgress, GenSummary, Scale, generate,
};
pub use import::{
    AppendSummary, ColumnSource, IMPORT_FILE_ROWS, ImportConfig, ImportSummary, InputFormat, ROLES,
    Role, RoleKind, RoleSpec, UpsertConfig, UpsertSummary, append, import, parse_timestamp,
    roles_in_flag_order, upsert_profiles,
};
pub use layout::{
    EVENT_MONTH, EVENTS_DIR, MANIFEST_FILE, PROFILES_DIR, event_partitions, events_dir,
    parquet_files, parse_partition_dir_name, part_file_name, partition_dir_name, partition_for,
    profiles_dir,
};
pub use manifest::{Channels, FORMAT_VERSION, GeneratorInfo, ImportInfo, Manifest, Roles};
pub use optimize::{OPTIMIZE_OPERATION, OptimizeConfig, OptimizeSummary, optimize};
pub use parquet_io::{
    AtomicParquetWriter, FileStats, PAGE_ROWS, ROW_GROUP_ROWS, ZSTD_LEVEL, ascending,
    write_parquet_file, writer_properties, writer_properties_builder,
};
pub use schema::{
    AMOUNT_PRECISION, AMOUNT_SCALE, CHANNELS, EVENT_TYPES, amount_type, events_schema,
    profiles_schema, timestamp_type,
};
pub use table::{
    DELTA_LOG, FileStatistics, STATS_COLUMNS, TableFile, TableSnapshot, block_on,
    create_from_files, is_table, snapshot,
};
pub use upgrade::{UpgradeSummary, upgrade};
pub use vacuum::{VacuumSummary, vacuum};
