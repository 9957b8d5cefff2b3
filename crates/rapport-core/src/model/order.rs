//! [`OrderLedger`]: what is left of each order of a customer, folded from its activities, and
//! the rule a new refund must pass: it names a recorded order of the same customer, in the
//! order's currency, for at most what the earlier refunds left of it.
//!
//! The ledger is rebuilt from the customer's activities when a refund arrives (refunds are
//! rare next to purchases); it is not kept in [`crate::Stats`], which every read and write of
//! the customer carries (see `docs/reliability.md`, "Refunds name their order", for the cost
//! of both ways).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::error::DomainError;
use crate::model::activity::{Activity, ActivityKind};
use crate::model::id::OrderId;
use crate::model::money::{Currency, Money};

/// One order as the ledger knows it.
///
/// ```
/// # use chrono::{TimeZone, Utc};
/// # use rapport_core::*;
/// # use rust_decimal::Decimal;
/// # let at = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
/// let buy = Activity::new(ActivityId::from_u128(1), CustomerId::from_u128(7), at, Channel::Web,
///     IdempotencyKey::new("purchase:SO-1")?, ActivityKind::Purchase {
///         order_id: OrderId::new("SO-1")?, amount: Money::new(Decimal::new(5000, 2), Currency::USD), margin: None,
///     })?;
/// let ledger = OrderLedger::from_activities(&[buy])?;
/// let order = ledger.order(&OrderId::new("SO-1")?).unwrap();
/// assert_eq!((order.placed_at, order.left().to_string()), (at, "50.00 USD".to_owned()));
/// assert!(!order.closed);
/// # Ok::<(), DomainError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OrderState {
    /// When the order was placed (its earliest purchase when several name it).
    pub placed_at: DateTime<Utc>,
    /// What was paid (the sum of the purchases naming the order).
    pub amount: Money,
    /// What its refunds gave back so far.
    pub refunded: Decimal,
    /// True once a refund marked the order refunded in full (by the host's flag, or because
    /// it brought what is left to zero): later refunds no longer count it as a full refund.
    pub closed: bool,
}

impl OrderState {
    /// What is left to refund: the amount paid less the refunds so far (never below zero).
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use rapport_core::*;
    /// # use rust_decimal::Decimal;
    /// # let at = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    /// # let usd = |c| Money::new(Decimal::new(c, 2), Currency::USD);
    /// # let act = |n: u128, kind| Activity::new(ActivityId::from_u128(n), CustomerId::from_u128(7), at, Channel::Web, IdempotencyKey::new(format!("k{n}")).unwrap(), kind).unwrap();
    /// let so1 = OrderId::new("SO-1")?;
    /// let ledger = OrderLedger::from_activities(&[
    ///     act(1, ActivityKind::Purchase { order_id: so1.clone(), amount: usd(5000), margin: None }),
    ///     act(2, ActivityKind::Refund { order_id: so1.clone(), amount: usd(1250), margin: None, purchased_at: at, full: false }),
    /// ])?;
    /// assert_eq!(ledger.order(&so1).unwrap().left(), usd(3750));
    /// # Ok::<(), DomainError>(())
    /// ```
    #[must_use]
    pub fn left(&self) -> Money {
        let left = self
            .amount
            .amount
            .checked_sub(self.refunded)
            .unwrap_or(Decimal::ZERO);
        Money::new(left.max(Decimal::ZERO), self.amount.currency)
    }
}

/// A refund the ledger accepts, with what it takes from the order.
///
/// ```
/// # use chrono::{TimeZone, Utc};
/// # use rapport_core::*;
/// # use rust_decimal::Decimal;
/// # let at = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
/// # let usd = |c| Money::new(Decimal::new(c, 2), Currency::USD);
/// # let buy = Activity::new(ActivityId::from_u128(1), CustomerId::from_u128(7), at, Channel::Web, IdempotencyKey::new("k1")?,
/// #     ActivityKind::Purchase { order_id: OrderId::new("SO-1")?, amount: usd(5000), margin: None })?;
/// let ledger = OrderLedger::from_activities(&[buy])?; // SO-1: 50.00 USD, placed at `at`
/// let ok: RefundCheck = ledger.check_refund(&OrderId::new("SO-1")?, usd(5000), false)?;
/// assert_eq!((ok.purchased_at, ok.left_before, ok.left_after), (at, usd(5000), usd(0)));
/// assert!(ok.full); // nothing left: the order is refunded in full
/// # Ok::<(), DomainError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
#[must_use]
pub struct RefundCheck {
    /// When the refunded order was placed: what the refund's `purchased_at` must be.
    pub purchased_at: DateTime<Utc>,
    /// What was left of the order before the refund.
    pub left_before: Money,
    /// What is left after it.
    pub left_after: Money,
    /// Whether the refund counts as the order's full refund: it is the first to close the
    /// order, either flagged by the host or bringing what is left to zero.
    pub full: bool,
}

/// Per-order totals folded from a customer's activities: for each order named by a purchase,
/// when it was placed, what was paid, what was refunded.
///
/// The fold is order-independent (sums and a minimum), like [`crate::Stats`]. Refunds of
/// orders without a purchase (recorded before refunds were checked) are kept apart and never
/// make an order known.
///
/// ```
/// # use chrono::{Duration, TimeZone, Utc};
/// # use rapport_core::*;
/// # use rust_decimal::Decimal;
/// # let at = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
/// # let usd = |c| Money::new(Decimal::new(c, 2), Currency::USD);
/// # let act = |n: u128, kind| Activity::new(ActivityId::from_u128(n), CustomerId::from_u128(7), at + Duration::days(n as i64), Channel::Web, IdempotencyKey::new(format!("k{n}")).unwrap(), kind).unwrap();
/// let so1 = OrderId::new("SO-1")?;
/// let mut ledger = OrderLedger::from_activities(&[
///     act(1, ActivityKind::Purchase { order_id: so1.clone(), amount: usd(5000), margin: None }),
/// ])?;
/// // A 500 USD refund of a 50 USD order, a refund of an order never recorded: refused.
/// assert!(matches!(ledger.check_refund(&so1, usd(50000), false),
///     Err(DomainError::RefundExceedsOrder { left, requested, .. }) if left == usd(5000) && requested == usd(50000)));
/// assert!(matches!(ledger.check_refund(&OrderId::new("SO-9")?, usd(100), false),
///     Err(DomainError::UnknownOrder { order }) if order.as_str() == "SO-9"));
/// // Two partial refunds: the second is capped by what the first left.
/// let first = ledger.check_refund(&so1, usd(3000), false)?;
/// assert_eq!((first.left_after, first.full), (usd(2000), false));
/// ledger.apply(&act(2, ActivityKind::Refund { order_id: so1.clone(), amount: usd(3000), margin: None, purchased_at: first.purchased_at, full: first.full }))?;
/// assert!(matches!(ledger.check_refund(&so1, usd(2001), false), Err(DomainError::RefundExceedsOrder { .. })));
/// assert!(ledger.check_refund(&so1, usd(2000), false)?.full);
/// # Ok::<(), DomainError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderLedger {
    orders: HashMap<OrderId, Entry>,
}

/// What the fold keeps per order id: the purchase side (absent until a purchase names it) and
/// the refund side, so refunds folded before their purchase still count.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Entry {
    purchase: Option<(DateTime<Utc>, Money)>,
    refunded: Decimal,
    /// Refunds in a currency other than the first one seen (legacy data): kept to refuse
    /// the order rather than mix currencies.
    refund_currency: Option<Currency>,
    closed: bool,
}

impl Entry {
    fn state(&self) -> Option<OrderState> {
        let (placed_at, amount) = self.purchase?;
        Some(OrderState {
            placed_at,
            amount,
            refunded: self.refunded,
            closed: self.closed,
        })
    }
}

impl OrderLedger {
    /// Folds a customer's activities (any order; other kinds are ignored).
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use rapport_core::*;
    /// # use rust_decimal::Decimal;
    /// # let at = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    /// # let usd = |c| Money::new(Decimal::new(c, 2), Currency::USD);
    /// # let act = |n: u128, kind| Activity::new(ActivityId::from_u128(n), CustomerId::from_u128(7), at, Channel::Web, IdempotencyKey::new(format!("k{n}")).unwrap(), kind).unwrap();
    /// let so1 = OrderId::new("SO-1")?;
    /// let a = [
    ///     act(1, ActivityKind::Refund { order_id: so1.clone(), amount: usd(100), margin: None, purchased_at: at, full: false }),
    ///     act(2, ActivityKind::Purchase { order_id: so1.clone(), amount: usd(500), margin: None }),
    ///     act(3, ActivityKind::Visit { item: None }),
    /// ];
    /// let ledger = OrderLedger::from_activities(&a)?;
    /// assert_eq!(ledger, OrderLedger::from_activities(a.iter().rev())?); // order does not matter
    /// assert_eq!(ledger.order(&so1).unwrap().left(), usd(400));
    /// assert_eq!(ledger.len(), 1);
    /// # Ok::<(), DomainError>(())
    /// ```
    ///
    /// # Errors
    /// As [`OrderLedger::apply`].
    pub fn from_activities<'a>(
        activities: impl IntoIterator<Item = &'a Activity>,
    ) -> Result<Self, DomainError> {
        let mut ledger = Self::default();
        for a in activities {
            ledger.apply(a)?;
        }
        Ok(ledger)
    }

    /// Folds one activity in: a purchase adds its amount to its order (the earliest time is
    /// the order's), a refund adds to what was refunded of its order (and closes it when
    /// flagged `full`). Other kinds change nothing.
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use rapport_core::*;
    /// # use rust_decimal::Decimal;
    /// # let at = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    /// # let act = |n: u128, kind| Activity::new(ActivityId::from_u128(n), CustomerId::from_u128(7), at, Channel::Web, IdempotencyKey::new(format!("k{n}")).unwrap(), kind).unwrap();
    /// let mut ledger = OrderLedger::default();
    /// let so1 = OrderId::new("SO-1")?;
    /// ledger.apply(&act(1, ActivityKind::Purchase { order_id: so1.clone(), amount: Money::new(Decimal::TEN, Currency::EUR), margin: None }))?;
    /// assert_eq!(ledger.order(&so1).unwrap().amount, Money::new(Decimal::TEN, Currency::EUR));
    /// let usd = act(2, ActivityKind::Purchase { order_id: so1.clone(), amount: Money::new(Decimal::ONE, Currency::USD), margin: None });
    /// assert!(matches!(ledger.apply(&usd), Err(DomainError::CurrencyMismatch { .. })));
    /// # Ok::<(), DomainError>(())
    /// ```
    ///
    /// # Errors
    /// [`DomainError::CurrencyMismatch`] when two purchases of one order are in different
    /// currencies; [`DomainError::Overflow`] when a sum overflows. On error `self` is
    /// unchanged.
    pub fn apply(&mut self, a: &Activity) -> Result<(), DomainError> {
        match &a.kind {
            ActivityKind::Purchase {
                order_id, amount, ..
            } => {
                let e = self.orders.entry(order_id.clone()).or_default();
                e.purchase = Some(match e.purchase {
                    None => (a.at, *amount),
                    Some((at, paid)) => {
                        if paid.currency != amount.currency {
                            return Err(DomainError::CurrencyMismatch {
                                expected: paid.currency,
                                found: amount.currency,
                            });
                        }
                        let sum = paid.amount.checked_add(amount.amount).ok_or(
                            DomainError::Overflow {
                                field: "order.amount",
                            },
                        )?;
                        (at.min(a.at), Money::new(sum, paid.currency))
                    }
                });
            }
            ActivityKind::Refund {
                order_id,
                amount,
                full,
                ..
            } => {
                let e = self.orders.entry(order_id.clone()).or_default();
                let refunded =
                    e.refunded
                        .checked_add(amount.amount)
                        .ok_or(DomainError::Overflow {
                            field: "order.refunded",
                        })?;
                e.refunded = refunded;
                e.refund_currency.get_or_insert(amount.currency);
                e.closed |= *full;
            }
            _ => {}
        }
        Ok(())
    }

    /// The order named `order`, when a purchase recorded it.
    ///
    /// ```
    /// use rapport_core::{OrderId, OrderLedger};
    /// assert!(OrderLedger::default().order(&OrderId::new("SO-1")?).is_none());
    /// # Ok::<(), rapport_core::DomainError>(())
    /// ```
    #[must_use]
    pub fn order(&self, order: &OrderId) -> Option<OrderState> {
        self.orders.get(order).and_then(Entry::state)
    }

    /// How many orders a purchase recorded.
    ///
    /// ```
    /// assert_eq!(rapport_core::OrderLedger::default().len(), 0);
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.orders
            .values()
            .filter(|e| e.purchase.is_some())
            .count()
    }

    /// True when no purchase was recorded.
    ///
    /// ```
    /// assert!(rapport_core::OrderLedger::default().is_empty());
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Decides a new refund of `amount` on `order`: accepted when the order was recorded by
    /// a purchase of this customer, the currency is the order's and the amount is at most
    /// what the earlier refunds left. `full` is the host's "refunded in full" flag.
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc};
    /// # use rapport_core::*;
    /// # use rust_decimal::Decimal;
    /// # let at = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    /// # let usd = |c| Money::new(Decimal::new(c, 2), Currency::USD);
    /// # let buy = Activity::new(ActivityId::from_u128(1), CustomerId::from_u128(7), at, Channel::Web, IdempotencyKey::new("k1")?,
    /// #     ActivityKind::Purchase { order_id: OrderId::new("SO-1")?, amount: usd(5000), margin: None })?;
    /// let ledger = OrderLedger::from_activities(&[buy])?; // SO-1: 50.00 USD
    /// let so1 = OrderId::new("SO-1")?;
    /// // The host's flag closes the order even with something left (a restocking fee).
    /// let fee_kept = ledger.check_refund(&so1, usd(4500), true)?;
    /// assert_eq!((fee_kept.full, fee_kept.left_after), (true, usd(500)));
    /// let err = ledger.check_refund(&so1, usd(5001), false).unwrap_err();
    /// assert_eq!(err.to_string(), "refund of 50.01 USD exceeds what is left of order `SO-1`: 50.00 USD");
    /// let eur = Money::new(Decimal::ONE, Currency::EUR);
    /// assert!(matches!(ledger.check_refund(&so1, eur, false), Err(DomainError::CurrencyMismatch { .. })));
    /// # Ok::<(), DomainError>(())
    /// ```
    ///
    /// # Errors
    /// [`DomainError::UnknownOrder`] when no purchase of the customer names the order;
    /// [`DomainError::CurrencyMismatch`] when the refund is not in the order's currency;
    /// [`DomainError::RefundExceedsOrder`] when it is more than what is left;
    /// [`DomainError::NegativeAmount`] for a negative amount.
    pub fn check_refund(
        &self,
        order: &OrderId,
        amount: Money,
        full: bool,
    ) -> Result<RefundCheck, DomainError> {
        if amount.is_negative() {
            return Err(DomainError::NegativeAmount {
                field: "refund.amount",
                value: amount.amount,
            });
        }
        let entry = self.orders.get(order);
        let state = entry
            .and_then(Entry::state)
            .ok_or_else(|| DomainError::UnknownOrder {
                order: order.clone(),
            })?;
        let paid_in = state.amount.currency;
        if amount.currency != paid_in {
            return Err(DomainError::CurrencyMismatch {
                expected: paid_in,
                found: amount.currency,
            });
        }
        if let Some(found) = entry.and_then(|e| e.refund_currency) {
            if found != paid_in {
                return Err(DomainError::CurrencyMismatch {
                    expected: paid_in,
                    found,
                });
            }
        }
        let left_before = state.left();
        if amount.amount > left_before.amount {
            return Err(DomainError::RefundExceedsOrder {
                order: order.clone(),
                left: left_before,
                requested: amount,
            });
        }
        let left_after = Money::new(left_before.amount - amount.amount, paid_in);
        Ok(RefundCheck {
            purchased_at: state.placed_at,
            left_before,
            left_after,
            full: !state.closed && (full || left_after.amount.is_zero()),
        })
    }

    /// [`OrderLedger::check_refund`] on an activity kind: a refund comes back with
    /// `purchased_at` and `full` taken from the order (whatever the caller put there); any
    /// other kind comes back unchanged.
    ///
    /// ```
    /// # use chrono::{Duration, TimeZone, Utc};
    /// # use rapport_core::*;
    /// # use rust_decimal::Decimal;
    /// # let at = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    /// # let usd = |c| Money::new(Decimal::new(c, 2), Currency::USD);
    /// # let buy = Activity::new(ActivityId::from_u128(1), CustomerId::from_u128(7), at, Channel::Web, IdempotencyKey::new("k1")?,
    /// #     ActivityKind::Purchase { order_id: OrderId::new("SO-1")?, amount: usd(5000), margin: None })?;
    /// let ledger = OrderLedger::from_activities(&[buy])?; // SO-1: 50.00 USD, placed at `at`
    /// let wrong_date = at + Duration::days(40);
    /// let refund = ActivityKind::Refund { order_id: OrderId::new("SO-1")?, amount: usd(5000), margin: None, purchased_at: wrong_date, full: false };
    /// let refunded_at = at + Duration::days(3);
    /// let settled = ledger.settle_refund(refund.clone(), refunded_at)?;
    /// assert!(matches!(settled, ActivityKind::Refund { purchased_at, full: true, .. } if purchased_at == at));
    /// assert_eq!(ledger.settle_refund(ActivityKind::Contact, refunded_at)?, ActivityKind::Contact);
    /// // A refund cannot come before its order.
    /// let err = ledger.settle_refund(refund, at - Duration::days(1)).unwrap_err();
    /// assert!(matches!(err, DomainError::RefundBeforeOrder { .. }));
    /// # Ok::<(), DomainError>(())
    /// ```
    ///
    /// # Errors
    /// As [`OrderLedger::check_refund`], and [`DomainError::RefundBeforeOrder`] when `at` (the
    /// refund's time) is earlier than the order's.
    pub fn settle_refund(
        &self,
        kind: ActivityKind,
        at: DateTime<Utc>,
    ) -> Result<ActivityKind, DomainError> {
        match kind {
            ActivityKind::Refund {
                order_id,
                amount,
                margin,
                full,
                ..
            } => {
                let ok = self.check_refund(&order_id, amount, full)?;
                if at < ok.purchased_at {
                    return Err(DomainError::RefundBeforeOrder {
                        order: order_id,
                        purchased_at: ok.purchased_at,
                        refunded_at: at,
                    });
                }
                Ok(ActivityKind::Refund {
                    order_id,
                    amount,
                    margin,
                    purchased_at: ok.purchased_at,
                    full: ok.full,
                })
            }
            other => Ok(other),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::{Duration, TimeZone};
    use proptest::prelude::*;

    use super::*;
    use crate::model::activity::Channel;
    use crate::model::id::{ActivityId, CustomerId, IdempotencyKey};

    fn at(d: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap() + Duration::days(d)
    }
    fn usd(cents: i64) -> Money {
        Money::new(Decimal::new(cents, 2), Currency::USD)
    }
    fn act(n: u128, day: i64, kind: ActivityKind) -> Activity {
        Activity::new(
            ActivityId::from_u128(n),
            CustomerId::from_u128(1),
            at(day),
            Channel::Web,
            IdempotencyKey::new(format!("k{n}")).unwrap(),
            kind,
        )
        .unwrap()
    }
    fn order(o: u8) -> OrderId {
        OrderId::new(format!("o{o}")).unwrap()
    }

    #[test]
    fn a_refund_before_its_purchase_in_the_list_still_counts_and_legacy_orphans_stay_unknown() {
        let refund = act(
            1,
            5,
            ActivityKind::Refund {
                order_id: order(1),
                amount: usd(300),
                margin: None,
                purchased_at: at(0),
                full: false,
            },
        );
        let orphan = act(
            2,
            5,
            ActivityKind::Refund {
                order_id: order(2),
                amount: usd(300),
                margin: None,
                purchased_at: at(0),
                full: true,
            },
        );
        let buy = act(
            3,
            1,
            ActivityKind::Purchase {
                order_id: order(1),
                amount: usd(1000),
                margin: None,
            },
        );
        let l = OrderLedger::from_activities([&refund, &orphan, &buy]).unwrap();
        assert_eq!(l.len(), 1);
        assert_eq!(l.order(&order(1)).unwrap().left(), usd(700));
        assert_eq!(l.order(&order(1)).unwrap().placed_at, at(1));
        assert!(matches!(
            l.check_refund(&order(2), usd(1), false),
            Err(DomainError::UnknownOrder { .. })
        ));
    }

    #[test]
    fn a_closed_order_is_not_refunded_in_full_twice() {
        let mut l = OrderLedger::from_activities(&[act(
            1,
            0,
            ActivityKind::Purchase {
                order_id: order(1),
                amount: usd(1000),
                margin: None,
            },
        )])
        .unwrap();
        let first = l.check_refund(&order(1), usd(900), true).unwrap();
        assert!(first.full);
        l.apply(&act(
            2,
            1,
            ActivityKind::Refund {
                order_id: order(1),
                amount: usd(900),
                margin: None,
                purchased_at: first.purchased_at,
                full: first.full,
            },
        ))
        .unwrap();
        let rest = l.check_refund(&order(1), usd(100), true).unwrap();
        assert_eq!((rest.full, rest.left_after), (false, usd(0)));
    }

    proptest! {
        /// Whatever sequence of refund requests arrives, accepting only those the ledger
        /// accepts (and folding them in) never refunds more than was paid per order.
        #[test]
        fn prop_accepted_refunds_never_exceed_the_order(
            paid in proptest::collection::vec(0i64..10_000, 1..5),
            asks in proptest::collection::vec((0u8..6, 0i64..6_000), 0..40),
        ) {
            let mut l = OrderLedger::default();
            for (i, p) in paid.iter().enumerate() {
                let o = u8::try_from(i).unwrap();
                l.apply(&act(u128::from(o), 0, ActivityKind::Purchase { order_id: order(o), amount: usd(*p), margin: None })).unwrap();
            }
            let mut refunded = vec![0i64; paid.len()];
            for (n, (o, cents)) in asks.into_iter().enumerate() {
                match l.check_refund(&order(o), usd(cents), false) {
                    Ok(ok) => {
                        let i = usize::from(o);
                        refunded[i] += cents;
                        prop_assert!(refunded[i] <= paid[i]);
                        prop_assert_eq!(ok.left_after, usd(paid[i] - refunded[i]));
                        l.apply(&act(100 + n as u128, 1, ActivityKind::Refund { order_id: order(o), amount: usd(cents), margin: None, purchased_at: ok.purchased_at, full: ok.full })).unwrap();
                    }
                    Err(DomainError::UnknownOrder { order: got }) => {
                        prop_assert!(usize::from(o) >= paid.len());
                        prop_assert_eq!(got, order(o));
                    }
                    Err(DomainError::RefundExceedsOrder { left, requested, .. }) => {
                        let i = usize::from(o);
                        prop_assert!(cents > paid[i] - refunded[i]);
                        prop_assert_eq!((left, requested), (usd(paid[i] - refunded[i]), usd(cents)));
                    }
                    Err(e) => prop_assert!(false, "unexpected {e}"),
                }
            }
        }
    }
}
