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
    &f.inner
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
        acts += block_on(store.import_raw_activities(T, chunk.to_vec())).unwrap();
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
                skipped: 200,
                contact_taken: 0
            }
        );
        assert_eq!(
            again.1,
            ImportReport {
                rows: first.1.rows,
                inserted: 0,
                skipped: first.1.rows,
                contact_taken: 0
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
            skipped: 1,
            contact_taken: 0
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
                skipped: 1,
                contact_taken: 0
            }
        );
        let r = block_on(s(&f).import_raw_activities(T, vec![order(10), order(20)])).unwrap();
        assert_eq!(
            r,
            ImportReport {
                rows: 2,
                inserted: 1,
                skipped: 1,
                contact_taken: 0
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
    let err = block_on(s(&f).import_raw_activities(T, acts)).unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    assert_eq!(contents(s(&f), &pop[..1]), before);
    // And the connection is fine afterwards (the staging table went with the rollback).
    let again = block_on(s(&f).import_raw_activities(T, pop[0].activities.clone())).unwrap();
    assert_eq!(again.inserted, 0);
}

fn ids(store: &PostgresStore, t: TenantId) -> Vec<CustomerId> {
    let mut out = Vec::new();
    let mut page = Page::first(1000);
    loop {
        let batch = block_on(store.scan(t, page)).unwrap();
        let Some(last) = batch.last() else { break };
        page.after = Some(last.customer.id());
        out.extend(batch.iter().map(|r| r.customer.id()));
    }
    out
}

fn batch(t: TenantId, ids: std::ops::Range<u128>, version: u64) -> Vec<(Customer, Stats)> {
    let now = DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::days(20_000);
    ids.map(|i| {
        let c = Customer::new(t, CustomerId::from_u128(i), Profile::default(), now);
        (c.with_version(version), Stats::default())
    })
    .collect()
}

/// A batch of unknown ids goes straight in; a batch with known ids takes the staging way
/// and skips them (never overwrites); another tenant's ids do not count as known.
#[test]
fn fresh_batches_copy_straight_in_and_known_ids_are_skipped() {
    let f = store(ImportPath::Copy);
    let first = block_on(s(&f).import_customers(T, &batch(T, 1..101, 1))).unwrap();
    assert_eq!((first.rows, first.inserted, first.skipped), (100, 100, 0));
    // 51..150: half known (at version 1), half new; the known ones keep version 1.
    let second = block_on(s(&f).import_customers(T, &batch(T, 51..151, 3))).unwrap();
    assert_eq!(
        (second.rows, second.inserted, second.skipped),
        (100, 50, 50)
    );
    let all = ids(s(&f), T);
    assert_eq!(all, (1..151).map(CustomerId::from_u128).collect::<Vec<_>>());
    let v = |i| {
        block_on(s(&f).load(T, CustomerId::from_u128(i)))
            .unwrap()
            .unwrap()
            .customer
            .version()
    };
    assert_eq!((v(50), v(51), v(100), v(101), v(150)), (1, 1, 1, 3, 3));
    // The same ids for another tenant: all new there, the first tenant untouched.
    let t2 = TenantId::from_u128(2);
    let other = block_on(s(&f).import_customers(t2, &batch(t2, 1..151, 2))).unwrap();
    assert_eq!((other.inserted, other.skipped), (150, 0));
    assert_eq!(ids(s(&f), T).len(), 150);
    assert_eq!(ids(s(&f), t2).len(), 150);
    assert_eq!(v(1), 1);
}

/// Activities: a batch of unknown keys goes straight in, a re-run is skipped, a batch with
/// some known keys stores only the new ones; each new activity is folded once.
#[test]
fn fresh_activity_batches_copy_straight_in_and_fold_once() {
    let f = store(ImportPath::Copy);
    let pop = population(20);
    let (cs, acts) = import(s(&f), &pop);
    assert_eq!((cs.inserted, acts.skipped), (20, 0));
    let total: usize = pop.iter().map(|g| g.activities.len()).sum();
    assert_eq!(acts.inserted, total);
    // Half old keys, half new ones.
    let all: Vec<Activity> = pop.iter().flat_map(|g| g.activities.clone()).collect();
    let mut mixed: Vec<Activity> = all[..all.len() / 2].to_vec();
    mixed.extend(all[..all.len() / 2].iter().map(|a| {
        let mut a = a.clone();
        a.idempotency_key =
            IdempotencyKey::new(format!("again-{}", a.idempotency_key.as_str())).unwrap();
        a
    }));
    let r = block_on(s(&f).import_raw_activities(T, mixed)).unwrap();
    assert_eq!((r.inserted, r.skipped), (all.len() / 2, all.len() / 2));
    let stored: usize = pop
        .iter()
        .map(|g| {
            block_on(s(&f).activities(T, g.customer.id(), TimeRange::default()))
                .unwrap()
                .len()
        })
        .sum();
    assert_eq!(stored, total + all.len() / 2);
}

/// Four importers copying the same fresh batch at once: each checks that no id is stored,
/// all but one then find the ids taken when they copy, and take the staging way. Every id is
/// stored once, and the reports add up to one insert per id.
#[test]
fn concurrent_imports_of_one_fresh_batch_store_each_id_once() {
    let f = store(ImportPath::Copy);
    let rows = batch(T, 1..2_001, 1);
    let reports: Vec<ImportReport> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| block_on(s(&f).import_customers(T, &rows)).unwrap()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let inserted: usize = reports.iter().map(|r| r.inserted).sum();
    let skipped: usize = reports.iter().map(|r| r.skipped).sum();
    assert_eq!((inserted, skipped), (2_000, 6_000), "{reports:?}");
    assert_eq!(
        ids(s(&f), T),
        (1..2_001).map(CustomerId::from_u128).collect::<Vec<_>>()
    );
}

/// Activities imported by four importers at once are stored and folded once each.
#[test]
fn concurrent_activity_imports_fold_each_activity_once() {
    let f = store(ImportPath::Copy);
    let pop = population(30);
    let customers: Vec<(Customer, Stats)> = pop
        .iter()
        .map(|g| (g.customer.clone(), Stats::default()))
        .collect();
    block_on(s(&f).import_customers(T, &customers)).unwrap();
    let all: Vec<Activity> = pop.iter().flat_map(|g| g.activities.clone()).collect();
    let reports: Vec<ImportReport> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| block_on(s(&f).import_raw_activities(T, all.clone())).unwrap()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let inserted: usize = reports.iter().map(|r| r.inserted).sum();
    assert_eq!(inserted, all.len(), "{reports:?}");
    for g in &pop {
        let rec = block_on(s(&f).load(T, g.customer.id())).unwrap().unwrap();
        let want = Stats::from_activities(g.activities.iter()).unwrap();
        assert_eq!(rec.stats, want);
        let stored = block_on(s(&f).activities(T, g.customer.id(), TimeRange::default())).unwrap();
        assert_eq!(stored.len(), g.activities.len());
    }
}

/// Creates applied while an import copies the same ids: each id ends up stored once, by
/// whichever came first; the import skips what the applies stored and reports it.
#[test]
fn applies_racing_a_fresh_import_never_duplicate_an_id() {
    let f = store(ImportPath::Copy);
    let rows = batch(T, 1..3_001, 1);
    let (report, created) = std::thread::scope(|scope| {
        let import = scope.spawn(|| block_on(s(&f).import_customers(T, &rows)).unwrap());
        let creates = scope.spawn(|| {
            let mut created = 0usize;
            for (c, st) in rows.iter().step_by(7) {
                let mut cs = Changeset::new();
                cs.create(c.clone(), st.clone());
                match block_on(s(&f).apply(T, &cs)) {
                    Ok(_) => created += 1,
                    Err(StoreError::AlreadyExists { .. }) => {}
                    Err(e) => panic!("{e}"),
                }
            }
            created
        });
        (import.join().unwrap(), creates.join().unwrap())
    });
    assert_eq!(
        report.inserted + created,
        3_000,
        "{report:?}, {created} created"
    );
    assert_eq!(report.skipped, created);
    assert_eq!(
        ids(s(&f), T),
        (1..3_001).map(CustomerId::from_u128).collect::<Vec<_>>()
    );
}

/// The same import on the partitioned layout leaves the same store.
#[test]
fn the_partitioned_layout_imports_the_same() {
    let plain = store(ImportPath::Copy);
    let parted = fresh_with(|c| c.partitioned(4));
    let pop = population(60);
    assert_eq!(import(s(&plain), &pop), import(s(&parted), &pop));
    assert_eq!(contents(s(&plain), &pop), contents(s(&parted), &pop));
}

/// Every index of the store's `customers` table (and its partitions), as the catalog
/// defines it: what a first load must leave as it found.
fn customer_indexes(store: &PostgresStore) -> Vec<(String, String)> {
    support::raw_rows(&format!(
        "SELECT indexname::text, indexdef FROM pg_indexes
         WHERE schemaname = '{}' AND tablename LIKE 'customers%' ORDER BY 1",
        store.schema()
    ))
    .into_iter()
    .map(|r| (r[0].clone(), r[1].replace(store.schema(), "<schema>")))
    .collect()
}

/// Rows with every case a first load decides in memory: a repeated id (the first row wins:
/// skipped), a new id with an email a row before it took (refused, but the id comes back
/// later with a free email and is written then, so it counts as skipped, not taken), a phone
/// taken twice (the second: `contact_taken`), in a population of 300 with every third
/// customer holding an email.
fn tricky_rows() -> Vec<(Customer, Stats)> {
    let mut rows: Vec<(Customer, Stats)> = population(300)
        .into_iter()
        .map(|g| (g.customer, Stats::default()))
        .collect();
    let at = rows[0].0.created_at();
    let with = |n: u128, email: Option<&str>, phone: Option<&str>| {
        let profile = Profile {
            email: email.map(|e| Pii::new(Email::parse(e).unwrap())),
            phone: phone.map(|p| Pii::new(Phone::parse(p, "US".parse().unwrap()).unwrap())),
            ..Profile::default()
        };
        (
            Customer::new(T, CustomerId::from_u128(n), profile, at),
            Stats::default(),
        )
    };
    let repeated = (rows[5].0.clone().with_version(4), Stats::default());
    rows.insert(10, repeated);
    rows.push(with(9_001, Some("c0@example.com"), None)); // taken by row 0: refused
    rows.push(with(9_002, None, Some("+14155550100")));
    rows.push(with(9_003, None, Some("+14155550100"))); // phone taken: refused
    rows.push(with(9_001, Some("late@example.com"), None)); // back with a free email
    rows
}

/// Everything stored for the tenant, in id order.
fn all_records(store: &PostgresStore) -> Vec<Record> {
    let mut out = Vec::new();
    let mut page = Page::first(1000);
    loop {
        let batch = block_on(store.scan(T, page)).unwrap();
        let Some(last) = batch.last() else { break };
        page.after = Some(last.customer.id());
        out.extend(batch);
    }
    out
}

#[test]
fn a_first_load_leaves_what_a_batch_import_leaves_with_the_same_indexes() {
    for partitioned in [false, true] {
        let (fast, batched) = if partitioned {
            (support::fresh_partitioned(), support::fresh_partitioned())
        } else {
            (store(ImportPath::Copy), store(ImportPath::Copy))
        };
        let indexes = customer_indexes(s(&fast));
        assert!(
            indexes.iter().any(|(n, _)| n == "customers_email"),
            "{indexes:?}"
        );
        let rows = tricky_rows();
        let loaded = block_on(s(&fast).first_load(T, rows.clone())).unwrap();
        assert!(loaded.indexes_built_after, "partitioned: {partitioned}");
        // Phones first (so the phone index is dropped and built again too), on another pair.
        let (fast_r, batched_r) = (store(ImportPath::Copy), store(ImportPath::Copy));
        let reversed: Vec<_> = rows.iter().rev().cloned().collect();
        let l = block_on(s(&fast_r).first_load(T, reversed.clone())).unwrap();
        assert!(l.indexes_built_after);
        let i = block_on(s(&batched_r).import_customers(T, &reversed)).unwrap();
        assert_eq!(l.report, i);
        assert_eq!(all_records(s(&fast_r)), all_records(s(&batched_r)));
        assert_eq!(
            customer_indexes(s(&fast_r)),
            customer_indexes(s(&batched_r))
        );
        let imported = block_on(s(&batched).import_customers(T, &rows)).unwrap();
        assert_eq!(loaded.report, imported, "partitioned: {partitioned}");
        assert_eq!(
            loaded.report,
            ImportReport {
                rows: 305,
                inserted: 302,
                skipped: 2,
                contact_taken: 1
            }
        );
        assert_eq!(all_records(s(&fast)), all_records(s(&batched)));
        // The contact indexes are back, as the migrations define them, and hold.
        assert_eq!(customer_indexes(s(&fast)), indexes);
        for (c, _) in rows
            .iter()
            .filter(|(c, _)| c.id() != CustomerId::from_u128(9_003))
        {
            for key in c.profile.contact_keys() {
                assert_eq!(
                    block_on(s(&fast).find_by_contact(T, &key)).unwrap().len(),
                    1,
                    "partitioned: {partitioned}"
                );
            }
        }
        let mut cs = Changeset::new();
        let dup = Profile {
            email: Some(Pii::new(Email::parse("c0@example.com").unwrap())),
            ..Profile::default()
        };
        let at = rows[0].0.created_at();
        cs.create(
            Customer::new(T, CustomerId::from_u128(9_999), dup, at),
            Stats::default(),
        );
        assert!(matches!(
            block_on(s(&fast).apply(T, &cs)),
            Err(StoreError::ContactTaken { .. })
        ));
    }
}

#[test]
fn a_first_load_into_a_table_with_rows_takes_the_batch_way() {
    let f = store(ImportPath::Copy);
    let rows = tricky_rows();
    block_on(s(&f).import_customers(T, &rows[..1])).unwrap();
    let loaded = block_on(s(&f).first_load(T, rows.clone())).unwrap();
    assert!(!loaded.indexes_built_after);
    assert_eq!(
        loaded.report,
        ImportReport {
            rows: 305,
            inserted: 301,
            skipped: 3,
            contact_taken: 1
        }
    );
    // Another tenant's row in the load: refused on both ways, nothing of that load written.
    let g = store(ImportPath::Copy);
    let mut bad = tricky_rows();
    let other = TenantId::from_u128(2);
    bad.push((
        Customer::new(
            other,
            CustomerId::from_u128(1),
            Profile::default(),
            bad[0].0.created_at(),
        ),
        Stats::default(),
    ));
    assert!(matches!(
        block_on(s(&g).first_load(T, bad)),
        Err(StoreError::Invalid(_))
    ));
    assert!(all_records(s(&g)).is_empty());
    assert_eq!(
        block_on(s(&g).first_load(T, rows)).unwrap().report.inserted,
        302
    );
}
