//! Merge, unmerge and their preview through the service (issue #15): load both customers and
//! their activities, let the core decide ([`plan_merge`], [`plan_unmerge`]), apply the one
//! changeset. No retry on a version conflict: a merge is asked for customers as a person saw
//! them, so a concurrent change (or the other direction of the same merge) is reported as
//! [`StoreError::Conflict`] and decided again by the person.

use rapport_core::ports::MergeStore;
use rapport_core::*;

use super::Service;
use crate::error::Error;

/// What to merge: `loser` into `survivor`, by whom, with which survivorship rule, optionally
/// at the versions the caller saw (a merge of customers changed since is refused).
///
/// ```
/// use rapport::MergeRequest;
/// use rapport::core::*;
/// let req = MergeRequest::new(CustomerId::from_u128(1), CustomerId::from_u128(2), Actor::new("alice")?)
///     .at_versions(3, 1);
/// assert_eq!((req.survivor_version, req.loser_version), (Some(3), Some(1)));
/// # Ok::<(), DomainError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MergeRequest {
    /// The record kept.
    pub survivor: CustomerId,
    /// The record tombstoned.
    pub loser: CustomerId,
    /// Who asks (recorded in the merge record).
    pub actor: Actor,
    /// How conflicting field values are resolved.
    pub policy: SurvivorshipPolicy,
    /// The survivor's version the caller saw, if it wants it checked.
    pub survivor_version: Option<u64>,
    /// The loser's version the caller saw, if it wants it checked.
    pub loser_version: Option<u64>,
}

impl MergeRequest {
    /// A merge with the default survivorship (most recent non-empty value) and no versions.
    ///
    /// ```
    /// use rapport::MergeRequest;
    /// use rapport::core::*;
    /// let req = MergeRequest::new(CustomerId::from_u128(1), CustomerId::from_u128(2), Actor::new("cli")?);
    /// assert_eq!(req.policy, SurvivorshipPolicy::default());
    /// # Ok::<(), DomainError>(())
    /// ```
    #[must_use]
    pub fn new(survivor: CustomerId, loser: CustomerId, actor: Actor) -> Self {
        Self {
            survivor,
            loser,
            actor,
            policy: SurvivorshipPolicy::default(),
            survivor_version: None,
            loser_version: None,
        }
    }

    /// The same request with a survivorship policy.
    ///
    /// ```
    /// use rapport::MergeRequest;
    /// use rapport::core::*;
    /// let req = MergeRequest::new(CustomerId::from_u128(1), CustomerId::from_u128(2), Actor::new("cli")?)
    ///     .with_policy(SurvivorshipPolicy::default());
    /// assert_eq!(req.policy.rule, Survivorship::MostRecent);
    /// # Ok::<(), DomainError>(())
    /// ```
    #[must_use]
    pub fn with_policy(mut self, policy: SurvivorshipPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The same request, checked against the versions the caller saw.
    ///
    /// ```
    /// use rapport::MergeRequest;
    /// use rapport::core::*;
    /// let req = MergeRequest::new(CustomerId::from_u128(1), CustomerId::from_u128(2), Actor::new("cli")?).at_versions(1, 1);
    /// assert_eq!(req.loser_version, Some(1));
    /// # Ok::<(), DomainError>(())
    /// ```
    #[must_use]
    pub fn at_versions(mut self, survivor: u64, loser: u64) -> Self {
        self.survivor_version = Some(survivor);
        self.loser_version = Some(loser);
        self
    }
}

/// A merge or unmerge as written.
///
/// ```
/// fn id(m: &rapport::Merged) -> rapport::core::MergeId { m.record.id }
/// # let _ = id;
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Merged {
    /// The merge record (after an unmerge: with `undone_at` set).
    pub record: MergeRecord,
    /// The survivor as written.
    pub survivor: Customer,
    /// Its stats.
    pub stats: Stats,
    /// Its re-evaluation, with reasons.
    pub evaluation: Evaluation,
}

/// How [`Service::duplicates`] scans a book (and [`Service::auto_merge`] acts on it).
///
/// ```
/// let o = rapport::DuplicateOptions::default();
/// assert_eq!(o.batch, 1_000);
/// assert!(o.policy.validate().is_ok());
/// assert_eq!(o.auto_merge, None); // off unless the host opts in
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DuplicateOptions {
    /// Blocking keys, weights and the minimum score.
    pub policy: DedupePolicy,
    /// Customers read per store call.
    pub batch: u32,
    /// The auto-merge policy: `Some(threshold)` lets [`Service::auto_merge`] merge every
    /// pair scoring at least `threshold` (0–1). `None` (the default): nothing is merged.
    pub auto_merge: Option<f64>,
    /// How merged fields are decided by [`Service::auto_merge`].
    pub survivorship: SurvivorshipPolicy,
}

impl Default for DuplicateOptions {
    fn default() -> Self {
        Self {
            policy: DedupePolicy::default(),
            batch: 1_000,
            auto_merge: None,
            survivorship: SurvivorshipPolicy::default(),
        }
    }
}

impl DuplicateOptions {
    /// The same options with auto-merge on at `threshold`.
    ///
    /// ```
    /// let o = rapport::DuplicateOptions::default().with_auto_merge(0.95);
    /// assert_eq!(o.auto_merge, Some(0.95));
    /// ```
    #[must_use]
    pub fn with_auto_merge(mut self, threshold: f64) -> Self {
        self.auto_merge = Some(threshold);
        self
    }
}

/// What [`Service::auto_merge`] did: the merges written (actor `auto-merge`) and the
/// candidate pairs above the threshold it left alone, with why.
///
/// ```
/// let r = rapport::AutoMerged::default();
/// assert!(r.merged.is_empty() && r.skipped.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct AutoMerged {
    /// The pairs merged, each with its merge (undo one with [`Service::unmerge`]).
    pub merged: Vec<(DuplicateCandidate, Merged)>,
    /// Pairs above the threshold not merged, with the reason (a customer already merged in
    /// this run — a later run takes the pair up again —, a conflict, a refused merge).
    pub skipped: Vec<(DuplicateCandidate, String)>,
}

/// The actor recorded on merges the auto-merge policy makes.
pub const AUTO_MERGE_ACTOR: &str = "auto-merge";

impl<S: MergeStore, N> Service<S, N> {
    /// Scored duplicate candidates of the whole book, best first, with their evidence: the
    /// live customers read in batches of `options.batch`, grouped by blocking keys (email,
    /// phone, name + birth date) so the work grows with the book, not its square; pairs marked
    /// "not a duplicate" ([`Service::mark_distinct`]) are left out while neither customer
    /// changed a contact key. Nothing is merged.
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::{DuplicateOptions, Service};
    /// # use rapport::core::*;
    /// let svc = Service::new(rapport_memory::MemoryStore::new());
    /// let t = TenantId::from_u128(1);
    /// let person = |name: &str, phone: &str| Profile {
    ///     display_name: Some(Pii::new(name.into())),
    ///     phone: Some(Pii::new(Phone::from_e164(phone).unwrap())),
    ///     birth_date: Some(Pii::new(chrono::NaiveDate::from_ymd_opt(1990, 5, 1).unwrap())),
    ///     ..Profile::default()
    /// };
    /// let a = block_on(svc.register(t, person("Wang Fang", "+8613800138000")))?.customer.id();
    /// let b = block_on(svc.register(t, person("Wang  Fang", "+8613800138001")))?.customer.id();
    /// let pairs = block_on(svc.duplicates(t, &DuplicateOptions::default()))?;
    /// assert_eq!(pairs.len(), 1);
    /// assert_eq!((pairs[0].first, pairs[0].second), (a.min(b), a.max(b)));
    /// block_on(svc.mark_distinct(t, a, b))?;
    /// assert!(block_on(svc.duplicates(t, &DuplicateOptions::default()))?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`DomainError::InvalidPolicy`]; store errors.
    #[tracing::instrument(name = "rapport.duplicates", level = "debug", skip_all, fields(tenant = %t))]
    pub async fn duplicates(
        &self,
        t: TenantId,
        options: &DuplicateOptions,
    ) -> Result<Vec<DuplicateCandidate>, Error> {
        options.policy.validate()?;
        let mut live: Vec<Customer> = Vec::new();
        let mut page = Page::first(options.batch.max(1));
        loop {
            let rows = self.store.scan(t, page).await?;
            let Some(last) = rows.last() else { break };
            page.after = Some(last.customer.id());
            live.extend(
                rows.into_iter()
                    .map(|r| r.customer)
                    .filter(Customer::is_live),
            );
        }
        let distinct = self.store.distinct_pairs(t).await?;
        let mut pairs = duplicate_candidates(&live, &options.policy);
        if !distinct.is_empty() {
            let by_id: std::collections::HashMap<CustomerId, &Customer> =
                live.iter().map(|c| (c.id(), c)).collect();
            let marked: std::collections::HashMap<(CustomerId, CustomerId), &DistinctPair> =
                distinct.iter().map(|d| ((d.first, d.second), d)).collect();
            pairs.retain(|p| {
                let key = (p.first.min(p.second), p.first.max(p.second));
                match (marked.get(&key), by_id.get(&p.first), by_id.get(&p.second)) {
                    (Some(d), Some(a), Some(b)) => !d.holds_for(a, b),
                    _ => true,
                }
            });
        }
        tracing::debug!(customers = live.len(), pairs = pairs.len(), "duplicates");
        Ok(pairs)
    }

    /// The auto-merge policy, when the host opted in (`options.auto_merge = Some(threshold)`):
    /// scans the book as [`Service::duplicates`] does and merges every pair scoring at least
    /// the threshold, best first, the earlier-registered customer surviving (actor
    /// [`AUTO_MERGE_ACTOR`]); each merge is its own atomic changeset with a merge record, so
    /// [`Service::unmerge`] takes any back. A customer merged in this run is not touched
    /// again in it (its other pairs are reported as skipped). With `auto_merge: None` nothing
    /// is written and the report is empty.
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::{DuplicateOptions, Service};
    /// # use rapport::core::*;
    /// let svc = Service::new(rapport_memory::MemoryStore::new());
    /// let t = TenantId::from_u128(1);
    /// let person = |name: &str, phone: &str| Profile {
    ///     display_name: Some(Pii::new(name.into())),
    ///     phone: Some(Pii::new(Phone::from_e164(phone).unwrap())),
    ///     birth_date: Some(Pii::new(chrono::NaiveDate::from_ymd_opt(1990, 5, 1).unwrap())),
    ///     ..Profile::default()
    /// };
    /// let a = block_on(svc.register(t, person("Wang Fang", "+8613800138000")))?.customer.id();
    /// let b = block_on(svc.register(t, person("Wang  Fang", "+8613800138001")))?.customer.id();
    /// // Off by default.
    /// assert!(block_on(svc.auto_merge(t, &DuplicateOptions::default()))?.merged.is_empty());
    /// let done = block_on(svc.auto_merge(t, &DuplicateOptions::default().with_auto_merge(0.8)))?;
    /// assert_eq!(done.merged.len(), 1);
    /// assert_eq!(done.merged[0].1.record.actor.as_str(), "auto-merge");
    /// assert_eq!(block_on(svc.customer(t, b))?.customer.id(), a); // the earlier one survives
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`DomainError::InvalidPolicy`] (also for a threshold outside 0–1); store errors of the
    /// scan. A failed merge is reported in `skipped`, not returned.
    #[tracing::instrument(name = "rapport.auto_merge", level = "debug", skip_all, fields(tenant = %t))]
    pub async fn auto_merge(
        &self,
        t: TenantId,
        options: &DuplicateOptions,
    ) -> Result<AutoMerged, Error> {
        let Some(threshold) = options.auto_merge else {
            return Ok(AutoMerged::default());
        };
        if !(0.0..=1.0).contains(&threshold) {
            return Err(Error::Domain(DomainError::InvalidPolicy {
                field: "auto_merge",
                value: threshold.to_string(),
                reason: "the threshold must be within 0 and 1",
            }));
        }
        options.survivorship.validate()?;
        let pairs = self.duplicates(t, options).await?;
        let actor = Actor::new(AUTO_MERGE_ACTOR)?;
        let mut report = AutoMerged::default();
        let mut touched = std::collections::HashSet::new();
        for p in pairs.into_iter().filter(|p| p.score >= threshold) {
            if touched.contains(&p.first) || touched.contains(&p.second) {
                report.skipped.push((
                    p,
                    "a customer of the pair was merged in this run".to_owned(),
                ));
                continue;
            }
            let (a, b) = (
                self.load_plain(t, p.first).await?,
                self.load_plain(t, p.second).await?,
            );
            let older =
                |x: &Customer, y: &Customer| (x.created_at(), x.id()) <= (y.created_at(), y.id());
            let (survivor, loser) = if older(&a.customer, &b.customer) {
                (&a.customer, &b.customer)
            } else {
                (&b.customer, &a.customer)
            };
            let req = MergeRequest::new(survivor.id(), loser.id(), actor.clone())
                .with_policy(options.survivorship.clone())
                .at_versions(survivor.version(), loser.version());
            match self.merge(t, req).await {
                Ok(m) => {
                    touched.insert(p.first);
                    touched.insert(p.second);
                    report.merged.push((p, m));
                }
                Err(e) => report.skipped.push((p, e.to_string())),
            }
        }
        tracing::info!(
            merged = report.merged.len(),
            skipped = report.skipped.len(),
            "auto-merged"
        );
        Ok(report)
    }

    /// Marks `a` and `b` "not a duplicate": [`Service::duplicates`] stops proposing the pair
    /// until either changes a contact key.
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`DomainError::InvalidMerge`] for the same customer twice; store
    /// errors.
    pub async fn mark_distinct(
        &self,
        t: TenantId,
        a: CustomerId,
        b: CustomerId,
    ) -> Result<DistinctPair, Error> {
        if a == b {
            return Err(Error::Domain(DomainError::InvalidMerge {
                survivor: a,
                loser: b,
                reason: "it is the same customer",
            }));
        }
        let ra = self.load_plain(t, a).await?;
        let rb = self.load_plain(t, b).await?;
        let pair = DistinctPair::new(&ra.customer, &rb.customer);
        let mut cs = Changeset::new();
        cs.distinct.push(pair);
        self.store.apply(t, &cs).await?;
        Ok(pair)
    }

    async fn load_plain(&self, t: TenantId, id: CustomerId) -> Result<Record, Error> {
        self.store.load(t, id).await?.ok_or(Error::NotFound(id))
    }

    /// The field-by-field outcome of merging `loser` into `survivor`, with the source of each
    /// value: nothing is written (a dry run).
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::Service;
    /// # use rapport::core::*;
    /// let svc = Service::new(rapport_memory::MemoryStore::new());
    /// let t = TenantId::from_u128(1);
    /// let name = |n: &str| Profile { display_name: Some(Pii::new(n.into())), ..Profile::default() };
    /// let a = block_on(svc.register(t, name("Ann Lee")))?.customer;
    /// let b = block_on(svc.register(t, Profile::default()))?.customer;
    /// let p = block_on(svc.preview_merge(t, a.id(), b.id(), &SurvivorshipPolicy::default()))?;
    /// assert_eq!(p.outcome(&MergeField::DisplayName).unwrap().source, ValueSource::Survivor);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::NotFound`], [`DomainError::InvalidMerge`], [`DomainError::Tombstoned`], store
    /// errors.
    pub async fn preview_merge(
        &self,
        t: TenantId,
        survivor: CustomerId,
        loser: CustomerId,
        policy: &SurvivorshipPolicy,
    ) -> Result<MergePreview, Error> {
        policy.validate()?;
        let s = self.load_plain(t, survivor).await?;
        let l = self.load_plain(t, loser).await?;
        Ok(MergePlan::preview(&s.customer, &l.customer, policy)?)
    }

    /// Merges `req.loser` into `req.survivor` in one atomic changeset: survivorship per field,
    /// the loser's activities moved (ids and idempotency keys kept), its consent ledger
    /// entries and cases moved, its account links folded into the survivor's (roles unioned), stats folded again from
    /// the union, tier, stage and rule tags re-evaluated, the loser a `Merged { into }`
    /// tombstone (reads through it resolve to the survivor), and a merge record that
    /// [`Service::unmerge`] takes back.
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::{MergeRequest, NewActivity, Service};
    /// # use rapport::core::*;
    /// let svc = Service::new(rapport_memory::MemoryStore::new());
    /// let t = TenantId::from_u128(1);
    /// let a = block_on(svc.register(t, Profile::default()))?.customer.id();
    /// let b = block_on(svc.register(t, Profile::default()))?.customer.id();
    /// let usd = Money::new(rust_decimal::Decimal::from(40), Currency::USD);
    /// block_on(svc.record(t, NewActivity::purchase(b, "SO-1", usd, svc.now())?))?;
    /// let m = block_on(svc.merge(t, MergeRequest::new(a, b, Actor::new("alice")?)))?;
    /// assert_eq!(m.stats.orders(), 1);
    /// assert_eq!(block_on(svc.customer(t, b))?.customer.id(), a); // reads resolve
    /// // Merging the other way now is refused: b is a tombstone.
    /// assert!(block_on(svc.merge(t, MergeRequest::new(b, a, Actor::new("bob")?))).is_err());
    /// let back = block_on(svc.unmerge(t, m.record.id))?;
    /// assert_eq!(back.stats.orders(), 0);
    /// assert_eq!(block_on(svc.customer(t, b))?.stats.orders(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::NotFound`]; [`DomainError::InvalidMerge`] / [`DomainError::Tombstoned`] (a
    /// tombstone never merges and nothing merges into one, so no cycle can form);
    /// [`StoreError::Conflict`] (as [`Error::Store`]) when either customer moved from the
    /// version asked for or changed while the merge was decided; [`StoreError::ContactTaken`];
    /// other store errors.
    #[tracing::instrument(name = "rapport.merge", level = "debug", skip_all, fields(tenant = %t, survivor = %req.survivor, loser = %req.loser))]
    pub async fn merge(&self, t: TenantId, req: MergeRequest) -> Result<Merged, Error> {
        // Everything the decision needs in one store call (one reader job on SQLite).
        let Some((mut s, mut l)) = self.store.merge_inputs(t, req.survivor, req.loser).await?
        else {
            // Name the missing one.
            self.load_plain(t, req.survivor).await?;
            return Err(Error::NotFound(req.loser));
        };
        for (want, r) in [
            (req.survivor_version, &s.record),
            (req.loser_version, &l.record),
        ] {
            if let Some(expected) = want.filter(|v| *v != r.customer.version()) {
                return Err(Error::Store(StoreError::Conflict {
                    customer: r.customer.id(),
                    expected,
                    actual: r.customer.version(),
                }));
            }
        }
        if !self.policies.stats.category_spend.is_empty() {
            // The survivor's stats are folded again from both histories: with the line lists,
            // per-category spend comes along.
            s.belongings.lines = self.store.purchase_lines(t, req.survivor).await?;
            l.belongings.lines = self.store.purchase_lines(t, req.loser).await?;
        }
        let now = self.clock.now();
        let ctx = MergeContext {
            id: MergeId::from_uuid(self.ids.next()),
            actor: req.actor.clone(),
            now,
        };
        let mut ids = || self.ids.message_id();
        let planned = plan_merge(
            &s.record.customer,
            &s.activities,
            &l.record.customer,
            &l.record.stats,
            &l.activities,
            &s.belongings,
            &l.belongings,
            &req.policy,
            &self.policies,
            &ctx,
            &mut ids,
        )?;
        self.store.apply(t, &planned.changeset).await?;
        tracing::debug!(merge = %planned.record.id, moved = planned.record.moved.len(), "merged");
        Ok(Merged {
            record: planned.record,
            survivor: planned.survivor,
            stats: planned.stats,
            evaluation: planned.evaluation,
        })
    }

    /// Undoes merge `id`: the loser comes back as it was, the activities, consent entries,
    /// cases and account links that came from it move back, both customers' stats are folded again (see [`plan_unmerge`] for what the
    /// survivor keeps). Refused once the loser was erased.
    ///
    /// # Errors
    /// [`Error::MergeNotFound`]; [`DomainError::CannotUnmerge`] (undone already, loser erased,
    /// survivor merged since); [`StoreError::Conflict`] when a customer changed meanwhile;
    /// other store errors.
    #[tracing::instrument(name = "rapport.unmerge", level = "debug", skip_all, fields(tenant = %t, merge = %id))]
    pub async fn unmerge(&self, t: TenantId, id: MergeId) -> Result<Merged, Error> {
        let record = self
            .store
            .merge_record(t, id)
            .await?
            .ok_or(Error::MergeNotFound(id))?;
        let s = self.load_plain(t, record.survivor).await?;
        let l = self.load_plain(t, record.loser).await?;
        let sa = self
            .store
            .activities(t, record.survivor, TimeRange::all())
            .await?;
        let mut sb = self.store.belongings(t, record.survivor).await?;
        if !self.policies.stats.category_spend.is_empty() {
            sb.lines = self.store.purchase_lines(t, record.survivor).await?;
        }
        let mut ids = || self.ids.message_id();
        let planned = plan_unmerge(
            &record,
            &s.customer,
            &sa,
            &sb,
            &l.customer,
            &self.policies,
            self.clock.now(),
            &mut ids,
        )?;
        self.store.apply(t, &planned.changeset).await?;
        Ok(Merged {
            record: planned.record,
            survivor: planned.survivor,
            stats: planned.stats,
            evaluation: planned.evaluation,
        })
    }

    /// The merge record `id`, if the store has it.
    ///
    /// # Errors
    /// Store errors.
    pub async fn merge_record(
        &self,
        t: TenantId,
        id: MergeId,
    ) -> Result<Option<MergeRecord>, Error> {
        Ok(self.store.merge_record(t, id).await?)
    }
}
