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
    /// A list, e.g. `interests` (`List<Utf8>`).
    List(Box<FieldType>),
    /// A type the DSL cannot compare (structs, binary, ...). Usable only with
    /// `IS [NOT] NULL`.
    Other,
}

impl std::fmt::Display for FieldType {
    /// The type's name in docs and listings: `boolean`, `integer`,
    /// `number`, `text`, `date`, `timestamp`, `list of text`, `other`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FieldType::Bool => f.write_str("boolean"),
            FieldType::Int => f.write_str("integer"),
            FieldType::Float => f.write_str("number"),
            FieldType::String => f.write_str("text"),
            FieldType::Date => f.write_str("date"),
            FieldType::Timestamp => f.write_str("timestamp"),
            FieldType::List(inner) => write!(f, "list of {inner}"),
            FieldType::Other => f.write_str("other"),
        }
    }
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
    /// Every value of a text profile attribute, when the column has few
    /// distinct values and they are known cheaply; `None` otherwise (no
    /// warning is given for its values, see [`crate::warnings`]).
    fn profile_values(&self, _name: &str) -> Option<Vec<String>> {
        None
    }
    /// Every value of a text event property over all event types, like
    /// [`Catalog::profile_values`].
    fn event_values(&self, _name: &str) -> Option<Vec<String>> {
        None
    }
}

/// An in-memory catalog, for tests, docs and programs that know their schema.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StaticCatalog {
    pub profile_fields: BTreeMap<String, FieldType>,
    pub event_properties: BTreeMap<String, FieldType>,
    pub event_types: Vec<String>,
    pub segments: BTreeMap<String, String>,
    /// Known values of text profile attributes.
    #[serde(default)]
    pub profile_values: BTreeMap<String, Vec<String>>,
    /// Known values of text event properties.
    #[serde(default)]
    pub event_values: BTreeMap<String, Vec<String>>,
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
    fn profile_values(&self, name: &str) -> Option<Vec<String>> {
        self.profile_values.get(name).cloned()
    }
    fn event_values(&self, name: &str) -> Option<Vec<String>> {
        self.event_values.get(name).cloned()
    }
}

impl StaticCatalog {
    /// An empty catalog.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a profile attribute.
    pub fn with_profile_field(mut self, name: impl Into<String>, ty: FieldType) -> Self {
        self.profile_fields.insert(name.into(), ty);
        self
    }

    /// Adds an event property.
    pub fn with_event_property(mut self, name: impl Into<String>, ty: FieldType) -> Self {
        self.event_properties.insert(name.into(), ty);
        self
    }

    /// Adds an event type.
    pub fn with_event_type(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        if !self.event_types.contains(&name) {
            self.event_types.push(name);
        }
        self
    }

    /// Records every value of a text profile attribute.
    pub fn with_profile_values<S: Into<String>>(
        mut self,
        name: impl Into<String>,
        values: impl IntoIterator<Item = S>,
    ) -> Self {
        let values = values.into_iter().map(Into::into).collect();
        self.profile_values.insert(name.into(), values);
        self
    }

    /// Records every value of a text event property.
    pub fn with_event_values<S: Into<String>>(
        mut self,
        name: impl Into<String>,
        values: impl IntoIterator<Item = S>,
    ) -> Self {
        let values = values.into_iter().map(Into::into).collect();
        self.event_values.insert(name.into(), values);
        self
    }

    /// Adds a saved segment (its DSL text).
    pub fn with_segment(mut self, name: impl Into<String>, text: impl Into<String>) -> Self {
        self.segments.insert(name.into(), text.into());
        self
    }

    /// The schema of the synthetic store that `strata gen` writes
    /// (docs/design.md#table-schemas), with two saved segments, `vip` and
    /// `email_reachable`. Used by tests, docs and examples.
    pub fn demo() -> Self {
        use FieldType::*;
        let profile = [
            ("profile_id", Int),
            ("external_id", String),
            ("email", String),
            ("first_name", String),
            ("last_name", String),
            ("gender", String),
            ("birth_date", Date),
            ("language", String),
            ("timezone", String),
            ("country", String),
            ("region", String),
            ("city", String),
            ("signup_at", Timestamp),
            ("app_version", String),
            ("loyalty_tier", String),
            ("consent_email", Bool),
            ("consent_push", Bool),
            ("consent_sms", Bool),
            ("favorite_color", String),
            ("interests", List(Box::new(String))),
            ("purchase_intent", String),
        ];
        let events = [
            ("event_time", Timestamp),
            ("channel", String),
            ("amount", Float),
            ("currency", String),
            ("order_id", String),
            ("product_id", String),
            ("category", String),
            ("quantity", Int),
            ("payment_method", String),
            ("campaign_id", String),
        ];
        let types = [
            "session_start",
            "app_open",
            "page_view",
            "product_view",
            "add_to_cart",
            "cart_abandoned",
            "checkout_started",
            "purchase",
            "refund",
            "email_open",
            "email_click",
            "push_open",
            "in_app_click",
            "account_created",
            "survey_answered",
        ];
        let mut c = StaticCatalog::new();
        for (n, t) in profile {
            c = c.with_profile_field(n, t);
        }
        for (n, t) in events {
            c = c.with_event_property(n, t);
        }
        for t in types {
            c = c.with_event_type(t);
        }
        c.with_segment("vip", "rfm.segment IN ('champions', 'loyal')")
            .with_segment("email_reachable", "consent_email AND email IS NOT NULL")
            .with_profile_values("loyalty_tier", ["bronze", "gold", "platinum", "silver"])
            .with_event_values(
                "channel",
                ["app", "email", "pos", "push", "sms", "social", "web"],
            )
            .with_event_values(
                "category",
                [
                    "accessories",
                    "apparel",
                    "beauty",
                    "books",
                    "electronics",
                    "grocery",
                    "home",
                    "kids",
                    "shoes",
                    "sports",
                ],
            )
    }
}
