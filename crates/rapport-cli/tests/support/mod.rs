//! What the CLI's end-to-end tests share: the `rapport` binary run in a folder, its output
//! checked, and the usual first step (a transactions CSV imported as of a date). Each test
//! binary uses a part of it.
#![allow(dead_code, clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Output};

/// Runs `rapport args…` in `dir`.
pub(crate) fn rapport(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rapport"))
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

/// The standard output of a run that succeeded (else the test fails with its stderr).
pub(crate) fn stdout_ok(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// The JSON printed by a run that succeeded.
pub(crate) fn json_ok(o: &Output) -> serde_json::Value {
    serde_json::from_str(&stdout_ok(o)).unwrap()
}

/// Runs `rapport args…` in `dir` and returns its standard output; fails the test (naming
/// the arguments) when the run fails.
pub(crate) fn ok(dir: &Path, args: &[&str]) -> String {
    let o = rapport(dir, args);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

/// [`ok`], its output read as JSON.
pub(crate) fn json(dir: &Path, args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&ok(dir, args)).unwrap()
}

/// Writes `csv` (a transactions file with a header) to `dir/file` and imports it quietly
/// into the folder's default database as of `now`.
pub(crate) fn import_transactions(dir: &Path, file: &str, csv: &str, now: &str) {
    std::fs::write(dir.join(file), csv).unwrap();
    ok(
        dir,
        &["import", "transactions", file, "--now", now, "--quiet"],
    );
}
