//! `ActivityReadRepository`: the timeline, visible through its typed ticket reference (W8).
//! The index `(ticket_id, timestamp DESC, id DESC)` serves a ticket's pages; the
//! trigger-kept `ticket_activity_counts` answers how many a ticket has (see
//! [`counted_timeline`]), so neither grows with the size of the timeline.

use crate::error::storage;
use crate::fragments::{static_sql, static_sql_with};
use crate::models::ActivityRow;
use crate::schema::{activities, tickets};
use crate::scope::{visible_ticket_ids, visible_tickets};
use crate::uow::PgUnitOfWork;
use desk_domain::activity::Activity;
use desk_domain::listing::{Direction, PageSlice, TimeRange};
use desk_domain::policy::Scope;
use desk_domain::ports::{ActivityFilter, ActivityReadRepository, RepoResult};
use desk_domain::*;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

fn scoped(scope: Scope, filter: &ActivityFilter) -> activities::BoxedQuery<'static, Pg> {
    let mut q = activities::table
        .filter(activities::ticket_id.eq_any(visible_ticket_ids(scope)))
        .into_boxed();
    if let Some(id) = filter.id {
        q = q.filter(activities::id.eq(id));
    }
    if let Some(id) = filter.id_lt {
        q = q.filter(activities::id.lt(id));
    }
    if let Some(id) = filter.id_gt {
        q = q.filter(activities::id.gt(id));
    }
    if let Some(from) = filter.timestamp.from {
        q = q.filter(activities::timestamp.ge(from));
    }
    if let Some(to) = filter.timestamp.to {
        q = q.filter(activities::timestamp.le(to));
    }
    if let Some(ticket) = filter.ticket {
        q = q.filter(activities::ticket_id.eq(ticket.0));
    }
    if let Some(actor) = filter.actor {
        q = q.filter(activities::actor_id.eq(actor.0));
    }
    if let Some(verb) = &filter.verb {
        q = q.filter(activities::verb.eq(verb.clone()));
    }
    q
}

fn ordered(
    q: activities::BoxedQuery<'static, Pg>,
    direction: Direction,
) -> activities::BoxedQuery<'static, Pg> {
    match direction {
        Direction::Desc => q.order((activities::timestamp.desc(), activities::id.desc())),
        Direction::Asc => q.order((activities::timestamp.asc(), activities::id.asc())),
    }
}

/// The ticket a timeline filter selects, and its `id__lt` cursor, when those are the only
/// filters: the requests the client's ticket page makes (first page, then "load older").
fn counted_timeline(filter: &ActivityFilter) -> Option<(TicketId, Option<i32>)> {
    // Destructured so that a new filter cannot be forgotten here.
    let ActivityFilter {
        id,
        id_lt,
        id_gt,
        timestamp: TimeRange { from, to },
        ticket,
        actor,
        verb,
    } = filter;
    let unfiltered = id.is_none()
        && id_gt.is_none()
        && from.is_none()
        && to.is_none()
        && actor.is_none()
        && verb.is_none();
    match ticket {
        Some(ticket) if unfiltered => Some((*ticket, *id_lt)),
        _ => None,
    }
}

/// A ticket's number of activities from its counter rows; with a cursor, minus those at or
/// above it (the pages already loaded, a short range of the index `(ticket_id, id)`). One
/// statement, so one snapshot: the counter rows are written in the same transaction as the
/// activities they count.
macro_rules! timeline_count {
    () => {
        "(SELECT coalesce(sum(c.n), 0)::bigint \
         FROM ticket_activity_counts c WHERE c.ticket_id = \"tickets\".\"id\")"
    };
}
const TIMELINE_COUNT: &str = timeline_count!();
const TIMELINE_COUNT_BEFORE: &str = concat!(
    timeline_count!(),
    " - (SELECT count(*) FROM activities a WHERE a.ticket_id = \"tickets\".\"id\" AND a.id >= "
);

fn to_activities(rows: Vec<ActivityRow>) -> RepoResult<Vec<Activity>> {
    rows.into_iter().map(Activity::try_from).collect()
}

impl ActivityReadRepository for PgUnitOfWork<'_> {
    fn activity(&mut self, scope: Scope, id: ActivityId) -> RepoResult<Option<Activity>> {
        let row: Option<ActivityRow> = scoped(scope, &ActivityFilter::default())
            .filter(activities::id.eq(id.0))
            .select(ActivityRow::as_select())
            .first(self.conn)
            .optional()
            .map_err(storage)?;
        row.map(Activity::try_from).transpose()
    }

    fn count_activities(&mut self, scope: Scope, filter: &ActivityFilter) -> RepoResult<i64> {
        let Some((ticket, before)) = counted_timeline(filter) else {
            return scoped(scope, filter)
                .count()
                .get_result(self.conn)
                .map_err(storage);
        };
        let visible = tickets::table
            .filter(tickets::id.eq(ticket.0))
            .filter(visible_tickets(scope));
        let count: Option<i64> = match before {
            None => visible
                .select(static_sql::<BigInt>(TIMELINE_COUNT))
                .first(self.conn),
            Some(cursor) => visible
                .select(static_sql_with::<BigInt>(
                    TIMELINE_COUNT_BEFORE,
                    cursor,
                    ")",
                ))
                .first(self.conn),
        }
        .optional()
        .map_err(storage)?;
        Ok(count.unwrap_or(0))
    }

    fn list_activities(
        &mut self,
        scope: Scope,
        filter: &ActivityFilter,
        direction: Direction,
        page: PageSlice,
    ) -> RepoResult<Vec<Activity>> {
        let rows: Vec<ActivityRow> = ordered(scoped(scope, filter), direction)
            .select(ActivityRow::as_select())
            .limit(page.size)
            .offset(page.offset())
            .load(self.conn)
            .map_err(storage)?;
        to_activities(rows)
    }

    fn activity_ends(
        &mut self,
        scope: Scope,
        filter: &ActivityFilter,
        direction: Direction,
    ) -> RepoResult<Option<(ActivityId, ActivityId)>> {
        let reverse = match direction {
            Direction::Asc => Direction::Desc,
            Direction::Desc => Direction::Asc,
        };
        // Two index-ordered LIMIT 1 look-ups in one statement: cheap even on a ticket with
        // a huge timeline.
        let end = |direction| {
            ordered(scoped(scope, filter), direction)
                .select(activities::id)
                .limit(1)
                .single_value()
        };
        let (first, last): (Option<i32>, Option<i32>) =
            diesel::select((end(direction), end(reverse)))
                .get_result(self.conn)
                .map_err(storage)?;
        Ok(first.zip(last).map(|(f, l)| (ActivityId(f), ActivityId(l))))
    }
}
