//! `strata gen`: a synthetic store.

mod profile;
mod rng;
mod sink;
mod world;

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;

use self::profile::{Ev, ProfileRow, generate_profile};
use self::sink::{BATCH_ROWS, ChunkEventWriter, ProfileColumns};
use self::world::World;
use crate::error::{Error, Result};
use crate::layout::{event_partitions, events_dir, part_file_name, profiles_dir};
use crate::manifest::{GeneratorInfo, Manifest};
use crate::parquet_io::{AtomicParquetWriter, FileStats, ascending, writer_properties_builder};
use crate::schema::{events_schema, profiles_schema};
use crate::staging::Staging;

/// Default `--as-of` of the generator (fixed, so runs are reproducible).
pub const DEFAULT_AS_OF: &str = "2026-01-01T00:00:00Z";

/// Dataset size presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// 100k profiles, about 5M events.
    S,
    /// 1M profiles, about 50M events.
    M,
    /// 10M profiles, about 500M events.
    L,
}

impl Scale {
    /// Number of profiles of this scale.
    pub fn profiles(self) -> u64 {
        match self {
            Scale::S => 100_000,
            Scale::M => 1_000_000,
            Scale::L => 10_000_000,
        }
    }
    /// `s`, `m` or `l`.
    pub fn name(self) -> &'static str {
        match self {
            Scale::S => "s",
            Scale::M => "m",
            Scale::L => "l",
        }
    }

    /// Every preset, smallest first.
    pub const ALL: [Scale; 3] = [Scale::S, Scale::M, Scale::L];

    /// One line for `--help`.
    pub fn description(self) -> &'static str {
        match self {
            Scale::S => "100k profiles, about 5M events",
            Scale::M => "1M profiles, about 50M events",
            Scale::L => "10M profiles, about 500M events",
        }
    }
}

impl fmt::Display for Scale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Scale {
    type Err = Error;

    /// [`Scale::name`] back to the preset.
    fn from_str(s: &str) -> Result<Self> {
        Scale::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| Error::InvalidArgument(format!("unknown scale {s:?} (s, m or l)")))
    }
}

/// Receives the generator's progress, e.g. to draw a progress bar (the
/// `strata` command does, on a terminal).
pub trait GenProgress: fmt::Debug + Send + Sync {
    /// Called about every 50 ms while the workers run (from the thread that
    /// called [`generate`]): `profiles` of `total` are done, `events` were
    /// generated, `elapsed` since `generate` started.
    fn update(&self, profiles: u64, total: u64, events: u64, elapsed: Duration);
    /// Called once when the workers have stopped (also after a failure).
    fn finish(&self) {}
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenConfig {
    /// The preset this configuration came from (`None` = custom size).
    pub scale: Option<Scale>,
    /// Number of profiles (ids 1..=profiles, in signup order).
    pub profiles: u64,
    /// RNG seed.
    pub seed: u64,
    /// End of the history (exclusive); events span the 3 years before it.
    pub as_of: DateTime<Utc>,
    /// Worker threads (0 = all cores). Never changes the output.
    pub threads: usize,
    /// Where progress goes (`None`: nowhere). Never changes the output.
    pub progress: Option<Arc<dyn GenProgress>>,
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig::for_scale(Scale::S)
    }
}

impl GenConfig {
    /// The configuration of a preset with seed 42 and the default as_of.
    pub fn for_scale(scale: Scale) -> Self {
        GenConfig {
            scale: Some(scale),
            profiles: scale.profiles(),
            seed: 42,
            as_of: DateTime::parse_from_rfc3339(DEFAULT_AS_OF)
                .expect("valid default")
                .with_timezone(&Utc),
            threads: 0,
            progress: None,
        }
    }
}

/// What `generate` wrote.
#[derive(Debug, Clone, Default)]
pub struct GenSummary {
    /// Profiles written.
    pub profiles: u64,
    /// Events written.
    pub events: u64,
    /// Parquet files written (profiles + events).
    pub files: u64,
    /// Event partitions (months).
    pub partitions: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Wall time.
    pub elapsed: Duration,
}

/// Profiles per chunk. A chunk is the unit of parallel work and of file
/// splitting: it writes `profiles/part-<chunk>.parquet` and one
/// `events/event_month=*/part-<chunk>.parquet` per month.
pub const CHUNK_PROFILES: u64 = 250_000;

/// Generates a dataset into `out` (atomically: written next to it, renamed
/// into place at the end).
///
/// Rows depend only on (seed, profiles, as_of): each profile has its own
/// RNG seeded from (seed, profile_id), and chunk boundaries depend only on
/// the number of profiles, so the files are byte-identical for any number
/// of threads.
pub fn generate(config: &GenConfig, out: &Path) -> Result<GenSummary> {
    let started = Instant::now();
    if config.profiles == 0 {
        return Err(Error::InvalidArgument(
            "--profiles must be at least 1".into(),
        ));
    }
    let staging = Staging::new(out)?;
    let root = staging.path();
    let world = World::new(config.seed, config.as_of);
    let n = config.profiles;
    let chunks = n.div_ceil(CHUNK_PROFILES).max(n.min(2)) as usize;
    let threads = match config.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        t => t,
    }
    .min(chunks)
    .max(1);

    let profiles_root = profiles_dir(root);
    let events_root = events_dir(root);
    for dir in [&profiles_root, &events_root] {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let next_chunk = AtomicUsize::new(0);
    let progress = Counters::default();
    let failed = AtomicBool::new(false);

    let results: Vec<Result<Vec<FileStats>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| -> Result<Vec<FileStats>> {
                    let mut stats = Vec::new();
                    loop {
                        let c = next_chunk.fetch_add(1, Ordering::Relaxed);
                        if c >= chunks || failed.load(Ordering::Relaxed) {
                            return Ok(stats);
                        }
                        let first = n * c as u64 / chunks as u64 + 1;
                        let last = n * (c as u64 + 1) / chunks as u64;
                        match generate_chunk(
                            config,
                            &world,
                            c,
                            first..=last,
                            &profiles_root,
                            &events_root,
                            &progress,
                            &failed,
                        ) {
                            Ok(s) => stats.extend(s),
                            Err(e) => {
                                failed.store(true, Ordering::Relaxed);
                                return Err(e);
                            }
                        }
                    }
                })
            })
            .collect();
        while handles.iter().any(|h| !h.is_finished()) {
            if let Some(p) = &config.progress {
                p.update(
                    progress.profiles.load(Ordering::Relaxed),
                    n,
                    progress.events.load(Ordering::Relaxed),
                    started.elapsed(),
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Error::Internal("generator thread panicked".into())))
            })
            .collect()
    });
    if let Some(p) = &config.progress {
        p.finish();
    }
    let mut summary = GenSummary {
        profiles: n,
        ..GenSummary::default()
    };
    for r in results {
        for s in r? {
            summary.files += 1;
            summary.bytes += s.bytes;
        }
    }
    summary.events = progress.events.load(Ordering::Relaxed);
    summary.partitions = event_partitions(root)?.len() as u64;

    let scale = config.scale.map_or("custom", Scale::name);
    let mut manifest = Manifest::new();
    manifest.dataset_version = format!(
        "gen-{scale}-p{n}-seed{}-{}",
        config.seed,
        config.as_of.format("%Y%m%dT%H%M%S%.fZ")
    );
    manifest.as_of = Some(config.as_of);
    manifest.generator = Some(GeneratorInfo {
        scale: scale.to_string(),
        seed: config.seed,
        profiles: n,
        events: summary.events,
    });
    crate::upgrade::create_tables(root, &profiles_schema(), &events_schema(), "gen")?;
    manifest.save(root)?;
    summary.bytes += std::fs::metadata(root.join(crate::layout::MANIFEST_FILE))
        .map_err(|e| Error::io(root, e))?
        .len();
    staging.commit()?;
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// Profiles done and events generated so far, over all workers.
#[derive(Debug, Default)]
struct Counters {
    profiles: AtomicU64,
    events: AtomicU64,
}

fn events_props() -> WriterProperties {
    writer_properties_builder()
        .set_sorting_columns(Some(ascending(&[0, 1])))
        .set_column_dictionary_enabled(ColumnPath::from("event_time"), false)
        .set_column_dictionary_enabled(ColumnPath::from("order_id"), false)
        .build()
}

fn profiles_props() -> WriterProperties {
    let mut b = writer_properties_builder().set_sorting_columns(Some(ascending(&[0])));
    for c in ["profile_id", "external_id", "email", "signup_at"] {
        b = b.set_column_dictionary_enabled(ColumnPath::from(c), false);
    }
    b.build()
}

#[allow(clippy::too_many_arguments)]
fn generate_chunk(
    config: &GenConfig,
    world: &World,
    chunk: usize,
    ids: std::ops::RangeInclusive<u64>,
    profiles_root: &Path,
    events_root: &Path,
    progress: &Counters,
    failed: &AtomicBool,
) -> Result<Vec<FileStats>> {
    let profiles_schema = profiles_schema();
    let events_schema = events_schema();
    let mut events_out =
        ChunkEventWriter::new(world, events_root, chunk, events_schema, events_props());
    let mut profiles_out = AtomicParquetWriter::create(
        &profiles_root.join(part_file_name(chunk)),
        profiles_schema.clone(),
        profiles_props(),
    )?;
    let mut pcols = ProfileColumns::new();
    let mut row = ProfileRow::default();
    let mut evs: Vec<Ev> = Vec::with_capacity(1024);
    let (mut done, mut events) = (0u64, 0u64);
    for id in ids {
        evs.clear();
        generate_profile(world, config.seed, id, config.profiles, &mut row, &mut evs);
        evs.retain(|e| e.t >= world.start_us && e.t < world.as_of_us);
        evs.sort_by_key(|e| e.t);
        pcols.push(id as i64, &row);
        if pcols.len() >= BATCH_ROWS {
            profiles_out.write(&pcols.finish(&profiles_schema)?)?;
        }
        let mut month = evs.first().map_or(0, |e| world.month_of(e.t));
        for ev in &evs {
            while month + 1 < world.month_starts.len() && ev.t >= world.month_starts[month + 1] {
                month += 1;
            }
            events_out.push(month, id as i64, ev)?;
        }
        events += evs.len() as u64;
        done += 1;
        if done == 1024 {
            progress.profiles.fetch_add(done, Ordering::Relaxed);
            progress.events.fetch_add(events, Ordering::Relaxed);
            (done, events) = (0, 0);
            if failed.load(Ordering::Relaxed) {
                return Err(Error::Internal("stopped: another worker failed".into()));
            }
        }
    }
    progress.profiles.fetch_add(done, Ordering::Relaxed);
    progress.events.fetch_add(events, Ordering::Relaxed);
    if pcols.len() > 0 {
        profiles_out.write(&pcols.finish(&profiles_schema)?)?;
    }
    let mut stats = vec![profiles_out.finish()?];
    stats.extend(events_out.finish()?);
    Ok(stats)
}
