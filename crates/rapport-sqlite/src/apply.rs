//! Applying one `Changeset` inside the writer's open transaction, under a savepoint so a
//! failing changeset leaves nothing behind while the others in the same group commit stay.

use rapport_core::{
    Changeset, Customer, CustomerId, CustomerWrite, IdempotencyKey, Stage, Stats, TenantId,
};
use rusqlite::{Connection, ErrorCode, OptionalExtension, params};

use crate::codec::{day_number, time_to_us, to_json};
use crate::error::SqliteError;

/// What one changeset did.
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
    /// The changeset breaks its own rules.
    #[error(transparent)]
    Invalid(#[from] rapport_core::DomainError),
    /// The database failed.
    #[error(transparent)]
    Sqlite(#[from] SqliteError),
}

impl From<rusqlite::Error> for ApplyError {
    fn from(e: rusqlite::Error) -> Self {
        ApplyError::Sqlite(SqliteError::Driver(e))
    }
}

fn is_constraint(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.code == ErrorCode::ConstraintViolation)
}

struct Row<'a> {
    tenant: [u8; 16],
    id: [u8; 16],
    customer: &'a Customer,
    stats: &'a Stats,
}

fn merged_into(c: &Customer) -> Option<[u8; 16]> {
    match c.stage() {
        Stage::Merged { into } => Some(into.to_bytes()),
        _ => None,
    }
}

fn contact(c: &Customer) -> (Option<String>, Option<String>) {
    (
        c.profile
            .email
            .as_ref()
            .map(|e| e.expose().as_str().to_owned()),
        c.profile
            .phone
            .as_ref()
            .map(|p| p.expose().as_str().to_owned()),
    )
}

fn revenue_num(s: &Stats) -> f64 {
    s.revenue_amount().to_string().parse().unwrap_or(0.0)
}

/// The columns derived from a customer and its stats.
pub(crate) struct Projection {
    pub(crate) merged_into: Option<[u8; 16]>,
    pub(crate) email: Option<String>,
    pub(crate) phone: Option<String>,
    pub(crate) orders: i64,
    pub(crate) purchase_days: i64,
    pub(crate) revenue_num: f64,
    pub(crate) last_purchase_day: Option<i64>,
    pub(crate) first_purchase_day: Option<i64>,
}

pub(crate) fn project(c: &Customer, s: &Stats) -> Projection {
    let (email, phone) = contact(c);
    Projection {
        merged_into: merged_into(c),
        email,
        phone,
        orders: i64::from(s.orders()),
        purchase_days: i64::from(s.purchase_day_count()),
        revenue_num: revenue_num(s),
        last_purchase_day: s.last_purchase_day().map(day_number),
        first_purchase_day: s.first_purchase_day().map(day_number),
    }
}

fn insert(conn: &Connection, r: &Row<'_>) -> Result<(), ApplyError> {
    let p = project(r.customer, r.stats);
    let res = conn
        .prepare_cached(
            "INSERT INTO rapport_customers (tenant_id, customer_id, version, stage, tier, merged_into,
                 created_at_us, email, phone, orders, purchase_days, revenue_num, last_purchase_day,
                 first_purchase_day, customer_json, stats_json)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)",
        )?
        .execute(params![
            r.tenant,
            r.id,
            r.customer.version() as i64,
            r.customer.stage().as_str(),
            r.customer.tier().as_str(),
            p.merged_into,
            time_to_us(r.customer.created_at()),
            p.email,
            p.phone,
            p.orders,
            p.purchase_days,
            p.revenue_num,
            p.last_purchase_day,
            p.first_purchase_day,
            to_json("rapport_customers", r.customer)?,
            to_json("rapport_customers", r.stats)?,
        ]);
    match res {
        Ok(_) => Ok(()),
        Err(e) if is_constraint(&e) => Err(ApplyError::AlreadyExists(r.customer.id())),
        Err(e) => Err(e.into()),
    }
}

fn update(conn: &Connection, r: &Row<'_>, expected: u64) -> Result<(), ApplyError> {
    let p = project(r.customer, r.stats);
    let n = conn
        .prepare_cached(
            "UPDATE rapport_customers SET version = ?3, stage = ?4, tier = ?5, merged_into = ?6,
                 email = ?7, phone = ?8, orders = ?9, purchase_days = ?10, revenue_num = ?11,
                 last_purchase_day = ?12, first_purchase_day = ?13, customer_json = ?14,
                 stats_json = ?15
             WHERE tenant_id = ?1 AND customer_id = ?2 AND version = ?16",
        )?
        .execute(params![
            r.tenant,
            r.id,
            r.customer.version() as i64,
            r.customer.stage().as_str(),
            r.customer.tier().as_str(),
            p.merged_into,
            p.email,
            p.phone,
            p.orders,
            p.purchase_days,
            p.revenue_num,
            p.last_purchase_day,
            p.first_purchase_day,
            to_json("rapport_customers", r.customer)?,
            to_json("rapport_customers", r.stats)?,
            expected as i64,
        ])?;
    if n == 1 {
        return Ok(());
    }
    let actual: Option<i64> = conn
        .prepare_cached(
            "SELECT version FROM rapport_customers WHERE tenant_id = ?1 AND customer_id = ?2",
        )?
        .query_row(params![r.tenant, r.id], |row| row.get(0))
        .optional()?;
    match actual {
        Some(actual) => Err(ApplyError::Conflict {
            customer: r.customer.id(),
            expected,
            actual: actual as u64,
        }),
        None => Err(ApplyError::NotFound(r.customer.id())),
    }
}

/// Writes one changeset with the connection's transaction already open. The caller wraps it
/// in a savepoint and rolls back to it on `Err` or when duplicates are reported.
pub(crate) fn apply(
    conn: &Connection,
    tenant: TenantId,
    cs: &Changeset,
    seq_base: &mut i64,
) -> Result<Outcome, ApplyError> {
    cs.validate(tenant)?;
    let t = tenant.to_bytes();
    let mut out = Outcome::default();
    {
        let mut exists = conn.prepare_cached(
            "SELECT 1 FROM rapport_activities WHERE tenant_id = ?1 AND idempotency_key = ?2",
        )?;
        for a in &cs.activities {
            if exists.exists(params![t, a.idempotency_key.as_str()])? {
                out.duplicates.push(a.idempotency_key.clone());
            }
        }
    }
    if !out.duplicates.is_empty() {
        return Ok(out);
    }
    for w in &cs.customers {
        let row = Row {
            tenant: t,
            id: w.customer().id().to_bytes(),
            customer: w.customer(),
            stats: w.stats(),
        };
        match w {
            CustomerWrite::Create { .. } => insert(conn, &row)?,
            CustomerWrite::Update {
                expected_version, ..
            } => update(conn, &row, *expected_version)?,
        }
        out.customers += 1;
    }
    {
        let mut ins = conn.prepare_cached(
            "INSERT INTO rapport_activities (tenant_id, idempotency_key, activity_id, customer_id,
                 at_us, kind, activity_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        for a in &cs.activities {
            ins.execute(params![
                t,
                a.idempotency_key.as_str(),
                a.id.to_bytes(),
                a.customer.to_bytes(),
                time_to_us(a.at),
                a.kind.activity_type().as_str(),
                to_json("rapport_activities", a)?,
            ])?;
            out.activities += 1;
        }
    }
    {
        let mut ins = conn.prepare_cached(
            "INSERT INTO rapport_outbox (tenant_id, message_id, seq, occurred_at_us, attempts,
                 available_at_us, message_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        for m in &cs.outbox {
            *seq_base += 1;
            ins.execute(params![
                t,
                m.id.to_bytes(),
                *seq_base,
                time_to_us(m.occurred_at),
                i64::from(m.attempts),
                i64::MIN,
                to_json("rapport_outbox", m)?,
            ])?;
            out.messages += 1;
        }
    }
    Ok(out)
}
