//! `strata.v1.AnalyticsService`: RFM, channel mix, lifecycle and retention
//! reports, optionally over the members of a segment.

use std::sync::Arc;
use std::time::Instant as StdInstant;

use tokio::time::Instant;

use strata_core::analytics::AnalyticsParams;
use strata_core::report::{CohortPeriod, ReportKind, ReportRequest};
use strata_proto::v1::{self, analytics_service_server::AnalyticsService};
use tonic::{Request, Response, Status};

use crate::Shared;
use crate::convert;
use crate::error::{Error, Result};
use crate::state::Loaded;

/// The service; cheap to clone.
#[derive(Debug, Clone)]
pub struct AnalyticsSvc {
    shared: Arc<Shared>,
}

/// What the four requests have in common.
struct Ask<'a> {
    segment: Option<&'a v1::Segment>,
    as_of: Option<&'a v1::AsOf>,
    params: AnalyticsParams,
    period: CohortPeriod,
}

impl AnalyticsSvc {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        AnalyticsSvc { shared }
    }

    async fn report<T>(
        &self,
        req: &Request<T>,
        kind: ReportKind,
        ask: Ask<'_>,
    ) -> Result<v1::Report> {
        let started = StdInstant::now();
        let deadline = self.shared.limits.deadline(req);
        self.shared
            .engines
            .on_current(|loaded| self.report_on(loaded, deadline, kind, &ask, started))
            .await
    }

    /// [`report`](Self::report) on the engine of `loaded`.
    async fn report_on(
        &self,
        loaded: Arc<Loaded>,
        deadline: Instant,
        kind: ReportKind,
        ask: &Ask<'_>,
        started: StdInstant,
    ) -> Result<v1::Report> {
        let engine = &loaded.engine;
        let as_of = convert::as_of(engine, ask.as_of)?;
        let segment = match ask.segment.and_then(|s| s.source.as_ref()) {
            None => None,
            Some(_) => Some(convert::segment(engine, ask.segment)?.segment),
        };
        let request = ReportRequest {
            as_of,
            segment,
            params: ask.params,
            period: ask.period,
        };
        let report = self
            .shared
            .limits
            .run(deadline, {
                let (engine, request) = (engine.clone(), request.clone());
                async move { Ok(engine.report(kind, &request).await?) }
            })
            .await?;
        let mut tables = Vec::with_capacity(report.tables.len());
        for (name, batches) in &report.tables {
            let Some(first) = batches.first() else {
                continue;
            };
            let schema = first.schema();
            let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
            let mut json = arrow::json::LineDelimitedWriter::new(Vec::new());
            for b in batches {
                json.write(b).map_err(strata_core::Error::from)?;
            }
            json.finish().map_err(strata_core::Error::from)?;
            tables.push(v1::Table {
                name: name.clone(),
                rows: rows as u64,
                arrow_ipc: convert::arrow_ipc(&schema, batches)?,
                json_rows: String::from_utf8(json.into_inner())
                    .map_err(|e| Error::Internal(e.to_string()))?,
            });
        }
        Ok(v1::Report {
            as_of: Some(convert::timestamp(report.as_of)),
            tables,
            elapsed: Some(convert::duration(started.elapsed())),
        })
    }

    fn status(&self, e: Error) -> Status {
        e.into_status(self.shared.engines.dir())
    }
}

#[tonic::async_trait]
impl AnalyticsService for AnalyticsSvc {
    async fn rfm(&self, req: Request<v1::RfmRequest>) -> Result<Response<v1::Report>, Status> {
        let r = req.get_ref();
        let run = async {
            let params = AnalyticsParams {
                bins: (r.bins > 0).then_some(r.bins),
                window: convert::window("lookback", &r.lookback)?,
            };
            let ask = Ask {
                segment: r.segment.as_ref(),
                as_of: r.as_of.as_ref(),
                params,
                period: CohortPeriod::default(),
            };
            self.report(&req, ReportKind::Rfm, ask).await
        };
        run.await.map(Response::new).map_err(|e| self.status(e))
    }

    async fn channel_mix(
        &self,
        req: Request<v1::ChannelMixRequest>,
    ) -> Result<Response<v1::Report>, Status> {
        let r = req.get_ref();
        let run = async {
            let params = AnalyticsParams {
                bins: None,
                window: convert::window("window", &r.window)?,
            };
            let ask = Ask {
                segment: r.segment.as_ref(),
                as_of: r.as_of.as_ref(),
                params,
                period: CohortPeriod::default(),
            };
            self.report(&req, ReportKind::ChannelMix, ask).await
        };
        run.await.map(Response::new).map_err(|e| self.status(e))
    }

    async fn lifecycle(
        &self,
        req: Request<v1::LifecycleRequest>,
    ) -> Result<Response<v1::Report>, Status> {
        let r = req.get_ref();
        let run = async {
            let params = AnalyticsParams {
                bins: None,
                window: convert::window("window", &r.window)?,
            };
            let ask = Ask {
                segment: r.segment.as_ref(),
                as_of: r.as_of.as_ref(),
                params,
                period: CohortPeriod::default(),
            };
            self.report(&req, ReportKind::Lifecycle, ask).await
        };
        run.await.map(Response::new).map_err(|e| self.status(e))
    }

    async fn retention(
        &self,
        req: Request<v1::RetentionRequest>,
    ) -> Result<Response<v1::Report>, Status> {
        use v1::retention_request::Period;
        let r = req.get_ref();
        let run = async {
            let period = match Period::try_from(r.period) {
                Ok(Period::Week) => CohortPeriod::Week,
                Ok(Period::Month | Period::Unspecified) => CohortPeriod::Month,
                Err(_) => {
                    return Err(Error::InvalidArgument(format!(
                        "period {} is not PERIOD_WEEK or PERIOD_MONTH",
                        r.period
                    )));
                }
            };
            let ask = Ask {
                segment: r.segment.as_ref(),
                as_of: r.as_of.as_ref(),
                params: AnalyticsParams::default(),
                period,
            };
            self.report(&req, ReportKind::Retention, ask).await
        };
        run.await.map(Response::new).map_err(|e| self.status(e))
    }
}
