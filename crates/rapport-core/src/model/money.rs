//! Money: an exact [`Decimal`] amount with an ISO 4217 [`Currency`]. Adding two amounts in
//! different currencies is a typed error, never a silent add.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::DomainError;

/// An ISO 4217 alphabetic currency code: three upper-case ASCII letters (`USD`, `EUR`, `CNY`).
///
/// Parsing upper-cases and trims its input; anything else than three letters is rejected.
///
/// ```
/// use rapport_core::Currency;
/// let cny: Currency = " cny ".parse().unwrap();
/// assert_eq!(cny.as_str(), "CNY");
/// assert!("US".parse::<Currency>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

impl Currency {
    /// US dollar.
    ///
    /// ```
    /// assert_eq!(rapport_core::Currency::USD.as_str(), "USD");
    /// ```
    pub const USD: Currency = Currency(*b"USD");
    /// Euro.
    ///
    /// ```
    /// use rapport_core::Currency;
    /// assert_eq!("eur".parse::<Currency>().unwrap(), Currency::EUR);
    /// ```
    pub const EUR: Currency = Currency(*b"EUR");
    /// Chinese yuan renminbi.
    ///
    /// ```
    /// assert_eq!(rapport_core::Currency::CNY.to_string(), "CNY");
    /// ```
    pub const CNY: Currency = Currency(*b"CNY");

    /// Parses a code, naming `field` in the error.
    ///
    /// # Errors
    /// [`DomainError::InvalidCurrency`] unless the trimmed input is three ASCII letters.
    ///
    /// ```
    /// use rapport_core::{Currency, DomainError};
    /// assert_eq!(Currency::parse_field("price.currency", "eur").unwrap(), Currency::EUR);
    /// let err = Currency::parse_field("price.currency", "€").unwrap_err();
    /// assert!(matches!(err, DomainError::InvalidCurrency { field: "price.currency", .. }));
    /// ```
    pub fn parse_field(field: &'static str, s: &str) -> Result<Self, DomainError> {
        let t = s.trim();
        let b = t.as_bytes();
        if b.len() == 3 && b.iter().all(u8::is_ascii_alphabetic) {
            Ok(Self([
                b[0].to_ascii_uppercase(),
                b[1].to_ascii_uppercase(),
                b[2].to_ascii_uppercase(),
            ]))
        } else {
            Err(DomainError::InvalidCurrency {
                field,
                value: s.to_owned(),
            })
        }
    }

    /// The three-letter code.
    ///
    /// ```
    /// use rapport_core::Currency;
    /// assert_eq!(Currency::parse_field("currency", "gbp").unwrap().as_str(), "GBP");
    /// ```
    #[must_use]
    pub fn as_str(&self) -> &str {
        // The bytes are ASCII letters by construction.
        std::str::from_utf8(&self.0).unwrap_or("???")
    }
}

impl FromStr for Currency {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_field("currency", s)
    }
}

impl TryFrom<String> for Currency {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.as_str().to_owned()
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An exact amount of money in one currency. The scale of the amount is kept (`10.50` stays
/// `10.50`), which is what stores must round-trip.
///
/// ```
/// use rapport_core::{Currency, Money};
/// use rust_decimal::Decimal;
/// let a = Money::new(Decimal::new(1050, 2), Currency::USD);
/// let b = Money::new(Decimal::new(250, 2), Currency::USD);
/// assert_eq!(a.checked_add(&b).unwrap().to_string(), "13.00 USD");
/// let c = Money::new(Decimal::ONE, Currency::EUR);
/// assert!(a.checked_add(&c).is_err());
/// assert!(Money::zero(Currency::EUR).amount.is_zero());
/// assert!(Money::new(Decimal::NEGATIVE_ONE, Currency::EUR).is_negative());
/// assert!(!Money::new(-Decimal::ZERO, Currency::EUR).is_negative()); // -0 is not below zero
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// The amount.
    pub amount: Decimal,
    /// Its currency.
    pub currency: Currency,
}

impl Money {
    /// An amount in a currency; the scale of `amount` is kept.
    ///
    /// ```
    /// use rapport_core::{Currency, Money};
    /// use rust_decimal::Decimal;
    /// let price = Money::new(Decimal::new(1050, 2), Currency::EUR);
    /// assert_eq!(price.to_string(), "10.50 EUR");
    /// ```
    #[must_use]
    pub const fn new(amount: Decimal, currency: Currency) -> Self {
        Self { amount, currency }
    }

    /// Zero in `currency`.
    ///
    /// ```
    /// use rapport_core::{Currency, Money};
    /// let zero = Money::zero(Currency::CNY);
    /// assert!(zero.amount.is_zero());
    /// assert_eq!(zero.currency, Currency::CNY);
    /// ```
    #[must_use]
    pub const fn zero(currency: Currency) -> Self {
        Self::new(Decimal::ZERO, currency)
    }

    /// Adds two amounts of the same currency.
    ///
    /// ```
    /// use rapport_core::{Currency, DomainError, Money};
    /// use rust_decimal::Decimal;
    /// let a = Money::new(Decimal::new(1050, 2), Currency::USD);
    /// let b = Money::new(Decimal::new(250, 2), Currency::USD);
    /// assert_eq!(a.checked_add(&b).unwrap().amount, Decimal::new(1300, 2));
    /// let eur = Money::new(Decimal::ONE, Currency::EUR);
    /// assert!(matches!(a.checked_add(&eur), Err(DomainError::CurrencyMismatch { .. })));
    /// ```
    ///
    /// # Errors
    /// [`DomainError::CurrencyMismatch`] when the currencies differ, [`DomainError::Overflow`]
    /// when the sum does not fit a `Decimal`.
    pub fn checked_add(&self, other: &Money) -> Result<Money, DomainError> {
        if self.currency != other.currency {
            return Err(DomainError::CurrencyMismatch {
                expected: self.currency,
                found: other.currency,
            });
        }
        self.amount
            .checked_add(other.amount)
            .map(|amount| Money::new(amount, self.currency))
            .ok_or(DomainError::Overflow { field: "amount" })
    }

    /// Sums amounts that must all be in `currency`.
    ///
    /// ```
    /// use rapport_core::{Currency, Money};
    /// use rust_decimal::Decimal;
    /// let xs = [Money::new(Decimal::ONE, Currency::USD), Money::new(Decimal::TWO, Currency::USD)];
    /// assert_eq!(Money::sum(Currency::USD, &xs).unwrap().amount, Decimal::from(3));
    /// ```
    ///
    /// # Errors
    /// As [`Money::checked_add`].
    pub fn sum<'a>(
        currency: Currency,
        items: impl IntoIterator<Item = &'a Money>,
    ) -> Result<Money, DomainError> {
        items
            .into_iter()
            .try_fold(Money::zero(currency), |acc, m| acc.checked_add(m))
    }

    /// True when the amount is below zero (a negative zero is not).
    ///
    /// ```
    /// use rapport_core::{Currency, Money};
    /// use rust_decimal::Decimal;
    /// assert!(Money::new(Decimal::new(-500, 2), Currency::USD).is_negative());
    /// assert!(!Money::zero(Currency::USD).is_negative());
    /// ```
    #[must_use]
    pub fn is_negative(&self) -> bool {
        self.amount.is_sign_negative() && !self.amount.is_zero()
    }
}

impl fmt::Debug for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}
