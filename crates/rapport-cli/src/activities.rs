//! `rapport import activities`: every activity kind from one CSV file — a `kind` column and
//! the columns each kind needs (amount and order id for purchases and refunds, score and
//! scale for feedback, the referred customer for referrals, severity for complaints, item
//! for visits, cart value for abandoned carts) and an optional channel. Every row is read and
//! every record built before the first write; a bad row stops the import with its line and
//! column (or is listed and skipped with `--skip-bad`); keys are stable, so a re-run skips
//! what is there. Purchases and refunds get the same keys as `import transactions` gives
//! them, so a row imported both ways is stored once.

use std::collections::BTreeMap;
use std::io::Read;

use chrono::{DateTime, Duration, Utc};
use rapport_core::ports::{ActivityImport, ImportActivity, ImportPolicy};
use rapport_core::*;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde::de::IntoDeserializer;
use serde::de::value::{Error as DeError, StrDeserializer};

use crate::error::{Result, fail};
use crate::import::{Batch, Columns, DateFormat, Problem, RowError, check_external};
use crate::rows::Newlines;
use crate::store::{Db, customer_id};

/// Column names of an activities file; the kind-specific ones are needed only by the rows of
/// their kinds.
#[derive(Debug, Clone)]
pub(crate) struct ActivityColumns {
    pub(crate) customer: String,
    pub(crate) date: String,
    pub(crate) kind: String,
    pub(crate) amount: String,
    pub(crate) order: String,
    pub(crate) score: String,
    pub(crate) scale: String,
    pub(crate) referred: String,
    pub(crate) channel: String,
    pub(crate) severity: String,
    pub(crate) item: String,
    pub(crate) date_format: DateFormat,
    pub(crate) currency: Currency,
    pub(crate) now: DateTime<Utc>,
    pub(crate) future_tolerance: Duration,
}

impl ActivityColumns {
    /// The transactions columns the refund check names in its errors.
    pub(crate) fn as_transactions(&self) -> Columns {
        Columns {
            customer: self.customer.clone(),
            date: self.date.clone(),
            amount: self.amount.clone(),
            order: Some(self.order.clone()),
            kind: Some(self.kind.clone()),
            date_format: self.date_format.clone(),
            currency: self.currency,
            now: self.now,
            future_tolerance: self.future_tolerance,
        }
    }
}

/// One row read: who, when, on which channel, and the activity without its key.
#[derive(Debug, Clone)]
struct Row {
    line: u64,
    customer: String,
    at: DateTime<Utc>,
    channel: Channel,
    kind: ActivityKind,
}

/// A snake_case name read as one of the core's enums (`web`, `store`; `low`, `high`).
fn named<'de, T: Deserialize<'de>>(s: &'de str) -> Option<T> {
    let d: StrDeserializer<'de, DeError> = s.into_deserializer();
    T::deserialize(d).ok()
}

const KINDS: &str =
    "purchase, refund, visit, cart_abandoned, complaint, feedback, referral, contact";

/// Reads and checks every row.
fn parse(
    input: impl Read,
    cols: &ActivityColumns,
    tenant: TenantId,
    skip_bad: bool,
) -> Result<(Vec<Row>, Vec<RowError>)> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(Newlines::new(input));
    let headers = reader
        .headers()
        .map_err(|e| fail!("cannot read the CSV header: {e}"))?
        .clone();
    let names = headers.iter().collect::<Vec<_>>().join(", ");
    let required = |name: &str| {
        headers.iter().position(|h| h == name).ok_or_else(|| {
            fail!("column `{name}` not found (columns: {names}); name it with --customer-col/--date-col/--kind-col")
        })
    };
    let (ci, di, ki) = (
        required(&cols.customer)?,
        required(&cols.date)?,
        required(&cols.kind)?,
    );
    let optional = |name: &str| headers.iter().position(|h| h == name);
    let latest = cols
        .now
        .checked_add_signed(cols.future_tolerance)
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    let mut out = Vec::new();
    let mut bad = Vec::new();
    for rec in reader.records() {
        let rec = rec.map_err(|e| fail!("malformed CSV: {e}"))?;
        let line = rec.position().map_or(0, csv::Position::line);
        let err = |col: &str, problem| RowError {
            line,
            column: Some(col.to_owned()),
            problem,
        };
        let invalid = |col: &str, reason: String| err(col, Problem::Invalid(reason));
        // A kind-specific cell: the column must exist and the cell must not be empty.
        let cell = |col: &str, kind: &str| -> std::result::Result<&str, RowError> {
            optional(col)
                .and_then(|i| rec.get(i))
                .filter(|v| !v.is_empty())
                .ok_or_else(|| invalid(col, format!("a {kind} row needs a `{col}` cell")))
        };
        let maybe = |col: &str| {
            optional(col)
                .and_then(|i| rec.get(i))
                .filter(|v| !v.is_empty())
        };
        let amount = |kind: &str| -> std::result::Result<Money, RowError> {
            let v = cell(&cols.amount, kind)?;
            let mut a: Decimal = v.parse().map_err(|_| {
                err(
                    &cols.amount,
                    Problem::NotANumber {
                        value: v.to_owned(),
                    },
                )
            })?;
            if a.is_sign_negative() && !a.is_zero() {
                return Err(err(&cols.amount, Problem::Negative { amount: a }));
            }
            a.set_sign_positive(true);
            Ok(Money::new(a, cols.currency))
        };
        let order = |kind: &str| -> std::result::Result<OrderId, RowError> {
            OrderId::new(cell(&cols.order, kind)?).map_err(|e| invalid(&cols.order, e.to_string()))
        };
        let row = (|| -> std::result::Result<Row, RowError> {
            let customer = rec.get(ci).unwrap_or("");
            check_external(customer).map_err(|p| err(&cols.customer, p))?;
            let date = rec.get(di).unwrap_or("");
            let at = cols.date_format.read(date).ok_or_else(|| {
                err(
                    &cols.date,
                    Problem::NotADate {
                        value: date.to_owned(),
                        format: cols.date_format.clone(),
                    },
                )
            })?;
            if at > latest {
                return Err(err(
                    &cols.date,
                    Problem::InTheFuture {
                        at,
                        now: cols.now,
                        tolerance: cols.future_tolerance,
                    },
                ));
            }
            let channel = match maybe(&cols.channel) {
                None => Channel::Web,
                Some(v) => named::<Channel>(&v.to_ascii_lowercase()).ok_or_else(|| {
                    invalid(
                        &cols.channel,
                        format!("unknown channel `{v}` (web, app, email, social, chat, store, phone, event)"),
                    )
                })?,
            };
            let kind_cell = rec.get(ki).unwrap_or("").to_ascii_lowercase();
            let kind = match kind_cell.as_str() {
                "purchase" => ActivityKind::Purchase {
                    // Without an order id each row is its own order (named when keyed).
                    order_id: match maybe(&cols.order) {
                        Some(o) => {
                            OrderId::new(o).map_err(|e| invalid(&cols.order, e.to_string()))?
                        }
                        None => {
                            OrderId::new("-").map_err(|e| invalid(&cols.order, e.to_string()))?
                        }
                    },
                    amount: amount("purchase")?,
                    margin: None,
                },
                "refund" => ActivityKind::Refund {
                    order_id: order("refund")?,
                    amount: amount("refund")?,
                    margin: None,
                    // The order's time and `full` are settled against the order before writing.
                    purchased_at: at,
                    full: false,
                },
                "visit" => ActivityKind::Visit {
                    item: maybe(&cols.item).map(str::to_owned),
                },
                "cart_abandoned" => ActivityKind::CartAbandoned {
                    value: match maybe(&cols.amount) {
                        Some(_) => Some(amount("cart_abandoned")?),
                        None => None,
                    },
                },
                "complaint" => ActivityKind::Complaint {
                    severity: match maybe(&cols.severity) {
                        None => Severity::Medium,
                        Some(v) => named::<Severity>(&v.to_ascii_lowercase()).ok_or_else(|| {
                            invalid(
                                &cols.severity,
                                format!("unknown severity `{v}` (low, medium, high)"),
                            )
                        })?,
                    },
                },
                "feedback" => {
                    let v = cell(&cols.score, "feedback")?;
                    let score: u8 = v.parse().map_err(|_| {
                        err(
                            &cols.score,
                            Problem::NotANumber {
                                value: v.to_owned(),
                            },
                        )
                    })?;
                    let scale = cell(&cols.scale, "feedback")?.to_ascii_lowercase();
                    let feedback = match scale.as_str() {
                        "nps" | "0-10" => Nps::new(score).map(Feedback::Nps),
                        "csat" | "1-5" => Csat::new(score).map(Feedback::Csat),
                        _ => {
                            return Err(invalid(
                                &cols.scale,
                                format!("unknown scale `{scale}` (nps or 0-10, csat or 1-5)"),
                            ));
                        }
                    }
                    .map_err(|e| invalid(&cols.score, e.to_string()))?;
                    ActivityKind::Feedback { feedback }
                }
                "referral" => {
                    let referred = cell(&cols.referred, "referral")?;
                    check_external(referred).map_err(|p| err(&cols.referred, p))?;
                    if referred == customer {
                        return Err(invalid(
                            &cols.referred,
                            "a customer cannot refer itself".into(),
                        ));
                    }
                    ActivityKind::Referral {
                        referred: customer_id(tenant, referred),
                    }
                }
                "contact" => ActivityKind::Contact,
                other => {
                    return Err(invalid(
                        &cols.kind,
                        format!("unknown kind `{other}` ({KINDS})"),
                    ));
                }
            };
            Ok(Row {
                line,
                customer: customer.to_owned(),
                at,
                channel,
                kind,
            })
        })();
        match row {
            Ok(r) => out.push(r),
            Err(e) if skip_bad => bad.push(e),
            Err(e) => return Err(e.into()),
        }
    }
    Ok((out, bad))
}

/// A short code per kind for the keys (an external id may take 160 of a key's 200 characters).
fn code(kind: &ActivityKind) -> &'static str {
    match kind.activity_type() {
        ActivityType::Visit => "v",
        ActivityType::CartAbandoned => "ca",
        ActivityType::Complaint => "cp",
        ActivityType::Feedback => "f",
        ActivityType::Referral => "r",
        _ => "c",
    }
}

/// Builds the customers (created at their first activity in the file; existing ones are left
/// as they are) and the activities with stable keys.
fn build(tenant: TenantId, rows: Vec<Row>) -> std::result::Result<Batch, RowError> {
    let mut first: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    for r in &rows {
        let e = first.entry(r.customer.clone()).or_insert(r.at);
        *e = (*e).min(r.at);
    }
    let attr = AttrKey::new("external_id").map_err(|e| RowError {
        line: 0,
        column: None,
        problem: Problem::Invalid(e.to_string()),
    })?;
    let customers = first
        .iter()
        .map(|(ext, at)| {
            let mut attrs = Attributes::new();
            attrs.insert(attr.clone(), AttrValue::Text(ext.clone()));
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
    let mut unnamed: BTreeMap<(String, chrono::NaiveDate), u32> = BTreeMap::new();
    let mut ranks: BTreeMap<(String, String, i64), u32> = BTreeMap::new();
    let mut activities = Vec::new();
    let mut refunds = Vec::new();
    for mut r in rows {
        let c = &r.customer;
        let stamp = r.at.timestamp_micros();
        let mut rank = |what: String| {
            let n = ranks.entry((c.clone(), what, stamp)).or_insert(0);
            *n += 1;
            *n
        };
        // The same keys as `import transactions` for purchases and refunds.
        let key = match &mut r.kind {
            ActivityKind::Purchase { order_id, .. } if order_id.as_str() == "-" => {
                let day = r.at.date_naive();
                let n = unnamed.entry((c.clone(), day)).or_insert(0);
                *n += 1;
                let key = format!("tx:{c}:{}:{n}", day.format("%Y%m%d"));
                *order_id = OrderId::new(key.clone()).map_err(|e| RowError {
                    line: r.line,
                    column: None,
                    problem: Problem::Invalid(e.to_string()),
                })?;
                key
            }
            ActivityKind::Purchase { order_id, .. } => format!("tx:{c}:order:{order_id}"),
            ActivityKind::Refund { order_id, .. } => {
                let n = rank(format!("refund:{order_id}"));
                let at = r.at.format("%Y%m%dT%H%M%S%.6fZ");
                format!("tx:{c}:refund:{order_id}:{at}:{n}")
            }
            other => {
                let code = code(other);
                let n = rank(code.to_owned());
                format!("act:{c}:{code}:{stamp}:{n}")
            }
        };
        let id = customer_id(tenant, c);
        let activity_id = crate::store::activity_id(tenant, &key);
        let activity = IdempotencyKey::new(key)
            .and_then(|key| Activity::new(activity_id, id, r.at, r.channel, key, r.kind.clone()))
            .map_err(|e| RowError {
                line: r.line,
                column: None,
                problem: Problem::Invalid(e.to_string()),
            })?;
        if matches!(r.kind, ActivityKind::Refund { .. }) {
            refunds.push((r.line, activity));
        } else {
            activities.push(activity);
        }
    }
    Ok(Batch {
        customers,
        purchases: activities,
        refunds,
        lines: BTreeMap::new(),
    })
}

/// What an activities import did.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub(crate) struct ImportedActivities {
    pub(crate) rows: usize,
    pub(crate) customers_new: usize,
    pub(crate) activities_new: usize,
    pub(crate) activities_skipped: usize,
    /// Line lists written: those full refunds without lines give back.
    pub(crate) lines_new: usize,
}

/// Reads, checks and builds a whole file (refunds checked against their orders, in the store
/// and in the file) before anything is written.
pub(crate) fn prepare(
    store: &Db,
    tenant: TenantId,
    input: impl Read,
    cols: &ActivityColumns,
    skip_bad: bool,
) -> Result<(Batch, Vec<RowError>)> {
    let (rows, mut bad) = parse(input, cols, tenant, skip_bad)?;
    let mut batch = build(tenant, rows)?;
    bad.extend(crate::import::check_refunds(
        store,
        tenant,
        &mut batch,
        &cols.as_transactions(),
        skip_bad,
    )?);
    bad.sort_by_key(|b| b.line);
    Ok((batch, bad))
}

/// Stores a prepared batch in bulk ([`ActivityImport`]: each batch one transaction, folded
/// into the stats as the service folds them, per-category spend under `policy`): customers
/// first, then every activity but refunds, then the refunds (whose orders are stored by
/// then), each settled against its order inside the store's write — so a full refund gives
/// back what is left of its order's lines, as `Service::record` does. A re-run skips what is
/// there. A refund another writer made impossible since `prepare` stops the import with its
/// line (the batches before it stay written).
pub(crate) fn store(
    store: &Db,
    tenant: TenantId,
    batch: Batch,
    policy: &ImportPolicy,
) -> Result<ImportedActivities> {
    let mut done = ImportedActivities {
        rows: batch.purchases.len() + batch.refunds.len(),
        ..ImportedActivities::default()
    };
    done.customers_new = store
        .import_customers_iter(tenant, batch.customers, 5_000, |_| {})?
        .inserted;
    let lines: BTreeMap<ActivityId, u64> = batch
        .refunds
        .iter()
        .map(|(line, a)| (a.id, *line))
        .collect();
    let refunds: Vec<Activity> = batch.refunds.into_iter().map(|(_, a)| a).collect();
    for part in batch.purchases.chunks(10_000).chain(refunds.chunks(10_000)) {
        let rows: Vec<ImportActivity> = part.iter().cloned().map(ImportActivity::from).collect();
        let r = match futures::executor::block_on(store.import_activities(tenant, rows, policy)) {
            Ok(r) => r,
            Err(e) => {
                return Err(match rapport_core::ports::refused_activity(&e) {
                    Some((id, why)) => RowError {
                        line: lines.get(&id).copied().unwrap_or(0),
                        column: None,
                        problem: Problem::Refund(why.clone()),
                    }
                    .into(),
                    None => e.into(),
                });
            }
        };
        done.activities_new += r.inserted;
        done.activities_skipped += r.skipped;
        done.lines_new += r.lines;
    }
    Ok(done)
}
