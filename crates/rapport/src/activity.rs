//! [`NewActivity`]: an activity for [`crate::Service::record`], with one constructor per kind
//! that picks a sensible idempotency key and channel.

use chrono::{DateTime, Utc};
use rapport_core::{
    ActivityKind, Channel, CustomerId, DomainError, Feedback, IdempotencyKey, Money, OrderId,
    Severity,
};
use rust_decimal::Decimal;

/// An activity to record (the service gives it an id).
///
/// The constructors ([`NewActivity::purchase`], [`NewActivity::refund`],
/// [`NewActivity::visit`], …) fill in the channel ([`Channel::Web`]; change it with
/// [`NewActivity::via`]) and an idempotency key derived from what makes the activity unique,
/// so recording the same fact twice is a no-op (override it with [`NewActivity::with_key`]).
/// The fields stay public for hosts that build the whole literal.
///
/// ```
/// use chrono::Duration;
/// use rapport::{NewActivity, blocking::Service};
/// use rapport::core::*;
/// # use rapport_memory::MemoryStore;
/// let svc = Service::new(MemoryStore::new());
/// let t = TenantId::from_u128(1);
/// let ann = svc.register(t, Profile::default())?.customer;
/// let at = svc.now() - Duration::days(2);
/// let order = NewActivity::purchase(ann.id(), "SO-1", Money::new("40.00".parse()?, Currency::EUR), at)?
///     .via(Channel::Store);
/// assert_eq!(order.idempotency_key.as_str(), "purchase:SO-1");
/// let rec = svc.record(t, order.clone())?;
/// assert_eq!(rec.customer.stage(), Stage::New);
/// assert!(svc.record(t, order)?.duplicate); // the same order again changes nothing
///
/// // The literal works as before.
/// let literal = NewActivity {
///     customer: ann.id(),
///     at,
///     channel: Channel::Web,
///     idempotency_key: IdempotencyKey::new("order-2")?,
///     kind: ActivityKind::Purchase {
///         order_id: OrderId::new("2")?,
///         amount: Money::new("10".parse()?, Currency::EUR),
///         margin: None,
///     },
/// };
/// assert!(!svc.record(t, literal)?.duplicate);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewActivity {
    /// Who.
    pub customer: CustomerId,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// Where.
    pub channel: Channel,
    /// Makes recording idempotent.
    pub idempotency_key: IdempotencyKey,
    /// What.
    pub kind: ActivityKind,
}

/// `at` as it appears in generated keys: UTC, to the microsecond.
fn stamp(at: DateTime<Utc>) -> String {
    at.format("%Y%m%dT%H%M%S%.6fZ").to_string()
}

impl NewActivity {
    /// An activity of `kind` on the web channel with the given key, after checking the kind
    /// (amounts not negative).
    fn build(
        customer: CustomerId,
        at: DateTime<Utc>,
        key: String,
        kind: ActivityKind,
    ) -> Result<Self, DomainError> {
        kind.validate()?;
        Ok(Self {
            customer,
            at,
            channel: Channel::Web,
            idempotency_key: IdempotencyKey::new(key)?,
            kind,
        })
    }

    /// A purchase: order `order` for `amount`, placed at `at`. Key `purchase:<order>` (an
    /// order is bought once); no margin ([`NewActivity::with_margin`] adds one).
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport::NewActivity;
    /// use rapport::core::*;
    /// let at = Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap();
    /// let who = CustomerId::from_u128(7);
    /// let a = NewActivity::purchase(who, "1001", Money::new("24.99".parse()?, Currency::USD), at)?;
    /// assert_eq!(a.idempotency_key.as_str(), "purchase:1001");
    /// assert_eq!((a.customer, a.at, a.channel), (who, at, Channel::Web));
    /// assert!(matches!(&a.kind, ActivityKind::Purchase { order_id, margin: None, .. } if order_id.as_str() == "1001"));
    /// // Checked up front: a blank order number, a negative amount.
    /// let usd = |s: &str| Money::new(s.parse().unwrap(), Currency::USD);
    /// assert!(matches!(NewActivity::purchase(who, " ", usd("1"), at), Err(DomainError::InvalidText { field: "order_id", .. })));
    /// assert!(matches!(NewActivity::purchase(who, "1", usd("-1"), at), Err(DomainError::NegativeAmount { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`DomainError::InvalidText`] for the order number (or a key longer than 200
    /// characters), [`DomainError::NegativeAmount`].
    pub fn purchase(
        customer: CustomerId,
        order: impl Into<String>,
        amount: Money,
        at: DateTime<Utc>,
    ) -> Result<Self, DomainError> {
        let order_id = OrderId::new(order)?;
        let key = format!("purchase:{order_id}");
        Self::build(
            customer,
            at,
            key,
            ActivityKind::Purchase {
                order_id,
                amount,
                margin: None,
            },
        )
    }

    /// A refund of `amount` on order `order` of this customer, given at `at`. Key
    /// `refund:<order>:<at>`, so several refunds of one order at different times are distinct
    /// and a retry of the same one is a no-op. [`NewActivity::in_full`] marks the whole order
    /// refunded.
    ///
    /// When it is recorded ([`crate::Service::record`]) the order must be one a purchase of
    /// the customer recorded, and the amount at most what is left of it; the order's time
    /// becomes the refund's `purchased_at` (set to `at` here until then).
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport::NewActivity;
    /// use rapport::core::*;
    /// let at = Utc.with_ymd_and_hms(2026, 3, 3, 10, 0, 0).unwrap();
    /// let usd = Money::new("5".parse()?, Currency::USD);
    /// let r = NewActivity::refund(CustomerId::from_u128(7), "1001", usd, at)?;
    /// assert_eq!(r.idempotency_key.as_str(), "refund:1001:20260303T100000.000000Z");
    /// assert!(matches!(&r.kind, ActivityKind::Refund { full: false, order_id, .. } if order_id.as_str() == "1001"));
    /// assert!(matches!(r.in_full().kind, ActivityKind::Refund { full: true, .. }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`NewActivity::purchase`].
    pub fn refund(
        customer: CustomerId,
        order: impl Into<String>,
        amount: Money,
        at: DateTime<Utc>,
    ) -> Result<Self, DomainError> {
        let order_id = OrderId::new(order)?;
        let key = format!("refund:{order_id}:{}", stamp(at));
        Self::build(
            customer,
            at,
            key,
            ActivityKind::Refund {
                order_id,
                amount,
                margin: None,
                // The order's time replaces it when the refund is recorded.
                purchased_at: at,
                full: false,
            },
        )
    }

    /// A visit at `at` (no item; [`NewActivity::of_item`] names one). Key
    /// `visit:<customer>:<at>`.
    ///
    /// ```
    /// use chrono::DateTime;
    /// use rapport::NewActivity;
    /// use rapport::core::*;
    /// let v = NewActivity::visit(CustomerId::from_u128(7), DateTime::UNIX_EPOCH)?.of_item("sku-9");
    /// assert!(v.idempotency_key.as_str().starts_with("visit:00000000-0000-0000-0000-000000000007:19700101T"));
    /// assert_eq!(v.kind, ActivityKind::Visit { item: Some("sku-9".into()) });
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// None in practice (the generated key is valid); typed for uniformity.
    pub fn visit(customer: CustomerId, at: DateTime<Utc>) -> Result<Self, DomainError> {
        let key = format!("visit:{customer}:{}", stamp(at));
        Self::build(customer, at, key, ActivityKind::Visit { item: None })
    }

    /// A cart left at `at`, worth `value` when known. Key `cart_abandoned:<customer>:<at>`.
    ///
    /// ```
    /// use chrono::DateTime;
    /// use rapport::NewActivity;
    /// use rapport::core::*;
    /// let eur = Money::new("80".parse()?, Currency::EUR);
    /// let c = NewActivity::cart_abandoned(CustomerId::from_u128(7), Some(eur), DateTime::UNIX_EPOCH)?;
    /// assert_eq!(c.kind, ActivityKind::CartAbandoned { value: Some(eur) });
    /// assert!(c.idempotency_key.as_str().starts_with("cart_abandoned:"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`DomainError::NegativeAmount`] for a negative value.
    pub fn cart_abandoned(
        customer: CustomerId,
        value: Option<Money>,
        at: DateTime<Utc>,
    ) -> Result<Self, DomainError> {
        let key = format!("cart_abandoned:{customer}:{}", stamp(at));
        Self::build(customer, at, key, ActivityKind::CartAbandoned { value })
    }

    /// A complaint at `at`. Key `complaint:<customer>:<at>`.
    ///
    /// ```
    /// use chrono::DateTime;
    /// use rapport::NewActivity;
    /// use rapport::core::*;
    /// let c = NewActivity::complaint(CustomerId::from_u128(7), Severity::High, DateTime::UNIX_EPOCH)?;
    /// assert_eq!(c.kind, ActivityKind::Complaint { severity: Severity::High });
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// None in practice; typed for uniformity.
    pub fn complaint(
        customer: CustomerId,
        severity: Severity,
        at: DateTime<Utc>,
    ) -> Result<Self, DomainError> {
        let key = format!("complaint:{customer}:{}", stamp(at));
        Self::build(customer, at, key, ActivityKind::Complaint { severity })
    }

    /// A survey answer at `at`. Key `feedback:<customer>:<at>`.
    ///
    /// ```
    /// use chrono::DateTime;
    /// use rapport::NewActivity;
    /// use rapport::core::*;
    /// let f = NewActivity::feedback(CustomerId::from_u128(7), Feedback::Nps(Nps::new(9)?), DateTime::UNIX_EPOCH)?;
    /// assert!(matches!(f.kind, ActivityKind::Feedback { feedback: Feedback::Nps(n) } if n.get() == 9));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// None in practice; typed for uniformity.
    pub fn feedback(
        customer: CustomerId,
        feedback: Feedback,
        at: DateTime<Utc>,
    ) -> Result<Self, DomainError> {
        let key = format!("feedback:{customer}:{}", stamp(at));
        Self::build(customer, at, key, ActivityKind::Feedback { feedback })
    }

    /// `customer` referred `referred` at `at`. Key `referral:<customer>:<referred>` (one
    /// referral per pair).
    ///
    /// ```
    /// use chrono::DateTime;
    /// use rapport::NewActivity;
    /// use rapport::core::*;
    /// let (ann, bob) = (CustomerId::from_u128(1), CustomerId::from_u128(2));
    /// let r = NewActivity::referral(ann, bob, DateTime::UNIX_EPOCH)?;
    /// assert_eq!(r.idempotency_key.as_str(), format!("referral:{ann}:{bob}"));
    /// assert_eq!(r.kind, ActivityKind::Referral { referred: bob });
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// None in practice; typed for uniformity.
    pub fn referral(
        customer: CustomerId,
        referred: CustomerId,
        at: DateTime<Utc>,
    ) -> Result<Self, DomainError> {
        let key = format!("referral:{customer}:{referred}");
        Self::build(customer, at, key, ActivityKind::Referral { referred })
    }

    /// A contact by or with the customer at `at` (call, email, meeting). Key
    /// `contact:<customer>:<at>`.
    ///
    /// ```
    /// use chrono::DateTime;
    /// use rapport::NewActivity;
    /// use rapport::core::*;
    /// let c = NewActivity::contact(CustomerId::from_u128(7), DateTime::UNIX_EPOCH)?.via(Channel::Phone);
    /// assert_eq!((c.kind, c.channel), (ActivityKind::Contact, Channel::Phone));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// None in practice; typed for uniformity.
    pub fn contact(customer: CustomerId, at: DateTime<Utc>) -> Result<Self, DomainError> {
        let key = format!("contact:{customer}:{}", stamp(at));
        Self::build(customer, at, key, ActivityKind::Contact)
    }

    /// The same activity on `channel` (the constructors pick [`Channel::Web`]).
    ///
    /// ```
    /// use chrono::DateTime;
    /// use rapport::NewActivity;
    /// use rapport::core::*;
    /// let v = NewActivity::visit(CustomerId::from_u128(7), DateTime::UNIX_EPOCH)?;
    /// assert_eq!(v.channel, Channel::Web);
    /// assert_eq!(v.via(Channel::Store).channel, Channel::Store);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn via(mut self, channel: Channel) -> Self {
        self.channel = channel;
        self
    }

    /// The same activity with the host's own idempotency key (e.g. an event id from a queue).
    ///
    /// ```
    /// use chrono::DateTime;
    /// use rapport::NewActivity;
    /// use rapport::core::*;
    /// let v = NewActivity::visit(CustomerId::from_u128(7), DateTime::UNIX_EPOCH)?
    ///     .with_key(IdempotencyKey::new("evt-81f3")?);
    /// assert_eq!(v.idempotency_key.as_str(), "evt-81f3");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_key(mut self, key: IdempotencyKey) -> Self {
        self.idempotency_key = key;
        self
    }

    /// The contribution margin of a purchase, or the margin given back by a refund (in the
    /// amount's currency; may be negative). Other kinds have no margin and are returned
    /// unchanged.
    ///
    /// ```
    /// use chrono::DateTime;
    /// use rapport::NewActivity;
    /// use rapport::core::*;
    /// use rust_decimal::Decimal;
    /// let at = DateTime::UNIX_EPOCH;
    /// let p = NewActivity::purchase(CustomerId::from_u128(7), "1", Money::new(Decimal::TEN, Currency::EUR), at)?
    ///     .with_margin(Decimal::new(-150, 2));
    /// assert!(matches!(p.kind, ActivityKind::Purchase { margin: Some(m), .. } if m == Decimal::new(-150, 2)));
    /// let v = NewActivity::visit(CustomerId::from_u128(7), at)?;
    /// assert_eq!(v.clone().with_margin(Decimal::ONE), v);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_margin(mut self, value: Decimal) -> Self {
        match &mut self.kind {
            ActivityKind::Purchase { margin, .. } | ActivityKind::Refund { margin, .. } => {
                *margin = Some(value);
            }
            _ => {}
        }
        self
    }

    /// Marks a refund as refunding the whole order (its purchase then no longer counts as a
    /// purchase day), e.g. an order cancelled with a restocking fee kept. A refund that brings
    /// what is left of its order to zero is its full refund without the mark; an order counts
    /// as refunded in full once. Other kinds are returned unchanged.
    ///
    /// ```
    /// use chrono::DateTime;
    /// use rapport::NewActivity;
    /// use rapport::core::*;
    /// let t = DateTime::UNIX_EPOCH;
    /// let r = NewActivity::refund(CustomerId::from_u128(7), "1", Money::zero(Currency::EUR), t)?.in_full();
    /// assert!(matches!(r.kind, ActivityKind::Refund { full: true, .. }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn in_full(mut self) -> Self {
        if let ActivityKind::Refund { full, .. } = &mut self.kind {
            *full = true;
        }
        self
    }

    /// Names the item viewed in a visit. Other kinds are returned unchanged.
    ///
    /// ```
    /// use chrono::DateTime;
    /// use rapport::NewActivity;
    /// use rapport::core::*;
    /// let v = NewActivity::visit(CustomerId::from_u128(7), DateTime::UNIX_EPOCH)?.of_item("sku-1");
    /// assert_eq!(v.kind, ActivityKind::Visit { item: Some("sku-1".to_owned()) });
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn of_item(mut self, name: impl Into<String>) -> Self {
        if let ActivityKind::Visit { item } = &mut self.kind {
            *item = Some(name.into());
        }
        self
    }
}
