//! The bulk import path: one `BEGIN IMMEDIATE` transaction per batch, prepared statements,
//! idempotent on re-run (customers by id, activities by idempotency key).
//!
//! A customer batch reaches the writer as a stream of chunks: the writer opens the batch's
//! transaction and inserts each chunk while the caller serialises the next; only
//! [`Feed::Commit`] commits, so a caller that fails (or panics) half-way leaves nothing behind.

use std::collections::HashSet;
use std::ops::Range;
use std::sync::mpsc;

use rapport_core::ports::{
    ActivityImportReport, ImportActivity, ImportNeeds, ImportPolicy, by_customer,
    ensure_importable, fold_import,
};
use rapport_core::{Customer, IdempotencyKey, Stage, Stats, TenantId};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::apply::{ApplyError, CustomerRow, revenue_num};
use crate::codec::{day_number, from_json, time_to_us};
use crate::error::SqliteError;
use rapport_sql::seal::{self, Sealer};

pub use rapport_sql::ImportReport;

/// Rows per chunk streamed to the writer: the caller serialises the next chunk while the writer
/// inserts this one, inside the batch's one transaction.
pub(crate) const CHUNK_ROWS: usize = 1_000;

/// The WAL size (bytes) at which an import commit checkpoints, instead of SQLite's default of
/// 1,000 pages: a 10k-customer batch is ~5 MB, so the default copies every batch back into the
/// database file right after writing it, and the index pages a batch shares with the next
/// ones are copied again each time. Set only while an import transaction runs; the
/// connection's own value is restored after it (the next ordinary commit then checkpoints).
const IMPORT_AUTOCHECKPOINT_BYTES: i64 = 64 << 20;

/// A customer row of an import chunk: text (JSON, contact keys) lives in the chunk's buffer.
struct ImportRow {
    id: [u8; 16],
    version: i64,
    stage: &'static str,
    tier: &'static str,
    merged_into: Option<[u8; 16]>,
    created_at_us: i64,
    email: Option<Contact>,
    phone: Option<Contact>,
    orders: i64,
    purchase_days: i64,
    revenue_num: f64,
    last_purchase_day: Option<i64>,
    first_purchase_day: Option<i64>,
    customer_json: Range<usize>,
    stats_json: Range<usize>,
}

/// A contact column of an import row: plain text in the chunk's buffer, or a short blind
/// index (encryption on).
#[derive(Clone)]
enum Contact {
    Text(Range<usize>),
    Blind(rapport_sql::seal::ShortIndex),
}

/// Up to [`CHUNK_ROWS`] serialised customers: one text buffer and one row vector, so a chunk
/// costs two allocations instead of four per row.
pub(crate) struct Chunk {
    text: String,
    rows: Vec<ImportRow>,
}

/// What the caller streams to the writer for one batch.
pub(crate) enum Feed {
    /// More rows of the batch.
    Rows(Chunk),
    /// The batch is complete: commit it.
    Commit,
}

/// Refuses a batch holding another tenant's customer (before anything is sent to the writer).
pub(crate) fn check_tenant(
    tenant: TenantId,
    batch: &[(Customer, Stats)],
) -> Result<(), ApplyError> {
    match batch.iter().find(|(c, _)| c.tenant() != tenant) {
        Some((c, _)) => Err(ApplyError::Invalid(
            rapport_core::DomainError::InvalidChangeset {
                reason: format!("customer {} belongs to another tenant", c.id()),
            },
        )),
        None => Ok(()),
    }
}

fn corrupt(e: impl std::fmt::Display) -> SqliteError {
    SqliteError::Corrupt {
        table: "rapport_customers",
        reason: e.to_string(),
    }
}

fn push_str(buf: &mut Vec<u8>, s: &str) -> Range<usize> {
    let start = buf.len();
    buf.extend_from_slice(s.as_bytes());
    start..buf.len()
}

fn push_json<T: serde::Serialize>(buf: &mut Vec<u8>, v: &T) -> Result<Range<usize>, SqliteError> {
    let start = buf.len();
    serde_json::to_writer(&mut *buf, v).map_err(corrupt)?;
    Ok(start..buf.len())
}

/// Serialises customers (already checked to be of the batch's tenant) into one chunk, with
/// the same columns and JSON as [`CustomerRow::new`].
pub(crate) fn prepare_chunk(
    batch: &[(Customer, Stats)],
    sealer: Option<&Sealer>,
) -> Result<Chunk, SqliteError> {
    let mut buf = Vec::with_capacity(batch.len() * 384);
    let mut rows = Vec::with_capacity(batch.len());
    for (c, s) in batch {
        let (email, phone) = match sealer {
            Some(s) => {
                let (e, p) = s.short_contact_columns(c)?;
                (e.map(Contact::Blind), p.map(Contact::Blind))
            }
            None => {
                let (e, p) = rapport_sql::codec::claimed_contacts(c);
                (
                    e.map(|e| Contact::Text(push_str(&mut buf, e))),
                    p.map(|p| Contact::Text(push_str(&mut buf, p))),
                )
            }
        };
        let customer_json = match sealer {
            Some(s) => push_str(&mut buf, &s.customer_json(c)?),
            None => push_json(&mut buf, c)?,
        };
        rows.push(ImportRow {
            id: c.id().to_bytes(),
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
            customer_json,
            stats_json: push_json(&mut buf, s)?,
        });
    }
    // serde_json writes UTF-8 and the contact keys are `str`s: one check for the whole chunk.
    let text = String::from_utf8(buf).map_err(corrupt)?;
    Ok(Chunk { text, rows })
}

/// Streams `batch` to a writer job started with [`customers`], chunk by chunk, then asks it to
/// commit. On a serialisation error the feed is dropped unfinished and the writer rolls the
/// batch back.
pub(crate) fn feed_customers(
    feed: &mpsc::Sender<Feed>,
    batch: &[(Customer, Stats)],
    sealer: Option<&Sealer>,
) -> Result<(), ApplyError> {
    for part in batch.chunks(CHUNK_ROWS) {
        let chunk = prepare_chunk(part, sealer)?;
        if feed.send(Feed::Rows(chunk)).is_err() {
            // The writer stopped reading (it failed): its reply carries the error.
            return Ok(());
        }
    }
    let _ = feed.send(Feed::Commit);
    Ok(())
}

const INSERT_NEW_CUSTOMER: &str =
    "INSERT INTO rapport_customers (tenant_id, customer_id, version, stage, tier, merged_into,
         created_at_us, email, phone, orders, purchase_days, revenue_num, last_purchase_day,
         first_purchase_day, customer_json, stats_json)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)
     ON CONFLICT DO NOTHING";

/// Whether a customer id is stored: tells a row skipped as already imported from one whose
/// contact another live customer holds.
const CUSTOMER_EXISTS: &str =
    "SELECT 1 FROM rapport_customers WHERE tenant_id = ?1 AND customer_id = ?2";

/// A contact column of a chunk's row, as bound.
fn contact_value<'a>(chunk: &'a Chunk, c: &'a Contact) -> Result<ToSqlOutput<'a>, SqliteError> {
    Ok(ToSqlOutput::Borrowed(match c {
        Contact::Text(r) => ValueRef::Text(
            chunk
                .text
                .get(r.clone())
                .ok_or_else(|| corrupt("bad range"))?
                .as_bytes(),
        ),
        Contact::Blind(b) => ValueRef::Blob(b),
    }))
}

fn insert_chunk(
    ins: &mut rusqlite::CachedStatement<'_>,
    exists: &mut rusqlite::CachedStatement<'_>,
    tenant: [u8; 16],
    chunk: &Chunk,
    report: &mut ImportReport,
) -> Result<(), ApplyError> {
    let text = |r: &Range<usize>| {
        chunk
            .text
            .get(r.clone())
            .ok_or_else(|| corrupt("bad range"))
    };
    let contact = |c| contact_value(chunk, c);
    for r in &chunk.rows {
        let email = r.email.as_ref().map(contact).transpose()?;
        let phone = r.phone.as_ref().map(contact).transpose()?;
        let n = ins.execute(params![
            tenant,
            r.id,
            r.version,
            r.stage,
            r.tier,
            r.merged_into,
            r.created_at_us,
            email,
            phone,
            r.orders,
            r.purchase_days,
            r.revenue_num,
            r.last_purchase_day,
            r.first_purchase_day,
            text(&r.customer_json)?,
            text(&r.stats_json)?,
        ])?;
        report.rows += 1;
        if n == 1 {
            report.inserted += 1;
        } else if exists.exists(params![tenant, r.id])? {
            report.skipped += 1;
        } else {
            report.contact_taken += 1;
        }
    }
    Ok(())
}

/// Inserts customers that do not exist yet, in one transaction, reading the batch's chunks
/// from `feed` until [`Feed::Commit`]; existing ids are skipped, not overwritten. A feed that
/// ends without `Commit` (the caller failed) rolls the whole batch back.
pub(crate) fn customers(
    conn: &mut Connection,
    tenant: TenantId,
    feed: &mpsc::Receiver<Feed>,
    sealer: Option<&Sealer>,
) -> Result<ImportReport, ApplyError> {
    let restore: i64 = conn.pragma_query_value(None, "wal_autocheckpoint", |r| r.get(0))?;
    let page: i64 = conn.pragma_query_value(None, "page_size", |r| r.get(0))?;
    conn.pragma_update(
        None,
        "wal_autocheckpoint",
        IMPORT_AUTOCHECKPOINT_BYTES / page.max(512),
    )?;
    let r = customers_in_tx(conn, tenant.to_bytes(), feed, sealer);
    // Not failing the batch on this: it may have committed, and a connection left with the
    // larger checkpoint size only keeps a larger WAL.
    let _ = conn.pragma_update(None, "wal_autocheckpoint", restore);
    r
}

fn customers_in_tx(
    conn: &mut Connection,
    tenant: [u8; 16],
    feed: &mpsc::Receiver<Feed>,
    sealer: Option<&Sealer>,
) -> Result<ImportReport, ApplyError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut report = ImportReport::default();
    {
        let mut ins = tx.prepare_cached(INSERT_NEW_CUSTOMER)?;
        let mut exists = tx.prepare_cached(CUSTOMER_EXISTS)?;
        loop {
            match feed.recv() {
                Ok(Feed::Rows(chunk)) => {
                    insert_chunk(&mut ins, &mut exists, tenant, &chunk, &mut report)?;
                }
                Ok(Feed::Commit) => break,
                Err(_) => {
                    return Err(ApplyError::Sqlite(SqliteError::Unavailable(
                        "the import batch ended before it was complete; nothing of it was written"
                            .into(),
                    )));
                }
            }
        }
    }
    sync_keys(sealer)?;
    tx.commit()?;
    Ok(report)
}

/// Makes the keys that sealed the rows durable before the rows are committed.
fn sync_keys(sealer: Option<&Sealer>) -> Result<(), SqliteError> {
    match sealer {
        Some(s) => s.keys().sync().map_err(SqliteError::Keys),
        None => Ok(()),
    }
}

/// Imports activities with their line items in one transaction
/// ([`ActivityImport`](rapport_core::ports::ActivityImport)'s semantics): keys already stored
/// (or earlier in the batch) are skipped; each customer's new rows are folded by
/// [`fold_import`] — its stored activities and line lists read in the same transaction only
/// when a new row is a refund — and written with their lines and the customer's stats (its
/// version steps by one). An activity of an unknown customer, or one the rules refuse, fails
/// the whole batch.
pub(crate) fn activities(
    conn: &mut Connection,
    tenant: TenantId,
    batch: Vec<ImportActivity>,
    policy: &ImportPolicy,
    sealer: Option<&Sealer>,
) -> Result<ActivityImportReport, ApplyError> {
    let t = tenant.to_bytes();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut report = ActivityImportReport {
        rows: batch.len(),
        ..ActivityImportReport::default()
    };
    let stored: HashSet<IdempotencyKey> = {
        let mut probe = tx.prepare_cached(
            "SELECT 1 FROM rapport_activities WHERE tenant_id = ?1 AND idempotency_key = ?2",
        )?;
        let mut stored = HashSet::new();
        for r in &batch {
            let key = &r.activity.idempotency_key;
            if probe.exists(params![t, key.as_str()])? {
                stored.insert(key.clone());
            }
        }
        stored
    };
    let (groups, skipped) = by_customer(batch, |k| stored.contains(k));
    report.skipped = skipped;
    {
        let mut ins = tx.prepare_cached(
            "INSERT INTO rapport_activities (tenant_id, idempotency_key, activity_id, customer_id,
                 at_us, kind, activity_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        let mut get = tx.prepare_cached(
            "SELECT customer_json, stats_json FROM rapport_customers
             WHERE tenant_id = ?1 AND customer_id = ?2",
        )?;
        let mut put = tx.prepare_cached(
            "UPDATE rapport_customers SET version = ?3, orders = ?4, purchase_days = ?5,
                 revenue_num = ?6, last_purchase_day = ?7, first_purchase_day = ?8,
                 customer_json = ?9, stats_json = ?10
             WHERE tenant_id = ?1 AND customer_id = ?2",
        )?;
        for (id, fresh) in groups {
            let row: Option<(String, String)> = get
                .query_row(params![t, id.to_bytes()], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let Some((cj, sj)) = row else {
                return Err(ApplyError::NotFound(id));
            };
            let customer: Customer = seal::decode_customer(sealer, &cj)?;
            ensure_importable(&customer, &fresh)?;
            let stats: Stats = from_json("rapport_customers", &sj)?;
            let needs = ImportNeeds::of(&fresh);
            let history = if needs.history {
                crate::read::activities(&tx, tenant, id, None, None, sealer)?
            } else {
                Vec::new()
            };
            let lines = if needs.lines {
                crate::line_items::of_customer(&tx, tenant, id)?
            } else {
                Vec::new()
            };
            let done = fold_import(stats, &history, &lines, fresh, policy)?;
            for a in &done.activities {
                ins.execute(params![
                    t,
                    a.idempotency_key.as_str(),
                    a.id.to_bytes(),
                    a.customer.to_bytes(),
                    time_to_us(a.at),
                    a.kind.activity_type().as_str(),
                    seal::activity_json(sealer, tenant, a)?,
                ])?;
            }
            report.inserted += done.activities.len();
            report.lines += done.line_items.iter().map(|l| l.items.len()).sum::<usize>();
            crate::line_items::LineWrites::of(&done.line_items, &[])?.apply(&tx, t)?;
            let p = CustomerRow::new(&customer.next_version(), &done.stats, sealer)?;
            put.execute(params![
                t,
                id.to_bytes(),
                p.version,
                p.orders,
                p.purchase_days,
                p.revenue_num,
                p.last_purchase_day,
                p.first_purchase_day,
                p.customer_json,
                p.stats_json,
            ])?;
        }
    }
    sync_keys(sealer)?;
    tx.commit()?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use chrono::{TimeZone, Utc};
    use rapport_core::{CustomerId, Email, Pii, Profile};

    fn db() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("t.db")).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        crate::migrate::migrate(&mut conn, 0).unwrap();
        (dir, conn)
    }

    fn batch(t: TenantId, ids: std::ops::Range<u128>) -> Vec<(Customer, Stats)> {
        let now = Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap();
        ids.map(|i| {
            let profile = Profile {
                email: Email::parse(&format!("c{i}@example.com"))
                    .ok()
                    .map(Pii::new),
                ..Profile::default()
            };
            (
                Customer::new(t, CustomerId::from_u128(i), profile, now),
                Stats::default(),
            )
        })
        .collect()
    }

    fn count(conn: &Connection) -> i64 {
        conn.query_row("SELECT COUNT(*) FROM rapport_customers", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn a_feed_ending_without_commit_writes_nothing_and_restores_the_checkpoint_size() {
        let (_dir, mut conn) = db();
        let t = TenantId::from_u128(1);
        let (feed, rx) = mpsc::channel();
        feed.send(Feed::Rows(prepare_chunk(&batch(t, 1..11), None).unwrap()))
            .unwrap();
        drop(feed);
        assert!(matches!(
            customers(&mut conn, t, &rx, None),
            Err(ApplyError::Sqlite(SqliteError::Unavailable(_)))
        ));
        assert_eq!(count(&conn), 0, "nothing of the unfinished batch is stored");
        let ck: i64 = conn
            .pragma_query_value(None, "wal_autocheckpoint", |r| r.get(0))
            .unwrap();
        assert_eq!(ck, 1000);
    }

    #[test]
    fn chunks_store_the_same_columns_as_a_changeset_row() {
        let (_dir, mut conn) = db();
        let t = TenantId::from_u128(1);
        let rows = batch(t, 1..4);
        let (feed, rx) = mpsc::channel();
        feed.send(Feed::Rows(prepare_chunk(&rows[..2], None).unwrap()))
            .unwrap();
        feed.send(Feed::Rows(prepare_chunk(&rows[1..], None).unwrap()))
            .unwrap();
        feed.send(Feed::Commit).unwrap();
        let r = customers(&mut conn, t, &rx, None).unwrap();
        assert_eq!((r.rows, r.inserted, r.skipped), (4, 3, 1));
        for (c, s) in &rows {
            let expected = CustomerRow::new(c, s, None).unwrap();
            let got: (String, String, Option<String>, String, String, f64) = conn
                .query_row(
                    "SELECT customer_json, stats_json, email, stage, tier, revenue_num
                     FROM rapport_customers WHERE tenant_id = ?1 AND customer_id = ?2",
                    params![t.to_bytes(), c.id().to_bytes()],
                    |r| {
                        Ok((
                            r.get(0)?,
                            r.get(1)?,
                            r.get(2)?,
                            r.get(3)?,
                            r.get(4)?,
                            r.get(5)?,
                        ))
                    },
                )
                .unwrap();
            assert_eq!(got.0, expected.customer_json);
            assert_eq!(got.1, expected.stats_json);
            assert!(got.2.map(crate::codec::ContactValue::Plain) == expected.email);
            assert_eq!(
                (got.3.as_str(), got.4.as_str()),
                (expected.stage, expected.tier)
            );
            assert_eq!(got.5.to_bits(), expected.revenue_num.to_bits());
        }
    }
}
