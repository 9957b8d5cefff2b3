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
