//! [`Pii`]: a wrapper for personal data that never shows up in `Debug` or `Display` output,
//! so a stray `{:?}` in a log line cannot leak an email address.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Personal data. `Debug` and `Display` print `<redacted>`; use [`Pii::expose`] to read it.
///
/// Serialisation is transparent: (de)serialising a `Pii<T>` is (de)serialising `T`, because
/// a serialised record is stored or exported on purpose, not logged by accident.
///
/// ```
/// use rapport_core::Pii;
/// let secret = Pii::new(String::from("ann@example.com"));
/// assert_eq!(format!("{secret:?}"), "<redacted>");
/// assert_eq!(secret.to_string(), "<redacted>");
/// assert_eq!(secret.expose(), "ann@example.com");
/// let domain = secret.clone().map(|e| e.split('@').nth(1).unwrap_or_default().to_owned());
/// assert_eq!(format!("{domain:?}"), "<redacted>"); // still wrapped
/// assert_eq!(domain.into_inner(), "example.com");
/// assert_eq!(secret.into_inner(), "ann@example.com");
/// ```
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Pii<T>(T);

/// What [`Pii`] prints instead of its content.
///
/// ```
/// use rapport_core::{Pii, model::pii::REDACTED};
/// assert_eq!(format!("{:?}", Pii::new("+8613800138000")), REDACTED);
/// ```
pub const REDACTED: &str = "<redacted>";

impl<T> Pii<T> {
    /// Wraps a personal value.
    ///
    /// ```
    /// let name = rapport_core::Pii::new("Wang Fang");
    /// assert_eq!(name.to_string(), "<redacted>");
    /// ```
    #[must_use]
    pub const fn new(value: T) -> Self {
        Self(value)
    }

    /// Reads the personal value. Name it at the call site so reviews can find every read.
    ///
    /// ```
    /// let name = rapport_core::Pii::new("Wang Fang");
    /// assert_eq!(*name.expose(), "Wang Fang");
    /// ```
    #[must_use]
    pub const fn expose(&self) -> &T {
        &self.0
    }

    /// Takes the personal value out.
    ///
    /// ```
    /// let email = rapport_core::Pii::new(String::from("ann@example.com"));
    /// assert_eq!(email.into_inner(), "ann@example.com");
    /// ```
    #[must_use]
    pub fn into_inner(self) -> T {
        self.0
    }

    /// Maps the wrapped value, keeping it wrapped.
    ///
    /// ```
    /// let name = rapport_core::Pii::new(" Wang Fang ").map(str::trim);
    /// assert_eq!(format!("{name:?}"), "<redacted>");
    /// assert_eq!(name.into_inner(), "Wang Fang");
    /// ```
    #[must_use]
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Pii<U> {
        Pii(f(self.0))
    }
}

impl<T> From<T> for Pii<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl<T> fmt::Debug for Pii<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<T> fmt::Display for Pii<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}
