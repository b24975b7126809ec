//! The Arrow schemas of the tables this crate writes.

use std::sync::{Arc, LazyLock};

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// Precision of `events.amount`: Decimal128(18, 2).
pub const AMOUNT_PRECISION: u8 = 18;
/// Scale of `events.amount`: Decimal128(18, 2).
pub const AMOUNT_SCALE: i8 = 2;

/// Every event type the generator writes.
pub const EVENT_TYPES: [&str; 15] = [
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

/// Every channel value the generator writes.
pub const CHANNELS: [&str; 7] = ["web", "app", "pos", "email", "push", "sms", "social"];

/// The `event_time` / `signup_at` type: Timestamp(µs, "UTC").
pub fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// The `amount` type: Decimal128(18, 2).
pub fn amount_type() -> DataType {
    DataType::Decimal128(AMOUNT_PRECISION, AMOUNT_SCALE)
}

static PROFILES: LazyLock<SchemaRef> = LazyLock::new(|| {
    let utf8 = |name: &str| Field::new(name, DataType::Utf8, true);
    let boolean = |name: &str| Field::new(name, DataType::Boolean, true);
    Arc::new(Schema::new(vec![
        Field::new("profile_id", DataType::Int64, false),
        utf8("external_id"),
        utf8("email"),
        utf8("first_name"),
        utf8("last_name"),
        utf8("gender"),
        Field::new("birth_date", DataType::Date32, true),
        utf8("language"),
        utf8("timezone"),
        utf8("country"),
        utf8("region"),
        utf8("city"),
        Field::new("signup_at", timestamp_type(), true),
        utf8("app_version"),
        utf8("loyalty_tier"),
        boolean("consent_email"),
        boolean("consent_push"),
        boolean("consent_sms"),
        utf8("favorite_color"),
        Field::new(
            "interests",
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            true,
        ),
        utf8("purchase_intent"),
    ]))
});

static EVENTS: LazyLock<SchemaRef> = LazyLock::new(|| {
    let utf8 = |name: &str| Field::new(name, DataType::Utf8, true);
    Arc::new(Schema::new(vec![
        Field::new("profile_id", DataType::Int64, false),
        Field::new("event_time", timestamp_type(), false),
        Field::new("event_type", DataType::Utf8, false),
        utf8("channel"),
        Field::new("amount", amount_type(), true),
        utf8("currency"),
        utf8("order_id"),
        utf8("product_id"),
        utf8("category"),
        Field::new("quantity", DataType::Int64, true),
        utf8("payment_method"),
        utf8("campaign_id"),
    ]))
});

/// Schema of `profiles/*.parquet` as written by `strata gen`.
///
/// Imported datasets have `profile_id` and `external_id` first, followed by
/// the user's own columns.
pub fn profiles_schema() -> SchemaRef {
    PROFILES.clone()
}

/// Schema of `events/event_month=*/*.parquet` as written by `strata gen`
/// (the `event_month` partition column lives only in directory names).
///
/// Imported datasets have `profile_id`, `event_time`, `event_type` first,
/// then whichever of the other canonical columns were mapped, then the
/// user's own columns.
pub fn events_schema() -> SchemaRef {
    EVENTS.clone()
}
