//! Export (access and portability, GDPR Art. 15 and 20, PIPL Art. 45): everything held about
//! one person as one document with a versioned schema (`docs/export.schema.json`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::activity::Activity;
use crate::model::customer::Customer;
use crate::model::id::TenantId;
use crate::model::stats::Stats;
use crate::privacy::{ConsentEntry, ErasureRecord};

/// The schema version [`ExportDocument`]s are written in.
pub const EXPORT_SCHEMA_VERSION: u32 = 1;

/// The URI naming the export schema (`docs/export.schema.json`).
pub const EXPORT_SCHEMA: &str = "https://rapport.dev/schema/export/v1.json";

/// One person's data: the customer (profile, contacts, attributes, tags with sources and
/// expiries, tier and lifecycle state with their pins and overrides, consent snapshot), the
/// folded stats, every activity, the consent ledger with its history, and the erasure record
/// when it was erased. Personal values appear as they are: the document is for the person.
///
/// ```
/// use chrono::DateTime;
/// use rapport_core::*;
/// use rapport_core::privacy::{ExportDocument, EXPORT_SCHEMA_VERSION};
/// let now = DateTime::UNIX_EPOCH;
/// let c = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
/// let doc = ExportDocument::new(c, Stats::default(), vec![], vec![], None, now);
/// assert_eq!(doc.schema_version, EXPORT_SCHEMA_VERSION);
/// assert_eq!(doc.tenant, TenantId::from_u128(1));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ExportDocument {
    /// The schema's URI.
    #[serde(rename = "$schema")]
    pub schema: String,
    /// The schema version.
    pub schema_version: u32,
    /// When the document was made.
    pub generated_at: DateTime<Utc>,
    /// The tenant.
    pub tenant: TenantId,
    /// The customer record.
    pub customer: Customer,
    /// Figures folded from the activities.
    pub stats: Stats,
    /// Every activity, in timeline order.
    pub activities: Vec<Activity>,
    /// The consent ledger, in ledger order.
    pub consents: Vec<ConsentEntry>,
    /// The erasure record, when the customer was erased.
    pub erasure: Option<ErasureRecord>,
}

impl ExportDocument {
    /// The document for `customer` at `now`.
    #[must_use]
    pub fn new(
        customer: Customer,
        stats: Stats,
        activities: Vec<Activity>,
        consents: Vec<ConsentEntry>,
        erasure: Option<ErasureRecord>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            schema: EXPORT_SCHEMA.to_owned(),
            schema_version: EXPORT_SCHEMA_VERSION,
            generated_at: now,
            tenant: customer.tenant(),
            customer,
            stats,
            activities,
            consents,
            erasure,
        }
    }
}
