//! One connection seen the same way by both drivers, so every operation is written once, as an
//! `async fn` over [`Db`]: the async driver awaits it on a pooled `tokio-postgres` client; the
//! blocking driver runs it with [`now`] over a `postgres` client whose calls are ready futures.

use std::collections::HashMap;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use kaigo_seikyu::ports::PortError;
use kaigo_seikyu::store::StoreError;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Error, Row, Statement};

/// Query parameters, as both client crates take them.
pub type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// A connection (or a transaction on one) that runs this crate's statements, prepared once per
/// connection. Every statement is a constant of [`sql`](crate::sql).
pub trait Db {
    /// Runs a statement, returning its rows.
    fn rows(
        &mut self,
        sql: &'static str,
        params: Params<'_>,
    ) -> impl Future<Output = Result<Vec<Row>, Error>> + Send;

    /// Runs a statement, returning how many rows it touched.
    fn exec(
        &mut self,
        sql: &'static str,
        params: Params<'_>,
    ) -> impl Future<Output = Result<u64, Error>> + Send;

    /// Runs statements in the simple protocol, without parameters (migrations).
    fn batch(&mut self, sql: &str) -> impl Future<Output = Result<(), Error>> + Send;
}

/// A blocking `postgres` client (or transaction) with its connection's prepared statements.
pub struct Blocking<'a, C: postgres::GenericClient> {
    /// The client or transaction.
    pub client: &'a mut C,
    /// The statements prepared on its connection.
    pub cache: &'a mut HashMap<&'static str, Statement>,
}

impl<C: postgres::GenericClient> Blocking<'_, C> {
    fn prepared(&mut self, sql: &'static str) -> Result<Statement, Error> {
        if let Some(statement) = self.cache.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql)?;
        self.cache.insert(sql, statement.clone());
        Ok(statement)
    }
}

impl<C: postgres::GenericClient> Db for Blocking<'_, C> {
    fn rows(
        &mut self,
        sql: &'static str,
        params: Params<'_>,
    ) -> impl Future<Output = Result<Vec<Row>, Error>> + Send {
        let result = self
            .prepared(sql)
            .and_then(|statement| self.client.query(&statement, params));
        std::future::ready(result)
    }

    fn exec(
        &mut self,
        sql: &'static str,
        params: Params<'_>,
    ) -> impl Future<Output = Result<u64, Error>> + Send {
        let result = self
            .prepared(sql)
            .and_then(|statement| self.client.execute(&statement, params));
        std::future::ready(result)
    }

    fn batch(&mut self, sql: &str) -> impl Future<Output = Result<(), Error>> + Send {
        std::future::ready(self.client.batch_execute(sql))
    }
}

/// The async side: a pooled client and a transaction on one, statements cached by the pool.
macro_rules! pooled {
    ($($ty:ty),*) => {$(
        impl Db for $ty {
            fn rows(
                &mut self,
                sql: &'static str,
                params: Params<'_>,
            ) -> impl Future<Output = Result<Vec<Row>, Error>> + Send {
                async move {
                    let statement = self.prepare_cached(sql).await?;
                    self.query(&statement, params).await
                }
            }

            fn exec(
                &mut self,
                sql: &'static str,
                params: Params<'_>,
            ) -> impl Future<Output = Result<u64, Error>> + Send {
                async move {
                    let statement = self.prepare_cached(sql).await?;
                    self.execute(&statement, params).await
                }
            }

            fn batch(&mut self, sql: &str) -> impl Future<Output = Result<(), Error>> + Send {
                self.batch_execute(sql)
            }
        }
    )*};
}

pooled!(
    deadpool_postgres::Client,
    deadpool_postgres::Transaction<'_>
);

/// An error for a blocking call whose future did not finish.
pub trait Stalled {
    /// The error.
    fn stalled() -> Self;
}

const STALLED: &str = "internal: a blocking PostgreSQL call did not finish";

impl Stalled for StoreError {
    fn stalled() -> Self {
        StoreError::Unavailable(STALLED.into())
    }
}

impl Stalled for PortError {
    fn stalled() -> Self {
        PortError(STALLED.into())
    }
}

/// Runs a future of the blocking driver to its end on the calling thread. Its statements are
/// ready futures (the blocking client does the waiting), so one poll finishes it; a future that
/// is still pending is an error of this crate, reported, not a hang.
pub fn now<T, E: Stalled>(future: impl Future<Output = Result<T, E>>) -> Result<T, E> {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(result) => result,
        Poll::Pending => Err(E::stalled()),
    }
}
