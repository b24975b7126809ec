//! `strata.v1.SegmentService`: validate, explain, count, stream members,
//! saved segments and materialized memberships.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant as StdInstant;

use tokio::time::Instant;

use arrow::array::{Array, AsArray};
use arrow::datatypes::Int64Type;
use arrow::record_batch::RecordBatch;
use futures::{FutureExt, Stream, StreamExt};
use strata_core::{MembersRequest, SegmentStore};
use strata_proto::v1::{self, segment_service_server::SegmentService};
use tokio::sync::{mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::Shared;
use crate::cache::CountKey;
use crate::convert;
use crate::error::{Error, Result};
use crate::state::Loaded;

/// Default and largest number of ids per streamed batch.
const DEFAULT_BATCH: usize = 65_536;
const MAX_BATCH: usize = 1 << 20;
/// Batches buffered between the query and the network.
const CHANNEL_DEPTH: usize = 4;

/// The service; cheap to clone.
#[derive(Debug, Clone)]
pub struct SegmentSvc {
    shared: Arc<Shared>,
}

impl SegmentSvc {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        SegmentSvc { shared }
    }

    fn status(&self, e: Error) -> Status {
        e.into_status(self.shared.engines.dir())
    }

    async fn count(&self, req: Request<v1::CountRequest>) -> Result<v1::CountResponse> {
        let started = StdInstant::now();
        let deadline = self.shared.limits.deadline(&req);
        let req = req.into_inner();
        self.shared
            .engines
            .on_current(|loaded| self.count_on(loaded, deadline, &req, started))
            .await
    }

    /// [`count`](Self::count) on the engine of `loaded`.
    async fn count_on(
        &self,
        loaded: Arc<Loaded>,
        deadline: Instant,
        req: &v1::CountRequest,
        started: StdInstant,
    ) -> Result<v1::CountResponse> {
        let engine = &loaded.engine;
        let as_of = convert::as_of(engine, req.as_of.as_ref())?;
        let seg = convert::segment(engine, req.segment.as_ref())?;
        let key = CountKey {
            segment: seg.canonical.clone(),
            as_of_micros: as_of.timestamp_micros(),
            version: loaded.version.clone(),
        };
        let cached = if req.no_cache {
            None
        } else {
            self.shared.cache.get(&key)
        };
        let (count, hit) = match cached {
            Some(n) => (n, true),
            None => {
                let (engine, segment) = (engine.clone(), seg.segment.clone());
                let n = self
                    .shared
                    .limits
                    .run(
                        deadline,
                        async move { Ok(engine.count(&segment, as_of).await?) },
                    )
                    .await?;
                self.shared.cache.put(key, n);
                (n, false)
            }
        };
        // Once known, the total costs nothing: a cached count must not wait
        // for a query slot behind running queries.
        let total_profiles = match loaded.known_total_profiles() {
            Some(n) => n,
            None => {
                let loaded = loaded.clone();
                self.shared
                    .limits
                    .run(deadline, async move { loaded.total_profiles().await })
                    .await?
            }
        };
        Ok(v1::CountResponse {
            count,
            total_profiles,
            as_of: Some(convert::timestamp(as_of)),
            elapsed: Some(convert::duration(started.elapsed())),
            cached: hit,
            dataset_version: loaded.version.clone(),
            warnings: seg.warnings(),
        })
    }

    async fn members(&self, req: Request<v1::MembersRequest>) -> Result<MembersStream> {
        let deadline = self.shared.limits.deadline(&req);
        let req = req.into_inner();
        let loaded = self.shared.engines.current().await?;
        let engine = loaded.engine.clone();
        let cursor = Cursor::parse(&req.cursor)?;
        let as_of = match (&cursor, req.as_of.as_ref().and_then(|a| a.time.as_ref())) {
            (Some(c), None) => c.as_of()?,
            (Some(c), Some(t)) => {
                let t = convert::from_timestamp(t)?;
                if t != c.as_of()? {
                    return Err(Error::InvalidArgument(
                        "as_of differs from the cursor's: leave as_of unset when resuming".into(),
                    ));
                }
                t
            }
            (None, _) => convert::as_of(&engine, req.as_of.as_ref())?,
        };
        let seg = convert::segment(&engine, req.segment.as_ref())?;
        let batch_size = match req.batch_size as usize {
            0 => DEFAULT_BATCH,
            n if n > MAX_BATCH => {
                return Err(Error::InvalidArgument(format!(
                    "batch_size {n} is above the maximum {MAX_BATCH}"
                )));
            }
            n => n,
        };
        let mreq = MembersRequest {
            columns: req.columns.clone(),
            after: cursor.map(|c| c.after),
            limit: (req.limit > 0).then_some(req.limit as usize),
        };
        let schema = engine.members_schema(&mreq)?;
        let with_columns = !req.columns.is_empty();
        // The slot is taken before the stream starts and held until it ends.
        let admission = self.shared.limits.admit(deadline).await?;
        let (tx, rx) = mpsc::channel(CHANNEL_DEPTH);
        let (done_tx, done_rx) = oneshot::channel();
        let idle = self.shared.limits.stream_idle_timeout();
        let dir = self.shared.engines.dir().to_path_buf();
        let shared = self.shared.clone();
        self.shared.limits.detach(async move {
            let _admission = admission;
            let started = Instant::now();
            let work = async {
                let mut batcher = Batcher {
                    tx: &tx,
                    idle,
                    schema: &schema,
                    with_columns,
                    batch_size,
                    as_of,
                    pending: Vec::new(),
                    pending_rows: 0,
                    sent: 0,
                };
                let mut engine = engine;
                let mut rerun = false;
                loop {
                    let result = match engine.members(&seg.segment, as_of, &mreq).await {
                        Ok(stream) => batcher.run(stream).await,
                        Err(e) => Err(e.into()),
                    };
                    // Nothing sent yet: a list that raced an erasure's
                    // deletions is run again on the new version, as a
                    // count would be (`EngineHandle::on_current`).
                    let Err(e) = result else { return Ok(()) };
                    if rerun || batcher.sent > 0 || e.status_code() != tonic::Code::Internal {
                        return Err(e);
                    }
                    let now = shared.engines.current().await?;
                    if Arc::ptr_eq(&now.engine, &engine) {
                        return Err(e);
                    }
                    tracing::info!(error = %e, version = %now.version, "a member list raced a write; running it on the new version");
                    (engine, rerun) = (now.engine.clone(), true);
                    batcher.pending.clear();
                    batcher.pending_rows = 0;
                }
            };
            // A panic anywhere in the query ends the stream with an error.
            let work = std::panic::AssertUnwindSafe(work).catch_unwind();
            let outcome = tokio::select! {
                // The client went away: stop (dropping the query cancels it).
                _ = tx.closed() => return,
                r = tokio::time::timeout_at(deadline, work) => r,
            };
            let end = match outcome {
                Ok(Ok(Ok(()))) => Ok(()),
                Ok(Ok(Err(e))) => Err(e.into_status(&dir)),
                Ok(Err(panic)) => Err(panicked(panic.as_ref())),
                Err(_) => Err(Error::DeadlineExceeded(started.elapsed()).into_status(&dir)),
            };
            let _ = done_tx.send(end);
        });
        Ok(ended_by(ReceiverStream::new(rx), done_rx))
    }
}

/// `batches`, then the end the member task reported: nothing after a
/// complete list, its error status otherwise. A task that ended without
/// reporting (it panicked past `catch_unwind`, or was aborted) ends the
/// stream with INTERNAL, so a truncated list never ends with OK.
fn ended_by(
    batches: ReceiverStream<Result<v1::MembersBatch, Status>>,
    done: oneshot::Receiver<Result<(), Status>>,
) -> MembersStream {
    let end = futures::stream::once(async move {
        match done.await {
            Ok(Ok(())) => None,
            Ok(Err(status)) => Some(Err(status)),
            Err(_) => Some(Err(Status::from(Error::Internal(
                "the member list stopped before its end; retry from the last cursor".into(),
            )))),
        }
    })
    .filter_map(futures::future::ready);
    Box::pin(batches.chain(end))
}

/// The status of a member task that panicked (the panic is logged).
fn panicked(panic: &(dyn std::any::Any + Send)) -> Status {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    tracing::error!(panic = %what, "member stream task panicked");
    Status::from(Error::Internal(
        "the member list failed inside the server; retry from the last cursor".into(),
    ))
}

type MembersStream = Pin<Box<dyn Stream<Item = Result<v1::MembersBatch, Status>> + Send>>;

/// Regroups the query's record batches into batches of `batch_size` ids and
/// sends them.
struct Batcher<'a> {
    tx: &'a mpsc::Sender<Result<v1::MembersBatch, Status>>,
    /// Longest wait for the client to take a batch before giving up.
    idle: std::time::Duration,
    schema: &'a arrow::datatypes::SchemaRef,
    with_columns: bool,
    batch_size: usize,
    as_of: chrono::DateTime<chrono::Utc>,
    pending: Vec<RecordBatch>,
    pending_rows: usize,
    sent: u64,
}

impl Batcher<'_> {
    async fn run(
        &mut self,
        mut stream: datafusion::execution::SendableRecordBatchStream,
    ) -> Result<()> {
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(strata_core::Error::from)?;
            if batch.num_rows() == 0 {
                continue;
            }
            self.pending_rows += batch.num_rows();
            self.pending.push(batch);
            while self.pending_rows >= self.batch_size {
                let all = arrow::compute::concat_batches(self.schema, &self.pending)
                    .map_err(strata_core::Error::from)?;
                let head = all.slice(0, self.batch_size);
                let rest = all.slice(self.batch_size, all.num_rows() - self.batch_size);
                self.pending_rows = rest.num_rows();
                self.pending = if rest.num_rows() > 0 {
                    vec![rest]
                } else {
                    vec![]
                };
                if !self.send(&head).await? {
                    return Ok(());
                }
            }
        }
        if self.pending_rows > 0 {
            let all = arrow::compute::concat_batches(self.schema, &self.pending)
                .map_err(strata_core::Error::from)?;
            self.pending.clear();
            self.send(&all).await?;
        }
        Ok(())
    }

    /// Sends one batch; false when the client is gone.
    async fn send(&mut self, batch: &RecordBatch) -> Result<bool> {
        let ids = batch
            .column(0)
            .as_primitive_opt::<Int64Type>()
            .ok_or_else(|| Error::Internal("profile_id is not Int64".into()))?;
        let profile_ids: Vec<i64> = if ids.null_count() == 0 {
            ids.values().to_vec()
        } else {
            ids.iter().flatten().collect()
        };
        let last = profile_ids.last().copied().unwrap_or_default();
        self.sent += profile_ids.len() as u64;
        let arrow_ipc = if self.with_columns {
            convert::arrow_ipc(self.schema, std::slice::from_ref(batch))?
        } else {
            Vec::new()
        };
        let msg = v1::MembersBatch {
            profile_ids,
            arrow_ipc,
            cursor: Cursor {
                as_of_micros: self.as_of.timestamp_micros(),
                after: last,
            }
            .encode(),
            sent: self.sent,
            as_of: Some(convert::timestamp(self.as_of)),
        };
        match tokio::time::timeout(self.idle, self.tx.send(Ok(msg))).await {
            Ok(sent) => Ok(sent.is_ok()),
            Err(_) => Err(Error::StreamIdle(self.idle)),
        }
    }
}

/// Where a member stream resumes: after profile `after`, at the same as_of.
/// On the wire: `m1.<as_of µs>.<after>` (opaque to clients).
#[derive(Debug, Clone, Copy)]
struct Cursor {
    as_of_micros: i64,
    after: i64,
}

impl Cursor {
    fn encode(self) -> String {
        format!("m1.{}.{}", self.as_of_micros, self.after)
    }

    fn parse(s: &str) -> Result<Option<Cursor>> {
        if s.is_empty() {
            return Ok(None);
        }
        let bad =
            || Error::InvalidArgument(format!("cursor '{s}' is not one this server gave out"));
        let mut parts = s.split('.');
        if parts.next() != Some("m1") {
            return Err(bad());
        }
        let as_of_micros = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let after = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(Some(Cursor {
            as_of_micros,
            after,
        }))
    }

    fn as_of(&self) -> Result<chrono::DateTime<chrono::Utc>> {
        let t = chrono::DateTime::from_timestamp_micros(self.as_of_micros)
            .ok_or_else(|| Error::InvalidArgument("cursor holds an invalid as_of".into()))?;
        Ok(strata_core::time::check_as_of(t)?)
    }
}

#[tonic::async_trait]
impl SegmentService for SegmentSvc {
    async fn validate(
        &self,
        req: Request<v1::ValidateRequest>,
    ) -> Result<Response<v1::ValidateResponse>, Status> {
        let text = req.into_inner().dsl;
        let run = async {
            let loaded = self.shared.engines.current().await?;
            match convert::parse_text(&loaded.engine, &text) {
                Ok((seg, warnings)) => Ok(v1::ValidateResponse {
                    valid: true,
                    diagnostics: vec![],
                    canonical: strata_dsl::format(&seg),
                    rendered: String::new(),
                    warnings: warnings
                        .iter()
                        .map(|d| convert::diagnostic(d, &text))
                        .collect(),
                    rendered_warnings: warnings.render(&text),
                }),
                Err(Error::InvalidSegment { text, diagnostics }) => Ok(v1::ValidateResponse {
                    valid: false,
                    diagnostics: diagnostics
                        .iter()
                        .map(|d| convert::diagnostic(d, &text))
                        .collect(),
                    canonical: String::new(),
                    rendered: diagnostics.render(&text),
                    warnings: vec![],
                    rendered_warnings: String::new(),
                }),
                Err(e) => Err(e),
            }
        };
        run.await.map(Response::new).map_err(|e| self.status(e))
    }

    async fn explain(
        &self,
        req: Request<v1::ExplainRequest>,
    ) -> Result<Response<v1::ExplainResponse>, Status> {
        let deadline = self.shared.limits.deadline(&req);
        let req = req.into_inner();
        let run = async {
            let loaded = self.shared.engines.current().await?;
            let engine = &loaded.engine;
            let as_of = convert::as_of(engine, req.as_of.as_ref())?;
            let seg = convert::segment(engine, req.segment.as_ref())?;
            let e = self
                .shared
                .limits
                .run(deadline, {
                    let (engine, segment) = (engine.clone(), seg.segment);
                    async move { Ok(engine.explain(&segment, as_of).await?) }
                })
                .await?;
            Ok(v1::ExplainResponse {
                logical: e.logical,
                optimized: e.optimized,
                physical: e.physical,
            })
        };
        run.await.map(Response::new).map_err(|e| self.status(e))
    }

    async fn count(
        &self,
        req: Request<v1::CountRequest>,
    ) -> Result<Response<v1::CountResponse>, Status> {
        SegmentSvc::count(self, req)
            .await
            .map(Response::new)
            .map_err(|e| self.status(e))
    }

    type MembersStream = MembersStream;

    async fn members(
        &self,
        req: Request<v1::MembersRequest>,
    ) -> Result<Response<Self::MembersStream>, Status> {
        SegmentSvc::members(self, req)
            .await
            .map(Response::new)
            .map_err(|e| self.status(e))
    }

    async fn save_segment(
        &self,
        req: Request<v1::SaveSegmentRequest>,
    ) -> Result<Response<v1::SavedSegment>, Status> {
        let req = req.into_inner();
        let run = async {
            SegmentStore::validate_name(&req.name)?;
            let loaded = self.shared.engines.current().await?;
            let store = loaded.engine.dataset().segments();
            convert::parse_text(&loaded.engine, &req.dsl)?;
            // Cycles and expansions over the size limits are refused here,
            // not when a segment using this one next runs.
            let engine = loaded.engine.clone();
            let (name, dsl, create_only) = (req.name.clone(), req.dsl.clone(), req.create_only);
            tokio::task::spawn_blocking(move || {
                engine.check_save(&name, &dsl)?;
                if create_only {
                    store.create(&name, &dsl)
                } else {
                    store.save(&name, &dsl)
                }
            })
            .await
            .map_err(|e| Error::Internal(e.to_string()))?
            .map_err(|e| match e {
                strata_core::Error::SegmentExists { name } => {
                    Error::AlreadyExists(format!("segment '{name}' exists already"))
                }
                other => other.into(),
            })?;
            // Make the new version visible to the next request at once.
            self.shared.engines.current().await?;
            Ok(v1::SavedSegment {
                name: req.name,
                dsl: req.dsl,
            })
        };
        run.await.map(Response::new).map_err(|e| self.status(e))
    }

    async fn get_segment(
        &self,
        req: Request<v1::GetSegmentRequest>,
    ) -> Result<Response<v1::SavedSegment>, Status> {
        let name = req.into_inner().name;
        let run = async {
            let loaded = self.shared.engines.current().await?;
            let dsl = loaded.engine.dataset().segments().get(&name)?;
            Ok(v1::SavedSegment { name, dsl })
        };
        run.await.map(Response::new).map_err(|e| self.status(e))
    }

    async fn list_segments(
        &self,
        _req: Request<v1::ListSegmentsRequest>,
    ) -> Result<Response<v1::ListSegmentsResponse>, Status> {
        let run = async {
            let loaded = self.shared.engines.current().await?;
            let all = loaded.engine.dataset().segments().load_all()?;
            Ok(v1::ListSegmentsResponse {
                segments: all
                    .into_iter()
                    .map(|(name, dsl)| v1::SavedSegment { name, dsl })
                    .collect(),
            })
        };
        run.await.map(Response::new).map_err(|e| self.status(e))
    }

    async fn delete_segment(
        &self,
        req: Request<v1::DeleteSegmentRequest>,
    ) -> Result<Response<v1::DeleteSegmentResponse>, Status> {
        let name = req.into_inner().name;
        let run = async {
            let loaded = self.shared.engines.current().await?;
            let engine = loaded.engine.clone();
            tokio::task::spawn_blocking(move || {
                engine.check_delete(&name)?;
                engine.dataset().segments().delete(&name)
            })
            .await
            .map_err(|e| Error::Internal(e.to_string()))??;
            self.shared.engines.current().await?;
            Ok(v1::DeleteSegmentResponse {})
        };
        run.await.map(Response::new).map_err(|e| self.status(e))
    }

    async fn materialize(
        &self,
        req: Request<v1::MaterializeRequest>,
    ) -> Result<Response<v1::MaterializeResponse>, Status> {
        let started = StdInstant::now();
        let deadline = self.shared.limits.deadline(&req);
        let req = req.into_inner();
        let run = async {
            SegmentStore::validate_name(&req.name)?;
            let loaded = self.shared.engines.current().await?;
            let engine = &loaded.engine;
            let as_of = convert::as_of(engine, req.as_of.as_ref())?;
            let m = self
                .shared
                .limits
                .run(deadline, {
                    let (engine, name, columns) =
                        (engine.clone(), req.name.clone(), req.columns.clone());
                    async move { Ok(engine.materialize(&name, as_of, &columns).await?) }
                })
                .await?;
            Ok(v1::MaterializeResponse {
                path: m.relative_path.to_string_lossy().into_owned(),
                rows: m.rows,
                as_of: Some(convert::timestamp(as_of)),
                dataset_version: loaded.version.clone(),
                elapsed: Some(convert::duration(started.elapsed())),
            })
        };
        run.await.map(Response::new).map_err(|e| self.status(e))
    }
}
