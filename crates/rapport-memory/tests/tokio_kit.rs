//! The kit's tokio form, on rapport-memory.
#![allow(missing_docs)]

rapport_testkit::store_contracts_tokio!(rapport_memory::MemoryStore::new);
