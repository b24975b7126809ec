//! A structure-aware generative fuzzer over the gRPC API: "one request
//! must never take the server down".
//!
//! `fuzz_requests` starts the real server, asks Describe for the dataset's
//! columns, event types and properties, then for a time budget sends one
//! random but well-formed request after another to every RPC of
//! SegmentService, AnalyticsService and DatasetService: segments from a
//! grammar over the dataset's names (very wide, very deep, huge IN lists,
//! every construct), mutated text, the JSON form (corrupted or not), saved
//! segments that reference each other; as_of, cursors, batch sizes,
//! columns, windows, bins and enum values at their extremes
//! (`fuzz/requests.rs`, `fuzz/dsl.rs`).
//!
//! The oracle, after every request: the server process is alive (not
//! gone, not a zombie), its resident memory stayed under [`RSS_CAP`]; every
//! [`HEALTH_EVERY`] requests and at the end, a health check on a channel of
//! its own answers SERVING within [`HEALTH_TIMEOUT`]. `UNKNOWN` and
//! `INTERNAL` answers are findings too. After a death the server is
//! restarted (up to [`MAX_RESTARTS`] times) so one run reports several
//! findings. Requests are sent one at a time, so a finding belongs to the
//! request printed with it.
//!
//! Environment:
//! - `STRATA_FUZZ_SECS` (default 20): the time budget;
//! - `STRATA_FUZZ_SEED` (default [`DEFAULT_SEED`], so the test suite is
//!   reproducible; always printed): the seed. The requests depend only on
//!   it and on the server's answers, so the same seed against the same
//!   binary replays the same requests;
//! - `STRATA_FUZZ_REQUESTS` (default unlimited): stop after this many
//!   requests (to replay up to a finding);
//! - `STRATA_FUZZ_STRICT` (default 0): fail on slow health answers too.
//!   Deaths, memory over the cap, `UNKNOWN` and `INTERNAL` always fail; a
//!   health check slower than [`HEALTH_TIMEOUT`] is reported, and fails
//!   only when strict, because on a test machine busy with other tests it
//!   is as often the machine as the server;
//! - `STRATA_FUZZ_VERBOSE` (default 0): print every request's RPC, size,
//!   status, time and message.
//!
//! `cargo test --workspace --test e2e fuzz -- --nocapture` shows the
//! histogram of status codes per RPC and every finding; each finding's
//! full request (its Debug form) is also written under
//! `target/tmp/fuzz/`.

mod dsl;
mod requests;

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rand::Rng;
use rand::rngs::StdRng;
use strata_proto::v1;
use strata_proto::v1::analytics_service_client::AnalyticsServiceClient;
use strata_proto::v1::dataset_service_client::DatasetServiceClient;
use strata_proto::v1::segment_service_client::SegmentServiceClient;
use tonic::transport::Channel;
use tonic::{Code, Status};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::support::TestServer;
use dsl::Vocab;
use requests::{Call, Gen, Learned, Read, Req};

/// The seed when `STRATA_FUZZ_SEED` is not set.
const DEFAULT_SEED: u64 = 20_261_203;
/// The server under test: a small memory limit, so that limits are hit.
const SERVER_ARGS: &[&str] = &["--memory-limit", "1GiB"];
/// Every request's deadline (sent as grpc-timeout).
const DEADLINE: Duration = Duration::from_secs(10);
/// How much longer the fuzzer waits for an answer before giving up on it.
const GRACE: Duration = Duration::from_secs(5);
const HEALTH_EVERY: u64 = 20;
const HEALTH_TIMEOUT: Duration = Duration::from_secs(1);
/// Resident memory above which the server counts as dead (4× its
/// --memory-limit): the fuzzer kills it there, before it takes the
/// machine's memory, as a container's limit would.
const RSS_CAP: u64 = 4 << 30;
/// Server restarts after deaths before the run stops early.
const MAX_RESTARTS: usize = 8;
/// Largest answer the clients accept (the server's own cap is 64 MiB).
const MAX_ANSWER: usize = 64 << 20;
/// Requests written with a finding about the whole server (death, memory,
/// health): what came before the last request may be what did it.
const RECENT: usize = 5;
/// Characters of a request printed with a finding (the file has it all).
const PRINTED_REQUEST: usize = 3000;

pub(super) fn pick<'a, T>(rng: &mut StdRng, xs: &'a [T]) -> &'a T {
    &xs[rng.random_range(0..xs.len())]
}

pub(super) fn chance(rng: &mut StdRng, p: f64) -> bool {
    rng.random_bool(p.clamp(0.0, 1.0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fuzz_requests() {
    let settings = Settings::from_env();
    eprintln!(
        "fuzz: seed {} ({} s budget; replay with STRATA_FUZZ_SEED={})",
        settings.seed,
        settings.budget.as_secs(),
        settings.seed
    );
    let mut run = Run::start(settings).await;
    while run.more() && run.step().await {}
    run.finish().await;
}

/// One fuzzing run: the server, the generator, what was seen.
#[derive(Debug)]
struct Run {
    settings: Settings,
    target: Target,
    generator: Gen,
    report: Report,
    started: Instant,
    /// Requests sent so far (the number of the last one).
    seq: u64,
}

impl Run {
    async fn start(settings: Settings) -> Run {
        let mut target = Target::start().await;
        let vocab = target.vocab().await;
        Run {
            generator: Gen::new(settings.seed, vocab),
            report: Report::new(settings.seed),
            target,
            settings,
            started: Instant::now(),
            seq: 0,
        }
    }

    fn more(&self) -> bool {
        self.started.elapsed() < self.settings.budget && self.seq < self.settings.max_requests
    }

    /// Sends one request and applies the oracle; false to stop the run.
    async fn step(&mut self) -> bool {
        self.seq += 1;
        let seq = self.seq;
        let call = self.generator.call();
        let sent = Instant::now();
        let outcome = self.target.send(&call).await;
        if self.settings.verbose {
            trace(seq, &call, &outcome, sent.elapsed());
        }
        self.report.record(seq, &call, outcome.label());
        let trouble = self.report.judge(seq, &outcome);
        if let Outcome::Answer { learned, .. } = outcome {
            self.generator.learn(learned);
        }
        let down = if trouble == Trouble::Killed {
            true
        } else if let Some(death) = self.target.death(trouble == Trouble::Suspect).await {
            self.report.finding(Kind::Death, seq, death);
            true
        } else if seq.is_multiple_of(HEALTH_EVERY) {
            !self.target.check_health(seq, &mut self.report).await
        } else {
            false
        };
        !down || self.restart().await
    }

    /// Replaces a dead or wedged server by a fresh one; false when the run
    /// has restarted it too often already.
    async fn restart(&mut self) -> bool {
        if self.report.restarts >= MAX_RESTARTS {
            eprintln!("fuzz: {MAX_RESTARTS} restarts: stopping early");
            return false;
        }
        self.report.restarts += 1;
        eprintln!("fuzz: restarting the server");
        self.target = Target::start().await;
        self.generator.forget_saved();
        true
    }

    /// The last health check, the report, and the verdict.
    async fn finish(mut self) {
        if self.target.death(false).await.is_none() {
            self.target.check_health(self.seq, &mut self.report).await;
        }
        self.report.print(self.seq, self.started.elapsed());
        eprintln!("fuzz: {}", self.generator.summary());
        let failures = self.report.failures(self.settings.strict);
        assert!(
            failures.is_empty(),
            "fuzz (seed {}): {} finding(s) fail the run:\n{}",
            self.settings.seed,
            failures.len(),
            failures.join("\n")
        );
    }
}

/// One line per request (STRATA_FUZZ_VERBOSE=1).
fn trace(seq: u64, call: &Call, outcome: &Outcome, took: Duration) {
    let message = match outcome {
        Outcome::Answer { message, .. } => shorten(message, 160).replace('\n', " "),
        _ => String::new(),
    };
    eprintln!(
        "fuzz: #{seq} {} {} B{}: {} in {:.2} s {message}",
        call.req.rpc(),
        call.req.encoded_len(),
        call.compression
            .map_or(String::new(), |c| format!(" ({c:?})")),
        outcome.label(),
        took.as_secs_f64(),
    );
}

// ---------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------

#[derive(Debug)]
struct Settings {
    budget: Duration,
    seed: u64,
    max_requests: u64,
    strict: bool,
    verbose: bool,
}

impl Settings {
    fn from_env() -> Settings {
        fn var<T: std::str::FromStr>(name: &str) -> Option<T> {
            let v = std::env::var(name).ok()?;
            let parsed = v.trim().parse().ok();
            assert!(parsed.is_some(), "{name}={v:?} is not a number");
            parsed
        }
        Settings {
            budget: Duration::from_secs(var("STRATA_FUZZ_SECS").unwrap_or(20)),
            seed: var("STRATA_FUZZ_SEED").unwrap_or(DEFAULT_SEED),
            max_requests: var("STRATA_FUZZ_REQUESTS").unwrap_or(u64::MAX),
            strict: var::<u8>("STRATA_FUZZ_STRICT").unwrap_or(0) != 0,
            verbose: var::<u8>("STRATA_FUZZ_VERBOSE").unwrap_or(0) != 0,
        }
    }
}

// ---------------------------------------------------------------------------
// The server and how requests reach it
// ---------------------------------------------------------------------------

/// What came of one request.
#[derive(Debug)]
enum Outcome {
    /// The server answered (`Code::Ok` included; a Members stream dropped
    /// early on purpose is Ok).
    Answer {
        code: Code,
        message: String,
        learned: Learned,
    },
    /// No answer within the deadline and the grace period.
    NoAnswer,
    /// The server's resident memory passed [`RSS_CAP`] (bytes) meanwhile
    /// (the request is dropped; the server is then replaced).
    OverMemory(u64),
}

impl Outcome {
    fn label(&self) -> String {
        match self {
            Outcome::Answer { code, .. } => format!("{code:?}"),
            Outcome::NoAnswer => "NoAnswer".into(),
            Outcome::OverMemory(_) => "OverMemory".into(),
        }
    }
}

#[derive(Debug)]
struct Target {
    server: TestServer,
    segments: SegmentServiceClient<Channel>,
    analytics: AnalyticsServiceClient<Channel>,
    datasets: DatasetServiceClient<Channel>,
    /// On a channel of its own, connected before any request.
    health: HealthClient<Channel>,
}

impl Target {
    async fn start() -> Target {
        let server = TestServer::start(SERVER_ARGS).await;
        let channel = server.channel().await;
        let health = HealthClient::new(server.channel().await);
        Target {
            segments: SegmentServiceClient::new(channel.clone())
                .max_decoding_message_size(MAX_ANSWER),
            analytics: AnalyticsServiceClient::new(channel.clone())
                .max_decoding_message_size(MAX_ANSWER),
            datasets: DatasetServiceClient::new(channel).max_decoding_message_size(MAX_ANSWER),
            health,
            server,
        }
    }

    /// The names to write segments with. A server that cannot describe its
    /// dataset is not worth fuzzing: that fails the test.
    async fn vocab(&mut self) -> Vocab {
        let described = self
            .datasets
            .describe(with_deadline(v1::DescribeRequest {}))
            .await;
        match described {
            Ok(d) => Vocab::from_describe(d.get_ref()),
            Err(status) => panic!("Describe failed before fuzzing: {status:?}"),
        }
    }

    /// Sends one request, waiting at most DEADLINE + GRACE, and watching
    /// the server's memory meanwhile.
    async fn send(&mut self, call: &Call) -> Outcome {
        let pid = self.server.pid();
        let answer = tokio::time::timeout(DEADLINE + GRACE, self.dispatch(call));
        tokio::select! {
            r = answer => match r {
                Ok(Ok(learned)) => Outcome::Answer {
                    code: Code::Ok,
                    message: String::new(),
                    learned,
                },
                Ok(Err(status)) => Outcome::Answer {
                    code: status.code(),
                    message: status.message().to_string(),
                    learned: Learned::Nothing,
                },
                Err(_) => Outcome::NoAnswer,
            },
            rss = rss_above(pid, RSS_CAP) => Outcome::OverMemory(rss),
        }
    }

    async fn dispatch(&mut self, call: &Call) -> Result<Learned, Status> {
        let (mut seg, mut ana, mut ds) = (
            self.segments.clone(),
            self.analytics.clone(),
            self.datasets.clone(),
        );
        if let Some(enc) = call.compression {
            seg = seg.send_compressed(enc).accept_compressed(enc);
            ana = ana.send_compressed(enc).accept_compressed(enc);
            ds = ds.send_compressed(enc).accept_compressed(enc);
        }
        fn nothing<T>(_: T) -> Learned {
            Learned::Nothing
        }
        match call.req.clone() {
            Req::Validate(r) => seg.validate(with_deadline(r)).await.map(nothing),
            Req::Explain(r) => seg.explain(with_deadline(r)).await.map(nothing),
            Req::Count(r) => seg.count(with_deadline(r)).await.map(nothing),
            Req::Members(r, read) => read_members(&mut seg, r, read).await,
            Req::SaveSegment(r) => {
                let name = r.name.clone();
                seg.save_segment(with_deadline(r)).await?;
                Ok(Learned::Saved(name))
            }
            Req::GetSegment(r) => seg.get_segment(with_deadline(r)).await.map(nothing),
            Req::ListSegments(r) => {
                let listed = seg.list_segments(with_deadline(r)).await?.into_inner();
                Ok(Learned::Listed(
                    listed.segments.into_iter().map(|s| s.name).collect(),
                ))
            }
            Req::DeleteSegment(r) => {
                let name = r.name.clone();
                seg.delete_segment(with_deadline(r)).await?;
                Ok(Learned::Deleted(name))
            }
            Req::Materialize(r) => seg.materialize(with_deadline(r)).await.map(nothing),
            Req::Rfm(r) => ana.rfm(with_deadline(r)).await.map(nothing),
            Req::ChannelMix(r) => ana.channel_mix(with_deadline(r)).await.map(nothing),
            Req::Lifecycle(r) => ana.lifecycle(with_deadline(r)).await.map(nothing),
            Req::Retention(r) => ana.retention(with_deadline(r)).await.map(nothing),
            Req::Describe(r) => ds.describe(with_deadline(r)).await.map(nothing),
        }
    }

    /// None while the server runs; how it ended otherwise. After a failed
    /// or odd answer (`suspect`), the process gets a moment to finish
    /// dying first.
    async fn death(&self, suspect: bool) -> Option<String> {
        if suspect {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        process_end(self.server.pid())
    }

    /// Health on its own channel, SERVING within HEALTH_TIMEOUT; a failure
    /// is a finding. False when the server does not recover from it.
    async fn check_health(&mut self, seq: u64, report: &mut Report) -> bool {
        let Err(why) = self.health_once().await else {
            return true;
        };
        report.finding(Kind::Health, seq, why);
        // Wedged for a while, or for good?
        for _ in 0..30 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if self.health_once().await.is_ok() {
                eprintln!("fuzz: health recovered");
                return true;
            }
        }
        false
    }

    async fn health_once(&mut self) -> Result<(), String> {
        let req = tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        };
        match tokio::time::timeout(HEALTH_TIMEOUT, self.health.check(req)).await {
            Err(_) => Err(format!("health: no answer within {HEALTH_TIMEOUT:?}")),
            Ok(Err(s)) => Err(format!("health: {:?}: {}", s.code(), s.message())),
            Ok(Ok(r)) if r.get_ref().status == ServingStatus::Serving as i32 => Ok(()),
            Ok(Ok(r)) => Err(format!("health: status {}", r.get_ref().status)),
        }
    }
}

fn with_deadline<T>(msg: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.set_timeout(DEADLINE);
    r
}

/// Reads as much of a member stream as `read` says, then drops it. Keeps
/// the first and last cursors for later requests.
async fn read_members(
    c: &mut SegmentServiceClient<Channel>,
    req: v1::MembersRequest,
    read: Read,
) -> Result<Learned, Status> {
    let mut stream = c.members(with_deadline(req)).await?.into_inner();
    let wanted = match read {
        Read::All => usize::MAX,
        Read::Batches(n) => n,
        Read::Nothing => 0,
    };
    let mut cursors = Vec::new();
    let mut batches = 0;
    while batches < wanted {
        let Some(batch) = stream.message().await? else {
            break;
        };
        batches += 1;
        if cursors.len() < 2 {
            cursors.push(batch.cursor);
        } else if let Some(last) = cursors.last_mut() {
            *last = batch.cursor;
        }
    }
    Ok(Learned::Cursors(cursors))
}

/// Resolves once the process's resident memory is above `cap` bytes.
async fn rss_above(pid: u32, cap: u64) -> u64 {
    loop {
        if let Some(rss) = rss_bytes(pid).filter(|&r| r > cap) {
            return rss;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// None while `pid` runs; else how it ended. A dead child stays a zombie
/// until `TestServer` reaps it, so /proc/<pid> existing is not enough: the
/// state must not be Z (zombie) or X (dead), and a zombie's stat holds its
/// exit status.
fn process_end(pid: u32) -> Option<String> {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Some("the process is gone".into());
    };
    let fields: Vec<&str> = stat
        .rfind(')')
        .map(|i| stat[i + 1..].split_whitespace().collect())
        .unwrap_or_default();
    let state = fields.first().copied().unwrap_or("?");
    if !matches!(state, "Z" | "X") {
        return None;
    }
    // Field 52 of /proc/<pid>/stat (the 50th after the command name).
    let how = match fields.get(49).and_then(|s| s.parse::<i32>().ok()) {
        Some(s) if s & 0x7f != 0 => format!("killed by signal {}", s & 0x7f),
        Some(s) => format!("exited with status {}", (s >> 8) & 0xff),
        None => "exited".into(),
    };
    Some(format!("the server {how}"))
}

// ---------------------------------------------------------------------------
// Findings and the histogram
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// The process died.
    Death,
    /// Resident memory above RSS_CAP (the server was killed there).
    Memory,
    /// Health did not answer SERVING within HEALTH_TIMEOUT.
    Health,
    /// No answer within the deadline and the grace period.
    NoAnswer,
    Internal,
    Unknown,
}

impl Kind {
    fn fails(self, strict: bool) -> bool {
        match self {
            Kind::Death | Kind::Memory | Kind::Internal | Kind::Unknown => true,
            Kind::Health => strict,
            Kind::NoAnswer => false,
        }
    }
}

/// What a request's outcome means for the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trouble {
    Fine,
    /// An answer that may come from a dying server: look twice.
    Suspect,
    /// The server must be restarted (memory over the cap).
    Killed,
}

#[derive(Debug)]
struct Finding {
    kind: Kind,
    rpc: &'static str,
    detail: String,
    seq: u64,
    file: Option<PathBuf>,
    repeats: u64,
}

#[derive(Debug)]
struct Report {
    seed: u64,
    /// rpc → status label → requests.
    histogram: BTreeMap<&'static str, BTreeMap<String, u64>>,
    findings: Vec<Finding>,
    /// Dedup key → index into `findings`.
    seen: BTreeMap<String, usize>,
    /// The last RECENT requests: (number, request, status label).
    recent: VecDeque<(u64, Call, String)>,
    restarts: usize,
}

impl Report {
    fn new(seed: u64) -> Report {
        Report {
            seed,
            histogram: BTreeMap::new(),
            findings: Vec::new(),
            seen: BTreeMap::new(),
            recent: VecDeque::new(),
            restarts: 0,
        }
    }

    /// Counts a request in the histogram and keeps it among the recent.
    fn record(&mut self, seq: u64, call: &Call, label: String) {
        *self
            .histogram
            .entry(call.req.rpc())
            .or_default()
            .entry(label.clone())
            .or_default() += 1;
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back((seq, call.clone(), label));
    }

    /// Records what in `outcome` is a finding.
    fn judge(&mut self, seq: u64, outcome: &Outcome) -> Trouble {
        match outcome {
            Outcome::OverMemory(rss) => {
                let detail = format!(
                    "resident memory {} MiB, above the {} MiB cap: killed",
                    rss >> 20,
                    RSS_CAP >> 20
                );
                self.finding(Kind::Memory, seq, detail);
                Trouble::Killed
            }
            Outcome::NoAnswer => {
                let detail = format!("no answer within {:?}", DEADLINE + GRACE);
                self.finding(Kind::NoAnswer, seq, detail);
                Trouble::Suspect
            }
            Outcome::Answer { code, message, .. } => {
                let kind = match code {
                    Code::Internal => Some(Kind::Internal),
                    Code::Unknown => Some(Kind::Unknown),
                    _ => None,
                };
                if let Some(kind) = kind {
                    self.finding(kind, seq, message.clone());
                }
                match code {
                    Code::Unavailable | Code::Unknown | Code::Internal | Code::Cancelled => {
                        Trouble::Suspect
                    }
                    _ => Trouble::Fine,
                }
            }
        }
    }

    /// Records a finding about the last request recorded, printing it the
    /// first time it is seen. Status findings are told apart by RPC, kind
    /// and message (digits ignored); deaths, memory and health failures are
    /// each their own, and their file holds the last RECENT requests.
    fn finding(&mut self, kind: Kind, seq: u64, detail: String) {
        let rpc = self.recent.back().map_or("(none)", |(_, c, _)| c.req.rpc());
        let key = match kind {
            Kind::Internal | Kind::Unknown | Kind::NoAnswer => {
                let shape: String = detail
                    .chars()
                    .map(|c| if c.is_ascii_digit() { '#' } else { c })
                    .take(120)
                    .collect();
                format!("{kind:?} {rpc} {shape}")
            }
            _ => format!("{kind:?} #{seq}"),
        };
        if let Some(&i) = self.seen.get(&key) {
            self.findings[i].repeats += 1;
            return;
        }
        let server_wide = matches!(kind, Kind::Death | Kind::Memory | Kind::Health);
        let shown = if server_wide { RECENT } else { 1 };
        let skip = self.recent.len().saturating_sub(shown);
        let requests: Vec<String> = self
            .recent
            .iter()
            .skip(skip)
            .map(|(n, c, label)| format!("request #{n} ({label}):\n{c:#?}"))
            .collect();
        let last = requests.last().cloned().unwrap_or_default();
        let file = self.write_request(seq, &requests.join("\n\n"));
        let before: Vec<String> = self
            .recent
            .iter()
            .skip(skip)
            .rev()
            .skip(1)
            .map(|(n, c, label)| format!("#{n} {} {label}", c.req.rpc()))
            .collect();
        eprintln!(
            "fuzz: FINDING {kind:?} at request #{seq} ({rpc}): {detail}\n{}{}\n  full request: {}\n  replay: STRATA_FUZZ_SEED={} STRATA_FUZZ_REQUESTS={seq}",
            shorten(&last, PRINTED_REQUEST),
            if before.is_empty() {
                String::new()
            } else {
                format!("\n  before it: {}", before.join(", "))
            },
            file.as_ref()
                .map_or("(not written)".into(), |p| p.display().to_string()),
            self.seed,
        );
        self.seen.insert(key, self.findings.len());
        self.findings.push(Finding {
            kind,
            rpc,
            detail,
            seq,
            file,
            repeats: 0,
        });
    }

    fn write_request(&self, seq: u64, request: &str) -> Option<PathBuf> {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fuzz");
        std::fs::create_dir_all(&dir).ok()?;
        let path = dir.join(format!("seed-{}-request-{seq}.txt", self.seed));
        std::fs::write(&path, request).ok()?;
        Some(path)
    }

    fn print(&self, requests: u64, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        eprintln!(
            "fuzz: seed {}: {requests} requests in {secs:.1} s ({:.1}/s), {} server restart(s)",
            self.seed,
            requests as f64 / secs.max(0.001),
            self.restarts
        );
        eprintln!("fuzz: status codes per RPC:");
        for (rpc, codes) in &self.histogram {
            let total: u64 = codes.values().sum();
            let codes: Vec<String> = codes.iter().map(|(c, n)| format!("{c} {n}")).collect();
            eprintln!("  {rpc:<14} {total:>6}  {}", codes.join(", "));
        }
        eprintln!("fuzz: {} distinct finding(s)", self.findings.len());
        for f in &self.findings {
            eprintln!(
                "  {:?} {} at #{} (+{} more): {}{}",
                f.kind,
                f.rpc,
                f.seq,
                f.repeats,
                shorten(&f.detail, 300),
                f.file
                    .as_ref()
                    .map_or(String::new(), |p| format!(" [{}]", p.display()))
            );
        }
    }

    /// The findings that fail the run, one line each.
    fn failures(&self, strict: bool) -> Vec<String> {
        self.findings
            .iter()
            .filter(|f| f.kind.fails(strict))
            .map(|f| {
                format!(
                    "  {:?} {} at request #{}: {}",
                    f.kind,
                    f.rpc,
                    f.seq,
                    shorten(&f.detail, 300)
                )
            })
            .collect()
    }
}

/// At most `max` characters of `s`, saying how many were left out.
fn shorten(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some((i, _)) => format!("{}… ({} more bytes)", &s[..i], s.len() - i),
    }
}
