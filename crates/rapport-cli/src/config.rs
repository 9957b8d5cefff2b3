//! `rapport.toml`: the CLI's one configuration file, beside the SQLite database (or named by
//! `--config FILE`). Each area owns one section — `[policy]` here (tag rules, tier ladder,
//! lifecycle, churn, RFM, base currency), `[[rules]]` and `[webhook]` (automation), `[keys]`
//! (keystore), `[retention]`, `[recommend]` — and reads it with [`Config::section`], so a typo is reported
//! with its key and line, never silently ignored.
//!
//! The policy section's format is documented in docs/policy.md; docs/rapport.default.toml is
//! the defaults written out (a test checks it parses to [`Policies::default`]).

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Range;
use std::path::{Path, PathBuf};

use rapport_core::{
    BusinessHours, BusinessHoursSpec, CasePolicy, ChurnPolicy, Currency, LifecyclePolicy, Policies,
    RfmPolicy, Rungs, SilentAfter, SlaTargets, TagRule, Tier, TierLadder, TierMetric, TierPolicy,
};
use rust_decimal::Decimal;
use serde::de::{DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The file name looked for beside the SQLite database.
pub(crate) const FILE_NAME: &str = "rapport.toml";

/// A configuration file that could not be used: where, which key, what is wrong.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not TOML, or a key has a value of the wrong shape.
    #[error("{file}{}: {message}", at(.key, .line))]
    Invalid {
        /// The file (or `--policy` / `rapport.toml`).
        file: String,
        /// The dotted key, e.g. `policy.tier.hysteresis`, when known.
        key: Option<String>,
        /// The 1-based line, when known.
        line: Option<usize>,
        /// What is wrong.
        message: String,
    },
}

impl From<ConfigError> for crate::error::CliError {
    fn from(e: ConfigError) -> Self {
        crate::error::CliError(e.to_string())
    }
}

fn at(key: &Option<String>, line: &Option<usize>) -> String {
    match (key, line) {
        (Some(k), Some(l)) => format!(" line {l}, key `{k}`"),
        (Some(k), None) => format!(", key `{k}`"),
        (None, Some(l)) => format!(" line {l}"),
        (None, None) => String::new(),
    }
}

/// A parsed `rapport.toml` (possibly empty: no file is the defaults).
#[derive(Debug, Clone, Default)]
pub(crate) struct Config {
    path: Option<PathBuf>,
    text: String,
    table: toml::Table,
}

impl Config {
    /// Parses `text`; `path` names it in errors.
    pub(crate) fn parse(text: String, path: Option<PathBuf>) -> Result<Self, ConfigError> {
        let mut c = Config {
            path,
            text,
            table: toml::Table::new(),
        };
        c.table = toml::from_str(&c.text).map_err(|e| c.error(&e))?;
        Ok(c)
    }

    /// Reads and parses the file at `path`.
    pub(crate) fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(text, Some(path.to_owned()))
    }

    /// The configuration for a command: `--config FILE` when given (it must exist), else
    /// `rapport.toml` beside the SQLite database of `db` when there is one, else empty.
    pub(crate) fn locate(explicit: Option<&Path>, db: &str) -> Result<Self, ConfigError> {
        if let Some(p) = explicit {
            return Self::load(p);
        }
        let dir = if db.contains("://") && !db.starts_with("sqlite://") {
            PathBuf::from(".")
        } else {
            let path = PathBuf::from(db.strip_prefix("sqlite://").unwrap_or(db));
            match path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
                _ => PathBuf::from("."),
            }
        };
        let candidate = dir.join(FILE_NAME);
        if candidate.is_file() {
            Self::load(&candidate)
        } else {
            Ok(Self::default())
        }
    }

    /// The file this came from, if any.
    pub(crate) fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The raw document.
    pub(crate) fn table(&self) -> &toml::Table {
        &self.table
    }

    /// The top-level section `name` as a `T`, or `None` when the file has none. A bad value is
    /// an error naming its key and line.
    pub(crate) fn section<T: DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<Option<T>, ConfigError> {
        if !self.table.contains_key(name) {
            return Ok(None);
        }
        let de = toml::Deserializer::parse(&self.text).map_err(|e| self.error(&e))?;
        Pick::<T> {
            name,
            _t: PhantomData,
        }
        .deserialize(de)
        .map_err(|e| self.error(&e))
    }

    /// The policies of the `[policy]` section (the defaults when there is none), validated.
    pub(crate) fn policies(&self) -> Result<Policies, ConfigError> {
        let file: PolicyFile = self.section("policy")?.unwrap_or_default();
        file.into_policies().map_err(|(key, message)| {
            let key = format!("policy.{key}");
            ConfigError::Invalid {
                file: self.name(),
                line: self.line_of_key(&key),
                key: Some(key),
                message,
            }
        })
    }

    fn name(&self) -> String {
        self.path
            .as_ref()
            .map_or_else(|| FILE_NAME.to_owned(), |p| p.display().to_string())
    }

    fn error(&self, e: &toml::de::Error) -> ConfigError {
        let span = e.span();
        let (key, line) = match span {
            Some(s) => (self.key_at(&s), Some(self.line_at(s.start))),
            None => (None, None),
        };
        ConfigError::Invalid {
            file: self.name(),
            key,
            line,
            message: e.message().trim().to_owned(),
        }
    }

    fn line_at(&self, offset: usize) -> usize {
        1 + self.text.as_bytes()[..offset.min(self.text.len())]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
    }

    /// The dotted key whose key or value holds `span` (the deepest one).
    fn key_at(&self, span: &Range<usize>) -> Option<String> {
        let doc = toml::de::DeTable::parse(&self.text).ok()?;
        let mut path = Vec::new();
        find_key(doc.get_ref(), span, &mut path);
        (!path.is_empty()).then(|| path.join("."))
    }

    /// The line of a dotted key (`policy.tier.hysteresis`), or of its nearest parent present.
    fn line_of_key(&self, key: &str) -> Option<usize> {
        let doc = toml::de::DeTable::parse(&self.text).ok()?;
        let mut table = doc.get_ref();
        let mut line = None;
        for part in key.split('.') {
            let part = part.split('[').next().unwrap_or(part);
            let Some((k, v)) = table.iter().find(|(k, _)| k.get_ref() == part) else {
                break;
            };
            line = Some(self.line_at(k.span().start));
            match v.get_ref() {
                toml::de::DeValue::Table(t) => table = t,
                _ => break,
            }
        }
        line
    }
}

fn contains(outer: &Range<usize>, inner: &Range<usize>) -> bool {
    outer.start <= inner.start && inner.end <= outer.end
}

fn find_key(table: &toml::de::DeTable<'_>, span: &Range<usize>, path: &mut Vec<String>) -> bool {
    for (k, v) in table {
        if contains(&k.span(), span) {
            path.push(k.get_ref().to_string());
            return true;
        }
        let in_value = contains(&v.span(), span);
        match v.get_ref() {
            toml::de::DeValue::Table(t) => {
                path.push(k.get_ref().to_string());
                if find_key(t, span, path) || in_value {
                    return true;
                }
                path.pop();
            }
            toml::de::DeValue::Array(items) => {
                path.push(k.get_ref().to_string());
                for (i, item) in items.iter().enumerate() {
                    if let toml::de::DeValue::Table(t) = item.get_ref() {
                        path.push(format!("{i}"));
                        if find_key(t, span, path) || contains(&item.span(), span) {
                            return true;
                        }
                        path.pop();
                    }
                }
                if in_value {
                    return true;
                }
                path.pop();
            }
            _ if in_value => {
                path.push(k.get_ref().to_string());
                return true;
            }
            _ => {}
        }
    }
    false
}

/// Deserialises one top-level key of the document, skipping the others, so errors keep the
/// spans of the whole file.
struct Pick<'a, T> {
    name: &'a str,
    _t: PhantomData<T>,
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for Pick<'_, T> {
    type Value = Option<T>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for Pick<'_, T> {
    type Value = Option<T>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a table")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == self.name {
                out = Some(map.next_value::<T>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(out)
    }
}

/// An amount in the file: an integer (`2000`), a float (`0.1`) or a string (`"0.10"`), read
/// into a `Decimal` without binary rounding; written back as an integer or float when that is
/// exact.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Amount(pub(crate) Decimal);

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let d = self.0.normalize();
        if d.fract().is_zero() {
            if let Ok(i) = i64::try_from(d) {
                return s.serialize_i64(i);
            }
        }
        match d.to_string().parse::<f64>() {
            Ok(f) if format!("{f}") == d.to_string() => s.serialize_f64(f),
            _ => s.serialize_str(&d.to_string()),
        }
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Amount;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number or a decimal string")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Amount, E> {
                Ok(Amount(Decimal::from(v)))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Amount, E> {
                Ok(Amount(Decimal::from(v)))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Amount, E> {
                // The shortest text that reads back as `v`: 0.1 is 0.1, not 0.1000000000000000055.
                self.visit_str(&format!("{v}"))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Amount, E> {
                v.trim()
                    .parse::<Decimal>()
                    .map(Amount)
                    .map_err(|_| E::custom(format!("`{v}` is not a decimal number")))
            }
        }
        d.deserialize_any(V)
    }
}

/// The `[policy]` section as written in the file. Every key is optional (absent = the
/// default); unknown keys are errors.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PolicyFile {
    /// Base currency (ISO 4217) of tier thresholds and money literals.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) currency: Option<String>,
    /// Tag rules, `when <predicate> then tag <namespace:name>`, in order.
    #[serde(default)]
    pub(crate) tag_rules: Vec<TagRule>,
    /// `[policy.tier]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tier: Option<TierFile>,
    /// `[policy.lifecycle]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) lifecycle: Option<LifecycleFile>,
    /// `[policy.churn]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) churn: Option<ChurnFile>,
    /// `[policy.rfm]`: `kind = "quintiles"` or `kind = "breakpoints"` with `r`, `f`, `m`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) rfm: Option<RfmPolicy>,
    /// `[policy.accounts]`: the accounts' own policies (B2B).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) accounts: Option<AccountsFile>,
    /// `[policy.cases]`: SLA targets per severity, business hours, reopen window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) cases: Option<CasesFile>,
    /// `[policy.stats]`: what the stats keep beyond the defaults.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) stats: Option<StatsFile>,
}

/// `[policy.stats]` (docs/policy.md): `category_spend = ["tea", …]`, the categories whose net
/// spend per day the stats keep (none by default).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StatsFile {
    /// The tracked categories.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) category_spend: Option<std::collections::BTreeSet<rapport_core::ProductCategory>>,
}

/// `[policy.cases]` (docs/cases.md): every key optional, absent = the DOMAIN.md default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CasesFile {
    /// Days a resolved case may be reopened (14).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) reopen_days: Option<u32>,
    /// A recorded complaint opens a case (true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) open_on_complaint: Option<bool>,
    /// Weight of case signals in the churn risk (0.5).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) risk_weight: Option<f64>,
    /// Days a resolved breach still counts (90).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) window_days: Option<u32>,
    /// `[policy.cases.sla.<severity>]`: `first_response_minutes`, `resolution_minutes`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) sla: Option<SlaTargets>,
    /// `[policy.cases.business_hours]`: `time_zone` (or `utc_offset_minutes`), `days`,
    /// `holidays`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) business_hours: Option<BusinessHoursSpec>,
}

impl CasesFile {
    fn into_policy(self, mut p: CasePolicy) -> Result<CasePolicy, KeyError> {
        p.reopen_days = self.reopen_days.unwrap_or(p.reopen_days);
        p.open_on_complaint = self.open_on_complaint.unwrap_or(p.open_on_complaint);
        p.risk_weight = self.risk_weight.unwrap_or(p.risk_weight);
        p.window_days = self.window_days.unwrap_or(p.window_days);
        if let Some(t) = self.sla {
            p.sla.targets = t;
        }
        if let Some(spec) = self.business_hours {
            p.sla.calendar = Some(
                BusinessHours::new(spec)
                    .map_err(|e| ("cases.business_hours".to_owned(), e.to_string()))?,
            );
        }
        Ok(p)
    }

    fn from_policy(p: &CasePolicy) -> Self {
        Self {
            reopen_days: Some(p.reopen_days),
            open_on_complaint: Some(p.open_on_complaint),
            risk_weight: Some(p.risk_weight),
            window_days: Some(p.window_days),
            sla: Some(p.sla.targets),
            business_hours: p.sla.calendar.clone().map(BusinessHoursSpec::from),
        }
    }
}

/// `[policy.accounts]`: accounts are ranked on their own ladder (`[policy.accounts.tier]`,
/// the same keys as `[policy.tier]`; absent = the default pyramid, in the base currency).
/// Their lifecycle, churn and RFM policies are the people's defaults.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AccountsFile {
    /// `[policy.accounts.tier]`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) tier: Option<TierFile>,
}

/// A tier metric by its documented name (`revenue_365d`, `margin`, `clv`, `rfm_total`,
/// `host_value`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub(crate) struct Metric(pub(crate) TierMetric);

const METRICS: [TierMetric; 5] = [
    TierMetric::Revenue365,
    TierMetric::Margin,
    TierMetric::Clv,
    TierMetric::RfmTotal,
    TierMetric::HostValue,
];

impl TryFrom<String> for Metric {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        METRICS
            .into_iter()
            .find(|m| m.as_str() == s.trim())
            .map(Metric)
            .ok_or_else(|| {
                format!(
                    "unknown metric `{s}`, expected one of `revenue_365d`, `margin`, `clv`, `rfm_total`, `host_value`"
                )
            })
    }
}

impl From<Metric> for String {
    fn from(m: Metric) -> String {
        m.0.as_str().to_owned()
    }
}

/// A named ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Preset {
    /// Platinum ≥ 10,000, Gold ≥ 2,000, Iron ≥ 200 on 365-day revenue.
    CustomerPyramid,
    /// Top 1 % / 4 % / 15 % / rest.
    VipHeavy,
    /// 20 / 30 / 30 / 20 %.
    ClassicPyramid,
}

/// `[policy.tier]`: the ladder (a `preset`, or `thresholds`, or `shares`), its metric and the
/// downgrade rule.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TierFile {
    /// `revenue_365d`, `margin`, `clv`, `rfm_total` or `host_value`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) metric: Option<Metric>,
    /// A named ladder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) preset: Option<Preset>,
    /// Downgrade only below `entry × (1 − hysteresis)`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) hysteresis: Option<Amount>,
    /// ... for this many days in a row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) grace_days: Option<u32>,
    /// Entry thresholds of the tiers above Lead: `{ platinum = 10000, gold = 2000, iron = 200 }`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) thresholds: Option<BTreeMap<Tier, Amount>>,
    /// Percent of the ranked customers per tier, Lead included: `{ platinum = 1, gold = 4, iron = 15, lead = 80 }`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) shares: Option<BTreeMap<Tier, Amount>>,
}

/// `[policy.lifecycle]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct LifecycleFile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) new_window_days: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) churn_after_min_days: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) churn_factor: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) p_alive_churned_below: Option<f64>,
    /// `{ kind = "adaptive", min_days = 30, k = 3.0, fallback_days = 60, min_purchase_days = 3 }`
    /// or `{ kind = "fixed", days = 60 }`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) silent_after: Option<SilentAfter>,
}

/// `[policy.churn]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ChurnFile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) recency_weight: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) trend_weight: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) complaint_weight: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) nps_weight: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) window_days: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) alert_threshold: Option<f64>,
    /// Churn risk = 1 − P(alive) and `clv_12m` from the book's fitted CLV model, when one is
    /// stored (`rapport clv fit --store`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) use_fitted_model: Option<bool>,
}

type KeyError = (String, String);

impl PolicyFile {
    /// The policies this file describes over the defaults, validated. The error is the key
    /// (under `policy.`) and what is wrong.
    pub(crate) fn into_policies(self) -> Result<Policies, KeyError> {
        let mut p = Policies::default();
        if let Some(c) = &self.currency {
            p = p.with_currency(
                Currency::parse_field("currency", c)
                    .map_err(|e| ("currency".into(), e.to_string()))?,
            );
        }
        p.tag_rules = self.tag_rules;
        p.accounts.tier.currency = p.tier.currency;
        if let Some(t) = self.tier {
            p.tier = t.into_policy(p.tier)?;
        }
        if let Some(c) = self.cases {
            p.cases = c.into_policy(p.cases)?;
        }
        if let Some(t) = self.accounts.and_then(|a| a.tier) {
            p.accounts.tier = t
                .into_policy(p.accounts.tier)
                .map_err(|(k, e)| (format!("accounts.{k}"), e))?;
        }
        if let Some(l) = self.lifecycle {
            let d = &mut p.lifecycle;
            d.new_window_days = l.new_window_days.unwrap_or(d.new_window_days);
            d.churn_after_min_days = l.churn_after_min_days.unwrap_or(d.churn_after_min_days);
            d.churn_factor = l.churn_factor.unwrap_or(d.churn_factor);
            d.p_alive_churned_below = l.p_alive_churned_below.unwrap_or(d.p_alive_churned_below);
            d.silent_after = l.silent_after.unwrap_or(d.silent_after);
        }
        if let Some(c) = self.churn {
            let d = &mut p.churn;
            d.recency_weight = c.recency_weight.unwrap_or(d.recency_weight);
            d.trend_weight = c.trend_weight.unwrap_or(d.trend_weight);
            d.complaint_weight = c.complaint_weight.unwrap_or(d.complaint_weight);
            d.nps_weight = c.nps_weight.unwrap_or(d.nps_weight);
            d.window_days = c.window_days.unwrap_or(d.window_days);
            d.alert_threshold = c.alert_threshold.unwrap_or(d.alert_threshold);
            d.use_fitted_model = c.use_fitted_model.unwrap_or(d.use_fitted_model);
        }
        if let Some(r) = self.rfm {
            p.rfm = r;
        }
        if let Some(c) = self.stats.and_then(|s| s.category_spend) {
            p.stats.category_spend = c;
        }
        p.validate().map_err(|e| match e {
            rapport_core::DomainError::InvalidPolicy { field, .. } => {
                (field.to_owned(), e.to_string())
            }
            other => ("tier".to_owned(), other.to_string()),
        })?;
        Ok(p)
    }

    /// Every field written out (what `rapport policy show` prints).
    pub(crate) fn from_policies(p: &Policies) -> Self {
        let amounts = |v: &[(Tier, Decimal)]| -> BTreeMap<Tier, Amount> {
            v.iter().map(|(t, d)| (*t, Amount(*d))).collect()
        };
        let (thresholds, shares) = match &p.tier.ladder.rungs {
            Rungs::Thresholds { entries } => (Some(amounts(entries)), None),
            Rungs::Shares { shares } => (None, Some(amounts(shares))),
            _ => (None, None),
        };
        let LifecyclePolicy {
            new_window_days,
            silent_after,
            churn_after_min_days,
            churn_factor,
            p_alive_churned_below,
        } = p.lifecycle.clone();
        let ChurnPolicy {
            recency_weight,
            trend_weight,
            complaint_weight,
            nps_weight,
            window_days,
            alert_threshold,
            use_fitted_model,
        } = p.churn.clone();
        PolicyFile {
            currency: Some(p.currency().to_string()),
            tag_rules: p.tag_rules.clone(),
            tier: Some(TierFile {
                metric: Some(Metric(p.tier.ladder.metric)),
                preset: None,
                hysteresis: Some(Amount(p.tier.hysteresis)),
                grace_days: Some(p.tier.grace_days),
                thresholds,
                shares,
            }),
            lifecycle: Some(LifecycleFile {
                new_window_days: Some(new_window_days),
                churn_after_min_days: Some(churn_after_min_days),
                churn_factor: Some(churn_factor),
                p_alive_churned_below: Some(p_alive_churned_below),
                silent_after: Some(silent_after),
            }),
            churn: Some(ChurnFile {
                recency_weight: Some(recency_weight),
                trend_weight: Some(trend_weight),
                complaint_weight: Some(complaint_weight),
                nps_weight: Some(nps_weight),
                window_days: Some(window_days),
                alert_threshold: Some(alert_threshold),
                use_fitted_model: Some(use_fitted_model),
            }),
            rfm: Some(p.rfm.clone()),
            cases: Some(CasesFile::from_policy(&p.cases)),
            stats: Some(StatsFile {
                category_spend: Some(p.stats.category_spend.clone()),
            }),
            accounts: (p.accounts.tier.ladder != TierLadder::customer_pyramid()
                || p.accounts.tier.hysteresis != TierPolicy::default().hysteresis
                || p.accounts.tier.grace_days != TierPolicy::default().grace_days)
                .then(|| AccountsFile {
                    tier: Some(TierFile {
                        metric: Some(Metric(p.accounts.tier.ladder.metric)),
                        preset: None,
                        hysteresis: Some(Amount(p.accounts.tier.hysteresis)),
                        grace_days: Some(p.accounts.tier.grace_days),
                        thresholds: match &p.accounts.tier.ladder.rungs {
                            Rungs::Thresholds { entries } => {
                                Some(entries.iter().map(|(t, d)| (*t, Amount(*d))).collect())
                            }
                            _ => None,
                        },
                        shares: match &p.accounts.tier.ladder.rungs {
                            Rungs::Shares { shares } => {
                                Some(shares.iter().map(|(t, d)| (*t, Amount(*d))).collect())
                            }
                            _ => None,
                        },
                    }),
                }),
        }
    }
}

impl TierFile {
    fn into_policy(self, mut p: TierPolicy) -> Result<TierPolicy, KeyError> {
        let given = [
            self.preset.is_some(),
            self.thresholds.is_some(),
            self.shares.is_some(),
        ];
        if given.iter().filter(|g| **g).count() > 1 {
            return Err((
                "tier".into(),
                "give one of `preset`, `thresholds` and `shares`".into(),
            ));
        }
        if let Some(preset) = self.preset {
            p.ladder = match preset {
                Preset::CustomerPyramid => TierLadder::customer_pyramid(),
                Preset::VipHeavy => TierLadder::vip_heavy(),
                Preset::ClassicPyramid => TierLadder::classic_pyramid(),
            };
        }
        if let Some(t) = self.thresholds {
            if t.contains_key(&Tier::Lead) {
                return Err((
                    "tier.thresholds.lead".into(),
                    "lead has no threshold: it is everyone below the lowest rung".into(),
                ));
            }
            // Lowest rung first, as the built-in pyramid lists them.
            p.ladder.rungs = Rungs::Thresholds {
                entries: t.into_iter().map(|(t, a)| (t, a.0)).collect(),
            };
        }
        if let Some(s) = self.shares {
            // From the top down, Lead last.
            p.ladder.rungs = Rungs::Shares {
                shares: s.into_iter().rev().map(|(t, a)| (t, a.0)).collect(),
            };
        }
        if let Some(m) = self.metric {
            p.ladder.metric = m.0;
        }
        if let Some(h) = self.hysteresis {
            p.hysteresis = h.0;
        }
        if let Some(g) = self.grace_days {
            p.grace_days = g;
        }
        Ok(p)
    }
}

/// The `[policy]` section of `policies` as TOML.
pub(crate) fn policy_toml(policies: &Policies) -> String {
    #[derive(Serialize)]
    struct Doc {
        policy: PolicyFile,
    }
    toml::to_string(&Doc {
        policy: PolicyFile::from_policies(policies),
    })
    .unwrap_or_else(|e| format!("# cannot write the policy as TOML: {e}\n"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn cfg(text: &str) -> Config {
        Config::parse(text.to_owned(), Some(PathBuf::from("rapport.toml"))).unwrap()
    }

    #[test]
    fn the_documented_defaults_file_is_the_defaults() {
        let text = include_str!("../../../docs/rapport.default.toml");
        let c = cfg(text);
        assert_eq!(c.policies().unwrap(), Policies::default());
        // And every key of the policy is written out in it (no default left implicit).
        let file: PolicyFile = c.section("policy").unwrap().unwrap();
        assert_eq!(file, PolicyFile::from_policies(&Policies::default()));
    }

    #[test]
    fn stats_keep_the_categories_named() {
        let p = cfg("[policy.stats]\ncategory_spend = [\"tea\", \"cups\"]\n")
            .policies()
            .unwrap();
        let names: Vec<&str> = p.stats.category_spend.iter().map(|c| c.as_str()).collect();
        assert_eq!(names, ["cups", "tea"]);
        assert_eq!(PolicyFile::from_policies(&p).into_policies().unwrap(), p);
        assert!(
            cfg("[policy.stats]\ncategories = [\"tea\"]\n")
                .policies()
                .is_err()
        );
        assert!(
            cfg("[policy.stats]\ncategory_spend = [\"\"]\n")
                .policies()
                .is_err()
        );
    }

    #[test]
    fn accounts_have_their_own_ladder_in_the_base_currency() {
        let c = cfg(r#"
[policy]
currency = "cny"

[policy.accounts.tier]
thresholds = { platinum = 100000, gold = 20000, iron = 2000 }
"#);
        let p = c.policies().unwrap();
        assert_eq!(
            p.tier,
            Policies::default().with_currency(Currency::CNY).tier
        );
        assert_eq!(p.accounts.tier.currency, Currency::CNY);
        assert_eq!(
            p.accounts.tier.ladder.entry(Tier::Gold),
            Some(Decimal::from(20_000))
        );
        let shown = PolicyFile::from_policies(&p);
        assert_eq!(shown.into_policies().unwrap(), p);
        let bad = cfg("[policy.accounts.tier]\nthresholds = { lead = 1 }\n").policies();
        assert!(
            bad.unwrap_err()
                .to_string()
                .contains("accounts.tier.thresholds.lead")
        );
    }

    #[test]
    fn cases_read_sla_targets_business_hours_and_the_reopen_window() {
        let c = cfg(r#"
[policy.cases]
reopen_days = 7

[policy.cases.sla.urgent]
first_response_minutes = 30
resolution_minutes = 240

[policy.cases.business_hours]
utc_offset_minutes = 480
days = [{ day = "Mon", open = "09:00", close = "18:00" }]
holidays = ["2026-10-01"]
"#);
        let p = c.policies().unwrap();
        assert_eq!(p.cases.reopen_days, 7);
        assert_eq!(p.cases.sla.targets.urgent.first_response_minutes, 30);
        assert_eq!(p.cases.sla.targets.low, SlaTargets::default().low);
        assert!(p.cases.sla.calendar.is_some());
        assert_eq!(PolicyFile::from_policies(&p).into_policies().unwrap(), p);
        let berlin = cfg(
            "[policy.cases.business_hours]\ntime_zone = \"Europe/Berlin\"\ndays = [{ day = \"Mon\", open = \"09:00\", close = \"18:00\" }]\n",
        )
        .policies()
        .unwrap();
        let spec = berlin.cases.sla.calendar.as_ref().unwrap().spec();
        assert_eq!(spec.time_zone, Some("Europe/Berlin".parse().unwrap()));
        assert_eq!(
            PolicyFile::from_policies(&berlin).into_policies().unwrap(),
            berlin
        );
        let typo = cfg("[policy.cases]\nreopen_dayz = 3\n").policies();
        assert!(typo.is_err());
        let backwards = cfg(
            "[policy.cases.business_hours]\nutc_offset_minutes = 0\ndays = [{ day = \"Mon\", open = \"18:00\", close = \"09:00\" }]\n",
        )
        .policies();
        assert!(
            backwards
                .unwrap_err()
                .to_string()
                .contains("business_hours")
        );
    }

    #[test]
    fn no_file_and_an_empty_policy_are_the_defaults() {
        assert_eq!(Config::default().policies().unwrap(), Policies::default());
        assert_eq!(cfg("[policy]\n").policies().unwrap(), Policies::default());
    }

    #[test]
    fn policy_show_round_trips() {
        let mut p = Policies::default().with_currency(Currency::CNY);
        p.tier.ladder = TierLadder::vip_heavy();
        p.tier.hysteresis = Decimal::new(5, 2);
        p.tag_rules
            .push(TagRule::parse("when rfm.r >= 4 then tag value:recent").unwrap());
        p.lifecycle.silent_after = SilentAfter::Fixed { days: 45 };
        p.rfm = RfmPolicy::Breakpoints {
            r: [30, 60, 90, 180],
            f: [2, 3, 5, 8],
            m: [
                Decimal::from(50),
                Decimal::new(1005, 1),
                Decimal::from(500),
                Decimal::from(1000),
            ],
        };
        let text = policy_toml(&p);
        assert_eq!(cfg(&text).policies().unwrap(), p, "{text}");
        assert_eq!(
            cfg(&policy_toml(&Policies::default())).policies().unwrap(),
            Policies::default()
        );
    }

    #[test]
    fn a_partial_file_overrides_only_its_keys() {
        let c = cfg(r#"
[policy]
currency = "eur"
tag_rules = ["when orders >= 5 then tag behavior:loyal"]

[policy.tier]
metric = "margin"
thresholds = { gold = 500, platinum = 2500.50 }

[policy.lifecycle]
new_window_days = 60
"#);
        let p = c.policies().unwrap();
        assert_eq!(p.currency(), Currency::EUR);
        assert_eq!(p.tag_rules.len(), 1);
        assert_eq!(p.tier.ladder.metric, TierMetric::Margin);
        assert_eq!(
            p.tier.ladder.rungs,
            Rungs::Thresholds {
                entries: vec![
                    (Tier::Gold, Decimal::from(500)),
                    (Tier::Platinum, Decimal::new(250_050, 2))
                ]
            }
        );
        assert_eq!(p.tier.hysteresis, Decimal::new(10, 2));
        assert_eq!(p.lifecycle.new_window_days, 60);
        assert_eq!(p.lifecycle.churn_after_min_days, 180);
        assert_eq!(p.churn, ChurnPolicy::default());
    }

    #[test]
    fn errors_name_the_key_and_the_line() {
        let bad = |text: &str| cfg(text).policies().unwrap_err().to_string();
        let e = bad("[policy]\ncurrency = \"USD\"\n\n[policy.tier]\nhysterisis = 0.1\n");
        assert!(
            e.starts_with(
                "rapport.toml line 5, key `policy.tier.hysterisis`: unknown field `hysterisis`"
            ),
            "{e}"
        );
        let e = bad("[policy.churn]\nwindow_days = -3\n");
        assert!(
            e.starts_with("rapport.toml line 2, key `policy.churn.window_days`:"),
            "{e}"
        );
        // A validation error names the key the policy rejected and finds its line.
        let e = bad("[policy]\n\n[policy.tier]\nhysteresis = 1.5\n");
        assert!(
            e.starts_with("rapport.toml line 4, key `policy.tier.hysteresis`:"),
            "{e}"
        );
        let e = bad("[policy.tier]\nthresholds = { gold = 500, iron = 900 }\n");
        assert!(e.contains("key `policy.tier"), "{e}");
        let e = bad("[policy]\ntag_rules = [\"when nonsense\"]\n");
        assert!(
            e.starts_with("rapport.toml line 2, key `policy.tag_rules`:"),
            "{e}"
        );
        let e = bad("[policy.tier]\npreset = \"vip_heavy\"\nthresholds = { gold = 1 }\n");
        assert!(e.contains("give one of"), "{e}");
        // Not TOML at all.
        let e = Config::parse("[policy\n".into(), None)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("rapport.toml line 1"), "{e}");
    }

    #[test]
    fn other_sections_are_read_by_their_owners_and_typos_in_them_reported() {
        #[derive(Debug, Deserialize, PartialEq)]
        #[serde(deny_unknown_fields)]
        struct Retention {
            days: u32,
        }
        let c = cfg("[policy]\n[retention]\ndays = 400\n[webhook]\nurl = \"http://x\"\n");
        assert_eq!(
            c.section::<Retention>("retention").unwrap(),
            Some(Retention { days: 400 })
        );
        assert_eq!(c.section::<Retention>("keys").unwrap(), None);
        let c = cfg("[retention]\ndayz = 400\n");
        let e = c.section::<Retention>("retention").unwrap_err().to_string();
        assert!(
            e.starts_with("rapport.toml line 2, key `retention.dayz`"),
            "{e}"
        );
    }

    #[test]
    fn a_rapport_toml_beside_the_database_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("book.db");
        let db = format!("sqlite://{}", db.display());
        assert!(Config::locate(None, &db).unwrap().path().is_none());
        std::fs::write(
            dir.path().join(FILE_NAME),
            "[policy.tier]\npreset = \"vip_heavy\"\n",
        )
        .unwrap();
        let c = Config::locate(None, &db).unwrap();
        assert_eq!(c.policies().unwrap().tier.ladder, TierLadder::vip_heavy());
        let missing = dir.path().join("nope.toml");
        assert!(matches!(
            Config::locate(Some(&missing), &db),
            Err(ConfigError::Read { .. })
        ));
    }
}
