//! Line items on SQLite (table `rapport_line_items`, migration 7): serialised on the caller's
//! thread with the rest of a changeset, written by the writer thread inside the changeset's
//! savepoint after its activities (a replayed key rolls them back with everything else), read
//! by the reader threads.

use rapport_core::{
    ActivityId, Changeset, CustomerId, LineItemStore, LineItems, StoreError, TenantId,
};
use rusqlite::{Connection, OptionalExtension, params};

use crate::SqliteStore;
use crate::apply::ApplyError;
use crate::codec::{from_json, time_to_us, to_json};
use crate::error::SqliteError;

const TABLE: &str = "rapport_line_items";

/// One activity's lines, serialised.
pub(crate) struct LineRow {
    activity: [u8; 16],
    customer: [u8; 16],
    at_us: i64,
    json: String,
}

/// A changeset's line rows, and the (activity, new customer) of its moves.
#[derive(Default)]
pub(crate) struct LineWrites {
    rows: Vec<LineRow>,
    moves: Vec<([u8; 16], [u8; 16])>,
}

impl LineWrites {
    pub(crate) fn new(cs: &Changeset) -> Result<Self, SqliteError> {
        let moves: Vec<_> = cs.moves.iter().map(|m| &m.activity).collect();
        Self::of(&cs.line_items, &moves)
    }

    /// The rows of `lists`, and `moved` activities' lines following them to their customer.
    pub(crate) fn of(
        lists: &[LineItems],
        moved: &[&rapport_core::Activity],
    ) -> Result<Self, SqliteError> {
        Ok(Self {
            rows: lists
                .iter()
                .map(|l| {
                    Ok(LineRow {
                        activity: l.activity.to_bytes(),
                        customer: l.customer.to_bytes(),
                        at_us: time_to_us(l.at),
                        json: to_json(TABLE, l)?,
                    })
                })
                .collect::<Result<_, SqliteError>>()?,
            moves: moved
                .iter()
                .map(|a| (a.id.to_bytes(), a.customer.to_bytes()))
                .collect(),
        })
    }

    /// Inserts the rows and moves the moved activities' lines, inside the open savepoint.
    pub(crate) fn apply(&self, conn: &Connection, t: [u8; 16]) -> Result<(), ApplyError> {
        if !self.rows.is_empty() {
            let mut ins = conn.prepare_cached(
                "INSERT INTO rapport_line_items (tenant_id, activity_id, customer_id, at_us,
                     lines_json) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for r in &self.rows {
                ins.execute(params![t, r.activity, r.customer, r.at_us, r.json])?;
            }
        }
        if !self.moves.is_empty() {
            let mut up = conn.prepare_cached(
                "UPDATE rapport_line_items SET customer_id = ?3
                 WHERE tenant_id = ?1 AND activity_id = ?2",
            )?;
            for (a, c) in &self.moves {
                up.execute(params![t, a, c])?;
            }
        }
        Ok(())
    }
}

fn decode(customer: [u8; 16], json: &str) -> Result<LineItems, SqliteError> {
    let mut l: LineItems = from_json(TABLE, json)?;
    l.customer = CustomerId::from_uuid(uuid::Uuid::from_bytes(customer));
    Ok(l)
}

fn collect(
    rows: impl Iterator<Item = rusqlite::Result<([u8; 16], String)>>,
) -> Result<Vec<LineItems>, SqliteError> {
    rows.map(|r| {
        let (c, j) = r?;
        decode(c, &j)
    })
    .collect()
}

pub(crate) fn one(
    conn: &Connection,
    t: TenantId,
    a: ActivityId,
) -> Result<Option<LineItems>, SqliteError> {
    conn.prepare_cached(
        "SELECT customer_id, lines_json FROM rapport_line_items
         WHERE tenant_id = ?1 AND activity_id = ?2",
    )?
    .query_row(params![t.to_bytes(), a.to_bytes()], |r| {
        Ok((r.get::<_, [u8; 16]>(0)?, r.get::<_, String>(1)?))
    })
    .optional()?
    .map(|(c, j)| decode(c, &j))
    .transpose()
}

pub(crate) fn of_customer(
    conn: &Connection,
    t: TenantId,
    c: CustomerId,
) -> Result<Vec<LineItems>, SqliteError> {
    let mut stmt = conn.prepare_cached(
        "SELECT customer_id, lines_json FROM rapport_line_items
         WHERE tenant_id = ?1 AND customer_id = ?2 ORDER BY at_us, activity_id",
    )?;
    let rows = stmt.query_map(params![t.to_bytes(), c.to_bytes()], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })?;
    collect(rows)
}

pub(crate) fn page(
    conn: &Connection,
    t: TenantId,
    after: Option<ActivityId>,
    limit: u32,
) -> Result<Vec<LineItems>, SqliteError> {
    // An empty BLOB sorts before every id.
    let after: Vec<u8> = after.map_or_else(Vec::new, |a| a.to_bytes().to_vec());
    let mut stmt = conn.prepare_cached(
        "SELECT customer_id, lines_json FROM rapport_line_items
         WHERE tenant_id = ?1 AND activity_id > ?2 ORDER BY activity_id LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![t.to_bytes(), after, i64::from(limit)], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })?;
    collect(rows)
}

impl LineItemStore for SqliteStore {
    async fn line_items(
        &self,
        tenant: TenantId,
        activity: ActivityId,
    ) -> Result<Option<LineItems>, StoreError> {
        Ok(self.readers.read(move |c| one(c, tenant, activity)).await?)
    }

    async fn customer_line_items(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> Result<Vec<LineItems>, StoreError> {
        Ok(self
            .readers
            .read(move |c| of_customer(c, tenant, customer))
            .await?)
    }

    async fn line_items_page(
        &self,
        tenant: TenantId,
        after: Option<ActivityId>,
        limit: u32,
    ) -> Result<Vec<LineItems>, StoreError> {
        Ok(self
            .readers
            .read(move |c| page(c, tenant, after, limit))
            .await?)
    }
}

rapport_sql::activity_import! {
    /// Bulk imports with line items, natively: one writer job and one transaction per batch
    /// (`import::activities`), logged as the other imports.
    ///
    /// ```
    /// # use rapport_sqlite::{SqliteConfig, SqliteStore};
    /// # use rapport::core::*;
    /// # use futures::executor::block_on;
    /// # let dir = tempfile::tempdir()?;
    /// # let now = chrono::DateTime::UNIX_EPOCH;
    /// # let store = SqliteStore::open(dir.path().join("crm.db"), SqliteConfig::default(), now)?;
    /// # let t = TenantId::from_u128(1);
    /// # use rust_decimal::Decimal;
    /// use rapport::core::ports::{ActivityImport, ImportPolicy};
    /// let ann = CustomerId::from_u128(1);
    /// block_on(store.import_customers(t, &[(Customer::new(t, ann, Profile::default(), now), Stats::default())]))?;
    /// let order = Activity::new(
    ///     ActivityId::from_u128(10),
    ///     ann,
    ///     now,
    ///     Channel::Web,
    ///     IdempotencyKey::new("order-1")?,
    ///     ActivityKind::Purchase {
    ///         order_id: OrderId::new("1")?,
    ///         amount: Money::new(Decimal::from(25), Currency::EUR),
    ///         margin: None,
    ///     },
    /// )?;
    /// let policy = ImportPolicy::default();
    /// let r = block_on(store.import_activities(t, vec![order.clone().into()], &policy))?;
    /// assert_eq!((r.inserted, r.skipped), (1, 0));
    /// let again = block_on(store.import_activities(t, vec![order.into()], &policy))?;
    /// assert_eq!((again.inserted, again.skipped), (0, 1));
    /// // Folded into the stats once; the customer's version stepped once.
    /// let rec = block_on(store.load(t, ann))?.unwrap();
    /// assert_eq!(rec.stats.orders(), 1);
    /// assert_eq!(rec.customer.version(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    SqliteStore, "rapport_sqlite.import_activities",
    |this, tenant, batch, policy| this
        .import_lined(tenant, batch, policy)
        .await
        .map_err(crate::from_apply)
}
