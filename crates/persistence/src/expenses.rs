//! `ExpenseRepository`. Every query is scoped with `ticket_id IN (visible tickets)` of the
//! expense scope (everything for staff, nothing for others: W5). Amounts are exact decimals
//! (`numeric(19, 4)` ↔ `rust_decimal::Decimal`).

use crate::error::storage;
use crate::schema::expenses;
use crate::scope::visible_ticket_ids;
use crate::uow::PgUnitOfWork;
use chrono::{DateTime, Utc};
use desk_domain::listing::{Direction, PageSlice};
use desk_domain::policy::Scope;
use desk_domain::ports::{
    ExpenseContent, ExpenseFilter, ExpenseRepository, ExpenseSortField, RepoResult,
};
use desk_domain::*;
use diesel::pg::Pg;
use diesel::prelude::*;
use rust_decimal::Decimal;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = expenses, check_for_backend(diesel::pg::Pg))]
struct ExpenseRow {
    id: i32,
    ticket_id: i32,
    user_id: i32,
    amount: Option<Decimal>,
    amount_currency: String,
    rating: i32,
    scope: String,
    payment_method: Option<String>,
    notes: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<ExpenseRow> for Expense {
    fn from(r: ExpenseRow) -> Self {
        Expense {
            id: ExpenseId(r.id),
            ticket_id: TicketId(r.ticket_id),
            user_id: ProfileId(r.user_id),
            amount: r.amount,
            amount_currency: r.amount_currency,
            rating: r.rating,
            scope: r.scope,
            payment_method: r.payment_method,
            notes: r.notes,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

fn scoped(scope: Scope, filter: &ExpenseFilter) -> expenses::BoxedQuery<'static, Pg> {
    let mut q = expenses::table
        .filter(expenses::ticket_id.eq_any(visible_ticket_ids(scope)))
        .into_boxed();
    if let Some(ticket) = filter.ticket {
        q = q.filter(expenses::ticket_id.eq(ticket.0));
    }
    if let Some(user) = filter.user {
        q = q.filter(expenses::user_id.eq(user.0));
    }
    if let Some(s) = &filter.scope {
        q = q.filter(expenses::scope.eq(s.clone()));
    }
    if let Some(pm) = &filter.payment_method {
        q = q.filter(expenses::payment_method.eq(pm.clone()));
    }
    if let Some(from) = filter.created_at.from {
        q = q.filter(expenses::created_at.ge(from));
    }
    if let Some(to) = filter.created_at.to {
        q = q.filter(expenses::created_at.le(to));
    }
    q
}

impl ExpenseRepository for PgUnitOfWork<'_> {
    fn expense(&mut self, scope: Scope, id: ExpenseId) -> RepoResult<Option<Expense>> {
        let row: Option<ExpenseRow> = scoped(scope, &ExpenseFilter::default())
            .filter(expenses::id.eq(id.0))
            .select(ExpenseRow::as_select())
            .first(self.conn)
            .optional()
            .map_err(storage)?;
        Ok(row.map(Into::into))
    }

    fn count_expenses(&mut self, scope: Scope, filter: &ExpenseFilter) -> RepoResult<i64> {
        scoped(scope, filter)
            .count()
            .get_result(self.conn)
            .map_err(storage)
    }

    fn list_expenses(
        &mut self,
        scope: Scope,
        filter: &ExpenseFilter,
        sort: &[(ExpenseSortField, Direction)],
        page: PageSlice,
    ) -> RepoResult<Vec<Expense>> {
        let mut q = scoped(scope, filter).select(ExpenseRow::as_select());
        for (field, direction) in sort {
            q = match (field, direction) {
                (ExpenseSortField::CreatedAt, Direction::Asc) => {
                    q.then_order_by(expenses::created_at.asc())
                }
                (ExpenseSortField::CreatedAt, Direction::Desc) => {
                    q.then_order_by(expenses::created_at.desc())
                }
                (ExpenseSortField::UpdatedAt, Direction::Asc) => {
                    q.then_order_by(expenses::updated_at.asc())
                }
                (ExpenseSortField::UpdatedAt, Direction::Desc) => {
                    q.then_order_by(expenses::updated_at.desc())
                }
            };
        }
        let rows: Vec<ExpenseRow> = q
            .then_order_by(expenses::id.asc())
            .limit(page.size)
            .offset(page.offset())
            .load(self.conn)
            .map_err(storage)?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    fn insert_expense(
        &mut self,
        user: ProfileId,
        content: &ExpenseContent,
        at: DateTime<Utc>,
    ) -> RepoResult<Expense> {
        let row: ExpenseRow = diesel::insert_into(expenses::table)
            .values((
                expenses::ticket_id.eq(content.ticket.0),
                expenses::user_id.eq(user.0),
                expenses::amount.eq(content.amount),
                expenses::amount_currency.eq(&content.amount_currency),
                expenses::rating.eq(content.rating),
                expenses::scope.eq(&content.scope),
                expenses::payment_method.eq(content.payment_method.as_deref()),
                expenses::notes.eq(content.notes.as_deref()),
                expenses::created_at.eq(content.created_at),
                expenses::updated_at.eq(at),
            ))
            .returning(ExpenseRow::as_returning())
            .get_result(self.conn)
            .map_err(storage)?;
        Ok(row.into())
    }

    fn update_expense(
        &mut self,
        id: ExpenseId,
        content: &ExpenseContent,
        at: DateTime<Utc>,
    ) -> RepoResult<Expense> {
        let row: ExpenseRow = diesel::update(expenses::table.find(id.0))
            .set((
                expenses::ticket_id.eq(content.ticket.0),
                expenses::amount.eq(content.amount),
                expenses::amount_currency.eq(&content.amount_currency),
                expenses::rating.eq(content.rating),
                expenses::scope.eq(&content.scope),
                expenses::payment_method.eq(content.payment_method.as_deref()),
                expenses::notes.eq(content.notes.as_deref()),
                expenses::created_at.eq(content.created_at),
                expenses::updated_at.eq(at),
            ))
            .returning(ExpenseRow::as_returning())
            .get_result(self.conn)
            .map_err(storage)?;
        Ok(row.into())
    }

    fn delete_expense(&mut self, id: ExpenseId) -> RepoResult<()> {
        diesel::delete(expenses::table.find(id.0))
            .execute(self.conn)
            .map_err(storage)?;
        Ok(())
    }
}
