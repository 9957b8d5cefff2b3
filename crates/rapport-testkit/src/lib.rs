//! The conformance kit for **rapport** stores.
//!
//! Any [`Store`](rapport_core::Store) — ours or yours — runs the same contracts:
//!
//! | contract | what it checks |
//! |---|---|
//! | `create_fails_already_exists` | a create of an existing id fails `AlreadyExists` and overwrites nothing |
//! | `stale_update_conflicts` | a stale update fails `Conflict {expected, actual}`; nothing of its changeset is written |
//! | `changeset_is_atomic` | a failing write rolls back the writes before it, messages included |
//! | `activities_are_idempotent` | a repeated key is reported in `Applied::duplicates`, nothing written; keys are per tenant |
//! | `tenants_are_isolated` | load, find, scan, activities, apply: tenant B never sees or changes A's rows |
//! | `merge_reads_through` | a `Merged { into }` tombstone reads back with its survivor |
//! | `tombstones_are_final` | no changeset edits a `Merged` or `Erased` tombstone (`Tombstoned`, nothing written) |
//! | `outbox_leases` | messages commit with their change; leases, expiry, retry times, acks |
//! | `values_round_trip` | 28-digit decimals keep their scale; times keep microseconds |
//! | `pagination_is_stable` | pages in id order; concurrent inserts never repeat or skip rows |
//! | `contacts_are_found` | lookup by normalised email and phone |
//! | `erasure_leaves_no_pii` | after the erasing write no read (load, contact lookup, scan, query) returns the personal data; tenant B untouched |
//! | `segment_query_equals_in_memory_evaluation` | `query` gives what `scan` + `Segment::matches` give, for predicates over every field kind, paged, per tenant |
//! | `refunds_are_checked_against_orders` | through the service: a refund of an unknown or another customer's order, or above what is left, is refused with its typed error and writes nothing; the order's date is kept; a retried refund is a duplicate |
//! | `time_travel_and_simulation` | through the service: `as_of` sees the activities up to an instant (inclusive), equals the stored evaluation at now, ranks RFM within the tenant; `simulate` counts the tenant's customers, lists the movers, writes nothing |
//! | `review_matches_the_definitions` | through the service: `Service::review` on a planted five-customer book gives the churn, win-back and conversion rates, stage flows, NPS (latest answer, this tenant only), CSAT, revenue and cohorts DOMAIN.md's definitions give |
//! | `consent_ledger` (flag `privacy`) | consent entries commit with the customer's snapshot, read back in ledger order, none kept from a refused changeset, moved whole, per tenant |
//! | `erasure_is_complete` (flag `privacy`) | an erasure empties the profile, keeps the aggregates to the cent, strips activities' free text and consent entries, drops the customer's pending messages, stores one record; tenant B untouched |
//! | `erasure_reaches_merged_records` (flag `privacy`) | erasing a person erases the tombstones merged into them (along a chain) and redacts every merge record naming them; such merges cannot be undone; a customer unmerged from them keeps its data |
//! | `export_holds_everything` (flag `privacy`) | through the service: a person's export holds their profile, attributes, tag (source, expiry), activities, consent history in order, the merge into them and the tier and stage history; nothing of tenant B's person with the same ids; after an erasure none of the personal strings but the aggregates to the cent; erasing again returns the same record and writes nothing |
//! | `retention_erases_only_the_inactive` (flag `privacy`) | through the service: the retention policy's dry run counts exactly the customers inactive too long (the last activity counts, the creation only without any, tombstones never) and writes nothing; the run erases exactly those; a second run finds none; tenant B untouched |
//! | `differential` | random operation sequences give the results an independent oracle of the store contracts predicts, and the same as `rapport-memory` |
//!
//! Use the macro with a factory that makes a fresh, empty store:
//!
//! ```
//! mod memory_conformance {
//!     rapport_testkit::store_contracts!(rapport_memory::MemoryStore::new);
//! }
//! ```
//!
//! Each contract is also a plain `pub async fn` in [`contracts`] returning `Err(description)`
//! on a violation, for hosts that drive their own runtime.
//!
//! [`broken::Broken`] wraps a real store and replaces only the methods a test breaks, to show
//! that a contract fails on a store that breaks it.
#![forbid(unsafe_code)]

pub mod account;
pub mod actions;
pub mod baskets;
pub mod broken;
pub mod case;
pub mod contracts;
pub mod differential;
pub mod fault;
pub mod generate;
pub mod import;
pub mod line_items;
pub mod merge;
pub mod privacy;
pub mod reliability;
pub mod review;
mod support;
pub mod value;

pub use support::{FixedClock, FlakyNotifier, RecordingNotifier, SequentialIds};

/// Runs a contract on a fresh store without an async runtime.
///
/// # Panics
/// When the contract is violated (this is for `#[test]` functions).
///
/// ```
/// use rapport_memory::MemoryStore;
/// use rapport_testkit::{check, contracts, fault::FaultyStore};
/// check(MemoryStore::new, |s| async move { contracts::tenants_are_isolated(&s).await });
/// // A broken store panics with the violation.
/// let broken = std::panic::catch_unwind(|| {
///     check(|| FaultyStore::new(MemoryStore::new(), 1, false), |s| async move {
///         contracts::create_fails_already_exists(&s).await
///     })
/// });
/// assert!(broken.is_err());
/// ```
pub fn check<S, F, Fut>(factory: impl FnOnce() -> S, contract: F)
where
    F: FnOnce(S) -> Fut,
    Fut: std::future::Future<Output = contracts::Outcome>,
{
    if let Err(e) = futures::executor::block_on(contract(factory())) {
        panic!("store contract violated: {e}");
    }
}

/// Expands to one `#[test]` per contract for a store factory (`fn() -> impl Store`), run
/// without an async runtime, plus the [`differential`] test (64 cases).
///
/// Put it in a test module of the store's crate; each contract becomes a test named after it
/// (`cargo test create_fails_already_exists` runs one). Capability flags after a `;` opt into
/// the contracts a store must declare it can take:
///
/// | flag | adds |
/// |---|---|
/// | `actions` | the store implements `ActionStore`: `actions_are_durable_and_atomic` (scheduled automation actions and the action log), `dead_letters_are_recorded_and_redriven` (dead letters and re-drives in the action log) |
/// | `concurrent` | the store is safe to share between threads: `no_lost_updates_under_concurrency` (8 threads × 125 conflicting read-modify-writes through the service, none lost), `outbox_survives_failures_and_relay_deaths` (1,000 events, 30 % failed deliveries, relay deaths: all delivered, none stuck) and `racing_refunds_never_exceed_the_order` (50 orders of 50.00, each refunded 30.00 by two threads at once: exactly one of each pair recorded) |
/// | `accounts` | the store is an [`AccountStore`](rapport_core::AccountStore) (and an `ActionStore`): the [`account`] contracts (`accounts_round_trip_and_link`, `account_versions_conflict`, `account_activities_attributed`, `account_roles_feed_rules`, `accounts_merge_and_unmerge`) |
/// | `line_items` | the store is a [`LineItemStore`](rapport_core::LineItemStore): [`line_items::line_items_round_trip`] (lines written with their purchase, read back by activity, customer and page, none written for a replayed key, tenants isolated), [`line_items::segments_read_line_items`] (`bought` / `category_spend` in `query`, net of refunds, `purchase_lines`) |
/// | `activity_import` | the store is an [`ActivityImport`](rapport_core::ports::ActivityImport) and a `LineItemStore`: the [`import`] contracts (`import_round_trips_lines`: lines read back, a full refund without lines given what is left of its order, re-import writes nothing; `import_folds_as_the_service`: stats and `category_spend` equal to the same activities recorded through the service; `bad_import_writes_nothing`: a bad row, tenant isolation) |
/// | `cases` | the store is a [`CaseStore`](rapport_core::CaseStore): the [`case`] contracts (`cases_round_trip_and_list`, `case_versions_conflict`, `no_case_change_lost_under_concurrency`: 4 threads × 10 conflicting status changes, none lost) |
/// | `clv_models` | the store overrides `Store::clv_model` / `save_clv_model`: [`value::clv_models_are_kept`] (round trip, latest `fitted_at` wins, tenant isolation, invalid models refused, churn risk from the model) |
/// | `privacy` | the store is a [`ConsentStore`](rapport_core::ports::ConsentStore), an [`ErasureStore`](rapport_core::ports::ErasureStore) and a [`MergeStore`](rapport_core::ports::MergeStore): `consent_ledger`, `erasure_is_complete`, `erasure_reaches_merged_records`, and through the service `export_holds_everything`, `retention_erases_only_the_inactive` (the [`privacy`] contracts) |
///
/// The tests only exist under `cargo test`, so this example can only show the expansion
/// compiling:
///
/// ```
/// mod conformance {
///     rapport_testkit::store_contracts!(rapport_memory::MemoryStore::new; concurrent);
/// }
/// // Without the macro, the same check by hand:
/// rapport_testkit::check(rapport_memory::MemoryStore::new, |s| async move {
///     rapport_testkit::contracts::pagination_is_stable(&s).await
/// });
/// ```
#[macro_export]
macro_rules! store_contracts {
    (@each $factory:expr; $($name:ident),+) => {
        $(
            #[test]
            fn $name() {
                $crate::check($factory, |s| async move { $crate::contracts::$name(&s).await });
            }
        )+
    };
    (@cap $factory:expr; privacy) => {
        #[test]
        fn consent_ledger() {
            $crate::check($factory, |s| async move { $crate::privacy::consent_ledger(&s).await });
        }
        #[test]
        fn erasure_is_complete() {
            $crate::check($factory, |s| async move { $crate::privacy::erasure_is_complete(&s).await });
        }
        #[test]
        fn erasure_reaches_merged_records() {
            $crate::check($factory, |s| async move { $crate::privacy::erasure_reaches_merged_records(&s).await });
        }
        #[test]
        fn export_holds_everything() {
            $crate::check($factory, |s| async move { $crate::privacy::export_holds_everything(&s).await });
        }
        #[test]
        fn retention_erases_only_the_inactive() {
            $crate::check($factory, |s| async move { $crate::privacy::retention_erases_only_the_inactive(&s).await });
        }
    };
    (@cap $factory:expr; concurrent) => {
        #[test]
        fn no_lost_updates_under_concurrency() {
            let r = $crate::reliability::no_lost_updates(($factory)(), 8, 125)
                .unwrap_or_else(|e| panic!("store contract violated: {e}"));
            assert_eq!(
                (r.counter, r.version),
                (1_000, 1_001),
                "store contract violated: lost updates ({r:?})"
            );
        }
        #[test]
        fn one_customer_per_contact_under_concurrency() {
            let r = $crate::reliability::one_customer_per_contact(($factory)(), 8, 125)
                .unwrap_or_else(|e| panic!("store contract violated: {e}"));
            assert_eq!(
                (r.creates, r.created, r.refused),
                (1_000, 1, 999),
                "store contract violated: one email, several customers ({r:?})"
            );
            assert_eq!(
                (r.register_new, r.register_new_created, r.registers, r.register_created, r.register_ids, r.customers),
                (1_000, 1, 1_000, 1, 1, 3),
                "store contract violated: racing registrations ({r:?})"
            );
        }
        #[test]
        fn outbox_survives_failures_and_relay_deaths() {
            let (r, _) = $crate::reliability::outbox_survives_failures(($factory)(), 1_000, 0.3, 3)
                .unwrap_or_else(|e| panic!("store contract violated: {e}"));
            assert_eq!(r.delivered_unique, 1_000, "store contract violated: undelivered events ({r:?})");
            assert_eq!(r.stuck, 0, "store contract violated: stuck messages ({r:?})");
        }
        #[test]
        fn racing_refunds_never_exceed_the_order() {
            let r = $crate::reliability::refund_race(($factory)(), 50)
                .unwrap_or_else(|e| panic!("store contract violated: {e}"));
            assert_eq!(
                (r.accepted, r.refused),
                (50, 50),
                "store contract violated: racing refunds ({r:?})"
            );
        }
    };
    (@cap $factory:expr; cases) => {
        $crate::case_contracts!($factory);
    };
    (@cap $factory:expr; activity_import) => {
        $crate::import_contracts!($factory);
    };
    (@cap $factory:expr; line_items) => {
        $crate::line_item_contracts!($factory);
    };
    (@cap $factory:expr; accounts) => {
        $crate::account_contracts!($factory);
    };
    (@cap $factory:expr; actions) => {
        #[test]
        fn actions_are_durable_and_atomic() {
            $crate::check($factory, |s| async move { $crate::actions::actions_are_durable_and_atomic(&s).await });
        }
        #[test]
        fn dead_letters_are_recorded_and_redriven() {
            $crate::check($factory, |s| async move { $crate::actions::dead_letters_are_recorded_and_redriven(&s).await });
        }
    };
    (@cap $factory:expr; clv_models) => {
        #[test]
        fn clv_models_are_kept() {
            $crate::check($factory, |s| async move { $crate::value::clv_models_are_kept(&s).await });
        }
    };
    (@cap $factory:expr; merges) => {
        #[test]
        fn merge_round_trip() {
            $crate::check($factory, |s| async move { $crate::merge::merge_round_trip(&s).await });
        }
        #[test]
        fn merge_moves_belongings() {
            $crate::check($factory, |s| async move { $crate::merge::merge_moves_belongings(&s).await });
        }
        #[test]
        fn merge_folds_consent_snapshots() {
            $crate::check($factory, |s| async move { $crate::merge::merge_folds_consent_snapshots(&s).await });
        }
        #[test]
        fn distinct_pairs_are_remembered() {
            $crate::check($factory, |s| async move { $crate::merge::distinct_pairs_are_remembered(&s).await });
        }
        #[test]
        fn merge_is_atomic_under_faults() {
            $crate::merge::merge_is_atomic_under_faults($factory)
                .unwrap_or_else(|e| panic!("store contract violated: {e}"));
        }
        #[test]
        fn merge_race_never_makes_a_cycle() {
            // The issue's figure: 1,000 races, each pair fresh.
            let r = $crate::merge::merge_race(($factory)(), 1_000)
                .unwrap_or_else(|e| panic!("store contract violated: {e}"));
            assert_eq!((r.won, r.refused), (1_000, 1_000), "store contract violated: {r:?}");
        }
    };
    ($factory:expr) => {
        $crate::store_contracts!($factory;);
    };
    ($factory:expr; $($cap:ident),*) => {
        $crate::store_contracts!(@each $factory;
            create_fails_already_exists,
            stale_update_conflicts,
            changeset_is_atomic,
            activities_are_idempotent,
            tenants_are_isolated,
            merge_reads_through,
            tombstones_are_final,
            outbox_leases,
            values_round_trip,
            pagination_is_stable,
            contacts_are_found,
            contacts_are_unique,
            erasure_leaves_no_pii,
            segment_query_equals_in_memory_evaluation,
            refunds_are_checked_against_orders,
            time_travel_and_simulation,
            review_matches_the_definitions
        );
        #[test]
        fn differential() {
            $crate::differential::run($factory, 64);
        }
        $( $crate::store_contracts!(@cap $factory; $cap); )*
    };
}

/// The same contracts as [`store_contracts!`], each a `#[tokio::test]` on a current-thread
/// runtime, for stores whose futures need tokio. The calling crate needs `tokio` (features
/// `rt`, `macros`) in its dev-dependencies.
///
/// Of the capability flags after a `;`, it takes `privacy` (the same five contracts as
/// [`store_contracts!`]'s).
///
/// ```ignore
/// rapport_testkit::store_contracts_tokio!(|| MyStore::connect_fresh());
/// rapport_testkit::store_contracts_tokio!(|| MyStore::connect_fresh(); privacy);
/// ```
#[cfg(feature = "tokio")]
#[macro_export]
macro_rules! store_contracts_tokio {
    (@cap $factory:expr; privacy) => {
        $crate::store_contracts_tokio!(@run $factory; privacy;
            consent_ledger,
            erasure_is_complete,
            erasure_reaches_merged_records,
            export_holds_everything,
            retention_erases_only_the_inactive
        );
    };
    (@each $factory:expr; $($name:ident),+) => {
        $crate::store_contracts_tokio!(@run $factory; contracts; $($name),+);
    };
    (@run $factory:expr; $module:ident; $($name:ident),+) => {
        $(
            #[tokio::test]
            async fn $name() {
                let store = ($factory)();
                if let Err(e) = $crate::$module::$name(&store).await {
                    panic!("store contract violated: {e}");
                }
            }
        )+
    };
    ($factory:expr) => {
        $crate::store_contracts_tokio!($factory;);
    };
    ($factory:expr; $($cap:ident),*) => {
        $crate::store_contracts_tokio!(@each $factory;
            create_fails_already_exists,
            stale_update_conflicts,
            changeset_is_atomic,
            activities_are_idempotent,
            tenants_are_isolated,
            merge_reads_through,
            tombstones_are_final,
            outbox_leases,
            values_round_trip,
            pagination_is_stable,
            contacts_are_found,
            contacts_are_unique,
            erasure_leaves_no_pii,
            segment_query_equals_in_memory_evaluation,
            refunds_are_checked_against_orders,
            time_travel_and_simulation,
            review_matches_the_definitions
        );
        $( $crate::store_contracts_tokio!(@cap $factory; $cap); )*
    };
}
