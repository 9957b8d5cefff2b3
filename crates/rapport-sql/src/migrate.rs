//! Migration bookkeeping: numbered migrations, the version the code writes, and which ones a
//! database still needs. Running them (transactions, locks, the table that records them) is
//! the backend's.

/// One schema migration.
///
/// ```
/// use rapport_sql::Migration;
/// const MIGRATIONS: &[Migration] = &[
///     Migration { version: 1, name: "init", sql: "CREATE TABLE customers (id integer)" },
/// ];
/// assert_eq!((MIGRATIONS[0].version, MIGRATIONS[0].name), (1, "init"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    /// Its number; migrations apply in increasing order.
    pub version: u32,
    /// A short name.
    pub name: &'static str,
    /// The SQL it runs (for rapport-postgres with unqualified table names: run it with
    /// `search_path` set to the store's schema).
    pub sql: &'static str,
}

impl Migration {
    /// Migration `version` called `name` running `sql`: one line per migration in a
    /// backend's list.
    ///
    /// ```
    /// use rapport_sql::Migration;
    /// const M: Migration = Migration::new(1, "init", "CREATE TABLE customers (id integer)");
    /// assert_eq!((M.version, M.name), (1, "init"));
    /// ```
    #[must_use]
    pub const fn new(version: u32, name: &'static str, sql: &'static str) -> Self {
        Self { version, name, sql }
    }
}

/// The schema version `migrations` (in increasing order) bring a database to: the last one's,
/// 0 for none.
///
/// ```
/// use rapport_sql::{Migration, latest_version};
/// let m = |version| Migration { version, name: "m", sql: "" };
/// assert_eq!(latest_version(&[m(1), m(2)]), 2);
/// assert_eq!(latest_version(&[]), 0);
/// ```
#[must_use]
pub fn latest_version(migrations: &[Migration]) -> u32 {
    migrations.last().map_or(0, |m| m.version)
}

/// The database's schema is newer than the code: it was migrated by a later version.
///
/// ```
/// use rapport_sql::SchemaTooNew;
/// let e = SchemaTooNew { found: 3, supported: 2 };
/// assert_eq!(e.to_string(), "schema version 3 is newer than the supported 2");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("schema version {found} is newer than the supported {supported}")]
pub struct SchemaTooNew {
    /// The version the database records.
    pub found: u32,
    /// The highest version the code knows.
    pub supported: u32,
}

/// The migrations a database at version `current` still needs (those above it, in order).
///
/// ```
/// use rapport_sql::{Migration, SchemaTooNew, pending};
/// let m = |version| Migration { version, name: "m", sql: "" };
/// let all = [m(1), m(2), m(3)];
/// assert_eq!(pending(&all, 0)?.len(), 3);
/// assert_eq!(pending(&all, 2)?, &[m(3)]);
/// assert!(pending(&all, 3)?.is_empty());
/// assert_eq!(pending(&all, 4), Err(SchemaTooNew { found: 4, supported: 3 }));
/// # Ok::<(), SchemaTooNew>(())
/// ```
///
/// # Errors
/// [`SchemaTooNew`] when `current` is above every version of `migrations`.
pub fn pending(migrations: &[Migration], current: u32) -> Result<&[Migration], SchemaTooNew> {
    let supported = latest_version(migrations);
    if current > supported {
        return Err(SchemaTooNew {
            found: current,
            supported,
        });
    }
    let first = migrations.partition_point(|m| m.version <= current);
    Ok(&migrations[first..])
}
