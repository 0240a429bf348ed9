//! `ActivityReadRepository`: the timeline, visible through its typed ticket reference (W8).
//! The index `(ticket_id, timestamp DESC, id DESC)` serves a ticket's pages.

use crate::error::storage;
use crate::models::ActivityRow;
use crate::schema::activities;
use crate::scope::visible_ticket_ids;
use crate::uow::PgUnitOfWork;
use desk_domain::activity::Activity;
use desk_domain::listing::{Direction, PageSlice};
use desk_domain::policy::Scope;
use desk_domain::ports::{ActivityFilter, ActivityReadRepository, RepoResult};
use desk_domain::*;
use diesel::pg::Pg;
use diesel::prelude::*;

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
        scoped(scope, filter)
            .count()
            .get_result(self.conn)
            .map_err(storage)
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
        // Two index-ordered LIMIT 1 look-ups: cheap even on a ticket with a huge timeline.
        let first: Option<i32> = ordered(scoped(scope, filter), direction)
            .select(activities::id)
            .first(self.conn)
            .optional()
            .map_err(storage)?;
        let last: Option<i32> = ordered(scoped(scope, filter), reverse)
            .select(activities::id)
            .first(self.conn)
            .optional()
            .map_err(storage)?;
        Ok(first.zip(last).map(|(f, l)| (ActivityId(f), ActivityId(l))))
    }
}
