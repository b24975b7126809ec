//! `strata.v1.IngestService`: the dataset's writes over gRPC.
//!
//! Each call is one [`strata_datasets`] write (`append`, `upsert_profiles`,
//! `forget`, `optimize`), run on a blocking thread, so it has the writes'
//! guarantees: one dataset version, atomic, repaired after a crash,
//! serialized with every other writer (CLI or server) by the dataset's
//! write lock, idempotent with a key. Calls of this server queue on an
//! async lock first, so that waiting writers hold no blocking thread.
//!
//! A streamed input is spooled to `_strata_log/incoming/` (at most
//! `--max-ingest-bytes`), read from there with the importer's own code,
//! and removed when the call ends; an Arrow IPC stream is turned into a
//! Parquet file first, which keeps its types. Files a killed server left
//! there are removed when the service starts. Once the stream has been
//! received, the write runs to its end even if the client goes away.
//! After a write, the serving engine is moved to the new version before
//! the answer is sent, so the client's next count reads it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use strata_datasets::{ColumnSource, ImportConfig, InputFormat, ROLES};
use strata_proto::v1::{self, ingest_service_server::IngestService};
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;
use tonic::{Request, Response, Status, Streaming};

use crate::Shared;
use crate::convert;
use crate::error::{Error, Result};

/// The spool directory inside the dataset's log directory.
const INCOMING: &str = "incoming";

/// The service; cheap to clone.
#[derive(Debug, Clone)]
pub struct IngestSvc {
    shared: Arc<Shared>,
    /// Calls of this server, one at a time.
    gate: Arc<Mutex<()>>,
    max_bytes: u64,
}

impl IngestSvc {
    /// The service for `shared`'s dataset, accepting streamed inputs of up
    /// to `max_bytes`; removes what a killed server left in the spool.
    pub(crate) fn new(shared: Arc<Shared>, max_bytes: u64) -> Self {
        let spool = incoming_dir(shared.engines.dir());
        if let Err(e) = std::fs::remove_dir_all(&spool)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(dir = %spool.display(), error = %e, "cannot clear the ingest spool");
        }
        IngestSvc {
            shared,
            gate: Arc::new(Mutex::new(())),
            max_bytes,
        }
    }

    fn dir(&self) -> PathBuf {
        self.shared.engines.dir().to_path_buf()
    }

    fn status(&self, e: Error) -> Status {
        e.into_status(self.shared.engines.dir())
    }

    /// Runs `write` on a blocking thread after the calls before it, then
    /// moves the serving engine to the dataset as written.
    async fn write<F>(&self, write: F) -> Result<v1::WriteResult>
    where
        F: FnOnce(&Path) -> strata_datasets::Result<v1::WriteResult> + Send + 'static,
    {
        let _turn = self.gate.lock().await;
        let dir = self.dir();
        let started = Instant::now();
        let mut result = tokio::task::spawn_blocking(move || write(&dir))
            .await
            .map_err(|e| Error::Internal(format!("the write stopped: {e}")))?
            .map_err(strata_core::Error::from)?;
        result.elapsed = Some(convert::duration(started.elapsed()));
        let dir = self.dir();
        if result.nothing_written {
            result.version = strata_datasets::read_version(&dir, None)
                .map_err(strata_core::Error::from)?
                .map_or(0, |v| v.version);
        }
        let manifest = strata_datasets::Manifest::load(&dir).map_err(strata_core::Error::from)?;
        result.dataset_version = format!("{}+{}", manifest.dataset_version, result.version);
        if let Err(e) = self.shared.engines.current().await {
            tracing::warn!(error = %e, "reloading after a write failed");
        }
        Ok(result)
    }

    /// Spools the input `stream`, then runs `write` (dataset directory,
    /// options, spooled file and its format) as [`write`](Self::write)
    /// does; user errors about the file speak of the streamed input.
    async fn streamed<C, F>(
        &self,
        stream: Streaming<C>,
        write: F,
    ) -> Result<Response<v1::WriteResult>, Status>
    where
        C: Chunk,
        F: FnOnce(
                &Path,
                &C::Options,
                &Path,
                InputFormat,
            ) -> strata_datasets::Result<v1::WriteResult>
            + Send
            + 'static,
    {
        let run = async {
            let (options, mut spooled) = self.spool(stream).await?;
            self.write(move |dir| {
                let (file, format) = spooled.input()?;
                write(dir, &options, &file, format).map_err(|e| about_input(e, &file))
            })
            .await
        };
        run.await.map(Response::new).map_err(|e| self.status(e))
    }

    /// Receives a streamed input into the spool.
    async fn spool<C: Chunk>(&self, mut stream: Streaming<C>) -> Result<(C::Options, Spooled)> {
        let first = next(&mut stream)
            .await?
            .ok_or_else(|| Error::InvalidArgument("the stream is empty".into()))?;
        let (options, data) = first.split();
        let options = options.ok_or_else(|| {
            Error::InvalidArgument("the first message of the stream must carry the options".into())
        })?;
        let format = C::format(&options)?;
        let dir = incoming_dir(self.shared.engines.dir());
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| Error::Internal(format!("creating the ingest spool: {e}")))?;
        let spooled = Spooled::new(&dir, format);
        let mut file = tokio::fs::File::create(&spooled.received)
            .await
            .map_err(|e| Error::Internal(format!("spooling the input: {e}")))?;
        let mut bytes = 0u64;
        let mut chunk = data;
        loop {
            bytes += chunk.len() as u64;
            if bytes > self.max_bytes {
                return Err(Error::Busy(format!(
                    "the input is larger than this server's --max-ingest-bytes ({} bytes): \
                     split it into several calls",
                    self.max_bytes
                )));
            }
            file.write_all(&chunk)
                .await
                .map_err(|e| Error::Internal(format!("spooling the input: {e}")))?;
            match next(&mut stream).await? {
                Some(message) => chunk = message.split().1,
                None => break,
            }
        }
        file.flush()
            .await
            .map_err(|e| Error::Internal(format!("spooling the input: {e}")))?;
        Ok((options, spooled))
    }
}

/// The next message of a client stream.
async fn next<C>(stream: &mut Streaming<C>) -> Result<Option<C>> {
    stream
        .message()
        .await
        .map_err(|s| Error::InvalidArgument(format!("reading the stream: {}", s.message())))
}

fn incoming_dir(data: &Path) -> PathBuf {
    strata_datasets::dataset_log_dir(data).join(INCOMING)
}

/// A message of a streamed input: options (first message) and bytes.
trait Chunk: Send + 'static {
    type Options: Send + 'static;
    fn split(self) -> (Option<Self::Options>, Vec<u8>);
    fn format(options: &Self::Options) -> Result<v1::InputFormat>;
}

impl Chunk for v1::AppendEventsRequest {
    type Options = v1::AppendOptions;
    fn split(self) -> (Option<v1::AppendOptions>, Vec<u8>) {
        (self.options, self.data)
    }
    fn format(options: &v1::AppendOptions) -> Result<v1::InputFormat> {
        input_format(options.format)
    }
}

impl Chunk for v1::UpsertProfilesRequest {
    type Options = v1::UpsertOptions;
    fn split(self) -> (Option<v1::UpsertOptions>, Vec<u8>) {
        (self.options, self.data)
    }
    fn format(options: &v1::UpsertOptions) -> Result<v1::InputFormat> {
        input_format(options.format)
    }
}

fn input_format(format: i32) -> Result<v1::InputFormat> {
    match v1::InputFormat::try_from(format) {
        Ok(v1::InputFormat::Unspecified) | Err(_) => Err(Error::InvalidArgument(
            "options.format: set INPUT_FORMAT_JSON_LINES, INPUT_FORMAT_CSV or \
             INPUT_FORMAT_ARROW_IPC"
                .into(),
        )),
        Ok(f) => Ok(f),
    }
}

/// Unique spool file names within the process.
static SPOOLED: AtomicU64 = AtomicU64::new(0);

/// A received input on disk (and its Parquet form, for Arrow IPC),
/// removed when dropped.
#[derive(Debug)]
struct Spooled {
    received: PathBuf,
    format: v1::InputFormat,
    converted: Option<PathBuf>,
}

impl Spooled {
    fn new(dir: &Path, format: v1::InputFormat) -> Spooled {
        let ext = match format {
            v1::InputFormat::Csv => "csv",
            v1::InputFormat::JsonLines => "jsonl",
            _ => "arrows",
        };
        let n = SPOOLED.fetch_add(1, Ordering::Relaxed);
        Spooled {
            received: dir.join(format!("input-{}-{n}.{ext}", std::process::id())),
            format,
            converted: None,
        }
    }

    /// The file for the importer and its format (converting an Arrow IPC
    /// stream to Parquet first). Blocking.
    fn input(&mut self) -> strata_datasets::Result<(PathBuf, InputFormat)> {
        match self.format {
            v1::InputFormat::Csv => Ok((self.received.clone(), InputFormat::Csv)),
            v1::InputFormat::JsonLines => Ok((self.received.clone(), InputFormat::Jsonl)),
            _ => {
                let parquet = self.received.with_extension("parquet");
                self.converted = Some(parquet.clone());
                ipc_to_parquet(&self.received, &parquet)?;
                Ok((parquet, InputFormat::Parquet))
            }
        }
    }
}

impl Drop for Spooled {
    fn drop(&mut self) {
        for path in std::iter::once(&self.received).chain(&self.converted) {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Writes the Arrow IPC stream at `src` as the Parquet file `dst`.
fn ipc_to_parquet(src: &Path, dst: &Path) -> strata_datasets::Result<()> {
    let bad = |e: &dyn std::fmt::Display| {
        strata_datasets::Error::InvalidArgument(format!(
            "the input is not a readable Arrow IPC stream: {e}"
        ))
    };
    let file = std::fs::File::open(src).map_err(|e| strata_datasets::Error::io(src, e))?;
    let reader = arrow::ipc::reader::StreamReader::try_new(std::io::BufReader::new(file), None)
        .map_err(|e| bad(&e))?;
    let out = std::fs::File::create(dst).map_err(|e| strata_datasets::Error::io(dst, e))?;
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(out, reader.schema(), None).map_err(|e| bad(&e))?;
    for batch in reader {
        writer
            .write(&batch.map_err(|e| bad(&e))?)
            .map_err(|e| bad(&e))?;
    }
    writer.close().map_err(|e| bad(&e))?;
    Ok(())
}

/// The `strata append` configuration of `options`, reading `file`.
fn append_config(
    o: &v1::AppendOptions,
    file: PathBuf,
    format: InputFormat,
) -> strata_datasets::Result<ImportConfig> {
    let mut c = ImportConfig::new(vec![file]);
    c.format = Some(format);
    if !o.profile_id_column.is_empty() {
        c.profile_id = o.profile_id_column.clone();
    }
    if !o.time_column.is_empty() {
        c.time = o.time_column.clone();
    }
    c.time_format = non_empty(&o.time_format);
    for (name, column) in &o.role_columns {
        c.roles
            .insert(role(name)?.role, ColumnSource::Column(column.clone()));
    }
    for (name, value) in &o.role_constants {
        let spec = role(name)?;
        if spec.constant.is_none() {
            return Err(strata_datasets::Error::InvalidArgument(format!(
                "role_constants: {name} takes a column, not a constant"
            )));
        }
        c.roles
            .insert(spec.role, ColumnSource::Const(value.clone()));
    }
    c.drop = o.drop.clone();
    c.amount_times = non_empty(&o.amount_times);
    c.refund_if_negative = o.refund_if_negative;
    c.skip_bad_rows = o.skip_bad_rows;
    c.skip_missing_ids = o.skip_bad_rows;
    c.delimiter = delimiter(&o.csv_delimiter)?;
    Ok(c)
}

fn role(name: &str) -> strata_datasets::Result<&'static strata_datasets::RoleSpec> {
    ROLES.iter().find(|r| r.name == name).ok_or_else(|| {
        let names: Vec<&str> = ROLES.iter().map(|r| r.name).collect();
        strata_datasets::Error::InvalidArgument(format!(
            "unknown role {name:?} (roles: {}; the id and time columns are \
             profile_id_column and time_column)",
            names.join(", ")
        ))
    })
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

fn delimiter(s: &str) -> strata_datasets::Result<Option<u8>> {
    match s.as_bytes() {
        [] => Ok(None),
        [b] if b.is_ascii() => Ok(Some(*b)),
        _ => Err(strata_datasets::Error::InvalidArgument(format!(
            "csv_delimiter {s:?}: must be one ASCII character"
        ))),
    }
}

fn key(k: &str) -> Option<String> {
    non_empty(k)
}

/// A user error about the spooled `file` in the client's terms: the
/// streamed input, and the request's option names for the CLI's flags.
fn about_input(e: strata_datasets::Error, file: &Path) -> strata_datasets::Error {
    if e.kind() != strata_datasets::ErrorKind::InvalidInput {
        return e;
    }
    let mut message = e
        .to_string()
        .replace(&format!("{}:", file.display()), "the streamed input, line ")
        .replace(&file.display().to_string(), "the streamed input");
    for (flag, option) in [
        ("--time-format", "options.time_format"),
        ("--skip-bad-rows", "options.skip_bad_rows"),
        ("--add-columns", "options.add_columns"),
        ("--drop", "options.drop"),
        ("--delimiter", "options.csv_delimiter"),
    ] {
        message = message.replace(flag, option);
    }
    strata_datasets::Error::InvalidArgument(message)
}

#[tonic::async_trait]
impl IngestService for IngestSvc {
    async fn append_events(
        &self,
        req: Request<Streaming<v1::AppendEventsRequest>>,
    ) -> Result<Response<v1::WriteResult>, Status> {
        self.streamed(req.into_inner(), |dir, options, file, format| {
            let config = append_config(options, file.to_path_buf(), format)?;
            let k = key(&options.idempotency_key);
            let s = strata_datasets::append(&config, dir, k.as_deref())?;
            Ok(v1::WriteResult {
                version: s.version,
                already_applied: s.already_applied,
                rows_read: s.input_rows,
                rows_skipped: s.skipped_rows,
                events_added: s.events,
                profiles_created: s.new_profiles,
                profiles_updated: s.updated_profiles,
                files_written: s.files,
                ..v1::WriteResult::default()
            })
        })
        .await
    }

    async fn upsert_profiles(
        &self,
        req: Request<Streaming<v1::UpsertProfilesRequest>>,
    ) -> Result<Response<v1::WriteResult>, Status> {
        self.streamed(req.into_inner(), |dir, options, file, format| {
            let mut config = strata_datasets::UpsertConfig::new(file.to_path_buf());
            config.format = Some(format);
            config.delimiter = delimiter(&options.csv_delimiter)?;
            if !options.key.is_empty() {
                config.key = options.key.clone();
            }
            config.add_columns = options.add_columns;
            config.skip_bad_rows = options.skip_bad_rows;
            let k = key(&options.idempotency_key);
            let s = strata_datasets::upsert_profiles(dir, &config, k.as_deref())?;
            Ok(v1::WriteResult {
                version: s.version,
                already_applied: s.already_applied,
                rows_read: s.input_rows,
                rows_skipped: s.skipped_rows,
                profiles_created: s.created,
                profiles_updated: s.updated,
                files_written: s.files_rewritten,
                files_removed: s.files_rewritten,
                ..v1::WriteResult::default()
            })
        })
        .await
    }

    async fn forget_profiles(
        &self,
        req: Request<v1::ForgetProfilesRequest>,
    ) -> Result<Response<v1::WriteResult>, Status> {
        let req = req.into_inner();
        let run = self.write(move |dir| {
            let k = key(&req.idempotency_key);
            let s = strata_datasets::forget(dir, &req.external_ids, k.as_deref())?;
            Ok(v1::WriteResult {
                version: s.version.unwrap_or_default(),
                already_applied: s.already_applied,
                nothing_written: s.version.is_none(),
                events_removed: s.events,
                profiles_removed: s.profiles,
                not_found: s.not_found,
                files_written: s.files_rewritten,
                files_removed: s.files_deleted,
                ..v1::WriteResult::default()
            })
        });
        run.await.map(Response::new).map_err(|e| self.status(e))
    }

    async fn optimize(
        &self,
        req: Request<v1::OptimizeRequest>,
    ) -> Result<Response<v1::WriteResult>, Status> {
        let req = req.into_inner();
        let run = self.write(move |dir| {
            let config = strata_datasets::OptimizeConfig {
                month: non_empty(&req.month),
                idempotency_key: key(&req.idempotency_key),
                ..strata_datasets::OptimizeConfig::default()
            };
            let s = strata_datasets::optimize(dir, &config)?;
            Ok(v1::WriteResult {
                version: s.version.unwrap_or_default(),
                already_applied: s.already_applied,
                nothing_written: s.version.is_none(),
                files_written: s.files_written,
                files_removed: s.files_removed,
                ..v1::WriteResult::default()
            })
        });
        run.await.map(Response::new).map_err(|e| self.status(e))
    }
}
