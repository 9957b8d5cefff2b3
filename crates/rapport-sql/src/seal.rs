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
//! - customer: `{"sealed_profile":"…", <the customer with an empty profile>}`;
//! - activity with a personal payload: `{"sealed":"…", <the stripped activity>}`; without
//!   one, the activity as it is.
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
use rapport_core::privacy::strip_activity;
use rapport_core::quality::merge_op::MergeRecord;
use rapport_core::{Activity, ContactKey, ContactKind, Customer, Profile, StoreError, TenantId};

use crate::codec::{CorruptRow, claimed_contacts, from_json, to_json};

const PROFILE_PREFIX: &str = "{\"sealed_profile\":\"";
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

    /// The `customer_json` column of `c`: its profile sealed (the key made if the customer has
    /// none yet), everything else plain.
    ///
    /// # Errors
    /// [`SealFailure`] when the key store fails.
    pub fn customer_json(&self, c: &Customer) -> Result<String, SealFailure> {
        let table = "customers";
        if c.profile == rapport_core::Profile::default() {
            return Ok(to_json(table, c)?);
        }
        let key = self.keys.create_data_key(c.tenant(), c.id())?;
        let profile = to_json(table, &c.profile)?;
        let sealed = crypto::seal(
            &key,
            self.keys.nonce(),
            &crypto::aad(c.tenant(), c.id(), "profile"),
            profile.as_bytes(),
        );
        let mut shell = c.clone();
        shell.profile = rapport_core::Profile::default();
        let rest = to_json(table, &shell)?;
        let mut out = String::with_capacity(rest.len() + sealed.len() * 4 / 3 + 24);
        out.push_str(PROFILE_PREFIX);
        B64.encode_string(&sealed, &mut out);
        out.push_str("\",");
        out.push_str(&rest[1..]);
        Ok(out)
    }

    /// A customer from its `customer_json` column: the profile opened when the key store
    /// still has the customer's key, empty when erasure deleted it.
    ///
    /// # Errors
    /// [`SealFailure::Corrupt`] when the row does not decode or the sealed profile does not
    /// open under the customer's key; [`SealFailure::Keys`] when the key store fails.
    pub fn decode_customer(&self, json: &str) -> Result<Customer, SealFailure> {
        let table = "customers";
        let mut c: Customer = from_json(table, json)?;
        let Some(sealed) = sealed_part(json, PROFILE_PREFIX) else {
            return Ok(c);
        };
        let Some(key) = self.keys.data_key(c.tenant(), c.id())? else {
            return Ok(c);
        };
        let bytes = B64.decode(sealed).map_err(|_| corrupt(table))?;
        let plain = crypto::open(&key, &crypto::aad(c.tenant(), c.id(), "profile"), &bytes)
            .map_err(|_| corrupt(table))?;
        let plain = std::str::from_utf8(&plain).map_err(|_| corrupt(table))?;
        c.profile = from_json(table, plain)?;
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
        let full = to_json(table, a)?;
        let sealed = crypto::seal(
            &key,
            self.keys.nonce(),
            &crypto::aad(tenant, a.customer, "activity"),
            full.as_bytes(),
        );
        let rest = to_json(table, &stripped)?;
        let mut out = String::with_capacity(rest.len() + sealed.len() * 4 / 3 + 16);
        out.push_str(ACTIVITY_PREFIX);
        B64.encode_string(&sealed, &mut out);
        out.push_str("\",");
        out.push_str(&rest[1..]);
        Ok(out)
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
        let (Some(sealer), Some(sealed)) = (self.sealer, sealed_part(json, ACTIVITY_PREFIX)) else {
            return Ok(from_json(table, json)?);
        };
        /// The one field needed before opening.
        #[derive(serde::Deserialize)]
        struct Owner {
            customer: rapport_core::CustomerId,
        }
        let owner = from_json::<Owner>(table, json)?.customer;
        let key = match &self.last {
            Some((c, k)) if *c == owner => k.clone(),
            _ => {
                let k = sealer.keys.data_key(self.tenant, owner)?;
                self.last = Some((owner, k.clone()));
                k
            }
        };
        let Some(key) = key else {
            return Ok(from_json(table, json)?);
        };
        let bytes = B64.decode(sealed).map_err(|_| corrupt(table))?;
        let plain = crypto::open(&key, &crypto::aad(self.tenant, owner, "activity"), &bytes)
            .map_err(|_| corrupt(table))?;
        let plain = std::str::from_utf8(&plain).map_err(|_| corrupt(table))?;
        Ok(from_json(table, plain)?)
    }
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
        let rest = to_json(table, &shell)?;
        let mut out = String::with_capacity(rest.len() + sealed.len() * 4 / 3 + 24);
        out.push_str(MERGE_PREFIX);
        B64.encode_string(&sealed, &mut out);
        out.push_str("\",");
        out.push_str(&rest[1..]);
        Ok(out)
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
