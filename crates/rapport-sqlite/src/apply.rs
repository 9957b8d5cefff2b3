//! Applying one `Changeset` inside the writer's open transaction, under a savepoint so a
//! failing changeset leaves nothing behind while the others in the same group commit stay.

use rapport_core::{
    Changeset, ContactKind, Customer, CustomerId, CustomerWrite, DomainError, IdempotencyKey,
    Stage, Stats, TenantId,
};
use rapport_sql::seal::{self, Sealer};
use rusqlite::{Connection, ErrorCode, OptionalExtension, params};

use crate::codec::{ContactValue, contact_columns, day_number, time_to_us, to_json};
use crate::error::SqliteError;

/// What one changeset did.
///
/// ```
/// use rapport_sqlite::Outcome;
/// let o = Outcome::default();
/// assert!(o.duplicates.is_empty());
/// assert_eq!((o.customers, o.activities, o.messages), (0, 0, 0));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Activities whose idempotency key already existed: when non-empty nothing was written.
    pub duplicates: Vec<IdempotencyKey>,
    /// Customer rows written.
    pub customers: usize,
    /// Activity rows written.
    pub activities: usize,
    /// Outbox rows written.
    pub messages: usize,
}

/// Why one changeset was refused.
///
/// ```
/// # use rapport_sqlite::{SqliteConfig, SqliteStore};
/// # use rapport::core::*;
/// # use futures::executor::block_on;
/// # let dir = tempfile::tempdir()?;
/// # let now = chrono::DateTime::UNIX_EPOCH;
/// # let store = SqliteStore::open(dir.path().join("crm.db"), SqliteConfig::default(), now)?;
/// # let t = TenantId::from_u128(1);
/// use rapport_sqlite::ApplyError;
/// // A customer of tenant 2 in an import for tenant 1.
/// let other = Customer::new(TenantId::from_u128(2), CustomerId::from_u128(99), Profile::default(), now);
/// let err = block_on(store.import_customers(t, &[(other, Stats::default())])).unwrap_err();
/// assert!(matches!(err, ApplyError::Invalid(DomainError::InvalidChangeset { .. })));
/// assert!(err.to_string().contains("belongs to another tenant"), "{err}");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// A created customer exists already.
    #[error("customer {0} already exists")]
    AlreadyExists(CustomerId),
    /// An updated customer moved since it was read.
    #[error("customer {customer} is at version {actual}, not {expected}")]
    Conflict {
        /// Who.
        customer: CustomerId,
        /// The version the change was based on.
        expected: u64,
        /// The stored version.
        actual: u64,
    },
    /// An updated customer does not exist.
    #[error("customer {0} not found")]
    NotFound(CustomerId),
    /// Another live customer holds the email or phone the write claims (one live customer per
    /// contact: the unique indexes of schema version 2).
    #[error("the {contact} of customer {customer} belongs to customer {existing}")]
    ContactTaken {
        /// The customer written.
        customer: CustomerId,
        /// Which contact.
        contact: ContactKind,
        /// The live customer holding it.
        existing: CustomerId,
    },
    /// The changeset breaks its own rules.
    #[error(transparent)]
    Invalid(#[from] rapport_core::DomainError),
    /// The database failed.
    #[error(transparent)]
    Sqlite(#[from] SqliteError),
    /// A case write found another version than it read (`expected` 0: a create of an
    /// existing case).
    #[error("case {case} is at version {actual}, not {expected}")]
    CaseConflict {
        /// The case.
        case: rapport_core::CaseId,
        /// The version read (0 for a create).
        expected: u64,
        /// The stored version.
        actual: u64,
    },
    /// An updated case does not exist.
    #[error("case {0} not found")]
    CaseNotFound(rapport_core::CaseId),
    /// An account write found another version than it read (`expected` 0: a create of an
    /// existing account).
    #[error("account {account} is at version {actual}, not {expected}")]
    AccountConflict {
        /// The account.
        account: rapport_core::AccountId,
        /// The version read (0 for a create).
        expected: u64,
        /// The stored version.
        actual: u64,
    },
    /// An updated account does not exist.
    #[error("account {0} not found")]
    AccountNotFound(rapport_core::AccountId),
}

impl From<rapport_sql::seal::SealFailure> for ApplyError {
    fn from(e: rapport_sql::seal::SealFailure) -> Self {
        ApplyError::Sqlite(e.into())
    }
}

impl From<rusqlite::Error> for ApplyError {
    fn from(e: rusqlite::Error) -> Self {
        ApplyError::Sqlite(SqliteError::Driver(e))
    }
}

pub(crate) fn is_constraint(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == ErrorCode::ConstraintViolation)
}

/// The revenue as the nearest `f64` (the `revenue_num` prefilter column).
pub(crate) fn revenue_num(s: &Stats) -> f64 {
    let r = s.revenue_amount();
    if r.is_zero() {
        return 0.0;
    }
    r.to_string().parse().unwrap_or(0.0)
}

/// A customer row, serialised on the caller's thread so the writer only executes statements.
pub(crate) struct CustomerRow {
    pub(crate) id: CustomerId,
    pub(crate) version: i64,
    pub(crate) stage: &'static str,
    pub(crate) tier: &'static str,
    pub(crate) merged_into: Option<[u8; 16]>,
    pub(crate) created_at_us: i64,
    pub(crate) email: Option<ContactValue>,
    pub(crate) phone: Option<ContactValue>,
    pub(crate) orders: i64,
    pub(crate) purchase_days: i64,
    pub(crate) revenue_num: f64,
    pub(crate) last_purchase_day: Option<i64>,
    pub(crate) first_purchase_day: Option<i64>,
    pub(crate) customer_json: String,
    pub(crate) stats_json: String,
}

impl CustomerRow {
    pub(crate) fn new(
        c: &Customer,
        s: &Stats,
        sealer: Option<&Sealer>,
    ) -> Result<Self, SqliteError> {
        let (email, phone) = contact_columns(sealer, c)?;
        Ok(Self {
            id: c.id(),
            version: i64::try_from(c.version()).unwrap_or(i64::MAX),
            stage: c.stage().as_str(),
            tier: c.tier().as_str(),
            merged_into: match c.stage() {
                Stage::Merged { into } => Some(into.to_bytes()),
                _ => None,
            },
            created_at_us: time_to_us(c.created_at()),
            email,
            phone,
            orders: i64::from(s.orders()),
            purchase_days: i64::from(s.purchase_day_count()),
            revenue_num: revenue_num(s),
            last_purchase_day: s.last_purchase_day().map(day_number),
            first_purchase_day: s.first_purchase_day().map(day_number),
            customer_json: seal::customer_json(sealer, c)?,
            stats_json: to_json("rapport_customers", s)?,
        })
    }
}

pub(crate) const INSERT_CUSTOMER: &str =
    "INSERT INTO rapport_customers (tenant_id, customer_id, version, stage, tier, merged_into,
         created_at_us, email, phone, orders, purchase_days, revenue_num, last_purchase_day,
         first_purchase_day, customer_json, stats_json)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)";

/// Executes a prepared insert statement for `r`; returns the rows changed.
pub(crate) fn insert_row(
    stmt: &mut rusqlite::CachedStatement<'_>,
    tenant: [u8; 16],
    r: &CustomerRow,
) -> rusqlite::Result<usize> {
    stmt.execute(params![
        tenant,
        r.id.to_bytes(),
        r.version,
        r.stage,
        r.tier,
        r.merged_into,
        r.created_at_us,
        r.email,
        r.phone,
        r.orders,
        r.purchase_days,
        r.revenue_num,
        r.last_purchase_day,
        r.first_purchase_day,
        r.customer_json,
        r.stats_json,
    ])
}

struct ActivityRow {
    key: IdempotencyKey,
    id: [u8; 16],
    customer: [u8; 16],
    at_us: i64,
    kind: &'static str,
    json: String,
}

struct MessageRow {
    id: [u8; 16],
    occurred_at_us: i64,
    attempts: i64,
    json: String,
}

/// A validated, serialised changeset.
pub(crate) struct Prepared {
    /// True when the changeset erases a customer: the writer then checkpoints the WAL so the
    /// erased bytes leave the WAL file too.
    pub(crate) erases: bool,
    /// The customers the changeset erases, and the key store of an encrypting store: the
    /// writer makes new keys durable before the commit and deletes these customers' keys after
    /// it (crypto-shredding, which also makes the WAL checkpoint unnecessary).
    pub(crate) erased: Vec<CustomerId>,
    pub(crate) keys: Option<std::sync::Arc<dyn rapport_core::ports::KeyStore>>,
    pub(crate) tenant_id: TenantId,
    tenant: [u8; 16],
    customers: Vec<(Option<u64>, CustomerRow)>,
    activities: Vec<ActivityRow>,
    messages: Vec<MessageRow>,
    cases: Vec<crate::case::CaseRow>,
    accounts: crate::account::AccountRows,
    ledger: crate::consent::LedgerWrites,
    merges: crate::merge::PreparedMerges,
    lines: crate::line_items::LineWrites,
}

impl Prepared {
    /// Validates and serialises `cs` (on the caller's thread).
    pub(crate) fn new(
        tenant: TenantId,
        cs: &Changeset,
        sealer: Option<&Sealer>,
    ) -> Result<Self, ApplyError> {
        cs.validate(tenant)?;
        // Two writes of the changeset claiming one contact: refused before any statement.
        if let Err(rapport_core::StoreError::ContactTaken {
            customer,
            contact,
            existing,
        }) = rapport_core::ports::check_contacts(&cs.customers, |_| None)
        {
            return Err(ApplyError::ContactTaken {
                customer,
                contact,
                existing,
            });
        }
        let customers = cs
            .customers
            .iter()
            .map(|w| {
                let expected = match w {
                    CustomerWrite::Create { .. } => None,
                    CustomerWrite::Update {
                        expected_version, ..
                    } => Some(*expected_version),
                };
                Ok((expected, CustomerRow::new(w.customer(), w.stats(), sealer)?))
            })
            .collect::<Result<_, SqliteError>>()?;
        let activities = cs
            .activities
            .iter()
            .map(|a| {
                Ok(ActivityRow {
                    key: a.idempotency_key.clone(),
                    id: a.id.to_bytes(),
                    customer: a.customer.to_bytes(),
                    at_us: time_to_us(a.at),
                    kind: a.kind.activity_type().as_str(),
                    json: seal::activity_json(sealer, tenant, a)?,
                })
            })
            .collect::<Result<_, SqliteError>>()?;
        let messages = cs
            .outbox
            .iter()
            .map(|m| {
                Ok(MessageRow {
                    id: m.id.to_bytes(),
                    occurred_at_us: time_to_us(m.occurred_at),
                    attempts: i64::from(m.attempts),
                    json: to_json("rapport_outbox", m)?,
                })
            })
            .collect::<Result<_, SqliteError>>()?;
        let erased: Vec<CustomerId> = cs
            .customers
            .iter()
            .filter(|w| w.customer().stage() == Stage::Erased)
            .map(|w| w.customer().id())
            .collect();
        Ok(Self {
            erases: !erased.is_empty(),
            erased,
            keys: sealer.map(|s| s.keys().clone()),
            tenant_id: tenant,
            tenant: tenant.to_bytes(),
            customers,
            activities,
            messages,
            cases: crate::case::rows(cs)?,
            accounts: crate::account::rows(cs)?,
            ledger: crate::consent::LedgerWrites::new(tenant, cs, sealer)?,
            merges: crate::merge::PreparedMerges::new(cs, tenant, sealer)?,
            lines: crate::line_items::LineWrites::new(cs)?,
        })
    }
}

fn update(
    conn: &Connection,
    t: [u8; 16],
    r: &CustomerRow,
    expected: u64,
) -> Result<(), ApplyError> {
    let n = conn
        .prepare_cached(
            "UPDATE rapport_customers SET version = ?3, stage = ?4, tier = ?5, merged_into = ?6,
                 email = NULLIF(?7, unclaimed_email), phone = NULLIF(?8, unclaimed_phone), orders = ?9, purchase_days = ?10, revenue_num = ?11,
                 last_purchase_day = ?12, first_purchase_day = ?13, customer_json = ?14,
                 stats_json = ?15
             WHERE tenant_id = ?1 AND customer_id = ?2 AND version = ?16
               AND stage NOT IN ('merged', 'erased')",
        )?
        .execute(params![
            t,
            r.id.to_bytes(),
            r.version,
            r.stage,
            r.tier,
            r.merged_into,
            r.email,
            r.phone,
            r.orders,
            r.purchase_days,
            r.revenue_num,
            r.last_purchase_day,
            r.first_purchase_day,
            r.customer_json,
            r.stats_json,
            i64::try_from(expected).unwrap_or(i64::MAX),
        ]);
    let n = match n {
        Ok(n) => n,
        Err(e) if is_constraint(&e) => return Err(contact_taken(conn, t, r)?.unwrap_or(e.into())),
        Err(e) => return Err(e.into()),
    };
    if n == 1 {
        return Ok(());
    }
    let stored: Option<(i64, String)> = conn
        .prepare_cached(
            "SELECT version, stage FROM rapport_customers WHERE tenant_id = ?1 AND customer_id = ?2",
        )?
        .query_row(params![t, r.id.to_bytes()], |row| Ok((row.get(0)?, row.get(1)?)))
        .optional()?;
    // A tombstone is final: no changeset edits it, whatever version it read.
    if let Some(state) = stored.as_ref().and_then(|(_, stage)| tombstone(stage)) {
        return Err(ApplyError::Invalid(DomainError::Tombstoned {
            customer: r.id,
            state,
        }));
    }
    match stored.map(|(version, _)| version) {
        Some(actual) => Err(ApplyError::Conflict {
            customer: r.id,
            expected,
            actual: u64::try_from(actual).unwrap_or(0),
        }),
        None => Err(ApplyError::NotFound(r.id)),
    }
}

/// After a unique-constraint failure writing `r`: the live customer that holds one of its
/// contacts, as [`ApplyError::ContactTaken`]; `None` when none does (the failure was another
/// constraint).
pub(crate) fn contact_taken(
    conn: &Connection,
    t: [u8; 16],
    r: &CustomerRow,
) -> Result<Option<ApplyError>, ApplyError> {
    let lookups = [
        (
            ContactKind::Email,
            r.email.as_ref(),
            "SELECT customer_id FROM rapport_customers
             WHERE tenant_id = ?1 AND email = ?2 AND customer_id <> ?3",
        ),
        (
            ContactKind::Phone,
            r.phone.as_ref(),
            "SELECT customer_id FROM rapport_customers
             WHERE tenant_id = ?1 AND phone = ?2 AND customer_id <> ?3",
        ),
    ];
    for (contact, value, sql) in lookups {
        let Some(value) = value else { continue };
        let holder: Option<[u8; 16]> = conn
            .prepare_cached(sql)?
            .query_row(params![t, value, r.id.to_bytes()], |row| row.get(0))
            .optional()?;
        if let Some(holder) = holder {
            return Ok(Some(ApplyError::ContactTaken {
                customer: r.id,
                contact,
                existing: CustomerId::from_uuid(uuid::Uuid::from_bytes(holder)),
            }));
        }
    }
    Ok(None)
}

/// Writes one prepared changeset with the connection's transaction already open. The caller
/// wraps it in a savepoint and rolls back to it on `Err` or when duplicates are reported.
pub(crate) fn apply(conn: &Connection, p: &Prepared, seq: &mut i64) -> Result<Outcome, ApplyError> {
    let t = p.tenant;
    let mut out = Outcome::default();
    if !p.activities.is_empty() {
        let mut exists = conn.prepare_cached(
            "SELECT 1 FROM rapport_activities WHERE tenant_id = ?1 AND idempotency_key = ?2",
        )?;
        for a in &p.activities {
            if exists.exists(params![t, a.key.as_str()])? {
                out.duplicates.push(a.key.clone());
            }
        }
    }
    if !out.duplicates.is_empty() {
        return Ok(out);
    }
    // Tombstones first: they release their contacts, which another write of the same
    // changeset (a merge's survivor) may claim; the unique indexes check every statement.
    let tombstones_first = p
        .customers
        .iter()
        .filter(|(_, row)| tombstone(row.stage).is_some())
        .chain(
            p.customers
                .iter()
                .filter(|(_, row)| tombstone(row.stage).is_none()),
        );
    for (expected, row) in tombstones_first {
        match expected {
            None => {
                let mut stmt = conn.prepare_cached(INSERT_CUSTOMER)?;
                match insert_row(&mut stmt, t, row) {
                    Ok(_) => {}
                    Err(e) if is_constraint(&e) => {
                        return Err(contact_taken(conn, t, row)?
                            .unwrap_or(ApplyError::AlreadyExists(row.id)));
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            Some(v) if p.merges.revives(row.id) => crate::merge::revive(conn, t, row, *v)?,
            Some(v) => update(conn, t, row, *v)?,
        }
        out.customers += 1;
    }
    crate::case::write(conn, t, &p.cases)?;
    crate::account::write(conn, t, &p.accounts)?;
    if !p.activities.is_empty() {
        let mut ins = conn.prepare_cached(
            "INSERT INTO rapport_activities (tenant_id, idempotency_key, activity_id, customer_id,
                 at_us, kind, activity_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        for a in &p.activities {
            ins.execute(params![
                t,
                a.key.as_str(),
                a.id,
                a.customer,
                a.at_us,
                a.kind,
                a.json
            ])?;
            out.activities += 1;
        }
    }
    crate::merge::apply(conn, t, &p.merges)?;
    p.lines.apply(conn, t)?;
    if !p.messages.is_empty() {
        let mut ins = conn.prepare_cached(
            "INSERT INTO rapport_outbox (tenant_id, message_id, seq, occurred_at_us, attempts,
                 available_at_us, message_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        for m in &p.messages {
            *seq += 1;
            ins.execute(params![
                t,
                m.id,
                *seq,
                m.occurred_at_us,
                m.attempts,
                i64::MIN,
                m.json
            ])?;
            out.messages += 1;
        }
    }
    p.ledger.apply(conn, t)?;
    Ok(out)
}

/// `Some("merged")`/`Some("erased")` for a stored tombstone stage.
fn tombstone(stage: &str) -> Option<&'static str> {
    match stage {
        "merged" => Some("merged"),
        "erased" => Some("erased"),
        _ => None,
    }
}
