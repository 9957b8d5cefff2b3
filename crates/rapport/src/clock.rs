//! Where time and ids come from. The core never reads a clock or makes an id; the service asks
//! these, so hosts and tests can pin both ([`ManualClock`], or any [`Clock`]/[`IdSource`]).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, Utc};
use rapport_core::{ActivityId, CustomerId, MessageId};
use uuid::Uuid;

/// The current time.
///
/// Implement it to control time (tests, replays); the service reads it through
/// [`crate::Service::with_clock`].
///
/// ```
/// use chrono::{DateTime, TimeZone, Utc};
/// use rapport::Clock;
///
/// struct Frozen(DateTime<Utc>);
/// impl Clock for Frozen {
///     fn now(&self) -> DateTime<Utc> {
///         self.0
///     }
/// }
///
/// let t = Utc.with_ymd_and_hms(2026, 5, 1, 9, 0, 0).unwrap();
/// let clock = std::sync::Arc::new(Frozen(t)); // an `Arc` of a clock is a clock too
/// assert_eq!(clock.now(), t);
///
/// let svc = rapport::Service::new(rapport_memory::MemoryStore::new()).with_clock(Frozen(t));
/// assert_eq!(svc.now(), t);
/// ```
pub trait Clock: Send + Sync {
    /// Now, in UTC.
    fn now(&self) -> DateTime<Utc>;
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> DateTime<Utc> {
        (**self).now()
    }
}

/// The system clock.
///
/// ```
/// use rapport::{Clock, SystemClock};
/// assert!(SystemClock.now().timestamp() > 1_700_000_000);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that says what it is told: for replays, batch jobs that run "as of" a date, and
/// tests. Microsecond precision.
///
/// Clones share the time: hand a clone to the service, keep one, and move it.
///
/// ```
/// use chrono::{Duration, TimeZone, Utc};
/// use rapport::{Clock, ManualClock};
/// use rapport::core::*;
///
/// let t = Utc.with_ymd_and_hms(2026, 5, 1, 9, 0, 0).unwrap();
/// let clock = ManualClock::at(t);
/// let svc = rapport::blocking::Service::new(rapport_memory::MemoryStore::new())
///     .with_clock(clock.clone());
/// assert_eq!(svc.now(), t);
/// clock.advance(Duration::days(30));
/// assert_eq!(svc.now(), t + Duration::days(30)); // the service reads the shared time
/// clock.set(t - Duration::hours(1)); // a manual clock may also go back
/// assert_eq!(clock.now(), t - Duration::hours(1));
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// A clock at `t` (truncated to the microsecond).
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport::{Clock, ManualClock};
    /// let t = Utc.with_ymd_and_hms(2026, 6, 30, 12, 0, 0).unwrap();
    /// assert_eq!(ManualClock::at(t).now(), t);
    /// // Before 1970 works too.
    /// let old = Utc.with_ymd_and_hms(1960, 1, 1, 0, 0, 0).unwrap();
    /// assert_eq!(ManualClock::at(old).now(), old);
    /// ```
    #[must_use]
    pub fn at(t: DateTime<Utc>) -> Self {
        Self(Arc::new(AtomicI64::new(t.timestamp_micros())))
    }

    /// Sets the time (forward or back), for every clone.
    ///
    /// ```
    /// use chrono::{TimeZone, Utc};
    /// use rapport::{Clock, ManualClock};
    /// let c = ManualClock::at(chrono::DateTime::UNIX_EPOCH);
    /// let seen_by_service = c.clone();
    /// let t = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap();
    /// c.set(t);
    /// assert_eq!(seen_by_service.now(), t);
    /// ```
    pub fn set(&self, t: DateTime<Utc>) {
        self.0.store(t.timestamp_micros(), Ordering::SeqCst);
    }

    /// Moves the time by `d` (negative goes back); saturates at the representable range.
    ///
    /// ```
    /// use chrono::{Duration, TimeZone, Utc};
    /// use rapport::{Clock, ManualClock};
    /// let c = ManualClock::at(Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap());
    /// c.advance(Duration::days(90));
    /// assert_eq!(c.now().to_rfc3339(), "2026-04-01T00:00:00+00:00");
    /// c.advance(-Duration::days(1));
    /// assert_eq!(c.now().to_rfc3339(), "2026-03-31T00:00:00+00:00");
    /// ```
    pub fn advance(&self, d: Duration) {
        let micros = d.num_microseconds().unwrap_or(if d < Duration::zero() {
            i64::MIN
        } else {
            i64::MAX
        });
        let _ = self
            .0
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |x| {
                Some(x.saturating_add(micros))
            });
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        let micros = self.0.load(Ordering::SeqCst);
        DateTime::from_timestamp_micros(micros).unwrap_or(if micros < 0 {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        })
    }
}

/// Fresh ids.
///
/// Only [`IdSource::next`] is required; the typed ids wrap it.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use rapport::IdSource;
/// use rapport::core::{ActivityId, CustomerId, MessageId};
///
/// struct Counter(AtomicU64);
/// impl IdSource for Counter {
///     fn next(&self) -> uuid::Uuid {
///         uuid::Uuid::from_u128(u128::from(self.0.fetch_add(1, Ordering::SeqCst)))
///     }
/// }
///
/// let ids = Counter(AtomicU64::new(10));
/// assert_eq!(ids.customer_id(), CustomerId::from_u128(10));
/// assert_eq!(ids.activity_id(), ActivityId::from_u128(11));
/// assert_eq!(ids.message_id(), MessageId::from_u128(12));
/// ```
pub trait IdSource: Send + Sync {
    /// A UUID never handed out before.
    fn next(&self) -> Uuid;

    /// A customer id.
    fn customer_id(&self) -> CustomerId {
        CustomerId::from_uuid(self.next())
    }

    /// An activity id.
    fn activity_id(&self) -> ActivityId {
        ActivityId::from_uuid(self.next())
    }

    /// A message id.
    fn message_id(&self) -> MessageId {
        MessageId::from_uuid(self.next())
    }
}

impl<I: IdSource + ?Sized> IdSource for Arc<I> {
    fn next(&self) -> Uuid {
        (**self).next()
    }
    fn customer_id(&self) -> CustomerId {
        (**self).customer_id()
    }
    fn activity_id(&self) -> ActivityId {
        (**self).activity_id()
    }
    fn message_id(&self) -> MessageId {
        (**self).message_id()
    }
}

/// Time-ordered random UUIDs (v7): unique, and they index well.
///
/// ```
/// use rapport::{IdSource, UuidV7Ids};
/// let (a, b) = (UuidV7Ids.next(), UuidV7Ids.next());
/// assert_ne!(a, b);
/// assert_eq!(a.get_version_num(), 7);
/// // The first 48 bits are the milliseconds: later ids never sort before earlier ones' time.
/// assert!(b.as_u128() >> 80 >= a.as_u128() >> 80);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct UuidV7Ids;

impl IdSource for UuidV7Ids {
    fn next(&self) -> Uuid {
        // The uuid crate's v7: the millisecond time, a 42-bit counter that keeps ids of one
        // process ordered, and fresh bits from the OS random source for every id — so ids are
        // not predictable from earlier ones and a forked process does not repeat its parent's.
        //
        // The clock is read under our own lock, not before the crate's: `Uuid::now_v7` reads
        // the time first and then locks its context, so a thread preempted between the two
        // hands the context a stale time, and when that stale time is in the previous second
        // the context (uuid 1.26) keeps the current second with the stale sub-second part — up
        // to a second ahead — and the next caller's id goes back in time (seen under load: a
        // thread's ids went back by hundreds of milliseconds).
        static CONTEXT: std::sync::Mutex<Option<uuid::ContextV7>> = std::sync::Mutex::new(None);
        let mut guard = CONTEXT
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let context = guard.get_or_insert_with(uuid::ContextV7::new);
        Uuid::new_v7(uuid::Timestamp::now(&*context))
    }
}
