//! Where time and ids come from. The core never reads a clock or makes an id; the service asks
//! these, so tests can pin both (see `rapport-testkit`'s `FixedClock` and `SequentialIds`).

use chrono::{DateTime, Utc};
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

impl<C: Clock + ?Sized> Clock for std::sync::Arc<C> {
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
        // The 48-bit millisecond time of v7, then 74 random bits from a per-thread generator
        // seeded once from the OS (through a v4 UUID). `Uuid::now_v7` takes a shared lock and
        // draws fresh randomness for every id, about 100 ns; this is a few.
        thread_local! {
            static STATE: std::cell::Cell<u64> = std::cell::Cell::new(
                (Uuid::new_v4().as_u128() as u64) | 1
            );
        }
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let (a, b) = STATE.with(|s| {
            // xorshift64* twice: 128 random-looking bits, of which v7 keeps 74.
            let step = || {
                let mut x = s.get();
                x ^= x >> 12;
                x ^= x << 25;
                x ^= x >> 27;
                s.set(x);
                x.wrapping_mul(0x2545_F491_4F6C_DD1D)
            };
            (step(), step())
        });
        let mut bytes = [0u8; 10];
        bytes[..8].copy_from_slice(&a.to_le_bytes());
        bytes[8..].copy_from_slice(&b.to_le_bytes()[..2]);
        uuid::Builder::from_unix_timestamp_millis(millis, &bytes).into_uuid()
    }
}
