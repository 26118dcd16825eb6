//! Reading a statement's one row only once PostgreSQL has finished the statement.
//!
//! PostgreSQL sends a statement's rows before it commits the implicit transaction around it.
//! diesel-async's `get_result` returns at the first row, so a write whose commit then failed (a
//! fast shutdown, the backend ended by an administrator, a deferred constraint) would already have
//! been answered as stored: a 201 for a review that is not there. `load_one` reads on to the end of
//! the answer (`ReadyForQuery`), where such a failure shows as an error. Clippy refuses
//! `get_result` in this crate (`clippy.toml`), so every single-row statement goes through here.

use std::future::Future;

use diesel::QueryResult;
use diesel_async::methods::LoadQuery;
use diesel_async::{AsyncPgConnection, RunQueryDsl};

/// `load_one` for every query diesel-async can load.
pub trait LoadOne<'query, U>: LoadQuery<'query, AsyncPgConnection, U> + Send + 'query
where
    U: Send,
{
    /// The query's first row, after PostgreSQL has answered all of it (commit included);
    /// `NotFound` when it has none, as `get_result` would say.
    fn load_one<'conn>(
        self,
        conn: &'conn mut AsyncPgConnection,
    ) -> impl Future<Output = QueryResult<U>> + Send + 'conn
    where
        'query: 'conn,
        Self: Sized,
    {
        async move {
            let rows: Vec<U> = self.load(conn).await?;
            rows.into_iter()
                .next()
                .ok_or(diesel::result::Error::NotFound)
        }
    }
}

impl<'query, Q, U> LoadOne<'query, U> for Q
where
    Q: LoadQuery<'query, AsyncPgConnection, U> + Send + 'query,
    U: Send,
{
}
