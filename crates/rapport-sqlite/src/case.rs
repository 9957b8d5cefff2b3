//! Cases in SQLite (`rapport_cases`, schema version 6): serialised on the caller's thread,
//! written inside the changeset's savepoint with the same version checks as customers, read
//! by the reader threads.

use rapport_core::{Case, CaseId, CaseQuery, CaseStore, Changeset, StoreError, TenantId};
use rusqlite::{Connection, OptionalExtension, params};

use crate::SqliteStore;
use crate::apply::ApplyError;
use crate::codec::{from_json, time_to_us, to_json};
use crate::error::SqliteError;

const TABLE: &str = "rapport_cases";

/// One case row ready to write.
pub(crate) struct CaseRow {
    id: CaseId,
    expected: Option<u64>,
    customer: [u8; 16],
    version: i64,
    status: &'static str,
    severity: &'static str,
    opened_at_us: i64,
    json: String,
}

/// Serialises a changeset's case writes.
pub(crate) fn rows(cs: &Changeset) -> Result<Vec<CaseRow>, SqliteError> {
    cs.cases
        .iter()
        .map(|w| {
            let c = w.case();
            Ok(CaseRow {
                id: c.id(),
                expected: w.expected_version(),
                customer: c.customer.to_bytes(),
                version: i64::try_from(c.version()).unwrap_or(i64::MAX),
                status: c.status().as_str(),
                severity: c.severity.as_str(),
                opened_at_us: time_to_us(c.opened_at()),
                json: to_json(TABLE, c)?,
            })
        })
        .collect()
}

fn stored_version(conn: &Connection, t: [u8; 16], id: CaseId) -> Result<u64, ApplyError> {
    let v: Option<i64> = conn
        .prepare_cached("SELECT version FROM rapport_cases WHERE tenant_id = ?1 AND case_id = ?2")?
        .query_row(params![t, id.to_bytes()], |r| r.get(0))
        .optional()?;
    Ok(v.map_or(0, |v| u64::try_from(v).unwrap_or(0)))
}

/// Writes the case rows inside the open savepoint; returns how many.
pub(crate) fn write(conn: &Connection, t: [u8; 16], rows: &[CaseRow]) -> Result<usize, ApplyError> {
    for r in rows {
        let n = match r.expected {
            None => conn
                .prepare_cached(
                    "INSERT INTO rapport_cases (tenant_id, case_id, customer_id, version, status,
                         severity, opened_at_us, case_json)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT DO NOTHING",
                )?
                .execute(params![
                    t,
                    r.id.to_bytes(),
                    r.customer,
                    r.version,
                    r.status,
                    r.severity,
                    r.opened_at_us,
                    r.json
                ])?,
            Some(v) => conn
                .prepare_cached(
                    "UPDATE rapport_cases SET customer_id = ?3, version = ?4, status = ?5,
                         severity = ?6, opened_at_us = ?7, case_json = ?8
                     WHERE tenant_id = ?1 AND case_id = ?2 AND version = ?9",
                )?
                .execute(params![
                    t,
                    r.id.to_bytes(),
                    r.customer,
                    r.version,
                    r.status,
                    r.severity,
                    r.opened_at_us,
                    r.json,
                    i64::try_from(v).unwrap_or(i64::MAX)
                ])?,
        };
        if n != 1 {
            let actual = stored_version(conn, t, r.id)?;
            return Err(match r.expected {
                Some(_) if actual == 0 => ApplyError::CaseNotFound(r.id),
                expected => ApplyError::CaseConflict {
                    case: r.id,
                    expected: expected.unwrap_or(0),
                    actual,
                },
            });
        }
    }
    Ok(rows.len())
}

fn decode(json: rusqlite::Result<String>) -> Result<Case, SqliteError> {
    from_json(TABLE, &json?)
}

pub(crate) fn load(
    conn: &Connection,
    t: TenantId,
    id: CaseId,
) -> Result<Option<Case>, SqliteError> {
    conn.prepare_cached(
        "SELECT case_json FROM rapport_cases WHERE tenant_id = ?1 AND case_id = ?2",
    )?
    .query_row(params![t.to_bytes(), id.to_bytes()], |r| {
        r.get::<_, String>(0)
    })
    .optional()?
    .map(|j| decode(Ok(j)))
    .transpose()
}

pub(crate) fn list(conn: &Connection, t: TenantId, q: CaseQuery) -> Result<Vec<Case>, SqliteError> {
    // An empty BLOB sorts before every id; a NULL customer matches every customer.
    let after: Vec<u8> = q.after.map_or_else(Vec::new, |a| a.to_bytes().to_vec());
    let customer: Option<[u8; 16]> = q.customer.map(|c| c.to_bytes());
    let mut stmt = conn.prepare_cached(
        "SELECT case_json FROM rapport_cases
         WHERE tenant_id = ?1 AND case_id > ?2
           AND (?3 IS NULL OR customer_id = ?3)
           AND (?4 = 0 OR status IN ('open', 'in_progress', 'waiting_on_customer'))
         ORDER BY case_id LIMIT ?5",
    )?;
    let rows = stmt.query_map(
        params![
            t.to_bytes(),
            after,
            customer,
            i64::from(q.open_only),
            i64::from(q.limit)
        ],
        |r| r.get::<_, String>(0),
    )?;
    rows.map(decode).collect()
}

/// Every case of `customer`, in id order, through the customer index: what a merge moves.
/// (`list`'s general statement binds its optional filters, whose values SQLite's planner
/// weighs against the partial index, so it is prepared again on every call.)
pub(crate) fn of_customer(
    conn: &Connection,
    t: TenantId,
    customer: rapport_core::CustomerId,
) -> Result<Vec<Case>, SqliteError> {
    let mut stmt = conn.prepare_cached(
        "SELECT case_json FROM rapport_cases
         WHERE tenant_id = ?1 AND customer_id = ?2 ORDER BY case_id",
    )?;
    let rows = stmt.query_map(params![t.to_bytes(), customer.to_bytes()], |r| {
        r.get::<_, String>(0)
    })?;
    rows.map(decode).collect()
}

impl CaseStore for SqliteStore {
    async fn load_case(&self, tenant: TenantId, id: CaseId) -> Result<Option<Case>, StoreError> {
        Ok(self.readers.read(move |c| load(c, tenant, id)).await?)
    }

    async fn cases(&self, tenant: TenantId, query: CaseQuery) -> Result<Vec<Case>, StoreError> {
        Ok(self.readers.read(move |c| list(c, tenant, query)).await?)
    }
}
