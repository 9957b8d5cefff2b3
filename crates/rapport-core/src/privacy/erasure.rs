//! Erasure: what removing a customer's personal data writes. The customer becomes an `Erased`
//! tombstone with an empty profile, no tags and no consent snapshot; its stats (anonymous
//! aggregates, to the cent) and tier stay. In the same changeset the store strips the free
//! text of the customer's activities ([`strip_activity`]) and consent entries
//! ([`ConsentEntry::stripped`](super::ConsentEntry::stripped)), drops the outbox messages
//! still pending for it, and stores an [`ErasureRecord`] holding no personal data.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::changeset::Changeset;
use crate::error::DomainError;
use crate::model::activity::{Activity, ActivityKind};
use crate::model::consent::Consents;
use crate::model::customer::{Customer, Profile};
use crate::model::id::{CustomerId, check_key};
use crate::model::stats::Stats;
use crate::model::tag::TagSet;

/// The longest requester or reason code, in characters.
pub const MAX_CODE_LEN: usize = 100;

/// The proof that a customer was erased: who asked (an opaque reference, e.g. a ticket id),
/// why (a reason code), when. No personal data.
///
/// ```
/// use chrono::DateTime;
/// use rapport_core::CustomerId;
/// use rapport_core::privacy::ErasureRecord;
/// let r = ErasureRecord::new(CustomerId::from_u128(1), "ticket-4411", "gdpr-art17", DateTime::UNIX_EPOCH)?;
/// assert_eq!(r.reason, "gdpr-art17");
/// assert!(ErasureRecord::new(CustomerId::from_u128(1), "", "x", DateTime::UNIX_EPOCH).is_err());
/// # Ok::<(), rapport_core::DomainError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasureRecord {
    /// The erased customer.
    pub customer: CustomerId,
    /// When.
    pub erased_at: DateTime<Utc>,
    /// Who asked: an opaque reference (ticket, operator id), never a name or an email.
    pub requester: String,
    /// Why: a reason code (`gdpr-art17`, `pipl-art47`, `retention`).
    pub reason: String,
}

impl ErasureRecord {
    /// A record, with requester and reason checked (1–[`MAX_CODE_LEN`] characters, no
    /// control characters or surrounding whitespace).
    ///
    /// # Errors
    /// [`DomainError::InvalidText`] naming the field.
    pub fn new(
        customer: CustomerId,
        requester: impl Into<String>,
        reason: impl Into<String>,
        erased_at: DateTime<Utc>,
    ) -> Result<Self, DomainError> {
        let r = Self {
            customer,
            erased_at,
            requester: requester.into(),
            reason: reason.into(),
        };
        r.validate()?;
        Ok(r)
    }

    /// Checks requester and reason.
    ///
    /// # Errors
    /// [`DomainError::InvalidText`] naming the field.
    pub fn validate(&self) -> Result<(), DomainError> {
        check_key("erasure.requester", &self.requester, MAX_CODE_LEN)?;
        check_key("erasure.reason", &self.reason, MAX_CODE_LEN)
    }
}

/// The activity with its personal payload removed: kind, time, channel, amounts and order
/// ids stay (the aggregates are recomputable to the cent); a visit's free-text item goes.
///
/// ```
/// use chrono::DateTime;
/// use rapport_core::*;
/// use rapport_core::privacy::strip_activity;
/// let v = Activity::new(ActivityId::from_u128(1), CustomerId::from_u128(2), DateTime::UNIX_EPOCH,
///     Channel::Web, IdempotencyKey::new("v1")?, ActivityKind::Visit { item: Some("wedding dress".into()) })?;
/// assert_eq!(strip_activity(&v).kind, ActivityKind::Visit { item: None });
/// # Ok::<(), DomainError>(())
/// ```
#[must_use]
pub fn strip_activity(a: &Activity) -> Activity {
    let mut out = a.clone();
    if let ActivityKind::Visit { item } = &mut out.kind {
        *item = None;
    }
    out
}

/// What erasing one customer writes.
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct ErasurePlan {
    /// The customer update to `Erased` and the erasure record, to apply atomically.
    pub changeset: Changeset,
    /// The tombstone as it will be stored.
    pub customer: Customer,
    /// The record.
    pub record: ErasureRecord,
}

/// Plans the erasure of `read` (loaded with `stats`) at `now`.
///
/// ```
/// use chrono::DateTime;
/// use rapport_core::*;
/// use rapport_core::privacy::plan_erasure;
/// let now = DateTime::UNIX_EPOCH;
/// let mut c = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
/// c.profile.email = Some(Pii::new(Email::parse("ann@example.com")?));
/// let p = plan_erasure(&c, Stats::default(), "ticket-1", "gdpr-art17", now)?;
/// assert_eq!(p.customer.stage(), Stage::Erased);
/// assert!(p.customer.profile.email.is_none());
/// assert_eq!(p.changeset.erasures, vec![p.record.clone()]);
/// // Final: a tombstone cannot be erased again (the service answers with the stored record).
/// assert!(plan_erasure(&p.customer, Stats::default(), "ticket-1", "gdpr-art17", now).is_err());
/// # Ok::<(), DomainError>(())
/// ```
///
/// # Errors
/// [`DomainError::Tombstoned`] for a merged or erased customer; [`DomainError::InvalidText`]
/// for a bad requester or reason.
pub fn plan_erasure(
    read: &Customer,
    stats: Stats,
    requester: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<ErasurePlan, DomainError> {
    read.ensure_live()?;
    let record = ErasureRecord::new(read.id(), requester, reason, now)?;
    let mut next = read.next_version();
    strip_customer(&mut next);
    next.lifecycle = read.lifecycle.erase(now)?;
    let mut changeset = Changeset::new();
    changeset.update(read, next.clone(), stats);
    changeset.erasures.push(record.clone());
    Ok(ErasurePlan {
        changeset,
        customer: next,
        record,
    })
}

/// What an erasure leaves of the free-text reason of a tier pin or a stage override: the
/// operator's words may name the person, so they go; the pin or override itself (tier or
/// stage, who set it, until when) stays.
///
/// ```
/// use chrono::{Duration, TimeZone, Utc};
/// use rapport_core::*;
/// use rapport_core::privacy::{ERASED_REASON, plan_erasure};
/// let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
/// let mut c = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
/// let pin = TierPin::new(Tier::Gold, Actor::new("li")?, "Ann Li's husband is the CEO", now + Duration::days(9), now)?;
/// c.set_tier_state(TierState { pin: Some(pin), ..TierState::default() })?;
/// let p = plan_erasure(&c, Stats::default(), "ticket-1", "gdpr-art17", now)?;
/// let kept = p.customer.tier_state().pin.as_ref().unwrap();
/// assert_eq!((kept.tier, kept.reason.as_str()), (Tier::Gold, ERASED_REASON));
/// # Ok::<(), DomainError>(())
/// ```
pub const ERASED_REASON: &str = "erased";

/// Empties what an erasure removes from a customer record: its profile, tags and consent
/// snapshot, and the free-text reasons of its tier pin and stage override (replaced by
/// [`ERASED_REASON`]; the pin and override keep their tier or stage, actor and expiry).
/// Stage, tier, dates and version are the caller's.
pub(crate) fn strip_customer(c: &mut Customer) {
    c.profile = Profile::default();
    c.tags = TagSet::default();
    c.consents = Consents::default();
    if let Some(pin) = &mut c.tier.pin {
        ERASED_REASON.clone_into(&mut pin.reason);
    }
    if let Some(o) = &mut c.lifecycle.manual {
        ERASED_REASON.clone_into(&mut o.reason);
    }
}

impl ErasurePlan {
    /// Extends the plan to the records merged into the customer: each `Merged` tombstone of
    /// `tombstones` (merged into the erased customer directly or along a chain) becomes an
    /// empty `Erased` tombstone with its own erasure record (same requester, reason and time),
    /// and every record of `merges` is replaced by its redaction
    /// ([`MergeRecord::redacted`](crate::quality::merge_op::MergeRecord::redacted)) — a merge record holds both customers as they were. After
    /// it, no record of the person holds personal data, and no merge of theirs can be undone.
    /// Repeated tombstones and records are taken once.
    ///
    /// ```
    /// use chrono::DateTime;
    /// use rapport_core::*;
    /// use rapport_core::privacy::plan_erasure;
    /// use rapport_core::quality::merge_op::{MergeContext, plan_merge};
    /// let (t, now) = (TenantId::from_u128(1), DateTime::UNIX_EPOCH);
    /// let named = |id: u128, name: &str| Customer::new(t, CustomerId::from_u128(id),
    ///     Profile { display_name: Some(Pii::new(name.into())), ..Profile::default() }, now);
    /// let (ann, dup) = (named(1, "Ann Lee"), named(2, "Ann Li"));
    /// let ctx = MergeContext { id: MergeId::from_u128(5), actor: Actor::new("alice")?, now };
    /// let none = Belongings::default();
    /// let merged = plan_merge(&ann, &[], &dup, &Stats::default(), &[], &none, &none,
    ///     &SurvivorshipPolicy::default(), &Policies::default(), &ctx, &mut || MessageId::from_u128(1))?;
    /// let tomb = &merged.changeset.customers[0].customer().clone(); // the loser's tombstone
    /// let plan = plan_erasure(&merged.survivor, merged.stats.clone(), "ticket-1", "gdpr-art17", now)?
    ///     .with_merged(std::slice::from_ref(tomb), &[merged.record.clone()])?;
    /// assert_eq!(plan.changeset.erasures.len(), 2); // the survivor's and the tombstone's
    /// assert!(plan.changeset.reopens(dup.id()));
    /// assert!(!serde_json::to_string(&plan.changeset.merges)?.contains("Ann"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`DomainError::InvalidChangeset`] for a tombstone of another tenant or not merged into
    /// the erased customer (or into another of `tombstones`), or a record that names none of
    /// them; [`DomainError::IllegalTransition`] for a customer that is not a `Merged`
    /// tombstone.
    pub fn with_merged(
        mut self,
        tombstones: &[Customer],
        merges: &[crate::quality::merge_op::MergeRecord],
    ) -> Result<Self, DomainError> {
        use crate::model::lifecycle::Stage;
        use crate::quality::merge_op::MergeRecordWrite;
        let invalid = |reason: &str| DomainError::InvalidChangeset {
            reason: reason.to_owned(),
        };
        let mut erased = vec![self.customer.id()];
        erased.extend(tombstones.iter().map(Customer::id));
        let mut seen = vec![self.customer.id()];
        for tomb in tombstones {
            if seen.contains(&tomb.id()) {
                continue;
            }
            seen.push(tomb.id());
            if tomb.tenant() != self.customer.tenant() {
                return Err(invalid("a tombstone handed in is of another tenant"));
            }
            let next_lifecycle = tomb.lifecycle.erase_tombstone(self.record.erased_at)?;
            match tomb.stage() {
                Stage::Merged { into } if erased.contains(&into) => {}
                _ => {
                    return Err(invalid(
                        "a tombstone handed in is not merged into the erased customer",
                    ));
                }
            }
            let mut next = tomb.next_version();
            strip_customer(&mut next);
            next.lifecycle = next_lifecycle;
            self.changeset.update(tomb, next, Stats::default());
            self.changeset.erasures.push(ErasureRecord::new(
                tomb.id(),
                &self.record.requester,
                &self.record.reason,
                self.record.erased_at,
            )?);
        }
        let mut redacted: Vec<crate::model::id::MergeId> = Vec::new();
        for r in merges {
            if redacted.contains(&r.id) {
                continue;
            }
            if !erased.contains(&r.survivor) && !erased.contains(&r.loser) {
                return Err(invalid(
                    "a merge record handed in names none of the erased customers",
                ));
            }
            redacted.push(r.id);
            self.changeset.merges.push(MergeRecordWrite::Redact {
                record: Box::new(r.redacted()),
            });
        }
        Ok(self)
    }
}

/// The retention policy: customers with no activity for more than `inactive_days` days (a
/// customer without activities: since its creation) are erased by the sweep. No default: the
/// host must choose.
///
/// ```
/// use chrono::{Duration, TimeZone, Utc};
/// use rapport_core::*;
/// use rapport_core::privacy::RetentionPolicy;
/// let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
/// let c = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), t0);
/// let p = RetentionPolicy { inactive_days: 365 };
/// assert!(!p.is_due(&c, &Stats::default(), t0 + Duration::days(365)));
/// assert!(p.is_due(&c, &Stats::default(), t0 + Duration::days(366)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionPolicy {
    /// Days without activity after which a customer is erased.
    pub inactive_days: u32,
}

impl RetentionPolicy {
    /// The reason code retention erasures carry.
    pub const REASON: &'static str = "retention";

    /// True when `c` is live and its last activity (or, with none, its creation) is more than
    /// `inactive_days` days before `now`.
    #[must_use]
    pub fn is_due(&self, c: &Customer, stats: &Stats, now: DateTime<Utc>) -> bool {
        // An imported customer's record is younger than its history: the last activity
        // counts, the creation only for a customer with none.
        let last = stats.last_activity_at().unwrap_or(c.created_at());
        c.is_live() && now - last > chrono::Duration::days(i64::from(self.inactive_days))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::{Duration, TimeZone, Utc};
    use proptest::prelude::*;

    use super::{ERASED_REASON, plan_erasure};
    use crate::quality::merge_op::{MergeContext, plan_merge};
    use crate::*;

    /// A live customer with a tier pin and a stage override, each with its own reason.
    fn pinned(id: u128, pin: &str, why: &str, now: chrono::DateTime<Utc>) -> Customer {
        let t = TenantId::from_u128(1);
        let mut c = Customer::new(t, CustomerId::from_u128(id), Profile::default(), now);
        let li = Actor::new("li").unwrap();
        let p = TierPin::new(Tier::Gold, li.clone(), pin, now + Duration::days(30), now).unwrap();
        c.set_tier_state(TierState {
            pin: Some(p),
            ..TierState::default()
        })
        .unwrap();
        let o = c
            .lifecycle()
            .override_stage(Stage::Active, li, why, now + Duration::days(10), now)
            .unwrap();
        c.set_lifecycle(o).unwrap();
        c
    }

    proptest! {
        /// The operator's reasons on pins and overrides can name the person: after the
        /// erasure of a survivor (and the tombstone merged into it) no record the erasure
        /// writes holds them — neither the erased customers nor the redacted merge record —
        /// while the merge wrote them all before. The pins keep their tier, actor and expiry.
        #[test]
        fn prop_erasure_strips_pin_and_override_reasons(
            reasons in proptest::array::uniform4("zq[a-z]{8,12} [a-z]{4,8}"),
        ) {
            let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
            let survivor = pinned(1, &reasons[0], &reasons[1], now);
            let loser = pinned(2, &reasons[2], &reasons[3], now);
            let ctx = MergeContext { id: MergeId::from_u128(5), actor: Actor::new("alice").unwrap(), now };
            let none = Belongings::default();
            let merged = plan_merge(&survivor, &[], &loser, &Stats::default(), &[], &none, &none,
                &SurvivorshipPolicy::default(), &Policies::default(), &ctx, &mut || MessageId::from_u128(1)).unwrap();
            let wrote = serde_json::to_string(&merged.record).unwrap();
            for r in &reasons {
                prop_assert!(wrote.contains(r.as_str()), "the merge record lacks {}", r);
            }
            let tomb = merged.changeset.customers.iter()
                .map(|w| w.customer().clone())
                .find(|c| c.id() == loser.id())
                .unwrap();
            let plan = plan_erasure(&merged.survivor, merged.stats.clone(), "ticket-1", "gdpr-art17", now)
                .unwrap()
                .with_merged(std::slice::from_ref(&tomb), std::slice::from_ref(&merged.record))
                .unwrap();
            let text = serde_json::to_string(&plan.changeset).unwrap();
            for r in &reasons {
                prop_assert!(!text.contains(r.as_str()), "the erasure keeps {}", r);
            }
            for w in &plan.changeset.customers {
                let c = w.customer();
                prop_assert_eq!(c.stage(), Stage::Erased);
                prop_assert!(c.lifecycle().manual.is_none());
                let pin = c.tier_state().pin.as_ref().unwrap();
                prop_assert_eq!((pin.tier, pin.reason.as_str(), pin.until), (Tier::Gold, ERASED_REASON, now + Duration::days(30)));
                prop_assert_eq!(pin.actor.as_str(), "li");
            }
            let redacted = plan.changeset.merges.iter().map(|m| match m {
                crate::quality::merge_op::MergeRecordWrite::Redact { record } => Ok(record),
                other => Err(format!("{other:?}")),
            }).next().unwrap().unwrap();
            for before in [&redacted.survivor_before, &redacted.loser_before] {
                let o = before.lifecycle().manual.as_ref().unwrap();
                prop_assert_eq!((o.stage, o.reason.as_str()), (Stage::Active, ERASED_REASON));
                prop_assert_eq!(o.until, now + Duration::days(10));
            }
        }
    }
}
