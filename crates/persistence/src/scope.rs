//! The visibility [`Scope`] of the domain policy as SQL: the only place that turns "who may
//! see which ticket" into a predicate. Every ticket-bound query (tickets now; comments,
//! attachments, responders, subscribers and activities later via [`visible_ticket_ids`])
//! filters with it.

use crate::fragments::{static_sql, static_sql_with};
use crate::schema::tickets;
use desk_domain::policy::Scope;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::Bool;

/// A boolean SQL expression over `tickets`.
pub type TicketPredicate = Box<dyn BoxableExpression<tickets::table, Pg, SqlType = Bool>>;

/// The predicate selecting the tickets of `scope`:
///
/// * `Everything` → `TRUE`
/// * `ParticipantOf(u)` → `tickets.id IN (SELECT ticket_id FROM ticket_participants WHERE
///   profile_id = u)`
/// * `Nothing` → `FALSE`
///
/// `ticket_participants` is kept by triggers on `tickets`, `responders` and `subscribers`
/// (migration `ticket_participants`): one row per ticket the person requested, responds to
/// or is subscribed to with their profile, however many of those ways. So the uncorrelated
/// `IN` is a semi-join that never repeats a ticket, and the person's ticket ids are one
/// range of its primary key, fetched by primary key from `tickets`. (The first version
/// united three look-ups, 1.4 ms for a staff member on 1,000 tickets; an `OR` of
/// sub-selects forced a scan of every ticket, 90 ms.)
pub fn visible_tickets(scope: Scope) -> TicketPredicate {
    match scope {
        Scope::Everything => Box::new(static_sql::<Bool>("TRUE")),
        Scope::Nothing => Box::new(static_sql::<Bool>("FALSE")),
        Scope::ParticipantOf(user) => Box::new(static_sql_with::<Bool>(
            "\"tickets\".\"id\" IN (SELECT tp.ticket_id FROM ticket_participants tp WHERE tp.profile_id = ",
            user.0,
            ")",
        )),
    }
}

/// The same set as [`visible_tickets`], for a statement that reads every ticket of the scope
/// anyway (a participant's page with its totals): a participant's ticket ids as one array,
/// `tickets.id = ANY(ARRAY(SELECT …))`.
///
/// PostgreSQL plans such a statement anew for each caller when the semi-join of
/// [`visible_tickets`] is in it: it estimates the caller's share of `ticket_participants`,
/// and a plan for those values always looks cheaper than its generic plan, built for the
/// average person. The length of an array computed at run time is unknown to it in both, so
/// the statement settles on its generic plan after five executions: the person's ids from
/// one range of the primary key, their tickets by theirs (0.57 → 0.44 ms for the
/// benchmark's requester, no slower for a participant in 1,269 tickets). That is the best
/// plan whoever asks only when nothing else narrows the list: with a search the text index
/// should come first, with a narrow date range its index (see `ticket_page`).
pub fn visible_tickets_as_id_list(scope: Scope) -> TicketPredicate {
    match scope {
        Scope::ParticipantOf(user) => Box::new(static_sql_with::<Bool>(
            "\"tickets\".\"id\" = ANY(ARRAY(SELECT tp.ticket_id FROM ticket_participants tp \
             WHERE tp.profile_id = ",
            user.0,
            "))",
        )),
        other => visible_tickets(other),
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
