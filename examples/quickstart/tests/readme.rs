//! The README's embedding example is this crate's `src/main.rs` (below its `//!` header), its
//! dependency list is this crate's, and the program runs.
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::Path;
use std::process::Command;

fn readme() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md");
    std::fs::read_to_string(path).unwrap()
}

/// The fenced block of `lang` that follows `heading` in the README.
fn block(readme: &str, heading: &str, lang: &str) -> String {
    let section = &readme[readme.find(heading).expect("the embedding section")..];
    let open = format!("```{lang}\n");
    let start = section.find(&open).expect("a block") + open.len();
    let len = section[start..].find("```\n").expect("the block's end");
    section[start..start + len].to_owned()
}

const HEADING: &str = "## Embedding";

#[test]
fn the_readme_snippet_is_src_main_rs() {
    let main = include_str!("../src/main.rs");
    let body: String = main
        .lines()
        .skip_while(|l| l.starts_with("//!"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(block(&readme(), HEADING, "rust"), body);
}

#[test]
fn the_readme_dependencies_are_the_crates_dependencies() {
    let toml = block(&readme(), HEADING, "toml");
    let mut listed: Vec<&str> = toml
        .lines()
        .filter_map(|l| l.split_once(" = ").map(|(name, _)| name.trim()))
        .collect();
    listed.sort_unstable();
    let manifest = include_str!("../Cargo.toml");
    let deps = &manifest[manifest.find("[dependencies]\n").unwrap()..];
    let deps = &deps[..deps.find("\n\n").unwrap()];
    let mut ours: Vec<&str> = deps
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once('.').map(|(name, _)| name))
        .collect();
    ours.sort_unstable();
    assert_eq!(listed, ours);
    assert_eq!(listed, ["chrono", "rapport", "rapport-sqlite"]);
}

#[test]
fn the_program_runs_and_a_second_run_records_nothing_new() {
    let dir = tempfile::tempdir().unwrap();
    let run = || {
        let out = Command::new(env!("CARGO_BIN_EXE_quickstart"))
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let first = run();
    assert!(
        first.contains(
            "order 1001: iron because tier.upgrade: revenue_365d = 1200.00 USD against iron.entry = 200 USD"
        ),
        "{first}"
    );
    assert!(
        first.contains("order 1002: gold because tier.upgrade"),
        "{first}"
    );
    assert!(first.contains(": active because"), "{first}");
    assert!(dir.path().join("shop.db").exists());
    let second = run();
    assert!(
        second.contains("order 1001 was already recorded"),
        "{second}"
    );
    assert!(
        second.contains("order 1002 was already recorded"),
        "{second}"
    );
}
