//! Crypto-shredding for SQL rows, written once for both SQL stores: a [`Sealer`] encodes a
//! customer's row with its profile (names, email, phone, birth date, attributes) sealed under
//! the customer's data key, the `email`/`phone` columns as keyed blind indexes instead of the
//! contacts, and an activity's personal payload (what `privacy::strip_activity` removes)
//! sealed beside its stripped, readable form — kind, time, channel and amounts stay plaintext,
//! so stats, segments on non-personal fields and aggregates keep working. Decoding opens what
//! the key store still has a key for; once erasure deleted the key, the row reads as the
//! stripped tombstone it is, in every copy of the database.
//!
//! Row formats (JSON text, the sealed value in unpadded standard base64 of
//! `nonce ‖ ciphertext ‖ tag`):
//! - customer: `{"sealed_private":"…", <the customer with an empty profile and its consent
//!   snapshot's sources blanked>}`, the sealed value holding `{"profile", "consents"}` (rows
//!   written before consent sources were sealed, `{"sealed_profile":"…", …}` with the profile
//!   alone, still decode);
//! - activity with a personal payload: `{"sealed_kind":"…", <the stripped activity>}`, the
//!   sealed value holding the activity's whole `kind` (rows of the first format,
//!   `{"sealed":"…", …}` with the whole activity sealed, still decode); without one, the
//!   activity as it is;
//! - consent ledger entry with a source or evidence: `{"sealed_entry":"…", <the stripped
//!   entry>}` (`ConsentEntry::stripped`: state, purpose, channel, basis and times plain);
//! - merge record: `{"sealed_merge":"…", <the record with its profiles emptied and consent
//!   sources blanked>}`.
//!
//! ```
//! use std::sync::Arc;
//! use rapport_core::*;
//! use rapport_sql::seal::Sealer;
//! # #[derive(Debug, Default)]
//! # struct Keys(std::sync::Mutex<std::collections::HashMap<CustomerId, [u8; 32]>>);
//! # impl rapport_core::ports::KeyStore for Keys {
//! #   fn index_key(&self, _: TenantId) -> Result<privacy::crypto::IndexKey, StoreError> { Ok(privacy::crypto::IndexKey::from_bytes([1; 32])) }
//! #   fn data_key(&self, _: TenantId, c: CustomerId) -> Result<Option<privacy::crypto::DataKey>, StoreError> {
//! #     Ok(self.0.lock().unwrap().get(&c).map(|k| privacy::crypto::DataKey::from_bytes(*k))) }
//! #   fn create_data_key(&self, _: TenantId, c: CustomerId) -> Result<privacy::crypto::DataKey, StoreError> {
//! #     Ok(privacy::crypto::DataKey::from_bytes(*self.0.lock().unwrap().entry(c).or_insert([2; 32]))) }
//! #   fn delete_data_key(&self, _: TenantId, c: CustomerId) -> Result<bool, StoreError> { Ok(self.0.lock().unwrap().remove(&c).is_some()) }
//! #   fn nonce(&self) -> [u8; 24] { [3; 24] }
//! # }
//! let keys = Arc::new(Keys::default());
//! let sealer = Sealer::new(keys.clone());
//! let (t, id) = (TenantId::from_u128(1), CustomerId::from_u128(2));
//! let mut c = Customer::new(t, id, Profile::default(), chrono::DateTime::UNIX_EPOCH);
//! c.profile.email = Some(Pii::new(Email::parse("ann@example.com")?));
//! let row = sealer.customer_json(&c)?;
//! assert!(!row.contains("ann@"));
//! assert_eq!(sealer.decode_customer(&row)?, c);
//! let (email, _) = sealer.contact_columns(&c)?;
//! assert_eq!(email.as_deref(), Some(sealer.lookup(t, &ContactKey::Email(Email::parse("ann@example.com")?))?.as_str()));
//! // Erasure deletes the key: the row no longer opens, and reads without a profile.
//! rapport_core::ports::KeyStore::delete_data_key(&*keys, t, id)?;
//! assert_eq!(sealer.decode_customer(&row)?.profile, Profile::default());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use rapport_core::ports::KeyStore;
use rapport_core::privacy::crypto::{self, blind_index};
use rapport_core::privacy::{ConsentEntry, ERASED_SOURCE, strip_activity};
use rapport_core::quality::merge_op::MergeRecord;
use rapport_core::{
    Activity, Consent, Consents, ContactKey, ContactKind, Customer, CustomerId, Profile,
    StoreError, TenantId,
};

use crate::codec::{CorruptRow, claimed_contacts, from_json, to_json};

const PROFILE_PREFIX: &str = "{\"sealed_profile\":\"";
const PRIVATE_PREFIX: &str = "{\"sealed_private\":\"";
const ENTRY_PREFIX: &str = "{\"sealed_entry\":\"";
const KIND_PREFIX: &str = "{\"sealed_kind\":\"";
const ACTIVITY_PREFIX: &str = "{\"sealed\":\"";
const MERGE_PREFIX: &str = "{\"sealed_merge\":\"";

/// Why a row could not be sealed or opened.
///
/// ```
/// use rapport_sql::seal::SealFailure;
/// let e = SealFailure::Corrupt(rapport_sql::codec::CorruptRow { table: "customers", reason: "x".into() });
/// assert_eq!(e.to_string(), "corrupt row in customers: x");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SealFailure {
    /// The row does not decode (or a sealed value does not open under the customer's key).
    #[error(transparent)]
    Corrupt(#[from] CorruptRow),
    /// The key store failed.
    #[error("key store: {0}")]
    Keys(#[from] StoreError),
}

/// Encodes and decodes rows with personal fields sealed (see the module docs).
#[derive(Debug, Clone)]
pub struct Sealer {
    keys: Arc<dyn KeyStore>,
}

impl Sealer {
    /// A sealer over `keys`.
    #[must_use]
    pub fn new(keys: Arc<dyn KeyStore>) -> Self {
        Self { keys }
    }

    /// The key store.
    #[must_use]
    pub fn keys(&self) -> &Arc<dyn KeyStore> {
        &self.keys
    }

    /// The `customer_json` column of `c`: its profile and consent snapshot sealed (the key
    /// made if the customer has none yet), everything else plain — the snapshot's states stay
    /// readable beside the seal, its sources (which may name a person) do not.
    ///
    /// # Errors
    /// [`SealFailure`] when the key store fails.
    pub fn customer_json(&self, c: &Customer) -> Result<String, SealFailure> {
        let table = "customers";
        if c.profile == Profile::default() && c.consents.iter().next().is_none() {
            return Ok(to_json(table, c)?);
        }
        let key = self.keys.create_data_key(c.tenant(), c.id())?;
        let private = to_json(
            table,
            &PrivateRef {
                profile: &c.profile,
                consents: &c.consents,
            },
        )?;
        let sealed = crypto::seal(
            &key,
            self.keys.nonce(),
            &crypto::aad(c.tenant(), c.id(), "private"),
            private.as_bytes(),
        );
        let mut shell = c.clone();
        shell.profile = Profile::default();
        shell.consents = blank_sources(&c.consents);
        Ok(sealed_row(
            PRIVATE_PREFIX,
            &sealed,
            &to_json(table, &shell)?,
        ))
    }

    /// A customer from its `customer_json` column: the profile and consent sources opened
    /// when the key store still has the customer's key; without it (erasure deleted it) the
    /// profile is empty and the sources read [`ERASED_SOURCE`].
    ///
    /// # Errors
    /// [`SealFailure::Corrupt`] when the row does not decode or the sealed part does not
    /// open under the customer's key; [`SealFailure::Keys`] when the key store fails.
    pub fn decode_customer(&self, json: &str) -> Result<Customer, SealFailure> {
        let table = "customers";
        let mut c: Customer = from_json(table, json)?;
        let (sealed, field) = match sealed_part(json, PRIVATE_PREFIX) {
            Some(s) => (s, "private"),
            None => match sealed_part(json, PROFILE_PREFIX) {
                Some(s) => (s, "profile"),
                None => return Ok(c),
            },
        };
        let Some(key) = self.keys.data_key(c.tenant(), c.id())? else {
            return Ok(c);
        };
        let plain = open_b64(&key, &crypto::aad(c.tenant(), c.id(), field), sealed, table)?;
        if field == "profile" {
            c.profile = from_json(table, &plain)?;
        } else {
            let private: Private = from_json(table, &plain)?;
            c.profile = private.profile;
            c.consents = private.consents;
        }
        Ok(c)
    }

    /// The `email` and `phone` columns of `c`: the blind indexes of the contacts a live
    /// customer claims (see [`claimed_contacts`]), `None` for none.
    ///
    /// # Errors
    /// [`SealFailure::Keys`] when the key store fails.
    pub fn contact_columns(
        &self,
        c: &Customer,
    ) -> Result<(Option<String>, Option<String>), SealFailure> {
        let (email, phone) = claimed_contacts(c);
        if email.is_none() && phone.is_none() {
            return Ok((None, None));
        }
        let key = self.keys.index_key(c.tenant())?;
        Ok((
            email.map(|e| blind_index(&key, ContactKind::Email, e)),
            phone.map(|p| blind_index(&key, ContactKind::Phone, p)),
        ))
    }

    /// What the `email`/`phone` column holds for a lookup of `key` in `tenant`.
    ///
    /// # Errors
    /// [`SealFailure::Keys`] when the key store fails.
    pub fn lookup(&self, tenant: TenantId, key: &ContactKey) -> Result<String, SealFailure> {
        let index = self.keys.index_key(tenant)?;
        Ok(blind_index(&index, key.contact_kind(), key.as_str()))
    }

    /// The `email` and `phone` columns of `c` in the short binary form
    /// ([`short_blind_index`]): the first 128 bits of the blind indexes of
    /// [`Self::contact_columns`].
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use rapport_core::*;
    /// # use rapport_sql::seal::{Sealer, short_blind_index};
    /// # #[derive(Debug)] struct Keys;
    /// # impl rapport_core::ports::KeyStore for Keys {
    /// #   fn index_key(&self, _: TenantId) -> Result<privacy::crypto::IndexKey, StoreError> { Ok(privacy::crypto::IndexKey::from_bytes([1; 32])) }
    /// #   fn data_key(&self, _: TenantId, _: CustomerId) -> Result<Option<privacy::crypto::DataKey>, StoreError> { Ok(None) }
    /// #   fn create_data_key(&self, _: TenantId, _: CustomerId) -> Result<privacy::crypto::DataKey, StoreError> { Ok(privacy::crypto::DataKey::from_bytes([2; 32])) }
    /// #   fn delete_data_key(&self, _: TenantId, _: CustomerId) -> Result<bool, StoreError> { Ok(false) }
    /// #   fn nonce(&self) -> [u8; 24] { [3; 24] }
    /// # }
    /// let sealer = Sealer::new(Arc::new(Keys));
    /// let (t, id) = (TenantId::from_u128(1), CustomerId::from_u128(2));
    /// let mut c = Customer::new(t, id, Profile::default(), chrono::DateTime::UNIX_EPOCH);
    /// c.profile.email = Some(Pii::new(Email::parse("ann@example.com")?));
    /// let (long, _) = sealer.contact_columns(&c)?;
    /// let (short, phone) = sealer.short_contact_columns(&c)?;
    /// assert_eq!(short, long.as_deref().and_then(short_blind_index));
    /// assert_eq!(phone, None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`SealFailure::Keys`] when the key store fails.
    pub fn short_contact_columns(
        &self,
        c: &Customer,
    ) -> Result<(Option<ShortIndex>, Option<ShortIndex>), SealFailure> {
        let (email, phone) = self.contact_columns(c)?;
        Ok((
            email.as_deref().and_then(short_blind_index),
            phone.as_deref().and_then(short_blind_index),
        ))
    }

    /// What the `email`/`phone` column holds for a lookup of `key` in `tenant`, in the short
    /// binary form ([`short_blind_index`] of [`Self::lookup`]).
    ///
    /// # Errors
    /// [`SealFailure::Keys`] when the key store fails.
    pub fn short_lookup(
        &self,
        tenant: TenantId,
        key: &ContactKey,
    ) -> Result<ShortIndex, SealFailure> {
        let hex = self.lookup(tenant, key)?;
        short_blind_index(&hex).ok_or_else(|| {
            SealFailure::Corrupt(CorruptRow {
                table: "customers",
                reason: "a blind index is not hexadecimal".into(),
            })
        })
    }

    /// The `activity_json` column of `a` (of a customer of `tenant`): its personal payload
    /// sealed beside the stripped activity, or the activity as it is when it has none.
    ///
    /// # Errors
    /// [`SealFailure`] when the key store fails.
    pub fn activity_json(&self, tenant: TenantId, a: &Activity) -> Result<String, SealFailure> {
        let table = "activities";
        let stripped = strip_activity(a);
        if stripped == *a {
            return Ok(to_json(table, a)?);
        }
        let key = self.keys.create_data_key(tenant, a.customer)?;
        // The kind alone is sealed (the rest of the row is the stripped activity's): a few
        // dozen bytes to open per row instead of the whole activity.
        let sealed = crypto::seal(
            &key,
            self.keys.nonce(),
            &crypto::aad(tenant, a.customer, "kind"),
            to_json(table, &a.kind)?.as_bytes(),
        );
        Ok(sealed_row(
            KIND_PREFIX,
            &sealed,
            &to_json(table, &stripped)?,
        ))
    }

    /// An activity from its `activity_json` column: whole when the key store still has its
    /// customer's key, stripped when erasure deleted it. To decode many rows, an
    /// [`ActivityDecoder`] looks each customer's key up once.
    ///
    /// # Errors
    /// [`SealFailure::Corrupt`] when the row does not decode or does not open;
    /// [`SealFailure::Keys`] when the key store fails.
    pub fn decode_activity(&self, tenant: TenantId, json: &str) -> Result<Activity, SealFailure> {
        ActivityDecoder::new(Some(self), tenant).decode(json)
    }
}

/// Decodes `activity_json` columns one after another (through a [`Sealer`] when there is
/// one), remembering the last customer's key: a customer's activities — a timeline, an
/// export — cost one key-store lookup, and a sealed row is parsed once (its plaintext part
/// only for the owner's id).
///
/// ```
/// use rapport_core::*;
/// use rapport_sql::seal::ActivityDecoder;
/// let a = Activity::new(ActivityId::from_u128(1), CustomerId::from_u128(2), chrono::DateTime::UNIX_EPOCH,
///     Channel::Web, IdempotencyKey::new("v1")?, ActivityKind::Visit { item: Some("shoes".into()) })?;
/// let json = serde_json::to_string(&a)?;
/// let mut decoder = ActivityDecoder::new(None, TenantId::from_u128(1));
/// assert_eq!(decoder.decode(&json)?, a);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ActivityDecoder<'a> {
    sealer: Option<&'a Sealer>,
    tenant: TenantId,
    last: Option<(rapport_core::CustomerId, Option<crypto::DataKey>)>,
}

impl<'a> ActivityDecoder<'a> {
    /// A decoder for rows of `tenant`, opening sealed payloads through `sealer`.
    #[must_use]
    pub fn new(sealer: Option<&'a Sealer>, tenant: TenantId) -> Self {
        Self {
            sealer,
            tenant,
            last: None,
        }
    }

    /// The next row, decoded as [`Sealer::decode_activity`] does.
    ///
    /// # Errors
    /// As [`Sealer::decode_activity`].
    pub fn decode(&mut self, json: &str) -> Result<Activity, SealFailure> {
        let table = "activities";
        let Some(sealer) = self.sealer else {
            return Ok(from_json(table, json)?);
        };
        if let Some(sealed) = sealed_part(json, KIND_PREFIX) {
            // The plain part is the stripped activity: parsed once, its kind replaced by the
            // sealed one when the key is still there.
            let mut a: Activity = from_json(table, json)?;
            let Some(key) = key_of(&mut self.last, sealer, self.tenant, a.customer)? else {
                return Ok(a);
            };
            let plain = open_b64(
                &key,
                &crypto::aad(self.tenant, a.customer, "kind"),
                sealed,
                table,
            )?;
            a.kind = from_json(table, &plain)?;
            return Ok(a);
        }
        let Some(sealed) = sealed_part(json, ACTIVITY_PREFIX) else {
            return Ok(from_json(table, json)?);
        };
        // The first format: the whole activity sealed.
        let stripped: Activity = from_json(table, json)?;
        let owner = stripped.customer;
        let Some(key) = key_of(&mut self.last, sealer, self.tenant, owner)? else {
            return Ok(stripped);
        };
        let plain = open_b64(
            &key,
            &crypto::aad(self.tenant, owner, "activity"),
            sealed,
            table,
        )?;
        Ok(from_json(table, &plain)?)
    }
}

/// Rows from which [`decode_activities`] splits the work over two threads.
pub const PARALLEL_DECODE_ROWS: usize = 2048;

/// Decodes a customer's `activity_json` rows in order, as an [`ActivityDecoder`] does. With a
/// sealer, from [`PARALLEL_DECODE_ROWS`] rows on and when the machine has a second core, the
/// second half is decoded on a scoped thread of its own while this one decodes the first: a
/// long sealed timeline (an export) is bound by opening its rows (10,000 sealed rows: 25 ms
/// on one thread, 14 ms on two, `benches/privacy.rs` of rapport-sqlite). Plain rows stay on
/// one thread (parsing them on two was no faster: the allocator is the shared part).
///
/// ```
/// use rapport_core::*;
/// let a = Activity::new(ActivityId::from_u128(1), CustomerId::from_u128(2), chrono::DateTime::UNIX_EPOCH,
///     Channel::Web, IdempotencyKey::new("v1")?, ActivityKind::Visit { item: None })?;
/// let rows = vec![serde_json::to_string(&a)?; 3000];
/// // Plain rows (no sealer) decode on this thread; sealed ones may use a second.
/// let out = rapport_sql::seal::decode_activities(None, TenantId::from_u128(1), &rows)?;
/// assert_eq!(out.len(), 3000);
/// assert!(out.iter().all(|x| *x == a));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// As [`Sealer::decode_activity`], for the first row (in order) that fails.
pub fn decode_activities<S: AsRef<str> + Sync>(
    sealer: Option<&Sealer>,
    tenant: TenantId,
    rows: &[S],
) -> Result<Vec<Activity>, SealFailure> {
    let decode = |part: &[S]| -> Result<Vec<Activity>, SealFailure> {
        let mut decoder = ActivityDecoder::new(sealer, tenant);
        // Sized once: collecting `Result`s grows the vector by doubling (copying every
        // activity decoded so far each time).
        let mut out = Vec::with_capacity(part.len());
        for j in part {
            out.push(decoder.decode(j.as_ref())?);
        }
        Ok(out)
    };
    if sealer.is_none() || rows.len() < PARALLEL_DECODE_ROWS || !two_cores() {
        return decode(rows);
    }
    let (first, second) = rows.split_at(rows.len() / 2);
    std::thread::scope(|scope| {
        let helper = std::thread::Builder::new()
            .name("rapport-decode".into())
            .spawn_scoped(scope, || decode(second));
        let Ok(helper) = helper else {
            // No thread to be had: all on this one.
            return decode(rows);
        };
        let out = decode(first);
        let rest = helper.join().unwrap_or_else(|_| {
            Err(CorruptRow {
                table: "activities",
                reason: "the decoding thread panicked".into(),
            }
            .into())
        });
        let mut out = out?;
        out.extend(rest?);
        Ok(out)
    })
}

/// Whether the machine runs two threads at once (asked once).
fn two_cores() -> bool {
    static TWO: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *TWO.get_or_init(|| std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2))
}

/// The data key of `owner`, from `last` when it was the last one looked up.
fn key_of(
    last: &mut Option<(CustomerId, Option<crypto::DataKey>)>,
    sealer: &Sealer,
    tenant: TenantId,
    owner: CustomerId,
) -> Result<Option<crypto::DataKey>, SealFailure> {
    if let Some((c, k)) = last.as_ref() {
        if *c == owner {
            return Ok(k.clone());
        }
    }
    let k = sealer.keys.data_key(tenant, owner)?;
    *last = Some((owner, k.clone()));
    Ok(k)
}

impl Sealer {
    /// The `entry_json` column of a consent ledger entry of `tenant`: its source and evidence
    /// (references that may still name a person: a shop clerk, a scanned form) sealed under
    /// the key of the customer holding the entry, beside the stripped entry
    /// ([`ConsentEntry::stripped`]: purpose, channel, state, basis and times stay plain); an
    /// entry already stripped is stored as it is.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use rapport_core::*;
    /// # use rapport_core::privacy::{ConsentEntry, ConsentState, ERASED_SOURCE};
    /// # fn check(sealer: &rapport_sql::seal::Sealer) -> Result<(), Box<dyn std::error::Error>> {
    /// let t = TenantId::from_u128(1);
    /// let mut e = ConsentEntry::new(ConsentEntryId::from_u128(1), CustomerId::from_u128(2),
    ///     Purpose::Marketing, ContactChannel::Sms, ConsentState::Granted, "clerk Ann Li", chrono::DateTime::UNIX_EPOCH)?;
    /// e.evidence = Some("scan of Ann's form".into());
    /// let row = sealer.consent_entry_json(t, &e)?;
    /// assert!(!row.contains("Ann"));
    /// assert_eq!(sealer.decode_consent_entry(t, &row)?, e);
    /// rapport_core::ports::KeyStore::delete_data_key(&**sealer.keys(), t, e.customer)?;
    /// assert_eq!(sealer.decode_consent_entry(t, &row)?, e.stripped());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// [`SealFailure`] when the key store fails.
    pub fn consent_entry_json(
        &self,
        tenant: TenantId,
        e: &ConsentEntry,
    ) -> Result<String, SealFailure> {
        let table = "consents";
        let stripped = e.stripped();
        if stripped == *e {
            return Ok(to_json(table, e)?);
        }
        let key = self.keys.create_data_key(tenant, e.customer)?;
        let sealed = crypto::seal(
            &key,
            self.keys.nonce(),
            &crypto::aad(tenant, e.customer, "consent"),
            to_json(table, e)?.as_bytes(),
        );
        Ok(sealed_row(
            ENTRY_PREFIX,
            &sealed,
            &to_json(table, &stripped)?,
        ))
    }

    /// A consent entry from its `entry_json` column: whole while the key store has its
    /// customer's key, stripped once erasure deleted it. A ledger's rows decode through one
    /// [`ConsentDecoder`] (one key lookup per customer).
    ///
    /// # Errors
    /// [`SealFailure::Corrupt`] when the row does not decode or does not open;
    /// [`SealFailure::Keys`] when the key store fails.
    pub fn decode_consent_entry(
        &self,
        tenant: TenantId,
        json: &str,
    ) -> Result<ConsentEntry, SealFailure> {
        ConsentDecoder::new(Some(self), tenant).decode(json)
    }
}

/// Decodes `entry_json` columns one after another (through a [`Sealer`] when there is
/// one), remembering the last customer's key.
///
/// ```
/// use rapport_core::*;
/// use rapport_core::privacy::{ConsentEntry, ConsentState};
/// use rapport_sql::seal::ConsentDecoder;
/// let e = ConsentEntry::new(ConsentEntryId::from_u128(1), CustomerId::from_u128(2),
///     Purpose::Marketing, ContactChannel::Email, ConsentState::Granted, "form", chrono::DateTime::UNIX_EPOCH)?;
/// let json = serde_json::to_string(&e)?;
/// assert_eq!(ConsentDecoder::new(None, TenantId::from_u128(1)).decode(&json)?, e);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ConsentDecoder<'a> {
    sealer: Option<&'a Sealer>,
    tenant: TenantId,
    last: Option<(CustomerId, Option<crypto::DataKey>)>,
}

impl<'a> ConsentDecoder<'a> {
    /// A decoder for rows of `tenant`, opening sealed entries through `sealer`.
    #[must_use]
    pub fn new(sealer: Option<&'a Sealer>, tenant: TenantId) -> Self {
        Self {
            sealer,
            tenant,
            last: None,
        }
    }

    /// The next row, decoded as [`Sealer::decode_consent_entry`] does.
    ///
    /// # Errors
    /// As [`Sealer::decode_consent_entry`].
    pub fn decode(&mut self, json: &str) -> Result<ConsentEntry, SealFailure> {
        let table = "consents";
        let stripped: ConsentEntry = from_json(table, json)?;
        let (Some(sealer), Some(sealed)) = (self.sealer, sealed_part(json, ENTRY_PREFIX)) else {
            return Ok(stripped);
        };
        let owner = stripped.customer;
        let Some(key) = key_of(&mut self.last, sealer, self.tenant, owner)? else {
            return Ok(stripped);
        };
        let plain = open_b64(
            &key,
            &crypto::aad(self.tenant, owner, "consent"),
            sealed,
            table,
        )?;
        let whole: ConsentEntry = from_json(table, &plain)?;
        if whole.stripped() != stripped {
            return Err(CorruptRow {
                table,
                reason: "a sealed consent entry differs from its plain part".into(),
            }
            .into());
        }
        Ok(whole)
    }
}

/// The `entry_json` of a consent entry through `sealer` when there is one.
///
/// # Errors
/// [`SealFailure`] as [`Sealer::consent_entry_json`].
pub fn consent_entry_json(
    sealer: Option<&Sealer>,
    tenant: TenantId,
    e: &ConsentEntry,
) -> Result<String, SealFailure> {
    match sealer {
        Some(s) => s.consent_entry_json(tenant, e),
        None => Ok(to_json("consents", e)?),
    }
}

/// The `entry_json` of a stored entry moved to customer `to` (a merge, an unmerge): opened
/// under its holder's key and sealed again under `to`'s (made if `to` has none), so the
/// entry stays readable on `to` whatever happens to the former holder's key — and dies with
/// `to`'s. An entry whose holder's key is gone moves stripped.
///
/// ```
/// use rapport_core::*;
/// use rapport_core::privacy::{ConsentEntry, ConsentState};
/// let e = ConsentEntry::new(ConsentEntryId::from_u128(1), CustomerId::from_u128(2),
///     Purpose::Marketing, ContactChannel::Email, ConsentState::Granted, "form", chrono::DateTime::UNIX_EPOCH)?;
/// let t = TenantId::from_u128(1);
/// let moved = rapport_sql::seal::moved_consent_entry_json(None, t, &serde_json::to_string(&e)?, CustomerId::from_u128(3))?;
/// assert_eq!(rapport_sql::seal::ConsentDecoder::new(None, t).decode(&moved)?.customer, CustomerId::from_u128(3));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`SealFailure`] when the row does not decode or the key store fails.
pub fn moved_consent_entry_json(
    sealer: Option<&Sealer>,
    tenant: TenantId,
    json: &str,
    to: CustomerId,
) -> Result<String, SealFailure> {
    let mut e = ConsentDecoder::new(sealer, tenant).decode(json)?;
    e.customer = to;
    consent_entry_json(sealer, tenant, &e)
}

/// The customers a changeset's consent moves reassign entries to: an encrypting store makes
/// their data keys (and makes them durable) before the transaction re-seals entries under
/// them.
#[must_use]
pub fn consent_move_targets(cs: &rapport_core::Changeset) -> Vec<CustomerId> {
    let mut out: Vec<CustomerId> = cs
        .consent_moves
        .iter()
        .map(|m| m.to)
        .chain(cs.consent_entry_moves.iter().map(|m| m.to))
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// What a customer row seals: the profile and the consent snapshot.
#[derive(serde::Serialize)]
struct PrivateRef<'a> {
    profile: &'a Profile,
    consents: &'a Consents,
}

/// [`PrivateRef`], decoded.
#[derive(serde::Deserialize)]
struct Private {
    profile: Profile,
    consents: Consents,
}

/// `consents` with every source replaced by [`ERASED_SOURCE`] (states and times kept).
fn blank_sources(consents: &Consents) -> Consents {
    Consents::from_records(consents.iter().map(|r| Consent {
        source: ERASED_SOURCE.to_owned(),
        ..r.clone()
    }))
}

/// `{"<prefix>…": "<base64 of sealed>", <the fields of rest>}`.
fn sealed_row(prefix: &str, sealed: &[u8], rest: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + rest.len() + sealed.len() * 4 / 3 + 4);
    out.push_str(prefix);
    B64.encode_string(sealed, &mut out);
    out.push('"');
    // `rest` is a JSON object: `{}` adds nothing, `{…}` adds its fields after a comma.
    if rest.len() > 2 {
        out.push(',');
    }
    out.push_str(&rest[1..]);
    out
}

/// Opens the base64 text of a sealed value to its UTF-8 plaintext.
fn open_b64(
    key: &crypto::DataKey,
    aad: &[u8],
    sealed: &str,
    table: &'static str,
) -> Result<String, CorruptRow> {
    let bytes = B64.decode(sealed).map_err(|_| corrupt(table))?;
    let plain = crypto::open(key, aad, &bytes).map_err(|_| corrupt(table))?;
    String::from_utf8(plain).map_err(|_| corrupt(table))
}

impl Sealer {
    /// The `record_json` column of a merge record: the record whole, sealed under the loser's
    /// key and that again under the survivor's (erasing either makes it unreadable), beside
    /// the record with the three profiles it holds (survivor and loser before the merge, the
    /// merged preview) emptied.
    ///
    /// # Errors
    /// [`SealFailure`] when the key store fails.
    pub fn merge_record_json(
        &self,
        tenant: TenantId,
        r: &MergeRecord,
    ) -> Result<String, SealFailure> {
        let table = "merges";
        let full = to_json(table, r)?;
        let loser = self.keys.create_data_key(tenant, r.loser)?;
        let survivor = self.keys.create_data_key(tenant, r.survivor)?;
        let inner = crypto::seal(
            &loser,
            self.keys.nonce(),
            &crypto::aad(tenant, r.loser, "merge"),
            full.as_bytes(),
        );
        let sealed = crypto::seal(
            &survivor,
            self.keys.nonce(),
            &crypto::aad(tenant, r.survivor, "merge"),
            &inner,
        );
        let mut shell = r.clone();
        shell.survivor_before.profile = Profile::default();
        shell.loser_before.profile = Profile::default();
        shell.preview.profile = Profile::default();
        shell.survivor_before.consents = blank_sources(&r.survivor_before.consents);
        shell.loser_before.consents = blank_sources(&r.loser_before.consents);
        Ok(sealed_row(MERGE_PREFIX, &sealed, &to_json(table, &shell)?))
    }

    /// A merge record from its `record_json` column: whole while both customers have their
    /// keys, with the profiles emptied once either was erased.
    ///
    /// # Errors
    /// [`SealFailure::Corrupt`] when the row does not decode or does not open;
    /// [`SealFailure::Keys`] when the key store fails.
    pub fn decode_merge_record(
        &self,
        tenant: TenantId,
        json: &str,
    ) -> Result<MergeRecord, SealFailure> {
        let table = "merges";
        let stripped: MergeRecord = from_json(table, json)?;
        let Some(sealed) = sealed_part(json, MERGE_PREFIX) else {
            return Ok(stripped);
        };
        let (Some(survivor), Some(loser)) = (
            self.keys.data_key(tenant, stripped.survivor)?,
            self.keys.data_key(tenant, stripped.loser)?,
        ) else {
            return Ok(stripped);
        };
        let bytes = B64.decode(sealed).map_err(|_| corrupt(table))?;
        let inner = crypto::open(
            &survivor,
            &crypto::aad(tenant, stripped.survivor, "merge"),
            &bytes,
        )
        .map_err(|_| corrupt(table))?;
        let plain = crypto::open(
            &loser,
            &crypto::aad(tenant, stripped.loser, "merge"),
            &inner,
        )
        .map_err(|_| corrupt(table))?;
        let plain = std::str::from_utf8(&plain).map_err(|_| corrupt(table))?;
        Ok(from_json(table, plain)?)
    }
}

/// The `record_json` of a merge record through `sealer` when there is one.
///
/// # Errors
/// [`SealFailure`] as [`Sealer::merge_record_json`].
pub fn merge_record_json(
    sealer: Option<&Sealer>,
    tenant: TenantId,
    r: &MergeRecord,
) -> Result<String, SealFailure> {
    match sealer {
        Some(s) => s.merge_record_json(tenant, r),
        None => Ok(to_json("merges", r)?),
    }
}

/// The `record_json` of a redacted merge record ([`MergeRecord::redacted`], written when a
/// customer it names is erased): plain JSON, never sealed — it holds no personal data, and
/// the keys it would be sealed under are the erased customers', deleted by the same
/// changeset. [`decode_merge_record`] reads it with or without a sealer.
///
/// ```
/// # use rapport_core::quality::merge_op::MergeRecord;
/// # fn check(r: &MergeRecord) -> Result<(), Box<dyn std::error::Error>> {
/// let json = rapport_sql::seal::redacted_merge_record_json(r)?;
/// assert_eq!(rapport_sql::seal::decode_merge_record(None, r.survivor_before.tenant(), &json)?, r.redacted());
/// # Ok(()) }
/// ```
///
/// # Errors
/// [`SealFailure`] when the record does not serialise.
pub fn redacted_merge_record_json(r: &MergeRecord) -> Result<String, SealFailure> {
    Ok(to_json("merges", &r.redacted())?)
}

/// A merge record from its `record_json` through `sealer` when there is one.
///
/// # Errors
/// [`SealFailure`] as [`Sealer::decode_merge_record`].
pub fn decode_merge_record(
    sealer: Option<&Sealer>,
    tenant: TenantId,
    json: &str,
) -> Result<MergeRecord, SealFailure> {
    match sealer {
        Some(s) => s.decode_merge_record(tenant, json),
        None => Ok(from_json("merges", json)?),
    }
}

/// The base64 text of a row's sealed part, when it starts with `prefix`.
fn sealed_part<'a>(json: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = json.strip_prefix(prefix)?;
    rest.find('"').map(|end| &rest[..end])
}

fn corrupt(table: &'static str) -> CorruptRow {
    CorruptRow {
        table,
        reason: "a sealed value does not open under the customer's key".into(),
    }
}

/// The `customer_json` of `c` through `sealer` when there is one, plain JSON otherwise.
///
/// # Errors
/// [`SealFailure`] as [`Sealer::customer_json`].
pub fn customer_json(sealer: Option<&Sealer>, c: &Customer) -> Result<String, SealFailure> {
    match sealer {
        Some(s) => s.customer_json(c),
        None => Ok(to_json("customers", c)?),
    }
}

/// A blind index in its short binary form: the first 128 bits of the HMAC-SHA256 digest
/// (stored as a 16-byte `BLOB` by SQLite, where a shorter key keeps the unique contact indexes
/// about half the size of the 64-character hexadecimal form).
pub type ShortIndex = [u8; SHORT_INDEX_BYTES];

/// Bytes of a [`ShortIndex`].
pub const SHORT_INDEX_BYTES: usize = 16;

/// The short binary form of a hexadecimal blind index (as [`Sealer::lookup`] and
/// [`Sealer::contact_columns`] give it): its first 32 hexadecimal digits as 16 bytes — what
/// SQLite's `unhex(substr(x, 1, 32))` makes of a stored one, so existing rows convert
/// without any key. `None` when `hex` is shorter or not hexadecimal.
///
/// ```
/// use rapport_sql::seal::short_blind_index;
/// let hex = "00ff10".repeat(11);
/// let short = short_blind_index(&hex[..64]).unwrap();
/// assert_eq!(&short[..3], &[0x00, 0xff, 0x10]);
/// assert_eq!(short_blind_index("0a1b"), None);
/// assert_eq!(short_blind_index(&"zz".repeat(32)), None);
/// ```
#[must_use]
pub fn short_blind_index(hex: &str) -> Option<ShortIndex> {
    let digits = hex.as_bytes().get(..2 * SHORT_INDEX_BYTES)?;
    let nibble = |d: u8| match d {
        b'0'..=b'9' => Some(d - b'0'),
        b'a'..=b'f' => Some(d - b'a' + 10),
        b'A'..=b'F' => Some(d - b'A' + 10),
        _ => None,
    };
    let mut out = [0u8; SHORT_INDEX_BYTES];
    for (o, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        *o = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(out)
}

/// A customer from its `customer_json` through `sealer` when there is one.
///
/// # Errors
/// [`SealFailure`] as [`Sealer::decode_customer`].
pub fn decode_customer(sealer: Option<&Sealer>, json: &str) -> Result<Customer, SealFailure> {
    match sealer {
        Some(s) => s.decode_customer(json),
        None => Ok(from_json("customers", json)?),
    }
}

/// The `email`/`phone` columns of `c`: blind indexes through `sealer`, else the contacts.
///
/// # Errors
/// [`SealFailure`] as [`Sealer::contact_columns`].
pub fn contact_columns(
    sealer: Option<&Sealer>,
    c: &Customer,
) -> Result<(Option<String>, Option<String>), SealFailure> {
    match sealer {
        Some(s) => s.contact_columns(c),
        None => {
            let (e, p) = claimed_contacts(c);
            Ok((e.map(str::to_owned), p.map(str::to_owned)))
        }
    }
}

/// What the contact columns hold for `key`: its blind index through `sealer`, else the value.
///
/// # Errors
/// [`SealFailure`] as [`Sealer::lookup`].
pub fn lookup(
    sealer: Option<&Sealer>,
    tenant: TenantId,
    key: &ContactKey,
) -> Result<String, SealFailure> {
    match sealer {
        Some(s) => s.lookup(tenant, key),
        None => Ok(key.as_str().to_owned()),
    }
}

/// The `activity_json` of `a` through `sealer` when there is one.
///
/// # Errors
/// [`SealFailure`] as [`Sealer::activity_json`].
pub fn activity_json(
    sealer: Option<&Sealer>,
    tenant: TenantId,
    a: &Activity,
) -> Result<String, SealFailure> {
    match sealer {
        Some(s) => s.activity_json(tenant, a),
        None => Ok(to_json("activities", a)?),
    }
}

/// An activity from its `activity_json` through `sealer` when there is one.
///
/// # Errors
/// [`SealFailure`] as [`Sealer::decode_activity`].
pub fn decode_activity(
    sealer: Option<&Sealer>,
    tenant: TenantId,
    json: &str,
) -> Result<Activity, SealFailure> {
    ActivityDecoder::new(sealer, tenant).decode(json)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rapport_core::privacy::crypto::{DataKey, IndexKey};
    use rapport_core::*;
    use std::collections::HashMap;
    use std::sync::Mutex;

    #[derive(Debug, Default)]
    struct Keys(Mutex<HashMap<CustomerId, [u8; 32]>>);

    impl KeyStore for Keys {
        fn index_key(&self, _: TenantId) -> Result<IndexKey, StoreError> {
            Ok(IndexKey::from_bytes([1; 32]))
        }
        fn data_key(&self, _: TenantId, c: CustomerId) -> Result<Option<DataKey>, StoreError> {
            Ok(self
                .0
                .lock()
                .map_err(|_| StoreError::unavailable("lock"))?
                .get(&c)
                .map(|k| DataKey::from_bytes(*k)))
        }
        fn create_data_key(&self, _: TenantId, c: CustomerId) -> Result<DataKey, StoreError> {
            let mut keys = self.0.lock().map_err(|_| StoreError::unavailable("lock"))?;
            Ok(DataKey::from_bytes(*keys.entry(c).or_insert([2; 32])))
        }
        fn delete_data_key(&self, _: TenantId, c: CustomerId) -> Result<bool, StoreError> {
            Ok(self
                .0
                .lock()
                .map_err(|_| StoreError::unavailable("lock"))?
                .remove(&c)
                .is_some())
        }
        fn nonce(&self) -> [u8; 24] {
            [3; 24]
        }
    }

    const T: TenantId = TenantId::from_u128(1);

    fn visit() -> Activity {
        Activity::new(
            ActivityId::from_u128(1),
            CustomerId::from_u128(2),
            chrono::DateTime::UNIX_EPOCH,
            Channel::Web,
            IdempotencyKey::new("v1").expect("key"),
            ActivityKind::Visit {
                item: Some("wedding dress for Ann".into()),
            },
        )
        .expect("activity")
    }

    /// A row of the first format: the whole activity sealed beside the stripped one.
    fn first_format(sealer: &Sealer, a: &Activity) -> String {
        let key = sealer.keys.create_data_key(T, a.customer).expect("key");
        let sealed = crypto::seal(
            &key,
            sealer.keys.nonce(),
            &crypto::aad(T, a.customer, "activity"),
            to_json("a", a).expect("json").as_bytes(),
        );
        sealed_row(
            ACTIVITY_PREFIX,
            &sealed,
            &to_json("a", &strip_activity(a)).expect("json"),
        )
    }

    #[test]
    fn activity_rows_of_both_formats_open_while_the_key_exists() {
        let sealer = Sealer::new(Arc::new(Keys::default()));
        let a = visit();
        let new = sealer.activity_json(T, &a).expect("seal");
        assert!(
            new.starts_with(KIND_PREFIX) && !new.contains("Ann"),
            "{new}"
        );
        let old = first_format(&sealer, &a);
        assert!(!old.contains("Ann"));
        let mut decoder = ActivityDecoder::new(Some(&sealer), T);
        assert_eq!(decoder.decode(&new).expect("new"), a);
        assert_eq!(decoder.decode(&old).expect("old"), a);
        sealer.keys.delete_data_key(T, a.customer).expect("delete");
        let mut decoder = ActivityDecoder::new(Some(&sealer), T);
        assert_eq!(decoder.decode(&new).expect("new"), strip_activity(&a));
        assert_eq!(decoder.decode(&old).expect("old"), strip_activity(&a));
    }

    #[test]
    fn decoding_a_long_sealed_timeline_on_two_threads_keeps_the_order() {
        let sealer = Sealer::new(Arc::new(Keys::default()));
        let activities: Vec<Activity> = (0..(PARALLEL_DECODE_ROWS as u128 + 7))
            .map(|i| Activity {
                id: ActivityId::from_u128(i + 1),
                idempotency_key: IdempotencyKey::new(format!("v{i}")).expect("key"),
                kind: ActivityKind::Visit {
                    item: (i % 3 != 0).then(|| format!("item {i}")),
                },
                ..visit()
            })
            .collect();
        let rows: Vec<String> = activities
            .iter()
            .map(|a| sealer.activity_json(T, a).expect("seal"))
            .collect();
        assert_eq!(
            decode_activities(Some(&sealer), T, &rows).expect("decode"),
            activities
        );
        let mut broken = rows.clone();
        broken[PARALLEL_DECODE_ROWS].push('x');
        assert!(decode_activities(Some(&sealer), T, &broken).is_err());
    }

    #[test]
    fn a_sealed_kind_moved_to_another_customer_does_not_open() {
        let sealer = Sealer::new(Arc::new(Keys::default()));
        let a = visit();
        let row = sealer.activity_json(T, &a).expect("seal");
        let other = CustomerId::from_u128(3);
        sealer.keys.create_data_key(T, other).expect("key");
        let moved = row.replace(&a.customer.to_string(), &other.to_string());
        assert!(
            ActivityDecoder::new(Some(&sealer), T)
                .decode(&moved)
                .is_err()
        );
    }

    #[test]
    fn customer_rows_of_the_first_format_still_open() {
        let sealer = Sealer::new(Arc::new(Keys::default()));
        let mut c = Customer::new(
            T,
            CustomerId::from_u128(2),
            Profile::default(),
            chrono::DateTime::UNIX_EPOCH,
        );
        c.profile.display_name = Some(Pii::new("Ann Li".to_owned()));
        c.consents.set(
            Purpose::Marketing,
            ContactChannel::Email,
            true,
            c.created_at(),
            "clerk Ann",
        );
        let key = sealer.keys.create_data_key(T, c.id()).expect("key");
        let sealed = crypto::seal(
            &key,
            [4; 24],
            &crypto::aad(T, c.id(), "profile"),
            to_json("c", &c.profile).expect("json").as_bytes(),
        );
        let mut shell = c.clone();
        shell.profile = Profile::default();
        let old = sealed_row(
            PROFILE_PREFIX,
            &sealed,
            &to_json("c", &shell).expect("json"),
        );
        assert_eq!(sealer.decode_customer(&old).expect("old"), c);
        let new = sealer.customer_json(&c).expect("new");
        assert!(!new.contains("Ann"), "{new}");
        assert_eq!(sealer.decode_customer(&new).expect("new"), c);
        sealer.keys.delete_data_key(T, c.id()).expect("delete");
        let gone = sealer.decode_customer(&new).expect("gone");
        assert_eq!(gone.profile, Profile::default());
        assert!(
            gone.consents
                .iter()
                .all(|r| r.source == ERASED_SOURCE && r.granted)
        );
    }
}
