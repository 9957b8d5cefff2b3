//! [`FileKeyStore`]: keys in files under one directory.
//!
//! Layout: `DIR/<tenant uuid>/index.key` (the tenant's index key, hex) and 16 shard files
//! `DIR/<tenant uuid>/data-<x>.keys` (one line `<customer uuid> <key hex>` per customer, the
//! shard chosen by the id's last hex digit). A new key is appended to its shard (buffered;
//! written and made durable by [`KeyStore::sync`], which stores call before committing the rows it sealed); deleting
//! keys rewrites their shards to temporary files, syncs them (in parallel, so the file system
//! can fold the flushes into few journal commits) and renames them over the old ones, then
//! syncs the directory once, so a deleted key is gone from the live files once the call
//! returns. Everything of a tenant is loaded on its first use and kept in memory, grouped by
//! shard (a rewrite touches only its shard's keys).
//!
//! What a file system keeps of a replaced file's blocks, and what backups of `DIR` hold, is
//! outside rapport: keep the key directory off the database's backups (that separation is
//! what makes erasure reach the database's copies) and on an encrypted or TRIM-ing volume.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use rapport_core::ports::KeyStore;
use rapport_core::privacy::crypto::{DataKey, IndexKey, KEY_LEN, NONCE_LEN};
use rapport_core::{CustomerId, StoreError, TenantId};

const SHARDS: u8 = 16;

/// Keys in files under a directory: `DIR/<tenant uuid>/index.key` (the tenant's index key)
/// and 16 shard files `DIR/<tenant uuid>/data-<x>.keys` (one line per customer key); a
/// deleted key's shard is rewritten and renamed over the old one before the call returns.
///
/// ```
/// use rapport_core::ports::KeyStore;
/// use rapport_core::{CustomerId, TenantId};
/// let dir = tempfile::tempdir()?;
/// let keys = rapport_keys::FileKeyStore::open(dir.path())?;
/// let t = TenantId::from_u128(1);
/// let index = keys.index_key(t)?;
/// assert_eq!(rapport_keys::FileKeyStore::open(dir.path())?.index_key(t)?, index);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct FileKeyStore {
    dir: PathBuf,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    loaded: HashSet<TenantId>,
    /// The keys by (tenant, shard).
    data: HashMap<(TenantId, u8), HashMap<CustomerId, DataKey>>,
    index: HashMap<TenantId, IndexKey>,
    /// Shard files appended to since the last sync.
    dirty: HashMap<PathBuf, BufWriter<File>>,
}

impl std::fmt::Debug for FileKeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileKeyStore")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

fn io(what: &str, path: &Path, e: &std::io::Error) -> StoreError {
    StoreError::Unavailable {
        reason: format!("key store: {what} {}: {e}", path.display()),
    }
}

fn corrupt(path: &Path) -> StoreError {
    StoreError::Corrupt {
        reason: format!("key store file {} does not parse", path.display()),
    }
}

fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 15)]));
    }
    s
}

fn unhex(s: &str) -> Option<[u8; KEY_LEN]> {
    let s = s.as_bytes();
    if s.len() != KEY_LEN * 2 {
        return None;
    }
    let mut out = [0; KEY_LEN];
    for (i, pair) in s.chunks(2).enumerate() {
        let d = |c: u8| (c as char).to_digit(16);
        out[i] = u8::try_from(d(pair[0])? * 16 + d(pair[1])?).ok()?;
    }
    Some(out)
}

impl FileKeyStore {
    /// Opens (creating) the key directory `dir`.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the directory cannot be created.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, StoreError> {
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(&dir).map_err(|e| io("create", &dir, &e))?;
        Ok(Self {
            dir,
            state: Mutex::new(State::default()),
        })
    }

    /// The key directory.
    ///
    /// ```
    /// let dir = tempfile::tempdir()?;
    /// assert_eq!(rapport_keys::FileKeyStore::open(dir.path())?.dir(), dir.path());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn tenant_dir(&self, t: TenantId) -> PathBuf {
        self.dir.join(t.as_uuid().hyphenated().to_string())
    }

    fn shard_path(&self, t: TenantId, c: CustomerId) -> PathBuf {
        self.shard_file(t, shard_of(c))
    }

    fn shard_file(&self, t: TenantId, shard: u8) -> PathBuf {
        self.tenant_dir(t).join(format!("data-{shard:x}.keys"))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Loads the tenant's keys on its first use.
    fn load(&self, st: &mut State, t: TenantId) -> Result<(), StoreError> {
        if st.loaded.contains(&t) {
            return Ok(());
        }
        let dir = self.tenant_dir(t);
        fs::create_dir_all(&dir).map_err(|e| io("create", &dir, &e))?;
        let index = dir.join("index.key");
        match fs::read_to_string(&index) {
            Ok(text) => {
                let k = unhex(text.trim()).ok_or_else(|| corrupt(&index))?;
                st.index.insert(t, IndexKey::from_bytes(k));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io("read", &index, &e)),
        }
        for shard in 0..SHARDS {
            let path = dir.join(format!("data-{shard:x}.keys"));
            let text = match fs::read_to_string(&path) {
                Ok(text) => text,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io("read", &path, &e)),
            };
            for line in text.lines().filter(|l| !l.is_empty()) {
                let (id, key) = line.split_once(' ').ok_or_else(|| corrupt(&path))?;
                let id = uuid::Uuid::parse_str(id).map_err(|_| corrupt(&path))?;
                let key = unhex(key).ok_or_else(|| corrupt(&path))?;
                let c = CustomerId::from_uuid(id);
                st.data
                    .entry((t, shard_of(c)))
                    .or_default()
                    .insert(c, DataKey::from_bytes(key));
            }
        }
        st.loaded.insert(t);
        Ok(())
    }

    /// Rewrites the given shards of `t` with the keys `st` holds for them: each to a temporary
    /// file, synced (all at once, on scoped threads), renamed over the old one; the directory
    /// is synced once at the end.
    fn rewrite(&self, st: &mut State, t: TenantId, shards: &[u8]) -> Result<(), StoreError> {
        let mut files = Vec::with_capacity(shards.len());
        for &shard in shards {
            let path = self.shard_file(t, shard);
            let mut text = String::new();
            for (c, k) in st.data.get(&(t, shard)).into_iter().flatten() {
                text.push_str(&c.as_uuid().hyphenated().to_string());
                text.push(' ');
                text.push_str(&hex(k.expose()));
                text.push('\n');
            }
            // Its pending appends are in `text`: the old file is about to be replaced.
            st.dirty.remove(&path);
            files.push((path, text));
        }
        let write = |(path, text): &(PathBuf, String)| -> Result<(), StoreError> {
            let tmp = path.with_extension("tmp");
            let mut f = File::create(&tmp).map_err(|e| io("create", &tmp, &e))?;
            f.write_all(text.as_bytes())
                .and_then(|()| f.sync_data())
                .map_err(|e| io("write", &tmp, &e))
        };
        parallel(&files, write)?;
        for (path, _) in &files {
            fs::rename(path.with_extension("tmp"), path).map_err(|e| io("rename", path, &e))?;
        }
        sync_dir(&self.tenant_dir(t));
        Ok(())
    }
}

/// The shard file a customer's key lives in.
fn shard_of(c: CustomerId) -> u8 {
    c.as_uuid().as_bytes()[15] % SHARDS
}

/// Runs `f` over `items`, on scoped threads when there are several: concurrent fsyncs let the
/// file system commit them together instead of one journal commit after another.
fn parallel<T: Sync>(
    items: &[T],
    f: impl Fn(&T) -> Result<(), StoreError> + Sync,
) -> Result<(), StoreError> {
    match items {
        [] => Ok(()),
        [one] => f(one),
        _ => std::thread::scope(|s| {
            let running: Vec<_> = items.iter().map(|i| s.spawn(|| f(i))).collect();
            running
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err(StoreError::Unavailable {
                            reason: "key store: a writer thread panicked".into(),
                        })
                    })
                })
                .collect::<Result<Vec<()>, _>>()
                .map(drop)
        }),
    }
}

/// Makes a rename in `dir` durable (best effort: not every platform can open a directory).
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

impl KeyStore for FileKeyStore {
    fn index_key(&self, tenant: TenantId) -> Result<IndexKey, StoreError> {
        let mut st = self.lock();
        self.load(&mut st, tenant)?;
        if let Some(k) = st.index.get(&tenant) {
            return Ok(k.clone());
        }
        let k = IndexKey::from_bytes(crate::random_key()?);
        let path = self.tenant_dir(tenant).join("index.key");
        let tmp = path.with_extension("tmp");
        let mut f = File::create(&tmp).map_err(|e| io("create", &tmp, &e))?;
        f.write_all(hex(k.expose()).as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(|e| io("write", &tmp, &e))?;
        fs::rename(&tmp, &path).map_err(|e| io("rename", &path, &e))?;
        sync_dir(&self.tenant_dir(tenant));
        st.index.insert(tenant, k.clone());
        Ok(k)
    }

    fn data_key(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> Result<Option<DataKey>, StoreError> {
        let mut st = self.lock();
        self.load(&mut st, tenant)?;
        Ok(st
            .data
            .get(&(tenant, shard_of(customer)))
            .and_then(|m| m.get(&customer))
            .cloned())
    }

    fn create_data_key(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> Result<DataKey, StoreError> {
        let mut st = self.lock();
        self.load(&mut st, tenant)?;
        let shard = shard_of(customer);
        if let Some(k) = st.data.get(&(tenant, shard)).and_then(|m| m.get(&customer)) {
            return Ok(k.clone());
        }
        let k = DataKey::from_bytes(crate::random_key()?);
        let path = self.shard_path(tenant, customer);
        if !st.dirty.contains_key(&path) {
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| io("open", &path, &e))?;
            st.dirty.insert(path.clone(), BufWriter::new(f));
        }
        let line = format!("{} {}\n", customer.as_uuid().hyphenated(), hex(k.expose()));
        if let Some(f) = st.dirty.get_mut(&path) {
            f.write_all(line.as_bytes())
                .map_err(|e| io("append to", &path, &e))?;
        }
        st.data
            .entry((tenant, shard))
            .or_default()
            .insert(customer, k.clone());
        Ok(k)
    }

    fn delete_data_key(&self, tenant: TenantId, customer: CustomerId) -> Result<bool, StoreError> {
        let mut st = self.lock();
        self.load(&mut st, tenant)?;
        let shard = shard_of(customer);
        let removed = st
            .data
            .get_mut(&(tenant, shard))
            .and_then(|m| m.remove(&customer));
        if removed.is_none() {
            return Ok(false);
        }
        self.rewrite(&mut st, tenant, &[shard])?;
        Ok(true)
    }

    fn delete_data_keys(
        &self,
        tenant: TenantId,
        customers: &[CustomerId],
    ) -> Result<(), StoreError> {
        let mut st = self.lock();
        self.load(&mut st, tenant)?;
        let mut shards = std::collections::BTreeSet::new();
        for c in customers {
            let shard = shard_of(*c);
            let removed = st.data.get_mut(&(tenant, shard)).and_then(|m| m.remove(c));
            if removed.is_some() {
                shards.insert(shard);
            }
        }
        let shards: Vec<u8> = shards.into_iter().collect();
        self.rewrite(&mut st, tenant, &shards)
    }

    fn nonce(&self) -> [u8; NONCE_LEN] {
        crate::random_nonce()
    }

    fn sync(&self) -> Result<(), StoreError> {
        let mut st = self.lock();
        let dirty: Vec<_> = st.dirty.drain().collect();
        // Shards are flushed and synced together (see `parallel`); a failure fails the
        // caller's commit.
        let dirty: Vec<_> = dirty.into_iter().map(std::sync::Mutex::new).collect();
        parallel(&dirty, |m| {
            let mut g = m.lock().unwrap_or_else(PoisonError::into_inner);
            let (path, f) = &mut *g;
            f.flush()
                .and_then(|()| f.get_ref().sync_data())
                .map_err(|e| io("sync", path, &e))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_survive_a_reopen_and_deleted_keys_leave_the_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let t = TenantId::from_u128(7);
        let keys = FileKeyStore::open(dir.path()).expect("open");
        let made: Vec<_> = (0..100u128)
            .map(|i| {
                let c = CustomerId::from_u128(i);
                (c, keys.create_data_key(t, c).expect("create"))
            })
            .collect();
        keys.sync().expect("sync");
        let gone: Vec<_> = made.iter().step_by(3).map(|(c, _)| *c).collect();
        keys.delete_data_keys(t, &gone).expect("delete");
        let again = FileKeyStore::open(dir.path()).expect("reopen");
        for (c, k) in &made {
            let expected = (!gone.contains(c)).then(|| k.clone());
            assert_eq!(again.data_key(t, *c).expect("read"), expected);
        }
        // No deleted key's bytes remain in any live file.
        let mut all = Vec::new();
        for e in fs::read_dir(keys.tenant_dir(t)).expect("dir") {
            all.extend(fs::read(e.expect("entry").path()).expect("file"));
        }
        let text = String::from_utf8(all).expect("utf8");
        for (c, k) in &made {
            assert_eq!(text.contains(&hex(k.expose())), !gone.contains(c));
        }
    }

    #[test]
    fn a_damaged_shard_is_corrupt_not_a_panic() {
        let dir = tempfile::tempdir().expect("tempdir");
        let t = TenantId::from_u128(7);
        let keys = FileKeyStore::open(dir.path()).expect("open");
        let c = CustomerId::from_u128(1);
        keys.create_data_key(t, c).expect("create");
        keys.sync().expect("sync");
        fs::write(keys.shard_path(t, c), "not a key line\n").expect("damage");
        let again = FileKeyStore::open(dir.path()).expect("reopen");
        assert!(matches!(
            again.data_key(t, c),
            Err(StoreError::Corrupt { .. })
        ));
        assert_eq!(
            format!("{:?}", again.index_key(TenantId::from_u128(8)).map(|_| ())),
            "Ok(())"
        );
    }
}
