//! Contact data that exists only in normalised form: [`Email`] (trimmed, lower-cased,
//! syntax-checked) and [`Phone`] (E.164). Normalising once at the boundary is what makes
//! duplicate detection by [`ContactKey`] a plain equality.
//!
//! Both are personal data: their `Debug` is redacted (`Email(<redacted>)`), and a rejected
//! input is not kept in the error. `Display` and `as_str` give the value, because a host needs
//! it to send a message; write those to a log only on purpose.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::model::pii::REDACTED;

/// A syntax-checked email address, trimmed and lower-cased.
///
/// The check is deliberately conservative (RFC 5321 lengths, dot-atom local part, a domain of
/// at least two LDH labels with an alphabetic top-level label); it does not contact any server.
///
/// `Debug` is redacted (the domain too: a company's domain can name its only customer);
/// `Display` is the address, for the host that sends mail to it.
///
/// ```
/// use rapport_core::Email;
/// let e = Email::parse("  Ann.Lee@Example.COM ").unwrap();
/// assert_eq!(e.as_str(), "ann.lee@example.com");
/// assert_eq!(e.domain(), "example.com");
/// assert_eq!(format!("{e:?}"), "Email(<redacted>)");
/// assert_eq!(e.to_string(), "ann.lee@example.com");
/// let err = Email::parse("a@").unwrap_err();
/// assert_eq!(err.to_string(), "email <redacted> is invalid: it has no domain");
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

const LOCAL_SPECIALS: &[u8] = b"!#$%&'*+/=?^_`{|}~-.";

impl Email {
    /// Normalises and checks an email address.
    ///
    /// ```
    /// use rapport_core::{DomainError, Email};
    /// assert_eq!(Email::parse(" Wang.Fang@Example.CN ").unwrap().as_str(), "wang.fang@example.cn");
    /// let err = Email::parse("wang..fang@example.cn").unwrap_err();
    /// assert!(matches!(err, DomainError::InvalidEmail { reason: "its local part has a misplaced dot", .. }));
    /// // Internationalised addresses (RFC 6531): a UTF-8 local part and an IDN domain, one key
    /// // whether the domain is written in Unicode or in punycode.
    /// let idn = Email::parse("用户@例子.广告").unwrap();
    /// assert_eq!(idn, Email::parse("用户@xn--fsqu00a.xn--4rr70v").unwrap());
    /// assert_eq!(idn.domain(), "例子.广告");
    /// assert_eq!(Email::parse("josé@Bücher.DE").unwrap().as_str(), "josé@bücher.de");
    /// assert!(Email::parse("a b@example.com").is_err());
    /// ```
    ///
    /// # Errors
    /// [`DomainError::InvalidEmail`] with the reason (not the input: it is personal data).
    pub fn parse(input: &str) -> Result<Self, DomainError> {
        let fail = |reason: &'static str| DomainError::InvalidEmail { reason };
        let s = normalise_email(input);
        if s.is_empty() {
            return Err(fail("it is empty"));
        }
        if s.len() > 254 {
            return Err(fail("it is longer than 254 characters"));
        }
        let Some((local, domain)) = s.rsplit_once('@') else {
            return Err(fail("it has no `@`"));
        };
        if domain.is_empty() {
            return Err(fail("it has no domain"));
        }
        if local.is_empty() {
            return Err(fail("it has no local part"));
        }
        if local.len() > 64 {
            return Err(fail("its local part is longer than 64 characters"));
        }
        // RFC 6531: a UTF-8 local part (any non-ASCII character but controls and spaces).
        if !local.chars().all(|c| {
            if c.is_ascii() {
                c.is_ascii_alphanumeric() || LOCAL_SPECIALS.contains(&(c as u8))
            } else {
                !c.is_control() && !c.is_whitespace()
            }
        }) {
            return Err(fail(
                "its local part has a character outside the allowed set",
            ));
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err(fail("its local part has a misplaced dot"));
        }
        // An internationalised domain is checked in its ASCII (punycode) form and kept in its
        // Unicode form, so `例子.广告` and `xn--fsqu00a.xn--4rr70v` are one address.
        let idn = !domain.is_ascii() || domain.contains("xn--");
        let ascii = if domain.is_ascii() {
            domain.to_owned()
        } else {
            idna::domain_to_ascii(domain)
                .map_err(|_| fail("its domain is not a valid internationalised domain"))?
        };
        let labels: Vec<&str> = ascii.split('.').collect();
        if labels.len() < 2 {
            return Err(fail("its domain has no dot"));
        }
        for label in &labels {
            if label.is_empty() || label.len() > 63 {
                return Err(fail("its domain has an empty or over-long label"));
            }
            if !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                || label.starts_with('-')
                || label.ends_with('-')
            {
                return Err(fail("its domain has an invalid label"));
            }
        }
        let tld = labels[labels.len() - 1];
        let punycode_tld = tld.len() > 4 && tld.starts_with("xn--");
        if tld.len() < 2 || !(punycode_tld || tld.bytes().all(|b| b.is_ascii_alphabetic())) {
            return Err(fail("its top-level domain is not alphabetic"));
        }
        let s = if idn {
            let (unicode, ok) = idna::domain_to_unicode(&ascii);
            // The Unicode form is what is stored, so it must lead back to the same ASCII form
            // (the fuzzer found punycode labels that decode to a domain `domain_to_ascii` then
            // refuses): otherwise the stored address would not parse again.
            if ok.is_err() || idna::domain_to_ascii(&unicode).ok().as_deref() != Some(&*ascii) {
                return Err(fail("its domain is not a valid internationalised domain"));
            }
            format!("{local}@{unicode}")
        } else {
            s.clone()
        };
        if s.len() > 254 {
            return Err(fail("it is longer than 254 characters"));
        }
        Ok(Self(s))
    }

    /// The normalised address.
    ///
    /// ```
    /// assert_eq!(rapport_core::Email::parse("Li@Example.cn").unwrap().as_str(), "li@example.cn");
    /// ```
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The domain part (after `@`).
    ///
    /// ```
    /// assert_eq!(rapport_core::Email::parse("li@Shop.Example.cn").unwrap().domain(), "shop.example.cn");
    /// ```
    #[must_use]
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, d)| d)
    }
}

/// Trimmed, NFC, lower-cased. NFC first, so the composed and decomposed spellings of one
/// address are one key; lower-casing can undo NFC (rarely), so it is normalised again after
/// it: parsing the result gives it back. ASCII (most addresses, and every stored one read
/// back) is its own NFC form and lower-cases byte by byte, so it takes the short way to the
/// same string.
fn normalise_email(input: &str) -> String {
    let trimmed = input.trim();
    if trimmed.is_ascii() {
        trimmed.to_ascii_lowercase()
    } else {
        normalise_unicode(trimmed)
    }
}

fn normalise_unicode(input: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    input
        .nfc()
        .collect::<String>()
        .to_lowercase()
        .nfc()
        .collect()
}

impl FromStr for Email {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl TryFrom<String> for Email {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({REDACTED})")
    }
}

/// The normalised address. It is personal data: this is for sending mail, not for logs.
impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A region (ISO 3166-1 alpha-2, e.g. `CN`, `US`) used to read phone numbers written
/// without a `+country` prefix.
///
/// ```
/// use rapport_core::Region;
/// let cn: Region = "cn".parse().unwrap();
/// assert_eq!(cn.as_str(), "CN");
/// assert!("XX".parse::<Region>().is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Region(phonenumber::country::Id);

impl Region {
    /// The two-letter code.
    ///
    /// ```
    /// let us: rapport_core::Region = " us".parse().unwrap();
    /// assert_eq!(us.as_str(), "US");
    /// ```
    #[must_use]
    pub fn as_str(&self) -> &str {
        self.0.as_ref()
    }
}

impl FromStr for Region {
    type Err = DomainError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let up = s.trim().to_ascii_uppercase();
        up.parse::<phonenumber::country::Id>()
            .map(Region)
            .map_err(|_| DomainError::InvalidRegion {
                value: s.to_owned(),
            })
    }
}

impl TryFrom<String> for Region {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Region> for String {
    fn from(r: Region) -> String {
        r.as_str().to_owned()
    }
}

impl fmt::Debug for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A phone number in E.164 form (`+8613800138000`), validated against the numbering plan.
///
/// `Debug` is redacted; `Display` is the E.164 number, for the host that calls or texts it.
///
/// ```
/// use rapport_core::{Phone, Region};
/// let cn: Region = "CN".parse().unwrap();
/// let p = Phone::parse("138 0013 8000", cn).unwrap();
/// assert_eq!(p.as_str(), "+8613800138000");
/// assert_eq!(format!("{p:?}"), "Phone(<redacted>)");
/// assert_eq!(p.to_string(), "+8613800138000");
/// let us: Region = "US".parse().unwrap();
/// assert_eq!(Phone::parse("+86 138-0013-8000", us).unwrap(), p);
/// assert!(Phone::parse("12", cn).is_err());
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

impl Phone {
    /// Parses a number written in any common national or international format; a number
    /// without `+` (or `00`) is read in `default_region`.
    ///
    /// ```
    /// use rapport_core::{Phone, Region};
    /// let cn: Region = "CN".parse().unwrap();
    /// assert_eq!(Phone::parse("138-0013-8000", cn).unwrap().as_str(), "+8613800138000");
    /// assert_eq!(Phone::parse("0086 138 0013 8000", cn).unwrap().as_str(), "+8613800138000");
    /// assert!(Phone::parse("call me", cn).is_err());
    /// ```
    ///
    /// # Errors
    /// [`DomainError::InvalidPhone`] when it is not a valid number, with the reason (not the
    /// input: it is personal data).
    pub fn parse(input: &str, default_region: Region) -> Result<Self, DomainError> {
        let fail = |reason: &'static str| DomainError::InvalidPhone { reason };
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(fail("it is empty"));
        }
        // Keep the parser to plausible input: the numbering library is not meant for
        // arbitrary text and long inputs only cost time.
        if trimmed.chars().count() > 40 {
            return Err(fail("it is longer than 40 characters"));
        }
        if !trimmed
            .chars()
            .all(|c| c.is_ascii_digit() || " +-()./".contains(c))
        {
            return Err(fail(
                "it has characters other than digits, spaces, + - ( ) . /",
            ));
        }
        let digits = trimmed.chars().filter(char::is_ascii_digit).count();
        if digits < 3 {
            return Err(fail("it has too few digits"));
        }
        let normalised = match trimmed.strip_prefix("00") {
            Some(rest) => format!("+{rest}"),
            None => trimmed.to_owned(),
        };
        // An international number ignores the default region. (phonenumber 0.3 strips a
        // leading national prefix after the country code when given a region whose trunk
        // prefix is `1`, e.g. `+86 138…` read "in US" became `+86 38…`; passing no region for
        // `+` numbers avoids that.)
        let region = if normalised.starts_with('+') {
            None
        } else {
            Some(default_region.0)
        };
        let number = phonenumber::parse(region, &normalised)
            .map_err(|_| fail("it is not a phone number"))?;
        if !phonenumber::is_valid(&number) {
            return Err(fail("it is not a valid number in its numbering plan"));
        }
        let e164 = number.format().mode(phonenumber::Mode::E164).to_string();
        // E.164 caps a number at 15 digits; the numbering library's plan for some countries
        // (Germany's area codes) allows longer ones, which are not E.164 (found by fuzzing:
        // `85871813858718` read in DE gave the 16-digit `+4985871813858718`).
        if e164.len() > 16 {
            return Err(fail("it has more than the 15 digits E.164 allows"));
        }
        // The stored form must itself be a valid number (it is what storage reads back).
        let reread =
            phonenumber::parse(None, &e164).map_err(|_| fail("it is not a phone number"))?;
        if !phonenumber::is_valid(&reread)
            || reread.format().mode(phonenumber::Mode::E164).to_string() != e164
        {
            return Err(fail("it is not a valid number in its numbering plan"));
        }
        Ok(Self(e164))
    }

    /// Parses an already-normalised E.164 number (`+` then digits), e.g. read back from storage.
    ///
    /// # Errors
    /// [`DomainError::InvalidPhone`] unless it is E.164 and valid.
    ///
    /// ```
    /// use rapport_core::Phone;
    /// assert_eq!(Phone::from_e164("+8613800138000").unwrap().as_str(), "+8613800138000");
    /// assert!(Phone::from_e164("8613800138000").is_err()); // no `+`
    /// assert!(Phone::from_e164("+86 138 0013 8000").is_err()); // not normalised
    /// ```
    pub fn from_e164(input: &str) -> Result<Self, DomainError> {
        let not_e164 = DomainError::InvalidPhone {
            reason: "it is not in E.164 form (+ and digits)",
        };
        if !input.starts_with('+') {
            return Err(not_e164);
        }
        let region = Region(phonenumber::country::Id::US);
        let p = Self::parse(input, region)?;
        if p.0 != input {
            return Err(not_e164);
        }
        Ok(p)
    }

    /// The E.164 string.
    ///
    /// ```
    /// use rapport_core::{Phone, Region};
    /// let us: Region = "US".parse().unwrap();
    /// assert_eq!(Phone::parse("(201) 555-0123", us).unwrap().as_str(), "+12015550123");
    /// ```
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Phone {
    type Error = DomainError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::from_e164(&s)
    }
}

impl From<Phone> for String {
    fn from(p: Phone) -> String {
        p.0
    }
}

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Phone({REDACTED})")
    }
}

/// The E.164 number. It is personal data: this is for calling or texting, not for logs.
impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A normalised key that identifies a person across records: what duplicate detection and
/// "register returns the existing customer" look up. `Debug` redacts the value.
///
/// ```
/// use rapport_core::{ContactKey, Email};
/// let k = ContactKey::Email(Email::parse("A@B.co").unwrap());
/// assert_eq!(format!("{k:?}"), "ContactKey::Email(<redacted>)");
/// assert_eq!(k.as_str(), "a@b.co");
/// assert_eq!(k.kind(), "email");
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ContactKey {
    /// A normalised email address.
    Email(Email),
    /// An E.164 phone number.
    Phone(Phone),
}

impl ContactKey {
    /// The normalised value.
    ///
    /// ```
    /// use rapport_core::{ContactKey, Phone};
    /// let k = ContactKey::Phone(Phone::from_e164("+8613800138000").unwrap());
    /// assert_eq!(k.as_str(), "+8613800138000");
    /// ```
    #[must_use]
    pub fn as_str(&self) -> &str {
        match self {
            ContactKey::Email(e) => e.as_str(),
            ContactKey::Phone(p) => p.as_str(),
        }
    }

    /// The kind of key: `"email"` or `"phone"`.
    ///
    /// ```
    /// use rapport_core::{ContactKey, Email};
    /// assert_eq!(ContactKey::Email(Email::parse("li@example.cn").unwrap()).kind(), "email");
    /// ```
    #[must_use]
    pub fn kind(&self) -> &'static str {
        self.contact_kind().as_str()
    }

    /// The kind of key, typed: what a [`StoreError::ContactTaken`](crate::StoreError::ContactTaken)
    /// names instead of the (personal) value.
    ///
    /// ```
    /// use rapport_core::{ContactKey, ContactKind, Email};
    /// let k = ContactKey::Email(Email::parse("li@example.cn").unwrap());
    /// assert_eq!(k.contact_kind(), ContactKind::Email);
    /// ```
    #[must_use]
    pub fn contact_kind(&self) -> ContactKind {
        match self {
            ContactKey::Email(_) => ContactKind::Email,
            ContactKey::Phone(_) => ContactKind::Phone,
        }
    }
}

/// Which kind of contact: an email address or a phone number. Not personal data (it names
/// the field, not its value), so errors and logs carry it.
///
/// ```
/// use rapport_core::ContactKind;
/// assert_eq!(ContactKind::Phone.to_string(), "phone");
/// assert_eq!(ContactKind::Email.as_str(), "email");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ContactKind {
    /// An email address.
    Email,
    /// A phone number.
    Phone,
}

impl ContactKind {
    /// `"email"` or `"phone"`.
    ///
    /// ```
    /// assert_eq!(rapport_core::ContactKind::Email.as_str(), "email");
    /// ```
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ContactKind::Email => "email",
            ContactKind::Phone => "phone",
        }
    }
}

impl fmt::Display for ContactKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for ContactKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContactKey::Email(_) => write!(f, "ContactKey::Email({REDACTED})"),
            ContactKey::Phone(_) => write!(f, "ContactKey::Phone({REDACTED})"),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        /// The ASCII short way of `Email::parse`'s normalisation gives what the Unicode way
        /// gives.
        #[test]
        fn prop_ascii_normalisation_is_the_unicode_one(s in "[ -~\t]{0,40}") {
            prop_assert_eq!(super::normalise_email(&s), super::normalise_unicode(s.trim()));
        }
    }
}
