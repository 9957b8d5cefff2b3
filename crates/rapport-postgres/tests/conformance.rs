//! rapport-postgres passes the conformance kit, the differential test against rapport-memory,
//! and the reliability checks through the service, against a real server (see
//! `support/mod.rs` for where the server comes from). Driven by `futures::executor::block_on`:
//! the store runs its database work on its own runtime.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use support::fresh;

rapport_testkit::store_contracts!(fresh; concurrent);
