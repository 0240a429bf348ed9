//! `desk worker`: runs background jobs (contract §5, W29, W30; design in `docs/jobs.md`).
//!
//! A [`JobRunner`] knows what each job kind does; [`spawn`] starts `concurrency` threads
//! that claim and run due jobs, sleep until a `NOTIFY` (or the poll interval) when there is
//! none, and stop after the job in hand when asked ([`RunningWorkers::shutdown`]). Threads,
//! not async tasks: diesel and lettre are blocking, and a job holds its connection anyway.
//!
//! Notices fan out: a `ticket-created`/`ticket-reopened` job decides the recipients from the
//! data as it is now, renders one e-mail each and enqueues a `mail` job per message, in the
//! same transaction that completes it. A `mail` job sends one message; when the relay is down
//! it is retried with back-off, alone, so nobody gets the same message twice because somebody
//! else's address failed.

use desk_domain::jobs::{notices_for, Job, NewJob};
use desk_domain::ports::{JobQueue, Mailer};
use desk_mail::Templates;
use desk_persistence::jobs::{spawn_listener, ClaimedJob, Outcome, RetryPolicy, RunReport, Wakeup};
use desk_persistence::{Database, PersistenceError, PgUnitOfWork};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// When no notification arrives, workers look at the queue this often anyway (delayed jobs,
/// retries coming due, a lost listener connection).
pub const POLL_INTERVAL: Duration = Duration::from_secs(5);

/// What the jobs need, shared by every worker thread.
pub struct JobRunner {
    pub db: Database,
    pub templates: Arc<Templates>,
    pub mailer: Arc<dyn Mailer>,
    /// `DESK_NOTIFY_EMAILS`.
    pub notify_emails: Vec<String>,
    pub retry: RetryPolicy,
    /// Review requests: `DESK_REVIEWS_DISABLED` and the token key (`crate::reviews_cli`).
    pub reviews: crate::reviews_cli::ReviewJobSettings,
}

impl JobRunner {
    /// Claims and runs one due job; `None` when nothing is due.
    pub fn run_one(&self) -> Result<Option<RunReport>, PersistenceError> {
        let report = self.db.run_next_job(&self.retry, |uow, claimed| {
            // A panicking handler must count as a failed attempt, not kill the worker.
            std::panic::catch_unwind(AssertUnwindSafe(|| self.handle(uow, claimed)))
                .unwrap_or_else(|_| Err("the job handler panicked".into()))
        })?;
        if let Some(report) = &report {
            match &report.outcome {
                Outcome::Done => tracing::info!(id = report.id.0, kind = %report.kind, "job done"),
                Outcome::Retrying { error, run_at } => tracing::warn!(
                    id = report.id.0, kind = %report.kind, %error, retry_at = %run_at.to_rfc3339(),
                    "job failed; will retry"
                ),
                Outcome::Failed { error } => tracing::error!(
                    id = report.id.0, kind = %report.kind, %error,
                    "job failed for the last time; kept as failed (desk queue retry ID)"
                ),
            }
        }
        Ok(report)
    }

    /// Runs due jobs until none is left (jobs enqueued meanwhile included); returns how many
    /// ran. For tests and one-shot runs.
    pub fn run_until_idle(&self) -> Result<usize, PersistenceError> {
        let mut ran = 0;
        while self.run_one()?.is_some() {
            ran += 1;
        }
        Ok(ran)
    }

    fn handle(&self, uow: &mut PgUnitOfWork<'_>, claimed: &ClaimedJob) -> Result<(), String> {
        match claimed.job()? {
            Job::Mail(mail) => self.mailer.send(&mail).map_err(|e| e.to_string()),
            Job::ReviewRequest { ticket } => {
                crate::reviews_cli::request_reviews(self, uow, ticket, 0).map(|_| ())
            }
            Job::Digest => crate::reviews_cli::digest_job(self, uow, claimed),
            job => {
                let notices =
                    notices_for(uow, &job, &self.notify_emails).map_err(|e| e.to_string())?;
                for notice in &notices {
                    let mail = self.templates.compose(notice).map_err(|e| e.to_string())?;
                    uow.enqueue(&NewJob::now(Job::Mail(mail)))
                        .map_err(|e| e.to_string())?;
                }
                Ok(())
            }
        }
    }
}

/// Worker threads in flight.
pub struct RunningWorkers {
    stop: Arc<AtomicBool>,
    wakeup: Arc<Wakeup>,
    threads: Vec<JoinHandle<()>>,
}

impl RunningWorkers {
    /// Asks every worker to stop, waits for the jobs in hand to finish, and returns.
    pub fn shutdown(self) {
        self.stop.store(true, Ordering::SeqCst);
        self.wakeup.notify();
        for thread in self.threads {
            let _ = thread.join();
        }
    }
}

/// Starts `concurrency` worker threads and the `LISTEN` thread.
pub fn spawn(runner: Arc<JobRunner>, concurrency: usize, poll: Duration) -> RunningWorkers {
    let stop = Arc::new(AtomicBool::new(false));
    let wakeup = Wakeup::new();
    let mut threads = vec![spawn_listener(
        runner.db.clone(),
        wakeup.clone(),
        stop.clone(),
    )];
    for n in 0..concurrency.max(1) {
        let (runner, stop, wakeup) = (runner.clone(), stop.clone(), wakeup.clone());
        let thread = std::thread::Builder::new()
            .name(format!("desk-worker-{n}"))
            .spawn(move || work(&runner, &stop, &wakeup, poll))
            .expect("spawn a worker thread");
        threads.push(thread);
    }
    RunningWorkers {
        stop,
        wakeup,
        threads,
    }
}

fn work(runner: &JobRunner, stop: &AtomicBool, wakeup: &Wakeup, poll: Duration) {
    while !stop.load(Ordering::SeqCst) {
        // Read the generation before looking, so a notification in between is not lost.
        let seen = wakeup.generation();
        match runner.run_one() {
            Ok(Some(_)) => continue,
            Ok(None) if !stop.load(Ordering::SeqCst) => wakeup.wait(seen, poll),
            Ok(None) => {}
            Err(error) => {
                tracing::error!(%error, "cannot reach the job queue; retrying");
                wakeup.wait(seen, poll);
            }
        }
    }
}

/// The demo's worker: one thread, the file transport writing to `.desk/demo/outbox/`, links
/// to the demo server. New-ticket notices go to `DESK_NOTIFY_EMAILS` or, when that is empty,
/// to the seeded staff, so creating a ticket in the demo visibly leaves an e-mail behind.
pub fn start_demo(
    db: &Database,
    config: &crate::config::Config,
    public_url: &str,
) -> Result<RunningWorkers, String> {
    let outbox = std::env::current_dir()
        .map_err(|e| format!("current directory: {e}"))?
        .join(".desk/demo/outbox");
    let mut notify_emails = crate::config::list(&config.notify_emails);
    if notify_emails.is_empty() {
        notify_emails = db
            .all_profiles()
            .map_err(|e| e.to_string())?
            .into_iter()
            .filter(|p| p.is_active && (p.is_staff || p.is_superuser) && !p.email.is_empty())
            .map(|p| p.email)
            .collect();
    }
    let mail = crate::config::MailConfig {
        smtp_url: format!("file://{}", outbox.display()),
        mail_from: config
            .mail_from
            .clone()
            .unwrap_or_else(|| "desk@localhost".into()),
        public_url: public_url.to_string(),
        site_name: config.site_name.clone(),
        notify_emails,
    };
    // The demo's server and worker share this process's review-token key.
    let reviews = crate::reviews_cli::ReviewJobSettings {
        disabled: config.reviews_disabled,
        key: Default::default(),
    };
    let runner =
        crate::queue_cli::runner_with_reviews(db.clone(), &mail, reviews).map_err(|e| match e {
            crate::queue_cli::QueueFailure::Usage(m)
            | crate::queue_cli::QueueFailure::Runtime(m) => m,
        })?;
    println!("E-mails are written to {}", outbox.display());
    Ok(spawn(runner, 1, POLL_INTERVAL))
}
