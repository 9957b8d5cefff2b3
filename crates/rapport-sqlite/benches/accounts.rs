//! Issue #18's account sweep goal: 100k accounts × 10 contacts with roll-ups, memory < 2 s and
//! SQLite < 20 s. A timed bench binary (one sweep takes seconds, so criterion's ten samples per
//! store would take minutes on a busy machine): the book is written once per store, then
//! `Service::sweep_accounts` runs three times — the first writes every account's standing,
//! the next two find nothing to change — beside its baseline measured in the same run, the
//! read pass alone (every page of accounts, the page's attributed activities and its contacts
//! by role), and the older read account by account for comparison.
//!
//! The book: groups of ten accounts (a parent and nine subsidiaries, so every parent's
//! figures roll up nine others), ten linked contacts an account (1M links, roles cycling),
//! three attributed purchases an account on different days (300k activities).
//!
//! Run: `cargo bench -p rapport-sqlite --bench accounts` (`ACCOUNTS=10000` for a smaller book).
#![allow(missing_docs, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use futures::executor::block_on;
use rapport_core::*;
use rapport_memory::MemoryStore;
use rapport_sqlite::{SqliteConfig, SqliteStore};
use rust_decimal::Decimal;

const T: TenantId = TenantId::from_u128(1);
const CONTACTS: u128 = 10;
const PURCHASES: u128 = 3;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).unwrap()
}

/// Writes the book in changesets of 500 accounts (each with its links and attributions).
fn write_book<S: AccountStore>(store: &S, accounts: u128) {
    let mut cs = Changeset::new();
    for i in 0..accounts {
        let id = AccountId::from_u128(i + 1);
        let mut a = Account::new(
            id,
            T,
            AccountName::new(format!("Company {i}")).unwrap(),
            now(),
        );
        if i % 10 != 0 {
            a.parent = Some(AccountId::from_u128(i - i % 10 + 1));
        }
        cs.accounts.push(AccountWrite::Create {
            account: Box::new(a),
        });
        for c in 0..CONTACTS {
            let role = AccountRole::ALL[(c % 5) as usize];
            let mut l = AccountLink::new(
                id,
                CustomerId::from_u128(i * CONTACTS + c + 1),
                [role],
                now(),
            );
            l.primary = c == 0;
            cs.account_links.push(l);
        }
        for p in 0..PURCHASES {
            let n = i * PURCHASES + p;
            let at = now() - chrono::Duration::days(i64::try_from(1 + p * 40 + i % 90).unwrap());
            let activity = Activity::new(
                ActivityId::from_u128(n + 1),
                CustomerId::from_u128(i * CONTACTS + p + 1),
                at,
                Channel::Web,
                IdempotencyKey::new(format!("o{n}")).unwrap(),
                ActivityKind::Purchase {
                    order_id: OrderId::new(format!("o{n}")).unwrap(),
                    amount: Money::new(Decimal::from(50 + (i % 7) * 400), Currency::USD),
                    margin: None,
                },
            )
            .unwrap();
            cs.account_activities
                .push(AccountActivity::new(id, activity).unwrap());
        }
        if cs.accounts.len() == 500 {
            block_on(store.apply(T, &cs)).unwrap();
            cs = Changeset::new();
        }
    }
    if !cs.is_empty() {
        block_on(store.apply(T, &cs)).unwrap();
    }
}

/// The read pass of the sweep alone: every page of accounts, then the page's attributed
/// activities and its contacts by role (one call each a page).
fn read_pass<S: AccountStore>(store: &S) -> usize {
    let mut after = None;
    let mut read = 0;
    loop {
        let page = block_on(store.accounts(T, after, 1_000)).unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.id());
        let ids: Vec<AccountId> = page.iter().map(Account::id).collect();
        read += block_on(store.accounts_activities(T, &ids))
            .unwrap()
            .iter()
            .map(Vec::len)
            .sum::<usize>();
        read += block_on(store.contacts_by_role(T, &ids))
            .unwrap()
            .values()
            .sum::<usize>();
    }
    read
}

/// The read pass before pages (for comparison): each account's attributions and links, one
/// call each an account.
fn read_pass_per_account<S: AccountStore>(store: &S) -> usize {
    let mut after = None;
    let mut read = 0;
    loop {
        let page = block_on(store.accounts(T, after, 1_000)).unwrap();
        let Some(last) = page.last() else { break };
        after = Some(last.id());
        for a in &page {
            read += block_on(store.account_activities(T, a.id())).unwrap().len();
            read += block_on(store.account_links(T, a.id())).unwrap().len();
        }
    }
    read
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn run<S: AccountStore + 'static>(name: &str, store: S, accounts: u128) {
    let started = Instant::now();
    write_book(&store, accounts);
    println!(
        "{name}: book of {accounts} accounts written in {}",
        secs(started.elapsed())
    );
    let svc = rapport::Service::new(store);
    let t = Instant::now();
    let rows = read_pass_per_account(svc.store());
    println!(
        "{name}: read pass account by account ({rows} rows): {}",
        secs(t.elapsed())
    );
    let t = Instant::now();
    let rows = read_pass(svc.store());
    let baseline = t.elapsed();
    println!(
        "{name}: baseline read pass, a page at a time ({rows} activities and active roles): {}",
        secs(baseline)
    );
    for round in 1..=3 {
        let t = Instant::now();
        let s = block_on(svc.sweep_accounts(T, now())).unwrap();
        let took = t.elapsed();
        assert_eq!(s.accounts, usize::try_from(accounts).unwrap());
        println!(
            "{name}: sweep {round}: {} ({} changed; {:.2}x the read pass); tiers {:?}",
            secs(took),
            s.changed,
            took.as_secs_f64() / baseline.as_secs_f64(),
            s.by_tier
        );
    }
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is not used.
    let accounts: u128 = std::env::var("ACCOUNTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    run("memory", MemoryStore::new(), accounts);
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(
        dir.path().join("accounts.db"),
        SqliteConfig::default(),
        now(),
    )
    .unwrap();
    run("sqlite", store, accounts);
}
