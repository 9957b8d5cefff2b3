//! The one entry point the service calls: [`evaluate`] a customer at `now` under the tenant's
//! [`Policies`]: tier, lifecycle stage, churn risk, then tag rules (which may use all three),
//! with the events they raise and a [`Reason`](crate::decide::reason::Reason) for each decision.
//! Population-level inputs (RFM quintiles, share-ladder tiers) come from the
//! [`rank`](mod@crate::decide::rank) step.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::decide::churn::ChurnRisk;
use crate::decide::lifecycle::{Advanced, StageDecision, advance_with};
use crate::decide::policy::Policies;
use crate::decide::rank::Ranked;
use crate::decide::rfm::RfmScores;
use crate::decide::segment::{PurchaseSummary, SegmentContext};
use crate::decide::tag_rule::{TagChange, evaluate_tag_rules, evaluate_tag_rules_unranked};
use crate::decide::tier::{TierDecision, TierMetric, TierPolicy};
use crate::error::DomainError;
use crate::event::DomainEvent;
use crate::model::account::AccountRoleSet;
use crate::model::customer::Customer;
use crate::model::lifecycle::Lifecycle;
use crate::model::money::Money;
use crate::model::stats::Stats;
use crate::model::tag::{Tag, TagSource};
use crate::model::tier::Tier;

/// What the caller knows besides the customer: `now` and the population-level inputs.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use rapport_core::*;
/// use rust_decimal::Decimal;
/// let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
/// let inputs = EvalInputs::at(now);
/// assert_eq!((inputs.now, inputs.rfm, inputs.p_alive), (now, None, None));
///
/// // A CLV ladder reads the host's metric.
/// let policies = Policies {
///     tier: TierPolicy {
///         ladder: TierLadder { metric: TierMetric::Clv, ..TierLadder::customer_pyramid() },
///         ..TierPolicy::default()
///     },
///     ..Policies::default()
/// };
/// let c = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
/// let with_clv = EvalInputs { host_metric: Some(Decimal::from(3_000)), ..inputs };
/// assert_eq!(evaluate(&c, &Stats::default(), &policies, &with_clv)?.tier.to, Tier::Gold);
/// # Ok::<(), DomainError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EvalInputs {
    /// The time of the decision.
    pub now: DateTime<Utc>,
    /// The customer's RFM scores from [`rank`](crate::decide::rank::rank).
    pub rfm: Option<RfmScores>,
    /// The tier a share ladder gives (from [`rank`](crate::decide::rank::rank)).
    pub share_tier: Option<Tier>,
    /// A host-supplied metric (predicted CLV or any value) for `Clv`/`HostValue` ladders. A
    /// CLV is an amount in the policy's base [`currency`](TierPolicy::currency): a host whose
    /// customers buy in several currencies converts it first.
    pub host_metric: Option<Decimal>,
    /// P(alive) from a fitted model.
    pub p_alive: Option<f64>,
    /// The churn risk at the previous evaluation (for the raise-alert event); by default the
    /// customer's stored alert flag is used.
    pub previous_churn_risk: Option<f64>,
    /// True when `rfm` and `share_tier` come from a population ranking (set by
    /// [`EvalInputs::with_ranked`]), even if the customer has no RFM scores (no purchase).
    /// Without a ranking (and without `rfm`), tag rules that read RFM scores leave their tags
    /// as they are ([`evaluate_tag_rules_unranked`]) and a share ladder keeps the tier, so a
    /// single-customer evaluation never undoes what the last sweep decided.
    #[serde(default)]
    pub ranked: bool,
    /// The roles the customer holds over its active account links, for tag rules that test
    /// `has_account_role(...)` ([`Policies::uses_account_roles`]); empty by default, so such
    /// a rule does not hold. Set with [`EvalInputs::with_account_roles`].
    #[serde(default, skip_serializing_if = "no_roles")]
    pub account_roles: AccountRoleSet,
}

/// For serde: inputs without roles serialise as before they existed.
fn no_roles(roles: &AccountRoleSet) -> bool {
    roles.is_empty()
}

impl EvalInputs {
    /// Inputs with only `now`.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport_core::*;
    /// let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
    /// let inputs = EvalInputs::at(now);
    /// assert_eq!(inputs.now, now);
    /// assert!(inputs.rfm.is_none() && inputs.p_alive.is_none() && inputs.host_metric.is_none());
    /// ```
    #[must_use]
    pub fn at(now: DateTime<Utc>) -> Self {
        Self {
            now,
            rfm: None,
            share_tier: None,
            host_metric: None,
            p_alive: None,
            previous_churn_risk: None,
            ranked: false,
            account_roles: AccountRoleSet::default(),
        }
    }

    /// With the roles the customer holds over its active account links (read from the store
    /// when [`Policies::uses_account_roles`]), so tag rules on `has_account_role(...)` decide.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport_core::*;
    /// let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
    /// let policies = Policies {
    ///     tag_rules: vec![TagRule::parse(r#"when has_account_role("decision_maker") then tag b2b:dm"#)?],
    ///     ..Policies::default()
    /// };
    /// let c = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
    /// let boss: AccountRoleSet = [AccountRole::DecisionMaker].into_iter().collect();
    /// let e = evaluate(&c, &Stats::default(), &policies, &EvalInputs::at(now).with_account_roles(boss))?;
    /// assert_eq!(e.tags_added[0].tag.as_str(), "b2b:dm");
    /// // Without the roles the rule does not hold.
    /// assert!(evaluate(&c, &Stats::default(), &policies, &EvalInputs::at(now))?.tags_added.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_account_roles(mut self, roles: AccountRoleSet) -> Self {
        self.account_roles = roles;
        self
    }

    /// With the customer's output of the population [`rank`](crate::decide::rank::rank) step (RFM
    /// scores and share tier), if it was ranked.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport_core::*;
    /// let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
    /// let ranked = Ranked { customer: CustomerId::from_u128(1), rfm: RfmScores::new(5, 4, 3), share_tier: None };
    /// assert_eq!(EvalInputs::at(now).with_ranked(Some(&ranked)).rfm, RfmScores::new(5, 4, 3));
    /// assert!(EvalInputs::at(now).with_ranked(Some(&ranked)).ranked);
    /// assert!(!EvalInputs::at(now).with_ranked(None).ranked); // not in the ranking
    /// ```
    #[must_use]
    pub fn with_ranked(mut self, ranked: Option<&Ranked>) -> Self {
        self.rfm = ranked.and_then(|r| r.rfm);
        self.share_tier = ranked.and_then(|r| r.share_tier);
        self.ranked = ranked.is_some();
        self
    }
}

/// Everything `evaluate` decided, with reasons. [`Evaluation::apply_to`] writes it into the
/// customer; [`Evaluation::is_noop`] tells whether there is anything to write.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use rapport_core::*;
/// let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
/// let mut c = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
/// // Stale: there is no purchase in the stats.
/// c.set_lifecycle(Lifecycle { stage: Stage::Active, ..c.lifecycle().clone() })?;
/// let e = evaluate(&c, &Stats::default(), &Policies::default(), &EvalInputs::at(now))?;
/// assert!(!e.is_noop(&c));
/// assert_eq!((e.stage.from, e.stage.to), (Stage::Active, Stage::Prospect));
/// assert!(matches!(e.events[..], [DomainEvent::StageChanged { to: Stage::Prospect, .. }]));
/// assert!(!e.churn_alert);
/// e.apply_to(&mut c);
/// assert_eq!(c.stage(), Stage::Prospect);
/// assert!(e.is_noop(&c));
/// # Ok::<(), DomainError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Evaluation {
    /// Tags the tag rules add (sourced [`TagSource::Rule`]), sorted by tag.
    pub tags_added: Vec<TagChange>,
    /// Tags removed: rule tags whose rules stopped holding, and expired tags of any source;
    /// sorted by tag.
    pub tags_removed: Vec<TagChange>,
    /// The tier decision.
    pub tier: TierDecision,
    /// The stage decision.
    pub stage: StageDecision,
    /// The new lifecycle state.
    pub lifecycle: Lifecycle,
    /// The churn risk.
    pub churn_risk: ChurnRisk,
    /// True when the churn risk is at or above the policy's alert threshold.
    pub churn_alert: bool,
    /// Events to write to the outbox.
    pub events: Vec<DomainEvent>,
}

impl Evaluation {
    /// True when it decides nothing new for `customer` (evaluated from its current state): no
    /// tag added or removed, the same tier state, lifecycle and churn alert. Nothing to store.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport_core::*;
    /// let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
    /// let policies = Policies {
    ///     tag_rules: vec![TagRule::parse("when stage == prospect then tag funnel:lead")?],
    ///     ..Policies::default()
    /// };
    /// let mut c = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
    /// let e = evaluate(&c, &Stats::default(), &policies, &EvalInputs::at(now))?;
    /// assert!(!e.is_noop(&c)); // it adds funnel:lead
    /// e.apply_to(&mut c);
    /// let again = evaluate(&c, &Stats::default(), &policies, &EvalInputs::at(now))?;
    /// assert!(again.is_noop(&c));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn is_noop(&self, customer: &Customer) -> bool {
        self.tags_added.is_empty()
            && self.tags_removed.is_empty()
            && self.tier.state == customer.tier
            && self.lifecycle == customer.lifecycle
            && customer.churn_alert == self.churn_alert
    }

    /// Writes the decisions into `customer` (the service then stores it at the next version):
    /// tag removals first, then additions, the tier state, the lifecycle and the churn alert.
    /// A `Merged` or `Erased` customer is final and left as it is.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport_core::*;
    /// let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
    /// let policies = Policies {
    ///     tag_rules: vec![TagRule::parse("when stage == prospect then tag funnel:lead")?],
    ///     ..Policies::default()
    /// };
    /// let mut c = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
    /// let e = evaluate(&c, &Stats::default(), &policies, &EvalInputs::at(now))?;
    /// e.apply_to(&mut c);
    /// let lead: Tag = "funnel:lead".parse()?;
    /// assert!(c.tags.contains(&lead, now));
    /// assert_eq!(c.tags.get(&lead).unwrap().source, TagSource::Rule);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply_to(&self, customer: &mut Customer) {
        if !customer.is_live() {
            // Merged and erased customers are final: nothing of an evaluation applies.
            return;
        }
        for c in &self.tags_removed {
            customer.tags.remove(&c.tag);
        }
        for c in &self.tags_added {
            customer
                .tags
                .insert(c.tag.clone(), TagSource::Rule, c.reason.at, c.expires_at);
        }
        customer.tier = self.tier.state.clone();
        customer.lifecycle = self.lifecycle.clone();
        customer.churn_alert = self.churn_alert;
    }
}

/// A tag change compares equal to the tag it is about, so `evaluation.tags_removed == [tag]`
/// reads as it means.
impl PartialEq<Tag> for TagChange {
    fn eq(&self, other: &Tag) -> bool {
        self.tag == *other
    }
}

/// The tier metric: revenue and margin as money in the customer's currency (the policy's
/// base currency before any purchase: zero is zero in every currency), the rest as numbers —
/// a host's CLV is taken to be in the base currency, as [`EvalInputs::host_metric`] says.
enum Metric {
    Money(Money),
    Number(Option<Decimal>),
}

fn metric_value(policy: &TierPolicy, stats: &Stats, inputs: &EvalInputs) -> Metric {
    let money = |amount| {
        Metric::Money(Money::new(
            amount,
            stats.currency().unwrap_or(policy.currency),
        ))
    };
    match policy.ladder.metric {
        TierMetric::Revenue365 => money(stats.rolling_365(inputs.now).revenue),
        TierMetric::Margin => money(stats.margin_amount()),
        TierMetric::RfmTotal => Metric::Number(inputs.rfm.map(|r| Decimal::from(r.total()))),
        TierMetric::Clv | TierMetric::HostValue => Metric::Number(inputs.host_metric),
    }
}

/// The tier decision: a money metric in another currency than the policy's is refused
/// ([`TierPolicy::decide_money`]) and the tier stays, with the reason `tier.currency_mismatch`.
pub(crate) fn decide_tier(
    policy: &TierPolicy,
    customer: &Customer,
    stats: &Stats,
    inputs: &EvalInputs,
) -> Result<TierDecision, DomainError> {
    decide_tier_state(policy, &customer.tier, stats, inputs)
}

/// [`decide_tier`] from a stored tier state (an account's, or a customer's).
pub(crate) fn decide_tier_state(
    policy: &TierPolicy,
    state: &crate::model::tier::TierState,
    stats: &Stats,
    inputs: &EvalInputs,
) -> Result<TierDecision, DomainError> {
    let (share, now) = (inputs.share_tier, inputs.now);
    match metric_value(policy, stats, inputs) {
        Metric::Number(v) => Ok(policy.decide(state, v, share, now)),
        Metric::Money(m) => match policy.decide_money(state, Some(m), share, now) {
            Err(DomainError::CurrencyMismatch { .. }) => Ok(policy.refuse_currency(state, m, now)),
            other => other,
        },
    }
}

/// Evaluates a customer at `inputs.now`, in this order: tier, lifecycle stage, churn risk,
/// then tag rules — which see the new tier and stage, the RFM scores and the churn risk —
/// and expired tags; and the events all this raises. Without a ranking
/// ([`EvalInputs::ranked`] false and no `rfm`), what depends on the population — a share
/// ladder's tier, the tags of rules on RFM scores — stays as it is. Pure: the same inputs give the same
/// result, and applying it then evaluating again at the same `now` is a no-op.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use rapport_core::*;
/// let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
/// let policies = Policies {
///     tag_rules: vec![TagRule::parse("when stage == prospect then tag funnel:lead").unwrap()],
///     ..Policies::default()
/// };
/// let mut c = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
/// let e = evaluate(&c, &Stats::default(), &policies, &EvalInputs::at(now))?;
/// assert_eq!(e.stage.to, Stage::Prospect);
/// assert_eq!(e.tier.to, Tier::Lead);
/// assert_eq!(e.tags_added[0].tag.as_str(), "funnel:lead");
/// assert_eq!(e.events[0].name(), "tag_added");
/// e.apply_to(&mut c);
/// let again = evaluate(&c, &Stats::default(), &policies, &EvalInputs::at(now))?;
/// assert!(again.is_noop(&c) && again.events.is_empty());
/// # Ok::<(), DomainError>(())
/// ```
///
/// # Errors
/// [`DomainError::Tombstoned`] for a merged or erased customer.
pub fn evaluate(
    customer: &Customer,
    stats: &Stats,
    policies: &Policies,
    inputs: &EvalInputs,
) -> Result<Evaluation, DomainError> {
    evaluate_with_purchases(customer, stats, policies, inputs, None)
}

/// [`evaluate`] with the customer's purchases from its line items, for tag rules that read
/// them (`bought(...)`, `category_spend(...)`). Without them (`None`, as [`evaluate`]) the
/// tags of such rules stay as they are: a rule on line items is never decided blind.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use rapport_core::*;
/// use rapport_core::segment::PurchaseSummary;
/// let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
/// let policies = Policies {
///     tag_rules: vec![TagRule::parse(r#"when bought("puer") then tag taste:puer"#).unwrap()],
///     ..Policies::default()
/// };
/// let c = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
/// let lines = LineItems { activity: ActivityId::from_u128(3), customer: c.id(), order: OrderId::new("o1")?,
///     at: now, refund: false, items: vec![LineItem::new(Sku::new("puer")?, 1, Money::new(5.into(), Currency::USD), None)?] };
/// let bought = PurchaseSummary::from_line_items(&[lines]);
/// let e = evaluate_with_purchases(&c, &Stats::default(), &policies, &EvalInputs::at(now), Some(&bought))?;
/// assert_eq!(e.tags_added[0].tag.as_str(), "taste:puer");
/// // Without the line items the rule is not decided: no tag added (nor removed).
/// assert!(evaluate(&c, &Stats::default(), &policies, &EvalInputs::at(now))?.tags_added.is_empty());
/// # Ok::<(), DomainError>(())
/// ```
///
/// # Errors
/// As [`evaluate`].
pub fn evaluate_with_purchases(
    customer: &Customer,
    stats: &Stats,
    policies: &Policies,
    inputs: &EvalInputs,
    purchases: Option<&PurchaseSummary>,
) -> Result<Evaluation, DomainError> {
    customer.ensure_live()?;
    let now = inputs.now;
    let id = customer.id();
    let tier = decide_tier(&policies.tier, customer, stats, inputs)?;
    // The purchase history is read once for the stage and the churn risk.
    let rhythm = policies.lifecycle.rhythm(stats, now);
    let Advanced {
        lifecycle,
        decision: stage,
    } = advance_with(
        &rhythm,
        &customer.lifecycle,
        &policies.lifecycle,
        now,
        inputs.p_alive,
    );
    let churn_risk = policies
        .churn
        .assess_with(stats, &rhythm, now, inputs.p_alive);
    let threshold = policies.churn.alert_threshold;
    let churn_alert = churn_risk.score >= threshold;

    // Tag rules see the customer as decided above; copy it only when a rule could tell.
    let decided;
    let subject = if policies.tag_rules.is_empty()
        || (tier.state == customer.tier
            && lifecycle == customer.lifecycle
            && churn_alert == customer.churn_alert)
    {
        customer
    } else {
        let mut c = customer.clone();
        c.tier = tier.state.clone();
        c.lifecycle = lifecycle.clone();
        c.churn_alert = churn_alert;
        decided = c;
        &decided
    };
    let mut ctx = SegmentContext::new(subject, stats, now)
        .with_currency(Some(policies.tier.currency))
        .with_rfm(inputs.rfm)
        .with_churn_risk(Some(churn_risk.score))
        .with_account_roles(inputs.account_roles);
    if let Some(p) = purchases {
        ctx = ctx.with_purchases(p);
    }
    // Without a ranking, rules on RFM scores cannot be decided: their tags stay as the last
    // sweep left them (a record or evaluate must not undo it with nothing changed).
    let tags = if inputs.ranked || inputs.rfm.is_some() {
        evaluate_tag_rules(&policies.tag_rules, &ctx)
    } else {
        evaluate_tag_rules_unranked(&policies.tag_rules, &ctx)
    };

    let mut events = Vec::new();
    for c in &tags.removed {
        events.push(DomainEvent::TagRemoved {
            customer: id,
            tag: c.tag.clone(),
        });
    }
    for c in &tags.added {
        events.push(DomainEvent::TagAdded {
            customer: id,
            tag: c.tag.clone(),
            source: TagSource::Rule,
        });
    }
    if tier.changed() {
        events.push(DomainEvent::TierChanged {
            customer: id,
            from: tier.from,
            to: tier.to,
        });
    }
    if stage.changed() {
        events.push(DomainEvent::StageChanged {
            customer: id,
            from: stage.from,
            to: stage.to,
        });
    }
    let was_alert = inputs
        .previous_churn_risk
        .map_or(customer.churn_alert, |p| p >= threshold);
    if churn_alert && !was_alert {
        events.push(DomainEvent::ChurnRiskRaised {
            customer: id,
            risk: churn_risk.score,
        });
    }
    Ok(Evaluation {
        tags_added: tags.added,
        tags_removed: tags.removed,
        tier,
        stage,
        lifecycle,
        churn_risk,
        churn_alert,
        events,
    })
}
