//! [`ActivityImport`]: activities imported in bulk with their line items, folded into their
//! customers' stats exactly as recording them one by one through the service folds them —
//! refunds settled against their orders, a full refund without lines given back what is left
//! of its order's lines ([`lines_left`]), per-category spend under the
//! [`StatsPolicy`] — in one atomic write, idempotent by key. [`fold_import`] is that fold,
//! pure, for every backend; [`import_by_apply`] runs it over any store as one
//! [`Changeset`].

use std::collections::{BTreeMap, HashSet};
use std::future::Future;

use crate::changeset::Changeset;
use crate::decide::policy::StatsPolicy;
use crate::error::DomainError;
use crate::model::activity::{Activity, ActivityKind, ActivityType};
use crate::model::id::{ActivityId, CustomerId, IdempotencyKey, TenantId};
use crate::model::line_item::{LineItem, LineItems};
use crate::model::order::OrderLedger;
use crate::model::stats::Stats;
use crate::ports::error::{Entity, StoreError};
use crate::ports::line_items::lines_left;
use crate::ports::store::{Store, TimeRange};

/// An activity to import, with its line items (none: empty; only purchases and refunds may
/// have some).
///
/// ```
/// use chrono::DateTime;
/// use rapport_core::*;
/// use rapport_core::ports::ImportActivity;
/// let visit = Activity::new(ActivityId::from_u128(1), CustomerId::from_u128(2), DateTime::UNIX_EPOCH,
///     Channel::Web, IdempotencyKey::new("v1")?, ActivityKind::Visit { item: None })?;
/// let row = ImportActivity::from(visit);
/// assert!(row.lines.is_empty());
/// # Ok::<(), DomainError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ImportActivity {
    /// The activity; a refund's `purchased_at` and `full` are settled against its order by
    /// the import, whatever the caller put there.
    pub activity: Activity,
    /// Its line items.
    pub lines: Vec<LineItem>,
}

impl From<Activity> for ImportActivity {
    fn from(activity: Activity) -> Self {
        Self {
            activity,
            lines: Vec::new(),
        }
    }
}

/// How a bulk import folds: the [`StatsPolicy`] whose categories the stats keep spend for
/// (the service's `Policies::stats`), and whether line items may add up to another amount
/// than their activity's (as `Service::record_with_lines`'s `allow_total_mismatch`).
/// `Default`: no category tracked, totals checked.
///
/// ```
/// use rapport_core::*;
/// use rapport_core::ports::ImportPolicy;
/// let mut stats = StatsPolicy::default();
/// stats.category_spend.insert(ProductCategory::new("tea")?);
/// let p = ImportPolicy::new(stats).allow_total_mismatch(true);
/// assert!(p.allow_total_mismatch && p.stats.category_spend.len() == 1);
/// assert!(!ImportPolicy::default().allow_total_mismatch);
/// # Ok::<(), DomainError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportPolicy {
    /// The tracked categories.
    pub stats: StatsPolicy,
    /// Lines need not add up to their activity's amount.
    pub allow_total_mismatch: bool,
}

impl ImportPolicy {
    /// Folds under `stats`, totals checked.
    ///
    /// ```
    /// use rapport_core::{StatsPolicy, ports::ImportPolicy};
    /// assert_eq!(ImportPolicy::new(StatsPolicy::default()), ImportPolicy::default());
    /// ```
    #[must_use]
    pub fn new(stats: StatsPolicy) -> Self {
        Self {
            stats,
            allow_total_mismatch: false,
        }
    }

    /// Whether lines may add up to another amount than their activity's.
    ///
    /// ```
    /// use rapport_core::ports::ImportPolicy;
    /// assert!(ImportPolicy::default().allow_total_mismatch(true).allow_total_mismatch);
    /// ```
    #[must_use]
    pub fn allow_total_mismatch(mut self, allow: bool) -> Self {
        self.allow_total_mismatch = allow;
        self
    }
}

/// What a bulk import did.
///
/// ```
/// use rapport_core::ports::ActivityImportReport;
/// let mut total = ActivityImportReport { rows: 2, inserted: 2, skipped: 0, lines: 3 };
/// total += ActivityImportReport { rows: 2, inserted: 0, skipped: 2, lines: 0 };
/// assert_eq!(total, ActivityImportReport { rows: 4, inserted: 2, skipped: 2, lines: 3 });
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ActivityImportReport {
    /// Activities in the batch.
    pub rows: usize,
    /// Activities written (new keys).
    pub inserted: usize,
    /// Activities whose key was stored already, or came earlier in the batch.
    pub skipped: usize,
    /// Line items written with the new activities (given ones, and those a full refund
    /// without lines gives back), counted one per line.
    pub lines: usize,
}

impl std::ops::AddAssign for ActivityImportReport {
    fn add_assign(&mut self, o: Self) {
        self.rows += o.rows;
        self.inserted += o.inserted;
        self.skipped += o.skipped;
        self.lines += o.lines;
    }
}

/// One customer's new activities folded: what to write.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerImport {
    /// The activities, refunds settled against their orders, in batch order.
    pub activities: Vec<Activity>,
    /// Their line lists.
    pub line_items: Vec<LineItems>,
    /// The stats with all of them folded in.
    pub stats: Stats,
}

/// Folds one customer's new activities (`fresh`, in batch order, none of them stored) into
/// `stats` as `Service::record_with_lines` folds each: a refund is settled against the
/// orders of `history` (the customer's stored activities) and of the batch's earlier rows;
/// given lines are checked against their activity; a full refund without lines gets what is
/// left of its order's lines among `stored_lines` (the customer's stored line lists) and the
/// batch's earlier lists; per-category spend follows `policy.stats`. `history` and
/// `stored_lines` are read only when `fresh` holds a refund ([`ImportNeeds`]).
///
/// ```
/// use chrono::{Duration, TimeZone, Utc};
/// use rapport_core::*;
/// use rapport_core::ports::{fold_import, ImportActivity, ImportPolicy};
/// let at = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
/// let usd = |s: &str| Money::new(s.parse().unwrap(), Currency::USD);
/// let c = CustomerId::from_u128(2);
/// let act = |n, at, kind| Activity::new(ActivityId::from_u128(n), c, at, Channel::Web,
///     IdempotencyKey::new(format!("k{n}")).unwrap(), kind).unwrap();
/// let o1 = OrderId::new("o1")?;
/// let buy = ImportActivity {
///     activity: act(1, at, ActivityKind::Purchase { order_id: o1.clone(), amount: usd("30"), margin: None }),
///     lines: vec![LineItem::new(Sku::new("puer")?, 2, usd("15"), None)?],
/// };
/// let back = ImportActivity::from(act(2, at + Duration::days(1), ActivityKind::Refund {
///     order_id: o1, amount: usd("30"), margin: None, purchased_at: at, full: false }));
/// let done = fold_import(Stats::default(), &[], &[], vec![buy, back], &ImportPolicy::default())?;
/// assert!(matches!(done.activities[1].kind, ActivityKind::Refund { full: true, .. }));
/// assert_eq!(done.line_items.len(), 2); // the purchase's, and the two puer given back
/// assert!(done.line_items[1].refund && done.line_items[1].items[0].quantity == 2);
/// assert_eq!(done.stats.orders(), 1);
/// # Ok::<(), DomainError>(())
/// ```
///
/// # Errors
/// [`DomainError::ImportedActivity`] naming the first activity refused (an unknown order, a
/// refund exceeding its order, lines that do not add up, a currency mix, …) with the reason.
pub fn fold_import(
    mut stats: Stats,
    history: &[Activity],
    stored_lines: &[LineItems],
    fresh: Vec<ImportActivity>,
    policy: &ImportPolicy,
) -> Result<CustomerImport, DomainError> {
    let needs = ImportNeeds::of(&fresh);
    let mut ledger = if needs.history {
        Some(OrderLedger::from_activities(history)?)
    } else {
        None
    };
    // The lines a full refund without lines may give back: the stored ones and the batch's.
    let mut known: Vec<LineItems> = if needs.lines {
        stored_lines.to_vec()
    } else {
        Vec::new()
    };
    let mut out = CustomerImport {
        activities: Vec::with_capacity(fresh.len()),
        line_items: Vec::new(),
        stats: Stats::default(),
    };
    for row in fresh {
        let id = row.activity.id;
        let named = |error: DomainError| DomainError::ImportedActivity {
            activity: id,
            error: Box::new(error),
        };
        let (activity, lines) =
            fold_one(&mut stats, ledger.as_mut(), &known, row, policy).map_err(named)?;
        if needs.lines {
            known.extend(lines.iter().cloned());
        }
        out.activities.push(activity);
        out.line_items.extend(lines);
    }
    out.stats = stats;
    Ok(out)
}

/// Refuses an import into a merged or erased customer, as the service refuses to record an
/// activity for one: [`DomainError::ImportedActivity`] naming the customer's first row, with
/// [`DomainError::Tombstoned`]. Every [`ActivityImport`] checks it before folding.
///
/// ```
/// use chrono::DateTime;
/// use rapport_core::ports::{ImportActivity, ensure_importable};
/// use rapport_core::*;
/// let t = TenantId::from_u128(1);
/// let now = DateTime::UNIX_EPOCH;
/// let mut gone = Customer::new(t, CustomerId::from_u128(2), Profile::default(), now);
/// gone.set_lifecycle(gone.lifecycle().merge_into(CustomerId::from_u128(3), now)?)?;
/// let key = IdempotencyKey::new("v-1")?;
/// let visit = Activity::new(ActivityId::from_u128(9), gone.id(), now, Channel::Web, key, ActivityKind::Visit { item: None })?;
/// let err = ensure_importable(&gone, &[ImportActivity::from(visit)]).unwrap_err();
/// assert!(matches!(err, DomainError::ImportedActivity { activity, ref error }
///     if activity == ActivityId::from_u128(9) && matches!(**error, DomainError::Tombstoned { .. })));
/// # Ok::<(), DomainError>(())
/// ```
///
/// # Errors
/// As described.
pub fn ensure_importable(
    customer: &crate::model::customer::Customer,
    fresh: &[ImportActivity],
) -> Result<(), DomainError> {
    match (customer.ensure_live(), fresh.first()) {
        (Err(error), Some(first)) => Err(DomainError::ImportedActivity {
            activity: first.activity.id,
            error: Box::new(error),
        }),
        _ => Ok(()),
    }
}

/// One activity of [`fold_import`].
fn fold_one(
    stats: &mut Stats,
    ledger: Option<&mut OrderLedger>,
    known: &[LineItems],
    row: ImportActivity,
    policy: &ImportPolicy,
) -> Result<(Activity, Vec<LineItems>), DomainError> {
    let ImportActivity {
        mut activity,
        lines,
    } = row;
    activity.kind.validate()?;
    if let Some(ledger) = ledger {
        if matches!(activity.kind, ActivityKind::Refund { .. }) {
            activity.kind = ledger.settle_refund(activity.kind.clone(), activity.at)?;
        }
        ledger.apply(&activity)?;
    }
    let first_order =
        stats.count(ActivityType::Purchase) == 0 && stats.count(ActivityType::Refund) == 0;
    stats.apply(&activity)?;
    let line_items = match &activity.kind {
        _ if !lines.is_empty() => vec![LineItems::of(
            &activity,
            lines,
            policy.allow_total_mismatch,
        )?],
        // As the service: the order's full refund without lines gives back what is left of
        // its lines (the amounts may differ: a refund of what is left is not a price list).
        ActivityKind::Refund {
            order_id,
            full: true,
            ..
        } => {
            let left = lines_left(known, order_id);
            if left.is_empty() {
                Vec::new()
            } else {
                vec![LineItems::of(&activity, left, true)?]
            }
        }
        _ => Vec::new(),
    };
    stats.fold_lines(
        &policy.stats.category_spend,
        first_order,
        &activity,
        &line_items,
    )?;
    Ok((activity, line_items))
}

/// What a store reads for one customer before [`fold_import`]: its stored activities when a
/// new one is a refund (settled against its order), its stored line lists when a refund
/// comes without lines (it may give back what is left of them).
///
/// ```
/// use rapport_core::ports::ImportNeeds;
/// assert_eq!(ImportNeeds::of(&[]), ImportNeeds { history: false, lines: false });
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportNeeds {
    /// Read the customer's activities.
    pub history: bool,
    /// Read the customer's line lists.
    pub lines: bool,
}

impl ImportNeeds {
    /// What `fresh`, one customer's new activities, needs read.
    #[must_use]
    pub fn of(fresh: &[ImportActivity]) -> Self {
        let refunds = || {
            fresh
                .iter()
                .filter(|r| matches!(r.activity.kind, ActivityKind::Refund { .. }))
        };
        Self {
            history: refunds().next().is_some(),
            lines: refunds().any(|r| r.lines.is_empty()),
        }
    }
}

/// A batch split by customer (in id order, each customer's rows in batch order), the rows
/// whose key `stored` says is stored, or that came earlier in the batch, left out and
/// counted in `skipped`.
///
/// ```
/// use chrono::DateTime;
/// use rapport_core::*;
/// use rapport_core::ports::{by_customer, ImportActivity};
/// let visit = |n, key: &str| ImportActivity::from(Activity::new(ActivityId::from_u128(n),
///     CustomerId::from_u128(n % 2), DateTime::UNIX_EPOCH, Channel::Web,
///     IdempotencyKey::new(key).unwrap(), ActivityKind::Visit { item: None }).unwrap());
/// let batch = vec![visit(1, "a"), visit(2, "b"), visit(3, "a"), visit(5, "c")];
/// let (groups, skipped) = by_customer(batch, |k| k.as_str() == "c");
/// assert_eq!(skipped, 2);
/// assert_eq!(groups.len(), 2);
/// ```
pub fn by_customer(
    batch: Vec<ImportActivity>,
    stored: impl Fn(&IdempotencyKey) -> bool,
) -> (BTreeMap<CustomerId, Vec<ImportActivity>>, usize) {
    let mut seen: HashSet<IdempotencyKey> = HashSet::with_capacity(batch.len());
    let mut groups: BTreeMap<CustomerId, Vec<ImportActivity>> = BTreeMap::new();
    let mut skipped = 0;
    for row in batch {
        let key = &row.activity.idempotency_key;
        if stored(key) || !seen.insert(key.clone()) {
            skipped += 1;
            continue;
        }
        groups.entry(row.activity.customer).or_default().push(row);
    }
    (groups, skipped)
}

/// How many times [`import_by_apply`] folds a batch again: after a version conflict (a
/// concurrent writer) or a key stored meanwhile.
const ATTEMPTS: usize = 16;

/// Imports `batch` into any store as one [`Changeset`]: each customer read, its new rows
/// folded ([`fold_import`]), every activity, line list and customer update written by one
/// `apply` (all or nothing, versions checked). Keys the store reports stored are left out and
/// the batch folded again; so is a batch that met a version conflict. What
/// [`ActivityImport::import_activities`] does unless a store brings its own.
///
/// ```
/// # use rapport_core::ports::*;
/// # use rapport_core::*;
/// async fn load<S: Store>(s: &S, t: TenantId, batch: Vec<ImportActivity>) -> Result<usize, StoreError> {
///     Ok(import_by_apply(s, t, batch, &ImportPolicy::default()).await?.inserted)
/// }
/// ```
///
/// # Errors
/// [`StoreError::NotFound`] for an activity of an unknown customer;
/// [`StoreError::Invalid`] with [`DomainError::ImportedActivity`] for a refused activity;
/// [`StoreError::Conflict`] when concurrent writers won every attempt; store errors. Nothing
/// of the batch is written on error.
pub async fn import_by_apply<S: Store + ?Sized>(
    store: &S,
    tenant: TenantId,
    batch: Vec<ImportActivity>,
    policy: &ImportPolicy,
) -> Result<ActivityImportReport, StoreError> {
    let rows = batch.len();
    let (groups, skipped) = by_customer(batch, |_| false);
    let mut stored: HashSet<IdempotencyKey> = HashSet::new();
    let mut last = None;
    for _ in 0..ATTEMPTS {
        let mut cs = Changeset::new();
        for (&id, rows) in &groups {
            let mut fresh: Vec<ImportActivity> = rows
                .iter()
                .filter(|r| !stored.contains(&r.activity.idempotency_key))
                .cloned()
                .collect();
            if fresh.is_empty() {
                continue;
            }
            let Some(read) = store.load(tenant, id).await? else {
                return Err(StoreError::NotFound {
                    entity: Entity::Customer(id),
                });
            };
            ensure_importable(&read.customer, &fresh)?;
            let history = if ImportNeeds::of(&fresh).history {
                let history = store.activities(tenant, id, TimeRange::all()).await?;
                // A refund imported before must not be settled again: its key is stored.
                let keys: HashSet<&IdempotencyKey> =
                    history.iter().map(|a| &a.idempotency_key).collect();
                fresh.retain(|r| {
                    let known = keys.contains(&r.activity.idempotency_key);
                    if known {
                        stored.insert(r.activity.idempotency_key.clone());
                    }
                    !known
                });
                if fresh.is_empty() {
                    continue;
                }
                history
            } else {
                Vec::new()
            };
            let needs = ImportNeeds::of(&fresh);
            let lines = if needs.lines {
                store.purchase_lines(tenant, id).await?.unwrap_or_default()
            } else {
                Vec::new()
            };
            let done = fold_import(read.stats, &history, &lines, fresh, policy)?;
            cs.update(&read.customer, read.customer.next_version(), done.stats);
            cs.activities.extend(done.activities);
            cs.line_items.extend(done.line_items);
        }
        if cs.activities.is_empty() {
            return Ok(ActivityImportReport {
                rows,
                inserted: 0,
                skipped: skipped + stored.len(),
                lines: 0,
            });
        }
        match store.apply(tenant, &cs).await {
            Ok(applied) if applied.duplicates.is_empty() => {
                return Ok(ActivityImportReport {
                    rows,
                    inserted: cs.activities.len(),
                    skipped: skipped + stored.len(),
                    lines: cs.line_items.iter().map(|l| l.items.len()).sum(),
                });
            }
            Ok(applied) => stored.extend(applied.duplicates),
            Err(e @ StoreError::Conflict { .. }) => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last
        .unwrap_or_else(|| StoreError::unavailable("the import met stored keys on every attempt")))
}

/// A store that imports activities in bulk with their line items: [`fold_import`]'s
/// semantics, one atomic write per batch, idempotent by key (a re-import writes neither the
/// activity nor its lines again), never across tenants.
///
/// The provided body is [`import_by_apply`]; a store with a faster path brings its own.
/// Contract (kit: `activity_import` contracts): lines read back through `LineItemStore`;
/// stats equal to the same activities recorded one by one through the service; a bad batch
/// writes nothing.
///
/// ```
/// use rapport_core::ports::{ActivityImport, ImportActivity, ImportPolicy};
/// use rapport_core::TenantId;
/// async fn load<S: ActivityImport>(s: &S, batch: Vec<ImportActivity>) -> usize {
///     s.import_activities(TenantId::from_u128(1), batch, &ImportPolicy::default())
///         .await
///         .map_or(0, |r| r.inserted)
/// }
/// ```
pub trait ActivityImport: Store {
    /// Imports `batch` (see the trait).
    ///
    /// # Errors
    /// As [`import_by_apply`].
    fn import_activities(
        &self,
        tenant: TenantId,
        batch: Vec<ImportActivity>,
        policy: &ImportPolicy,
    ) -> impl Future<Output = Result<ActivityImportReport, StoreError>> + Send {
        import_by_apply(self, tenant, batch, policy)
    }
}

macro_rules! forward_import {
    ($($wrapper:ty),*) => {$(
        impl<S: ActivityImport + ?Sized> ActivityImport for $wrapper {
            fn import_activities(
                &self,
                tenant: TenantId,
                batch: Vec<ImportActivity>,
                policy: &ImportPolicy,
            ) -> impl Future<Output = Result<ActivityImportReport, StoreError>> + Send {
                (**self).import_activities(tenant, batch, policy)
            }
        }
    )*};
}

forward_import!(&S, Box<S>, std::sync::Arc<S>);

/// The id of the activity a [`DomainError::ImportedActivity`] names, if it is one.
///
/// ```
/// use rapport_core::*;
/// use rapport_core::ports::refused_activity;
/// let e = StoreError::Invalid(DomainError::ImportedActivity {
///     activity: ActivityId::from_u128(3),
///     error: Box::new(DomainError::UnknownOrder { order: OrderId::new("o")? }),
/// });
/// assert_eq!(refused_activity(&e).map(|(a, _)| a), Some(ActivityId::from_u128(3)));
/// # Ok::<(), DomainError>(())
/// ```
#[must_use]
pub fn refused_activity(e: &StoreError) -> Option<(ActivityId, &DomainError)> {
    match e {
        StoreError::Invalid(DomainError::ImportedActivity { activity, error }) => {
            Some((*activity, error))
        }
        _ => None,
    }
}
