//! A store that forwards every port to a real one except the methods a test breaks, for the
//! tests that show a contract can fail: [`Broken`] wraps the real store, [`Hooks`] says what
//! it does differently.
//!
//! Every method of every port — [`Store`], [`Outbox`], [`LineItemStore`], [`CaseStore`],
//! [`AccountStore`], [`ActionStore`], [`ActivityImport`], [`MergeStore`], [`ConsentStore`],
//! [`ErasureStore`], provided methods included — is a provided method of [`Hooks`] that
//! calls the wrapped store's; a test implements `Hooks` and overrides only the methods it
//! breaks. `Broken<S, H>` is each port that `S` is.
//!
//! A forwarded provided method is the wrapped store's own (e.g. its native
//! `ActivityImport::import_activities`), not the port's default over the wrapper: a hook that
//! breaks `apply` and wants bulk imports broken the same way overrides `import_activities`
//! too (with [`import_by_apply`](rapport_core::ports::import_by_apply) over `this`).
//!
//! ```
//! use futures::executor::block_on;
//! use rapport_core::*;
//! use rapport_memory::MemoryStore;
//! use rapport_testkit::broken::{Broken, Hooks};
//!
//! /// Writes no activities: the store "loses" what it is given.
//! struct DropsActivities;
//!
//! impl Hooks<MemoryStore> for DropsActivities {
//!     async fn apply(
//!         this: &Broken<MemoryStore, Self>,
//!         t: TenantId,
//!         cs: &Changeset,
//!     ) -> Result<Applied, StoreError> {
//!         let mut cs = cs.clone();
//!         cs.activities.clear();
//!         this.inner.apply(t, &cs).await
//!     }
//! }
//!
//! let broken = || Broken::new(MemoryStore::new(), DropsActivities);
//! let r = block_on(rapport_testkit::contracts::activities_are_idempotent(&broken()));
//! assert!(r.is_err(), "the kit catches it");
//! // Without hooks, the wrapper is the store itself: it passes.
//! let plain = Broken::new(MemoryStore::new(), ());
//! assert_eq!(block_on(rapport_testkit::contracts::activities_are_idempotent(&plain)), Ok(()));
//! ```

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rapport_core::automation::{ActionRecord, ScheduledAction};
use rapport_core::ports::{
    ActionLog, ActionStore, ActivityImport, ActivityImportReport, ConsentStore, DueActions,
    ErasureStore, ImportActivity, ImportPolicy, MergeSide, MergeStore,
};
use rapport_core::privacy::{ConsentEntry, ErasureRecord};
use rapport_core::*;

/// A real store (`inner`) whose methods `hooks` may replace (see the [module](self)).
#[derive(Debug, Default)]
pub struct Broken<S, H> {
    /// The real store, which every method not overridden by the hooks calls.
    pub inner: S,
    /// What the wrapper does differently (and any state it needs for it).
    pub hooks: H,
}

impl<S, H> Broken<S, H> {
    /// `inner` with `hooks`.
    ///
    /// ```
    /// use rapport_testkit::broken::Broken;
    /// let s = Broken::new(rapport_memory::MemoryStore::new(), ());
    /// assert_eq!(s.hooks, ());
    /// ```
    pub fn new(inner: S, hooks: H) -> Self {
        Self { inner, hooks }
    }
}

/// No hooks: `Broken<S, ()>` is `S`, method for method.
impl<S: Store> Hooks<S> for () {}

// One table of every port's methods gives both the provided methods of `Hooks` (forward to
// `this.inner`) and the port impls of `Broken` (call the hook), so the two cannot drift apart.
macro_rules! hooks {
    ($(
        $port:ident {
            $( $method:ident($($arg:ident: $ty:ty),*) -> $out:ty; )*
        }
    )*) => {
        /// What a [`Broken`] store does: every port method, forwarded to `this.inner` unless
        /// overridden (override with an `async fn` of the same signature; `this.hooks` is
        /// `self`, for state). Methods of a port `S` is not need no body.
        pub trait Hooks<S: Store>: Sized + Send + Sync {
            $($(
                #[doc = concat!("[`", stringify!($port), "::", stringify!($method), "`]; by default the wrapped store's.")]
                fn $method(
                    this: &Broken<S, Self>,
                    $($arg: $ty),*
                ) -> impl Future<Output = Result<$out, StoreError>> + Send
                where
                    S: $port,
                {
                    this.inner.$method($($arg),*)
                }
            )*)*
        }

        $(
            impl<S: Store + $port, H: Hooks<S>> $port for Broken<S, H> {
                $(
                    fn $method(
                        &self,
                        $($arg: $ty),*
                    ) -> impl Future<Output = Result<$out, StoreError>> + Send {
                        H::$method(self, $($arg),*)
                    }
                )*
            }
        )*
    };
}

hooks! {
    Store {
        load(tenant: TenantId, id: CustomerId) -> Option<Record>;
        find_by_contact(tenant: TenantId, key: &ContactKey) -> Vec<CustomerId>;
        scan(tenant: TenantId, page: Page) -> Vec<Record>;
        query(tenant: TenantId, segment: &Segment, now: DateTime<Utc>, page: Page) -> Vec<Record>;
        activities(tenant: TenantId, id: CustomerId, range: TimeRange) -> Vec<Activity>;
        apply(tenant: TenantId, cs: &Changeset) -> Applied;
        purchase_lines(tenant: TenantId, customer: CustomerId) -> Option<Vec<LineItems>>;
        account_roles(tenant: TenantId, customers: &[CustomerId]) -> Vec<AccountRoleSet>;
        clv_model(tenant: TenantId) -> Option<FittedClv>;
        save_clv_model(tenant: TenantId, model: &FittedClv) -> ();
    }
    Outbox {
        claim_outbox(limit: u32, lease: Duration, now: DateTime<Utc>) -> Vec<OutboxMessage>;
        ack_outbox(ids: &[MessageId]) -> ();
        retry_outbox(id: MessageId, at: DateTime<Utc>) -> ();
        ack_outbox_for(messages: &[(TenantId, MessageId)]) -> ();
        retry_outbox_for(tenant: TenantId, id: MessageId, at: DateTime<Utc>) -> ();
    }
    LineItemStore {
        line_items(tenant: TenantId, activity: ActivityId) -> Option<LineItems>;
        customer_line_items(tenant: TenantId, customer: CustomerId) -> Vec<LineItems>;
        line_items_page(tenant: TenantId, after: Option<ActivityId>, limit: u32) -> Vec<LineItems>;
    }
    CaseStore {
        load_case(tenant: TenantId, id: CaseId) -> Option<Case>;
        cases(tenant: TenantId, query: CaseQuery) -> Vec<Case>;
    }
    AccountStore {
        load_account(tenant: TenantId, id: AccountId) -> Option<Account>;
        accounts(tenant: TenantId, after: Option<AccountId>, limit: u32) -> Vec<Account>;
        subsidiaries(tenant: TenantId, parent: AccountId) -> Vec<Account>;
        account_links(tenant: TenantId, account: AccountId) -> Vec<AccountLink>;
        account_activities(tenant: TenantId, account: AccountId) -> Vec<Activity>;
        customer_links(tenant: TenantId, customer: CustomerId) -> Vec<AccountLink>;
        accounts_activities(tenant: TenantId, accounts: &[AccountId]) -> Vec<Vec<Activity>>;
        contacts_by_role(tenant: TenantId, accounts: &[AccountId]) -> BTreeMap<AccountRole, usize>;
    }
    ActionStore {
        write_actions(t: TenantId, w: &DueActions) -> ActionLog;
        pending_actions(t: TenantId, customer: CustomerId) -> Vec<ScheduledAction>;
        due_actions(t: TenantId, now: DateTime<Utc>, limit: u32) -> Vec<ScheduledAction>;
        action_log(t: TenantId, customer: Option<CustomerId>, since: DateTime<Utc>, limit: u32) -> Vec<ActionRecord>;
    }
    ActivityImport {
        import_activities(tenant: TenantId, batch: Vec<ImportActivity>, policy: &ImportPolicy) -> ActivityImportReport;
    }
    MergeStore {
        merge_record(tenant: TenantId, id: MergeId) -> Option<MergeRecord>;
        merges_of(tenant: TenantId, customer: CustomerId) -> Vec<MergeRecord>;
        distinct_pairs(tenant: TenantId) -> Vec<DistinctPair>;
        belongings(tenant: TenantId, customer: CustomerId) -> Belongings;
        merge_inputs(tenant: TenantId, survivor: CustomerId, loser: CustomerId) -> Option<(MergeSide, MergeSide)>;
    }
    ConsentStore {
        consents(tenant: TenantId, id: CustomerId) -> Vec<ConsentEntry>;
    }
    ErasureStore {
        erasure(tenant: TenantId, id: CustomerId) -> Option<ErasureRecord>;
    }
}
