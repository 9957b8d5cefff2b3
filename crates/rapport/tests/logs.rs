//! The service's logs: spans and events at every use case and the relay, captured through a
//! `tracing` subscriber into a buffer, hold ids and counts but none of the personal data the
//! customers were registered with (names, emails, phones, attributes, in any spelling).
#![allow(clippy::unwrap_used, missing_docs)]

use std::io::Write;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, TimeZone, Utc};
use futures::executor::block_on;
use rapport::core::*;
use rapport::{ManualClock, NewActivity, RelayConfig, Service, relay_once};
use rapport_memory::MemoryStore;
use rust_decimal::Decimal;
use tracing_subscriber::fmt::format::FmtSpan;

const SHOP: TenantId = TenantId::from_u128(11);

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap()
}

/// A `MakeWriter` into a shared buffer.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buffer {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

/// One generated person: the text as typed, and every spelling a log could leak it in.
struct Person {
    name: String,
    email: String,
    phone: String,
    city: String,
}

impl Person {
    fn spellings(&self) -> Vec<String> {
        let phone = Phone::parse(&self.phone, "US".parse().unwrap()).unwrap();
        let digits: String = self.phone.chars().filter(char::is_ascii_digit).collect();
        let mut out = vec![
            self.name.clone(),
            self.name.to_lowercase(),
            self.email.clone(),
            self.email.to_lowercase(),
            self.phone.clone(),
            phone.as_str().to_owned(),
            digits,
            self.city.clone(),
        ];
        // The parts too: a log holding the surname alone still names the person.
        out.extend(self.name.split(' ').map(str::to_owned));
        out.extend(self.email.split('@').next().map(str::to_lowercase));
        out
    }
}

fn corpus(n: usize) -> Vec<Person> {
    const FIRST: [&str; 8] = [
        "Wilhelmina",
        "Bartholomew",
        "Anastasia",
        "Maximilian",
        "Genevieve",
        "Leopoldine",
        "Cornelius",
        "Theodora",
    ];
    const LAST: [&str; 5] = [
        "Quackenbush",
        "Featherstone",
        "Oyelaran",
        "Zhivago",
        "Lindqvist",
    ];
    (0..n)
        .map(|i| {
            let (first, last) = (FIRST[i % FIRST.len()], LAST[i % LAST.len()]);
            Person {
                name: format!("{first} {last}"),
                email: format!("{first}.{last}{i}@Mailbox-Example.org"),
                phone: format!("+1 (202) 555-01{i:02}"),
                city: format!("Xanadu-{last}-{i}"),
            }
        })
        .collect()
}

fn profile(p: &Person) -> Profile {
    let mut attrs = Attributes::new();
    attrs.insert(
        AttrKey::new("city").unwrap(),
        AttrValue::Text(p.city.clone()),
    );
    Profile {
        display_name: Some(Pii::new(Profile::normalise_name(&p.name).unwrap())),
        email: Some(Pii::new(Email::parse(&p.email).unwrap())),
        phone: Some(Pii::new(
            Phone::parse(&p.phone, "US".parse().unwrap()).unwrap(),
        )),
        attributes: Pii::new(attrs),
        ..Profile::default()
    }
}

/// A notifier that fails every other message with the kind of reason a careless host writes:
/// the recipient's address. The relay logs the error's kind, not its text.
struct Careless {
    emails: Vec<String>,
    calls: Mutex<usize>,
}

impl Notifier for Careless {
    async fn deliver(&self, _: &OutboxMessage) -> Result<(), NotifyError> {
        let mut calls = self.calls.lock().unwrap();
        *calls += 1;
        if *calls % 2 == 0 {
            let to = &self.emails[*calls % self.emails.len()];
            return Err(NotifyError::Failed {
                reason: format!("mailbox {to} is full"),
            });
        }
        Ok(())
    }
}

#[test]
fn the_service_logs_ids_and_counts_and_no_personal_data() {
    let people = corpus(40);
    let buf = Buffer::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(FmtSpan::FULL)
        .with_ansi(false)
        .finish();
    let clock = ManualClock::at(t0());
    let svc = Service::new(MemoryStore::new()).with_clock(clock.clone());
    let (registered, sweep, relayed) = tracing::subscriber::with_default(subscriber, || {
        let mut ids = Vec::new();
        for p in &people {
            let r = block_on(svc.register(SHOP, profile(p))).unwrap();
            assert!(r.created);
            ids.push(r.customer.id());
        }
        // Registering the same contact again finds the customer (and logs that).
        let again = block_on(svc.register(SHOP, profile(&people[0]))).unwrap();
        assert!(!again.created);
        for (i, id) in ids.iter().enumerate() {
            let amount = Money::new(Decimal::from(50 * (i as i64 + 1)), Currency::USD);
            let order = NewActivity::purchase(*id, format!("o-{i}"), amount, t0()).unwrap();
            let rec = block_on(svc.record(SHOP, order.clone())).unwrap();
            assert!(!rec.duplicate);
            assert!(block_on(svc.record(SHOP, order)).unwrap().duplicate);
            block_on(svc.evaluate(SHOP, *id)).unwrap();
        }
        // An error path: an unknown customer.
        assert!(block_on(svc.evaluate(SHOP, CustomerId::from_u128(1))).is_err());
        let everyone = Segment::parse("orders >= 1").unwrap();
        assert_eq!(block_on(svc.find(SHOP, &everyone)).unwrap().len(), 40);
        clock.advance(Duration::days(400));
        let sweep = block_on(svc.sweep(SHOP, svc.now(), 16, |_| {})).unwrap();
        let notifier = Careless {
            emails: people.iter().map(|p| p.email.clone()).collect(),
            calls: Mutex::new(0),
        };
        let config = RelayConfig {
            batch: 1_000,
            ..RelayConfig::default()
        };
        let relayed = block_on(relay_once(svc.store(), &notifier, &config, svc.now())).unwrap();
        (ids.len(), sweep, relayed)
    });
    assert_eq!(registered, 40);
    assert_eq!(sweep.evaluated, 40);
    assert!(relayed.claimed > 0 && relayed.failed > 0, "{relayed:?}");

    let logs = buf.text();
    // The logs are there: every boundary left its span or event, with its counts.
    for needle in [
        "rapport.register",
        "created=true",
        "created=false",
        "rapport.record",
        "duplicate=true",
        "rapport.evaluate",
        "rapport.find",
        "rows=40",
        "rapport.sweep",
        "sweep batch",
        &format!("evaluated={}", sweep.evaluated),
        "rapport.relay",
        &format!("claimed={}", relayed.claimed),
        &format!("failed={}", relayed.failed),
        "error=\"failed\"",
    ] {
        assert!(logs.contains(needle), "no `{needle}` in the logs:\n{logs}");
    }
    assert!(logs.lines().count() > 400, "{} lines", logs.lines().count());
    // And nothing personal in any spelling.
    let mut checked = 0;
    for p in &people {
        for s in p.spellings() {
            assert!(!logs.contains(&s), "`{s}` leaked into the logs");
            checked += 1;
        }
    }
    eprintln!(
        "{checked} forbidden strings, {} log lines, {} bytes",
        logs.lines().count(),
        logs.len()
    );
}
