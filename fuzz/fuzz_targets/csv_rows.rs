//! The CSV row reader of `rapport import transactions` (rapport-cli's `rows.rs`, compiled here
//! as it is in the binary) on arbitrary files. The first byte picks the options (skip bad
//! rows or stop at the first; ISO 8601 dates or `%Y%m%d`). Nothing may panic, and:
//! - every accepted row has a customer id of 1–160 characters without control characters, a
//!   non-negative amount (never `-0`), a time no later than the import's now plus its
//!   tolerance, and a line after the header; lines only grow;
//! - written back (id, RFC 3339 time, amount) as a one-row file, it reads back the same;
//! - skipping bad rows keeps every row: accepted + bad = the file's records; and the run that
//!   stops at the first bad row stops at the first row the skipping run lists as bad, and
//!   otherwise accepts the same rows.
#![no_main]

use chrono::{Duration, TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use rapport_core::Currency;

#[allow(dead_code, unreachable_pub)]
#[path = "../../crates/rapport-cli/src/rows.rs"]
mod rows;

use rows::{Columns, DateFormat, ReadError, RowError, Tx};

fn columns(iso: bool) -> Columns {
    Columns {
        customer: "customer_id".into(),
        date: "date".into(),
        amount: "amount".into(),
        // `order_id` and `type` are read when the header has them (the refund rows).
        order: None,
        kind: None,
        date_format: if iso {
            DateFormat::Iso
        } else {
            DateFormat::Custom("%Y%m%d".into())
        },
        currency: Currency::USD,
        now: Utc.with_ymd_and_hms(2026, 2, 1, 0, 0, 0).single().unwrap_or_default(),
        future_tolerance: Duration::days(1),
    }
}

fn records(data: &[u8]) -> Option<usize> {
    let mut r = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(data);
    r.headers().ok()?;
    r.records().map(|r| r.ok()).collect::<Option<Vec<_>>>().map(|v| v.len())
}

fn check_row(t: &Tx, cols: &Columns) {
    assert!(rows::check_external(&t.customer).is_ok(), "{t:?}");
    assert!(!t.customer.is_empty() && t.customer.chars().count() <= rows::MAX_EXTERNAL_ID);
    assert!(!t.amount.is_sign_negative(), "negative amount {t:?}");
    assert!(t.at <= cols.now + cols.future_tolerance, "in the future: {t:?}");
    assert!(t.line >= 2, "line {} is the header", t.line);
    // Written back canonically, the row reads back the same.
    let mut w = csv::Writer::from_writer(Vec::new());
    let written = w
        .write_record(["customer_id", "date", "amount"])
        .and_then(|()| {
            w.write_record([
                t.customer.clone(),
                t.at.to_rfc3339(),
                t.amount.to_string(),
            ])
        })
        .map_err(|e| e.to_string())
        .and_then(|()| w.into_inner().map_err(|e| e.to_string()));
    let Ok(file) = written else {
        panic!("cannot write {t:?} back");
    };
    match rows::parse(file.as_slice(), &columns(true), false) {
        Ok((back, bad)) => {
            assert!(bad.is_empty());
            assert_eq!(back.len(), 1, "{t:?}");
            assert_eq!(
                (&back[0].customer, back[0].at, back[0].amount),
                (&t.customer, t.at, t.amount)
            );
            assert_eq!(back[0].amount.scale(), t.amount.scale());
        }
        Err(e) => panic!("{t:?} written back does not read: {e:?}"),
    }
}

fn check_bad(e: &RowError, cols: &Columns) {
    assert!(e.line >= 2);
    let col = e.column.as_deref().unwrap_or_default();
    assert!([&cols.customer, &cols.date, &cols.amount].iter().any(|c| c.as_str() == col));
    assert!(e.to_string().starts_with(&format!("line {}, column `{col}`: ", e.line)));
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, file)) = data.split_first() else {
        return;
    };
    let cols = columns(flags & 1 == 0);
    let skipping = rows::parse(file, &cols, true);
    let stopping = rows::parse(file, &cols, false);
    match &skipping {
        Ok((txs, bad)) => {
            for t in txs {
                check_row(t, &cols);
            }
            for e in bad {
                check_bad(e, &cols);
            }
            // Each record is one accepted or one bad row, at its own line.
            let mut lines: Vec<u64> = txs.iter().map(|t| t.line).chain(bad.iter().map(|e| e.line)).collect();
            lines.sort_unstable();
            lines.dedup();
            assert_eq!(lines.len(), txs.len() + bad.len(), "two rows on one line");
            assert!(txs.windows(2).all(|w| w[0].line < w[1].line), "rows out of order");
            if let Some(n) = records(file) {
                assert_eq!(txs.len() + bad.len(), n, "a row was dropped");
            }
            match (&stopping, bad.first()) {
                (Ok((same, none)), None) => {
                    assert!(none.is_empty());
                    let key = |t: &Tx| (t.line, t.customer.clone(), t.at, t.amount);
                    assert!(same.iter().map(key).eq(txs.iter().map(key)));
                }
                (Err(ReadError::Row(first)), Some(listed)) => assert_eq!(first, listed),
                (other, listed) => panic!("stopping run {other:?}, first bad row {listed:?}"),
            }
        }
        // A malformed file: the run that stops at the first bad row may stop there first.
        Err(ReadError::File(_)) => assert!(stopping.is_err(), "{stopping:?}"),
        Err(ReadError::Row(e)) => panic!("a skipping run stopped at a row: {e:?}"),
    }
});
