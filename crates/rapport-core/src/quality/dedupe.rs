//! Duplicate detection: which live customers of a tenant are probably the same person, as a
//! scored candidate list a person (or the host's policy) decides on. Nothing here merges.
//!
//! Two customers are compared only when they share a **blocking key** — the normalised
//! email, the E.164 phone, the name (case, spacing and word order aside) with the birth date,
//! or one word of the name with the birth date — so the work grows with the number of shared
//! keys, not with the square of the population. A compared pair is then scored from the keys
//! it shares and the Jaro-Winkler similarity of the names.

use std::collections::HashMap;
use std::collections::hash_map::Entry as Slot;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::error::DomainError;
use crate::model::contact::{Email, Phone};
use crate::model::customer::Customer;
use crate::model::id::{CustomerId, TenantId};

/// Which blocking keys to use and how to score a pair. `Default`: all four keys, weights
/// email 0.9, phone 0.8, name + birth date 0.7, name similarity 0.6 (counted from a
/// similarity of 0.85), candidates from a score of 0.5, blocks of at most 50 customers; a
/// pair tied only by a word of the name and the birth date must be one typo apart (the
/// common-word check, `common_word_count`, is off).
///
/// The score combines the evidence like independent signals ("noisy OR"):
/// `1 − Π (1 − weightᵢ · evidenceᵢ)`, where the evidence of a shared key is 1 and the
/// evidence of the names is their Jaro-Winkler similarity (0 below `min_name_similarity`).
/// One strong signal is enough; each further one raises the score towards 1, never past it.
///
/// ```
/// use rapport_core::{DedupePolicy, DomainError};
/// let p = DedupePolicy::default();
/// p.validate()?;
/// // Fields left out of a stored policy read as their defaults.
/// let q: DedupePolicy = serde_json::from_str(r#"{"block_on_phone": false}"#).unwrap();
/// assert_eq!(q, DedupePolicy { block_on_phone: false, ..p });
/// # Ok::<(), DomainError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DedupePolicy {
    /// Compare customers with the same normalised email.
    pub block_on_email: bool,
    /// Compare customers with the same E.164 phone.
    pub block_on_phone: bool,
    /// Compare customers with the same name (case, spacing and word order aside) and birth
    /// date; a profile without a birth date or a name has no such key.
    pub block_on_name_birth_date: bool,
    /// Compare customers with the same birth date who share one word of their names (so a
    /// typo in one word, or a second email and phone, still meets its original). The shared
    /// word is not evidence by itself: a pair tied only by it is a candidate when the names
    /// are at most `max_typo_edits` apart and do not differ by common words only
    /// (`common_word_count`), and scores on their similarity alone.
    pub block_on_name_part_birth_date: bool,
    /// For a pair tied only by a word of the name and the birth date: the most edits
    /// (a letter substituted, inserted or dropped, two adjacent letters swapped) between the
    /// names, as written or with their words sorted. One typo is one edit; each further edit
    /// admits many more distinct people who share a word and a birthday (their number grows
    /// with the square of the book).
    pub max_typo_edits: usize,
    /// For a pair tied only by a word of the name and the birth date: when the words in which
    /// the names differ are each found in the names of at least this many customers (with a
    /// birth date, of the same tenant), both are names in their own right — "Jon Lee" and
    /// "Jan Lee" born the same day are two people (twins, say), not a typo, which makes a
    /// rare word — and the pair is not a candidate. `0` (the default) turns the check off.
    /// It trades recall for precision, more so in a large book, where the same typo recurs
    /// (1M planted-duplicate customers, docs/performance.md: `5` takes precision from 0.976
    /// to 0.998 and recall from 0.999 to 0.984). A small book repeats few words, so there it
    /// rarely applies.
    pub common_word_count: usize,
    /// Weight in [0, 1] of a shared email.
    pub email_weight: f64,
    /// Weight in [0, 1] of a shared phone.
    pub phone_weight: f64,
    /// Weight in [0, 1] of a shared name and birth date.
    pub name_birth_date_weight: f64,
    /// Weight in [0, 1] of the name similarity.
    pub name_weight: f64,
    /// Similarity in [0, 1] below which the names count as no evidence (Jaro-Winkler gives
    /// unrelated names 0.4–0.6, so a low floor would reward mere length).
    pub min_name_similarity: f64,
    /// Pairs scoring below this, in [0, 1], are not reported.
    pub min_score: f64,
    /// A key shared by more customers than this (at least 2) is skipped: a shared office
    /// phone or `info@` address says nothing about identity, and skipping it bounds the work.
    pub max_block_size: usize,
}

impl Default for DedupePolicy {
    fn default() -> Self {
        Self {
            block_on_email: true,
            block_on_phone: true,
            block_on_name_birth_date: true,
            block_on_name_part_birth_date: true,
            max_typo_edits: 1,
            common_word_count: 0,
            email_weight: 0.9,
            phone_weight: 0.8,
            name_birth_date_weight: 0.7,
            name_weight: 0.6,
            min_name_similarity: 0.85,
            min_score: 0.5,
            max_block_size: 50,
        }
    }
}

impl DedupePolicy {
    /// Checks that at least one blocking key is on, weights and thresholds are in [0, 1] and
    /// blocks can hold a pair.
    ///
    /// ```
    /// use rapport_core::{DedupePolicy, DomainError};
    /// assert!(DedupePolicy::default().validate().is_ok());
    /// let none = DedupePolicy {
    ///     block_on_email: false,
    ///     block_on_phone: false,
    ///     block_on_name_birth_date: false,
    ///     block_on_name_part_birth_date: false,
    ///     ..DedupePolicy::default()
    /// };
    /// assert!(matches!(none.validate(), Err(DomainError::InvalidPolicy { field: "dedupe.blocking_keys", .. })));
    /// let p = DedupePolicy { email_weight: 1.5, ..DedupePolicy::default() };
    /// assert!(matches!(p.validate(), Err(DomainError::InvalidPolicy { field: "dedupe.email_weight", .. })));
    /// ```
    ///
    /// # Errors
    /// [`DomainError::InvalidPolicy`] naming the field.
    pub fn validate(&self) -> Result<(), DomainError> {
        if !(self.block_on_email
            || self.block_on_phone
            || self.block_on_name_birth_date
            || self.block_on_name_part_birth_date)
        {
            return Err(DomainError::InvalidPolicy {
                field: "dedupe.blocking_keys",
                value: "none".to_owned(),
                reason: "at least one blocking key is needed to find a pair",
            });
        }
        let unit = [
            ("dedupe.email_weight", self.email_weight),
            ("dedupe.phone_weight", self.phone_weight),
            ("dedupe.name_birth_date_weight", self.name_birth_date_weight),
            ("dedupe.name_weight", self.name_weight),
            ("dedupe.min_name_similarity", self.min_name_similarity),
            ("dedupe.min_score", self.min_score),
        ];
        for (field, v) in unit {
            if !(0.0..=1.0).contains(&v) {
                return Err(DomainError::InvalidPolicy {
                    field,
                    value: v.to_string(),
                    reason: "expected a number in [0, 1]",
                });
            }
        }
        if self.max_block_size < 2 {
            return Err(DomainError::InvalidPolicy {
                field: "dedupe.max_block_size",
                value: self.max_block_size.to_string(),
                reason: "a block holds at least a pair",
            });
        }
        Ok(())
    }
}

/// Why a pair is a candidate. No variant carries personal data, so reasons can be logged.
///
/// ```
/// use rapport_core::MatchReason;
/// let r = MatchReason::NameSimilarity { similarity: 0.93 };
/// assert_eq!(serde_json::to_value(&r).unwrap()["type"], "name_similarity");
/// assert_eq!(MatchReason::SameEmail.to_string(), "same email");
/// assert_eq!(r.to_string(), "name similarity 0.930");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
#[non_exhaustive]
pub enum MatchReason {
    /// Both have the same normalised email.
    SameEmail,
    /// Both have the same E.164 phone.
    SamePhone,
    /// Both have the same name (case, spacing and word order aside) and birth date.
    SameNameAndBirthDate,
    /// Jaro-Winkler similarity of the names, case and spacing aside, when both have one: the
    /// higher of the names as written and with their words sorted (so "Lee Ann" is "Ann Lee").
    NameSimilarity {
        /// In [0, 1]; 1 for the same name.
        similarity: f64,
    },
}

impl std::fmt::Display for MatchReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MatchReason::SameEmail => f.write_str("same email"),
            MatchReason::SamePhone => f.write_str("same phone"),
            MatchReason::SameNameAndBirthDate => f.write_str("same name and birth date"),
            MatchReason::NameSimilarity { similarity } => {
                write!(f, "name similarity {similarity:.3}")
            }
        }
    }
}

/// Two customers that are probably the same person: `first < second`, a score in [0, 1] and
/// the reasons, shared keys first, then the name similarity.
///
/// ```
/// use chrono::DateTime;
/// use rapport_core::*;
/// let t = TenantId::from_u128(1);
/// let with_email = |id: u128, name: &str| {
///     let profile = Profile {
///         display_name: Some(Pii::new(name.to_owned())),
///         email: Some(Pii::new(Email::parse("ann@example.com").unwrap())),
///         ..Profile::default()
///     };
///     Customer::new(t, CustomerId::from_u128(id), profile, DateTime::UNIX_EPOCH)
/// };
/// let (a, b) = (with_email(2, "Ann Lee"), with_email(1, "ann  lee"));
/// let found = duplicate_candidates([&a, &b], &DedupePolicy::default());
/// let c: &DuplicateCandidate = &found[0];
/// assert_eq!((c.first, c.second), (b.id(), a.id())); // ordered by id
/// assert_eq!(c.reasons, [MatchReason::SameEmail, MatchReason::NameSimilarity { similarity: 1.0 }]);
/// assert!((c.score - (1.0 - 0.1 * 0.4)).abs() < 1e-12);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DuplicateCandidate {
    /// The smaller id of the two.
    pub first: CustomerId,
    /// The larger id of the two.
    pub second: CustomerId,
    /// How likely they are the same person, in [0, 1].
    pub score: f64,
    /// Why.
    pub reasons: Vec<MatchReason>,
}

/// A blocking key; the tenant is part of it so customers of different tenants never meet.
#[derive(Clone, PartialEq, Eq, Hash)]
enum BlockKey<'a> {
    Email(TenantId, &'a Email),
    Phone(TenantId, &'a Phone),
    NameBirthDate(TenantId, &'a str, NaiveDate),
    NamePartBirthDate(TenantId, &'a str, NaiveDate),
}

impl BlockKey<'_> {
    /// The bit of the key's kind in a pair's set of shared kinds.
    fn bit(&self) -> u8 {
        match self {
            BlockKey::Email(..) => 1,
            BlockKey::Phone(..) => 2,
            BlockKey::NameBirthDate(..) => 4,
            BlockKey::NamePartBirthDate(..) => NAME_PART,
        }
    }
}

/// The customers sharing a key. Most keys (an email, a phone) are one customer's alone, so
/// a key of one customer allocates nothing: at 1M customers that is millions of allocations
/// fewer.
enum Members {
    One(u32),
    Many(Vec<u32>),
}

/// The bit of [`BlockKey::NamePartBirthDate`].
const NAME_PART: u8 = 8;

/// How a name is compared: lower-cased with whitespace runs collapsed, and the same with its
/// words sorted.
struct Name {
    folded: String,
    sorted: String,
}

impl Name {
    fn of(c: &Customer) -> Option<Self> {
        let lower = c.profile.display_name.as_ref()?.expose().to_lowercase();
        let mut words: Vec<&str> = lower.split_whitespace().collect();
        if words.is_empty() {
            return None;
        }
        let folded = words.join(" ");
        words.sort_unstable();
        Some(Self {
            folded,
            sorted: words.join(" "),
        })
    }

    /// True when the names are at most `edits` apart (optimal string alignment), as written
    /// or with their words sorted: a typo, not another person who shares a word.
    fn typo_close(&self, other: &Name, edits: usize) -> bool {
        strsim::osa_distance(&self.folded, &other.folded) <= edits
            || strsim::osa_distance(&self.sorted, &other.sorted) <= edits
    }

    /// The words of `self` that `other` lacks (sorted, each once).
    fn words_not_in<'n>(&'n self, other: &Name) -> Vec<&'n str> {
        let theirs: Vec<&str> = other.sorted.split(' ').collect();
        let mut out: Vec<&str> = self
            .sorted
            .split(' ')
            .filter(|w| !theirs.contains(w))
            .collect();
        out.dedup();
        out
    }

    /// Jaro-Winkler of the names as written, or with their words sorted, whichever is higher.
    fn similarity(&self, other: &Name) -> f64 {
        let written = strsim::jaro_winkler(&self.folded, &other.folded);
        let sorted = if self.sorted == self.folded && other.sorted == other.folded {
            written
        } else {
            strsim::jaro_winkler(&self.sorted, &other.sorted)
        };
        written.max(sorted).clamp(0.0, 1.0)
    }
}

/// One live customer of the scan, with its name prepared once.
struct Entry<'a> {
    customer: &'a Customer,
    name: Option<Name>,
}

fn block_keys<'a>(e: &'a Entry<'a>, policy: &DedupePolicy, out: &mut Vec<BlockKey<'a>>) {
    let c = e.customer;
    let t = c.tenant();
    let p = &c.profile;
    if policy.block_on_email {
        if let Some(em) = &p.email {
            out.push(BlockKey::Email(t, em.expose()));
        }
    }
    if policy.block_on_phone {
        if let Some(ph) = &p.phone {
            out.push(BlockKey::Phone(t, ph.expose()));
        }
    }
    let (Some(name), Some(born)) = (&e.name, &p.birth_date) else {
        return;
    };
    let born = *born.expose();
    if policy.block_on_name_birth_date {
        out.push(BlockKey::NameBirthDate(t, &name.sorted, born));
    }
    if policy.block_on_name_part_birth_date {
        let mut last = None;
        for word in name.sorted.split(' ') {
            if last != Some(word) {
                out.push(BlockKey::NamePartBirthDate(t, word, born));
            }
            last = Some(word);
        }
    }
}

/// The scored duplicate candidates among `customers`, best first (then by ids), each
/// unordered pair once.
///
/// Only live customers take part (merged and erased tombstones are skipped), a customer
/// listed twice counts once, and customers of different tenants are never paired: the
/// tenant is part of every blocking key, so a mixed list is the union of per-tenant runs.
/// Only pairs sharing an enabled key are scored, and keys shared by more than
/// `max_block_size` customers are skipped, so the work is at most
/// `keys × max_block_size²` comparisons; keys and pairs are hashed, so a scan grows
/// near-linearly with the customers (1M customers: see docs/performance.md). The policy is
/// assumed valid ([`DedupePolicy::validate`]).
///
/// ```
/// use chrono::{DateTime, NaiveDate};
/// use rapport_core::*;
/// let t = TenantId::from_u128(1);
/// let person = |id: u128, name: &str, phone: &str, born: Option<(i32, u32, u32)>| {
///     let profile = Profile {
///         display_name: Some(Pii::new(name.to_owned())),
///         phone: Some(Pii::new(Phone::from_e164(phone).unwrap())),
///         birth_date: born.map(|(y, m, d)| Pii::new(NaiveDate::from_ymd_opt(y, m, d).unwrap())),
///         ..Profile::default()
///     };
///     Customer::new(t, CustomerId::from_u128(id), profile, DateTime::UNIX_EPOCH)
/// };
/// let a = person(1, "Wang Fang", "+8613800138000", Some((1990, 5, 1)));
/// let b = person(2, "FANG  WANG", "+8613900139000", Some((1990, 5, 1))); // same name and birthday
/// let c = person(3, "Wang Fan", "+8613800138000", None);               // same phone, typo in name
/// let d = person(4, "Li Lei", "+8613700137000", None);                 // nobody else
///
/// let found = duplicate_candidates([&a, &b, &c, &d], &DedupePolicy::default());
/// let pairs: Vec<_> = found.iter().map(|x| (x.first, x.second)).collect();
/// assert_eq!(pairs, [(a.id(), c.id()), (a.id(), b.id())]);
/// assert_eq!(found[0].reasons[0], MatchReason::SamePhone);
/// assert!(matches!(found[0].reasons[1], MatchReason::NameSimilarity { similarity } if similarity > 0.95));
/// assert_eq!(found[1].reasons[0], MatchReason::SameNameAndBirthDate);
/// // Word order aside, the names are the same.
/// assert_eq!(found[1].reasons[1], MatchReason::NameSimilarity { similarity: 1.0 });
/// assert!(found.iter().all(|x| (0.0..=1.0).contains(&x.score)));
/// ```
#[must_use]
pub fn duplicate_candidates<'a>(
    customers: impl IntoIterator<Item = &'a Customer>,
    policy: &DedupePolicy,
) -> Vec<DuplicateCandidate> {
    let mut index: HashMap<CustomerId, u32> = HashMap::new();
    let mut live: Vec<Entry<'a>> = Vec::new();
    for c in customers {
        if c.is_live() && !index.contains_key(&c.id()) {
            let Ok(at) = u32::try_from(live.len()) else {
                break;
            };
            index.insert(c.id(), at);
            live.push(Entry {
                customer: c,
                name: Name::of(c),
            });
        }
    }
    drop(index);
    let mut blocks: HashMap<BlockKey<'_>, Members> = HashMap::with_capacity(live.len() * 4);
    // How many customers (with a birth date) have each word in their names, per tenant.
    let mut word_counts: HashMap<(TenantId, &str), u32> = HashMap::new();
    let count_words = policy.common_word_count > 0;
    let mut keys = Vec::with_capacity(6);
    for (i, e) in (0u32..).zip(&live) {
        keys.clear();
        block_keys(e, policy, &mut keys);
        for key in keys.drain(..) {
            if let (true, BlockKey::NamePartBirthDate(t, word, _)) = (count_words, &key) {
                *word_counts.entry((*t, word)).or_default() += 1;
            }
            match blocks.entry(key) {
                Slot::Vacant(v) => {
                    v.insert(Members::One(i));
                }
                Slot::Occupied(mut o) => match o.get_mut() {
                    Members::One(first) => {
                        let first = *first;
                        o.insert(Members::Many(vec![first, i]));
                    }
                    Members::Many(v) => v.push(i),
                },
            }
        }
    }
    let common = |t: TenantId, words: &[&str]| {
        words.len() == 1
            && word_counts
                .get(&(t, words[0]))
                .is_some_and(|&n| n as usize >= policy.common_word_count)
    };
    // Each pair (smaller index first) with the kinds of key it shares, as bits.
    let mut pairs: HashMap<(u32, u32), u8> = HashMap::new();
    for (key, members) in &blocks {
        let Members::Many(members) = members else {
            continue;
        };
        if members.len() > policy.max_block_size {
            continue;
        }
        let bit = key.bit();
        for (i, &a) in members.iter().enumerate() {
            for &b in &members[i + 1..] {
                *pairs.entry((a.min(b), a.max(b))).or_default() |= bit;
            }
        }
    }
    drop(blocks);
    let mut out: Vec<DuplicateCandidate> = pairs
        .into_iter()
        .filter_map(|((a, b), kinds)| {
            let (a, b) = (&live[a as usize], &live[b as usize]);
            // Tied only by a word of the name and the birth date: the shared word alone makes
            // Jaro-Winkler high, so the names must be a typo apart to be a candidate at all,
            // and not differ by two common words (two people's names, not a typo).
            if kinds == NAME_PART {
                let (x, y) = (a.name.as_ref()?, b.name.as_ref()?);
                if !x.typo_close(y, policy.max_typo_edits) {
                    return None;
                }
                let t = a.customer.tenant();
                if count_words && common(t, &x.words_not_in(y)) && common(t, &y.words_not_in(x)) {
                    return None;
                }
            }
            let reasons = reasons(a, b, kinds);
            let score = score(&reasons, policy);
            let (x, y) = (a.customer.id(), b.customer.id());
            (score >= policy.min_score).then(|| DuplicateCandidate {
                first: x.min(y),
                second: x.max(y),
                score,
                reasons,
            })
        })
        .collect();
    out.sort_unstable_by(|x, y| {
        y.score
            .total_cmp(&x.score)
            .then_with(|| (x.first, x.second).cmp(&(y.first, y.second)))
    });
    out
}

/// The reasons of a pair sharing the key kinds `kinds`: the shared keys (a shared word of
/// the name is none), then the name similarity.
fn reasons(a: &Entry<'_>, b: &Entry<'_>, kinds: u8) -> Vec<MatchReason> {
    let mut out = Vec::with_capacity(4);
    for (bit, reason) in [
        (1, MatchReason::SameEmail),
        (2, MatchReason::SamePhone),
        (4, MatchReason::SameNameAndBirthDate),
    ] {
        if kinds & bit != 0 {
            out.push(reason);
        }
    }
    if let (Some(x), Some(y)) = (&a.name, &b.name) {
        out.push(MatchReason::NameSimilarity {
            similarity: x.similarity(y),
        });
    }
    out
}

/// The noisy-OR of the evidence, in [0, 1] for weights in [0, 1].
fn score(reasons: &[MatchReason], policy: &DedupePolicy) -> f64 {
    let miss: f64 = reasons
        .iter()
        .map(|r| match *r {
            MatchReason::SameEmail => policy.email_weight,
            MatchReason::SamePhone => policy.phone_weight,
            MatchReason::SameNameAndBirthDate => policy.name_birth_date_weight,
            MatchReason::NameSimilarity { similarity }
                if similarity >= policy.min_name_similarity =>
            {
                policy.name_weight * similarity
            }
            MatchReason::NameSimilarity { .. } => 0.0,
        })
        .map(|w| 1.0 - w.clamp(0.0, 1.0))
        .product();
    (1.0 - miss).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use chrono::DateTime;
    use proptest::prelude::*;

    use super::*;
    use crate::model::customer::Profile;
    use crate::model::pii::Pii;

    const NAMES: [&str; 6] = [
        "Ann Lee",
        "ann lee",
        "Anne Lee",
        "Bo Chen",
        "Li Lei",
        "Wang Fang",
    ];
    const EMAILS: [&str; 3] = ["a@example.com", "b@example.com", "c@example.com"];
    const PHONES: [&str; 3] = ["+8613800138000", "+8613900139000", "+14155550100"];

    /// A customer from small index ranges, so keys collide often.
    fn person(
        tenant: u128,
        id: u128,
        (name, email, phone, born): (Option<usize>, Option<usize>, Option<usize>, Option<u32>),
    ) -> Customer {
        let profile = Profile {
            display_name: name.map(|i| Pii::new(NAMES[i].to_owned())),
            email: email.map(|i| Pii::new(Email::parse(EMAILS[i]).unwrap())),
            phone: phone.map(|i| Pii::new(Phone::from_e164(PHONES[i]).unwrap())),
            birth_date: born.map(|d| Pii::new(NaiveDate::from_ymd_opt(1990, 1, d).unwrap())),
            ..Profile::default()
        };
        Customer::new(
            TenantId::from_u128(tenant),
            CustomerId::from_u128(id),
            profile,
            DateTime::UNIX_EPOCH,
        )
    }

    type Shape = (Option<usize>, Option<usize>, Option<usize>, Option<u32>);
    fn shape() -> impl Strategy<Value = Shape> {
        (
            proptest::option::of(0..NAMES.len()),
            proptest::option::of(0..EMAILS.len()),
            proptest::option::of(0..PHONES.len()),
            proptest::option::of(1..3u32),
        )
    }
    fn population() -> impl Strategy<Value = Vec<Customer>> {
        proptest::collection::vec(shape(), 0..24).prop_map(|shapes| {
            shapes
                .into_iter()
                .enumerate()
                .map(|(i, s)| person(1, i as u128 + 1, s))
                .collect()
        })
    }
    fn lenient() -> DedupePolicy {
        DedupePolicy {
            min_score: 0.0,
            ..DedupePolicy::default()
        }
    }

    proptest! {
        #[test]
        fn prop_each_unordered_pair_once_never_self(people in population()) {
            let found = duplicate_candidates(&people, &lenient());
            let mut seen = BTreeSet::new();
            for c in &found {
                prop_assert!(c.first < c.second, "{:?} is not ordered or pairs a customer with itself", c);
                prop_assert!(seen.insert((c.first, c.second)), "pair {:?} twice", (c.first, c.second));
            }
        }

        #[test]
        fn prop_scores_in_unit_interval_and_sorted(people in population()) {
            let found = duplicate_candidates(&people, &lenient());
            prop_assert!(found.iter().all(|c| (0.0..=1.0).contains(&c.score)));
            prop_assert!(found.windows(2).all(|w| w[0].score >= w[1].score));
        }

        #[test]
        fn prop_input_order_does_not_matter(people in population()) {
            let mut reversed: Vec<&Customer> = people.iter().collect();
            reversed.reverse();
            prop_assert_eq!(
                duplicate_candidates(&people, &lenient()),
                duplicate_candidates(reversed, &lenient())
            );
        }

        #[test]
        fn prop_an_unrelated_customer_changes_no_pair(people in population(), name in proptest::option::of(0..NAMES.len())) {
            let before = duplicate_candidates(&people, &lenient());
            // Shares no key with anyone: a fresh email and phone, no birth date.
            let mut stranger = person(1, 999, (name, None, None, None));
            stranger.profile.email = Some(Pii::new(Email::parse("nobody@else.org").unwrap()));
            stranger.profile.phone = Some(Pii::new(Phone::from_e164("+442071838750").unwrap()));
            let mut more: Vec<&Customer> = people.iter().collect();
            more.push(&stranger);
            prop_assert_eq!(before, duplicate_candidates(more, &lenient()));
        }

        #[test]
        fn prop_a_mixed_list_is_the_union_of_per_tenant_runs(shapes in proptest::collection::vec((shape(), 1..3u128), 0..24)) {
            let people: Vec<Customer> = shapes
                .into_iter()
                .enumerate()
                .map(|(i, (s, tenant))| person(tenant, i as u128 + 1, s))
                .collect();
            let of = |t: u128| duplicate_candidates(
                people.iter().filter(|c| c.tenant() == TenantId::from_u128(t)),
                &lenient(),
            );
            let mut union = of(1);
            union.extend(of(2));
            let key = |c: &DuplicateCandidate| (c.first, c.second);
            union.sort_by_key(key);
            let mut mixed = duplicate_candidates(&people, &lenient());
            mixed.sort_by_key(key);
            prop_assert_eq!(mixed, union);
        }

        #[test]
        fn prop_every_candidate_shares_a_key(people in population()) {
            let by_id = |id: CustomerId| people.iter().find(|c| c.id() == id).unwrap();
            let words = |c: &Customer| -> BTreeSet<String> {
                c.profile.display_name.as_ref().map_or_else(BTreeSet::new, |n| {
                    n.expose().to_lowercase().split_whitespace().map(str::to_owned).collect()
                })
            };
            for c in duplicate_candidates(&people, &lenient()) {
                let (a, b) = (by_id(c.first), by_id(c.second));
                let shares_a_word_and_birthday = a.profile.birth_date.is_some()
                    && a.profile.birth_date == b.profile.birth_date
                    && !words(a).is_disjoint(&words(b));
                prop_assert!(
                    matches!(
                        c.reasons[0],
                        MatchReason::SameEmail | MatchReason::SamePhone | MatchReason::SameNameAndBirthDate
                    ) || (shares_a_word_and_birthday && c.reasons.len() == 1),
                    "{:?}", c
                );
            }
        }
    }

    #[test]
    fn tombstones_other_tenants_and_repeats_are_left_out() {
        let shared = (Some(0), Some(0), None, None);
        let a = person(1, 1, shared);
        let b = person(1, 2, shared);
        let other_tenant = person(2, 3, shared);
        let mut merged = person(1, 4, shared);
        merged
            .set_lifecycle(
                merged
                    .lifecycle()
                    .merge_into(a.id(), DateTime::UNIX_EPOCH)
                    .unwrap(),
            )
            .unwrap();
        let found = duplicate_candidates([&a, &b, &other_tenant, &merged, &a], &lenient());
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].first, found[0].second), (a.id(), b.id()));
    }

    #[test]
    fn oversized_blocks_and_disabled_keys_are_skipped() {
        let people: Vec<Customer> = (1..=4)
            .map(|i| person(1, i, (None, Some(0), None, None)))
            .collect();
        assert_eq!(duplicate_candidates(&people, &lenient()).len(), 6);
        let small = DedupePolicy {
            max_block_size: 3,
            ..lenient()
        };
        assert!(duplicate_candidates(&people, &small).is_empty());
        let no_email = DedupePolicy {
            block_on_email: false,
            ..lenient()
        };
        assert!(duplicate_candidates(&people, &no_email).is_empty());
    }

    /// 20,000 customers in pairs sharing an email, plus 3,000 behind one phone: only the
    /// 10,000 pairs are scored (all-pairs would be 2.6 × 10⁸ comparisons, and the phone block
    /// alone 4.5 × 10⁶).
    #[test]
    fn only_pairs_inside_small_blocks_are_scored() {
        let mut people = Vec::new();
        for i in 0..20_000u128 {
            let mut c = person(1, i + 1, (None, None, None, None));
            let email = format!("user{}@example.com", i / 2);
            c.profile.email = Some(Pii::new(Email::parse(&email).unwrap()));
            people.push(c);
        }
        for i in 0..3_000u128 {
            people.push(person(1, 100_000 + i, (None, None, Some(0), None)));
        }
        let found = duplicate_candidates(&people, &DedupePolicy::default());
        assert_eq!(found.len(), 10_000);
        assert!(found.iter().all(|c| c.reasons == [MatchReason::SameEmail]));
    }

    #[test]
    fn dissimilar_names_add_nothing_and_low_scores_are_dropped() {
        let a = person(1, 1, (Some(3), None, Some(0), None));
        let b = person(1, 2, (Some(5), None, Some(0), None));
        let found = duplicate_candidates([&a, &b], &DedupePolicy::default());
        assert!((found[0].score - 0.8).abs() < 1e-12, "{found:?}");
        let strict = DedupePolicy {
            min_score: 0.9,
            ..DedupePolicy::default()
        };
        assert!(duplicate_candidates([&a, &b], &strict).is_empty());
    }

    /// A customer with its own name and email, born 1990-01-`day`.
    fn named(id: u128, name: &str, day: u32) -> Customer {
        let mut c = person(1, id, (None, None, None, Some(day)));
        c.profile.display_name = Some(Pii::new(name.to_owned()));
        let email = format!("c{id}@example.com");
        c.profile.email = Some(Pii::new(Email::parse(&email).unwrap()));
        c
    }

    #[test]
    fn a_shared_word_and_birthday_pair_names_one_typo_apart() {
        let ann = named(1, "Ann Stone", 1);
        let typo = named(2, "Ann Stoen", 1); // two letters swapped: one edit
        let other = named(3, "Ann Stern", 1); // two edits: another person
        let later = named(4, "Ann Stone", 2); // another birthday
        let found = duplicate_candidates([&ann, &typo, &other, &later], &DedupePolicy::default());
        let pairs: Vec<_> = found.iter().map(|c| (c.first, c.second)).collect();
        assert_eq!(pairs, [(ann.id(), typo.id())]);
        let two = DedupePolicy {
            max_typo_edits: 2,
            ..DedupePolicy::default()
        };
        let found = duplicate_candidates([&ann, &typo, &other, &later], &two);
        let pairs: Vec<_> = found.iter().map(|c| (c.first, c.second)).collect();
        // "Stoen" and "Stern" are two edits apart: another person, taken for a typo.
        assert!(pairs.contains(&(typo.id(), other.id())), "{found:?}");
        assert_eq!(pairs.len(), 2, "{found:?}");
    }

    #[test]
    fn names_differing_by_common_words_are_two_people_when_asked() {
        // Jon and Jan Lee, twins; "Jon" and "Jan" are names of several customers, "Jpn" a typo.
        let mut people = vec![
            named(1, "Jon Lee", 1),
            named(2, "Jan Lee", 1),
            named(3, "Jon Lee", 2),
            named(4, "Jan Stone", 3),
            named(5, "Jon Stone", 4),
            named(6, "Jan Wu", 5),
        ];
        people.push(named(7, "Jpn Lee", 1));
        let ids = |found: &[DuplicateCandidate]| -> Vec<(u128, u128)> {
            found
                .iter()
                .map(|c| (c.first.as_uuid().as_u128(), c.second.as_uuid().as_u128()))
                .collect()
        };
        let mut off = ids(&duplicate_candidates(&people, &DedupePolicy::default()));
        off.sort_unstable();
        assert_eq!(off, [(1, 2), (1, 7), (2, 7)]);
        let on = DedupePolicy {
            common_word_count: 3,
            ..DedupePolicy::default()
        };
        let mut found = ids(&duplicate_candidates(&people, &on));
        found.sort_unstable();
        assert_eq!(found, [(1, 7), (2, 7)]);
        // Above every count: nothing is common.
        let high = DedupePolicy {
            common_word_count: 4,
            ..DedupePolicy::default()
        };
        assert_eq!(duplicate_candidates(&people, &high).len(), 3);
    }

    #[test]
    fn validate_rejects_nan_and_tiny_blocks() {
        let nan = DedupePolicy {
            min_score: f64::NAN,
            ..DedupePolicy::default()
        };
        assert!(nan.validate().is_err());
        let tiny = DedupePolicy {
            max_block_size: 1,
            ..DedupePolicy::default()
        };
        assert!(matches!(
            tiny.validate(),
            Err(DomainError::InvalidPolicy {
                field: "dedupe.max_block_size",
                ..
            })
        ));
    }
}
