//! `rapport import transactions` (CSV rows → customers, purchases and refunds) and `rapport
//! import customers` (CSV rows → profiles): every row checked (and every record built) before
//! the first write, then stored in batches, idempotent.
//!
//! A transactions file may name orders (`order_id` column) and mark rows as refunds (`type`
//! column, `purchase` or `refund`). A refund must name an order of the same customer, bought
//! earlier in the file or already in the store, for at most what is left of it
//! ([`OrderLedger`]); otherwise it is a bad row with its line.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Read;

use chrono::{DateTime, NaiveDate, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use rapport_core::ports::{ActivityImport, ImportActivity, ImportPolicy};
use rapport_core::*;

use crate::error::{CliError, Result, fail, rejected};
use crate::store::{Db, customer_id};

pub(crate) use crate::rows::{Columns, DateFormat, Problem, RowError, Tx, check_external};

impl From<RowError> for CliError {
    fn from(e: RowError) -> Self {
        fail!("{e}; fix the row or re-run with --skip-bad")
    }
}

/// Reads and checks every row; a bad row stops the import with its line and column, or is
/// listed and skipped with `skip_bad`.
pub(crate) fn parse(
    input: impl Read,
    cols: &Columns,
    skip_bad: bool,
) -> Result<(Vec<Tx>, Vec<RowError>)> {
    crate::rows::parse(input, cols, skip_bad).map_err(|e| match e {
        crate::rows::ReadError::File(message) => fail!("{message}"),
        crate::rows::ReadError::Row(row) => row.into(),
    })
}

/// The line items of a transactions import: none (`sku_col` false and no lines file), from
/// the file's own item columns (`--sku-col`: rows grouped into orders), or from a lines file
/// (`--lines`); then every order's lines checked against its amount unless the mismatch is
/// allowed. Bad rows of the transactions file join `bad`; those of the lines file are listed
/// here (named with the file) and kept in [`crate::lines::Lined::bad_lines_file`].
pub(crate) fn read_lines(
    file: &[u8],
    txs: Vec<Tx>,
    bad: &mut Vec<RowError>,
    source: (bool, Option<&std::path::Path>),
    cols: (&Columns, &crate::lines::ItemColumns),
    flags: (bool, bool),
) -> Result<crate::lines::Lined> {
    use crate::lines::{Lined, attach, check_totals, group_rows, parse_items};
    use crate::rows::ReadError;
    let (cols, items) = cols;
    let (allow_mismatch, skip_bad) = flags;
    let read_error = |e: ReadError, name: &str| match e {
        ReadError::File(m) => fail!("{name}: {m}"),
        ReadError::Row(row) => fail!("{name}: {row}; fix the row or re-run with --skip-bad"),
    };
    let mut lined = match source {
        (false, None) => Lined {
            txs,
            ..Lined::default()
        },
        (true, _) => {
            let (rows, bad_items) = parse_items(file, items, skip_bad)
                .map_err(|e| read_error(e, "the item columns"))?;
            let bad_lines: std::collections::BTreeSet<u64> = bad
                .iter()
                .map(|b| b.line)
                .chain(bad_items.iter().map(|(_, b)| b.line))
                .collect();
            let mut lined = group_rows(
                txs,
                rows,
                &bad_items,
                &bad_lines,
                (&cols.date, &cols.amount),
                skip_bad,
            )?;
            lined.bad.extend(bad_items.into_iter().map(|(_, b)| b));
            lined
        }
        (false, Some(path)) => {
            let name = path.display().to_string();
            let f = std::fs::File::open(path).map_err(|e| fail!("cannot open {name}: {e}"))?;
            let (rows, bad_items) =
                parse_items(f, items, skip_bad).map_err(|e| read_error(e, &name))?;
            let lined = attach(txs, rows, bad_items, &items.order, skip_bad)
                .map_err(|row| fail!("{name}: {row}; fix the row or re-run with --skip-bad"))?;
            for b in &lined.bad_lines_file {
                eprintln!("skipped {name}: {b}");
            }
            lined
        }
    };
    check_totals(
        &mut lined,
        &cols.amount,
        cols.currency,
        allow_mismatch,
        skip_bad,
    )?;
    bad.append(&mut lined.bad);
    Ok(lined)
}

fn bar(len: u64, quiet: bool, what: &str) -> ProgressBar {
    if quiet {
        return ProgressBar::hidden();
    }
    let b = ProgressBar::new(len);
    if let Ok(style) =
        ProgressStyle::with_template(&format!("{what} {{bar:40}} {{pos}}/{{len}} {{per_sec}}"))
    {
        b.set_style(style);
    }
    b
}

/// What an import did.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub(crate) struct Imported {
    pub(crate) rows: usize,
    pub(crate) customers_new: usize,
    pub(crate) purchases_new: usize,
    pub(crate) purchases_skipped: usize,
    pub(crate) refunds_new: usize,
    pub(crate) refunds_skipped: usize,
    /// Line items written (with their new purchases and refunds).
    pub(crate) lines_new: usize,
}

/// The customers and purchases of a transactions file, every one built (and so checked)
/// before the first write.
#[derive(Debug, Clone)]
pub(crate) struct Batch {
    /// One per external id, created at its first purchase.
    pub(crate) customers: Vec<(Customer, Stats)>,
    /// One purchase per purchase row.
    pub(crate) purchases: Vec<Activity>,
    /// One refund per refund row, with its line, in file order; checked against the orders
    /// by [`check_refunds`].
    pub(crate) refunds: Vec<(u64, Activity)>,
    /// The line items of the purchases and refunds that have some (`--sku-col`, `--lines`).
    pub(crate) lines: BTreeMap<ActivityId, Vec<LineItem>>,
}

impl Batch {
    /// The ids of the customers the file names, in id order.
    pub(crate) fn touched(&self) -> Vec<CustomerId> {
        let mut ids: Vec<CustomerId> = self.customers.iter().map(|(c, _)| c.id()).collect();
        ids.sort_unstable();
        ids
    }
}

/// Builds the customers (id derived from the external id) and the purchases (stable
/// idempotency keys: the n-th order of a customer on a day, whatever else is in the file).
/// A row whose record cannot be built is reported with its line, before anything is written.
pub(crate) fn build(
    tenant: TenantId,
    txs: &[Tx],
    cols: &Columns,
) -> std::result::Result<Batch, RowError> {
    build_with_lines(tenant, txs, cols, BTreeMap::new())
}

/// [`build`] with the line items of the transactions that have some, by the transaction's
/// line ([`crate::lines::Lined`]).
pub(crate) fn build_with_lines(
    tenant: TenantId,
    txs: &[Tx],
    cols: &Columns,
    mut lines_of: BTreeMap<u64, Vec<LineItem>>,
) -> std::result::Result<Batch, RowError> {
    let invalid = |line: u64, e: &dyn fmt::Display| RowError {
        line,
        column: None,
        problem: Problem::Invalid(e.to_string()),
    };
    let mut first: BTreeMap<&str, (DateTime<Utc>, u64)> = BTreeMap::new();
    for t in txs {
        let e = first.entry(t.customer.as_str()).or_insert((t.at, t.line));
        if t.at < e.0 {
            e.0 = t.at;
        }
    }
    let key = AttrKey::new("external_id").map_err(|e| invalid(0, &e))?;
    let customers = first
        .iter()
        .map(|(ext, (at, _))| {
            let mut attrs = Attributes::new();
            attrs.insert(key.clone(), AttrValue::Text((*ext).to_owned()));
            let profile = Profile {
                attributes: Pii::new(attrs),
                ..Profile::default()
            };
            (
                Customer::new(tenant, customer_id(tenant, ext), profile, *at),
                Stats::default(),
            )
        })
        .collect();
    let mut seen: BTreeMap<(&str, NaiveDate), u32> = BTreeMap::new();
    let mut refunds_seen: BTreeMap<(&str, &str, DateTime<Utc>), u32> = BTreeMap::new();
    let mut purchases = Vec::with_capacity(txs.len());
    let mut refunds = Vec::new();
    let mut lines = BTreeMap::new();
    for t in txs {
        let amount = Money::new(t.amount, cols.currency);
        // Keys are stable across re-runs of the file: an order by its id, a refund by its
        // order, time and rank among the file's refunds of that order at that time, an
        // unnamed order by the n-th unnamed order of the customer that day.
        let (key, kind) = match (&t.order, t.refund) {
            (Some(order), true) => {
                let n = refunds_seen
                    .entry((t.customer.as_str(), order.as_str(), t.at))
                    .or_insert(0);
                *n += 1;
                let stamp = t.at.format("%Y%m%dT%H%M%S%.6fZ");
                let key = format!("tx:{}:refund:{order}:{stamp}:{n}", t.customer);
                let kind = OrderId::new(order.clone()).map(|order_id| ActivityKind::Refund {
                    order_id,
                    amount,
                    margin: None,
                    // The order's time replaces it in `check_refunds`.
                    purchased_at: t.at,
                    full: false,
                });
                (key, kind)
            }
            (Some(order), false) => {
                let key = format!("tx:{}:order:{order}", t.customer);
                let kind = OrderId::new(order.clone()).map(|order_id| ActivityKind::Purchase {
                    order_id,
                    amount,
                    margin: None,
                });
                (key, kind)
            }
            (None, _) => {
                let day = t.at.date_naive();
                let n = seen.entry((t.customer.as_str(), day)).or_insert(0);
                *n += 1;
                let key = format!("tx:{}:{}:{}", t.customer, day.format("%Y%m%d"), n);
                let kind = OrderId::new(key.clone()).map(|order_id| ActivityKind::Purchase {
                    order_id,
                    amount,
                    margin: None,
                });
                (key, kind)
            }
        };
        let id = customer_id(tenant, &t.customer);
        let activity = (|| {
            Activity::new(
                crate::store::activity_id(tenant, &key),
                id,
                t.at,
                Channel::Web,
                IdempotencyKey::new(key.clone())?,
                kind?,
            )
        })()
        .map_err(|e| invalid(t.line, &e))?;
        if let Some(items) = lines_of.remove(&t.line) {
            lines.insert(activity.id, items);
        }
        if t.refund {
            refunds.push((t.line, activity));
        } else {
            purchases.push(activity);
        }
    }
    Ok(Batch {
        customers,
        purchases,
        refunds,
        lines,
    })
}

/// Checks the refunds of a built batch against the orders of their customers: those already in
/// the store (read with [`Store::activities`]) and the file's purchases, in line order, each
/// accepted refund lowering what is left for the next ([`OrderLedger`]). An accepted refund
/// takes its order's time as `purchased_at`; a refund already in the store (a re-run) is left
/// for the import to skip. A refused refund is a bad row: it stops the import (nothing written)
/// or, with `skip_bad`, is listed and dropped, with the customers left without rows.
pub(crate) fn check_refunds(
    store: &impl Store,
    tenant: TenantId,
    batch: &mut Batch,
    cols: &Columns,
    skip_bad: bool,
) -> Result<Vec<RowError>> {
    use futures::executor::block_on;
    use std::collections::{BTreeSet, HashSet};
    let who: BTreeSet<CustomerId> = batch.refunds.iter().map(|(_, a)| a.customer).collect();
    let mut ledgers: BTreeMap<CustomerId, (OrderLedger, HashSet<IdempotencyKey>)> = BTreeMap::new();
    for id in who {
        let stored = block_on(store.activities(tenant, id, TimeRange::all()))?;
        let keys: HashSet<IdempotencyKey> =
            stored.iter().map(|a| a.idempotency_key.clone()).collect();
        let mut ledger = OrderLedger::from_activities(&stored)?;
        for p in batch.purchases.iter().filter(|p| p.customer == id) {
            if !keys.contains(&p.idempotency_key) {
                ledger.apply(p)?;
            }
        }
        ledgers.insert(id, (ledger, keys));
    }
    let mut bad = Vec::new();
    let mut kept = Vec::with_capacity(batch.refunds.len());
    for (line, mut refund) in std::mem::take(&mut batch.refunds) {
        let Some((ledger, stored)) = ledgers.get_mut(&refund.customer) else {
            continue;
        };
        if stored.contains(&refund.idempotency_key) {
            kept.push((line, refund));
            continue;
        }
        match ledger.settle_refund(refund.kind.clone(), refund.at) {
            Ok(kind) => {
                refund.kind = kind;
                ledger.apply(&refund)?;
                kept.push((line, refund));
            }
            Err(e) => {
                let column = refund_column(&e, cols);
                let row = RowError {
                    line,
                    column,
                    problem: Problem::Refund(e),
                };
                if !skip_bad {
                    return Err(row.into());
                }
                bad.push(row);
            }
        }
    }
    batch.refunds = kept;
    if !bad.is_empty() {
        let live: BTreeSet<CustomerId> = batch
            .purchases
            .iter()
            .map(|a| a.customer)
            .chain(batch.refunds.iter().map(|(_, a)| a.customer))
            .collect();
        batch.customers.retain(|(c, _)| live.contains(&c.id()));
    }
    Ok(bad)
}

/// Activities per bulk import batch (one transaction each).
const IMPORT_BATCH: usize = 10_000;

/// The rows of `activities` with their lines taken out of `lines`, for
/// [`ActivityImport`](rapport_core::ports::ActivityImport).
pub(crate) fn with_lines(
    activities: impl IntoIterator<Item = Activity>,
    lines: &mut BTreeMap<ActivityId, Vec<LineItem>>,
) -> Vec<ImportActivity> {
    activities
        .into_iter()
        .map(|activity| ImportActivity {
            lines: lines.remove(&activity.id).unwrap_or_default(),
            activity,
        })
        .collect()
}

/// Stores a built batch: the customers first, then the purchases with their line items, in
/// bulk ([`ActivityImport`](rapport_core::ports::ActivityImport): each batch one
/// transaction, folded into the stats as the service folds them, per-category spend under
/// `policy`), their lines taken out of `lines`. A re-run skips what is there. The batch's
/// refunds are left for [`import_refunds`].
pub(crate) fn store(
    store: &Db,
    tenant: TenantId,
    batch: Batch,
    lines: &mut BTreeMap<ActivityId, Vec<LineItem>>,
    policy: &ImportPolicy,
    quiet: bool,
) -> Result<Imported> {
    let rows = batch.purchases.len() + batch.refunds.len();
    let b = bar(batch.customers.len() as u64, quiet, "customers");
    let c = store.import_customers_iter(tenant, batch.customers, 5_000, |r| {
        b.set_position(r.rows as u64);
    })?;
    b.finish_and_clear();
    let b = bar(batch.purchases.len() as u64, quiet, "purchases");
    let mut done = Imported {
        rows,
        customers_new: c.inserted,
        ..Imported::default()
    };
    let mut purchases = batch.purchases;
    while !purchases.is_empty() {
        let rest = purchases.split_off(purchases.len().min(IMPORT_BATCH));
        let n = purchases.len();
        let part = with_lines(std::mem::replace(&mut purchases, rest), lines);
        let r = futures::executor::block_on(store.import_activities(tenant, part, policy))?;
        done.purchases_new += r.inserted;
        done.purchases_skipped += r.skipped;
        done.lines_new += r.lines;
        b.inc(n as u64);
    }
    b.finish_and_clear();
    Ok(done)
}

/// How [`import_refunds`] imports: the fold's policy, and how a refund refused by a racing
/// writer is reported (the file's columns; listed and skipped under `skip_bad`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RefundImport<'a> {
    pub(crate) policy: &'a ImportPolicy,
    pub(crate) cols: &'a Columns,
    pub(crate) skip_bad: bool,
}

/// Imports the refunds of an import in bulk, after the purchases, batch by batch: each
/// batch is settled against the orders as stored at that moment inside the store's write
/// ([`ActivityImport`](rapport_core::ports::ActivityImport)), so two imports (or an import
/// and a host) refunding one order at once cannot together exceed it. They were checked
/// against the file and the store before the first write (`check_refunds`); a batch the
/// store refuses for a refund (another writer refunded the order meanwhile) is recorded one
/// by one through the service instead ([`record_refunds`]), so the refused row is named
/// with its line and the others are kept.
pub(crate) fn import_refunds<N: rapport_core::Notifier>(
    svc: &rapport::Service<Db, N>,
    tenant: TenantId,
    refunds: Vec<(u64, Activity)>,
    lines: &mut BTreeMap<ActivityId, Vec<LineItem>>,
    how: &RefundImport<'_>,
    done: &mut Imported,
) -> Result<Vec<RowError>> {
    let RefundImport {
        policy,
        cols,
        skip_bad,
    } = *how;
    let mut bad = Vec::new();
    for part in refunds.chunks(IMPORT_BATCH) {
        // The lines stay in `lines` until the batch is written: the fallback needs them.
        let rows = part
            .iter()
            .map(|(_, a)| ImportActivity {
                activity: a.clone(),
                lines: lines.get(&a.id).cloned().unwrap_or_default(),
            })
            .collect();
        match futures::executor::block_on(svc.store().import_activities(tenant, rows, policy)) {
            Ok(r) => {
                done.refunds_new += r.inserted;
                done.refunds_skipped += r.skipped;
                done.lines_new += r.lines;
                for (_, a) in part {
                    lines.remove(&a.id);
                }
            }
            Err(e) if rapport_core::ports::refused_activity(&e).is_some() => {
                bad.extend(record_refunds(
                    svc,
                    tenant,
                    part.to_vec(),
                    lines,
                    cols,
                    skip_bad,
                    done,
                )?);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(bad)
}

/// Records the refunds of an import one by one through the service, after the purchases:
/// each is decided against its order as stored at that moment and written with the version
/// of the customer it read, so two imports (or an import and a host) refunding one order at
/// once cannot together exceed it — the loser re-reads and is refused, as
/// `Service::record` guarantees for any caller. They were already checked against the file
/// and the store before the first write (`check_refunds`); a refusal here means another
/// writer refunded the order meanwhile: the row is named with its line and, without
/// `skip_bad`, stops the import (the purchases and the refunds before it stay written).
pub(crate) fn record_refunds<N: rapport_core::Notifier>(
    svc: &rapport::Service<Db, N>,
    tenant: TenantId,
    refunds: Vec<(u64, Activity)>,
    lines: &mut BTreeMap<ActivityId, Vec<LineItem>>,
    cols: &Columns,
    skip_bad: bool,
    done: &mut Imported,
) -> Result<Vec<RowError>> {
    let mut bad = Vec::new();
    for (line, a) in refunds {
        let items = lines.remove(&a.id).unwrap_or_default();
        let n = items.len();
        let new = new_activity(a);
        // The lines were checked against the amount before the first write (`check_totals`).
        match futures::executor::block_on(svc.record_with_lines(tenant, new, items, true)) {
            Ok(r) if r.duplicate => done.refunds_skipped += 1,
            Ok(_) => {
                done.refunds_new += 1;
                done.lines_new += n;
            }
            Err(rapport::Error::Domain(e)) => {
                let column = refund_column(&e, cols);
                let row = RowError {
                    line,
                    column,
                    problem: Problem::Refund(e),
                };
                if !skip_bad {
                    return Err(row.into());
                }
                bad.push(row);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(bad)
}

fn new_activity(a: Activity) -> rapport::NewActivity {
    rapport::NewActivity {
        customer: a.customer,
        at: a.at,
        channel: a.channel,
        idempotency_key: a.idempotency_key,
        kind: a.kind,
    }
}

/// The column to blame for a refused refund.
fn refund_column(e: &DomainError, cols: &Columns) -> Option<String> {
    match e {
        DomainError::UnknownOrder { .. } => cols.order.clone().or(Some("order_id".into())),
        DomainError::RefundBeforeOrder { .. } => Some(cols.date.clone()),
        _ => Some(cols.amount.clone()),
    }
}

/// The evaluation that ends an import.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub(crate) struct Evaluated {
    /// As of when.
    pub(crate) at: DateTime<Utc>,
    /// Customers evaluated.
    pub(crate) customers: usize,
    /// Of which the evaluation moved (a tier, stage or tag change: an event written).
    pub(crate) changed: usize,
    /// Customers left as they are because they were merged or erased.
    pub(crate) tombstones: usize,
}

/// How many evaluations run at once: the stores batch concurrent writes into one commit
/// (SQLite's writer thread, PostgreSQL's pool). On SQLite 16 or more take the same time
/// (100,000 rows, 19,849 customers: 10.7–10.9 s for the whole import at 16, 64, 256 and 1,024
/// in flight; 16.3 s one at a time).
const EVALUATE_IN_FLIGHT: usize = 64;

/// Evaluates the customers an import touched at the service's now (the import's), so their
/// tiers and stages hold without waiting for a sweep: the service's own `evaluate`, up to
/// [`EVALUATE_IN_FLIGHT`] at a time.
pub(crate) fn evaluate<N: rapport_core::Notifier>(
    svc: &rapport::Service<Db, N>,
    tenant: TenantId,
    ids: &[CustomerId],
    quiet: bool,
) -> Result<Evaluated> {
    use futures::StreamExt;
    let b = bar(ids.len() as u64, quiet, "evaluate");
    let mut done = Evaluated {
        at: svc.now(),
        customers: 0,
        changed: 0,
        tombstones: 0,
    };
    let mut results = futures::stream::iter(ids)
        .map(|id| svc.evaluate(tenant, *id))
        .buffer_unordered(EVALUATE_IN_FLIGHT);
    futures::executor::block_on(async {
        while let Some(r) = results.next().await {
            match r {
                Ok(e) => {
                    done.customers += 1;
                    done.changed += usize::from(!e.events.is_empty());
                }
                Err(rapport::Error::Domain(DomainError::Tombstoned { .. })) => {
                    done.tombstones += 1;
                }
                Err(e) => return Err(CliError::from(e)),
            }
            b.inc(1);
        }
        Ok(())
    })?;
    b.finish_and_clear();
    Ok(done)
}

/// Column names of a customers file. Optional columns default to `email`, `phone` and `name`
/// when the file has them.
#[derive(Debug, Clone)]
pub(crate) struct CustomerColumns {
    pub(crate) customer: String,
    pub(crate) email: Option<String>,
    pub(crate) phone: Option<String>,
    pub(crate) name: Option<String>,
    /// Further columns kept as text attributes (personal data: redacted in `Debug`).
    pub(crate) attributes: Vec<String>,
    /// How to read phone numbers written without `+country`.
    pub(crate) region: Region,
}

/// One parsed customer row.
#[derive(Debug, Clone)]
pub(crate) struct NewCustomer {
    pub(crate) line: u64,
    pub(crate) external: String,
    pub(crate) profile: Profile,
}

/// Reads and checks every customer row: the external id is required and unique in the file,
/// emails and phones must parse and must not repeat another row's. A bad row stops the import
/// with its line and column, or is listed and skipped with `skip_bad`.
pub(crate) fn parse_customers(
    input: impl Read,
    cols: &CustomerColumns,
    skip_bad: bool,
) -> Result<(Vec<NewCustomer>, Vec<String>)> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(input);
    let headers = reader
        .headers()
        .map_err(|e| fail!("cannot read the CSV header: {e}"))?
        .clone();
    let position = |name: &str| headers.iter().position(|h| h == name);
    let required = |name: &str| {
        position(name).ok_or_else(|| {
            fail!(
                "column `{name}` not found (columns: {}); name it with --customer-col/--email-col/--phone-col/--name-col/--attr-cols",
                headers.iter().collect::<Vec<_>>().join(", ")
            )
        })
    };
    // A column named by a flag must exist; a default name is used only when present.
    let optional = |flag: &Option<String>, default: &str| -> Result<Option<(String, usize)>> {
        match flag {
            Some(name) => Ok(Some((name.clone(), required(name)?))),
            None => Ok(position(default).map(|i| (default.to_owned(), i))),
        }
    };
    let ci = required(&cols.customer)?;
    let email = optional(&cols.email, "email")?;
    let phone = optional(&cols.phone, "phone")?;
    let name = optional(&cols.name, "name")?;
    let attrs: Vec<(AttrKey, String, usize)> = cols
        .attributes
        .iter()
        .map(|a| Ok((AttrKey::new(a)?, a.clone(), required(a)?)))
        .collect::<Result<_>>()?;
    let external_key = AttrKey::new("external_id")?;
    let mut out = Vec::new();
    let mut bad = Vec::new();
    let mut ids: BTreeMap<String, u64> = BTreeMap::new();
    let mut contacts: BTreeMap<ContactKey, u64> = BTreeMap::new();
    for rec in reader.records() {
        let rec = rec.map_err(|e| fail!("malformed CSV: {e}"))?;
        let line = rec.position().map_or(0, csv::Position::line);
        let field = |i: usize| rec.get(i).unwrap_or("");
        let row = (|| -> std::result::Result<NewCustomer, String> {
            let at =
                |col: &str, e: &dyn std::fmt::Display| format!("line {line}, column `{col}`: {e}");
            let external = field(ci);
            check_external(external).map_err(|p| at(&cols.customer, &p))?;
            if let Some(first) = ids.get(external) {
                return Err(at(
                    &cols.customer,
                    &format!("`{external}` repeats line {first}"),
                ));
            }
            let mut profile = Profile::default();
            if let Some((col, i)) = &email {
                if !field(*i).is_empty() {
                    let e =
                        Email::parse(field(*i)).map_err(|e| at(col, &rejected(field(*i), &e)))?;
                    profile.email = Some(Pii::new(e));
                }
            }
            if let Some((col, i)) = &phone {
                if !field(*i).is_empty() {
                    let p = Phone::parse(field(*i), cols.region)
                        .map_err(|e| at(col, &rejected(field(*i), &e)))?;
                    profile.phone = Some(Pii::new(p));
                }
            }
            if let Some((col, i)) = &name {
                if !field(*i).is_empty() {
                    let n = Profile::normalise_name(field(*i))
                        .map_err(|e| at(col, &rejected(field(*i), &e)))?;
                    profile.display_name = Some(Pii::new(n));
                }
            }
            let mut map = Attributes::new();
            map.insert(external_key.clone(), AttrValue::Text(external.to_owned()));
            for (key, _, i) in &attrs {
                if !field(*i).is_empty() {
                    map.insert(key.clone(), AttrValue::Text(field(*i).to_owned()));
                }
            }
            profile.attributes = Pii::new(map);
            for key in profile.contact_keys() {
                if let Some(first) = contacts.get(&key) {
                    let col = match key {
                        ContactKey::Email(_) => email.as_ref().map_or("email", |c| c.0.as_str()),
                        _ => phone.as_ref().map_or("phone", |c| c.0.as_str()),
                    };
                    return Err(at(
                        col,
                        &format!(
                            "the same contact as line {first} (one customer per email or phone)"
                        ),
                    ));
                }
            }
            Ok(NewCustomer {
                line,
                external: external.to_owned(),
                profile,
            })
        })();
        match row {
            Ok(c) => {
                ids.insert(c.external.clone(), line);
                for key in c.profile.contact_keys() {
                    contacts.insert(key, line);
                }
                out.push(c);
            }
            Err(e) if skip_bad => bad.push(e),
            Err(e) => return Err(fail!("{e}; fix the row or re-run with --skip-bad")),
        }
    }
    Ok((out, bad))
}

/// What a customers import did.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub(crate) struct ImportedCustomers {
    pub(crate) rows: usize,
    pub(crate) customers_new: usize,
    pub(crate) customers_existing: usize,
}

/// Stores new customers (ids derived from the external id, so a re-run finds them and skips
/// them). A row whose email or phone already belongs to another customer of the book is a bad
/// row: nothing is written unless `skip_bad` (then it is listed and left out).
pub(crate) fn store_customers(
    store: &Db,
    tenant: TenantId,
    rows: Vec<NewCustomer>,
    now: DateTime<Utc>,
    skip_bad: bool,
    quiet: bool,
) -> Result<(ImportedCustomers, Vec<String>)> {
    use futures::executor::block_on;
    let mut keep = Vec::with_capacity(rows.len());
    let mut kept_lines = Vec::with_capacity(rows.len());
    let mut bad = Vec::new();
    'rows: for r in rows {
        let id = customer_id(tenant, &r.external);
        for key in r.profile.contact_keys() {
            if let Some(other) = block_on(store.find_by_contact(tenant, &key))?
                .into_iter()
                .find(|other| *other != id)
            {
                let e = format!(
                    "line {}: the email or phone already belongs to customer {other}",
                    r.line
                );
                if !skip_bad {
                    return Err(fail!("{e}; fix the row or re-run with --skip-bad"));
                }
                bad.push(e);
                continue 'rows;
            }
        }
        kept_lines.push(r.line);
        keep.push((Customer::new(tenant, id, r.profile, now), Stats::default()));
    }
    let b = bar(keep.len() as u64, quiet, "customers");
    let total = keep.len();
    let lines: Vec<(CustomerId, u64, Vec<ContactKey>)> = keep
        .iter()
        .zip(&kept_lines)
        .map(|((c, _), line)| (c.id(), *line, c.profile.contact_keys()))
        .collect();
    let report =
        store.import_customers_iter(tenant, keep, 5_000, |r| b.set_position(r.rows as u64))?;
    b.finish_and_clear();
    // Rows the store refused because another live customer took their email or phone after
    // the check above (a concurrent import or writer): named with their line, like the others.
    let mut taken = Vec::new();
    if report.contact_taken > 0 {
        for (id, line, keys) in &lines {
            if block_on(store.load(tenant, *id))?.is_some() {
                continue;
            }
            let mut holder = None;
            for key in keys {
                holder = block_on(store.find_by_contact(tenant, key))?
                    .into_iter()
                    .next();
                if holder.is_some() {
                    break;
                }
            }
            let holder = holder.map_or_else(
                || "another customer".to_owned(),
                |h| format!("customer {h}"),
            );
            taken.push(format!(
                "line {line}: the email or phone already belongs to {holder} (written by a concurrent import or writer)"
            ));
        }
        if !skip_bad {
            return Err(fail!(
                "{}; {} row(s) not written, the other {} were; re-run with --skip-bad to list them as skipped",
                taken.join("; "),
                taken.len(),
                report.inserted + report.skipped
            ));
        }
    }
    bad.extend(taken);
    Ok((
        ImportedCustomers {
            rows: total,
            customers_new: report.inserted,
            customers_existing: report.skipped,
        },
        bad,
    ))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::rows::MAX_EXTERNAL_ID;
    use chrono::TimeZone;

    #[test]
    fn dates_read_as_iso_by_default_and_in_any_chrono_format_when_asked() {
        let utc = |y, mo, d, h, mi| Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap();
        let iso = DateFormat::Iso;
        assert_eq!(iso.read("2024-01-05"), Some(utc(2024, 1, 5, 12, 0)));
        assert_eq!(
            iso.read("2024-01-05T10:30:00Z"),
            Some(utc(2024, 1, 5, 10, 30))
        );
        assert_eq!(
            iso.read("2024-01-05 10:30:00+02:00"),
            Some(utc(2024, 1, 5, 8, 30))
        );
        for bad in [
            "20240105",
            "05/01/2024",
            "2024-13-01",
            "2024-01-05T10:30",
            "",
        ] {
            assert_eq!(iso.read(bad), None, "{bad}");
        }
        let compact = DateFormat::Custom("%Y%m%d".into());
        assert_eq!(compact.read("20240105"), Some(utc(2024, 1, 5, 12, 0)));
        assert_eq!(compact.read("2024-01-05"), None);
        let local = DateFormat::Custom("%d/%m/%Y %H:%M".into());
        assert_eq!(
            local.read("05/01/2024 10:30"),
            Some(utc(2024, 1, 5, 10, 30))
        );
        let offset = DateFormat::Custom("%Y-%m-%d %H:%M %z".into());
        assert_eq!(
            offset.read("2024-01-05 10:30 +0200"),
            Some(utc(2024, 1, 5, 8, 30))
        );
    }

    #[test]
    fn external_ids_are_checked() {
        assert_eq!(check_external(""), Err(Problem::EmptyCustomerId));
        assert_eq!(check_external(&"é".repeat(MAX_EXTERNAL_ID)), Ok(()));
        assert_eq!(
            check_external(&"é".repeat(MAX_EXTERNAL_ID + 1)),
            Err(Problem::CustomerIdTooLong {
                chars: MAX_EXTERNAL_ID + 1
            })
        );
        assert_eq!(check_external("a\u{7}b"), Err(Problem::CustomerIdControl));
        // The longest id still makes a valid purchase key.
        let key = format!("tx:{}:99991231:{}", "é".repeat(MAX_EXTERNAL_ID), u32::MAX);
        assert!(IdempotencyKey::new(key).is_ok());
    }
}
