//! The raw-file scan both SQL stores' crypto-shredding tests run: a thousand people with a
//! name, an email and a phone that no other bytes contain by chance, and a count of how many
//! of those values occur in a store's raw bytes (database and WAL files, which each test reads
//! its own way). Pure: the bytes come from the caller.
//!
//! ```
//! use rapport_sql::testing::scan;
//! let people = scan::people("Doc", "13855");
//! let (name, email) = (&people[7].name, &people[7].email);
//! assert_eq!((name.as_str(), email.as_str()), ("Docn0007x", "docm0007x@example.net"));
//! let dump = format!("..{name}..{email}..+{}..", people[7].phone);
//! assert_eq!(scan::plaintext_hits(dump.as_bytes(), "Doc", &people, true), 3);
//! assert_eq!(scan::plaintext_hits(b"ciphertext only", "Doc", &people, true), 0);
//! ```

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use rapport_core::{Customer, CustomerId, Email, Phone, Pii, Profile, Region, Stats, TenantId};

/// One person of the scan: the values that must not be readable after the erasure.
#[derive(Debug, Clone)]
pub struct Person {
    /// The customer's id.
    pub id: CustomerId,
    /// The display name, `{tag}n{i:04}x`.
    pub name: String,
    /// The email as entered: `{tag}m{i:04}x@example.net`, lower-cased (as rapport stores it).
    pub email: String,
    /// The phone in E.164: `+86{prefix}{i:06}` (a Chinese mobile number).
    pub phone: String,
}

/// Rows of the scan: 1,000 people (ids 10,000 …) whose names and emails start with `tag`
/// (make it unique per run when the files may hold earlier runs' bytes, as PostgreSQL's WAL
/// does) and whose phones are `+86` `phone_prefix` (five digits, e.g. `"13855"`) and six more.
///
/// ```
/// let people = rapport_sql::testing::scan::people("Run1", "13910");
/// assert_eq!(people.len(), 1_000);
/// assert_eq!(people[999].phone, "+8613910000999");
/// ```
#[must_use]
pub fn people(tag: &str, phone_prefix: &str) -> Vec<Person> {
    let lower = tag.to_lowercase();
    (0..1_000u32)
        .map(|i| Person {
            id: CustomerId::from_u128(10_000 + u128::from(i)),
            name: format!("{tag}n{i:04}x"),
            email: format!("{lower}m{i:04}x@example.net"),
            phone: format!("+86{phone_prefix}{i:06}"),
        })
        .collect()
}

/// The people as new customers of `tenant` (name, email and phone in the profile), ready for
/// a store's `import_customers`.
///
/// ```
/// use rapport_core::TenantId;
/// use rapport_sql::testing::scan;
/// let now = chrono::DateTime::UNIX_EPOCH;
/// let batch = scan::customers(&scan::people("Doc", "13855")[..2], TenantId::from_u128(1), now);
/// assert_eq!(batch.len(), 2);
/// assert!(batch[0].0.profile.phone.is_some());
/// ```
///
/// # Panics
/// When an email or phone of `people` does not parse (those of [`people`] do).
#[must_use]
pub fn customers(
    people: &[Person],
    tenant: TenantId,
    now: DateTime<Utc>,
) -> Vec<(Customer, Stats)> {
    let cn: Region = "CN".parse().unwrap();
    people
        .iter()
        .map(|p| {
            let profile = Profile {
                display_name: Some(Pii::new(p.name.clone())),
                email: Some(Pii::new(Email::parse(&p.email).unwrap())),
                phone: Some(Pii::new(Phone::parse(&p.phone, cn).unwrap())),
                ..Profile::default()
            };
            (Customer::new(tenant, p.id, profile, now), Stats::default())
        })
        .collect()
}

/// The distinct strings of `prefix` followed by `tail` more bytes in `bytes` (one pass).
///
/// ```
/// let found = rapport_sql::testing::scan::occurrences(b"ab1 ab2 ab1", b"ab", 1);
/// assert_eq!(found.len(), 2);
/// ```
#[must_use]
pub fn occurrences(bytes: &[u8], prefix: &[u8], tail: usize) -> HashSet<Vec<u8>> {
    let mut out = HashSet::new();
    let Some(&first) = prefix.first() else {
        return out;
    };
    let mut i = 0;
    while i + prefix.len() + tail <= bytes.len() {
        if bytes[i] == first && bytes[i..].starts_with(prefix) {
            out.insert(bytes[i..i + prefix.len() + tail].to_vec());
        }
        i += 1;
    }
    out
}

/// How many of the people's names and email local parts (and, with `phones`, national phone
/// digits: the number without `+86`) occur in `bytes`; `tag` is the one [`people`] was given.
/// Leave phones out where the bytes are binary data in which eleven digits of a random number
/// may occur by chance; names and emails cannot.
///
/// ```
/// use rapport_sql::testing::scan;
/// let people = scan::people("Doc", "13855");
/// assert_eq!(scan::plaintext_hits(b"..Docn0001x..13855000002..", "Doc", &people, false), 1);
/// assert_eq!(scan::plaintext_hits(b"..Docn0001x..13855000002..", "Doc", &people, true), 2);
/// ```
#[must_use]
pub fn plaintext_hits(bytes: &[u8], tag: &str, people: &[Person], phones: bool) -> usize {
    let names = occurrences(bytes, tag.as_bytes(), 6);
    let emails = occurrences(bytes, tag.to_lowercase().as_bytes(), 6);
    let digits = people
        .first()
        .map(|p| occurrences(bytes, &p.phone.as_bytes()[3..8], 6))
        .unwrap_or_default();
    people
        .iter()
        .map(|p| {
            let local = p.email.split('@').next().unwrap_or_default();
            usize::from(names.contains(p.name.as_bytes()))
                + usize::from(emails.contains(local.as_bytes()))
                + usize::from(phones && digits.contains(&p.phone.as_bytes()[3..]))
        })
        .sum()
}
