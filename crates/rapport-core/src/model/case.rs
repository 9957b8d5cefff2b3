//! Cases: complaints and service requests with a status machine, an assignee and a
//! satisfaction score. A case keeps the history of its status changes, so its SLA clocks
//! ([`SlaPolicy`](crate::SlaPolicy)) can be recomputed at any `now`.
//!
//! The machine: `Open → InProgress ⇄ WaitingOnCustomer → Resolved → Closed`; `InProgress` and
//! `WaitingOnCustomer` may both resolve; a resolved case may be **reopened** (back to
//! `InProgress`, counted) within a window (14 days by default); `Closed` is final. Every
//! change is at a time no earlier than the previous one and steps the case's version by one
//! (stores check it like a customer's).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::model::activity::{Channel, Csat, Severity};
use crate::model::id::{ActivityId, Assignee, CaseCategory, CaseId, CustomerId, TenantId};

/// How urgent a case is; ordered from [`CaseSeverity::Low`] to [`CaseSeverity::Urgent`].
/// Each has its own SLA targets.
///
/// ```
/// use rapport_core::{CaseSeverity, Severity};
/// assert!(CaseSeverity::Urgent > CaseSeverity::High);
/// assert_eq!("normal".parse::<CaseSeverity>()?, CaseSeverity::Normal);
/// // A complaint's severity maps onto the case scale.
/// assert_eq!(CaseSeverity::from(Severity::Medium), CaseSeverity::Normal);
/// # Ok::<(), rapport_core::DomainError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseSeverity {
    /// Can wait.
    Low,
    /// The default.
    Normal,
    /// Hurts the customer.
    High,
    /// Stops the customer.
    Urgent,
}

impl CaseSeverity {
    /// Every severity, low to urgent.
    pub const ALL: [CaseSeverity; 4] = [
        CaseSeverity::Low,
        CaseSeverity::Normal,
        CaseSeverity::High,
        CaseSeverity::Urgent,
    ];

    /// The lower-case name.
    ///
    /// ```
    /// assert_eq!(rapport_core::CaseSeverity::Urgent.as_str(), "urgent");
    /// ```
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            CaseSeverity::Low => "low",
            CaseSeverity::Normal => "normal",
            CaseSeverity::High => "high",
            CaseSeverity::Urgent => "urgent",
        }
    }
}

impl From<Severity> for CaseSeverity {
    fn from(s: Severity) -> Self {
        match s {
            Severity::Low => CaseSeverity::Low,
            Severity::Medium => CaseSeverity::Normal,
            Severity::High => CaseSeverity::High,
        }
    }
}

impl fmt::Display for CaseSeverity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CaseSeverity {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CaseSeverity::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| DomainError::InvalidText {
                field: "case.severity",
                value: s.to_owned(),
                reason: "expected low, normal, high or urgent",
            })
    }
}

/// Where a case is in its handling.
///
/// ```
/// use rapport_core::CaseStatus;
/// assert!(CaseStatus::WaitingOnCustomer.is_open());
/// assert!(!CaseStatus::Resolved.is_open());
/// assert_eq!("in_progress".parse::<CaseStatus>()?, CaseStatus::InProgress);
/// # Ok::<(), rapport_core::DomainError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseStatus {
    /// New, nobody has answered yet.
    Open,
    /// Being worked on (also after a reopen).
    InProgress,
    /// Waiting for the customer's answer: the SLA clocks pause.
    WaitingOnCustomer,
    /// Solved; may be reopened within the reopen window.
    Resolved,
    /// Final.
    Closed,
}

impl CaseStatus {
    /// Every status, in machine order.
    pub const ALL: [CaseStatus; 5] = [
        CaseStatus::Open,
        CaseStatus::InProgress,
        CaseStatus::WaitingOnCustomer,
        CaseStatus::Resolved,
        CaseStatus::Closed,
    ];

    /// The snake-case name.
    ///
    /// ```
    /// assert_eq!(rapport_core::CaseStatus::WaitingOnCustomer.as_str(), "waiting_on_customer");
    /// ```
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            CaseStatus::Open => "open",
            CaseStatus::InProgress => "in_progress",
            CaseStatus::WaitingOnCustomer => "waiting_on_customer",
            CaseStatus::Resolved => "resolved",
            CaseStatus::Closed => "closed",
        }
    }

    /// True while the case still needs work: open, in progress or waiting on the customer.
    ///
    /// ```
    /// assert!(rapport_core::CaseStatus::Open.is_open());
    /// ```
    #[must_use]
    pub fn is_open(self) -> bool {
        matches!(
            self,
            CaseStatus::Open | CaseStatus::InProgress | CaseStatus::WaitingOnCustomer
        )
    }

    /// Whether the machine allows `self → to` as an ordinary move (a reopen, Resolved →
    /// InProgress, is [`Case::reopen`]), and if not, why.
    fn check_move(self, to: CaseStatus) -> Result<(), &'static str> {
        use CaseStatus::{Closed, InProgress, Open, Resolved, WaitingOnCustomer};
        match (self, to) {
            (Open, InProgress)
            | (InProgress, WaitingOnCustomer)
            | (WaitingOnCustomer, InProgress)
            | (InProgress | WaitingOnCustomer, Resolved)
            | (Resolved, Closed) => Ok(()),
            (Closed, _) => Err("a closed case is final"),
            (Resolved, InProgress) => Err("a resolved case goes back to work by a reopen"),
            (a, b) if a == b => Err("the case already has this status"),
            (Open, _) => Err("an open case is first taken in progress"),
            (_, Open) => Err("a case never returns to open"),
            (Resolved, _) => Err("a resolved case is closed or reopened"),
            _ => Err("only a case in progress or waiting on the customer is resolved"),
        }
    }
}

impl fmt::Display for CaseStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CaseStatus {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CaseStatus::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| DomainError::InvalidText {
                field: "case.status",
                value: s.to_owned(),
                reason: "expected open, in_progress, waiting_on_customer, resolved or closed",
            })
    }
}

/// One entry of a case's status history: from `at` on, the case had status `to`.
///
/// ```
/// use rapport_core::*;
/// let at = chrono::DateTime::UNIX_EPOCH;
/// let c = Case::open(NewCase::new(CaseId::from_u128(1), TenantId::from_u128(1), CustomerId::from_u128(2), CaseCategory::new("billing")?, CaseSeverity::High, Channel::Email, at));
/// assert_eq!(c.history(), &[StatusChange { at, to: CaseStatus::Open }]);
/// # Ok::<(), DomainError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    /// When.
    pub at: DateTime<Utc>,
    /// The status from then on.
    pub to: CaseStatus,
}

/// What a new case is opened with (see [`Case::open`]).
///
/// ```
/// use rapport_core::*;
/// let at = chrono::DateTime::UNIX_EPOCH;
/// let mut n = NewCase::new(CaseId::from_u128(1), TenantId::from_u128(1), CustomerId::from_u128(2), CaseCategory::new("delivery")?, CaseSeverity::Normal, Channel::Phone, at);
/// n.assignee = Some(Assignee::new("agent-7")?);
/// assert_eq!(Case::open(n).assignee().map(Assignee::as_str), Some("agent-7"));
/// # Ok::<(), DomainError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewCase {
    /// Its id (from the host's id source).
    pub id: CaseId,
    /// Its tenant.
    pub tenant: TenantId,
    /// The customer it is about.
    pub customer: CustomerId,
    /// Category.
    pub category: CaseCategory,
    /// Severity.
    pub severity: CaseSeverity,
    /// Where it came in.
    pub channel: Channel,
    /// When it was opened.
    pub opened_at: DateTime<Utc>,
    /// The complaint activity it was opened from, if any.
    pub source: Option<ActivityId>,
    /// Who works on it, if already known.
    pub assignee: Option<Assignee>,
}

impl NewCase {
    /// A new case with no source activity and no assignee.
    ///
    /// ```
    /// use rapport_core::*;
    /// let n = NewCase::new(CaseId::from_u128(1), TenantId::from_u128(1), CustomerId::from_u128(2), CaseCategory::new("x")?, CaseSeverity::Low, Channel::Web, chrono::DateTime::UNIX_EPOCH);
    /// assert!(n.source.is_none() && n.assignee.is_none());
    /// # Ok::<(), DomainError>(())
    /// ```
    #[must_use]
    pub fn new(
        id: CaseId,
        tenant: TenantId,
        customer: CustomerId,
        category: CaseCategory,
        severity: CaseSeverity,
        channel: Channel,
        opened_at: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            tenant,
            customer,
            category,
            severity,
            channel,
            opened_at,
            source: None,
            assignee: None,
        }
    }
}

/// A complaint or service request. Fields that the machine keeps consistent (status,
/// history, response and resolution times, reopens, CSAT, version) are read through methods
/// and changed only by the transitions, each of which returns the next version.
///
/// ```
/// use chrono::{Duration, TimeZone, Utc};
/// use rapport_core::*;
/// let t0 = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
/// let c = Case::open(NewCase::new(CaseId::from_u128(1), TenantId::from_u128(1), CustomerId::from_u128(2),
///     CaseCategory::new("delivery")?, CaseSeverity::High, Channel::Phone, t0));
/// let c = c.move_to(CaseStatus::InProgress, t0 + Duration::minutes(30))?;
/// assert_eq!(c.first_response_at(), Some(t0 + Duration::minutes(30)));
/// let c = c.resolve(t0 + Duration::hours(5), Some(Csat::new(4)?))?;
/// assert_eq!((c.status(), c.version(), c.csat().map(Csat::get)), (CaseStatus::Resolved, 3, Some(4)));
/// // Reopened within 14 days: back to work, counted.
/// let c = c.reopen(t0 + Duration::days(3), Duration::days(14))?;
/// assert_eq!((c.status(), c.reopens()), (CaseStatus::InProgress, 1));
/// // Closed is final.
/// let c = c.resolve(t0 + Duration::days(4), None)?.move_to(CaseStatus::Closed, t0 + Duration::days(5))?;
/// assert!(matches!(c.move_to(CaseStatus::InProgress, t0 + Duration::days(6)),
///     Err(DomainError::IllegalCaseTransition { from: CaseStatus::Closed, .. })));
/// # Ok::<(), DomainError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    id: CaseId,
    tenant: TenantId,
    /// The customer it is about.
    pub customer: CustomerId,
    /// Category.
    pub category: CaseCategory,
    /// Severity.
    pub severity: CaseSeverity,
    /// Where it came in.
    pub channel: Channel,
    opened_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source: Option<ActivityId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    assignee: Option<Assignee>,
    status: CaseStatus,
    history: Vec<StatusChange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    first_response_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resolved_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    closed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    reopens: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    csat: Option<Csat>,
    version: u64,
}

impl Case {
    /// Opens a case: status `Open`, version 1.
    ///
    /// ```
    /// use rapport_core::*;
    /// let c = Case::open(NewCase::new(CaseId::from_u128(1), TenantId::from_u128(1), CustomerId::from_u128(2), CaseCategory::new("x")?, CaseSeverity::Low, Channel::Web, chrono::DateTime::UNIX_EPOCH));
    /// assert_eq!((c.status(), c.version(), c.reopens()), (CaseStatus::Open, 1, 0));
    /// # Ok::<(), DomainError>(())
    /// ```
    #[must_use]
    pub fn open(new: NewCase) -> Self {
        Self {
            id: new.id,
            tenant: new.tenant,
            customer: new.customer,
            category: new.category,
            severity: new.severity,
            channel: new.channel,
            opened_at: new.opened_at,
            source: new.source,
            assignee: new.assignee,
            status: CaseStatus::Open,
            history: vec![StatusChange {
                at: new.opened_at,
                to: CaseStatus::Open,
            }],
            first_response_at: None,
            resolved_at: None,
            closed_at: None,
            reopens: 0,
            csat: None,
            version: 1,
        }
    }

    /// Its id.
    #[must_use]
    pub fn id(&self) -> CaseId {
        self.id
    }
    /// Its tenant.
    #[must_use]
    pub fn tenant(&self) -> TenantId {
        self.tenant
    }
    /// When it was opened.
    #[must_use]
    pub fn opened_at(&self) -> DateTime<Utc> {
        self.opened_at
    }
    /// The complaint activity it was opened from.
    #[must_use]
    pub fn source(&self) -> Option<ActivityId> {
        self.source
    }
    /// Who works on it.
    #[must_use]
    pub fn assignee(&self) -> Option<&Assignee> {
        self.assignee.as_ref()
    }
    /// The current status.
    #[must_use]
    pub fn status(&self) -> CaseStatus {
        self.status
    }
    /// Every status change, oldest first (the first is `Open` at `opened_at`).
    #[must_use]
    pub fn history(&self) -> &[StatusChange] {
        &self.history
    }
    /// When the case first left `Open` (the first response).
    #[must_use]
    pub fn first_response_at(&self) -> Option<DateTime<Utc>> {
        self.first_response_at
    }
    /// When it was last resolved (kept after a reopen until it is resolved again).
    #[must_use]
    pub fn resolved_at(&self) -> Option<DateTime<Utc>> {
        self.resolved_at
    }
    /// When it was closed.
    #[must_use]
    pub fn closed_at(&self) -> Option<DateTime<Utc>> {
        self.closed_at
    }
    /// How many times it was reopened.
    #[must_use]
    pub fn reopens(&self) -> u32 {
        self.reopens
    }
    /// The satisfaction score given on the last resolution.
    #[must_use]
    pub fn csat(&self) -> Option<Csat> {
        self.csat
    }
    /// The stored version (1 when opened; each change adds one).
    #[must_use]
    pub fn version(&self) -> u64 {
        self.version
    }
    /// The time of the last status change.
    #[must_use]
    pub fn last_change_at(&self) -> DateTime<Utc> {
        self.history.last().map_or(self.opened_at, |c| c.at)
    }

    /// The status in force at `at` (the last change at or before it; `Open` before opening).
    ///
    /// ```
    /// use chrono::Duration;
    /// use rapport_core::*;
    /// let t0 = chrono::DateTime::UNIX_EPOCH;
    /// let c = Case::open(NewCase::new(CaseId::from_u128(1), TenantId::from_u128(1), CustomerId::from_u128(2), CaseCategory::new("x")?, CaseSeverity::Low, Channel::Web, t0))
    ///     .move_to(CaseStatus::InProgress, t0 + Duration::hours(1))?;
    /// assert_eq!(c.status_at(t0 + Duration::minutes(59)), CaseStatus::Open);
    /// assert_eq!(c.status_at(t0 + Duration::hours(1)), CaseStatus::InProgress);
    /// # Ok::<(), DomainError>(())
    /// ```
    #[must_use]
    pub fn status_at(&self, at: DateTime<Utc>) -> CaseStatus {
        let i = self.history.partition_point(|c| c.at <= at);
        self.history
            .get(i.wrapping_sub(1))
            .map_or(CaseStatus::Open, |c| c.to)
    }

    /// The case one version on (for changes other than status: see [`Case::assign`]).
    fn next(&self) -> Self {
        let mut n = self.clone();
        n.version += 1;
        n
    }

    fn refuse(&self, to: CaseStatus, reason: &'static str) -> DomainError {
        DomainError::IllegalCaseTransition {
            from: self.status,
            to,
            reason,
        }
    }

    fn push(&mut self, to: CaseStatus, at: DateTime<Utc>) {
        if self.first_response_at.is_none() && self.status == CaseStatus::Open {
            self.first_response_at = Some(at);
        }
        self.status = to;
        self.history.push(StatusChange { at, to });
    }

    /// Moves the case along the machine at `at` (not before its last change). Leaving `Open`
    /// records the first response; `Resolved` records the resolution time (use
    /// [`Case::resolve`] to add a CSAT); `Closed` is final.
    ///
    /// ```
    /// use chrono::Duration;
    /// use rapport_core::*;
    /// let t0 = chrono::DateTime::UNIX_EPOCH;
    /// let c = Case::open(NewCase::new(CaseId::from_u128(1), TenantId::from_u128(1), CustomerId::from_u128(2), CaseCategory::new("x")?, CaseSeverity::Low, Channel::Web, t0));
    /// assert!(matches!(c.move_to(CaseStatus::Resolved, t0), Err(DomainError::IllegalCaseTransition { .. })));
    /// let c = c.move_to(CaseStatus::InProgress, t0 + Duration::hours(1))?;
    /// // Time never runs backwards in a case's history.
    /// assert!(c.move_to(CaseStatus::WaitingOnCustomer, t0).is_err());
    /// # Ok::<(), DomainError>(())
    /// ```
    ///
    /// # Errors
    /// [`DomainError::IllegalCaseTransition`] for a move the machine does not have or a time
    /// before the last change.
    pub fn move_to(&self, to: CaseStatus, at: DateTime<Utc>) -> Result<Self, DomainError> {
        self.status.check_move(to).map_err(|r| self.refuse(to, r))?;
        if at < self.last_change_at() {
            return Err(self.refuse(to, "the change is dated before the case's last change"));
        }
        let mut n = self.next();
        n.push(to, at);
        match to {
            CaseStatus::Resolved => n.resolved_at = Some(at),
            CaseStatus::Closed => n.closed_at = Some(at),
            _ => {}
        }
        Ok(n)
    }

    /// Resolves the case at `at`, with the customer's satisfaction score when given.
    ///
    /// ```
    /// use chrono::Duration;
    /// use rapport_core::*;
    /// let t0 = chrono::DateTime::UNIX_EPOCH;
    /// let c = Case::open(NewCase::new(CaseId::from_u128(1), TenantId::from_u128(1), CustomerId::from_u128(2), CaseCategory::new("x")?, CaseSeverity::Low, Channel::Web, t0))
    ///     .move_to(CaseStatus::InProgress, t0)?
    ///     .resolve(t0 + Duration::hours(2), Some(Csat::new(5)?))?;
    /// assert_eq!(c.resolved_at(), Some(t0 + Duration::hours(2)));
    /// # Ok::<(), DomainError>(())
    /// ```
    ///
    /// # Errors
    /// As [`Case::move_to`] with `Resolved`.
    pub fn resolve(&self, at: DateTime<Utc>, csat: Option<Csat>) -> Result<Self, DomainError> {
        let mut n = self.move_to(CaseStatus::Resolved, at)?;
        n.csat = csat;
        Ok(n)
    }

    /// Reopens a resolved case at `at`, back to `InProgress`, when `at` is within `window`
    /// of its resolution (DOMAIN.md's default: 14 days).
    ///
    /// ```
    /// use chrono::Duration;
    /// use rapport_core::*;
    /// let t0 = chrono::DateTime::UNIX_EPOCH;
    /// let c = Case::open(NewCase::new(CaseId::from_u128(1), TenantId::from_u128(1), CustomerId::from_u128(2), CaseCategory::new("x")?, CaseSeverity::Low, Channel::Web, t0))
    ///     .move_to(CaseStatus::InProgress, t0)?
    ///     .resolve(t0, None)?;
    /// assert!(c.reopen(t0 + Duration::days(15), Duration::days(14)).is_err());
    /// assert_eq!(c.reopen(t0 + Duration::days(14), Duration::days(14))?.reopens(), 1);
    /// # Ok::<(), DomainError>(())
    /// ```
    ///
    /// # Errors
    /// [`DomainError::IllegalCaseTransition`] when the case is not resolved, the window has
    /// passed, or `at` is before the last change.
    pub fn reopen(&self, at: DateTime<Utc>, window: Duration) -> Result<Self, DomainError> {
        let to = CaseStatus::InProgress;
        if self.status != CaseStatus::Resolved {
            return Err(self.refuse(to, "only a resolved case is reopened"));
        }
        if at < self.last_change_at() {
            return Err(self.refuse(to, "the change is dated before the case's last change"));
        }
        if self.resolved_at.is_none_or(|r| at - r > window) {
            return Err(self.refuse(to, "the reopen window has passed"));
        }
        let mut n = self.next();
        n.push(to, at);
        n.reopens += 1;
        n.csat = None;
        Ok(n)
    }

    /// Sets (or clears) the assignee; the status does not change.
    ///
    /// ```
    /// use rapport_core::*;
    /// let c = Case::open(NewCase::new(CaseId::from_u128(1), TenantId::from_u128(1), CustomerId::from_u128(2), CaseCategory::new("x")?, CaseSeverity::Low, Channel::Web, chrono::DateTime::UNIX_EPOCH));
    /// let c = c.assign(Some(Assignee::new("agent-1")?))?;
    /// assert_eq!((c.assignee().map(Assignee::as_str), c.version()), (Some("agent-1"), 2));
    /// # Ok::<(), DomainError>(())
    /// ```
    ///
    /// # Errors
    /// [`DomainError::IllegalCaseTransition`] on a closed case.
    pub fn assign(&self, assignee: Option<Assignee>) -> Result<Self, DomainError> {
        if self.status == CaseStatus::Closed {
            return Err(self.refuse(CaseStatus::Closed, "a closed case is final"));
        }
        let mut n = self.next();
        n.assignee = assignee;
        Ok(n)
    }

    /// Moves the case to another customer (merge: the survivor takes the loser's cases).
    ///
    /// ```
    /// use rapport_core::*;
    /// let c = Case::open(NewCase::new(CaseId::from_u128(1), TenantId::from_u128(1), CustomerId::from_u128(2), CaseCategory::new("x")?, CaseSeverity::Low, Channel::Web, chrono::DateTime::UNIX_EPOCH));
    /// let moved = c.move_customer(CustomerId::from_u128(3));
    /// assert_eq!((moved.customer, moved.version()), (CustomerId::from_u128(3), 2));
    /// # Ok::<(), DomainError>(())
    /// ```
    #[must_use]
    pub fn move_customer(&self, to: CustomerId) -> Self {
        let mut n = self.next();
        n.customer = to;
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(min: i64) -> DateTime<Utc> {
        DateTime::UNIX_EPOCH + Duration::minutes(min)
    }

    fn fresh() -> Case {
        Case::open(NewCase::new(
            CaseId::from_u128(1),
            TenantId::from_u128(1),
            CustomerId::from_u128(2),
            CaseCategory::new("delivery").unwrap(),
            CaseSeverity::Normal,
            Channel::Email,
            t(0),
        ))
    }

    /// One step of the model-based test.
    #[derive(Debug, Clone)]
    enum Op {
        Move(CaseStatus, i64),
        Reopen(i64),
        Assign(bool),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (proptest::sample::select(CaseStatus::ALL.to_vec()), -30i64..3000).prop_map(|(s, d)| Op::Move(s, d)),
            1 => (-30i64..30_000).prop_map(Op::Reopen),
            1 => any::<bool>().prop_map(Op::Assign),
        ]
    }

    /// The reference machine: the table of DOMAIN.md, written independently of `check_move`.
    fn allowed(from: CaseStatus, to: CaseStatus) -> bool {
        use CaseStatus::*;
        matches!(
            (from, to),
            (Open, InProgress)
                | (InProgress, WaitingOnCustomer)
                | (WaitingOnCustomer, InProgress)
                | (InProgress, Resolved)
                | (WaitingOnCustomer, Resolved)
                | (Resolved, Closed)
        )
    }

    proptest! {
        /// Model-based: a plain model (status, clock, first response, resolution, reopens,
        /// version) follows the same operations; the case agrees with it after every step,
        /// a refused operation changes nothing, and the history replays to the status.
        #[test]
        fn prop_case_machine_follows_the_model(ops in proptest::collection::vec(op(), 1..40)) {
            let window = Duration::days(14);
            let mut case = fresh();
            let (mut status, mut now, mut first, mut resolved, mut reopens, mut version) =
                (CaseStatus::Open, t(0), None, None::<DateTime<Utc>>, 0u32, 1u64);
            for op in ops {
                let before = case.clone();
                let result = match &op {
                    Op::Move(to, d) => case.move_to(*to, now + Duration::minutes(*d)),
                    Op::Reopen(d) => case.reopen(now + Duration::minutes(*d), window),
                    Op::Assign(some) => case.assign(some.then(|| Assignee::new("a").unwrap())),
                };
                let expect_ok = match &op {
                    Op::Move(to, d) => allowed(status, *to) && *d >= 0,
                    Op::Reopen(d) => status == CaseStatus::Resolved && *d >= 0
                        && resolved.is_some_and(|r| now + Duration::minutes(*d) - r <= window),
                    Op::Assign(_) => status != CaseStatus::Closed,
                };
                prop_assert_eq!(result.is_ok(), expect_ok, "{:?} from {:?}", op, status);
                match result {
                    Err(e) => {
                        let typed = matches!(e, DomainError::IllegalCaseTransition { .. });
                        prop_assert!(typed);
                        prop_assert_eq!(&case, &before);
                    }
                    Ok(next) => {
                        version += 1;
                        match op {
                            Op::Move(to, d) => {
                                now += Duration::minutes(d);
                                if status == CaseStatus::Open { first = Some(now); }
                                if to == CaseStatus::Resolved { resolved = Some(now); }
                                status = to;
                            }
                            Op::Reopen(d) => {
                                now += Duration::minutes(d);
                                status = CaseStatus::InProgress;
                                reopens += 1;
                            }
                            Op::Assign(_) => {}
                        }
                        case = next;
                    }
                }
                prop_assert_eq!(case.status(), status);
                prop_assert_eq!(case.version(), version);
                prop_assert_eq!(case.first_response_at(), first);
                prop_assert_eq!(case.resolved_at(), resolved);
                prop_assert_eq!(case.reopens(), reopens);
                prop_assert_eq!(case.status_at(now), status);
                prop_assert!(case.history().windows(2).all(|w| w[0].at <= w[1].at));
                prop_assert_eq!(case.history().last().map(|c| c.to), Some(status));
            }
        }
    }

    #[test]
    fn serde_round_trip_keeps_the_machine_state() {
        let c = fresh()
            .move_to(CaseStatus::InProgress, t(5))
            .unwrap()
            .resolve(t(50), Some(Csat::new(3).unwrap()))
            .unwrap();
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<Case>(&json).unwrap(), c);
    }
}
