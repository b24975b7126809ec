//! The test kit of this binary: engine config, environment and time
//! helpers, hand-made profiles, events and datasets, datasets written to
//! temp dirs, the generated store (once) and private copies of it, member
//! ids.
//!
//! Temp dirs are removed when dropped, also when a test panics; a test that
//! keeps one on failure ([`keep`]) prints its path.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use chrono::{DateTime, NaiveDate, Utc};
use futures::TryStreamExt;
use rand::rngs::StdRng;
use strata_core::{Engine, EngineConfig, MembersRequest};
use strata_dsl::ast::Segment;
use tempfile::TempDir;

use crate::random::{self, RandomDataset};
use crate::reference::{Data, Event, MICROS_PER_DAY, Profile, Val, days_of_date};

/// A `u64` from the environment, decimal or `0x…`.
pub(crate) fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    let v = v.trim();
    match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => v.parse().ok(),
    }
}

/// The engine configuration of these tests: 2 threads, 512 MiB.
pub(crate) fn config() -> EngineConfig {
    EngineConfig {
        threads: 2,
        memory_limit: 512 << 20,
        batch_size: 8192,
        cluster: None,
        ..EngineConfig::default()
    }
}

// ---------------------------------------------------------------------------
// Time
// ---------------------------------------------------------------------------

/// Microseconds of a UTC date and time.
pub(crate) fn micros(y: i32, mo: u32, d: u32, h: i64, mi: i64, s: i64, us: i64) -> i64 {
    let date = NaiveDate::from_ymd_opt(y, mo, d).expect("valid date");
    days_of_date(date) * MICROS_PER_DAY + ((h * 60 + mi) * 60 + s) * 1_000_000 + us
}

/// The instant of `micros` since the epoch.
pub(crate) fn instant(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).expect("instant in range")
}

// ---------------------------------------------------------------------------
// Hand-made data
// ---------------------------------------------------------------------------

/// A profile with every attribute of a random dataset NULL but `attrs`.
pub(crate) fn profile(id: i64, attrs: &[(&str, Val)]) -> Profile {
    let mut map: BTreeMap<String, Val> = [
        "country",
        "age",
        "score",
        "consent",
        "birth_date",
        "signup_at",
        "interests",
    ]
    .iter()
    .map(|k| (k.to_string(), Val::Null))
    .collect();
    for (k, v) in attrs {
        map.insert(k.to_string(), v.clone());
    }
    Profile { id, attrs: map }
}

/// An event with a channel and an amount (cents), NULL quantity and
/// category.
pub(crate) fn event(
    profile_id: i64,
    time_micros: i64,
    event_type: &str,
    channel: Option<&str>,
    cents: Option<i128>,
) -> Event {
    let mut props = BTreeMap::new();
    props.insert(
        "channel".into(),
        channel.map_or(Val::Null, |c| Val::Str(c.into())),
    );
    props.insert("amount".into(), cents.map_or(Val::Null, Val::Dec));
    props.insert("quantity".into(), Val::Null);
    props.insert("category".into(), Val::Null);
    Event {
        profile_id,
        time_micros,
        event_type: event_type.into(),
        props,
    }
}

/// A hand-made dataset: purchases are the purchase and activity type;
/// web, app and social are online, pos offline.
pub(crate) fn handmade(
    as_of: i64,
    profiles: Vec<Profile>,
    mut events: Vec<Event>,
) -> RandomDataset {
    events.sort_by_key(|e| (e.profile_id, e.time_micros));
    let event_types: BTreeSet<String> = events.iter().map(|e| e.event_type.clone()).collect();
    RandomDataset {
        data: Data {
            profiles,
            events,
            purchase_types: vec!["purchase".into()],
            activity_types: vec!["purchase".into()],
            online_channels: vec!["web".into(), "app".into(), "social".into()],
            offline_channels: vec!["pos".into()],
            saved: BTreeMap::new(),
        },
        as_of,
        times: vec![as_of],
        event_types: event_types.into_iter().collect(),
        row_group_rows: 1000,
        page_rows: 1000,
    }
}

// ---------------------------------------------------------------------------
// Dataset directories
// ---------------------------------------------------------------------------

/// A new temp dir (`strata-test-…` in the OS temp dir), removed on drop.
pub(crate) fn temp_dir() -> TempDir {
    tempfile::Builder::new()
        .prefix("strata-test-")
        .tempdir()
        .expect("tempdir")
}

/// Keeps `dir` (a failing test's data) and says where it is.
pub(crate) fn keep(dir: TempDir) -> PathBuf {
    let path = dir.keep();
    eprintln!("kept {}", path.display());
    path
}

/// `ds` written as a dataset directory in a new temp dir.
pub(crate) fn write_dataset(ds: &RandomDataset, rng: &mut StdRng) -> TempDir {
    let dir = temp_dir();
    random::write(ds, dir.path(), rng);
    dir
}

/// Opens the dataset at `dir` with `config`.
pub(crate) async fn open_with(dir: &Path, config: EngineConfig) -> Engine {
    Engine::open(dir, config)
        .await
        .unwrap_or_else(|e| panic!("opening {}: {e}", dir.display()))
}

/// Opens the dataset at `dir` with [`config`].
pub(crate) async fn open(dir: &Path) -> Engine {
    open_with(dir, config()).await
}

/// `ds` written to a new temp dir and opened.
pub(crate) async fn open_dataset(ds: &RandomDataset, rng: &mut StdRng) -> (TempDir, Engine) {
    let dir = write_dataset(ds, rng);
    let engine = open(dir.path()).await;
    (dir, engine)
}

/// A small generated store (3,000 profiles, seed 11), generated once under
/// cargo's test tmp dir (`target/tmp`, not the OS temp dir) and reused by
/// later runs; tests that write use a [`copy_store`].
pub(crate) fn store() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        // Named by the format, so that a store of an older format left by
        // an earlier build is not reused.
        let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "plans-shop-p3000-s11-f{}",
            strata_datasets::FORMAT_VERSION
        ));
        if !path.join(strata_datasets::MANIFEST_FILE).exists() {
            let config = strata_datasets::GenConfig {
                profiles: 3_000,
                seed: 11,
                ..strata_datasets::GenConfig::default()
            };
            strata_datasets::generate(&config, &path).unwrap();
        }
        path
    })
}

/// A private copy of the [`store`], at `<temp dir>/shop`.
pub(crate) fn copy_store() -> TempDir {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            let target = to.join(e.file_name());
            if e.file_type().unwrap().is_dir() {
                copy(&e.path(), &target);
            } else {
                std::fs::copy(e.path(), target).unwrap();
            }
        }
    }
    let dir = temp_dir();
    copy(store(), &dir.path().join("shop"));
    dir
}

// ---------------------------------------------------------------------------
// Queries
// ---------------------------------------------------------------------------

/// The ids `Engine::members` streams for `segment` at `as_of`.
pub(crate) async fn member_ids(
    engine: &Engine,
    segment: &Segment,
    as_of: DateTime<Utc>,
    req: &MembersRequest,
) -> Result<Vec<i64>, String> {
    let stream = engine
        .members(segment, as_of, req)
        .await
        .map_err(|e| format!("members failed: {e}"))?;
    let batches: Vec<RecordBatch> = stream
        .try_collect()
        .await
        .map_err(|e| format!("members stream failed: {e}"))?;
    Ok(batches
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
        .collect())
}

/// The members of `dsl` at the dataset's as_of.
pub(crate) async fn ids(engine: &Engine, dsl: &str, req: &MembersRequest) -> Vec<i64> {
    let seg = engine.parse(dsl).unwrap();
    member_ids(engine, &seg, engine.default_as_of(), req)
        .await
        .unwrap_or_else(|e| panic!("{dsl}: {e}"))
}

/// The count of `dsl` at the dataset's as_of.
pub(crate) async fn count(engine: &Engine, dsl: &str) -> u64 {
    let seg = engine.parse(dsl).unwrap();
    engine.count(&seg, engine.default_as_of()).await.unwrap()
}
