//! Applying one `Changeset` in one transaction: duplicate keys first (nothing written when any
//! is known), then creates (`ON CONFLICT DO NOTHING`, zero rows → `AlreadyExists`), updates
//! (`WHERE version = $n`, zero rows → `Conflict` or `NotFound`), activities (`ON CONFLICT DO
//! NOTHING`, zero rows → a concurrent apply stored the key first: reported as a duplicate) and
//! outbox rows. Any refusal rolls the whole transaction back.

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, Utc};
use rapport_core::{
    ActivityKind, Applied, Changeset, Customer, CustomerWrite, IdempotencyKey, Stage, Stats,
    StoreError, TenantId,
};
use rust_decimal::Decimal;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use crate::conn::Conn;
use crate::error::corrupt;
use crate::sql::Sql;

fn to_json<T: serde::Serialize>(table: &str, v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| corrupt(table, e))
}

/// A customer row, serialised on the caller's side.
pub(crate) struct CustomerRow {
    pub(crate) id: Uuid,
    version: i64,
    stage: &'static str,
    tier: &'static str,
    merged_into: Option<Uuid>,
    created_at: DateTime<Utc>,
    email: Option<String>,
    phone: Option<String>,
    orders: i64,
    purchase_days: i64,
    revenue: Decimal,
    last_purchase_day: Option<NaiveDate>,
    first_purchase_day: Option<NaiveDate>,
    customer_json: String,
    stats_json: String,
}

impl CustomerRow {
    pub(crate) fn new(c: &Customer, s: &Stats) -> Result<Self, StoreError> {
        Ok(Self {
            id: *c.id().as_uuid(),
            version: i64::try_from(c.version()).unwrap_or(i64::MAX),
            stage: c.stage().as_str(),
            tier: c.tier().as_str(),
            merged_into: match c.stage() {
                Stage::Merged { into } => Some(*into.as_uuid()),
                _ => None,
            },
            created_at: c.created_at(),
            email: c
                .profile
                .email
                .as_ref()
                .map(|e| e.expose().as_str().to_owned()),
            phone: c
                .profile
                .phone
                .as_ref()
                .map(|p| p.expose().as_str().to_owned()),
            orders: i64::from(s.orders()),
            purchase_days: i64::from(s.purchase_day_count()),
            revenue: s.revenue_amount(),
            last_purchase_day: s.last_purchase_day(),
            first_purchase_day: s.first_purchase_day(),
            customer_json: to_json("customers", c)?,
            stats_json: to_json("customers", s)?,
        })
    }

    /// Stores new stats (and the customer's next version) after an import folded activities
    /// in.
    pub(crate) async fn update_stats(
        &self,
        tx: &impl Conn,
        sql: &Sql,
        tenant: &Uuid,
    ) -> Result<u64, StoreError> {
        tx.exec(
            &sql.import_stats,
            &[
                tenant,
                &self.id,
                &self.version,
                &self.orders,
                &self.purchase_days,
                &self.revenue,
                &self.last_purchase_day,
                &self.first_purchase_day,
                &self.customer_json,
                &self.stats_json,
            ],
        )
        .await
    }

    /// The values of `insert_customer`, in its column order (also the order of a `COPY`).
    pub(crate) fn values<'a>(&'a self, tenant: &'a Uuid) -> [&'a (dyn ToSql + Sync); 16] {
        [
            tenant,
            &self.id,
            &self.version,
            &self.stage,
            &self.tier,
            &self.merged_into,
            &self.created_at,
            &self.email,
            &self.phone,
            &self.orders,
            &self.purchase_days,
            &self.revenue,
            &self.last_purchase_day,
            &self.first_purchase_day,
            &self.customer_json,
            &self.stats_json,
        ]
    }

    pub(crate) async fn insert(
        &self,
        tx: &impl Conn,
        sql: &Sql,
        tenant: &Uuid,
    ) -> Result<u64, StoreError> {
        tx.exec(&sql.insert_customer, &self.values(tenant)).await
    }

    async fn update(
        &self,
        tx: &impl Conn,
        sql: &Sql,
        tenant: &Uuid,
        expected: u64,
    ) -> Result<(), StoreError> {
        let customer = rapport_core::CustomerId::from_uuid(self.id);
        let expected_i = i64::try_from(expected).unwrap_or(i64::MAX);
        let n = tx
            .exec(
                &sql.update_customer,
                &[
                    tenant,
                    &self.id,
                    &self.version,
                    &self.stage,
                    &self.tier,
                    &self.merged_into,
                    &self.email,
                    &self.phone,
                    &self.orders,
                    &self.purchase_days,
                    &self.revenue,
                    &self.last_purchase_day,
                    &self.first_purchase_day,
                    &self.customer_json,
                    &self.stats_json,
                    &expected_i,
                ],
            )
            .await?;
        if n == 1 {
            return Ok(());
        }
        let actual = tx
            .row(&sql.version_of, &[tenant, &self.id])
            .await?
            .map(|r| r.get::<_, i64>(0));
        match actual {
            Some(actual) => Err(StoreError::Conflict {
                customer,
                expected,
                actual: u64::try_from(actual).unwrap_or(0),
            }),
            None => Err(StoreError::NotFound {
                entity: rapport_core::ports::Entity::Customer(customer),
            }),
        }
    }
}

pub(crate) struct ActivityRow {
    key: IdempotencyKey,
    key_text: String,
    id: Uuid,
    customer: Uuid,
    at: DateTime<Utc>,
    kind: &'static str,
    amount: Option<Decimal>,
    json: String,
}

impl ActivityRow {
    pub(crate) fn new(a: &rapport_core::Activity) -> Result<Self, StoreError> {
        Ok(Self {
            key: a.idempotency_key.clone(),
            key_text: a.idempotency_key.as_str().to_owned(),
            id: *a.id.as_uuid(),
            customer: *a.customer.as_uuid(),
            at: a.at,
            kind: a.kind.activity_type().as_str(),
            amount: match &a.kind {
                ActivityKind::Purchase { amount, .. } | ActivityKind::Refund { amount, .. } => {
                    Some(amount.amount)
                }
                _ => None,
            },
            json: to_json("activities", a)?,
        })
    }

    /// The values of `insert_activity`, in its column order (also the order of a `COPY`).
    pub(crate) fn values<'a>(&'a self, tenant: &'a Uuid) -> [&'a (dyn ToSql + Sync); 8] {
        [
            tenant,
            &self.key_text,
            &self.id,
            &self.customer,
            &self.at,
            &self.kind,
            &self.amount,
            &self.json,
        ]
    }

    /// The idempotency key.
    pub(crate) fn key(&self) -> &str {
        &self.key_text
    }

    /// `INSERT … ON CONFLICT DO NOTHING`: 1 when stored, 0 when the key was there.
    pub(crate) async fn insert(
        &self,
        tx: &impl Conn,
        sql: &Sql,
        tenant: &Uuid,
    ) -> Result<u64, StoreError> {
        tx.exec(&sql.insert_activity, &self.values(tenant)).await
    }
}

struct MessageRow {
    id: Uuid,
    occurred_at: DateTime<Utc>,
    attempts: i32,
    json: String,
}

/// A validated, serialised changeset: owned, so it can move to the store's runtime.
pub(crate) struct Prepared {
    tenant: Uuid,
    customers: Vec<(Option<u64>, CustomerRow)>,
    activities: Vec<ActivityRow>,
    messages: Vec<MessageRow>,
    counts: Applied,
}

impl Prepared {
    pub(crate) fn new(tenant: TenantId, cs: &Changeset) -> Result<Self, StoreError> {
        cs.validate(tenant)?;
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
                Ok((expected, CustomerRow::new(w.customer(), w.stats())?))
            })
            .collect::<Result<_, StoreError>>()?;
        let activities = cs
            .activities
            .iter()
            .map(ActivityRow::new)
            .collect::<Result<_, StoreError>>()?;
        let messages = cs
            .outbox
            .iter()
            .map(|m| {
                Ok(MessageRow {
                    id: *m.id.as_uuid(),
                    occurred_at: m.occurred_at,
                    attempts: i32::try_from(m.attempts).unwrap_or(i32::MAX),
                    json: to_json("outbox", m)?,
                })
            })
            .collect::<Result<_, StoreError>>()?;
        Ok(Self {
            tenant: *tenant.as_uuid(),
            customers,
            activities,
            messages,
            counts: Applied::counting(cs),
        })
    }

    fn keys(&self) -> Vec<&str> {
        self.activities.iter().map(|a| a.key.as_str()).collect()
    }

    /// The keys of this changeset that are already stored, in changeset order.
    pub(crate) async fn known_keys(
        &self,
        tx: &impl Conn,
        sql: &Sql,
    ) -> Result<Vec<IdempotencyKey>, StoreError> {
        if self.activities.is_empty() {
            return Ok(Vec::new());
        }
        let found: HashSet<String> = tx
            .rows(&sql.existing_keys, &[&self.tenant, &self.keys()])
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        Ok(self
            .activities
            .iter()
            .filter(|a| found.contains(a.key.as_str()))
            .map(|a| a.key.clone())
            .collect())
    }

    /// Writes everything inside `tx`. `Ok` with duplicates means the caller must roll back.
    pub(crate) async fn write(&self, tx: &impl Conn, sql: &Sql) -> Result<Applied, StoreError> {
        let duplicates = self.known_keys(tx, sql).await?;
        if !duplicates.is_empty() {
            return Ok(Applied {
                duplicates,
                ..Applied::default()
            });
        }
        let t = &self.tenant;
        for (expected, row) in &self.customers {
            match expected {
                None => {
                    if row.insert(tx, sql, t).await? == 0 {
                        return Err(StoreError::AlreadyExists {
                            customer: rapport_core::CustomerId::from_uuid(row.id),
                        });
                    }
                }
                Some(v) => row.update(tx, sql, t, *v).await?,
            }
        }
        let mut raced = Vec::new();
        for a in &self.activities {
            if a.insert(tx, sql, t).await? == 0 {
                raced.push(a.key.clone());
            }
        }
        if !raced.is_empty() {
            return Ok(Applied {
                duplicates: raced,
                ..Applied::default()
            });
        }
        for m in &self.messages {
            tx.exec(
                &sql.insert_message,
                &[t, &m.id, &m.occurred_at, &m.attempts, &m.json],
            )
            .await?;
        }
        Ok(self.counts.clone())
    }
}
