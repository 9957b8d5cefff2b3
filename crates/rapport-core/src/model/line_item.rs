//! Line items: what a purchase (or a refund) was made of — sku, quantity, unit price,
//! category. Kept beside the activity rather than inside it: a store keys them by (tenant,
//! activity id) and writes them in the same changeset as their purchase (DOMAIN.md "Products
//! and recommendations").

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::model::activity::{Activity, ActivityKind};
use crate::model::id::{ActivityId, CustomerId, OrderId, ProductCategory, Sku};
use crate::model::money::Money;

/// One line of an order: `quantity` × `unit_price` of `sku`.
///
/// ```
/// use rapport_core::{Currency, LineItem, Money, ProductCategory, Sku};
/// let usd = |s: &str| Money::new(s.parse().unwrap(), Currency::USD);
/// let l = LineItem::new(Sku::new("tea-puer")?, 3, usd("4.50"), Some(ProductCategory::new("tea")?))?;
/// assert_eq!(l.total()?, usd("13.50"));
/// assert!(LineItem::new(Sku::new("x")?, 0, usd("1"), None).is_err());
/// assert!(LineItem::new(Sku::new("x")?, 1, usd("-1"), None).is_err());
/// # Ok::<(), rapport_core::DomainError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineItem {
    /// The product.
    pub sku: Sku,
    /// How many (≥ 1).
    pub quantity: u32,
    /// The price of one (≥ 0), in the order's currency.
    pub unit_price: Money,
    /// The product's category, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<ProductCategory>,
}

impl LineItem {
    /// A checked line.
    ///
    /// # Errors
    /// [`DomainError::OutOfRange`] for a zero quantity, [`DomainError::NegativeAmount`] for a
    /// negative unit price.
    pub fn new(
        sku: Sku,
        quantity: u32,
        unit_price: Money,
        category: Option<ProductCategory>,
    ) -> Result<Self, DomainError> {
        let line = Self {
            sku,
            quantity,
            unit_price,
            category,
        };
        line.validate()?;
        Ok(line)
    }

    /// Checks the rules [`LineItem::new`] checks (for deserialised lines).
    ///
    /// # Errors
    /// As [`LineItem::new`].
    pub fn validate(&self) -> Result<(), DomainError> {
        if self.quantity == 0 {
            return Err(DomainError::OutOfRange {
                field: "line.quantity",
                value: "0".to_owned(),
                min: "1".to_owned(),
                max: u32::MAX.to_string(),
            });
        }
        if self.unit_price.is_negative() {
            return Err(DomainError::NegativeAmount {
                field: "line.unit_price",
                value: self.unit_price.amount,
            });
        }
        Ok(())
    }

    /// `quantity × unit_price`.
    ///
    /// # Errors
    /// [`DomainError::Overflow`] when it does not fit a `Decimal`.
    pub fn total(&self) -> Result<Money, DomainError> {
        self.unit_price
            .amount
            .checked_mul(Decimal::from(self.quantity))
            .map(|a| Money::new(a, self.unit_price.currency))
            .ok_or(DomainError::Overflow {
                field: "line.total",
            })
    }
}

/// The line items of one purchase or refund activity, as a store keeps them (keyed by tenant
/// and `activity`; `customer` follows the activity when a merge moves it).
///
/// ```
/// use chrono::DateTime;
/// use rapport_core::*;
/// let usd = |s: &str| Money::new(s.parse().unwrap(), Currency::USD);
/// let a = Activity::new(ActivityId::from_u128(1), CustomerId::from_u128(7), DateTime::UNIX_EPOCH,
///     Channel::Web, IdempotencyKey::new("o-1")?,
///     ActivityKind::Purchase { order_id: OrderId::new("o-1")?, amount: usd("10.00"), margin: None })?;
/// let lines = vec![LineItem::new(Sku::new("tea")?, 2, usd("5.00"), None)?];
/// let li = LineItems::of(&a, lines, false)?;
/// assert_eq!((li.customer, li.refund, li.order.as_str()), (CustomerId::from_u128(7), false, "o-1"));
/// // The lines must add up to the amount unless the host allows a difference.
/// let short = vec![LineItem::new(Sku::new("tea")?, 1, usd("5.00"), None)?];
/// assert!(matches!(LineItems::of(&a, short.clone(), false), Err(DomainError::LineTotalMismatch { .. })));
/// assert!(LineItems::of(&a, short, true).is_ok());
/// # Ok::<(), DomainError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineItems {
    /// The purchase or refund the lines belong to.
    pub activity: ActivityId,
    /// Whose activity it is.
    pub customer: CustomerId,
    /// The order (a purchase's, or the order a refund gives money back for).
    pub order: OrderId,
    /// When the activity happened.
    pub at: DateTime<Utc>,
    /// True for a refund's lines (the items given back).
    pub refund: bool,
    /// The lines, in the order given.
    pub items: Vec<LineItem>,
}

impl LineItems {
    /// The lines of `activity` (a purchase or a refund), checked: at least one line, every
    /// line valid and in the activity's currency, and — unless `allow_mismatch` — their total
    /// equal to the activity's amount.
    ///
    /// # Errors
    /// [`DomainError::InvalidChangeset`] when the activity is neither a purchase nor a refund
    /// or there are no lines, [`DomainError::CurrencyMismatch`],
    /// [`DomainError::LineTotalMismatch`], or a line's own error.
    pub fn of(
        activity: &Activity,
        items: Vec<LineItem>,
        allow_mismatch: bool,
    ) -> Result<Self, DomainError> {
        let (order, refund) = match &activity.kind {
            ActivityKind::Purchase { order_id, .. } => (order_id.clone(), false),
            ActivityKind::Refund { order_id, .. } => (order_id.clone(), true),
            _ => {
                return Err(DomainError::InvalidChangeset {
                    reason: format!(
                        "activity {} carries line items but is not a purchase or a refund",
                        activity.id
                    ),
                });
            }
        };
        let li = Self {
            activity: activity.id,
            customer: activity.customer,
            order,
            at: activity.at,
            refund,
            items,
        };
        li.check_against(activity, allow_mismatch)?;
        Ok(li)
    }

    /// Σ quantity × unit price.
    ///
    /// # Errors
    /// [`DomainError::CurrencyMismatch`] when lines mix currencies, [`DomainError::Overflow`].
    pub fn total(&self) -> Result<Option<Money>, DomainError> {
        let Some(first) = self.items.first() else {
            return Ok(None);
        };
        let mut sum = Money::zero(first.unit_price.currency);
        for l in &self.items {
            sum = sum.checked_add(&l.total()?)?;
        }
        Ok(Some(sum))
    }

    /// Checks these lines against their activity (see [`LineItems::of`]); `allow_mismatch`
    /// skips the total check only.
    ///
    /// # Errors
    /// As [`LineItems::of`].
    pub fn check_against(
        &self,
        activity: &Activity,
        allow_mismatch: bool,
    ) -> Result<(), DomainError> {
        let bad = |reason: String| Err(DomainError::InvalidChangeset { reason });
        let (amount, refund, order) = match &activity.kind {
            ActivityKind::Purchase {
                amount, order_id, ..
            } => (amount, false, order_id),
            ActivityKind::Refund {
                amount, order_id, ..
            } => (amount, true, order_id),
            _ => {
                return bad(format!(
                    "activity {} carries line items but is not a purchase or a refund",
                    activity.id
                ));
            }
        };
        if self.activity != activity.id
            || self.customer != activity.customer
            || self.at != activity.at
            || self.refund != refund
            || &self.order != order
        {
            return bad(format!(
                "the line items of activity {} do not describe it",
                self.activity
            ));
        }
        if self.items.is_empty() {
            return bad(format!("activity {} has an empty line list", self.activity));
        }
        for l in &self.items {
            l.validate()?;
            if l.unit_price.currency != amount.currency {
                return Err(DomainError::CurrencyMismatch {
                    expected: amount.currency,
                    found: l.unit_price.currency,
                });
            }
        }
        check_line_total(order, &self.items, amount, allow_mismatch)
    }
}

/// Checks that `items` add up to `amount` (the order's), unless `allow_mismatch`.
///
/// ```
/// use rapport_core::*;
/// let usd = |s: &str| Money::new(s.parse().unwrap(), Currency::USD);
/// let o = OrderId::new("o-1")?;
/// let lines = [LineItem::new(Sku::new("a")?, 2, usd("1.25"), None)?, LineItem::new(Sku::new("b")?, 1, usd("0.5"), None)?];
/// assert!(check_line_total(&o, &lines, &usd("3.00"), false).is_ok());
/// assert!(check_line_total(&o, &lines, &usd("3.01"), false).is_err());
/// assert!(check_line_total(&o, &lines, &usd("3.01"), true).is_ok());
/// # Ok::<(), DomainError>(())
/// ```
///
/// # Errors
/// [`DomainError::LineTotalMismatch`], [`DomainError::CurrencyMismatch`] or
/// [`DomainError::Overflow`].
pub fn check_line_total(
    order: &OrderId,
    items: &[LineItem],
    amount: &Money,
    allow_mismatch: bool,
) -> Result<(), DomainError> {
    let mut sum = Money::zero(amount.currency);
    for l in items {
        sum = sum.checked_add(&l.total()?)?;
    }
    if !allow_mismatch && sum.amount != amount.amount {
        return Err(DomainError::LineTotalMismatch {
            order: order.clone(),
            lines: sum,
            amount: *amount,
        });
    }
    Ok(())
}
