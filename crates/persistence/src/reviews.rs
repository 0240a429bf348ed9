//! `ReviewRepository` (contract §1.8; W4: one review per token id).

use crate::error::storage;
use crate::schema::reviews;
use crate::uow::PgUnitOfWork;
use chrono::{DateTime, Utc};
use desk_domain::ports::{NewReview, RepoResult, ReviewRepository};
use desk_domain::{Review, ReviewId, TicketId};
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = reviews, check_for_backend(diesel::pg::Pg))]
struct ReviewRow {
    id: i32,
    ticket_id: i32,
    rating: i16,
    link: Option<String>,
    body: String,
    created_at: DateTime<Utc>,
}

impl ReviewRepository for PgUnitOfWork<'_> {
    fn insert_review(&mut self, new: &NewReview) -> RepoResult<Option<Review>> {
        let row: Option<ReviewRow> = diesel::insert_into(reviews::table)
            .values((
                reviews::ticket_id.eq(new.ticket.0),
                reviews::rating.eq(new.rating),
                reviews::link.eq(new.link.as_deref()),
                reviews::body.eq(&new.body),
                reviews::created_at.eq(new.at),
                reviews::recipient.eq(&new.recipient),
                reviews::token_id.eq(&new.token_id),
            ))
            .on_conflict_do_nothing()
            .returning(ReviewRow::as_returning())
            .get_result(self.conn)
            .optional()
            .map_err(storage)?;
        Ok(row.map(|r| Review {
            id: ReviewId(r.id),
            ticket_id: TicketId(r.ticket_id),
            rating: r.rating,
            link: r.link,
            body: r.body,
            created_at: r.created_at,
        }))
    }
}
