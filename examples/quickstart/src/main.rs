//! rapport quickstart: a synchronous host on SQLite — register a customer, record purchases,
//! read the decisions with their reasons. Run: `cargo run -p quickstart`
use chrono::{Duration, Utc};
use rapport::NewActivity;
use rapport::blocking::Service;
use rapport::core::*;
use rapport_sqlite::{SqliteConfig, SqliteStore};
use rust_decimal::Decimal;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let store = SqliteStore::open("quickstart.db", SqliteConfig::default(), Utc::now())?;
    let svc = Service::new(store);
    let shop = TenantId::from_u128(1);

    let profile = Profile {
        display_name: Some(Pii::new(Profile::normalise_name("  Wang   Fang ")?)),
        email: Some(Pii::new(Email::parse("Wang.Fang@Example.CN")?)),
        ..Profile::default()
    };
    let fang = svc.register(shop, profile)?.customer; // same email again → same customer
    println!(
        "customer {} (profile printed redacted: {:?})",
        fang.id(),
        fang.profile.email
    );

    for (days_ago, amount) in [(40, "1200.00"), (12, "950.00")] {
        let recorded = svc.record(
            shop,
            NewActivity {
                customer: fang.id(),
                at: Utc::now() - Duration::days(days_ago),
                channel: Channel::Web,
                idempotency_key: IdempotencyKey::new(format!("order-{days_ago}"))?, // re-runs are no-ops
                kind: ActivityKind::Purchase {
                    order_id: OrderId::new(format!("SO-{days_ago}"))?,
                    amount: Money::new(amount.parse::<Decimal>()?, Currency::CNY),
                    margin: None,
                },
            },
        )?;
        if let Some(e) = recorded.evaluation {
            println!("tier {} because {}", e.tier.to, e.tier.reason);
            println!("stage {} because {}", e.stage.to, e.stage.reason);
        } else {
            println!("order-{days_ago} was already recorded");
        }
    }
    Ok(())
}
