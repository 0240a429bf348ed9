//! `AttachmentRepository`, scoped through the visible tickets.

use crate::error::storage;
use crate::fragments::batch_ids;
use crate::schema::{attachments, expenses};
use crate::scope::visible_ticket_ids;
use crate::uow::PgUnitOfWork;
use chrono::{DateTime, Utc};
use desk_domain::listing::{Direction, PageSlice};
use desk_domain::policy::Scope;
use desk_domain::ports::{AttachmentRepository, NewAttachment, RepoResult, RowFilter, RowOrder};
use desk_domain::*;
use diesel::pg::Pg;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = attachments, check_for_backend(diesel::pg::Pg))]
struct AttachmentRow {
    id: i32,
    ticket_id: i32,
    user_id: i32,
    storage_key: String,
    file_name: String,
    file_size: i64,
    mime_type: Option<String>,
    created_at: DateTime<Utc>,
}

impl From<AttachmentRow> for Attachment {
    fn from(r: AttachmentRow) -> Self {
        Attachment {
            id: AttachmentId(r.id),
            ticket_id: TicketId(r.ticket_id),
            user_id: ProfileId(r.user_id),
            upload: r.storage_key,
            file_name: r.file_name,
            file_size: r.file_size,
            mime_type: r.mime_type,
            created_at: r.created_at,
        }
    }
}

fn scoped(scope: Scope, filter: &RowFilter) -> attachments::BoxedQuery<'static, Pg> {
    let mut q = attachments::table
        .filter(attachments::ticket_id.eq_any(visible_ticket_ids(scope)))
        .into_boxed();
    if let Some(id) = filter.id {
        q = q.filter(attachments::id.eq(id));
    }
    if let Some(ticket) = filter.ticket {
        q = q.filter(attachments::ticket_id.eq(ticket.0));
    }
    if let Some(user) = filter.user {
        q = q.filter(attachments::user_id.eq(user.0));
    }
    if let Some(from) = filter.created_at.from {
        q = q.filter(attachments::created_at.ge(from));
    }
    if let Some(to) = filter.created_at.to {
        q = q.filter(attachments::created_at.le(to));
    }
    q
}

impl AttachmentRepository for PgUnitOfWork<'_> {
    fn attachment(&mut self, scope: Scope, id: AttachmentId) -> RepoResult<Option<Attachment>> {
        let row: Option<AttachmentRow> = scoped(scope, &RowFilter::default())
            .filter(attachments::id.eq(id.0))
            .select(AttachmentRow::as_select())
            .first(self.conn)
            .optional()
            .map_err(storage)?;
        Ok(row.map(Into::into))
    }

    fn count_attachments(&mut self, scope: Scope, filter: &RowFilter) -> RepoResult<i64> {
        scoped(scope, filter)
            .count()
            .get_result(self.conn)
            .map_err(storage)
    }

    fn list_attachments(
        &mut self,
        scope: Scope,
        filter: &RowFilter,
        order: RowOrder,
        page: PageSlice,
    ) -> RepoResult<Vec<Attachment>> {
        let mut q = scoped(scope, filter).select(AttachmentRow::as_select());
        q = match order.created_at {
            Some(Direction::Asc) => q.then_order_by(attachments::created_at.asc()),
            Some(Direction::Desc) => q.then_order_by(attachments::created_at.desc()),
            None => q,
        };
        let rows: Vec<AttachmentRow> = q
            .then_order_by(attachments::id.asc())
            .limit(page.size)
            .offset(page.offset())
            .load(self.conn)
            .map_err(storage)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    fn insert_attachment(&mut self, new: &NewAttachment) -> RepoResult<Attachment> {
        let row: AttachmentRow = diesel::insert_into(attachments::table)
            .values((
                attachments::ticket_id.eq(new.ticket.0),
                attachments::user_id.eq(new.uploader.0),
                attachments::storage_key.eq(&new.storage_key),
                attachments::file_name.eq(&new.file_name),
                attachments::file_size.eq(new.file_size),
                attachments::mime_type.eq(new.mime_type.as_deref()),
                attachments::created_at.eq(new.at),
            ))
            .returning(AttachmentRow::as_returning())
            .get_result(self.conn)
            .map_err(storage)?;
        Ok(row.into())
    }

    fn delete_attachment(&mut self, id: AttachmentId) -> RepoResult<()> {
        diesel::delete(attachments::table.find(id.0))
            .execute(self.conn)
            .map_err(storage)?;
        Ok(())
    }

    fn existing_objects(
        &mut self,
        attachment_ids: &[AttachmentId],
        expense_ids: &[ExpenseId],
    ) -> RepoResult<(Vec<AttachmentId>, Vec<ExpenseId>)> {
        let found_attachments: Vec<i32> = if attachment_ids.is_empty() {
            Vec::new()
        } else {
            attachments::table
                .select(attachments::id)
                .filter(attachments::id.eq_any(batch_ids(attachment_ids.iter().map(|a| a.0))))
                .load(self.conn)
                .map_err(storage)?
        };
        let found_expenses: Vec<i32> = if expense_ids.is_empty() {
            Vec::new()
        } else {
            expenses::table
                .select(expenses::id)
                .filter(expenses::id.eq_any(batch_ids(expense_ids.iter().map(|e| e.0))))
                .load(self.conn)
                .map_err(storage)?
        };
        Ok((
            found_attachments.into_iter().map(AttachmentId).collect(),
            found_expenses.into_iter().map(ExpenseId).collect(),
        ))
    }
}
