//! `CommentReadRepository` and `TicketLookup`. Every list is scoped with
//! `ticket_id IN (visible tickets)`: a semi-join that never repeats a row.

use crate::error::storage;
use crate::fragments::batch_ids;
use crate::models::{CommentRow, TicketRow};
use crate::schema::{comments, tickets};
use crate::scope::{visible_ticket_ids, visible_tickets};
use crate::uow::PgUnitOfWork;
use desk_domain::listing::{Direction, PageSlice};
use desk_domain::policy::Scope;
use desk_domain::ports::{CommentReadRepository, RepoResult, RowFilter, RowOrder, TicketLookup};
use desk_domain::*;
use diesel::pg::Pg;
use diesel::prelude::*;

fn scoped(scope: Scope, filter: &RowFilter) -> comments::BoxedQuery<'static, Pg> {
    let mut q = comments::table
        .filter(comments::ticket_id.eq_any(visible_ticket_ids(scope)))
        .into_boxed();
    if let Some(id) = filter.id {
        q = q.filter(comments::id.eq(id));
    }
    if let Some(ticket) = filter.ticket {
        q = q.filter(comments::ticket_id.eq(ticket.0));
    }
    if let Some(user) = filter.user {
        q = q.filter(comments::user_id.eq(user.0));
    }
    if let Some(from) = filter.created_at.from {
        q = q.filter(comments::created_at.ge(from));
    }
    if let Some(to) = filter.created_at.to {
        q = q.filter(comments::created_at.le(to));
    }
    q
}

impl CommentReadRepository for PgUnitOfWork<'_> {
    fn comment(&mut self, scope: Scope, id: CommentId) -> RepoResult<Option<Comment>> {
        let row: Option<CommentRow> = scoped(scope, &RowFilter::default())
            .filter(comments::id.eq(id.0))
            .select(CommentRow::as_select())
            .first(self.conn)
            .optional()
            .map_err(storage)?;
        Ok(row.map(Into::into))
    }

    fn count_comments(&mut self, scope: Scope, filter: &RowFilter) -> RepoResult<i64> {
        scoped(scope, filter)
            .count()
            .get_result(self.conn)
            .map_err(storage)
    }

    fn list_comments(
        &mut self,
        scope: Scope,
        filter: &RowFilter,
        order: RowOrder,
        page: PageSlice,
    ) -> RepoResult<Vec<Comment>> {
        let mut q = scoped(scope, filter).select(CommentRow::as_select());
        q = match order.created_at {
            Some(Direction::Asc) => q.then_order_by(comments::created_at.asc()),
            Some(Direction::Desc) => q.then_order_by(comments::created_at.desc()),
            None => q,
        };
        let rows: Vec<CommentRow> = q
            .then_order_by(comments::id.asc())
            .limit(page.size)
            .offset(page.offset())
            .load(self.conn)
            .map_err(storage)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    fn comments_by_ids(&mut self, ids: &[CommentId]) -> RepoResult<Vec<Comment>> {
        let ids = batch_ids(ids.iter().map(|c| c.0));
        let rows: Vec<CommentRow> = comments::table
            .filter(comments::id.eq_any(ids))
            .select(CommentRow::as_select())
            .order(comments::id.asc())
            .load(self.conn)
            .map_err(storage)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}

impl TicketLookup for PgUnitOfWork<'_> {
    fn tickets_in(&mut self, scope: Scope, ids: &[TicketId]) -> RepoResult<Vec<Ticket>> {
        // Not padded (`batch_ids`): with the caller's scope beside the ids, the generic plan
        // reads every ticket of a participant's scope up to the highest id asked for.
        let ids: Vec<i32> = ids.iter().map(|t| t.0).collect();
        let rows: Vec<TicketRow> = tickets::table
            .select(TicketRow::as_select())
            .filter(tickets::id.eq_any(ids))
            .filter(visible_tickets(scope))
            .order(tickets::id.asc())
            .load(self.conn)
            .map_err(storage)?;
        rows.into_iter().map(Ticket::try_from).collect()
    }
}
