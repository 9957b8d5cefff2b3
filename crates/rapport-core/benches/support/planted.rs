//! A book of customers with planted duplicates, for the duplicate-scan bench
//! (`benches/dedupe_scale.rs`) and its recall/precision test (`tests/dedupe_recall.rs`).
//!
//! Deterministic (xorshift from a seed). Every original customer has a name (a first name
//! from 300 and a surname from 1,000, both made of syllables), an email (`first.last<n>@`
//! one of 8 domains), a birth date (one of 20,000 days) and, four times in five, a mobile
//! phone. About 3 % of the book are **planted duplicates**, each a copy of a distinct
//! original, made in one of five ways (shares in brackets):
//!
//! - **case and spacing** (25 %): the name re-cased with doubled spaces, the email upper-cased,
//!   the phone written nationally (`138 0013 8000`, parsed with region CN);
//! - **typo in the name, same email** (20 %): one letter substituted, dropped or transposed;
//!   no phone;
//! - **typo in the email, same phone** (15 %): the phone written `0086 138-0013-8000`; an
//!   original without a phone gets the same email instead;
//! - **swapped names** (15 %): "Surname First", a new email, no phone;
//! - **new contacts and a typo in the name** (25 %): a new email and phone, one typo in the
//!   name; only the name and the birth date tie it to its original.
//!
//! Two originals may share a name and birth date by chance (about n² / 1.2·10¹⁰ pairs):
//! those are distinct people a scan cannot tell apart and count against precision.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate};
use rapport_core::*;

/// The customers and the planted pairs (smaller id first).
pub(crate) struct Book {
    pub(crate) customers: Vec<Customer>,
    pub(crate) planted: HashSet<(CustomerId, CustomerId)>,
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const ONSETS: [&str; 20] = [
    "b", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z", "ch", "sh",
    "br", "st",
];
const VOWELS: [&str; 6] = ["a", "e", "i", "o", "u", "ai"];
const CODAS: [&str; 6] = ["", "n", "r", "l", "s", "m"];

/// Word `k` of a deterministic list made of `syllables` syllables.
fn word(mut k: usize, syllables: usize) -> String {
    let mut out = String::new();
    for _ in 0..syllables {
        out.push_str(ONSETS[k % ONSETS.len()]);
        k /= ONSETS.len();
        out.push_str(VOWELS[k % VOWELS.len()]);
        k /= VOWELS.len();
        out.push_str(CODAS[k % CODAS.len()]);
        k /= CODAS.len();
    }
    let mut c = out.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

fn first_name(k: usize) -> String {
    // 300 of the 720 two-syllable words, spread out.
    word(k * 7 % 720 + 720 * (k / 720), 2)
}

fn surname(k: usize) -> String {
    // 1,000 three-syllable words, spread out.
    word(k * 613 % 86_400, 3)
}

const DOMAINS: [&str; 8] = [
    "example.com",
    "example.org",
    "mail.example",
    "post.example",
    "web.example",
    "inbox.example",
    "shop.example",
    "home.example",
];

/// One typo in an ASCII word list: a letter (not the first) substituted, dropped, or two
/// adjacent ones transposed.
fn typo(rng: &mut Rng, s: &str) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    let n = chars.len();
    if n < 3 {
        chars.push('e');
        return chars.into_iter().collect();
    }
    let mut at = 1 + rng.below(n - 1);
    while chars[at] == ' ' || (at + 1 < n && chars[at + 1] == ' ') {
        at = 1 + rng.below(n - 1);
    }
    match rng.below(3) {
        0 => {
            let pool = "aeioulnrst";
            let mut c = chars[at];
            while c == chars[at] {
                c = pool.as_bytes()[rng.below(pool.len())] as char;
            }
            chars[at] = c;
        }
        1 => {
            chars.remove(at);
        }
        _ if at + 1 < n => chars.swap(at, at + 1),
        _ => chars.swap(at - 1, at),
    }
    chars.into_iter().collect()
}

fn customer(
    id: u128,
    name: String,
    email: &str,
    phone: Option<Phone>,
    born: NaiveDate,
) -> Customer {
    let profile = Profile {
        display_name: Some(Pii::new(name)),
        email: Some(Pii::new(Email::parse(email).unwrap())),
        phone: phone.map(Pii::new),
        birth_date: Some(Pii::new(born)),
        ..Profile::default()
    };
    Customer::new(
        TenantId::from_u128(1),
        CustomerId::from_u128(id),
        profile,
        DateTime::UNIX_EPOCH,
    )
}

fn national(e164: &str) -> String {
    // "+8613800138000" → "138 0013 8000"
    let d = &e164[3..];
    format!("{} {} {}", &d[..3], &d[3..7], &d[7..])
}

/// A book of `n` customers (about 3 % planted duplicates) from `seed`.
pub(crate) fn book(n: usize, seed: u64) -> Book {
    let mut rng = Rng(seed | 1);
    let cn: Region = "CN".parse().unwrap();
    let epoch = NaiveDate::from_ymd_opt(1950, 1, 1).unwrap();
    let mut customers = Vec::with_capacity(n);
    let mut planted = HashSet::new();
    let mut id: u128 = 0;
    while customers.len() < n {
        id += 1;
        let (f, l) = (first_name(rng.below(300)), surname(rng.below(1000)));
        let name = format!("{f} {l}");
        let domain = DOMAINS[rng.below(DOMAINS.len())];
        let email = format!("{}.{}{id}@{domain}", f.to_lowercase(), l.to_lowercase());
        let phone_text = format!("+86138{:08}", id % 100_000_000);
        let phone = (rng.below(5) != 0).then(|| Phone::from_e164(&phone_text).unwrap());
        let born = epoch + chrono::Days::new(rng.below(20_000) as u64);
        let original = customer(id, name.clone(), &email, phone.clone(), born);
        let original_id = original.id();
        customers.push(original);
        if customers.len() >= n || rng.below(1000) >= 31 {
            continue;
        }
        id += 1;
        let new_email = format!("x{id}@{}", DOMAINS[rng.below(DOMAINS.len())]);
        let dup = match rng.below(100) {
            0..25 => {
                let recased: String = name
                    .chars()
                    .enumerate()
                    .map(|(i, c)| {
                        if i % 2 == 0 {
                            c.to_ascii_uppercase()
                        } else {
                            c.to_ascii_lowercase()
                        }
                    })
                    .collect::<String>()
                    .replace(' ', "  ");
                let phone = phone
                    .as_ref()
                    .map(|_| Phone::parse(&national(&phone_text), cn).unwrap());
                customer(
                    id,
                    format!(" {recased} "),
                    &email.to_uppercase(),
                    phone,
                    born,
                )
            }
            25..45 => customer(id, typo(&mut rng, &name), &email, None, born),
            45..60 if phone.is_some() => {
                let (local, domain) = email.split_once('@').unwrap();
                let wrong = format!("{}@{domain}", typo(&mut rng, local));
                let written = format!("0086 {}", national(&phone_text).replace(' ', "-"));
                customer(
                    id,
                    name.clone(),
                    &wrong,
                    Some(Phone::parse(&written, cn).unwrap()),
                    born,
                )
            }
            45..60 => customer(id, name.clone(), &email, None, born),
            60..75 => customer(id, format!("{l} {f}"), &new_email, None, born),
            _ => {
                let other = Phone::from_e164(&format!("+86139{:08}", id % 100_000_000)).unwrap();
                customer(id, typo(&mut rng, &name), &new_email, Some(other), born)
            }
        };
        let pair = (original_id.min(dup.id()), original_id.max(dup.id()));
        customers.push(dup);
        planted.insert(pair);
    }
    Book { customers, planted }
}

/// Recall and precision of `found` (pairs, smaller id first) against the planted pairs.
pub(crate) fn recall_precision(
    planted: &HashSet<(CustomerId, CustomerId)>,
    found: &[DuplicateCandidate],
) -> (f64, f64) {
    let hits = found
        .iter()
        .filter(|c| planted.contains(&(c.first, c.second)))
        .count();
    let recall = hits as f64 / planted.len().max(1) as f64;
    let precision = hits as f64 / found.len().max(1) as f64;
    (recall, precision)
}
