//! `DigestRepository`: what the daily digest reads, and its bookkeeping (contract §5.4, W28).

use crate::error::storage;
use crate::fragments::prepared;
use crate::models::ActivityRow;
use crate::schema::{activities, tickets};
use crate::uow::PgUnitOfWork;
use chrono::{DateTime, Utc};
use desk_domain::activity::Activity;
use desk_domain::ports::{DigestRepository, RepoResult};
use desk_domain::TicketId;
use diesel::prelude::*;
use diesel::sql_types::{Int4, Nullable, Timestamptz};

#[derive(QueryableByName)]
struct Candidate {
    #[diesel(sql_type = Int4)]
    id: i32,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    sent_notifications_at: Option<DateTime<Utc>>,
}

impl DigestRepository for PgUnitOfWork<'_> {
    fn digest_candidates(&mut self) -> RepoResult<Vec<(TicketId, Option<DateTime<Utc>>)>> {
        // W28a: every ticket with activities newer than its last digest.
        let rows: Vec<Candidate> = prepared(
            "SELECT t.id, t.sent_notifications_at FROM tickets t \
             WHERE EXISTS (SELECT 1 FROM activities a WHERE a.ticket_id = t.id \
               AND (t.sent_notifications_at IS NULL OR a.\"timestamp\" > t.sent_notifications_at)) \
             ORDER BY t.id",
        )
        .load(self.conn)
        .map_err(storage)?;
        Ok(rows
            .into_iter()
            .map(|r| (TicketId(r.id), r.sent_notifications_at))
            .collect())
    }

    fn activities_after(
        &mut self,
        ticket: TicketId,
        after: Option<DateTime<Utc>>,
    ) -> RepoResult<Vec<Activity>> {
        let mut query = activities::table
            .filter(activities::ticket_id.eq(ticket.0))
            .select(ActivityRow::as_select())
            .order((activities::timestamp.desc(), activities::id.desc()))
            .into_boxed();
        if let Some(after) = after {
            query = query.filter(activities::timestamp.gt(after));
        }
        let rows: Vec<ActivityRow> = query.load(self.conn).map_err(storage)?;
        rows.into_iter().map(Activity::try_from).collect()
    }

    fn mark_digested(&mut self, ticket: TicketId, at: DateTime<Utc>) -> RepoResult<()> {
        // Only the bookkeeping column: `updated_at` keeps its meaning (W23, W28e).
        diesel::update(tickets::table.find(ticket.0))
            .set(tickets::sent_notifications_at.eq(Some(at)))
            .execute(self.conn)
            .map_err(storage)?;
        Ok(())
    }
}

/// Errors inside a savepoint: the database's or the work's.
enum SavepointError {
    Db(diesel::result::Error),
    Work(desk_domain::DomainError),
}

impl From<diesel::result::Error> for SavepointError {
    fn from(e: diesel::result::Error) -> Self {
        SavepointError::Db(e)
    }
}

impl PgUnitOfWork<'_> {
    /// Runs `work` in a savepoint of this transaction: its writes vanish if it fails, and
    /// what was written before it stays (the digest job reschedules itself first, W28c).
    pub fn savepoint<T>(
        &mut self,
        work: impl FnOnce(&mut PgUnitOfWork<'_>) -> Result<T, desk_domain::DomainError>,
    ) -> Result<T, desk_domain::DomainError> {
        self.conn
            .transaction::<T, SavepointError, _>(|conn| {
                work(&mut PgUnitOfWork::new(conn)).map_err(SavepointError::Work)
            })
            .map_err(|e| match e {
                SavepointError::Db(e) => storage(e),
                SavepointError::Work(e) => e,
            })
    }

    /// Frees the idempotency key of a job being run, so that it can enqueue its successor
    /// under the same key (the self-rescheduling digest: never two pending).
    pub fn release_job_key(
        &mut self,
        job: desk_domain::jobs::JobId,
    ) -> Result<(), desk_domain::DomainError> {
        prepared("UPDATE jobs SET idempotency_key = NULL WHERE id = $1")
            .bind::<diesel::sql_types::Int8, _>(job.0)
            .execute(self.conn)
            .map_err(storage)?;
        Ok(())
    }
}
