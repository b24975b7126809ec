//! `strata.v1.DatasetService`: what the served dataset holds.

use std::sync::Arc;

use strata_proto::v1::{self, dataset_service_server::DatasetService};
use tonic::{Request, Response, Status};

use crate::Shared;
use crate::convert;
use crate::error::{Error, Result};

/// The service; cheap to clone.
#[derive(Debug, Clone)]
pub struct DatasetSvc {
    shared: Arc<Shared>,
}

impl DatasetSvc {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        DatasetSvc { shared }
    }

    async fn describe(&self) -> Result<v1::DescribeResponse> {
        let loaded = self.shared.engines.current().await?;
        let dir = self.shared.engines.dir().to_path_buf();
        let d = tokio::task::spawn_blocking(move || strata_datasets::describe(&dir))
            .await
            .map_err(|e| Error::Internal(e.to_string()))?
            .map_err(strata_core::Error::from)?;
        let segments = loaded.engine.dataset().segments().load_all()?;
        let found = loaded.engine.discover().await?;
        let counts = |values: &[strata_core::ValueCount]| {
            values
                .iter()
                .map(|v| v1::ValueCount {
                    value: v.value.clone(),
                    count: v.count,
                })
                .collect::<Vec<_>>()
        };
        let name = self
            .shared
            .engines
            .dir()
            .canonicalize()
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .unwrap_or_default();
        Ok(v1::DescribeResponse {
            name,
            dataset_version: loaded.version.clone(),
            as_of: d.manifest.as_of.map(convert::timestamp),
            profiles: Some(table(&d.profiles, &found.profile_attributes)),
            events: Some(table(&d.events, &found.event_properties)),
            event_types: loaded.engine.dataset().event_types().to_vec(),
            purchase_types: d.manifest.purchase_types.clone(),
            activity_types: d.manifest.activity_types.clone(),
            segments: segments.into_keys().collect(),
            total_bytes: d.total_bytes,
            event_type_counts: counts(&found.event_types),
            text_values: found
                .values
                .iter()
                .map(|c| v1::ColumnValues {
                    table: c.table.to_string(),
                    column: c.column.clone(),
                    values: counts(&c.values),
                })
                .collect(),
        })
    }
}

/// A table on the wire; `dsl_types` names the DSL type of each column the
/// segment language can name.
fn table(
    t: &strata_datasets::TableDescription,
    dsl_types: &[(String, strata_dsl::FieldType)],
) -> v1::TableInfo {
    v1::TableInfo {
        rows: t.rows,
        files: t.files as u64,
        row_groups: t.row_groups as u64,
        bytes: t.bytes,
        columns: t
            .schema
            .iter()
            .flat_map(|s| s.fields().iter())
            .map(|f| v1::Column {
                name: f.name().clone(),
                data_type: f.data_type().to_string(),
                nullable: f.is_nullable(),
                dsl_type: dsl_types
                    .iter()
                    .find(|(n, _)| n == f.name())
                    .map(|(_, t)| t.to_string())
                    .unwrap_or_default(),
            })
            .collect(),
        min_time: t.time_range.map(|(a, _)| convert::timestamp(a)),
        max_time: t.time_range.map(|(_, b)| convert::timestamp(b)),
        partitions: t.partitions.len() as u64,
    }
}

#[tonic::async_trait]
impl DatasetService for DatasetSvc {
    async fn describe(
        &self,
        _req: Request<v1::DescribeRequest>,
    ) -> Result<Response<v1::DescribeResponse>, Status> {
        DatasetSvc::describe(self)
            .await
            .map(Response::new)
            .map_err(|e| e.into_status(self.shared.engines.dir()))
    }
}
