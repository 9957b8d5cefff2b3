//! Test doubles: a fixed clock, sequential ids, recording and flaky notifiers.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Duration, TimeZone, Utc};
use rapport::{Clock, IdSource};
use rapport_core::{MessageId, Notifier, NotifyError, OutboxMessage};

/// A clock that says what it is told; starts at 2026-01-01T00:00:00Z.
///
/// ```
/// use rapport::Clock;
/// use rapport_testkit::FixedClock;
/// let c = FixedClock::default();
/// let t0 = c.now();
/// c.advance(chrono::Duration::days(1));
/// assert_eq!(c.now() - t0, chrono::Duration::days(1));
/// ```
#[derive(Debug)]
pub struct FixedClock(AtomicU64);

impl Default for FixedClock {
    fn default() -> Self {
        Self::at(
            Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
                .single()
                .unwrap_or_default(),
        )
    }
}

impl FixedClock {
    /// A clock at `t` (microsecond precision).
    #[must_use]
    pub fn at(t: DateTime<Utc>) -> Self {
        Self(AtomicU64::new(t.timestamp_micros() as u64))
    }

    /// Moves the clock.
    pub fn set(&self, t: DateTime<Utc>) {
        self.0.store(t.timestamp_micros() as u64, Ordering::SeqCst);
    }

    /// Moves the clock forward.
    pub fn advance(&self, d: Duration) {
        self.0
            .fetch_add(d.num_microseconds().unwrap_or(0) as u64, Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(self.0.load(Ordering::SeqCst) as i64).unwrap_or_default()
    }
}

/// Ids 1, 2, 3, ... (as UUIDs), so test output is stable.
#[derive(Debug)]
pub struct SequentialIds(AtomicU64);

impl Default for SequentialIds {
    fn default() -> Self {
        Self::starting_at(1)
    }
}

impl SequentialIds {
    /// Ids from `first` on.
    #[must_use]
    pub fn starting_at(first: u64) -> Self {
        Self(AtomicU64::new(first))
    }
}

impl IdSource for SequentialIds {
    fn next(&self) -> uuid::Uuid {
        uuid::Uuid::from_u128(u128::from(self.0.fetch_add(1, Ordering::SeqCst)))
    }
}

/// Records every delivery; [`RecordingNotifier::unique`] deduplicates by message id as a
/// receiver should.
#[derive(Debug, Default)]
pub struct RecordingNotifier {
    delivered: Mutex<Vec<OutboxMessage>>,
}

impl RecordingNotifier {
    /// All deliveries, repeats included.
    #[must_use]
    pub fn deliveries(&self) -> Vec<OutboxMessage> {
        self.delivered.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Distinct message ids delivered.
    #[must_use]
    pub fn unique(&self) -> HashSet<MessageId> {
        self.deliveries().into_iter().map(|m| m.id).collect()
    }
}

impl Notifier for RecordingNotifier {
    async fn deliver(&self, msg: &OutboxMessage) -> Result<(), NotifyError> {
        if let Ok(mut v) = self.delivered.lock() {
            v.push(msg.clone());
        }
        Ok(())
    }
}

/// Fails a given fraction of deliveries (deterministically, by a seeded sequence) and
/// records the others.
#[derive(Debug)]
pub struct FlakyNotifier {
    /// The deliveries that succeeded.
    pub inner: RecordingNotifier,
    fail_per_mille: u64,
    state: AtomicU64,
}

impl FlakyNotifier {
    /// Fails about `fraction` (0–1) of deliveries.
    #[must_use]
    pub fn new(fraction: f64, seed: u64) -> Self {
        Self {
            inner: RecordingNotifier::default(),
            fail_per_mille: (fraction.clamp(0.0, 1.0) * 1000.0) as u64,
            state: AtomicU64::new(seed | 1),
        }
    }

    fn roll(&self) -> u64 {
        let mut x = self.state.load(Ordering::SeqCst);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.state.store(x, Ordering::SeqCst);
        x % 1000
    }
}

impl Notifier for FlakyNotifier {
    async fn deliver(&self, msg: &OutboxMessage) -> Result<(), NotifyError> {
        if self.roll() < self.fail_per_mille {
            return Err(NotifyError::Failed {
                reason: "flaky notifier".into(),
            });
        }
        self.inner.deliver(msg).await
    }
}
