//! The kit's tokio form, on rapport-memory (moved here from rapport-memory, whose dev-dependency on the kit made a cycle).
#![allow(missing_docs)]

rapport_testkit::store_contracts_tokio!(rapport_memory::MemoryStore::new; privacy);
