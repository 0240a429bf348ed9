//! The visibility [`Scope`] of the domain policy as SQL: the only place that turns "who may
//! see which ticket" into a predicate. Every ticket-bound query (tickets now; comments,
//! attachments, responders, subscribers and activities later via [`visible_ticket_ids`])
//! filters with it.

use crate::schema::{responders, subscribers, tickets};
use desk_domain::policy::Scope;
use diesel::dsl::sql;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::Bool;

/// A boolean SQL expression over `tickets`.
pub type TicketPredicate = Box<dyn BoxableExpression<tickets::table, Pg, SqlType = Bool>>;

/// The predicate selecting the tickets of `scope`:
///
/// * `Everything` → `TRUE`
/// * `ParticipantOf(u)` → `requester_id = u OR id IN (responders of u) OR id IN (user
///   subscriptions of u)`
/// * `Nothing` → `FALSE`
///
/// Membership is tested with uncorrelated `IN (subquery)`, never with a join, so a ticket
/// is never repeated. PostgreSQL evaluates each sub-select once (a hashed sub-plan through
/// the `user_id` indexes) instead of once per ticket as a correlated `EXISTS` inside an
/// `OR` would be; the rows selected are the same.
pub fn visible_tickets(scope: Scope) -> TicketPredicate {
    match scope {
        Scope::Everything => Box::new(sql::<Bool>("TRUE")),
        Scope::Nothing => Box::new(sql::<Bool>("FALSE")),
        Scope::ParticipantOf(user) => {
            let responding = responders::table
                .select(responders::ticket_id)
                .filter(responders::user_id.eq(user.0));
            let subscribed = subscribers::table
                .select(subscribers::ticket_id)
                .filter(subscribers::user_id.eq(user.0));
            Box::new(
                tickets::requester_id
                    .eq(user.0)
                    .or(tickets::id.eq_any(responding))
                    .or(tickets::id.eq_any(subscribed)),
            )
        }
    }
}

/// The ids of the tickets of `scope`, as a sub-select for `ticket_id IN (…)` filters of
/// ticket-bound resources.
pub fn visible_ticket_ids(
    scope: Scope,
) -> tickets::BoxedQuery<'static, Pg, diesel::sql_types::Integer> {
    tickets::table
        .select(tickets::id)
        .filter(visible_tickets(scope))
        .into_boxed()
}
