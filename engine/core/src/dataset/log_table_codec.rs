//! How a [`LogTable`] travels to a Ballista scheduler.
//!
//! A query's logical plan goes from the client to the scheduler, which
//! plans it; DataFusion's protobuf form knows listing tables but not a
//! table provider of Strata's. [`LogTableCodec`] encodes a `LogTable` as
//! JSON (its directory, Delta version, partition columns, live files with
//! their statistics and its sort order) and leaves every other table to
//! Ballista's own codec. The scheduler builds the same `LogTable` from it
//! without reading the log, and plans it into a plain Parquet scan, which
//! a stock executor runs. A scheduler must therefore be started with this
//! codec: `strata cluster scheduler` does, and so does the standalone
//! cluster (it plans with the client's session configuration).

use std::path::PathBuf;
use std::sync::Arc;

use arrow::datatypes::{Schema, SchemaRef};
use ballista_core::serde::BallistaLogicalExtensionCodec;
use datafusion::catalog::TableProvider;
use datafusion::common::{Result, TableReference, exec_datafusion_err};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Expr, Extension, LogicalPlan, SortExpr};
use datafusion::prelude::ident;
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use serde::{Deserialize, Serialize};
use strata_datasets::{TableFile, TableSnapshot};

use super::log_table::LogTable;

/// Marks an encoded `LogTable` (anything else is Ballista's).
const MAGIC: &[u8] = b"strata-log-table/1:";

/// Ballista's logical codec, plus Strata's Delta table provider.
#[derive(Debug, Default)]
pub(crate) struct LogTableCodec {
    ballista: BallistaLogicalExtensionCodec,
}

/// A `LogTable` on the wire. The schema travels beside it in the plan.
#[derive(Serialize, Deserialize)]
struct Encoded {
    dir: PathBuf,
    version: u64,
    partition_columns: Vec<String>,
    files: Vec<TableFile>,
    /// Column names, each ascending with NULLs last.
    sort_order: Vec<String>,
}

impl LogicalExtensionCodec for LogTableCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> Result<Extension> {
        self.ballista.try_decode(buf, inputs, ctx)
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        self.ballista.try_encode(node, buf)
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        match buf.strip_prefix(MAGIC) {
            Some(json) => decode(json, &schema),
            None => self
                .ballista
                .try_decode_table_provider(buf, table_ref, schema, ctx),
        }
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        match node.as_ref().downcast_ref::<LogTable>() {
            Some(table) => encode(table, buf),
            None => self
                .ballista
                .try_encode_table_provider(table_ref, node, buf),
        }
    }

    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> Result<Arc<dyn datafusion::datasource::file_format::FileFormatFactory>> {
        self.ballista.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn datafusion::datasource::file_format::FileFormatFactory>,
    ) -> Result<()> {
        self.ballista.try_encode_file_format(buf, node)
    }
}

fn encode(table: &LogTable, buf: &mut Vec<u8>) -> Result<()> {
    let snapshot = table.snapshot();
    let sort_order = table
        .sort_order()
        .iter()
        .map(|s| match &s.expr {
            Expr::Column(c) if s.asc && !s.nulls_first => Ok(c.name.clone()),
            other => Err(exec_datafusion_err!("cannot encode the sort order {other}")),
        })
        .collect::<Result<Vec<_>>>()?;
    let encoded = Encoded {
        dir: table.dir().to_path_buf(),
        version: snapshot.version,
        partition_columns: snapshot.partition_columns.clone(),
        files: snapshot.files.clone(),
        sort_order,
    };
    buf.extend_from_slice(MAGIC);
    serde_json::to_writer(buf, &encoded).map_err(|e| exec_datafusion_err!("{e}"))
}

fn decode(json: &[u8], schema: &SchemaRef) -> Result<Arc<dyn TableProvider>> {
    let e: Encoded = serde_json::from_slice(json).map_err(|e| exec_datafusion_err!("{e}"))?;
    let file_schema = Schema::new(
        schema
            .fields()
            .iter()
            .filter(|f| !e.partition_columns.contains(f.name()))
            .cloned()
            .collect::<Vec<_>>(),
    );
    let snapshot = TableSnapshot {
        version: e.version,
        partition_columns: e.partition_columns,
        file_schema: Arc::new(file_schema),
        files: e.files,
    };
    let sort_order: Vec<SortExpr> = e
        .sort_order
        .iter()
        .map(|c| ident(c).sort(true, false))
        .collect();
    let table = LogTable::new(&e.dir, &snapshot, sort_order)
        .map_err(|err| exec_datafusion_err!("{}: {err}", e.dir.display()))?;
    Ok(Arc::new(table))
}
