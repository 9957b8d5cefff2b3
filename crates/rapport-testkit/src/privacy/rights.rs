//! The service-level privacy contracts: export (access, portability) and the retention
//! policy, run through [`rapport::Service`] over the store under test.

use chrono::{DateTime, Duration};
use rapport::{ConsentRequest, ManualClock, MergeRequest, NewActivity, Service};
use rapport_core::ports::{ConsentStore, ErasureStore, MergeStore};
use rapport_core::privacy::{
    ConsentEntry, ConsentState, Decided, ERASED_SOURCE, ExportDocument, MergeRole, RetentionPolicy,
};
use rapport_core::*;
use rust_decimal::Decimal;

use super::t0;
use crate::SequentialIds;
use crate::contracts::{Outcome, TA, TB};

/// The bound both contracts need: what [`Service::export`] (accounts and cases included),
/// [`Service::erase`] and [`Service::retention`] ask of a store, and its outbox.
///
/// ```
/// fn takes<S: rapport_testkit::privacy::PrivacyStore>(_: &S) {}
/// takes(&rapport_memory::MemoryStore::new());
/// ```
pub trait PrivacyStore:
    ConsentStore + ErasureStore + MergeStore + AccountStore + CaseStore + Outbox
{
}
impl<S> PrivacyStore for S where
    S: ConsentStore + ErasureStore + MergeStore + AccountStore + CaseStore + Outbox
{
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

fn usd(cents: i64) -> Money {
    Money::new(Decimal::new(cents, 2), Currency::USD)
}

/// A service over `s` in tenant-independent state: ids from 1 on (so two tenants planted by
/// two such services get the same ids), time from `clock`.
fn service<'a, S: PrivacyStore>(s: &'a S, clock: &ManualClock) -> Service<&'a S> {
    Service::new(s)
        .with_clock(clock.clone())
        .with_ids(SequentialIds::starting_at(1))
}

/// What [`export_holds_everything`] planted in one tenant.
struct Planted {
    id: CustomerId,
    loser: CustomerId,
    merge: MergeId,
    /// The ledger entries in ledger order: grant (email), the loser's grant (SMS), withdrawal.
    entries: [ConsentEntryId; 3],
    profile: Profile,
    vip: Tag,
    until: DateTime<chrono::Utc>,
    /// Every personal string planted (the tenant's prefix `zq-<w>-` on all but the phone).
    secrets: Vec<String>,
    /// The account the person is the primary decision maker of.
    account: AccountId,
    /// The case opened about the person.
    case: CaseId,
}

const EXPORT_AMOUNT_CENTS: i64 = 123_457;

/// The amounts of the purchases an export holds, in its order.
fn purchase_amounts(doc: &ExportDocument) -> Vec<Money> {
    doc.activities
        .iter()
        .filter_map(|a| match &a.kind {
            ActivityKind::Purchase { amount, .. } => Some(*amount),
            _ => None,
        })
        .collect()
}

/// What each record [`plant`] makes carries besides its profile: a visit of `id` to an item
/// (the item's text, the visit's time), then the consent grant `request`; returns the grant's
/// entry.
async fn visit_and_grant<S: PrivacyStore>(
    svc: &Service<&S>,
    t: TenantId,
    id: CustomerId,
    (item, at): (String, DateTime<chrono::Utc>),
    request: ConsentRequest,
) -> Result<ConsentEntry, String> {
    let visit = NewActivity::visit(id, at).map_err(err)?.of_item(item);
    svc.record(t, visit).await.map_err(err)?;
    svc.grant(t, id, request).await.map_err(err)
}

/// A person in tenant `t` with personal data everywhere rapport keeps it, and another record
/// merged into it. `w` ("a", "b") marks the tenant's strings.
async fn plant<S: PrivacyStore>(
    svc: &Service<&S>,
    t: TenantId,
    w: &str,
) -> Result<Planted, String> {
    let now = svc.now();
    let fr = "FR".parse().map_err(err)?;
    let digit = if w == "a" { 1 } else { 2 };
    let phone = Phone::parse(&format!("+33 6 12 34 56 7{digit}"), fr).map_err(err)?;
    let mut attributes = Attributes::new();
    attributes.insert(
        AttrKey::new("note").map_err(err)?,
        AttrValue::Text(format!("zq-{w}-likes-green-tea")),
    );
    attributes.insert(
        AttrKey::new("shoe_size").map_err(err)?,
        AttrValue::Number(Decimal::new(425, 1)),
    );
    let profile = Profile {
        display_name: Some(Pii::new(format!("zq-{w}-Ann Lee"))),
        email: Some(Pii::new(
            Email::parse(&format!("zq-{w}-ann@example.com")).map_err(err)?,
        )),
        phone: Some(Pii::new(phone)),
        attributes: Pii::new(attributes),
        ..Profile::default()
    };
    let id = svc
        .register(t, profile.clone())
        .await
        .map_err(err)?
        .customer
        .id();
    let vip = Tag::new("value", "vip").map_err(err)?;
    let until = now + Duration::days(7);
    svc.tag(t, id, vip.clone(), Some(until))
        .await
        .map_err(err)?;
    svc.record(
        t,
        NewActivity::purchase(
            id,
            "o-1",
            usd(EXPORT_AMOUNT_CENTS),
            now - Duration::days(10),
        )
        .map_err(err)?,
    )
    .await
    .map_err(err)?;
    let (p, mail, sms) = (
        Purpose::Marketing,
        ContactChannel::Email,
        ContactChannel::Sms,
    );
    let grant = visit_and_grant(
        svc,
        t,
        id,
        (format!("zq-{w}-red-shoes"), now - Duration::days(9)),
        ConsentRequest::new(p, mail, format!("zq-{w}-signup-form"))
            .evidence(format!("zq-{w}-proof-77"))
            .at(now - Duration::days(20)),
    )
    .await?;
    let withdrawal = svc
        .withdraw(
            t,
            id,
            ConsentRequest::new(p, mail, format!("zq-{w}-reply-stop")).at(now - Duration::days(5)),
        )
        .await
        .map_err(err)?;
    // The other record: no profile (nothing of it survives into the person's), one visit,
    // one grant, dated between the person's grant and withdrawal.
    let loser = svc
        .register(t, Profile::default())
        .await
        .map_err(err)?
        .customer
        .id();
    let loser_grant = visit_and_grant(
        svc,
        t,
        loser,
        (format!("zq-{w}-loser-item"), now - Duration::days(8)),
        ConsentRequest::new(p, sms, format!("zq-{w}-loser-src")).at(now - Duration::days(15)),
    )
    .await?;
    let merged = svc
        .merge(
            t,
            MergeRequest::new(id, loser, Actor::new("ops-7").map_err(err)?),
        )
        .await
        .map_err(err)?;
    // B2B: the person is an account's primary decision maker; a complaint case about them.
    let account = svc
        .create_account(t, AccountName::new("Acme").map_err(err)?, None)
        .await
        .map_err(err)?
        .id();
    svc.link_contact(t, account, id, [AccountRole::DecisionMaker].into(), true)
        .await
        .map_err(err)?;
    let case = svc
        .open_case(
            t,
            rapport::OpenCase::new(
                id,
                CaseCategory::new("delivery").map_err(err)?,
                CaseSeverity::High,
                Channel::Phone,
            ),
        )
        .await
        .map_err(err)?
        .id();
    let secrets = [
        "Ann Lee",
        "ann@example.com",
        "likes-green-tea",
        "red-shoes",
        "signup-form",
        "proof-77",
        "reply-stop",
        "loser-item",
        "loser-src",
    ]
    .iter()
    .map(|s| format!("zq-{w}-{s}"))
    .chain([format!("61234567{digit}")])
    .collect();
    Ok(Planted {
        id,
        loser,
        merge: merged.record.id,
        entries: [grant.id, loser_grant.id, withdrawal.id],
        profile,
        vip,
        until,
        secrets,
        account,
        case,
    })
}

/// The checks on a live person's export.
fn check_export(
    doc: &ExportDocument,
    t: TenantId,
    p: &Planted,
    now: DateTime<chrono::Utc>,
) -> Outcome {
    let c = &doc.customer;
    ensure!(
        (doc.schema_version, doc.tenant, c.tenant(), c.id()) == (3, t, t, p.id),
        "the export is not the person's ({:?}, {}, {})",
        doc.schema_version,
        doc.tenant,
        c.id()
    );
    ensure!(
        c.profile.display_name == p.profile.display_name
            && c.profile.email == p.profile.email
            && c.profile.phone == p.profile.phone,
        "the export's name, email or phone is not the person's"
    );
    ensure!(
        c.profile.attributes.expose() == p.profile.attributes.expose(),
        "the export's custom attributes are not the person's"
    );
    let tag = c.tags.get(&p.vip);
    ensure!(
        tag.is_some_and(|i| i.source == TagSource::Manual && i.expires_at == Some(p.until)),
        "the export's tag lost its source or expiry: {tag:?}"
    );
    // Activities: the purchase and the visit, and the visit moved from the merged record.
    let purchases = purchase_amounts(doc);
    let mut items: Vec<&str> = doc
        .activities
        .iter()
        .filter_map(|a| match &a.kind {
            ActivityKind::Visit { item } => item.as_deref(),
            _ => None,
        })
        .collect();
    items.sort_unstable();
    let (loser_item, own_item) = (&p.secrets[7], &p.secrets[3]);
    ensure!(
        doc.activities.len() == 3
            && purchases == vec![usd(EXPORT_AMOUNT_CENTS)]
            && items == vec![loser_item.as_str(), own_item.as_str()],
        "the export's activities: {} ({purchases:?}, visits {items:?}), want 3 (one purchase of 1234.57, two visits with their text)",
        doc.activities.len()
    );
    ensure!(
        doc.activities.iter().all(|a| a.customer == p.id),
        "an exported activity names another customer"
    );
    ensure!(
        doc.stats.revenue() == Some(usd(EXPORT_AMOUNT_CENTS)) && doc.stats.orders() == 1,
        "the export's stats: revenue {:?}, {} orders",
        doc.stats.revenue(),
        doc.stats.orders()
    );
    // The ledger: grant, the merged record's grant, withdrawal — by time, moved entries too.
    let ledger: Vec<(ConsentEntryId, ConsentState, ContactChannel, &str)> = doc
        .consents
        .iter()
        .map(|e| (e.id, e.state, e.channel, e.source.as_str()))
        .collect();
    let want = vec![
        (
            p.entries[0],
            ConsentState::Granted,
            ContactChannel::Email,
            p.secrets[4].as_str(),
        ),
        (
            p.entries[1],
            ConsentState::Granted,
            ContactChannel::Sms,
            p.secrets[8].as_str(),
        ),
        (
            p.entries[2],
            ConsentState::Withdrawn,
            ContactChannel::Email,
            p.secrets[6].as_str(),
        ),
    ];
    ensure!(
        ledger == want,
        "the export's consent history: {ledger:?}, want {want:?}"
    );
    ensure!(
        doc.consents[0].evidence.as_deref() == Some(p.secrets[5].as_str())
            && doc.consents.iter().all(|e| e.customer == p.id),
        "the export's consent entries lost their evidence or name another customer"
    );
    ensure!(
        !c.consents.allows(Purpose::Marketing, ContactChannel::Email)
            && c.consents.allows(Purpose::Marketing, ContactChannel::Sms),
        "the export's consent snapshot does not follow the history"
    );
    // The merge: the other record by id, what moved.
    let merges: Vec<_> = doc
        .merges
        .iter()
        .map(|m| {
            (
                m.id,
                m.role,
                m.other,
                m.moved_activities,
                m.moved_consents,
                m.undone_at,
            )
        })
        .collect();
    ensure!(
        merges == vec![(p.merge, MergeRole::Survivor, p.loser, 1, 1, None)],
        "the export's merges: {merges:?}"
    );
    // Tier and stage history: the first purchase made the prospect new, with a reason.
    let stages: Vec<(&str, &str, DateTime<chrono::Utc>)> = doc
        .history
        .iter()
        .filter(|d| d.what == Decided::Stage)
        .map(|d| (d.from.as_str(), d.to.as_str(), d.at))
        .collect();
    ensure!(
        stages.first() == Some(&("prospect", "new", now - Duration::days(10))),
        "the export's stage history: {stages:?}"
    );
    ensure!(
        doc.history.iter().any(|d| d.what == Decided::Tier)
            && doc.history.iter().all(|d| !d.reason.rule.is_empty()),
        "the export's tier history is missing or without reasons: {:?}",
        doc.history
    );
    check_accounts_and_cases(doc, p)?;
    ensure!(
        doc.erasure.is_none(),
        "a live person's export has an erasure record"
    );
    Ok(())
}

/// The person's account link (role, primary) and case (category, severity, status) are in
/// the export: before erasure and after it (neither holds personal data).
fn check_accounts_and_cases(doc: &ExportDocument, p: &Planted) -> Outcome {
    let links: Vec<_> = doc
        .accounts
        .iter()
        .map(|l| (l.account, l.customer, l.roles.clone(), l.primary, l.until))
        .collect();
    let want = vec![(
        p.account,
        p.id,
        [AccountRole::DecisionMaker].into(),
        true,
        None,
    )];
    ensure!(
        links == want,
        "the export's account links: {links:?}, want {want:?}"
    );
    let cases: Vec<_> = doc
        .cases
        .iter()
        .map(|c| {
            (
                c.id(),
                c.customer,
                c.category.as_str(),
                c.severity,
                c.status(),
            )
        })
        .collect();
    let want = vec![(
        p.case,
        p.id,
        "delivery",
        CaseSeverity::High,
        CaseStatus::Open,
    )];
    ensure!(
        cases == want,
        "the export's cases: {cases:?}, want {want:?}"
    );
    Ok(())
}

/// The personal strings of `secrets` found in `doc`'s JSON.
fn found(doc: &ExportDocument, secrets: &[String]) -> Result<Vec<String>, String> {
    let text = serde_json::to_string(doc).map_err(err)?;
    Ok(secrets
        .iter()
        .filter(|s| text.contains(s.as_str()))
        .cloned()
        .collect())
}

/// Export and erasure through the service: a person with a profile (name, email, phone),
/// custom attributes, a manual tag with an expiry, a purchase and a visit with free text,
/// a consent grant then withdrawal, and another record (one visit, one grant) merged into
/// them. Their export — by their id or the merged record's — holds each with its values:
/// three activities (the purchase of 1234.57, two visits with their text), the ledger of three
/// in time order with sources and evidence, the merge naming the other record, the stage
/// history (prospect → new at the purchase) and a tier change, each with a reason, the
/// person's account link (primary decision maker) and the case opened about them. Tenant B's
/// person, planted with the same ids, appears in neither direction. After an erasure the
/// export's JSON holds none of the personal strings, yet keeps the three activities and the
/// revenue to the cent, the ledger stripped, the merge by id, the account link and the case,
/// and the erasure record; tenant B's
/// export is unchanged. Erasing again returns the same record and writes nothing (same
/// version, same export, no outbox message).
///
/// ```
/// use futures::executor::block_on;
/// let store = rapport_memory::MemoryStore::new();
/// assert_eq!(block_on(rapport_testkit::privacy::export_holds_everything(&store)), Ok(()));
/// ```
pub async fn export_holds_everything<S: PrivacyStore>(s: &S) -> Outcome {
    let now = t0() + Duration::days(30);
    let clock = ManualClock::at(now);
    let (svc_a, svc_b) = (service(s, &clock), service(s, &clock));
    let a = plant(&svc_a, TA, "a").await?;
    let b = plant(&svc_b, TB, "b").await?;
    ensure!(
        (a.id, a.loser, a.merge, a.entries) == (b.id, b.loser, b.merge, b.entries),
        "setup: the tenants' ids differ"
    );
    for (svc, t, p, other) in [(&svc_a, TA, &a, &b), (&svc_b, TB, &b, &a)] {
        for via in [p.id, p.loser] {
            let doc = svc.export(t, via).await.map_err(err)?;
            check_export(&doc, t, p, now)
                .map_err(|e| format!("tenant {t}, export by {via}: {e}"))?;
            let theirs = found(&doc, &other.secrets)?;
            ensure!(
                theirs.is_empty(),
                "tenant {t}'s export holds the other tenant's data: {theirs:?}"
            );
        }
    }
    let b_before = svc_b.export(TB, b.id).await.map_err(err)?;

    let record = svc_a
        .erase(TA, a.id, "ticket-1", "gdpr-art17")
        .await
        .map_err(err)?;
    let doc = svc_a.export(TA, a.id).await.map_err(err)?;
    check_accounts_and_cases(&doc, &a).map_err(|e| format!("after erasure: {e}"))?;
    let left = found(&doc, &a.secrets)?;
    ensure!(left.is_empty(), "the export after erasure holds {left:?}");
    ensure!(
        doc.customer.stage() == Stage::Erased
            && doc.customer.profile == Profile::default()
            && doc.customer.tags.is_empty()
            && doc.erasure.as_ref() == Some(&record),
        "the export after erasure: stage {:?}, erasure {:?}",
        doc.customer.stage(),
        doc.erasure
    );
    let amounts = purchase_amounts(&doc);
    ensure!(
        doc.activities.len() == 3
            && amounts == vec![usd(EXPORT_AMOUNT_CENTS)]
            && doc.stats.revenue() == Some(usd(EXPORT_AMOUNT_CENTS))
            && doc.stats.orders() == 1,
        "the export after erasure lost aggregates: {} activities, purchases {amounts:?}, revenue {:?}",
        doc.activities.len(),
        doc.stats.revenue()
    );
    let json = serde_json::to_value(&doc).map_err(err)?;
    ensure!(
        json["stats"]["revenue"].as_str() == Some("1234.57"),
        "the exported revenue after erasure is not 1234.57 to the cent: {}",
        json["stats"]["revenue"]
    );
    let ledger: Vec<(ConsentEntryId, ConsentState)> =
        doc.consents.iter().map(|e| (e.id, e.state)).collect();
    ensure!(
        ledger
            == vec![
                (a.entries[0], ConsentState::Granted),
                (a.entries[1], ConsentState::Granted),
                (a.entries[2], ConsentState::Withdrawn),
            ]
            && doc
                .consents
                .iter()
                .all(|e| e.source == ERASED_SOURCE && e.evidence.is_none()),
        "the ledger after erasure: {ledger:?}"
    );
    ensure!(
        matches!(&doc.merges[..], [m] if (m.id, m.other) == (a.merge, a.loser)),
        "the export after erasure lost the merge"
    );
    ensure!(
        svc_b.export(TB, b.id).await.map_err(err)? == b_before,
        "erasing in tenant A changed tenant B's export"
    );

    // Idempotent: the same record, nothing written.
    let lease = std::time::Duration::from_secs(3_600);
    let at = now + Duration::minutes(1);
    s.claim_outbox(10_000, lease, at).await.map_err(err)?;
    let version = svc_a
        .customer(TA, a.id)
        .await
        .map_err(err)?
        .customer
        .version();
    let again = svc_a
        .erase(TA, a.id, "ticket-2", "again")
        .await
        .map_err(err)?;
    ensure!(
        again == record,
        "erasing again returned {again:?}, not {record:?}"
    );
    ensure!(
        svc_a
            .customer(TA, a.id)
            .await
            .map_err(err)?
            .customer
            .version()
            == version
            && svc_a.export(TA, a.id).await.map_err(err)? == doc
            && s.erasure(TA, a.id).await.map_err(err)? == Some(record),
        "erasing again wrote something"
    );
    let new = s.claim_outbox(10_000, lease, at).await.map_err(err)?;
    ensure!(
        new.is_empty(),
        "erasing again wrote {} outbox messages",
        new.len()
    );
    Ok(())
}

/// The retention book planted in one tenant: `(id, due)` in planting order.
async fn plant_retention<S: PrivacyStore>(
    svc: &Service<&S>,
    clock: &ManualClock,
    t: TenantId,
    now: DateTime<chrono::Utc>,
    days: i64,
) -> Result<Vec<(CustomerId, bool, &'static str)>, String> {
    let named = |who: &str| Profile {
        display_name: Some(Pii::new(format!("rt-{t}-{who}"))),
        ..Profile::default()
    };
    let mut book = Vec::new();
    // Created long before the cut-off...
    clock.set(now - Duration::days(days + 35));
    for who in [
        "stale",
        "never-active",
        "at-the-limit",
        "just-past",
        "recent",
        "merged",
        "erased",
    ] {
        let id = svc
            .register(t, named(who))
            .await
            .map_err(err)?
            .customer
            .id();
        book.push((id, who));
    }
    // ...and recently.
    clock.set(now - Duration::days(100));
    for who in ["new", "imported"] {
        let id = svc
            .register(t, named(who))
            .await
            .map_err(err)?
            .customer
            .id();
        book.push((id, who));
    }
    clock.set(now);
    let id = |who: &str| book.iter().find(|(_, w)| *w == who).map(|(id, _)| *id);
    let (
        Some(stale),
        Some(limit),
        Some(past),
        Some(recent),
        Some(merged),
        Some(erased),
        Some(imported),
    ) = (
        id("stale"),
        id("at-the-limit"),
        id("just-past"),
        id("recent"),
        id("merged"),
        id("erased"),
        id("imported"),
    )
    else {
        return Err("setup: the retention book".into());
    };
    let cut = now - Duration::days(days);
    for a in [
        NewActivity::purchase(stale, "s-1", usd(4_999), cut - Duration::days(1)),
        NewActivity::visit(limit, cut),
        NewActivity::visit(past, cut - Duration::seconds(1)),
        // An old purchase, a recent visit: any activity counts.
        NewActivity::purchase(recent, "r-1", usd(1_000), cut - Duration::days(25)),
        NewActivity::visit(recent, now - Duration::days(10)),
        // Created recently, history imported from long ago: the history counts.
        NewActivity::purchase(imported, "i-1", usd(2_500), cut - Duration::days(200)),
    ] {
        svc.record(t, a.map_err(err)?).await.map_err(err)?;
    }
    // Tombstones are never due.
    let actor = Actor::new("ops").map_err(err)?;
    svc.merge(t, MergeRequest::new(recent, merged, actor))
        .await
        .map_err(err)?;
    svc.erase(t, erased, "ticket-3", "gdpr-art17")
        .await
        .map_err(err)?;
    let due = ["stale", "never-active", "just-past", "imported"];
    Ok(book
        .into_iter()
        .map(|(id, who)| (id, due.contains(&who), who))
        .collect())
}

/// `(version, stage)` of each of `ids`.
async fn states<S: PrivacyStore>(
    s: &S,
    t: TenantId,
    ids: &[CustomerId],
) -> Result<Vec<(u64, Stage)>, String> {
    let mut out = Vec::new();
    for id in ids {
        let c = super::load(s, t, *id).await?;
        out.push((c.version(), c.stage()));
    }
    Ok(out)
}

/// The retention policy through the service (`Service::retention`), 365 days: of nine
/// customers — last activity 366 days ago (a purchase of 49.99), none and created 400 days
/// ago, exactly 365 days ago, 365 days and a second ago, 10 days ago (after a purchase 390 days
/// ago), none and created 100 days ago, created 100 days ago with a purchase imported from 565
/// days ago, a record merged into another, an erased one — exactly four are due (the last
/// activity counts, the creation only without any; tombstones never). A dry run counts them
/// (three a second earlier) and writes nothing; the run erases those four (stage `Erased`,
/// empty profile, a `retention` record, revenue kept to the cent) and leaves the others as
/// they were (same version); a second run finds none. Tenant B's book, planted with the same
/// ids, is untouched and still has its four due.
///
/// ```
/// use futures::executor::block_on;
/// let store = rapport_memory::MemoryStore::new();
/// assert_eq!(block_on(rapport_testkit::privacy::retention_erases_only_the_inactive(&store)), Ok(()));
/// ```
pub async fn retention_erases_only_the_inactive<S: PrivacyStore>(s: &S) -> Outcome {
    const DAYS: u32 = 365;
    let now = t0() + Duration::days(800);
    let policy = RetentionPolicy {
        inactive_days: DAYS,
    };
    let clock = ManualClock::at(now);
    let (svc_a, svc_b) = (service(s, &clock), service(s, &clock));
    let book = plant_retention(&svc_a, &clock, TA, now, i64::from(DAYS)).await?;
    let book_b = plant_retention(&svc_b, &clock, TB, now, i64::from(DAYS)).await?;
    let ids: Vec<CustomerId> = book.iter().map(|(id, _, _)| *id).collect();
    ensure!(
        book_b.iter().map(|(id, _, _)| *id).eq(ids.iter().copied()),
        "setup: the tenants' ids differ"
    );
    let before = states(s, TA, &ids).await?;
    let before_b = states(s, TB, &ids).await?;
    let stale = ids[0];
    let stale_stats = s
        .load(TA, stale)
        .await
        .map_err(err)?
        .ok_or("setup: the stale customer is gone")?
        .stats;

    let count = |r: rapport::RetentionReport| (r.due, r.erased);
    let early = svc_a
        .retention(TA, policy, now - Duration::seconds(1), true)
        .await
        .map_err(err)?;
    ensure!(
        count(early) == (3, 0),
        "a dry run a second before the limit of one customer: {early:?}, want 3 due, 0 erased"
    );
    let dry = svc_a.retention(TA, policy, now, true).await.map_err(err)?;
    ensure!(
        count(dry) == (4, 0),
        "the dry run: {dry:?}, want 4 due, 0 erased"
    );
    ensure!(
        states(s, TA, &ids).await? == before,
        "the dry run wrote something"
    );
    for (id, due, who) in &book {
        ensure!(
            !*due || s.erasure(TA, *id).await.map_err(err)?.is_none(),
            "the dry run stored an erasure record for `{who}`"
        );
    }

    let run = svc_a.retention(TA, policy, now, false).await.map_err(err)?;
    ensure!(
        count(run) == (4, 4),
        "the run: {run:?}, want 4 due, 4 erased"
    );
    let after = states(s, TA, &ids).await?;
    for (((id, due, who), was), is) in book.iter().zip(&before).zip(&after) {
        if *due {
            let c = super::load(s, TA, *id).await?;
            let record = s.erasure(TA, *id).await.map_err(err)?;
            ensure!(
                is.1 == Stage::Erased && c.profile == Profile::default(),
                "the due customer `{who}` is {:?} with a profile after the run",
                is.1
            );
            ensure!(
                record
                    .as_ref()
                    .is_some_and(|r| r.reason == RetentionPolicy::REASON
                        && r.requester == "retention-policy"
                        && r.erased_at == now),
                "the due customer `{who}`'s erasure record: {record:?}"
            );
        } else {
            ensure!(is == was, "the run touched `{who}`: {was:?} then {is:?}");
        }
    }
    let kept = s
        .load(TA, stale)
        .await
        .map_err(err)?
        .ok_or("the stale customer is gone")?
        .stats;
    ensure!(
        kept.revenue() == Some(usd(4_999)) && kept.revenue() == stale_stats.revenue(),
        "retention changed the aggregates: {:?}",
        kept.revenue()
    );
    let again = svc_a.retention(TA, policy, now, false).await.map_err(err)?;
    ensure!(
        count(again) == (0, 0),
        "a second run: {again:?}, want nothing due"
    );

    ensure!(
        states(s, TB, &ids).await? == before_b,
        "retention in tenant A touched tenant B"
    );
    let b = svc_b.retention(TB, policy, now, true).await.map_err(err)?;
    ensure!(
        count(b) == (4, 0),
        "tenant B's book after tenant A's run: {b:?}, want its 4 still due"
    );
    Ok(())
}
