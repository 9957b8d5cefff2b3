//! Tier rules: ladders (the customer pyramid and others), the tenant's tier policy and the
//! decision that moves a customer up at once and down after a grace period.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::model::money::{Currency, Money};
use crate::model::tier::{Tier, TierState};
use rust_decimal::Decimal;

use crate::decide::reason::{Reason, Value};

/// What a tier ladder ranks customers by.
///
/// ```
/// use rapport_core::{TierLadder, TierMetric};
/// assert_eq!(TierLadder::customer_pyramid().metric, TierMetric::Revenue365);
/// assert_eq!(TierMetric::Revenue365.as_str(), "revenue_365d");
/// assert_eq!(TierMetric::RfmTotal.as_str(), "rfm_total");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TierMetric {
    /// Net revenue of the last 365 days (the default).
    Revenue365,
    /// Total net margin to date.
    Margin,
    /// Predicted CLV, supplied by the host (e.g. from `rapport-clv`).
    Clv,
    /// RFM total score (3–15).
    RfmTotal,
    /// Any other value the host supplies.
    HostValue,
}

impl TierMetric {
    /// The snake-case name.
    ///
    /// ```
    /// use rapport_core::TierMetric;
    /// assert_eq!(TierMetric::Margin.as_str(), "margin");
    /// assert_eq!(TierMetric::HostValue.as_str(), "host_value");
    /// ```
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            TierMetric::Revenue365 => "revenue_365d",
            TierMetric::Margin => "margin",
            TierMetric::Clv => "clv",
            TierMetric::RfmTotal => "rfm_total",
            TierMetric::HostValue => "host_value",
        }
    }

    /// True for the metrics that are amounts of money — 365-day revenue, margin and CLV. On
    /// them the entries of a threshold ladder are amounts in the policy's base
    /// [`currency`](TierPolicy::currency), and a customer's amount is compared with them only
    /// when it is in that currency. The RFM total and a host value are plain numbers.
    ///
    /// ```
    /// use rapport_core::TierMetric;
    /// assert!(TierMetric::Revenue365.is_money() && TierMetric::Margin.is_money() && TierMetric::Clv.is_money());
    /// assert!(!TierMetric::RfmTotal.is_money() && !TierMetric::HostValue.is_money());
    /// ```
    #[must_use]
    pub fn is_money(self) -> bool {
        matches!(
            self,
            TierMetric::Revenue365 | TierMetric::Margin | TierMetric::Clv
        )
    }
}

/// How rungs are entered.
///
/// ```
/// use rapport_core::{Rungs, Tier, TierLadder, TierMetric};
/// use rust_decimal::Decimal;
/// // A two-rung ladder on total margin: Gold from 500, Lead below (no Iron).
/// let l = TierLadder {
///     metric: TierMetric::Margin,
///     rungs: Rungs::Thresholds { entries: vec![(Tier::Gold, Decimal::from(500))] },
/// };
/// assert!(l.validate().is_ok());
/// assert_eq!(l.lookup(Decimal::from(700)), Tier::Gold);
/// assert_eq!(l.tiers(), vec![Tier::Lead, Tier::Gold]);
/// assert!(matches!(TierLadder::classic_pyramid().rungs, Rungs::Shares { .. }));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
#[non_exhaustive]
pub enum Rungs {
    /// Entry thresholds on the metric, for the tiers above Lead (Lead is everything below).
    Thresholds {
        /// `(tier, entry)` pairs; the entry of a higher tier must be higher.
        entries: Vec<(Tier, Decimal)>,
    },
    /// Shares of the tenant's customers ranked by the metric, from the top: e.g. Platinum 1 %,
    /// Gold 4 %, Iron 15 %, Lead the rest. Assigned by the population `rank` step.
    Shares {
        /// `(tier, percent)` from the top tier down, Lead last.
        shares: Vec<(Tier, Decimal)>,
    },
}

/// A value ladder: a metric and its rungs.
///
/// ```
/// use rapport_core::{Tier, TierLadder};
/// use rust_decimal::Decimal;
/// let l = TierLadder::customer_pyramid();
/// assert_eq!(l.lookup(Decimal::from(2_500)), Tier::Gold);
/// assert_eq!(l.lookup(Decimal::from(199)), Tier::Lead);
/// assert_eq!(l.entry(Tier::Platinum), Some(Decimal::from(10_000)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierLadder {
    /// The metric.
    pub metric: TierMetric,
    /// The rungs.
    pub rungs: Rungs,
}

impl TierLadder {
    /// The default customer pyramid: Platinum ≥ 10,000, Gold ≥ 2,000, Iron ≥ 200, Lead below,
    /// on rolling 365-day revenue.
    ///
    /// ```
    /// use rapport_core::{Tier, TierLadder, TierMetric};
    /// use rust_decimal::Decimal;
    /// let pyramid = TierLadder::customer_pyramid();
    /// assert_eq!(pyramid.metric, TierMetric::Revenue365);
    /// assert_eq!(pyramid.lookup(Decimal::from(10_000)), Tier::Platinum);
    /// assert_eq!(pyramid.lookup(Decimal::from(200)), Tier::Iron);
    /// assert!(pyramid.validate().is_ok());
    /// ```
    #[must_use]
    pub fn customer_pyramid() -> Self {
        Self {
            metric: TierMetric::Revenue365,
            rungs: Rungs::Thresholds {
                entries: vec![
                    (Tier::Iron, Decimal::from(200)),
                    (Tier::Gold, Decimal::from(2_000)),
                    (Tier::Platinum, Decimal::from(10_000)),
                ],
            },
        }
    }

    fn shares(metric: TierMetric, p: [u32; 4]) -> Self {
        Self {
            metric,
            rungs: Rungs::Shares {
                shares: vec![
                    (Tier::Platinum, Decimal::from(p[0])),
                    (Tier::Gold, Decimal::from(p[1])),
                    (Tier::Iron, Decimal::from(p[2])),
                    (Tier::Lead, Decimal::from(p[3])),
                ],
            },
        }
    }

    /// By share: top 1 % Platinum, next 4 % Gold, next 15 % Iron, the rest Lead.
    ///
    /// ```
    /// use rapport_core::{Rungs, Tier, TierLadder};
    /// use rust_decimal::Decimal;
    /// let l = TierLadder::vip_heavy();
    /// let Rungs::Shares { shares } = &l.rungs else { unreachable!() };
    /// assert_eq!(shares[0], (Tier::Platinum, Decimal::from(1)));
    /// assert_eq!(l.lookup(Decimal::from(1_000_000)), Tier::Lead); // shares are ranked, not looked up
    /// assert_eq!(l.entry(Tier::Gold), None);
    /// ```
    #[must_use]
    pub fn vip_heavy() -> Self {
        Self::shares(TierMetric::Revenue365, [1, 4, 15, 80])
    }

    /// By share: about 20/30/30/20 % from the top.
    ///
    /// ```
    /// use rapport_core::{Rungs, Tier, TierLadder};
    /// use rust_decimal::Decimal;
    /// let l = TierLadder::classic_pyramid();
    /// assert!(l.validate().is_ok());
    /// let Rungs::Shares { shares } = &l.rungs else { unreachable!() };
    /// let top: Vec<_> = shares.iter().map(|(t, p)| (*t, p.to_string())).collect();
    /// assert_eq!(top[0], (Tier::Platinum, "20".to_owned()));
    /// assert_eq!(top[3], (Tier::Lead, "20".to_owned()));
    /// ```
    #[must_use]
    pub fn classic_pyramid() -> Self {
        Self::shares(TierMetric::Revenue365, [20, 30, 30, 20])
    }

    /// Checks that thresholds rise with the tier (Lead has none), or that shares are listed from
    /// the top tier down, are non-negative and sum to 100.
    ///
    /// ```
    /// use rapport_core::{Rungs, Tier, TierLadder, TierMetric};
    /// use rust_decimal::Decimal;
    /// assert!(TierLadder::vip_heavy().validate().is_ok());
    /// let upside_down = TierLadder {
    ///     metric: TierMetric::Revenue365,
    ///     rungs: Rungs::Shares { shares: vec![(Tier::Lead, Decimal::from(80)), (Tier::Platinum, Decimal::from(20))] },
    /// };
    /// assert!(upside_down.validate().is_err());
    /// ```
    ///
    /// # Errors
    /// [`DomainError::InvalidPolicy`].
    pub fn validate(&self) -> Result<(), DomainError> {
        match &self.rungs {
            Rungs::Thresholds { entries } => {
                let mut sorted = entries.clone();
                sorted.sort_by_key(|(t, _)| *t);
                // Lead has no entry: it is everything below the lowest rung.
                if sorted.iter().any(|(t, _)| *t == Tier::Lead)
                    || sorted
                        .windows(2)
                        .any(|w| w[0].0 == w[1].0 || w[0].1 >= w[1].1)
                {
                    return Err(DomainError::InvalidPolicy {
                        field: "tier.thresholds",
                        value: format!("{entries:?}"),
                        reason: "each tier above lead once, higher tiers with higher entries",
                    });
                }
            }
            Rungs::Shares { shares } => {
                let sum: Decimal = shares.iter().map(|(_, p)| *p).sum();
                if shares.iter().any(|(_, p)| p.is_sign_negative()) || sum != Decimal::from(100) {
                    return Err(DomainError::InvalidPolicy {
                        field: "tier.shares",
                        value: format!("{shares:?}"),
                        reason: "shares are percentages >= 0 that sum to 100",
                    });
                }
                // Shares are taken from the top: a bottom-up list would crown the majority.
                if shares.windows(2).any(|w| w[0].0 <= w[1].0) {
                    return Err(DomainError::InvalidPolicy {
                        field: "tier.shares",
                        value: format!("{shares:?}"),
                        reason: "list each tier once, from the top tier down",
                    });
                }
            }
        }
        Ok(())
    }

    /// The entry threshold of `tier` on a threshold ladder (`None` for Lead and for shares).
    ///
    /// ```
    /// use rapport_core::{Tier, TierLadder};
    /// use rust_decimal::Decimal;
    /// assert_eq!(TierLadder::customer_pyramid().entry(Tier::Gold), Some(Decimal::from(2_000)));
    /// assert_eq!(TierLadder::customer_pyramid().entry(Tier::Lead), None);
    /// assert_eq!(TierLadder::vip_heavy().entry(Tier::Gold), None);
    /// ```
    #[must_use]
    pub fn entry(&self, tier: Tier) -> Option<Decimal> {
        match &self.rungs {
            Rungs::Thresholds { entries } => {
                entries.iter().find(|(t, _)| *t == tier).map(|(_, e)| *e)
            }
            Rungs::Shares { .. } => None,
        }
    }

    /// The tiers this ladder uses, from the bottom up (always with Lead).
    ///
    /// ```
    /// use rapport_core::{Tier, TierLadder};
    /// assert_eq!(TierLadder::customer_pyramid().tiers(), Tier::ALL.to_vec());
    /// ```
    #[must_use]
    pub fn tiers(&self) -> Vec<Tier> {
        let named = match &self.rungs {
            Rungs::Thresholds { entries } => entries,
            Rungs::Shares { shares } => shares,
        };
        let mut tiers: Vec<Tier> = named.iter().map(|(t, _)| *t).collect();
        tiers.push(Tier::Lead);
        tiers.sort_unstable();
        tiers.dedup();
        tiers
    }

    /// The next rung down from `tier` on this ladder (Lead at the bottom): a ladder without
    /// Iron steps from Gold straight to Lead.
    ///
    /// ```
    /// use rapport_core::{Tier, TierLadder};
    /// assert_eq!(TierLadder::customer_pyramid().rung_below(Tier::Gold), Tier::Iron);
    /// assert_eq!(TierLadder::customer_pyramid().rung_below(Tier::Lead), Tier::Lead);
    /// ```
    #[must_use]
    pub fn rung_below(&self, tier: Tier) -> Tier {
        self.tiers()
            .into_iter()
            .filter(|t| *t < tier)
            .max()
            .unwrap_or(Tier::Lead)
    }

    /// The highest tier whose entry the value reaches (threshold ladders; Lead for shares).
    ///
    /// ```
    /// use rapport_core::{Tier, TierLadder};
    /// use rust_decimal::Decimal;
    /// let pyramid = TierLadder::customer_pyramid();
    /// assert_eq!(pyramid.lookup(Decimal::from(1_999)), Tier::Iron);
    /// assert_eq!(pyramid.lookup(Decimal::from(2_000)), Tier::Gold); // the entry itself qualifies
    /// assert_eq!(TierLadder::vip_heavy().lookup(Decimal::from(1_000_000)), Tier::Lead);
    /// ```
    #[must_use]
    pub fn lookup(&self, value: Decimal) -> Tier {
        match &self.rungs {
            Rungs::Thresholds { entries } => entries
                .iter()
                .filter(|(_, e)| value >= *e)
                .map(|(t, _)| *t)
                .max()
                .unwrap_or(Tier::Lead),
            Rungs::Shares { .. } => Tier::Lead,
        }
    }
}

/// Tier rules. `Default`: the customer pyramid in USD, 10 % hysteresis, 30-day grace period.
///
/// **Money has a currency.** On a money metric ([`TierMetric::is_money`]) the entries of a
/// threshold ladder are amounts in the policy's base [`currency`](TierPolicy::currency): the
/// default pyramid's Gold entry is 2,000 USD. [`TierPolicy::decide_money`] compares a
/// customer's amount with them only when it is in that currency and refuses any other with
/// [`DomainError::CurrencyMismatch`]; [`evaluate`](crate::evaluate) then keeps the tier (rule
/// `tier.currency_mismatch`). Reasons show the currency on both sides.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use rapport_core::*;
/// use rust_decimal::Decimal;
/// let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
/// let p = TierPolicy::default(); // thresholds in USD
/// assert_eq!(p.entry_money(Tier::Gold), Some(Money::new(Decimal::from(2_000), Currency::USD)));
/// let cny = Money::new(Decimal::new(478_000, 2), Currency::CNY);
/// assert_eq!(
///     p.decide_money(&TierState::default(), Some(cny), None, now).unwrap_err(),
///     DomainError::CurrencyMismatch { expected: Currency::USD, found: Currency::CNY },
/// );
/// let usd = Money::new(Decimal::new(478_000, 2), Currency::USD);
/// let d = p.decide_money(&TierState::default(), Some(usd), None, now)?;
/// assert_eq!(d.to, Tier::Gold);
/// assert_eq!(d.reason.to_string(),
///     "tier.upgrade: revenue_365d = 4780.00 USD against gold.entry = 2000 USD at 2026-06-30T00:00:00Z");
/// // A tenant selling in yuan states its ladder in yuan.
/// let yuan = TierPolicy { currency: Currency::CNY, ..TierPolicy::default() };
/// assert_eq!(yuan.decide_money(&TierState::default(), Some(cny), None, now)?.to, Tier::Gold);
/// # Ok::<(), DomainError>(())
/// ```
///
/// With no hysteresis and no grace period the tier is the plain threshold lookup:
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use rapport_core::*;
/// use rust_decimal::Decimal;
/// let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
/// let strict = TierPolicy { hysteresis: Decimal::ZERO, grace_days: 0, ..TierPolicy::default() };
/// let platinum = TierState { tier: Tier::Platinum, ..TierState::default() };
/// let d = strict.decide(&platinum, Some(Decimal::from(250)), None, now);
/// assert_eq!(d.to, strict.ladder.lookup(Decimal::from(250)));
/// assert_eq!(d.to, Tier::Iron);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TierPolicy {
    /// The ladder.
    pub ladder: TierLadder,
    /// Downgrade only below `entry × (1 − hysteresis)` (0.10).
    pub hysteresis: Decimal,
    /// ... for this many days in a row (30).
    pub grace_days: u32,
    /// The tenant's base currency (USD): on a money metric the ladder's entries are amounts in
    /// it, and amounts in any other currency are not compared with them. A policy stored
    /// before this field existed reads as USD.
    pub currency: Currency,
}

impl Default for TierPolicy {
    fn default() -> Self {
        Self {
            ladder: TierLadder::customer_pyramid(),
            hysteresis: Decimal::new(10, 2),
            grace_days: 30,
            currency: Currency::USD,
        }
    }
}

/// A tier decision with its explanation and the state to store.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use rapport_core::*;
/// use rust_decimal::Decimal;
/// let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
/// let d = TierPolicy::default().decide(&TierState::default(), Some(Decimal::from(12_000)), None, now);
/// assert!(d.changed());
/// assert_eq!((d.from, d.to, d.state.tier), (Tier::Lead, Tier::Platinum, Tier::Platinum));
/// assert_eq!(d.reason.to_string(),
///     "tier.upgrade: revenue_365d = 12000 USD against platinum.entry = 10000 USD at 2026-06-30T00:00:00Z");
/// // No metric: the tier stays.
/// let kept = TierPolicy::default().decide(&d.state, None, None, now);
/// assert!(!kept.changed());
/// assert_eq!(kept.reason.rule, "tier.metric_missing");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TierDecision {
    /// Tier before.
    pub from: Tier,
    /// Tier after.
    pub to: Tier,
    /// Why.
    pub reason: Reason,
    /// The state to store.
    pub state: TierState,
}

impl TierDecision {
    /// True when the tier moves.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport_core::{Tier, TierPolicy, TierState};
    /// use rust_decimal::Decimal;
    /// let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
    /// let policy = TierPolicy::default();
    /// let up = policy.decide(&TierState::default(), Some(Decimal::from(2_500)), None, now);
    /// assert!(up.changed() && up.to == Tier::Gold);
    /// assert!(!policy.decide(&up.state, Some(Decimal::from(2_500)), None, now).changed());
    /// ```
    #[must_use]
    pub fn changed(&self) -> bool {
        self.from != self.to
    }
}

impl TierPolicy {
    /// Checks the policy.
    ///
    /// # Errors
    /// [`DomainError::InvalidPolicy`].
    ///
    /// ```
    /// use rapport_core::{DomainError, TierPolicy};
    /// use rust_decimal::Decimal;
    /// assert!(TierPolicy::default().validate().is_ok());
    /// let p = TierPolicy { hysteresis: Decimal::ONE, ..TierPolicy::default() };
    /// assert!(matches!(p.validate(), Err(DomainError::InvalidPolicy { field: "tier.hysteresis", .. })));
    /// ```
    pub fn validate(&self) -> Result<(), DomainError> {
        if self.hysteresis.is_sign_negative() || self.hysteresis >= Decimal::ONE {
            return Err(DomainError::InvalidPolicy {
                field: "tier.hysteresis",
                value: self.hysteresis.to_string(),
                reason: "must be in [0, 1)",
            });
        }
        self.ladder.validate()
    }

    /// The entry of `tier` as money: `Some` on a threshold ladder over a money metric
    /// ([`TierMetric::is_money`]), in the policy's [`currency`](TierPolicy::currency).
    ///
    /// ```
    /// use rapport_core::*;
    /// use rust_decimal::Decimal;
    /// let eur = TierPolicy { currency: Currency::EUR, ..TierPolicy::default() };
    /// assert_eq!(eur.entry_money(Tier::Platinum), Some(Money::new(Decimal::from(10_000), Currency::EUR)));
    /// assert_eq!(eur.entry_money(Tier::Lead), None);
    /// let rfm = TierPolicy { ladder: TierLadder { metric: TierMetric::RfmTotal, ..TierLadder::customer_pyramid() }, ..eur };
    /// assert_eq!(rfm.entry_money(Tier::Platinum), None); // a score, not money
    /// ```
    #[must_use]
    pub fn entry_money(&self, tier: Tier) -> Option<Money> {
        if !self.ladder.metric.is_money() {
            return None;
        }
        self.ladder
            .entry(tier)
            .map(|e| Money::new(e, self.currency))
    }

    /// Decides the tier at `now` from a money metric: as [`TierPolicy::decide`] when `value`
    /// is in the policy's [`currency`](TierPolicy::currency) (or absent), refused otherwise —
    /// an amount is never compared with thresholds in another currency.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport_core::*;
    /// use rust_decimal::Decimal;
    /// let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
    /// let p = TierPolicy::default();
    /// let usd = Money::new(Decimal::from(2_500), Currency::USD);
    /// assert_eq!(p.decide_money(&TierState::default(), Some(usd), None, now)?,
    ///            p.decide(&TierState::default(), Some(usd.amount), None, now));
    /// let eur = Money::new(Decimal::from(2_500), Currency::EUR);
    /// assert!(matches!(p.decide_money(&TierState::default(), Some(eur), None, now),
    ///     Err(DomainError::CurrencyMismatch { expected: Currency::USD, found: Currency::EUR })));
    /// # Ok::<(), DomainError>(())
    /// ```
    ///
    /// # Errors
    /// [`DomainError::CurrencyMismatch`] when `value` is in another currency than the policy's.
    pub fn decide_money(
        &self,
        state: &TierState,
        value: Option<Money>,
        share_tier: Option<Tier>,
        now: DateTime<Utc>,
    ) -> Result<TierDecision, DomainError> {
        if let Some(m) = value
            && m.currency != self.currency
        {
            return Err(DomainError::CurrencyMismatch {
                expected: self.currency,
                found: m.currency,
            });
        }
        Ok(self.decide(state, value.map(|m| m.amount), share_tier, now))
    }

    /// The decision when the customer's amount `found` is in another currency than the
    /// policy's: nothing is compared, the tier stays (an active pin still applies), and the
    /// reason `tier.currency_mismatch` shows both currencies.
    pub(crate) fn refuse_currency(
        &self,
        state: &TierState,
        found: Money,
        now: DateTime<Utc>,
    ) -> TierDecision {
        let mut d = self.decide(state, None, None, now);
        if d.reason.rule == "tier.metric_missing" {
            d.reason = Reason::new("tier.currency_mismatch", now)
                .measured(self.ladder.metric.as_str(), Value::Money(found))
                .threshold("tier.currency", self.currency.as_str())
                .note(format!(
                    "{} is not compared with thresholds in {} (no conversion)",
                    found.currency, self.currency
                ));
        }
        d
    }

    /// Decides the tier at `now`. `value` is the metric (for threshold ladders), `share_tier`
    /// the tier the population ranking gave (for share ladders). Upgrades happen at once; a
    /// downgrade needs the metric below the band for `grace_days` and goes one rung (the next
    /// rung's grace period starts afresh; with `grace_days = 0` the decision walks down to the
    /// lookup at once); an active pin wins; a missing metric keeps the tier. On a money metric
    /// `value` is an amount in the policy's [`currency`](TierPolicy::currency) — the caller
    /// vouches for it; [`TierPolicy::decide_money`] checks it — and reasons show that currency.
    ///
    /// ```
    /// use chrono::{Duration, TimeZone, Utc};
    /// use rapport_core::*;
    /// use rust_decimal::Decimal;
    /// let now = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
    /// let p = TierPolicy::default();
    /// let gold = p.decide(&TierState::default(), Some(Decimal::from(2_500)), None, now);
    /// assert_eq!(gold.to, Tier::Gold); // upgrade at once
    /// // 1,900 is inside Gold's band (≥ 1,800): stays Gold.
    /// let stay = p.decide(&gold.state, Some(Decimal::from(1_900)), None, now + Duration::days(60));
    /// assert_eq!(stay.to, Tier::Gold);
    /// // 1,000 is below the band: the grace period starts, then one rung down.
    /// let wait = p.decide(&gold.state, Some(Decimal::from(1_000)), None, now);
    /// assert_eq!(wait.to, Tier::Gold);
    /// let down = p.decide(&wait.state, Some(Decimal::from(1_000)), None, now + Duration::days(30));
    /// assert_eq!(down.to, Tier::Iron);
    /// ```
    #[must_use]
    pub fn decide(
        &self,
        state: &TierState,
        value: Option<Decimal>,
        share_tier: Option<Tier>,
        now: DateTime<Utc>,
    ) -> TierDecision {
        let from = state.tier;
        let metric = self.ladder.metric.as_str();
        let mut next = state.clone();
        if next.pin.as_ref().is_some_and(|p| !p.is_active(now)) {
            next.pin = None;
        }
        if let Some(pin) = &next.pin {
            let reason = Reason::new("tier.pin", now)
                .threshold("until", pin.until)
                .note(format!("{} by {}: {}", pin.tier, pin.actor, pin.reason));
            let to = pin.tier;
            if to != from {
                next.since = Some(now);
            }
            next.tier = to;
            next.below_since = None;
            return TierDecision {
                from,
                to,
                reason,
                state: next,
            };
        }
        let (target, measured) = match (&self.ladder.rungs, value, share_tier) {
            (Rungs::Thresholds { .. }, Some(v), _) => (self.ladder.lookup(v), self.shown(v)),
            (Rungs::Shares { .. }, _, Some(t)) => (t, Value::Text(format!("share tier {t}"))),
            _ => {
                let reason = Reason::new("tier.metric_missing", now).factor("metric", metric);
                return TierDecision {
                    from,
                    to: from,
                    reason,
                    state: next,
                };
            }
        };
        if target > from {
            next.tier = target;
            next.since = Some(now);
            next.below_since = None;
            let reason = Reason::new("tier.upgrade", now)
                .measured(metric, measured)
                .threshold(entry_name(target), self.entry_value(target));
            return TierDecision {
                from,
                to: target,
                reason,
                state: next,
            };
        }
        let below = |tier: Tier| self.below_band(tier, value, target);
        if !below(from) {
            next.below_since = None;
            let reason = Reason::new("tier.stay", now)
                .measured(metric, measured)
                .threshold(entry_name(from), self.entry_value(from));
            return TierDecision {
                from,
                to: from,
                reason,
                state: next,
            };
        }
        let since = *next.below_since.get_or_insert(now);
        let days_below = (now - since).num_days();
        let grace = i64::from(self.grace_days);
        if days_below < grace {
            let reason = Reason::new("tier.grace", now)
                .measured(metric, measured)
                .threshold(band_name(from), self.band_value(from))
                .factor("days_below", days_below)
                .factor("grace_days", self.grace_days);
            return TierDecision {
                from,
                to: from,
                reason,
                state: next,
            };
        }
        // One rung per grace period: the next rung's period starts now, so only a zero grace
        // period lets one decision walk down several rungs (then the tier is the lookup).
        // Starting it now (not at the next evaluation) also makes deciding again at the same
        // `now` a no-op.
        let mut to = self.ladder.rung_below(from);
        while grace == 0 && to > Tier::Lead && below(to) {
            to = self.ladder.rung_below(to);
        }
        next.tier = to;
        next.since = Some(now);
        next.below_since = below(to).then_some(now);
        let reason = Reason::new("tier.downgrade", now)
            .measured(metric, measured)
            .threshold(band_name(from), self.band_value(from))
            .factor("days_below", days_below)
            .factor("grace_days", self.grace_days);
        TierDecision {
            from,
            to,
            reason,
            state: next,
        }
    }

    /// Whether `value` is below the downgrade line of `tier`: `entry × (1 − hysteresis)` on a
    /// threshold ladder (a tier the ladder lacks is below when the lookup is lower), the rung
    /// itself on a share ladder (`target` is the ranked tier).
    fn below_band(&self, tier: Tier, value: Option<Decimal>, target: Tier) -> bool {
        match (&self.ladder.rungs, value) {
            (Rungs::Thresholds { .. }, Some(v)) => match self.ladder.entry(tier) {
                Some(e) => v < downgrade_line(e, self.hysteresis),
                None => tier > Tier::Lead && self.ladder.lookup(v) < tier,
            },
            _ => target < tier,
        }
    }

    /// A metric or threshold value as shown in a reason: money in the policy's currency on a
    /// money metric, a plain number otherwise.
    fn shown(&self, v: Decimal) -> Value {
        if self.ladder.metric.is_money() {
            Value::Money(Money::new(v, self.currency))
        } else {
            Value::Decimal(v)
        }
    }

    /// What a reason shows for a rung without an entry (Lead, a share ladder): zero.
    fn no_entry(&self) -> Value {
        if self.ladder.metric.is_money() {
            Value::Money(Money::zero(self.currency))
        } else {
            Value::Int(0)
        }
    }

    fn entry_value(&self, t: Tier) -> Value {
        self.ladder
            .entry(t)
            .map_or_else(|| self.no_entry(), |e| self.shown(e))
    }

    fn band_value(&self, t: Tier) -> Value {
        self.ladder.entry(t).map_or_else(
            || self.no_entry(),
            |e| self.shown(downgrade_line(e, self.hysteresis).normalize()),
        )
    }
}

/// `entry × (1 − hysteresis)`, saturating at the ends of `Decimal` instead of panicking when
/// an unvalidated policy (a hysteresis far outside [0, 1)) or a huge entry overflows.
fn downgrade_line(entry: Decimal, hysteresis: Decimal) -> Decimal {
    let factor = Decimal::ONE.checked_sub(hysteresis).unwrap_or(Decimal::MAX);
    entry
        .checked_mul(factor)
        .unwrap_or(if entry.is_sign_negative() != factor.is_sign_negative() {
            Decimal::MIN
        } else {
            Decimal::MAX
        })
}

fn entry_name(t: Tier) -> &'static str {
    match t {
        Tier::Lead => "lead.entry",
        Tier::Iron => "iron.entry",
        Tier::Gold => "gold.entry",
        Tier::Platinum => "platinum.entry",
    }
}

fn band_name(t: Tier) -> &'static str {
    match t {
        Tier::Lead => "lead.entry × (1 − hysteresis)",
        Tier::Iron => "iron.entry × (1 − hysteresis)",
        Tier::Gold => "gold.entry × (1 − hysteresis)",
        Tier::Platinum => "platinum.entry × (1 − hysteresis)",
    }
}
