//! Consent import: ledger entries of many customers (a CSV from a former CRM, a batch of
//! paper forms) recorded all or nothing, in one changeset.

use std::collections::HashMap;

use rapport_core::ports::ConsentStore;
use rapport_core::privacy::{ConsentEntry, ConsentState, record_all};
use rapport_core::*;

use super::ConsentRequest;
use crate::error::Error;
use crate::service::Service;

/// One row of a consent import: whose consent, its state, and what the request says.
///
/// ```
/// use rapport::{ConsentImportRow, ConsentRequest};
/// use rapport::core::{ContactChannel, CustomerId, Purpose, privacy::ConsentState};
/// let row = ConsentImportRow::new(
///     CustomerId::from_u128(7),
///     ConsentState::Withdrawn,
///     ConsentRequest::new(Purpose::Marketing, ContactChannel::Sms, "reply-stop"),
/// );
/// assert_eq!((row.state, row.request.source.as_str()), (ConsentState::Withdrawn, "reply-stop"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsentImportRow {
    /// Whose consent (a live customer: not merged, not erased).
    pub customer: CustomerId,
    /// Granted, withdrawn, or pending (a double opt-in waiting for confirmation).
    pub state: ConsentState,
    /// Purpose, channel, basis, source, evidence and date (the service's now unless set).
    pub request: ConsentRequest,
}

impl ConsentImportRow {
    /// A row.
    #[must_use]
    pub fn new(customer: CustomerId, state: ConsentState, request: ConsentRequest) -> Self {
        Self {
            customer,
            state,
            request,
        }
    }
}

/// What a consent import wrote.
///
/// ```
/// use rapport::ConsentImportReport;
/// let empty = ConsentImportReport::default();
/// assert_eq!((empty.entries.len(), empty.customers), (0, 0));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsentImportReport {
    /// The entries recorded, one per row, in row order.
    pub entries: Vec<ConsentEntry>,
    /// How many customers were updated (each once, whatever its number of rows).
    pub customers: usize,
}

impl<S: ConsentStore, N: Notifier> Service<S, N> {
    /// Records every row as a ledger entry, all in **one** changeset: each customer is updated
    /// once, its snapshot recomputed from its whole ledger with all its new entries, at the
    /// version it was read at. On a version conflict (a customer changed meanwhile) the
    /// service reads again and decides again, as its other use cases do; if any row is refused,
    /// or the store fails, nothing is written.
    ///
    /// Entries are recorded at the service's now; a row without a date is dated then too. Rows
    /// of the same (customer, purpose, channel) and date follow the ledger's order: the later
    /// row wins, as its id is later (with an id source that counts up, as the default does).
    ///
    /// ```
    /// # use futures::executor::block_on;
    /// # use rapport::core::privacy::ConsentState;
    /// # use rapport::core::*;
    /// # use rapport_memory::MemoryStore;
    /// use rapport::{ConsentImportRow, ConsentRequest, Error, Service};
    /// let svc = Service::new(MemoryStore::new());
    /// let t = TenantId::from_u128(1);
    /// let ann = block_on(svc.register(t, Profile::default()))?.customer.id();
    /// let bo = block_on(svc.register(t, Profile::default()))?.customer.id();
    /// let req = |p, ch| ConsentRequest::new(p, ch, "crm-export");
    /// let rows = [
    ///     ConsentImportRow::new(ann, ConsentState::Granted, req(Purpose::Marketing, ContactChannel::Email)),
    ///     ConsentImportRow::new(bo, ConsentState::Pending, req(Purpose::Marketing, ContactChannel::Email)),
    ///     ConsentImportRow::new(ann, ConsentState::Granted, req(Purpose::Analytics, ContactChannel::Any)),
    /// ];
    /// let report = block_on(svc.import_consents(t, &rows))?;
    /// assert_eq!((report.entries.len(), report.customers), (3, 2));
    /// let a = block_on(svc.customer(t, ann))?.customer;
    /// assert!(a.consents.allows(Purpose::Marketing, ContactChannel::Email));
    /// assert_eq!(a.version(), 2); // one update for its two rows
    ///
    /// // A row naming nobody: the error names the row, and nothing is written.
    /// let nobody = CustomerId::from_u128(99);
    /// let bad = [rows[1].clone(), ConsentImportRow::new(nobody, ConsentState::Granted, req(Purpose::Profiling, ContactChannel::Any))];
    /// let err = block_on(svc.import_consents(t, &bad)).unwrap_err();
    /// assert!(matches!(&err, Error::Row { row: 1, source } if matches!(**source, Error::NotFound(id) if id == nobody)));
    /// assert_eq!(block_on(svc.consents(t, bo))?.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Row`] naming the first refused row (rows are checked in order: first each
    /// row's text, then each customer, in the order of its first row): [`Error::NotFound`]
    /// for a customer that does not exist, [`DomainError::Tombstoned`] for a merged or erased
    /// one, [`DomainError::InvalidText`] for a bad source or evidence. [`Error::Contention`]
    /// when versions kept moving; store errors.
    pub async fn import_consents(
        &self,
        t: TenantId,
        rows: &[ConsentImportRow],
    ) -> Result<ConsentImportReport, Error> {
        let row_error = |row: usize| {
            move |e: Error| Error::Row {
                row,
                source: Box::new(e),
            }
        };
        // Customers in the order of their first row, each with its rows.
        let mut groups: Vec<(CustomerId, Vec<usize>)> = Vec::new();
        let mut group_of: HashMap<CustomerId, usize> = HashMap::new();
        for (i, r) in rows.iter().enumerate() {
            let g = *group_of.entry(r.customer).or_insert_with(|| {
                groups.push((r.customer, Vec::new()));
                groups.len() - 1
            });
            groups[g].1.push(i);
        }
        let Some(first_row) = rows.first() else {
            return Ok(ConsentImportReport::default());
        };
        // Ids made once, so that a retry records the same entries.
        let ids: Vec<ConsentEntryId> = rows
            .iter()
            .map(|_| ConsentEntryId::from_uuid(self.id_source().next()))
            .collect();
        let mut contended = first_row.customer;
        for _ in 0..self.attempts() {
            let now = self.now();
            let entries = rows
                .iter()
                .zip(&ids)
                .enumerate()
                .map(|(i, (r, id))| {
                    r.request
                        .entry(*id, r.customer, r.state, now)
                        .map_err(|e| row_error(i)(e.into()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let mut changeset = Changeset::new();
            for (customer, members) in &groups {
                let first = members[0];
                let read = self
                    .store()
                    .load(t, *customer)
                    .await?
                    .ok_or(Error::NotFound(*customer))
                    .map_err(row_error(first))?;
                let history = self.store().consents(t, *customer).await?;
                let mine = members.iter().map(|&i| entries[i].clone()).collect();
                let d = record_all(&read.customer, read.stats, &history, mine)
                    .map_err(|e| row_error(first)(e.into()))?;
                changeset.customers.extend(d.changeset.customers);
                changeset.consents.extend(d.changeset.consents);
            }
            match self.store().apply(t, &changeset).await {
                Ok(_) => {
                    tracing::info!(
                        tenant = %t,
                        entries = entries.len(),
                        customers = groups.len(),
                        "imported consents"
                    );
                    return Ok(ConsentImportReport {
                        entries,
                        customers: groups.len(),
                    });
                }
                Err(StoreError::Conflict { customer, .. }) => {
                    contended = customer;
                    crate::service::yield_to_executor().await;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::Contention {
            customer: contended,
            attempts: self.attempts(),
        })
    }
}
