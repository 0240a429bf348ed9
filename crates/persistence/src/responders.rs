//! `ResponderRepository`, scoped through the visible tickets.

use crate::error::storage;
use crate::models::ResponderRow;
use crate::schema::{responders, tickets};
use crate::scope::visible_ticket_ids;
use crate::uow::PgUnitOfWork;
use chrono::{DateTime, Utc};
use desk_domain::listing::{Direction, PageSlice};
use desk_domain::policy::Scope;
use desk_domain::ports::{RepoResult, ResponderRepository, RowFilter, RowOrder};
use desk_domain::*;
use diesel::pg::Pg;
use diesel::prelude::*;

fn scoped(scope: Scope, filter: &RowFilter) -> responders::BoxedQuery<'static, Pg> {
    let mut q = responders::table
        .filter(responders::ticket_id.eq_any(visible_ticket_ids(scope)))
        .into_boxed();
    if let Some(id) = filter.id {
        q = q.filter(responders::id.eq(id));
    }
    if let Some(ticket) = filter.ticket {
        q = q.filter(responders::ticket_id.eq(ticket.0));
    }
    if let Some(user) = filter.user {
        q = q.filter(responders::user_id.eq(user.0));
    }
    if let Some(from) = filter.created_at.from {
        q = q.filter(responders::created_at.ge(from));
    }
    if let Some(to) = filter.created_at.to {
        q = q.filter(responders::created_at.le(to));
    }
    q
}

impl ResponderRepository for PgUnitOfWork<'_> {
    fn responder(&mut self, scope: Scope, id: ResponderId) -> RepoResult<Option<Responder>> {
        let row: Option<ResponderRow> = scoped(scope, &RowFilter::default())
            .filter(responders::id.eq(id.0))
            .select(ResponderRow::as_select())
            .first(self.conn)
            .optional()
            .map_err(storage)?;
        Ok(row.map(Into::into))
    }

    fn count_responders(&mut self, scope: Scope, filter: &RowFilter) -> RepoResult<i64> {
        scoped(scope, filter)
            .count()
            .get_result(self.conn)
            .map_err(storage)
    }

    fn list_responders(
        &mut self,
        scope: Scope,
        filter: &RowFilter,
        order: RowOrder,
        page: PageSlice,
    ) -> RepoResult<Vec<Responder>> {
        let mut q = scoped(scope, filter).select(ResponderRow::as_select());
        q = match order.created_at {
            Some(Direction::Asc) => q.then_order_by(responders::created_at.asc()),
            Some(Direction::Desc) => q.then_order_by(responders::created_at.desc()),
            None => q,
        };
        let rows: Vec<ResponderRow> = q
            .then_order_by(responders::id.asc())
            .limit(page.size)
            .offset(page.offset())
            .load(self.conn)
            .map_err(storage)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    fn insert_responder(
        &mut self,
        ticket: TicketId,
        user: ProfileId,
        at: DateTime<Utc>,
    ) -> RepoResult<Option<Responder>> {
        // ON CONFLICT DO NOTHING: a concurrent duplicate yields no row instead of aborting
        // the transaction, and the use case answers 422 like for any duplicate.
        let row: Option<ResponderRow> = diesel::insert_into(responders::table)
            .values((
                responders::ticket_id.eq(ticket.0),
                responders::user_id.eq(user.0),
                responders::created_at.eq(at),
            ))
            .on_conflict_do_nothing()
            .returning(ResponderRow::as_returning())
            .get_result(self.conn)
            .optional()
            .map_err(storage)?;
        Ok(row.map(Into::into))
    }

    fn delete_responder(&mut self, id: ResponderId) -> RepoResult<()> {
        diesel::delete(responders::table.find(id.0))
            .execute(self.conn)
            .map_err(storage)?;
        Ok(())
    }

    fn set_ticket_status(&mut self, ticket: TicketId, status: TicketStatus) -> RepoResult<()> {
        diesel::update(tickets::table.find(ticket.0))
            .set(tickets::status.eq(status.as_str()))
            .execute(self.conn)
            .map_err(storage)?;
        Ok(())
    }
}
