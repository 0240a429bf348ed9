//! SQL fragments written by hand that diesel may still keep as prepared statements.
//!
//! Diesel never caches a statement containing [`diesel::dsl::sql`]: the text of such a
//! literal could be built at run time, so every request would parse and plan it again
//! (≈ 0.3 ms of PostgreSQL time for a ticket list, on every request). The fragments here
//! only take `&'static str` — text fixed at compile time — and bind their values, so the
//! statements around them are cached by their SQL text like any other. [`batch_ids`] keeps
//! a cached look-up by a few ids on one plan instead of planning it for every execution.

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

/// A whole statement written by hand, which diesel keeps prepared like its own.
///
/// `diesel::sql_query` and every `diesel::update` are never cached (their text could vary),
/// so the statements every write runs — the ticket's `updated_at`, a job's insert, the
/// worker's completion — were parsed and planned again each time. (The worker's claim stays
/// a `sql_query` on purpose: see `Database::run_next_job`.) A `Prepared` takes a
/// `&'static str` with its placeholders `$1 … $n` in order, and binds like `sql_query`.
/// Every `$` followed by digits counts as a placeholder, inside a string literal too: such
/// text does not belong in these statements (bind the value instead).
#[derive(Debug, Clone, Copy)]
pub struct Prepared<B = NoBinds> {
    sql: &'static str,
    binds: B,
}

/// A statement of fixed text; see [`Prepared`].
pub fn prepared(sql: &'static str) -> Prepared {
    Prepared {
        sql,
        binds: NoBinds,
    }
}

impl<B: BindList> Prepared<B> {
    /// Binds the next placeholder to `value` as SQL type `ST`.
    pub fn bind<ST, V>(self, value: V) -> Prepared<WithBind<B, ST, V>> {
        Prepared {
            sql: self.sql,
            binds: WithBind {
                earlier: self.binds,
                value,
                _type: PhantomData,
            },
        }
    }
}

/// No bound values.
#[derive(Debug, Clone, Copy)]
pub struct NoBinds;

/// The values bound so far, then one more.
#[derive(Debug, Clone, Copy)]
pub struct WithBind<Earlier, ST, V> {
    earlier: Earlier,
    value: V,
    _type: PhantomData<ST>,
}

/// The bound values of a [`Prepared`], pushed one at a time where their placeholder is.
pub trait BindList {
    fn count(&self) -> usize;
    fn push_bind<'b>(&'b self, index: usize, out: AstPass<'_, 'b, Pg>) -> QueryResult<()>;
}

impl BindList for NoBinds {
    fn count(&self) -> usize {
        0
    }
    fn push_bind<'b>(&'b self, index: usize, _: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        Err(placeholder_error(format!(
            "no value bound for ${}",
            index + 1
        )))
    }
}

impl<Earlier, ST, V> BindList for WithBind<Earlier, ST, V>
where
    Earlier: BindList,
    Pg: diesel::sql_types::HasSqlType<ST>,
    V: diesel::serialize::ToSql<ST, Pg>,
{
    fn count(&self) -> usize {
        self.earlier.count() + 1
    }
    fn push_bind<'b>(&'b self, index: usize, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        if index + 1 == self.count() {
            out.push_bind_param::<ST, V>(&self.value)
        } else {
            self.earlier.push_bind(index, out)
        }
    }
}

fn placeholder_error(message: String) -> diesel::result::Error {
    diesel::result::Error::QueryBuilderError(message.into())
}

impl<B: BindList> QueryFragment<Pg> for Prepared<B> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let mut rest = self.sql;
        let mut bound = 0;
        while let Some(at) = rest.find('$') {
            let digits = rest[at + 1..]
                .bytes()
                .take_while(u8::is_ascii_digit)
                .count();
            if digits == 0 {
                out.push_sql(&rest[..=at]);
                rest = &rest[at + 1..];
                continue;
            }
            // diesel numbers the placeholders itself, in the order they are pushed.
            if rest[at + 1..at + 1 + digits] != (bound + 1).to_string() {
                return Err(placeholder_error(format!(
                    "placeholders must run $1, $2, … in order: {}",
                    self.sql
                )));
            }
            out.push_sql(&rest[..at]);
            self.binds.push_bind(bound, out.reborrow())?;
            bound += 1;
            rest = &rest[at + 1 + digits..];
        }
        out.push_sql(rest);
        if bound != self.binds.count() {
            return Err(placeholder_error(format!(
                "{} values bound for {bound} placeholders: {}",
                self.binds.count(),
                self.sql
            )));
        }
        Ok(())
    }
}

impl<B> QueryId for Prepared<B> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<B> diesel::query_builder::Query for Prepared<B> {
    type SqlType = diesel::sql_types::Untyped;
}

impl<B, Conn> diesel::RunQueryDsl<Conn> for Prepared<B> {}

/// The smallest batch PostgreSQL plans once: see [`batch_ids`].
pub const PLANNED_BATCH: usize = 10;

/// The ids of a batched look-up (`id = ANY($1)`), padded to at least [`PLANNED_BATCH`]
/// elements by repeating the last one.
///
/// PostgreSQL plans a prepared statement anew for each execution's values for as long as
/// its generic plan looks dearer than those custom plans. The generic plan assumes an array
/// parameter holds ten elements, so a statement that mostly looks up fewer ids (the caller's
/// own profile, one ticket's links, a timeline's few authors) is planned on every
/// execution: `GET /me` planned its profile look-up for 0.26 ms to execute it in 0.05 ms.
/// With at least ten elements it settles on its generic plan after five executions. These
/// look-ups read a key's index whatever the number of ids, so that plan is the right one
/// for every batch. A repeated id changes nothing: `= ANY` is a predicate (a row matches
/// once), and an index scan drops duplicate keys before it descends. Only for look-ups by
/// the ids alone: beside the caller's scope, the generic plan of `tickets_in` read the
/// participant's every ticket up to the highest id asked for (1.5 ms for 9,500 tickets,
/// against 0.03 ms planned for the values).
pub fn batch_ids(ids: impl IntoIterator<Item = i32>) -> Vec<i32> {
    let mut ids: Vec<i32> = ids.into_iter().collect();
    if let Some(&last) = ids.last() {
        ids.resize(ids.len().max(PLANNED_BATCH), last);
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::sql_types::{Integer, Text};

    #[test]
    fn a_prepared_statement_binds_in_order_and_may_be_cached() {
        let query = prepared("UPDATE t SET a = $1 WHERE b = $2 AND c <> '$'")
            .bind::<Text, _>("x")
            .bind::<Integer, _>(7);
        assert_eq!(
            diesel::debug_query::<Pg, _>(&query).to_string(),
            "UPDATE t SET a = $1 WHERE b = $2 AND c <> '$' -- binds: [\"x\", 7]"
        );
        assert!(query.is_safe_to_cache_prepared(&Pg).unwrap());
        // What it replaces: diesel never caches `sql_query`.
        let raw = diesel::sql_query("SELECT 1");
        assert!(!QueryFragment::<Pg>::is_safe_to_cache_prepared(&raw, &Pg).unwrap());
    }

    #[test]
    fn placeholders_out_of_order_or_unbound_are_refused() {
        let swapped = prepared("SELECT $2, $1")
            .bind::<Integer, _>(1)
            .bind::<Integer, _>(2);
        let unbound = prepared("SELECT $1, $2").bind::<Integer, _>(1);
        let extra = prepared("SELECT 1").bind::<Integer, _>(1);
        let sql = |query: &dyn QueryFragment<Pg>| {
            query.to_sql(&mut diesel::pg::PgQueryBuilder::default(), &Pg)
        };
        assert!(sql(&swapped).is_err());
        assert!(sql(&unbound).is_err());
        assert!(sql(&extra).is_err());
        assert!(sql(&prepared("SELECT $1").bind::<Integer, _>(1)).is_ok());
    }

    #[test]
    fn batches_are_padded_with_their_last_id() {
        assert_eq!(batch_ids([7]), vec![7; PLANNED_BATCH]);
        let padded = batch_ids([3, 1, 2]);
        assert_eq!(padded.len(), PLANNED_BATCH);
        assert_eq!(&padded[..3], &[3, 1, 2]);
        assert!(padded[3..].iter().all(|&id| id == 2));
        let many: Vec<i32> = (0..25).collect();
        assert_eq!(
            batch_ids(many.clone()),
            many,
            "ten or more stay as they are"
        );
        assert!(batch_ids([]).is_empty());
    }
}
