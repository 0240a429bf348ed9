//! The job queue against a real PostgreSQL database: transactional enqueue, idempotency keys,
//! delayed jobs, priorities, concurrent workers (each job done exactly once), a worker that
//! dies mid-job, retries with back-off, the failed state, operator commands, NOTIFY wake-ups.

mod common;

use common::*;
use desk_domain::jobs::{Job, JobId, NewJob};
use desk_domain::ports::{JobQueue, SystemClock};
use desk_domain::usecases::tickets::create_ticket;
use desk_domain::*;
use desk_persistence::jobs::{spawn_listener, JobState, Outcome, RetryPolicy, Wakeup};
use desk_persistence::Database;
use diesel::prelude::*;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

fn created(ticket: i32) -> NewJob {
    NewJob::now(Job::TicketCreated {
        ticket: TicketId(ticket),
    })
}

fn enqueue(db: &Database, job: NewJob) -> Option<JobId> {
    write(db, |uow| uow.enqueue(&job).expect("enqueue"))
}

fn no_wait() -> RetryPolicy {
    RetryPolicy {
        base: Duration::ZERO,
        cap: Duration::ZERO,
    }
}

/// Runs due jobs with `handler` until none is due; returns the ids run, in order.
fn drain(db: &Database, handler: impl Fn(&Job) -> Result<(), String>) -> Vec<i64> {
    let mut ran = Vec::new();
    while let Some(report) = db
        .run_next_job(&no_wait(), |_, claimed| handler(&claimed.job()?))
        .expect("run a job")
    {
        ran.push(report.id.0);
    }
    ran
}

fn ticket_of(job: &Job) -> i32 {
    match job {
        Job::TicketCreated { ticket }
        | Job::TicketReopened { ticket, .. }
        | Job::CommentCreated { ticket, .. }
        | Job::ResponderAdded { ticket, .. }
        | Job::SubscriberAdded { ticket, .. }
        | Job::ReviewRequest { ticket } => ticket.0,
        Job::Mail(_) | Job::Digest => 0,
    }
}

#[test]
fn a_job_commits_and_rolls_back_with_the_change_that_caused_it() {
    let t = TestDb::new();
    let requester = write(&t.db, |uow| {
        profile(uow, "r@x.org", "Rita", "R", false, false)
    });
    let actor = Actor {
        id: requester.id,
        is_staff: false,
        is_superuser: false,
    };
    let body = serde_json::json!({"background": "b"})
        .as_object()
        .unwrap()
        .clone();
    // A create whose transaction rolls back (a later step fails) leaves no job behind.
    let refused = t.db.in_transaction(None, |uow| {
        create_ticket(uow, &SystemClock, &actor, &body)?;
        Err::<(), _>(DomainError::Forbidden)
    });
    assert!(refused.is_err());
    assert!(t.db.jobs(&[JobState::Pending]).unwrap().is_empty());
    // A committed create has exactly its notice.
    let ticket =
        t.db.in_transaction(None, |uow| create_ticket(uow, &SystemClock, &actor, &body))
            .unwrap();
    let jobs = t.db.jobs(&[JobState::Pending]).unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].kind, "ticket-created");
    assert_eq!(
        jobs[0].payload,
        serde_json::json!({"kind": "ticket-created", "ticket": ticket.id.0})
    );
}

#[test]
fn an_idempotency_key_is_unique_while_its_job_is_pending() {
    let t = TestDb::new();
    let first = enqueue(&t.db, created(1).key("digest"));
    assert!(first.is_some());
    assert_eq!(enqueue(&t.db, created(2).key("digest")), None, "a no-op");
    assert_eq!(t.db.jobs(&[JobState::Pending]).unwrap().len(), 1);
    // Other keys and no key are independent.
    assert!(enqueue(&t.db, created(3).key("other")).is_some());
    assert!(enqueue(&t.db, created(4)).is_some());
    assert!(enqueue(&t.db, created(5)).is_some());
    // Once the job has run, the key may be used again.
    drain(&t.db, |_| Ok(()));
    assert!(enqueue(&t.db, created(6).key("digest")).is_some());
}

#[test]
fn delayed_jobs_wait_and_priorities_go_first() {
    let t = TestDb::new();
    let later = chrono::Utc::now() + chrono::Duration::hours(1);
    enqueue(&t.db, created(1).at(later));
    let low = enqueue(&t.db, created(2)).unwrap();
    let high = enqueue(&t.db, created(3).priority(5)).unwrap();
    assert_eq!(drain(&t.db, |_| Ok(())), [high.0, low.0]);
    // The delayed job is still there, not run early.
    let pending = t.db.jobs(&[JobState::Pending]).unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].attempts, 0);
    assert_eq!(pending[0].run_at.timestamp(), later.timestamp());
    // Once due, it runs.
    t.db.connection()
        .unwrap()
        .batch_execute_sql("UPDATE jobs SET run_at = now() - interval '1 second'");
    assert_eq!(drain(&t.db, |_| Ok(())), [pending[0].id]);
}

trait Exec {
    fn batch_execute_sql(&mut self, sql: &str);
}

impl<C: diesel::connection::SimpleConnection> Exec for C {
    fn batch_execute_sql(&mut self, sql: &str) {
        self.batch_execute(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

#[test]
fn concurrent_workers_do_each_job_exactly_once() {
    let t = TestDb::new();
    let db = Database::connect(&t.url, 6).unwrap();
    write(&db, |uow| {
        for n in 0..300 {
            uow.enqueue(&created(n)).unwrap();
        }
    });
    let seen: Arc<Mutex<BTreeMap<i32, usize>>> = Arc::default();
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (db, seen) = (db.clone(), seen.clone());
            std::thread::spawn(move || {
                drain(&db, |job| {
                    *seen.lock().unwrap().entry(ticket_of(job)).or_default() += 1;
                    Ok(())
                })
                .len()
            })
        })
        .collect();
    let per_worker: Vec<usize> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 300);
    assert!(seen.values().all(|&n| n == 1), "a job ran twice");
    assert_eq!(per_worker.iter().sum::<usize>(), 300);
    assert_eq!(db.jobs(&[JobState::Done]).unwrap().len(), 300);
    assert!(db.jobs(&[JobState::Pending]).unwrap().is_empty());
}

#[test]
fn a_job_of_a_worker_that_dies_is_done_later_by_another() {
    let t = TestDb::new();
    let db = Database::connect(&t.url, 4).unwrap();
    let id = enqueue(&db, created(7)).unwrap();
    let (started_tx, started_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let doomed = {
        let db = db.clone();
        std::thread::spawn(move || {
            db.run_next_job(&no_wait(), |uow, _| {
                #[derive(QueryableByName)]
                struct Pid {
                    #[diesel(sql_type = diesel::sql_types::Integer)]
                    pid: i32,
                }
                let pid = diesel::sql_query("SELECT pg_backend_pid() AS pid")
                    .get_result::<Pid>(uow.connection())
                    .unwrap()
                    .pid;
                started_tx.send(pid).unwrap();
                let _ = release_rx.recv();
                Ok(())
            })
        })
    };
    let pid = started_rx.recv().unwrap();
    // While the first worker lives, its job is invisible to others.
    assert_eq!(db.run_next_job(&no_wait(), |_, _| Ok(())).unwrap(), None);
    // The worker dies: its connection goes away mid-job.
    db.connection()
        .unwrap()
        .batch_execute_sql(&format!("SELECT pg_terminate_backend({pid})"));
    release_tx.send(()).unwrap();
    assert!(
        doomed.join().unwrap().is_err(),
        "the dead worker completes nothing"
    );
    // Another worker finds the job and does it.
    let report = db.run_next_job(&no_wait(), |_, _| Ok(())).unwrap().unwrap();
    assert_eq!(report.id, id);
    assert_eq!(report.outcome, Outcome::Done);
    let row = db.job(id).unwrap().unwrap();
    assert_eq!((row.state.as_str(), row.attempts), ("done", 1));
}

#[test]
fn failures_back_off_then_the_job_is_kept_as_failed_with_its_last_error() {
    let t = TestDb::new();
    let mut job = created(1);
    job.max_attempts = 3;
    let id = enqueue(&t.db, job).unwrap();
    let slow = RetryPolicy {
        base: Duration::from_secs(60),
        cap: Duration::from_secs(3600),
    };
    let before = chrono::Utc::now();
    let report =
        t.db.run_next_job(&slow, |_, _| Err("relay said no (1)".into()))
            .unwrap()
            .unwrap();
    let Outcome::Retrying { error, run_at } = report.outcome else {
        panic!("{report:?}")
    };
    assert_eq!(error, "relay said no (1)");
    let wait = (run_at - before).num_seconds();
    assert!((59..=61).contains(&wait), "{wait}");
    // Not due yet: nothing to run.
    assert_eq!(t.db.run_next_job(&slow, |_, _| Ok(())).unwrap(), None);
    let row = t.db.job(id).unwrap().unwrap();
    assert_eq!((row.state.as_str(), row.attempts), ("pending", 1));
    assert_eq!(row.last_error.as_deref(), Some("relay said no (1)"));

    // Without back-off, two more failures use up the attempts.
    let mut runs = 1;
    t.db.connection()
        .unwrap()
        .batch_execute_sql("UPDATE jobs SET run_at = now()");
    while let Some(report) =
        t.db.run_next_job(&no_wait(), |_, claimed| {
            Err(format!("relay said no ({})", claimed.attempt))
        })
        .unwrap()
    {
        runs += 1;
        if runs == 3 {
            assert_eq!(
                report.outcome,
                Outcome::Failed {
                    error: "relay said no (3)".into()
                }
            );
        }
    }
    assert_eq!(runs, 3);
    let row = t.db.job(id).unwrap().unwrap();
    assert_eq!((row.state.as_str(), row.attempts), ("failed", 3));
    assert_eq!(row.last_error.as_deref(), Some("relay said no (3)"));
    assert_eq!(t.db.queue_stats().unwrap().failed, 1);

    // An operator re-queues it; it runs and is done.
    assert!(t.db.retry_job(id).unwrap());
    assert!(!t.db.retry_job(id).unwrap(), "only failed jobs are retried");
    assert_eq!(drain(&t.db, |_| Ok(())), [id.0]);
    assert_eq!(t.db.job(id).unwrap().unwrap().state, "done");
    assert_eq!(t.db.clean_jobs().unwrap(), 1);
    assert!(t.db.job(id).unwrap().is_none());
}

#[test]
fn a_failing_handler_leaves_none_of_its_writes_behind() {
    let t = TestDb::new();
    enqueue(&t.db, created(1));
    t.db.run_next_job(&no_wait(), |uow, _| {
        uow.enqueue(&created(99)).unwrap();
        Err("boom".into())
    })
    .unwrap();
    // The follow-up job the handler enqueued vanished with its savepoint.
    let pending = t.db.jobs(&[JobState::Pending, JobState::Failed]).unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].payload["ticket"], 1);
    // And a succeeding handler's writes commit with the completion.
    t.db.connection()
        .unwrap()
        .batch_execute_sql("UPDATE jobs SET state = 'pending', run_at = now()");
    t.db.run_next_job(&no_wait(), |uow, _| {
        uow.enqueue(&created(99)).unwrap();
        Ok(())
    })
    .unwrap();
    let pending = t.db.jobs(&[JobState::Pending]).unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].payload["ticket"], 99);
}

#[test]
fn an_unreadable_payload_fails_the_job_instead_of_dropping_it() {
    let t = TestDb::new();
    t.db.connection().unwrap().batch_execute_sql(
        "INSERT INTO jobs (kind, payload, max_attempts) VALUES ('mystery', '{\"kind\": \"mystery\"}', 1)",
    );
    let report =
        t.db.run_next_job(&no_wait(), |_, claimed| claimed.job().map(|_| ()))
            .unwrap()
            .unwrap();
    assert!(
        matches!(&report.outcome, Outcome::Failed { error } if error.contains("mystery")),
        "{report:?}"
    );
}

#[test]
fn stats_count_pending_due_and_failed_jobs() {
    let t = TestDb::new();
    enqueue(&t.db, created(1));
    enqueue(
        &t.db,
        created(2).at(chrono::Utc::now() + chrono::Duration::hours(1)),
    );
    let mut failing = created(3);
    failing.max_attempts = 1;
    failing.priority = 9;
    enqueue(&t.db, failing);
    t.db.run_next_job(&no_wait(), |_, _| Err("no".into()))
        .unwrap();
    let stats = t.db.queue_stats().unwrap();
    assert_eq!((stats.pending, stats.due, stats.failed), (2, 1, 1));
}

#[test]
fn an_enqueue_wakes_the_listening_workers_at_commit() {
    let t = TestDb::new();
    let db = Database::connect(&t.url, 3).unwrap();
    let wakeup = Wakeup::new();
    let stop = Arc::new(AtomicBool::new(false));
    let listener = spawn_listener(db.clone(), wakeup.clone(), stop.clone());
    // The listener signals once when it starts listening.
    let deadline = Instant::now() + Duration::from_secs(5);
    while wakeup.generation() == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let seen = wakeup.generation();
    assert!(seen > 0, "the listener started");
    // A rolled-back enqueue wakes nobody.
    let _ = db.in_transaction(None, |uow| {
        uow.enqueue(&created(1))?;
        Err::<(), _>(DomainError::Forbidden)
    });
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(wakeup.generation(), seen);
    // A committed one does, quickly.
    let started = Instant::now();
    enqueue(&db, created(2));
    wakeup.wait(seen, Duration::from_secs(5));
    assert!(wakeup.generation() > seen, "woken");
    assert!(started.elapsed() < Duration::from_secs(1));
    stop.store(true, Ordering::SeqCst);
    listener.join().unwrap();
}

/// The claim is planned for the queue as it is at each claim: a plan kept from a first claim
/// on an empty queue (scan and sort) sorted the whole backlog at every later claim.
#[test]
fn the_claim_is_planned_afresh_for_the_queue_as_it_is() {
    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let t = TestDb::new();
    // One connection, so every claim and the look-up below share it.
    let db = Database::connect(&t.url, 1).unwrap();
    assert!(db
        .run_next_job(&no_wait(), |_, _| Ok(()))
        .unwrap()
        .is_none());
    db.connection().unwrap().batch_execute_sql(
        "INSERT INTO jobs (kind, payload, run_at)
         SELECT 'comment-created', jsonb_build_object('ticket', g, 'author', 1),
                now() - interval '1 hour' + g * interval '1 ms'
         FROM generate_series(1, 3000) g",
    );
    let report = db.run_next_job(&no_wait(), |_, _| Ok(())).unwrap().unwrap();
    let oldest = diesel::sql_query("SELECT min(id) AS n FROM jobs")
        .get_result::<Count>(&mut *db.connection().unwrap())
        .unwrap();
    assert_eq!(report.id, JobId(oldest.n), "the oldest due job goes first");
    let kept = diesel::sql_query(
        "SELECT count(*) AS n FROM pg_prepared_statements WHERE statement LIKE '%SKIP LOCKED%'",
    )
    .get_result::<Count>(&mut *db.connection().unwrap())
    .unwrap();
    assert_eq!(kept.n, 0, "the claim must not keep a plan");
}
