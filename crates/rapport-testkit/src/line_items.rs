//! Contracts of the [`LineItemStore`] port: line items written with their purchase or refund
//! in one changeset, read back exactly (by activity, by customer in time order, in pages by
//! activity id), not written when the activity is a replayed duplicate, isolated by tenant.
//! Run them with the `line_items` capability flag of
//! [`store_contracts!`](crate::store_contracts).

use chrono::{DateTime, Duration, TimeZone, Utc};
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

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 4, 1, 12, 0, 0)
        .single()
        .unwrap_or_default()
}

fn usd(cents: i64) -> Money {
    Money::new(Decimal::new(cents, 2), Currency::USD)
}

fn e(x: DomainError) -> String {
    x.to_string()
}

fn line(sku: &str, q: u32, cents: i64, cat: Option<&str>) -> Result<LineItem, String> {
    LineItem::new(
        Sku::new(sku).map_err(e)?,
        q,
        usd(cents),
        cat.map(ProductCategory::new).transpose().map_err(e)?,
    )
    .map_err(e)
}

fn order(
    id: u128,
    customer: CustomerId,
    key: &str,
    at: DateTime<Utc>,
    lines: Vec<LineItem>,
) -> Result<(Activity, LineItems), String> {
    let total = LineItems {
        activity: ActivityId::from_u128(id),
        customer,
        order: OrderId::new(key).map_err(e)?,
        at,
        refund: false,
        items: lines.clone(),
    }
    .total()
    .map_err(e)?
    .unwrap_or(usd(0));
    let a = Activity::new(
        ActivityId::from_u128(id),
        customer,
        at,
        Channel::Web,
        IdempotencyKey::new(key).map_err(e)?,
        ActivityKind::Purchase {
            order_id: OrderId::new(key).map_err(e)?,
            amount: total,
            margin: None,
        },
    )
    .map_err(e)?;
    let li = LineItems::of(&a, lines, false).map_err(e)?;
    Ok((a, li))
}

/// Lines round-trip with their purchase (sku, quantity, exact unit price with its scale,
/// category); a customer's lines come back in time order, a tenant's pages by activity id; a
/// replayed idempotency key writes none of the replay's lines; a line list naming an activity
/// the changeset does not write is refused; another tenant sees nothing.
///
/// ```
/// use futures::executor::block_on;
/// use rapport_memory::MemoryStore;
/// assert_eq!(block_on(rapport_testkit::line_items::line_items_round_trip(&MemoryStore::new())), Ok(()));
/// ```
///
/// # Errors
/// A message naming the broken rule.
pub async fn line_items_round_trip<S: LineItemStore>(s: &S) -> Outcome {
    let c = CustomerId::from_u128(1);
    let (a2, l2) = order(
        20,
        c,
        "o-2",
        now() + Duration::days(1),
        vec![
            line("tea-puer", 2, 450, Some("tea"))?,
            line("cup", 1, 1250, None)?,
        ],
    )?;
    let (a1, l1) = order(
        30,
        c,
        "o-1",
        now(),
        vec![line("tea-oolong", 1, 1000, Some("tea"))?],
    )?;
    let mut cs = Changeset::new();
    cs.create(
        Customer::new(TA, c, Profile::default(), now()),
        Stats::default(),
    );
    cs.activities = vec![a1.clone(), a2.clone()];
    cs.line_items = vec![l1.clone(), l2.clone()];
    s.apply(TA, &cs)
        .await
        .map_err(|x| format!("apply failed: {x}"))?;
    let back = s.line_items(TA, a2.id).await.map_err(|x| x.to_string())?;
    ensure!(
        back.as_ref() == Some(&l2),
        "lines read back as {back:?}, not {l2:?}"
    );
    ensure!(
        back.map(|b| b.items[0].unit_price.amount.scale()) == Some(2),
        "the unit price lost its scale"
    );
    let mine = s
        .customer_line_items(TA, c)
        .await
        .map_err(|x| x.to_string())?;
    ensure!(
        mine == vec![l1.clone(), l2.clone()],
        "customer lines out of time order: {mine:?}"
    );
    let page = s
        .line_items_page(TA, None, 1)
        .await
        .map_err(|x| x.to_string())?;
    ensure!(page == vec![l2.clone()], "first page is {page:?}");
    let page = s
        .line_items_page(TA, Some(a2.id), 10)
        .await
        .map_err(|x| x.to_string())?;
    ensure!(page == vec![l1.clone()], "second page is {page:?}");
    // A replay: same key, new activity id and lines: nothing of it is written.
    let (mut replay, _) = order(40, c, "o-1", now(), vec![line("kettle", 1, 1000, None)?])?;
    replay.idempotency_key = a1.idempotency_key.clone();
    let replay_lines =
        LineItems::of(&replay, vec![line("kettle", 1, 1000, None)?], false).map_err(e)?;
    let mut again = Changeset::new();
    again.activities.push(replay.clone());
    again.line_items.push(replay_lines);
    let r = s
        .apply(TA, &again)
        .await
        .map_err(|x| format!("replay failed: {x}"))?;
    ensure!(
        r.duplicates.len() == 1,
        "replay reported {:?}",
        r.duplicates
    );
    let none = s
        .line_items(TA, replay.id)
        .await
        .map_err(|x| x.to_string())?;
    ensure!(none.is_none(), "a replayed purchase's lines were written");
    // Lines without their activity are refused.
    let mut orphan = Changeset::new();
    orphan.line_items.push(l1.clone());
    ensure!(
        s.apply(TA, &orphan).await.is_err(),
        "orphan line items were accepted"
    );
    // Tenant isolation.
    ensure!(
        s.line_items(TB, a1.id)
            .await
            .map_err(|x| x.to_string())?
            .is_none()
            && s.customer_line_items(TB, c)
                .await
                .map_err(|x| x.to_string())?
                .is_empty()
            && s.line_items_page(TB, None, 10)
                .await
                .map_err(|x| x.to_string())?
                .is_empty(),
        "tenant B sees tenant A's line items"
    );
    Ok(())
}

/// Segments on line items: `query` with `bought(...)` selects the buyers net of full refunds,
/// `category_spend(...)` sums a category's lines in the window net of refunds;
/// `purchase_lines` answers a customer's lines; another tenant's query sees none of them.
///
/// ```
/// use futures::executor::block_on;
/// use rapport_memory::MemoryStore;
/// assert_eq!(block_on(rapport_testkit::line_items::segments_read_line_items(&MemoryStore::new())), Ok(()));
/// ```
///
/// # Errors
/// A message naming the broken rule.
pub async fn segments_read_line_items<S: LineItemStore>(s: &S) -> Outcome {
    let (ann, bob, cy) = (
        CustomerId::from_u128(11),
        CustomerId::from_u128(12),
        CustomerId::from_u128(13),
    );
    let day = |d: i64| now() - Duration::days(d);
    let (a1, l1) = order(
        101,
        ann,
        "a-1",
        day(10),
        vec![
            line("tea-puer", 2, 6000, Some("tea"))?,
            line("cup", 1, 1250, Some("cups"))?,
        ],
    )?;
    let (a2, l2) = order(
        102,
        bob,
        "b-1",
        day(400),
        vec![line("tea-puer", 1, 2000, Some("tea"))?],
    )?;
    let (a3, l3) = order(
        103,
        cy,
        "c-1",
        day(3),
        vec![line("cup", 1, 900, Some("cups"))?],
    )?;
    // Cy returns the cup: no longer bought, no spend.
    let refund = Activity::new(
        ActivityId::from_u128(104),
        cy,
        day(1),
        Channel::Web,
        IdempotencyKey::new("c-1-refund").map_err(e)?,
        ActivityKind::Refund {
            order_id: OrderId::new("c-1").map_err(e)?,
            amount: usd(900),
            margin: None,
            purchased_at: day(3),
            full: true,
        },
    )
    .map_err(e)?;
    let l4 = LineItems::of(&refund, vec![line("cup", 1, 900, Some("cups"))?], false).map_err(e)?;
    let mut cs = Changeset::new();
    let mut stats = Vec::new();
    for (c, acts) in [(ann, vec![&a1]), (bob, vec![&a2]), (cy, vec![&a3, &refund])] {
        let owned: Vec<Activity> = acts.into_iter().cloned().collect();
        stats.push((c, Stats::from_activities(&owned).map_err(e)?));
    }
    for (c, st) in stats {
        cs.create(Customer::new(TA, c, Profile::default(), day(500)), st);
    }
    cs.activities = vec![a1, a2, a3, refund];
    cs.line_items = vec![l1.clone(), l2, l3, l4];
    s.apply(TA, &cs)
        .await
        .map_err(|x| format!("apply failed: {x}"))?;
    let ids = |text: &'static str, t: TenantId| async move {
        let seg = Segment::parse(text).map_err(|x| x.to_string())?;
        let rows = s
            .query(t, &seg, now(), Page::first(100))
            .await
            .map_err(|x| format!("query `{text}` failed: {x}"))?;
        Ok::<Vec<u128>, String>(
            rows.iter()
                .map(|r| r.customer.id().as_uuid().as_u128())
                .collect(),
        )
    };
    for (text, want) in [
        (r#"bought("tea-puer")"#, vec![11u128, 12]),
        (r#"bought("cup")"#, vec![11]),
        (r#"not bought("cup")"#, vec![12, 13]),
        (r#"category_spend("tea", 365) > 100"#, vec![11]),
        (r#"category_spend("tea", 365) == 120"#, vec![11]),
        (r#"category_spend("tea", 36500) >= 20"#, vec![11, 12]),
        (r#"category_spend("cups", 30) == 0"#, vec![12, 13]),
        (
            r#"category_spend("cups", 30) > 0 and bought("tea-puer")"#,
            vec![11],
        ),
    ] {
        let got = ids(text, TA).await?;
        ensure!(got == want, "`{text}` selected {got:?}, not {want:?}");
        let other = ids(text, TB).await?;
        ensure!(other.is_empty(), "tenant B's `{text}` selected {other:?}");
    }
    let lines = s.purchase_lines(TA, ann).await.map_err(|x| x.to_string())?;
    ensure!(lines == Some(vec![l1]), "purchase_lines answered {lines:?}");
    Ok(())
}

/// Runs the [`line_items`](self) contracts for a store factory.
#[macro_export]
macro_rules! line_item_contracts {
    ($factory:expr) => {
        #[test]
        fn line_items_round_trip() {
            $crate::check($factory, |s| async move {
                $crate::line_items::line_items_round_trip(&s).await
            });
        }
        #[test]
        fn segments_read_line_items() {
            $crate::check($factory, |s| async move {
                $crate::line_items::segments_read_line_items(&s).await
            });
        }
    };
}
