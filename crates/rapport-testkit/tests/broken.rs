//! The kit can fail: deliberately broken stores fail exactly the contracts they break.
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::executor::block_on;
use rapport_core::ports::check_writes;
use rapport_core::*;
use rapport_testkit::contracts::{self, Outcome};

#[derive(Clone, Copy, PartialEq)]
enum Flaw {
    UpsertOnCreate,
    IgnoresVersions,
    LeaksTenants,
    /// `query` applies the limit to the scanned rows, then filters (short pages end paging).
    QueryLimitsBeforeFiltering,
    /// `query` evaluates with made-up RFM scores in the context.
    QueryInventsRfm,
    /// Updates keep the stored profile (as a store whose profile lives in a table the
    /// update path forgets): erasure leaves the personal data behind.
    KeepsProfilesOnUpdate,
}

#[derive(Default)]
struct Data {
    customers: BTreeMap<(TenantId, CustomerId), Record>,
    keys: HashSet<(TenantId, IdempotencyKey)>,
    activities: Vec<(TenantId, Activity)>,
    outbox: Vec<(OutboxMessage, DateTime<Utc>)>,
}

struct Flawed {
    flaw: Flaw,
    data: Mutex<Data>,
}

impl Flawed {
    fn new(flaw: Flaw) -> Self {
        Self {
            flaw,
            data: Mutex::new(Data::default()),
        }
    }
    /// The tenant rows are filed under: a leaky store files everything together.
    fn t(&self, t: TenantId) -> TenantId {
        if self.flaw == Flaw::LeaksTenants {
            TenantId::from_u128(0)
        } else {
            t
        }
    }
}

impl Store for Flawed {
    async fn load(&self, t: TenantId, id: CustomerId) -> Result<Option<Record>, StoreError> {
        Ok(self
            .data
            .lock()
            .unwrap()
            .customers
            .get(&(self.t(t), id))
            .cloned())
    }
    async fn find_by_contact(
        &self,
        t: TenantId,
        key: &ContactKey,
    ) -> Result<Vec<CustomerId>, StoreError> {
        let t = self.t(t);
        Ok(self
            .data
            .lock()
            .unwrap()
            .customers
            .iter()
            .filter(|((tt, _), r)| *tt == t && r.customer.profile.contact_keys().contains(key))
            .map(|((_, id), _)| *id)
            .collect())
    }
    async fn scan(&self, t: TenantId, page: Page) -> Result<Vec<Record>, StoreError> {
        let t = self.t(t);
        Ok(self
            .data
            .lock()
            .unwrap()
            .customers
            .iter()
            .filter(|((tt, id), _)| *tt == t && page.after.is_none_or(|a| *id > a))
            .take(page.limit as usize)
            .map(|(_, r)| r.clone())
            .collect())
    }
    async fn query(
        &self,
        t: TenantId,
        segment: &Segment,
        now: DateTime<Utc>,
        page: Page,
    ) -> Result<Vec<Record>, StoreError> {
        match self.flaw {
            Flaw::QueryLimitsBeforeFiltering => Ok(self
                .scan(t, page)
                .await?
                .into_iter()
                .filter(|r| r.matches(segment, now))
                .collect()),
            Flaw::QueryInventsRfm => Ok(self
                .scan(t, Page::first(u32::MAX))
                .await?
                .into_iter()
                .filter(|r| page.after.is_none_or(|a| r.customer.id() > a))
                .filter(|r| {
                    segment.matches(
                        &SegmentContext::new(&r.customer, &r.stats, now)
                            .with_rfm(RfmScores::new(3, 3, 3)),
                    )
                })
                .take(page.limit as usize)
                .collect()),
            _ => rapport_core::ports::query_by_scan(self, t, segment, now, page).await,
        }
    }
    async fn activities(
        &self,
        t: TenantId,
        id: CustomerId,
        range: TimeRange,
    ) -> Result<Vec<Activity>, StoreError> {
        let t = self.t(t);
        let mut v: Vec<Activity> = self
            .data
            .lock()
            .unwrap()
            .activities
            .iter()
            .filter(|(tt, a)| *tt == t && a.customer == id && range.contains(a.at))
            .map(|(_, a)| a.clone())
            .collect();
        v.sort_by_key(|a| (a.at, a.idempotency_key.clone()));
        Ok(v)
    }
    async fn apply(&self, tenant: TenantId, cs: &Changeset) -> Result<Applied, StoreError> {
        if self.flaw != Flaw::LeaksTenants {
            cs.validate(tenant)?;
        }
        let t = self.t(tenant);
        let mut d = self.data.lock().unwrap();
        let dups: Vec<_> = cs
            .activities
            .iter()
            .filter(|a| d.keys.contains(&(t, a.idempotency_key.clone())))
            .map(|a| a.idempotency_key.clone())
            .collect();
        if !dups.is_empty() {
            return Ok(Applied {
                duplicates: dups,
                ..Applied::default()
            });
        }
        match self.flaw {
            Flaw::UpsertOnCreate => {
                let updates: Vec<CustomerWrite> = cs
                    .customers
                    .iter()
                    .filter(|w| matches!(w, CustomerWrite::Update { .. }))
                    .cloned()
                    .collect();
                check_writes(&updates, |id| {
                    d.customers.get(&(t, id)).map(|r| &r.customer)
                })?;
            }
            Flaw::IgnoresVersions => {
                for w in &cs.customers {
                    if let CustomerWrite::Create { customer, .. } = w {
                        if d.customers.contains_key(&(t, customer.id())) {
                            return Err(StoreError::AlreadyExists {
                                customer: customer.id(),
                            });
                        }
                    }
                }
            }
            Flaw::LeaksTenants
            | Flaw::QueryLimitsBeforeFiltering
            | Flaw::QueryInventsRfm
            | Flaw::KeepsProfilesOnUpdate => check_writes(&cs.customers, |id| {
                d.customers.get(&(t, id)).map(|r| &r.customer)
            })?,
        }
        for w in &cs.customers {
            let mut customer = w.customer().clone();
            if self.flaw == Flaw::KeepsProfilesOnUpdate {
                if let Some(old) = d.customers.get(&(t, customer.id())) {
                    customer.profile = old.customer.profile.clone();
                }
            }
            d.customers.insert(
                (t, customer.id()),
                Record {
                    customer,
                    stats: w.stats().clone(),
                },
            );
        }
        for a in &cs.activities {
            d.keys.insert((t, a.idempotency_key.clone()));
            d.activities.push((t, a.clone()));
        }
        d.outbox.extend(
            cs.outbox
                .iter()
                .map(|m| (m.clone(), DateTime::<Utc>::MIN_UTC)),
        );
        Ok(Applied::counting(cs))
    }
}
impl Outbox for Flawed {
    async fn claim_outbox(
        &self,
        limit: u32,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let mut d = self.data.lock().unwrap();
        let mut out = Vec::new();
        for (m, at) in d.outbox.iter_mut() {
            if out.len() < limit as usize && *at <= now {
                *at = now + lease;
                m.attempts += 1;
                out.push(m.clone());
            }
        }
        Ok(out)
    }
    async fn ack_outbox(&self, ids: &[MessageId]) -> Result<(), StoreError> {
        self.data
            .lock()
            .unwrap()
            .outbox
            .retain(|(m, _)| !ids.contains(&m.id));
        Ok(())
    }
    async fn retry_outbox(&self, id: MessageId, at: DateTime<Utc>) -> Result<(), StoreError> {
        for (m, a) in self.data.lock().unwrap().outbox.iter_mut() {
            if m.id == id {
                *a = at;
            }
        }
        Ok(())
    }
}

fn run<F: std::future::Future<Output = Outcome>>(
    flaw: Flaw,
    f: impl FnOnce(Flawed) -> F,
) -> Outcome {
    block_on(f(Flawed::new(flaw)))
}

#[test]
fn an_upserting_store_fails_the_create_contract() {
    let r = run(Flaw::UpsertOnCreate, |s| async move {
        contracts::create_fails_already_exists(&s).await
    });
    assert!(r.unwrap_err().contains("expected AlreadyExists"));
    let r = run(Flaw::UpsertOnCreate, |s| async move {
        contracts::changeset_is_atomic(&s).await
    });
    assert!(r.is_err());
    // ...and still passes the contracts it does not break.
    assert!(
        run(Flaw::UpsertOnCreate, |s| async move {
            contracts::stale_update_conflicts(&s).await
        })
        .is_ok()
    );
    assert!(
        run(Flaw::UpsertOnCreate, |s| async move {
            contracts::tenants_are_isolated(&s).await
        })
        .is_ok()
    );
}

#[test]
fn a_store_that_ignores_versions_fails_the_conflict_contract() {
    let r = run(Flaw::IgnoresVersions, |s| async move {
        contracts::stale_update_conflicts(&s).await
    });
    assert!(r.unwrap_err().contains("expected Conflict"));
    assert!(
        run(Flaw::IgnoresVersions, |s| async move {
            contracts::create_fails_already_exists(&s).await
        })
        .is_ok()
    );
}

#[test]
fn a_store_that_leaks_across_tenants_fails_the_isolation_contract() {
    let r = run(Flaw::LeaksTenants, |s| async move {
        contracts::tenants_are_isolated(&s).await
    });
    assert!(r.unwrap_err().contains("load in B returned A's customer"));
    let r = run(Flaw::LeaksTenants, |s| async move {
        contracts::activities_are_idempotent(&s).await
    });
    assert!(r.is_err(), "keys must be per tenant");
}

#[test]
fn the_differential_test_catches_a_broken_store() {
    let r = std::panic::catch_unwind(|| {
        rapport_testkit::differential::run(|| Flawed::new(Flaw::IgnoresVersions), 64)
    });
    assert!(
        r.is_err(),
        "the differential run should find the stale update that was accepted"
    );
}

#[test]
fn a_store_whose_segment_query_differs_fails_the_segment_contract() {
    let r = run(Flaw::QueryLimitsBeforeFiltering, |s| async move {
        contracts::segment_query_equals_in_memory_evaluation(&s).await
    });
    assert!(r.unwrap_err().contains("in-memory evaluation"));
    let r = run(Flaw::QueryInventsRfm, |s| async move {
        contracts::segment_query_equals_in_memory_evaluation(&s).await
    });
    assert!(r.unwrap_err().contains("rfm"));
    // The default `query` (the other flaws do not touch it) passes.
    assert!(
        run(Flaw::IgnoresVersions, |s| async move {
            contracts::segment_query_equals_in_memory_evaluation(&s).await
        })
        .is_ok()
    );
}

#[test]
fn a_store_that_keeps_profiles_fails_the_erasure_contract() {
    let r = run(Flaw::KeepsProfilesOnUpdate, |s| async move {
        contracts::erasure_leaves_no_pii(&s).await
    });
    assert_eq!(r.unwrap_err(), "the erased profile still holds data");
    // The same store passes the contracts that never change a profile.
    let r = run(Flaw::KeepsProfilesOnUpdate, |s| async move {
        contracts::create_fails_already_exists(&s).await
    });
    assert!(r.is_ok(), "{r:?}");
}
