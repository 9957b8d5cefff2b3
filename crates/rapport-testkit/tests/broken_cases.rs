//! The case contracts can fail: a store that ignores case versions (last writer wins) and one
//! that lists closed cases as open fail exactly the contracts they break.
#![allow(clippy::unwrap_used, missing_docs)]

use futures::executor::block_on;
use rapport_core::*;
use rapport_memory::MemoryStore;
use rapport_testkit::broken::{Broken, Hooks};
use rapport_testkit::case;

#[derive(Clone, Copy, PartialEq)]
enum Flaw {
    /// Case updates are written whatever version they read (last writer wins).
    IgnoresCaseVersions,
    /// `cases` ignores `open_only`.
    ListsResolvedAsOpen,
}

type Flawed = Broken<MemoryStore, Flaw>;

/// The case at another version (through its serialised form: the field is private).
fn at_version(c: &Case, v: u64) -> Case {
    let mut j = serde_json::to_value(c).unwrap();
    j["version"] = v.into();
    serde_json::from_value(j).unwrap()
}

impl Hooks<MemoryStore> for Flaw {
    async fn apply(this: &Flawed, t: TenantId, cs: &Changeset) -> Result<Applied, StoreError> {
        if this.hooks != Flaw::IgnoresCaseVersions {
            return this.inner.apply(t, cs).await;
        }
        let mut cs = cs.clone();
        for w in &mut cs.cases {
            if let CaseWrite::Update {
                expected_version,
                case,
            } = w
            {
                if let Some(stored) = this.inner.load_case(t, case.id()).await? {
                    *expected_version = stored.version();
                    **case = at_version(case, stored.version() + 1);
                }
            }
        }
        this.inner.apply(t, &cs).await
    }
    async fn cases(this: &Flawed, t: TenantId, mut q: CaseQuery) -> Result<Vec<Case>, StoreError> {
        if this.hooks == Flaw::ListsResolvedAsOpen {
            q.open_only = false;
        }
        this.inner.cases(t, q).await
    }
}

#[test]
fn a_store_ignoring_case_versions_fails_the_version_contract() {
    let s = Broken::new(MemoryStore::new(), Flaw::IgnoresCaseVersions);
    let e = block_on(case::case_versions_conflict(&s)).unwrap_err();
    assert!(e.contains("stale case update"), "{e}");
    // It still keeps a round trip.
    let s = Broken::new(MemoryStore::new(), Flaw::IgnoresCaseVersions);
    assert_eq!(block_on(case::cases_round_trip_and_list(&s)), Ok(()));
}

#[test]
fn a_store_listing_resolved_cases_as_open_fails_the_listing() {
    let s = Broken::new(MemoryStore::new(), Flaw::ListsResolvedAsOpen);
    let e = block_on(case::cases_round_trip_and_list(&s)).unwrap_err();
    assert!(e.contains("open cases"), "{e}");
    let s = Broken::new(MemoryStore::new(), Flaw::ListsResolvedAsOpen);
    assert_eq!(block_on(case::case_versions_conflict(&s)), Ok(()));
}
