//! [`LineItemStore`]: the read side of line items. They are written through
//! [`Changeset::line_items`](crate::Changeset::line_items) by `Store::apply`, with the purchase
//! or refund they describe; this trait reads them back.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;

use crate::model::id::{ActivityId, CustomerId, OrderId, Sku, TenantId};
use crate::model::line_item::{LineItem, LineItems};
use crate::ports::error::StoreError;
use crate::ports::store::Store;

/// A store that keeps line items, keyed by (tenant, activity id).
///
/// Contract (kit: `line_items` flag): `apply` stores a changeset's `line_items` with its
/// activities, all or nothing — a changeset refused for a duplicate idempotency key writes no
/// lines either; an activity moved by a merge takes its lines along (their `customer`
/// follows); reads never cross tenants; `line_items_page` pages in ascending activity id;
/// `customer_line_items` is in time order, then activity id.
///
/// ```
/// use rapport_core::ports::LineItemStore;
/// use rapport_core::{CustomerId, TenantId};
/// async fn lines<S: LineItemStore>(s: &S) -> usize {
///     s.customer_line_items(TenantId::from_u128(1), CustomerId::from_u128(2)).await.map_or(0, |l| l.len())
/// }
/// ```
pub trait LineItemStore: Store {
    /// The lines of one activity, if it has any.
    fn line_items(
        &self,
        tenant: TenantId,
        activity: ActivityId,
    ) -> impl Future<Output = Result<Option<LineItems>, StoreError>> + Send;

    /// Every line list of a customer, by time then activity id.
    fn customer_line_items(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> impl Future<Output = Result<Vec<LineItems>, StoreError>> + Send;

    /// A page of the tenant's line lists after activity `after` (exclusive), at most `limit`,
    /// by activity id: a pass over every purchase, for building a recommendation model.
    fn line_items_page(
        &self,
        tenant: TenantId,
        after: Option<ActivityId>,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<LineItems>, StoreError>> + Send;
}

macro_rules! forward_line_items {
    ($($wrapper:ty),*) => {$(
        impl<S: LineItemStore + ?Sized> LineItemStore for $wrapper {
            fn line_items(
                &self,
                tenant: TenantId,
                activity: ActivityId,
            ) -> impl Future<Output = Result<Option<LineItems>, StoreError>> + Send {
                (**self).line_items(tenant, activity)
            }
            fn customer_line_items(
                &self,
                tenant: TenantId,
                customer: CustomerId,
            ) -> impl Future<Output = Result<Vec<LineItems>, StoreError>> + Send {
                (**self).customer_line_items(tenant, customer)
            }
            fn line_items_page(
                &self,
                tenant: TenantId,
                after: Option<ActivityId>,
                limit: u32,
            ) -> impl Future<Output = Result<Vec<LineItems>, StoreError>> + Send {
                (**self).line_items_page(tenant, after, limit)
            }
        }
    )*};
}

forward_line_items!(&S, Box<S>, std::sync::Arc<S>);

/// What each customer bought, net of refunds: `(customer, sku)` for every sku whose purchased
/// quantity in some order exceeds the quantity refunded by that order's refund lines (a
/// customer appears once per sku). The recommendation model's input, in customer then sku
/// order.
///
/// ```
/// use chrono::DateTime;
/// use rapport_core::*;
/// use rapport_core::ports::net_purchases;
/// let usd = |s: &str| Money::new(s.parse().unwrap(), Currency::USD);
/// let c = CustomerId::from_u128(1);
/// let line = |s: &str| LineItem::new(Sku::new(s).unwrap(), 1, usd("1"), None).unwrap();
/// let list = |id, refund, items| LineItems { activity: ActivityId::from_u128(id), customer: c,
///     order: OrderId::new("o").unwrap(), at: DateTime::UNIX_EPOCH, refund, items };
/// let rows = [list(1, false, vec![line("a"), line("b")]), list(2, true, vec![line("b")])];
/// assert_eq!(net_purchases(&rows), vec![(c, Sku::new("a")?)]);
/// # Ok::<(), DomainError>(())
/// ```
#[must_use]
pub fn net_purchases(rows: &[LineItems]) -> Vec<(CustomerId, Sku)> {
    let mut net: HashMap<(CustomerId, &OrderId, &Sku), i64> = HashMap::new();
    for r in rows {
        for l in &r.items {
            let q = i64::from(l.quantity);
            *net.entry((r.customer, &r.order, &l.sku)).or_insert(0) +=
                if r.refund { -q } else { q };
        }
    }
    let mut out: BTreeMap<(CustomerId, &Sku), ()> = BTreeMap::new();
    for ((c, _, s), q) in net {
        if q > 0 {
            out.insert((c, s), ());
        }
    }
    out.into_keys().map(|(c, s)| (c, s.clone())).collect()
}

/// What is left of `order`'s purchased lines once the refund lines of that order among `rows`
/// are given back: each purchase line in order, its quantity less what refund lines of the
/// same sku returned (netted as [`net_purchases`] nets them, by sku within the order), lines
/// with nothing left dropped. The lines a full refund recorded without lines gives back
/// (`Service::record` writes them with the refund, so that `bought(...)`,
/// `category_spend(...)` and the recommendation model count the order as returned).
///
/// ```
/// use chrono::DateTime;
/// use rapport_core::*;
/// use rapport_core::ports::lines_left;
/// let usd = |s: &str| Money::new(s.parse().unwrap(), Currency::USD);
/// let c = CustomerId::from_u128(1);
/// let line = |s: &str, q| LineItem::new(Sku::new(s).unwrap(), q, usd("1"), None).unwrap();
/// let list = |id, order: &str, refund, items| LineItems { activity: ActivityId::from_u128(id),
///     customer: c, order: OrderId::new(order).unwrap(), at: DateTime::UNIX_EPOCH, refund, items };
/// let rows = [
///     list(1, "o", false, vec![line("a", 3), line("b", 1)]),
///     list(2, "o", true, vec![line("a", 1)]),
///     list(3, "p", false, vec![line("c", 1)]),
/// ];
/// assert_eq!(lines_left(&rows, &OrderId::new("o")?), vec![line("a", 2), line("b", 1)]);
/// assert!(lines_left(&rows, &OrderId::new("q")?).is_empty());
/// # Ok::<(), DomainError>(())
/// ```
#[must_use]
pub fn lines_left(rows: &[LineItems], order: &OrderId) -> Vec<LineItem> {
    let of_order = || rows.iter().filter(|r| &r.order == order);
    let mut returned: HashMap<&Sku, u32> = HashMap::new();
    for r in of_order().filter(|r| r.refund) {
        for l in &r.items {
            let q = returned.entry(&l.sku).or_insert(0);
            *q = q.saturating_add(l.quantity);
        }
    }
    let mut left = Vec::new();
    for l in of_order().filter(|r| !r.refund).flat_map(|r| &r.items) {
        let back = returned.get_mut(&l.sku);
        let taken = back.as_ref().map_or(0, |q| (**q).min(l.quantity));
        if let Some(q) = back {
            *q -= taken;
        }
        if l.quantity > taken {
            left.push(LineItem {
                quantity: l.quantity - taken,
                ..l.clone()
            });
        }
    }
    left
}
