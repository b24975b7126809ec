//! `loadgen`: a bounded gRPC load test of a running `strata serve` on this
//! machine (loopback only).
//!
//! N concurrent clients for at most T seconds and R requests mix counts
//! (cached and uncached), member streams, and a few malformed and oversized
//! requests; a watcher checks health and the server's RSS throughout.
//! Reports p50/p99 latency per kind, requests/s and failures; exits non-zero
//! if a valid request failed, health failed, or RSS went over --rss-limit.
//!
//! ```text
//! strata serve --data m-data --memory-limit 4GiB &
//! loadgen --server http://127.0.0.1:50051 --clients 32 --duration 60 \
//!         --server-pid $! --rss-limit 4GiB
//! loadgen --server http://127.0.0.1:50051 --stream 'NOT consent_email OR consent_email'
//! ```

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use futures::StreamExt;
use strata_proto::v1;
use strata_proto::v1::segment_service_client::SegmentServiceClient;
use tonic::transport::Channel;

#[derive(Debug, Parser)]
#[command(about = "Bounded gRPC load test of a local strata server")]
struct Args {
    /// Server URL; must be a loopback address.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    server: String,
    /// Concurrent clients (each its own connection).
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Run for at most this many seconds.
    #[arg(long, default_value_t = 60)]
    duration: u64,
    /// Stop after this many requests in all.
    #[arg(long, default_value_t = 1_000_000)]
    max_requests: u64,
    /// One request in this many is a member stream (the others counts).
    #[arg(long, default_value_t = 5)]
    members_every: u64,
    /// Members per stream (0: the whole segment).
    #[arg(long, default_value_t = 100_000)]
    members_limit: u64,
    /// One request in this many is malformed or oversized (expected to fail).
    #[arg(long, default_value_t = 50)]
    bad_every: u64,
    /// Distinct as_of days the counts use (1: all at the dataset's as_of,
    /// so repeated counts come from the cache, as in interactive use).
    #[arg(long, default_value_t = 1)]
    as_of_variants: u64,
    /// One count in this many skips the cache (a real query); 0: never.
    #[arg(long, default_value_t = 20)]
    uncached_every: u64,
    /// Bearer token.
    #[arg(long, env = "STRATA_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// The server's process id: its RSS is sampled from /proc.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Fail if the server's RSS goes above this many MiB.
    #[arg(long)]
    rss_limit_mib: Option<u64>,
    /// Instead of the load test: stream this segment's members once and
    /// report ids/s, checking completeness and order against Count.
    #[arg(long)]
    stream: Option<String>,
}

/// Segments the clients count: a few shapes, with as_of variants so that
/// some answers come from the cache and some from queries.
const SEGMENTS: &[&str] = &[
    "consent_email",
    "count(purchase WITHIN 90d) >= 2",
    "consent_email AND count(purchase WITHIN 90d) >= 1",
    "sum(purchase.amount) >= 500 AND NOT performed(purchase WITHIN 180d)",
    "country IN ('US', 'JP') AND performed(add_to_cart WITHIN 30d)",
    "performed(cart_abandoned WITHIN 7d) AND NOT performed(purchase WITHIN 7d)",
];

#[derive(Debug, Default)]
struct Stats {
    count: Vec<Duration>,
    members: Vec<Duration>,
    ids: u64,
    bad_ok: u64,
    failures: Vec<String>,
}

fn check_loopback(url: &str) -> anyhow::Result<()> {
    let uri: tonic::codegen::http::Uri = url.parse().context("server URL")?;
    let host = uri.host().unwrap_or("");
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let ok = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !ok {
        bail!("loadgen only targets loopback addresses, not {host}");
    }
    Ok(())
}

async fn client(args: &Args) -> anyhow::Result<SegmentServiceClient<Channel>> {
    let channel = Channel::from_shared(args.server.clone())?.connect().await?;
    Ok(SegmentServiceClient::new(channel).max_decoding_message_size(256 << 20))
}

fn request<T>(args: &Args, msg: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    if let Some(t) = &args.token {
        r.metadata_mut().insert(
            "authorization",
            format!("Bearer {t}").parse().expect("token"),
        );
    }
    r.set_timeout(Duration::from_secs(30));
    r
}

fn dsl(s: &str) -> Option<v1::Segment> {
    Some(v1::Segment {
        source: Some(v1::segment::Source::Dsl(s.to_string())),
    })
}

fn pct(v: &mut [Duration], p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i].as_secs_f64() * 1e3
}

fn rss_mib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024)
}

async fn stream_once(args: &Args, segment: &str) -> anyhow::Result<()> {
    let mut c = client(args).await?;
    let n = c
        .count(request(
            args,
            v1::CountRequest {
                segment: dsl(segment),
                ..Default::default()
            },
        ))
        .await?
        .into_inner()
        .count;
    let start = Instant::now();
    let mut s = c
        .members(request(
            args,
            v1::MembersRequest {
                segment: dsl(segment),
                ..Default::default()
            },
        ))
        .await?
        .into_inner();
    let (mut got, mut last, mut ordered) = (0u64, i64::MIN, true);
    while let Some(b) = s.next().await {
        let b = b?;
        for id in &b.profile_ids {
            ordered &= *id > last;
            last = *id;
        }
        got += b.profile_ids.len() as u64;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "stream: {got} ids (count said {n}) in {secs:.3}s = {:.2}M ids/s; ascending: {ordered}; complete: {}",
        got as f64 / secs / 1e6,
        got == n
    );
    if got != n || !ordered {
        bail!("stream incomplete or out of order");
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Arc::new(Args::parse());
    check_loopback(&args.server)?;
    if let Some(seg) = &args.stream {
        return stream_once(&args, seg).await;
    }
    let deadline = Instant::now() + Duration::from_secs(args.duration);
    let issued = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let watcher = tokio::spawn(watch(args.clone(), done.clone()));

    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..args.clients {
        let (args, issued) = (args.clone(), issued.clone());
        tasks.push(tokio::spawn(async move {
            run_client(&args, worker, &issued, deadline).await
        }));
    }
    let mut all = Stats::default();
    for t in tasks {
        let s = t.await??;
        all.count.extend(s.count);
        all.members.extend(s.members);
        all.ids += s.ids;
        all.bad_ok += s.bad_ok;
        all.failures.extend(s.failures);
    }
    let secs = started.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    let health = watcher.await??;
    report(&args, &mut all, &health, secs)
}

/// What the watcher saw: health checks passed and failed, the server's
/// largest RSS, the slowest health answer.
#[derive(Debug, Default)]
struct Health {
    ok: u64,
    bad: u64,
    max_rss: u64,
    worst: Duration,
}

/// Checks health (and samples the server's RSS) every 250 ms until `done`.
async fn watch(args: Arc<Args>, done: Arc<AtomicBool>) -> anyhow::Result<Health> {
    let channel = Channel::from_shared(args.server.clone())?.connect().await?;
    let mut h = tonic_health::pb::health_client::HealthClient::new(channel);
    let mut seen = Health::default();
    while !done.load(Ordering::Relaxed) {
        let t = Instant::now();
        let mut r = tonic::Request::new(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        });
        r.set_timeout(Duration::from_secs(2));
        match h.check(r).await {
            Ok(resp) if resp.get_ref().status == 1 => seen.ok += 1,
            _ => seen.bad += 1,
        }
        seen.worst = seen.worst.max(t.elapsed());
        if let Some(pid) = args.server_pid {
            seen.max_rss = seen.max_rss.max(rss_mib(pid).unwrap_or(0));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(seen)
}

/// One client: requests until the deadline or the request budget, a mix
/// of bad requests, member streams and counts.
async fn run_client(
    args: &Args,
    worker: usize,
    issued: &AtomicU64,
    deadline: Instant,
) -> anyhow::Result<Stats> {
    let mut stats = Stats::default();
    let mut c = client(args).await?;
    while Instant::now() < deadline {
        let i = issued.fetch_add(1, Ordering::Relaxed);
        if i >= args.max_requests {
            break;
        }
        let seg = SEGMENTS[(i as usize + worker) % SEGMENTS.len()];
        if args.bad_every > 0 && i % args.bad_every == args.bad_every - 1 {
            bad_request(args, &mut c, i, &mut stats).await;
        } else if args.members_every > 0 && i.is_multiple_of(args.members_every) {
            members(args, &mut c, seg, &mut stats).await;
        } else {
            count(args, &mut c, seg, i, &mut stats).await;
        }
    }
    Ok(stats)
}

/// Malformed DSL, or a request over the size limit: must be refused with a
/// user-facing code, never INTERNAL or UNAVAILABLE.
async fn bad_request(
    args: &Args,
    c: &mut SegmentServiceClient<Channel>,
    i: u64,
    stats: &mut Stats,
) {
    let text = if i.is_multiple_of(2) {
        "count(purchse WITHIN 90d >= 2".to_string()
    } else {
        "consent_email OR ".repeat(200_000) + "consent_sms"
    };
    let req = v1::CountRequest {
        segment: dsl(&text),
        ..Default::default()
    };
    match c.count(request(args, req)).await {
        Err(e) if e.code() != tonic::Code::Internal && e.code() != tonic::Code::Unavailable => {
            stats.bad_ok += 1
        }
        other => stats
            .failures
            .push(format!("bad request answered {other:?}")),
    }
}

/// One member stream of `seg`, read to its end.
async fn members(args: &Args, c: &mut SegmentServiceClient<Channel>, seg: &str, stats: &mut Stats) {
    let t = Instant::now();
    let req = v1::MembersRequest {
        segment: dsl(seg),
        limit: args.members_limit,
        ..Default::default()
    };
    let res = async {
        let mut s = c.members(request(args, req)).await?.into_inner();
        let mut n = 0u64;
        while let Some(b) = s.next().await {
            n += b?.profile_ids.len() as u64;
        }
        Ok::<_, tonic::Status>(n)
    }
    .await;
    match res {
        Ok(n) => {
            stats.ids += n;
            stats.members.push(t.elapsed());
        }
        Err(e) => stats.failures.push(format!("members: {e}")),
    }
}

/// One count of `seg`, its as_of varied by day so a share of counts miss
/// the cache.
async fn count(
    args: &Args,
    c: &mut SegmentServiceClient<Channel>,
    seg: &str,
    i: u64,
    stats: &mut Stats,
) {
    let t = Instant::now();
    let day = (i / 7) % args.as_of_variants.max(1);
    let req = v1::CountRequest {
        segment: dsl(seg),
        as_of: Some(v1::AsOf {
            time: Some(prost_types_timestamp(1_767_225_600 - day as i64 * 86_400)),
        }),
        no_cache: args.uncached_every > 0 && i.is_multiple_of(args.uncached_every),
    };
    match c.count(request(args, req)).await {
        Ok(_) => stats.count.push(t.elapsed()),
        Err(e) => stats.failures.push(format!("count: {e}")),
    }
}

/// Prints the figures; fails on a failed request, a failed health check or
/// an RSS over the limit.
fn report(args: &Args, all: &mut Stats, health: &Health, secs: f64) -> anyhow::Result<()> {
    let valid = all.count.len() + all.members.len();
    println!(
        "loadgen: {} clients, {secs:.1}s, {valid} valid requests ({:.1} req/s), {} failed; {} bad requests refused as expected",
        args.clients,
        valid as f64 / secs,
        all.failures.len(),
        all.bad_ok
    );
    println!(
        "  count:   n={:<7} p50={:.1} ms  p99={:.1} ms",
        all.count.len(),
        pct(&mut all.count, 0.5),
        pct(&mut all.count, 0.99)
    );
    println!(
        "  members: n={:<7} p50={:.1} ms  p99={:.1} ms  ({} ids, {:.2}M ids/s overall)",
        all.members.len(),
        pct(&mut all.members, 0.5),
        pct(&mut all.members, 0.99),
        all.ids,
        all.ids as f64 / secs / 1e6
    );
    println!(
        "  health:  {} ok, {} failed, slowest {:.1} ms",
        health.ok,
        health.bad,
        health.worst.as_secs_f64() * 1e3
    );
    if args.server_pid.is_some() {
        println!("  server RSS max: {} MiB", health.max_rss);
    }
    for f in all.failures.iter().take(10) {
        println!("  failure: {f}");
    }
    if !all.failures.is_empty() || health.bad > 0 {
        bail!(
            "{} failed requests, {} failed health checks",
            all.failures.len(),
            health.bad
        );
    }
    if let Some(limit) = args.rss_limit_mib
        && health.max_rss > limit
    {
        bail!("server RSS {} MiB went over {limit} MiB", health.max_rss);
    }
    Ok(())
}

fn prost_types_timestamp(seconds: i64) -> prost_types::Timestamp {
    prost_types::Timestamp { seconds, nanos: 0 }
}
