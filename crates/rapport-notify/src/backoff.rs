//! Exponential back-off with jitter drawn from a seedable source, so a test (or a replay) sees
//! the same waits.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Where jitter comes from: a fraction in `[0, 1)` per draw.
///
/// ```
/// use rapport_notify::{Jitter, SeededJitter};
/// let j = SeededJitter::new(7);
/// let f = j.fraction();
/// assert!((0.0..1.0).contains(&f));
/// ```
pub trait Jitter: Send + Sync {
    /// The next fraction in `[0, 1)`.
    fn fraction(&self) -> f64;
}

/// SplitMix64 behind an atomic counter: lock-free, seedable, the same sequence for the same
/// seed (across threads, the draws are shared out in some order).
///
/// ```
/// use rapport_notify::{Jitter, SeededJitter};
/// let (a, b) = (SeededJitter::new(42), SeededJitter::new(42));
/// let xs: Vec<f64> = (0..5).map(|_| a.fraction()).collect();
/// let ys: Vec<f64> = (0..5).map(|_| b.fraction()).collect();
/// assert_eq!(xs, ys);
/// assert_ne!(xs[0], xs[1]);
/// ```
#[derive(Debug)]
pub struct SeededJitter {
    state: AtomicU64,
}

impl SeededJitter {
    /// A source seeded with `seed`.
    ///
    /// ```
    /// let _ = rapport_notify::SeededJitter::new(1);
    /// ```
    #[must_use]
    pub fn new(seed: u64) -> Self {
        Self {
            state: AtomicU64::new(seed),
        }
    }
}

impl Jitter for SeededJitter {
    fn fraction(&self) -> f64 {
        const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut z = self
            .state
            .fetch_add(GAMMA, Ordering::Relaxed)
            .wrapping_add(GAMMA);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // The top 53 bits as a fraction in [0, 1).
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Exponential back-off: `initial × 2^(attempt − 1)`, at most `max`, with "equal jitter"
/// (half the wait fixed, half drawn), so waits never collapse to zero and retries from many
/// senders spread out.
///
/// ```
/// use std::time::Duration;
/// use rapport_notify::Backoff;
/// let b = Backoff { initial: Duration::from_millis(100), max: Duration::from_secs(1) };
/// assert_eq!(b.wait(1, 0.0), Duration::from_millis(50));
/// assert_eq!(b.wait(3, 0.5), Duration::from_millis(300)); // 400 ms: 200 fixed + half of 200
/// assert_eq!(b.wait(30, 0.0), Duration::from_millis(500)); // capped at 1 s, half fixed
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The wait before the second attempt (before jitter).
    pub initial: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(200),
            max: Duration::from_secs(10),
        }
    }
}

impl Backoff {
    /// The wait after failed attempt number `attempt` (1-based), with `fraction` in `[0, 1)`.
    #[must_use]
    pub fn wait(&self, attempt: u32, fraction: f64) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(31));
        let full = self.initial.saturating_mul(factor).min(self.max);
        let half = full / 2;
        half + half.mul_f64(fraction.clamp(0.0, 1.0))
    }
}
