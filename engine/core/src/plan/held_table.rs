//! A table of batches held in memory whose bytes are reserved in the
//! session's memory pool for as long as the table lives: what an analysis
//! caches (`Scan::cache`) counts against the same limit as DataFusion's
//! own operators, however long the plans reading it keep it.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::datasource::{MemTable, TableType};
use datafusion::error::Result;
use datafusion::execution::memory_pool::MemoryReservation;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;

/// A [`MemTable`] and the reservation of its batches' memory.
#[derive(Debug)]
pub(crate) struct HeldTable {
    table: MemTable,
    _reservation: MemoryReservation,
}

impl HeldTable {
    pub(crate) fn new(table: MemTable, reservation: MemoryReservation) -> Arc<Self> {
        Arc::new(HeldTable {
            table,
            _reservation: reservation,
        })
    }
}

#[async_trait]
impl TableProvider for HeldTable {
    fn schema(&self) -> SchemaRef {
        self.table.schema()
    }

    fn table_type(&self) -> TableType {
        self.table.table_type()
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.table.scan(state, projection, filters, limit).await
    }
}
