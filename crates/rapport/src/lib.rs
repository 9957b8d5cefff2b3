//! **rapport**: embeddable customer management for Rust apps.
//!
//! This is the crate hosts depend on. It re-exports the pure core ([`rapport_core`]: model,
//! rules, ports) and adds what touches the outside world: the [`Service`] with the use cases
//! (async, and [`blocking::Service`] for hosts without a runtime, configured with the same
//! builder methods), [`NewActivity`] with one constructor per kind of activity,
//! [`Clock`]/[`IdSource`] with [`SystemClock`]/[`ManualClock`]/[`UuidV7Ids`], the outbox relay,
//! the sweep, and [`StoreExt`] (conveniences every store gets from the minimal port).
//!
//! ```
//! use rapport::{ManualClock, NewActivity, blocking::Service};
//! use rapport::core::*;
//! use rapport_memory::MemoryStore;
//!
//! let clock = ManualClock::at("2026-05-01T09:00:00Z".parse()?);
//! let svc = Service::new(MemoryStore::new()).with_clock(clock.clone());
//! let t = TenantId::from_u128(1);
//! let ann = svc.register(t, Profile::default())?.customer;
//! let order = NewActivity::purchase(ann.id(), "1", Money::new("2500".parse()?, Currency::USD), svc.now())?;
//! let rec = svc.record(t, order)?;
//! assert_eq!(rec.customer.stage(), Stage::New);
//! assert_eq!(rec.customer.tier(), Tier::Gold);
//!
//! // Two years later, the nightly sweep: every customer's decisions, with reasons.
//! clock.advance(chrono::Duration::days(730));
//! let mut stages = Vec::new();
//! svc.sweep_with_decisions(t, svc.now(), 500, |c, e| stages.push((c.id(), e.stage.to)))?;
//! assert_eq!(stages, [(ann.id(), Stage::Churned)]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

mod account;
mod account_merge;
mod account_value;
mod activity;
mod automation;
pub mod blocking;
mod case;
mod clock;
mod error;
mod fitted;
mod privacy;
mod recommend;
mod relay;
mod relay_loop;
mod review;
mod service;
mod store_ext;
mod value;

pub use rapport_core as core;

pub use account::AccountRollup;
pub use account_value::{AccountSweep, AccountView};
pub use activity::NewActivity;
pub use automation::{AutomationNotifier, FireReport, Redrive, record_triggers};
pub use case::{CaseChange, ComplaintRecorded, OpenCase};
pub use clock::{Clock, IdSource, ManualClock, SystemClock, UuidV7Ids};
pub use error::Error;
pub use fitted::{ClvFit, ClvModelKind, FitClvOptions};
pub use privacy::{
    ConsentImportReport, ConsentImportRow, ConsentRequest, RetentionReport, RetentionSweep,
};
pub use recommend::{Purchases, Recommendations, Recommender, TopByTier};
pub use relay::{RelayConfig, RelayReport, relay_once};
pub use relay_loop::{
    RelayHandle, RelayLoopConfig, RelayThread, RelayTotals, run_relay, spawn_relay,
};
pub use review::{CONVERSION_DAYS, Review};
pub use service::{
    AUTO_MERGE_ACTOR, AutoMerged, DEFAULT_MAX_ATTEMPTS, DuplicateOptions, MergeRequest, Merged,
    NoopNotifier, Recorded, Registered, Service, SweepProgress,
};
pub use store_ext::{MAX_MERGE_HOPS, StoreExt};
