//! Merge and unmerge, decided (issue #15): an independent survivorship oracle written from
//! DOMAIN.md ("most recent non-empty by default, or the most trusted source; tags unioned"),
//! and merge ∘ unmerge = identity over random customers and activity histories.
#![allow(clippy::unwrap_used, missing_docs)]

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use proptest::prelude::*;
use rapport_core::*;
use rust_decimal::Decimal;

const T: TenantId = TenantId::from_u128(1);

fn day0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, 10, 0, 0).unwrap()
}

fn now() -> DateTime<Utc> {
    day0() + Duration::days(400)
}

/// A customer's shape: name, email, phone, birth day, source, tags, creation day, history.
#[derive(Debug, Clone)]
struct Shape {
    name: Option<u8>,
    email: Option<u8>,
    phone: Option<u8>,
    born: Option<u8>,
    source: Option<u8>,
    tags: Vec<(u8, u8)>,
    created: i64,
    /// (day, purchase amount or a visit)
    history: Vec<(i64, Option<u16>)>,
}

fn shape() -> impl Strategy<Value = Shape> {
    (
        (
            proptest::option::of(0..3u8),
            proptest::option::of(0..3u8),
            proptest::option::of(0..3u8),
            proptest::option::of(1..4u8),
            proptest::option::of(0..3u8),
        ),
        proptest::collection::vec((0..4u8, 0..3u8), 0..4),
        0..3i64,
        proptest::collection::vec((0..390i64, proptest::option::of(1..500u16)), 0..6),
    )
        .prop_map(
            |((name, email, phone, born, source), tags, created, history)| Shape {
                name,
                email,
                phone,
                born,
                source,
                tags,
                created,
                history,
            },
        )
}

const SOURCES: [&str; 3] = ["erp", "pos", "web"];
const TAGS: [&str; 4] = [
    "value:vip",
    "promo:trial",
    "import:crm",
    "behavior:frequent",
];

/// Builds the customer evaluated at `now()` over its history (a consistent stored state), its
/// stats and activities. Ids and keys are distinct per customer (`n`).
fn build(n: u128, s: &Shape, policies: &Policies) -> (Customer, Stats, Vec<Activity>) {
    let mut attributes = Attributes::new();
    if let Some(src) = s.source {
        attributes.insert(
            AttrKey::new("source").unwrap(),
            AttrValue::Text(SOURCES[usize::from(src)].into()),
        );
    }
    let profile = Profile {
        display_name: s.name.map(|x| Pii::new(format!("Name {x}"))),
        email: s
            .email
            .map(|x| Pii::new(Email::parse(&format!("p{x}@example.com")).unwrap())),
        phone: s
            .phone
            .map(|x| Pii::new(Phone::from_e164(&format!("+1415555010{x}")).unwrap())),
        birth_date: s
            .born
            .map(|d| Pii::new(NaiveDate::from_ymd_opt(1990, 1, u32::from(d)).unwrap())),
        attributes: Pii::new(attributes),
    };
    let created = day0() + Duration::days(s.created);
    let mut c = Customer::new(T, CustomerId::from_u128(n), profile, created);
    for (t, src) in &s.tags {
        let source = [TagSource::Manual, TagSource::Rule, TagSource::Import][usize::from(*src)];
        c.tags.insert(
            TAGS[usize::from(*t)].parse().unwrap(),
            source,
            created,
            None,
        );
    }
    let acts: Vec<Activity> = s
        .history
        .iter()
        .enumerate()
        .map(|(i, (d, amount))| {
            let kind = match amount {
                Some(a) => ActivityKind::Purchase {
                    order_id: OrderId::new(format!("o{n}-{i}")).unwrap(),
                    amount: Money::new(Decimal::from(*a), Currency::USD),
                    margin: None,
                },
                None => ActivityKind::Visit { item: None },
            };
            Activity::new(
                ActivityId::from_u128(n * 1000 + i as u128),
                c.id(),
                day0() + Duration::days(*d),
                Channel::Web,
                IdempotencyKey::new(format!("k{n}-{i}")).unwrap(),
                kind,
            )
            .unwrap()
        })
        .collect();
    let stats = Stats::from_activities(&acts).unwrap();
    let e = evaluate(&c, &stats, policies, &EvalInputs::at(now())).unwrap();
    e.apply_to(&mut c);
    (c, stats, acts)
}

fn ctx() -> MergeContext {
    MergeContext {
        id: MergeId::from_u128(77),
        actor: Actor::new("oracle").unwrap(),
        now: now(),
    }
}

fn ids() -> impl FnMut() -> MessageId {
    let mut n = 0u128;
    move || {
        n += 1;
        MessageId::from_u128(n)
    }
}

fn policies() -> impl Strategy<Value = SurvivorshipPolicy> {
    prop_oneof![
        Just(SurvivorshipPolicy::default()),
        Just(SurvivorshipPolicy {
            rule: Survivorship::MostTrusted {
                source_attribute: AttrKey::new("source").unwrap(),
                ranking: vec!["erp".into(), "pos".into()],
            },
            ..SurvivorshipPolicy::default()
        }),
    ]
}

/// The oracle, from DOMAIN.md alone: a value only one record has is kept; equal values are
/// kept; two different values: the record from the more trusted source (ranked sources beat
/// unranked ones), else the more recently registered record, else the survivor.
fn oracle<T: Clone + PartialEq>(
    s: Option<T>,
    l: Option<T>,
    s_shape: &Shape,
    l_shape: &Shape,
    policy: &SurvivorshipPolicy,
) -> Option<T> {
    match (s, l) {
        (None, x) | (x, None) => x,
        (Some(a), Some(b)) if a == b => Some(a),
        (Some(a), Some(b)) => {
            if let Survivorship::MostTrusted { .. } = policy.rule {
                // ranking: erp (0), pos (1); web and none rank last.
                let rank = |sh: &Shape| match sh.source {
                    Some(0) => 0,
                    Some(1) => 1,
                    _ => 9,
                };
                if rank(s_shape) < rank(l_shape) {
                    return Some(a);
                }
                if rank(l_shape) < rank(s_shape) {
                    return Some(b);
                }
            }
            if l_shape.created > s_shape.created {
                Some(b)
            } else {
                Some(a)
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn prop_survivorship_matches_the_oracle(a in shape(), b in shape(), policy in policies()) {
        let pol = Policies::default();
        let (s, _, sa) = build(1, &a, &pol);
        let (l, ls, la) = build(2, &b, &pol);
        let planned = plan_merge(&s, &sa, &l, &ls, &la, &Belongings::default(), &Belongings::default(), &policy, &pol, &ctx(), &mut ids()).unwrap();
        let p = &planned.survivor.profile;
        let name = |x: &Shape| x.name.map(|v| format!("Name {v}"));
        prop_assert_eq!(p.display_name.as_ref().map(|v| v.expose().clone()), oracle(name(&a), name(&b), &a, &b, &policy));
        let email = |x: &Shape| x.email.map(|v| format!("p{v}@example.com"));
        prop_assert_eq!(p.email.as_ref().map(|v| v.expose().as_str().to_owned()), oracle(email(&a), email(&b), &a, &b, &policy));
        prop_assert_eq!(p.phone.is_some(), a.phone.is_some() || b.phone.is_some());
        prop_assert_eq!(p.birth_date.as_ref().map(|v| *v.expose()),
            oracle(a.born, b.born, &a, &b, &policy).map(|d| NaiveDate::from_ymd_opt(1990, 1, u32::from(d)).unwrap()));
        let src = p.attributes.expose().get(&AttrKey::new("source").unwrap()).cloned();
        let src_of = |x: &Shape| x.source.map(|v| AttrValue::Text(SOURCES[usize::from(v)].into()));
        prop_assert_eq!(src, oracle(src_of(&a), src_of(&b), &a, &b, &policy));
        // Tags: every manual or imported tag of either record is on the survivor.
        for (t, src) in a.tags.iter().chain(&b.tags) {
            if *src != 1 {
                let tag: Tag = TAGS[usize::from(*t)].parse().unwrap();
                prop_assert!(planned.survivor.tags.get(&tag).is_some(), "lost {}", tag);
            }
        }
        // Stats: the fold of the union of both histories.
        let union: Vec<Activity> = sa.iter().chain(&la).cloned().collect();
        prop_assert_eq!(&planned.stats, &Stats::from_activities(&union).unwrap());
        // The loser: a tombstone pointing at the survivor, written first; its activities moved.
        let tomb = planned.changeset.customers[0].customer();
        prop_assert_eq!(tomb.stage(), Stage::Merged { into: s.id() });
        prop_assert_eq!(planned.changeset.moves.len(), la.len());
        for (m, orig) in planned.changeset.moves.iter().zip(&la) {
            prop_assert_eq!(m.activity.customer, s.id());
            prop_assert_eq!((&m.activity.id, &m.activity.idempotency_key), (&orig.id, &orig.idempotency_key));
        }
        prop_assert!(planned.changeset.validate(T).is_ok());
    }

    /// merge ∘ unmerge = identity: both customers (but their versions, two steps on), their
    /// stats and their activities are as before.
    #[test]
    fn prop_unmerge_undoes_merge(a in shape(), b in shape(), policy in policies()) {
        let pol = Policies::default();
        let (s, ss, sa) = build(1, &a, &pol);
        let (l, ls, la) = build(2, &b, &pol);
        let merged = plan_merge(&s, &sa, &l, &ls, &la, &Belongings::default(), &Belongings::default(), &policy, &pol, &ctx(), &mut ids()).unwrap();
        let tomb = merged.changeset.customers[0].customer().clone();
        let survivor = merged.changeset.customers[1].customer().clone();
        let mut held: Vec<Activity> = sa.clone();
        held.extend(merged.changeset.moves.iter().map(|m| m.activity.clone()));
        let undone = plan_unmerge(&merged.record, &survivor, &held, &Belongings::default(), &tomb, &pol, now(), &mut ids()).unwrap();
        prop_assert!(undone.changeset.validate(T).is_ok());
        prop_assert!(undone.changeset.revives(l.id()));
        let (s2, ss2) = undone.changeset.customers[0].clone().into_parts();
        let (l2, ls2) = undone.changeset.customers[1].clone().into_parts();
        prop_assert_eq!(s2, s.clone().with_version(s.version() + 2));
        prop_assert_eq!(ss2, ss);
        prop_assert_eq!(l2, l.clone().with_version(l.version() + 2));
        prop_assert_eq!(ls2, ls);
        let back: Vec<Activity> = undone.changeset.moves.iter().map(|m| m.activity.clone()).collect();
        prop_assert_eq!(back, la);
        // Undoing twice is refused.
        let again = plan_unmerge(&undone.record, &survivor, &held, &Belongings::default(), &tomb, &pol, now(), &mut ids());
        prop_assert!(
            matches!(again, Err(DomainError::CannotUnmerge { .. })),
            "undone twice: {:?}", again
        );
    }
}

#[test]
fn tombstones_neither_merge_nor_take_merges_so_no_cycle_forms() {
    let pol = Policies::default();
    let shape = Shape {
        name: None,
        email: None,
        phone: None,
        born: None,
        source: None,
        tags: vec![],
        created: 0,
        history: vec![],
    };
    let (a, _, _) = build(1, &shape, &pol);
    let (b, bs, _) = build(2, &shape, &pol);
    let m = plan_merge(
        &a,
        &[],
        &b,
        &bs,
        &[],
        &Belongings::default(),
        &Belongings::default(),
        &SurvivorshipPolicy::default(),
        &pol,
        &ctx(),
        &mut ids(),
    )
    .unwrap();
    let tomb_b = m.changeset.customers[0].customer().clone();
    let a2 = m.survivor.clone();
    // B into A again, A into B: both refused.
    for (s, l) in [(&a2, &tomb_b), (&tomb_b, &a2)] {
        let err = plan_merge(
            s,
            &[],
            l,
            &Stats::default(),
            &[],
            &Belongings::default(),
            &Belongings::default(),
            &SurvivorshipPolicy::default(),
            &pol,
            &ctx(),
            &mut ids(),
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                DomainError::Tombstoned {
                    state: "merged",
                    ..
                }
            ),
            "{err}"
        );
    }
    // An erased loser cannot be unmerged.
    // (The model refuses to rewrite a tombstone, so the erased loser is built afresh under
    // its id, as a store would read it back.)
    let mut erased = Customer::new(
        tomb_b.tenant(),
        tomb_b.id(),
        tomb_b.profile.clone(),
        tomb_b.created_at(),
    )
    .with_version(tomb_b.version());
    erased
        .set_lifecycle(erased.lifecycle().erase(now()).unwrap())
        .unwrap();
    let err = plan_unmerge(
        &m.record,
        &a2,
        &[],
        &Belongings::default(),
        &erased,
        &pol,
        now(),
        &mut ids(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "cannot unmerge customer {}: the loser was erased since",
            b.id()
        )
    );
    // A survivor merged on since: undo that first.
    let mut gone = a2.clone();
    gone.set_lifecycle(
        gone.lifecycle()
            .merge_into(CustomerId::from_u128(9), now())
            .unwrap(),
    )
    .unwrap();
    assert!(matches!(
        plan_unmerge(
            &m.record,
            &gone,
            &[],
            &Belongings::default(),
            &tomb_b,
            &pol,
            now(),
            &mut ids()
        ),
        Err(DomainError::CannotUnmerge { .. })
    ));
}

#[test]
fn an_edit_made_after_the_merge_survives_the_unmerge() {
    let pol = Policies::default();
    let mk = |name: u8, created| Shape {
        name: Some(name),
        email: None,
        phone: None,
        born: None,
        source: None,
        tags: vec![],
        created,
        history: vec![],
    };
    let (a, _, _) = build(1, &mk(0, 0), &pol);
    let (b, bs, _) = build(2, &mk(1, 2), &pol); // newer: its name wins
    let m = plan_merge(
        &a,
        &[],
        &b,
        &bs,
        &[],
        &Belongings::default(),
        &Belongings::default(),
        &SurvivorshipPolicy::default(),
        &pol,
        &ctx(),
        &mut ids(),
    )
    .unwrap();
    assert_eq!(
        m.survivor.profile.display_name.as_ref().unwrap().expose(),
        "Name 1"
    );
    let tomb = m.changeset.customers[0].customer().clone();
    // Unchanged since: the survivor's own name comes back.
    let u = plan_unmerge(
        &m.record,
        &m.survivor,
        &[],
        &Belongings::default(),
        &tomb,
        &pol,
        now(),
        &mut ids(),
    )
    .unwrap();
    assert_eq!(
        u.survivor.profile.display_name.as_ref().unwrap().expose(),
        "Name 0"
    );
    // Edited since: the edit stays.
    let mut edited = m.survivor.next_version();
    edited.profile.display_name = Some(Pii::new("Ann Edited".into()));
    let u = plan_unmerge(
        &m.record,
        &edited,
        &[],
        &Belongings::default(),
        &tomb,
        &pol,
        now(),
        &mut ids(),
    )
    .unwrap();
    assert_eq!(
        u.survivor.profile.display_name.as_ref().unwrap().expose(),
        "Ann Edited"
    );
}

/// What both customers hold besides their rows, as a store would keep it: consent entries by
/// id, cases by id, links by (account, customer), accounts by id.
#[derive(Debug, Clone, PartialEq)]
struct Held {
    consents: std::collections::BTreeMap<ConsentEntryId, privacy::ConsentEntry>,
    cases: std::collections::BTreeMap<CaseId, Case>,
    links: std::collections::BTreeMap<(AccountId, CustomerId), AccountLink>,
    accounts: std::collections::BTreeMap<AccountId, Account>,
}

impl Held {
    fn of(&self, c: CustomerId) -> Belongings {
        let links: Vec<AccountLink> = self
            .links
            .values()
            .filter(|l| l.customer == c)
            .cloned()
            .collect();
        Belongings {
            lines: None,
            consents: self
                .consents
                .values()
                .filter(|e| e.customer == c)
                .cloned()
                .collect(),
            cases: self
                .cases
                .values()
                .filter(|k| k.customer == c)
                .cloned()
                .collect(),
            accounts: links
                .iter()
                .map(|l| self.accounts[&l.account].clone())
                .collect(),
            links,
        }
    }

    /// A store's apply of the changeset's belongings (after checking what a store checks).
    fn apply(&mut self, cs: &Changeset) {
        for m in &cs.consent_entry_moves {
            let e = self.consents.get_mut(&m.entry).unwrap();
            assert_eq!(e.customer, m.from, "moved from the wrong customer");
            e.customer = m.to;
        }
        for w in &cs.cases {
            let old = &self.cases[&w.case().id()];
            assert_eq!(Some(old.version()), w.expected_version());
            self.cases.insert(w.case().id(), w.case().clone());
        }
        for w in &cs.accounts {
            let old = &self.accounts[&w.account().id()];
            assert_eq!(Some(old.version()), w.expected_version());
            self.accounts.insert(w.account().id(), w.account().clone());
        }
        for r in &cs.link_removals {
            assert!(
                self.links.remove(&(r.account, r.customer)).is_some(),
                "removed a missing link"
            );
        }
        for l in &cs.account_links {
            self.links.insert((l.account, l.customer), l.clone());
        }
    }

    /// The same, but versions (which a merge and its undo step on twice).
    fn unversioned(&self) -> impl PartialEq + std::fmt::Debug {
        (
            self.consents.clone(),
            self.cases
                .iter()
                .map(|(id, c)| (*id, c.customer))
                .collect::<Vec<_>>(),
            self.links.clone(),
        )
    }
}

/// (consents of a, of b, cases of a, of b, links: (account 0..3, holder 0 = a / 1 = b / 2 = both,
/// roles bits, primary bits, ended bits))
type HeldShape = (u8, u8, u8, u8, Vec<(u8, u8, u8, u8, u8)>);

fn held_shape() -> impl Strategy<Value = HeldShape> {
    (
        0..3u8,
        0..3u8,
        0..3u8,
        0..3u8,
        proptest::collection::vec((0..3u8, 0..3u8, 1..16u8, 0..4u8, 0..4u8), 0..4),
    )
}

fn held(a: CustomerId, b: CustomerId, shape: &HeldShape) -> Held {
    use privacy::{ConsentEntry, ConsentState};
    let (ca, cb, ka, kb, links) = shape;
    let mut h = Held {
        consents: Default::default(),
        cases: Default::default(),
        links: Default::default(),
        accounts: Default::default(),
    };
    let mut n = 100u128;
    for (who, count) in [(a, *ca), (b, *cb)] {
        for i in 0..count {
            n += 1;
            let e = ConsentEntry::new(
                ConsentEntryId::from_u128(n),
                who,
                Purpose::Marketing,
                ContactChannel::Email,
                if i % 2 == 0 {
                    ConsentState::Granted
                } else {
                    ConsentState::Withdrawn
                },
                "form",
                day0() + Duration::days(i64::from(i)),
            )
            .unwrap();
            h.consents.insert(e.id, e);
        }
    }
    for (who, count) in [(a, *ka), (b, *kb)] {
        for _ in 0..count {
            n += 1;
            let c = Case::open(NewCase::new(
                CaseId::from_u128(n),
                T,
                who,
                CaseCategory::new("delivery").unwrap(),
                CaseSeverity::Normal,
                Channel::Email,
                day0(),
            ));
            h.cases.insert(c.id(), c);
        }
    }
    let roles = [
        AccountRole::DecisionMaker,
        AccountRole::Buyer,
        AccountRole::User,
        AccountRole::Billing,
    ];
    for (acct, holder, role_bits, primary, ended) in links {
        let id = AccountId::from_u128(u128::from(*acct) + 1);
        h.accounts
            .entry(id)
            .or_insert_with(|| Account::new(id, T, AccountName::new("Acme").unwrap(), day0()));
        let whose: &[(usize, CustomerId)] = match holder {
            0 => &[(0, a)],
            1 => &[(1, b)],
            _ => &[(0, a), (1, b)],
        };
        for &(k, who) in whose {
            let picked = roles
                .iter()
                .enumerate()
                .filter(|(i, _)| role_bits >> i & 1 == 1)
                .map(|(_, r)| *r);
            let mut l = AccountLink::new(id, who, picked, day0() + Duration::days(k as i64));
            // At most one primary per account: only the first holder may be.
            l.primary =
                primary >> k & 1 == 1 && !h.links.values().any(|x| x.account == id && x.primary);
            if ended >> k & 1 == 1 {
                l.until = Some(day0() + Duration::days(30));
            }
            h.links.insert((id, who), l);
        }
    }
    h
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// A merge moves the loser's consent entries, cases and account links to the survivor
    /// (links on one account folded: roles unioned, at most one primary, one link per person),
    /// and merge ∘ unmerge gives every belonging back to whom it was (versions aside).
    #[test]
    fn prop_belongings_move_and_come_back(a in shape(), b in shape(), hs in held_shape()) {
        // A rule on account roles: the merge and the unmerge decide it on the links they leave.
        let dm = Tag::new("b2b", "dm").unwrap();
        let pol = Policies {
            tag_rules: vec![TagRule::parse(r#"when has_account_role("decision_maker") then tag b2b:dm"#).unwrap()],
            ..Policies::default()
        };
        let is_dm = |b: &Belongings| AccountRoleSet::of_links(&b.links).contains(AccountRole::DecisionMaker);
        let (s, _, sa) = build(1, &a, &pol);
        let (l, ls, la) = build(2, &b, &pol);
        let before = held(s.id(), l.id(), &hs);
        let mut book = before.clone();
        let merged = plan_merge(&s, &sa, &l, &ls, &la, &book.of(s.id()), &book.of(l.id()),
            &SurvivorshipPolicy::default(), &pol, &ctx(), &mut ids()).unwrap();
        prop_assert!(merged.changeset.validate(T).is_ok(), "{:?}", merged.changeset.validate(T));
        book.apply(&merged.changeset);
        let left = book.of(l.id());
        prop_assert!(left.consents.is_empty() && left.cases.is_empty() && left.links.is_empty());
        let got = book.of(s.id());
        prop_assert_eq!(got.consents.len(), before.of(s.id()).consents.len() + before.of(l.id()).consents.len());
        prop_assert_eq!(got.cases.len(), before.of(s.id()).cases.len() + before.of(l.id()).cases.len());
        for link in &before.of(l.id()).links {
            let now_held = book.links.get(&(link.account, s.id())).unwrap();
            prop_assert!(link.roles.is_subset(&now_held.roles), "roles lost");
            prop_assert!(!link.primary || now_held.primary, "primary lost");
        }
        for acct in book.accounts.keys() {
            let primaries = book.links.values().filter(|x| x.account == *acct && x.primary).count();
            prop_assert!(primaries <= 1, "two primaries on {}", acct);
        }
        prop_assert_eq!(merged.survivor.tags.contains(&dm, now()), is_dm(&got), "merge: b2b:dm against the merged links");
        let tomb = merged.changeset.customers[0].customer().clone();
        let survivor = merged.changeset.customers[1].customer().clone();
        let mut acts: Vec<Activity> = sa.clone();
        acts.extend(merged.changeset.moves.iter().map(|m| m.activity.clone()));
        let undone = plan_unmerge(&merged.record, &survivor, &acts, &book.of(s.id()), &tomb, &pol, now(), &mut ids()).unwrap();
        prop_assert!(undone.changeset.validate(T).is_ok(), "{:?}", undone.changeset.validate(T));
        book.apply(&undone.changeset);
        prop_assert_eq!(undone.survivor.tags.contains(&dm, now()), is_dm(&book.of(s.id())), "unmerge: b2b:dm against the links left");
        prop_assert_eq!(book.unversioned(), before.unversioned());
    }
}

/// One ledger entry's shape: (purpose, channel, state, day); ids are given in order.
type EntryShape = (u8, u8, u8, i64);

fn entry_shape() -> impl Strategy<Value = EntryShape> {
    (0..3u8, 0..3u8, 0..3u8, 0..40i64)
}

fn ledger(who: CustomerId, first_id: u128, shapes: &[EntryShape]) -> Vec<privacy::ConsentEntry> {
    use privacy::{ConsentEntry, ConsentState};
    let purposes = [Purpose::Marketing, Purpose::Profiling, Purpose::Analytics];
    let channels = [
        ContactChannel::Email,
        ContactChannel::Sms,
        ContactChannel::Any,
    ];
    let states = [
        ConsentState::Granted,
        ConsentState::Withdrawn,
        ConsentState::Pending,
    ];
    shapes
        .iter()
        .zip(first_id..)
        .map(|(&(p, c, s, day), id)| {
            ConsentEntry::new(
                ConsentEntryId::from_u128(id),
                who,
                purposes[usize::from(p)],
                channels[usize::from(c)],
                states[usize::from(s)],
                "form",
                day0() + Duration::days(day),
            )
            .unwrap()
        })
        .collect()
}

fn with_ledger(consents: Vec<privacy::ConsentEntry>) -> Belongings {
    Belongings {
        consents,
        ..Belongings::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// DOMAIN.md (Privacy): the consent snapshot is a pure function of the ledger. After a
    /// merge the survivor's snapshot is the fold of both ledgers; after the unmerge (with
    /// entries recorded on the survivor in between) each side's snapshot is the fold of the
    /// ledger it holds again, and the loser's is what it was before the merge.
    #[test]
    fn prop_consent_snapshot_is_the_fold_of_the_merged_ledger(
        a in shape(),
        b in shape(),
        ls in proptest::collection::vec(entry_shape(), 0..6),
        ll in proptest::collection::vec(entry_shape(), 0..6),
        since in proptest::collection::vec(entry_shape(), 0..3),
    ) {
        let pol = Policies::default();
        let (mut s, _, sa) = build(1, &a, &pol);
        let (mut l, lst, la) = build(2, &b, &pol);
        let (ledger_s, ledger_l) = (ledger(s.id(), 1_000, &ls), ledger(l.id(), 2_000, &ll));
        s.consents = privacy::snapshot(&ledger_s);
        l.consents = privacy::snapshot(&ledger_l);
        let merged = plan_merge(&s, &sa, &l, &lst, &la, &with_ledger(ledger_s.clone()),
            &with_ledger(ledger_l.clone()), &SurvivorshipPolicy::default(), &pol, &ctx(),
            &mut ids()).unwrap();
        let union: Vec<_> = ledger_s.iter().chain(&ledger_l).cloned().collect();
        prop_assert_eq!(&merged.survivor.consents, &privacy::snapshot(&union));
        let written = merged.changeset.customers[1].customer();
        prop_assert_eq!(written.id(), s.id());
        prop_assert_eq!(&written.consents, &privacy::snapshot(&union));

        // The survivor's ledger as a store holds it after the merge, then entries recorded
        // on it since, each through `privacy::record` (which folds the snapshot too).
        let mut held: Vec<_> = union
            .iter()
            .map(|e| privacy::ConsentEntry { customer: s.id(), ..e.clone() })
            .collect();
        let mut survivor = written.clone();
        let stats = merged.stats.clone();
        for e in ledger(s.id(), 3_000, &since) {
            let d = privacy::record(&survivor, stats.clone(), &held, e.clone()).unwrap();
            survivor = d.customer;
            held.push(e);
        }
        let tomb = merged.changeset.customers[0].customer().clone();
        let mut acts: Vec<Activity> = sa.clone();
        acts.extend(merged.changeset.moves.iter().map(|m| m.activity.clone()));
        let undone = plan_unmerge(&merged.record, &survivor, &acts, &with_ledger(held.clone()),
            &tomb, &pol, now(), &mut ids()).unwrap();
        let kept: Vec<_> = held.iter().filter(|e| { let n = e.id.as_uuid().as_u128(); !(2_000..3_000).contains(&n) }).cloned().collect();
        prop_assert_eq!(&undone.survivor.consents, &privacy::snapshot(&kept));
        let restored = undone.changeset.customers[1].customer();
        prop_assert_eq!(restored.id(), l.id());
        prop_assert_eq!(&restored.consents, &l.consents);
        prop_assert_eq!(undone.changeset.consent_entry_moves.len(), ledger_l.len());
    }
}
