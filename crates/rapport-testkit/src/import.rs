//! Contracts of the [`ActivityImport`] port: activities imported in bulk with their line
//! items read back through [`LineItemStore`], idempotent on re-import (no line written twice),
//! a full refund without lines given back what is left of its order, stats (per-category
//! spend included) equal to the same activities recorded one by one through the service,
//! tenants isolated, a bad batch writing nothing. Run them with the `activity_import`
//! capability flag of [`store_contracts!`](crate::store_contracts).

use chrono::{DateTime, Duration, TimeZone, Utc};
use rapport_core::ports::{ActivityImport, ImportActivity, ImportPolicy};
use rapport_core::*;
use rust_decimal::Decimal;

use crate::contracts::{Outcome, TA, TB};

macro_rules! ensure {
    ($cond:expr, $($msg:tt)+) => {
        if !$cond {
            return Err(format!($($msg)+));
        }
    };
}

fn day(d: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0)
        .single()
        .unwrap_or_default()
        + Duration::days(d)
}

fn usd(cents: i64) -> Money {
    Money::new(Decimal::new(cents, 2), Currency::USD)
}

fn e(x: impl std::fmt::Display) -> String {
    x.to_string()
}

fn line(sku: &str, q: u32, cents: i64, cat: &str) -> Result<LineItem, String> {
    LineItem::new(
        Sku::new(sku).map_err(e)?,
        q,
        usd(cents),
        Some(ProductCategory::new(cat).map_err(e)?),
    )
    .map_err(e)
}

/// A row: activity `n` of `customer` with `lines`.
fn row(
    n: u128,
    customer: CustomerId,
    at: DateTime<Utc>,
    kind: ActivityKind,
    lines: Vec<LineItem>,
) -> Result<ImportActivity, String> {
    let activity = Activity::new(
        ActivityId::from_u128(n),
        customer,
        at,
        Channel::Web,
        IdempotencyKey::new(format!("import-{n}")).map_err(e)?,
        kind,
    )
    .map_err(e)?;
    Ok(ImportActivity { activity, lines })
}

fn buy(order: &str, cents: i64) -> Result<ActivityKind, String> {
    Ok(ActivityKind::Purchase {
        order_id: OrderId::new(order).map_err(e)?,
        amount: usd(cents),
        margin: None,
    })
}

fn refund(order: &str, cents: i64) -> Result<ActivityKind, String> {
    Ok(ActivityKind::Refund {
        order_id: OrderId::new(order).map_err(e)?,
        amount: usd(cents),
        margin: None,
        // Settled against the order by the import.
        purchased_at: DateTime::UNIX_EPOCH,
        full: false,
    })
}

/// Creates customers with empty stats.
async fn customers<S: Store>(s: &S, t: TenantId, ids: &[CustomerId]) -> Outcome {
    let mut cs = Changeset::new();
    for &id in ids {
        cs.create(
            Customer::new(t, id, Profile::default(), day(-30)),
            Stats::default(),
        );
    }
    s.apply(t, &cs).await.map_err(|x| format!("create: {x}"))?;
    Ok(())
}

/// A lined history of two customers: `ann` buys tea twice and returns one order in full
/// without lines and part of the other with lines; `bob` buys cups and gives feedback.
fn history(ann: CustomerId, bob: CustomerId) -> Result<Vec<ImportActivity>, String> {
    Ok(vec![
        row(
            1,
            ann,
            day(0),
            buy("a-1", 7250)?,
            vec![line("puer", 2, 3000, "tea")?, line("cup", 1, 1250, "cups")?],
        )?,
        row(
            2,
            bob,
            day(1),
            buy("b-1", 1800)?,
            vec![line("cup", 2, 900, "cups")?],
        )?,
        row(
            3,
            ann,
            day(2),
            buy("a-2", 4000)?,
            vec![line("oolong", 2, 2000, "tea")?],
        )?,
        row(
            4,
            ann,
            day(3),
            refund("a-2", 2000)?,
            vec![line("oolong", 1, 2000, "tea")?],
        )?,
        row(
            5,
            bob,
            day(4),
            ActivityKind::Feedback {
                feedback: Feedback::Nps(Nps::new(9).map_err(e)?),
            },
            Vec::new(),
        )?,
        // The rest of a-2, without lines: the second oolong comes back.
        row(6, ann, day(5), refund("a-2", 2000)?, Vec::new())?,
        // a-1 in full, without lines: both puer and the cup come back.
        row(7, ann, day(6), refund("a-1", 7250)?, Vec::new())?,
    ])
}

fn tea_policy() -> Result<ImportPolicy, String> {
    let mut stats = StatsPolicy::default();
    stats
        .category_spend
        .insert(ProductCategory::new("tea").map_err(e)?);
    Ok(ImportPolicy::new(stats))
}

/// A line list as compared: order, refund, (sku, quantity) of each line.
type Shape = (String, bool, Vec<(String, u32)>);

/// (order, refund, sku × quantity) of each line list: what two backends (or the service and
/// an import) must agree on, whatever activity ids they gave.
fn shape(lists: &[LineItems]) -> Vec<Shape> {
    let mut v: Vec<_> = lists
        .iter()
        .map(|l| {
            (
                l.order.as_str().to_owned(),
                l.refund,
                l.items
                    .iter()
                    .map(|i| (i.sku.as_str().to_owned(), i.quantity))
                    .collect(),
            )
        })
        .collect();
    v.sort();
    v
}

/// Lines round-trip with their imported activities: by activity and by customer, the import
/// reporting what it wrote; a full refund without lines (of an order stored earlier, and of
/// an order earlier in the same batch) gets what is left of the order's lines; a re-import
/// (and a key twice in one batch) writes nothing more.
///
/// ```
/// use futures::executor::block_on;
/// use rapport_memory::MemoryStore;
/// assert_eq!(block_on(rapport_testkit::import::import_round_trips_lines(&MemoryStore::new())), Ok(()));
/// ```
///
/// # Errors
/// A message naming the broken rule.
pub async fn import_round_trips_lines<S: ActivityImport + LineItemStore>(s: &S) -> Outcome {
    let (ann, bob) = (CustomerId::from_u128(21), CustomerId::from_u128(22));
    customers(s, TA, &[ann, bob]).await?;
    let rows = history(ann, bob)?;
    // The first purchase alone, then the rest: refunds meet stored orders and batch orders.
    let first = s
        .import_activities(TA, rows[..1].to_vec(), &ImportPolicy::default())
        .await
        .map_err(|x| format!("first import: {x}"))?;
    ensure!(
        (first.inserted, first.lines) == (1, 2),
        "first import reported {first:?}"
    );
    let mut rest = rows[1..].to_vec();
    rest.push(rows[2].clone()); // a key twice in one batch: the first wins
    let r = s
        .import_activities(TA, rest, &ImportPolicy::default())
        .await
        .map_err(|x| format!("import: {x}"))?;
    ensure!(
        (r.rows, r.inserted, r.skipped, r.lines) == (7, 6, 1, 6),
        "import reported {r:?}, expected 7 rows, 6 new, 1 skipped, 6 lines"
    );
    let given = s
        .line_items(TA, ActivityId::from_u128(1))
        .await
        .map_err(e)?;
    ensure!(
        given.as_ref().map(|l| l.items.clone()) == Some(rows[0].lines.clone()),
        "the purchase's lines read back as {given:?}"
    );
    let mine = s.customer_line_items(TA, ann).await.map_err(e)?;
    let want = vec![
        (
            "a-1".to_owned(),
            false,
            vec![("puer".into(), 2), ("cup".into(), 1)],
        ),
        (
            "a-1".to_owned(),
            true,
            vec![("puer".into(), 2), ("cup".into(), 1)],
        ),
        ("a-2".to_owned(), false, vec![("oolong".into(), 2)]),
        ("a-2".to_owned(), true, vec![("oolong".into(), 1)]),
        ("a-2".to_owned(), true, vec![("oolong".into(), 1)]),
    ];
    ensure!(
        shape(&mine) == want,
        "ann's lines are {:?}, expected {want:?}",
        shape(&mine)
    );
    let refunds = s.activities(TA, ann, TimeRange::all()).await.map_err(e)?;
    ensure!(
        refunds.iter().any(|a| matches!(&a.kind,
            ActivityKind::Refund { order_id, full: true, purchased_at, .. }
                if order_id.as_str() == "a-1" && *purchased_at == day(0))),
        "the refund of a-1 was not settled against its order: {refunds:?}"
    );
    // A re-import writes nothing: no activity, no line, no version step.
    let before = s.load(TA, ann).await.map_err(e)?;
    let again = s
        .import_activities(TA, rows.clone(), &ImportPolicy::default())
        .await
        .map_err(|x| format!("re-import: {x}"))?;
    ensure!(
        (again.inserted, again.skipped, again.lines) == (0, 7, 0),
        "re-import reported {again:?}"
    );
    let after = s.load(TA, ann).await.map_err(e)?;
    ensure!(before == after, "a re-import changed the customer");
    let lines = s.customer_line_items(TA, ann).await.map_err(e)?;
    ensure!(lines == mine, "a re-import wrote lines again");
    Ok(())
}

/// Stats — per-category spend of the tracked categories included — and line lists equal those
/// of the same activities recorded one by one through `Service::record_with_lines` under the
/// same policy (the service in tenant B, the import in tenant A).
///
/// ```
/// use futures::executor::block_on;
/// use rapport_memory::MemoryStore;
/// assert_eq!(block_on(rapport_testkit::import::import_folds_as_the_service(&MemoryStore::new())), Ok(()));
/// ```
///
/// # Errors
/// A message naming the broken rule.
pub async fn import_folds_as_the_service<S: ActivityImport + LineItemStore>(s: &S) -> Outcome {
    let policy = tea_policy()?;
    let (ann, bob) = (CustomerId::from_u128(31), CustomerId::from_u128(32));
    customers(s, TA, &[ann, bob]).await?;
    customers(s, TB, &[ann, bob]).await?;
    let rows = history(ann, bob)?;
    let r = s
        .import_activities(TA, rows.clone(), &policy)
        .await
        .map_err(|x| format!("import: {x}"))?;
    ensure!(r.inserted == rows.len(), "import reported {r:?}");
    let policies = Policies {
        stats: policy.stats.clone(),
        ..Policies::default()
    };
    let svc = rapport::Service::new(s)
        .with_policies(policies)
        .map_err(e)?;
    for r in rows {
        let a = r.activity;
        let new = rapport::NewActivity {
            customer: a.customer,
            at: a.at,
            channel: a.channel,
            idempotency_key: a.idempotency_key,
            kind: a.kind,
        };
        svc.record_with_lines(TB, new, r.lines, false)
            .await
            .map_err(|x| format!("service: {x}"))?;
    }
    let tea = ProductCategory::new("tea").map_err(e)?;
    for id in [ann, bob] {
        let imported = s.load(TA, id).await.map_err(e)?.map(|r| r.stats);
        let recorded = s.load(TB, id).await.map_err(e)?.map(|r| r.stats);
        ensure!(
            imported == recorded,
            "customer {id}: imported stats {imported:?} differ from the service's {recorded:?}"
        );
        let a = s.customer_line_items(TA, id).await.map_err(e)?;
        let b = s.customer_line_items(TB, id).await.map_err(e)?;
        ensure!(
            shape(&a) == shape(&b),
            "customer {id}: imported lines {:?}, the service's {:?}",
            shape(&a),
            shape(&b)
        );
    }
    let spend = s
        .load(TA, ann)
        .await
        .map_err(e)?
        .and_then(|r| r.stats.category_spend(&tea, 3650, day(10)));
    ensure!(
        spend == Some(Decimal::ZERO),
        "ann returned all her tea, her tea spend is {spend:?}"
    );
    Ok(())
}

/// A batch with one bad row (a refund larger than its order, lines that do not add up, an
/// activity of a merged customer) writes nothing — no activity, no line, no stats — and its
/// error names the row; an import
/// into another tenant finds none of tenant A's customers and writes nothing either.
///
/// ```
/// use futures::executor::block_on;
/// use rapport_memory::MemoryStore;
/// assert_eq!(block_on(rapport_testkit::import::bad_import_writes_nothing(&MemoryStore::new())), Ok(()));
/// ```
///
/// # Errors
/// A message naming the broken rule.
pub async fn bad_import_writes_nothing<S: ActivityImport + LineItemStore>(s: &S) -> Outcome {
    let (ann, bob) = (CustomerId::from_u128(41), CustomerId::from_u128(42));
    customers(s, TA, &[ann, bob]).await?;
    let rows = history(ann, bob)?;
    let before = (
        s.load(TA, ann).await.map_err(e)?,
        s.load(TA, bob).await.map_err(e)?,
    );
    let too_much = row(8, ann, day(7), refund("a-1", 9999)?, Vec::new())?;
    let mut short = row(9, bob, day(7), buy("b-2", 1000)?, Vec::new())?;
    short.lines = vec![line("cup", 1, 900, "cups")?];
    for (bad, id) in [(too_much, 8u128), (short, 9)] {
        let mut batch = rows.clone();
        batch.push(bad);
        match s
            .import_activities(TA, batch, &ImportPolicy::default())
            .await
        {
            Err(StoreError::Invalid(DomainError::ImportedActivity { activity, .. }))
                if activity == ActivityId::from_u128(id) => {}
            other => return Err(format!("a bad row {id} gave {other:?}")),
        }
        let after = (
            s.load(TA, ann).await.map_err(e)?,
            s.load(TA, bob).await.map_err(e)?,
        );
        ensure!(after == before, "a refused batch changed a customer");
        for c in [ann, bob] {
            let acts = s.activities(TA, c, TimeRange::all()).await.map_err(e)?;
            let lines = s.customer_line_items(TA, c).await.map_err(e)?;
            ensure!(
                acts.is_empty() && lines.is_empty(),
                "a refused batch wrote {} activities and {} line lists",
                acts.len(),
                lines.len()
            );
        }
    }
    // A merged customer takes no activity (as the service records none for one): the batch is
    // refused naming the tombstone's row, and nothing of it is written.
    let gone = CustomerId::from_u128(43);
    customers(s, TA, &[gone]).await?;
    let read = s
        .load(TA, gone)
        .await
        .map_err(e)?
        .ok_or("the created customer is missing")?;
    let mut merged = read.customer.next_version();
    merged
        .set_lifecycle(merged.lifecycle().merge_into(ann, day(-1)).map_err(e)?)
        .map_err(e)?;
    let mut cs = Changeset::new();
    cs.update(&read.customer, merged, read.stats.clone());
    s.apply(TA, &cs).await.map_err(|x| format!("merge: {x}"))?;
    let tomb = s.load(TA, gone).await.map_err(e)?;
    let mut batch = rows.clone();
    batch.push(row(10, gone, day(7), buy("g-1", 500)?, Vec::new())?);
    match s
        .import_activities(TA, batch, &ImportPolicy::default())
        .await
    {
        Err(StoreError::Invalid(DomainError::ImportedActivity { activity, error }))
            if activity == ActivityId::from_u128(10)
                && matches!(*error, DomainError::Tombstoned { .. }) => {}
        other => return Err(format!("an import into a merged customer gave {other:?}")),
    }
    ensure!(
        s.load(TA, gone).await.map_err(e)? == tomb
            && s.load(TA, ann).await.map_err(e)? == before.0
            && s.activities(TA, gone, TimeRange::all())
                .await
                .map_err(e)?
                .is_empty()
            && s.activities(TA, ann, TimeRange::all())
                .await
                .map_err(e)?
                .is_empty(),
        "a batch refused for a merged customer wrote something"
    );
    // Tenant B has none of these customers: nothing written there, nothing seen from there.
    let r = s
        .import_activities(TB, rows.clone(), &ImportPolicy::default())
        .await;
    ensure!(
        matches!(r, Err(StoreError::NotFound { .. })),
        "an import into tenant B of tenant A's customers gave {r:?}"
    );
    s.import_activities(TA, rows, &ImportPolicy::default())
        .await
        .map_err(|x| format!("import: {x}"))?;
    for c in [ann, bob] {
        let seen = s.customer_line_items(TB, c).await.map_err(e)?;
        let acts = s.activities(TB, c, TimeRange::all()).await.map_err(e)?;
        ensure!(
            seen.is_empty() && acts.is_empty() && s.load(TB, c).await.map_err(e)?.is_none(),
            "tenant B sees tenant A's import"
        );
    }
    Ok(())
}

/// Runs the [`import`](self) contracts for a store factory.
#[macro_export]
macro_rules! import_contracts {
    ($factory:expr) => {
        #[test]
        fn import_round_trips_lines() {
            $crate::check($factory, |s| async move {
                $crate::import::import_round_trips_lines(&s).await
            });
        }
        #[test]
        fn import_folds_as_the_service() {
            $crate::check($factory, |s| async move {
                $crate::import::import_folds_as_the_service(&s).await
            });
        }
        #[test]
        fn bad_import_writes_nothing() {
            $crate::check($factory, |s| async move {
                $crate::import::bad_import_writes_nothing(&s).await
            });
        }
    };
}
