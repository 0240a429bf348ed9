//! `SubscriberRepository` and `SubscriptionClaims`, scoped through the visible tickets.
//! E-mail matching is case-insensitive (W15), like the partial unique index
//! `(ticket_id, lower(email))`.

use crate::error::storage;
use crate::models::{ProfileRow, SubscriberRow};
use crate::schema::{profiles, subscribers};
use crate::scope::visible_ticket_ids;
use crate::uow::PgUnitOfWork;
use chrono::{DateTime, Utc};
use desk_domain::listing::{Direction, PageSlice};
use desk_domain::policy::Scope;
use desk_domain::ports::{
    RepoResult, RowFilter, RowOrder, SubscriberRepository, SubscriptionClaims,
};
use desk_domain::*;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Integer, Nullable, Text};

diesel::define_sql_function! {
    #[sql_name = "lower"]
    fn lower_text(x: Text) -> Text;
}
diesel::define_sql_function! {
    #[sql_name = "lower"]
    fn lower_nullable(x: Nullable<Text>) -> Nullable<Text>;
}

/// A row returned by the raw claim statement.
#[derive(QueryableByName)]
#[diesel(table_name = subscribers, check_for_backend(diesel::pg::Pg))]
struct ClaimedRow {
    id: i32,
    ticket_id: i32,
    user_id: Option<i32>,
    email: Option<String>,
    created_at: DateTime<Utc>,
}

impl From<ClaimedRow> for Subscriber {
    fn from(r: ClaimedRow) -> Self {
        Subscriber {
            id: SubscriberId(r.id),
            ticket_id: TicketId(r.ticket_id),
            user_id: r.user_id.map(ProfileId),
            email: r.email,
            created_at: r.created_at,
        }
    }
}

fn scoped(scope: Scope, filter: &RowFilter) -> subscribers::BoxedQuery<'static, Pg> {
    let mut q = subscribers::table
        .filter(subscribers::ticket_id.eq_any(visible_ticket_ids(scope)))
        .into_boxed();
    if let Some(id) = filter.id {
        q = q.filter(subscribers::id.eq(id));
    }
    if let Some(ticket) = filter.ticket {
        q = q.filter(subscribers::ticket_id.eq(ticket.0));
    }
    if let Some(user) = filter.user {
        q = q.filter(subscribers::user_id.eq(user.0));
    }
    if let Some(from) = filter.created_at.from {
        q = q.filter(subscribers::created_at.ge(from));
    }
    if let Some(to) = filter.created_at.to {
        q = q.filter(subscribers::created_at.le(to));
    }
    q
}

impl SubscriberRepository for PgUnitOfWork<'_> {
    fn subscriber(&mut self, scope: Scope, id: SubscriberId) -> RepoResult<Option<Subscriber>> {
        let row: Option<SubscriberRow> = scoped(scope, &RowFilter::default())
            .filter(subscribers::id.eq(id.0))
            .select(SubscriberRow::as_select())
            .first(self.conn)
            .optional()
            .map_err(storage)?;
        Ok(row.map(Into::into))
    }

    fn count_subscribers(&mut self, scope: Scope, filter: &RowFilter) -> RepoResult<i64> {
        scoped(scope, filter)
            .count()
            .get_result(self.conn)
            .map_err(storage)
    }

    fn list_subscribers(
        &mut self,
        scope: Scope,
        filter: &RowFilter,
        order: RowOrder,
        page: PageSlice,
    ) -> RepoResult<Vec<Subscriber>> {
        let mut q = scoped(scope, filter).select(SubscriberRow::as_select());
        q = match order.created_at {
            Some(Direction::Asc) => q.then_order_by(subscribers::created_at.asc()),
            Some(Direction::Desc) => q.then_order_by(subscribers::created_at.desc()),
            None => q,
        };
        let rows: Vec<SubscriberRow> = q
            .then_order_by(subscribers::id.asc())
            .limit(page.size)
            .offset(page.offset())
            .load(self.conn)
            .map_err(storage)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    fn profile_by_email(&mut self, email: &str) -> RepoResult<Option<Profile>> {
        let row: Option<ProfileRow> = profiles::table
            .filter(lower_text(profiles::email).eq(lower_text(email)))
            .select(ProfileRow::as_select())
            .order(profiles::id.asc())
            .first(self.conn)
            .optional()
            .map_err(storage)?;
        Ok(row.map(Into::into))
    }

    fn email_subscribed(&mut self, ticket: TicketId, email: &str) -> RepoResult<bool> {
        diesel::select(diesel::dsl::exists(
            subscribers::table
                .filter(subscribers::ticket_id.eq(ticket.0))
                .filter(lower_nullable(subscribers::email).eq(lower_nullable(Some(email)))),
        ))
        .get_result(self.conn)
        .map_err(storage)
    }

    fn insert_subscriber(
        &mut self,
        ticket: TicketId,
        user: Option<ProfileId>,
        email: Option<&str>,
        at: DateTime<Utc>,
    ) -> RepoResult<Option<Subscriber>> {
        // The partial unique indexes decide; a conflict yields no row (→ 422), not an
        // aborted transaction (→ 500).
        let row: Option<SubscriberRow> = diesel::insert_into(subscribers::table)
            .values((
                subscribers::ticket_id.eq(ticket.0),
                subscribers::user_id.eq(user.map(|u| u.0)),
                subscribers::email.eq(email),
                subscribers::created_at.eq(at),
            ))
            .on_conflict_do_nothing()
            .returning(SubscriberRow::as_returning())
            .get_result(self.conn)
            .optional()
            .map_err(storage)?;
        Ok(row.map(Into::into))
    }

    fn delete_subscriber(&mut self, id: SubscriberId) -> RepoResult<()> {
        diesel::delete(subscribers::table.find(id.0))
            .execute(self.conn)
            .map_err(storage)?;
        Ok(())
    }
}

impl SubscriptionClaims for PgUnitOfWork<'_> {
    fn claim_email_subscriptions(
        &mut self,
        profile: ProfileId,
        email: &str,
    ) -> RepoResult<Vec<Subscriber>> {
        // Tickets the person already follows, answers or requested keep their e-mail row:
        // converting it would duplicate a subscription or make a responder a subscriber.
        let rows: Vec<ClaimedRow> = diesel::sql_query(
            "UPDATE subscribers SET user_id = $1, email = NULL \
             WHERE user_id IS NULL AND lower(email) = lower($2) \
               AND ticket_id NOT IN (SELECT ticket_id FROM subscribers WHERE user_id = $1) \
               AND ticket_id NOT IN (SELECT ticket_id FROM responders WHERE user_id = $1) \
               AND ticket_id NOT IN (SELECT id FROM tickets WHERE requester_id = $1) \
             RETURNING id, ticket_id, user_id, email, created_at",
        )
        .bind::<Integer, _>(profile.0)
        .bind::<Text, _>(email)
        .load(self.conn)
        .map_err(storage)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}
