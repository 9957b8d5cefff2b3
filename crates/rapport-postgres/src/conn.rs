//! Where a write runs: the store's own pooled transaction (statements prepared once per
//! connection) or a host's client (`apply_in`: statements sent as text, prepared by the
//! driver on each call, since the host's client has no statement cache of ours).

use std::future::Future;

use rapport_core::StoreError;
use tokio_postgres::types::ToSql;
use tokio_postgres::{GenericClient, Row};

use crate::error::db;

/// Parameters of one statement.
pub(crate) type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// The three calls the writes need, with driver errors mapped.
pub(crate) trait Conn: Sync {
    /// Rows affected.
    fn exec<'a>(
        &'a self,
        sql: &'a str,
        params: Params<'a>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send + 'a;
    /// Every row.
    fn rows<'a>(
        &'a self,
        sql: &'a str,
        params: Params<'a>,
    ) -> impl Future<Output = Result<Vec<Row>, StoreError>> + Send + 'a;
    /// At most one row.
    fn row<'a>(
        &'a self,
        sql: &'a str,
        params: Params<'a>,
    ) -> impl Future<Output = Result<Option<Row>, StoreError>> + Send + 'a;
}

impl Conn for deadpool_postgres::Transaction<'_> {
    async fn exec(&self, sql: &str, params: Params<'_>) -> Result<u64, StoreError> {
        let stmt = self.prepare_cached(sql).await.map_err(db)?;
        self.execute(&stmt, params).await.map_err(db)
    }
    async fn rows(&self, sql: &str, params: Params<'_>) -> Result<Vec<Row>, StoreError> {
        let stmt = self.prepare_cached(sql).await.map_err(db)?;
        self.query(&stmt, params).await.map_err(db)
    }
    async fn row(&self, sql: &str, params: Params<'_>) -> Result<Option<Row>, StoreError> {
        let stmt = self.prepare_cached(sql).await.map_err(db)?;
        self.query_opt(&stmt, params).await.map_err(db)
    }
}

/// A host's connection or transaction.
pub(crate) struct Host<'c, C>(pub(crate) &'c C);

impl<C: GenericClient + Sync> Conn for Host<'_, C> {
    async fn exec(&self, sql: &str, params: Params<'_>) -> Result<u64, StoreError> {
        self.0.execute(sql, params).await.map_err(db)
    }
    async fn rows(&self, sql: &str, params: Params<'_>) -> Result<Vec<Row>, StoreError> {
        self.0.query(sql, params).await.map_err(db)
    }
    async fn row(&self, sql: &str, params: Params<'_>) -> Result<Option<Row>, StoreError> {
        self.0.query_opt(sql, params).await.map_err(db)
    }
}
