//! The import roles: one table ([`ROLES`]) that the importer (mapping,
//! validation, collecting, writing) and the `strata import` flags are built
//! from.
//!
//! Adding a role is one row in [`ROLES`] and its [`Role`] variant (plus a
//! [`RoleKind`] if its values are of a new kind). The profile id and the
//! event time are not roles of this table: every event has them, and they
//! are fields of their own in [`ImportConfig`](super::ImportConfig).

use std::fmt;

/// An event column the importer knows: a role a column of the input (or a
/// constant) can be mapped to. Written under its canonical name
/// ([`RoleSpec::name`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// `event_type` (required; `refund` for negative amounts with
    /// `refund_if_negative`).
    EventType,
    /// `channel`, lower-cased.
    Channel,
    /// `amount`, Decimal(18,2) (times `amount_times`, if given).
    Amount,
    /// `currency`.
    Currency,
    /// `order_id`.
    OrderId,
    /// `product_id`.
    ProductId,
    /// `category`.
    Category,
    /// `quantity`, Int64.
    Quantity,
    /// `payment_method`.
    PaymentMethod,
    /// `campaign_id`.
    CampaignId,
}

/// What a role's values are, in the input and in the written column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleKind {
    /// Utf8 with few distinct values (interned while importing).
    /// `lowercase`: values are lower-cased (`Web` → `web`).
    Label {
        /// Lower-case the values.
        lowercase: bool,
    },
    /// Utf8, any number of distinct values (ids).
    Text,
    /// A decimal amount, written as Decimal(18,2).
    Amount,
    /// An integer (`3.0` accepted), written as Int64.
    Int64,
}

/// One row of the role table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleSpec {
    /// The role.
    pub role: Role,
    /// Canonical column name: the name written, the input column taken
    /// when the role is not mapped explicitly, and (with `-` for `_`) the
    /// `strata import` flag.
    pub name: &'static str,
    /// The values' kind.
    pub kind: RoleKind,
    /// Every event has one: the role is always mapped (by default to the
    /// column with its canonical name, which must then exist), an empty
    /// value is a bad row, and the written column is not nullable.
    pub required: bool,
    /// Help of the `--<flag> COL` option.
    pub help: &'static str,
    /// Help of the `--<flag>-const VALUE` option; `None`: the role cannot
    /// be a constant.
    pub constant: Option<&'static str>,
}

/// The roles, in the order their columns are written (after `profile_id`
/// and `event_time`).
pub const ROLES: &[RoleSpec] = &[
    RoleSpec {
        role: Role::EventType,
        name: "event_type",
        kind: RoleKind::Label { lowercase: false },
        required: true,
        help: "Column with the event type (default: `event_type`)",
        constant: Some("One event type for every row, e.g. `purchase` for a transactions file"),
    },
    RoleSpec {
        role: Role::Channel,
        name: "channel",
        kind: RoleKind::Label { lowercase: true },
        required: false,
        help: "Column with the channel (web, app, pos, ...)",
        constant: Some("One channel for every row, e.g. `web` for an online shop's export"),
    },
    RoleSpec {
        role: Role::Amount,
        name: "amount",
        kind: RoleKind::Amount,
        required: false,
        help: "Column with the monetary amount (decimal, stored as Decimal(18,2))",
        constant: None,
    },
    RoleSpec {
        role: Role::Currency,
        name: "currency",
        kind: RoleKind::Label { lowercase: false },
        required: false,
        help: "Column with the currency code",
        constant: Some("One currency for every row, e.g. `GBP`"),
    },
    RoleSpec {
        role: Role::OrderId,
        name: "order_id",
        kind: RoleKind::Text,
        required: false,
        help: "Column with the order id (→ `order_id`)",
        constant: None,
    },
    RoleSpec {
        role: Role::ProductId,
        name: "product_id",
        kind: RoleKind::Text,
        required: false,
        help: "Column with the product id (→ `product_id`)",
        constant: None,
    },
    RoleSpec {
        role: Role::Category,
        name: "category",
        kind: RoleKind::Text,
        required: false,
        help: "Column with the product category (→ `category`)",
        constant: None,
    },
    RoleSpec {
        role: Role::Quantity,
        name: "quantity",
        kind: RoleKind::Int64,
        required: false,
        help: "Column with the quantity (→ `quantity`, Int64)",
        constant: None,
    },
    RoleSpec {
        role: Role::PaymentMethod,
        name: "payment_method",
        kind: RoleKind::Text,
        required: false,
        help: "Column with the payment method (→ `payment_method`)",
        constant: None,
    },
    RoleSpec {
        role: Role::CampaignId,
        name: "campaign_id",
        kind: RoleKind::Text,
        required: false,
        help: "Column with the campaign id (→ `campaign_id`)",
        constant: None,
    },
];

impl Role {
    /// This role's row of [`ROLES`].
    pub fn spec(self) -> &'static RoleSpec {
        ROLES
            .iter()
            .find(|s| s.role == self)
            .expect("every role has a row in ROLES")
    }

    /// The canonical column name (`"order_id"`).
    pub fn name(self) -> &'static str {
        self.spec().name
    }

    /// The role with canonical column name `name`.
    pub fn from_name(name: &str) -> Option<Role> {
        ROLES.iter().find(|s| s.name == name).map(|s| s.role)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl RoleSpec {
    /// The `strata import` option of the role's column, without dashes:
    /// `order-id`.
    pub fn flag(&self) -> String {
        self.name.replace('_', "-")
    }

    /// The option of the role's constant (`channel-const`), if it can be
    /// one.
    pub fn const_flag(&self) -> Option<String> {
        self.constant.map(|_| format!("{}-const", self.flag()))
    }
}

/// Roles the way `strata import` lists them (flags, `--help`, messages):
/// the event type and the amount first (the amount's `--amount-times` and
/// `--refund-if-negative` follow it), then the others in table order.
pub fn roles_in_flag_order() -> impl Iterator<Item = &'static RoleSpec> {
    const FIRST: [Role; 2] = [Role::EventType, Role::Amount];
    FIRST
        .iter()
        .map(|r| r.spec())
        .chain(ROLES.iter().filter(|s| !FIRST.contains(&s.role)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_consistent() {
        for (i, spec) in ROLES.iter().enumerate() {
            assert_eq!(spec.role.spec(), spec, "{} has two rows", spec.name);
            assert_eq!(Role::from_name(spec.name), Some(spec.role));
            assert!(
                ROLES[..i].iter().all(|s| s.name != spec.name),
                "{} twice",
                spec.name
            );
            assert!(
                spec.constant.is_none() || matches!(spec.kind, RoleKind::Label { .. }),
                "{}: only labels can be constants",
                spec.name
            );
            assert!(
                !["profile_id", "event_time"].contains(&spec.name),
                "{} is not a role",
                spec.name
            );
            assert!(
                !spec.help.ends_with('.'),
                "{}: help ends with '.'",
                spec.name
            );
        }
        assert_eq!(roles_in_flag_order().count(), ROLES.len());
        assert_eq!(Role::OrderId.spec().flag(), "order-id");
        assert_eq!(
            Role::Channel.spec().const_flag().as_deref(),
            Some("channel-const")
        );
        assert_eq!(Role::Amount.spec().const_flag(), None);
        assert_eq!(Role::PaymentMethod.to_string(), "payment_method");
    }

    #[test]
    fn flag_order_is_the_documented_one() {
        let names: Vec<&str> = roles_in_flag_order().map(|s| s.name).collect();
        assert_eq!(
            names,
            [
                "event_type",
                "amount",
                "channel",
                "currency",
                "order_id",
                "product_id",
                "category",
                "quantity",
                "payment_method",
                "campaign_id"
            ]
        );
    }
}
