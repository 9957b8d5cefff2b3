//! The JSON-file store passes the whole conformance kit.
#![allow(clippy::unwrap_used, missing_docs)]

use custom_backend::JsonFileStore;

fn fresh() -> JsonFileStore {
    // Each store gets its own directory under the target dir (kept small; cleaned by `cargo clean`).
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "json-store-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    JsonFileStore::open(dir).unwrap()
}

rapport_testkit::store_contracts!(fresh);
