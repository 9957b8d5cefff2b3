//! `rapport import transactions`: CSV rows → customers and purchases, in batches, idempotent.

use std::collections::BTreeMap;
use std::io::Read;

use chrono::{DateTime, NaiveDate, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use rapport_core::*;
use rapport_sqlite::SqliteStore;
use rust_decimal::Decimal;

use crate::error::{Result, fail};
use crate::store::customer_id;

/// Column names and formats of a transactions file.
#[derive(Debug, Clone)]
pub(crate) struct Columns {
    pub(crate) customer: String,
    pub(crate) date: String,
    pub(crate) amount: String,
    pub(crate) date_format: String,
    pub(crate) currency: Currency,
}

/// One parsed transaction.
#[derive(Debug, Clone)]
pub(crate) struct Tx {
    pub(crate) line: u64,
    pub(crate) customer: String,
    pub(crate) date: NaiveDate,
    pub(crate) amount: Decimal,
}

/// Reads and checks every row; a bad row stops the import with its line and column, or is
/// listed and skipped with `skip_bad`.
pub(crate) fn parse(
    input: impl Read,
    cols: &Columns,
    skip_bad: bool,
) -> Result<(Vec<Tx>, Vec<String>)> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(input);
    let headers = reader
        .headers()
        .map_err(|e| fail!("cannot read the CSV header: {e}"))?
        .clone();
    let find = |name: &str| {
        headers.iter().position(|h| h == name).ok_or_else(|| {
            fail!(
                "column `{name}` not found (columns: {}); name it with --customer-col/--date-col/--amount-col",
                headers.iter().collect::<Vec<_>>().join(", ")
            )
        })
    };
    let (ci, di, ai) = (
        find(&cols.customer)?,
        find(&cols.date)?,
        find(&cols.amount)?,
    );
    let mut out = Vec::new();
    let mut bad = Vec::new();
    for rec in reader.records() {
        let rec = rec.map_err(|e| fail!("malformed CSV: {e}"))?;
        let line = rec.position().map_or(0, csv::Position::line);
        let field = |i: usize| rec.get(i).unwrap_or("");
        let row = (|| -> std::result::Result<Tx, String> {
            let customer = field(ci);
            if customer.is_empty() {
                return Err(format!(
                    "line {line}, column `{}`: empty customer id",
                    cols.customer
                ));
            }
            let date = NaiveDate::parse_from_str(field(di), &cols.date_format).map_err(|_| {
                format!(
                    "line {line}, column `{}`: `{}` is not a date in the format {}",
                    cols.date,
                    field(di),
                    cols.date_format
                )
            })?;
            let amount: Decimal = field(ai).parse().map_err(|_| {
                format!(
                    "line {line}, column `{}`: `{}` is not a number",
                    cols.amount,
                    field(ai)
                )
            })?;
            if amount.is_sign_negative() && !amount.is_zero() {
                return Err(format!(
                    "line {line}, column `{}`: amount {amount} is negative",
                    cols.amount
                ));
            }
            Ok(Tx {
                line,
                customer: customer.to_owned(),
                date,
                amount,
            })
        })();
        match row {
            Ok(t) => out.push(t),
            Err(e) if skip_bad => bad.push(e),
            Err(e) => return Err(fail!("{e}; fix the row or re-run with --skip-bad")),
        }
    }
    Ok((out, bad))
}

fn noon(d: NaiveDate) -> DateTime<Utc> {
    d.and_hms_opt(12, 0, 0)
        .map_or(DateTime::UNIX_EPOCH, |t| t.and_utc())
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
}

/// Stores the transactions: customers first (id derived from the external id), then the
/// purchases with stable idempotency keys, folded into the stats.
pub(crate) fn store(
    store: &SqliteStore,
    tenant: TenantId,
    txs: &[Tx],
    cols: &Columns,
    quiet: bool,
) -> Result<Imported> {
    let mut first: BTreeMap<&str, NaiveDate> = BTreeMap::new();
    for t in txs {
        let e = first.entry(t.customer.as_str()).or_insert(t.date);
        *e = (*e).min(t.date);
    }
    let key = AttrKey::new("external_id")?;
    let customers = first.iter().map(|(ext, d)| {
        let mut attrs = Attributes::new();
        attrs.insert(key.clone(), AttrValue::Text((*ext).to_owned()));
        let profile = Profile {
            attributes: Pii::new(attrs),
            ..Profile::default()
        };
        (
            Customer::new(tenant, customer_id(tenant, ext), profile, noon(*d)),
            Stats::default(),
        )
    });
    let b = bar(first.len() as u64, quiet, "customers");
    let c =
        store.import_customers_iter(tenant, customers, 5_000, |r| b.set_position(r.rows as u64))?;
    b.finish_and_clear();

    // Stable keys: the n-th order of a customer on a day, whatever else is in the file.
    let mut seen: BTreeMap<(&str, NaiveDate), u32> = BTreeMap::new();
    let mut acts = Vec::with_capacity(txs.len());
    for t in txs {
        let n = seen.entry((t.customer.as_str(), t.date)).or_insert(0);
        *n += 1;
        let key = format!("tx:{}:{}:{}", t.customer, t.date.format("%Y%m%d"), n);
        let id = customer_id(tenant, &t.customer);
        acts.push(Activity::new(
            ActivityId::from_u128(id.as_uuid().as_u128() ^ u128::from(t.line)),
            id,
            noon(t.date),
            Channel::Web,
            IdempotencyKey::new(key.clone())?,
            ActivityKind::Purchase {
                order_id: OrderId::new(key)?,
                amount: Money::new(t.amount, cols.currency),
                margin: None,
            },
        )?);
    }
    let b = bar(acts.len() as u64, quiet, "purchases");
    let mut done = Imported {
        rows: txs.len(),
        customers_new: c.inserted,
        ..Imported::default()
    };
    for chunk in acts.chunks(10_000) {
        let r = futures::executor::block_on(store.import_activities(tenant, chunk.to_vec()))?;
        done.purchases_new += r.inserted;
        done.purchases_skipped += r.skipped;
        b.inc(chunk.len() as u64);
    }
    b.finish_and_clear();
    Ok(done)
}
