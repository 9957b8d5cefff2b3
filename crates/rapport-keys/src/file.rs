//! [`FileKeyStore`]: keys in files under one directory.
//!
//! Layout: `DIR/<tenant uuid>/index.key` (the tenant's index key, hex) and 16 shard files
//! `DIR/<tenant uuid>/data-<x>.keys` of fixed-width lines, one `<customer uuid> <key hex>` per
//! customer (102 bytes with the newline), the shard chosen by the id's last hex digit. A new
//! key is appended to its shard (buffered; written and made durable by [`KeyStore::sync`],
//! which stores call before committing the rows they sealed). Deleting keys overwrites their
//! lines **in place** with newlines (one positioned write per key, then one `fdatasync` per
//! touched shard, the shards in parallel so the file system can fold the flushes into few
//! journal commits; lookups and new keys do not wait for those syncs): no temporary file, no
//! rename, no directory sync, and the key's bytes are
//! overwritten where they were rather than left in the blocks of a replaced file. A deleted
//! key is gone from the live files once the call returns. When blanked lines outnumber the
//! live ones (and are more than [`COMPACT_AFTER`]), the deletion rewrites the shard instead:
//! to a temporary file, synced and renamed over the old one, the directory synced once.
//!
//! A blanked line reads as empty lines to older readers (which skip them). A line torn by a
//! crash in the middle of its overwrite (part newlines, part key text) reads as deleted: the
//! erasure that was deleting it had already committed. Everything of a tenant is loaded on its
//! first use and kept in memory, grouped by shard (a rewrite touches only its shard's keys).
//!
//! What a file system keeps of a replaced file's blocks, and what backups of `DIR` hold, is
//! outside rapport: keep the key directory off the database's backups (that separation is
//! what makes erasure reach the database's copies) and on an encrypted or TRIM-ing volume.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use rapport_core::ports::KeyStore;
use rapport_core::privacy::crypto::{DataKey, IndexKey, KEY_LEN, NONCE_LEN};
use rapport_core::{CustomerId, StoreError, TenantId};

const SHARDS: u8 = 16;

/// Bytes of one key line: a hyphenated uuid, a space, 64 hex digits and a newline.
const LINE: usize = 36 + 1 + KEY_LEN * 2 + 1;

/// Blanked lines a shard keeps before a deletion rewrites it (when they also outnumber the
/// live ones).
const COMPACT_AFTER: u64 = 64;

/// Keys in files under a directory: `DIR/<tenant uuid>/index.key` (the tenant's index key)
/// and 16 shard files `DIR/<tenant uuid>/data-<x>.keys` (one fixed-width line per customer
/// key); a deleted key's line is overwritten in place and synced before the call returns.
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
    /// Held while shard files are overwritten or replaced, taken after `state` (never the
    /// other way round): a deletion blanks its lines and syncs them holding only this lock, so
    /// lookups and new keys go on meanwhile, while a later deletion or rewrite waits for it.
    io: Mutex<()>,
}

#[derive(Default)]
struct State {
    loaded: HashSet<TenantId>,
    /// The keys by (tenant, shard).
    data: HashMap<(TenantId, u8), HashMap<CustomerId, DataKey>>,
    /// Where each key's line is in its shard file.
    lines: HashMap<(TenantId, u8), Lines>,
    index: HashMap<TenantId, IndexKey>,
    /// Shard files appended to since the last sync.
    dirty: HashMap<PathBuf, BufWriter<File>>,
}

/// The lines of one shard file.
#[derive(Default)]
struct Lines {
    /// The line number of each live key.
    of: HashMap<CustomerId, u64>,
    /// Lines in the file (live and blanked).
    len: u64,
    /// Blanked lines (deleted keys).
    blank: u64,
    /// The file holds a customer twice (written by hand, or by an old bug): the next deletion
    /// rewrites it rather than blank one of the copies.
    rewrite: bool,
}

impl Lines {
    /// True when blanking `more` lines should rewrite the shard instead.
    fn compact(&self, more: u64) -> bool {
        let blank = self.blank + more;
        self.rewrite || (blank > COMPACT_AFTER && blank > self.len.saturating_sub(blank))
    }
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
            io: Mutex::new(()),
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
            let bytes = match fs::read(&path) {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io("read", &path, &e)),
            };
            if bytes.len() % LINE != 0 {
                return Err(corrupt(&path));
            }
            let mut lines = Lines::default();
            for (n, line) in (0u64..).zip(bytes.chunks_exact(LINE)) {
                lines.len += 1;
                let (body, end) = line.split_at(LINE - 1);
                if end != b"\n" {
                    return Err(corrupt(&path));
                }
                if body.contains(&b'\n') {
                    // Blanked (or torn while being blanked): a deleted key.
                    lines.blank += 1;
                    continue;
                }
                let (c, key) = parse_line(body).ok_or_else(|| corrupt(&path))?;
                if shard_of(c) != shard {
                    return Err(corrupt(&path));
                }
                if lines.of.insert(c, n).is_some() {
                    lines.rewrite = true;
                }
                st.data
                    .entry((t, shard))
                    .or_default()
                    .insert(c, DataKey::from_bytes(key));
            }
            st.lines.insert((t, shard), lines);
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
            let mut lines = Lines::default();
            for (c, k) in st.data.get(&(t, shard)).into_iter().flatten() {
                text.push_str(&line_of(*c, k));
                lines.of.insert(*c, lines.len);
                lines.len += 1;
            }
            st.lines.insert((t, shard), lines);
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

    /// Deletes the keys of `customers` from `t`'s shards: their lines overwritten in place
    /// (one `fdatasync` per touched shard, the shards in parallel), or the shard rewritten
    /// when it would hold more blanked lines than live ones. The keys leave the memory map
    /// under `st`; the in-place overwrites and their syncs run after `st` is released
    /// (holding the `io` lock), so lookups of other keys do not wait for the disk.
    fn delete(
        &self,
        mut st: std::sync::MutexGuard<'_, State>,
        t: TenantId,
        customers: &[CustomerId],
    ) -> Result<bool, StoreError> {
        let mut by_shard: std::collections::BTreeMap<u8, Vec<u64>> = Default::default();
        for c in customers {
            let shard = shard_of(*c);
            let removed = st.data.get_mut(&(t, shard)).and_then(|m| m.remove(c));
            if removed.is_none() {
                continue;
            }
            let line = st.lines.get_mut(&(t, shard)).and_then(|l| l.of.remove(c));
            let lines = by_shard.entry(shard).or_default();
            // A key made but never written (no line yet) is left out of the pending appends by
            // a rewrite; one with a line is blanked.
            match line {
                Some(n) => lines.push(n),
                None => st.lines.entry((t, shard)).or_default().rewrite = true,
            }
        }
        if by_shard.is_empty() {
            return Ok(false);
        }
        let mut rewrite = Vec::new();
        let mut blank = Vec::new();
        for (shard, lines) in by_shard {
            let state = st.lines.entry((t, shard)).or_default();
            let more = lines.len() as u64;
            if state.compact(more) {
                rewrite.push(shard);
                continue;
            }
            state.blank += more;
            let path = self.shard_file(t, shard);
            // Appends still buffered reach the file first: a line to blank may be among them.
            if let Some(mut f) = st.dirty.remove(&path) {
                f.flush().map_err(|e| io("append to", &path, &e))?;
            }
            blank.push((path, lines));
        }
        let io_lock = self.io.lock().unwrap_or_else(PoisonError::into_inner);
        if !rewrite.is_empty() {
            // A rewrite replaces the file: it stays under `st`, so no append or line number
            // can refer to the file being replaced.
            self.rewrite(&mut st, t, &rewrite)?;
        }
        // The lines to blank are fixed (their keys are out of the map, pending appends are in
        // the file); appends after this point go past them.
        drop(st);
        parallel(&blank, |(path, lines)| {
            let mut f = OpenOptions::new()
                .write(true)
                .open(path)
                .map_err(|e| io("open", path, &e))?;
            for n in lines {
                let at = n.saturating_mul(LINE as u64);
                f.seek(SeekFrom::Start(at))
                    .and_then(|_| f.write_all(&[b'\n'; LINE - 1]))
                    .map_err(|e| io("write", path, &e))?;
            }
            f.sync_data().map_err(|e| io("sync", path, &e))
        })?;
        drop(io_lock);
        Ok(true)
    }
}

/// The file line of a key.
fn line_of(c: CustomerId, k: &DataKey) -> String {
    format!("{} {}\n", c.as_uuid().hyphenated(), hex(k.expose()))
}

/// A line's customer and key (`body`: the line without its newline).
fn parse_line(body: &[u8]) -> Option<(CustomerId, [u8; KEY_LEN])> {
    let body = std::str::from_utf8(body).ok()?;
    let (id, key) = body.split_once(' ')?;
    let id = uuid::Uuid::parse_str(id).ok()?;
    Some((CustomerId::from_uuid(id), unhex(key)?))
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
        let line = line_of(customer, &k);
        if let Some(f) = st.dirty.get_mut(&path) {
            f.write_all(line.as_bytes())
                .map_err(|e| io("append to", &path, &e))?;
        }
        let lines = st.lines.entry((tenant, shard)).or_default();
        lines.of.insert(customer, lines.len);
        lines.len += 1;
        st.data
            .entry((tenant, shard))
            .or_default()
            .insert(customer, k.clone());
        Ok(k)
    }

    fn delete_data_key(&self, tenant: TenantId, customer: CustomerId) -> Result<bool, StoreError> {
        let mut st = self.lock();
        self.load(&mut st, tenant)?;
        self.delete(st, tenant, &[customer])
    }

    fn delete_data_keys(
        &self,
        tenant: TenantId,
        customers: &[CustomerId],
    ) -> Result<(), StoreError> {
        let mut st = self.lock();
        self.load(&mut st, tenant)?;
        self.delete(st, tenant, customers).map(drop)
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

    /// Every file of the tenant's directory, concatenated.
    fn all_bytes(keys: &FileKeyStore, t: TenantId) -> Vec<u8> {
        let mut all = Vec::new();
        for e in fs::read_dir(keys.tenant_dir(t)).expect("dir") {
            all.extend(fs::read(e.expect("entry").path()).expect("file"));
        }
        all
    }

    #[cfg(unix)]
    #[test]
    fn a_deletion_blanks_the_line_in_place_without_replacing_the_file() {
        use std::os::unix::fs::MetadataExt as _;
        let dir = tempfile::tempdir().expect("tempdir");
        let t = TenantId::from_u128(7);
        let keys = FileKeyStore::open(dir.path()).expect("open");
        // Three customers in one shard (same last hex digit).
        let ids: Vec<_> = (0..3u128).map(|i| CustomerId::from_u128(i << 8)).collect();
        let made: Vec<_> = ids
            .iter()
            .map(|c| keys.create_data_key(t, *c).expect("create"))
            .collect();
        keys.sync().expect("sync");
        let path = keys.shard_path(t, ids[1]);
        let (inode, len) = {
            let m = fs::metadata(&path).expect("meta");
            (m.ino(), m.len())
        };
        assert_eq!(len, 3 * LINE as u64);
        assert!(keys.delete_data_key(t, ids[1]).expect("delete"));
        assert!(!keys.delete_data_key(t, ids[1]).expect("again"));
        let m = fs::metadata(&path).expect("meta");
        assert_eq!((m.ino(), m.len()), (inode, len), "overwritten in place");
        let text = String::from_utf8(all_bytes(&keys, t)).expect("utf8");
        assert!(!text.contains(&hex(made[1].expose())));
        assert!(!text.contains(&ids[1].as_uuid().hyphenated().to_string()));
        let again = FileKeyStore::open(dir.path()).expect("reopen");
        assert_eq!(
            again.data_key(t, ids[0]).expect("read"),
            Some(made[0].clone())
        );
        assert_eq!(again.data_key(t, ids[1]).expect("read"), None);
        assert_eq!(
            again.data_key(t, ids[2]).expect("read"),
            Some(made[2].clone())
        );
    }

    #[test]
    fn a_line_torn_while_being_blanked_reads_as_deleted() {
        let dir = tempfile::tempdir().expect("tempdir");
        let t = TenantId::from_u128(7);
        let keys = FileKeyStore::open(dir.path()).expect("open");
        let (a, b) = (CustomerId::from_u128(1 << 8), CustomerId::from_u128(2 << 8));
        let ka = keys.create_data_key(t, a).expect("create");
        keys.create_data_key(t, b).expect("create");
        keys.sync().expect("sync");
        let path = keys.shard_path(t, b);
        let mut bytes = fs::read(&path).expect("read");
        // A power cut in the middle of the overwrite: the line's first 40 bytes are newlines,
        // the rest still the old text.
        bytes[LINE..LINE + 40].fill(b'\n');
        fs::write(&path, &bytes).expect("tear");
        let again = FileKeyStore::open(dir.path()).expect("reopen");
        assert_eq!(again.data_key(t, a).expect("read"), Some(ka));
        assert_eq!(again.data_key(t, b).expect("read"), None);
    }

    #[test]
    fn mostly_blank_shards_are_rewritten_smaller() {
        let dir = tempfile::tempdir().expect("tempdir");
        let t = TenantId::from_u128(7);
        let keys = FileKeyStore::open(dir.path()).expect("open");
        let n = 3 * COMPACT_AFTER;
        let ids: Vec<_> = (0..u128::from(n))
            .map(|i| CustomerId::from_u128(i << 8))
            .collect();
        for c in &ids {
            keys.create_data_key(t, *c).expect("create");
        }
        keys.sync().expect("sync");
        for c in &ids[..ids.len() - 10] {
            keys.delete_data_key(t, *c).expect("delete");
        }
        let len = fs::metadata(keys.shard_path(t, ids[0]))
            .expect("meta")
            .len();
        assert!(len < n * LINE as u64 / 2, "{len}");
        let again = FileKeyStore::open(dir.path()).expect("reopen");
        for (i, c) in ids.iter().enumerate() {
            let live = i >= ids.len() - 10;
            assert_eq!(again.data_key(t, *c).expect("read").is_some(), live, "{i}");
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

        /// Any sequence of creations, deletions (one or several), syncs and reopens leaves
        /// the files holding exactly the keys created and not deleted (once synced), and no
        /// deleted key's bytes.
        #[test]
        fn files_hold_exactly_the_live_keys(
            ops in proptest::collection::vec((0u8..5, 0u128..40, 0u128..40), 1..120)
        ) {
            let dir = tempfile::tempdir().expect("tempdir");
            let t = TenantId::from_u128(3);
            let mut keys = FileKeyStore::open(dir.path()).expect("open");
            let mut model: HashMap<CustomerId, DataKey> = HashMap::new();
            let mut gone: Vec<DataKey> = Vec::new();
            // Few shards (ids 0..40 shifted) so lines collide in a shard and get blanked.
            let id = |n: u128| CustomerId::from_u128((n % 8) | (n << 8));
            for (op, x, y) in ops {
                match op {
                    0 | 1 => {
                        let k = keys.create_data_key(t, id(x)).expect("create");
                        model.entry(id(x)).or_insert(k);
                    }
                    2 => {
                        let had = keys.delete_data_key(t, id(x)).expect("delete");
                        proptest::prop_assert_eq!(had, model.contains_key(&id(x)));
                        gone.extend(model.remove(&id(x)));
                    }
                    3 => {
                        let (lo, hi) = (x.min(y), x.max(y));
                        let ids: Vec<_> = (lo..=hi).map(id).collect();
                        keys.delete_data_keys(t, &ids).expect("delete many");
                        for c in &ids {
                            gone.extend(model.remove(c));
                        }
                    }
                    _ => {
                        keys.sync().expect("sync");
                        keys = FileKeyStore::open(dir.path()).expect("reopen");
                    }
                }
            }
            keys.sync().expect("sync");
            let again = FileKeyStore::open(dir.path()).expect("reopen");
            for n in 0..40 {
                proptest::prop_assert_eq!(again.data_key(t, id(n)).expect("read"), model.get(&id(n)).cloned());
            }
            let text = String::from_utf8(all_bytes(&keys, t)).expect("utf8");
            for k in &gone {
                proptest::prop_assert!(!text.contains(&hex(k.expose())));
            }
        }
    }

    /// Deletions (in place and, past the compaction threshold, by rewriting the shard) on one
    /// thread while another makes new keys in the same shards, syncs them and reads them: the
    /// overwrites run outside the state lock, and still every new key survives, every deleted
    /// one is gone from the map and from the files.
    #[test]
    fn deletions_beside_new_keys_in_the_same_shards_lose_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let t = TenantId::from_u128(7);
        let keys = FileKeyStore::open(dir.path()).expect("open");
        // Four shards (the id's last byte).
        let id = |n: u128| CustomerId::from_u128((n << 8) | (n % 4));
        let old: Vec<_> = (0..400u128)
            .map(|n| (id(n), keys.create_data_key(t, id(n)).expect("create")))
            .collect();
        keys.sync().expect("sync");
        let new: Vec<_> = std::thread::scope(|s| {
            let deleter = s.spawn(|| {
                for chunk in old.chunks(3) {
                    let ids: Vec<_> = chunk.iter().map(|(c, _)| *c).collect();
                    keys.delete_data_keys(t, &ids).expect("delete");
                }
            });
            let maker = s.spawn(|| {
                let mut made = Vec::new();
                for n in 1_000..1_300u128 {
                    let k = keys.create_data_key(t, id(n)).expect("create");
                    if n % 7 == 0 {
                        keys.sync().expect("sync");
                    }
                    assert_eq!(keys.data_key(t, id(n)).expect("read"), Some(k.clone()));
                    made.push((id(n), k));
                }
                keys.sync().expect("sync");
                made
            });
            deleter.join().expect("deleter");
            maker.join().expect("maker")
        });
        let again = FileKeyStore::open(dir.path()).expect("reopen");
        for (c, k) in &new {
            assert_eq!(again.data_key(t, *c).expect("read"), Some(k.clone()));
        }
        let text = String::from_utf8(all_bytes(&keys, t)).expect("utf8");
        for (c, k) in &old {
            assert_eq!(again.data_key(t, *c).expect("read"), None);
            assert!(!text.contains(&hex(k.expose())));
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
