//! rapport quickstart: a synchronous host on SQLite (the README's embedding example, which a
//! test keeps identical to this file below this header). Run: `cargo run -p quickstart`
use chrono::{Duration, Utc};
use rapport::NewActivity;
use rapport::blocking::Service;
use rapport::core::*;
use rapport_sqlite::{SqliteConfig, SqliteStore};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let store = SqliteStore::open("shop.db", SqliteConfig::default(), Utc::now())?;
    let svc = Service::new(store);
    let shop = TenantId::from_u128(1);

    let email = Email::parse("Ann@Example.com")?; // stored normalised: ann@example.com
    let profile = Profile {
        email: Some(Pii::new(email)),
        ..Profile::default()
    };
    let ann = svc.register(shop, profile)?.customer; // the same email again → the same customer

    for (order, days_ago, amount) in [("1001", 40, "1200.00"), ("1002", 3, "1299.00")] {
        let at = svc.now() - Duration::days(days_ago);
        let usd = Money::new(amount.parse()?, Currency::USD);
        // Key "purchase:<order>": recording the same order again (a re-run) is a no-op.
        let rec = svc.record(shop, NewActivity::purchase(ann.id(), order, usd, at)?)?;
        match rec.evaluation {
            Some(e) => println!("order {order}: {} because {}", e.tier.to, e.tier.reason),
            None => println!("order {order} was already recorded"),
        }
    }

    // The nightly job: re-evaluate everyone at one `now`, with each decision's reason.
    svc.sweep_with_decisions(shop, svc.now(), 500, |c, e| {
        println!("{}: {} because {}", c.id(), e.stage.to, e.stage.reason);
    })?;
    Ok(())
}
