//! What is in the data, for someone about to write a segment: the event
//! types and how often each occurs, every attribute and property with the
//! type the DSL sees, and the values (with counts) of the text columns that
//! have few of them.

use arrow::array::AsArray;
use arrow::compute::cast;
use arrow::datatypes::{DataType, Int64Type};
use datafusion::functions_aggregate::expr_fn::count;
use datafusion::prelude::{DataFrame, ident, lit};
use strata_dsl::{Catalog, FieldType};

use crate::dataset::Table;
use crate::plan::tables::{EVENTS, PROFILES};
use crate::{Engine, Result};

/// Text columns with at most this many distinct values have them listed.
pub const MAX_LISTED_VALUES: usize = 30;

/// See the module docs.
#[derive(Debug, Clone, PartialEq)]
pub struct Discovery {
    /// Every event type with its number of events, most frequent first.
    pub event_types: Vec<ValueCount>,
    /// Profile attributes with their DSL types, in schema order.
    pub profile_attributes: Vec<(String, FieldType)>,
    /// Event properties (usable in `WHERE` and aggregates) with their DSL
    /// types, in schema order.
    pub event_properties: Vec<(String, FieldType)>,
    /// The values of low-cardinality text columns.
    pub values: Vec<ColumnValues>,
}

/// A value and how many rows hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueCount {
    pub value: String,
    pub count: u64,
}

/// The values of one text column, most frequent first (NULLs left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnValues {
    /// `profiles` or `events`.
    pub table: &'static str,
    pub column: String,
    pub values: Vec<ValueCount>,
}

impl Engine {
    /// Describes the data for segment writers (see [`Discovery`]): one
    /// grouped scan for the event types and one per listed text column,
    /// whose values the dictionary pages already bound to
    /// [`MAX_LISTED_VALUES`].
    pub async fn discover(&self) -> Result<Discovery> {
        let catalog = self.catalog()?;
        let typed = |names: Vec<String>, ty: &dyn Fn(&str) -> Option<FieldType>| {
            names
                .into_iter()
                .filter_map(|n| ty(&n).map(|t| (n, t)))
                .collect::<Vec<_>>()
        };
        let profile_attributes = typed(catalog.profile_fields(), &|n| catalog.profile_field(n));
        let event_properties = typed(catalog.event_properties(), &|n| catalog.event_property(n));
        let event_types = self.value_counts(EVENTS, "event_type").await?;
        let mut values = Vec::new();
        for (table, name, attrs) in [
            (Table::Profiles, PROFILES, &profile_attributes),
            (Table::Events, EVENTS, &event_properties),
        ] {
            for (column, ty) in attrs {
                let few = *ty == FieldType::String
                    && self
                        .dataset()
                        .known_values(table, column)
                        .is_some_and(|v| v.len() <= MAX_LISTED_VALUES);
                if few {
                    values.push(ColumnValues {
                        table: name,
                        column: column.clone(),
                        values: self.value_counts(name, column).await?,
                    });
                }
            }
        }
        Ok(Discovery {
            event_types,
            profile_attributes,
            event_properties,
            values,
        })
    }

    /// `SELECT column, count(*) FROM table WHERE column IS NOT NULL GROUP
    /// BY column`, most frequent first (ties by value).
    async fn value_counts(&self, table: &str, column: &str) -> Result<Vec<ValueCount>> {
        let df: DataFrame = self
            .session()
            .table(table)
            .await?
            .filter(ident(column).is_not_null())?
            .aggregate(vec![ident(column)], vec![count(lit(1)).alias("n")])?
            .sort(vec![
                ident("n").sort(false, false),
                ident(column).sort(true, false),
            ])?;
        let mut out = Vec::new();
        for batch in df.collect().await? {
            let values = cast(batch.column(0), &DataType::Utf8)?;
            let (values, counts) = (values.as_string::<i32>(), batch.column(1));
            let counts = counts.as_primitive::<Int64Type>();
            for i in 0..batch.num_rows() {
                out.push(ValueCount {
                    value: values.value(i).to_string(),
                    count: u64::try_from(counts.value(i)).unwrap_or(0),
                });
            }
        }
        Ok(out)
    }
}
