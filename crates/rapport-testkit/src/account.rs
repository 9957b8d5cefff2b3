//! Contracts of the [`AccountStore`] port: accounts and links written with their changeset,
//! read back exactly and in order, links replaced by (account, customer), versions checked,
//! tenants isolated. Run them with the `accounts` capability flag of
//! [`store_contracts!`](crate::store_contracts).

use chrono::{DateTime, Duration, TimeZone, Utc};
use rapport_core::*;

use crate::contracts::{Outcome, TA, TB};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0)
        .single()
        .unwrap_or_default()
}

fn account(t: TenantId, id: u128, name: &str) -> Result<Account, String> {
    Ok(Account::new(
        AccountId::from_u128(id),
        t,
        AccountName::new(name).map_err(|e| e.to_string())?,
        now(),
    ))
}

fn create(a: &Account, links: Vec<AccountLink>) -> Changeset {
    let mut cs = Changeset::new();
    cs.accounts.push(AccountWrite::Create {
        account: Box::new(a.clone()),
    });
    cs.account_links = links;
    cs
}

fn update(read: &Account, next: &Account, links: Vec<AccountLink>) -> Changeset {
    let mut cs = Changeset::new();
    cs.accounts.push(AccountWrite::Update {
        expected_version: read.version(),
        account: Box::new(next.clone()),
    });
    cs.account_links = links;
    cs
}

async fn apply<S: AccountStore>(s: &S, t: TenantId, cs: &Changeset) -> Outcome {
    s.apply(t, cs)
        .await
        .map(|_| ())
        .map_err(|e| format!("apply failed: {e}"))
}

fn err(e: StoreError) -> String {
    format!("account read failed: {e}")
}

/// Accounts and links round-trip exactly; a parent's subsidiaries, an account's links (by
/// customer) and a person's links (by account) come back in order; a link written again
/// replaces the stored one (unlinking keeps it, with `until`); tenant B sees nothing of A.
///
/// ```
/// use futures::executor::block_on;
/// use rapport_memory::MemoryStore;
/// assert_eq!(block_on(rapport_testkit::account::accounts_round_trip_and_link(&MemoryStore::new())), Ok(()));
/// ```
pub async fn accounts_round_trip_and_link<S: AccountStore>(s: &S) -> Outcome {
    let group = account(TA, 1, "Acme Group")?;
    let mut sub = account(TA, 2, "Acme Shanghai")?;
    sub.parent = Some(group.id());
    let (ann, bob) = (CustomerId::from_u128(20), CustomerId::from_u128(10));
    let mut a = AccountLink::new(sub.id(), ann, [AccountRole::DecisionMaker], now());
    a.primary = true;
    let b = AccountLink::new(
        sub.id(),
        bob,
        [AccountRole::Buyer, AccountRole::Billing],
        now(),
    );
    apply(
        s,
        TA,
        &create(
            &group,
            vec![AccountLink::new(
                group.id(),
                ann,
                [AccountRole::Other],
                now(),
            )],
        ),
    )
    .await?;
    apply(s, TA, &create(&sub, vec![a.clone(), b.clone()])).await?;

    if s.load_account(TA, sub.id()).await.map_err(err)?.as_ref() != Some(&sub) {
        return Err("an account read back differs".into());
    }
    let page = s.accounts(TA, None, 10).await.map_err(err)?;
    if page != vec![group.clone(), sub.clone()] {
        return Err(format!("accounts not in id order: {page:?}"));
    }
    if s.accounts(TA, Some(group.id()), 10).await.map_err(err)? != vec![sub.clone()] {
        return Err("accounts after the first: wrong page".into());
    }
    if s.subsidiaries(TA, group.id()).await.map_err(err)? != vec![sub.clone()] {
        return Err("the group's subsidiaries are wrong".into());
    }
    let links = s.account_links(TA, sub.id()).await.map_err(err)?;
    if links != vec![b.clone(), a.clone()] {
        return Err(format!("an account's links, by customer: {links:?}"));
    }
    let of_ann = s.customer_links(TA, ann).await.map_err(err)?;
    if of_ann.iter().map(|l| l.account).collect::<Vec<_>>() != vec![group.id(), sub.id()] {
        return Err(format!("a person's links, by account: {of_ann:?}"));
    }
    // Contacts by role over a page of accounts: every active link's roles, summed.
    let count = |pairs: &[(AccountRole, usize)]| {
        pairs
            .iter()
            .copied()
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let by_role = s
        .contacts_by_role(TA, &[group.id(), sub.id()])
        .await
        .map_err(err)?;
    let want = count(&[
        (AccountRole::DecisionMaker, 1),
        (AccountRole::Buyer, 1),
        (AccountRole::Billing, 1),
        (AccountRole::Other, 1),
    ]);
    if by_role != want {
        return Err(format!("contacts by role: {by_role:?}, want {want:?}"));
    }
    // Unlink Bob: the link stays, with its end.
    let mut gone = b.clone();
    gone.until = Some(now() + Duration::days(3));
    apply(
        s,
        TA,
        &update(&sub, &sub.next_version(), vec![gone.clone()]),
    )
    .await?;
    let links = s.account_links(TA, sub.id()).await.map_err(err)?;
    if links != vec![gone, a] {
        return Err(format!(
            "a link written again did not replace the stored one: {links:?}"
        ));
    }
    let by_role = s.contacts_by_role(TA, &[sub.id()]).await.map_err(err)?;
    if by_role != count(&[(AccountRole::DecisionMaker, 1)]) {
        return Err(format!("contacts by role count an ended link: {by_role:?}"));
    }
    // Tenant B.
    if s.load_account(TB, sub.id()).await.map_err(err)?.is_some()
        || !s.accounts(TB, None, 10).await.map_err(err)?.is_empty()
        || !s.account_links(TB, sub.id()).await.map_err(err)?.is_empty()
        || !s.customer_links(TB, ann).await.map_err(err)?.is_empty()
        || !s
            .contacts_by_role(TB, &[sub.id()])
            .await
            .map_err(err)?
            .is_empty()
    {
        return Err("tenant B sees tenant A's accounts".into());
    }
    Ok(())
}

/// A create of an existing account and a stale update fail `AccountConflict`, an update of a
/// missing account `NotFound`; the refused changeset writes nothing (its links included).
///
/// ```
/// use futures::executor::block_on;
/// use rapport_memory::MemoryStore;
/// assert_eq!(block_on(rapport_testkit::account::account_versions_conflict(&MemoryStore::new())), Ok(()));
/// ```
pub async fn account_versions_conflict<S: AccountStore>(s: &S) -> Outcome {
    let a = account(TA, 1, "Acme")?;
    apply(s, TA, &create(&a, vec![])).await?;
    let link = AccountLink::new(a.id(), CustomerId::from_u128(5), [AccountRole::User], now());
    match s.apply(TA, &create(&a, vec![link.clone()])).await {
        Err(StoreError::AccountConflict {
            expected: 0,
            actual: 1,
            ..
        }) => {}
        other => return Err(format!("a second create of an account: {other:?}")),
    }
    if !s.account_links(TA, a.id()).await.map_err(err)?.is_empty() {
        return Err("a refused changeset left its link behind".into());
    }
    let mut renamed = a.next_version();
    renamed.name = AccountName::new("Acme Ltd").map_err(|e| e.to_string())?;
    apply(s, TA, &update(&a, &renamed, vec![])).await?;
    match s
        .apply(TA, &update(&a, &a.next_version(), vec![link]))
        .await
    {
        Err(StoreError::AccountConflict {
            expected: 1,
            actual: 2,
            ..
        }) => {}
        other => return Err(format!("a stale account update: {other:?}")),
    }
    if s.load_account(TA, a.id()).await.map_err(err)?.as_ref() != Some(&renamed)
        || !s.account_links(TA, a.id()).await.map_err(err)?.is_empty()
    {
        return Err("a refused account update changed something".into());
    }
    let ghost = account(TA, 9, "Ghost")?;
    match s
        .apply(TA, &update(&ghost, &ghost.next_version(), vec![]))
        .await
    {
        Err(StoreError::NotFound {
            entity: rapport_core::ports::Entity::Account(id),
        }) if id == ghost.id() => Ok(()),
        other => Err(format!("an update of a missing account: {other:?}")),
    }
}

fn purchase(id: u128, customer: u128, key: &str, day: i64, cents: i64) -> Result<Activity, String> {
    Activity::new(
        ActivityId::from_u128(id),
        CustomerId::from_u128(customer),
        now() + Duration::days(day),
        Channel::Web,
        IdempotencyKey::new(key).map_err(|e| e.to_string())?,
        ActivityKind::Purchase {
            order_id: OrderId::new(key).map_err(|e| e.to_string())?,
            amount: Money::new(rust_decimal::Decimal::new(cents, 2), Currency::USD),
            margin: Some(rust_decimal::Decimal::new(cents / 4, 2)),
        },
    )
    .map_err(|e| e.to_string())
}

/// Purchases attributed to an account (`Changeset::account_activities`) come back by time
/// then key, exactly; an activity is kept with the first account it was attributed to (a
/// repeat, even to another account, changes nothing); an attribution of another kind than a
/// purchase or refund is refused; tenant B sees none of them.
///
/// ```
/// use futures::executor::block_on;
/// use rapport_memory::MemoryStore;
/// assert_eq!(block_on(rapport_testkit::account::account_activities_attributed(&MemoryStore::new())), Ok(()));
/// ```
pub async fn account_activities_attributed<S: AccountStore>(s: &S) -> Outcome {
    let (acme, other) = (account(TA, 1, "Acme")?, account(TA, 2, "Other")?);
    apply(s, TA, &create(&acme, vec![])).await?;
    apply(s, TA, &create(&other, vec![])).await?;
    let late = purchase(31, 5, "order-b", 3, 123_456)?;
    let early = purchase(32, 6, "order-a", 1, 99)?;
    let same_time = purchase(33, 5, "order-0", 3, 1)?;
    let mut cs = Changeset::new();
    for a in [&late, &early, &same_time] {
        cs.account_activities
            .push(AccountActivity::new(acme.id(), a.clone()).map_err(|e| e.to_string())?);
    }
    apply(s, TA, &cs).await?;
    let want = vec![early.clone(), same_time.clone(), late.clone()];
    let got = s.account_activities(TA, acme.id()).await.map_err(err)?;
    if got != want {
        return Err(format!(
            "attributed activities not read back by time then key: {got:?}"
        ));
    }
    // The same key again, to another account: the first attribution stays.
    let mut again = Changeset::new();
    again
        .account_activities
        .push(AccountActivity::new(other.id(), late.clone()).map_err(|e| e.to_string())?);
    apply(s, TA, &again).await?;
    if !s
        .account_activities(TA, other.id())
        .await
        .map_err(err)?
        .is_empty()
        || s.account_activities(TA, acme.id()).await.map_err(err)? != want
    {
        return Err("a repeated attribution moved or copied the activity".into());
    }
    // A visit is not attributed.
    let visit = Activity::new(
        ActivityId::from_u128(77),
        CustomerId::from_u128(5),
        now(),
        Channel::Web,
        IdempotencyKey::new("visit-1").map_err(|e| e.to_string())?,
        ActivityKind::Visit { item: None },
    )
    .map_err(|e| e.to_string())?;
    let mut bad = Changeset::new();
    bad.account_activities.push(AccountActivity {
        account: other.id(),
        activity: visit,
    });
    if s.apply(TA, &bad).await.is_ok()
        || !s
            .account_activities(TA, other.id())
            .await
            .map_err(err)?
            .is_empty()
    {
        return Err("a visit was attributed to an account".into());
    }
    if !s
        .account_activities(TB, acme.id())
        .await
        .map_err(err)?
        .is_empty()
    {
        return Err("tenant B sees tenant A's attributed activities".into());
    }
    // A page at once: each account's list as alone, in the order asked (a repeat and an
    // unknown account included); nothing in tenant B.
    let unknown = AccountId::from_u128(99);
    let page = s
        .accounts_activities(TA, &[other.id(), acme.id(), unknown, acme.id()])
        .await
        .map_err(err)?;
    if page != vec![Vec::new(), want.clone(), Vec::new(), want] {
        return Err(format!("a page of attributed activities differs: {page:?}"));
    }
    if s.accounts_activities(TB, &[acme.id()]).await.map_err(err)? != vec![Vec::<Activity>::new()] {
        return Err("tenant B sees tenant A's attributed activities in a page".into());
    }
    Ok(())
}

/// Merging two accounts ([`plan_account_merge`]) writes in one changeset: the loser's links
/// fold into the survivor's (roles unioned) and leave the loser, its attributed activities
/// and its subsidiaries move to the survivor, the loser is a tombstone pointing at it; a
/// second changeset moving an attribution the loser no longer has fails and writes nothing;
/// the unmerge ([`plan_account_unmerge`]) puts every link, attribution and subsidiary back.
///
/// ```
/// use futures::executor::block_on;
/// use rapport_memory::MemoryStore;
/// assert_eq!(block_on(rapport_testkit::account::accounts_merge_and_unmerge(&MemoryStore::new())), Ok(()));
/// ```
pub async fn accounts_merge_and_unmerge<S: AccountStore>(s: &S) -> Outcome {
    let (acme, dup) = (account(TA, 41, "Acme")?, account(TA, 42, "ACME Inc")?);
    let mut sub = account(TA, 43, "ACME Shanghai")?;
    sub.parent = Some(dup.id());
    let (ann, bob) = (CustomerId::from_u128(5), CustomerId::from_u128(6));
    let mut boss = AccountLink::new(dup.id(), ann, [AccountRole::DecisionMaker], now());
    boss.primary = true;
    let buyer = AccountLink::new(dup.id(), bob, [AccountRole::Buyer], now());
    let ann_at_acme = AccountLink::new(acme.id(), ann, [AccountRole::User], now());
    apply(s, TA, &create(&acme, vec![ann_at_acme.clone()])).await?;
    apply(s, TA, &create(&dup, vec![boss.clone(), buyer.clone()])).await?;
    apply(s, TA, &create(&sub, vec![])).await?;
    let order = purchase(44, 5, "order-m", 2, 5_000)?;
    let mut cs = Changeset::new();
    cs.account_activities
        .push(AccountActivity::new(dup.id(), order.clone()).map_err(|e| e.to_string())?);
    apply(s, TA, &cs).await?;

    let read = |id| async move {
        s.load_account(TA, id)
            .await
            .map_err(err)?
            .ok_or_else(|| format!("account {id} is missing"))
    };
    let (l, v) = (read(dup.id()).await?, read(acme.id()).await?);
    let loser_links = s.account_links(TA, dup.id()).await.map_err(err)?;
    let survivor_links = s.account_links(TA, acme.id()).await.map_err(err)?;
    let loser_activities = s.account_activities(TA, dup.id()).await.map_err(err)?;
    let subs: Vec<(Account, usize)> = s
        .subsidiaries(TA, dup.id())
        .await
        .map_err(err)?
        .into_iter()
        .map(|a| (a, 0))
        .collect();
    let merge = plan_account_merge(
        AccountMergeInputs {
            loser: &l,
            survivor: &v,
            loser_links: &loser_links,
            survivor_links: &survivor_links,
            loser_activities: &loser_activities,
            subsidiaries: &subs,
            survivor_chain: &[],
        },
        now(),
    )
    .map_err(|e| e.to_string())?;
    apply(s, TA, &merge).await?;
    let tombstone = read(dup.id()).await?;
    if tombstone.merged_into() != Some(acme.id()) {
        return Err("the loser is not a tombstone pointing at the survivor".into());
    }
    if !s.account_links(TA, dup.id()).await.map_err(err)?.is_empty() {
        return Err("the loser kept its links".into());
    }
    let links = s.account_links(TA, acme.id()).await.map_err(err)?;
    let roles = |c| {
        links
            .iter()
            .find(|l| l.customer == c)
            .map(|l| l.roles.clone())
    };
    if roles(ann) != Some([AccountRole::DecisionMaker, AccountRole::User].into())
        || roles(bob) != Some([AccountRole::Buyer].into())
    {
        return Err(format!(
            "the links were not folded into the survivor's: {links:?}"
        ));
    }
    if s.account_activities(TA, acme.id()).await.map_err(err)? != vec![order.clone()]
        || !s
            .account_activities(TA, dup.id())
            .await
            .map_err(err)?
            .is_empty()
    {
        return Err("the attributed activity did not move to the survivor".into());
    }
    if read(sub.id()).await?.parent != Some(acme.id()) {
        return Err("the subsidiary was not re-parented to the survivor".into());
    }
    // Moving the same attribution from the loser again fails, and writes nothing.
    let before = read(acme.id()).await?;
    let mut stale = Changeset::new();
    for a in [&tombstone, &before] {
        stale.accounts.push(AccountWrite::Update {
            expected_version: a.version(),
            account: Box::new(a.next_version()),
        });
    }
    stale.account_activity_moves.push(AccountActivityMove {
        key: order.idempotency_key.clone(),
        from: dup.id(),
        to: acme.id(),
    });
    if s.apply(TA, &stale).await.is_ok() || read(acme.id()).await?.version() != before.version() {
        return Err("a move of an attribution the account does not have was written".into());
    }
    // The unmerge puts everything back.
    let now_subs = s.subsidiaries(TA, acme.id()).await.map_err(err)?;
    let undo =
        plan_account_unmerge(&tombstone, &before, &now_subs, now()).map_err(|e| e.to_string())?;
    apply(s, TA, &undo).await?;
    if !read(dup.id()).await?.is_live()
        || s.account_links(TA, dup.id()).await.map_err(err)? != vec![boss, buyer]
        || s.account_links(TA, acme.id()).await.map_err(err)? != vec![ann_at_acme]
        || s.account_activities(TA, dup.id()).await.map_err(err)? != vec![order]
        || read(sub.id()).await?.parent != Some(dup.id())
    {
        return Err("the unmerge did not restore the links, attributions and subsidiaries".into());
    }
    Ok(())
}

/// `has_account_role(...)` decides outside a segment query: [`Store::account_roles`] answers
/// the union of the roles of each customer's active links (in the order asked, a repeat
/// included; none for a person without links, for an ended link, or in another tenant); a
/// tag rule `has_account_role("decision_maker")` tags a linked decision maker when the
/// service records an activity, evaluates and sweeps (batches of two) and untags them once
/// unlinked; an automation condition on the role schedules and sends only for decision
/// makers, and re-checks the roles when the action fires.
///
/// ```
/// use futures::executor::block_on;
/// use rapport_memory::MemoryStore;
/// assert_eq!(block_on(rapport_testkit::account::account_roles_feed_rules(&MemoryStore::new())), Ok(()));
/// ```
pub async fn account_roles_feed_rules<S: AccountStore + ports::ActionStore>(s: &S) -> Outcome {
    use rapport::core::automation::{AutomationPolicy, RuleSet};
    let e = |e: rapport::Error| e.to_string();
    let dm = Tag::new("b2b", "dm").map_err(|e| e.to_string())?;
    let policies = Policies {
        tag_rules: vec![
            TagRule::parse(r#"when has_account_role("decision_maker") then tag b2b:dm"#)
                .map_err(|e| e.to_string())?,
        ],
        ..Policies::default()
    };
    let clock = rapport::ManualClock::at(now());
    let svc = rapport::Service::new(s)
        .with_clock(clock.clone())
        .with_policies(policies)
        .map_err(e)?;
    let mut people = Vec::new();
    for _ in 0..4 {
        people.push(
            svc.register(TA, Profile::default())
                .await
                .map_err(e)?
                .customer
                .id(),
        );
    }
    let (ann, bob, cal, dan) = (people[0], people[1], people[2], people[3]);
    let acme = account(TA, 61, "Acme")?;
    let mut ended = AccountLink::new(acme.id(), dan, [AccountRole::DecisionMaker], now());
    ended.until = Some(now());
    apply(
        s,
        TA,
        &create(
            &acme,
            vec![
                AccountLink::new(acme.id(), ann, [AccountRole::DecisionMaker], now()),
                AccountLink::new(acme.id(), bob, [AccountRole::Buyer], now()),
                ended,
            ],
        ),
    )
    .await?;
    let other = account(TA, 62, "Other")?;
    apply(
        s,
        TA,
        &create(
            &other,
            vec![AccountLink::new(
                other.id(),
                ann,
                [AccountRole::Billing, AccountRole::Buyer],
                now(),
            )],
        ),
    )
    .await?;
    // The same ids in tenant B, with a link of their own.
    let b_acme = account(TB, 63, "Acme B")?;
    apply(
        s,
        TB,
        &create(
            &b_acme,
            vec![AccountLink::new(
                b_acme.id(),
                cal,
                [AccountRole::User],
                now(),
            )],
        ),
    )
    .await?;

    let set = |r: &[AccountRole]| r.iter().copied().collect::<AccountRoleSet>();
    let roles = s
        .account_roles(TA, &[cal, ann, bob, dan, ann])
        .await
        .map_err(err)?;
    let ann_roles = set(&[
        AccountRole::DecisionMaker,
        AccountRole::Buyer,
        AccountRole::Billing,
    ]);
    let want = vec![
        AccountRoleSet::default(),
        ann_roles,
        set(&[AccountRole::Buyer]),
        AccountRoleSet::default(),
        ann_roles,
    ];
    if roles != want {
        return Err(format!("account roles: got {roles:?}, want {want:?}"));
    }
    if s.account_roles(TB, &[ann, cal]).await.map_err(err)?
        != vec![AccountRoleSet::default(), set(&[AccountRole::User])]
    {
        return Err("account roles cross tenants".into());
    }
    if !s.account_roles(TA, &[]).await.map_err(err)?.is_empty() {
        return Err("account roles of no customer are not empty".into());
    }

    // Record: the decision maker is tagged, the buyer is not.
    let usd = Money::new(rust_decimal::Decimal::from(40), Currency::USD);
    for (who, key) in [(ann, "SO-1"), (bob, "SO-2")] {
        let a = rapport::NewActivity::purchase(who, key, usd, now()).map_err(|e| e.to_string())?;
        svc.record(TA, a).await.map_err(e)?;
    }
    let tagged = |c: &Customer| c.tags.contains(&dm, now());
    if !tagged(&svc.customer(TA, ann).await.map_err(e)?.customer)
        || tagged(&svc.customer(TA, bob).await.map_err(e)?.customer)
    {
        return Err(
            "record: has_account_role(\"decision_maker\") did not tag only the decision maker"
                .into(),
        );
    }
    // Evaluate: a person without activity, made a decision maker.
    let next = acme.next_version();
    apply(
        s,
        TA,
        &update(
            &acme,
            &next,
            vec![AccountLink::new(
                acme.id(),
                cal,
                [AccountRole::DecisionMaker],
                now(),
            )],
        ),
    )
    .await?;
    let ev = svc.evaluate(TA, cal).await.map_err(e)?;
    if ev.tags_added.iter().map(|c| &c.tag).collect::<Vec<_>>() != vec![&dm] {
        return Err(format!(
            "evaluate: the new decision maker was not tagged: {:?}",
            ev.tags_added
        ));
    }
    // Sweep in batches of two: dan (link ended) is never tagged; ann, unlinked, is untagged
    // (her billing link to the other account does not make her a decision maker).
    let mut gone = AccountLink::new(acme.id(), ann, [AccountRole::DecisionMaker], now());
    gone.until = Some(now());
    let after = next.next_version();
    apply(s, TA, &update(&next, &after, vec![gone])).await?;
    let later = now() + Duration::hours(3);
    clock.set(later);
    svc.sweep(TA, later, 2, |_| {}).await.map_err(e)?;
    let mut got = Vec::new();
    for who in [ann, bob, cal, dan] {
        got.push(tagged(&svc.customer(TA, who).await.map_err(e)?.customer));
    }
    if got != [false, false, true, false] {
        return Err(format!(
            "sweep: b2b:dm on (ann, bob, cal, dan) is {got:?}, want [false, false, true, false]"
        ));
    }

    // Automation: a daily task for decision makers only.
    let rules: Vec<rapport::core::automation::Rule> = serde_json::from_str(
        r#"[{"id": "dm-call", "trigger": {"schedule": {"at": "10:00"}},
             "condition": "has_account_role(\"decision_maker\")",
             "action": {"template": "account-review", "channel": "task", "purpose": "transactional"}}]"#,
    )
    .map_err(|e| e.to_string())?;
    let rules = RuleSet::new(rules).map_err(|e| e.to_string())?;
    let policy = AutomationPolicy::default();
    if svc
        .schedule_rules(TA, &rules, &policy, later)
        .await
        .map_err(e)?
        != 1
    {
        return Err("automation: the condition did not schedule the decision maker alone".into());
    }
    // Cal leaves before the action fires: the condition is checked again, and fails.
    let mut cal_gone = AccountLink::new(acme.id(), cal, [AccountRole::DecisionMaker], now());
    cal_gone.until = Some(later);
    apply(
        s,
        TA,
        &update(&after, &after.next_version(), vec![cal_gone]),
    )
    .await?;
    let fired = svc
        .fire_due_actions(TA, &rules, &policy, &ports::CustomerConsents, later, 10)
        .await
        .map_err(e)?;
    if (fired.scheduled, fired.sent, fired.suppressed) != (0, 0, 1) {
        return Err(format!(
            "automation: (scheduled, sent, suppressed) = ({}, {}, {}), want (0, 0, 1)",
            fired.scheduled, fired.sent, fired.suppressed
        ));
    }
    Ok(())
}

/// Expands to one `#[test]` per account contract (the `accounts` flag of
/// [`store_contracts!`](crate::store_contracts)).
#[macro_export]
macro_rules! account_contracts {
    ($factory:expr) => {
        #[test]
        fn accounts_round_trip_and_link() {
            $crate::check($factory, |s| async move {
                $crate::account::accounts_round_trip_and_link(&s).await
            });
        }
        #[test]
        fn account_versions_conflict() {
            $crate::check($factory, |s| async move {
                $crate::account::account_versions_conflict(&s).await
            });
        }
        #[test]
        fn account_activities_attributed() {
            $crate::check($factory, |s| async move {
                $crate::account::account_activities_attributed(&s).await
            });
        }
        #[test]
        fn account_roles_feed_rules() {
            $crate::check($factory, |s| async move {
                $crate::account::account_roles_feed_rules(&s).await
            });
        }
        #[test]
        fn accounts_merge_and_unmerge() {
            $crate::check($factory, |s| async move {
                $crate::account::accounts_merge_and_unmerge(&s).await
            });
        }
    };
}
