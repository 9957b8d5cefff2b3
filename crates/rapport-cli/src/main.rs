//! `rapport`: customer management on the command line, over the embedded SQLite store or a
//! PostgreSQL server (`--db postgres://…`).
//!
//! `rapport demo` imports the bundled CDNOW sample into `rapport-demo.db`, re-evaluates every
//! customer at the data's end (1998-06-30), fits BG/NBD and Gamma-Gamma, and prints the report.
#![forbid(unsafe_code)]

mod account;
mod activities;
mod automation;
mod case;
mod clv;
mod config;
mod error;
mod import;
mod lines;
mod par;
mod privacy;
mod quality;
mod recommend;
mod render;
mod report;
mod rows;
mod store;
mod table;
mod value;

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, NaiveDate, Utc};
use clap::{Parser, Subcommand, ValueEnum};
use rapport::blocking::Service;
use rapport_core::ports::ImportPolicy;
use rapport_core::*;

use crate::error::{Result, fail};
use crate::store::Db;

const DEMO_CSV: &str = include_str!("../data/cdnow_sample_transactions.csv");

#[derive(Parser)]
#[command(
    name = "rapport",
    version,
    about = "Customer management: import, sweep, report, CLV"
)]
struct Cli {
    /// Database: sqlite://path (default sqlite://rapport.db; `demo` uses rapport-demo.db) or
    /// postgres://user@host/db (`?schema=name` picks the schema, default `rapport`).
    #[arg(long, global = true)]
    db: Option<String>,
    /// Tenant (customer book) name.
    #[arg(long, global = true, default_value = "default")]
    tenant: String,
    /// Log to stderr: `-v` operation summaries (info), `-vv` every span and event (debug).
    /// `RUST_LOG` (e.g. `rapport_sqlite=debug`) adds directives. Logs hold ids, counts,
    /// durations and error kinds, never a name, email, phone or other profile value.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// The book's base currency (ISO 4217): tier thresholds (Gold from 2,000) and the money
    /// literals of segments (`revenue > 100`) are amounts in it. Customers who buy in another
    /// currency are not compared with them: they keep their tier, and the report sums revenue
    /// per currency.
    /// Overrides the `currency` of the policy (default USD).
    #[arg(long, global = true)]
    base_currency: Option<String>,
    /// The configuration file (default: `rapport.toml` beside the SQLite database, when there
    /// is one). Its `[policy]` section sets tag rules, the tier ladder, lifecycle, churn, RFM
    /// and the base currency (docs/policy.md).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// A policy file (its `[policy]` section is used instead of the configuration's); for
    /// `simulate`, the proposed policy compared with the configuration's.
    #[arg(long, global = true)]
    policy: Option<PathBuf>,
    /// Field encryption (crypto-shredding): keep per-customer data keys in DIR (created if
    /// missing; keep it off the database's backups) and seal every personal field with them;
    /// email/phone lookups use a keyed blind index, `erase` deletes the customer's key.
    /// Overrides `[keys] dir` of the configuration. Use the same DIR every time for a database.
    #[arg(long, global = true, value_name = "DIR")]
    keystore: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Import the bundled CDNOW sample (evaluating every customer at 1998-06-30), fit CLV models,
    /// print the report.
    Demo {
        /// Write the HTML report here too.
        #[arg(long)]
        html: Option<PathBuf>,
    },
    /// Import data from CSV.
    Import {
        #[command(subcommand)]
        what: ImportWhat,
    },
    /// Re-evaluate tags, tiers, stages and churn risk of every customer.
    Sweep {
        /// Evaluate as of this day (default: today).
        #[arg(long)]
        now: Option<NaiveDate>,
        #[command(flatten)]
        retention: privacy::RetentionArgs,
        /// Automation rules (a TOML file with `[[rules]]` and `[webhook]`): record triggers,
        /// fire due actions through the webhook (or the log), report them.
        #[arg(long)]
        rules: Option<PathBuf>,
    },
    /// The periodic review: tiers, stages, RFM, CLV, churn risk, cohorts, and the period
    /// metrics (churn, win-back and conversion rates, stage flows, NPS, CSAT) over
    /// `[--from, --to)`.
    Report {
        /// As of this day (default: today).
        #[arg(long)]
        now: Option<NaiveDate>,
        /// First day of the review period (default: 365 days before `--to`).
        #[arg(long)]
        from: Option<NaiveDate>,
        /// Day after the review period, excluded (default: the day after `--now`).
        #[arg(long)]
        to: Option<NaiveDate>,
        /// Print JSON instead of tables.
        #[arg(long)]
        json: bool,
        /// Also write a self-contained HTML page with charts.
        #[arg(long)]
        html: Option<PathBuf>,
    },
    /// Show one customer (by id, email or external id): profile, tags, tier and stage with
    /// reasons, timeline.
    Customer {
        /// Customer id (UUID), email address, or the external id used at import.
        key: String,
        /// As of this day (default: today).
        #[arg(long)]
        now: Option<NaiveDate>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Show personal data (redacted by default).
        #[arg(long)]
        show_pii: bool,
        /// Time travel: tier, stage, tags, RFM and churn risk as they were at the end of this
        /// day, with reasons, recomputed from the activity log under the policy.
        #[arg(long)]
        as_of: Option<NaiveDate>,
    },
    /// Customers matching a segment predicate, e.g.
    /// `tier >= iron and days_since_last_purchase > 90`.
    Segment {
        /// The predicate (see docs/domain.md).
        predicate: String,
        /// As of this day (default: today).
        #[arg(long)]
        now: Option<NaiveDate>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Probabilistic CLV models on CSV summaries.
    Clv {
        #[command(subcommand)]
        what: ClvWhat,
    },
    #[command(flatten)]
    Quality(quality::QualityCommand),
    /// Print everything held about one customer as one JSON document
    /// (docs/export.schema.json).
    Export {
        /// Customer id (UUID), email address, or the external id used at import.
        key: String,
    },
    /// Erase a customer's personal data (aggregates kept); prints the erasure record.
    Erase(privacy::EraseArgs),
    /// The consent ledger: grant, withdraw, request (double opt-in), confirm, show.
    Consent {
        #[command(subcommand)]
        what: privacy::ConsentWhat,
    },
    /// Recommended products for a customer (UUID, email or external id), from the line items
    /// imported with `import transactions --sku-col …`: items bought by customers who bought
    /// the same things, each with why; the tier's favourites when nothing scores.
    Recommend {
        /// The customer.
        key: String,
        /// How many items.
        #[arg(long, default_value_t = 10)]
        k: usize,
        /// Two items count as similar only when this many customers bought both.
        #[arg(long, default_value_t = 3)]
        min_support: u32,
        /// Neighbours kept per item (K).
        #[arg(long, default_value_t = 50)]
        neighbours: usize,
        /// Categories bought again and again (`tea,coffee`): their items are recommended even
        /// to a customer who already bought them. Default: `repeatable` of the `[recommend]`
        /// section of rapport.toml, else none.
        #[arg(long, value_delimiter = ',')]
        repeatable: Vec<String>,
        /// Print JSON: `{"customer", "tier", "cold_start", "items": [{"sku", "score", "because"}]}`.
        #[arg(long)]
        json: bool,
    },
    /// Complaint and service cases with SLA deadlines: open, update, list (--breached), metrics.
    Case {
        #[command(subcommand)]
        what: case::CaseCmd,
    },
    /// Company accounts (B2B): create, group structure, contacts in roles, roll-ups.
    Account {
        #[command(subcommand)]
        what: account::AccountCmd,
    },
    /// What if: the tiers and stages under the configuration's policy and under `--policy
    /// FILE`, and who would move, with both reasons. Nothing is written.
    Simulate {
        /// As of this day (default: today).
        #[arg(long)]
        now: Option<NaiveDate>,
        /// Print JSON: `{"current": {"tiers", "stages"}, "proposed": {…}, "moves": […]}`.
        #[arg(long)]
        json: bool,
    },
    /// The policy in force (tag rules, tier ladder, lifecycle, churn, RFM, currency).
    Policy {
        #[command(subcommand)]
        what: PolicyWhat,
    },
    /// Automation rules: `rules check <file>` parses and explains a rules file.
    Rules {
        #[command(subcommand)]
        what: RulesWhat,
    },
    /// The automation action log: sent, suppressed (with the reason) and dead-lettered actions
    /// (with the notifier's reason); `actions redrive <id>` sends a dead-lettered one again.
    #[command(args_conflicts_with_subcommands = true)]
    Actions {
        #[command(subcommand)]
        what: Option<ActionsWhat>,
        /// Only actions decided on or after this day.
        #[arg(long)]
        since: Option<NaiveDate>,
        /// At most this many.
        #[arg(long, default_value_t = 1_000)]
        limit: u32,
        /// Only the dead-lettered actions (the webhook refused them for good).
        #[arg(long)]
        dead_letters: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ActionsWhat {
    /// Send a dead-lettered action again: its log line goes back to `sent`, its message (same
    /// `webhook-id`) back to the outbox, and the outbox is relayed through the configured
    /// `[webhook]` (or the log) at once. Prints what became of it as JSON.
    Redrive {
        /// The action id (the `id` column of `rapport actions --json`).
        id: String,
        /// The rules file that defines the action's rule (default: the configuration's
        /// `[[rules]]` and `[webhook]`).
        #[arg(long)]
        rules: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum PolicyWhat {
    /// Print the effective policy: the configuration's `[policy]` (or `--policy FILE`) over the
    /// defaults, with `--base-currency` applied. TOML by default.
    Show {
        /// Print JSON (the library's `Policies` document) instead of TOML.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum RulesWhat {
    /// Parse a rules file and explain each rule.
    Check {
        /// The TOML file (`[[rules]]`, `[webhook]`).
        file: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum ImportWhat {
    /// Transactions: one purchase (or, with a `type` column, a refund) per row. A refund names
    /// its order (`order_id` column) and is at most what is left of it.
    Transactions(ImportArgs),
    /// Customers: one per row, keyed by an external id (existing ones are left as they are).
    Customers(CustomerImportArgs),
    /// Consents: one ledger entry per row (customer, purpose, channel, state, …).
    Consents(privacy::ConsentImportArgs),
    /// Activities of every kind, one per row: a `kind` column (purchase, refund, visit,
    /// cart_abandoned, complaint, feedback, referral, contact) and the columns of each kind.
    Activities(ActivityImportArgs),
}

#[derive(clap::Args)]
struct ActivityImportArgs {
    /// The CSV file.
    csv: PathBuf,
    #[arg(long, default_value = "customer_id")]
    customer_col: String,
    #[arg(long, default_value = "date")]
    date_col: String,
    /// The activity kind column.
    #[arg(long, default_value = "kind")]
    kind_col: String,
    /// Amount of a purchase or refund (required there), value of an abandoned cart (optional).
    #[arg(long, default_value = "amount")]
    amount_col: String,
    /// Order id of a purchase (optional: without it each row is its own order) or of the
    /// order a refund gives money back for (required).
    #[arg(long, default_value = "order_id")]
    order_col: String,
    /// Feedback score (0-10 for NPS, 1-5 for CSAT).
    #[arg(long, default_value = "score")]
    score_col: String,
    /// Feedback scale: `nps` (or `0-10`) or `csat` (or `1-5`).
    #[arg(long, default_value = "scale")]
    scale_col: String,
    /// The external id of the customer a referral brought in.
    #[arg(long, default_value = "referred_customer_id")]
    referred_col: String,
    /// Channel (web, app, email, social, chat, store, phone, event); default web.
    #[arg(long, default_value = "channel")]
    channel_col: String,
    /// Complaint severity (low, medium, high); default medium.
    #[arg(long, default_value = "severity")]
    severity_col: String,
    /// The item a visit viewed (optional).
    #[arg(long, default_value = "item")]
    item_col: String,
    /// chrono format of the date column (default: ISO 8601 dates and RFC 3339 timestamps).
    #[arg(long)]
    date_format: Option<String>,
    /// ISO 4217 currency of the amounts.
    #[arg(long, default_value = "USD")]
    currency: String,
    /// The import's now: activities are checked against it and the customers evaluated as of
    /// the end of this day (default: the current time).
    #[arg(long)]
    now: Option<NaiveDate>,
    /// How many days past `--now` an activity may lie.
    #[arg(long, default_value_t = 1)]
    future_tolerance_days: u32,
    /// List bad rows and import the others instead of stopping.
    #[arg(long)]
    skip_bad: bool,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
}

#[derive(clap::Args)]
struct CustomerImportArgs {
    /// The CSV file.
    csv: PathBuf,
    /// The external id column.
    #[arg(long, default_value = "customer_id")]
    customer_col: String,
    /// Email column (default: `email` when the file has it).
    #[arg(long)]
    email_col: Option<String>,
    /// Phone column (default: `phone` when the file has it).
    #[arg(long)]
    phone_col: Option<String>,
    /// Display name column (default: `name` when the file has it).
    #[arg(long)]
    name_col: Option<String>,
    /// Further columns to keep as text attributes, comma-separated.
    #[arg(long, value_delimiter = ',')]
    attr_cols: Vec<String>,
    /// Region (ISO 3166-1 alpha-2) for phone numbers written without +country.
    #[arg(long, default_value = "US")]
    region: String,
    /// List bad rows and import the others instead of stopping.
    #[arg(long)]
    skip_bad: bool,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
}

#[derive(clap::Args)]
struct ImportArgs {
    /// The CSV file.
    csv: PathBuf,
    #[arg(long, default_value = "customer_id")]
    customer_col: String,
    #[arg(long, default_value = "date")]
    date_col: String,
    #[arg(long, default_value = "amount")]
    amount_col: String,
    /// The order id column (default: `order_id` when the file has it). Without it each row is
    /// its own order.
    #[arg(long)]
    order_col: Option<String>,
    /// The row type column, `purchase` or `refund` (default: `type` when the file has it;
    /// without it every row is a purchase). A refund must name an order of the same customer
    /// in the file or the store, for at most what is left of it.
    #[arg(long)]
    type_col: Option<String>,
    /// chrono format of the date column, e.g. `%Y%m%d` or `%d/%m/%Y %H:%M` (default: ISO 8601
    /// dates `2024-01-05` and RFC 3339 timestamps `2024-01-05T10:30:00Z`).
    #[arg(long)]
    date_format: Option<String>,
    /// ISO 4217 currency of the amounts.
    #[arg(long, default_value = "USD")]
    currency: String,
    /// The import's now: purchases are checked against it and the imported customers are
    /// evaluated as of the end of this day (default: the current time).
    #[arg(long)]
    now: Option<NaiveDate>,
    /// How many days past `--now` a purchase may lie (clock skew, time zones); a later one is
    /// a bad row.
    #[arg(long, default_value_t = 1)]
    future_tolerance_days: u32,
    /// The sku column: each row is one line item, and the rows of one order (same customer,
    /// order id and type) are one purchase (or refund) with its lines; every row of an order
    /// carries the order's date and amount.
    #[arg(long, conflicts_with = "lines")]
    sku_col: Option<String>,
    /// A lines file (CSV) keyed by order id: each row one line item of a purchase of the
    /// transactions file (columns `--order-col`, `--sku-col`, … with their default names).
    #[arg(long)]
    lines: Option<PathBuf>,
    /// The quantity column of the line items.
    #[arg(long, default_value = "quantity")]
    quantity_col: String,
    /// The unit price column of the line items (in `--currency`).
    #[arg(long, default_value = "unit_price")]
    unit_price_col: String,
    /// The category column of the line items (default: `category` when the file has it).
    #[arg(long)]
    category_col: Option<String>,
    /// Accept orders whose line items do not add up to the amount (else a bad row).
    #[arg(long)]
    allow_line_mismatch: bool,
    /// List bad rows and import the others instead of stopping.
    #[arg(long)]
    skip_bad: bool,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum PeriodArg {
    Day,
    Week,
}

impl From<PeriodArg> for rapport_clv::Period {
    fn from(p: PeriodArg) -> Self {
        match p {
            PeriodArg::Day => rapport_clv::Period::Day,
            PeriodArg::Week => rapport_clv::Period::Week,
        }
    }
}

/// The `--horizon`, `--clv-months`, `--discount` and `--period` of `clv run` and `clv predict`.
fn forecast(horizon: f64, months: u32, discount: f64, period: PeriodArg) -> clv::Forecast {
    clv::Forecast {
        horizon,
        value: rapport_clv::ClvParams::new(period.into())
            .with_months(months)
            .with_discount(discount),
    }
}

#[derive(Subcommand)]
enum ClvWhat {
    /// Fit a model; prints JSON. `--store` also keeps it in the book (`--db`, `--tenant`) for
    /// decisions: churn risk = 1 − P(alive), `clv_12m` in segments and CLV tier ladders.
    Fit {
        #[arg(long, value_enum)]
        model: clv::Model,
        /// The summary CSV; without it (and with `--store`), the model is fitted on the
        /// book's own customers at `--now`.
        #[arg(long, required_unless_present = "store")]
        input: Option<PathBuf>,
        #[command(flatten)]
        cols: clv::FitCols,
        /// Keep the fitted model in the book as the tenant's model (bgnbd, pareto-nbd, mbgnbd).
        #[arg(long)]
        store: bool,
        /// The time unit of the summary (and of the stored parameters).
        #[arg(long, value_enum, default_value = "day")]
        period: PeriodArg,
        /// Monthly discount rate stored with the model, for `clv_12m`.
        #[arg(long, default_value_t = 0.01)]
        discount: f64,
        /// The fit's time (default: now); with no `--input`, the day the book is summarised at.
        #[arg(long)]
        now: Option<NaiveDate>,
        /// With `--input`: print the seconds spent reading the rows and fitting to stderr, as
        /// JSON (`{"read", "fit", "total"}`).
        #[arg(long)]
        timings: bool,
    },
    /// Summaries from transactions; prints CSV.
    Summarize {
        #[arg(long)]
        input: PathBuf,
        #[arg(long)]
        customer_col: String,
        #[arg(long)]
        date_col: String,
        #[arg(long)]
        amount_col: String,
        #[arg(long, default_value = "%Y%m%d")]
        date_format: String,
        #[arg(long, value_enum)]
        period: PeriodArg,
        #[arg(long)]
        observation_end: NaiveDate,
    },
    /// Fit a count model and Gamma-Gamma on one summary, then predict: the CSV of `predict`
    /// from one read of the file (the fits go to `--fit-output`).
    Run {
        #[arg(long, value_enum, default_value = "bgnbd")]
        model: clv::Model,
        #[arg(long)]
        input: PathBuf,
        /// Periods ahead for expected purchases.
        #[arg(long)]
        horizon: f64,
        #[arg(long, default_value_t = 12)]
        clv_months: u32,
        #[arg(long, default_value_t = 0.01)]
        discount: f64,
        #[arg(long, value_enum, default_value = "week")]
        period: PeriodArg,
        /// Write both fits here as JSON: `{"purchases": <fit>, "spend": <fit>}`.
        #[arg(long)]
        fit_output: Option<PathBuf>,
        /// Print the seconds each step took to stderr, as JSON.
        #[arg(long)]
        timings: bool,
        #[command(flatten)]
        cols: clv::SummaryCols,
    },
    /// Predictions per customer; prints CSV.
    Predict {
        #[arg(long, value_enum)]
        model: clv::Model,
        /// The fit JSON (or just its params object).
        #[arg(long)]
        params: String,
        /// The Gamma-Gamma fit JSON, for expected profit and CLV.
        #[arg(long)]
        spend_params: Option<String>,
        #[arg(long)]
        input: PathBuf,
        /// Periods ahead for expected purchases.
        #[arg(long)]
        horizon: f64,
        #[arg(long, default_value_t = 12)]
        clv_months: u32,
        #[arg(long, default_value_t = 0.01)]
        discount: f64,
        #[arg(long, value_enum, default_value = "week")]
        period: PeriodArg,
        #[command(flatten)]
        cols: clv::FitCols,
    },
}

fn day_end(d: NaiveDate) -> DateTime<Utc> {
    d.and_hms_opt(23, 59, 59)
        .map_or(DateTime::UNIX_EPOCH, |t| t.and_utc())
}

fn at(now: Option<NaiveDate>) -> DateTime<Utc> {
    now.map_or_else(Utc::now, day_end)
}

fn all_records(store: &Db, t: TenantId) -> Result<Vec<Record>> {
    let mut out = Vec::new();
    let mut page = Page::first(5_000);
    loop {
        let rows = futures::executor::block_on(store.scan(t, page))?;
        let Some(last) = rows.last() else { break };
        page.after = Some(last.customer.id());
        out.extend(rows);
    }
    Ok(out)
}

/// Referrals and survey answers, read from the activities of the customers who have any.
fn activity_log(store: &Db, t: TenantId, records: &[Record]) -> Result<report::Log> {
    let mut out = report::Log::default();
    for r in records.iter().filter(|r| {
        r.stats.count(ActivityType::Referral) > 0 || r.stats.count(ActivityType::Feedback) > 0
    }) {
        let acts =
            futures::executor::block_on(store.activities(t, r.customer.id(), TimeRange::all()))?;
        let referred: Vec<CustomerId> = acts
            .iter()
            .filter_map(|a| match a.kind {
                ActivityKind::Referral { referred } => Some(referred),
                _ => None,
            })
            .collect();
        if !referred.is_empty() {
            out.referrals.insert(r.customer.id(), referred);
        }
        out.responses
            .extend(acts.iter().filter_map(metrics::Response::from_activity));
    }
    Ok(out)
}

/// The review period: `[from, to)`, by default the 365 days up to and including `now`'s day.
fn period(
    now: DateTime<Utc>,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<metrics::Period> {
    let today = now.date_naive();
    let to = to.unwrap_or_else(|| today.succ_opt().unwrap_or(today));
    let from = from.unwrap_or_else(|| to - chrono::Duration::days(365));
    metrics::Period::new(from, to).map_err(|e| fail!("--from {from} --to {to}: {e}"))
}

/// The sweep at `now`, with the retention policy first when one is given
/// (`Service::sweep_with_retention`), and a progress bar unless `quiet`.
fn sweep(
    svc: &Service<Db>,
    t: TenantId,
    now: DateTime<Utc>,
    quiet: bool,
    retention: Option<privacy::Retention>,
) -> Result<(rapport::SweepProgress, Option<rapport::RetentionReport>)> {
    let bar = if quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(0)
    };
    let progress = |p: rapport::SweepProgress| {
        bar.set_length(p.total as u64);
        bar.set_position(p.evaluated as u64);
    };
    let r = match retention {
        Some(r) => {
            let done = svc.sweep_with_retention(t, now, 2_000, r.policy, r.dry_run, progress)?;
            (done.sweep, Some(done.retention))
        }
        None => (svc.sweep(t, now, 2_000, progress)?, None),
    };
    bar.finish_and_clear();
    Ok(r)
}

/// The import's now, as the service's clock: the evaluation that ends an import runs at it.
struct At(DateTime<Utc>);

impl rapport::Clock for At {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

/// Stores a built batch (customers, then purchases with their lines, in bulk), imports its
/// refunds in bulk once the purchases are stored (`import::import_refunds`: a batch refused
/// for a refund a racing writer made impossible is recorded through the service instead, the
/// refused rows returned as bad rows under `skip_bad`), then evaluates the customers it
/// touched at `now` (so their tiers and stages hold without a sweep).
fn import_and_evaluate(
    store: Db,
    tenant: TenantId,
    mut batch: import::Batch,
    now: DateTime<Utc>,
    policies: &Policies,
    refunds: (&import::Columns, bool),
    quiet: bool,
) -> Result<(
    Service<Db>,
    import::Imported,
    import::Evaluated,
    Vec<rows::RowError>,
)> {
    let touched = batch.touched();
    let pending = std::mem::take(&mut batch.refunds);
    // The lines were checked against their amounts before the first write
    // (`lines::check_totals`): the store is told to allow what the import allowed.
    let policy = ImportPolicy::new(policies.stats.clone()).allow_total_mismatch(true);
    let mut lines = std::mem::take(&mut batch.lines);
    let mut done = import::store(&store, tenant, batch, &mut lines, &policy, quiet)?;
    // Racing imports refunding one customer's orders retry on version conflicts: each round
    // lets one of them through, so allow more rounds than the service's default.
    let svc = rapport::Service::new(store)
        .with_clock(At(now))
        .with_policies(policies.clone())?
        .with_max_attempts(64);
    let (cols, skip_bad) = refunds;
    let how = import::RefundImport {
        policy: &policy,
        cols,
        skip_bad,
    };
    let bad = import::import_refunds(&svc, tenant, pending, &mut lines, &how, &mut done)?;
    let evaluated = import::evaluate(&svc, tenant, &touched, quiet)?;
    Ok((Service::from_async(svc), done, evaluated, bad))
}

fn report(
    store: &Db,
    t: TenantId,
    now: DateTime<Utc>,
    period: metrics::Period,
    policies: &Policies,
) -> Result<report::Report> {
    let records = all_records(store, t)?;
    let log = activity_log(store, t, &records)?;
    report::build(&records, &log, policies, now, period)
}

/// The `[keys]` section of rapport.toml: where the key store lives.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct KeysSection {
    /// The key directory (relative paths are relative to the working directory).
    dir: PathBuf,
}

/// Switches field encryption on when `--keystore DIR` or the configuration's `[keys] dir`
/// names a key directory.
fn keystore_of(cli: &Cli, db: &str) -> Result<()> {
    let dir = match &cli.keystore {
        Some(dir) => Some(dir.clone()),
        None => config::Config::locate(cli.config.as_deref(), db)?
            .section::<KeysSection>("keys")?
            .map(|k| k.dir),
    };
    match dir {
        Some(dir) => store::use_keystore(&dir),
        None => Ok(()),
    }
}

/// The policies from the configuration (`--config`, or `rapport.toml` beside `db`) or, when
/// `use_override`, from `--policy FILE`; `--base-currency` overrides the currency.
fn policies_of(cli: &Cli, db: &str, use_override: bool) -> Result<Policies> {
    let mut policies = match (&cli.policy, use_override) {
        (Some(path), true) => {
            let c = config::Config::load(path)?;
            if !c.table().contains_key("policy") {
                return Err(fail!(
                    "{} has no [policy] section; see docs/policy.md",
                    path.display()
                ));
            }
            c.policies()?
        }
        _ => config::Config::locate(cli.config.as_deref(), db)?.policies()?,
    };
    if let Some(c) = &cli.base_currency {
        policies = policies.with_currency(Currency::parse_field("--base-currency", c)?);
    }
    Ok(policies)
}

fn run(cli: Cli) -> Result<()> {
    let tenant = store::tenant(&cli.tenant);
    let default_db = if matches!(cli.command, Command::Demo { .. }) {
        "sqlite://rapport-demo.db"
    } else {
        "sqlite://rapport.db"
    };
    let db_name = cli.db.clone().unwrap_or_else(|| default_db.into());
    keystore_of(&cli, &db_name)?;
    let policies = if matches!(cli.command, Command::Clv { .. }) {
        Policies::default()
    } else {
        policies_of(&cli, &db_name, true)?
    };
    match cli.command {
        Command::Account { what } => {
            let db = cli.db.unwrap_or_else(|| "sqlite://rapport.db".into());
            account::run(&db, tenant, &policies, what)?;
        }
        Command::Recommend {
            key,
            k,
            min_support,
            neighbours,
            repeatable,
            json,
        } => {
            let db = cli.db.unwrap_or_else(|| "sqlite://rapport.db".into());
            let params = rapport_core::recommend::CosineParams {
                min_support,
                neighbours,
            };
            // The flag, else the `[recommend]` section of rapport.toml.
            let repeatable = if repeatable.is_empty() {
                config::Config::locate(cli.config.as_deref(), &db)?
                    .section::<recommend::RecommendSection>("recommend")?
                    .unwrap_or_default()
                    .repeatable
            } else {
                repeatable
            };
            recommend::run(&db, tenant, &key, k, params, &repeatable, json)?;
        }
        Command::Case { what } => {
            let db = cli.db.unwrap_or_else(|| "sqlite://rapport.db".into());
            case::run(&db, tenant, &policies, what)?;
        }
        Command::Demo { html } => {
            let now = day_end(
                NaiveDate::from_ymd_opt(1998, 6, 30).ok_or_else(|| fail!("bad demo date"))?,
            );
            let db = db_name;
            let store = store::open(&db, Utc::now())?;
            // CDNOW writes its dates as 19970101.
            let cols = import::Columns {
                customer: "customer_id".into(),
                date: "date".into(),
                amount: "amount".into(),
                order: None,
                kind: None,
                date_format: import::DateFormat::Custom("%Y%m%d".into()),
                currency: Currency::USD,
                now,
                future_tolerance: chrono::Duration::zero(),
            };
            let (txs, _) = import::parse(DEMO_CSV.as_bytes(), &cols, false)?;
            let batch = import::build(tenant, &txs, &cols)?;
            let (svc, done, e, _) =
                import_and_evaluate(store, tenant, batch, now, &policies, (&cols, false), true)?;
            eprintln!(
                "imported the CDNOW sample into {}: {} rows, {} new customers, {} new purchases ({} already there)",
                store::describe(&db),
                done.rows,
                done.customers_new,
                done.purchases_new,
                done.purchases_skipped
            );
            eprintln!(
                "evaluated {} customers at 1998-06-30: {} changed",
                e.customers, e.changed
            );
            let r = report(
                svc.inner().store(),
                tenant,
                now,
                period(now, None, None)?,
                &policies,
            )?;
            print!("{}", render::text(&r));
            if let Some(path) = html {
                std::fs::write(&path, render::html(&r))?;
                eprintln!("wrote {}", path.display());
            }
        }
        Command::Import {
            what: ImportWhat::Transactions(a),
        } => {
            let store = store::open(
                &cli.db.unwrap_or_else(|| "sqlite://rapport.db".into()),
                Utc::now(),
            )?;
            let now = at(a.now);
            let cols = import::Columns {
                customer: a.customer_col,
                date: a.date_col,
                amount: a.amount_col,
                order: a.order_col,
                kind: a.type_col,
                date_format: a
                    .date_format
                    .map_or(import::DateFormat::Iso, import::DateFormat::Custom),
                currency: a.currency.parse()?,
                now,
                future_tolerance: chrono::Duration::days(i64::from(a.future_tolerance_days)),
            };
            let file =
                std::fs::read(&a.csv).map_err(|e| fail!("cannot open {}: {e}", a.csv.display()))?;
            let (txs, mut bad) = import::parse(file.as_slice(), &cols, a.skip_bad)?;
            let items = lines::ItemColumns {
                order: cols.order.clone().unwrap_or_else(|| "order_id".into()),
                sku: a.sku_col.clone().unwrap_or_else(|| "sku".into()),
                quantity: a.quantity_col,
                unit_price: a.unit_price_col,
                category: a.category_col,
                currency: cols.currency,
            };
            let lined = import::read_lines(
                &file,
                txs,
                &mut bad,
                (a.sku_col.is_some(), a.lines.as_deref()),
                (&cols, &items),
                (a.allow_line_mismatch, a.skip_bad),
            )?;
            // Every record is built (and every refund checked against its order) before the
            // first write: a bad row writes nothing.
            let mut batch =
                import::build_with_lines(tenant, &lined.txs, &cols, lined.lines.clone())?;
            bad.extend(import::check_refunds(
                &store, tenant, &mut batch, &cols, a.skip_bad,
            )?);
            bad.sort_by_key(|b| b.line);
            for b in &bad {
                eprintln!("skipped {b}");
            }
            let (_, done, evaluated, raced) = import_and_evaluate(
                store,
                tenant,
                batch,
                now,
                &policies,
                (&cols, a.skip_bad),
                a.quiet,
            )?;
            for b in &raced {
                eprintln!("skipped {b}");
            }
            bad.extend(raced);
            eprintln!(
                "evaluated the {} imported customers at {}: {} changed tier, stage or tags (no sweep needed)",
                evaluated.customers,
                evaluated.at.to_rfc3339(),
                evaluated.changed
            );
            println!(
                "{}",
                serde_json::to_string(&serde_json::json!({
                    "imported": done,
                    "evaluated": evaluated,
                    "skipped_rows": bad.len(),
                    "skipped_line_rows": lined.bad_lines_file.len()
                }))?
            );
        }
        Command::Import {
            what: ImportWhat::Activities(a),
        } => {
            let store = store::open(
                &cli.db.unwrap_or_else(|| "sqlite://rapport.db".into()),
                Utc::now(),
            )?;
            let now = at(a.now);
            let cols = activities::ActivityColumns {
                customer: a.customer_col,
                date: a.date_col,
                kind: a.kind_col,
                amount: a.amount_col,
                order: a.order_col,
                score: a.score_col,
                scale: a.scale_col,
                referred: a.referred_col,
                channel: a.channel_col,
                severity: a.severity_col,
                item: a.item_col,
                date_format: a
                    .date_format
                    .map_or(import::DateFormat::Iso, import::DateFormat::Custom),
                currency: a.currency.parse()?,
                now,
                future_tolerance: chrono::Duration::days(i64::from(a.future_tolerance_days)),
            };
            let file = std::fs::File::open(&a.csv)
                .map_err(|e| fail!("cannot open {}: {e}", a.csv.display()))?;
            let (batch, bad) = activities::prepare(&store, tenant, file, &cols, a.skip_bad)?;
            for b in &bad {
                eprintln!("skipped {b}");
            }
            let touched = batch.touched();
            let policy = ImportPolicy::new(policies.stats.clone());
            let done = activities::store(&store, tenant, batch, &policy)?;
            let svc = rapport::Service::new(store)
                .with_clock(At(now))
                .with_policies(policies.clone())?;
            let evaluated = import::evaluate(&svc, tenant, &touched, a.quiet)?;
            println!(
                "{}",
                serde_json::to_string(&serde_json::json!({
                    "imported": done,
                    "evaluated": evaluated,
                    "skipped_rows": bad.len()
                }))?
            );
        }
        Command::Import {
            what: ImportWhat::Customers(a),
        } => {
            let store = store::open(
                &cli.db.unwrap_or_else(|| "sqlite://rapport.db".into()),
                Utc::now(),
            )?;
            let cols = import::CustomerColumns {
                customer: a.customer_col,
                email: a.email_col,
                phone: a.phone_col,
                name: a.name_col,
                attributes: a.attr_cols,
                region: a
                    .region
                    .parse()
                    .map_err(|e| fail!("--region {}: {e}", a.region))?,
            };
            let file = std::fs::File::open(&a.csv)
                .map_err(|e| fail!("cannot open {}: {e}", a.csv.display()))?;
            let (rows, mut bad) = import::parse_customers(file, &cols, a.skip_bad)?;
            let (done, more_bad) =
                import::store_customers(&store, tenant, rows, Utc::now(), a.skip_bad, a.quiet)?;
            bad.extend(more_bad);
            for b in &bad {
                eprintln!("skipped {b}");
            }
            println!(
                "{}",
                serde_json::to_string(
                    &serde_json::json!({"imported": done, "skipped_rows": bad.len()})
                )?
            );
        }
        Command::Sweep {
            now,
            retention,
            rules,
        } => {
            // `--rules FILE` and `--retention-days` win over the configuration's `[[rules]]`
            // + `[webhook]` and `[retention]` sections (rapport.toml beside the database, or
            // `--config FILE`).
            let config = config::Config::locate(cli.config.as_deref(), &db_name)?;
            // The guards: the rules file's `[automation]`, else the configuration's.
            let automation = match &rules {
                Some(path) => Some(automation::load(path)?.or_policy_of(&config)?),
                None => automation::from_config(&config)?,
            };
            let retention_section = config.section("retention")?;
            let store = store::open(&db_name, Utc::now())?;
            let svc = Service::new(store).with_policies(policies)?;
            // The retention policy runs first, in the library's sweep: the customers it
            // erases are not evaluated.
            let retention = privacy::Retention::of(&retention, retention_section)?;
            let (s, erased) = sweep(&svc, tenant, at(now), false, retention)?;
            let mut out = serde_json::json!({"evaluated": s.evaluated, "changed": s.changed, "events": s.events});
            let accounts = svc.sweep_accounts(tenant, at(now))?;
            if accounts.accounts > 0 {
                out["accounts"] = serde_json::json!({"evaluated": accounts.accounts, "changed": accounts.changed});
            }
            if let (Some(policy), Some(r)) = (retention, erased) {
                out["retention"] = policy.json(r);
            }
            if let Some(a) = automation {
                out["automation"] =
                    serde_json::to_value(automation::run(&svc, tenant, at(now), a)?)?;
            }
            println!("{out}");
        }
        Command::Rules {
            what: RulesWhat::Check { file, json },
        } => automation::check(&file, json)?,
        Command::Actions {
            what: Some(ActionsWhat::Redrive { id, rules }),
            ..
        } => {
            let config = config::Config::locate(cli.config.as_deref(), &db_name)?;
            let automation = match &rules {
                Some(path) => Some(automation::load(path)?),
                None => automation::from_config(&config)?,
            };
            let Some(automation) = automation else {
                return Err(fail!(
                    "no rules: pass --rules FILE or add [[rules]] to rapport.toml"
                ));
            };
            let id = id
                .parse()
                .map_err(|_| fail!("`{id}` is not an action id"))?;
            let store = store::open(&db_name, Utc::now())?;
            let svc = Service::new(store).with_policies(policies)?;
            let out = automation::redrive(&svc, tenant, id, Utc::now(), automation)?;
            println!("{}", serde_json::to_string(&out)?);
        }
        Command::Actions {
            what: None,
            since,
            limit,
            dead_letters,
            json,
        } => {
            let store = store::open(&db_name, Utc::now())?;
            let since = since.map_or(DateTime::UNIX_EPOCH, |d| {
                d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc()
            });
            let svc = Service::new(store).with_policies(policies)?;
            automation::list(&svc, tenant, since, limit, dead_letters, json)?;
        }
        Command::Report {
            now,
            from,
            to,
            json,
            html,
        } => {
            let store = store::open(
                &cli.db.unwrap_or_else(|| "sqlite://rapport.db".into()),
                Utc::now(),
            )?;
            let now = at(now);
            let r = report(&store, tenant, now, period(now, from, to)?, &policies)?;
            let cases = case::section(&store, tenant, now, &policies)?;
            let accounts = account::section(&store, tenant, now)?;
            let products = recommend::section(&Service::new(store), tenant)?;
            if json {
                let mut out = report::to_json(&r);
                if let (Some(m), Some(obj)) = (&cases, out.as_object_mut()) {
                    obj.insert("cases".into(), serde_json::to_value(m)?);
                }
                if let (Some(a), Some(obj)) = (&accounts, out.as_object_mut()) {
                    obj.insert("accounts".into(), serde_json::to_value(a)?);
                }
                if let (Some(p), Some(obj)) = (&products, out.as_object_mut()) {
                    obj.insert("top_products_by_tier".into(), recommend::section_json(p));
                }
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                print!("{}", render::text(&r));
                if let Some(m) = &cases {
                    print!("\n{}", case::metrics_text(m));
                }
                if let Some(a) = &accounts {
                    print!("\n{}", account::section_text(a));
                }
                if let Some(p) = &products {
                    print!("\n{}", recommend::section_text(p));
                }
            }
            if let Some(path) = html {
                let mut page = render::html(&r);
                if let Some(a) = &accounts {
                    let at = page.rfind("</body>").unwrap_or(page.len());
                    page.insert_str(at, &account::section_html(a));
                }
                if let Some(p) = &products {
                    let at = page.rfind("</body>").unwrap_or(page.len());
                    page.insert_str(at, &recommend::section_html(p));
                }
                std::fs::write(&path, page)?;
                eprintln!("wrote {}", path.display());
            }
        }
        Command::Customer {
            key,
            now,
            json,
            show_pii,
            as_of,
        } => {
            let store = store::open(
                &cli.db.unwrap_or_else(|| "sqlite://rapport.db".into()),
                Utc::now(),
            )?;
            // A UUID, an email address (looked up by its normalised form), or an external id.
            let id = match (key.parse::<CustomerId>(), key.contains('@')) {
                (Ok(id), _) => id,
                (Err(_), true) => {
                    let email =
                        Email::parse(&key).map_err(|e| fail!("{}", error::rejected(&key, &e)))?;
                    futures::executor::block_on(
                        store.find_by_contact(tenant, &ContactKey::Email(email)),
                    )?
                    .first()
                    .copied()
                    .ok_or_else(|| {
                        fail!(
                            "no customer with that email in tenant `{}`; check the address or --tenant",
                            cli.tenant
                        )
                    })?
                }
                (Err(_), false) => store::customer_id(tenant, &key),
            };
            let svc = Service::new(store).with_policies(policies.clone())?;
            let rec = svc.customer(tenant, id).map_err(|e| match e {
                rapport::Error::NotFound(_) => fail!(
                    "no customer `{key}` in tenant `{}`; check the id or --tenant",
                    cli.tenant
                ),
                e => e.into(),
            })?;
            if let Some(day) = as_of {
                return value::as_of(&svc, tenant, id, day_end(day), json);
            }
            let now = at(now);
            // With the book's fitted CLV model, when one is stored (`clv fit --store`).
            let eval = svc.decide(tenant, &rec, now).ok();
            let timeline = svc.timeline(tenant, rec.customer.id(), TimeRange::all())?;
            let c = &rec.customer;
            let profile = if show_pii {
                serde_json::to_value(&c.profile)?
            } else {
                serde_json::json!({
                    "display_name": c.profile.display_name.as_ref().map(|_| "<redacted>"),
                    "email": c.profile.email.as_ref().map(|_| "<redacted>"),
                    "phone": c.profile.phone.as_ref().map(|_| "<redacted>"),
                    "attributes": c.profile.attributes.expose().keys().map(AttrKey::as_str).collect::<Vec<_>>(),
                })
            };
            let out = serde_json::json!({
                "id": c.id().to_string(),
                "profile": profile,
                "tags": c.tags.iter().map(|(t, i)| serde_json::json!({"tag": t.as_str(), "source": i.source, "expires_at": i.expires_at})).collect::<Vec<_>>(),
                "tier": c.tier().as_str(),
                "evaluated_at": now.to_rfc3339(),
                "tier_at_now": eval.as_ref().map(|e| e.tier.to.as_str()),
                "tier_reason": eval.as_ref().map(|e| e.tier.reason.to_string()),
                "stage_at_now": eval.as_ref().map(|e| e.stage.to.as_str()),
                "stage": c.stage().as_str(),
                "stage_reason": eval.as_ref().map(|e| e.stage.reason.to_string()),
                "churn_risk": eval.as_ref().map(|e| e.churn_risk.score),
                "churn_reason": eval.as_ref().map(|e| e.churn_risk.reason.to_string()),
                "win_backs": c.lifecycle().win_backs,
                "orders": rec.stats.orders(),
                "revenue": rec.stats.revenue().map(|m| m.to_string()),
                "timeline": timeline.iter().map(|a| serde_json::json!({"at": a.at.to_rfc3339(), "channel": a.channel, "kind": a.kind})).collect::<Vec<_>>(),
            });
            if json {
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!("customer {}", c.id());
                let day = now.format("%Y-%m-%d");
                if let Some(e) = &eval {
                    println!(
                        "  tier:  {} stored; at {day}: {} ({})",
                        c.tier(),
                        e.tier.to,
                        e.tier.reason
                    );
                    println!(
                        "  stage: {} stored; at {day}: {} ({})",
                        c.stage(),
                        e.stage.to,
                        e.stage.reason
                    );
                    println!(
                        "  churn risk at {day}: {:.2} ({})",
                        e.churn_risk.score, e.churn_risk.reason
                    );
                } else {
                    println!("  tier:  {}", c.tier());
                    println!("  stage: {}", c.stage());
                }
                println!(
                    "  orders {}, revenue {}",
                    rec.stats.orders(),
                    out["revenue"].as_str().unwrap_or("-")
                );
                println!("  profile: {}", out["profile"]);
                for a in &timeline {
                    println!(
                        "  {}  {:?}  {}",
                        a.at.format("%Y-%m-%d"),
                        a.channel,
                        serde_json::to_string(&a.kind)?
                    );
                }
            }
        }
        Command::Segment {
            predicate,
            now,
            json,
        } => {
            let segment = Segment::parse(&predicate)
                .map_err(|e| fail!("{e}; see docs/domain.md for the predicate language"))?;
            let store = store::open(
                &cli.db.unwrap_or_else(|| "sqlite://rapport.db".into()),
                Utc::now(),
            )?;
            let now = at(now);
            let records = all_records(&store, tenant)?;
            let live: Vec<&Record> = records.iter().filter(|r| r.customer.is_live()).collect();
            let ranked = rank(
                live.iter().map(|r| (r.customer.id(), &r.stats)),
                &policies,
                now,
                |_| None,
            );
            let roles = if segment.uses_account_roles() {
                account::roles_by_customer(&store, tenant)?
            } else {
                std::collections::HashMap::new()
            };
            let bought = if segment.uses_line_items() {
                recommend::purchases_by_customer(&store, tenant)?
            } else {
                std::collections::HashMap::new()
            };
            let nothing = PurchaseSummary::default();
            let mut matched = Vec::new();
            for (r, k) in live.iter().zip(&ranked) {
                let risk = policies
                    .churn
                    .assess(&r.stats, &policies.lifecycle, now, None)
                    .score;
                let ctx = SegmentContext::new(&r.customer, &r.stats, now)
                    .with_currency(Some(policies.currency()))
                    .with_rfm(k.rfm)
                    .with_churn_risk(Some(risk))
                    .with_account_roles(roles.get(&r.customer.id()).copied().unwrap_or_default())
                    .with_purchases(bought.get(&r.customer.id()).unwrap_or(&nothing));
                if segment.matches(&ctx) {
                    let external = match AttrKey::new("external_id")
                        .ok()
                        .and_then(|key| r.customer.profile.attributes.expose().get(&key).cloned())
                    {
                        Some(AttrValue::Text(s)) => s,
                        _ => String::new(),
                    };
                    matched.push(serde_json::json!({
                        "customer": r.customer.id().to_string(),
                        "external_id": external,
                        "stage": r.customer.stage().as_str(),
                        "tier": r.customer.tier().as_str(),
                        "orders": r.stats.orders(),
                    }));
                }
            }
            if json {
                println!(
                    "{}",
                    serde_json::json!({"segment": segment.to_string(), "customers": matched.len(), "matches": matched})
                );
            } else {
                println!(
                    "{} of {} customers match `{segment}`",
                    matched.len(),
                    live.len()
                );
                for m in matched.iter().take(50) {
                    println!(
                        "  {}  {}  {}  {}",
                        m["external_id"].as_str().unwrap_or(""),
                        m["customer"].as_str().unwrap_or(""),
                        m["stage"].as_str().unwrap_or(""),
                        m["tier"].as_str().unwrap_or("")
                    );
                }
            }
        }
        Command::Simulate { now, json } => {
            let proposed = match &cli.policy {
                Some(_) => policies,
                None => {
                    return Err(fail!(
                        "simulate needs the proposed policy: --policy FILE (a rapport.toml with a [policy] section)"
                    ));
                }
            };
            let current = policies_of(&cli, &db_name, false)?;
            let store = store::open(&db_name, Utc::now())?;
            let svc = Service::new(store).with_policies(current)?;
            value::simulate(&svc, tenant, &proposed, at(now), json)?;
        }
        Command::Policy {
            what: PolicyWhat::Show { json },
        } => {
            if json {
                println!("{}", serde_json::to_string_pretty(&policies)?);
            } else {
                let source = match &cli.policy {
                    Some(p) => Some(p.clone()),
                    None => config::Config::locate(cli.config.as_deref(), &db_name)?
                        .path()
                        .map(std::path::Path::to_path_buf),
                };
                match source {
                    Some(p) => println!("# the defaults, then {}", p.display()),
                    None => println!("# the defaults (no rapport.toml found)"),
                }
                print!("{}", config::policy_toml(&policies));
            }
        }
        Command::Export { key } => {
            let db = cli.db.unwrap_or_else(|| "sqlite://rapport.db".into());
            privacy::export(store::open(&db, Utc::now())?, tenant, &key)?;
        }
        Command::Erase(a) => {
            let db = cli.db.unwrap_or_else(|| "sqlite://rapport.db".into());
            privacy::erase(store::open(&db, Utc::now())?, tenant, &a)?;
        }
        Command::Consent { what } => {
            let db = cli.db.unwrap_or_else(|| "sqlite://rapport.db".into());
            privacy::run(store::open(&db, Utc::now())?, tenant, what)?;
        }
        Command::Import {
            what: ImportWhat::Consents(a),
        } => {
            let db = cli.db.unwrap_or_else(|| "sqlite://rapport.db".into());
            privacy::import(store::open(&db, Utc::now())?, tenant, &a)?;
        }
        Command::Quality(q) => {
            let db = cli.db.unwrap_or_else(|| "sqlite://rapport.db".into());
            let merge = config::Config::locate(cli.config.as_deref(), &db)?
                .section::<quality::MergeConfig>("merge")?
                .unwrap_or_default();
            quality::run(
                q,
                store::open(&db, Utc::now())?,
                tenant,
                &cli.tenant,
                &merge,
            )?;
        }
        Command::Clv { what } => match what {
            ClvWhat::Fit {
                model,
                input,
                cols,
                store,
                period,
                discount,
                now,
                timings,
            } => {
                let period = match period {
                    PeriodArg::Day => rapport_core::ClvPeriod::Day,
                    PeriodArg::Week => rapport_core::ClvPeriod::Week,
                };
                let when = at(now);
                match input {
                    Some(input) => {
                        let fit = clv::fit(model, &input, &cols, timings)?;
                        if store {
                            let fitted = clv::fitted_for_book(
                                model, &input, &cols, &fit, period, discount, when,
                            )?;
                            let svc =
                                rapport::blocking::Service::new(store::open(&db_name, Utc::now())?);
                            svc.save_clv_model(tenant, fitted)?;
                            eprintln!(
                                "stored the {} model in {} (tenant {})",
                                fitted.model.name(),
                                store::describe(&db_name),
                                cli.tenant
                            );
                        }
                        println!("{fit}");
                    }
                    None => {
                        let kind = match model {
                            clv::Model::Bgnbd => rapport::ClvModelKind::BgNbd,
                            clv::Model::ParetoNbd => rapport::ClvModelKind::ParetoNbd,
                            clv::Model::Mbgnbd => rapport::ClvModelKind::MbgNbd,
                            _ => {
                                return Err(fail!(
                                    "fitting on the book takes a count model: bgnbd, pareto-nbd or mbgnbd"
                                ));
                            }
                        };
                        let svc =
                            rapport::blocking::Service::new(store::open(&db_name, Utc::now())?)
                                .with_clock(rapport::ManualClock::at(when));
                        let fit = svc.fit_clv(
                            tenant,
                            rapport::FitClvOptions {
                                model: kind,
                                period,
                                monthly_discount: discount,
                            },
                        )?;
                        println!("{}", serde_json::to_string(&fit)?);
                    }
                }
            }
            ClvWhat::Summarize {
                input,
                customer_col,
                date_col,
                amount_col,
                date_format,
                period,
                observation_end,
            } => {
                print!(
                    "{}",
                    clv::summarize_csv(
                        &input,
                        &clv::TransactionCols {
                            customer: &customer_col,
                            date: &date_col,
                            amount: &amount_col,
                            date_format: &date_format,
                        },
                        period.into(),
                        observation_end
                    )?
                );
            }
            ClvWhat::Run {
                model,
                input,
                horizon,
                clv_months,
                discount,
                period,
                fit_output,
                timings,
                cols,
            } => {
                let o = clv::RunOptions {
                    forecast: forecast(horizon, clv_months, discount, period),
                    fit_output,
                    timings,
                };
                clv::run(model, &input, &cols, &o, &mut std::io::stdout().lock())?;
            }
            ClvWhat::Predict {
                model,
                params,
                spend_params,
                input,
                horizon,
                clv_months,
                discount,
                period,
                cols,
            } => {
                clv::predict(
                    &clv::Fitted {
                        model,
                        params: &params,
                        spend: spend_params.as_deref(),
                    },
                    &input,
                    &cols,
                    &forecast(horizon, clv_months, discount, period),
                    &mut std::io::stdout().lock(),
                )?;
            }
        },
    }
    Ok(())
}

/// Installs the stderr log subscriber: `RUST_LOG`'s directives, with `-v`/`-vv` raising the
/// default level to info/debug; warnings only when neither is given, so the normal output is
/// unchanged.
fn init_logs(verbose: u8) {
    use std::io::IsTerminal;
    use tracing_subscriber::filter::{EnvFilter, LevelFilter};
    use tracing_subscriber::fmt::format::FmtSpan;
    let level = match verbose {
        0 => LevelFilter::WARN,
        1 => LevelFilter::INFO,
        _ => LevelFilter::DEBUG,
    };
    let env = std::env::var(EnvFilter::DEFAULT_ENV).unwrap_or_default();
    let mut filter = EnvFilter::builder()
        .with_default_directive(level.into())
        .parse_lossy(&env);
    if verbose > 0 {
        filter = filter.add_directive(level.into());
    }
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_span_events(if verbose > 1 || !env.is_empty() {
            FmtSpan::CLOSE
        } else {
            FmtSpan::NONE
        })
        .try_init();
}

fn main() -> ExitCode {
    // Never show a Rust panic to a user: one line, and a non-zero exit.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(ToString::to_string)
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        if msg.contains("Broken pipe") {
            // The reader went away (`rapport report | head`): stop quietly, as Unix tools do.
            std::process::exit(141);
        }
        eprintln!("rapport: internal error: {msg} (please report it)");
    }));
    let cli = Cli::parse();
    init_logs(cli.verbose);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rapport: {e}");
            ExitCode::from(2)
        }
    }
}
