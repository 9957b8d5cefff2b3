//! The raw-file scan both SQL stores' crypto-shredding tests run: a thousand people with a
//! name, an email, a phone and a visit's free text that no other bytes contain by chance, and
//! a count of how many of those values occur in a store's raw bytes (database and WAL files,
//! which each test reads its own way). Pure: the bytes come from the caller.
//!
//! ```
//! use rapport_sql::testing::scan;
//! let people = scan::people("Doc", "13855");
//! let (name, email, note) = (&people[7].name, &people[7].email, &people[7].note);
//! assert_eq!((name.as_str(), email.as_str()), ("Docn0007x", "docm0007x@example.net"));
//! let dump = format!("..{name}..{email}..+{}..{note}..", people[7].phone);
//! assert_eq!(scan::plaintext_hits(dump.as_bytes(), "Doc", &people), 4);
//! assert_eq!(scan::plaintext_hits(b"ciphertext only", "Doc", &people), 0);
//! ```

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use rapport_core::{
    Activity, ActivityId, ActivityKind, Channel, Customer, CustomerId, Email, IdempotencyKey,
    Phone, Pii, Profile, Region, Stats, TenantId,
};

/// One person of the scan: the values that must not be readable after the erasure.
#[derive(Debug, Clone)]
pub struct Person {
    /// The customer's id.
    pub id: CustomerId,
    /// The display name, `{tag}n{i:04}x`.
    pub name: String,
    /// The email as entered: `{tag}m{i:04}x@example.net`, lower-cased (as rapport stores it).
    pub email: String,
    /// The phone in E.164: `+86`, the prefix, then `i` in the digits left of eleven (a
    /// Chinese mobile number).
    pub phone: String,
    /// The free text of the person's visit ([`visits`]), `{tag}v{i:04}x`.
    pub note: String,
}

/// Rows of the scan: 1,000 people (ids 10,000 …) whose names, emails and visit notes start
/// with `tag` and whose phones are `+86` `phone_prefix` (five to eight digits of a mobile
/// number, e.g. `"13855"`) and `i` in the digits left of eleven. Make both unique per run when
/// the files may hold earlier runs' bytes, as PostgreSQL's WAL does (its recycled segments
/// too): a phone prefix of eight digits leaves 10⁵ runs apart (`"139"` and five of the run).
///
/// ```
/// let people = rapport_sql::testing::scan::people("Run1", "13910");
/// assert_eq!(people.len(), 1_000);
/// assert_eq!(people[999].phone, "+8613910000999");
/// assert_eq!(rapport_sql::testing::scan::people("Run2", "13912345")[999].phone, "+8613912345999");
/// ```
///
/// # Panics
/// When `phone_prefix` is not five to eight digits.
#[must_use]
pub fn people(tag: &str, phone_prefix: &str) -> Vec<Person> {
    assert!(
        (5..=8).contains(&phone_prefix.len()) && phone_prefix.bytes().all(|b| b.is_ascii_digit()),
        "a phone prefix of five to eight digits"
    );
    let lower = tag.to_lowercase();
    let width = 11 - phone_prefix.len();
    (0..1_000u32)
        .map(|i| Person {
            id: CustomerId::from_u128(10_000 + u128::from(i)),
            name: format!("{tag}n{i:04}x"),
            email: format!("{lower}m{i:04}x@example.net"),
            phone: format!("+86{phone_prefix}{i:0width$}"),
            note: format!("{tag}v{i:04}x"),
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

/// One web visit per person (ids 50,000 …, at `at`) whose free text (the visited item, what
/// an erasure strips and encryption seals) is the person's [`Person::note`], ready for a
/// store's `import_activities` (`Into` each).
///
/// ```
/// use rapport_core::ActivityKind;
/// use rapport_sql::testing::scan;
/// let people = scan::people("Doc", "13855");
/// let visits = scan::visits(&people[..2], chrono::DateTime::UNIX_EPOCH);
/// assert_eq!(visits[1].customer, people[1].id);
/// assert_eq!(visits[1].kind, ActivityKind::Visit { item: Some("Docv0001x".into()) });
/// ```
///
/// # Panics
/// Never for the people of [`people`] (their idempotency keys are valid).
#[must_use]
pub fn visits(people: &[Person], at: DateTime<Utc>) -> Vec<Activity> {
    people
        .iter()
        .enumerate()
        .map(|(i, p)| {
            Activity::new(
                ActivityId::from_u128(50_000 + i as u128),
                p.id,
                at,
                Channel::Web,
                IdempotencyKey::new(format!("visit-{i}")).unwrap(),
                ActivityKind::Visit {
                    item: Some(p.note.clone()),
                },
            )
            .unwrap()
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

/// How many of the people's values occur in some bytes, by kind ([`hits`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Hits {
    /// Display names.
    pub names: usize,
    /// Email local parts.
    pub emails: usize,
    /// National phone digits (the number without `+86`).
    pub phones: usize,
    /// Visit free text ([`Person::note`]).
    pub notes: usize,
}

impl Hits {
    /// Every kind together.
    ///
    /// ```
    /// let h = rapport_sql::testing::scan::Hits { names: 1, emails: 2, phones: 3, notes: 4 };
    /// assert_eq!(h.total(), 10);
    /// ```
    #[must_use]
    pub fn total(&self) -> usize {
        self.names + self.emails + self.phones + self.notes
    }
}

/// How many of the people's names, email local parts, national phone digits and visit notes
/// occur in `bytes`, by kind; `tag` is the one [`people`] was given. Eleven digits starting
/// with a chosen five do not occur in ciphertext or other binary data by chance (about 10⁻¹¹
/// per position even where every byte is a digit); they do in an earlier run's plaintext,
/// hence a phone prefix unique per run where the bytes outlive runs.
///
/// ```
/// use rapport_sql::testing::scan::{self, Hits};
/// let people = scan::people("Doc", "13855");
/// let h = scan::hits(b"..Docn0001x..13855000002..Docv0002x..", "Doc", &people);
/// assert_eq!(h, Hits { names: 1, emails: 0, phones: 1, notes: 1 });
/// ```
#[must_use]
pub fn hits(bytes: &[u8], tag: &str, people: &[Person]) -> Hits {
    let tagged = occurrences(bytes, tag.as_bytes(), 6);
    let emails = occurrences(bytes, tag.to_lowercase().as_bytes(), 6);
    let digits = people
        .first()
        .map(|p| occurrences(bytes, &p.phone.as_bytes()[3..8], 6))
        .unwrap_or_default();
    let count = |found: &dyn Fn(&Person) -> bool| people.iter().filter(|p| found(p)).count();
    Hits {
        names: count(&|p| tagged.contains(p.name.as_bytes())),
        emails: count(&|p| {
            let local = p.email.split('@').next().unwrap_or_default();
            emails.contains(local.as_bytes())
        }),
        phones: count(&|p| digits.contains(&p.phone.as_bytes()[3..])),
        notes: count(&|p| tagged.contains(p.note.as_bytes())),
    }
}

/// [`hits`] added up: how many of the people's values occur in `bytes`.
///
/// ```
/// use rapport_sql::testing::scan;
/// let people = scan::people("Doc", "13855");
/// assert_eq!(scan::plaintext_hits(b"..Docn0001x..13855000002..", "Doc", &people), 2);
/// ```
#[must_use]
pub fn plaintext_hits(bytes: &[u8], tag: &str, people: &[Person]) -> usize {
    hits(bytes, tag, people).total()
}
