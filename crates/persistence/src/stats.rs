//! `StatsRepository`: each statistic is ONE grouped SQL query over all rows (W9). The
//! grouping values come back with every row; `avg-time` keeps the original formula (W23).

use crate::error::storage;
use crate::uow::PgUnitOfWork;
use chrono::{DateTime, Datelike, TimeZone, Utc};
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

/// The first instant of `t`'s calendar month (UTC).
fn month_start(t: DateTime<Utc>) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(t.year(), t.month(), 1, 0, 0, 0)
        .single()
        .unwrap_or(t)
}

/// `t` if it starts a month, else the start of the next month: where whole months begin.
fn month_ceil(t: DateTime<Utc>) -> DateTime<Utc> {
    if t == month_start(t) {
        return t;
    }
    let (year, month) = if t.month() == 12 {
        (t.year() + 1, 1)
    } else {
        (t.year(), t.month() + 1)
    };
    Utc.with_ymd_and_hms(year, month, 1, 0, 0, 0)
        .single()
        .unwrap_or(t)
}

/// The summary tables hold whole months of every ticket, so they answer a statistic whose
/// only filters are the window and the statuses (what the client's reporting pages send).
fn summary_answers(q: &TicketStatsQuery) -> bool {
    q.country.is_none() && q.kind.is_none() && q.responder.is_none() && q.has_responder.is_none()
}

/// The first instant of `t`'s calendar year (UTC).
fn year_start(t: DateTime<Utc>) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(t.year(), 1, 1, 0, 0, 0)
        .single()
        .unwrap_or(t)
}

/// `t` if it starts a year, else the start of the next year: where whole years begin.
fn year_ceil(t: DateTime<Utc>) -> DateTime<Utc> {
    if t == year_start(t) {
        return t;
    }
    Utc.with_ymd_and_hms(t.year() + 1, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or(t)
}

/// The `dimension`s of the summary rows for a grouping (see the migration): per month, and
/// per year where the grouping has yearly rows.
fn dimensions(group: TicketStatsGroup) -> (i32, Option<i32>) {
    match group {
        TicketStatsGroup::Month => (0, None),
        TicketStatsGroup::Country => (1, Some(3)),
        TicketStatsGroup::Responder => (2, Some(4)),
    }
}

/// The summary rows covering the whole months [whole, until) (`None` = no end): whole
/// years from the yearly rows where the grouping has them, the months around them from the
/// monthly rows. Each is (dimension, first period, end of the periods).
fn summary_ranges(
    group: TicketStatsGroup,
    whole: DateTime<Utc>,
    until: Option<DateTime<Utc>>,
) -> Vec<(i32, DateTime<Utc>, Option<DateTime<Utc>>)> {
    let (monthly, yearly) = dimensions(group);
    let Some(yearly) = yearly else {
        return vec![(monthly, whole, until)];
    };
    let first_year = year_ceil(whole);
    let years_end = until.map(year_start);
    // [whole, first_year) ∪ [first_year, years_end) ∪ [max(first_year, years_end), until):
    // exactly [whole, until), the middle part empty when no whole year lies in between.
    let mut ranges = vec![
        (
            monthly,
            whole,
            Some(until.map_or(first_year, |u| u.min(first_year))),
        ),
        (yearly, first_year, years_end),
    ];
    if let (Some(until), Some(years_end)) = (until, years_end) {
        ranges.push((monthly, first_year.max(years_end), Some(until)));
    }
    ranges
}

/// One statistic as ONE query: the per-group sums over a union of parts, each giving rows
/// of (month, status, country, responder_id, n, age_us, past_deadline). Without filters
/// beyond window and status, the whole months of the window come from `ticket_stats` and
/// its unfolded `ticket_stats_deltas`, and only the partial months at the window's edges are
/// read from the tickets; otherwise every ticket of the window is read.
fn ticket_stats_sql(q: &TicketStatsQuery) -> Sql {
    let (month, country, responder) = match q.group {
        TicketStatsGroup::Month => ("x.month", "NULL::text", "NULL::int4"),
        TicketStatsGroup::Country => ("NULL::timestamptz", "x.country", "NULL::int4"),
        TicketStatsGroup::Responder => (
            "NULL::timestamptz",
            "NULL::text",
            "NULLIF(x.responder_id, 0)",
        ),
    };
    let mut sql = Sql::default();
    sql.push(&format!(
        "SELECT {month} AS month, {country} AS country, {responder} AS responder, \
         x.status AS status, sum(x.n)::int8 AS n, \
         COALESCE(trunc(sum(x.age_us) / NULLIF(sum(x.n), 0) / 3600000000), 0)::int8 AS avg_hours, \
         sum(x.past_deadline)::int8 AS past_deadline FROM ("
    ));
    if summary_answers(q) {
        // [from, whole) from the tickets, whole months [whole, until) from the summary,
        // [max(whole, until), to] from the tickets: together exactly [from, to].
        let whole = month_ceil(q.from);
        let until = q.to.map(month_start);
        let ranges = summary_ranges(q.group, whole, until);
        for (i, table) in ["ticket_stats", "ticket_stats_deltas"].iter().enumerate() {
            if i > 0 {
                sql.push(" UNION ALL ");
            }
            sql.push(&format!(
                "SELECT s.month, s.status, s.country, s.responder_id, s.n, s.age_us, \
                 s.past_deadline FROM {table} s WHERE ("
            ));
            for (j, (dimension, first, end)) in ranges.iter().enumerate() {
                if j > 0 {
                    sql.push(" OR ");
                }
                sql.push("(s.dimension = ")
                    .bind(Bind::Int(*dimension))
                    .push(" AND s.month >= ")
                    .bind(Bind::Time(*first));
                if let Some(end) = end {
                    sql.push(" AND s.month < ").bind(Bind::Time(*end));
                }
                sql.push(")");
            }
            sql.push(")");
            if let Some(statuses) = &q.status_in {
                sql.push(" AND s.status = ANY(")
                    .bind(Bind::Texts(statuses.clone()))
                    .push(")");
            }
        }
        if whole > q.from {
            sql.push(" UNION ALL ");
            ticket_rows(&mut sql, q, q.from, Some(whole));
        }
        if let Some(until) = until {
            sql.push(" UNION ALL ");
            ticket_rows(&mut sql, q, until.max(whole), None);
        }
    } else {
        ticket_rows(&mut sql, q, q.from, None);
    }
    sql.push(") x GROUP BY 1, 2, 3, 4 HAVING sum(x.n) <> 0 ORDER BY 1, 2, 3 NULLS FIRST, 4");
    sql
}

/// One row per ticket (and grouping element) created from `from` and before `before`,
/// with every filter of the query, the window's end (`to`) included.
fn ticket_rows(
    sql: &mut Sql,
    q: &TicketStatsQuery,
    from: DateTime<Utc>,
    before: Option<DateTime<Utc>>,
) {
    let (month, country, responder, join) = match q.group {
        TicketStatsGroup::Month => (
            "date_trunc('month', t.created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'",
            "''::text",
            "0",
            "",
        ),
        TicketStatsGroup::Country => (
            "NULL::timestamptz",
            "c.country::text",
            "0",
            " CROSS JOIN LATERAL unnest(t.countries) AS c(country)",
        ),
        TicketStatsGroup::Responder => (
            "NULL::timestamptz",
            "''::text",
            "COALESCE(r.user_id, 0)",
            " LEFT JOIN responders r ON r.ticket_id = t.id",
        ),
    };
    sql.push(&format!(
        "SELECT {month} AS month, t.status::text AS status, {country} AS country, \
         {responder} AS responder_id, 1::int8 AS n, \
         (extract(epoch FROM t.updated_at - t.created_at) * 1000000)::int8 AS age_us, \
         (CASE WHEN t.updated_at > t.deadline_at THEN 1 ELSE 0 END)::int8 AS past_deadline \
         FROM tickets t{join} WHERE t.created_at >= "
    ))
    .bind(Bind::Time(from));
    if let Some(before) = before {
        sql.push(" AND t.created_at < ").bind(Bind::Time(before));
    }
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
        sql,
        "t.id",
        q.group == TicketStatsGroup::Responder,
        q.responder,
        q.has_responder,
    );
}

/// The review summary (`review_stats`, one row per month and responder) answers the
/// responder grouping when the window is its only filter (what the client sends).
fn review_summary_answers(q: &ReviewStatsQuery) -> bool {
    q.group == ReviewStatsGroup::Responder
        && q.ticket.is_none()
        && q.ticket_isnull.is_none()
        && q.responder.is_none()
        && q.has_responder.is_none()
}

/// Reviews per responder of the window as ONE query: its whole months from the summary,
/// the partial months at its edges from the reviews, as [`ticket_stats_sql`] does.
fn review_summary_sql(q: &ReviewStatsQuery) -> Sql {
    let whole = month_ceil(q.from);
    let until = q.to.map(month_start);
    let mut sql = Sql::default();
    sql.push(
        "SELECT NULL::int4 AS ticket, NULLIF(x.responder_id, 0) AS responder, \
         sum(x.n)::int8 AS n, sum(x.ratings)::int8 AS ratings FROM (\
         SELECT s.responder_id, s.n, s.ratings FROM review_stats s WHERE s.month >= ",
    )
    .bind(Bind::Time(whole));
    if let Some(until) = until {
        sql.push(" AND s.month < ").bind(Bind::Time(until));
    }
    if whole > q.from {
        sql.push(" UNION ALL ");
        review_rows(&mut sql, q.from, Some(whole), q.to);
    }
    if let Some(until) = until {
        sql.push(" UNION ALL ");
        review_rows(&mut sql, until.max(whole), None, q.to);
    }
    sql.push(") x GROUP BY 1, 2 HAVING sum(x.n) <> 0 ORDER BY 1, 2 NULLS FIRST");
    sql
}

/// One row per review created from `from`, before `before` and until `to`, and responder
/// of its ticket (0 when none).
fn review_rows(
    sql: &mut Sql,
    from: DateTime<Utc>,
    before: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) {
    sql.push(
        "SELECT COALESCE(r.user_id, 0) AS responder_id, 1::int8 AS n, v.rating::int8 AS ratings \
         FROM reviews v LEFT JOIN responders r ON r.ticket_id = v.ticket_id \
         WHERE v.created_at >= ",
    )
    .bind(Bind::Time(from));
    if let Some(before) = before {
        sql.push(" AND v.created_at < ").bind(Bind::Time(before));
    }
    if let Some(to) = to {
        sql.push(" AND v.created_at <= ").bind(Bind::Time(to));
    }
}

fn review_stats_sql(q: &ReviewStatsQuery) -> Sql {
    if review_summary_answers(q) {
        return review_summary_sql(q);
    }
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

/// Moves the differences that writers appended to `ticket_stats_deltas` into the summary
/// (`ticket_stats_fold()`, see the migration); returns how many summary rows changed. Rows
/// another transaction is folding are skipped, never waited for.
pub(crate) fn fold_ticket_stats(conn: &mut PgConnection) -> QueryResult<i64> {
    diesel::select(ticket_stats_fold()).get_result(conn)
}

diesel::define_sql_function!(fn ticket_stats_fold() -> BigInt);

/// A statistic groups up to every ticket: with the default 4 MB the sort spills to disk
/// (50 ms at 100,000 tickets). The setting lasts until the request's transaction ends.
fn sort_in_memory(conn: &mut PgConnection) -> RepoResult<()> {
    use diesel::connection::SimpleConnection;
    conn.batch_execute("SET LOCAL work_mem = '32MB'")
        .map_err(storage)
}

impl StatsRepository for PgUnitOfWork<'_> {
    fn ticket_stats(&mut self, query: &TicketStatsQuery) -> RepoResult<Vec<TicketStat>> {
        if summary_answers(query) {
            // What writers appended since the last fold; the query reads what is left.
            fold_ticket_stats(self.conn).map_err(storage)?;
        } else {
            sort_in_memory(self.conn)?;
        }
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
        if !review_summary_answers(query) {
            sort_in_memory(self.conn)?;
        }
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
