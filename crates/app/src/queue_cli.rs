//! `desk worker` and `desk queue …` (OPERATIONS.md): the worker process and the operator's
//! view of the job queue, one line per job.

use crate::config::{Config, ConfigError, MailConfig};
use crate::worker::{self, JobRunner};
use clap::Subcommand;
use desk_domain::jobs::JobId;
use desk_mail::{MailSettings, SmtpMailer, Templates};
use desk_persistence::jobs::{JobRecord, JobState, RetryPolicy};
use desk_persistence::Database;
use std::sync::Arc;

#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    /// List pending jobs (or failed / finished ones), one line per job.
    Inspect {
        /// Failed jobs (kept with their last error) instead of pending ones.
        #[arg(long)]
        failed: bool,
        /// Finished jobs instead of pending ones (with --failed: both).
        #[arg(long)]
        done: bool,
    },
    /// Put a failed job back in the queue, due now, with a fresh set of attempts.
    Retry { id: i64 },
    /// Delete finished jobs.
    Clean,
}

/// A command's failure: configuration (exit 2) or runtime (exit 1).
pub enum QueueFailure {
    Usage(String),
    Runtime(String),
}

impl From<ConfigError> for QueueFailure {
    fn from(e: ConfigError) -> Self {
        QueueFailure::Usage(e.to_string())
    }
}

fn runtime(e: impl std::fmt::Display) -> QueueFailure {
    QueueFailure::Runtime(e.to_string())
}

/// One line of `desk queue inspect`: id, kind, state, run_at, attempts, key payload fields.
pub fn job_line(job: &JobRecord) -> String {
    let mut line = format!(
        "{:>6}  {:<16} {:<8} {}  attempts={}/{}",
        job.id,
        job.kind,
        job.state,
        job.run_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        job.attempts,
        job.max_attempts
    );
    if let Some(fields) = job.payload.as_object() {
        // Bodies are long and private; ids and addresses identify the job.
        for (key, value) in fields.iter().filter(|(k, _)| *k != "kind" && *k != "body") {
            let shown = match value {
                serde_json::Value::String(s) if s.contains(char::is_whitespace) => {
                    format!("{s:?}")
                }
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            line.push_str(&format!("  {key}={shown}"));
        }
    }
    if let Some(key) = &job.idempotency_key {
        line.push_str(&format!("  key={key}"));
    }
    if job.state == "failed" {
        if let Some(error) = &job.last_error {
            line.push_str(&format!("  error={error:?}"));
        }
    }
    line
}

pub fn queue(config: &Config, action: QueueCommand) -> Result<(), QueueFailure> {
    let db = Database::connect(&config.require_database_url()?, 1).map_err(runtime)?;
    match action {
        QueueCommand::Inspect { failed, done } => {
            let states = match (failed, done) {
                (false, false) => vec![JobState::Pending],
                (true, false) => vec![JobState::Failed],
                (false, true) => vec![JobState::Done],
                (true, true) => vec![JobState::Failed, JobState::Done],
            };
            let jobs = db.jobs(&states).map_err(runtime)?;
            for job in &jobs {
                println!("{}", job_line(job));
            }
            println!("{} job(s).", jobs.len());
        }
        QueueCommand::Retry { id } => {
            if !db.retry_job(JobId(id)).map_err(runtime)? {
                return Err(runtime(format!("no failed job with id {id}")));
            }
            println!("job {id} re-queued");
        }
        QueueCommand::Clean => {
            let removed = db.clean_jobs().map_err(runtime)?;
            println!("Removed {removed} finished job(s).");
        }
    }
    Ok(())
}

/// Templates and transport of `mail`; the templates are checked by rendering each once.
pub fn mail_parts(mail: &MailConfig) -> Result<(Arc<Templates>, SmtpMailer), QueueFailure> {
    let templates = Templates::new(MailSettings {
        public_url: mail.public_url.clone(),
        site_name: mail.site_name.clone(),
    })
    .map_err(|e| QueueFailure::Usage(format!("configuration error: {e}")))?;
    let mailer = SmtpMailer::from_url(&mail.smtp_url, &mail.mail_from)
        .map_err(|e| QueueFailure::Usage(format!("configuration error: {e}")))?;
    Ok((Arc::new(templates), mailer))
}

/// Builds the job runner of a process (worker or demo); review tokens with this process's
/// key (the demo: its server shares it).
pub fn runner(db: Database, mail: &MailConfig) -> Result<Arc<JobRunner>, QueueFailure> {
    runner_with_reviews(db, mail, Default::default())
}

/// Builds the job runner with the review-request settings of the configuration.
pub fn runner_with_reviews(
    db: Database,
    mail: &MailConfig,
    reviews: crate::reviews_cli::ReviewJobSettings,
) -> Result<Arc<JobRunner>, QueueFailure> {
    let (templates, mailer) = mail_parts(mail)?;
    if let Err(error) = mailer.check() {
        // Not fatal: mail jobs wait and retry until the relay answers.
        tracing::warn!(%error, "the mail transport does not answer yet; e-mails will be retried");
    }
    Ok(Arc::new(JobRunner {
        db,
        templates,
        mailer: Arc::new(mailer),
        notify_emails: mail.notify_emails.clone(),
        retry: RetryPolicy::default(),
        reviews,
    }))
}

/// `desk worker [--concurrency N]`: runs until SIGTERM/SIGINT, then finishes the jobs in hand
/// and returns (exit 0).
pub fn worker(config: &Config, concurrency: usize) -> Result<(), QueueFailure> {
    let database_url = config.require_database_url()?;
    let mail = config.validate_mail()?;
    if concurrency == 0 || concurrency > 256 {
        return Err(QueueFailure::Usage(
            "--concurrency must be between 1 and 256".into(),
        ));
    }
    // One connection per worker thread, one for LISTEN, one spare.
    let db = Database::connect(&database_url, concurrency as u32 + 2).map_err(runtime)?;
    let reviews = crate::reviews_cli::ReviewJobSettings::from_config(config);
    if config.secret_key.is_none() {
        tracing::warn!(
            "DESK_SECRET_KEY is not set: review links will not be accepted by the server"
        );
    }
    let runner = runner_with_reviews(db, &mail, reviews)?;
    let workers = worker::spawn(runner, concurrency, worker::POLL_INTERVAL);
    tracing::info!(concurrency, "worker started");
    let signals = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(runtime)?;
    signals.block_on(shutdown_signal());
    tracing::info!("stopping: finishing the jobs in hand");
    workers.shutdown();
    tracing::info!("worker stopped");
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_line_shows_the_key_fields() {
        let job = JobRecord {
            id: 12,
            kind: "ticket-reopened".into(),
            payload: serde_json::json!({"kind": "ticket-reopened", "ticket": 7, "actor": 3}),
            state: "failed".into(),
            priority: 0,
            run_at: chrono::DateTime::parse_from_rfc3339("2026-11-22T06:00:00Z")
                .unwrap()
                .into(),
            attempts: 10,
            max_attempts: 10,
            last_error: Some("relay down".into()),
            idempotency_key: None,
        };
        assert_eq!(
            job_line(&job),
            "    12  ticket-reopened  failed   2026-11-22T06:00:00Z  attempts=10/10  ticket=7  actor=3  error=\"relay down\""
        );
    }
}
