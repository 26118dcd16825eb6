//! SQL that diesel's query builder cannot spell, written so that diesel still prepares it once per
//! connection and reuses it. (`diesel::dsl::sql` and `sql_query` opt out of that cache, which
//! costs an extra round trip and a fresh parse and plan on every call.)

use std::marker::PhantomData;

use diesel::expression::{is_aggregate, AppearsOnTable, Expression, ValidGrouping};
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{Bool, HasSqlType, Text};
use diesel::QueryResult;

use crate::domain::article::Lifecycle;

/// `(a, b) < ($1, $2)` (or `>`): a keyset bound PostgreSQL seeks to directly in an index whose
/// key ends with `a, b`.
#[derive(Debug, Clone)]
pub(crate) struct RowBound<ST1, T1, ST2, T2> {
    /// The two columns, e.g. `(created_at, id)`; a fixed string, never input.
    columns: &'static str,
    descending: bool,
    first: T1,
    second: T2,
    types: PhantomData<(ST1, ST2)>,
}

impl<ST1, T1, ST2, T2> RowBound<ST1, T1, ST2, T2> {
    /// Rows strictly after `(first, second)` in the walking direction.
    pub(crate) fn after(columns: &'static str, descending: bool, first: T1, second: T2) -> Self {
        Self {
            columns,
            descending,
            first,
            second,
            types: PhantomData,
        }
    }
}

impl<ST1, T1, ST2, T2> Expression for RowBound<ST1, T1, ST2, T2> {
    type SqlType = Bool;
}

impl<QS, ST1, T1, ST2, T2> AppearsOnTable<QS> for RowBound<ST1, T1, ST2, T2> {}

impl<ST1, T1, ST2, T2> ValidGrouping<()> for RowBound<ST1, T1, ST2, T2> {
    type IsAggregate = is_aggregate::Never;
}

impl<ST1, T1, ST2, T2> QueryId for RowBound<ST1, T1, ST2, T2> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<ST1, T1, ST2, T2> QueryFragment<Pg> for RowBound<ST1, T1, ST2, T2>
where
    Pg: HasSqlType<ST1> + HasSqlType<ST2>,
    T1: ToSql<ST1, Pg>,
    T2: ToSql<ST2, Pg>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(self.columns);
        out.push_sql(if self.descending { " < (" } else { " > (" });
        out.push_bind_param::<ST1, T1>(&self.first)?;
        out.push_sql(", ");
        out.push_bind_param::<ST2, T2>(&self.second)?;
        out.push_sql(")");
        Ok(())
    }
}

diesel::define_sql_function!(
    /// The shared rate limit's bucket step (migration `2026-12-06-000002_shared_rate_limits`):
    /// microseconds until the bucket admits one more, 0 when it admitted this one. A function of
    /// the query builder, not an SQL string, so that its statement is prepared once per connection.
    fn marginalia_take_from_bucket(
        owner: diesel::sql_types::Text,
        kind: diesel::sql_types::Text,
        client: diesel::sql_types::Binary,
        per_minute: diesel::sql_types::Integer
    ) -> diesel::sql_types::BigInt
);

diesel::define_sql_function!(
    /// PostgreSQL's `lower`, for comparing emails case-insensitively.
    fn lower(text: diesel::sql_types::Nullable<diesel::sql_types::Text>) -> diesel::sql_types::Nullable<diesel::sql_types::Text>
);

/// ` AND NOT EXISTS (…)`: the condition that hides a deleted article's rows from the public reads,
/// for the hand-written statements. The article is named by value, so PostgreSQL probes its
/// primary key once per statement, not once per row.
pub(crate) fn push_article_not_deleted<'b>(
    out: &mut AstPass<'_, 'b, Pg>,
    site: &'b str,
    article: &'b str,
) -> QueryResult<()> {
    out.push_sql(" AND NOT EXISTS (SELECT 1 FROM articles WHERE articles.site_id = ");
    out.push_bind_param::<Text, str>(site)?;
    out.push_sql(" AND articles.article_id = ");
    out.push_bind_param::<Text, str>(article)?;
    out.push_sql(" AND articles.lifecycle = ");
    out.push_bind_param::<Text, str>(Lifecycle::Deleted.as_str())?;
    out.push_sql(")");
    Ok(())
}
