//! SLA evaluation of 1M open cases — both clocks of every case at one `now`, in calendar time
//! and with a business-hours calendar — beside a baseline in the same run: one pass over the
//! same cases adding each one's resolution target to its opening time.
//!
//! Run: `cargo bench -p rapport-core --bench sla`
#![allow(missing_docs, clippy::unwrap_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc, Weekday};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rapport_core::*;

const N: usize = 1_000_000;

/// Open cases as a support desk holds them: opened over the last two weeks, a quarter still
/// `Open`, the others taken in progress, a third of those waiting on the customer (some back
/// in progress after the wait).
fn cases() -> Vec<Case> {
    let t0 = Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let category = CaseCategory::new("delivery").unwrap();
    (0..N)
        .map(|i| {
            let r = next();
            let opened = t0 + chrono::Duration::minutes((r % (14 * 1440)) as i64);
            let sev = CaseSeverity::ALL[(r >> 20) as usize % 4];
            let c = Case::open(NewCase::new(
                CaseId::from_u128(i as u128 + 1),
                TenantId::from_u128(1),
                CustomerId::from_u128(i as u128 + 1),
                category.clone(),
                sev,
                Channel::Email,
                opened,
            ));
            let step = |m: u64| chrono::Duration::minutes(1 + (m % 600) as i64);
            match (r >> 32) % 12 {
                0..=2 => c,
                3..=6 => c
                    .move_to(CaseStatus::InProgress, opened + step(r >> 40))
                    .unwrap(),
                7..=9 => {
                    let c = c
                        .move_to(CaseStatus::InProgress, opened + step(r >> 40))
                        .unwrap();
                    let at = c.last_change_at() + step(r >> 44);
                    c.move_to(CaseStatus::WaitingOnCustomer, at).unwrap()
                }
                _ => {
                    let c = c
                        .move_to(CaseStatus::InProgress, opened + step(r >> 40))
                        .unwrap();
                    let at = c.last_change_at() + step(r >> 44);
                    let c = c.move_to(CaseStatus::WaitingOnCustomer, at).unwrap();
                    let at = c.last_change_at() + step(r >> 48);
                    c.move_to(CaseStatus::InProgress, at).unwrap()
                }
            }
        })
        .collect()
}

fn seconds(mut f: impl FnMut()) -> f64 {
    (0..3)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn office_hours() -> SlaPolicy {
    let days = [
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Fri,
    ];
    SlaPolicy {
        calendar: Some(
            BusinessHours::new(BusinessHoursSpec {
                utc_offset_minutes: 480,
                time_zone: None,
                days: days
                    .iter()
                    .map(|d| DayHours::new(*d, "09:00", "18:00"))
                    .collect(),
                holidays: vec![chrono::NaiveDate::from_ymd_opt(2026, 3, 9).unwrap()],
            })
            .unwrap(),
        ),
        ..SlaPolicy::default()
    }
}

fn bench(c: &mut Criterion) {
    let cases = cases();
    let now = Utc.with_ymd_and_hms(2026, 3, 16, 0, 0, 0).unwrap();
    let calendar_time = SlaPolicy::default();
    let office = office_hours();
    let targets = SlaTargets::default();
    let baseline = || {
        let late = cases
            .iter()
            .filter(|c| {
                let t = targets.get(c.severity).resolution_minutes;
                c.opened_at() + chrono::Duration::minutes(i64::from(t)) < now
            })
            .count();
        black_box(late);
    };
    let breached = |p: &SlaPolicy| {
        cases
            .iter()
            .filter(|c| p.evaluate(c, now).breached())
            .count()
    };
    let base = seconds(baseline);
    let plain = seconds(|| {
        black_box(breached(&calendar_time));
    });
    let hours = seconds(|| {
        black_box(breached(&office));
    });
    let rate = |s: f64| N as f64 / s / 1e6;
    println!(
        "summary (best of 3, 1M open cases, one core): baseline (opened + target < now) {base:.3} s \
         ({:.1} M cases/s); SLA evaluation, calendar time {plain:.3} s ({:.1} M cases/s, {:.1}x the \
         baseline); with business hours {hours:.3} s ({:.1} M cases/s, {:.1}x); breached: {} and {}",
        rate(base),
        rate(plain),
        plain / base,
        rate(hours),
        hours / base,
        breached(&calendar_time),
        breached(&office),
    );

    let mut g = c.benchmark_group("sla_1m_open_cases");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("baseline_opened_plus_target", |b| b.iter(baseline));
    g.bench_function("evaluate_calendar_time", |b| {
        b.iter(|| black_box(breached(&calendar_time)))
    });
    g.bench_function("evaluate_business_hours", |b| {
        b.iter(|| black_box(breached(&office)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
