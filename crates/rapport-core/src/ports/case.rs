//! The case port: reading cases back. Cases are written through [`Store::apply`] (the
//! changeset's `cases`), so a case and the customer or activity that caused it commit
//! together; this trait adds the reads a backend answers for them.

use std::future::Future;

use serde::{Deserialize, Serialize};

use crate::changeset::CaseWrite;
use crate::model::case::Case;
use crate::model::id::{CaseId, CustomerId, TenantId};
use crate::ports::{Entity, Store, StoreError};

/// Which cases [`CaseStore::cases`] lists: a page in id order, optionally of one customer,
/// optionally only open ones (open, in progress, waiting on the customer).
///
/// ```
/// use rapport_core::{CaseQuery, CustomerId};
/// let q = CaseQuery::open(100).of_customer(CustomerId::from_u128(7));
/// assert!(q.open_only && q.customer.is_some() && q.after.is_none());
/// assert_eq!(CaseQuery::all(10).limit, 10);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaseQuery {
    /// Only this customer's cases.
    pub customer: Option<CustomerId>,
    /// Only open cases.
    pub open_only: bool,
    /// Start after this id (exclusive).
    pub after: Option<CaseId>,
    /// Most rows.
    pub limit: u32,
}

impl CaseQuery {
    /// The first page of every case.
    #[must_use]
    pub fn all(limit: u32) -> Self {
        Self {
            customer: None,
            open_only: false,
            after: None,
            limit,
        }
    }

    /// The first page of open cases.
    #[must_use]
    pub fn open(limit: u32) -> Self {
        Self {
            open_only: true,
            ..Self::all(limit)
        }
    }

    /// The same query for one customer.
    #[must_use]
    pub fn of_customer(self, customer: CustomerId) -> Self {
        Self {
            customer: Some(customer),
            ..self
        }
    }

    /// True when `case` is selected (ignoring paging).
    #[must_use]
    pub fn selects(&self, case: &Case) -> bool {
        self.customer.is_none_or(|c| case.customer == c)
            && (!self.open_only || case.status().is_open())
            && self.after.is_none_or(|a| case.id() > a)
    }
}

/// A store that also keeps cases. Contract (checked by `rapport-testkit`): case writes in a
/// changeset are atomic with the rest of it; a create fails
/// [`StoreError::CaseConflict`] (`expected: 0`) when the case exists; an update fails
/// `CaseConflict` when the stored version is not the one read and
/// [`StoreError::NotFound`] ([`Entity::Case`]) when there is none; reads never cross tenants;
/// `cases` pages in ascending id order.
pub trait CaseStore: Store {
    /// One case.
    fn load_case(
        &self,
        tenant: TenantId,
        id: CaseId,
    ) -> impl Future<Output = Result<Option<Case>, StoreError>> + Send;

    /// A page of cases.
    fn cases(
        &self,
        tenant: TenantId,
        query: CaseQuery,
    ) -> impl Future<Output = Result<Vec<Case>, StoreError>> + Send;
}

impl<S: CaseStore + ?Sized> CaseStore for &S {
    fn load_case(
        &self,
        tenant: TenantId,
        id: CaseId,
    ) -> impl Future<Output = Result<Option<Case>, StoreError>> + Send {
        (**self).load_case(tenant, id)
    }
    fn cases(
        &self,
        tenant: TenantId,
        query: CaseQuery,
    ) -> impl Future<Output = Result<Vec<Case>, StoreError>> + Send {
        (**self).cases(tenant, query)
    }
}

impl<S: CaseStore + ?Sized> CaseStore for std::sync::Arc<S> {
    fn load_case(
        &self,
        tenant: TenantId,
        id: CaseId,
    ) -> impl Future<Output = Result<Option<Case>, StoreError>> + Send {
        (**self).load_case(tenant, id)
    }
    fn cases(
        &self,
        tenant: TenantId,
        query: CaseQuery,
    ) -> impl Future<Output = Result<Vec<Case>, StoreError>> + Send {
        (**self).cases(tenant, query)
    }
}

/// Checks case writes against the stored cases (`stored(id)` gives the current one), for
/// stores that keep cases in memory; SQL stores check the same with their statements.
///
/// ```
/// use rapport_core::ports::check_case_writes;
/// use rapport_core::*;
/// let t = TenantId::from_u128(1);
/// let c = Case::open(NewCase::new(CaseId::from_u128(1), t, CustomerId::from_u128(2), CaseCategory::new("x")?, CaseSeverity::Low, Channel::Web, chrono::DateTime::UNIX_EPOCH));
/// let create = [CaseWrite::Create { case: Box::new(c.clone()) }];
/// assert!(check_case_writes(&create, |_| None).is_ok());
/// assert!(matches!(check_case_writes(&create, |_| Some(&c)), Err(StoreError::CaseConflict { expected: 0, actual: 1, .. })));
/// let update = [CaseWrite::Update { expected_version: 1, case: Box::new(c.assign(None)?) }];
/// assert!(check_case_writes(&update, |_| Some(&c)).is_ok());
/// assert!(matches!(check_case_writes(&update, |_| None), Err(StoreError::NotFound { .. })));
/// # Ok::<(), DomainError>(())
/// ```
///
/// # Errors
/// [`StoreError::CaseConflict`] or [`StoreError::NotFound`] for the first refused write.
pub fn check_case_writes<'a>(
    writes: &[CaseWrite],
    stored: impl Fn(CaseId) -> Option<&'a Case>,
) -> Result<(), StoreError> {
    for w in writes {
        let id = w.case().id();
        match (w.expected_version(), stored(id)) {
            (None, Some(old)) => {
                return Err(StoreError::CaseConflict {
                    case: id,
                    expected: 0,
                    actual: old.version(),
                });
            }
            (Some(_), None) => {
                return Err(StoreError::NotFound {
                    entity: Entity::Case(id),
                });
            }
            (Some(v), Some(old)) if old.version() != v => {
                return Err(StoreError::CaseConflict {
                    case: id,
                    expected: v,
                    actual: old.version(),
                });
            }
            _ => {}
        }
    }
    Ok(())
}
