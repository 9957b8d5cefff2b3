//! The read statements, run by the reader threads of [`crate::pool::ReadPool`] on their
//! read-only connections (WAL lets them run beside the writer).

use chrono::{DateTime, Utc};
use rapport_core::{
    AccountRoleSet, Activity, ContactKey, Customer, CustomerId, Segment, SegmentContext, Stats,
    TenantId, segment::PurchaseSummary,
};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use crate::codec::{from_json, time_to_us};
use crate::error::SqliteError;
use rapport_sql::seal::{self, Sealer};
use rapport_sql::segment::{Cond, prefilter_with};

use crate::segment_sql::{self, Sqlite};

fn customer_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(String, String)> {
    Ok((r.get(0)?, r.get(1)?))
}

fn decode(
    row: (String, String),
    sealer: Option<&Sealer>,
) -> Result<(Customer, Stats), SqliteError> {
    Ok((
        seal::decode_customer(sealer, &row.0)?,
        from_json("rapport_customers", &row.1)?,
    ))
}

pub(crate) fn load(
    conn: &Connection,
    tenant: TenantId,
    id: CustomerId,
    sealer: Option<&Sealer>,
) -> Result<Option<(Customer, Stats)>, SqliteError> {
    let row = conn
        .prepare_cached(
            "SELECT customer_json, stats_json FROM rapport_customers
             WHERE tenant_id = ?1 AND customer_id = ?2",
        )?
        .query_row(params![tenant.to_bytes(), id.to_bytes()], customer_row)
        .optional()?;
    row.map(|r| decode(r, sealer)).transpose()
}

pub(crate) fn find_by_contact(
    conn: &Connection,
    tenant: TenantId,
    key: &ContactKey,
    sealer: Option<&Sealer>,
) -> Result<Vec<CustomerId>, SqliteError> {
    // The live customer holding the contact first, then any younger duplicates written before
    // the store enforced one customer per contact (migration 2).
    let sql = match key {
        ContactKey::Email(_) => {
            "SELECT customer_id, 0 FROM rapport_customers WHERE tenant_id = ?1 AND email = ?2
             UNION ALL
             SELECT customer_id, 1 FROM rapport_customers WHERE tenant_id = ?1 AND unclaimed_email = ?2
             ORDER BY 2, 1"
        }
        _ => {
            "SELECT customer_id, 0 FROM rapport_customers WHERE tenant_id = ?1 AND phone = ?2
             UNION ALL
             SELECT customer_id, 1 FROM rapport_customers WHERE tenant_id = ?1 AND unclaimed_phone = ?2
             ORDER BY 2, 1"
        }
    };
    let mut stmt = conn.prepare_cached(sql)?;
    let value = crate::codec::contact_lookup(sealer, tenant, key)?;
    let rows = stmt.query_map(params![tenant.to_bytes(), value], |r| {
        r.get::<_, [u8; 16]>(0)
    })?;
    rows.map(|r| Ok(CustomerId::from_uuid(uuid::Uuid::from_bytes(r?))))
        .collect()
}

pub(crate) fn scan(
    conn: &Connection,
    tenant: TenantId,
    after: Option<CustomerId>,
    limit: u32,
    sealer: Option<&Sealer>,
) -> Result<Vec<(Customer, Stats)>, SqliteError> {
    let mut stmt = conn.prepare_cached(
        "SELECT customer_json, stats_json FROM rapport_customers
         WHERE tenant_id = ?1 AND customer_id > ?2 ORDER BY customer_id LIMIT ?3",
    )?;
    // An empty BLOB sorts before every id.
    let after: Vec<u8> = after.map_or_else(Vec::new, |a| a.to_bytes().to_vec());
    let rows = stmt.query_map(
        params![tenant.to_bytes(), after, i64::from(limit)],
        customer_row,
    )?;
    rows.map(|r| decode(r?, sealer)).collect()
}

/// Up to `limit` customers after `after` (in id order) in `segment` at `now`: the compiled
/// prefilter selects candidates in one statement (one snapshot), each is decoded and
/// re-checked exactly with [`Segment::matches`], and reading stops at `limit` matches.
pub(crate) fn query(
    conn: &Connection,
    tenant: TenantId,
    segment: &Segment,
    now: DateTime<Utc>,
    after: Option<CustomerId>,
    limit: u32,
    sealer: Option<&Sealer>,
) -> Result<Vec<(Customer, Stats)>, SqliteError> {
    let mut out = Vec::new();
    if limit == 0 {
        return Ok(out);
    }
    let filter = match prefilter_with(&Sqlite, segment, now, sealer.is_some()) {
        Cond::False => return Ok(out),
        other => other.into_sql(&Sqlite),
    };
    // The customer's account roles and line lists, for the re-check, when the segment tests
    // them (roles in column 2, lists in column 3).
    let roles = segment.uses_account_roles();
    let items = segment.uses_line_items();
    let sql = format!(
        "SELECT customer_json, stats_json, {}, {} FROM rapport_customers
         WHERE tenant_id = ? AND customer_id > ? AND {} ORDER BY customer_id",
        if roles {
            segment_sql::ACCOUNT_ROLES.to_owned()
        } else {
            "NULL".to_owned()
        },
        if items {
            segment_sql::line_items_sql().lists_of_row()
        } else {
            "NULL".to_owned()
        },
        filter.render(&Sqlite, 3)
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let after: Vec<u8> = after.map_or_else(Vec::new, |a| a.to_bytes().to_vec());
    let params = [Value::Blob(tenant.to_bytes().to_vec()), Value::Blob(after)]
        .into_iter()
        .chain(filter.params().iter().map(segment_sql::value));
    let mut rows = stmt.query(params_from_iter(params))?;
    while let Some(row) = rows.next()? {
        let (customer, stats) = decode(customer_row(row)?, sealer)?;
        let held = if roles {
            rapport_sql::segment::account_roles(row.get::<_, Option<String>>(2)?.as_deref())
        } else {
            AccountRoleSet::default()
        };
        let bought = if items {
            rapport_sql::segment::purchase_summary(
                row.get::<_, Option<String>>(3)?.as_deref(),
                customer.id(),
            )?
        } else {
            PurchaseSummary::default()
        };
        let ctx = SegmentContext::new(&customer, &stats, now)
            .with_account_roles(held)
            .with_purchases(&bought);
        if segment.matches(&ctx) {
            out.push((customer, stats));
            if out.len() == limit as usize {
                break;
            }
        }
    }
    Ok(out)
}

pub(crate) fn activities(
    conn: &Connection,
    tenant: TenantId,
    id: CustomerId,
    from: Option<chrono::DateTime<chrono::Utc>>,
    to: Option<chrono::DateTime<chrono::Utc>>,
    sealer: Option<&Sealer>,
) -> Result<Vec<Activity>, SqliteError> {
    // In time order straight from the (tenant, customer, at_us) index: no sorter copying
    // every row.
    let mut stmt = conn.prepare_cached(
        "SELECT activity_json FROM rapport_activities
         WHERE tenant_id = ?1 AND customer_id = ?2 AND at_us >= ?3 AND at_us < ?4
         ORDER BY at_us",
    )?;
    let mut rows = stmt.query(params![
        tenant.to_bytes(),
        id.to_bytes(),
        from.map_or(i64::MIN, time_to_us),
        to.map_or(i64::MAX, time_to_us)
    ])?;
    let mut out = if sealer.is_some() {
        // Sealed rows are opened on two threads for a long timeline: collected first.
        let mut json: Vec<String> = Vec::new();
        while let Some(r) = rows.next()? {
            json.push(r.get(0)?);
        }
        seal::decode_activities(sealer, tenant, &json)?
    } else {
        plain_activities(&mut rows)?
    };
    // Activities at the same microsecond in idempotency-key order, as every store gives them
    // (the sort is adaptive: a run already in order costs one comparison per row).
    out.sort_by(|a, b| (a.at, &a.idempotency_key).cmp(&(b.at, &b.idempotency_key)));
    Ok(out)
}

/// The text of a row's first column.
fn text<'r>(r: &'r rusqlite::Row<'_>) -> Result<&'r str, SqliteError> {
    r.get_ref(0)?.as_str().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, e.into()).into()
    })
}

/// Plain `activity_json` rows, parsed from SQLite's own buffer: no copy of each row's text
/// (parsing a long timeline on a second thread beside the stepping was tried: no faster
/// end to end, `benches/privacy.rs`).
fn plain_activities(rows: &mut rusqlite::Rows<'_>) -> Result<Vec<Activity>, SqliteError> {
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(from_json("activities", text(r)?)?);
    }
    Ok(out)
}
