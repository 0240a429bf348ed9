//! `ExportSource`: the rows of the three CSV exports, streamed row by row from the server
//! (libpq single-row mode through diesel's `load_iter`), so an export never holds more than
//! one row in memory whatever its size. Tickets use the ticket list's own predicate
//! ([`crate::tickets::ticket_predicate`]) and order, so an export has exactly the list's rows.

use crate::error::storage;
use crate::schema::{expenses, profiles, reviews, tickets};
use crate::tickets::{ordered, ticket_predicate};
use crate::uow::PgUnitOfWork;
use chrono::{DateTime, Utc};
use desk_domain::listing::{Direction, TicketFilter, TicketSortField};
use desk_domain::policy::Scope;
use desk_domain::ports::{
    ExpenseExportRow, ExportSink, ExportSource, RepoResult, ReviewExportRow, TicketExportRow,
};
use desk_domain::usecases::exports::{ExpenseExportFilter, ExpenseSortField, ReviewExportFilter};
use desk_domain::TicketId;
use diesel::dsl::sql;
use diesel::pg::PgRowByRowLoadingMode;
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text};

type TicketTuple = (
    i32,
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    Vec<String>,
    Option<String>,
    Vec<String>,
);

type ExpenseTuple = (
    i32,
    DateTime<Utc>,
    String,
    Option<String>,
    String,
    i32,
    String,
    String,
    Option<String>,
    Vec<String>,
);

type ReviewTuple = (i32, DateTime<Utc>, i16, Option<String>, String);

impl ExportSource for PgUnitOfWork<'_> {
    fn ticket_rows(
        &mut self,
        scope: Scope,
        filter: &TicketFilter,
        sort: &[(TicketSortField, Direction)],
        sink: &mut ExportSink<'_, TicketExportRow>,
    ) -> RepoResult<u64> {
        let mut query = tickets::table
            .inner_join(profiles::table)
            .select((
                tickets::id,
                profiles::email,
                tickets::created_at,
                tickets::deadline_at,
                tickets::status,
                tickets::kind,
                tickets::request_type,
                tickets::priority,
                profiles::country,
                tickets::country,
                tickets::countries,
                tickets::member_center,
                tickets::tags,
            ))
            .into_boxed();
        // Exactly the list's rows: its predicate, as an uncorrelated `IN` (a semi-join; the
        // predicate is typed for `tickets` alone). Skipped when it selects every ticket.
        if scope != Scope::Everything || *filter != TicketFilter::default() {
            let listed = tickets::table
                .select(tickets::id)
                .filter(ticket_predicate(scope, filter, true))
                .into_boxed();
            query = query.filter(tickets::id.eq_any(listed));
        }
        // The list's order (rank first when searching, W25; then the sort; then id).
        let rows = ordered(query, filter, sort)
            .load_iter::<TicketTuple, PgRowByRowLoadingMode>(self.conn)
            .map_err(storage)?;
        let mut n = 0;
        for row in rows {
            let r = row.map_err(storage)?;
            sink(TicketExportRow {
                id: TicketId(r.0),
                requester_email: r.1,
                created_at: r.2,
                deadline_at: r.3,
                status: r.4,
                kind: r.5,
                request_type: r.6,
                priority: r.7,
                requester_country: r.8,
                country: r.9,
                countries: r.10,
                member_center: r.11,
                tags: r.12,
            })?;
            n += 1;
        }
        Ok(n)
    }

    fn expense_rows(
        &mut self,
        filter: &ExpenseExportFilter,
        sink: &mut ExportSink<'_, ExpenseExportRow>,
    ) -> RepoResult<u64> {
        let mut query = expenses::table
            .inner_join(tickets::table.inner_join(profiles::table))
            .select((
                expenses::ticket_id,
                expenses::created_at,
                tickets::status,
                // numeric(19,4) as text keeps its 4 decimals ("10.5000").
                sql::<Nullable<Text>>("expenses.amount::text"),
                expenses::amount_currency,
                expenses::rating,
                expenses::scope,
                profiles::country,
                tickets::country,
                tickets::countries,
            ))
            .into_boxed();
        if let Some(from) = filter.created_at.from {
            query = query.filter(expenses::created_at.ge(from));
        }
        if let Some(to) = filter.created_at.to {
            query = query.filter(expenses::created_at.le(to));
        }
        if let Some(scope) = &filter.scope {
            query = query.filter(expenses::scope.eq(scope.clone()));
        }
        if let Some(method) = &filter.payment_method {
            query = query.filter(expenses::payment_method.eq(method.clone()));
        }
        if let Some(ticket) = filter.ticket {
            query = query.filter(expenses::ticket_id.eq(ticket.0));
        }
        if let Some(user) = filter.user {
            query = query.filter(expenses::user_id.eq(user.0));
        }
        for (field, direction) in &filter.sort {
            query = match (field, direction) {
                (ExpenseSortField::CreatedAt, Direction::Asc) => {
                    query.then_order_by(expenses::created_at.asc())
                }
                (ExpenseSortField::CreatedAt, Direction::Desc) => {
                    query.then_order_by(expenses::created_at.desc())
                }
                (ExpenseSortField::UpdatedAt, Direction::Asc) => {
                    query.then_order_by(expenses::updated_at.asc())
                }
                (ExpenseSortField::UpdatedAt, Direction::Desc) => {
                    query.then_order_by(expenses::updated_at.desc())
                }
            };
        }
        let rows = query
            .then_order_by(expenses::id.asc())
            .load_iter::<ExpenseTuple, PgRowByRowLoadingMode>(self.conn)
            .map_err(storage)?;
        let mut n = 0;
        for row in rows {
            let r = row.map_err(storage)?;
            sink(ExpenseExportRow {
                ticket_id: TicketId(r.0),
                created_at: r.1,
                ticket_status: r.2,
                amount: r.3,
                currency: r.4,
                rating: r.5,
                scope: r.6,
                requester_country: r.7,
                ticket_country: r.8,
                ticket_countries: r.9,
            })?;
            n += 1;
        }
        Ok(n)
    }

    fn review_rows(
        &mut self,
        filter: &ReviewExportFilter,
        sink: &mut ExportSink<'_, ReviewExportRow>,
    ) -> RepoResult<u64> {
        let mut query = reviews::table
            .select((
                reviews::ticket_id,
                reviews::created_at,
                reviews::rating,
                reviews::link,
                reviews::body,
            ))
            .into_boxed();
        if let Some(id) = filter.id {
            query = query.filter(reviews::id.eq(id));
        }
        if let Some(from) = filter.created_at.from {
            query = query.filter(reviews::created_at.ge(from));
        }
        if let Some(to) = filter.created_at.to {
            query = query.filter(reviews::created_at.le(to));
        }
        query = match filter.created_at_sort {
            Some(Direction::Asc) => query.then_order_by(reviews::created_at.asc()),
            Some(Direction::Desc) => query.then_order_by(reviews::created_at.desc()),
            None => query,
        };
        let rows = query
            .then_order_by(reviews::id.asc())
            .load_iter::<ReviewTuple, PgRowByRowLoadingMode>(self.conn)
            .map_err(storage)?;
        let mut n = 0;
        for row in rows {
            let r = row.map_err(storage)?;
            sink(ReviewExportRow {
                ticket_id: TicketId(r.0),
                created_at: r.1,
                rating: i32::from(r.2),
                link: r.3,
                body: r.4,
            })?;
            n += 1;
        }
        Ok(n)
    }
}
