//! A seeded synthetic data generator: customers and their purchases, for tests and benches.

use chrono::{DateTime, Duration, TimeZone, Utc};
use rapport_core::*;
use rust_decimal::Decimal;

/// A small deterministic generator (xorshift64*): the same seed gives the same sequence.
///
/// ```
/// use rapport_testkit::generate::Rng;
/// let (mut a, mut b) = (Rng::new(7), Rng::new(7));
/// assert_eq!(a.next_u64(), b.next_u64());
/// assert_ne!(Rng::new(8).next_u64(), Rng::new(7).next_u64());
/// let u = a.unit();
/// assert!((0.0..1.0).contains(&u));
/// let mean = (0..10_000).map(|_| a.unit()).sum::<f64>() / 10_000.0;
/// assert!((mean - 0.5).abs() < 0.02);
/// ```
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    ///
    /// ```
    /// use rapport_testkit::generate::Rng;
    /// let draws = |seed| { let mut r = Rng::new(seed); [r.next_u64(), r.next_u64()] };
    /// assert_eq!(draws(42), draws(42)); // reproducible
    /// assert_ne!(draws(42), draws(43));
    /// ```
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 random bits.
    ///
    /// ```
    /// use rapport_testkit::generate::Rng;
    /// let mut r = Rng::new(1);
    /// let (a, b) = (r.next_u64(), r.next_u64());
    /// assert_ne!(a, b);
    /// ```
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    ///
    /// ```
    /// use rapport_testkit::generate::Rng;
    /// let mut r = Rng::new(3);
    /// assert!((0..1_000).map(|_| r.unit()).all(|u| (0.0..1.0).contains(&u)));
    /// ```
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One generated customer with its purchases.
///
/// ```
/// use rapport_core::{Stats, TenantId};
/// use rapport_testkit::generate::{Generated, customers, year_2026};
/// let (start, end) = year_2026();
/// let g: &Generated = &customers(TenantId::from_u128(1), 5, 1, start, end)[0];
/// assert_eq!(g.stats, Stats::from_activities(&g.activities).unwrap());
/// assert!(g.activities.windows(2).all(|w| w[0].at <= w[1].at));
/// ```
#[derive(Debug, Clone)]
pub struct Generated {
    /// The customer.
    pub customer: Customer,
    /// Its purchases, in time order.
    pub activities: Vec<Activity>,
    /// The folded stats.
    pub stats: Stats,
}

/// `n` customers of `tenant` with purchases between `start` and `end`: each buys at a
/// personal rate (a gamma-like spread of exponential gaps) until a personal dropout time, with
/// amounts around a personal mean — the shape of a BG/NBD + Gamma-Gamma population.
///
/// ```
/// use rapport_core::{CustomerId, TenantId};
/// use rapport_testkit::generate::{customers, year_2026};
/// let (start, end) = year_2026();
/// let pop = customers(TenantId::from_u128(1), 50, 42, start, end);
/// assert_eq!(pop.len(), 50);
/// assert_eq!(pop[0].customer.id(), CustomerId::from_u128(1));
/// assert!(pop.iter().all(|g| g.activities.iter().all(|a| a.at >= start && a.at < end)));
/// assert!(pop.iter().any(|g| g.stats.orders() > 1));
/// // Seeded: the same seed gives the same population.
/// let again = customers(TenantId::from_u128(1), 50, 42, start, end);
/// assert!(pop.iter().zip(&again).all(|(a, b)| a.activities == b.activities));
/// ```
#[must_use]
pub fn customers(
    tenant: TenantId,
    n: usize,
    seed: u64,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Vec<Generated> {
    let mut rng = Rng::new(seed);
    let span = (end - start).num_days().max(1) as f64;
    (0..n)
        .map(|i| {
            let id = CustomerId::from_u128(i as u128 + 1);
            let born = start + Duration::days((rng.unit() * span * 0.5) as i64);
            let customer = Customer::new(tenant, id, Profile::default(), born);
            // Purchases per 100 days and the days until dropout.
            let rate = -(1.0 - rng.unit()).ln() * 2.0 + 0.1;
            let life = -(1.0 - rng.unit()).ln() * span;
            let mean = 10.0 + rng.unit() * 90.0;
            let mut t = born;
            let mut acts = Vec::new();
            let mut k = 0u32;
            while t < end && (t - born).num_days() as f64 <= life {
                let amount = Decimal::new((mean * (0.5 + rng.unit()) * 100.0) as i64, 2);
                let key = format!("g{}-{k}", i + 1);
                if let (Ok(key), Ok(order)) = (IdempotencyKey::new(key.clone()), OrderId::new(key))
                {
                    if let Ok(a) = Activity::new(
                        ActivityId::from_u128(((i as u128) << 32) + u128::from(k)),
                        id,
                        t,
                        Channel::Web,
                        key,
                        ActivityKind::Purchase {
                            order_id: order,
                            amount: Money::new(amount, Currency::USD),
                            margin: None,
                        },
                    ) {
                        acts.push(a);
                    }
                }
                k += 1;
                let gap = -(1.0 - rng.unit()).ln() * 100.0 / rate;
                t += Duration::minutes((gap * 1440.0) as i64 + 1);
            }
            let stats = Stats::from_activities(&acts).unwrap_or_default();
            Generated {
                customer,
                activities: acts,
                stats,
            }
        })
        .collect()
}

/// 2026-01-01 and 2026-12-31, a convenient default window.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// let (start, end) = rapport_testkit::generate::year_2026();
/// assert_eq!(start, Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap());
/// assert_eq!((end - start).num_days(), 364);
/// ```
#[must_use]
pub fn year_2026() -> (DateTime<Utc>, DateTime<Utc>) {
    (
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .unwrap_or_default(),
        Utc.with_ymd_and_hms(2026, 12, 31, 0, 0, 0)
            .single()
            .unwrap_or_default(),
    )
}
