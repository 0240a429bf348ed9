//! Jobs and e-mail end to end: the HTTP API enqueues, the worker runs, a real SMTP server on
//! 127.0.0.1 receives (contract §5.3.1, §5.3.2; W29, W30). Also the relay going down while
//! jobs are pending, the worker threads' graceful shutdown, `/metrics`, and the `desk worker`
//! / `desk queue` commands as a process.

mod common;

use actix_web::http::{Method, StatusCode};
use common::*;
use desk_app::worker::{self, JobRunner};
use desk_domain::jobs::{Job, NewJob};
use desk_domain::ports::JobQueue;
use desk_domain::TicketId;
use desk_mail::{MailSettings, SmtpMailer, Templates};
use desk_persistence::jobs::{JobState, RetryPolicy};
use desk_testkit::SmtpSink;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

fn runner(app: &TestApp, sink: &SmtpSink, notify: &[&str], retry: RetryPolicy) -> JobRunner {
    JobRunner {
        db: app.db.db.clone(),
        templates: Arc::new(
            Templates::new(MailSettings {
                public_url: "https://desk.example.org".into(),
                site_name: "Research Desk".into(),
            })
            .unwrap(),
        ),
        mailer: Arc::new(SmtpMailer::from_url(&sink.url(), "desk@example.org").unwrap()),
        notify_emails: notify.iter().map(|s| s.to_string()).collect(),
        retry,
        reviews: Default::default(),
    }
}

fn immediate() -> RetryPolicy {
    RetryPolicy {
        base: Duration::ZERO,
        cap: Duration::ZERO,
    }
}

fn sorted_recipients(mail: &[desk_testkit::smtp::ReceivedMail]) -> Vec<String> {
    let mut to: Vec<String> = mail.iter().flat_map(|m| m.to.clone()).collect();
    to.sort();
    to
}

#[actix_web::test]
async fn a_new_ticket_notifies_each_configured_address_once_but_not_its_author() {
    let app = TestApp::new().await;
    let sink = SmtpSink::start();
    let rita = app.user("Rita", &[]).await;
    let notify = [
        "desk-team@example.org",
        "DESK-TEAM@example.org",
        "lead@example.org",
        rita.email.as_str(),
    ];
    let jobs = runner(&app, &sink, &notify, immediate());
    let id = app.ticket(&rita, "Who owns Acme?").await;

    // ticket-created, then one mail job per address.
    assert_eq!(jobs.run_until_idle().unwrap(), 3);
    let mail = sink.wait_for(2, Duration::from_secs(5));
    assert_eq!(
        sorted_recipients(&mail),
        ["desk-team@example.org", "lead@example.org"]
    );
    for m in &mail {
        assert_eq!(m.from, "desk@example.org");
        assert_eq!(m.subject, format!("A new ticket was requested, ID: {id}"));
        assert!(
            m.body.contains("Rita Tester has just submitted"),
            "{}",
            m.body
        );
        assert!(m
            .body
            .contains(&format!("https://desk.example.org/tickets/view/{id}")));
        assert!(m.body.contains("The Research Desk Team."));
    }
    // Nothing left, nothing sent twice.
    assert_eq!(jobs.run_until_idle().unwrap(), 0);
    assert_eq!(sink.messages().len(), 2);
}

#[actix_web::test]
async fn a_reopen_notifies_the_ticket_users_but_not_the_reopener() {
    let app = TestApp::new().await;
    let sink = SmtpSink::start();
    let rita = app.user("Rita", &[]).await;
    let ross = app.user("Ross", &["staff"]).await;
    let sam = app.user("Sam", &[]).await;
    let root = app.user("Root", &["superuser"]).await;
    let id = app.ticket(&rita, "Who owns Acme?").await;
    app.add_responder(id, &ross);
    app.add_responder(id, &root);
    app.add_subscriber(id, &sam);
    app.add_subscriber(id, &ross); // both responder and subscriber: still one e-mail
    let jobs = runner(&app, &sink, &[], immediate());
    jobs.run_until_idle().unwrap(); // the creation notice (nobody to tell)
    assert!(sink.messages().is_empty());

    let path = format!("/api/v3/tickets/{id}");
    let closed = app
        .send(
            Method::PATCH,
            &path,
            Some(&root.token),
            json!({"data": {"type": "tickets", "id": id.to_string(), "attributes": {"status": "closed"}}}),
        )
        .await;
    assert_eq!(closed.status, StatusCode::OK, "{}", closed.text);
    assert_eq!(jobs.run_until_idle().unwrap(), 0, "closing notifies nobody");
    let reopened = app
        .send(
            Method::PATCH,
            &path,
            Some(&root.token),
            json!({"data": {"type": "tickets", "id": id.to_string(), "attributes": {
                "status": "in-progress", "reopen-reason": "New leads came in."}}}),
        )
        .await;
    assert_eq!(reopened.status, StatusCode::OK, "{}", reopened.text);
    jobs.run_until_idle().unwrap();
    let mail = sink.wait_for(2, Duration::from_secs(5));
    let mut expected = vec![ross.email.clone(), sam.email.clone()];
    expected.sort();
    assert_eq!(sorted_recipients(&mail), expected);
    for m in &mail {
        assert_eq!(m.subject, format!("Ticket ID {id} was reopened"));
        assert!(
            m.body
                .contains(&format!("Root Tester has reopened the ticket with ID {id}")),
            "{}",
            m.body
        );
    }
    let ross_mail = mail.iter().find(|m| m.to == [ross.email.clone()]).unwrap();
    assert!(ross_mail.body.starts_with("Hello Ross Tester,"));
}

#[actix_web::test]
async fn a_notice_for_a_ticket_that_is_gone_completes_without_sending() {
    let app = TestApp::new().await;
    let sink = SmtpSink::start();
    app.db
        .db
        .in_transaction(None, |uow| {
            uow.enqueue(&NewJob::now(Job::TicketCreated {
                ticket: TicketId(424242),
            }))
        })
        .unwrap();
    let jobs = runner(&app, &sink, &["desk-team@example.org"], immediate());
    assert_eq!(jobs.run_until_idle().unwrap(), 1);
    assert_eq!(app.db.db.jobs(&[JobState::Done]).unwrap().len(), 1);
    std::thread::sleep(Duration::from_millis(200));
    assert!(sink.messages().is_empty());
}

#[actix_web::test]
async fn while_the_relay_is_down_mail_waits_and_then_arrives_exactly_once() {
    let app = TestApp::new().await;
    let mut sink = SmtpSink::start();
    let rita = app.user("Rita", &[]).await;
    let retry = RetryPolicy {
        base: Duration::from_millis(100),
        cap: Duration::from_millis(400),
    };
    let jobs = runner(&app, &sink, &["a@example.org", "b@example.org"], retry);
    sink.stop();
    let mut ids = Vec::new();
    for n in 0..3 {
        ids.push(app.ticket(&rita, &format!("ticket {n}")).await);
    }
    // Each ticket fans out into two mail jobs; every send fails and is put back.
    jobs.run_until_idle().unwrap();
    let pending = app.db.db.jobs(&[JobState::Pending]).unwrap();
    assert_eq!(pending.len(), 6);
    assert!(pending
        .iter()
        .all(|j| j.kind == "mail" && j.attempts == 1 && j.last_error.is_some()));
    // A few more failed rounds while the relay stays down.
    for _ in 0..2 {
        std::thread::sleep(Duration::from_millis(450));
        jobs.run_until_idle().unwrap();
    }
    assert!(app.db.db.jobs(&[JobState::Failed]).unwrap().is_empty());
    assert_eq!(app.db.db.queue_stats().unwrap().pending, 6);

    sink.restart();
    std::thread::sleep(Duration::from_millis(450));
    jobs.run_until_idle().unwrap();
    let mail = sink.wait_for(6, Duration::from_secs(5));
    assert_eq!(mail.len(), 6, "every message arrives");
    let mut pairs: Vec<(String, String)> = mail
        .iter()
        .map(|m| (m.to.join(","), m.subject.clone()))
        .collect();
    pairs.sort();
    pairs.dedup();
    assert_eq!(pairs.len(), 6, "none twice");
    assert_eq!(app.db.db.queue_stats().unwrap().pending, 0);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(sink.messages().len(), 6);
}

#[actix_web::test]
async fn worker_threads_wake_on_notify_and_stop_gracefully() {
    let app = TestApp::new().await;
    let sink = SmtpSink::start();
    let rita = app.user("Rita", &[]).await;
    let jobs = Arc::new(runner(&app, &sink, &["desk-team@example.org"], immediate()));
    // A long poll interval: only NOTIFY can make this quick.
    let running = worker::spawn(jobs, 2, Duration::from_secs(60));
    let started = std::time::Instant::now();
    let id = app.ticket(&rita, "Who owns Acme?").await;
    let mail = sink.wait_for(1, Duration::from_secs(10));
    assert_eq!(mail.len(), 1);
    assert_eq!(
        mail[0].subject,
        format!("A new ticket was requested, ID: {id}")
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    running.shutdown();
}

#[actix_web::test]
async fn metrics_show_queue_depth_and_failures() {
    let app = TestApp::new().await;
    app.db
        .db
        .in_transaction(None, |uow| {
            uow.enqueue(&NewJob::now(Job::TicketCreated {
                ticket: TicketId(1),
            }))
        })
        .unwrap();
    let metrics = app.get("/metrics", None).await;
    assert_eq!(metrics.status, StatusCode::OK);
    assert!(
        metrics.text.contains("desk_jobs_pending 1"),
        "{}",
        metrics.text
    );
    assert!(metrics.text.contains("desk_jobs_due 1"));
    assert!(metrics.text.contains("desk_jobs_failed 0"));
}

/// `desk` as a process, with only the settings given here.
fn desk(args: &[&str], env: &[(&str, &str)]) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_desk"));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DESK_CONFIG", "/nonexistent/desk.toml")
        .env("DESK_LOG_FORMAT", "pretty");
    for (k, v) in env {
        command.env(k, v);
    }
    command
}

#[actix_web::test]
async fn the_worker_refuses_to_start_without_a_mail_transport() {
    let app = TestApp::new().await;
    let out = desk(
        &["worker"],
        &[
            ("DATABASE_URL", &app.db.url),
            ("DESK_PUBLIC_URL", "https://desk.example.org"),
        ],
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("DESK_SMTP_URL"));
}

#[actix_web::test]
async fn the_worker_process_delivers_and_exits_0_on_sigterm_and_the_queue_commands_report() {
    let app = TestApp::new().await;
    let sink = SmtpSink::start();
    let rita = app.user("Rita", &[]).await;
    let id = app.ticket(&rita, "Who owns Acme?").await;
    let smtp = sink.url();
    let env = [
        ("DATABASE_URL", app.db.url.as_str()),
        ("DESK_PUBLIC_URL", "https://desk.example.org"),
        ("DESK_SMTP_URL", smtp.as_str()),
        ("DESK_MAIL_FROM", "desk@example.org"),
        ("DESK_NOTIFY_EMAILS", "desk-team@example.org"),
    ];
    let inspect = desk(&["queue", "inspect"], &env).output().unwrap();
    let listing = String::from_utf8_lossy(&inspect.stdout);
    assert!(inspect.status.success());
    assert!(
        listing.contains("ticket-created") && listing.contains(&format!("ticket={id}")),
        "{listing}"
    );

    let mut child = desk(&["worker", "--concurrency", "2"], &env)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mail = sink.wait_for(1, Duration::from_secs(15));
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].to, ["desk-team@example.org"]);
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));

    let done = desk(&["queue", "inspect", "--done"], &env)
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&done.stdout);
    assert!(
        listing.contains("mail") && listing.contains("to=desk-team@example.org"),
        "{listing}"
    );
    assert!(listing.contains("2 job(s)."), "{listing}");
    let clean = desk(&["queue", "clean"], &env).output().unwrap();
    assert!(String::from_utf8_lossy(&clean.stdout).contains("Removed 2"));
    let retry = desk(&["queue", "retry", "999"], &env).output().unwrap();
    assert_eq!(retry.status.code(), Some(1));
}
