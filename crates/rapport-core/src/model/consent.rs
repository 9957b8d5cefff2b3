//! Consents: what a customer agreed to, per purpose and contact channel, with time, source
//! and withdrawal. Automation never contacts a customer without the matching consent.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Why personal data is used.
///
/// ```
/// use chrono::DateTime;
/// use rapport_core::{ContactChannel, Consents, Purpose};
/// let mut c = Consents::default();
/// c.set(Purpose::Profiling, ContactChannel::Any, true, DateTime::UNIX_EPOCH, "signup");
/// assert!(c.allows(Purpose::Profiling, ContactChannel::Any));
/// assert!(!c.allows(Purpose::Marketing, ContactChannel::Any)); // consent is per purpose
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Purpose {
    /// Marketing messages and offers.
    Marketing,
    /// Profiling: segmentation, scoring, personalisation.
    Profiling,
    /// Service messages the customer asked for.
    Service,
    /// Aggregate analytics.
    Analytics,
}

/// How a customer may be contacted. A consent for [`ContactChannel::Any`] covers every
/// channel that has no record of its own.
///
/// ```
/// use chrono::DateTime;
/// use rapport_core::{ContactChannel, Consents, Purpose};
/// let t = DateTime::UNIX_EPOCH;
/// let mut c = Consents::default();
/// c.set(Purpose::Service, ContactChannel::Any, true, t, "terms");
/// c.set(Purpose::Service, ContactChannel::Sms, false, t, "reply-stop");
/// assert!(c.allows(Purpose::Service, ContactChannel::Push));
/// assert!(!c.allows(Purpose::Service, ContactChannel::Sms)); // the channel's own record wins
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ContactChannel {
    /// Email.
    Email,
    /// Text message.
    Sms,
    /// Phone call.
    Phone,
    /// App push notification.
    Push,
    /// Letter.
    Post,
    /// Any channel (consents that are not about contacting, e.g. profiling).
    Any,
}

/// One consent: granted or withdrawn, when and from where.
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use rapport_core::{Consent, ContactChannel, Consents, Purpose};
/// let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
/// let mut c = Consents::default();
/// c.set(Purpose::Marketing, ContactChannel::Email, true, t, "signup-form");
/// let rec: &Consent = c.get(Purpose::Marketing, ContactChannel::Email).unwrap();
/// assert!(rec.granted);
/// assert_eq!((rec.at, rec.source.as_str()), (t, "signup-form"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    /// The purpose.
    pub purpose: Purpose,
    /// The channel.
    pub channel: ContactChannel,
    /// True when granted, false when withdrawn.
    pub granted: bool,
    /// When it was given or withdrawn.
    pub at: DateTime<Utc>,
    /// Where it came from (`"signup-form"`, `"store-paper-form"`...).
    pub source: String,
}

/// A customer's consents: at most one current record per (purpose, channel).
///
/// ```
/// use chrono::{TimeZone, Utc};
/// use rapport_core::{ContactChannel, Consents, Purpose};
/// let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
/// let mut c = Consents::default();
/// c.set(Purpose::Marketing, ContactChannel::Email, true, t, "signup");
/// assert!(c.allows(Purpose::Marketing, ContactChannel::Email));
/// assert!(!c.allows(Purpose::Marketing, ContactChannel::Sms));
/// c.set(Purpose::Marketing, ContactChannel::Email, false, t, "unsubscribe-link");
/// assert!(!c.allows(Purpose::Marketing, ContactChannel::Email));
/// // A withdrawal replaces the grant: one current record per (purpose, channel).
/// assert_eq!(c.iter().count(), 1);
/// assert_eq!(c.get(Purpose::Marketing, ContactChannel::Email).unwrap().source, "unsubscribe-link");
/// assert!(c.get(Purpose::Marketing, ContactChannel::Sms).is_none());
/// // `set` tells whether the state changed.
/// assert!(!c.set(Purpose::Marketing, ContactChannel::Email, false, t, "again"));
/// assert!(c.set(Purpose::Marketing, ContactChannel::Email, true, t, "preference-centre"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Consents(Vec<Consent>);

impl Consents {
    /// Records a grant (`granted = true`) or a withdrawal; returns true when it changed the
    /// current state.
    ///
    /// ```
    /// use chrono::DateTime;
    /// use rapport_core::{ContactChannel, Consents, Purpose};
    /// let at = DateTime::UNIX_EPOCH;
    /// let mut c = Consents::default();
    /// assert!(c.set(Purpose::Marketing, ContactChannel::Sms, true, at, "signup"));
    /// assert!(!c.set(Purpose::Marketing, ContactChannel::Sms, true, at, "signup")); // no change
    /// assert!(c.set(Purpose::Marketing, ContactChannel::Sms, false, at, "reply STOP"));
    /// ```
    pub fn set(
        &mut self,
        purpose: Purpose,
        channel: ContactChannel,
        granted: bool,
        at: DateTime<Utc>,
        source: impl Into<String>,
    ) -> bool {
        let new = Consent {
            purpose,
            channel,
            granted,
            at,
            source: source.into(),
        };
        match self
            .0
            .binary_search_by_key(&(purpose, channel), |c| (c.purpose, c.channel))
        {
            Ok(i) => {
                let changed = self.0[i].granted != granted;
                self.0[i] = new;
                changed
            }
            Err(i) => {
                self.0.insert(i, new);
                true
            }
        }
    }

    /// True when the purpose is granted for the channel, or for `Any` channel.
    ///
    /// ```
    /// use chrono::DateTime;
    /// use rapport_core::{ContactChannel, Consents, Purpose};
    /// let at = DateTime::UNIX_EPOCH;
    /// let mut c = Consents::default();
    /// c.set(Purpose::Service, ContactChannel::Any, true, at, "contract");
    /// assert!(c.allows(Purpose::Service, ContactChannel::Phone));
    /// // A record for the channel itself wins over `Any`.
    /// c.set(Purpose::Service, ContactChannel::Post, false, at, "no letters");
    /// assert!(!c.allows(Purpose::Service, ContactChannel::Post));
    /// assert!(!c.allows(Purpose::Marketing, ContactChannel::Email)); // never asked: no consent
    /// ```
    #[must_use]
    pub fn allows(&self, purpose: Purpose, channel: ContactChannel) -> bool {
        self.get(purpose, channel)
            .or_else(|| self.get(purpose, ContactChannel::Any))
            .is_some_and(|c| c.granted)
    }

    /// The current record for (purpose, channel).
    ///
    /// ```
    /// use chrono::DateTime;
    /// use rapport_core::{ContactChannel, Consents, Purpose};
    /// let at = DateTime::UNIX_EPOCH;
    /// let mut c = Consents::default();
    /// c.set(Purpose::Profiling, ContactChannel::Any, true, at, "privacy-settings");
    /// let rec = c.get(Purpose::Profiling, ContactChannel::Any).unwrap();
    /// assert!(rec.granted && rec.source == "privacy-settings");
    /// assert!(c.get(Purpose::Profiling, ContactChannel::Email).is_none()); // `get` does not fall back to `Any`
    /// ```
    #[must_use]
    pub fn get(&self, purpose: Purpose, channel: ContactChannel) -> Option<&Consent> {
        self.0
            .iter()
            .find(|c| c.purpose == purpose && c.channel == channel)
    }

    /// All current records.
    ///
    /// ```
    /// use chrono::DateTime;
    /// use rapport_core::{ContactChannel, Consents, Purpose};
    /// let at = DateTime::UNIX_EPOCH;
    /// let mut c = Consents::default();
    /// c.set(Purpose::Marketing, ContactChannel::Email, true, at, "signup");
    /// c.set(Purpose::Marketing, ContactChannel::Email, false, at, "unsubscribe-link");
    /// c.set(Purpose::Analytics, ContactChannel::Any, true, at, "signup");
    /// assert_eq!(c.iter().count(), 2); // one current record per (purpose, channel)
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = &Consent> {
        self.0.iter()
    }
}
