//! Case use cases: open (directly or from a complaint), move along the status machine,
//! assign, resolve with a CSAT, reopen; list cases and find SLA breaches at `now`; cases as
//! churn-risk signals and the case figures of the review. Every change is a changeset with
//! the case's optimistic version, decided again on a conflict.

use chrono::{DateTime, Utc};
use rapport_core::*;

use crate::activity::NewActivity;
use crate::error::Error;
use crate::service::Service;

/// The page size the service reads cases with.
const CASE_PAGE: u32 = 1_000;

/// What a case is opened with (see [`Service::open_case`]).
///
/// ```
/// use rapport::OpenCase;
/// use rapport::core::*;
/// let o = OpenCase::new(CustomerId::from_u128(1), CaseCategory::new("billing")?, CaseSeverity::High, Channel::Email);
/// assert!(o.assignee.is_none() && o.source.is_none());
/// # Ok::<(), DomainError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OpenCase {
    /// The customer.
    pub customer: CustomerId,
    /// Category.
    pub category: CaseCategory,
    /// Severity.
    pub severity: CaseSeverity,
    /// Where it came in.
    pub channel: Channel,
    /// Who works on it.
    pub assignee: Option<Assignee>,
    /// The complaint activity it comes from.
    pub source: Option<ActivityId>,
}

impl OpenCase {
    /// A case with no assignee and no source activity.
    #[must_use]
    pub fn new(
        customer: CustomerId,
        category: CaseCategory,
        severity: CaseSeverity,
        channel: Channel,
    ) -> Self {
        Self {
            customer,
            category,
            severity,
            channel,
            assignee: None,
            source: None,
        }
    }
}

/// A change to a case (see [`Service::update_case`]).
///
/// ```
/// use rapport::CaseChange;
/// use rapport::core::*;
/// let c = CaseChange::Move(CaseStatus::InProgress);
/// assert_ne!(c, CaseChange::Reopen);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CaseChange {
    /// Move along the machine (to `Resolved` without a CSAT: use `Resolve` for one).
    Move(CaseStatus),
    /// Resolve, with the customer's satisfaction when given.
    Resolve(Option<Csat>),
    /// Reopen a resolved case within the policy's window.
    Reopen,
    /// Set or clear the assignee.
    Assign(Option<Assignee>),
}

/// A complaint recorded with [`Service::record_complaint`], and its case.
#[derive(Debug, Clone, PartialEq)]
pub struct ComplaintRecorded {
    /// The activity was already recorded (same idempotency key).
    pub duplicate: bool,
    /// The complaint's activity id.
    pub activity: ActivityId,
    /// Its case (`None` when the policy does not open cases from complaints).
    pub case: Option<Case>,
}

impl<S: CaseStore, N: Notifier> Service<S, N> {
    /// Opens a case for a live customer, at the service clock's `now`.
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::{Service, OpenCase};
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// let ann = block_on(svc.register(t, Profile::default()))?.customer.id();
    /// let case = block_on(svc.open_case(t, OpenCase::new(ann, CaseCategory::new("delivery")?, CaseSeverity::High, Channel::Phone)))?;
    /// assert_eq!((case.status(), case.version()), (CaseStatus::Open, 1));
    /// assert_eq!(block_on(svc.case(t, case.id()))?, case);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::NotFound`] for an unknown customer; tombstones; store errors.
    pub async fn open_case(&self, t: TenantId, open: OpenCase) -> Result<Case, Error> {
        let id = CaseId::from_uuid(self.next_id());
        self.open_case_as(t, id, open).await
    }

    async fn open_case_as(&self, t: TenantId, id: CaseId, open: OpenCase) -> Result<Case, Error> {
        let r = self.customer(t, open.customer).await?;
        r.customer.ensure_live()?;
        let mut new = NewCase::new(
            id,
            t,
            r.customer.id(),
            open.category,
            open.severity,
            open.channel,
            self.now(),
        );
        new.assignee = open.assignee;
        new.source = open.source;
        let case = Case::open(new);
        let mut cs = Changeset::new();
        cs.cases.push(CaseWrite::Create {
            case: Box::new(case.clone()),
        });
        self.store().apply(t, &cs).await?;
        Ok(case)
    }

    /// Records a complaint and, unless `policies().cases.open_on_complaint` is off, opens its
    /// case (category given, severity mapped from the complaint's). The case's id is the
    /// activity's, so recording the same complaint again (same idempotency key) opens no
    /// second case, and a retry after a failure between the two writes opens the missing one.
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::{NewActivity, Service};
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// let ann = block_on(svc.register(t, Profile::default()))?.customer.id();
    /// let complaint = || NewActivity::complaint(ann, Severity::High, svc.now()).unwrap().with_key(IdempotencyKey::new("call-17").unwrap());
    /// let first = block_on(svc.record_complaint(t, complaint(), CaseCategory::new("delivery")?))?;
    /// let case = first.case.unwrap();
    /// assert_eq!((case.severity, case.source()), (CaseSeverity::High, Some(first.activity)));
    /// let again = block_on(svc.record_complaint(t, complaint(), CaseCategory::new("delivery")?))?;
    /// assert!(again.duplicate);
    /// assert_eq!(again.case.map(|c| c.id()), Some(case.id()));
    /// assert_eq!(block_on(svc.cases(t, CaseQuery::all(10)))?.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`DomainError::InvalidText`] when the activity is not a complaint; the errors of
    /// [`Service::record`] and [`Service::open_case`].
    pub async fn record_complaint(
        &self,
        t: TenantId,
        a: NewActivity,
        category: CaseCategory,
    ) -> Result<ComplaintRecorded, Error> {
        let ActivityKind::Complaint { severity } = a.kind else {
            return Err(DomainError::InvalidText {
                field: "activity.kind",
                value: a.kind.activity_type().as_str().to_owned(),
                reason: "a complaint is expected",
            }
            .into());
        };
        let (customer, key, channel) = (a.customer, a.idempotency_key.clone(), a.channel);
        let recorded = self.record(t, a).await?;
        // The activity as stored (the first one recorded under the key).
        let activity = self
            .store()
            .activities(t, recorded.customer.id(), TimeRange::all())
            .await?
            .into_iter()
            .find(|x| x.idempotency_key == key)
            .ok_or(Error::NotFound(customer))?;
        let case = if self.policies().cases.open_on_complaint {
            let id = CaseId::from_uuid(*activity.id.as_uuid());
            match self.store().load_case(t, id).await? {
                Some(c) => Some(c),
                None => {
                    let mut open =
                        OpenCase::new(recorded.customer.id(), category, severity.into(), channel);
                    open.source = Some(activity.id);
                    Some(self.open_case_as(t, id, open).await?)
                }
            }
        } else {
            None
        };
        Ok(ComplaintRecorded {
            duplicate: recorded.duplicate,
            activity: activity.id,
            case,
        })
    }

    /// One case.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] (as [`Error::Store`]) when there is none; store errors.
    pub async fn case(&self, t: TenantId, id: CaseId) -> Result<Case, Error> {
        self.store().load_case(t, id).await?.ok_or_else(|| {
            Error::Store(StoreError::NotFound {
                entity: rapport_core::ports::Entity::Case(id),
            })
        })
    }

    /// A page of cases.
    ///
    /// # Errors
    /// Store errors.
    pub async fn cases(&self, t: TenantId, query: CaseQuery) -> Result<Vec<Case>, Error> {
        Ok(self.store().cases(t, query).await?)
    }

    /// Every case `query` selects (read page by page).
    ///
    /// # Errors
    /// Store errors.
    pub async fn all_cases(&self, t: TenantId, query: CaseQuery) -> Result<Vec<Case>, Error> {
        let mut out: Vec<Case> = Vec::new();
        let mut q = CaseQuery {
            limit: CASE_PAGE,
            ..query
        };
        loop {
            let page = self.store().cases(t, q).await?;
            let full = page.len() == CASE_PAGE as usize;
            q.after = page.last().map(Case::id).or(q.after);
            out.extend(page);
            if !full {
                return Ok(out);
            }
        }
    }

    /// Changes a case at the service clock's `now`: loads it, decides, writes it with the
    /// version read, and decides again (bounded) when another writer got there first.
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::{CaseChange, Service, OpenCase};
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// # let ann = block_on(svc.register(t, Profile::default()))?.customer.id();
    /// let case = block_on(svc.open_case(t, OpenCase::new(ann, CaseCategory::new("billing")?, CaseSeverity::Normal, Channel::Email)))?;
    /// let c = block_on(svc.update_case(t, case.id(), CaseChange::Move(CaseStatus::InProgress)))?;
    /// let c = block_on(svc.update_case(t, c.id(), CaseChange::Resolve(Some(Csat::new(5)?))))?;
    /// assert_eq!((c.status(), c.csat().map(Csat::get), c.version()), (CaseStatus::Resolved, Some(5), 3));
    /// // An illegal move is a typed domain error; nothing is written.
    /// let err = block_on(svc.update_case(t, c.id(), CaseChange::Move(CaseStatus::Open))).unwrap_err();
    /// assert!(matches!(err, rapport::Error::Domain(DomainError::IllegalCaseTransition { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`DomainError::IllegalCaseTransition`]; a missing case; [`StoreError::CaseConflict`]
    /// after the last attempt; store errors.
    pub async fn update_case(
        &self,
        t: TenantId,
        id: CaseId,
        change: CaseChange,
    ) -> Result<Case, Error> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let read = self.case(t, id).await?;
            let now = self.now().max(read.last_change_at());
            let next = match &change {
                CaseChange::Move(to) => read.move_to(*to, now)?,
                CaseChange::Resolve(csat) => read.resolve(now, *csat)?,
                CaseChange::Reopen => read.reopen(now, self.policies().cases.reopen_window())?,
                CaseChange::Assign(a) => read.assign(a.clone())?,
            };
            let mut cs = Changeset::new();
            cs.cases.push(CaseWrite::Update {
                expected_version: read.version(),
                case: Box::new(next.clone()),
            });
            match self.store().apply(t, &cs).await {
                Ok(_) => return Ok(next),
                Err(StoreError::CaseConflict { .. }) if attempt < self.max_attempts() => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// The SLA breaches among the tenant's open cases at `now` (deterministic: the same cases
    /// and `now` give the same breaches), by case id then clock.
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::{Service, OpenCase};
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// # let ann = block_on(svc.register(t, Profile::default()))?.customer.id();
    /// let case = block_on(svc.open_case(t, OpenCase::new(ann, CaseCategory::new("outage")?, CaseSeverity::Urgent, Channel::Phone)))?;
    /// assert!(block_on(svc.breached(t, svc.now()))?.is_empty());
    /// let later = svc.now() + chrono::Duration::hours(2); // urgent: first response within 1 h
    /// let b = block_on(svc.breached(t, later))?;
    /// assert_eq!((b.len(), b[0].case, b[0].kind), (1, case.id(), SlaKind::FirstResponse));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// Store errors.
    pub async fn breached(&self, t: TenantId, now: DateTime<Utc>) -> Result<Vec<SlaBreach>, Error> {
        let open = self.all_cases(t, CaseQuery::open(CASE_PAGE)).await?;
        Ok(self.policies().cases.sla.breaches(&open, now))
    }

    /// A customer's churn risk at `now` raised by its open and breached cases (the rule score
    /// of the churn policy, then [`CasePolicy::raise_risk`]); the stage is not touched.
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::{Service, OpenCase};
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// # let svc = Service::new(MemoryStore::new());
    /// # let t = TenantId::from_u128(1);
    /// # let ann = block_on(svc.register(t, Profile::default()))?.customer.id();
    /// let before = block_on(svc.churn_risk_with_cases(t, ann, svc.now()))?;
    /// block_on(svc.open_case(t, OpenCase::new(ann, CaseCategory::new("outage")?, CaseSeverity::Urgent, Channel::Phone)))?;
    /// let after = block_on(svc.churn_risk_with_cases(t, ann, svc.now() + chrono::Duration::hours(2)))?;
    /// assert!(after.score > before.score);
    /// assert!(after.reason.factors.iter().any(|f| f.name == "breached_cases"));
    /// assert_eq!(block_on(svc.customer(t, ann))?.customer.stage(), Stage::Prospect);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::NotFound`]; store errors.
    pub async fn churn_risk_with_cases(
        &self,
        t: TenantId,
        id: CustomerId,
        now: DateTime<Utc>,
    ) -> Result<ChurnRisk, Error> {
        let r = self.customer(t, id).await?;
        let p = self.policies();
        let risk = p.churn.assess(&r.stats, &p.lifecycle, now, None);
        let cases = self
            .all_cases(t, CaseQuery::all(CASE_PAGE).of_customer(r.customer.id()))
            .await?;
        Ok(p.cases.raise_risk(risk, p.cases.signals(&cases, now)))
    }

    /// The case figures over every case of the tenant at `now`.
    ///
    /// # Errors
    /// Store errors.
    pub async fn case_metrics(
        &self,
        t: TenantId,
        now: DateTime<Utc>,
    ) -> Result<CaseMetrics, Error> {
        let all = self.all_cases(t, CaseQuery::all(CASE_PAGE)).await?;
        Ok(CaseMetrics::compute(&all, &self.policies().cases.sla, now))
    }
}
