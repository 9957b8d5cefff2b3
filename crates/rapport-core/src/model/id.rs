//! Identifiers and keys: newtypes over [`Uuid`] so a customer id can never be passed where a tenant id
//! is expected. The core never makes ids itself; they come in from the caller (see
//! `rapport::IdSource`), which keeps every decision replayable.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::DomainError;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $field:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        // The byte order of the UUID, compared as one big-endian integer: the same order as
        // comparing the bytes, without a `memcmp` call per comparison in ordered maps.
        impl Ord for $name {
            fn cmp(&self, other: &Self) -> std::cmp::Ordering {
                self.0.as_u128().cmp(&other.0.as_u128())
            }
        }

        impl PartialOrd for $name {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }

        impl $name {
            /// Wraps an existing UUID.
            ///
            #[doc = concat!("```\nuse rapport_core::", stringify!($name), ";\nlet uuid = uuid::Uuid::from_u128(7);\nassert_eq!(", stringify!($name), "::from_uuid(uuid).as_uuid(), &uuid);\n```")]
            #[must_use]
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// Builds an id from a 128-bit integer (handy for tests and fixtures).
            ///
            #[doc = concat!("```\nuse rapport_core::", stringify!($name), ";\nlet id = ", stringify!($name), "::from_u128(7);\nassert_eq!(id.to_string(), \"00000000-0000-0000-0000-000000000007\");\n```")]
            #[must_use]
            pub const fn from_u128(value: u128) -> Self {
                Self(Uuid::from_u128(value))
            }

            /// The underlying UUID.
            ///
            #[doc = concat!("```\nuse rapport_core::", stringify!($name), ";\nassert_eq!(", stringify!($name), "::from_u128(7).as_uuid().as_u128(), 7);\n```")]
            #[must_use]
            pub const fn as_uuid(&self) -> &Uuid {
                &self.0
            }

            /// The id as a 16-byte array (big-endian), e.g. for a `BLOB` column.
            ///
            #[doc = concat!("```\nuse rapport_core::", stringify!($name), ";\nassert_eq!(", stringify!($name), "::from_u128(0x0102).to_bytes()[14..], [1, 2]);\n```")]
            #[must_use]
            pub const fn to_bytes(self) -> [u8; 16] {
                *self.0.as_bytes()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl FromStr for $name {
            type Err = DomainError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s.trim()).map(Self).map_err(|_| DomainError::InvalidId {
                    field: $field,
                    value: s.to_owned(),
                })
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }
    };
}

uuid_id!(
    /// An isolated customer book. Every read and write is scoped to exactly one tenant.
    ///
    /// ```
    /// use rapport_core::TenantId;
    /// let t: TenantId = "0190a4c2-7b1e-7000-8000-000000000001".parse().unwrap();
    /// assert_eq!(t.to_string(), "0190a4c2-7b1e-7000-8000-000000000001");
    /// assert!("not-a-uuid".parse::<TenantId>().is_err());
    /// assert_eq!(TenantId::from_uuid(*t.as_uuid()), t);
    /// assert_eq!(TenantId::from_u128(1).to_bytes(), 1u128.to_be_bytes());
    /// ```
    TenantId,
    "tenant_id"
);
uuid_id!(
    /// A customer, unique within its tenant.
    ///
    /// ```
    /// use rapport_core::CustomerId;
    /// use uuid::Uuid;
    /// let id = CustomerId::from_uuid(Uuid::from_u128(7));
    /// assert_eq!(id, CustomerId::from_u128(7));
    /// assert_eq!(id.as_uuid(), &Uuid::from_u128(7));
    /// assert_eq!(u128::from_be_bytes(id.to_bytes()), 7);
    /// assert!(CustomerId::from_u128(7) < CustomerId::from_u128(8)); // ordered as stores page
    /// ```
    CustomerId,
    "customer_id"
);
uuid_id!(
    /// One recorded activity (purchase, visit, complaint, ...).
    ///
    /// ```
    /// use rapport_core::ActivityId;
    /// let id = ActivityId::from_u128(1);
    /// assert_eq!(id.to_bytes()[15], 1);
    /// assert_eq!(ActivityId::from_uuid(*id.as_uuid()), id);
    /// ```
    ActivityId,
    "activity_id"
);
uuid_id!(
    /// One outbox message; receivers use it to drop duplicate deliveries.
    ///
    /// ```
    /// use rapport_core::MessageId;
    /// let id = MessageId::from_u128(42);
    /// assert_eq!(id.as_uuid().as_u128(), 42);
    /// assert_eq!(MessageId::from_uuid(uuid::Uuid::from_bytes(id.to_bytes())), id);
    /// ```
    MessageId,
    "message_id"
);
uuid_id!(
    /// A case (complaint or service request), unique within its tenant.
    ///
    /// ```
    /// use rapport_core::CaseId;
    /// assert_eq!(CaseId::from_u128(3).to_string(), "00000000-0000-0000-0000-000000000003");
    /// ```
    CaseId,
    "case_id"
);
uuid_id!(
    /// A company account (B2B), unique within its tenant.
    ///
    /// ```
    /// use rapport_core::AccountId;
    /// assert_eq!(AccountId::from_u128(4).to_string(), "00000000-0000-0000-0000-000000000004");
    /// ```
    AccountId,
    "account_id"
);
uuid_id!(
    /// One entry of the consent ledger. Entries are never rewritten except to move them to a
    /// merge survivor or to strip their free text on erasure.
    ///
    /// ```
    /// use rapport_core::ConsentEntryId;
    /// let id = ConsentEntryId::from_u128(3);
    /// assert_eq!(ConsentEntryId::from_uuid(*id.as_uuid()), id);
    /// ```
    ConsentEntryId,
    "consent_entry_id"
);

uuid_id!(
    /// One merge, as its merge record names it; [`unmerge`](crate::quality::merge_op::plan_unmerge) takes it back.
    ///
    /// ```
    /// use rapport_core::MergeId;
    /// let id: MergeId = "00000000-0000-0000-0000-000000000009".parse().unwrap();
    /// assert_eq!(id, MergeId::from_u128(9));
    /// ```
    MergeId,
    "merge_id"
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn id_order_is_byte_order(a in any::<u128>(), b in any::<u128>()) {
            let (x, y) = (CustomerId::from_u128(a), CustomerId::from_u128(b));
            prop_assert_eq!(x.cmp(&y), x.to_bytes().cmp(&y.to_bytes()));
        }
    }
}

// Keys: small validated text newtypes (idempotency keys, order ids, actors).
/// Checks a host-supplied identifier-like text: 1–`max` characters, no control characters,
/// no leading or trailing whitespace.
pub(crate) fn check_key(field: &'static str, s: &str, max: usize) -> Result<(), DomainError> {
    let fail = |reason| DomainError::InvalidText {
        field,
        value: s.to_owned(),
        reason,
    };
    if s.is_empty() {
        return Err(fail("it is empty"));
    }
    if s.chars().count() > max {
        return Err(fail("it is too long"));
    }
    if s.chars().any(char::is_control) {
        return Err(fail("it contains a control character"));
    }
    if s.trim() != s {
        return Err(fail("it has leading or trailing whitespace"));
    }
    Ok(())
}

macro_rules! key_type {
    ($(#[$doc:meta])* $name:ident, $field:literal, $max:expr) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps the text.
            ///
            #[doc = concat!("```\nuse rapport_core::", stringify!($name), ";\nassert!(", stringify!($name), "::new(\"A-1\").is_ok());\nassert!(", stringify!($name), "::new(\"A-1 \").is_err()); // trailing whitespace\n```")]
            ///
            /// # Errors
            /// [`DomainError::InvalidText`] when it is empty, too long, has control
            /// characters or surrounding whitespace.
            pub fn new(s: impl Into<String>) -> Result<Self, DomainError> {
                let s = s.into();
                check_key($field, &s, $max)?;
                Ok(Self(s))
            }

            /// The text.
            ///
            #[doc = concat!("```\nuse rapport_core::", stringify!($name), ";\nassert_eq!(", stringify!($name), "::new(\"A-1\").unwrap().as_str(), \"A-1\");\n```")]
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = DomainError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::new(s)
            }
        }

        impl From<$name> for String {
            fn from(k: $name) -> String {
                k.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({:?})"), self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

key_type!(
    /// The key that makes recording an activity idempotent: a second activity with the same
    /// key in the same tenant is reported as a duplicate, not stored twice.
    ///
    /// ```
    /// use rapport_core::IdempotencyKey;
    /// assert_eq!(IdempotencyKey::new("order-1001").unwrap().as_str(), "order-1001");
    /// assert!(IdempotencyKey::new("").is_err());
    /// assert!(IdempotencyKey::new(" order-1001").is_err()); // surrounding whitespace
    /// ```
    IdempotencyKey,
    "idempotency_key",
    200
);
key_type!(
    /// The host's order number, which links a refund to its purchase.
    ///
    /// ```
    /// use rapport_core::OrderId;
    /// assert_eq!(OrderId::new("SO-42").unwrap().as_str(), "SO-42");
    /// ```
    OrderId,
    "order_id",
    200
);
key_type!(
    /// Who did something by hand (a user name or id in the host app), recorded with overrides.
    ///
    /// ```
    /// use rapport_core::Actor;
    /// assert_eq!(Actor::new("alice@crm").unwrap().as_str(), "alice@crm");
    /// assert!(Actor::new("alice\n").is_err()); // control character
    /// ```
    Actor,
    "actor",
    200
);
key_type!(
    /// A case's category, a host label such as `delivery` or `billing/refund` (not free text:
    /// no personal data belongs here).
    ///
    /// ```
    /// use rapport_core::CaseCategory;
    /// assert_eq!(CaseCategory::new("delivery").unwrap().as_str(), "delivery");
    /// assert!(CaseCategory::new("").is_err());
    /// ```
    CaseCategory,
    "case.category",
    100
);
key_type!(
    /// Who works on a case: an opaque id of the host's agent or team (never interpreted).
    ///
    /// ```
    /// use rapport_core::Assignee;
    /// assert_eq!(Assignee::new("team-support-2").unwrap().as_str(), "team-support-2");
    /// assert!(Assignee::new(" x").is_err());
    /// ```
    Assignee,
    "case.assignee",
    200
);
key_type!(
    /// A company account's name (a company's, not a person's: not personal data).
    ///
    /// ```
    /// use rapport_core::AccountName;
    /// assert_eq!(AccountName::new("Acme Ltd").unwrap().as_str(), "Acme Ltd");
    /// assert!(AccountName::new("").is_err());
    /// ```
    AccountName,
    "account.name",
    200
);
key_type!(
    /// A product's stock-keeping unit: what a line item names and recommendations return.
    /// Ordered bytewise, which is how ties between equally good items are broken.
    ///
    /// ```
    /// use rapport_core::Sku;
    /// assert!(Sku::new("tea-oolong-100g").unwrap() < Sku::new("tea-puer").unwrap());
    /// assert!(Sku::new("").is_err());
    /// ```
    Sku,
    "sku",
    100
);
key_type!(
    /// A product category a line item names (`tea`, `cups`): what per-category spend and
    /// repeatable categories are keyed by.
    ///
    /// ```
    /// use rapport_core::ProductCategory;
    /// assert_eq!(ProductCategory::new("tea").unwrap().as_str(), "tea");
    /// assert!(ProductCategory::new("").is_err());
    /// ```
    ProductCategory,
    "category",
    100
);
