//! The differential test: random sequences of operations run against the store under test,
//! every result compared with an independent oracle (`Oracle`) and with `rapport-memory`.
//!
//! The sequences come from a `proptest-state-machine` reference model ([`Model`]) that knows
//! which customers exist and at which version, so most updates hit live customers (some
//! deliberately stale), creates sometimes collide, and activity keys repeat; on a failure,
//! proptest shrinks the sequence to the shortest one that still differs.
//!
//! The oracle predicts what each operation must return from the `Store`/`Outbox` contracts
//! alone (a create of an existing customer is `AlreadyExists`; an update from a stale version
//! is a `Conflict` naming both versions; an activity key already used in the tenant is reported
//! and nothing is written; pages are in id order; the outbox hands out messages in the order
//! they were written, each once until acked). It shares no code with any store, so it checks
//! `rapport-memory` too, which the comparison with `rapport-memory` alone could not.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use futures::executor::block_on;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use proptest_state_machine::ReferenceStateMachine;
use rapport_core::*;
use rapport_memory::MemoryStore;
use rust_decimal::Decimal;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// One operation of a generated sequence; [`Model`] tracks what it does to the book.
///
/// ```
/// use proptest_state_machine::ReferenceStateMachine;
/// use rapport_testkit::differential::{Model, Op};
/// let mut m = Model::default();
/// for op in [Op::Create { t: 0, id: 1 }, Op::Update { t: 0, id: 1, stale: false }, Op::Record { t: 0, id: 1, key: 3 }] {
///     m = Model::apply(m, &op);
/// }
/// let state = format!("{m:?}");
/// assert!(state.contains("(0, 1): 2")); // customer 1 of tenant 0 at version 2
/// assert!(state.contains("(0, 3)")); // key 3 used in tenant 0
/// ```
#[derive(Debug, Clone)]
pub enum Op {
    /// Create customer `id` in tenant `t`.
    Create {
        /// Tenant index.
        t: u8,
        /// Customer index.
        id: u8,
    },
    /// Update a customer, from its current version or a stale one.
    Update {
        /// Tenant index.
        t: u8,
        /// Customer index.
        id: u8,
        /// Use an old version.
        stale: bool,
    },
    /// Record an activity with key `key` for a customer.
    Record {
        /// Tenant index.
        t: u8,
        /// Customer index.
        id: u8,
        /// Key index.
        key: u8,
    },
    /// Load a customer.
    Load {
        /// Tenant index.
        t: u8,
        /// Customer index.
        id: u8,
    },
    /// Scan a page.
    Scan {
        /// Tenant index.
        t: u8,
        /// Start after this customer index.
        after: Option<u8>,
        /// Page size.
        limit: u32,
    },
    /// A customer's activities.
    Activities {
        /// Tenant index.
        t: u8,
        /// Customer index.
        id: u8,
    },
    /// Claim and ack some outbox messages.
    ClaimAck {
        /// How many.
        limit: u32,
    },
}

/// The reference model that drives generation: which customers exist, at which version, and
/// which activity keys were used. (The expected *results* come from `rapport-memory`.)
///
/// ```
/// use proptest_state_machine::ReferenceStateMachine;
/// use rapport_testkit::differential::{Model, Op};
/// let m = Model::apply(Model::default(), &Op::Create { t: 1, id: 0 });
/// // A second create of the same customer and a stale update change nothing.
/// let m = Model::apply(m, &Op::Create { t: 1, id: 0 });
/// let m2 = Model::apply(Model::apply(m.clone(), &Op::Update { t: 1, id: 0, stale: false }), &Op::Update { t: 1, id: 0, stale: true });
/// assert_eq!(format!("{m:?}"), "Model { versions: {(1, 0): 1}, keys: {} }");
/// assert_eq!(format!("{m2:?}"), "Model { versions: {(1, 0): 2}, keys: {} }");
/// ```
#[derive(Debug, Clone, Default)]
pub struct Model {
    /// Version of each existing customer, by (tenant, customer) index.
    versions: BTreeMap<(u8, u8), u64>,
    /// Activity keys already recorded, by (tenant, key) index.
    keys: BTreeSet<(u8, u8)>,
}

impl ReferenceStateMachine for Model {
    type State = Model;
    type Transition = Op;

    fn init_state() -> BoxedStrategy<Model> {
        Just(Model::default()).boxed()
    }

    fn transitions(state: &Model) -> BoxedStrategy<Op> {
        let t = 0u8..2;
        let id = 0u8..5;
        let any_op = prop_oneof![
            3 => (t.clone(), id.clone()).prop_map(|(t, id)| Op::Create { t, id }),
            3 => (t.clone(), id.clone(), any::<bool>()).prop_map(|(t, id, stale)| Op::Update { t, id, stale }),
            3 => (t.clone(), id.clone(), 0u8..6).prop_map(|(t, id, key)| Op::Record { t, id, key }),
            2 => (t.clone(), id.clone()).prop_map(|(t, id)| Op::Load { t, id }),
            2 => (t.clone(), proptest::option::of(id.clone()), 1u32..4).prop_map(|(t, after, limit)| Op::Scan { t, after, limit }),
            1 => (t, id).prop_map(|(t, id)| Op::Activities { t, id }),
            1 => (1u32..4).prop_map(|limit| Op::ClaimAck { limit }),
        ];
        let live: Vec<(u8, u8)> = state.versions.keys().copied().collect();
        if live.is_empty() {
            return any_op.boxed();
        }
        // Most writes go to customers that exist (the interesting paths: versions, duplicate
        // creates, stale updates, repeated activity keys).
        let pick = proptest::sample::select(live);
        prop_oneof![
            2 => any_op,
            2 => (pick.clone(), any::<bool>()).prop_map(|((t, id), stale)| Op::Update { t, id, stale }),
            1 => pick.clone().prop_map(|(t, id)| Op::Create { t, id }),
            2 => (pick, 0u8..6).prop_map(|((t, id), key)| Op::Record { t, id, key }),
        ]
        .boxed()
    }

    fn apply(mut state: Model, op: &Op) -> Model {
        match op {
            Op::Create { t, id } => {
                state.versions.entry((*t, *id)).or_insert(1);
            }
            Op::Update { t, id, stale } => {
                if let Some(v) = state.versions.get_mut(&(*t, *id)) {
                    if !*stale || *v == 1 {
                        *v += 1;
                    }
                }
            }
            Op::Record { t, key, .. } => {
                state.keys.insert((*t, *key));
            }
            _ => {}
        }
        state
    }
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

fn tenant(t: u8) -> TenantId {
    TenantId::from_u128(100 + u128::from(t))
}

fn cid(id: u8) -> CustomerId {
    CustomerId::from_u128(1 + u128::from(id))
}

fn kind(e: &StoreError) -> String {
    match e {
        StoreError::AlreadyExists { customer } => format!("already_exists {customer}"),
        StoreError::Conflict {
            customer,
            expected,
            actual,
        } => format!("conflict {customer} {expected} {actual}"),
        StoreError::NotFound { .. } => "not_found".into(),
        StoreError::Invalid(_) => "invalid".into(),
        other => format!("other: {other}"),
    }
}

/// An operation made concrete (changesets decided once, from the reference's state).
enum Action {
    Apply(TenantId, Box<Changeset>),
    Read(Op),
}

fn build(op: &Op, reference: &MemoryStore, step: usize) -> Result<Action, String> {
    Ok(match op {
        Op::Create { t, id } => {
            let mut cs = Changeset::new();
            cs.create(
                Customer::new(tenant(*t), cid(*id), Profile::default(), now()),
                Stats::default(),
            );
            cs.outbox.push(OutboxMessage::new(
                MessageId::from_u128(step as u128 + 1),
                tenant(*t),
                now(),
                DomainEvent::CustomerRegistered { customer: cid(*id) },
            ));
            Action::Apply(tenant(*t), Box::new(cs))
        }
        Op::Update { t, id, stale } => {
            let current = block_on(reference.load(tenant(*t), cid(*id)))
                .ok()
                .flatten();
            let base = match current {
                Some(r) => r.customer,
                None => Customer::new(tenant(*t), cid(*id), Profile::default(), now()),
            };
            let read = if *stale && base.version() > 1 {
                base.clone().with_version(base.version() - 1)
            } else {
                base
            };
            let mut next = read.next_version();
            next.consents.set(
                Purpose::Marketing,
                ContactChannel::Email,
                step % 2 == 0,
                now(),
                "diff",
            );
            let mut cs = Changeset::new();
            cs.update(&read, next, Stats::default());
            Action::Apply(tenant(*t), Box::new(cs))
        }
        Op::Record { t, id, key } => {
            let a = Activity::new(
                ActivityId::from_u128(step as u128),
                cid(*id),
                now() + chrono::Duration::seconds(i64::from(*key)),
                Channel::App,
                IdempotencyKey::new(format!("key-{key}")).map_err(|e| e.to_string())?,
                ActivityKind::Purchase {
                    order_id: OrderId::new("o").map_err(|e| e.to_string())?,
                    amount: Money::new(Decimal::new(i64::from(*key) * 101, 2), Currency::EUR),
                    margin: None,
                },
            )
            .map_err(|e| e.to_string())?;
            let mut cs = Changeset::new();
            cs.activities.push(a);
            Action::Apply(tenant(*t), Box::new(cs))
        }
        other => Action::Read(other.clone()),
    })
}

/// What an action returned: in full (its `Debug`, compared with `rapport-memory`'s) and in the
/// terms the [`Oracle`] predicts (counts, keys, ids, versions and the consent updates write).
fn exec<S: Store + Outbox>(s: &S, action: &Action) -> (String, String) {
    let r = match action {
        Action::Apply(t, cs) => block_on(s.apply(*t, cs)).map(|a| {
            let dup: Vec<&str> = a.duplicates.iter().map(IdempotencyKey::as_str).collect();
            let seen = format!(
                "applied {} customers, {} activities, {} messages, duplicates {dup:?}",
                a.customers, a.activities, a.messages
            );
            (format!("{a:?}"), seen)
        }),
        Action::Read(Op::Load { t, id }) => block_on(s.load(tenant(*t), cid(*id))).map(|r| {
            let seen = r.as_ref().map_or_else(
                || "none".to_owned(),
                |r| {
                    let consent = r
                        .customer
                        .consents
                        .get(Purpose::Marketing, ContactChannel::Email)
                        .map(|c| c.granted);
                    format!(
                        "{} v{} marketing {consent:?}",
                        r.customer.id(),
                        r.customer.version()
                    )
                },
            );
            (format!("{r:?}"), seen)
        }),
        Action::Read(Op::Scan { t, after, limit }) => block_on(s.scan(
            tenant(*t),
            Page {
                after: after.map(cid),
                limit: *limit,
            },
        ))
        .map(|r| {
            let page: Vec<String> = r
                .iter()
                .map(|r| format!("{} v{}", r.customer.id(), r.customer.version()))
                .collect();
            let seen = format!("{page:?}");
            (seen.clone(), seen)
        }),
        Action::Read(Op::Activities { t, id }) => {
            block_on(s.activities(tenant(*t), cid(*id), TimeRange::all())).map(|r| {
                let list: Vec<String> = r
                    .iter()
                    .map(|a| format!("{} {}", a.id, a.idempotency_key))
                    .collect();
                (format!("{r:?}"), format!("{list:?}"))
            })
        }
        Action::Read(Op::ClaimAck { limit }) => {
            block_on(s.claim_outbox(*limit, Duration::from_secs(5), now())).and_then(|m| {
                let ids: Vec<MessageId> = m.iter().map(|m| m.id).collect();
                block_on(s.ack_outbox(&ids)).map(|()| {
                    let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
                    let seen = format!("{ids:?}");
                    (seen.clone(), seen)
                })
            })
        }
        Action::Read(other) => Ok((format!("unexpected {other:?}"), String::new())),
    };
    r.unwrap_or_else(|e| {
        let e = format!("error {}", kind(&e));
        (e.clone(), e)
    })
}

/// The independent oracle: the book as the `Store` and `Outbox` contracts say it must be after
/// each operation, and what each operation must return (in [`exec`]'s terms). Written from
/// the contracts, not from any store: `rapport-memory` is checked against it like every other
/// backend.
#[derive(Debug, Default)]
struct Oracle {
    /// (tenant, customer) → (version, the marketing-by-email consent the last update wrote).
    customers: BTreeMap<(u8, u8), (u64, Option<bool>)>,
    /// Activity keys used, per tenant.
    keys: BTreeSet<(u8, u8)>,
    /// (tenant, customer) → the activities written for it: (time offset = key, step).
    activities: BTreeMap<(u8, u8), Vec<(u8, usize)>>,
    /// Outbox messages written and not yet acked, in the order they were written.
    outbox: VecDeque<usize>,
}

impl Oracle {
    /// What `op` (at `step`) must return; updates the book as the contract says.
    fn step(&mut self, op: &Op, step: usize) -> String {
        let applied = |customers: usize, activities: usize, messages: usize, dup: &[String]| {
            format!(
                "applied {customers} customers, {activities} activities, {messages} messages, duplicates {dup:?}"
            )
        };
        match op {
            Op::Create { t, id } => {
                if self.customers.contains_key(&(*t, *id)) {
                    return format!("error already_exists {}", cid(*id));
                }
                self.customers.insert((*t, *id), (1, None));
                self.outbox.push_back(step + 1);
                applied(1, 0, 1, &[])
            }
            Op::Update { t, id, stale } => match self.customers.get_mut(&(*t, *id)) {
                None => "error not_found".to_owned(),
                Some((v, _)) if *stale && *v > 1 => {
                    format!("error conflict {} {} {}", cid(*id), *v - 1, *v)
                }
                Some((v, consent)) => {
                    *v += 1;
                    *consent = Some(step % 2 == 0);
                    applied(1, 0, 0, &[])
                }
            },
            Op::Record { t, id, key } => {
                if !self.keys.insert((*t, *key)) {
                    return applied(0, 0, 0, &[format!("key-{key}")]);
                }
                self.activities
                    .entry((*t, *id))
                    .or_default()
                    .push((*key, step));
                applied(0, 1, 0, &[])
            }
            Op::Load { t, id } => match self.customers.get(&(*t, *id)) {
                None => "none".to_owned(),
                Some((v, consent)) => format!("{} v{v} marketing {consent:?}", cid(*id)),
            },
            Op::Scan { t, after, limit } => {
                let page: Vec<String> = self
                    .customers
                    .range((*t, 0)..=(*t, u8::MAX))
                    .filter(|((_, id), _)| after.is_none_or(|a| *id > a))
                    .take(*limit as usize)
                    .map(|((_, id), (v, _))| format!("{} v{v}", cid(*id)))
                    .collect();
                format!("{page:?}")
            }
            Op::Activities { t, id } => {
                let mut list = self.activities.get(&(*t, *id)).cloned().unwrap_or_default();
                // In time order; each key's activity is `key` seconds after `now`.
                list.sort_unstable();
                let seen: Vec<String> = list
                    .iter()
                    .map(|(key, step)| {
                        format!("{} key-{key}", ActivityId::from_u128(*step as u128))
                    })
                    .collect();
                format!("{seen:?}")
            }
            Op::ClaimAck { limit } => {
                let n = (*limit as usize).min(self.outbox.len());
                let ids: Vec<String> = self
                    .outbox
                    .drain(..n)
                    .map(|m| MessageId::from_u128(m as u128).to_string())
                    .collect();
                format!("{ids:?}")
            }
        }
    }
}

/// Runs `cases` random sequences of up to 100 operations (generated by the [`Model`] state
/// machine) against a fresh store from `factory`, comparing every result with the independent
/// oracle's (`Oracle`) prediction and, in full, with a fresh `MemoryStore`'s.
///
/// # Panics
/// On the first difference, with the shrunk sequence.
///
/// The sequences are random by design (proptest's runner seeds itself from the OS), so this
/// example is compiled but not run as a doctest; `store_contracts!` runs it as a test:
///
/// ```no_run
/// use rapport_memory::MemoryStore;
/// // rapport-memory against the oracle (its comparison with itself cannot fail; the oracle's can).
/// rapport_testkit::differential::run(MemoryStore::new, 16);
/// ```
pub fn run<S: Store + Outbox>(factory: impl Fn() -> S, cases: u32) {
    let mut runner = TestRunner::new(Config {
        cases,
        ..Config::default()
    });
    let result = runner.run(&Model::sequential_strategy(1..100), |(_, ops, seen)| {
        let store = factory();
        let reference = MemoryStore::new();
        let mut oracle = Oracle::default();
        for (step, op) in ops.iter().enumerate() {
            if let Some(seen) = &seen {
                seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            let action = build(op, &reference, step).map_err(TestCaseError::fail)?;
            let predicted = oracle.step(op, step);
            let (got, observed) = exec(&store, &action);
            let (expected, _) = exec(&reference, &action);
            if observed != predicted {
                return Err(TestCaseError::fail(format!(
                    "step {step} {op:?}: store gave {observed}, the contract says {predicted}"
                )));
            }
            if got != expected {
                return Err(TestCaseError::fail(format!(
                    "step {step} {op:?}: store gave {got}, reference gave {expected}"
                )));
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("differential test failed: {e}");
    }
}
