//! `TestServer`: starts the real `strata serve` on port 0 over a private
//! copy of a small generated dataset, waits for health, kills it on drop.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use strata_proto::v1;
use strata_proto::v1::dataset_service_client::DatasetServiceClient;
use strata_proto::v1::segment_service_client::SegmentServiceClient;
use tonic::transport::Channel;

/// Profiles in the test dataset.
pub(crate) const PROFILES: u64 = 3000;

/// The `strata` binary, built (once per run, with the `ballista` feature)
/// by the same cargo that runs these tests, in the same profile. `STRATA_BIN` overrides.
pub(crate) fn strata_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Ok(p) = std::env::var("STRATA_BIN") {
            return PathBuf::from(p);
        }
        // target/<profile>/deps/e2e-HASH → target/<profile>/strata
        let exe = std::env::current_exe().expect("test exe");
        let profile_dir = exe.parent().and_then(Path::parent).expect("target dir");
        let release = profile_dir.file_name().is_some_and(|n| n == "release");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("workspace");
        let mut cmd = Command::new(cargo);
        // Not the variables cargo set for this test process: build scripts
        // that watch them (ring's watches CARGO_MANIFEST_DIR) would rerun
        // and rebuild the TLS and gRPC stack the test build already has.
        for (key, _) in std::env::vars_os() {
            let key = key.to_string_lossy();
            if [
                "CARGO_MANIFEST_",
                "CARGO_PKG_",
                "CARGO_CRATE_",
                "CARGO_BIN_",
                "CARGO_PRIMARY_",
            ]
            .iter()
            .any(|p| key.starts_with(p))
                || key == "CARGO_TARGET_TMPDIR"
            {
                cmd.env_remove(key.as_ref());
            }
        }
        cmd.current_dir(root)
            .args(["build", "--quiet", "-p", "strata-cli", "--bin", "strata"])
            // With Ballista, for the scale-out tests (`cluster.rs`); the
            // same features the workspace's test build has, so nothing is
            // compiled twice.
            .args(["--features", "ballista"]);
        if release {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("running cargo build");
        assert!(status.success(), "cargo build -p strata-cli failed");
        profile_dir.join("strata")
    })
}

/// Runs `strata ARGS` (no token from the environment): success, stdout,
/// stderr.
pub(crate) fn run_strata(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(strata_bin())
        .args(args)
        .env_remove("STRATA_TOKEN")
        .output()
        .expect("strata");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A small dataset generated once per test run (seed 1, fixed as_of),
/// under cargo's target tmp directory (replacing the previous run's), so
/// that nothing is left in /tmp.
pub(crate) fn base_dataset() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e-shop");
        // `gen` would keep an earlier run's saved segments.
        let _ = std::fs::remove_dir_all(&out);
        let status = Command::new(strata_bin())
            .args([
                "gen",
                "--profiles",
                &PROFILES.to_string(),
                "--seed",
                "1",
                "--out",
            ])
            .arg(&out)
            .stdout(Stdio::null())
            .status()
            .expect("strata gen");
        assert!(status.success(), "strata gen failed");
        out
    })
}

pub(crate) fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A running `strata serve`.
#[derive(Debug)]
pub(crate) struct TestServer {
    child: Child,
    pub(crate) addr: String,
    pub(crate) data: PathBuf,
    /// The CA certificate (PEM) clients trust when the server serves TLS.
    tls_ca: Option<String>,
    _tmp: tempfile::TempDir,
}

impl TestServer {
    /// A server over a fresh copy of the test dataset, with extra flags.
    pub(crate) async fn start(args: &[&str]) -> TestServer {
        Self::start_with(args, None).await
    }

    /// A server with TLS flags in `args`, whose certificate `ca_pem` (PEM)
    /// the test's clients trust.
    pub(crate) async fn start_tls(args: &[&str], ca_pem: &str) -> TestServer {
        Self::start_with(args, Some(ca_pem.to_string())).await
    }

    async fn start_with(args: &[&str], tls_ca: Option<String>) -> TestServer {
        let tmp = tempfile::tempdir().expect("tempdir");
        let data = tmp.path().join("shop");
        copy_dir(base_dataset(), &data);
        let mut child = Command::new(strata_bin())
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(&data)
            .args(args)
            .env("STRATA_LOG", "warn")
            .env_remove("STRATA_TOKEN")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn strata serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(addr) = line.strip_prefix("listening on ") {
                    let _ = tx.send(addr.trim().to_string());
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("server printed no `listening on ADDR`");
        let server = TestServer {
            child,
            addr,
            data,
            tls_ca,
            _tmp: tmp,
        };
        server.wait_healthy().await;
        server
    }

    pub(crate) fn url(&self) -> String {
        let scheme = if self.tls_ca.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr)
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) async fn channel(&self) -> Channel {
        let mut endpoint = Channel::from_shared(self.url()).unwrap();
        if let Some(pem) = &self.tls_ca {
            let tls = tonic::transport::ClientTlsConfig::new()
                .ca_certificate(tonic::transport::Certificate::from_pem(pem));
            endpoint = endpoint.tls_config(tls).unwrap();
        }
        endpoint.connect().await.expect("connect")
    }

    pub(crate) async fn segments(&self) -> SegmentServiceClient<Channel> {
        SegmentServiceClient::new(self.channel().await).max_decoding_message_size(64 << 20)
    }

    pub(crate) async fn datasets(&self) -> DatasetServiceClient<Channel> {
        DatasetServiceClient::new(self.channel().await)
    }

    pub(crate) async fn health(&self) -> i32 {
        let mut h = tonic_health::pb::health_client::HealthClient::new(self.channel().await);
        h.check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .map(|r| r.into_inner().status)
        .unwrap_or(-1)
    }

    async fn wait_healthy(&self) {
        let start = Instant::now();
        loop {
            if self.health().await
                == tonic_health::pb::health_check_response::ServingStatus::Serving as i32
            {
                return;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "server never became healthy"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// CPU time (user + system) the server process has used so far.
    pub(crate) fn cpu_time(&self) -> Duration {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid())).unwrap();
        // Fields after the command name (which is in parentheses).
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
        Duration::from_millis(ticks * 10) // USER_HZ = 100
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn dsl(text: &str) -> Option<v1::Segment> {
    Some(v1::Segment {
        source: Some(v1::segment::Source::Dsl(text.to_string())),
    })
}

pub(crate) fn named(name: &str) -> Option<v1::Segment> {
    Some(v1::Segment {
        source: Some(v1::segment::Source::Name(name.to_string())),
    })
}

pub(crate) fn count_req(text: &str) -> v1::CountRequest {
    v1::CountRequest {
        segment: dsl(text),
        ..Default::default()
    }
}

pub(crate) fn members_req(text: &str) -> v1::MembersRequest {
    v1::MembersRequest {
        segment: dsl(text),
        ..Default::default()
    }
}

/// Every id of a members stream, in the order received.
pub(crate) async fn collect_ids(
    client: &mut SegmentServiceClient<Channel>,
    req: v1::MembersRequest,
) -> Result<(Vec<i64>, Vec<v1::MembersBatch>), tonic::Status> {
    use futures::StreamExt;
    let mut stream = client.members(req).await?.into_inner();
    let mut ids = Vec::new();
    let mut batches = Vec::new();
    while let Some(b) = stream.next().await {
        let mut b = b?;
        ids.extend(std::mem::take(&mut b.profile_ids));
        batches.push(b);
    }
    Ok((ids, batches))
}

/// A member stream that cannot finish into the network buffers: every
/// profile, one per message, each with several columns as Arrow IPC
/// (megabytes in all), so an unread stream holds its query slot.
pub(crate) fn slow_members_req() -> v1::MembersRequest {
    v1::MembersRequest {
        segment: dsl("NOT consent_email OR consent_email"),
        batch_size: 1,
        columns: [
            "email",
            "first_name",
            "last_name",
            "city",
            "country",
            "region",
            "language",
            "timezone",
        ]
        .map(String::from)
        .to_vec(),
        ..Default::default()
    }
}

/// A segment that matches a good part of the test dataset.
pub(crate) const SEG: &str = "count(purchase) >= 1";
