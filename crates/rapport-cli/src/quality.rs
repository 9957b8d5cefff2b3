//! Data quality on the command line (issue #15): `duplicates`, `not-duplicate`, `merge`
//! (with `--dry-run`, the field-by-field preview) and `unmerge`.

use clap::Subcommand;
use futures::executor::block_on;
use rapport::blocking::Service;
use rapport::{DuplicateOptions, MergeRequest};
use rapport_core::ports::MergeStore;
use rapport_core::*;

use crate::error::{Result, fail};
use crate::store::{self, Db};

/// The data-quality subcommands (flattened into the top-level commands).
#[derive(Subcommand)]
pub(crate) enum QualityCommand {
    /// Candidate duplicate pairs of the whole book, scored, with their evidence (email,
    /// phone, name + birth date, name similarity). Nothing is merged.
    Duplicates {
        /// Print `{"pairs": [{"a": {"id", "external_id"}, "b": …, "score", "evidence": […]}]}`.
        #[arg(long)]
        json: bool,
        /// Leave out pairs scoring below this (0–1; default: the policy's 0.7).
        #[arg(long)]
        min_score: Option<f64>,
        /// Merge every pair scoring at least the threshold (the earlier-registered customer
        /// survives; actor `auto-merge`; each undoable with `unmerge`). Also on when
        /// rapport.toml's `[merge]` says `auto_merge = true`.
        #[arg(long)]
        auto_merge: bool,
        /// The auto-merge threshold (0–1; default: `[merge] threshold`, else 0.95).
        #[arg(long)]
        threshold: Option<f64>,
    },
    /// Mark two customers as not the same person: `duplicates` stops proposing the pair
    /// until a contact key of either changes.
    NotDuplicate {
        /// Customer id (UUID), email or external id.
        a: String,
        /// Customer id (UUID), email or external id.
        b: String,
    },
    /// Merge `loser` into `survivor`: survivorship per field (the most recent non-empty
    /// value), activities moved, stats and tier/stage recomputed, `loser` left as a tombstone
    /// pointing at `survivor`. Prints the field-by-field outcome and the merge id.
    Merge {
        /// The customer kept (id, email or external id).
        survivor: String,
        /// The customer folded into it.
        loser: String,
        /// Show the field-by-field outcome only; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Undo a merge by its id (printed by `merge`): the loser comes back as it was, with its
    /// activities.
    Unmerge {
        /// The merge id.
        merge_id: String,
    },
}

impl MergeStore for Db {
    async fn merge_record(
        &self,
        t: TenantId,
        id: MergeId,
    ) -> std::result::Result<Option<MergeRecord>, StoreError> {
        match self {
            Db::Sqlite(s) => s.merge_record(t, id).await,
            Db::Postgres(s) => s.merge_record(t, id).await,
        }
    }
    async fn merges_of(
        &self,
        t: TenantId,
        c: CustomerId,
    ) -> std::result::Result<Vec<MergeRecord>, StoreError> {
        match self {
            Db::Sqlite(s) => s.merges_of(t, c).await,
            Db::Postgres(s) => s.merges_of(t, c).await,
        }
    }
    async fn distinct_pairs(
        &self,
        t: TenantId,
    ) -> std::result::Result<Vec<DistinctPair>, StoreError> {
        match self {
            Db::Sqlite(s) => s.distinct_pairs(t).await,
            Db::Postgres(s) => s.distinct_pairs(t).await,
        }
    }
    async fn belongings(
        &self,
        t: TenantId,
        c: CustomerId,
    ) -> std::result::Result<rapport_core::Belongings, StoreError> {
        match self {
            Db::Sqlite(s) => s.belongings(t, c).await,
            Db::Postgres(s) => s.belongings(t, c).await,
        }
    }
    async fn merge_inputs(
        &self,
        t: TenantId,
        survivor: CustomerId,
        loser: CustomerId,
    ) -> std::result::Result<
        Option<(
            rapport_core::ports::MergeSide,
            rapport_core::ports::MergeSide,
        )>,
        StoreError,
    > {
        match self {
            Db::Sqlite(s) => s.merge_inputs(t, survivor, loser).await,
            Db::Postgres(s) => s.merge_inputs(t, survivor, loser).await,
        }
    }
}

/// The `[merge]` section of rapport.toml: the auto-merge policy (off by default).
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MergeConfig {
    /// Merge pairs above the threshold on every `rapport duplicates`.
    #[serde(default)]
    pub(crate) auto_merge: bool,
    /// The auto-merge threshold (0–1).
    pub(crate) threshold: Option<f64>,
}

/// The default auto-merge threshold.
pub(crate) const AUTO_MERGE_THRESHOLD: f64 = 0.95;

/// A customer named by UUID, email (normalised) or external id.
fn resolve(db: &Db, tenant: TenantId, key: &str) -> Result<CustomerId> {
    if let Ok(id) = key.parse::<CustomerId>() {
        return Ok(id);
    }
    if key.contains('@') {
        let email = Email::parse(key).map_err(|e| fail!("{}", crate::error::rejected(key, &e)))?;
        return block_on(db.find_by_contact(tenant, &ContactKey::Email(email)))?
            .first()
            .copied()
            .ok_or_else(|| fail!("no customer with the email `{key}`"));
    }
    Ok(store::customer_id(tenant, key))
}

fn external_id(c: &Customer) -> Option<String> {
    let key = AttrKey::new("external_id").ok()?;
    match c.profile.attributes.expose().get(&key) {
        Some(AttrValue::Text(s)) => Some(s.clone()),
        _ => None,
    }
}

fn named(svc: &Service<Db>, tenant: TenantId, id: CustomerId) -> Result<serde_json::Value> {
    let r = block_on(svc.inner().store().load(tenant, id))?
        .ok_or_else(|| fail!("customer {id} not found"))?;
    Ok(serde_json::json!({"id": id.to_string(), "external_id": external_id(&r.customer)}))
}

fn not_found(e: rapport::Error, tenant_name: &str) -> crate::error::CliError {
    match e {
        rapport::Error::NotFound(id) => {
            fail!("no customer {id} in tenant `{tenant_name}`; check the id or --tenant")
        }
        rapport::Error::MergeNotFound(id) => {
            fail!("no merge {id} in tenant `{tenant_name}`; check the id or --tenant")
        }
        e => e.into(),
    }
}

/// Runs one data-quality command.
pub(crate) fn run(
    cmd: QualityCommand,
    db: Db,
    tenant: TenantId,
    tenant_name: &str,
    merge: &MergeConfig,
) -> Result<()> {
    let svc = Service::new(db);
    let store = svc.inner().store();
    match cmd {
        QualityCommand::Duplicates {
            json,
            min_score,
            auto_merge,
            threshold,
        } => {
            let mut options = DuplicateOptions::default();
            if let Some(m) = min_score {
                options.policy.min_score = m;
            }
            let mut merged = Vec::new();
            if auto_merge || merge.auto_merge {
                let at = threshold
                    .or(merge.threshold)
                    .unwrap_or(AUTO_MERGE_THRESHOLD);
                let done = svc.auto_merge(tenant, &options.clone().with_auto_merge(at))?;
                for (p, m) in &done.merged {
                    merged.push(serde_json::json!({
                        "merge_id": m.record.id.to_string(),
                        "survivor": m.record.survivor.to_string(),
                        "loser": m.record.loser.to_string(),
                        "score": (p.score * 1000.0).round() / 1000.0,
                    }));
                }
                if !json {
                    println!(
                        "auto-merge at {at}: {} merged, {} skipped",
                        done.merged.len(),
                        done.skipped.len()
                    );
                    for m in &merged {
                        println!(
                            "  merged {} into {} (score {}, merge {})",
                            m["loser"].as_str().unwrap_or(""),
                            m["survivor"].as_str().unwrap_or(""),
                            m["score"],
                            m["merge_id"].as_str().unwrap_or("")
                        );
                    }
                    for (p, why) in &done.skipped {
                        println!("  skipped {} / {}: {why}", p.first, p.second);
                    }
                }
            }
            let pairs = svc.duplicates(tenant, &options)?;
            let mut out = Vec::new();
            for p in &pairs {
                out.push(serde_json::json!({
                    "a": named(&svc, tenant, p.first)?,
                    "b": named(&svc, tenant, p.second)?,
                    "score": (p.score * 1000.0).round() / 1000.0,
                    "evidence": p.reasons.iter().map(ToString::to_string).collect::<Vec<_>>(),
                }));
            }
            if json {
                let mut doc = serde_json::json!({"pairs": out});
                if auto_merge || merge.auto_merge {
                    doc["merged"] = serde_json::Value::Array(merged);
                }
                println!("{}", serde_json::to_string_pretty(&doc)?);
            } else {
                println!("{} candidate pairs", out.len());
                for p in &out {
                    let show = |v: &serde_json::Value| {
                        v["external_id"].as_str().map_or_else(
                            || v["id"].as_str().unwrap_or("").to_owned(),
                            str::to_owned,
                        )
                    };
                    let evidence: Vec<&str> = p["evidence"]
                        .as_array()
                        .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
                        .unwrap_or_default();
                    println!(
                        "  {:.3}  {}  {}  {}",
                        p["score"].as_f64().unwrap_or(0.0),
                        show(&p["a"]),
                        show(&p["b"]),
                        evidence.join(", ")
                    );
                }
            }
        }
        QualityCommand::NotDuplicate { a, b } => {
            let (a, b) = (resolve(store, tenant, &a)?, resolve(store, tenant, &b)?);
            svc.mark_distinct(tenant, a, b)
                .map_err(|e| not_found(e, tenant_name))?;
            println!("marked {a} and {b} as not duplicates");
        }
        QualityCommand::Merge {
            survivor,
            loser,
            dry_run,
            json,
        } => {
            let (s, l) = (
                resolve(store, tenant, &survivor)?,
                resolve(store, tenant, &loser)?,
            );
            let policy = SurvivorshipPolicy::default();
            let preview = svc
                .preview_merge(tenant, s, l, &policy)
                .map_err(|e| not_found(e, tenant_name))?;
            let fields: Vec<serde_json::Value> = preview
                .fields
                .iter()
                .map(|o| {
                    serde_json::json!({
                        "field": o.field.to_string(),
                        "source": o.source,
                        "decision": o.decision,
                    })
                })
                .collect();
            let merged = if dry_run {
                None
            } else {
                let actor = Actor::new("rapport-cli")?;
                let m = svc
                    .merge(tenant, MergeRequest::new(s, l, actor))
                    .map_err(|e| not_found(e, tenant_name))?;
                // The loser's account links moved with the merge (roles unioned, in the same
                // changeset, so `unmerge` hands them back).
                Some(m)
            };
            if json {
                let out = serde_json::json!({
                    "survivor": s.to_string(),
                    "loser": l.to_string(),
                    "dry_run": dry_run,
                    "fields": fields,
                    "merge_id": merged.as_ref().map(|m| m.record.id.to_string()),
                    "moved_activities": merged.as_ref().map(|m| m.record.moved.len()),
                });
                println!("{}", serde_json::to_string_pretty(&out)?);
            } else {
                println!(
                    "merge {l} into {s}{}",
                    if dry_run { " (dry run)" } else { "" }
                );
                for f in &fields {
                    println!(
                        "  {:<24} {:<9} {}",
                        f["field"].as_str().unwrap_or(""),
                        f["source"].as_str().unwrap_or(""),
                        f["decision"].as_str().unwrap_or("")
                    );
                }
                if let Some(m) = &merged {
                    println!(
                        "merged: merge id {} ({} activities moved); undo with `rapport unmerge {}`",
                        m.record.id,
                        m.record.moved.len(),
                        m.record.id
                    );
                }
            }
        }
        QualityCommand::Unmerge { merge_id } => {
            let id: MergeId = merge_id
                .parse()
                .map_err(|_| fail!("`{merge_id}` is not a merge id (a UUID printed by `merge`)"))?;
            let m = svc
                .unmerge(tenant, id)
                .map_err(|e| not_found(e, tenant_name))?;
            println!(
                "unmerged {}: customer {} restored with {} activities",
                id,
                m.record.loser,
                m.record.moved.len()
            );
        }
    }
    Ok(())
}
