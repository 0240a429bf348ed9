//! Job-queue throughput (docs/performance.md, "Job queue"). Skipped unless `DESK_BENCH=1`:
//!
//! ```sh
//! DESK_BENCH=1 cargo test --release -p desk-app --test bench_jobs -- --nocapture
//! ```
//!
//! Reports jobs/s claimed and completed with a no-op handler, and e-mails/s delivered to a
//! local SMTP sink, with 4 worker threads.

use desk_app::worker::JobRunner;
use desk_domain::jobs::{Job, NewJob, OutgoingMail};
use desk_domain::ports::JobQueue;
use desk_domain::TicketId;
use desk_mail::{MailSettings, SmtpMailer, Templates};
use desk_persistence::jobs::RetryPolicy;
use desk_persistence::Database;
use desk_testkit::db::TestDb;
use desk_testkit::SmtpSink;
use std::sync::Arc;
use std::time::{Duration, Instant};

const THREADS: usize = 4;

fn enabled() -> bool {
    std::env::var("DESK_BENCH").is_ok_and(|v| v == "1")
}

fn parallel(threads: usize, work: impl Fn() -> usize + Send + Sync + 'static) -> usize {
    let work = Arc::new(work);
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let work = work.clone();
            std::thread::spawn(move || work())
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).sum()
}

#[test]
fn job_queue_throughput() {
    if !enabled() {
        eprintln!("skipped: set DESK_BENCH=1 to run the job-queue benchmark");
        return;
    }
    let t = TestDb::new();
    let db = Database::connect(&t.url, THREADS as u32 + 1).unwrap();
    let jobs = 20_000;
    let started = Instant::now();
    db.in_transaction(None, |uow| {
        for n in 0..jobs {
            uow.enqueue(&NewJob::now(Job::TicketCreated {
                ticket: TicketId(n),
            }))?;
        }
        Ok(())
    })
    .unwrap();
    let enqueue_rate = jobs as f64 / started.elapsed().as_secs_f64();
    let retry = RetryPolicy::default();
    let started = Instant::now();
    let done = {
        let db = db.clone();
        parallel(THREADS, move || {
            let mut n = 0;
            while db.run_next_job(&retry, |_, _| Ok(())).unwrap().is_some() {
                n += 1;
            }
            n
        })
    };
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(done, jobs as usize);
    println!("enqueue (one transaction): {enqueue_rate:.0} jobs/s");
    println!(
        "claim + complete, no-op handler, {THREADS} threads: {:.0} jobs/s ({jobs} jobs in {elapsed:.2} s)",
        done as f64 / elapsed
    );

    // E-mail: mail jobs delivered to a local SMTP sink.
    let sink = SmtpSink::start();
    let messages = 500;
    db.in_transaction(None, |uow| {
        for n in 0..messages {
            uow.enqueue(&NewJob::now(Job::Mail(OutgoingMail {
                to: format!("reader{n}@example.org"),
                subject: format!("A new ticket was requested, ID: {n}"),
                body: "Hello,\n\nA body of a few lines.\n\n--\nThe Research Desk Team.\n".into(),
            })))?;
        }
        Ok(())
    })
    .unwrap();
    let runner = Arc::new(JobRunner {
        db: db.clone(),
        templates: Arc::new(
            Templates::new(MailSettings {
                public_url: "https://desk.example.org".into(),
                site_name: "Research Desk".into(),
            })
            .unwrap(),
        ),
        mailer: Arc::new(SmtpMailer::from_url(&sink.url(), "desk@example.org").unwrap()),
        notify_emails: vec![],
        retry,
        reviews: Default::default(),
    });
    let started = Instant::now();
    let sent = parallel(THREADS, move || runner.run_until_idle().unwrap());
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(sent, messages);
    assert_eq!(
        sink.wait_for(messages, Duration::from_secs(30)).len(),
        messages
    );
    println!(
        "e-mails to a local SMTP sink, {THREADS} threads: {:.0} e-mails/s ({messages} in {elapsed:.2} s)",
        sent as f64 / elapsed
    );
}
