//! SQL fragments written by hand that diesel may still keep as prepared statements.
//!
//! Diesel never caches a statement containing [`diesel::dsl::sql`]: the text of such a
//! literal could be built at run time, so every request would parse and plan it again
//! (≈ 0.3 ms of PostgreSQL time for a ticket list, on every request). The fragments here
//! only take `&'static str` — text fixed at compile time — and bind their values, so the
//! statements around them are cached by their SQL text like any other.

use diesel::expression::{is_aggregate, AppearsOnTable, Expression, SelectableExpression};
use diesel::expression::{TypedExpressionType, ValidGrouping};
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::Integer;
use diesel::QueryResult;
use std::marker::PhantomData;

/// `before $1 after`, with `$1` an integer bind (`after` may be empty).
#[derive(Debug, Clone, Copy)]
pub struct StaticSql<ST> {
    before: &'static str,
    bound: Option<i32>,
    after: &'static str,
    _type: PhantomData<ST>,
}

/// A constant piece of SQL of type `ST`.
pub fn static_sql<ST>(sql: &'static str) -> StaticSql<ST> {
    StaticSql {
        before: sql,
        bound: None,
        after: "",
        _type: PhantomData,
    }
}

/// Constant SQL around one bound integer: `before $1 after`.
pub fn static_sql_with<ST>(before: &'static str, value: i32, after: &'static str) -> StaticSql<ST> {
    StaticSql {
        before,
        bound: Some(value),
        after,
        _type: PhantomData,
    }
}

impl<ST: TypedExpressionType> Expression for StaticSql<ST> {
    type SqlType = ST;
}

impl<ST> QueryFragment<Pg> for StaticSql<ST> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(self.before);
        if let Some(value) = &self.bound {
            out.push_bind_param::<Integer, i32>(value)?;
        }
        out.push_sql(self.after);
        Ok(())
    }
}

impl<ST> QueryId for StaticSql<ST> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<QS, ST> SelectableExpression<QS> for StaticSql<ST> where Self: Expression {}

impl<QS, ST> AppearsOnTable<QS> for StaticSql<ST> where Self: Expression {}

impl<ST, GB> ValidGrouping<GB> for StaticSql<ST> {
    type IsAggregate = is_aggregate::Never;
}
