//! Bulk imports: the `COPY BINARY` path against the per-row statements. Both idempotent
//! (never an upsert of an existing customer), both leaving the same store contents and the
//! same reports for the same generated data, the first of two rows with one key winning.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use chrono::{DateTime, Utc};
use futures::executor::block_on;
use rapport_core::*;
use rapport_postgres::{ImportPath, ImportReport, PostgresStore};
use rapport_testkit::generate::{Generated, customers, year_2026};
use support::{Fresh, fresh_with};

const T: TenantId = TenantId::from_u128(1);

fn store(path: ImportPath) -> Fresh {
    fresh_with(|c| c.with_import(path))
}

fn s(f: &Fresh) -> &PostgresStore {
    f.0.as_ref().unwrap()
}

/// A generated population, every third customer with an email (so the contact column is
/// exercised).
fn population(n: usize) -> Vec<Generated> {
    let (start, end) = year_2026();
    let mut pop = customers(T, n, 7, start, end);
    for (i, g) in pop.iter_mut().enumerate() {
        if i % 3 == 0 {
            g.customer.profile.email = Some(Pii::new(
                Email::parse(&format!("c{i}@example.com")).unwrap(),
            ));
        }
    }
    pop
}

/// Everything a store holds for the tenant: records, timelines, lookups.
fn contents(store: &PostgresStore, pop: &[Generated]) -> Vec<(Record, Vec<Activity>)> {
    let mut out = Vec::new();
    let mut page = Page::first(1000);
    loop {
        let batch = block_on(store.scan(T, page)).unwrap();
        let Some(last) = batch.last() else { break };
        page = Page {
            after: Some(last.customer.id()),
            limit: 1000,
        };
        for r in batch {
            let acts =
                block_on(store.activities(T, r.customer.id(), TimeRange::default())).unwrap();
            out.push((r, acts));
        }
    }
    for g in pop.iter().filter(|g| g.customer.profile.email.is_some()) {
        let key = g.customer.profile.contact_keys()[0].clone();
        assert_eq!(
            block_on(store.find_by_contact(T, &key)).unwrap(),
            vec![g.customer.id()]
        );
    }
    out
}

/// Customers, then their activities in chunks: what `rapport import` does.
fn import(store: &PostgresStore, pop: &[Generated]) -> (ImportReport, ImportReport) {
    let mut cs = ImportReport::default();
    let rows: Vec<(Customer, Stats)> = pop
        .iter()
        .map(|g| (g.customer.clone(), Stats::default()))
        .collect();
    for chunk in rows.chunks(150) {
        cs += block_on(store.import_customers(T, chunk)).unwrap();
    }
    let mut acts = ImportReport::default();
    let all: Vec<Activity> = pop.iter().flat_map(|g| g.activities.clone()).collect();
    for chunk in all.chunks(400) {
        acts += block_on(store.import_activities(T, chunk.to_vec())).unwrap();
    }
    (cs, acts)
}

#[test]
fn copy_and_statements_leave_the_same_store() {
    let pop = population(600);
    let (copy, stmts) = (store(ImportPath::Copy), store(ImportPath::Statements));
    let by_copy = import(s(&copy), &pop);
    let by_stmts = import(s(&stmts), &pop);
    assert_eq!(by_copy, by_stmts);
    assert_eq!(by_copy.0.inserted, 600);
    assert!(by_copy.1.inserted > 600, "{by_copy:?}");
    let a = contents(s(&copy), &pop);
    assert_eq!(a.len(), 600);
    assert_eq!(a, contents(s(&stmts), &pop));
    // The imported activities are folded in: each customer's stats are the generator's.
    for ((r, acts), g) in a.iter().zip(&pop) {
        assert_eq!(r.stats, g.stats);
        assert_eq!(acts.len(), g.activities.len());
    }
}

#[test]
fn a_reimport_adds_nothing_on_either_path() {
    let pop = population(200);
    for path in [ImportPath::Copy, ImportPath::Statements] {
        let f = store(path);
        let first = import(s(&f), &pop);
        let before = contents(s(&f), &pop);
        let again = import(s(&f), &pop);
        assert_eq!(
            again.0,
            ImportReport {
                rows: 200,
                inserted: 0,
                skipped: 200
            }
        );
        assert_eq!(
            again.1,
            ImportReport {
                rows: first.1.rows,
                inserted: 0,
                skipped: first.1.rows
            }
        );
        assert_eq!(contents(s(&f), &pop), before, "{path:?}");
    }
}

#[test]
fn an_existing_customer_is_never_overwritten() {
    let f = store(ImportPath::Copy);
    let pop = population(3);
    import(s(&f), &pop[..1]);
    // The stored customer moves on to version 2, its email erased.
    let stored = block_on(s(&f).load(T, pop[0].customer.id()))
        .unwrap()
        .unwrap();
    let mut next = stored.customer.next_version();
    next.profile.email = None;
    let mut cs = Changeset::new();
    cs.update(&stored.customer, next.clone(), stored.stats.clone());
    block_on(s(&f).apply(T, &cs)).unwrap();
    let rows: Vec<(Customer, Stats)> = pop
        .iter()
        .map(|g| (g.customer.clone(), Stats::default()))
        .collect();
    let r = block_on(s(&f).import_customers(T, &rows)).unwrap();
    assert_eq!(
        r,
        ImportReport {
            rows: 3,
            inserted: 2,
            skipped: 1
        }
    );
    let kept = block_on(s(&f).load(T, pop[0].customer.id()))
        .unwrap()
        .unwrap();
    assert_eq!(kept.customer, next);
}

#[test]
fn within_a_batch_the_first_row_of_a_key_wins_on_both_paths() {
    let now = DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::days(20_000);
    let id = CustomerId::from_u128(1);
    let first = Customer::new(T, id, Profile::default(), now);
    let second = first.clone().with_version(5);
    let order = |amount: i64| {
        Activity::new(
            ActivityId::from_u128(amount as u128),
            id,
            now,
            Channel::Web,
            IdempotencyKey::new("order-1").unwrap(),
            ActivityKind::Purchase {
                order_id: OrderId::new("1").unwrap(),
                amount: Money::new(rust_decimal::Decimal::from(amount), Currency::EUR),
                margin: None,
            },
        )
        .unwrap()
    };
    let mut seen = Vec::new();
    for path in [ImportPath::Copy, ImportPath::Statements] {
        let f = store(path);
        let r = block_on(s(&f).import_customers(
            T,
            &[
                (first.clone(), Stats::default()),
                (second.clone(), Stats::default()),
            ],
        ))
        .unwrap();
        assert_eq!(
            r,
            ImportReport {
                rows: 2,
                inserted: 1,
                skipped: 1
            }
        );
        let r = block_on(s(&f).import_activities(T, vec![order(10), order(20)])).unwrap();
        assert_eq!(
            r,
            ImportReport {
                rows: 2,
                inserted: 1,
                skipped: 1
            }
        );
        let rec = block_on(s(&f).load(T, id)).unwrap().unwrap();
        assert_eq!(rec.customer.version(), 2, "{path:?}");
        let acts = block_on(s(&f).activities(T, id, TimeRange::default())).unwrap();
        assert_eq!(acts, vec![order(10)], "{path:?}");
        seen.push(rec);
    }
    assert_eq!(seen[0], seen[1]);
}

#[test]
fn an_unknown_customer_fails_the_whole_copy_batch() {
    let f = store(ImportPath::Copy);
    let pop = population(2);
    import(s(&f), &pop[..1]);
    let before = contents(s(&f), &pop[..1]);
    let mut acts = pop[0].activities.clone();
    acts.extend(pop[1].activities.iter().cloned());
    let acts: Vec<Activity> = acts
        .into_iter()
        .map(|mut a| {
            a.idempotency_key =
                IdempotencyKey::new(format!("new-{}", a.idempotency_key.as_str())).unwrap();
            a
        })
        .collect();
    let err = block_on(s(&f).import_activities(T, acts)).unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    assert_eq!(contents(s(&f), &pop[..1]), before);
    // And the connection is fine afterwards (the staging table went with the rollback).
    let again = block_on(s(&f).import_activities(T, pop[0].activities.clone())).unwrap();
    assert_eq!(again.inserted, 0);
}
