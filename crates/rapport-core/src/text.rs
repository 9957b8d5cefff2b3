//! Small validated text newtypes shared by several modules.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::DomainError;

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
