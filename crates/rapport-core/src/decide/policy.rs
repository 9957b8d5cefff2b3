//! [`Policies`]: a tenant's rules in one value — tag rules, the tier ladder, the lifecycle,
//! churn risk and RFM — whose `Default` is DOMAIN.md's defaults.

use serde::{Deserialize, Serialize};

use crate::decide::churn::ChurnPolicy;
use crate::decide::lifecycle::LifecyclePolicy;
use crate::decide::rfm::RfmPolicy;
use crate::decide::tag_rule::TagRule;
use crate::decide::tier::TierPolicy;
use crate::error::DomainError;
use crate::model::money::Currency;

/// A tenant's rules. `Default` is DOMAIN.md's defaults and no tag rules.
///
/// Serialises to one document a host can store per tenant; fields left out read as their
/// defaults (a document stored before the base currency existed reads as USD:
/// [`Policies::currency`]).
///
/// ```
/// use rapport_core::*;
/// let p = Policies {
///     tag_rules: vec![TagRule::parse("when rfm.r >= 4 and rfm.f >= 4 then tag rfm:champion").unwrap()],
///     tier: TierPolicy { ladder: TierLadder::vip_heavy(), ..TierPolicy::default() },
///     ..Policies::default()
/// };
/// p.validate()?;
/// let json = serde_json::to_string(&p).unwrap();
/// assert_eq!(serde_json::from_str::<Policies>(&json).unwrap(), p);
/// assert_eq!(serde_json::from_str::<Policies>("{}").unwrap(), Policies::default());
/// # Ok::<(), DomainError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Policies {
    /// Tag rules, evaluated in order after tier, stage and churn risk are decided.
    pub tag_rules: Vec<TagRule>,
    /// Tiers.
    pub tier: TierPolicy,
    /// Lifecycle.
    pub lifecycle: LifecyclePolicy,
    /// Churn risk.
    pub churn: ChurnPolicy,
    /// RFM.
    pub rfm: RfmPolicy,
    /// Cases: SLA, reopen window, cases from complaints, weight in the churn risk.
    pub cases: crate::decide::case::CasePolicy,
    /// Accounts (B2B): their own tier ladder, lifecycle, churn and RFM policies.
    pub accounts: crate::decide::account_value::AccountPolicies,
    /// What [`Stats`](crate::Stats) keep beyond the defaults: per-category spend.
    pub stats: StatsPolicy,
}

/// What [`Stats`](crate::Stats) keep beyond the defaults. `Default` keeps nothing more (no
/// cost for a host that does not ask).
///
/// `category_spend`: the categories whose net spend per UTC day the stats keep, so that
/// `category_spend("tea", DAYS)` in segments and tag rules is answered from the stats instead
/// of the customer's line items (other categories are still answered from the line items).
///
/// ```
/// use rapport_core::*;
/// let p: Policies = serde_json::from_str(r#"{"stats": {"category_spend": ["tea"]}}"#).unwrap();
/// assert!(p.stats.category_spend.contains(&ProductCategory::new("tea")?));
/// assert!(Policies::default().stats.category_spend.is_empty());
/// # Ok::<(), DomainError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StatsPolicy {
    /// The tracked categories.
    pub category_spend: std::collections::BTreeSet<crate::model::id::ProductCategory>,
}

impl Policies {
    /// The tenant's base currency: the tier policy's [`currency`](TierPolicy::currency). Tier
    /// thresholds on money metrics and the money literals of tag rules (`revenue_365d > 100`)
    /// are amounts in it.
    ///
    /// ```
    /// use rapport_core::*;
    /// assert_eq!(Policies::default().currency(), Currency::USD);
    /// let yuan = Policies::default().with_currency(Currency::CNY);
    /// assert_eq!(yuan.currency(), Currency::CNY);
    /// assert_eq!(yuan.tier.ladder, TierLadder::customer_pyramid()); // the same amounts, now in CNY
    /// ```
    #[must_use]
    pub fn currency(&self) -> Currency {
        self.tier.currency
    }

    /// With `currency` as the base currency (the ladders' amounts are kept as they are; the
    /// accounts' ladder takes it too).
    ///
    /// ```
    /// use rapport_core::*;
    /// let eur = Policies::default().with_currency(Currency::EUR);
    /// assert_eq!((eur.tier.currency, eur.accounts.tier.currency), (Currency::EUR, Currency::EUR));
    /// ```
    #[must_use]
    pub fn with_currency(mut self, currency: Currency) -> Self {
        self.tier.currency = currency;
        self.accounts.tier.currency = currency;
        self
    }

    /// True when evaluating needs the population step ([`rank()`](crate::decide::rank::rank)): a share ladder, RFM
    /// total as the tier metric, or a tag rule that reads RFM scores. A sweep skips the
    /// ranking pass when this is false (the default policies: a threshold ladder, no rules).
    ///
    /// ```
    /// use rapport_core::*;
    /// assert!(!Policies::default().needs_ranking());
    /// let mut p = Policies::default();
    /// p.tag_rules.push(TagRule::parse("when rfm.r >= 4 then tag value:recent").unwrap());
    /// assert!(p.needs_ranking());
    /// let mut p = Policies::default();
    /// p.tier.ladder = TierLadder::vip_heavy();
    /// assert!(p.needs_ranking());
    /// ```
    #[must_use]
    pub fn needs_ranking(&self) -> bool {
        matches!(
            self.tier.ladder.rungs,
            crate::decide::tier::Rungs::Shares { .. }
        ) || self.tier.ladder.metric == crate::decide::tier::TierMetric::RfmTotal
            || self.tag_rules.iter().any(TagRule::reads_population)
    }

    /// True when a tag rule tests account roles (`has_account_role(...)`): evaluating a
    /// customer then needs the roles it holds over its active account links, passed in as
    /// [`EvalInputs::account_roles`](crate::EvalInputs::account_roles) (the service reads them
    /// with [`Store::account_roles`](crate::ports::Store::account_roles) only in that case).
    ///
    /// ```
    /// use rapport_core::*;
    /// assert!(!Policies::default().uses_account_roles());
    /// let mut p = Policies::default();
    /// p.tag_rules.push(TagRule::parse(r#"when has_account_role("buyer") then tag b2b:buyer"#).unwrap());
    /// assert!(p.uses_account_roles());
    /// ```
    #[must_use]
    pub fn uses_account_roles(&self) -> bool {
        self.tag_rules.iter().any(TagRule::uses_account_roles)
    }

    /// Checks every policy.
    ///
    /// # Errors
    /// The first [`DomainError::InvalidPolicy`].
    ///
    /// ```
    /// use rapport_core::*;
    /// assert!(Policies::default().validate().is_ok());
    /// let bad = Policies { churn: ChurnPolicy { alert_threshold: 2.0, ..ChurnPolicy::default() }, ..Policies::default() };
    /// assert!(matches!(bad.validate(), Err(DomainError::InvalidPolicy { field: "churn.alert_threshold", .. })));
    /// ```
    pub fn validate(&self) -> Result<(), DomainError> {
        self.tier.validate()?;
        self.lifecycle.validate()?;
        self.churn.validate()?;
        self.rfm.validate()?;
        self.cases.validate()?;
        self.accounts.validate()
    }
}
