//! Where time and ids come from. The core never reads a clock or makes an id; the service asks
//! these, so tests can pin both (see `rapport-testkit`'s `FixedClock` and `SequentialIds`).

use chrono::{DateTime, Utc};
use rapport_core::{ActivityId, CustomerId, MessageId};
use uuid::Uuid;

/// The current time.
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
/// assert_ne!(UuidV7Ids.next(), UuidV7Ids.next());
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct UuidV7Ids;

impl IdSource for UuidV7Ids {
    fn next(&self) -> Uuid {
        Uuid::now_v7()
    }
}
