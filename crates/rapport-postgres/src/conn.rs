//! Where a write runs: the store's own pooled connection (statements prepared once per
//! connection and cached) or a host's client (`apply_in`: statements prepared on each call,
//! since the host's client has no statement cache of ours).
//!
//! The writes prepare their statements first and then send them without waiting for each
//! answer: tokio-postgres sends requests in the order their futures are first polled
//! (pipelining), so a changeset's statements reach the server in changeset order in one
//! round trip.

use std::future::Future;

use rapport_core::StoreError;
use tokio_postgres::types::ToSql;
use tokio_postgres::{GenericClient, Row, Statement};

use crate::error::db;

/// Parameters of one statement.
pub(crate) type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// The three calls the writes need, with driver errors mapped.
pub(crate) trait Conn: Sync {
    /// The statement for `sql`, prepared on this connection.
    fn prepare<'a>(
        &'a self,
        sql: &'a str,
    ) -> impl Future<Output = Result<Statement, StoreError>> + Send + 'a;
    /// Rows affected.
    fn exec<'a>(
        &'a self,
        stmt: &'a Statement,
        params: Params<'a>,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send + 'a;
    /// Every row.
    fn rows<'a>(
        &'a self,
        stmt: &'a Statement,
        params: Params<'a>,
    ) -> impl Future<Output = Result<Vec<Row>, StoreError>> + Send + 'a;
}

macro_rules! cached_conn {
    ($t:ty) => {
        impl Conn for $t {
            async fn prepare(&self, sql: &str) -> Result<Statement, StoreError> {
                self.prepare_cached(sql).await.map_err(db)
            }
            async fn exec(&self, stmt: &Statement, params: Params<'_>) -> Result<u64, StoreError> {
                self.execute(stmt, params).await.map_err(db)
            }
            async fn rows(
                &self,
                stmt: &Statement,
                params: Params<'_>,
            ) -> Result<Vec<Row>, StoreError> {
                self.query(stmt, params).await.map_err(db)
            }
        }
    };
}

cached_conn!(deadpool_postgres::Transaction<'_>);
cached_conn!(deadpool_postgres::ClientWrapper);

/// A host's connection or transaction.
pub(crate) struct Host<'c, C>(pub(crate) &'c C);

impl<C: GenericClient + Sync> Conn for Host<'_, C> {
    async fn prepare(&self, sql: &str) -> Result<Statement, StoreError> {
        self.0.prepare(sql).await.map_err(db)
    }
    async fn exec(&self, stmt: &Statement, params: Params<'_>) -> Result<u64, StoreError> {
        self.0.execute(stmt, params).await.map_err(db)
    }
    async fn rows(&self, stmt: &Statement, params: Params<'_>) -> Result<Vec<Row>, StoreError> {
        self.0.query(stmt, params).await.map_err(db)
    }
}
