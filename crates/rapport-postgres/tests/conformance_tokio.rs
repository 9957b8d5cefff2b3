//! The same contracts as `#[tokio::test]`s: the store's futures awaited inside a tokio
//! (current-thread) runtime, as an async host does.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use support::fresh;

rapport_testkit::store_contracts_tokio!(fresh; privacy);
