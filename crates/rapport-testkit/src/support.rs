//! Test doubles: a fixed clock, sequential ids, recording and flaky notifiers.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Duration, TimeZone, Utc};
use rapport::{Clock, IdSource, ManualClock};
use rapport_core::{MessageId, Notifier, NotifyError, OutboxMessage};

/// A clock that says what it is told; starts at 2026-01-01T00:00:00Z. A
/// [`rapport::ManualClock`] with the kit's default start (clones of which share the time,
/// where a `FixedClock` is shared through an `Arc`).
///
/// ```
/// use rapport::Clock;
/// use rapport_testkit::FixedClock;
/// let c = FixedClock::default();
/// let t0 = c.now();
/// c.advance(chrono::Duration::days(1));
/// assert_eq!(c.now() - t0, chrono::Duration::days(1));
///
/// use chrono::{TimeZone, Utc};
/// let t = Utc.with_ymd_and_hms(2026, 6, 30, 12, 0, 0).unwrap();
/// let c = FixedClock::at(t);
/// assert_eq!(c.now(), t);
/// c.set(t - chrono::Duration::hours(1)); // a clock may also go back
/// assert_eq!(c.now(), t - chrono::Duration::hours(1));
/// ```
#[derive(Debug)]
pub struct FixedClock(ManualClock);

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
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport::Clock;
    /// use rapport_testkit::FixedClock;
    /// let t = Utc.with_ymd_and_hms(2026, 6, 30, 12, 0, 0).unwrap();
    /// assert_eq!(FixedClock::at(t).now(), t);
    /// ```
    #[must_use]
    pub fn at(t: DateTime<Utc>) -> Self {
        Self(ManualClock::at(t))
    }

    /// Moves the clock.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport::Clock;
    /// use rapport_testkit::FixedClock;
    /// let c = FixedClock::default();
    /// let t = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap();
    /// c.set(t);
    /// assert_eq!(c.now(), t);
    /// ```
    pub fn set(&self, t: DateTime<Utc>) {
        self.0.set(t);
    }

    /// Moves the clock forward.
    ///
    /// ```
    /// use chrono::Duration;
    /// use rapport::Clock;
    /// use rapport_testkit::FixedClock;
    /// let c = FixedClock::default(); // 2026-01-01T00:00:00Z
    /// c.advance(Duration::days(90));
    /// assert_eq!(c.now().to_rfc3339(), "2026-04-01T00:00:00+00:00");
    /// ```
    pub fn advance(&self, d: Duration) {
        self.0.advance(d);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        self.0.now()
    }
}

/// Ids 1, 2, 3, ... (as UUIDs), so test output is stable.
///
/// ```
/// use rapport::IdSource;
/// use rapport_testkit::SequentialIds;
/// let ids = SequentialIds::default();
/// assert_eq!(ids.next().as_u128(), 1);
/// assert_eq!(ids.next().as_u128(), 2);
/// let later = SequentialIds::starting_at(1_000);
/// assert_eq!(later.customer_id(), rapport_core::CustomerId::from_u128(1_000));
/// ```
#[derive(Debug)]
pub struct SequentialIds(AtomicU64);

impl Default for SequentialIds {
    fn default() -> Self {
        Self::starting_at(1)
    }
}

impl SequentialIds {
    /// Ids from `first` on.
    ///
    /// ```
    /// use rapport::IdSource;
    /// use rapport_testkit::SequentialIds;
    /// let ids = SequentialIds::starting_at(500);
    /// assert_eq!(ids.next().as_u128(), 500);
    /// assert_eq!(ids.customer_id(), rapport_core::CustomerId::from_u128(501));
    /// ```
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
///
/// ```
/// use chrono::DateTime;
/// use futures::executor::block_on;
/// use rapport_core::*;
/// use rapport_testkit::RecordingNotifier;
/// let n = RecordingNotifier::default();
/// let m = OutboxMessage::new(MessageId::from_u128(1), TenantId::from_u128(1), DateTime::UNIX_EPOCH,
///     DomainEvent::CustomerRegistered { customer: CustomerId::from_u128(2) });
/// block_on(n.deliver(&m)).unwrap();
/// block_on(n.deliver(&m)).unwrap(); // at-least-once: a repeat
/// assert_eq!(n.deliveries().len(), 2);
/// assert_eq!(n.unique().len(), 1);
/// ```
#[derive(Debug, Default)]
pub struct RecordingNotifier {
    delivered: Mutex<Vec<OutboxMessage>>,
}

impl RecordingNotifier {
    /// All deliveries, repeats included.
    ///
    /// ```
    /// use chrono::DateTime;
    /// use futures::executor::block_on;
    /// use rapport_core::*;
    /// use rapport_testkit::RecordingNotifier;
    /// let msg = |i| OutboxMessage::new(MessageId::from_u128(i), TenantId::from_u128(1), DateTime::UNIX_EPOCH,
    ///     DomainEvent::CustomerRegistered { customer: CustomerId::from_u128(i) });
    /// let n = RecordingNotifier::default();
    /// block_on(n.deliver(&msg(1))).unwrap();
    /// block_on(n.deliver(&msg(2))).unwrap();
    /// let ids: Vec<_> = n.deliveries().iter().map(|m| m.id).collect();
    /// assert_eq!(ids, [MessageId::from_u128(1), MessageId::from_u128(2)]); // in delivery order
    /// ```
    #[must_use]
    pub fn deliveries(&self) -> Vec<OutboxMessage> {
        self.delivered.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Distinct message ids delivered.
    ///
    /// ```
    /// use chrono::DateTime;
    /// use futures::executor::block_on;
    /// use rapport_core::*;
    /// use rapport_testkit::RecordingNotifier;
    /// let msg = |i| OutboxMessage::new(MessageId::from_u128(i), TenantId::from_u128(1), DateTime::UNIX_EPOCH,
    ///     DomainEvent::CustomerRegistered { customer: CustomerId::from_u128(i) });
    /// let n = RecordingNotifier::default();
    /// for i in [1, 2, 1] {
    ///     block_on(n.deliver(&msg(i))).unwrap();
    /// }
    /// assert_eq!(n.unique().len(), 2);
    /// assert!(n.unique().contains(&MessageId::from_u128(2)));
    /// ```
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
///
/// ```
/// use chrono::DateTime;
/// use futures::executor::block_on;
/// use rapport_core::*;
/// use rapport_testkit::FlakyNotifier;
/// let msg = |i| OutboxMessage::new(MessageId::from_u128(i), TenantId::from_u128(1), DateTime::UNIX_EPOCH,
///     DomainEvent::CustomerRegistered { customer: CustomerId::from_u128(i) });
/// let flaky = FlakyNotifier::new(0.3, 42);
/// let failed = (1..=1_000).filter(|i| block_on(flaky.deliver(&msg(*i))).is_err()).count();
/// assert!((200..400).contains(&failed)); // about 30 %
/// assert_eq!(flaky.inner.deliveries().len(), 1_000 - failed);
/// // The same seed fails the same deliveries.
/// let again = FlakyNotifier::new(0.3, 42);
/// assert_eq!((1..=1_000).filter(|i| block_on(again.deliver(&msg(*i))).is_err()).count(), failed);
/// // 0 never fails, 1 always does.
/// assert!(block_on(FlakyNotifier::new(0.0, 1).deliver(&msg(1))).is_ok());
/// assert!(block_on(FlakyNotifier::new(1.0, 1).deliver(&msg(1))).is_err());
/// ```
#[derive(Debug)]
pub struct FlakyNotifier {
    /// The deliveries that succeeded.
    pub inner: RecordingNotifier,
    fail_per_mille: u64,
    state: AtomicU64,
}

impl FlakyNotifier {
    /// Fails about `fraction` (0–1) of deliveries.
    ///
    /// ```
    /// use chrono::DateTime;
    /// use futures::executor::block_on;
    /// use rapport_core::*;
    /// use rapport_testkit::FlakyNotifier;
    /// let m = OutboxMessage::new(MessageId::from_u128(1), TenantId::from_u128(1), DateTime::UNIX_EPOCH,
    ///     DomainEvent::CustomerRegistered { customer: CustomerId::from_u128(1) });
    /// let always = FlakyNotifier::new(1.0, 7);
    /// assert!(matches!(block_on(always.deliver(&m)), Err(NotifyError::Failed { .. })));
    /// assert!(always.inner.deliveries().is_empty());
    /// ```
    #[must_use]
    pub fn new(fraction: f64, seed: u64) -> Self {
        Self {
            inner: RecordingNotifier::default(),
            fail_per_mille: (fraction.clamp(0.0, 1.0) * 1000.0) as u64,
            state: AtomicU64::new(seed | 1),
        }
    }

    fn roll(&self) -> u64 {
        let step = |mut x: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        // One atomic step: concurrent deliveries never draw the same roll.
        let prev = self
            .state
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |x| Some(step(x)))
            .unwrap_or_else(|x| x);
        step(prev) % 1000
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
