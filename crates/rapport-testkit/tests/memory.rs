//! rapport-memory passes the whole kit.
#![allow(missing_docs)]

rapport_testkit::store_contracts!(rapport_memory::MemoryStore::new; concurrent, cases, accounts, privacy, actions, merges, line_items, activity_import, clv_models);

mod boxed {
    // The boxed twin passes the same kit: `Box<dyn DynStore>` is a `Store`.
    fn fresh() -> Box<dyn rapport_core::ports::DynStore> {
        Box::new(rapport_memory::MemoryStore::new())
    }
    rapport_testkit::store_contracts!(fresh);
}

mod forwarded {
    // `Broken` without hooks forwards every port: the wrapped store passes the whole kit.
    fn fresh() -> rapport_testkit::broken::Broken<rapport_memory::MemoryStore, ()> {
        rapport_testkit::broken::Broken::new(rapport_memory::MemoryStore::new(), ())
    }
    rapport_testkit::store_contracts!(fresh; concurrent, cases, accounts, privacy, actions, merges, line_items, activity_import, clv_models);
}
