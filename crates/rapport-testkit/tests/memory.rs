//! rapport-memory passes the whole kit.
#![allow(missing_docs)]

rapport_testkit::store_contracts!(rapport_memory::MemoryStore::new);
