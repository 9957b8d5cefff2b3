//! Accounts and account links in PostgreSQL (`accounts`, `account_links`, schema version 4;
//! attributed activities in `account_activities`, version 8;
//! row-level security per tenant): written in the changeset's pipeline (accounts with
//! `ON CONFLICT DO NOTHING` creates and `WHERE version = $n` updates, each followed by a read
//! of the version left; links upserted by key), read with the tenant named first.

use futures::future::{join, join_all};
use rapport_core::ports::Entity;
use rapport_core::{
    Account, AccountId, AccountLink, AccountRole, AccountRoleSet, AccountStore, Activity,
    Changeset, CustomerId, StoreError, TenantId,
};
use tokio_postgres::Statement;
use uuid::Uuid;

use crate::PostgresStore;
use crate::conn::Conn;
use crate::error::{corrupt, db, pool};
use crate::read::{as_tenant, col};

/// The account statements for one schema.
#[derive(Debug, Clone)]
pub(crate) struct AccountSql {
    insert: String,
    update: String,
    version_of: String,
    upsert_link: String,
    delete_link: String,
    load: String,
    page: String,
    subsidiaries: String,
    account_links: String,
    customer_links: String,
    customer_roles: String,
    page_activities: String,
    page_roles: String,
    attribute: String,
    move_attributed: String,
    hand_attributed: String,
    account_activities: String,
}

impl AccountSql {
    /// `s` is the quoted schema name.
    pub(crate) fn new(s: &str) -> Self {
        Self {
            insert: format!(
                "INSERT INTO {s}.accounts (tenant_id, account_id, parent_id, version, account_json)
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING"
            ),
            update: format!(
                "UPDATE {s}.accounts SET parent_id = $3, version = $4, account_json = $5
                 WHERE tenant_id = $1 AND account_id = $2 AND version = $6"
            ),
            version_of: format!(
                "SELECT version FROM {s}.accounts WHERE tenant_id = $1 AND account_id = $2"
            ),
            upsert_link: format!(
                "INSERT INTO {s}.account_links (tenant_id, account_id, customer_id, link_json)
                 VALUES ($1, $2, $3, $4)
                 ON CONFLICT (tenant_id, account_id, customer_id)
                 DO UPDATE SET link_json = excluded.link_json"
            ),
            delete_link: format!(
                "DELETE FROM {s}.account_links
                 WHERE tenant_id = $1 AND account_id = $2 AND customer_id = $3"
            ),
            load: format!(
                "SELECT account_json FROM {s}.accounts WHERE tenant_id = $1 AND account_id = $2"
            ),
            page: format!(
                "SELECT account_json FROM {s}.accounts
                 WHERE tenant_id = $1 AND ($2::uuid IS NULL OR account_id > $2)
                 ORDER BY account_id LIMIT $3"
            ),
            subsidiaries: format!(
                "SELECT account_json FROM {s}.accounts WHERE tenant_id = $1 AND parent_id = $2
                 ORDER BY account_id"
            ),
            account_links: format!(
                "SELECT link_json FROM {s}.account_links WHERE tenant_id = $1 AND account_id = $2
                 ORDER BY customer_id"
            ),
            customer_links: format!(
                "SELECT link_json FROM {s}.account_links WHERE tenant_id = $1 AND customer_id = $2
                 ORDER BY account_id"
            ),
            page_activities: format!(
                "SELECT activity_json, account_id FROM {s}.account_activities
                 WHERE tenant_id = $1 AND account_id = ANY($2)
                 ORDER BY account_id, at, idempotency_key"
            ),
            page_roles: format!(
                "SELECT r.role, count(*) FROM {s}.account_links AS l,
                     jsonb_array_elements_text(l.link_json::jsonb -> 'roles') AS r(role)
                 WHERE l.tenant_id = $1 AND l.account_id = ANY($2)
                   AND (l.link_json::jsonb -> 'until') IS NULL
                 GROUP BY r.role"
            ),
            customer_roles: format!(
                "SELECT link_json FROM {s}.account_links
                 WHERE tenant_id = $1 AND customer_id = ANY($2)"
            ),
            attribute: format!(
                "INSERT INTO {s}.account_activities (tenant_id, idempotency_key, account_id,
                     customer_id, at, activity_json) VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT DO NOTHING"
            ),
            move_attributed: format!(
                "UPDATE {s}.account_activities SET customer_id = $4, activity_json = $5
                 WHERE tenant_id = $1 AND idempotency_key = $2 AND customer_id = $3"
            ),
            hand_attributed: format!(
                "UPDATE {s}.account_activities SET account_id = $4
                 WHERE tenant_id = $1 AND idempotency_key = $2 AND account_id = $3"
            ),
            account_activities: format!(
                "SELECT activity_json FROM {s}.account_activities
                 WHERE tenant_id = $1 AND account_id = $2 ORDER BY at, idempotency_key"
            ),
        }
    }
}

/// The prepared write statements (`None` when not needed).
pub(crate) struct AccountStmts {
    insert: Option<Statement>,
    update: Option<Statement>,
    version_of: Option<Statement>,
    upsert_link: Option<Statement>,
    attribute: Option<Statement>,
    move_attributed: Option<Statement>,
    hand_attributed: Option<Statement>,
    delete_link: Option<Statement>,
}

impl AccountStmts {
    /// Prepares what `rows` need (everything when `None`).
    pub(crate) async fn prepare(
        tx: &impl Conn,
        sql: &AccountSql,
        rows: Option<&AccountRows>,
    ) -> Result<Self, StoreError> {
        let (creates, updates, links, removals) = rows.map_or((true, true, true, true), |r| {
            (
                r.accounts.iter().any(|a| a.expected.is_none()),
                r.accounts.iter().any(|a| a.expected.is_some()),
                !r.links.is_empty(),
                !r.removals.is_empty(),
            )
        });
        let (attributes, moves, handed) = rows.map_or((true, true, true), |r| {
            (
                !r.attributed.is_empty(),
                !r.moved.is_empty(),
                !r.handed.is_empty(),
            )
        });
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
        Ok(Self {
            insert: prep(creates, &sql.insert).await?,
            update: prep(updates, &sql.update).await?,
            version_of: prep(creates || updates, &sql.version_of).await?,
            upsert_link: prep(links, &sql.upsert_link).await?,
            attribute: prep(attributes, &sql.attribute).await?,
            move_attributed: prep(moves, &sql.move_attributed).await?,
            hand_attributed: prep(handed, &sql.hand_attributed).await?,
            delete_link: prep(removals, &sql.delete_link).await?,
        })
    }
}

struct AccountRow {
    id: Uuid,
    expected: Option<u64>,
    parent: Option<Uuid>,
    version: i64,
    json: String,
}

struct LinkRow {
    account: Uuid,
    customer: Uuid,
    json: String,
}

/// An attributed activity (or a moved one whose copy follows its customer).
struct AttributedRow {
    key: String,
    account: Uuid,
    customer: Uuid,
    at: chrono::DateTime<chrono::Utc>,
    json: String,
}

/// A changeset's account and link rows, serialised.
pub(crate) struct AccountRows {
    accounts: Vec<AccountRow>,
    links: Vec<LinkRow>,
    attributed: Vec<AttributedRow>,
    /// Moved activities: `account` holds the customer moved from.
    moved: Vec<AttributedRow>,
    removals: Vec<(Uuid, Uuid)>,
    /// Attributions handed to another account: key, from, to.
    handed: Vec<(String, Uuid, Uuid)>,
}

impl AccountRows {
    /// Whether the changeset writes nothing of accounts.
    pub(crate) fn is_empty(&self) -> bool {
        self.accounts.is_empty()
            && self.links.is_empty()
            && self.attributed.is_empty()
            && self.moved.is_empty()
            && self.removals.is_empty()
            && self.handed.is_empty()
    }
}

pub(crate) fn rows(cs: &Changeset) -> Result<AccountRows, StoreError> {
    Ok(AccountRows {
        accounts: cs
            .accounts
            .iter()
            .map(|w| {
                let a = w.account();
                Ok(AccountRow {
                    id: *a.id().as_uuid(),
                    expected: w.expected_version(),
                    parent: a.parent.map(|p| *p.as_uuid()),
                    version: i64::try_from(a.version()).unwrap_or(i64::MAX),
                    json: serde_json::to_string(a).map_err(|e| corrupt("accounts", e))?,
                })
            })
            .collect::<Result<_, StoreError>>()?,
        links: cs
            .account_links
            .iter()
            .map(|l| {
                Ok(LinkRow {
                    account: *l.account.as_uuid(),
                    customer: *l.customer.as_uuid(),
                    json: serde_json::to_string(l).map_err(|e| corrupt("account_links", e))?,
                })
            })
            .collect::<Result<_, StoreError>>()?,
        attributed: cs
            .account_activities
            .iter()
            .map(|a| attributed_row(*a.account.as_uuid(), &a.activity))
            .collect::<Result<_, StoreError>>()?,
        moved: cs
            .moves
            .iter()
            .map(|m| attributed_row(*m.from.as_uuid(), &m.activity))
            .collect::<Result<_, StoreError>>()?,
        removals: cs
            .link_removals
            .iter()
            .map(|r| (*r.account.as_uuid(), *r.customer.as_uuid()))
            .collect(),
        handed: cs
            .account_activity_moves
            .iter()
            .map(|m| {
                (
                    m.key.as_str().to_owned(),
                    *m.from.as_uuid(),
                    *m.to.as_uuid(),
                )
            })
            .collect(),
    })
}

fn attributed_row(account: Uuid, a: &Activity) -> Result<AttributedRow, StoreError> {
    Ok(AttributedRow {
        key: a.idempotency_key.as_str().to_owned(),
        account,
        customer: *a.customer.as_uuid(),
        at: a.at,
        json: serde_json::to_string(a).map_err(|e| corrupt("account_activities", e))?,
    })
}

/// Sends every account and link write on the first poll, then reads the answers in order.
pub(crate) async fn send(
    tx: &impl Conn,
    stmts: &AccountStmts,
    tenant: &Uuid,
    rows: &AccountRows,
) -> Result<(), StoreError> {
    let accounts = join_all(rows.accounts.iter().map(|r| async move {
        let expected = r.expected.map(|v| i64::try_from(v).unwrap_or(i64::MAX));
        let write = async {
            match (expected, &stmts.insert, &stmts.update) {
                (None, Some(ins), _) => {
                    tx.exec(ins, &[tenant, &r.id, &r.parent, &r.version, &r.json])
                        .await
                }
                (Some(v), _, Some(upd)) => {
                    tx.exec(upd, &[tenant, &r.id, &r.parent, &r.version, &r.json, &v])
                        .await
                }
                _ => Ok(0),
            }
        };
        let version = async {
            match &stmts.version_of {
                Some(stmt) => tx.rows(stmt, &[tenant, &r.id]).await,
                None => Ok(Vec::new()),
            }
        };
        join(write, version).await
    }));
    let links = join_all(rows.links.iter().map(|l| async move {
        match &stmts.upsert_link {
            Some(stmt) => {
                tx.exec(stmt, &[tenant, &l.account, &l.customer, &l.json])
                    .await
            }
            None => Ok(0),
        }
    }));
    let attributed = join_all(rows.attributed.iter().map(|a| async move {
        match &stmts.attribute {
            Some(stmt) => {
                tx.exec(
                    stmt,
                    &[tenant, &a.key, &a.account, &a.customer, &a.at, &a.json],
                )
                .await
            }
            None => Ok(0),
        }
    }));
    let moved = join_all(rows.moved.iter().map(|m| async move {
        match &stmts.move_attributed {
            Some(stmt) => {
                tx.exec(stmt, &[tenant, &m.key, &m.account, &m.customer, &m.json])
                    .await
            }
            None => Ok(0),
        }
    }));
    let removals = join_all(rows.removals.iter().map(|(a, c)| async move {
        match &stmts.delete_link {
            Some(stmt) => tx.exec(stmt, &[tenant, a, c]).await,
            None => Ok(0),
        }
    }));
    let handed = join_all(rows.handed.iter().map(|(key, from, to)| async move {
        match &stmts.hand_attributed {
            Some(stmt) => tx.exec(stmt, &[tenant, key, from, to]).await,
            None => Ok(0),
        }
    }));
    let ((accounts, links), (((attributed, moved), removed), handed)) = join(
        join(accounts, links),
        join(join(join(attributed, moved), removals), handed),
    )
    .await;
    for n in attributed.into_iter().chain(moved).chain(removed) {
        n?;
    }
    for ((key, _, _), n) in rows.handed.iter().zip(handed) {
        if n? != 1 {
            return Err(StoreError::Invalid(
                rapport_core::DomainError::InvalidChangeset {
                    reason: format!("no activity {key} is attributed to the account it moves from"),
                },
            ));
        }
    }
    for (r, (n, version)) in rows.accounts.iter().zip(accounts) {
        if n? == 1 {
            continue;
        }
        let stored = match version?.first() {
            Some(row) => u64::try_from(col::<i64>(row, "accounts", 0)?).unwrap_or(0),
            None => 0,
        };
        let account = AccountId::from_uuid(r.id);
        return Err(match r.expected {
            Some(_) if stored == 0 => StoreError::NotFound {
                entity: Entity::Account(account),
            },
            expected => StoreError::AccountConflict {
                account,
                expected: expected.unwrap_or(0),
                actual: stored,
            },
        });
    }
    for n in links {
        n?;
    }
    Ok(())
}

fn decode<T: serde::de::DeserializeOwned>(
    table: &str,
    row: &tokio_postgres::Row,
) -> Result<T, StoreError> {
    let json: &str = col(row, table, 0)?;
    serde_json::from_str(json).map_err(|e| corrupt(table, e))
}

impl PostgresStore {
    /// The roles each of `customers` holds over its active links, in the order given: one
    /// statement for all of them (`customer_id = ANY($2)`), folded here.
    pub(crate) async fn roles_of(
        &self,
        tenant: TenantId,
        customers: &[CustomerId],
    ) -> Result<Vec<AccountRoleSet>, StoreError> {
        if customers.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<Uuid> = customers.iter().map(|c| *c.as_uuid()).collect();
        let rows = self
            .account_rows(
                tenant,
                |s| &s.customer_roles,
                vec![Box::new(*tenant.as_uuid()), Box::new(ids)],
            )
            .await?;
        let mut held: std::collections::HashMap<CustomerId, Vec<AccountLink>> =
            std::collections::HashMap::new();
        for r in &rows {
            let link: AccountLink = decode("account_links", r)?;
            held.entry(link.customer).or_default().push(link);
        }
        Ok(customers
            .iter()
            .map(|c| {
                held.get(c)
                    .map_or_else(AccountRoleSet::default, AccountRoleSet::of_links)
            })
            .collect())
    }

    /// Runs one read statement of the account SQL (picked by `pick`) as `tenant`.
    async fn account_rows(
        &self,
        tenant: TenantId,
        pick: fn(&AccountSql) -> &String,
        params: Vec<Box<dyn tokio_postgres::types::ToSql + Sync + Send>>,
    ) -> Result<Vec<tokio_postgres::Row>, StoreError> {
        self.here(move |inner| async move {
            let client = inner.pool.get().await.map_err(pool)?;
            let stmt = client
                .prepare_cached(pick(&inner.sql.account))
                .await
                .map_err(db)?;
            let refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> = params
                .iter()
                .map(|p| p.as_ref() as &(dyn tokio_postgres::types::ToSql + Sync))
                .collect();
            as_tenant(
                &inner.named,
                &client,
                &tenant.to_string(),
                client.query(&stmt, &refs),
            )
            .await
        })
        .await
    }
}

impl AccountStore for PostgresStore {
    async fn load_account(
        &self,
        tenant: TenantId,
        id: AccountId,
    ) -> Result<Option<Account>, StoreError> {
        let rows = self
            .account_rows(
                tenant,
                |s| &s.load,
                vec![Box::new(*tenant.as_uuid()), Box::new(*id.as_uuid())],
            )
            .await?;
        rows.first().map(|r| decode("accounts", r)).transpose()
    }

    async fn accounts(
        &self,
        tenant: TenantId,
        after: Option<AccountId>,
        limit: u32,
    ) -> Result<Vec<Account>, StoreError> {
        let rows = self
            .account_rows(
                tenant,
                |s| &s.page,
                vec![
                    Box::new(*tenant.as_uuid()),
                    Box::new(after.map(|a| *a.as_uuid())),
                    Box::new(i64::from(limit)),
                ],
            )
            .await?;
        rows.iter().map(|r| decode("accounts", r)).collect()
    }

    async fn subsidiaries(
        &self,
        tenant: TenantId,
        parent: AccountId,
    ) -> Result<Vec<Account>, StoreError> {
        let rows = self
            .account_rows(
                tenant,
                |s| &s.subsidiaries,
                vec![Box::new(*tenant.as_uuid()), Box::new(*parent.as_uuid())],
            )
            .await?;
        rows.iter().map(|r| decode("accounts", r)).collect()
    }

    async fn account_links(
        &self,
        tenant: TenantId,
        account: AccountId,
    ) -> Result<Vec<AccountLink>, StoreError> {
        let rows = self
            .account_rows(
                tenant,
                |s| &s.account_links,
                vec![Box::new(*tenant.as_uuid()), Box::new(*account.as_uuid())],
            )
            .await?;
        rows.iter().map(|r| decode("account_links", r)).collect()
    }

    async fn account_activities(
        &self,
        tenant: TenantId,
        account: AccountId,
    ) -> Result<Vec<Activity>, StoreError> {
        let rows = self
            .account_rows(
                tenant,
                |s| &s.account_activities,
                vec![Box::new(*tenant.as_uuid()), Box::new(*account.as_uuid())],
            )
            .await?;
        rows.iter()
            .map(|r| decode("account_activities", r))
            .collect()
    }

    /// One statement for the page (`account_id = ANY($2)`).
    async fn accounts_activities(
        &self,
        tenant: TenantId,
        accounts: &[AccountId],
    ) -> Result<Vec<Vec<Activity>>, StoreError> {
        if accounts.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<Uuid> = accounts.iter().map(|a| *a.as_uuid()).collect();
        let rows = self
            .account_rows(
                tenant,
                |s| &s.page_activities,
                vec![Box::new(*tenant.as_uuid()), Box::new(ids)],
            )
            .await?;
        let mut by_account: std::collections::HashMap<Uuid, Vec<Activity>> =
            std::collections::HashMap::new();
        for r in &rows {
            let account: Uuid = col(r, "account_activities", 1)?;
            by_account
                .entry(account)
                .or_default()
                .push(decode("account_activities", r)?);
        }
        Ok(accounts
            .iter()
            .map(|a| by_account.get(a.as_uuid()).cloned().unwrap_or_default())
            .collect())
    }

    /// One statement for the page: the roles of the active links counted by PostgreSQL.
    async fn contacts_by_role(
        &self,
        tenant: TenantId,
        accounts: &[AccountId],
    ) -> Result<std::collections::BTreeMap<AccountRole, usize>, StoreError> {
        let mut by_role = std::collections::BTreeMap::new();
        if accounts.is_empty() {
            return Ok(by_role);
        }
        let ids: Vec<Uuid> = accounts.iter().map(|a| *a.as_uuid()).collect();
        let rows = self
            .account_rows(
                tenant,
                |s| &s.page_roles,
                vec![Box::new(*tenant.as_uuid()), Box::new(ids)],
            )
            .await?;
        for r in &rows {
            let role: &str = col(r, "account_links", 0)?;
            let n: i64 = col(r, "account_links", 1)?;
            let role: AccountRole = role
                .parse()
                .map_err(|_| corrupt("account_links", "a link holds an unknown role"))?;
            *by_role.entry(role).or_default() += usize::try_from(n).unwrap_or(0);
        }
        Ok(by_role)
    }

    async fn customer_links(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> Result<Vec<AccountLink>, StoreError> {
        let rows = self
            .account_rows(
                tenant,
                |s| &s.customer_links,
                vec![Box::new(*tenant.as_uuid()), Box::new(*customer.as_uuid())],
            )
            .await?;
        rows.iter().map(|r| decode("account_links", r)).collect()
    }
}
