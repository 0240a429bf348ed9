//! `ActivityRepository`.

use crate::error::storage;
use crate::fragments::prepared;
use crate::models::{action_columns, ActivityRow};
use crate::uow::PgUnitOfWork;
use desk_domain::activity::{Activity, NewActivity};
use desk_domain::ports::{ActivityRepository, RepoResult};
use diesel::prelude::*;
use diesel::sql_types::{Integer, Nullable, Text, Timestamptz};

impl ActivityRepository for PgUnitOfWork<'_> {
    fn record_activity(&mut self, activity: &NewActivity) -> RepoResult<Activity> {
        let (action_type, action_id) = action_columns(activity.action);
        // §1.9: recording an activity touches its ticket, in the same statement. The ticket's
        // row lock comes before the counter slot the insert's trigger takes
        // (`ticket_activity_counts`), the order of every other writer of the ticket (a status
        // change locks the row, then records); the other order deadlocks with them. An
        // unreferenced data-modifying CTE runs to completion when the main insert has, and
        // before any AFTER trigger of the statement fires.
        let row: ActivityRow = prepared(concat!(
            "WITH touched AS (UPDATE tickets SET updated_at = $1 WHERE id = $2) ",
            "INSERT INTO activities ",
            "(ticket_id, actor_id, verb, action_type, action_id, \"timestamp\") ",
            "VALUES ($3, $4, $5, $6, $7, $8) ",
            "RETURNING id, ticket_id, actor_id, verb, action_type, action_id, \"timestamp\""
        ))
        .bind::<Timestamptz, _>(activity.at)
        .bind::<Integer, _>(activity.ticket.0)
        .bind::<Integer, _>(activity.ticket.0)
        .bind::<Nullable<Integer>, _>(activity.actor.map(|a| a.0))
        .bind::<Text, _>(activity.verb.as_wire())
        .bind::<Nullable<Text>, _>(action_type)
        .bind::<Nullable<Integer>, _>(action_id)
        .bind::<Timestamptz, _>(activity.at)
        .get_result(self.conn)
        .map_err(storage)?;
        Activity::try_from(row)
    }
}
