//! `rapport case open|update|list|metrics`: complaint and service cases with SLA deadlines.

use chrono::{DateTime, Utc};
use clap::Subcommand;
use rapport::{CaseChange, OpenCase};
use rapport_core::*;
use serde_json::json;

use crate::error::{Result, fail};
use crate::store::{self, Db};

#[derive(Subcommand)]
pub(crate) enum CaseCmd {
    /// Open a case for a customer (by id, email or external id).
    Open {
        /// The customer.
        customer: String,
        /// Category label, e.g. `delivery` or `billing/refund`.
        #[arg(long)]
        category: String,
        /// low, normal, high or urgent.
        #[arg(long, default_value = "normal")]
        severity: String,
        /// web, app, email, social, chat, store, phone or event.
        #[arg(long, default_value = "email")]
        channel: String,
        /// Who works on it (an opaque id).
        #[arg(long)]
        assignee: Option<String>,
        /// Record a complaint activity for the customer and open the case from it (the
        /// complaint's severity: low, medium for normal, high for high and urgent).
        #[arg(long, conflicts_with = "assignee")]
        complaint: bool,
        /// When (RFC 3339; default: now).
        #[arg(long)]
        at: Option<DateTime<Utc>>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Change a case: move its status, resolve with a CSAT, reopen, assign.
    Update {
        /// The case id.
        case: String,
        /// in_progress, waiting_on_customer, resolved or closed.
        #[arg(long)]
        status: Option<String>,
        /// Reopen a resolved case (within the reopen window).
        #[arg(long)]
        reopen: bool,
        /// The customer's satisfaction (1-5), with `--status resolved`.
        #[arg(long)]
        csat: Option<u8>,
        /// Assign to (an opaque id).
        #[arg(long, conflicts_with = "unassign")]
        assign: Option<String>,
        /// Clear the assignee.
        #[arg(long)]
        unassign: bool,
        /// When (RFC 3339; default: now).
        #[arg(long)]
        at: Option<DateTime<Utc>>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List cases with their SLA clocks at `--at`.
    List {
        /// Only cases with a breached SLA clock (open cases).
        #[arg(long)]
        breached: bool,
        /// Only open cases.
        #[arg(long)]
        open: bool,
        /// Only this customer's cases (id, email or external id).
        #[arg(long)]
        customer: Option<String>,
        /// Evaluate at (RFC 3339; default: now).
        #[arg(long)]
        at: Option<DateTime<Utc>>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Case figures: median times to first response and resolution, breach and reopen rates,
    /// CSAT by category and severity.
    Metrics {
        /// As of (RFC 3339; default: now).
        #[arg(long)]
        at: Option<DateTime<Utc>>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// The service clock of one command: the `--at` given.
struct At(DateTime<Utc>);

impl rapport::Clock for At {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

impl CaseStore for Db {
    async fn load_case(
        &self,
        t: TenantId,
        id: CaseId,
    ) -> std::result::Result<Option<Case>, StoreError> {
        match self {
            Db::Sqlite(s) => s.load_case(t, id).await,
            Db::Postgres(s) => s.load_case(t, id).await,
        }
    }
    async fn cases(&self, t: TenantId, q: CaseQuery) -> std::result::Result<Vec<Case>, StoreError> {
        match self {
            Db::Sqlite(s) => s.cases(t, q).await,
            Db::Postgres(s) => s.cases(t, q).await,
        }
    }
}

/// A customer by UUID, email (normalised) or external id.
pub(crate) fn customer(
    svc: &rapport::blocking::Service<Db>,
    t: TenantId,
    key: &str,
) -> Result<CustomerId> {
    if let Ok(id) = key.parse::<CustomerId>() {
        return Ok(id);
    }
    if key.contains('@') {
        let email = Email::parse(key).map_err(|e| fail!("{}", crate::error::rejected(key, &e)))?;
        return futures::executor::block_on(
            svc.store().find_by_contact(t, &ContactKey::Email(email)),
        )?
        .first()
        .copied()
        .ok_or_else(|| fail!("no customer with that email; check the address or --tenant"));
    }
    Ok(store::customer_id(t, key))
}

fn channel(s: &str) -> Result<Channel> {
    serde_json::from_value(json!(s)).map_err(|_| {
        fail!("--channel `{s}`: expected web, app, email, social, chat, store, phone or event")
    })
}

fn row(c: &Case, sla: &SlaPolicy, now: DateTime<Utc>) -> serde_json::Value {
    let e = sla.evaluate(c, now);
    let clock = |k: &SlaClock| {
        json!({
            "target_minutes": k.target_minutes,
            "due": k.due.map(|d| d.to_rfc3339()),
            "breached": k.breached,
        })
    };
    json!({
        "id": c.id().to_string(),
        "customer": c.customer.to_string(),
        "category": c.category.as_str(),
        "severity": c.severity.as_str(),
        "channel": c.channel,
        "status": c.status().as_str(),
        "assignee": c.assignee().map(Assignee::as_str),
        "opened_at": c.opened_at().to_rfc3339(),
        "first_response_at": c.first_response_at().map(|t| t.to_rfc3339()),
        "resolved_at": c.resolved_at().map(|t| t.to_rfc3339()),
        "reopens": c.reopens(),
        "csat": c.csat().map(Csat::get),
        "version": c.version(),
        "sla": {
            "first_response": clock(&e.first_response),
            "resolution": clock(&e.resolution),
        },
    })
}

fn print_rows(rows: &[serde_json::Value], as_json: bool) -> Result<()> {
    if as_json {
        println!("{}", serde_json::to_string_pretty(rows)?);
        return Ok(());
    }
    println!(
        "{:<36}  {:<19}  {:<8}  {:<16}  {:<25}  breached",
        "case", "status", "severity", "category", "resolution due"
    );
    for r in rows {
        let breached: Vec<&str> = ["first_response", "resolution"]
            .into_iter()
            .filter(|k| r["sla"][k]["breached"].as_bool() == Some(true))
            .collect();
        println!(
            "{:<36}  {:<19}  {:<8}  {:<16}  {:<25}  {}",
            r["id"].as_str().unwrap_or(""),
            r["status"].as_str().unwrap_or(""),
            r["severity"].as_str().unwrap_or(""),
            r["category"].as_str().unwrap_or(""),
            r["sla"]["resolution"]["due"]
                .as_str()
                .unwrap_or("paused/stopped"),
            if breached.is_empty() {
                "-".to_owned()
            } else {
                breached.join(",")
            }
        );
    }
    Ok(())
}

/// Runs one `case` command.
pub(crate) fn run(db: &str, t: TenantId, policies: &Policies, cmd: CaseCmd) -> Result<()> {
    let when = match &cmd {
        CaseCmd::Open { at, .. }
        | CaseCmd::Update { at, .. }
        | CaseCmd::List { at, .. }
        | CaseCmd::Metrics { at, .. } => at.unwrap_or_else(Utc::now),
    };
    let store = store::open(db, Utc::now())?;
    let svc = rapport::blocking::Service::from_async(
        rapport::Service::new(store)
            .with_clock(At(when))
            .with_policies(policies.clone())?,
    );
    let sla = &policies.cases.sla;
    match cmd {
        CaseCmd::Open {
            customer: key,
            category,
            severity,
            channel: ch,
            assignee,
            complaint,
            json: as_json,
            ..
        } => {
            let id = customer(&svc, t, &key)?;
            if complaint {
                let severity = match severity.parse::<CaseSeverity>()? {
                    CaseSeverity::Low => Severity::Low,
                    CaseSeverity::Normal => Severity::Medium,
                    CaseSeverity::High | CaseSeverity::Urgent => Severity::High,
                };
                let mut a = rapport::NewActivity::complaint(id, severity, when)?;
                a.channel = channel(&ch)?;
                let done = svc.record_complaint(t, a, CaseCategory::new(category)?)?;
                let case = done.case.ok_or_else(|| {
                    fail!("the complaint was recorded; the case policy opens no case from it")
                })?;
                print_rows(&[row(&case, sla, when)], as_json)?;
                return Ok(());
            }
            let mut open = OpenCase::new(
                id,
                CaseCategory::new(category)?,
                severity.parse()?,
                channel(&ch)?,
            );
            open.assignee = assignee.map(Assignee::new).transpose()?;
            let case = svc.open_case(t, open).map_err(|e| match e {
                rapport::Error::NotFound(_) => {
                    fail!("no customer `{key}`; check the id or --tenant")
                }
                e => e.into(),
            })?;
            print_rows(&[row(&case, sla, when)], as_json)?;
        }
        CaseCmd::Update {
            case,
            status,
            reopen,
            csat,
            assign,
            unassign,
            json: as_json,
            ..
        } => {
            let id: CaseId = case.parse()?;
            let csat = csat.map(Csat::new).transpose()?;
            let mut changes = Vec::new();
            if let Some(a) = assign {
                changes.push(CaseChange::Assign(Some(Assignee::new(a)?)));
            }
            if unassign {
                changes.push(CaseChange::Assign(None));
            }
            if reopen {
                changes.push(CaseChange::Reopen);
            }
            match status
                .as_deref()
                .map(str::parse::<CaseStatus>)
                .transpose()?
            {
                Some(CaseStatus::Resolved) => changes.push(CaseChange::Resolve(csat)),
                Some(s) => changes.push(CaseChange::Move(s)),
                None if csat.is_some() => {
                    return Err(fail!("--csat goes with --status resolved"));
                }
                None => {}
            }
            if changes.is_empty() {
                return Err(fail!(
                    "nothing to change: give --status, --reopen, --assign or --unassign"
                ));
            }
            let mut last = None;
            for c in changes {
                last = Some(svc.update_case(t, id, c)?);
            }
            if let Some(c) = last {
                print_rows(&[row(&c, sla, when)], as_json)?;
            }
        }
        CaseCmd::List {
            breached,
            open,
            customer: of,
            json: as_json,
            ..
        } => {
            let mut q = if open || breached {
                CaseQuery::open(1_000)
            } else {
                CaseQuery::all(1_000)
            };
            if let Some(key) = of {
                q = q.of_customer(customer(&svc, t, &key)?);
            }
            let cases = svc.all_cases(t, q)?;
            let rows: Vec<_> = cases
                .iter()
                .filter(|c| !breached || sla.evaluate(c, when).breached())
                .map(|c| row(c, sla, when))
                .collect();
            print_rows(&rows, as_json)?;
        }
        CaseCmd::Metrics { json: as_json, .. } => {
            let m = svc.case_metrics(t, when)?;
            if as_json {
                println!("{}", serde_json::to_string_pretty(&m)?);
            } else {
                print!("{}", metrics_text(&m));
            }
        }
    }
    Ok(())
}

/// The report's case section: the figures over every case at `now`, or `None` when the
/// tenant has no case (the report then has no case section).
pub(crate) fn section(
    store: &Db,
    t: TenantId,
    now: DateTime<Utc>,
    policies: &Policies,
) -> Result<Option<CaseMetrics>> {
    let mut all: Vec<Case> = Vec::new();
    let mut q = CaseQuery::all(1_000);
    loop {
        let page = futures::executor::block_on(store.cases(t, q))?;
        let Some(last) = page.last() else { break };
        q.after = Some(last.id());
        all.extend(page);
    }
    Ok((!all.is_empty()).then(|| CaseMetrics::compute(&all, &policies.cases.sla, now)))
}

/// The case section of the review as text.
pub(crate) fn metrics_text(m: &CaseMetrics) -> String {
    let opt = |v: Option<f64>, unit: &str| v.map_or("-".to_owned(), |x| format!("{x:.1}{unit}"));
    let pct = |v: Option<f64>| v.map_or("-".to_owned(), |x| format!("{:.1} %", 100.0 * x));
    let mut out = format!(
        "Cases: {} ({} open)\n  median first response: {}\n  median resolution:     {}\n  breach rate: {}\n  reopen rate: {}\n",
        m.cases,
        m.open,
        opt(m.median_first_response_minutes, " min"),
        opt(m.median_resolution_minutes, " min"),
        pct(m.breach_rate),
        pct(m.reopen_rate),
    );
    if !m.csat.is_empty() {
        out.push_str("  CSAT by category and severity:\n");
        for g in &m.csat {
            out.push_str(&format!(
                "    {:<20} {:<8} {:>4} answers  mean {:.2}  satisfied {:.1} %\n",
                g.category.as_str(),
                g.severity.as_str(),
                g.responses,
                g.mean,
                100.0 * g.csat
            ));
        }
    }
    out
}
