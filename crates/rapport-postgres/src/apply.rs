//! Writing one `Changeset` inside a transaction (a group commit's, under the changeset's own
//! savepoint, or a host's, under `apply_in`'s): duplicate keys first (nothing kept when any
//! is known), then creates (`ON CONFLICT DO NOTHING`, zero rows → `AlreadyExists`), updates
//! (`WHERE version = $n`, zero rows → `Conflict` or `NotFound`), activities (`ON CONFLICT DO
//! NOTHING`, zero rows → a concurrent apply stored the key first: reported as a duplicate) and
//! outbox rows, all in one pipeline. Any refusal is rolled back to the savepoint by the
//! caller.

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, Utc};
use futures::future::{join, join_all, join4, join5, try_join, try_join5};
use rapport_core::{
    ActivityKind, Applied, Changeset, Customer, CustomerWrite, IdempotencyKey, Stage, Stats,
    StoreError, TenantId,
};
use rust_decimal::Decimal;
use tokio_postgres::Statement;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use rapport_sql::seal::{self, Sealer};

use crate::conn::Conn;
use crate::error::{corrupt, seal_failure};
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
    pub(crate) fn new(
        c: &Customer,
        s: &Stats,
        sealer: Option<&Sealer>,
    ) -> Result<Self, StoreError> {
        let (email, phone) = seal::contact_columns(sealer, c).map_err(seal_failure)?;
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
            email,
            phone,
            orders: i64::from(s.orders()),
            purchase_days: i64::from(s.purchase_day_count()),
            revenue: s.revenue_amount(),
            last_purchase_day: s.last_purchase_day(),
            first_purchase_day: s.first_purchase_day(),
            customer_json: seal::customer_json(sealer, c).map_err(seal_failure)?,
            stats_json: to_json("customers", s)?,
        })
    }

    /// The contact columns as written (email, phone; blind indexes under encryption): what
    /// the unique contact indexes compare.
    pub(crate) fn contacts(&self) -> (Option<&str>, Option<&str>) {
        (self.email.as_deref(), self.phone.as_deref())
    }

    /// True for a merged or erased customer (which claims no contact).
    fn is_tombstone(&self) -> bool {
        matches!(self.stage, "merged" | "erased")
    }

    /// Stores new stats (and the customer's next version) after an import folded activities
    /// in.
    pub(crate) async fn update_stats(
        &self,
        tx: &impl Conn,
        sql: &Sql,
        tenant: &Uuid,
    ) -> Result<u64, StoreError> {
        let stmt = tx.prepare(&sql.import_stats).await?;
        tx.exec(
            &stmt,
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

    /// `insert_customer` (`ON CONFLICT DO NOTHING`): 1 when stored, 0 when the id was there.
    pub(crate) async fn insert(
        &self,
        tx: &impl Conn,
        stmt: &Statement,
        tenant: &Uuid,
    ) -> Result<u64, StoreError> {
        tx.exec(stmt, &self.values(tenant)).await
    }

    /// A customer update `stmt` (`update_customer`, or a merge's `revive`: the same parameters)
    /// at `expected`: 1 when written, 0 when the version (or the row) was not there.
    pub(crate) async fn update(
        &self,
        tx: &impl Conn,
        stmt: &Statement,
        tenant: &Uuid,
        expected: u64,
    ) -> Result<u64, StoreError> {
        let expected_i = i64::try_from(expected).unwrap_or(i64::MAX);
        tx.exec(
            stmt,
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
        .await
    }

    /// Why an update at `expected` wrote nothing, from the version and stage stored right
    /// after it: a tombstone is final (`Tombstoned`), else `Conflict` with that version, or
    /// `NotFound`.
    fn refusal(&self, expected: u64, stored: Option<(i64, String)>) -> StoreError {
        let customer = rapport_core::CustomerId::from_uuid(self.id);
        let tombstone = match stored.as_ref().map(|(_, stage)| stage.as_str()) {
            Some("merged") => Some("merged"),
            Some("erased") => Some("erased"),
            _ => None,
        };
        if let Some(state) = tombstone {
            return StoreError::Invalid(rapport_core::DomainError::Tombstoned { customer, state });
        }
        match stored.map(|(version, _)| version) {
            Some(actual) => StoreError::Conflict {
                customer,
                expected,
                actual: u64::try_from(actual).unwrap_or(0),
            },
            None => StoreError::NotFound {
                entity: rapport_core::ports::Entity::Customer(customer),
            },
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
    pub(crate) fn new(
        a: &rapport_core::Activity,
        tenant: TenantId,
        sealer: Option<&Sealer>,
    ) -> Result<Self, StoreError> {
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
            json: seal::activity_json(sealer, tenant, a).map_err(seal_failure)?,
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

    /// `insert_activity` (`ON CONFLICT DO NOTHING`): 1 when stored, 0 when the key was
    /// there.
    pub(crate) async fn insert(
        &self,
        tx: &impl Conn,
        stmt: &Statement,
        tenant: &Uuid,
    ) -> Result<u64, StoreError> {
        tx.exec(stmt, &self.values(tenant)).await
    }
}

struct MessageRow {
    id: Uuid,
    occurred_at: DateTime<Utc>,
    attempts: i32,
    json: String,
}

/// The statements a write sends, prepared on its connection (`None`: not needed).
pub(crate) struct Stmts {
    set_tenant: Statement,
    existing_keys: Option<Statement>,
    insert_customer: Option<Statement>,
    update_customer: Option<Statement>,
    version_of: Option<Statement>,
    insert_activity: Option<Statement>,
    insert_message: Option<Statement>,
    cases: crate::case::CaseStmts,
    accounts: crate::account::AccountStmts,
    merge_sql: std::sync::Arc<crate::merge::MergeSql>,
}

impl Stmts {
    /// The statements `for_cs` needs, or all of them (`None`).
    pub(crate) async fn prepare(
        tx: &impl Conn,
        sql: &Sql,
        for_cs: Option<&Prepared>,
    ) -> Result<Self, StoreError> {
        let (creates, updates, activities, messages) = match for_cs {
            None => (true, true, true, true),
            Some(p) => (
                p.customers.iter().any(|(e, _)| e.is_none()),
                p.customers.iter().any(|(e, _)| e.is_some()),
                !p.activities.is_empty(),
                !p.messages.is_empty(),
            ),
        };
        let prep = |yes: bool, text: &str| {
            let text = text.to_owned();
            async move {
                if yes {
                    tx.prepare(&text).await.map(Some)
                } else {
                    Ok(None)
                }
            }
        };
        let (
            set_tenant,
            (
                existing_keys,
                insert_customer,
                (update_customer, version_of),
                insert_activity,
                insert_message,
            ),
        ) = try_join(
            tx.prepare(crate::sql::SET_TENANT_LOCAL),
            try_join5(
                prep(activities, &sql.existing_keys),
                prep(creates, &sql.create_customer),
                try_join(
                    prep(updates, &sql.update_customer),
                    prep(updates, &sql.version_of),
                ),
                prep(activities, &sql.insert_activity),
                prep(messages, &sql.insert_message),
            ),
        )
        .await?;
        let cases =
            crate::case::CaseStmts::prepare(tx, &sql.case, for_cs.map(|p| p.cases.as_slice()))
                .await?;
        let accounts =
            crate::account::AccountStmts::prepare(tx, &sql.account, for_cs.map(|p| &p.accounts))
                .await?;
        Ok(Self {
            set_tenant,
            existing_keys,
            insert_customer,
            update_customer,
            version_of,
            insert_activity,
            insert_message,
            cases,
            accounts,
            merge_sql: sql.merges.clone(),
        })
    }
}

impl Stmts {
    /// Names `tenant` for the row-level security policies until the end of the transaction
    /// (or back to the value before, when a savepoint taken before it is rolled back).
    pub(crate) async fn name_tenant(
        &self,
        tx: &impl Conn,
        tenant: &Uuid,
    ) -> Result<u64, StoreError> {
        let text = tenant.to_string();
        tx.exec(&self.set_tenant, &[&text]).await
    }
}

/// The statements of [`Prepared::send_pipelined`] ([`crate::sql::Strict`]), prepared on
/// (and cached by) one pooled connection.
pub(crate) struct StrictStmts {
    create_customer: Statement,
    update_customer: Statement,
    no_known_keys: Statement,
    insert_activity: Statement,
}

impl StrictStmts {
    /// Prepares (or takes from the connection's cache) the four statements.
    pub(crate) async fn prepare(tx: &impl Conn, sql: &Sql) -> Result<Self, StoreError> {
        let s = &sql.strict;
        let ((create_customer, update_customer), (no_known_keys, insert_activity)) = try_join(
            try_join(
                tx.prepare(&s.create_customer),
                tx.prepare(&s.update_customer),
            ),
            try_join(tx.prepare(&s.no_known_keys), tx.prepare(&s.insert_activity)),
        )
        .await?;
        Ok(Self {
            create_customer,
            update_customer,
            no_known_keys,
            insert_activity,
        })
    }
}

/// A validated, serialised changeset: owned, so it can move to the store's runtime.
pub(crate) struct Prepared {
    tenant: Uuid,
    customers: Vec<(Option<u64>, CustomerRow)>,
    activities: Vec<ActivityRow>,
    messages: Vec<MessageRow>,
    counts: Applied,
    cases: Vec<crate::case::CaseRow>,
    accounts: crate::account::AccountRows,
    ledger: crate::consent::LedgerWrites,
    lines: crate::line_items::LineWrites,
    merges: crate::merge::PreparedMerges,
    revived: Vec<(u64, CustomerRow)>,
}

impl Prepared {
    pub(crate) fn new(
        tenant: TenantId,
        cs: &Changeset,
        sealer: Option<&Sealer>,
    ) -> Result<Self, StoreError> {
        cs.validate(tenant)?;
        // Two writes of the changeset claiming one contact: refused before any statement.
        rapport_core::ports::check_contacts(&cs.customers, |_| None)?;
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
            .collect::<Result<Vec<_>, StoreError>>()?;
        // Tombstones first: they release their contacts, which another write of the same
        // changeset (a merge's survivor) may claim; the unique indexes check every statement.
        let (mut customers, live): (Vec<_>, Vec<_>) = customers
            .into_iter()
            .partition(|(_, row): &(Option<u64>, CustomerRow)| row.is_tombstone());
        customers.extend(live);
        let merges = crate::merge::PreparedMerges::new(cs, tenant, sealer)?;
        // Tombstones revived by their unmerge are written after the pipeline (the pipeline's
        // update refuses tombstones), by `PreparedMerges::write`.
        let (revived, customers) = if cs.merges.is_empty() {
            (Vec::new(), customers)
        } else {
            let (revived, customers): (Vec<_>, Vec<_>) =
                customers
                    .into_iter()
                    .partition(|(e, row): &(Option<u64>, CustomerRow)| {
                        e.is_some() && merges.revives(row.id)
                    });
            let revived = revived
                .into_iter()
                .filter_map(|(e, row)| e.map(|e| (e, row)))
                .collect();
            (revived, customers)
        };
        let activities = cs
            .activities
            .iter()
            .map(|a| ActivityRow::new(a, tenant, sealer))
            .collect::<Result<_, StoreError>>()?;
        let ledger = crate::consent::LedgerWrites::new(tenant, cs, sealer)?;
        // The keys that sealed these rows are durable before the rows are committed.
        if let Some(s) = sealer {
            s.keys().sync()?;
        }
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
            cases: crate::case::rows(cs)?,
            accounts: crate::account::rows(cs)?,
            ledger,
            lines: crate::line_items::LineWrites::new(cs)?,
            merges,
            revived,
        })
    }

    /// Whether the changeset writes only customers, activities and outbox rows — what
    /// [`Prepared::send_pipelined`] covers (the other writes read answers before they go on).
    pub(crate) fn pipelinable(&self) -> bool {
        self.cases.is_empty()
            && self.accounts.is_empty()
            && self.ledger.is_empty()
            && self.lines.is_empty()
            && self.merges.is_empty()
            && self.revived.is_empty()
    }

    /// The changeset's statements in their strict forms ([`crate::sql::Strict`]), every one
    /// sent on the future's first poll, the tenant already named: `Ok` when each wrote what
    /// it should, an error at the first refusal — which aborted the transaction, so nothing
    /// of the transaction can be committed after it. Only for [`Prepared::pipelinable`]
    /// changesets. The error says nothing about which refusal it was: the group runs again
    /// under savepoints ([`Prepared::send`]) to learn each caller's outcome.
    pub(crate) async fn send_pipelined(
        &self,
        tx: &impl Conn,
        stmts: &Stmts,
        strict: &StrictStmts,
    ) -> Result<Applied, StoreError> {
        let t = &self.tenant;
        let keys = self.keys();
        let known = async {
            if keys.is_empty() {
                Ok(0)
            } else {
                tx.exec(&strict.no_known_keys, &[t, &keys]).await
            }
        };
        let customers = join_all(self.customers.iter().map(|(expected, row)| async move {
            match expected {
                None => row.insert(tx, &strict.create_customer, t).await,
                Some(v) => row.update(tx, &strict.update_customer, t, *v).await,
            }
        }));
        let activities = join_all(
            self.activities
                .iter()
                .map(|a| a.insert(tx, &strict.insert_activity, t)),
        );
        let messages = join_all(self.messages.iter().map(|m| async move {
            match &stmts.insert_message {
                Some(stmt) => {
                    tx.exec(stmt, &[t, &m.id, &m.occurred_at, &m.attempts, &m.json])
                        .await
                }
                None => Err(StoreError::unavailable(
                    "group commit: the outbox statement was not prepared",
                )),
            }
        }));
        let (known, written, stored, sent) = join4(known, customers, activities, messages).await;
        known?;
        // Each strict statement writes its one row or fails; a count of 0 cannot come back
        // without an error (that would let the pipelined `COMMIT` keep a partial changeset).
        for n in written.into_iter().chain(stored).chain(sent) {
            n?;
        }
        Ok(self.counts.clone())
    }

    fn keys(&self) -> Vec<&str> {
        self.activities.iter().map(|a| a.key.as_str()).collect()
    }

    /// The smallest id of the customers written (revived ones included), else the first
    /// activity's customer: what the group commit routes by. The smallest, not the first:
    /// "merge A into B" writes B's tombstone first and "merge B into A" A's, and routed by
    /// their first rows the two would run in two lanes' transactions at once, each locking
    /// its first row and waiting for the other's (a deadlock PostgreSQL breaks by failing
    /// one). Routed by the smallest id they meet in one lane, one after the other, and the
    /// second is refused with a typed conflict.
    pub(crate) fn route(&self) -> u128 {
        let id = self
            .customers
            .iter()
            .map(|(_, c)| c.id)
            .chain(self.revived.iter().map(|(_, c)| c.id))
            .min()
            .or_else(|| self.activities.first().map(|a| a.customer))
            .unwrap_or_default();
        id.as_u128() ^ self.tenant.as_u128()
    }

    /// Writes everything inside `tx`. `Ok` with duplicates, or an error, means the caller
    /// must roll back (to its savepoint): statements after a refused one may have run.
    ///
    /// The statements are prepared first, then sent in one pipeline, in changeset order:
    /// the known-keys check, the customer writes, the activities, the outbox rows. Their
    /// answers are read in the same order, so the outcome is the one of running them one by
    /// one and stopping at the first refusal: known keys → duplicates (nothing kept); a
    /// create that wrote nothing → `AlreadyExists`; an update that wrote nothing →
    /// `Conflict` or `NotFound`; an activity that wrote nothing (a concurrent apply stored
    /// its key first) → duplicates.
    pub(crate) async fn write(&self, tx: &impl Conn, sql: &Sql) -> Result<Applied, StoreError> {
        let stmts = Stmts::prepare(tx, sql, Some(self)).await?;
        self.send_with_ledger(tx, &stmts, sql, true).await
    }

    /// The tenant the changeset writes for.
    pub(crate) fn tenant(&self) -> Uuid {
        self.tenant
    }

    /// [`Prepared::send`], then the consent ledger's writes once it succeeded without
    /// duplicates (same transaction and savepoint; statements of their own, sent after the
    /// answer, so in a group they run after later changesets' statements — a refusal rolls
    /// back to this changeset's savepoint, which undoes those too, and they are sent again).
    pub(crate) async fn send_with_ledger(
        &self,
        tx: &impl Conn,
        stmts: &Stmts,
        sql: &Sql,
        name_tenant: bool,
    ) -> Result<Applied, StoreError> {
        let applied = self.send(tx, stmts, name_tenant).await?;
        if applied.is_duplicate() {
            return Ok(applied);
        }
        if !self.ledger.is_empty() {
            self.ledger.write(tx, &sql.consents, &self.tenant).await?;
        }
        if !self.lines.is_empty() {
            self.lines.write(tx, &sql.line_items, &self.tenant).await?;
        }
        Ok(applied)
    }

    /// [`Prepared::write`] with the statements prepared: every statement is sent on the
    /// future's first poll (nothing is awaited before), so the changesets of a group can
    /// share one pipeline. Without `name_tenant` the caller has named the changeset's tenant
    /// in the transaction already ([`Stmts::name_tenant`]), and the statement is left out.
    pub(crate) async fn send(
        &self,
        tx: &impl Conn,
        stmts: &Stmts,
        name_tenant: bool,
    ) -> Result<Applied, StoreError> {
        let t = &self.tenant;
        let Stmts {
            set_tenant,
            existing_keys: keys_stmt,
            insert_customer: insert_c,
            update_customer: update_c,
            version_of: version_c,
            insert_activity: insert_a,
            insert_message: insert_m,
            cases: case_stmts,
            accounts: account_stmts,
            merge_sql,
        } = stmts;
        let keys = self.keys();
        // First in the pipeline: the row-level security policies show this tenant's rows
        // (and accept only them) for the statements after it.
        let tenant_text = self.tenant.to_string();
        let tenant_param: [&(dyn ToSql + Sync); 1] = [&tenant_text];
        let named = async {
            if name_tenant {
                tx.exec(set_tenant, &tenant_param).await
            } else {
                Ok(0)
            }
        };
        // A changeset without activities has no key to look up: no statement is sent (a
        // group prepares every statement, so `keys_stmt` alone does not tell).
        let known = async {
            match &keys_stmt {
                Some(stmt) if !keys.is_empty() => tx.rows(stmt, &[t, &keys]).await,
                _ => Ok(Vec::new()),
            }
        };
        // An update is followed by a read of the version it leaves, so a refusal can say
        // which version is stored without another round trip.
        let customers = join_all(self.customers.iter().map(|(expected, row)| {
            let stmts = (insert_c.as_ref(), update_c.as_ref(), version_c.as_ref());
            async move {
                match (expected, stmts) {
                    (None, (Some(stmt), _, _)) => row.insert(tx, stmt, t).await.map(|n| (n, None)),
                    (Some(v), (_, Some(update), Some(version))) => {
                        let (n, now) = join(
                            row.update(tx, update, t, *v),
                            tx.rows(version, &[t, &row.id]),
                        )
                        .await;
                        let n = n?;
                        if n == 1 {
                            return Ok((n, None));
                        }
                        let now = match now?.first() {
                            Some(r) => Some((
                                crate::read::col::<i64>(r, "customers", 0)?,
                                crate::read::col::<String>(r, "customers", 1)?,
                            )),
                            None => None,
                        };
                        Ok((n, Some(now)))
                    }
                    _ => Ok((0, None)),
                }
            }
        }));
        let activities = join_all(self.activities.iter().map(|a| {
            let stmt = insert_a.as_ref();
            async move {
                match stmt {
                    Some(stmt) => a.insert(tx, stmt, t).await,
                    None => Ok(0),
                }
            }
        }));
        let messages = join_all(self.messages.iter().map(|m| {
            let stmt = insert_m.as_ref();
            async move {
                match stmt {
                    Some(stmt) => {
                        tx.exec(stmt, &[t, &m.id, &m.occurred_at, &m.attempts, &m.json])
                            .await
                    }
                    None => Ok(0),
                }
            }
        }));
        // Every answer is awaited, then read in statement order: the first refusal or error
        // is the outcome, as if the statements had run one by one (after an error the
        // server refuses the rest of the pipeline, and those answers are never read).
        let cases = join(
            crate::case::send(tx, case_stmts, t, &self.cases),
            crate::account::send(tx, account_stmts, t, &self.accounts),
        );
        let (named, (known, written, stored, sent, cased)) =
            join(named, join5(known, customers, activities, messages, cases)).await;
        named?;
        let found = known?
            .iter()
            .map(|r| crate::read::col(r, "activities", 0))
            .collect::<Result<HashSet<String>, _>>()?;
        if !found.is_empty() {
            return Ok(Applied {
                duplicates: self
                    .activities
                    .iter()
                    .filter(|a| found.contains(a.key.as_str()))
                    .map(|a| a.key.clone())
                    .collect(),
                ..Applied::default()
            });
        }
        for ((expected, row), n) in self.customers.iter().zip(written) {
            let (n, stored) = n?;
            if n == 1 {
                continue;
            }
            return Err(match expected {
                None => StoreError::AlreadyExists {
                    customer: rapport_core::CustomerId::from_uuid(row.id),
                },
                Some(v) => row.refusal(*v, stored.flatten()),
            });
        }
        let mut raced = Vec::new();
        for (a, n) in self.activities.iter().zip(stored) {
            if n? == 0 {
                raced.push(a.key.clone());
            }
        }
        if !raced.is_empty() {
            return Ok(Applied {
                duplicates: raced,
                ..Applied::default()
            });
        }
        for n in sent {
            n?;
        }
        cased.0?;
        cased.1?;
        if !self.merges.is_empty() || !self.revived.is_empty() {
            self.merges.write(tx, merge_sql, t, &self.revived).await?;
        }
        Ok(self.counts.clone())
    }
}
