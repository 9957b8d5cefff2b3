//! A third-party store for rapport: one JSON file per tenant in a directory. It is deliberately simple — a mutex around read-modify-write of whole files,
//! written atomically by rename — and it passes the conformance kit
//! (`tests/conformance.rs`). Copy it, replace the file IO with your database, keep the kit.
#![forbid(unsafe_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rapport_core::ports::{MergeStore, check_changeset_writes, check_contacts};
use rapport_core::quality::merge_op::MergeRecordWrite;
use rapport_core::*;
use serde::{Deserialize, Serialize};

#[derive(Default, Serialize, Deserialize)]
struct Book {
    customers: BTreeMap<CustomerId, Record>,
    keys: BTreeSet<IdempotencyKey>,
    activities: Vec<Activity>,
    /// The tenant's outbox lives in the same file, so a change and its messages are written
    /// by the same atomic rename.
    outbox: Vec<Pending>,
    /// Merge records (merges and unmerges are changesets like any other: same file, same
    /// rename).
    #[serde(default)]
    merges: BTreeMap<MergeId, MergeRecord>,
    /// Pairs marked "not a duplicate".
    #[serde(default)]
    distinct: Vec<DistinctPair>,
}

impl Book {
    /// Refuses a changeset whose moves or merge records do not fit the book (before any
    /// write): a moved activity must be stored under the customer it leaves, a new merge
    /// record must be new, an undone one must exist, name its loser and not be undone yet.
    fn check_merges(&self, cs: &Changeset) -> Result<(), StoreError> {
        let invalid = |reason| StoreError::Invalid(DomainError::InvalidChangeset { reason });
        for m in &cs.moves {
            let a = &m.activity;
            let stored = self.activities.iter().any(|s| {
                s.id == a.id && s.customer == m.from && s.idempotency_key == a.idempotency_key
            });
            if !stored {
                return Err(invalid(format!(
                    "activity {} is not stored under customer {}",
                    a.id, m.from
                )));
            }
        }
        for w in &cs.merges {
            match w {
                MergeRecordWrite::Insert { record } if self.merges.contains_key(&record.id) => {
                    return Err(invalid(format!("merge {} is recorded already", record.id)));
                }
                MergeRecordWrite::Undo { id, loser, .. } => {
                    let open = self
                        .merges
                        .get(id)
                        .is_some_and(|r| r.loser == *loser && r.undone_at.is_none());
                    if !open {
                        return Err(StoreError::Invalid(DomainError::CannotUnmerge {
                            loser: *loser,
                            reason: "no such merge, or it was undone already",
                        }));
                    }
                }
                MergeRecordWrite::Redact { record } => {
                    let same = self.merges.get(&record.id).is_some_and(|r| {
                        (r.survivor, r.loser, r.undone_at)
                            == (record.survivor, record.loser, record.undone_at)
                    });
                    if !same {
                        return Err(invalid(format!(
                            "merge {} is not stored as the redaction names it",
                            record.id
                        )));
                    }
                }
                MergeRecordWrite::Insert { .. } => {}
            }
        }
        Ok(())
    }

    /// Writes the checked moves, pairs and merge records.
    fn apply_merges(&mut self, cs: &Changeset) {
        for m in &cs.moves {
            for a in self
                .activities
                .iter_mut()
                .filter(|a| a.id == m.activity.id && a.customer == m.from)
            {
                *a = m.activity.clone();
            }
        }
        for d in &cs.distinct {
            self.distinct
                .retain(|p| (p.first, p.second) != (d.first, d.second));
            self.distinct.push(*d);
        }
        self.distinct.sort_by_key(|p| (p.first, p.second));
        for w in &cs.merges {
            match w {
                MergeRecordWrite::Insert { record } => {
                    self.merges.insert(record.id, MergeRecord::clone(record));
                }
                MergeRecordWrite::Undo { id, at, .. } => {
                    if let Some(r) = self.merges.get_mut(id) {
                        r.undone_at = Some(*at);
                    }
                }
                MergeRecordWrite::Redact { record } => {
                    self.merges.insert(record.id, MergeRecord::clone(record));
                }
            }
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Pending {
    /// Commit order across tenants: messages are claimed oldest commit first.
    seq: u64,
    message: OutboxMessage,
    available_at: DateTime<Utc>,
}

/// A store of JSON files in a directory.
#[derive(Debug)]
pub struct JsonFileStore {
    dir: PathBuf,
    lock: Mutex<()>,
    seq: std::sync::atomic::AtomicU64,
}

fn io(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Backend {
        backend: "json-file",
        source: Box::new(e),
    }
}

impl JsonFileStore {
    /// A store in `dir` (created if missing).
    ///
    /// # Errors
    /// When the directory cannot be created.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir.as_ref()).map_err(io)?;
        let store = Self {
            dir: dir.as_ref().to_path_buf(),
            lock: Mutex::new(()),
            seq: std::sync::atomic::AtomicU64::new(0),
        };
        // Continue the commit order after the messages already stored.
        let mut last = 0;
        store.each_book(|b| {
            last = b.outbox.iter().map(|p| p.seq).max().unwrap_or(0).max(last);
            false
        })?;
        store.seq.store(last, std::sync::atomic::Ordering::SeqCst);
        Ok(store)
    }

    fn read<T: Default + for<'de> Deserialize<'de>>(&self, name: &str) -> Result<T, StoreError> {
        match std::fs::read(self.dir.join(name)) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
                reason: format!("{name}: {e}"),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
            Err(e) => Err(io(e)),
        }
    }

    /// Writes a file atomically: a temporary file renamed over the old one.
    fn write<T: Serialize>(&self, name: &str, value: &T) -> Result<(), StoreError> {
        let tmp = self.dir.join(format!("{name}.tmp"));
        std::fs::write(&tmp, serde_json::to_vec(value).map_err(io)?).map_err(io)?;
        std::fs::rename(&tmp, self.dir.join(name)).map_err(io)
    }

    fn book_name(t: TenantId) -> String {
        format!("tenant-{t}.json")
    }

    /// Runs `f` on every tenant's book (in file-name order) and writes back the ones it changed.
    fn each_book(&self, mut f: impl FnMut(&mut Book) -> bool) -> Result<(), StoreError> {
        self.with(|| {
            let mut names: Vec<String> = std::fs::read_dir(&self.dir)
                .map_err(io)?
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.starts_with("tenant-") && n.ends_with(".json"))
                .collect();
            names.sort();
            for name in names {
                let mut book: Book = self.read(&name)?;
                if f(&mut book) {
                    self.write(&name, &book)?;
                }
            }
            Ok(())
        })
    }

    fn with<T>(&self, f: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
        let _guard = self
            .lock
            .lock()
            .map_err(|_| StoreError::unavailable("lock poisoned"))?;
        f()
    }
}

impl Store for JsonFileStore {
    async fn load(&self, t: TenantId, id: CustomerId) -> Result<Option<Record>, StoreError> {
        self.with(|| {
            Ok(self
                .read::<Book>(&Self::book_name(t))?
                .customers
                .remove(&id))
        })
    }

    async fn find_by_contact(
        &self,
        t: TenantId,
        key: &ContactKey,
    ) -> Result<Vec<CustomerId>, StoreError> {
        self.with(|| {
            Ok(self
                .read::<Book>(&Self::book_name(t))?
                .customers
                .values()
                .filter(|r| r.customer.profile.contact_keys().contains(key))
                .map(|r| r.customer.id())
                .collect())
        })
    }

    async fn scan(&self, t: TenantId, page: Page) -> Result<Vec<Record>, StoreError> {
        self.with(|| {
            Ok(self
                .read::<Book>(&Self::book_name(t))?
                .customers
                .into_values()
                .filter(|r| page.after.is_none_or(|a| r.customer.id() > a))
                .take(page.limit as usize)
                .collect())
        })
    }

    async fn activities(
        &self,
        t: TenantId,
        id: CustomerId,
        range: TimeRange,
    ) -> Result<Vec<Activity>, StoreError> {
        self.with(|| {
            let mut v: Vec<Activity> = self
                .read::<Book>(&Self::book_name(t))?
                .activities
                .into_iter()
                .filter(|a| a.customer == id && range.contains(a.at))
                .collect();
            v.sort_by(|a, b| (a.at, &a.idempotency_key).cmp(&(b.at, &b.idempotency_key)));
            Ok(v)
        })
    }

    async fn apply(&self, t: TenantId, cs: &Changeset) -> Result<Applied, StoreError> {
        cs.validate(t)?;
        self.with(|| {
            let name = Self::book_name(t);
            let mut book: Book = self.read(&name)?;
            let duplicates: Vec<IdempotencyKey> = cs
                .activities
                .iter()
                .filter(|a| book.keys.contains(&a.idempotency_key))
                .map(|a| a.idempotency_key.clone())
                .collect();
            if !duplicates.is_empty() {
                return Ok(Applied {
                    duplicates,
                    ..Applied::default()
                });
            }
            // Versions, tombstones (final, except a merged one revived by the undo of its
            // merge), and the merge part, all before anything is written.
            check_changeset_writes(cs, |id| book.customers.get(&id).map(|r| &r.customer))?;
            book.check_merges(cs)?;
            // One live customer per email and phone: this store holds the rule itself (a
            // linear lookup is fine for a file per tenant; an index would do for more).
            check_contacts(&cs.customers, |key| {
                book.customers
                    .values()
                    .find(|r| {
                        r.customer.is_live() && r.customer.profile.contact_keys().contains(key)
                    })
                    .map(|r| r.customer.id())
            })?;
            for w in &cs.customers {
                book.customers.insert(
                    w.customer().id(),
                    Record {
                        customer: w.customer().clone(),
                        stats: w.stats().clone(),
                    },
                );
            }
            for a in &cs.activities {
                book.keys.insert(a.idempotency_key.clone());
                book.activities.push(a.clone());
            }
            book.apply_merges(cs);
            book.outbox.extend(cs.outbox.iter().map(|m| Pending {
                seq: self.seq.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1,
                message: m.clone(),
                available_at: DateTime::<Utc>::MIN_UTC,
            }));
            // One file, one rename: the change and its outbox messages land together or not
            // at all.
            self.write(&name, &book)?;
            Ok(Applied::counting(cs))
        })
    }
}
impl Outbox for JsonFileStore {
    async fn claim_outbox(
        &self,
        limit: u32,
        lease: Duration,
        now: DateTime<Utc>,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        // A lease past the end of the calendar lasts to its end (the kit checks it).
        let until = chrono::Duration::from_std(lease)
            .ok()
            .and_then(|d| now.checked_add_signed(d))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        // First pass: the `limit` oldest deliverable messages over all tenants.
        let mut candidates: Vec<(u64, MessageId)> = Vec::new();
        self.each_book(|book| {
            candidates.extend(
                book.outbox
                    .iter()
                    .filter(|p| p.available_at <= now)
                    .map(|p| (p.seq, p.message.id)),
            );
            false
        })?;
        candidates.sort_unstable();
        candidates.truncate(limit as usize);
        let chosen: BTreeSet<MessageId> = candidates.iter().map(|(_, id)| *id).collect();
        // Second pass: lease them.
        let mut out = Vec::new();
        self.each_book(|book| {
            let mut changed = false;
            for p in book
                .outbox
                .iter_mut()
                .filter(|p| chosen.contains(&p.message.id))
            {
                p.available_at = until;
                p.message.attempts += 1;
                out.push((p.seq, p.message.clone()));
                changed = true;
            }
            changed
        })?;
        out.sort_by_key(|(seq, _)| *seq);
        Ok(out.into_iter().map(|(_, m)| m).collect())
    }
    async fn ack_outbox(&self, ids: &[MessageId]) -> Result<(), StoreError> {
        self.each_book(|book| {
            let before = book.outbox.len();
            book.outbox.retain(|p| !ids.contains(&p.message.id));
            book.outbox.len() != before
        })
    }
    async fn retry_outbox(&self, id: MessageId, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.each_book(|book| {
            let mut changed = false;
            for p in book.outbox.iter_mut().filter(|p| p.message.id == id) {
                p.available_at = at;
                changed = true;
            }
            changed
        })
    }
}

/// Bulk imports: the provided body (`import_by_apply`, one changeset per batch through
/// [`Store::apply`] above). Declaring it is what lets the store be chosen at run time as a
/// `Box<dyn DynStore>` / `Box<dyn DynMergeStore>`.
impl rapport_core::ports::ActivityImport for JsonFileStore {}

/// Merges: the changeset's moves and merge records are applied by [`Store::apply`] above;
/// these are the reads. This store keeps no consent ledger, cases or accounts, so a
/// customer's belongings are always empty.
impl MergeStore for JsonFileStore {
    async fn merge_record(
        &self,
        t: TenantId,
        id: MergeId,
    ) -> Result<Option<MergeRecord>, StoreError> {
        self.with(|| Ok(self.read::<Book>(&Self::book_name(t))?.merges.remove(&id)))
    }

    async fn merges_of(
        &self,
        t: TenantId,
        customer: CustomerId,
    ) -> Result<Vec<MergeRecord>, StoreError> {
        self.with(|| {
            let mut out: Vec<MergeRecord> = self
                .read::<Book>(&Self::book_name(t))?
                .merges
                .into_values()
                .filter(|r| r.survivor == customer || r.loser == customer)
                .collect();
            out.sort_by_key(|r| (r.at, r.id));
            Ok(out)
        })
    }

    async fn distinct_pairs(&self, t: TenantId) -> Result<Vec<DistinctPair>, StoreError> {
        self.with(|| Ok(self.read::<Book>(&Self::book_name(t))?.distinct))
    }

    async fn belongings(&self, _: TenantId, _: CustomerId) -> Result<Belongings, StoreError> {
        Ok(Belongings::default())
    }
}
