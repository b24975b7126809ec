//! An opened dataset: its manifest, its Parquet tables registered with a
//! DataFusion session, and the DSL's view of it ([`DatasetCatalog`]).
//!
//! Below it: the files it reads beside the tables (saved segments, the
//! features file's stamp, dictionary pages) and the profile-range table
//! provider ([`ranges`]).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use arrow::array::AsArray;
use arrow::datatypes::{DataType, SchemaRef};
use chrono::{DateTime, NaiveDate, Utc};
use datafusion::catalog::TableProvider;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::logical_expr::SortExpr;
use datafusion::prelude::{SessionContext, col, ident};
use strata_datasets::{Manifest, TableSnapshot};

use crate::Result;
use crate::plan::tables::{EVENT_MONTH, EVENTS, FEATURES, PROFILES};
use crate::segments::SegmentStore;

mod catalog;
pub(crate) mod dictionary_pages;
pub(crate) mod features_file;
pub(crate) mod log_table;
#[cfg(feature = "ballista")]
pub(crate) mod log_table_codec;
pub(crate) mod ranges;

pub use catalog::DatasetCatalog;
use features_file::FeatureStamp;
use log_table::LogTable;
use ranges::ByProfileRange;

/// A dataset directory opened for querying.
#[derive(Debug)]
pub struct Dataset {
    dir: PathBuf,
    manifest: Manifest,
    profiles_schema: SchemaRef,
    events_schema: SchemaRef,
    event_types: Vec<String>,
    first_event_month: Option<NaiveDate>,
    features: Option<FeatureStamp>,
    versions: TableVersions,
    /// The live files of `profiles` and `events`, for their dictionary pages.
    files: [Vec<PathBuf>; 2],
    /// Text columns' values read so far ([`Dataset::known_values`]).
    known_values: Mutex<HashMap<(Table, String), Option<KnownValues>>>,
}

/// The values of one text column.
type KnownValues = Arc<[String]>;

/// One of the tables a segment's text values are compared against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Table {
    Profiles,
    Events,
}

/// The most distinct values [`Dataset::known_values`] reports; a column
/// with more is not a list of choices (names, ids, emails).
const MAX_KNOWN_VALUES: usize = 1_000;

/// The dataset version a [`Dataset`] reads (pinned when it was opened),
/// and the Delta version of each table it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableVersions {
    /// The dataset version (`_strata_log`).
    pub dataset: u64,
    /// Version of `profiles`.
    pub profiles: u64,
    /// Version of `events`.
    pub events: u64,
}

impl Dataset {
    /// Registers `profiles` and `events` with `ctx` and reads what the type
    /// checker needs (schemas, distinct event types).
    ///
    /// With `declare_order`, the files' sort orders are declared to
    /// DataFusion, which then aggregates, joins and merges by `profile_id`
    /// without re-sorting. A Ballista cluster gets none (see
    /// `cluster::context`): its shuffles do not keep the order that
    /// DataFusion plans downstream operators to rely on.
    ///
    /// `at`: the dataset version to read (`None`: the latest).
    pub(crate) async fn open(
        dir: &Path,
        ctx: &SessionContext,
        declare_order: bool,
        at: Option<u64>,
    ) -> Result<Self> {
        let manifest = Manifest::load(dir)?;
        manifest.ensure_current(dir)?;
        let order = |cols: &[&str]| -> Vec<SortExpr> {
            if declare_order {
                cols.iter().map(|c| col(*c).sort(true, false)).collect()
            } else {
                vec![]
            }
        };
        let snapshot = strata_datasets::load_snapshot(dir, at).await?;
        let profiles: Arc<dyn TableProvider> = Arc::new(LogTable::new(
            &strata_datasets::profiles_dir(dir),
            &snapshot.profiles,
            order(&["profile_id"]),
        )?);
        let events: Arc<dyn TableProvider> = Arc::new(LogTable::new(
            &strata_datasets::events_dir(dir),
            &snapshot.events,
            order(&["profile_id", "event_time"]),
        )?);
        let profiles_schema = profiles.schema();
        let events_schema = events.schema();
        // One plan over every events file serves the range grouping and
        // the event types below.
        let state = ctx.state();
        let all_events = events.scan(&state, None, &[], None).await?;
        let events_files = ranges::file_paths(&all_events);
        ctx.register_table(PROFILES, profiles)?;
        if declare_order {
            let target = state.config().target_partitions();
            let events = ByProfileRange::new(events, &all_events, target);
            ctx.register_table(EVENTS, Arc::new(events))?;
        } else {
            ctx.register_table(EVENTS, events)?;
        }

        // The dictionary pages are a shortcut: when they cannot be read
        // (or cannot tell), the scan answers, and reports any real error.
        let from_dictionaries = events_files.and_then(|files| {
            dictionary_pages::distinct_strings(&files, "event_type")
                .inspect_err(|e| tracing::debug!("event types from dictionary pages: {e}"))
                .ok()
                .flatten()
        });
        let event_types = match from_dictionaries {
            Some(types) => types.into_iter().collect(),
            None => scan_event_types(ctx).await?,
        };
        let first_event_month = first_month(&snapshot.events);
        let live = |root: PathBuf, t: &TableSnapshot| -> Vec<PathBuf> {
            t.files.iter().map(|f| root.join(&f.path)).collect()
        };
        let files = [
            live(strata_datasets::profiles_dir(dir), &snapshot.profiles),
            live(strata_datasets::events_dir(dir), &snapshot.events),
        ];

        let features = features_file::read_stamp(dir);
        if features.is_some() {
            let table = listing_table(
                ctx,
                &dir.join(features_file::FEATURES_DIR),
                vec![],
                order(&["profile_id"]),
            )
            .await?;
            ctx.register_table(FEATURES, Arc::new(table))?;
        }
        Ok(Dataset {
            dir: dir.to_path_buf(),
            manifest,
            versions: TableVersions {
                dataset: snapshot.number(),
                profiles: snapshot.profiles.version,
                events: snapshot.events.version,
            },
            profiles_schema,
            events_schema,
            event_types,
            first_event_month,
            features,
            files,
            known_values: Mutex::default(),
        })
    }

    /// Every value of the text column `column` of `table`, when its files'
    /// dictionary pages hold them all and they are at most
    /// [`MAX_KNOWN_VALUES`]; `None` otherwise. Read once per column, on
    /// first use, and kept for this version.
    pub(crate) fn known_values(&self, table: Table, column: &str) -> Option<KnownValues> {
        let key = (table, column.to_string());
        let mut known = self.known_values.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(v) = known.get(&key) {
            return v.clone();
        }
        let files = match table {
            Table::Profiles => &self.files[0],
            Table::Events => &self.files[1],
        };
        let values = dictionary_pages::distinct_strings(files, column)
            .inspect_err(|e| tracing::debug!("values of {column} from dictionary pages: {e}"))
            .ok()
            .flatten()
            .filter(|v| v.len() <= MAX_KNOWN_VALUES)
            .map(|v| v.into_iter().collect::<KnownValues>());
        known.insert(key, values.clone());
        values
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }
    /// Schema of `profiles`.
    pub fn profiles_schema(&self) -> &SchemaRef {
        &self.profiles_schema
    }
    /// Schema of `events`, including the `event_month` partition column.
    pub fn events_schema(&self) -> &SchemaRef {
        &self.events_schema
    }
    /// Distinct event types present in the data.
    pub fn event_types(&self) -> &[String] {
        &self.event_types
    }
    /// First day of the earliest event partition's month (no event is
    /// earlier), or `None` without events partitions.
    pub fn first_event_month(&self) -> Option<NaiveDate> {
        self.first_event_month
    }
    /// The features table, if it was built for this dataset version and
    /// `as_of` (a stale one is never used).
    ///
    /// The stamp on disk is read again each time: a `strata refresh` since
    /// the dataset was opened replaces the file the registered table reads,
    /// possibly with features of another as_of, and then its stamp is no
    /// longer the one read at open.
    pub fn fresh_features(&self, as_of: DateTime<Utc>) -> bool {
        self.features.as_ref().is_some_and(|s| {
            s.as_of == as_of
                && s.dataset_version == self.version_id()
                && features_file::read_stamp(&self.dir).as_ref() == Some(s)
        })
    }

    /// What the features file on disk was built for, if there is one.
    pub fn features_stamp(&self) -> Option<&FeatureStamp> {
        self.features.as_ref()
    }

    /// The table versions this dataset reads.
    pub fn versions(&self) -> TableVersions {
        self.versions
    }

    /// What derived data and caches are keyed by: the manifest's
    /// `dataset_version` (changed by imports and saved segments) and the
    /// dataset version read (changed by every write), as
    /// `<dataset_version>+<n>`.
    pub fn version_id(&self) -> String {
        format!(
            "{}+{}",
            self.manifest.dataset_version, self.versions.dataset
        )
    }

    /// The saved segments of this dataset.
    pub fn segments(&self) -> SegmentStore {
        SegmentStore::new(&self.dir)
    }
}

/// First day of the earliest events month: partitions are named by the
/// month of their events' `event_time` (`event_month=YYYY-MM`), so the
/// earliest one bounds every event.
fn first_month(events: &TableSnapshot) -> Option<NaiveDate> {
    events
        .files
        .iter()
        .filter_map(|f| f.partition_values.get(EVENT_MONTH)?.as_deref())
        .filter_map(|v| {
            let (y, m) = v.split_once('-')?;
            NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, 1)
        })
        .min()
}

/// The distinct event types by a scan of `event_type`, sorted: for files
/// whose dictionary pages cannot tell (see [`dictionary_pages`]).
async fn scan_event_types(ctx: &SessionContext) -> Result<Vec<String>> {
    let batches = ctx
        .table(EVENTS)
        .await?
        .aggregate(vec![ident("event_type")], vec![])?
        .collect()
        .await?;
    let mut event_types = Vec::new();
    for batch in &batches {
        let a = arrow::compute::cast(batch.column(0), &DataType::Utf8)?;
        let s = a.as_string::<i32>();
        event_types.extend(s.iter().flatten().map(str::to_string));
    }
    event_types.sort();
    Ok(event_types)
}

async fn listing_table(
    ctx: &SessionContext,
    dir: &Path,
    partition_cols: Vec<(String, DataType)>,
    sort_order: Vec<SortExpr>,
) -> Result<ListingTable> {
    let sort_order = if sort_order.is_empty() {
        vec![]
    } else {
        vec![sort_order]
    };
    let url = ListingTableUrl::parse(format!("{}/", dir.canonicalize()?.display()))?;
    let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
        .with_file_extension(".parquet")
        .with_table_partition_cols(partition_cols)
        .with_file_sort_order(sort_order);
    let state = ctx.state();
    let schema = options.infer_schema(&state, &url).await?;
    let config = ListingTableConfig::new(url)
        .with_listing_options(options)
        .with_schema(schema);
    // The runtime's file statistics cache, as `SessionContext`'s own
    // `register_listing_table` does: without it every query's planning
    // re-reads and converts each file's statistics (about 1.5 ms per count
    // over the four profile files at m scale).
    Ok(ListingTable::try_new(config)?
        .with_cache(state.runtime_env().cache_manager.get_file_statistic_cache()))
}
