//! Consents: what a customer agreed to, per purpose and contact channel, with time, source
//! and withdrawal. Automation never contacts a customer without the matching consent.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::DomainError;

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
    /// Transactional messages (order confirmations, service notices) the customer's contract
    /// needs: granted by default under the `Contract` legal basis until withdrawn.
    /// (`"service"` is read as this purpose: the name before the consent ledger.)
    #[serde(alias = "service")]
    Transactional,
    /// Aggregate analytics.
    Analytics,
    /// Processing of sensitive personal data (PIPL Art. 28–29: separate consent).
    SensitiveData,
    /// Transfer of personal data across borders (PIPL Art. 38–39: separate consent).
    CrossBorderTransfer,
}

impl Purpose {
    /// Every purpose.
    ///
    /// ```
    /// assert_eq!(rapport_core::Purpose::ALL.len(), 6);
    /// ```
    pub const ALL: [Purpose; 6] = [
        Purpose::Marketing,
        Purpose::Profiling,
        Purpose::Transactional,
        Purpose::Analytics,
        Purpose::SensitiveData,
        Purpose::CrossBorderTransfer,
    ];

    /// The purpose's name as written in segments, CSV files and JSON.
    ///
    /// ```
    /// use rapport_core::Purpose;
    /// assert_eq!(Purpose::CrossBorderTransfer.as_str(), "cross_border_transfer");
    /// assert_eq!("marketing".parse::<Purpose>().unwrap(), Purpose::Marketing);
    /// assert!("spam".parse::<Purpose>().is_err());
    /// ```
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Purpose::Marketing => "marketing",
            Purpose::Profiling => "profiling",
            Purpose::Transactional => "transactional",
            Purpose::Analytics => "analytics",
            Purpose::SensitiveData => "sensitive_data",
            Purpose::CrossBorderTransfer => "cross_border_transfer",
        }
    }
}

impl std::fmt::Display for Purpose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Purpose {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Purpose::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .or((s == "service").then_some(Purpose::Transactional))
            .ok_or_else(|| DomainError::InvalidText {
                field: "purpose",
                value: s.to_owned(),
                reason: "it is not a purpose (marketing, profiling, transactional, analytics, sensitive_data, cross_border_transfer)",
            })
    }
}

/// How a customer may be contacted. A consent for [`ContactChannel::Any`] covers every
/// channel that has no record of its own.
///
/// ```
/// use chrono::DateTime;
/// use rapport_core::{ContactChannel, Consents, Purpose};
/// let t = DateTime::UNIX_EPOCH;
/// let mut c = Consents::default();
/// c.set(Purpose::Transactional, ContactChannel::Any, true, t, "terms");
/// c.set(Purpose::Transactional, ContactChannel::Sms, false, t, "reply-stop");
/// assert!(c.allows(Purpose::Transactional, ContactChannel::Push));
/// assert!(!c.allows(Purpose::Transactional, ContactChannel::Sms)); // the channel's own record wins
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

impl ContactChannel {
    /// Every channel, `Any` last.
    ///
    /// ```
    /// assert_eq!(rapport_core::ContactChannel::ALL.len(), 6);
    /// ```
    pub const ALL: [ContactChannel; 6] = [
        ContactChannel::Email,
        ContactChannel::Sms,
        ContactChannel::Phone,
        ContactChannel::Push,
        ContactChannel::Post,
        ContactChannel::Any,
    ];

    /// The channel's name as written in segments, CSV files and JSON.
    ///
    /// ```
    /// use rapport_core::ContactChannel;
    /// assert_eq!(ContactChannel::Sms.as_str(), "sms");
    /// assert_eq!("email".parse::<ContactChannel>().unwrap(), ContactChannel::Email);
    /// assert!("fax".parse::<ContactChannel>().is_err());
    /// ```
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            ContactChannel::Email => "email",
            ContactChannel::Sms => "sms",
            ContactChannel::Phone => "phone",
            ContactChannel::Push => "push",
            ContactChannel::Post => "post",
            ContactChannel::Any => "any",
        }
    }
}

impl std::fmt::Display for ContactChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ContactChannel {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ContactChannel::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| DomainError::InvalidText {
                field: "channel",
                value: s.to_owned(),
                reason: "it is not a channel (email, sms, phone, push, post, any)",
            })
    }
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

    /// True when the purpose is granted for the channel, or for `Any` channel. With no record
    /// at all, only [`Purpose::Transactional`] is allowed (the `Contract` legal basis: what
    /// the customer's contract needs is not asked for; a withdrawal still stops it).
    ///
    /// ```
    /// use chrono::DateTime;
    /// use rapport_core::{ContactChannel, Consents, Purpose};
    /// let at = DateTime::UNIX_EPOCH;
    /// let mut c = Consents::default();
    /// c.set(Purpose::Transactional, ContactChannel::Any, true, at, "contract");
    /// assert!(c.allows(Purpose::Transactional, ContactChannel::Phone));
    /// // A record for the channel itself wins over `Any`.
    /// c.set(Purpose::Transactional, ContactChannel::Post, false, at, "no letters");
    /// assert!(!c.allows(Purpose::Transactional, ContactChannel::Post));
    /// assert!(!c.allows(Purpose::Marketing, ContactChannel::Email)); // never asked: no consent
    /// ```
    #[must_use]
    pub fn allows(&self, purpose: Purpose, channel: ContactChannel) -> bool {
        self.get(purpose, channel)
            .or_else(|| self.get(purpose, ContactChannel::Any))
            .map_or(purpose == Purpose::Transactional, |c| c.granted)
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

    /// Builds the current records from `records`, one per (purpose, channel): the later
    /// item wins. The consent ledger (`privacy::ledger::current`) decides which entry is
    /// current and hands its results here.
    ///
    /// ```
    /// use chrono::DateTime;
    /// use rapport_core::{Consent, ContactChannel, Consents, Purpose};
    /// let at = DateTime::UNIX_EPOCH;
    /// let rec = |granted| Consent { purpose: Purpose::Marketing, channel: ContactChannel::Email, granted, at, source: "form".into() };
    /// let c = Consents::from_records([rec(true), rec(false)]);
    /// assert_eq!(c.iter().count(), 1);
    /// assert!(!c.allows(Purpose::Marketing, ContactChannel::Email));
    /// ```
    pub fn from_records(records: impl IntoIterator<Item = Consent>) -> Self {
        let mut c = Consents::default();
        for r in records {
            c.set(r.purpose, r.channel, r.granted, r.at, r.source);
        }
        c
    }
}
