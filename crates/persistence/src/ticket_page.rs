//! [`TicketRepository::ticket_page`] in one statement, where the whole set of matches has to
//! be read anyway.
//!
//! The list answers a page and the per-status totals of everything matching the filters but
//! the status. Two statements read the matches twice. When the page cannot stop early — a
//! search ranks every match, and a participant's tickets (staff included: their scope is
//! what they take part in) are fetched by their ids, not in list order — one statement reads
//! them once: the matches' narrow rows are materialized, counted, and the page chosen among
//! them; only the page's rows are read whole. A superuser's list without a search, and the
//! list of somebody in more than [`ONE_PASS_MAX_TICKETS`] tickets, walk an index in list
//! order and stop after a page (a superuser's totals come from the counters when only the
//! status is filtered): the two-pass path stays.

use crate::error::storage;
use crate::models::TicketRow;
use crate::profiles::tickets_count;
use crate::schema::profiles;
use crate::scope::{visible_tickets_as_id_list, TicketPredicate};
use crate::tickets::{
    only_keywords_and_statuses, only_status_filtered, search_query, ticket_predicate, SearchQuery,
};
use crate::uow::PgUnitOfWork;
use desk_domain::listing::{
    Direction, PageNumber, PageRequest, StatusTotals, TicketFilter, TicketSortField,
};
use desk_domain::policy::Scope;
use desk_domain::ports::{ticket_page_in_two_passes, RepoResult, TicketPage};
use desk_domain::{DomainError, ProfileId, Ticket, TicketStatus};
use diesel::dsl::AsSelect;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Text};

pub(crate) fn ticket_page(
    uow: &mut PgUnitOfWork<'_>,
    scope: Scope,
    filter: &TicketFilter,
    sort: &[(TicketSortField, Direction)],
    request: PageRequest,
) -> RepoResult<TicketPage> {
    // `last` needs the total first; an invalid number (or one whose offset overflows) is
    // refused by the two-pass path.
    let offset = match request.number {
        PageNumber::Number(n) if n >= 1 => (n - 1).checked_mul(request.size),
        _ => None,
    };
    let one_pass = offset.is_some()
        && match scope {
            _ if filter.search.is_some() => true,
            Scope::ParticipantOf(profile) => participation(uow, profile)? <= ONE_PASS_MAX_TICKETS,
            _ => false,
        };
    let (true, Some(offset)) = (one_pass, offset) else {
        return ticket_page_in_two_passes(uow, scope, filter, sort, request);
    };
    let matches = if only_status_filtered(filter) {
        // The scope alone: see `visible_tickets_as_id_list`. With another filter, a plan
        // for the values may start from that filter's index instead (a narrow deadline
        // range of somebody in 35,000 tickets: 0.16 ms, against 50 ms by their ids).
        visible_tickets_as_id_list(scope)
    } else {
        ticket_predicate(scope, filter, false)
    };
    let statement = PageWithTotals {
        matches,
        search: filter.search.as_deref().map(search_query),
        statuses: filter.status_in.as_ref(),
        sort,
        limit: request.size,
        offset,
        page_hidden_from_planner: scope == Scope::Everything && keywords_only(filter),
        columns: Option::<TicketRow>::as_select(),
    };
    let rows: Vec<PagedTicketRow> = statement.load(uow.conn).map_err(storage)?;
    let Some(first) = rows.first() else {
        return Err(DomainError::Storage(
            "the ticket page came without its totals".into(),
        ));
    };
    let mut totals = StatusTotals::default();
    let (_, statuses, counts) = first;
    for (status, n) in statuses.iter().zip(counts) {
        if let Some(status) = TicketStatus::parse(status) {
            totals.add(status, *n);
        }
    }
    // Out of range is `InvalidPage`; an empty first page is a page.
    let page = request.resolve(totals.matching(filter))?;
    let tickets = rows
        .into_iter()
        .filter_map(|(ticket, _, _)| ticket)
        .map(Ticket::try_from)
        .collect::<RepoResult<Vec<_>>>()?;
    Ok(TicketPage {
        totals,
        page,
        tickets,
    })
}

/// The most tickets a participant's list (without a search) reads in one pass.
///
/// The totals read all of a person's tickets either way. One pass also materializes and
/// sorts them, which the two-pass page spares a busy person: it walks the creation-date
/// index in list order and stops after a page. Measured under wrk, 16 connections: for the
/// benchmark's requester in 56 tickets one pass is the faster; for somebody in 4,139 the
/// two passes were (346-371 against 249-296 requests/s); in pgbench, one client, one pass
/// still won at 1,269 tickets (1.7 against 3.1 ms).
const ONE_PASS_MAX_TICKETS: i64 = 1_000;

/// How many tickets `profile` takes part in: their `tickets-count`, from the sign-in when
/// it is the caller (the identity look-up reads it), else from the counters (a few rows of
/// one index range).
fn participation(uow: &mut PgUnitOfWork<'_>, profile: ProfileId) -> RepoResult<i64> {
    if let Some((signed_in, n)) = uow.signed_in_tickets {
        if signed_in == profile {
            return Ok(n);
        }
    }
    let count: Option<i64> = profiles::table
        .find(profile.0)
        .select(tickets_count())
        .first(uow.conn)
        .optional()
        .map_err(storage)?;
    Ok(count.unwrap_or(0))
}

/// Whether `filter` holds keywords and perhaps statuses, nothing else.
///
/// Such a search over every ticket runs on one generic plan once its page size and offset
/// are hidden from the planner as sub-selects. The keywords already are (a sub-select, see
/// [`crate::tickets::SearchQuery`]) and the statuses only narrow the materialized matches,
/// so every plan of the statement is the same: the text index, then the page. Only the
/// LIMIT made a plan for the values look cheaper than the generic one, and the statement was
/// planned for every search (0.45 ms). Not with other filters or a participant's scope: a
/// generic plan would guess their selectivity, and may start from the wrong index.
fn keywords_only(filter: &TicketFilter) -> bool {
    filter.search.is_some() && only_keywords_and_statuses(filter)
}

/// A page's ticket, with the totals (the same on every row); a page without tickets is one
/// row of totals alone.
type PagedTicketRow = (Option<TicketRow>, Vec<String>, Vec<i64>);

/// ```sql
/// WITH matches AS MATERIALIZED (SELECT id, status[, the sort's columns][, rank]
///                               FROM tickets WHERE <scope and filters but the status>),
///      totals AS (<per-status counts of matches, as two arrays>),
///      page AS (SELECT … FROM matches [WHERE status = ANY($s)] ORDER BY … LIMIT … OFFSET …)
/// SELECT <ticket row>, totals.statuses, totals.counts
/// FROM totals LEFT JOIN (page JOIN tickets ON tickets.id = page.id) ON true ORDER BY …
/// ```
/// The order is [`crate::tickets::ordered`]'s: rank first when searching, the sort fields,
/// then the id.
struct PageWithTotals<'a> {
    matches: TicketPredicate,
    search: Option<SearchQuery>,
    statuses: Option<&'a Vec<String>>,
    sort: &'a [(TicketSortField, Direction)],
    limit: i64,
    offset: i64,
    /// `LIMIT (SELECT $n) OFFSET (SELECT $m)`: see [`keywords_only`].
    page_hidden_from_planner: bool,
    /// The whole row of the page's tickets; none for a page without tickets.
    columns: AsSelect<Option<TicketRow>, Pg>,
}

impl PageWithTotals<'_> {
    fn push_order(&self, out: &mut AstPass<'_, '_, Pg>, table: &'static str) {
        let mut keys: Vec<(&str, Direction)> = Vec::new();
        if self.search.is_some() {
            keys.push(("rank", Direction::Desc));
        }
        for (field, direction) in self.sort {
            keys.push((sort_column(*field), *direction));
        }
        keys.push(("id", Direction::Asc));
        out.push_sql(" ORDER BY ");
        for (i, (column, direction)) in keys.into_iter().enumerate() {
            if i > 0 {
                out.push_sql(", ");
            }
            out.push_sql(table);
            out.push_sql(column);
            // PostgreSQL's NULL placement, as in the two-pass list: a missing deadline is
            // last ascending, first descending.
            out.push_sql(match direction {
                Direction::Asc => " ASC",
                Direction::Desc => " DESC",
            });
        }
    }
}

fn sort_column(field: TicketSortField) -> &'static str {
    match field {
        TicketSortField::CreatedAt => "created_at",
        TicketSortField::DeadlineAt => "deadline_at",
    }
}

impl QueryFragment<Pg> for PageWithTotals<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        // Only what the totals and the order read: the narrower the materialized rows, the
        // less a search copies (1,227 matches: 0.1 ms of 2.5).
        out.push_sql("WITH matches AS MATERIALIZED (SELECT tickets.id, tickets.status");
        for column in [TicketSortField::CreatedAt, TicketSortField::DeadlineAt] {
            if self.sort.iter().any(|(field, _)| *field == column) {
                out.push_sql(", tickets.");
                out.push_sql(sort_column(column));
            }
        }
        if let Some(query) = &self.search {
            out.push_sql(", ts_rank(tickets.search_vector, ");
            query.walk_ast(out.reborrow())?;
            out.push_sql(") AS rank");
        }
        out.push_sql(" FROM tickets WHERE ");
        self.matches.walk_ast(out.reborrow())?;
        // One aggregate with a filter per status (the domain's fixed set) rather than a
        // grouping: no hash table to build for five groups (0.1 ms of a search).
        out.push_sql("), totals AS (SELECT ARRAY[");
        for (i, status) in TicketStatus::ALL.iter().enumerate() {
            out.push_sql(if i == 0 { "'" } else { ", '" });
            out.push_sql(status.as_str());
            out.push_sql("'");
        }
        out.push_sql("]::text[] AS statuses, ARRAY[");
        for (i, status) in TicketStatus::ALL.iter().enumerate() {
            out.push_sql(if i == 0 { "" } else { ", " });
            out.push_sql("count(*) FILTER (WHERE status = '");
            out.push_sql(status.as_str());
            out.push_sql("')");
        }
        out.push_sql("] AS counts FROM matches), page AS (SELECT * FROM matches");
        if let Some(statuses) = &self.statuses {
            out.push_sql(" WHERE status = ANY(");
            out.push_bind_param::<Array<Text>, _>(*statuses)?;
            out.push_sql(")");
        }
        self.push_order(&mut out, "");
        let (open, close) = if self.page_hidden_from_planner {
            ("(SELECT ", "::bigint)")
        } else {
            ("", "")
        };
        out.push_sql(" LIMIT ");
        out.push_sql(open);
        out.push_bind_param::<BigInt, _>(&self.limit)?;
        out.push_sql(close);
        out.push_sql(" OFFSET ");
        out.push_sql(open);
        out.push_bind_param::<BigInt, _>(&self.offset)?;
        out.push_sql(close);
        out.push_sql(") SELECT ");
        self.columns.walk_ast(out.reborrow())?;
        out.push_sql(
            ", totals.statuses, totals.counts \
             FROM totals LEFT JOIN (page JOIN tickets ON tickets.id = page.id) ON true",
        );
        self.push_order(&mut out, "page.");
        Ok(())
    }
}

impl QueryId for PageWithTotals<'_> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

/// Typed, so rows are read by position: by name, each of a page row's 27 columns was looked
/// up among all of them (a tenth of the server's CPU time for a list).
impl diesel::query_builder::Query for PageWithTotals<'_> {
    type SqlType = (AsSelect<Option<TicketRow>, Pg>, Array<Text>, Array<BigInt>);
}

impl<Conn> RunQueryDsl<Conn> for PageWithTotals<'_> {}
