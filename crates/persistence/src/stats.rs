//! `StatsRepository`: each statistic is ONE grouped SQL query over all rows (W9). The
//! grouping values come back with every row; `avg-time` keeps the original formula (W23).

use crate::error::storage;
use crate::uow::PgUnitOfWork;
use chrono::{DateTime, Utc};
use desk_domain::ports::{
    RepoResult, ReviewStat, ReviewStatsGroup, ReviewStatsQuery, StatsRepository, TicketStat,
    TicketStatsGroup, TicketStatsQuery,
};
use desk_domain::{ProfileId, TicketId};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text, Timestamptz};

/// A bind parameter of a statistics query, in the order of its `$n` placeholders.
enum Bind {
    Time(DateTime<Utc>),
    Text(String),
    Texts(Vec<String>),
    Int(i32),
}

/// SQL text with positional parameters, built together so they cannot drift apart.
#[derive(Default)]
struct Sql {
    text: String,
    binds: Vec<Bind>,
}

impl Sql {
    fn push(&mut self, text: &str) -> &mut Self {
        self.text.push_str(text);
        self
    }
    /// Appends `$n` for this value.
    fn bind(&mut self, value: Bind) -> &mut Self {
        self.binds.push(value);
        self.text.push_str(&format!("${}", self.binds.len()));
        self
    }
    fn query(self) -> BoxedSqlQuery<'static, Pg, SqlQuery> {
        let mut q = diesel::sql_query(self.text).into_boxed::<Pg>();
        for b in self.binds {
            q = match b {
                Bind::Time(t) => q.bind::<Timestamptz, _>(t),
                Bind::Text(s) => q.bind::<Text, _>(s),
                Bind::Texts(v) => q.bind::<Array<Text>, _>(v),
                Bind::Int(i) => q.bind::<Integer, _>(i),
            };
        }
        q
    }
}

#[derive(QueryableByName)]
struct TicketStatRow {
    #[diesel(sql_type = Nullable<Timestamptz>)]
    month: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Text>)]
    country: Option<String>,
    #[diesel(sql_type = Nullable<Integer>)]
    responder: Option<i32>,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = BigInt)]
    avg_hours: i64,
    #[diesel(sql_type = BigInt)]
    past_deadline: i64,
}

#[derive(QueryableByName)]
struct ReviewStatRow {
    #[diesel(sql_type = Nullable<Integer>)]
    ticket: Option<i32>,
    #[diesel(sql_type = Nullable<Integer>)]
    responder: Option<i32>,
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = BigInt)]
    ratings: i64,
}

/// The responder filters: on the grouping join when grouping by responder (the original
/// reuses that join), else as semi-joins that never repeat a row.
fn responder_filters(
    sql: &mut Sql,
    ticket_column: &str,
    joined: bool,
    responder: Option<ProfileId>,
    has_responder: Option<bool>,
) {
    if let Some(user) = responder {
        if joined {
            sql.push(" AND r.user_id = ").bind(Bind::Int(user.0));
        } else {
            sql.push(&format!(
                " AND {ticket_column} IN (SELECT rf.ticket_id FROM responders rf WHERE rf.user_id = "
            ))
            .bind(Bind::Int(user.0))
            .push(")");
        }
    }
    match (has_responder, joined) {
        (Some(true), true) => {
            sql.push(" AND r.user_id IS NOT NULL");
        }
        (Some(false), true) => {
            sql.push(" AND r.user_id IS NULL");
        }
        (Some(true), false) => {
            sql.push(&format!(
                " AND {ticket_column} IN (SELECT rf.ticket_id FROM responders rf)"
            ));
        }
        (Some(false), false) => {
            sql.push(&format!(
                " AND {ticket_column} NOT IN (SELECT rf.ticket_id FROM responders rf)"
            ));
        }
        (None, _) => {}
    }
}

fn ticket_stats_sql(q: &TicketStatsQuery) -> Sql {
    let mut sql = Sql::default();
    let (month, country, responder, join) = match q.group {
        TicketStatsGroup::Month => (
            "date_trunc('month', t.created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'",
            "NULL::text",
            "NULL::int4",
            "",
        ),
        TicketStatsGroup::Country => (
            "NULL::timestamptz",
            "c.country::text",
            "NULL::int4",
            " CROSS JOIN LATERAL unnest(t.countries) AS c(country)",
        ),
        TicketStatsGroup::Responder => (
            "NULL::timestamptz",
            "NULL::text",
            "r.user_id",
            " LEFT JOIN responders r ON r.ticket_id = t.id",
        ),
    };
    sql.push(&format!(
        "SELECT {month} AS month, {country} AS country, {responder} AS responder, \
         t.status::text AS status, count(*) AS n, \
         COALESCE(trunc(extract(epoch FROM avg(t.updated_at - t.created_at)) / 3600), 0)::int8 AS avg_hours, \
         count(*) FILTER (WHERE t.updated_at > t.deadline_at) AS past_deadline \
         FROM tickets t{join} WHERE t.created_at >= "
    ))
    .bind(Bind::Time(q.from));
    if let Some(to) = q.to {
        sql.push(" AND t.created_at <= ").bind(Bind::Time(to));
    }
    if let Some(c) = &q.country {
        sql.push(" AND t.country = ").bind(Bind::Text(c.clone()));
    }
    if let Some(statuses) = &q.status_in {
        sql.push(" AND t.status = ANY(")
            .bind(Bind::Texts(statuses.clone()))
            .push(")");
    }
    if let Some(kind) = q.kind {
        sql.push(" AND t.kind = ")
            .bind(Bind::Text(kind.as_str().to_string()));
    }
    responder_filters(
        &mut sql,
        "t.id",
        q.group == TicketStatsGroup::Responder,
        q.responder,
        q.has_responder,
    );
    sql.push(" GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3 NULLS FIRST, 4");
    sql
}

fn review_stats_sql(q: &ReviewStatsQuery) -> Sql {
    let mut sql = Sql::default();
    let (ticket, responder, join) = match q.group {
        ReviewStatsGroup::Ticket => ("v.ticket_id", "NULL::int4", ""),
        ReviewStatsGroup::Responder => (
            "NULL::int4",
            "r.user_id",
            " LEFT JOIN responders r ON r.ticket_id = v.ticket_id",
        ),
    };
    sql.push(&format!(
        "SELECT {ticket} AS ticket, {responder} AS responder, count(*) AS n, \
         COALESCE(sum(v.rating), 0)::int8 AS ratings \
         FROM reviews v{join} WHERE v.created_at >= "
    ))
    .bind(Bind::Time(q.from));
    if let Some(to) = q.to {
        sql.push(" AND v.created_at <= ").bind(Bind::Time(to));
    }
    if let Some(t) = q.ticket {
        sql.push(" AND v.ticket_id = ").bind(Bind::Int(t.0));
    }
    if q.ticket_isnull == Some(true) {
        // A review always has its ticket.
        sql.push(" AND FALSE");
    }
    responder_filters(
        &mut sql,
        "v.ticket_id",
        q.group == ReviewStatsGroup::Responder,
        q.responder,
        q.has_responder,
    );
    sql.push(" GROUP BY 1, 2 ORDER BY 1, 2 NULLS FIRST");
    sql
}

/// A statistic groups up to every ticket: with the default 4 MB the sort spills to disk
/// (50 ms at 100,000 tickets). The setting lasts until the request's transaction ends.
fn sort_in_memory(conn: &mut PgConnection) -> RepoResult<()> {
    use diesel::connection::SimpleConnection;
    conn.batch_execute("SET LOCAL work_mem = '32MB'")
        .map_err(storage)
}

impl StatsRepository for PgUnitOfWork<'_> {
    fn ticket_stats(&mut self, query: &TicketStatsQuery) -> RepoResult<Vec<TicketStat>> {
        sort_in_memory(self.conn)?;
        let rows: Vec<TicketStatRow> = ticket_stats_sql(query)
            .query()
            .load(self.conn)
            .map_err(storage)?;
        Ok(rows
            .into_iter()
            .map(|r| TicketStat {
                month: r.month,
                country: r.country,
                responder: r.responder.map(ProfileId),
                status: r.status,
                count: r.n,
                avg_hours: r.avg_hours,
                past_deadline: r.past_deadline,
            })
            .collect())
    }

    fn review_stats(&mut self, query: &ReviewStatsQuery) -> RepoResult<Vec<ReviewStat>> {
        sort_in_memory(self.conn)?;
        let rows: Vec<ReviewStatRow> = review_stats_sql(query)
            .query()
            .load(self.conn)
            .map_err(storage)?;
        Ok(rows
            .into_iter()
            .map(|r| ReviewStat {
                ticket: r.ticket.map(TicketId),
                responder: r.responder.map(ProfileId),
                count: r.n,
                ratings: r.ratings,
            })
            .collect())
    }
}
