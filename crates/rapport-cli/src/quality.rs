//! Data quality on the command line (issue #15): `duplicates`, `not-duplicate`, `merge`
//! (with `--dry-run`, the field-by-field preview, and the survivorship rule chosen per
//! field), `unmerge`, and `register [--update]` (a known contact's differing fields reported,
//! or decided by the survivorship rule).

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
    /// Merge `loser` into `survivor`: survivorship per field (by default the value of the
    /// more recently registered record; `--survivorship most-trusted --ranking …`, or
    /// `--keep-survivor`/`--keep-loser` per field; tags are always united), activities moved,
    /// stats and tier/stage recomputed, `loser` left as a tombstone pointing at `survivor`.
    /// Prints the field-by-field outcome and the merge id. Flags win over rapport.toml's
    /// `[merge]` section.
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
        #[command(flatten)]
        rule: RuleArgs,
        /// Keep the survivor's value of these fields whatever the rule says: `display_name`,
        /// `email`, `phone`, `birth_date`, `attr.KEY` (comma-separated or repeated).
        #[arg(long, value_delimiter = ',', value_name = "FIELD")]
        keep_survivor: Vec<String>,
        /// Take the loser's value of these fields whatever the rule says.
        #[arg(long, value_delimiter = ',', value_name = "FIELD")]
        keep_loser: Vec<String>,
    },
    /// Register one customer, or find the live one that already has the email or phone and
    /// say which fields of this registration differ from it (nothing is overwritten). With
    /// `--update` the survivorship rule decides each differing field (the registration counts
    /// as the newer record: by default its values are taken) and the changed fields are
    /// printed.
    Register(RegisterArgs),
    /// Undo a merge by its id (printed by `merge`): the loser comes back as it was, with its
    /// activities.
    Unmerge {
        /// The merge id.
        merge_id: String,
    },
}

/// The arguments of `rapport register`.
#[derive(clap::Args)]
pub(crate) struct RegisterArgs {
    /// Display name.
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// Email address.
    #[arg(long)]
    pub(crate) email: Option<String>,
    /// Phone number (E.164, or national in `--region`).
    #[arg(long)]
    pub(crate) phone: Option<String>,
    /// Region (ISO 3166-1 alpha-2) for a phone number written without +country.
    #[arg(long, default_value = "US")]
    pub(crate) region: String,
    /// Birth date (YYYY-MM-DD).
    #[arg(long)]
    pub(crate) birth_date: Option<chrono::NaiveDate>,
    /// A text attribute `KEY=VALUE` (repeatable).
    #[arg(long = "attr", value_name = "KEY=VALUE")]
    pub(crate) attrs: Vec<String>,
    /// The id a new customer is known by, as with `import customers` (a known customer
    /// keeps its own).
    #[arg(long)]
    pub(crate) external_id: Option<String>,
    /// Update a known customer: the survivorship rule decides each differing field.
    #[arg(long)]
    pub(crate) update: bool,
    #[command(flatten)]
    pub(crate) rule: RuleArgs,
    /// With `--update`: keep the known customer's value of these fields (`display_name`,
    /// `email`, `phone`, `birth_date`, `attr.KEY`).
    #[arg(long, value_delimiter = ',', value_name = "FIELD")]
    pub(crate) keep_existing: Vec<String>,
    /// With `--update`: take this registration's value of these fields.
    #[arg(long, value_delimiter = ',', value_name = "FIELD")]
    pub(crate) take_new: Vec<String>,
    /// Print `{"id", "external_id", "created", "differs": […], "updated": […]}`.
    #[arg(long)]
    pub(crate) json: bool,
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

/// The `[merge]` section of rapport.toml: the auto-merge policy (off by default) and the
/// survivorship rule of `merge`, auto-merge and `register --update`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MergeConfig {
    /// Merge pairs above the threshold on every `rapport duplicates`.
    #[serde(default)]
    pub(crate) auto_merge: bool,
    /// The auto-merge threshold (0–1).
    pub(crate) threshold: Option<f64>,
    /// The rule for a field both records fill differently (default `most_recent`;
    /// `most_trusted` when only `ranking` is given).
    pub(crate) survivorship: Option<RuleName>,
    /// `most_trusted`: the custom attribute naming a record's source (default `source`).
    pub(crate) source_attribute: Option<String>,
    /// `most_trusted`: sources, most trusted first.
    #[serde(default)]
    pub(crate) ranking: Vec<String>,
    /// Fields whose survivor value a merge keeps whatever the rule says.
    #[serde(default)]
    pub(crate) keep_survivor: Vec<String>,
    /// Fields whose loser value a merge takes whatever the rule says.
    #[serde(default)]
    pub(crate) keep_loser: Vec<String>,
}

/// A survivorship rule by name (`--survivorship`, `[merge] survivorship`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub(crate) enum RuleName {
    /// The value of the more recently registered record.
    #[value(alias = "most_recent")]
    MostRecent,
    /// The value of the record whose source ranks first (ties: the most recent).
    #[value(alias = "most_trusted")]
    MostTrusted,
}

/// The survivorship rule flags of `merge` and `register --update`.
#[derive(clap::Args, Debug, Clone, Default)]
pub(crate) struct RuleArgs {
    /// The rule for a field both records fill with different values: `most-recent` (the more
    /// recently registered record's value; the default) or `most-trusted` (the record whose
    /// source attribute ranks first in `--ranking`; ties: the most recent).
    #[arg(long, value_enum)]
    survivorship: Option<RuleName>,
    /// `most-trusted`: the custom attribute naming a record's source (default `source`).
    #[arg(long, value_name = "KEY")]
    source_attribute: Option<String>,
    /// `most-trusted`: sources, most trusted first, comma-separated (e.g. `erp,pos,web`);
    /// implies `--survivorship most-trusted`.
    #[arg(long, value_delimiter = ',', value_name = "SOURCES")]
    ranking: Vec<String>,
}

impl RuleArgs {
    fn is_set(&self) -> bool {
        self.survivorship.is_some() || self.source_attribute.is_some() || !self.ranking.is_empty()
    }
}

/// A field named on the command line or in rapport.toml: `display_name` (or `name`),
/// `email`, `phone`, `birth_date`, `attr.KEY`.
fn merge_field(name: &str) -> Result<MergeField> {
    match name.trim() {
        "display_name" | "name" => Ok(MergeField::DisplayName),
        "email" => Ok(MergeField::Email),
        "phone" => Ok(MergeField::Phone),
        "birth_date" => Ok(MergeField::BirthDate),
        other => match other.strip_prefix("attr.") {
            Some(key) => AttrKey::new(key)
                .map(MergeField::Attribute)
                .map_err(|e| fail!("field `{other}`: {e}")),
            None => Err(fail!(
                "unknown field `{other}`; name display_name, email, phone, birth_date or attr.KEY"
            )),
        },
    }
}

/// Per-field choices: the fields of `survivor` keep the survivor's value, those of `loser`
/// take the loser's. A field named in both is refused.
fn picks(
    survivor: &[String],
    loser: &[String],
    flags: &str,
) -> Result<Vec<(MergeField, ValueSource)>> {
    let mut out: Vec<(MergeField, ValueSource)> = Vec::new();
    for (names, source) in [
        (survivor, ValueSource::Survivor),
        (loser, ValueSource::Loser),
    ] {
        for name in names {
            let field = merge_field(name)?;
            match out.iter().find(|(f, _)| *f == field) {
                Some((_, s)) if *s != source => {
                    return Err(fail!("field `{field}` is named by both {flags}"));
                }
                Some(_) => {}
                None => out.push((field, source)),
            }
        }
    }
    Ok(out)
}

/// The survivorship policy: the rule from the flags, else from `config`, else the most
/// recent; `choices` (field → record) as the policy's host callback, asked first for every
/// field both records fill differently.
fn policy(
    rule: &RuleArgs,
    config: &MergeConfig,
    choices: Vec<(MergeField, ValueSource)>,
) -> Result<SurvivorshipPolicy> {
    let ranking = if rule.ranking.is_empty() {
        config.ranking.clone()
    } else {
        rule.ranking.clone()
    };
    let name = rule
        .survivorship
        .or(config.survivorship)
        .unwrap_or(if ranking.is_empty() {
            RuleName::MostRecent
        } else {
            RuleName::MostTrusted
        });
    let rule = match name {
        RuleName::MostRecent => {
            if !rule.ranking.is_empty() || rule.source_attribute.is_some() {
                return Err(fail!(
                    "--ranking and --source-attribute go with --survivorship most-trusted"
                ));
            }
            Survivorship::MostRecent
        }
        RuleName::MostTrusted => {
            if ranking.is_empty() {
                return Err(fail!(
                    "most-trusted survivorship needs a ranking: --ranking erp,pos,web or \
                     `ranking = [\"erp\", \"pos\", \"web\"]` in rapport.toml's [merge]"
                ));
            }
            let attribute = rule
                .source_attribute
                .clone()
                .or_else(|| config.source_attribute.clone())
                .unwrap_or_else(|| "source".into());
            Survivorship::MostTrusted {
                source_attribute: AttrKey::new(&attribute)
                    .map_err(|e| fail!("source attribute `{attribute}`: {e}"))?,
                ranking,
            }
        }
    };
    let host = (!choices.is_empty()).then(|| {
        HostSurvivorship::new(move |c: &FieldConflict<'_>| {
            choices
                .iter()
                .find(|(f, _)| f == c.field)
                .map(|(_, source)| *source)
        })
    });
    let policy = SurvivorshipPolicy { rule, host };
    policy.validate()?;
    Ok(policy)
}

/// The per-field choices of a merge: rapport.toml's `keep_survivor`/`keep_loser`, with the
/// flags' winning for a field named in both places.
fn merge_choices(
    config: &MergeConfig,
    keep_survivor: &[String],
    keep_loser: &[String],
) -> Result<Vec<(MergeField, ValueSource)>> {
    let mut out = picks(
        &config.keep_survivor,
        &config.keep_loser,
        "keep_survivor and keep_loser in [merge]",
    )?;
    for (field, source) in picks(
        keep_survivor,
        keep_loser,
        "--keep-survivor and --keep-loser",
    )? {
        out.retain(|(f, _)| *f != field);
        out.push((field, source));
    }
    Ok(out)
}

/// Hands out a chosen id first (a new customer named by its external id), then time-ordered
/// random ones.
struct FirstId(std::sync::Mutex<Option<uuid::Uuid>>);

impl rapport::IdSource for FirstId {
    fn next(&self) -> uuid::Uuid {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
            .unwrap_or_else(|| rapport::UuidV7Ids.next())
    }
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
    let ids = std::sync::Arc::new(FirstId(std::sync::Mutex::new(None)));
    let svc = Service::new(db).with_ids(ids.clone());
    let store = svc.inner().store();
    match cmd {
        QualityCommand::Duplicates {
            json,
            min_score,
            auto_merge,
            threshold,
        } => {
            let mut options = DuplicateOptions::default();
            options.survivorship =
                policy(&RuleArgs::default(), merge, merge_choices(merge, &[], &[])?)?;
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
            rule,
            keep_survivor,
            keep_loser,
        } => {
            let policy = policy(
                &rule,
                merge,
                merge_choices(merge, &keep_survivor, &keep_loser)?,
            )?;
            let (s, l) = (
                resolve(store, tenant, &survivor)?,
                resolve(store, tenant, &loser)?,
            );
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
                    .merge(
                        tenant,
                        MergeRequest::new(s, l, actor).with_policy(policy.clone()),
                    )
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
                    "survivorship": &policy.rule,
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
        QualityCommand::Register(args) => register(&svc, &ids, tenant, merge, args)?,
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

/// The profile a `register` describes (without the external id), its values checked and
/// normalised as the library normalises every write.
fn register_profile(args: &RegisterArgs) -> Result<Profile> {
    let region: Region = args
        .region
        .parse()
        .map_err(|e| fail!("--region `{}`: {e}", args.region))?;
    let email = match &args.email {
        Some(e) => {
            Some(Pii::new(Email::parse(e).map_err(|err| {
                fail!("{}", crate::error::rejected(e, &err))
            })?))
        }
        None => None,
    };
    let phone = match &args.phone {
        Some(p) => {
            Some(Pii::new(Phone::parse(p, region).map_err(|err| {
                fail!("{}", crate::error::rejected(p, &err))
            })?))
        }
        None => None,
    };
    let mut attributes = Attributes::new();
    for kv in &args.attrs {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| fail!("--attr `{kv}`: write KEY=VALUE"))?;
        if k.trim() == "external_id" {
            return Err(fail!("--attr external_id: use --external-id"));
        }
        let key = AttrKey::new(k.trim()).map_err(|e| fail!("--attr `{k}`: {e}"))?;
        attributes.insert(key, AttrValue::Text(v.to_owned()));
    }
    Ok(Profile {
        display_name: match &args.name {
            Some(n) => {
                Some(Pii::new(Profile::normalise_name(n).map_err(|err| {
                    fail!("{}", crate::error::rejected(n, &err))
                })?))
            }
            None => None,
        },
        email,
        phone,
        birth_date: args.birth_date.map(Pii::new),
        attributes: Pii::new(attributes),
    })
}

/// `rapport register`: a new customer, or the known one with the fields that differ (and,
/// with `--update`, the ones the survivorship rule changed).
fn register(
    svc: &Service<Db>,
    ids: &FirstId,
    tenant: TenantId,
    merge: &MergeConfig,
    args: RegisterArgs,
) -> Result<()> {
    let choices = picks(
        &args.keep_existing,
        &args.take_new,
        "--keep-existing and --take-new",
    )?;
    if !args.update && (args.rule.is_set() || !choices.is_empty()) {
        return Err(fail!(
            "--survivorship, --ranking, --source-attribute, --keep-existing and --take-new go with --update"
        ));
    }
    let policy = if args.update {
        Some(policy(&args.rule, merge, choices)?)
    } else {
        None
    };
    let profile = register_profile(&args)?;
    let store = svc.inner().store();
    let mut fresh = profile.clone();
    if let Some(ext) = &args.external_id {
        let id = store::customer_id(tenant, ext);
        if block_on(store.load(tenant, id))?.is_some() {
            // Named by an external id already taken: only a contact leading to a live customer
            // makes this a registration of a known person.
            let mut known = false;
            for key in profile.contact_keys() {
                for found in block_on(store.find_by_contact(tenant, &key))? {
                    known |=
                        block_on(store.load(tenant, found))?.is_some_and(|r| r.customer.is_live());
                }
            }
            if !known {
                return Err(fail!(
                    "external id `{ext}` is customer {id} already; `rapport customer {ext}` shows it"
                ));
            }
        }
        *ids.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(*id.as_uuid());
        let mut attrs = profile.attributes.expose().clone();
        attrs.insert(AttrKey::new("external_id")?, AttrValue::Text(ext.clone()));
        fresh.attributes = Pii::new(attrs);
    }
    let mut r = svc.register(tenant, fresh)?;
    // The external id names a new customer; a known one keeps its own.
    let external = MergeField::Attribute(AttrKey::new("external_id")?);
    r.differs.retain(|f| *f != external);
    if let (false, Some(policy)) = (r.created, &policy) {
        if !r.differs.is_empty() {
            r = svc.register_or_update(tenant, profile, policy)?;
        }
    }
    let names = |fields: &[MergeField]| fields.iter().map(ToString::to_string).collect::<Vec<_>>();
    let id = r.customer.id();
    if args.json {
        let out = serde_json::json!({
            "id": id.to_string(),
            "external_id": external_id(&r.customer),
            "created": r.created,
            "differs": names(&r.differs),
            "updated": names(&r.updated),
        });
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    if r.created {
        println!("registered new customer {id}");
    } else if args.update {
        let kept: Vec<String> = names(&r.differs)
            .into_iter()
            .filter(|f| !names(&r.updated).contains(f))
            .collect();
        match r.updated.is_empty() {
            true => println!("known customer {id}: nothing updated"),
            false => println!(
                "known customer {id}: updated {}",
                names(&r.updated).join(", ")
            ),
        }
        if !kept.is_empty() {
            println!("  kept by the survivorship rule: {}", kept.join(", "));
        }
    } else if r.differs.is_empty() {
        println!("known customer {id} (same email or phone): nothing differs");
    } else {
        println!(
            "known customer {id} (same email or phone): nothing written; differs: {}",
            names(&r.differs).join(", ")
        );
        println!("  `--update` lets the survivorship rule decide each of them");
    }
    Ok(())
}
