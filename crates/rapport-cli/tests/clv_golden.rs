//! `rapport clv run` prints the same bytes as the version measured in docs/performance.md:
//! its output on two inputs is compared with goldens taken from that version, so a faster
//! reader, grouping or writer cannot change a digit.
//!
//! - CDNOW's 2,357 customers (decimal weeks: the hashed grouping, one thread): the whole CSV
//!   in `testdata/clv/cdnow_clv_run_golden.csv`.
//! - 80,000 generated customers in whole weeks (1.6 MB: the direct grouping, the file cut
//!   between the cores, lines formatted on several threads), with an empty line, CRLF line
//!   ends and cells padded with spaces here and there: an FNV-1a hash of the output.
#![allow(clippy::unwrap_used, missing_docs)]

mod support;

use std::path::PathBuf;
use support::{rapport, stdout_ok};

fn reference(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/clv")
        .join(name)
}

/// FNV-1a, 64 bits.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A CDNOW-like summary in whole weeks, from a fixed xorshift sequence.
fn generated(rows: usize) -> String {
    let mut s = 0x9E37_79B9_7F4A_7C15_u64;
    let mut next = move |n: u64| {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        s % n
    };
    let mut out = String::from("customer_id,frequency,recency,T,monetary_value\n");
    for i in 0..rows {
        let big_t = 39 + next(40);
        // Half without repeat purchases, the rest mostly few.
        let x = if next(2) == 0 {
            0
        } else {
            1 + next(4) * next(6)
        };
        let (tx, m) = if x == 0 {
            (0, 0)
        } else {
            (
                x.min(big_t) + next(big_t - x.min(big_t) + 1),
                500 + next(20_000),
            )
        };
        let line = if i % 997 == 5 {
            format!("c{i}, {x} ,{tx},{big_t} , {}.{:02}\r\n", m / 100, m % 100)
        } else if i % 13 == 0 {
            format!("c{i},{x},{tx},{big_t},{}.{:02}\r\n", m / 100, m % 100)
        } else {
            format!("c{i},{x},{tx},{big_t},{}.{:02}\n", m / 100, m % 100)
        };
        out.push_str(&line);
        if i == rows / 2 {
            out.push('\n');
        }
    }
    out
}

fn clv_run(dir: &std::path::Path, input: &str, cols: &[&str]) -> String {
    let mut args = vec![
        "clv",
        "run",
        "--input",
        input,
        "--horizon",
        "52",
        "--clv-months",
        "12",
        "--discount",
        "0.01",
        "--period",
        "week",
    ];
    args.extend_from_slice(cols);
    stdout_ok(&rapport(dir, &args))
}

#[test]
fn clv_run_prints_the_golden_bytes_on_cdnow() {
    let dir = tempfile::tempdir().unwrap();
    let input = reference("cdnow_customers_summary_with_transactions.csv");
    let out = clv_run(
        dir.path(),
        input.to_str().unwrap(),
        &[
            "--frequency-col",
            "x",
            "--recency-col",
            "t_x",
            "--monetary-col",
            "zbar",
        ],
    );
    let golden = std::fs::read_to_string(reference("cdnow_clv_run_golden.csv")).unwrap();
    assert_eq!(out.lines().count(), 2358);
    for (i, (a, b)) in out.lines().zip(golden.lines()).enumerate() {
        assert_eq!(a, b, "line {}", i + 1);
    }
    assert!(out == golden, "the same lines, but not the same bytes");
}

#[test]
fn clv_run_prints_the_golden_bytes_on_a_file_read_by_both_cores() {
    let dir = tempfile::tempdir().unwrap();
    let body = generated(80_000);
    assert!(body.len() > 1 << 20, "big enough to be cut between threads");
    let input = dir.path().join("summary.csv");
    std::fs::write(&input, &body).unwrap();
    let out = clv_run(dir.path(), input.to_str().unwrap(), &[]);
    assert_eq!(out.lines().count(), 80_001);
    assert_eq!(
        out.lines().nth(1).unwrap(),
        "c0,0.15301246021961495,1.0,113.25953293317765,16.311192474596627"
    );
    assert_eq!(
        fnv1a(out.as_bytes()),
        0x0ee0_2e27_ec93_45ef,
        "the output changed"
    );
}
