//! rapport quickstart: build a customer, record purchases, print the stats the rules use.
//!
//! Run: `cargo run -p quickstart`
use chrono::{Duration, TimeZone, Utc};
use rapport_core::*;
use rust_decimal::Decimal;

fn main() -> Result<(), DomainError> {
    let now = Utc
        .with_ymd_and_hms(2026, 6, 30, 18, 0, 0)
        .single()
        .expect("a valid date");
    let cn: Region = "CN".parse()?;
    let profile = Profile {
        display_name: Some(Pii::new(Profile::normalise_name("  Wang   Fang ")?)),
        email: Some(Pii::new(Email::parse("Wang.Fang@Example.CN")?)),
        phone: Some(Pii::new(Phone::parse("138 0013 8000", cn)?)),
        ..Profile::default()
    };
    let customer = Customer::new(
        TenantId::from_u128(1),
        CustomerId::from_u128(42),
        profile,
        now,
    );
    println!("customer (personal data redacted): {:?}", customer.profile);

    let mut stats = Stats::default();
    let orders = [
        (120, "189.00"),
        (75, "59.90"),
        (75, "12.50"),
        (20, "420.00"),
        (3, "99.00"),
    ];
    for (n, (days_ago, amount)) in orders.iter().enumerate() {
        let purchase = Activity::new(
            ActivityId::from_u128(n as u128 + 1),
            customer.id(),
            now - Duration::days(*days_ago),
            if n % 2 == 0 {
                Channel::Web
            } else {
                Channel::Store
            },
            IdempotencyKey::new(format!("order-{n}"))?,
            ActivityKind::Purchase {
                order_id: OrderId::new(format!("SO-{n}"))?,
                amount: Money::new(amount.parse::<Decimal>().unwrap_or_default(), Currency::CNY),
                margin: None,
            },
        )?;
        stats.apply(&purchase)?;
    }

    // A purchase in another currency is a typed error, and the stats are unchanged.
    let usd = ActivityKind::Purchase {
        order_id: OrderId::new("SO-usd")?,
        amount: Money::new(Decimal::ONE, Currency::USD),
        margin: None,
    };
    let stray = Activity::new(
        ActivityId::from_u128(99),
        customer.id(),
        now,
        Channel::App,
        IdempotencyKey::new("usd")?,
        usd,
    )?;
    if let Err(e) = stats.apply(&stray) {
        println!("mixing currencies: {e}");
    }

    println!("orders: {}", stats.orders());
    println!("purchase days: {}", stats.purchase_day_count());
    println!(
        "revenue: {}",
        stats.revenue().map(|m| m.to_string()).unwrap_or_default()
    );
    println!(
        "revenue, last 30 / 90 / 365 days: {} / {} / {}",
        stats.rolling_30(now).revenue,
        stats.rolling_90(now).revenue,
        stats.rolling_365(now).revenue
    );
    println!(
        "days since last purchase: {:?}",
        stats.days_since_last_purchase(now)
    );
    println!("first purchase day: {:?}", stats.first_purchase_day());
    Ok(())
}
