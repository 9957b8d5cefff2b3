//! `rapport import transactions` (CSV rows → customers and purchases) and `rapport import
//! customers` (CSV rows → profiles): checked row by row, stored in batches, idempotent.

use std::collections::BTreeMap;
use std::io::Read;

use chrono::{DateTime, NaiveDate, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use rapport_core::*;
use rust_decimal::Decimal;

use crate::error::{Result, fail, rejected};
use crate::store::{Db, customer_id};

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
    store: &Db,
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
        let r = store.import_activities(tenant, chunk.to_vec())?;
        done.purchases_new += r.inserted;
        done.purchases_skipped += r.skipped;
        b.inc(chunk.len() as u64);
    }
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
            if external.is_empty() {
                return Err(at(&cols.customer, &"empty customer id"));
            }
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
        keep.push((Customer::new(tenant, id, r.profile, now), Stats::default()));
    }
    let b = bar(keep.len() as u64, quiet, "customers");
    let total = keep.len();
    let report =
        store.import_customers_iter(tenant, keep, 5_000, |r| b.set_position(r.rows as u64))?;
    b.finish_and_clear();
    Ok((
        ImportedCustomers {
            rows: total,
            customers_new: report.inserted,
            customers_existing: report.skipped,
        },
        bad,
    ))
}
