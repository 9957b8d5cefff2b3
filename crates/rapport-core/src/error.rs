//! [`DomainError`]: what the core rejects. Every message names the field and says why; it
//! shows the bad value when that value is not personal (`nps `11` is out of range 0..=10`).
//!
//! A rejected email, phone number or name is personal data, so its error keeps the field and
//! the reason but not the text: `email <redacted> is invalid: it has no domain`. The message
//! (and the `Debug` of the error) can go to any log. The caller still holds the text it passed
//! in; a front end that shows the error to the person who typed it (the CLI, next to a CSV line
//! number) adds the text itself.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::model::id::{CustomerId, OrderId};
use crate::model::money::{Currency, Money};

/// A rule of the domain was broken: invalid input, an illegal transition or a bad policy.
///
/// ```
/// use rapport_core::{DomainError, Nps};
/// let err = Nps::new(11).unwrap_err();
/// assert!(matches!(err, DomainError::OutOfRange { field: "nps", .. }));
/// assert_eq!(err.to_string(), "nps `11` is out of range 0..=10");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DomainError {
    /// An id that is not a UUID.
    #[error("{field} `{value}` is not a UUID")]
    InvalidId {
        /// The field.
        field: &'static str,
        /// The rejected text.
        value: String,
    },
    /// A currency code that is not three letters.
    #[error("{field} `{value}` is not an ISO 4217 currency code (three letters)")]
    InvalidCurrency {
        /// The field.
        field: &'static str,
        /// The rejected text.
        value: String,
    },
    /// Two amounts in different currencies were combined.
    #[error("currency mismatch: expected {expected}, found {found}")]
    CurrencyMismatch {
        /// The currency already in use.
        expected: Currency,
        /// The other currency.
        found: Currency,
    },
    /// A sum does not fit in a `Decimal`.
    #[error("{field} overflowed")]
    Overflow {
        /// The field.
        field: &'static str,
    },
    /// An email that fails the syntax check. The rejected text is personal data and is not
    /// kept.
    ///
    /// ```
    /// use rapport_core::{DomainError, Email};
    /// let err = Email::parse("alice.smith@example").unwrap_err();
    /// assert_eq!(err, DomainError::InvalidEmail { reason: "its domain has no dot" });
    /// assert_eq!(err.to_string(), "email <redacted> is invalid: its domain has no dot");
    /// ```
    #[error("email <redacted> is invalid: {reason}")]
    InvalidEmail {
        /// Why.
        reason: &'static str,
    },
    /// A phone number that cannot be read as E.164. The rejected text is personal data and is
    /// not kept.
    ///
    /// ```
    /// use rapport_core::{DomainError, Phone, Region};
    /// let err = Phone::parse("138 0013 80ab", "CN".parse::<Region>()?).unwrap_err();
    /// assert!(matches!(err, DomainError::InvalidPhone { .. }));
    /// assert!(err.to_string().starts_with("phone <redacted> is invalid: it has characters"));
    /// # Ok::<(), DomainError>(())
    /// ```
    #[error("phone <redacted> is invalid: {reason}")]
    InvalidPhone {
        /// Why.
        reason: &'static str,
    },
    /// A person's name that breaks its rule (empty, too long, control characters). The
    /// rejected text is personal data and is not kept.
    ///
    /// ```
    /// use rapport_core::{DomainError, Profile};
    /// let err = Profile::normalise_name("Wang\u{7}Fang").unwrap_err();
    /// assert_eq!(err, DomainError::InvalidName { field: "display_name", reason: "it contains a control character" });
    /// assert_eq!(err.to_string(), "display_name <redacted> is invalid: it contains a control character");
    /// ```
    #[error("{field} <redacted> is invalid: {reason}")]
    InvalidName {
        /// The field.
        field: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// An unknown region code.
    #[error("region `{value}` is not an ISO 3166-1 alpha-2 code with a phone numbering plan")]
    InvalidRegion {
        /// The rejected text.
        value: String,
    },
    /// A tag that is not `namespace:name`.
    #[error("tag `{value}` is invalid: {reason}")]
    InvalidTag {
        /// The rejected text.
        value: String,
        /// Why.
        reason: &'static str,
    },
    /// A text field that breaks its syntax rule (attribute keys, idempotency keys, order ids).
    /// Not for personal text: a name is [`DomainError::InvalidName`].
    #[error("{field} `{value}` is invalid: {reason}")]
    InvalidText {
        /// The field.
        field: &'static str,
        /// The rejected text.
        value: String,
        /// Why.
        reason: &'static str,
    },
    /// A money amount below zero where only zero or more is allowed.
    #[error("{field} `{value}` is negative")]
    NegativeAmount {
        /// The field.
        field: &'static str,
        /// The rejected amount.
        value: Decimal,
    },
    /// A number outside its allowed range (NPS 11, CSAT 0, ...).
    #[error("{field} `{value}` is out of range {min}..={max}")]
    OutOfRange {
        /// The field.
        field: &'static str,
        /// The rejected value.
        value: String,
        /// Smallest allowed.
        min: String,
        /// Largest allowed.
        max: String,
    },
    /// A change to a customer that is merged into another or erased.
    #[error("customer {customer} is {state} and cannot change")]
    Tombstoned {
        /// The customer.
        customer: CustomerId,
        /// `merged` or `erased`.
        state: &'static str,
    },
    /// A lifecycle transition the table does not allow.
    #[error("illegal stage transition from {from} to {to}: {reason}")]
    IllegalTransition {
        /// Current stage.
        from: &'static str,
        /// Requested stage.
        to: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// A changeset that breaks its own rules (e.g. an update without a version step).
    #[error("invalid changeset: {reason}")]
    InvalidChangeset {
        /// Why.
        reason: String,
    },
    /// A merge the rules refuse: a customer with itself, across tenants, or of a tombstone.
    #[error("cannot merge customer {loser} into {survivor}: {reason}")]
    InvalidMerge {
        /// The record that would be kept.
        survivor: CustomerId,
        /// The record that would become a tombstone.
        loser: CustomerId,
        /// Why.
        reason: &'static str,
    },
    /// A refund naming an order that no purchase of the customer recorded. Order ids are the
    /// host's order numbers, not personal data.
    ///
    /// ```
    /// use rapport_core::{DomainError, OrderId, OrderLedger, Money, Currency};
    /// let err = OrderLedger::default().check_refund(&OrderId::new("SO-9")?, Money::zero(Currency::USD), false).unwrap_err();
    /// assert!(matches!(&err, DomainError::UnknownOrder { order } if order.as_str() == "SO-9"));
    /// assert_eq!(err.to_string(), "order `SO-9` was not recorded for this customer");
    /// # Ok::<(), DomainError>(())
    /// ```
    #[error("order `{order}` was not recorded for this customer")]
    UnknownOrder {
        /// The order the refund named.
        order: OrderId,
    },
    /// A refund larger than what the purchase and the earlier refunds left of its order.
    ///
    /// ```
    /// use rapport_core::{Currency, DomainError, Money, OrderId};
    /// let usd = |s: &str| Money::new(s.parse().unwrap(), Currency::USD);
    /// let err = DomainError::RefundExceedsOrder { order: OrderId::new("SO-1")?, left: usd("50.00"), requested: usd("500.00") };
    /// assert_eq!(err.to_string(), "refund of 500.00 USD exceeds what is left of order `SO-1`: 50.00 USD");
    /// assert_eq!(err.field(), Some("refund.amount"));
    /// # Ok::<(), DomainError>(())
    /// ```
    #[error("refund of {requested} exceeds what is left of order `{order}`: {left}")]
    RefundExceedsOrder {
        /// The refunded order.
        order: OrderId,
        /// What was left of it (purchase less earlier refunds).
        left: Money,
        /// What the refund asked for.
        requested: Money,
    },
    /// A refund dated before the order it names was placed.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport_core::{DomainError, OrderId};
    /// let at = |d| Utc.with_ymd_and_hms(2026, 3, d, 12, 0, 0).unwrap();
    /// let err = DomainError::RefundBeforeOrder { order: OrderId::new("SO-1")?, purchased_at: at(5), refunded_at: at(4) };
    /// assert_eq!(
    ///     err.to_string(),
    ///     "refund at 2026-03-04T12:00:00Z is earlier than order `SO-1`, placed at 2026-03-05T12:00:00Z"
    /// );
    /// assert_eq!(err.field(), Some("at"));
    /// # Ok::<(), DomainError>(())
    /// ```
    #[error(
        "refund at {} is earlier than order `{order}`, placed at {}",
        refunded_at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        purchased_at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
    )]
    RefundBeforeOrder {
        /// The refunded order.
        order: OrderId,
        /// When the order was placed.
        purchased_at: DateTime<Utc>,
        /// When the refund says it happened.
        refunded_at: DateTime<Utc>,
    },
    /// An order's line items do not add up to its amount.
    ///
    /// ```
    /// use rapport_core::{Currency, DomainError, Money, OrderId};
    /// let usd = |s: &str| Money::new(s.parse().unwrap(), Currency::USD);
    /// let e = DomainError::LineTotalMismatch { order: OrderId::new("SO-1")?, lines: usd("9.00"), amount: usd("10.00") };
    /// assert_eq!(e.to_string(), "the line items of order `SO-1` add up to 9.00 USD, not the order's 10.00 USD");
    /// # Ok::<(), DomainError>(())
    /// ```
    #[error("the line items of order `{order}` add up to {lines}, not the order's {amount}")]
    LineTotalMismatch {
        /// The order.
        order: OrderId,
        /// Σ quantity × unit price.
        lines: Money,
        /// The purchase's (or refund's) amount.
        amount: Money,
    },
    /// A policy value the rules cannot work with.
    #[error("policy {field} `{value}` is invalid: {reason}")]
    InvalidPolicy {
        /// The policy field.
        field: &'static str,
        /// The rejected value.
        value: String,
        /// Why.
        reason: &'static str,
    },
    /// A case status change the case machine does not allow.
    ///
    /// ```
    /// use rapport_core::{CaseStatus, DomainError};
    /// let e = DomainError::IllegalCaseTransition { from: CaseStatus::Closed, to: CaseStatus::Open, reason: "a closed case is final" };
    /// assert_eq!(e.to_string(), "illegal case transition from closed to open: a closed case is final");
    /// ```
    #[error("illegal case transition from {from} to {to}: {reason}")]
    IllegalCaseTransition {
        /// Current status.
        from: crate::model::case::CaseStatus,
        /// Requested status.
        to: crate::model::case::CaseStatus,
        /// Why.
        reason: &'static str,
    },
    /// A double opt-in confirmation with no pending consent to confirm.
    #[error("no pending consent for {purpose} on {channel} to confirm")]
    NothingToConfirm {
        /// The purpose.
        purpose: crate::model::consent::Purpose,
        /// The channel.
        channel: crate::model::consent::ContactChannel,
    },
    /// An unmerge the rules refuse: the merge was undone already, the loser was erased since,
    /// or the survivor is no longer live (undo the later merge first).
    ///
    /// ```
    /// use rapport_core::{CustomerId, DomainError};
    /// let e = DomainError::CannotUnmerge { loser: CustomerId::from_u128(2), reason: "the loser was erased since" };
    /// assert_eq!(e.to_string(), "cannot unmerge customer 00000000-0000-0000-0000-000000000002: the loser was erased since");
    /// assert_eq!(e.field(), None);
    /// ```
    #[error("cannot unmerge customer {loser}: {reason}")]
    CannotUnmerge {
        /// The merged record the unmerge would restore.
        loser: CustomerId,
        /// Why.
        reason: &'static str,
    },
    /// An activity of a bulk import the rules refuse (a refund its order cannot take, lines
    /// that do not add up, …): the batch writes nothing, and the error names the activity.
    ///
    /// ```
    /// use rapport_core::{ActivityId, DomainError, OrderId};
    /// let e = DomainError::ImportedActivity {
    ///     activity: ActivityId::from_u128(7),
    ///     error: Box::new(DomainError::UnknownOrder { order: OrderId::new("SO-9")? }),
    /// };
    /// assert_eq!(
    ///     e.to_string(),
    ///     "activity 00000000-0000-0000-0000-000000000007: order `SO-9` was not recorded for this customer"
    /// );
    /// assert_eq!(e.field(), Some("order_id"));
    /// # Ok::<(), DomainError>(())
    /// ```
    #[error("activity {activity}: {error}")]
    ImportedActivity {
        /// The refused activity.
        activity: crate::model::id::ActivityId,
        /// Why.
        error: Box<DomainError>,
    },
}

impl DomainError {
    /// The field the error is about, when there is one.
    ///
    /// ```
    /// use rapport_core::{Csat, DomainError, Email};
    /// assert_eq!(Csat::new(9).unwrap_err().field(), Some("csat"));
    /// assert_eq!(Email::parse("nobody").unwrap_err().field(), Some("email"));
    /// let e = DomainError::InvalidChangeset { reason: "no version step".into() };
    /// assert_eq!(e.field(), None);
    /// ```
    #[must_use]
    pub fn field(&self) -> Option<&'static str> {
        match self {
            DomainError::InvalidId { field, .. }
            | DomainError::InvalidCurrency { field, .. }
            | DomainError::Overflow { field }
            | DomainError::InvalidText { field, .. }
            | DomainError::InvalidName { field, .. }
            | DomainError::NegativeAmount { field, .. }
            | DomainError::OutOfRange { field, .. }
            | DomainError::InvalidPolicy { field, .. } => Some(field),
            DomainError::InvalidEmail { .. } => Some("email"),
            DomainError::InvalidPhone { .. } => Some("phone"),
            DomainError::InvalidRegion { .. } => Some("region"),
            DomainError::InvalidTag { .. } => Some("tag"),
            DomainError::CurrencyMismatch { .. } => Some("currency"),
            DomainError::UnknownOrder { .. } => Some("order_id"),
            DomainError::RefundExceedsOrder { .. } => Some("refund.amount"),
            DomainError::RefundBeforeOrder { .. } => Some("at"),
            DomainError::LineTotalMismatch { .. } => Some("line_items"),
            DomainError::Tombstoned { .. }
            | DomainError::IllegalTransition { .. }
            | DomainError::InvalidChangeset { .. }
            | DomainError::InvalidMerge { .. }
            | DomainError::IllegalCaseTransition { .. }
            | DomainError::CannotUnmerge { .. } => None,
            DomainError::NothingToConfirm { .. } => Some("consent"),
            DomainError::ImportedActivity { error, .. } => error.field(),
        }
    }
}
