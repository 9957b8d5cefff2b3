//! **rapport**: embeddable customer management for Rust apps.
//!
//! This is the crate hosts depend on. It re-exports the pure core ([`rapport_core`]: model,
//! rules, ports) and adds what touches the outside world: the [`Service`] with the use cases
//! (async, and [`blocking::Service`] for hosts without a runtime), [`Clock`]/[`IdSource`] with
//! [`SystemClock`]/[`UuidV7Ids`], the outbox relay, the sweep, and [`StoreExt`] (conveniences
//! every store gets from the minimal port).
//!
//! ```
//! use rapport::{NewActivity, blocking::Service};
//! use rapport::core::*;
//! use rapport_memory::MemoryStore;
//! use rust_decimal::Decimal;
//!
//! let svc = Service::new(MemoryStore::new());
//! let t = TenantId::from_u128(1);
//! let ann = svc.register(t, Profile::default())?.customer;
//! let rec = svc.record(t, NewActivity {
//!     customer: ann.id(),
//!     at: svc.inner().now(),
//!     channel: Channel::Web,
//!     idempotency_key: IdempotencyKey::new("order-1")?,
//!     kind: ActivityKind::Purchase {
//!         order_id: OrderId::new("1")?,
//!         amount: Money::new(Decimal::from(2_500), Currency::USD),
//!         margin: None,
//!     },
//! })?;
//! assert_eq!(rec.customer.stage(), Stage::New);
//! assert_eq!(rec.customer.tier(), Tier::Gold);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

pub mod blocking;
mod clock;
mod error;
mod relay;
mod service;
mod store_ext;

pub use rapport_core as core;

pub use clock::{Clock, IdSource, SystemClock, UuidV7Ids};
pub use error::Error;
pub use relay::{RelayConfig, RelayReport, relay_once};
pub use service::{
    DEFAULT_MAX_ATTEMPTS, NewActivity, NoopNotifier, Recorded, Registered, Service, SweepProgress,
};
pub use store_ext::{MAX_MERGE_HOPS, StoreExt};
