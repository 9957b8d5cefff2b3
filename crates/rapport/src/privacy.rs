//! Privacy use cases: the consent ledger (`grant`, `withdraw`, `request_consent` and
//! `confirm` for double opt-in, `consents`; `import_consents` in `import`), erasure (`erase`,
//! `erasure`) and the retention policy (`retention`). Each entry is written with the
//! customer's recomputed consent snapshot in one changeset, so a withdrawal is effective at once for
//! every segment and automation that reads the customer.

use chrono::{DateTime, Utc};
use rapport_core::ports::{ConsentStore, ErasureStore, MergeStore};
use rapport_core::privacy::{
    self, ConsentEntry, ConsentState, ErasureRecord, LegalBasis, RetentionPolicy, confirmation,
    plan_erasure, record,
};
use rapport_core::quality::merge_op::MergeRecord;
use rapport_core::*;

use crate::error::Error;
use crate::service::{Service, SweepProgress};

mod import;

pub use import::{ConsentImportReport, ConsentImportRow};

/// What a grant, withdrawal or consent request says besides its state.
///
/// ```
/// use rapport::ConsentRequest;
/// use rapport::core::{ContactChannel, Purpose, privacy::LegalBasis};
/// let r = ConsentRequest::new(Purpose::Marketing, ContactChannel::Email, "signup-form")
///     .basis(LegalBasis::Consent)
///     .evidence("form-submission-8812");
/// assert_eq!(r.source, "signup-form");
/// assert_eq!(r.evidence.as_deref(), Some("form-submission-8812"));
/// assert!(r.at.is_none()); // the service's clock unless set
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsentRequest {
    /// For what.
    pub purpose: Purpose,
    /// On which channel.
    pub channel: ContactChannel,
    /// The legal basis (default `Consent`).
    pub basis: LegalBasis,
    /// Where it came from.
    pub source: String,
    /// A reference to the proof.
    pub evidence: Option<String>,
    /// When the person gave it (default: the service's now), e.g. for imported consents.
    pub at: Option<DateTime<Utc>>,
}

impl ConsentRequest {
    /// A request under the `Consent` basis, without evidence, dated now.
    #[must_use]
    pub fn new(purpose: Purpose, channel: ContactChannel, source: impl Into<String>) -> Self {
        Self {
            purpose,
            channel,
            basis: LegalBasis::Consent,
            source: source.into(),
            evidence: None,
            at: None,
        }
    }

    /// Sets the legal basis.
    #[must_use]
    pub fn basis(mut self, basis: LegalBasis) -> Self {
        self.basis = basis;
        self
    }

    /// Sets the evidence reference.
    #[must_use]
    pub fn evidence(mut self, evidence: impl Into<String>) -> Self {
        self.evidence = Some(evidence.into());
        self
    }

    /// Dates the consent (when the person gave it, if not now).
    #[must_use]
    pub fn at(mut self, at: DateTime<Utc>) -> Self {
        self.at = Some(at);
        self
    }

    /// The ledger entry `id` of `customer` this request makes in `state`, recorded at `now`
    /// (and dated then unless [`Self::at`] says otherwise).
    pub(crate) fn entry(
        &self,
        id: ConsentEntryId,
        customer: CustomerId,
        state: ConsentState,
        now: DateTime<Utc>,
    ) -> Result<ConsentEntry, DomainError> {
        let mut e = ConsentEntry::new(
            id,
            customer,
            self.purpose,
            self.channel,
            state,
            self.source.clone(),
            self.at.unwrap_or(now),
        )?;
        e.basis = self.basis;
        e.evidence.clone_from(&self.evidence);
        e.recorded_at = now;
        e.validate()?;
        Ok(e)
    }
}

impl<S: ConsentStore, N: Notifier> Service<S, N> {
    /// Records a grant of (purpose, channel).
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::{ConsentRequest, Service};
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// let id = block_on(svc.register(t, Profile::default()))?.customer.id();
    /// block_on(svc.grant(t, id, ConsentRequest::new(Purpose::Marketing, ContactChannel::Email, "signup")))?;
    /// let c = block_on(svc.customer(t, id))?.customer;
    /// assert!(c.consents.allows(Purpose::Marketing, ContactChannel::Email));
    /// let marketable = block_on(svc.find(t, &Segment::parse(r#"consent("marketing", "email")"#)?))?;
    /// assert_eq!(marketable.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`DomainError::InvalidText`] for a bad source or evidence, [`Error::NotFound`],
    /// tombstones, store errors.
    pub async fn grant(
        &self,
        t: TenantId,
        id: CustomerId,
        request: ConsentRequest,
    ) -> Result<ConsentEntry, Error> {
        self.record_consent(t, id, request, ConsentState::Granted)
            .await
    }

    /// Records a withdrawal of (purpose, channel): effective at once.
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::{ConsentRequest, Service};
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// let id = block_on(svc.register(t, Profile::default()))?.customer.id();
    /// let r = ConsentRequest::new(Purpose::Marketing, ContactChannel::Sms, "store-form");
    /// block_on(svc.grant(t, id, r.clone()))?;
    /// block_on(svc.withdraw(t, id, ConsentRequest::new(Purpose::Marketing, ContactChannel::Sms, "reply-stop")))?;
    /// assert!(!block_on(svc.customer(t, id))?.customer.consents.allows(Purpose::Marketing, ContactChannel::Sms));
    /// assert_eq!(block_on(svc.consents(t, id))?.len(), 2); // the history stays
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Service::grant`].
    pub async fn withdraw(
        &self,
        t: TenantId,
        id: CustomerId,
        request: ConsentRequest,
    ) -> Result<ConsentEntry, Error> {
        self.record_consent(t, id, request, ConsentState::Withdrawn)
            .await
    }

    /// Records a consent request waiting for the person's confirmation (double opt-in):
    /// not granted until [`Service::confirm`].
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::{ConsentRequest, Service};
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// let id = block_on(svc.register(t, Profile::default()))?.customer.id();
    /// let (p, ch) = (Purpose::Marketing, ContactChannel::Email);
    /// block_on(svc.request_consent(t, id, ConsentRequest::new(p, ch, "newsletter-form")))?;
    /// assert!(!block_on(svc.customer(t, id))?.customer.consents.allows(p, ch));
    /// let confirmed = block_on(svc.confirm(t, id, p, ch, "confirm-link"))?;
    /// assert!(block_on(svc.customer(t, id))?.customer.consents.allows(p, ch));
    /// assert!(confirmed.evidence.is_some()); // points at the pending entry
    /// // Nothing pending any more.
    /// assert!(block_on(svc.confirm(t, id, p, ch, "confirm-link")).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Service::grant`].
    pub async fn request_consent(
        &self,
        t: TenantId,
        id: CustomerId,
        request: ConsentRequest,
    ) -> Result<ConsentEntry, Error> {
        self.record_consent(t, id, request, ConsentState::Pending)
            .await
    }

    /// Confirms the pending double opt-in of (purpose, channel).
    ///
    /// # Errors
    /// [`DomainError::NothingToConfirm`] when nothing is pending for it; as
    /// [`Service::grant`] otherwise.
    pub async fn confirm(
        &self,
        t: TenantId,
        id: CustomerId,
        purpose: Purpose,
        channel: ContactChannel,
        source: &str,
    ) -> Result<ConsentEntry, Error> {
        let entry_id = ConsentEntryId::from_uuid(self.id_source().next());
        self.write_consent(t, id, |_, history, now| {
            Ok(confirmation(
                history, entry_id, purpose, channel, source, None, now,
            )?)
        })
        .await
    }

    /// A customer's consent ledger, in ledger order (by time, then recording time). A merged
    /// id is followed to the customer holding its entries now (a merge moves the loser's
    /// entries to the survivor), as [`Service::grant`] and [`Service::withdraw`] do; an id
    /// that names no customer has no entries.
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::{ConsentRequest, MergeRequest, Service};
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// let ann = block_on(svc.register(t, Profile::default()))?.customer.id();
    /// let dup = block_on(svc.register(t, Profile::default()))?.customer.id();
    /// let r = ConsentRequest::new(Purpose::Marketing, ContactChannel::Email, "signup");
    /// block_on(svc.grant(t, dup, r))?;
    /// block_on(svc.merge(t, MergeRequest::new(ann, dup, Actor::new("li")?)))?;
    /// // The entry moved to `ann`; the merged id reads `ann`'s ledger.
    /// assert_eq!(block_on(svc.consents(t, dup))?, block_on(svc.consents(t, ann))?);
    /// assert_eq!(block_on(svc.consents(t, dup))?.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// Store errors.
    pub async fn consents(&self, t: TenantId, id: CustomerId) -> Result<Vec<ConsentEntry>, Error> {
        let holder = match self.customer(t, id).await {
            Ok(read) => read.customer.id(),
            // No such customer (or a merge chain ending nowhere): the store's answer.
            Err(Error::NotFound(_)) => id,
            Err(e) => return Err(e),
        };
        Ok(self.store().consents(t, holder).await?)
    }

    async fn record_consent(
        &self,
        t: TenantId,
        id: CustomerId,
        request: ConsentRequest,
        state: ConsentState,
    ) -> Result<ConsentEntry, Error> {
        let entry_id = ConsentEntryId::from_uuid(self.id_source().next());
        self.write_consent(t, id, |owner, _, now| {
            Ok(request.entry(entry_id, owner, state, now)?)
        })
        .await
    }

    /// Reads the customer and its ledger, makes the entry, writes it with the new snapshot;
    /// decides again on a version conflict. A merged id is followed to its survivor, whose
    /// ledger the entry joins (`make` gets the survivor's id).
    async fn write_consent(
        &self,
        t: TenantId,
        id: CustomerId,
        make: impl Fn(CustomerId, &[ConsentEntry], DateTime<Utc>) -> Result<ConsentEntry, Error>,
    ) -> Result<ConsentEntry, Error> {
        for _ in 0..self.attempts() {
            let read = self.customer(t, id).await?;
            let owner = read.customer.id();
            let history = self.store().consents(t, owner).await?;
            let now = self.now();
            let entry = make(owner, &history, now)?;
            let d = record(&read.customer, read.stats, &history, entry)?;
            match self.store().apply(t, &d.changeset).await {
                Ok(_) => return Ok(d.entry),
                Err(StoreError::Conflict { .. }) => crate::service::yield_to_executor().await,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Contention {
            customer: id,
            attempts: self.attempts(),
        })
    }
}

/// What a retention run found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RetentionReport {
    /// Live customers inactive longer than the policy allows.
    pub due: usize,
    /// How many of them were erased (0 on a dry run).
    pub erased: usize,
}

/// How many merge hops [`Service::erase`] follows from a merged id to the survivor.
const ERASE_HOPS: usize = 16;

impl<S: ConsentStore + ErasureStore + MergeStore, N: Notifier> Service<S, N> {
    /// Erases a customer's personal data: the profile, tags and consent snapshot go, the
    /// stage becomes `Erased` (final), activities keep kind, time, channel and amounts but lose
    /// free text, consent entries lose source and evidence, pending outbox messages for the
    /// customer are dropped, and an [`ErasureRecord`] (no personal data) is stored — all in
    /// one changeset. Idempotent: erasing again returns the stored record. A merged id is
    /// followed to the customer that holds its data now, and the erasure reaches every record
    /// merged into it: each `Merged` tombstone (along chains) becomes an empty `Erased`
    /// tombstone with its own erasure record, and every merge record naming the person keeps
    /// its ids, times and field outcomes but no profile or tags
    /// ([`ErasurePlan::with_merged`](rapport_core::privacy::ErasurePlan::with_merged)); such a
    /// merge can no longer be undone.
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// let profile = Profile { email: Some(Pii::new(Email::parse("ann@example.com")?)), ..Profile::default() };
    /// let id = block_on(svc.register(t, profile))?.customer.id();
    /// let r = block_on(svc.erase(t, id, "ticket-17", "gdpr-art17"))?;
    /// let c = block_on(svc.customer(t, id))?.customer;
    /// assert_eq!((c.stage(), c.profile.email.is_none()), (Stage::Erased, true));
    /// assert_eq!(block_on(svc.erase(t, id, "ticket-18", "again"))?, r); // idempotent
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`DomainError::InvalidText`] for a bad requester or reason, [`Error::NotFound`],
    /// [`DomainError::Tombstoned`] for a customer erased before erasure records existed,
    /// store errors — among them `StoreError::Unavailable` for an erasure that committed but
    /// is not done yet (SQLite could not truncate its WAL, or the key store could not delete
    /// an erased customer's data key): erasing again retries what it owes and returns the
    /// record once done.
    pub async fn erase(
        &self,
        t: TenantId,
        id: CustomerId,
        requester: &str,
        reason: &str,
    ) -> Result<ErasureRecord, Error> {
        let mut target = id;
        for _ in 0..self.attempts().saturating_add(ERASE_HOPS as u32) {
            // The record and its merges in one read (one round trip where the store can).
            let (read, merges) = self
                .store()
                .load_with_merges(t, target)
                .await?
                .ok_or(Error::NotFound(target))?;
            match read.customer.stage() {
                Stage::Merged { into } => {
                    target = into;
                    continue;
                }
                Stage::Erased => {
                    return match self.store().erasure(t, target).await? {
                        Some(r) => Ok(r),
                        None => Err(DomainError::Tombstoned {
                            customer: target,
                            state: "erased",
                        }
                        .into()),
                    };
                }
                _ => {}
            }
            let (tombstones, merges) = self.merged_into(t, target, merges).await?;
            let plan = plan_erasure(&read.customer, read.stats, requester, reason, self.now())?
                .with_merged(&tombstones, &merges)?;
            match self.store().apply(t, &plan.changeset).await {
                Ok(_) => return Ok(plan.record),
                Err(StoreError::Conflict { .. }) => crate::service::yield_to_executor().await,
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Contention {
            customer: id,
            attempts: self.attempts(),
        })
    }

    /// The `Merged` tombstones merged into `id`, directly or along a chain (merges in force
    /// only), and every merge record naming `id` or one of them: what an erasure of `id`
    /// reaches besides the customer itself. `of_id`: the merge records naming `id`, read
    /// already.
    async fn merged_into(
        &self,
        t: TenantId,
        id: CustomerId,
        of_id: Vec<MergeRecord>,
    ) -> Result<(Vec<Customer>, Vec<MergeRecord>), Error> {
        let mut tombstones: Vec<Customer> = Vec::new();
        let mut records: Vec<MergeRecord> = Vec::new();
        let mut queue = vec![(id, Some(of_id))];
        while let Some((c, read)) = queue.pop() {
            let of_c = match read {
                Some(rs) => rs,
                None => self.store().merges_of(t, c).await?,
            };
            for r in of_c {
                if records.iter().any(|x| x.id == r.id) {
                    continue;
                }
                let in_force = r.survivor == c && r.undone_at.is_none();
                if in_force && r.loser != id && tombstones.iter().all(|x| x.id() != r.loser) {
                    if let Some(tomb) = self.store().load(t, r.loser).await? {
                        if tomb.customer.stage() == (Stage::Merged { into: c }) {
                            queue.push((r.loser, None));
                            tombstones.push(tomb.customer);
                        }
                    }
                }
                records.push(r);
            }
        }
        Ok((tombstones, records))
    }

    /// Erases several customers, as [`Self::erase`] each, running up to 64 erasures at once so
    /// a store that commits concurrent changesets together (SQLite's and PostgreSQL's group
    /// commit) writes them in few transactions — and SQLite checkpoints its WAL (or deletes
    /// the erased customers' keys, with encryption) once per group, not once per customer.
    /// Returns one result per id, in the order given.
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// let a = block_on(svc.register(t, Profile::default()))?.customer.id();
    /// let b = block_on(svc.register(t, Profile::default()))?.customer.id();
    /// let out = block_on(svc.erase_many(t, &[a, b], "ticket-17", "gdpr-art17"));
    /// assert!(out.iter().all(Result::is_ok));
    /// assert_eq!(block_on(svc.customer(t, b))?.customer.stage(), Stage::Erased);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn erase_many(
        &self,
        t: TenantId,
        ids: &[CustomerId],
        requester: &str,
        reason: &str,
    ) -> Vec<Result<ErasureRecord, Error>> {
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(64) {
            let runs = chunk.iter().map(|id| self.erase(t, *id, requester, reason));
            out.extend(futures::future::join_all(runs).await);
        }
        out
    }

    /// The erasure record of a customer, if it was erased. With crypto-shredding, asking for
    /// an erased customer's record also finishes what its erasure owes (the SQL stores delete
    /// its data key and its merged tombstones' again, after a restart too).
    ///
    /// # Errors
    /// Store errors — among them `StoreError::Unavailable` while an erased customer's key
    /// cannot be deleted.
    pub async fn erasure(
        &self,
        t: TenantId,
        id: CustomerId,
    ) -> Result<Option<ErasureRecord>, Error> {
        Ok(self.store().erasure(t, id).await?)
    }

    /// Applies the retention policy at `now`: counts the live customers inactive for longer
    /// than it allows and, unless `dry_run`, erases them (requester `retention-policy`,
    /// reason `retention`).
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// use rapport::core::privacy::RetentionPolicy;
    /// block_on(svc.register(t, Profile::default()))?;
    /// let later = svc.now() + chrono::Duration::days(400);
    /// let policy = RetentionPolicy { inactive_days: 365 };
    /// let dry = block_on(svc.retention(t, policy, later, true))?;
    /// assert_eq!((dry.due, dry.erased), (1, 0));
    /// let done = block_on(svc.retention(t, policy, later, false))?;
    /// assert_eq!((done.due, done.erased), (1, 1));
    /// assert_eq!(block_on(svc.retention(t, policy, later, true))?.due, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// Store errors; the first failed erasure.
    pub async fn retention(
        &self,
        t: TenantId,
        policy: RetentionPolicy,
        now: DateTime<Utc>,
        dry_run: bool,
    ) -> Result<RetentionReport, Error> {
        let mut due = Vec::new();
        let mut page = Page::first(1_000);
        loop {
            let rows = self.store().scan(t, page).await?;
            let Some(last) = rows.last().map(|r| r.customer.id()) else {
                break;
            };
            due.extend(
                rows.iter()
                    .filter(|r| policy.is_due(&r.customer, &r.stats, now))
                    .map(|r| r.customer.id()),
            );
            if rows.len() < page.limit as usize {
                break;
            }
            page = Page {
                after: Some(last),
                limit: page.limit,
            };
        }
        let mut report = RetentionReport {
            due: due.len(),
            erased: 0,
        };
        if !dry_run {
            for r in self
                .erase_many(t, &due, "retention-policy", RetentionPolicy::REASON)
                .await
            {
                r?;
                report.erased += 1;
            }
        }
        Ok(report)
    }

    /// The sweep with the retention policy: first [`Service::retention`] at `now` (unless
    /// `dry_run`, the customers it finds due are erased), then [`Service::sweep`] at `now` in
    /// batches of `batch`, `progress` called after every batch. Retention goes first so the
    /// sweep neither evaluates nor ranks the customers it erases: its figures are those of
    /// the live book that remains. On a dry run nothing is erased, the count comes back in
    /// [`RetentionSweep::retention`], and the sweep evaluates everyone.
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::{ManualClock, Service};
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let t = TenantId::from_u128(1);
    /// use rapport::core::privacy::RetentionPolicy;
    /// let clock = ManualClock::at(chrono::DateTime::UNIX_EPOCH + chrono::Duration::days(20_000));
    /// let svc = Service::new(MemoryStore::new()).with_clock(clock.clone());
    /// let old = block_on(svc.register(t, Profile::default()))?.customer.id();
    /// clock.advance(chrono::Duration::days(300));
    /// block_on(svc.register(t, Profile::default()))?; // 300 days younger
    /// let later = svc.now() + chrono::Duration::days(100);
    /// let policy = RetentionPolicy { inactive_days: 365 };
    /// // The dry run counts first: nothing erased, both evaluated.
    /// let dry = block_on(svc.sweep_with_retention(t, later, 100, policy, true, |_| {}))?;
    /// assert_eq!((dry.retention.due, dry.retention.erased, dry.sweep.evaluated), (1, 0, 2));
    /// let done = block_on(svc.sweep_with_retention(t, later, 100, policy, false, |_| {}))?;
    /// assert_eq!((done.retention.due, done.retention.erased, done.sweep.evaluated), (1, 1, 1));
    /// assert_eq!(block_on(svc.customer(t, old))?.customer.stage(), Stage::Erased);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Service::retention`] (then the sweep does not run: run again, a customer already
    /// erased is not due any more) and [`Service::sweep`].
    pub async fn sweep_with_retention(
        &self,
        t: TenantId,
        now: DateTime<Utc>,
        batch: u32,
        policy: RetentionPolicy,
        dry_run: bool,
        progress: impl FnMut(SweepProgress),
    ) -> Result<RetentionSweep, Error> {
        let retention = self.retention(t, policy, now, dry_run).await?;
        let sweep = self.sweep(t, now, batch, progress).await?;
        Ok(RetentionSweep { retention, sweep })
    }
}

/// What [`Service::sweep_with_retention`] found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RetentionSweep {
    /// The retention run, first: the customers due and how many were erased.
    pub retention: RetentionReport,
    /// The sweep of the live customers left.
    pub sweep: SweepProgress,
}

impl<S, N> Service<S, N>
where
    S: ConsentStore + ErasureStore + MergeStore + AccountStore + CaseStore,
    N: Notifier,
{
    /// Everything held about one person as one document (versioned schema,
    /// `docs/export.schema.json`): the record, stats, every activity, the tier and stage
    /// history with reasons (recomputed from the activities under the service's policies),
    /// the consent ledger, the merges the person took part in (the other record by id only),
    /// the person's account links (ended ones included) and cases, and the erasure record if
    /// any. A merged id is followed to the customer holding the data.
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::Service;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// let id = block_on(svc.register(t, Profile::default()))?.customer.id();
    /// let doc = block_on(svc.export(t, id))?;
    /// assert_eq!((doc.schema_version, doc.customer.id()), (3, id));
    /// assert!(doc.accounts.is_empty() && doc.cases.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::NotFound`], store errors.
    pub async fn export(
        &self,
        t: TenantId,
        id: CustomerId,
    ) -> Result<rapport_core::privacy::ExportDocument, Error> {
        let mut read = self.customer(t, id).await?;
        for _ in 0..ERASE_HOPS {
            match read.customer.stage() {
                Stage::Merged { into } => read = self.customer(t, into).await?,
                _ => break,
            }
        }
        let cid = read.customer.id();
        let now = self.now();
        let activities = self.store().activities(t, cid, TimeRange::all()).await?;
        let consents = self.store().consents(t, cid).await?;
        let erasure = self.store().erasure(t, cid).await?;
        // The tombstones merged into this customer: their merges are the person's too.
        let merges = self.store().merges_of(t, cid).await?;
        let accounts = self.store().customer_links(t, cid).await?;
        let cases = self.cases_of(t, cid).await?;
        let history = privacy::decision_history(&read.customer, &activities, self.policies(), now)?;
        let mut doc = privacy::ExportDocument::new(
            read.customer,
            read.stats,
            activities,
            consents,
            erasure,
            now,
        );
        doc.history = history;
        doc.accounts = accounts;
        doc.cases = cases;
        doc.merges = merges
            .iter()
            .filter_map(|r| privacy::ExportedMerge::of(r, cid))
            .collect();
        Ok(doc)
    }

    /// Every case about `cid`, page after page, by id.
    async fn cases_of(&self, t: TenantId, cid: CustomerId) -> Result<Vec<Case>, Error> {
        const PAGE: u32 = 500;
        let mut out: Vec<Case> = Vec::new();
        loop {
            let mut q = CaseQuery::all(PAGE);
            q.customer = Some(cid);
            q.after = out.last().map(Case::id);
            let page = self.store().cases(t, q).await?;
            let full = page.len() >= PAGE as usize;
            out.extend(page);
            if !full {
                return Ok(out);
            }
        }
    }
}
