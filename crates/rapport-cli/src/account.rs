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
    /// Merge an account into another: its people's links (roles unioned), attributed
    /// purchases and subsidiaries move to the survivor; it becomes a tombstone (undo with
    /// `account unmerge`).
    Merge {
        /// The account folded into the other (the loser).
        loser: String,
        /// The account that stays (the survivor).
        survivor: String,
    },
    /// Undo the merge of an account (a tombstone): it comes back with what it had.
    Unmerge {
        /// The merged account's id.
        account: String,
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
    async fn accounts_activities(
        &self,
        t: TenantId,
        accounts: &[AccountId],
    ) -> std::result::Result<Vec<Vec<rapport_core::Activity>>, StoreError> {
        match self {
            Db::Sqlite(s) => s.accounts_activities(t, accounts).await,
            Db::Postgres(s) => s.accounts_activities(t, accounts).await,
        }
    }
    async fn contacts_by_role(
        &self,
        t: TenantId,
        accounts: &[AccountId],
    ) -> std::result::Result<std::collections::BTreeMap<AccountRole, usize>, StoreError> {
        match self {
            Db::Sqlite(s) => s.contacts_by_role(t, accounts).await,
            Db::Postgres(s) => s.contacts_by_role(t, accounts).await,
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
        "merged_into": a.merged_into().map(|m| m.to_string()),
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
        AccountCmd::Merge { loser, survivor } => {
            let a = svc.merge_accounts(t, id(&loser)?, id(&survivor)?)?;
            println!("{}", serde_json::to_string_pretty(&account_json(&a))?);
        }
        AccountCmd::Unmerge { account } => {
            let a = svc.unmerge_accounts(t, id(&account)?)?;
            println!("{}", serde_json::to_string_pretty(&account_json(&a))?);
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

/// One account in the report's account section.
#[derive(serde::Serialize)]
pub(crate) struct TopAccount {
    id: String,
    name: String,
    tier: String,
    stage: String,
    /// Revenue over the last 365 days, with subsidiaries.
    revenue_365d: String,
    /// Orders, with subsidiaries.
    orders: u32,
    subsidiaries: usize,
}

/// The report's account section: accounts by tier and stage (as the last sweep left them)
/// and the top ten by rolled-up 365-day revenue.
#[derive(serde::Serialize)]
pub(crate) struct AccountSection {
    accounts: usize,
    by_tier: std::collections::BTreeMap<String, usize>,
    by_stage: std::collections::BTreeMap<String, usize>,
    top: Vec<TopAccount>,
}

/// The roles each person holds over their active account links (for `has_account_role` in
/// `rapport segment`): every account's links, read once.
pub(crate) fn roles_by_customer(
    store: &Db,
    t: TenantId,
) -> Result<std::collections::HashMap<CustomerId, AccountRoleSet>> {
    use futures::executor::block_on;
    let mut roles: std::collections::HashMap<CustomerId, AccountRoleSet> =
        std::collections::HashMap::new();
    let mut after = None;
    loop {
        let page = block_on(store.accounts(t, after, 1_000))?;
        let Some(last) = page.last() else { break };
        after = Some(last.id());
        for a in &page {
            for l in block_on(store.account_links(t, a.id()))? {
                let held = roles.entry(l.customer).or_default();
                for r in AccountRoleSet::of_links([&l]).iter() {
                    held.insert(r);
                }
            }
        }
    }
    Ok(roles)
}

/// Reads the account section (`None` when the tenant has no account).
pub(crate) fn section(
    store: &Db,
    t: TenantId,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Option<AccountSection>> {
    use futures::executor::block_on;
    let mut all: Vec<Account> = Vec::new();
    loop {
        let page = block_on(store.accounts(t, all.last().map(Account::id), 1_000))?;
        if page.is_empty() {
            break;
        }
        all.extend(page);
    }
    if all.is_empty() {
        return Ok(None);
    }
    let parents = all.iter().map(|a| (a.id(), a.parent)).collect();
    let mut own = std::collections::BTreeMap::new();
    for a in &all {
        own.insert(a.id(), block_on(store.account_activities(t, a.id()))?);
    }
    let rolled = roll_up(&parents, &own)?;
    let mut below: std::collections::BTreeMap<AccountId, usize> = std::collections::BTreeMap::new();
    for a in &all {
        if let Some(p) = a.parent {
            *below.entry(p).or_default() += 1;
        }
    }
    let mut s = AccountSection {
        accounts: all.len(),
        by_tier: std::collections::BTreeMap::new(),
        by_stage: std::collections::BTreeMap::new(),
        top: Vec::new(),
    };
    let mut ranked: Vec<(rust_decimal::Decimal, &Account)> = Vec::new();
    for a in &all {
        *s.by_tier.entry(a.tier().to_string()).or_default() += 1;
        *s.by_stage.entry(a.stage().to_string()).or_default() += 1;
        let r = rolled
            .get(&a.id())
            .map_or(rust_decimal::Decimal::ZERO, |st| {
                st.rolling_365(now).revenue
            });
        ranked.push((r, a));
    }
    ranked.sort_by(|x, y| y.0.cmp(&x.0).then(x.1.id().cmp(&y.1.id())));
    for (revenue, a) in ranked.into_iter().take(10) {
        let stats = rolled.get(&a.id());
        s.top.push(TopAccount {
            id: a.id().to_string(),
            name: a.name.as_str().to_owned(),
            tier: a.tier().to_string(),
            stage: a.stage().to_string(),
            revenue_365d: revenue.to_string(),
            orders: stats.map_or(0, Stats::orders),
            subsidiaries: below.get(&a.id()).copied().unwrap_or(0),
        });
    }
    Ok(Some(s))
}

/// The account section as text.
pub(crate) fn section_text(s: &AccountSection) -> String {
    let counts = |m: &std::collections::BTreeMap<String, usize>| {
        m.iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = format!(
        "Accounts: {}\n  by tier:  {}\n  by stage: {}\n  top by 365-day revenue (with subsidiaries):\n",
        s.accounts,
        counts(&s.by_tier),
        counts(&s.by_stage)
    );
    for a in &s.top {
        out.push_str(&format!(
            "    {:<28} {:<9} {:<9} {:>14} {:>6} orders {:>3} subsidiaries\n",
            a.name, a.tier, a.stage, a.revenue_365d, a.orders, a.subsidiaries
        ));
    }
    out
}

/// The account section as HTML (a `<section>` for the report page).
pub(crate) fn section_html(s: &AccountSection) -> String {
    use crate::render::esc;
    let rows: String = s
        .top
        .iter()
        .map(|a| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&a.name),
                esc(&a.tier),
                esc(&a.stage),
                esc(&a.revenue_365d),
                a.orders,
                a.subsidiaries
            )
        })
        .collect();
    let counts = |m: &std::collections::BTreeMap<String, usize>| {
        m.iter()
            .map(|(k, v)| format!("{} {v}", esc(k)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "<section id=\"accounts\"><h2>Accounts ({})</h2><p>by tier: {}<br>by stage: {}</p><table><tr><th>account</th><th>tier</th><th>stage</th><th>revenue 365 d</th><th>orders</th><th>subsidiaries</th></tr>{rows}</table></section>\n",
        s.accounts,
        counts(&s.by_tier),
        counts(&s.by_stage)
    )
}
