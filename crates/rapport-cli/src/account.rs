//! `rapport account create|parent|link|unlink|show|list`: company accounts, their group
//! structure and their contacts in roles.

use clap::Subcommand;
use rapport_core::*;
use serde_json::json;

use crate::error::{Result, fail};
use crate::store::{self, Db};

#[derive(Subcommand)]
pub(crate) enum AccountCmd {
    /// Create an account (prints its id).
    Create {
        /// The company's name.
        name: String,
        /// Parent account id (group structures, at most 5 levels).
        #[arg(long)]
        parent: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Move an account under a parent (or to the top with `--top`).
    Parent {
        /// The account id.
        account: String,
        /// The new parent id.
        #[arg(long, required_unless_present = "top")]
        parent: Option<String>,
        /// Make it a top-level account.
        #[arg(long)]
        top: bool,
    },
    /// Link a customer (id, email or external id) to an account in roles.
    Link {
        /// The account id.
        account: String,
        /// The customer.
        customer: String,
        /// Roles: decision_maker, buyer, user, billing, other (comma-separated).
        #[arg(long, value_delimiter = ',', required = true)]
        roles: Vec<String>,
        /// Make them the account's primary contact.
        #[arg(long)]
        primary: bool,
    },
    /// End a customer's link to an account (kept as history).
    Unlink {
        /// The account id.
        account: String,
        /// The customer.
        customer: String,
    },
    /// Show an account: its links and the contact roll-up over its subsidiaries.
    Show {
        /// The account id.
        account: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Attribute a customer's recorded purchase or refund (by idempotency key) to an account.
    Attribute {
        /// The account id.
        account: String,
        /// The customer.
        customer: String,
        /// The activity's idempotency key.
        key: String,
    },
    /// Re-evaluate every account (tier, stage, churn alert over rolled-up figures).
    Sweep {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List accounts (those in a segment with `--where`).
    List {
        /// An account segment, e.g. `account.tier >= gold and account.revenue_365d > 10000`.
        #[arg(long = "where")]
        filter: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

impl AccountStore for Db {
    async fn load_account(
        &self,
        t: TenantId,
        id: AccountId,
    ) -> std::result::Result<Option<Account>, StoreError> {
        match self {
            Db::Sqlite(s) => s.load_account(t, id).await,
            Db::Postgres(s) => s.load_account(t, id).await,
        }
    }
    async fn accounts(
        &self,
        t: TenantId,
        after: Option<AccountId>,
        limit: u32,
    ) -> std::result::Result<Vec<Account>, StoreError> {
        match self {
            Db::Sqlite(s) => s.accounts(t, after, limit).await,
            Db::Postgres(s) => s.accounts(t, after, limit).await,
        }
    }
    async fn subsidiaries(
        &self,
        t: TenantId,
        parent: AccountId,
    ) -> std::result::Result<Vec<Account>, StoreError> {
        match self {
            Db::Sqlite(s) => s.subsidiaries(t, parent).await,
            Db::Postgres(s) => s.subsidiaries(t, parent).await,
        }
    }
    async fn account_activities(
        &self,
        t: TenantId,
        account: AccountId,
    ) -> std::result::Result<Vec<rapport_core::Activity>, StoreError> {
        match self {
            Db::Sqlite(s) => s.account_activities(t, account).await,
            Db::Postgres(s) => s.account_activities(t, account).await,
        }
    }
    async fn account_links(
        &self,
        t: TenantId,
        account: AccountId,
    ) -> std::result::Result<Vec<AccountLink>, StoreError> {
        match self {
            Db::Sqlite(s) => s.account_links(t, account).await,
            Db::Postgres(s) => s.account_links(t, account).await,
        }
    }
    async fn customer_links(
        &self,
        t: TenantId,
        customer: CustomerId,
    ) -> std::result::Result<Vec<AccountLink>, StoreError> {
        match self {
            Db::Sqlite(s) => s.customer_links(t, customer).await,
            Db::Postgres(s) => s.customer_links(t, customer).await,
        }
    }
}

fn account_json(a: &Account) -> serde_json::Value {
    json!({
        "id": a.id().to_string(),
        "name": a.name.as_str(),
        "parent": a.parent.map(|p| p.to_string()),
        "created_at": a.created_at().to_rfc3339(),
        "version": a.version(),
        "tier": a.tier().to_string(),
        "stage": a.stage().to_string(),
        "churn_alert": a.standing.churn_alert,
    })
}

fn stats_json(s: &Stats, now: chrono::DateTime<chrono::Utc>) -> serde_json::Value {
    json!({
        "orders": s.orders(),
        "purchase_days": s.purchase_day_count(),
        "revenue": s.revenue().map(|m| m.to_string()),
        "revenue_365d": s.rolling_365(now).revenue.to_string(),
        "last_purchase_day": s.last_purchase_day().map(|d| d.to_string()),
    })
}

fn counts<K: std::fmt::Display>(m: &std::collections::BTreeMap<K, usize>) -> serde_json::Value {
    serde_json::Value::Object(m.iter().map(|(k, v)| (k.to_string(), json!(v))).collect())
}

fn link_json(l: &AccountLink) -> serde_json::Value {
    json!({
        "account": l.account.to_string(),
        "customer": l.customer.to_string(),
        "roles": l.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        "primary": l.primary,
        "since": l.since.to_rfc3339(),
        "until": l.until.map(|u| u.to_rfc3339()),
    })
}

/// Runs one `account` command.
pub(crate) fn run(db: &str, t: TenantId, policies: &Policies, cmd: AccountCmd) -> Result<()> {
    let store = store::open(db, chrono::Utc::now())?;
    let svc = rapport::blocking::Service::from_async(
        rapport::Service::new(store).with_policies(policies.clone())?,
    );
    let id = |s: &str| -> Result<AccountId> { Ok(s.parse::<AccountId>()?) };
    match cmd {
        AccountCmd::Create { name, parent, json } => {
            let parent = parent.as_deref().map(id).transpose()?;
            let a = svc.create_account(t, AccountName::new(name)?, parent)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&account_json(&a))?);
            } else {
                println!("{}", a.id());
            }
        }
        AccountCmd::Parent {
            account,
            parent,
            top,
        } => {
            let parent = if top {
                None
            } else {
                parent.as_deref().map(id).transpose()?
            };
            let a = svc.set_account_parent(t, id(&account)?, parent)?;
            println!("{}", serde_json::to_string_pretty(&account_json(&a))?);
        }
        AccountCmd::Link {
            account,
            customer,
            roles,
            primary,
        } => {
            let roles = roles
                .iter()
                .map(|r| r.trim().parse::<AccountRole>())
                .collect::<std::result::Result<_, _>>()?;
            let who = crate::case::customer(&svc, t, &customer)?;
            let l = svc
                .link_contact(t, id(&account)?, who, roles, primary)
                .map_err(|e| match e {
                    rapport::Error::NotFound(_) => {
                        fail!("no customer `{customer}`; check the id or --tenant")
                    }
                    e => e.into(),
                })?;
            println!("{}", serde_json::to_string_pretty(&link_json(&l))?);
        }
        AccountCmd::Unlink { account, customer } => {
            let who = crate::case::customer(&svc, t, &customer)?;
            let l = svc.unlink_contact(t, id(&account)?, who)?;
            println!("{}", serde_json::to_string_pretty(&link_json(&l))?);
        }
        AccountCmd::Attribute {
            account,
            customer,
            key,
        } => {
            let who = crate::case::customer(&svc, t, &customer)?;
            let a = svc.attribute(t, id(&account)?, who, &IdempotencyKey::new(key)?)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({
                    "account": a.account.to_string(),
                    "customer": a.activity.customer.to_string(),
                    "key": a.activity.idempotency_key.as_str(),
                    "kind": a.activity.kind.activity_type().as_str(),
                }))?
            );
        }
        AccountCmd::Sweep { json } => {
            let s = svc.sweep_accounts(t, svc.now())?;
            let out = json!({
                "accounts": s.accounts,
                "changed": s.changed,
                "by_tier": counts(&s.by_tier),
                "by_stage": counts(&s.by_stage),
                "contacts_by_role": counts(&s.contacts_by_role),
            });
            if json {
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!("accounts: {} evaluated, {} changed", s.accounts, s.changed);
                for (tier, n) in s.by_tier.iter().rev() {
                    println!("  {tier:<10} {n}");
                }
                for (stage, n) in &s.by_stage {
                    println!("  {stage:<10} {n}");
                }
            }
        }
        AccountCmd::Show { account, json } => {
            let view = svc.account_view(t, id(&account)?)?;
            let a = view.account.clone();
            let now = svc.now();
            let e = &view.evaluation;
            let links = svc.account_contacts(t, a.id())?;
            let r = view.rollup.clone();
            let roles = |m: &std::collections::BTreeMap<AccountRole, usize>| {
                m.iter()
                    .map(|(k, v)| (k.as_str().to_owned(), json!(v)))
                    .collect::<serde_json::Map<_, _>>()
            };
            let out = json!({
                "account": account_json(&a),
                "links": links.iter().map(link_json).collect::<Vec<_>>(),
                "rollup": {
                    "subsidiaries": r.subsidiaries.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    "contacts": r.contacts,
                    "by_role": roles(&r.by_role),
                    "group_contacts": r.group_contacts,
                    "group_by_role": roles(&r.group_by_role),
                    "revenue_by_contact": view.revenue_by_contact.iter()
                        .map(|(c, m)| (c.to_string(), json!(m.to_string())))
                        .collect::<serde_json::Map<_, _>>(),
                },
                "stats": stats_json(&view.stats, now),
                "group_stats": stats_json(&view.group_stats, now),
                "evaluation": {
                    "tier": e.tier.to.to_string(),
                    "tier_reason": e.tier.reason.to_string(),
                    "stage": e.stage.to.to_string(),
                    "stage_reason": e.stage.reason.to_string(),
                    "churn_risk": e.churn_risk.score,
                    "churn_reason": e.churn_risk.reason.to_string(),
                },
            });
            if json {
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!("{} ({})", a.name, a.id());
                if let Some(p) = a.parent {
                    println!("  parent: {p}");
                }
                println!(
                    "  contacts: {} ({} with {} subsidiaries)",
                    r.contacts,
                    r.group_contacts,
                    r.subsidiaries.len()
                );
                let g = &view.group_stats;
                println!(
                    "  value: {} orders, revenue {} ({} in 365 d, with subsidiaries)",
                    g.orders(),
                    g.revenue()
                        .map_or_else(|| "0".to_owned(), |m| m.to_string()),
                    g.rolling_365(now).revenue,
                );
                println!(
                    "  tier: {}  stage: {}  churn risk: {:.2}",
                    e.tier.to, e.stage.to, e.churn_risk.score
                );
                for (c, m) in &view.revenue_by_contact {
                    println!("  revenue by {c}: {m}");
                }
                for l in links.iter().filter(|l| l.is_active()) {
                    let roles: Vec<&str> = l.roles.iter().map(|r| r.as_str()).collect();
                    println!(
                        "  {}  {}{}",
                        l.customer,
                        roles.join(","),
                        if l.primary { "  (primary)" } else { "" }
                    );
                }
            }
        }
        AccountCmd::List { filter, json } => {
            let mut all = Vec::new();
            if let Some(text) = filter {
                let segment = AccountSegment::parse(&text)
                    .map_err(|e| fail!("--where: {e}\n  {text}\n  {:>1$}", "^", e.column()))?;
                all = svc.find_accounts(t, &segment, svc.now())?;
            } else {
                let mut after = None;
                loop {
                    let page = svc.accounts(t, after, 1_000)?;
                    let Some(last) = page.last() else { break };
                    after = Some(last.id());
                    all.extend(page);
                }
            }
            if json {
                let rows: Vec<_> = all.iter().map(account_json).collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                for a in &all {
                    println!(
                        "{}  {}{}",
                        a.id(),
                        a.name,
                        a.parent.map_or(String::new(), |p| format!("  (under {p})"))
                    );
                }
            }
        }
    }
    Ok(())
}
