//! `StoreExt` over rapport-memory: merge chains, contact lookup, paging helpers.
#![allow(clippy::unwrap_used, missing_docs)]

use chrono::DateTime;
use futures::executor::block_on;
use rapport::StoreExt;
use rapport::core::*;
use rapport_memory::MemoryStore;

#[test]
fn merges_are_followed_to_the_survivor() {
    let store = MemoryStore::new();
    let t = TenantId::from_u128(1);
    let now = DateTime::UNIX_EPOCH;
    let id = |i| CustomerId::from_u128(i);
    let email = Email::parse("x@y.co").unwrap();
    let mut cs = Changeset::new();
    for i in 1..=3 {
        let mut c = Customer::new(t, id(i), Profile::default(), now);
        if i == 3 {
            c.profile.email = Some(Pii::new(email.clone()));
        }
        cs.create(c, Stats::default());
    }
    block_on(store.apply(t, &cs)).unwrap();
    // 1 → 2 → 3.
    for (from, into) in [(1, 2), (2, 3)] {
        let r = block_on(store.load_required(t, id(from))).unwrap();
        let mut next = r.customer.next_version();
        next.set_lifecycle(next.lifecycle().merge_into(id(into), now).unwrap())
            .unwrap();
        let mut cs = Changeset::new();
        cs.update(&r.customer, next, r.stats);
        block_on(store.apply(t, &cs)).unwrap();
    }
    let end = block_on(store.load_following_merges(t, id(1))).unwrap();
    assert_eq!(end.customer.id(), id(3));
    assert_eq!(
        block_on(store.find_one_by_contact(t, &ContactKey::Email(email))).unwrap(),
        Some(id(3))
    );
    assert!(matches!(
        block_on(store.load_following_merges(t, id(7))),
        Err(StoreError::NotFound { .. })
    ));
    // Another tenant sees nothing.
    assert_eq!(
        block_on(store.count(TenantId::from_u128(2), 10)).unwrap(),
        0
    );
    assert_eq!(block_on(store.scan_all(t, 1)).unwrap().len(), 3);
}

#[test]
fn v7_ids_are_unique_across_threads_and_ordered_by_millisecond() {
    use rapport::{IdSource, UuidV7Ids};
    let ids: Vec<Vec<uuid::Uuid>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| s.spawn(|| (0..50_000).map(|_| UuidV7Ids.next()).collect::<Vec<_>>()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut all: Vec<u128> = ids.iter().flatten().map(|u| u.as_u128()).collect();
    for per_thread in &ids {
        assert!(per_thread.iter().all(|u| u.get_version_num() == 7));
        assert!(
            per_thread
                .windows(2)
                .all(|w| w[1].as_u128() >> 80 >= w[0].as_u128() >> 80),
            "milliseconds never go back within a thread"
        );
    }
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), 200_000, "no id twice");
}
