//! `ActivityRepository`.

use crate::error::storage;
use crate::fragments::prepared;
use crate::models::{action_columns, ActivityRow};
use crate::schema::activities;
use crate::uow::PgUnitOfWork;
use desk_domain::activity::{Activity, NewActivity};
use desk_domain::ports::{ActivityRepository, RepoResult};
use diesel::prelude::*;
use diesel::sql_types::{Integer, Timestamptz};

impl ActivityRepository for PgUnitOfWork<'_> {
    fn record_activity(&mut self, activity: &NewActivity) -> RepoResult<Activity> {
        let (action_type, action_id) = action_columns(activity.action);
        // §1.9: recording an activity touches its ticket (same transaction as the insert).
        // The ticket first: its row lock comes before the counter slot the insert's trigger
        // takes (`ticket_activity_counts`), the order of every other writer of the ticket
        // (a status change locks the row, then records). The other order deadlocks with them.
        prepared("UPDATE tickets SET updated_at = $1 WHERE id = $2")
            .bind::<Timestamptz, _>(activity.at)
            .bind::<Integer, _>(activity.ticket.0)
            .execute(self.conn)
            .map_err(storage)?;
        let row: ActivityRow = diesel::insert_into(activities::table)
            .values((
                activities::ticket_id.eq(activity.ticket.0),
                activities::actor_id.eq(activity.actor.map(|a| a.0)),
                activities::verb.eq(activity.verb.as_wire()),
                activities::action_type.eq(action_type),
                activities::action_id.eq(action_id),
                activities::timestamp.eq(activity.at),
            ))
            .returning(ActivityRow::as_returning())
            .get_result(self.conn)
            .map_err(storage)?;
        Activity::try_from(row)
    }
}
