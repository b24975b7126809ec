//! What the type checker needs to know about a dataset. The engine implements
//! [`Catalog`] over its real schemas; tests use [`StaticCatalog`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The DSL's view of a column type.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Bool,
    Int,
    Float,
    String,
    /// A calendar date (Date32).
    Date,
    /// An instant (Timestamp, UTC).
    Timestamp,
    /// A list, e.g. `interests` (List<Utf8>).
    List(Box<FieldType>),
    /// A type the DSL cannot compare (structs, binary, ...). Usable only with
    /// `IS [NOT] NULL`.
    Other,
}

/// Schemas, event types and saved segments of one dataset.
pub trait Catalog {
    /// Type of a profile attribute, `None` if there is no such column.
    fn profile_field(&self, name: &str) -> Option<FieldType>;
    /// Every profile attribute name (for did-you-mean).
    fn profile_fields(&self) -> Vec<String>;
    /// Type of an event property, `None` if there is no such column.
    fn event_property(&self, name: &str) -> Option<FieldType>;
    /// Every event property name (for did-you-mean).
    fn event_properties(&self) -> Vec<String>;
    /// The event types present in the dataset (distinct `event_type`).
    fn event_types(&self) -> Vec<String>;
    /// The DSL text of a saved segment, `None` if there is none.
    fn segment(&self, name: &str) -> Option<String>;
    /// Every saved segment name (for did-you-mean).
    fn segments(&self) -> Vec<String>;
}

/// An in-memory catalog, for tests, docs and programs that know their schema.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StaticCatalog {
    pub profile_fields: BTreeMap<String, FieldType>,
    pub event_properties: BTreeMap<String, FieldType>,
    pub event_types: Vec<String>,
    pub segments: BTreeMap<String, String>,
}

impl Catalog for StaticCatalog {
    fn profile_field(&self, name: &str) -> Option<FieldType> {
        self.profile_fields.get(name).cloned()
    }
    fn profile_fields(&self) -> Vec<String> {
        self.profile_fields.keys().cloned().collect()
    }
    fn event_property(&self, name: &str) -> Option<FieldType> {
        self.event_properties.get(name).cloned()
    }
    fn event_properties(&self) -> Vec<String> {
        self.event_properties.keys().cloned().collect()
    }
    fn event_types(&self) -> Vec<String> {
        self.event_types.clone()
    }
    fn segment(&self, name: &str) -> Option<String> {
        self.segments.get(name).cloned()
    }
    fn segments(&self) -> Vec<String> {
        self.segments.keys().cloned().collect()
    }
}
