//! The consent ledger: every grant, withdrawal and pending double opt-in a customer gave, as
//! append-only entries. The current consent for a (purpose, channel) is a pure function of
//! the ledger ([`current`]): the latest entry by time, ties going to the later-recorded one.
//! The customer carries a snapshot ([`Consents`]) of that function, rewritten in the same
//! changeset as every entry, so segments and automation read it without the history.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::changeset::Changeset;
use crate::error::DomainError;
use crate::model::consent::{Consent, Consents, ContactChannel, Purpose};
use crate::model::customer::Customer;
use crate::model::id::{ConsentEntryId, CustomerId, check_key};
use crate::model::stats::Stats;

/// What an entry says about the (purpose, channel).
///
/// ```
/// use rapport_core::privacy::ConsentState;
/// assert!(ConsentState::Granted.is_granted());
/// assert!(!ConsentState::Pending.is_granted()); // double opt-in: not until confirmed
/// assert_eq!(ConsentState::Withdrawn.as_str(), "withdrawn");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ConsentState {
    /// Given.
    Granted,
    /// Taken back: effective at once.
    Withdrawn,
    /// Asked for, waiting for the customer's confirmation (double opt-in).
    Pending,
}

impl ConsentState {
    /// True only for [`ConsentState::Granted`].
    ///
    /// ```
    /// assert!(!rapport_core::privacy::ConsentState::Withdrawn.is_granted());
    /// ```
    #[must_use]
    pub const fn is_granted(self) -> bool {
        matches!(self, ConsentState::Granted)
    }

    /// The state's name.
    ///
    /// ```
    /// assert_eq!(rapport_core::privacy::ConsentState::Pending.as_str(), "pending");
    /// ```
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            ConsentState::Granted => "granted",
            ConsentState::Withdrawn => "withdrawn",
            ConsentState::Pending => "pending",
        }
    }
}

/// The legal basis of a processing (GDPR Art. 6(1), PIPL Art. 13).
///
/// ```
/// use rapport_core::privacy::LegalBasis;
/// assert_eq!(LegalBasis::default(), LegalBasis::Consent);
/// assert_eq!("contract".parse::<LegalBasis>().unwrap(), LegalBasis::Contract);
/// assert!("whim".parse::<LegalBasis>().is_err());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum LegalBasis {
    /// The person's consent.
    #[default]
    Consent,
    /// Necessary for a contract with the person.
    Contract,
    /// The controller's legitimate interest.
    LegitimateInterest,
    /// A legal obligation.
    LegalObligation,
}

impl LegalBasis {
    /// The basis's name.
    ///
    /// ```
    /// assert_eq!(rapport_core::privacy::LegalBasis::LegitimateInterest.as_str(), "legitimate_interest");
    /// ```
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            LegalBasis::Consent => "consent",
            LegalBasis::Contract => "contract",
            LegalBasis::LegitimateInterest => "legitimate_interest",
            LegalBasis::LegalObligation => "legal_obligation",
        }
    }
}

impl std::str::FromStr for LegalBasis {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            LegalBasis::Consent,
            LegalBasis::Contract,
            LegalBasis::LegitimateInterest,
            LegalBasis::LegalObligation,
        ]
        .into_iter()
        .find(|b| b.as_str() == s)
        .ok_or_else(|| DomainError::InvalidText {
            field: "legal_basis",
            value: s.to_owned(),
            reason: "it is not a legal basis (consent, contract, legitimate_interest, legal_obligation)",
        })
    }
}

/// The longest `source` or `evidence` text, in characters.
pub const MAX_REF_LEN: usize = 200;

/// The text an erased entry's `source` holds.
pub const ERASED_SOURCE: &str = "erased";

/// One ledger entry. `source` and `evidence` are references (a form name, a document id), not
/// personal data; erasure blanks them all the same.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use rapport_core::privacy::{ConsentEntry, ConsentState};
/// use rapport_core::{ConsentEntryId, ContactChannel, CustomerId, Purpose};
/// let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
/// let e = ConsentEntry::new(ConsentEntryId::from_u128(1), CustomerId::from_u128(2),
///     Purpose::Marketing, ContactChannel::Email, ConsentState::Granted, "signup-form", at)?;
/// assert_eq!((e.recorded_at, e.evidence.as_deref()), (at, None));
/// assert!(ConsentEntry::new(e.id, e.customer, e.purpose, e.channel, e.state, " ", at).is_err());
/// # Ok::<(), rapport_core::DomainError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentEntry {
    /// The entry's id.
    pub id: ConsentEntryId,
    /// Whose consent (rewritten when a merge moves the entry to the survivor).
    pub customer: CustomerId,
    /// For what.
    pub purpose: Purpose,
    /// On which channel.
    pub channel: ContactChannel,
    /// Granted, withdrawn or pending.
    pub state: ConsentState,
    /// The legal basis.
    pub basis: LegalBasis,
    /// Where it came from (`"signup-form"`, `"csv-import"`, `"unsubscribe-link"`).
    pub source: String,
    /// A reference to the proof (a stored form, a confirmation message id), if any.
    pub evidence: Option<String>,
    /// When the person gave or withdrew it.
    pub at: DateTime<Utc>,
    /// When rapport recorded it (breaks ties between entries of the same `at`).
    pub recorded_at: DateTime<Utc>,
}

impl ConsentEntry {
    /// An entry under the `Consent` basis, without evidence, recorded at `at`.
    ///
    /// # Errors
    /// [`DomainError::InvalidText`] for an empty or too long source.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: ConsentEntryId,
        customer: CustomerId,
        purpose: Purpose,
        channel: ContactChannel,
        state: ConsentState,
        source: impl Into<String>,
        at: DateTime<Utc>,
    ) -> Result<Self, DomainError> {
        let e = Self {
            id,
            customer,
            purpose,
            channel,
            state,
            basis: LegalBasis::Consent,
            source: source.into(),
            evidence: None,
            at,
            recorded_at: at,
        };
        e.validate()?;
        Ok(e)
    }

    /// Checks `source` and `evidence`: 1–[`MAX_REF_LEN`] characters, no control characters,
    /// no surrounding whitespace.
    ///
    /// ```
    /// use chrono::DateTime;
    /// use rapport_core::privacy::{ConsentEntry, ConsentState};
    /// use rapport_core::{ConsentEntryId, ContactChannel, CustomerId, Purpose};
    /// let mut e = ConsentEntry::new(ConsentEntryId::from_u128(1), CustomerId::from_u128(2),
    ///     Purpose::Analytics, ContactChannel::Any, ConsentState::Granted, "cookie-banner", DateTime::UNIX_EPOCH).unwrap();
    /// e.evidence = Some("\u{7}".into());
    /// assert!(e.validate().is_err());
    /// ```
    ///
    /// # Errors
    /// [`DomainError::InvalidText`] naming the field.
    pub fn validate(&self) -> Result<(), DomainError> {
        check_key("consent.source", &self.source, MAX_REF_LEN)?;
        if let Some(e) = &self.evidence {
            check_key("consent.evidence", e, MAX_REF_LEN)?;
        }
        Ok(())
    }

    /// The order of the ledger: by time, then by recording time, then by id.
    fn order_key(&self) -> (DateTime<Utc>, DateTime<Utc>, ConsentEntryId) {
        (self.at, self.recorded_at, self.id)
    }

    /// The entry with its free text blanked (erasure): purpose, channel, state, basis and
    /// times stay, as the anonymous record that a consent existed.
    ///
    /// ```
    /// use chrono::DateTime;
    /// use rapport_core::privacy::{ConsentEntry, ConsentState, ERASED_SOURCE};
    /// use rapport_core::{ConsentEntryId, ContactChannel, CustomerId, Purpose};
    /// let mut e = ConsentEntry::new(ConsentEntryId::from_u128(1), CustomerId::from_u128(2),
    ///     Purpose::Marketing, ContactChannel::Sms, ConsentState::Granted, "shop-7 paper form", DateTime::UNIX_EPOCH).unwrap();
    /// e.evidence = Some("scan-991".into());
    /// let s = e.stripped();
    /// assert_eq!((s.source.as_str(), s.evidence), (ERASED_SOURCE, None));
    /// assert_eq!(s.state, ConsentState::Granted);
    /// ```
    #[must_use]
    pub fn stripped(&self) -> Self {
        Self {
            source: ERASED_SOURCE.to_owned(),
            evidence: None,
            ..self.clone()
        }
    }
}

/// The current entry of every (purpose, channel) that has one: the latest by `at`, ties
/// going to the later `recorded_at` (then the larger id). Input order does not matter.
///
/// ```
/// use chrono::{Duration, TimeZone, Utc};
/// use rapport_core::privacy::{ConsentEntry, ConsentState, current};
/// use rapport_core::{ConsentEntryId, ContactChannel, CustomerId, Purpose};
/// let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
/// let e = |id, state, at| ConsentEntry::new(ConsentEntryId::from_u128(id), CustomerId::from_u128(9),
///     Purpose::Marketing, ContactChannel::Email, state, "form", at).unwrap();
/// // A withdrawal recorded first but dated later wins over a grant imported afterwards.
/// let ledger = [e(1, ConsentState::Withdrawn, t + Duration::days(1)), e(2, ConsentState::Granted, t)];
/// let now = current(&ledger);
/// assert_eq!(now[&(Purpose::Marketing, ContactChannel::Email)].state, ConsentState::Withdrawn);
/// ```
#[must_use]
pub fn current(entries: &[ConsentEntry]) -> BTreeMap<(Purpose, ContactChannel), &ConsentEntry> {
    let mut out: BTreeMap<(Purpose, ContactChannel), &ConsentEntry> = BTreeMap::new();
    for e in entries {
        out.entry((e.purpose, e.channel))
            .and_modify(|cur| {
                if e.order_key() > cur.order_key() {
                    *cur = e;
                }
            })
            .or_insert(e);
    }
    out
}

/// The customer's snapshot of the ledger: one record per (purpose, channel), granted only
/// when the current entry is `Granted` (a pending double opt-in is not).
///
/// ```
/// use chrono::DateTime;
/// use rapport_core::privacy::{ConsentEntry, ConsentState, snapshot};
/// use rapport_core::{ConsentEntryId, ContactChannel, CustomerId, Purpose};
/// let e = ConsentEntry::new(ConsentEntryId::from_u128(1), CustomerId::from_u128(9),
///     Purpose::Marketing, ContactChannel::Email, ConsentState::Pending, "form", DateTime::UNIX_EPOCH).unwrap();
/// let c = snapshot(&[e]);
/// assert!(!c.allows(Purpose::Marketing, ContactChannel::Email));
/// assert!(c.allows(Purpose::Transactional, ContactChannel::Email)); // the contract basis
/// ```
#[must_use]
pub fn snapshot(entries: &[ConsentEntry]) -> Consents {
    Consents::from_records(current(entries).into_values().map(|e| Consent {
        purpose: e.purpose,
        channel: e.channel,
        granted: e.state.is_granted(),
        at: e.at,
        source: e.source.clone(),
    }))
}

/// The effective state of (purpose, channel): the channel's own current entry, else the
/// `Any` channel's; with neither, `Granted` for [`Purpose::Transactional`] (the `Contract`
/// basis) and `None` (never asked, not granted) otherwise.
///
/// ```
/// use chrono::DateTime;
/// use rapport_core::privacy::{ConsentEntry, ConsentState, state_of};
/// use rapport_core::{ConsentEntryId, ContactChannel, CustomerId, Purpose};
/// let e = ConsentEntry::new(ConsentEntryId::from_u128(1), CustomerId::from_u128(9),
///     Purpose::Profiling, ContactChannel::Any, ConsentState::Granted, "settings", DateTime::UNIX_EPOCH).unwrap();
/// assert_eq!(state_of(&[e.clone()], Purpose::Profiling, ContactChannel::Push), Some(ConsentState::Granted));
/// assert_eq!(state_of(&[e], Purpose::Marketing, ContactChannel::Push), None);
/// assert_eq!(state_of(&[], Purpose::Transactional, ContactChannel::Email), Some(ConsentState::Granted));
/// ```
#[must_use]
pub fn state_of(
    entries: &[ConsentEntry],
    purpose: Purpose,
    channel: ContactChannel,
) -> Option<ConsentState> {
    let now = current(entries);
    now.get(&(purpose, channel))
        .or_else(|| now.get(&(purpose, ContactChannel::Any)))
        .map(|e| e.state)
        .or((purpose == Purpose::Transactional).then_some(ConsentState::Granted))
}

/// What recording one entry writes.
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct ConsentDecision {
    /// The customer update (new snapshot, next version) and the entry, to apply atomically.
    pub changeset: Changeset,
    /// The customer as it will be stored.
    pub customer: Customer,
    /// The entry recorded.
    pub entry: ConsentEntry,
}

/// Decides the recording of `entry` for `read` (loaded with `stats`), whose ledger so far
/// is `history`: the entry appended, the customer's snapshot recomputed from the whole
/// ledger, one version on.
///
/// ```
/// use chrono::DateTime;
/// use rapport_core::privacy::{ConsentEntry, ConsentState, record};
/// use rapport_core::*;
/// let (t, now) = (TenantId::from_u128(1), DateTime::UNIX_EPOCH);
/// let c = Customer::new(t, CustomerId::from_u128(2), Profile::default(), now);
/// let e = ConsentEntry::new(ConsentEntryId::from_u128(1), c.id(), Purpose::Marketing,
///     ContactChannel::Sms, ConsentState::Granted, "form", now)?;
/// let d = record(&c, Stats::default(), &[], e)?;
/// assert!(d.customer.consents.allows(Purpose::Marketing, ContactChannel::Sms));
/// assert_eq!((d.customer.version(), d.changeset.consents.len()), (2, 1));
/// # Ok::<(), DomainError>(())
/// ```
///
/// # Errors
/// [`DomainError::Tombstoned`] for a merged or erased customer; [`DomainError::InvalidChangeset`]
/// when the entry names another customer; the entry's own validation errors.
pub fn record(
    read: &Customer,
    stats: Stats,
    history: &[ConsentEntry],
    entry: ConsentEntry,
) -> Result<ConsentDecision, DomainError> {
    let mut d = record_all(read, stats, history, vec![entry])?;
    let entry = d
        .entries
        .pop()
        .ok_or_else(|| DomainError::InvalidChangeset {
            reason: "a recorded entry went missing".to_owned(),
        })?;
    Ok(ConsentDecision {
        changeset: d.changeset,
        customer: d.customer,
        entry,
    })
}

/// What recording several entries of one customer at once writes.
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct ConsentBatchDecision {
    /// One update of the customer (new snapshot, next version) and every entry, to apply
    /// atomically.
    pub changeset: Changeset,
    /// The customer as it will be stored.
    pub customer: Customer,
    /// The entries recorded, in the order given.
    pub entries: Vec<ConsentEntry>,
}

/// Decides the recording of `entries` for `read` (loaded with `stats`), whose ledger so far
/// is `history`: the entries appended, the customer's snapshot recomputed once from the whole
/// ledger, one version on — one customer write however many entries (an import).
///
/// ```
/// use chrono::{DateTime, Duration};
/// use rapport_core::privacy::{ConsentEntry, ConsentState, record_all};
/// use rapport_core::*;
/// let (t, now) = (TenantId::from_u128(1), DateTime::UNIX_EPOCH);
/// let c = Customer::new(t, CustomerId::from_u128(2), Profile::default(), now);
/// let e = |id, state, days| ConsentEntry::new(ConsentEntryId::from_u128(id), c.id(),
///     Purpose::Marketing, ContactChannel::Sms, state, "paper-form", now + Duration::days(days));
/// let d = record_all(&c, Stats::default(), &[],
///     vec![e(1, ConsentState::Granted, 0)?, e(2, ConsentState::Withdrawn, 1)?])?;
/// assert!(!d.customer.consents.allows(Purpose::Marketing, ContactChannel::Sms));
/// assert_eq!((d.customer.version(), d.changeset.customers.len(), d.changeset.consents.len()), (2, 1, 2));
/// # Ok::<(), DomainError>(())
/// ```
///
/// # Errors
/// As [`record`], for the first entry that breaks a rule.
pub fn record_all(
    read: &Customer,
    stats: Stats,
    history: &[ConsentEntry],
    entries: Vec<ConsentEntry>,
) -> Result<ConsentBatchDecision, DomainError> {
    read.ensure_live()?;
    for entry in &entries {
        entry.validate()?;
        if entry.customer != read.id() {
            return Err(DomainError::InvalidChangeset {
                reason: format!(
                    "consent entry {} names customer {}, not {}",
                    entry.id,
                    entry.customer,
                    read.id()
                ),
            });
        }
    }
    let mut all = Vec::with_capacity(history.len() + entries.len());
    all.extend_from_slice(history);
    all.extend_from_slice(&entries);
    let mut next = read.next_version();
    next.consents = snapshot(&all);
    let mut changeset = Changeset::new();
    changeset.update(read, next.clone(), stats);
    changeset.consents.extend_from_slice(&entries);
    Ok(ConsentBatchDecision {
        changeset,
        customer: next,
        entries,
    })
}

/// The entry that confirms the pending double opt-in of (purpose, channel): `Granted`, with
/// the pending entry's basis and, as evidence, `evidence` or the pending entry's id.
///
/// ```
/// use chrono::{Duration, DateTime};
/// use rapport_core::privacy::{ConsentEntry, ConsentState, confirmation};
/// use rapport_core::*;
/// let at = DateTime::UNIX_EPOCH;
/// let pending = ConsentEntry::new(ConsentEntryId::from_u128(1), CustomerId::from_u128(2),
///     Purpose::Marketing, ContactChannel::Email, ConsentState::Pending, "newsletter-form", at)?;
/// let later = at + Duration::hours(1);
/// let ok = confirmation(&[pending.clone()], ConsentEntryId::from_u128(2), Purpose::Marketing,
///     ContactChannel::Email, "confirm-link", None, later)?;
/// assert_eq!((ok.state, ok.evidence.as_deref()), (ConsentState::Granted, Some("00000000-0000-0000-0000-000000000001")));
/// assert!(confirmation(&[pending], ConsentEntryId::from_u128(2), Purpose::Marketing,
///     ContactChannel::Sms, "confirm-link", None, later).is_err());
/// # Ok::<(), DomainError>(())
/// ```
///
/// # Errors
/// [`DomainError::NothingToConfirm`] when the current entry is not `Pending`.
#[allow(clippy::too_many_arguments)]
pub fn confirmation(
    history: &[ConsentEntry],
    id: ConsentEntryId,
    purpose: Purpose,
    channel: ContactChannel,
    source: impl Into<String>,
    evidence: Option<String>,
    at: DateTime<Utc>,
) -> Result<ConsentEntry, DomainError> {
    let now = current(history);
    let Some(pending) = now
        .get(&(purpose, channel))
        .filter(|e| e.state == ConsentState::Pending)
    else {
        return Err(DomainError::NothingToConfirm { purpose, channel });
    };
    let mut e = ConsentEntry::new(
        id,
        pending.customer,
        purpose,
        channel,
        ConsentState::Granted,
        source,
        at.max(pending.at),
    )?;
    e.basis = pending.basis;
    e.evidence = Some(evidence.unwrap_or_else(|| pending.id.to_string()));
    e.recorded_at = at;
    e.validate()?;
    Ok(e)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use chrono::{Duration, TimeZone};
    use proptest::prelude::*;

    use super::*;

    const STATES: [ConsentState; 3] = [
        ConsentState::Granted,
        ConsentState::Withdrawn,
        ConsentState::Pending,
    ];

    /// Entries in recording order: (purpose, channel, state, day offset of `at`), drawn from
    /// every purpose and every channel; few days and up to 120 entries over the 36 pairs, so
    /// that ties and several entries per pair are common.
    fn ledger() -> impl Strategy<Value = Vec<ConsentEntry>> {
        let (purposes, channels) = (Purpose::ALL.len(), ContactChannel::ALL.len());
        let entry = (0..purposes, 0..channels, 0..STATES.len(), 0..4i64);
        prop::collection::vec(entry, 0..120).prop_map(|raw| {
            let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
            raw.into_iter()
                .enumerate()
                .map(|(i, (p, c, s, day))| {
                    let mut e = ConsentEntry::new(
                        // Ids not in recording order: the recording time must decide ties.
                        ConsentEntryId::from_u128(1_000 - i as u128),
                        CustomerId::from_u128(1),
                        Purpose::ALL[p],
                        ContactChannel::ALL[c],
                        STATES[s],
                        format!("src-{i}"),
                        t0 + Duration::days(day),
                    )
                    .unwrap();
                    e.recorded_at = t0 + Duration::days(10) + Duration::seconds(i as i64);
                    e
                })
                .collect()
        })
    }

    proptest! {
        /// The current state of every (purpose, channel) is the state of its last entry by
        /// time, the later-recorded one on a tie, whatever order the ledger is read in.
        #[test]
        fn prop_state_is_the_last_entry_per_purpose_and_channel(
            entries in ledger(),
            rotate in 0..120usize,
        ) {
            let mut shuffled = entries.clone();
            if !shuffled.is_empty() {
                let n = rotate % shuffled.len();
                shuffled.rotate_left(n);
                shuffled.reverse();
            }
            let now = current(&shuffled);
            let snap = snapshot(&shuffled);
            for p in Purpose::ALL {
                for c in ContactChannel::ALL {
                    // The model: scan in recording order, keep the last with the greatest `at`.
                    let mut last: Option<&ConsentEntry> = None;
                    for e in entries.iter().filter(|e| e.purpose == p && e.channel == c) {
                        if last.is_none_or(|l| e.at >= l.at) {
                            last = Some(e);
                        }
                    }
                    prop_assert_eq!(now.get(&(p, c)).map(|e| e.id), last.map(|e| e.id));
                    prop_assert_eq!(
                        snap.get(p, c).map(|r| r.granted),
                        last.map(|e| e.state == ConsentState::Granted)
                    );
                    let expected = last
                        .or_else(|| {
                            let mut any: Option<&ConsentEntry> = None;
                            for e in entries.iter().filter(|e| e.purpose == p && e.channel == ContactChannel::Any) {
                                if any.is_none_or(|l| e.at >= l.at) {
                                    any = Some(e);
                                }
                            }
                            any
                        })
                        .map(|e| e.state)
                        .or((p == Purpose::Transactional).then_some(ConsentState::Granted));
                    prop_assert_eq!(state_of(&shuffled, p, c), expected);
                    prop_assert_eq!(
                        snap.allows(p, c),
                        expected == Some(ConsentState::Granted)
                    );
                }
            }
        }
    }

    #[test]
    fn a_withdrawal_takes_effect_at_once_and_pending_is_not_granted() {
        let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let c = Customer::new(
            crate::TenantId::from_u128(1),
            CustomerId::from_u128(2),
            crate::Profile::default(),
            t,
        );
        let mk = |id, state| {
            ConsentEntry::new(
                ConsentEntryId::from_u128(id),
                c.id(),
                Purpose::Marketing,
                ContactChannel::Email,
                state,
                "form",
                t,
            )
            .unwrap()
        };
        let d1 = record(&c, Stats::default(), &[], mk(1, ConsentState::Pending)).unwrap();
        assert!(
            !d1.customer
                .consents
                .allows(Purpose::Marketing, ContactChannel::Email)
        );
        let h1 = vec![d1.entry.clone()];
        let confirm = confirmation(
            &h1,
            ConsentEntryId::from_u128(2),
            Purpose::Marketing,
            ContactChannel::Email,
            "link",
            None,
            t,
        )
        .unwrap();
        let d2 = record(&d1.customer, Stats::default(), &h1, confirm).unwrap();
        assert!(
            d2.customer
                .consents
                .allows(Purpose::Marketing, ContactChannel::Email)
        );
        // Same instant: the later-recorded withdrawal wins.
        let mut h2 = h1.clone();
        h2.push(d2.entry.clone());
        let mut w = mk(3, ConsentState::Withdrawn);
        w.recorded_at = t + Duration::seconds(1);
        let d3 = record(&d2.customer, Stats::default(), &h2, w).unwrap();
        assert!(
            !d3.customer
                .consents
                .allows(Purpose::Marketing, ContactChannel::Email)
        );
        assert_eq!(d3.customer.version(), 4);
        // Another customer's entry is refused.
        let mut other = mk(4, ConsentState::Granted);
        other.customer = CustomerId::from_u128(99);
        assert!(record(&d3.customer, Stats::default(), &[], other).is_err());
    }

    #[test]
    fn the_consent_predicate_parses_prints_and_reads_the_snapshot() {
        use crate::decide::segment::{Segment, SegmentContext};
        let s =
            Segment::parse(r#"consent("marketing", "email") and not consent("profiling", "any")"#)
                .unwrap();
        assert_eq!(Segment::parse(&s.to_string()).unwrap(), s);
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<Segment>(&json).unwrap(), s);
        let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let mut c = Customer::new(
            crate::TenantId::from_u128(1),
            CustomerId::from_u128(2),
            crate::Profile::default(),
            t,
        );
        let stats = Stats::default();
        let ctx = |c: &Customer| s.matches(&SegmentContext::new(c, &stats, t));
        assert!(!ctx(&c));
        c.consents
            .set(Purpose::Marketing, ContactChannel::Email, true, t, "form");
        assert!(ctx(&c));
        c.consents
            .set(Purpose::Profiling, ContactChannel::Any, true, t, "form");
        assert!(!ctx(&c));
        for bad in [
            r#"consent("spam", "email")"#,
            r#"consent("marketing")"#,
            r#"consent("marketing", "fax")"#,
            "consent(marketing, email)",
        ] {
            assert!(Segment::parse(bad).is_err(), "{bad}");
        }
    }
}
