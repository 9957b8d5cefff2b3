//! Activities: what a customer did, where and when. They are facts: recorded once (idempotent
//! by key), never edited; every figure in [`crate::Stats`] is folded from them.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::model::id::{ActivityId, CustomerId};
use crate::model::id::{IdempotencyKey, OrderId};
use crate::model::money::Money;

/// Where an activity came from.
///
/// ```
/// use rapport_core::Channel;
/// assert!(Channel::Web.is_online());
/// assert!(!Channel::Store.is_online());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Channel {
    /// Website (online).
    Web,
    /// Mobile app (online).
    App,
    /// Email (online).
    Email,
    /// Social network (online).
    Social,
    /// Chat or messaging (online).
    Chat,
    /// Physical store (offline).
    Store,
    /// Phone call (offline).
    Phone,
    /// Event or fair (offline).
    Event,
}

impl Channel {
    /// Every channel.
    ///
    /// ```
    /// use rapport_core::Channel;
    /// assert_eq!(Channel::ALL.iter().filter(|c| c.is_online()).count(), 5);
    /// ```
    pub const ALL: [Channel; 8] = [
        Channel::Web,
        Channel::App,
        Channel::Email,
        Channel::Social,
        Channel::Chat,
        Channel::Store,
        Channel::Phone,
        Channel::Event,
    ];

    /// True for web, app, email, social and chat; false for store, phone and event.
    ///
    /// ```
    /// use rapport_core::Channel;
    /// assert!(Channel::App.is_online());
    /// assert!(!Channel::Phone.is_online());
    /// ```
    #[must_use]
    pub fn is_online(self) -> bool {
        matches!(
            self,
            Channel::Web | Channel::App | Channel::Email | Channel::Social | Channel::Chat
        )
    }
}

/// Net Promoter Score answer, 0–10.
///
/// ```
/// use rapport_core::Nps;
/// assert_eq!(Nps::new(9).unwrap().get(), 9);
/// assert!(Nps::new(11).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Nps(u8);

impl Nps {
    /// Validates a score.
    ///
    /// ```
    /// use rapport_core::{DomainError, Nps};
    /// assert!(Nps::new(0).is_ok() && Nps::new(10).is_ok());
    /// assert!(matches!(Nps::new(11), Err(DomainError::OutOfRange { field: "nps", .. })));
    /// ```
    ///
    /// # Errors
    /// [`DomainError::OutOfRange`] outside 0..=10.
    pub fn new(score: u8) -> Result<Self, DomainError> {
        if score <= 10 {
            Ok(Self(score))
        } else {
            Err(DomainError::OutOfRange {
                field: "nps",
                value: score.to_string(),
                min: "0".into(),
                max: "10".into(),
            })
        }
    }
    /// The score.
    ///
    /// ```
    /// assert_eq!(rapport_core::Nps::new(8).unwrap().get(), 8);
    /// ```
    #[must_use]
    pub fn get(self) -> u8 {
        self.0
    }
    /// 0–6: a detractor.
    ///
    /// ```
    /// use rapport_core::Nps;
    /// assert!(Nps::new(6).unwrap().is_detractor());
    /// assert!(!Nps::new(7).unwrap().is_detractor());
    /// ```
    #[must_use]
    pub fn is_detractor(self) -> bool {
        self.0 <= 6
    }
}

impl TryFrom<u8> for Nps {
    type Error = DomainError;
    fn try_from(v: u8) -> Result<Self, Self::Error> {
        Self::new(v)
    }
}
impl From<Nps> for u8 {
    fn from(v: Nps) -> u8 {
        v.0
    }
}

/// Customer satisfaction answer, 1–5.
///
/// ```
/// use rapport_core::Csat;
/// assert!(Csat::new(0).is_err());
/// assert_eq!(Csat::new(5).unwrap().get(), 5);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Csat(u8);

impl Csat {
    /// Validates a score.
    ///
    /// ```
    /// use rapport_core::{Csat, DomainError};
    /// assert!(Csat::new(1).is_ok() && Csat::new(5).is_ok());
    /// assert!(matches!(Csat::new(6), Err(DomainError::OutOfRange { field: "csat", .. })));
    /// ```
    ///
    /// # Errors
    /// [`DomainError::OutOfRange`] outside 1..=5.
    pub fn new(score: u8) -> Result<Self, DomainError> {
        if (1..=5).contains(&score) {
            Ok(Self(score))
        } else {
            Err(DomainError::OutOfRange {
                field: "csat",
                value: score.to_string(),
                min: "1".into(),
                max: "5".into(),
            })
        }
    }
    /// The score.
    ///
    /// ```
    /// assert_eq!(rapport_core::Csat::new(4).unwrap().get(), 4);
    /// ```
    #[must_use]
    pub fn get(self) -> u8 {
        self.0
    }
}

impl TryFrom<u8> for Csat {
    type Error = DomainError;
    fn try_from(v: u8) -> Result<Self, Self::Error> {
        Self::new(v)
    }
}
impl From<Csat> for u8 {
    fn from(v: Csat) -> u8 {
        v.0
    }
}

/// A feedback answer.
///
/// ```
/// use rapport_core::{Csat, Feedback, Nps};
/// let answers = [Feedback::Nps(Nps::new(3).unwrap()), Feedback::Csat(Csat::new(4).unwrap())];
/// let detractors = answers.iter().filter(|f| matches!(f, Feedback::Nps(n) if n.is_detractor()));
/// assert_eq!(detractors.count(), 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Feedback {
    /// Net Promoter Score.
    Nps(Nps),
    /// Customer satisfaction.
    Csat(Csat),
}

/// How bad a complaint is; ordered from [`Severity::Low`] to [`Severity::High`].
///
/// ```
/// use rapport_core::Severity;
/// assert!(Severity::High > Severity::Medium && Severity::Medium > Severity::Low);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Minor annoyance.
    Low,
    /// A real problem.
    Medium,
    /// Threatens the relationship.
    High,
}

/// What happened.
///
/// ```
/// use rapport_core::*;
/// use rust_decimal::Decimal;
/// let purchase = ActivityKind::Purchase {
///     order_id: OrderId::new("SO-1").unwrap(),
///     amount: Money::new(Decimal::new(1999, 2), Currency::EUR),
///     margin: Some(Decimal::new(-150, 2)), // a margin may be negative
/// };
/// assert_eq!(purchase.activity_type(), ActivityType::Purchase);
/// assert!(purchase.validate().is_ok());
/// let complaint = ActivityKind::Complaint { severity: Severity::High };
/// assert_eq!(complaint.activity_type().as_str(), "complaint");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
#[non_exhaustive]
pub enum ActivityKind {
    /// An order. `amount` is the revenue (≥ 0); `margin`, when known, its contribution margin
    /// in the same currency (may be negative).
    Purchase {
        /// The host's order number.
        order_id: OrderId,
        /// Revenue.
        amount: Money,
        /// Contribution margin, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        margin: Option<Decimal>,
    },
    /// Money given back for an order. `full` says the whole order was refunded, which removes
    /// its purchase from purchase-day counts; `purchased_at` is the refunded order's time.
    /// A refund names an order a purchase of the same customer recorded and is at most what is
    /// left of it: [`OrderLedger::check_refund`](crate::OrderLedger::check_refund) decides,
    /// and [`OrderLedger::settle_refund`](crate::OrderLedger::settle_refund) sets
    /// `purchased_at` and `full` from the order (the service does both when it records one).
    Refund {
        /// The refunded order.
        order_id: OrderId,
        /// Amount refunded (≥ 0), in the order's currency.
        amount: Money,
        /// Margin given back, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        margin: Option<Decimal>,
        /// When the refunded order was placed (taken from the order when recorded).
        #[serde(with = "crate::model::rfc3339")]
        purchased_at: DateTime<Utc>,
        /// True when the whole order was refunded.
        full: bool,
    },
    /// A visit, or a view of an item.
    Visit {
        /// The item viewed, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        item: Option<String>,
    },
    /// A cart left without checkout.
    CartAbandoned {
        /// Value of the cart, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<Money>,
    },
    /// A complaint.
    Complaint {
        /// How bad.
        severity: Severity,
    },
    /// A survey answer.
    Feedback {
        /// The answer.
        feedback: Feedback,
    },
    /// This customer referred another one.
    Referral {
        /// The referred customer.
        referred: CustomerId,
    },
    /// A contact by or with the customer (call, email, meeting).
    Contact,
}

impl<'de> Deserialize<'de> for ActivityKind {
    /// Reads `{"kind": "...", ...}` as the derived internally tagged form does, in one pass
    /// whatever the order of the keys: every field of every kind has one type in all kinds,
    /// so the object is read into `KindFields` and the kind then takes the fields it has
    /// (serde's derive would buffer the whole object first, on every row of every timeline).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        fn need<T, E: serde::de::Error>(v: Option<T>, name: &'static str) -> Result<T, E> {
            v.ok_or_else(|| E::missing_field(name))
        }
        let f = KindFields::deserialize(d)?;
        Ok(match f.kind {
            ActivityType::Purchase => ActivityKind::Purchase {
                order_id: need(f.order_id, "order_id")?,
                amount: need(f.amount, "amount")?,
                margin: f.margin,
            },
            ActivityType::Refund => ActivityKind::Refund {
                order_id: need(f.order_id, "order_id")?,
                amount: need(f.amount, "amount")?,
                margin: f.margin,
                purchased_at: need(f.purchased_at, "purchased_at")?,
                full: need(f.full, "full")?,
            },
            ActivityType::Visit => ActivityKind::Visit { item: f.item },
            ActivityType::CartAbandoned => ActivityKind::CartAbandoned { value: f.value },
            ActivityType::Complaint => ActivityKind::Complaint {
                severity: need(f.severity, "severity")?,
            },
            ActivityType::Feedback => ActivityKind::Feedback {
                feedback: need(f.feedback, "feedback")?,
            },
            ActivityType::Referral => ActivityKind::Referral {
                referred: need(f.referred, "referred")?,
            },
            ActivityType::Contact => ActivityKind::Contact,
        })
    }
}

/// The fields of every [`ActivityKind`], read in one pass (see its `Deserialize`).
#[derive(Deserialize)]
struct KindFields {
    kind: ActivityType,
    #[serde(default)]
    order_id: Option<OrderId>,
    #[serde(default)]
    amount: Option<Money>,
    #[serde(default)]
    margin: Option<Decimal>,
    #[serde(default)]
    purchased_at: Option<DateTime<Utc>>,
    #[serde(default)]
    full: Option<bool>,
    #[serde(default)]
    item: Option<String>,
    #[serde(default)]
    value: Option<Money>,
    #[serde(default)]
    severity: Option<Severity>,
    #[serde(default)]
    feedback: Option<Feedback>,
    #[serde(default)]
    referred: Option<CustomerId>,
}

/// The kind of an activity without its data; used by segments (`days_since(complaint)`).
///
/// ```
/// use rapport_core::ActivityType;
/// assert_eq!(ActivityType::CartAbandoned.as_str(), "cart_abandoned");
/// for (i, t) in ActivityType::ALL.into_iter().enumerate() {
///     assert_eq!(t.index(), i);
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ActivityType {
    /// [`ActivityKind::Purchase`]
    Purchase,
    /// [`ActivityKind::Refund`]
    Refund,
    /// [`ActivityKind::Visit`]
    Visit,
    /// [`ActivityKind::CartAbandoned`]
    CartAbandoned,
    /// [`ActivityKind::Complaint`]
    Complaint,
    /// [`ActivityKind::Feedback`]
    Feedback,
    /// [`ActivityKind::Referral`]
    Referral,
    /// [`ActivityKind::Contact`]
    Contact,
}

impl ActivityType {
    /// Every type, in declaration order (`index()` order).
    ///
    /// ```
    /// use rapport_core::ActivityType;
    /// assert_eq!(ActivityType::ALL[0], ActivityType::Purchase);
    /// assert_eq!(ActivityType::ALL.len(), 8);
    /// ```
    pub const ALL: [ActivityType; 8] = [
        ActivityType::Purchase,
        ActivityType::Refund,
        ActivityType::Visit,
        ActivityType::CartAbandoned,
        ActivityType::Complaint,
        ActivityType::Feedback,
        ActivityType::Referral,
        ActivityType::Contact,
    ];

    /// Position in [`ActivityType::ALL`], e.g. to index a per-type array.
    ///
    /// ```
    /// use rapport_core::ActivityType;
    /// assert_eq!(ActivityType::ALL[ActivityType::Complaint.index()], ActivityType::Complaint);
    /// ```
    #[must_use]
    pub fn index(self) -> usize {
        self as usize
    }

    /// The snake-case name used in the segment text form.
    ///
    /// ```
    /// use rapport_core::{ActivityType, Segment};
    /// assert_eq!(ActivityType::Complaint.as_str(), "complaint");
    /// let text = format!("days_since({}) > 30", ActivityType::Complaint.as_str());
    /// assert!(text.parse::<Segment>().is_ok());
    /// ```
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ActivityType::Purchase => "purchase",
            ActivityType::Refund => "refund",
            ActivityType::Visit => "visit",
            ActivityType::CartAbandoned => "cart_abandoned",
            ActivityType::Complaint => "complaint",
            ActivityType::Feedback => "feedback",
            ActivityType::Referral => "referral",
            ActivityType::Contact => "contact",
        }
    }
}

impl ActivityKind {
    /// The kind without its data.
    ///
    /// ```
    /// use rapport_core::{ActivityKind, ActivityType};
    /// assert_eq!(ActivityKind::Visit { item: None }.activity_type(), ActivityType::Visit);
    /// assert_eq!(ActivityKind::Contact.activity_type(), ActivityType::Contact);
    /// ```
    #[must_use]
    pub fn activity_type(&self) -> ActivityType {
        match self {
            ActivityKind::Purchase { .. } => ActivityType::Purchase,
            ActivityKind::Refund { .. } => ActivityType::Refund,
            ActivityKind::Visit { .. } => ActivityType::Visit,
            ActivityKind::CartAbandoned { .. } => ActivityType::CartAbandoned,
            ActivityKind::Complaint { .. } => ActivityType::Complaint,
            ActivityKind::Feedback { .. } => ActivityType::Feedback,
            ActivityKind::Referral { .. } => ActivityType::Referral,
            ActivityKind::Contact => ActivityType::Contact,
        }
    }

    /// Checks the amounts: purchase and refund amounts are ≥ 0, margins in the same currency
    /// by construction, cart values ≥ 0.
    ///
    /// # Errors
    /// [`DomainError::NegativeAmount`] naming the field.
    ///
    /// ```
    /// use rapport_core::*;
    /// use rust_decimal::Decimal;
    /// let refund = ActivityKind::Refund {
    ///     order_id: OrderId::new("SO-1").unwrap(),
    ///     amount: Money::new(Decimal::new(-500, 2), Currency::USD),
    ///     margin: None,
    ///     purchased_at: chrono::DateTime::UNIX_EPOCH,
    ///     full: false,
    /// };
    /// let err = refund.validate().unwrap_err();
    /// assert!(matches!(err, DomainError::NegativeAmount { field: "refund.amount", .. }));
    /// assert!(ActivityKind::CartAbandoned { value: None }.validate().is_ok());
    /// ```
    pub fn validate(&self) -> Result<(), DomainError> {
        let non_negative = |field: &'static str, m: &Money| {
            if m.is_negative() {
                Err(DomainError::NegativeAmount {
                    field,
                    value: m.amount,
                })
            } else {
                Ok(())
            }
        };
        match self {
            ActivityKind::Purchase { amount, .. } => non_negative("purchase.amount", amount),
            ActivityKind::Refund { amount, .. } => non_negative("refund.amount", amount),
            ActivityKind::CartAbandoned { value: Some(v) } => {
                non_negative("cart_abandoned.value", v)
            }
            _ => Ok(()),
        }
    }
}

/// One thing a customer did.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use rapport_core::*;
/// use rust_decimal::Decimal;
/// let a = Activity::new(
///     ActivityId::from_u128(1),
///     CustomerId::from_u128(7),
///     Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap(),
///     Channel::Web,
///     IdempotencyKey::new("order-1").unwrap(),
///     ActivityKind::Purchase {
///         order_id: OrderId::new("1").unwrap(),
///         amount: Money::new(Decimal::new(4999, 2), Currency::USD),
///         margin: None,
///     },
/// ).unwrap();
/// assert_eq!(a.kind.activity_type(), ActivityType::Purchase);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    /// Its id.
    pub id: ActivityId,
    /// Who did it.
    pub customer: CustomerId,
    /// When (UTC, microsecond precision is what stores keep).
    #[serde(with = "crate::model::rfc3339")]
    pub at: DateTime<Utc>,
    /// Where.
    pub channel: Channel,
    /// What makes recording it idempotent.
    pub idempotency_key: IdempotencyKey,
    /// What happened.
    pub kind: ActivityKind,
}

impl Activity {
    /// Builds a checked activity (see [`ActivityKind::validate`]).
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport_core::*;
    /// use rust_decimal::Decimal;
    /// let at = Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).unwrap();
    /// let purchase = |cents| ActivityKind::Purchase {
    ///     order_id: OrderId::new("SO-1").unwrap(),
    ///     amount: Money::new(Decimal::new(cents, 2), Currency::CNY),
    ///     margin: None,
    /// };
    /// let key = IdempotencyKey::new("pos-1-0001")?;
    /// let a = Activity::new(ActivityId::from_u128(1), CustomerId::from_u128(7), at, Channel::Store, key.clone(), purchase(29900))?;
    /// assert_eq!(a.kind.activity_type(), ActivityType::Purchase);
    /// let negative = Activity::new(ActivityId::from_u128(2), CustomerId::from_u128(7), at, Channel::Store, key, purchase(-100));
    /// assert!(matches!(negative, Err(DomainError::NegativeAmount { .. })));
    /// # Ok::<(), DomainError>(())
    /// ```
    ///
    /// # Errors
    /// As [`ActivityKind::validate`].
    pub fn new(
        id: ActivityId,
        customer: CustomerId,
        at: DateTime<Utc>,
        channel: Channel,
        idempotency_key: IdempotencyKey,
        kind: ActivityKind,
    ) -> Result<Self, DomainError> {
        kind.validate()?;
        Ok(Self {
            id,
            customer,
            at,
            channel,
            idempotency_key,
            kind,
        })
    }
}
