//! `rapport consent grant|withdraw|request|confirm|show` and `rapport import consents`: the
//! consent ledger on the command line.

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use clap::{Args, Subcommand};
use rapport::blocking::Service;
use rapport::{ConsentImportRow, ConsentRequest};
use rapport_core::privacy::{ConsentEntry, ConsentState, LegalBasis, state_of};
use rapport_core::*;

use crate::error::{Result, fail};
use crate::store::{self, Db};

/// `rapport consent …`.
#[derive(Subcommand)]
pub(crate) enum ConsentWhat {
    /// Record a grant of a purpose on a channel.
    Grant(ConsentArgs),
    /// Record a withdrawal (effective at once).
    Withdraw(ConsentArgs),
    /// Record a consent request waiting for confirmation (double opt-in).
    Request(ConsentArgs),
    /// Confirm a pending double opt-in.
    Confirm(ConsentArgs),
    /// Show a customer's current consents and the ledger's history.
    Show {
        /// Customer id (UUID), email address, or the external id used at import.
        key: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// One consent entry to record.
#[derive(Args)]
pub(crate) struct ConsentArgs {
    /// Customer id (UUID), email address, or the external id used at import.
    key: String,
    /// marketing, profiling, transactional, analytics, sensitive_data, cross_border_transfer.
    purpose: String,
    /// email, sms, phone, push, post, any.
    channel: String,
    /// Where it came from (a form, a campaign, a document reference).
    #[arg(long, default_value = "cli")]
    source: String,
    /// consent, contract, legitimate_interest, legal_obligation.
    #[arg(long, default_value = "consent")]
    basis: String,
    /// A reference to the proof.
    #[arg(long)]
    evidence: Option<String>,
}

/// `rapport import consents <csv>`.
#[derive(Args)]
pub(crate) struct ConsentImportArgs {
    /// CSV with a header: customer, purpose, channel, state (granted, withdrawn, pending),
    /// and optionally source, basis, evidence, at (RFC 3339 or YYYY-MM-DD).
    file: PathBuf,
}

/// A customer key: a UUID, an email (looked up by its normalised form), or an external id.
pub(crate) fn resolve(store: &Db, t: TenantId, key: &str) -> Result<CustomerId> {
    if let Ok(id) = key.parse::<CustomerId>() {
        return Ok(id);
    }
    if key.contains('@') {
        let email = Email::parse(key).map_err(|e| fail!("{}", crate::error::rejected(key, &e)))?;
        return futures::executor::block_on(store.find_by_contact(t, &ContactKey::Email(email)))?
            .first()
            .copied()
            .ok_or_else(|| fail!("no customer with that email; check the address or --tenant"));
    }
    Ok(store::customer_id(t, key))
}

fn not_found(key: &str) -> impl Fn(rapport::Error) -> crate::error::CliError + '_ {
    move |e| match e {
        rapport::Error::NotFound(_) => {
            fail!("no customer `{key}` in this tenant; check the key or --tenant")
        }
        e => e.into(),
    }
}

fn request(a: &ConsentArgs) -> Result<(Purpose, ContactChannel, ConsentRequest)> {
    let purpose: Purpose = a.purpose.parse().map_err(|e| fail!("{e}"))?;
    let channel: ContactChannel = a.channel.parse().map_err(|e| fail!("{e}"))?;
    let basis: LegalBasis = a.basis.parse().map_err(|e| fail!("{e}"))?;
    let mut r = ConsentRequest::new(purpose, channel, a.source.clone()).basis(basis);
    if let Some(e) = &a.evidence {
        r = r.evidence(e.clone());
    }
    Ok((purpose, channel, r))
}

fn entry_json(e: &ConsentEntry) -> serde_json::Value {
    serde_json::json!({
        "id": e.id.to_string(),
        "purpose": e.purpose,
        "channel": e.channel,
        "state": e.state,
        "basis": e.basis,
        "source": e.source,
        "evidence": e.evidence,
        "at": e.at.to_rfc3339(),
        "recorded_at": e.recorded_at.to_rfc3339(),
    })
}

/// Runs `rapport consent …`.
pub(crate) fn run(store: Db, t: TenantId, what: ConsentWhat) -> Result<()> {
    let svc = Service::new(store);
    match what {
        ConsentWhat::Show { key, json } => {
            // A merged key is followed to the customer holding the ledger now.
            let id = resolve(svc.inner().store(), t, &key)?;
            let id = svc.customer(t, id).map_err(not_found(&key))?.customer.id();
            let history = svc.consents(t, id)?;
            let mut current = Vec::new();
            for p in Purpose::ALL {
                for ch in ContactChannel::ALL {
                    let own = history.iter().any(|e| e.purpose == p && e.channel == ch);
                    if own || (ch == ContactChannel::Any && p == Purpose::Transactional) {
                        let state = state_of(&history, p, ch);
                        current.push((p, ch, state));
                    }
                }
            }
            if json {
                let out = serde_json::json!({
                    "customer": id.to_string(),
                    "current": current.iter().map(|(p, ch, s)| serde_json::json!({
                        "purpose": p, "channel": ch, "state": s.map(ConsentState::as_str),
                    })).collect::<Vec<_>>(),
                    "history": history.iter().map(entry_json).collect::<Vec<_>>(),
                });
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!("customer {id}");
                println!("  current:");
                for (p, ch, s) in &current {
                    println!(
                        "    {p:<22} {ch:<6} {}",
                        s.map_or("none", ConsentState::as_str)
                    );
                }
                println!("  history ({} entries):", history.len());
                for e in &history {
                    println!(
                        "    {}  {:<22} {:<6} {:<9} {:<19} {}{}",
                        e.at.format("%Y-%m-%d %H:%M:%S"),
                        e.purpose.as_str(),
                        e.channel.as_str(),
                        e.state.as_str(),
                        e.basis.as_str(),
                        e.source,
                        e.evidence
                            .as_deref()
                            .map(|v| format!(" (evidence {v})"))
                            .unwrap_or_default()
                    );
                }
            }
            Ok(())
        }
        other => {
            let (a, op) = match &other {
                ConsentWhat::Grant(a) => (a, "granted"),
                ConsentWhat::Withdraw(a) => (a, "withdrawn"),
                ConsentWhat::Request(a) => (a, "pending"),
                ConsentWhat::Confirm(a) => (a, "confirmed"),
                ConsentWhat::Show { .. } => return Ok(()),
            };
            let id = resolve(svc.inner().store(), t, &a.key)?;
            let (purpose, channel, r) = request(a)?;
            let e = match &other {
                ConsentWhat::Grant(_) => svc.grant(t, id, r),
                ConsentWhat::Withdraw(_) => svc.withdraw(t, id, r),
                ConsentWhat::Request(_) => svc.request_consent(t, id, r),
                _ => svc.confirm(t, id, purpose, channel, &a.source),
            }
            .map_err(not_found(&a.key))?;
            println!(
                "{op}: {} {} for customer {id} (entry {})",
                e.purpose, e.channel, e.id
            );
            Ok(())
        }
    }
}

fn parse_at(text: &str, line: u64) -> Result<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
        .ok_or_else(|| fail!("line {line}: at `{text}` is not RFC 3339 or YYYY-MM-DD"))
}

/// Runs `rapport import consents <csv>`: every row parsed and its customer key resolved, then
/// all the entries recorded by one [`Service::import_consents`] (one changeset: all or
/// nothing; customers must exist and be live).
pub(crate) fn import(store: Db, t: TenantId, args: &ConsentImportArgs) -> Result<()> {
    let file: &Path = &args.file;
    let mut rdr =
        csv::Reader::from_path(file).map_err(|e| fail!("cannot read {}: {e}", file.display()))?;
    let headers = rdr
        .headers()
        .map_err(|e| fail!("{}: {e}", file.display()))?
        .clone();
    let col = |name: &str| headers.iter().position(|h| h.trim() == name);
    let need =
        |name: &str| col(name).ok_or_else(|| fail!("{}: no `{name}` column", file.display()));
    let (c_key, c_purpose, c_channel, c_state) = (
        need("customer")?,
        need("purpose")?,
        need("channel")?,
        need("state")?,
    );
    let (c_source, c_basis, c_evidence, c_at) =
        (col("source"), col("basis"), col("evidence"), col("at"));
    let mut rows = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = i as u64 + 2;
        let rec = rec.map_err(|e| fail!("line {line}: {e}"))?;
        let get = |c: usize| rec.get(c).unwrap_or("").trim().to_owned();
        let opt = |c: Option<usize>| c.map(get).filter(|s| !s.is_empty());
        let bad = |what: &str, e: DomainError| fail!("line {line}: {what}: {e}");
        let purpose: Purpose = get(c_purpose).parse().map_err(|e| bad("purpose", e))?;
        let channel: ContactChannel = get(c_channel).parse().map_err(|e| bad("channel", e))?;
        let state = match get(c_state).as_str() {
            "granted" => ConsentState::Granted,
            "withdrawn" => ConsentState::Withdrawn,
            "pending" => ConsentState::Pending,
            other => {
                return Err(fail!(
                    "line {line}: state `{other}` is not granted, withdrawn or pending"
                ));
            }
        };
        let basis: LegalBasis = opt(c_basis)
            .unwrap_or_else(|| "consent".into())
            .parse()
            .map_err(|e| bad("basis", e))?;
        let mut r = ConsentRequest::new(
            purpose,
            channel,
            opt(c_source).unwrap_or_else(|| "csv-import".into()),
        )
        .basis(basis);
        if let Some(e) = opt(c_evidence) {
            r = r.evidence(e);
        }
        if let Some(at) = opt(c_at) {
            r = r.at(parse_at(&at, line)?);
        }
        rows.push((line, get(c_key), state, r));
    }
    let svc = Service::new(store);
    let mut lines = Vec::with_capacity(rows.len());
    let mut import = Vec::with_capacity(rows.len());
    for (line, key, state, r) in rows {
        let id = resolve(svc.inner().store(), t, &key).map_err(|e| fail!("line {line}: {e}"))?;
        import.push(ConsentImportRow::new(id, state, r));
        lines.push((line, key));
    }
    // One changeset: every entry, or none when a row is refused or the store fails.
    let report = svc.import_consents(t, &import).map_err(|e| match e {
        rapport::Error::Row { row, source } => {
            let (line, key) = &lines[row];
            match *source {
                rapport::Error::NotFound(_) => fail!("line {line}: no customer `{key}`"),
                e => fail!("line {line}: {}", crate::error::CliError::from(e)),
            }
        }
        e => e.into(),
    })?;
    println!("recorded {} consent entries", report.entries.len());
    Ok(())
}

/// `rapport erase <key> [--reason CODE] [--requester REF]`.
#[derive(Args)]
pub(crate) struct EraseArgs {
    /// Customer id (UUID), email address, or the external id used at import.
    key: String,
    /// The reason code kept in the erasure record.
    #[arg(long, default_value = "data-subject-request")]
    reason: String,
    /// Who asked: an opaque reference (ticket id), never a name or an email.
    #[arg(long, default_value = "cli")]
    requester: String,
}

/// Runs `rapport erase`: prints the erasure record (no personal data).
pub(crate) fn erase(store: Db, t: TenantId, a: &EraseArgs) -> Result<()> {
    let id = resolve(&store, t, &a.key)?;
    let svc = Service::new(store);
    let r = svc
        .erase(t, id, &a.requester, &a.reason)
        .map_err(not_found(&a.key))?;
    println!("{}", serde_json::to_string(&r)?);
    Ok(())
}

/// The retention flags of `rapport sweep`.
#[derive(Args)]
pub(crate) struct RetentionArgs {
    /// Erase customers with no activity for more than this many days (no default: the
    /// retention policy is the host's choice).
    #[arg(long)]
    retention_days: Option<u32>,
    /// Only count the customers the retention policy (the flag's or the configuration's
    /// `[retention]`) would erase.
    #[arg(long)]
    retention_dry_run: bool,
}

/// The `[retention]` section of `rapport.toml`: the sweep erases customers with no activity
/// for more than `inactive_days` (no default: the host's choice); `dry_run` only counts them.
#[derive(Debug, Clone, Copy, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RetentionSection {
    inactive_days: u32,
    #[serde(default)]
    dry_run: bool,
}

/// The retention policy a sweep applies: the flags when given, else the configuration's
/// `[retention]` section; `None` when neither asks for one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Retention {
    pub(crate) policy: rapport_core::privacy::RetentionPolicy,
    pub(crate) dry_run: bool,
}

impl Retention {
    /// The policy the flags `a` or the configuration's `section` ask for, if any.
    pub(crate) fn of(a: &RetentionArgs, section: Option<RetentionSection>) -> Result<Option<Self>> {
        let (days, dry_run) = match (a.retention_days, section) {
            (Some(days), _) => (days, a.retention_dry_run),
            (None, Some(s)) => (s.inactive_days, s.dry_run || a.retention_dry_run),
            (None, None) if a.retention_dry_run => {
                return Err(fail!(
                    "--retention-dry-run needs --retention-days or a [retention] section in rapport.toml"
                ));
            }
            (None, None) => return Ok(None),
        };
        Ok(Some(Self {
            policy: rapport_core::privacy::RetentionPolicy {
                inactive_days: days,
            },
            dry_run,
        }))
    }

    /// The sweep's `retention` output for the run's report `r`.
    pub(crate) fn json(&self, r: rapport::RetentionReport) -> serde_json::Value {
        serde_json::json!({
            "inactive_days": self.policy.inactive_days,
            "dry_run": self.dry_run,
            "due": r.due,
            "erased": r.erased,
        })
    }
}

/// Runs `rapport export <key>`: the export document, as JSON, to stdout.
pub(crate) fn export(store: Db, t: TenantId, key: &str) -> Result<()> {
    let id = resolve(&store, t, key)?;
    let svc = Service::new(store);
    let doc = svc.export(t, id).map_err(not_found(key))?;
    println!("{}", serde_json::to_string_pretty(&doc)?);
    Ok(())
}
