//! Evaluating a [`Segment`] against one customer. This runs for every customer on every sweep,
//! so it allocates nothing: each leaf reads one value from the context and compares it.

use std::cmp::Ordering;

use chrono::{DateTime, Days, NaiveDate, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::ast::{CmpOp, Field, Literal, StageName};
use super::{Segment, SegmentContext};
use crate::model::customer::AttrValue;
use crate::model::stats::Stats;

impl Segment {
    /// True when the customer in `ctx` is in the segment.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport_core::*;
    /// let now = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    /// let customer = Customer::new(TenantId::from_u128(1), CustomerId::from_u128(2), Profile::default(), now);
    /// let stats = Stats::default();
    /// let ctx = SegmentContext::new(&customer, &stats, now);
    ///
    /// assert!(Segment::parse("stage == prospect and orders == 0")?.matches(&ctx));
    /// // No NPS answer yet: every comparison on it is false, `!=` included.
    /// assert!(!Segment::parse("last_nps != 10")?.matches(&ctx));
    /// assert!(Segment::parse("not last_nps >= 9")?.matches(&ctx));
    /// # Ok::<(), SegmentParseError>(())
    /// ```
    #[must_use]
    pub fn matches(&self, ctx: &SegmentContext<'_>) -> bool {
        match self {
            Segment::True => true,
            Segment::False => false,
            Segment::And(items) => items.iter().all(|s| s.matches(ctx)),
            Segment::Or(items) => items.iter().any(|s| s.matches(ctx)),
            Segment::Not(inner) => !inner.matches(ctx),
            Segment::Compare { field, op, value } => compare(ctx, field, *op, value),
            Segment::HasTag(tag) => ctx.customer.tags.contains(tag, ctx.now),
            Segment::Consent { purpose, channel } => {
                ctx.customer.consents.allows(*purpose, *channel)
            }
            Segment::HasAccountRole(role) => ctx.account_roles.contains(*role),
            Segment::Bought(sku) => ctx.purchases.is_some_and(|p| p.bought(sku)),
        }
    }
}

/// Whole UTC days from `then`'s day to `now`'s day; `None` when `then` is in a later day.
fn days_between(then: NaiveDate, now: DateTime<Utc>) -> Option<i64> {
    let d = (now.date_naive() - then).num_days();
    (d >= 0).then_some(d)
}

// The three helpers below give exactly what `Stats::window(now, n).revenue`,
// `Stats::complaints_within` and `Stats::days_since_last_purchase` give, reading only what the
// comparison needs: the window without its margin sum, and the per-day table from its end.
// (A sweep evaluates every rule for every customer; Decimal sums dominate otherwise.)

/// Net revenue of the days `d` with `today - days < d <= today`.
fn window_revenue(stats: &Stats, now: DateTime<Utc>, days: u64) -> Decimal {
    let table = stats.days();
    if table.is_empty() {
        return Decimal::ZERO;
    }
    let today = now.date_naive();
    let Some(start) = today.checked_sub_days(Days::new(days)) else {
        return Decimal::ZERO;
    };
    let from = table.partition_point(|d| d.day <= start);
    table[from..]
        .iter()
        .take_while(|d| d.day <= today)
        .map(|d| d.net_revenue())
        .sum()
}

/// Complaints on the days `d` with `today - days < d <= today`.
fn complaints_within(stats: &Stats, now: DateTime<Utc>, days: u64) -> i64 {
    let all = stats.complaints();
    if all.is_empty() {
        return 0;
    }
    let today = now.date_naive();
    let start = today.checked_sub_days(Days::new(days));
    all.iter()
        .rev()
        .map(|c| c.at.date_naive())
        .skip_while(|d| *d > today)
        .take_while(|d| start.is_none_or(|s| *d > s))
        .count() as i64
}

/// Whole days from the last purchase day on or before today.
fn days_since_last_purchase(stats: &Stats, now: DateTime<Utc>) -> Option<i64> {
    let table = stats.days();
    if table.is_empty() {
        return None;
    }
    let today = now.date_naive();
    table
        .iter()
        .rev()
        .skip_while(|d| d.day > today)
        .find(|d| d.is_purchase_day())
        .map(|d| (today - d.day).num_days())
}

fn num(op: CmpOp, actual: Option<Decimal>, value: &Literal) -> bool {
    match (actual, value) {
        (Some(a), Literal::Number(v)) => op.holds(a.cmp(v)),
        _ => false,
    }
}

/// True when the customer's money amounts may be compared with a literal: no base currency
/// is given, or the customer buys in it (or has bought nothing: zero in every currency).
fn comparable(ctx: &SegmentContext<'_>) -> bool {
    match (ctx.currency, ctx.stats.currency()) {
        (Some(base), Some(c)) => base == c,
        _ => true,
    }
}

fn int(op: CmpOp, actual: Option<i64>, value: &Literal) -> bool {
    num(op, actual.map(Decimal::from), value)
}

fn compare(ctx: &SegmentContext<'_>, field: &Field, op: CmpOp, value: &Literal) -> bool {
    let stats = ctx.stats;
    let now = ctx.now;
    let profile = &ctx.customer.profile;
    match field {
        Field::HasEmail => bool_eq(op, profile.email.is_some(), value),
        Field::HasPhone => bool_eq(op, profile.phone.is_some(), value),
        Field::EmailDomain => match (&profile.email, value) {
            (Some(email), Literal::Text(v)) => {
                let same = email.expose().domain().eq_ignore_ascii_case(v);
                equality(op, same)
            }
            _ => false,
        },
        Field::Attr(key) => match profile.attributes.expose().get(key) {
            Some(actual) => attr(op, actual, value),
            None => false,
        },
        Field::Orders => int(op, Some(i64::from(stats.orders())), value),
        Field::PurchaseDays => int(op, Some(i64::from(stats.purchase_day_count())), value),
        // Money fields: only amounts in the base currency (when one is given) are compared.
        Field::Revenue if comparable(ctx) => num(op, Some(stats.revenue_amount()), value),
        Field::Margin if comparable(ctx) => num(op, Some(stats.margin_amount()), value),
        Field::Revenue30d if comparable(ctx) => {
            num(op, Some(window_revenue(stats, now, 30)), value)
        }
        Field::Revenue90d if comparable(ctx) => {
            num(op, Some(window_revenue(stats, now, 90)), value)
        }
        Field::Revenue365d if comparable(ctx) => {
            num(op, Some(window_revenue(stats, now, 365)), value)
        }
        Field::Revenue
        | Field::Margin
        | Field::Revenue30d
        | Field::Revenue90d
        | Field::Revenue365d => false,
        Field::Complaints => int(op, Some(stats.complaints().len() as i64), value),
        Field::Complaints90d => int(op, Some(complaints_within(stats, now, 90)), value),
        Field::LastNps => int(
            op,
            stats.last_nps().map(|s| i64::from(s.value.get())),
            value,
        ),
        Field::LastCsat => int(
            op,
            stats.last_csat().map(|s| i64::from(s.value.get())),
            value,
        ),
        Field::Tier => match value {
            Literal::Tier(t) => op.holds(ctx.customer.tier().cmp(t)),
            _ => false,
        },
        Field::Stage => match value {
            Literal::Stage(s) => equality(op, StageName::of(ctx.customer.stage()) == *s),
            _ => false,
        },
        Field::RfmR => int(op, ctx.rfm.map(|s| i64::from(s.r)), value),
        Field::RfmF => int(op, ctx.rfm.map(|s| i64::from(s.f)), value),
        Field::RfmM => int(op, ctx.rfm.map(|s| i64::from(s.m)), value),
        Field::RfmTotal => int(op, ctx.rfm.map(|s| i64::from(s.total())), value),
        Field::ChurnRisk => match (ctx.churn_risk, value) {
            // NaN compares as nothing: partial_cmp gives None and the comparison is false.
            (Some(risk), Literal::Number(v)) => v
                .to_f64()
                .and_then(|v| risk.partial_cmp(&v))
                .is_some_and(|o| op.holds(o)),
            _ => false,
        },
        Field::Clv12m => clv_12m(ctx.clv_12m, op, value),
        Field::DaysSinceLastPurchase => int(op, days_since_last_purchase(stats, now), value),
        Field::DaysSinceFirstPurchase => int(op, stats.days_since_first_purchase(now), value),
        Field::DaysSince(t) => int(
            op,
            stats
                .last_at(*t)
                .and_then(|at| days_between(at.date_naive(), now)),
            value,
        ),
        Field::DaysSinceRegistered => int(
            op,
            days_between(ctx.customer.created_at().date_naive(), now),
            value,
        ),
        Field::CategorySpend { category, days } if comparable(ctx) => num(
            op,
            // From the stats when they keep the category, else from the line items.
            ctx.stats.category_spend(category, *days, now).or_else(|| {
                ctx.purchases
                    .map(|p| p.category_spend(category, *days, now))
            }),
            value,
        ),
        Field::CategorySpend { .. } => false,
    }
}

/// `==` / `!=` given whether the two sides are equal; ordering operators never hold.
fn equality(op: CmpOp, same: bool) -> bool {
    match op {
        CmpOp::Eq => same,
        CmpOp::Ne => !same,
        _ => false,
    }
}

fn bool_eq(op: CmpOp, actual: bool, value: &Literal) -> bool {
    match value {
        Literal::Bool(v) => equality(op, actual == *v),
        _ => false,
    }
}

/// A custom attribute against a value: same kinds compare, anything else is false.
fn attr(op: CmpOp, actual: &AttrValue, value: &Literal) -> bool {
    let ord: Option<Ordering> = match (actual, value) {
        (AttrValue::Number(a), Literal::Number(v)) => Some(a.cmp(v)),
        (AttrValue::Date(a), Literal::Date(v)) => Some(a.cmp(v)),
        (AttrValue::Timestamp(a), Literal::Date(v)) => Some(a.date_naive().cmp(v)),
        (AttrValue::Text(a), Literal::Text(v)) => return equality(op, a == v),
        (AttrValue::Bool(a), Literal::Bool(v)) => return equality(op, a == v),
        _ => None,
    };
    ord.is_some_and(|o| op.holds(o))
}

/// `clv_12m op value`: false without a CLV in the context (kept in its own function so the
/// value predicates of other areas merge around it).
fn clv_12m(clv: Option<f64>, op: CmpOp, value: &Literal) -> bool {
    match (clv, value) {
        (Some(v), Literal::Number(n)) => n
            .to_f64()
            .and_then(|n| v.partial_cmp(&n))
            .is_some_and(|o| op.holds(o)),
        _ => false,
    }
}

impl Segment {
    /// True when some comparison reads `clv_12m` (the service then supplies it from the
    /// tenant's fitted model).
    ///
    /// ```
    /// use rapport_core::Segment;
    /// assert!(Segment::parse("stage == active and not clv_12m > 500")?.mentions_clv_12m());
    /// assert!(!Segment::parse("revenue > 500")?.mentions_clv_12m());
    /// # Ok::<(), rapport_core::SegmentParseError>(())
    /// ```
    #[must_use]
    pub fn mentions_clv_12m(&self) -> bool {
        match self {
            Segment::Compare { field, .. } => *field == Field::Clv12m,
            Segment::And(v) | Segment::Or(v) => v.iter().any(Segment::mentions_clv_12m),
            Segment::Not(s) => s.mentions_clv_12m(),
            _ => false,
        }
    }

    /// A superset of the segment without `clv_12m`: every comparison on it becomes `true`
    /// under an even number of `not`s and `false` under an odd number, so whatever holds for
    /// the segment holds for the result. A store evaluates the result (pushed down to SQL),
    /// the service re-checks the candidates with the CLV in the context.
    ///
    /// ```
    /// use rapport_core::Segment;
    /// let s = Segment::parse("stage == active and not clv_12m > 500")?;
    /// assert_eq!(s.without_clv_12m().to_string(), "stage == active and not false");
    /// let s = Segment::parse("clv_12m > 500 or revenue > 10")?;
    /// assert_eq!(s.without_clv_12m(), Segment::parse("true or revenue > 10")?);
    /// # Ok::<(), rapport_core::SegmentParseError>(())
    /// ```
    #[must_use]
    pub fn without_clv_12m(&self) -> Segment {
        fn go(s: &Segment, positive: bool) -> Segment {
            match s {
                Segment::Compare {
                    field: Field::Clv12m,
                    ..
                } => {
                    if positive {
                        Segment::True
                    } else {
                        Segment::False
                    }
                }
                Segment::And(v) => Segment::And(v.iter().map(|s| go(s, positive)).collect()),
                Segment::Or(v) => Segment::Or(v.iter().map(|s| go(s, positive)).collect()),
                Segment::Not(s) => Segment::Not(Box::new(go(s, !positive))),
                other => other.clone(),
            }
        }
        go(self, true)
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};
    use proptest::prelude::*;

    use super::*;
    use crate::model::activity::{Activity, ActivityKind, Channel, Severity};
    use crate::model::id::{ActivityId, CustomerId};
    use crate::model::id::{IdempotencyKey, OrderId};
    use crate::model::money::{Currency, Money};

    fn activity(n: usize, at: DateTime<Utc>, kind: ActivityKind) -> Activity {
        Activity::new(
            ActivityId::from_u128(n as u128 + 1),
            CustomerId::from_u128(1),
            at,
            Channel::Web,
            IdempotencyKey::new(format!("k{n}")).unwrap(),
            kind,
        )
        .unwrap()
    }

    proptest! {
        /// The fast paths read the same numbers as the `Stats` methods they stand in for.
        #[test]
        fn prop_fast_paths_agree_with_stats(
            events in prop::collection::vec((0i64..900 * 24, 0u8..4, 1i64..10_000), 0..30),
            now_hours in 0i64..1000 * 24,
        ) {
            let base = Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap();
            let mut stats = Stats::default();
            for (i, (h, kind, cents)) in events.iter().enumerate() {
                let at = base + Duration::hours(*h);
                let amount = Money::new(Decimal::new(*cents, 2), Currency::EUR);
                let order_id = OrderId::new(format!("o{i}")).unwrap();
                let kind = match kind {
                    0 | 1 => ActivityKind::Purchase { order_id, amount, margin: None },
                    2 => ActivityKind::Refund {
                        order_id, amount, margin: None,
                        purchased_at: at - Duration::hours(*cents % 500), full: cents % 2 == 0,
                    },
                    _ => ActivityKind::Complaint { severity: Severity::Medium },
                };
                stats.apply(&activity(i, at, kind)).unwrap();
            }
            let now = base + Duration::hours(now_hours);
            for days in [30u32, 90, 365] {
                prop_assert_eq!(window_revenue(&stats, now, u64::from(days)), stats.window(now, days).revenue);
            }
            prop_assert_eq!(complaints_within(&stats, now, 90), stats.complaints_within(now, 90) as i64);
            prop_assert_eq!(days_since_last_purchase(&stats, now), stats.days_since_last_purchase(now));
        }
    }
}
