//! The job queue on PostgreSQL (design: `docs/jobs.md`).
//!
//! - Enqueue: [`JobQueue`] on [`PgUnitOfWork`], i.e. on the transaction of the change that
//!   causes the job. An idempotency key is unique among pending jobs (a partial unique index),
//!   so a second enqueue with the same key is a no-op.
//! - Claim and run: [`Database::run_next_job`] locks the next due job with
//!   `FOR UPDATE SKIP LOCKED` and runs the handler **inside that transaction** (in a
//!   savepoint). The row lock is the lease: while the worker lives nobody else sees the job;
//!   when it dies its connection closes, the transaction rolls back, and the job is due again.
//! - Failure: the savepoint is rolled back (the handler's writes vanish), the attempt is
//!   counted, and the job is due again after an exponential back-off, or kept as `failed`
//!   with its last error once it has used its attempts.
//! - Wake-up: an `AFTER INSERT` trigger issues `NOTIFY desk_jobs` (delivered at commit);
//!   [`spawn_listener`] turns notifications into [`Wakeup`] signals for the workers, who also
//!   poll.

use crate::database::Database;
use crate::error::{storage, PersistenceError};
use crate::fragments::prepared;
use crate::uow::PgUnitOfWork;
use chrono::{DateTime, Utc};
use desk_domain::jobs::{Job, JobId, NewJob};
use desk_domain::ports::{JobQueue, RepoResult};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Int4, Int8, Jsonb, Nullable, SmallInt, Text, Timestamptz};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// The channel of the enqueue trigger.
pub const CHANNEL: &str = "desk_jobs";

/// Retry timing: the n-th failure waits `base · 2^(n-1)`, at most `cap`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub base: Duration,
    pub cap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_secs(10),
            cap: Duration::from_secs(3600),
        }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt number `attempt` (1-based).
    pub fn backoff(&self, attempt: i32) -> Duration {
        let exponent = attempt.saturating_sub(1).clamp(0, 30) as u32;
        self.base.saturating_mul(1u32 << exponent).min(self.cap)
    }
}

/// The states of a job row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    Pending,
    Done,
    Failed,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Pending => "pending",
            JobState::Done => "done",
            JobState::Failed => "failed",
        }
    }
}

/// A job row as stored (for `desk queue inspect` and tests).
#[derive(Debug, Clone, PartialEq, QueryableByName)]
pub struct JobRecord {
    #[diesel(sql_type = Int8)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub kind: String,
    #[diesel(sql_type = Jsonb)]
    pub payload: serde_json::Value,
    #[diesel(sql_type = Text)]
    pub state: String,
    #[diesel(sql_type = SmallInt)]
    pub priority: i16,
    #[diesel(sql_type = Timestamptz)]
    pub run_at: DateTime<Utc>,
    #[diesel(sql_type = Int4)]
    pub attempts: i32,
    #[diesel(sql_type = Int4)]
    pub max_attempts: i32,
    #[diesel(sql_type = Nullable<Text>)]
    pub last_error: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub idempotency_key: Option<String>,
}

/// The columns of a [`JobRecord`], as a literal so statements can be built with `concat!`.
macro_rules! job_columns {
    () => {
        "id, kind, payload, state, priority, run_at, attempts, max_attempts, last_error, idempotency_key"
    };
}

/// The job a worker holds while its handler runs.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedJob {
    pub id: JobId,
    pub kind: String,
    pub payload: serde_json::Value,
    /// This run's number, 1-based.
    pub attempt: i32,
    pub max_attempts: i32,
}

impl ClaimedJob {
    /// The typed payload; an unknown kind or a malformed payload is an error of the job (it
    /// is retried, then kept as failed, never silently dropped).
    pub fn job(&self) -> Result<Job, String> {
        serde_json::from_value(self.payload.clone())
            .map_err(|e| format!("cannot read a {:?} job: {e}", self.kind))
    }
}

/// What became of a job a worker ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Done,
    /// Failed; due again at `run_at`.
    Retrying {
        error: String,
        run_at: DateTime<Utc>,
    },
    /// Failed for the last time; kept with its error.
    Failed {
        error: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunReport {
    pub id: JobId,
    pub kind: String,
    pub outcome: Outcome,
}

/// Queue figures for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, QueryableByName)]
pub struct QueueStats {
    /// Pending jobs, due or not.
    #[diesel(sql_type = BigInt)]
    pub pending: i64,
    /// Pending jobs whose time has come (the backlog).
    #[diesel(sql_type = BigInt)]
    pub due: i64,
    #[diesel(sql_type = BigInt)]
    pub failed: i64,
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = Int8)]
    id: i64,
}

impl JobQueue for PgUnitOfWork<'_> {
    fn enqueue(&mut self, job: &NewJob) -> RepoResult<Option<JobId>> {
        let payload = serde_json::to_value(&job.job)
            .map_err(|e| desk_domain::DomainError::Storage(format!("job payload: {e}")))?;
        prepared(
            "INSERT INTO jobs (kind, payload, priority, run_at, max_attempts, idempotency_key) \
             VALUES ($1, $2, $3, COALESCE($4, now()), $5, $6) \
             ON CONFLICT (idempotency_key) WHERE state IN ('pending', 'running') DO NOTHING \
             RETURNING id",
        )
        .bind::<Text, _>(job.job.kind())
        .bind::<Jsonb, _>(payload)
        .bind::<SmallInt, _>(job.priority)
        .bind::<Nullable<Timestamptz>, _>(job.run_at)
        .bind::<Int4, _>(job.max_attempts.max(1))
        .bind::<Nullable<Text>, _>(job.idempotency_key.as_deref())
        .get_result::<IdRow>(self.conn)
        .optional()
        .map(|row| row.map(|r| JobId(r.id)))
        .map_err(storage)
    }
}

/// Errors inside the handler's savepoint.
enum HandlerError {
    Job(String),
    Db(diesel::result::Error),
}

impl From<diesel::result::Error> for HandlerError {
    fn from(e: diesel::result::Error) -> Self {
        HandlerError::Db(e)
    }
}

impl Database {
    /// Claims the next due job (highest priority, then oldest `run_at`, then id) and runs
    /// `handler` on it inside the claiming transaction; records the outcome and commits.
    /// `Ok(None)` when no job is due. The handler's writes (through the unit of work it gets)
    /// commit together with the job's completion, or vanish if it fails.
    pub fn run_next_job<F>(
        &self,
        retry: &RetryPolicy,
        handler: F,
    ) -> Result<Option<RunReport>, PersistenceError>
    where
        F: FnOnce(&mut PgUnitOfWork<'_>, &ClaimedJob) -> Result<(), String>,
    {
        let mut conn = self.connection()?;
        let report = conn.transaction::<_, diesel::result::Error, _>(|conn| {
            // Planned at every claim, never kept prepared. The statement has no parameter, so
            // a kept plan is the one made at the connection's first claim. When `jobs` was
            // last analysed empty (a new database vacuumed after migrating, say), the cheapest
            // plan then scans and sorts. Under `FOR UPDATE` the sort cannot stop at the first
            // row: once a backlog builds (a digest's mail), every claim sorted all of it,
            // spilling to disk, until the next ANALYZE of `jobs` invalidated the plan.
            // Planning it costs ≈ 0.07 ms.
            let Some(row) = diesel::sql_query(concat!(
                "SELECT ",
                job_columns!(),
                " FROM jobs WHERE state = 'pending' AND run_at <= now() \
                 ORDER BY priority DESC, run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED"
            ))
            .get_result::<JobRecord>(conn)
            .optional()?
            else {
                return Ok(None);
            };
            let claimed = ClaimedJob {
                id: JobId(row.id),
                kind: row.kind.clone(),
                payload: row.payload.clone(),
                attempt: row.attempts + 1,
                max_attempts: row.max_attempts,
            };
            let result = conn.transaction::<(), HandlerError, _>(|conn| {
                handler(&mut PgUnitOfWork::new(conn), &claimed).map_err(HandlerError::Job)
            });
            let outcome = match result {
                Ok(()) => Outcome::Done,
                Err(failure) => {
                    let error = match failure {
                        HandlerError::Job(message) => message,
                        HandlerError::Db(e) => format!("database: {e}"),
                    };
                    if claimed.attempt >= claimed.max_attempts {
                        Outcome::Failed { error }
                    } else {
                        let wait = chrono::Duration::from_std(retry.backoff(claimed.attempt))
                            .unwrap_or_else(|_| chrono::Duration::hours(1));
                        Outcome::Retrying {
                            error,
                            run_at: Utc::now() + wait,
                        }
                    }
                }
            };
            let (state, run_at, error) = match &outcome {
                Outcome::Done => ("done", row.run_at, None),
                Outcome::Retrying { error, run_at } => ("pending", *run_at, Some(error.as_str())),
                Outcome::Failed { error } => ("failed", row.run_at, Some(error.as_str())),
            };
            prepared(
                "UPDATE jobs SET state = $1, run_at = $2, attempts = $3, \
                 last_error = COALESCE($4, last_error), updated_at = clock_timestamp() \
                 WHERE id = $5",
            )
            .bind::<Text, _>(state)
            .bind::<Timestamptz, _>(run_at)
            .bind::<Int4, _>(claimed.attempt)
            .bind::<Nullable<Text>, _>(error)
            .bind::<Int8, _>(row.id)
            .execute(conn)?;
            Ok(Some(RunReport {
                id: claimed.id,
                kind: claimed.kind,
                outcome,
            }))
        })?;
        Ok(report)
    }

    /// Jobs in any of `states`, by id.
    pub fn jobs(&self, states: &[JobState]) -> Result<Vec<JobRecord>, PersistenceError> {
        let states: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
        let mut conn = self.connection()?;
        Ok(prepared(concat!(
            "SELECT ",
            job_columns!(),
            " FROM jobs WHERE state = ANY($1) ORDER BY id"
        ))
        .bind::<Array<Text>, _>(states)
        .load(&mut *conn)?)
    }

    /// One job by id.
    pub fn job(&self, id: JobId) -> Result<Option<JobRecord>, PersistenceError> {
        let mut conn = self.connection()?;
        Ok(prepared(concat!(
            "SELECT ",
            job_columns!(),
            " FROM jobs WHERE id = $1"
        ))
        .bind::<Int8, _>(id.0)
        .get_result(&mut *conn)
        .optional()?)
    }

    /// Puts a failed job back in the queue, due now, with a fresh set of attempts (its last
    /// error is kept until it runs). `false` when no failed job has this id.
    pub fn retry_job(&self, id: JobId) -> Result<bool, PersistenceError> {
        let mut conn = self.connection()?;
        let changed = conn.transaction::<_, diesel::result::Error, _>(|conn| {
            let n = prepared(
                "UPDATE jobs SET state = 'pending', run_at = now(), attempts = 0, \
                 updated_at = now() WHERE id = $1 AND state = 'failed'",
            )
            .bind::<Int8, _>(id.0)
            .execute(conn)?;
            // The trigger only covers inserts; tell the workers ourselves.
            conn.batch_execute(&format!("NOTIFY {CHANNEL}"))?;
            Ok(n)
        })?;
        Ok(changed == 1)
    }

    /// Deletes finished (`done`) jobs; returns how many.
    pub fn clean_jobs(&self) -> Result<usize, PersistenceError> {
        let mut conn = self.connection()?;
        Ok(prepared("DELETE FROM jobs WHERE state = 'done'").execute(&mut *conn)?)
    }

    /// Queue depth and failures, in one query (refreshed at every `/metrics` scrape).
    pub fn queue_stats(&self) -> Result<QueueStats, PersistenceError> {
        let mut conn = self.connection()?;
        Ok(prepared(
            "SELECT count(*) FILTER (WHERE state = 'pending') AS pending, \
                    count(*) FILTER (WHERE state = 'pending' AND run_at <= now()) AS due, \
                    count(*) FILTER (WHERE state = 'failed') AS failed \
             FROM jobs WHERE state IN ('pending', 'failed')",
        )
        .get_result(&mut *conn)?)
    }
}

/// A wake-up signal shared by the workers of a process: a generation counter, so a signal
/// given between a worker's last look at the queue and its wait is never lost.
#[derive(Debug, Default)]
pub struct Wakeup {
    generation: Mutex<u64>,
    changed: Condvar,
}

impl Wakeup {
    pub fn new() -> Arc<Wakeup> {
        Arc::new(Wakeup::default())
    }

    /// The current generation; pass it to [`Wakeup::wait`].
    pub fn generation(&self) -> u64 {
        *self.generation.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes every waiting worker.
    pub fn notify(&self) {
        let mut generation = self.generation.lock().unwrap_or_else(|e| e.into_inner());
        *generation += 1;
        self.changed.notify_all();
    }

    /// Waits until the generation moves past `seen` or `timeout` passes.
    pub fn wait(&self, seen: u64, timeout: Duration) {
        let guard = self.generation.lock().unwrap_or_else(|e| e.into_inner());
        let _ = self
            .changed
            .wait_timeout_while(guard, timeout, |generation| *generation == seen);
    }
}

/// How often the listener looks for notifications. diesel offers no blocking wait on the
/// connection's socket, so the listener reads what has arrived (a non-blocking read, no
/// query) at this pace: a wake-up latency of at most this long.
const LISTEN_TICK: Duration = Duration::from_millis(20);

/// Runs `LISTEN desk_jobs` on a connection of its own and signals `wakeup` for every batch
/// of notifications, until `stop` is set. Reconnects after a failure (workers keep polling
/// meanwhile).
pub fn spawn_listener(db: Database, wakeup: Arc<Wakeup>, stop: Arc<AtomicBool>) -> JoinHandle<()> {
    std::thread::Builder::new()
        .name("desk-jobs-listener".into())
        .spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                if let Err(error) = listen(&db, &wakeup, &stop) {
                    tracing::warn!(%error, "job notifications interrupted; retrying in 1 s");
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
        })
        .expect("spawn the job listener thread")
}

fn listen(db: &Database, wakeup: &Wakeup, stop: &AtomicBool) -> Result<(), PersistenceError> {
    let mut conn = db.connection()?;
    conn.batch_execute(&format!("LISTEN {CHANNEL}"))?;
    // Anything enqueued before LISTEN took effect would be missed: look once now.
    wakeup.notify();
    let result = (|| {
        while !stop.load(Ordering::SeqCst) {
            let mut woke = false;
            for notification in conn.notifications_iter() {
                notification?;
                woke = true;
            }
            if woke {
                wakeup.notify();
            }
            std::thread::sleep(LISTEN_TICK);
        }
        Ok(())
    })();
    // The connection goes back to the pool: it must not keep listening.
    let _ = conn.batch_execute("UNLISTEN *");
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy {
            base: Duration::from_secs(10),
            cap: Duration::from_secs(60),
        };
        let waits: Vec<u64> = (1..=5).map(|n| policy.backoff(n).as_secs()).collect();
        assert_eq!(waits, [10, 20, 40, 60, 60]);
        assert_eq!(policy.backoff(1000), Duration::from_secs(60));
    }
}
