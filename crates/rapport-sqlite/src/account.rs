//! Accounts and account links in SQLite (`rapport_accounts`, `rapport_account_links`,
//! schema version 3; attributed activities in `rapport_account_activities`, version 7):
//! written inside the changeset's savepoint (accounts with version checks, links replaced by
//! key, attributions kept once per key), read by the reader threads.

use rapport_core::{
    Account, AccountId, AccountLink, AccountRole, AccountRoleSet, AccountStore, Activity,
    Changeset, CustomerId, StoreError, TenantId,
};
use rusqlite::{Connection, OptionalExtension, params};

use crate::SqliteStore;
use crate::apply::ApplyError;
use crate::codec::{from_json, time_to_us, to_json};
use crate::error::SqliteError;

/// One account row: id, the version read (`None`: a create), parent, version, JSON.
type AccountRow = (AccountId, Option<u64>, Option<[u8; 16]>, i64, String);

/// One attributed activity row: key, account, customer, time, JSON.
type AttributedRow = (String, [u8; 16], [u8; 16], i64, String);

/// A changeset's account rows and link rows (account, customer, JSON), serialised.
pub(crate) struct AccountRows {
    accounts: Vec<AccountRow>,
    links: Vec<([u8; 16], [u8; 16], String)>,
    /// Attributed activities: key, account, customer, time, JSON.
    attributed: Vec<AttributedRow>,
    /// Moved activities whose attributed copy follows: key, from, to, JSON.
    moved: Vec<(String, [u8; 16], [u8; 16], String)>,
    removals: Vec<([u8; 16], [u8; 16])>,
    /// Attributions handed to another account: key, from, to.
    handed: Vec<(String, [u8; 16], [u8; 16])>,
}

pub(crate) fn rows(cs: &Changeset) -> Result<AccountRows, SqliteError> {
    Ok(AccountRows {
        accounts: cs
            .accounts
            .iter()
            .map(|w| {
                let a = w.account();
                Ok((
                    a.id(),
                    w.expected_version(),
                    a.parent.map(AccountId::to_bytes),
                    i64::try_from(a.version()).unwrap_or(i64::MAX),
                    to_json("rapport_accounts", a)?,
                ))
            })
            .collect::<Result<_, SqliteError>>()?,
        links: cs
            .account_links
            .iter()
            .map(|l| {
                Ok((
                    l.account.to_bytes(),
                    l.customer.to_bytes(),
                    to_json("rapport_account_links", l)?,
                ))
            })
            .collect::<Result<_, SqliteError>>()?,
        attributed: cs
            .account_activities
            .iter()
            .map(|a| {
                Ok((
                    a.activity.idempotency_key.as_str().to_owned(),
                    a.account.to_bytes(),
                    a.activity.customer.to_bytes(),
                    time_to_us(a.activity.at),
                    to_json("rapport_account_activities", &a.activity)?,
                ))
            })
            .collect::<Result<_, SqliteError>>()?,
        moved: cs
            .moves
            .iter()
            .map(|m| {
                Ok((
                    m.activity.idempotency_key.as_str().to_owned(),
                    m.from.to_bytes(),
                    m.activity.customer.to_bytes(),
                    to_json("rapport_account_activities", &m.activity)?,
                ))
            })
            .collect::<Result<_, SqliteError>>()?,
        removals: cs
            .link_removals
            .iter()
            .map(|r| (r.account.to_bytes(), r.customer.to_bytes()))
            .collect(),
        handed: cs
            .account_activity_moves
            .iter()
            .map(|m| {
                (
                    m.key.as_str().to_owned(),
                    m.from.to_bytes(),
                    m.to.to_bytes(),
                )
            })
            .collect(),
    })
}

fn stored_version(conn: &Connection, t: [u8; 16], id: AccountId) -> Result<u64, ApplyError> {
    let v: Option<i64> = conn
        .prepare_cached(
            "SELECT version FROM rapport_accounts WHERE tenant_id = ?1 AND account_id = ?2",
        )?
        .query_row(params![t, id.to_bytes()], |r| r.get(0))
        .optional()?;
    Ok(v.map_or(0, |v| u64::try_from(v).unwrap_or(0)))
}

/// Writes the rows inside the open savepoint.
pub(crate) fn write(conn: &Connection, t: [u8; 16], rows: &AccountRows) -> Result<(), ApplyError> {
    for (id, expected, parent, version, json) in &rows.accounts {
        let n = match expected {
            None => conn
                .prepare_cached(
                    "INSERT INTO rapport_accounts (tenant_id, account_id, parent_id, version,
                         account_json) VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING",
                )?
                .execute(params![t, id.to_bytes(), parent, version, json])?,
            Some(v) => conn
                .prepare_cached(
                    "UPDATE rapport_accounts SET parent_id = ?3, version = ?4, account_json = ?5
                     WHERE tenant_id = ?1 AND account_id = ?2 AND version = ?6",
                )?
                .execute(params![
                    t,
                    id.to_bytes(),
                    parent,
                    version,
                    json,
                    i64::try_from(*v).unwrap_or(i64::MAX)
                ])?,
        };
        if n != 1 {
            let actual = stored_version(conn, t, *id)?;
            return Err(match expected {
                Some(_) if actual == 0 => ApplyError::AccountNotFound(*id),
                e => ApplyError::AccountConflict {
                    account: *id,
                    expected: e.unwrap_or(0),
                    actual,
                },
            });
        }
    }
    for (account, customer) in &rows.removals {
        conn.prepare_cached(
            "DELETE FROM rapport_account_links
             WHERE tenant_id = ?1 AND account_id = ?2 AND customer_id = ?3",
        )?
        .execute(params![t, account, customer])?;
    }
    for (account, customer, json) in &rows.links {
        conn.prepare_cached(
            "INSERT INTO rapport_account_links (tenant_id, account_id, customer_id, link_json)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (tenant_id, account_id, customer_id) DO UPDATE SET link_json = excluded.link_json",
        )?
        .execute(params![t, account, customer, json])?;
    }
    for (key, account, customer, at_us, json) in &rows.attributed {
        conn.prepare_cached(
            "INSERT INTO rapport_account_activities (tenant_id, idempotency_key, account_id,
                 customer_id, at_us, activity_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT DO NOTHING",
        )?
        .execute(params![t, key, account, customer, at_us, json])?;
    }
    for (key, from, to, json) in &rows.moved {
        conn.prepare_cached(
            "UPDATE rapport_account_activities SET customer_id = ?4, activity_json = ?5
             WHERE tenant_id = ?1 AND idempotency_key = ?2 AND customer_id = ?3",
        )?
        .execute(params![t, key, from, to, json])?;
    }
    for (key, from, to) in &rows.handed {
        let n = conn
            .prepare_cached(
                "UPDATE rapport_account_activities SET account_id = ?4
                 WHERE tenant_id = ?1 AND idempotency_key = ?2 AND account_id = ?3",
            )?
            .execute(params![t, key, from, to])?;
        if n != 1 {
            return Err(ApplyError::Invalid(
                rapport_core::DomainError::InvalidChangeset {
                    reason: format!("no activity {key} is attributed to the account it moves from"),
                },
            ));
        }
    }
    Ok(())
}

fn accounts_of(
    conn: &Connection,
    sql: &str,
    p: impl rusqlite::Params,
) -> Result<Vec<Account>, SqliteError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(p, |r| r.get::<_, String>(0))?;
    rows.map(|j| from_json("rapport_accounts", &j?)).collect()
}

fn links_of(
    conn: &Connection,
    sql: &str,
    p: impl rusqlite::Params,
) -> Result<Vec<AccountLink>, SqliteError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(p, |r| r.get::<_, String>(0))?;
    rows.map(|j| from_json("rapport_account_links", &j?))
        .collect()
}

/// The roles each of `customers` holds over its active links, in the order given (one
/// indexed lookup per customer on `(tenant_id, customer_id)`, in one read snapshot).
pub(crate) fn roles_of(
    conn: &Connection,
    tenant: TenantId,
    customers: &[CustomerId],
) -> Result<Vec<AccountRoleSet>, SqliteError> {
    customers
        .iter()
        .map(|c| {
            let links = links_of(
                conn,
                "SELECT link_json FROM rapport_account_links
                 WHERE tenant_id = ?1 AND customer_id = ?2",
                params![tenant.to_bytes(), c.to_bytes()],
            )?;
            Ok(AccountRoleSet::of_links(&links))
        })
        .collect()
}

/// A customer's links (by account) and their accounts, for a merge's belongings.
pub(crate) fn of_customer(
    conn: &Connection,
    tenant: TenantId,
    customer: CustomerId,
) -> Result<(Vec<AccountLink>, Vec<Account>), SqliteError> {
    let links = links_of(
        conn,
        "SELECT link_json FROM rapport_account_links
         WHERE tenant_id = ?1 AND customer_id = ?2 ORDER BY account_id",
        params![tenant.to_bytes(), customer.to_bytes()],
    )?;
    let accounts = accounts_of(
        conn,
        "SELECT a.account_json FROM rapport_accounts a
         JOIN rapport_account_links l
           ON l.tenant_id = a.tenant_id AND l.account_id = a.account_id
         WHERE l.tenant_id = ?1 AND l.customer_id = ?2 ORDER BY a.account_id",
        params![tenant.to_bytes(), customer.to_bytes()],
    )?;
    Ok((links, accounts))
}

/// An account's activities in time order (then by idempotency key), one indexed statement.
fn activities_of(
    c: &Connection,
    tenant: TenantId,
    account: AccountId,
) -> Result<Vec<Activity>, SqliteError> {
    let mut stmt = c.prepare_cached(
        "SELECT activity_json FROM rapport_account_activities
         WHERE tenant_id = ?1 AND account_id = ?2 ORDER BY at_us, idempotency_key",
    )?;
    let rows = stmt.query_map(params![tenant.to_bytes(), account.to_bytes()], |r| {
        r.get::<_, String>(0)
    })?;
    rows.map(|j| from_json("rapport_account_activities", &j?))
        .collect()
}

impl AccountStore for SqliteStore {
    async fn load_account(
        &self,
        tenant: TenantId,
        id: AccountId,
    ) -> Result<Option<Account>, StoreError> {
        Ok(self
            .readers
            .read(move |c| {
                c.prepare_cached(
                    "SELECT account_json FROM rapport_accounts
                     WHERE tenant_id = ?1 AND account_id = ?2",
                )?
                .query_row(params![tenant.to_bytes(), id.to_bytes()], |r| {
                    r.get::<_, String>(0)
                })
                .optional()?
                .map(|j| from_json("rapport_accounts", &j))
                .transpose()
            })
            .await?)
    }

    async fn accounts(
        &self,
        tenant: TenantId,
        after: Option<AccountId>,
        limit: u32,
    ) -> Result<Vec<Account>, StoreError> {
        let after: Vec<u8> = after.map_or_else(Vec::new, |a| a.to_bytes().to_vec());
        Ok(self
            .readers
            .read(move |c| {
                accounts_of(
                    c,
                    "SELECT account_json FROM rapport_accounts
                     WHERE tenant_id = ?1 AND account_id > ?2 ORDER BY account_id LIMIT ?3",
                    params![tenant.to_bytes(), after, i64::from(limit)],
                )
            })
            .await?)
    }

    async fn subsidiaries(
        &self,
        tenant: TenantId,
        parent: AccountId,
    ) -> Result<Vec<Account>, StoreError> {
        Ok(self
            .readers
            .read(move |c| {
                accounts_of(
                    c,
                    "SELECT account_json FROM rapport_accounts
                     WHERE tenant_id = ?1 AND parent_id = ?2 ORDER BY account_id",
                    params![tenant.to_bytes(), parent.to_bytes()],
                )
            })
            .await?)
    }

    async fn account_links(
        &self,
        tenant: TenantId,
        account: AccountId,
    ) -> Result<Vec<AccountLink>, StoreError> {
        Ok(self
            .readers
            .read(move |c| {
                links_of(
                    c,
                    "SELECT link_json FROM rapport_account_links
                     WHERE tenant_id = ?1 AND account_id = ?2 ORDER BY customer_id",
                    params![tenant.to_bytes(), account.to_bytes()],
                )
            })
            .await?)
    }

    async fn account_activities(
        &self,
        tenant: TenantId,
        account: AccountId,
    ) -> Result<Vec<Activity>, StoreError> {
        Ok(self
            .readers
            .read(move |c| activities_of(c, tenant, account))
            .await?)
    }

    /// The page in one read (one snapshot), one indexed statement per account.
    async fn accounts_activities(
        &self,
        tenant: TenantId,
        accounts: &[AccountId],
    ) -> Result<Vec<Vec<Activity>>, StoreError> {
        let accounts = accounts.to_vec();
        Ok(self
            .readers
            .read(move |c| {
                accounts
                    .iter()
                    .map(|a| activities_of(c, tenant, *a))
                    .collect::<Result<Vec<_>, SqliteError>>()
            })
            .await?)
    }

    /// The page in one read: the active links' roles counted by SQLite, per account.
    async fn contacts_by_role(
        &self,
        tenant: TenantId,
        accounts: &[AccountId],
    ) -> Result<std::collections::BTreeMap<AccountRole, usize>, StoreError> {
        let accounts = accounts.to_vec();
        Ok(self
            .readers
            .read(move |c| {
                let mut stmt = c.prepare_cached(
                    "SELECT r.value, count(*) FROM rapport_account_links AS l,
                         json_each(l.link_json, '$.roles') AS r
                     WHERE l.tenant_id = ?1 AND l.account_id = ?2
                       AND json_extract(l.link_json, '$.until') IS NULL
                     GROUP BY r.value",
                )?;
                let tenant = tenant.to_bytes();
                let mut by_role = std::collections::BTreeMap::new();
                for a in &accounts {
                    let rows = stmt.query_map(params![tenant, a.to_bytes()], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?))
                    })?;
                    for row in rows {
                        let (role, n) = row?;
                        let role: AccountRole = role.parse().map_err(|_| SqliteError::Corrupt {
                            table: "rapport_account_links",
                            reason: "a link holds an unknown role".into(),
                        })?;
                        *by_role.entry(role).or_default() += usize::try_from(n).unwrap_or(0);
                    }
                }
                Ok(by_role)
            })
            .await?)
    }

    async fn customer_links(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> Result<Vec<AccountLink>, StoreError> {
        Ok(self
            .readers
            .read(move |c| {
                links_of(
                    c,
                    "SELECT link_json FROM rapport_account_links
                     WHERE tenant_id = ?1 AND customer_id = ?2 ORDER BY account_id",
                    params![tenant.to_bytes(), customer.to_bytes()],
                )
            })
            .await?)
    }
}
