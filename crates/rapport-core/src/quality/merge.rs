//! Merge previews: what merging a duplicate into a survivor would keep, field by field, and
//! from which record — computed before anything is written, so a person can check it.
//!
//! Survivorship is decided per record and applied per field: a field only one record fills
//! keeps that value; where both fill it with different values, the preferred record's value
//! wins — the most trusted source if the policy ranks sources, else the most recent record.
//! Tags are united. This module writes nothing: the merge itself (activities moved, stats,
//! tier and stage recomputed, the loser tombstoned) needs the stores and lives in the service.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::model::customer::{AttrKey, AttrValue, Attributes, Customer, Profile};
use crate::model::id::CustomerId;
use crate::model::pii::Pii;
use crate::model::tag::{TagInfo, TagSet, TagSource};

/// How to choose between two different non-empty values of a field.
///
/// ```
/// use rapport_core::{AttrKey, Survivorship};
/// let rule = Survivorship::MostTrusted {
///     source_attribute: AttrKey::new("source").unwrap(),
///     ranking: vec!["erp".into(), "pos".into(), "web".into()],
/// };
/// let json = serde_json::to_value(&rule).unwrap();
/// assert_eq!(json["type"], "most_trusted");
/// assert_eq!(serde_json::to_value(Survivorship::MostRecent).unwrap()["type"], "most_recent");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
#[non_exhaustive]
pub enum Survivorship {
    /// The value of the record registered most recently ([`Customer::created_at`]): the core
    /// keeps no write time per field, so a record's age stands for its values'. On a tie the
    /// survivor's value is kept.
    #[default]
    MostRecent,
    /// The value of the record whose source ranks first. A record's source is the text of its
    /// `source_attribute` custom attribute (where the host records which system created it);
    /// a source missing from `ranking` ranks below every listed one. Equal ranks fall back to
    /// [`Survivorship::MostRecent`].
    MostTrusted {
        /// The custom attribute naming a record's source.
        source_attribute: AttrKey,
        /// Sources, most trusted first.
        ranking: Vec<String>,
    },
}

/// The survivorship rule of a merge. `Default`: most recent non-empty value, no host
/// callback.
///
/// ```
/// use rapport_core::{DomainError, Survivorship, SurvivorshipPolicy};
/// let p: SurvivorshipPolicy = serde_json::from_str("{}").unwrap();
/// assert_eq!(p.rule, Survivorship::MostRecent);
/// assert!(p.host.is_none());
/// p.validate()?;
/// # Ok::<(), DomainError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SurvivorshipPolicy {
    /// How conflicting values are resolved.
    pub rule: Survivorship,
    /// The host's own choice per field, asked first for every field both records fill with
    /// different values; where it answers `None`, `rule` decides. Not serialised (a
    /// configuration file names a rule; a host adds its callback in code).
    #[serde(skip)]
    pub host: Option<HostSurvivorship>,
}

/// A field both records of a merge fill with different values, as a host's survivorship
/// callback sees it: which field, and both records (whose other fields — sources, dates,
/// attributes — the host may weigh).
///
/// ```
/// use rapport_core::{FieldConflict, MergeField};
/// fn is_name(c: &FieldConflict<'_>) -> bool { *c.field == MergeField::DisplayName }
/// # let _ = is_name;
/// ```
#[derive(Debug, Clone, Copy)]
pub struct FieldConflict<'a> {
    /// The field.
    pub field: &'a MergeField,
    /// The record that is kept.
    pub survivor: &'a Customer,
    /// The record that becomes a tombstone.
    pub loser: &'a Customer,
}

type HostChoice = dyn Fn(&FieldConflict<'_>) -> Option<ValueSource> + Send + Sync;

/// A host-supplied survivorship callback ([`SurvivorshipPolicy::host`]): for a field both
/// records fill differently it answers `Some(ValueSource::Survivor)` or
/// `Some(ValueSource::Loser)` to keep that record's value, or `None` to leave the field to
/// the policy's rule (`Both` and `Neither` count as `None`). It must be pure — a function of
/// the two records — so that a preview and the merge it confirms agree. Two callbacks are
/// equal when they are the same `Arc`.
///
/// ```
/// use chrono::DateTime;
/// use rapport_core::*;
/// let t = TenantId::from_u128(1);
/// let with = |id: u128, name: &str, phone: &str| {
///     let profile = Profile {
///         display_name: Some(Pii::new(name.into())),
///         phone: Some(Pii::new(Phone::from_e164(phone).unwrap())),
///         ..Profile::default()
///     };
///     Customer::new(t, CustomerId::from_u128(id), profile, DateTime::UNIX_EPOCH)
/// };
/// let (kept, dup) = (with(1, "A. Lee", "+14155550100"), with(2, "Ann Lee", "+14155550101"));
/// // The longer spelling of a name wins; every other field follows the rule.
/// let longer_name = HostSurvivorship::new(|c: &FieldConflict<'_>| {
///     let len = |x: &Customer| x.profile.display_name.as_ref().map_or(0, |n| n.expose().len());
///     (*c.field == MergeField::DisplayName).then(|| {
///         if len(c.loser) > len(c.survivor) { ValueSource::Loser } else { ValueSource::Survivor }
///     })
/// });
/// let policy = SurvivorshipPolicy { host: Some(longer_name), ..SurvivorshipPolicy::default() };
/// let p = MergePlan::preview(&kept, &dup, &policy)?;
/// assert_eq!(p.profile.display_name.as_ref().unwrap().expose(), "Ann Lee");
/// assert_eq!(p.outcome(&MergeField::DisplayName).unwrap().decision, FieldDecision::Host);
/// // Equal creation times: the rule keeps the survivor's phone on a tie.
/// assert_eq!(p.outcome(&MergeField::Phone).unwrap().decision, FieldDecision::SurvivorOnTie);
/// # Ok::<(), DomainError>(())
/// ```
#[derive(Clone)]
pub struct HostSurvivorship(std::sync::Arc<HostChoice>);

impl HostSurvivorship {
    /// Wraps a callback.
    ///
    /// ```
    /// use rapport_core::{FieldConflict, HostSurvivorship};
    /// let never = HostSurvivorship::new(|_: &FieldConflict<'_>| None);
    /// assert_eq!(never, never.clone());
    /// assert_ne!(never, HostSurvivorship::new(|_: &FieldConflict<'_>| None));
    /// ```
    pub fn new(
        choose: impl Fn(&FieldConflict<'_>) -> Option<ValueSource> + Send + Sync + 'static,
    ) -> Self {
        Self(std::sync::Arc::new(choose))
    }

    /// The host's choice for `conflict`: `Survivor`, `Loser`, or `None` for the rule.
    ///
    /// ```
    /// use chrono::DateTime;
    /// use rapport_core::*;
    /// let t = TenantId::from_u128(1);
    /// let a = Customer::new(t, CustomerId::from_u128(1), Profile::default(), DateTime::UNIX_EPOCH);
    /// let b = Customer::new(t, CustomerId::from_u128(2), Profile::default(), DateTime::UNIX_EPOCH);
    /// let loser_wins = HostSurvivorship::new(|_: &FieldConflict<'_>| Some(ValueSource::Loser));
    /// let both = HostSurvivorship::new(|_: &FieldConflict<'_>| Some(ValueSource::Both));
    /// let c = FieldConflict { field: &MergeField::Email, survivor: &a, loser: &b };
    /// assert_eq!(loser_wins.choose(&c), Some(ValueSource::Loser));
    /// assert_eq!(both.choose(&c), None);
    /// ```
    #[must_use]
    pub fn choose(&self, conflict: &FieldConflict<'_>) -> Option<ValueSource> {
        match (self.0)(conflict) {
            Some(v @ (ValueSource::Survivor | ValueSource::Loser)) => Some(v),
            _ => None,
        }
    }
}

impl std::fmt::Debug for HostSurvivorship {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HostSurvivorship(..)")
    }
}

impl PartialEq for HostSurvivorship {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for HostSurvivorship {}

impl SurvivorshipPolicy {
    /// Checks that a source ranking is non-empty and names each source once.
    ///
    /// ```
    /// use rapport_core::{AttrKey, DomainError, Survivorship, SurvivorshipPolicy};
    /// let ranked = |ranking: &[&str]| SurvivorshipPolicy {
    ///     rule: Survivorship::MostTrusted {
    ///         source_attribute: AttrKey::new("source").unwrap(),
    ///         ranking: ranking.iter().map(|s| s.to_string()).collect(),
    ///     },
    ///     ..SurvivorshipPolicy::default()
    /// };
    /// assert!(ranked(&["erp", "web"]).validate().is_ok());
    /// assert!(matches!(ranked(&[]).validate(), Err(DomainError::InvalidPolicy { field: "survivorship.ranking", .. })));
    /// assert!(ranked(&["web", "web"]).validate().is_err());
    /// ```
    ///
    /// # Errors
    /// [`DomainError::InvalidPolicy`] naming `survivorship.ranking`.
    pub fn validate(&self) -> Result<(), DomainError> {
        if let Survivorship::MostTrusted { ranking, .. } = &self.rule {
            let repeated = ranking
                .iter()
                .enumerate()
                .any(|(i, s)| ranking[..i].contains(s));
            if ranking.is_empty() || repeated {
                return Err(DomainError::InvalidPolicy {
                    field: "survivorship.ranking",
                    value: format!("{ranking:?}"),
                    reason: "list at least one source, each once",
                });
            }
        }
        Ok(())
    }
}

/// A profile field of a merge.
///
/// ```
/// use rapport_core::{AttrKey, MergeField};
/// assert_eq!(MergeField::Email.to_string(), "email");
/// assert_eq!(MergeField::Attribute(AttrKey::new("points").unwrap()).to_string(), "attr.points");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MergeField {
    /// The display name.
    DisplayName,
    /// The email.
    Email,
    /// The phone.
    Phone,
    /// The birth date.
    BirthDate,
    /// A custom attribute.
    Attribute(AttrKey),
}

impl std::fmt::Display for MergeField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MergeField::DisplayName => f.write_str("display_name"),
            MergeField::Email => f.write_str("email"),
            MergeField::Phone => f.write_str("phone"),
            MergeField::BirthDate => f.write_str("birth_date"),
            MergeField::Attribute(k) => write!(f, "attr.{k}"),
        }
    }
}

/// Which record a merged value comes from.
///
/// ```
/// use rapport_core::ValueSource;
/// assert_eq!(serde_json::to_value(ValueSource::Loser).unwrap(), "loser");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ValueSource {
    /// The record that is kept.
    Survivor,
    /// The record that becomes a tombstone.
    Loser,
    /// Both hold the same value.
    Both,
    /// Neither has a value; the field stays empty.
    Neither,
}

/// Why a field got its value.
///
/// ```
/// use rapport_core::FieldDecision;
/// assert!(FieldDecision::MostRecent.discards_a_value());
/// assert!(!FieldDecision::OnlyValue.discards_a_value());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FieldDecision {
    /// Neither record fills it.
    Empty,
    /// Only one record fills it.
    OnlyValue,
    /// Both hold the same value.
    Equal,
    /// The values differ; the more recently registered record's is kept.
    MostRecent,
    /// The values differ; the record from the more trusted source wins.
    MostTrusted,
    /// The values differ and neither rule prefers a record; the survivor's is kept.
    SurvivorOnTie,
    /// The values differ; the host's survivorship callback chose
    /// ([`SurvivorshipPolicy::host`]).
    Host,
}

/// The fields where `incoming` holds a value that `existing` does not (empty there, or
/// different): what registering a known contact would otherwise drop silently. Fields only
/// `existing` fills are not differences (an incoming record says nothing about them).
///
/// ```
/// use rapport_core::*;
/// let known = Profile { display_name: Some(Pii::new("Ann Lee".into())), ..Profile::default() };
/// let incoming = Profile {
///     display_name: Some(Pii::new("Ann Li".into())),
///     phone: Some(Pii::new(Phone::from_e164("+14155550100")?)),
///     ..Profile::default()
/// };
/// assert_eq!(profile_differences(&known, &incoming), [MergeField::DisplayName, MergeField::Phone]);
/// assert!(profile_differences(&incoming, &Profile::default()).is_empty());
/// # Ok::<(), DomainError>(())
/// ```
#[must_use]
pub fn profile_differences(existing: &Profile, incoming: &Profile) -> Vec<MergeField> {
    fn differs<T: PartialEq>(a: &Option<T>, b: &Option<T>) -> bool {
        b.is_some() && a != b
    }
    let mut out = Vec::new();
    if differs(&existing.display_name, &incoming.display_name) {
        out.push(MergeField::DisplayName);
    }
    if differs(&existing.email, &incoming.email) {
        out.push(MergeField::Email);
    }
    if differs(&existing.phone, &incoming.phone) {
        out.push(MergeField::Phone);
    }
    if differs(&existing.birth_date, &incoming.birth_date) {
        out.push(MergeField::BirthDate);
    }
    let known = existing.attributes.expose();
    for (k, v) in incoming.attributes.expose() {
        if known.get(k) != Some(v) {
            out.push(MergeField::Attribute(k.clone()));
        }
    }
    out
}

impl FieldDecision {
    /// True when the other record's (different, non-empty) value is dropped: the fields a
    /// person should look at before confirming.
    ///
    /// ```
    /// use rapport_core::FieldDecision;
    /// assert!(FieldDecision::SurvivorOnTie.discards_a_value());
    /// assert!(!FieldDecision::Equal.discards_a_value());
    /// ```
    #[must_use]
    pub fn discards_a_value(self) -> bool {
        matches!(
            self,
            FieldDecision::MostRecent
                | FieldDecision::MostTrusted
                | FieldDecision::SurvivorOnTie
                | FieldDecision::Host
        )
    }
}

/// The outcome of one field.
///
/// ```
/// use rapport_core::{FieldDecision, FieldOutcome, MergeField, ValueSource};
/// let o = FieldOutcome { field: MergeField::Phone, source: ValueSource::Loser, decision: FieldDecision::OnlyValue };
/// assert_eq!(serde_json::to_value(&o).unwrap()["source"], "loser");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldOutcome {
    /// The field.
    pub field: MergeField,
    /// Where the merged value comes from.
    pub source: ValueSource,
    /// Why.
    pub decision: FieldDecision,
}

/// Which record survives a merge: the loser becomes a `Merged { into: survivor }` tombstone.
///
/// ```
/// use rapport_core::{CustomerId, MergePlan};
/// let plan = MergePlan { survivor: CustomerId::from_u128(1), loser: CustomerId::from_u128(2) };
/// assert_eq!(serde_json::from_value::<MergePlan>(serde_json::to_value(plan).unwrap()).unwrap(), plan);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergePlan {
    /// The record kept.
    pub survivor: CustomerId,
    /// The record tombstoned.
    pub loser: CustomerId,
}

/// A dry run of a merge: the profile and tags the survivor would have, and for each field
/// its source and why. `Debug` keeps personal data redacted.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use rapport_core::*;
/// let t = TenantId::from_u128(1);
/// let day = |d| Utc.with_ymd_and_hms(2026, 1, d, 0, 0, 0).unwrap();
/// let old = Customer::new(t, CustomerId::from_u128(1), Profile {
///     display_name: Some(Pii::new("Ann Lee".into())),
///     email: Some(Pii::new(Email::parse("ann@old.example").unwrap())),
///     ..Profile::default()
/// }, day(1));
/// let new = Customer::new(t, CustomerId::from_u128(2), Profile {
///     email: Some(Pii::new(Email::parse("ann@new.example").unwrap())),
///     phone: Some(Pii::new(Phone::from_e164("+14155550100").unwrap())),
///     ..Profile::default()
/// }, day(9));
///
/// let preview: MergePreview = MergePlan::preview(&old, &new, &SurvivorshipPolicy::default())?;
/// assert_eq!(preview.plan, MergePlan { survivor: old.id(), loser: new.id() });
/// assert_eq!(preview.profile.email.as_ref().unwrap().expose().as_str(), "ann@new.example");
/// assert_eq!(preview.outcome(&MergeField::Email).unwrap().decision, FieldDecision::MostRecent);
/// assert_eq!(preview.outcome(&MergeField::DisplayName).unwrap().source, ValueSource::Survivor);
/// assert_eq!(preview.outcome(&MergeField::Phone).unwrap().source, ValueSource::Loser);
/// assert_eq!(preview.discarded().map(|o| o.field.clone()).collect::<Vec<_>>(), [MergeField::Email]);
/// assert!(!format!("{preview:?}").contains("ann@"));
/// # Ok::<(), DomainError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MergePreview {
    /// Which record survives.
    pub plan: MergePlan,
    /// One outcome per profile field, then per custom attribute either record has (by key).
    pub fields: Vec<FieldOutcome>,
    /// The survivor's profile after the merge.
    pub profile: Profile,
    /// The survivor's tags after the merge: the union of both records' tags.
    pub tags: TagSet,
}

impl MergePreview {
    /// The outcome of `field`, if the preview has it (attributes neither record has are left
    /// out).
    ///
    /// ```
    /// use chrono::DateTime;
    /// use rapport_core::*;
    /// let t = TenantId::from_u128(1);
    /// let a = Customer::new(t, CustomerId::from_u128(1), Profile::default(), DateTime::UNIX_EPOCH);
    /// let b = Customer::new(t, CustomerId::from_u128(2), Profile::default(), DateTime::UNIX_EPOCH);
    /// let p = MergePlan::preview(&a, &b, &SurvivorshipPolicy::default())?;
    /// assert_eq!(p.outcome(&MergeField::BirthDate).unwrap().source, ValueSource::Neither);
    /// assert!(p.outcome(&MergeField::Attribute(AttrKey::new("points")?)).is_none());
    /// # Ok::<(), DomainError>(())
    /// ```
    #[must_use]
    pub fn outcome(&self, field: &MergeField) -> Option<&FieldOutcome> {
        self.fields.iter().find(|o| &o.field == field)
    }

    /// The fields where a different value of the other record is dropped.
    ///
    /// ```
    /// use chrono::DateTime;
    /// use rapport_core::*;
    /// let t = TenantId::from_u128(1);
    /// let a = Customer::new(t, CustomerId::from_u128(1), Profile::default(), DateTime::UNIX_EPOCH);
    /// let b = Customer::new(t, CustomerId::from_u128(2), Profile::default(), DateTime::UNIX_EPOCH);
    /// assert_eq!(MergePlan::preview(&a, &b, &SurvivorshipPolicy::default())?.discarded().count(), 0);
    /// # Ok::<(), DomainError>(())
    /// ```
    pub fn discarded(&self) -> impl Iterator<Item = &FieldOutcome> {
        self.fields.iter().filter(|o| o.decision.discards_a_value())
    }
}

impl MergePlan {
    /// Previews merging `loser` into `survivor`: nothing is written and nothing is read but
    /// the two records. The policy is assumed valid ([`SurvivorshipPolicy::validate`]).
    ///
    /// Tags are united; a tag on both keeps the entry a rule cannot remove (manual or import
    /// over rule), else the one that lasts longer, else the survivor's. Consents, tier and
    /// stage are not part of the preview: consents stay the survivor's (a merge never grants
    /// consent), tier and stage are recomputed from the united activities when the merge is
    /// applied.
    ///
    /// ```
    /// use chrono::DateTime;
    /// use rapport_core::*;
    /// let t = TenantId::from_u128(1);
    /// let source = AttrKey::new("source")?;
    /// let from = |id: u128, src: &str, name: &str| {
    ///     let mut attrs = Attributes::new();
    ///     attrs.insert(source.clone(), AttrValue::Text(src.into()));
    ///     let profile = Profile {
    ///         display_name: Some(Pii::new(name.into())),
    ///         attributes: Pii::new(attrs),
    ///         ..Profile::default()
    ///     };
    ///     Customer::new(t, CustomerId::from_u128(id), profile, DateTime::UNIX_EPOCH)
    /// };
    /// let (web, erp) = (from(1, "web", "ann lee"), from(2, "erp", "Ann Lee"));
    /// let policy = SurvivorshipPolicy {
    ///     rule: Survivorship::MostTrusted { source_attribute: source, ranking: vec!["erp".into(), "web".into()] },
    ///     ..SurvivorshipPolicy::default()
    /// };
    /// let p = MergePlan::preview(&web, &erp, &policy)?;
    /// assert_eq!(p.profile.display_name.unwrap().expose(), "Ann Lee"); // the ERP's spelling
    /// assert_eq!(p.fields[0].decision, FieldDecision::MostTrusted);
    ///
    /// // A customer cannot be merged with itself, across tenants, or once tombstoned.
    /// let err = MergePlan::preview(&web, &web, &policy).unwrap_err();
    /// assert!(matches!(err, DomainError::InvalidMerge { .. }));
    /// # Ok::<(), DomainError>(())
    /// ```
    ///
    /// # Errors
    /// [`DomainError::InvalidMerge`] for the same customer twice or two tenants;
    /// [`DomainError::Tombstoned`] when either is merged or erased.
    pub fn preview(
        survivor: &Customer,
        loser: &Customer,
        policy: &SurvivorshipPolicy,
    ) -> Result<MergePreview, DomainError> {
        let plan = MergePlan {
            survivor: survivor.id(),
            loser: loser.id(),
        };
        let refuse = |reason| DomainError::InvalidMerge {
            survivor: plan.survivor,
            loser: plan.loser,
            reason,
        };
        if plan.survivor == plan.loser {
            return Err(refuse("it is the same customer"));
        }
        if survivor.tenant() != loser.tenant() {
            return Err(refuse("they belong to different tenants"));
        }
        survivor.ensure_live()?;
        loser.ensure_live()?;

        let conflict = preference(survivor, loser, policy);
        let host = |field: &MergeField| {
            policy.host.as_ref().and_then(|h| {
                h.choose(&FieldConflict {
                    field,
                    survivor,
                    loser,
                })
            })
        };
        let decide = Decide {
            conflict,
            host: &host,
        };
        let (s, l) = (&survivor.profile, &loser.profile);
        let mut fields = Vec::new();
        let display_name = decide.field(
            &mut fields,
            MergeField::DisplayName,
            &s.display_name,
            &l.display_name,
        );
        let email = decide.field(&mut fields, MergeField::Email, &s.email, &l.email);
        let phone = decide.field(&mut fields, MergeField::Phone, &s.phone, &l.phone);
        let birth_date = decide.field(
            &mut fields,
            MergeField::BirthDate,
            &s.birth_date,
            &l.birth_date,
        );
        let (sa, la) = (s.attributes.expose(), l.attributes.expose());
        let mut keys: Vec<&AttrKey> = sa.keys().chain(la.keys()).collect();
        keys.sort();
        keys.dedup();
        let mut attributes = Attributes::new();
        for key in keys {
            let (a, b) = (sa.get(key).cloned(), la.get(key).cloned());
            let field = MergeField::Attribute(key.clone());
            if let Some(v) = decide.field(&mut fields, field, &a, &b) {
                attributes.insert(key.clone(), v);
            }
        }

        Ok(MergePreview {
            plan,
            fields,
            profile: Profile {
                display_name,
                email,
                phone,
                birth_date,
                attributes: Pii::new(attributes),
            },
            tags: unite_tags(&survivor.tags, &loser.tags),
        })
    }
}

/// The merged profile and tags of a preview, rebuilt from both records as they were and the
/// outcome of each field (how a slim merge record is read back): a field whose source is the
/// loser takes the loser's value, every other field the survivor's; tags are united as
/// [`MergePlan::preview`] unites them.
pub(crate) fn rebuild(
    fields: &[FieldOutcome],
    survivor: &Customer,
    loser: &Customer,
) -> (Profile, TagSet) {
    let from_loser = |f: &MergeField| {
        fields
            .iter()
            .any(|o| &o.field == f && o.source == ValueSource::Loser)
    };
    fn pick<T: Clone>(loser: bool, s: &Option<T>, l: &Option<T>) -> Option<T> {
        if loser { l.clone() } else { s.clone() }
    }
    let (s, l) = (&survivor.profile, &loser.profile);
    let mut attributes = Attributes::new();
    for o in fields {
        if let MergeField::Attribute(key) = &o.field {
            let value = pick(
                o.source == ValueSource::Loser,
                &s.attributes.expose().get(key).cloned(),
                &l.attributes.expose().get(key).cloned(),
            );
            if let Some(v) = value {
                attributes.insert(key.clone(), v);
            }
        }
    }
    let profile = Profile {
        display_name: pick(
            from_loser(&MergeField::DisplayName),
            &s.display_name,
            &l.display_name,
        ),
        email: pick(from_loser(&MergeField::Email), &s.email, &l.email),
        phone: pick(from_loser(&MergeField::Phone), &s.phone, &l.phone),
        birth_date: pick(
            from_loser(&MergeField::BirthDate),
            &s.birth_date,
            &l.birth_date,
        ),
        attributes: Pii::new(attributes),
    };
    (profile, unite_tags(&survivor.tags, &loser.tags))
}

/// Which record wins a conflict, and why.
fn preference(survivor: &Customer, loser: &Customer, policy: &SurvivorshipPolicy) -> Conflict {
    if let Survivorship::MostTrusted {
        source_attribute,
        ranking,
    } = &policy.rule
    {
        let rank = |c: &Customer| {
            match c.profile.attributes.expose().get(source_attribute) {
                Some(AttrValue::Text(s)) => ranking.iter().position(|r| r == s),
                _ => None,
            }
            .unwrap_or(usize::MAX)
        };
        match rank(survivor).cmp(&rank(loser)) {
            Ordering::Less => return Conflict::Survivor(FieldDecision::MostTrusted),
            Ordering::Greater => return Conflict::Loser(FieldDecision::MostTrusted),
            Ordering::Equal => {}
        }
    }
    match survivor.created_at().cmp(&loser.created_at()) {
        Ordering::Greater => Conflict::Survivor(FieldDecision::MostRecent),
        Ordering::Less => Conflict::Loser(FieldDecision::MostRecent),
        Ordering::Equal => Conflict::Survivor(FieldDecision::SurvivorOnTie),
    }
}

#[derive(Clone, Copy)]
enum Conflict {
    Survivor(FieldDecision),
    Loser(FieldDecision),
}

/// How each field of one merge is decided: the host's callback first, then the rule.
struct Decide<'h> {
    conflict: Conflict,
    host: &'h dyn Fn(&MergeField) -> Option<ValueSource>,
}

impl Decide<'_> {
    /// The merged value of one field, with its outcome appended to `fields`.
    fn field<T: PartialEq + Clone>(
        &self,
        fields: &mut Vec<FieldOutcome>,
        field: MergeField,
        survivor: &Option<T>,
        loser: &Option<T>,
    ) -> Option<T> {
        let (source, decision) = match (survivor, loser) {
            (None, None) => (ValueSource::Neither, FieldDecision::Empty),
            (Some(_), None) => (ValueSource::Survivor, FieldDecision::OnlyValue),
            (None, Some(_)) => (ValueSource::Loser, FieldDecision::OnlyValue),
            (Some(x), Some(y)) if x == y => (ValueSource::Both, FieldDecision::Equal),
            (Some(_), Some(_)) => match ((self.host)(&field), self.conflict) {
                (Some(source), _) => (source, FieldDecision::Host),
                (None, Conflict::Survivor(d)) => (ValueSource::Survivor, d),
                (None, Conflict::Loser(d)) => (ValueSource::Loser, d),
            },
        };
        fields.push(FieldOutcome {
            field,
            source,
            decision,
        });
        match source {
            ValueSource::Loser => loser.clone(),
            ValueSource::Survivor | ValueSource::Both | ValueSource::Neither => survivor.clone(),
        }
    }
}

/// The union of two tag sets; see [`MergePlan::preview`] for which entry a shared tag keeps.
fn unite_tags(survivor: &TagSet, loser: &TagSet) -> TagSet {
    // Rank of an entry: a tag no rule can remove beats a rule's; then the longer-lasting.
    let strength = |i: &TagInfo| {
        (
            i.source != TagSource::Rule,
            i.expires_at.is_none(),
            i.expires_at,
        )
    };
    let mut out = TagSet::new();
    for (tag, info) in survivor.iter() {
        let keep = match loser.get(tag) {
            Some(other) if strength(other) > strength(info) => other,
            _ => info,
        };
        out.insert(tag.clone(), keep.source, keep.added_at, keep.expires_at);
    }
    for (tag, info) in loser.iter() {
        if survivor.get(tag).is_none() {
            out.insert(tag.clone(), info.source, info.added_at, info.expires_at);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration, NaiveDate, Utc};
    use proptest::prelude::*;

    use super::*;
    use crate::model::contact::{Email, Phone};
    use crate::model::id::TenantId;
    use crate::model::tag::Tag;

    const TAGS: [&str; 4] = [
        "value:vip",
        "promo:trial",
        "import:crm",
        "behavior:frequent",
    ];

    type Shape = (
        Option<u8>,
        Option<u8>,
        Option<u8>,
        Option<u8>,
        Vec<(u8, u8)>,
        Vec<(usize, u8)>,
        i64,
    );

    fn shape() -> impl Strategy<Value = Shape> {
        (
            proptest::option::of(0..3u8),
            proptest::option::of(0..3u8),
            proptest::option::of(0..3u8),
            proptest::option::of(1..4u8),
            proptest::collection::vec((0..4u8, 0..3u8), 0..4),
            proptest::collection::vec((0..TAGS.len(), 0..3u8), 0..4),
            0..3i64,
        )
    }

    fn build(id: u128, (name, email, phone, born, attrs, tags, age): Shape) -> Customer {
        let mut attributes = Attributes::new();
        for (k, v) in attrs {
            let key =
                AttrKey::new(["source", "points", "segment", "card"][usize::from(k)]).unwrap();
            let value = if k == 0 {
                AttrValue::Text(["erp", "web", "pos"][usize::from(v)].into())
            } else {
                AttrValue::Number(v.into())
            };
            attributes.insert(key, value);
        }
        let profile = Profile {
            display_name: name.map(|n| Pii::new(format!("Name {n}"))),
            email: email.map(|e| Pii::new(Email::parse(&format!("p{e}@example.com")).unwrap())),
            phone: phone.map(|p| Pii::new(Phone::from_e164(&format!("+1415555010{p}")).unwrap())),
            birth_date: born
                .map(|d| Pii::new(NaiveDate::from_ymd_opt(1990, 1, u32::from(d)).unwrap())),
            attributes: Pii::new(attributes),
        };
        let created = DateTime::<Utc>::UNIX_EPOCH + Duration::days(age);
        let mut c = Customer::new(
            TenantId::from_u128(1),
            CustomerId::from_u128(id),
            profile,
            created,
        );
        for (t, src) in tags {
            let source = [TagSource::Manual, TagSource::Rule, TagSource::Import][usize::from(src)];
            let tag: Tag = TAGS[t].parse().unwrap();
            c.tags.insert(tag, source, created, None);
        }
        c
    }

    fn policies() -> impl Strategy<Value = SurvivorshipPolicy> {
        prop_oneof![
            Just(SurvivorshipPolicy::default()),
            Just(SurvivorshipPolicy {
                rule: Survivorship::MostTrusted {
                    source_attribute: AttrKey::new("source").unwrap(),
                    ranking: vec!["erp".into(), "pos".into()],
                },
                ..SurvivorshipPolicy::default()
            }),
        ]
    }

    proptest! {
        /// The preview explains itself truthfully: every field either record has is listed
        /// once, and the source each outcome names is where the merged value comes from.
        #[test]
        fn prop_each_outcome_names_the_record_its_value_comes_from(
            a in shape(), b in shape(), policy in policies()
        ) {
            fn from<T: PartialEq>(source: ValueSource, merged: Option<&T>, s: Option<&T>, l: Option<&T>) -> bool {
                match source {
                    ValueSource::Survivor => merged.is_some() && merged == s,
                    ValueSource::Loser => merged.is_some() && merged == l,
                    ValueSource::Both => merged.is_some() && merged == s && merged == l,
                    ValueSource::Neither => merged.is_none() && s.is_none() && l.is_none(),
                }
            }
            let (s, l) = (build(1, a), build(2, b));
            let p = MergePlan::preview(&s, &l, &policy).unwrap();
            let (sp, lp, mp) = (&s.profile, &l.profile, &p.profile);
            let (sa, la, ma) = (sp.attributes.expose(), lp.attributes.expose(), mp.attributes.expose());
            let mut listed: Vec<MergeField> = p.fields.iter().map(|o| o.field.clone()).collect();
            let mut want = vec![MergeField::DisplayName, MergeField::Email, MergeField::Phone, MergeField::BirthDate];
            want.extend(sa.keys().chain(la.keys()).map(|k| MergeField::Attribute(k.clone())));
            let key = |f: &MergeField| f.to_string();
            listed.sort_by_key(key);
            want.sort_by_key(key);
            want.dedup();
            prop_assert_eq!(listed, want);
            for o in &p.fields {
                let ok = match &o.field {
                    MergeField::DisplayName => from(o.source, mp.display_name.as_ref(), sp.display_name.as_ref(), lp.display_name.as_ref()),
                    MergeField::Email => from(o.source, mp.email.as_ref(), sp.email.as_ref(), lp.email.as_ref()),
                    MergeField::Phone => from(o.source, mp.phone.as_ref(), sp.phone.as_ref(), lp.phone.as_ref()),
                    MergeField::BirthDate => from(o.source, mp.birth_date.as_ref(), sp.birth_date.as_ref(), lp.birth_date.as_ref()),
                    MergeField::Attribute(k) => from(o.source, ma.get(k), sa.get(k), la.get(k)),
                };
                prop_assert!(ok, "{} says {:?}", o.field, o.source);
            }
        }

        #[test]
        fn prop_no_non_empty_field_is_lost(a in shape(), b in shape(), policy in policies()) {
            let (s, l) = (build(1, a), build(2, b));
            let p = MergePlan::preview(&s, &l, &policy).unwrap();
            let (sp, lp, mp) = (&s.profile, &l.profile, &p.profile);
            fn kept<T: PartialEq>(m: &Option<T>, a: &Option<T>, b: &Option<T>) -> bool {
                match m {
                    None => a.is_none() && b.is_none(),
                    Some(v) => a.as_ref() == Some(v) || b.as_ref() == Some(v),
                }
            }
            prop_assert!(kept(&mp.display_name, &sp.display_name, &lp.display_name));
            prop_assert!(kept(&mp.email, &sp.email, &lp.email));
            prop_assert!(kept(&mp.phone, &sp.phone, &lp.phone));
            prop_assert!(kept(&mp.birth_date, &sp.birth_date, &lp.birth_date));
            let (sa, la, ma) = (sp.attributes.expose(), lp.attributes.expose(), mp.attributes.expose());
            for key in sa.keys().chain(la.keys()) {
                let v = ma.get(key);
                prop_assert!(v.is_some() && (v == sa.get(key) || v == la.get(key)), "attribute {} lost", key);
            }
            prop_assert!(ma.keys().all(|k| sa.contains_key(k) || la.contains_key(k)));
            // Every field either record fills is listed, with a source that has a value.
            for o in &p.fields {
                prop_assert_eq!(o.source == ValueSource::Neither, o.decision == FieldDecision::Empty);
            }
        }

        #[test]
        fn prop_tags_are_the_union(a in shape(), b in shape(), policy in policies()) {
            let (s, l) = (build(1, a), build(2, b));
            let p = MergePlan::preview(&s, &l, &policy).unwrap();
            let mut want: Vec<&Tag> = s.tags.iter().chain(l.tags.iter()).map(|(t, _)| t).collect();
            want.sort();
            want.dedup();
            prop_assert_eq!(p.tags.iter().map(|(t, _)| t).collect::<Vec<_>>(), want);
            // A tag that is manual or imported on either side stays out of the rules' reach.
            for (t, info) in p.tags.iter() {
                let protected = [&s.tags, &l.tags]
                    .iter()
                    .any(|set| set.get(t).is_some_and(|i| i.source != TagSource::Rule));
                prop_assert_eq!(info.source != TagSource::Rule, protected);
            }
        }
    }

    #[test]
    fn the_more_recent_record_wins_a_conflict_and_ties_keep_the_survivor() {
        let mut older = build(1, (Some(0), None, None, None, vec![], vec![], 0));
        let newer = build(2, (Some(1), None, None, None, vec![], vec![], 2));
        let p = MergePlan::preview(&older, &newer, &SurvivorshipPolicy::default()).unwrap();
        assert_eq!(p.fields[0].source, ValueSource::Loser);
        let p = MergePlan::preview(&newer, &older, &SurvivorshipPolicy::default()).unwrap();
        assert_eq!(p.fields[0].source, ValueSource::Survivor);
        older = build(1, (Some(0), None, None, None, vec![], vec![], 2));
        let p = MergePlan::preview(&older, &newer, &SurvivorshipPolicy::default()).unwrap();
        assert_eq!(
            (p.fields[0].source, p.fields[0].decision),
            (ValueSource::Survivor, FieldDecision::SurvivorOnTie)
        );
    }

    #[test]
    fn tombstones_and_other_tenants_are_refused() {
        let a = build(1, (None, None, None, None, vec![], vec![], 0));
        let mut b = build(2, (None, None, None, None, vec![], vec![], 0));
        b.set_lifecycle(b.lifecycle().erase(DateTime::UNIX_EPOCH).unwrap())
            .unwrap();
        let policy = SurvivorshipPolicy::default();
        assert!(matches!(
            MergePlan::preview(&a, &b, &policy),
            Err(DomainError::Tombstoned {
                state: "erased",
                ..
            })
        ));
        let other = Customer::new(
            TenantId::from_u128(2),
            CustomerId::from_u128(3),
            Profile::default(),
            DateTime::UNIX_EPOCH,
        );
        let err = MergePlan::preview(&a, &other, &policy).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "cannot merge customer {} into {}: they belong to different tenants",
                other.id(),
                a.id()
            )
        );
    }
}
