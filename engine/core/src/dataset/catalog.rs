//! The DSL type checker's view of a dataset: its schemas, event types and
//! saved segments.

use std::collections::BTreeMap;

use arrow::datatypes::DataType;
use strata_dsl::FieldType;

use super::{Dataset, Table};
use crate::Result;
use crate::plan::tables::EVENT_MONTH;

/// The DSL type checker's view of a [`Dataset`].
#[derive(Debug)]
pub struct DatasetCatalog<'a> {
    dataset: &'a Dataset,
    segments: BTreeMap<String, String>,
}

impl<'a> DatasetCatalog<'a> {
    pub fn new(dataset: &'a Dataset) -> Result<Self> {
        let segments = dataset.segments().load_all()?;
        Ok(DatasetCatalog { dataset, segments })
    }
}

/// Maps an Arrow type to what the DSL can do with it.
fn field_type(dt: &DataType) -> FieldType {
    match dt {
        DataType::Boolean => FieldType::Bool,
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => FieldType::Int,
        DataType::Float16
        | DataType::Float32
        | DataType::Float64
        | DataType::Decimal32(_, _)
        | DataType::Decimal64(_, _)
        | DataType::Decimal128(_, _)
        | DataType::Decimal256(_, _) => FieldType::Float,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => FieldType::String,
        DataType::Dictionary(_, v) => field_type(v),
        DataType::Date32 | DataType::Date64 => FieldType::Date,
        DataType::Timestamp(_, _) => FieldType::Timestamp,
        DataType::List(f) | DataType::LargeList(f) | DataType::ListView(f) => {
            FieldType::List(Box::new(field_type(f.data_type())))
        }
        _ => FieldType::Other,
    }
}

/// Event columns that are not user-facing properties in `WHERE`.
const EVENT_INTERNAL: &[&str] = &["profile_id", "event_type", "event_time", EVENT_MONTH];

impl strata_dsl::Catalog for DatasetCatalog<'_> {
    fn profile_field(&self, name: &str) -> Option<FieldType> {
        let schema = self.dataset.profiles_schema();
        schema
            .field_with_name(name)
            .ok()
            .map(|f| field_type(f.data_type()))
    }
    fn profile_fields(&self) -> Vec<String> {
        self.dataset
            .profiles_schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect()
    }
    fn event_property(&self, name: &str) -> Option<FieldType> {
        if EVENT_INTERNAL.contains(&name) && name != "event_time" {
            return None;
        }
        self.dataset
            .events_schema()
            .field_with_name(name)
            .ok()
            .map(|f| field_type(f.data_type()))
    }
    fn event_properties(&self) -> Vec<String> {
        self.dataset
            .events_schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .filter(|n| n == "event_time" || !EVENT_INTERNAL.contains(&n.as_str()))
            .collect()
    }
    fn event_types(&self) -> Vec<String> {
        self.dataset.event_types().to_vec()
    }
    fn segment(&self, name: &str) -> Option<String> {
        self.segments.get(name).cloned()
    }
    fn segments(&self) -> Vec<String> {
        self.segments.keys().cloned().collect()
    }
    fn profile_values(&self, name: &str) -> Option<Vec<String>> {
        self.values(Table::Profiles, name)
    }
    fn event_values(&self, name: &str) -> Option<Vec<String>> {
        if EVENT_INTERNAL.contains(&name) {
            return None;
        }
        self.values(Table::Events, name)
    }
}

impl DatasetCatalog<'_> {
    /// The values of a text column, only when it is one.
    fn values(&self, table: Table, name: &str) -> Option<Vec<String>> {
        let schema = match table {
            Table::Profiles => self.dataset.profiles_schema(),
            Table::Events => self.dataset.events_schema(),
        };
        let text = schema.field_with_name(name).ok()?;
        if field_type(text.data_type()) != FieldType::String {
            return None;
        }
        Some(self.dataset.known_values(table, name)?.to_vec())
    }
}
