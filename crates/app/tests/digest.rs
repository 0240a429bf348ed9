//! The daily digest end to end (contract §5.4; DG1/DG2 adapted to W28): every ticket with
//! activities newer than its last digest, verb-specific wording, actor-less activities
//! skipped, one e-mail per person, upcoming deadlines for the people working on a ticket,
//! bookkeeping that leaves `updated_at` alone, and the self-rescheduling daily job.

mod common;

use common::*;
use desk_app::reviews_cli;
use desk_app::worker::JobRunner;
use desk_mail::{MailSettings, SmtpMailer, Templates};
use desk_persistence::jobs::RetryPolicy;
use desk_testkit::smtp::ReceivedMail;
use desk_testkit::SmtpSink;
use std::sync::Arc;
use std::time::Duration;

const HOST: &str = "https://test.host";

fn runner(app: &TestApp, sink: &SmtpSink) -> JobRunner {
    JobRunner {
        db: app.db.db.clone(),
        templates: Arc::new(
            Templates::new(MailSettings {
                public_url: HOST.into(),
                site_name: "Research Desk".into(),
            })
            .unwrap(),
        ),
        mailer: Arc::new(SmtpMailer::from_url(&sink.url(), "desk@example.org").unwrap()),
        notify_emails: Vec::new(),
        retry: RetryPolicy {
            base: Duration::ZERO,
            cap: Duration::ZERO,
        },
        reviews: Default::default(),
    }
}

fn to<'a>(mail: &'a [ReceivedMail], address: &str) -> &'a ReceivedMail {
    let hits: Vec<_> = mail
        .iter()
        .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(address)))
        .collect();
    assert_eq!(hits.len(), 1, "messages to {address}: {mail:#?}");
    hits[0]
}

fn items(mail: &ReceivedMail) -> Vec<String> {
    let activities = mail
        .body
        .split("The latest activities of the tickets you follow:")
        .nth(1)
        .expect("an activity section");
    activities
        .lines()
        .filter_map(|l| l.strip_prefix(" * "))
        .map(str::to_string)
        .collect()
}

fn activity(
    app: &TestApp,
    ticket: i32,
    actor: Option<i32>,
    verb: &str,
    action: Option<(&str, &str)>,
) {
    let actor = actor.map_or("NULL".to_string(), |a| a.to_string());
    let (kind, id) = action.map_or(("NULL".to_string(), "NULL".to_string()), |(k, id)| {
        (format!("'{k}'"), id.to_string())
    });
    app.sql(&format!(
        "INSERT INTO activities (ticket_id, actor_id, verb, action_type, action_id, \"timestamp\") \
         VALUES ({ticket}, {actor}, '{verb}', {kind}, {id}, now())"
    ));
}

fn name(u: &User) -> String {
    format!("{} {}", u.first_name, u.last_name)
}

#[actix_web::test]
async fn dg1_dg2_one_digest_per_person_with_worded_items_and_upcoming_deadlines() {
    let app = TestApp::new().await;
    let sink = SmtpSink::start();
    let p0 = app.user("Pia", &[]).await;
    let p1 = app.user("Pat", &[]).await;
    let d0 = app.ticket(&p0, "D0").await;
    let d1 = app.ticket(&p1, "D1").await;
    let quiet = app.ticket(&p0, "Only a review").await;
    app.sql(&format!(
        "UPDATE tickets SET deadline_at = now() WHERE id = {d0}"
    ));
    app.add_responder(d0, &p1);
    app.add_subscriber(d0, &p0); // the requester is also a subscriber: still one e-mail
    app.sql(&format!(
        "INSERT INTO comments (ticket_id, user_id, body, created_at) VALUES ({d0}, {}, 'K', now())",
        p0.id
    ));
    let p1_id = p1.id.to_string();
    activity(
        &app,
        d1,
        Some(p1.id),
        "ticket:update:status_in-progress",
        None,
    );
    activity(&app, d1, Some(p1.id), "ticket:update:reopen", None);
    activity(&app, d1, Some(p1.id), "ticket:update:pending", None);
    activity(
        &app,
        d0,
        Some(p0.id),
        "responder:create",
        Some(("profile", &p1_id)),
    );
    activity(
        &app,
        d0,
        Some(p0.id),
        "comment:create",
        Some(("comment", "(SELECT max(id) FROM comments)")),
    );
    // W28c: a review has no actor; it must neither crash the run nor make a line.
    app.sql(&format!(
        "INSERT INTO reviews (ticket_id, rating, body, created_at) VALUES ({d0}, 2, 'ok', now())"
    ));
    activity(
        &app,
        d0,
        None,
        "review:create",
        Some(("review", "(SELECT max(id) FROM reviews)")),
    );
    activity(
        &app,
        quiet,
        None,
        "review:create",
        Some(("review", "(SELECT max(id) FROM reviews)")),
    );
    app.sql("CREATE TABLE before_digest AS SELECT id, updated_at FROM tickets");

    let jobs = runner(&app, &sink);
    jobs.run_until_idle().unwrap(); // the creation notices: nobody to tell
                                    // DG1: two messages, one per person.
    assert_eq!(reviews_cli::digest_now(&jobs).unwrap(), 2);
    let mail = sink.wait_for(2, Duration::from_secs(5));
    assert_eq!(mail.len(), 2, "{mail:#?}");
    for m in &mail {
        assert_eq!(m.subject, "Daily digest for your ID tickets");
        assert_eq!(m.from, "desk@example.org");
    }

    // DG2: P0 gets D0's two lines and no deadlines (requester).
    let to_p0 = to(&mail, &p0.email);
    assert!(
        to_p0.body.starts_with(&format!("Hello {},", name(&p0))),
        "{}",
        to_p0.body
    );
    let p0_items = items(to_p0);
    assert_eq!(p0_items.len(), 2, "{p0_items:#?}");
    assert!(p0_items
        .iter()
        .any(|i| i.contains(&format!("{} added a comment to ticket", name(&p0)))));
    assert!(p0_items.iter().any(|i| i.contains(&format!(
        "{} added {} as a responder to ticket",
        name(&p0),
        name(&p1)
    ))));
    assert!(
        !to_p0.body.contains("Deadlines coming up"),
        "{}",
        to_p0.body
    );

    // P1: those two plus D1's three, and D0's deadline (P1 works on D0).
    let to_p1 = to(&mail, &p1.email);
    let p1_items = items(to_p1);
    assert_eq!(p1_items.len(), 5, "{p1_items:#?}");
    for wanted in [
        format!("{} updated status to in-progress to ticket", name(&p1)),
        format!("{} did reopen the ticket", name(&p1)),
        format!(
            "{} marked pending (waiting for third-party actions) the ticket",
            name(&p1)
        ),
        format!("{} added a comment to ticket", name(&p0)),
    ] {
        assert!(
            p1_items.iter().any(|i| i.contains(&wanted)),
            "{wanted}: {p1_items:#?}"
        );
    }
    for item in p0_items.iter().chain(&p1_items) {
        assert!(item.contains("https://test.host/tickets/view/"), "{item}");
    }
    assert!(to_p1.body.contains("Deadlines coming up"), "{}", to_p1.body);
    let deadlines: Vec<&str> = to_p1
        .body
        .lines()
        .filter(|l| l.starts_with(" * (") && !l.contains(" ticket "))
        .collect();
    assert_eq!(deadlines.len(), 1, "{}", to_p1.body);
    assert!(
        deadlines[0].ends_with(&format!("): https://test.host/tickets/view/{d0}")),
        "{}",
        to_p1.body
    );

    // Bookkeeping: only `sent_notifications_at` (W23, W28e), every ticket digested.
    assert_eq!(
        app.count(
            "tickets t JOIN before_digest b ON b.id = t.id WHERE t.updated_at <> b.updated_at"
        ),
        0
    );
    assert_eq!(app.count("tickets WHERE sent_notifications_at IS NULL"), 0);

    // Nothing new: nothing to send.
    assert_eq!(reviews_cli::digest_now(&jobs).unwrap(), 0);
}

#[actix_web::test]
async fn a_ticket_is_digested_again_on_another_day_with_only_its_new_activities() {
    let app = TestApp::new().await;
    let sink = SmtpSink::start();
    let p1 = app.user("Pat", &[]).await;
    let d1 = app.ticket(&p1, "D1").await;
    activity(&app, d1, Some(p1.id), "ticket:update:reopen", None);
    let jobs = runner(&app, &sink);
    jobs.run_until_idle().unwrap();
    assert_eq!(reviews_cli::digest_now(&jobs).unwrap(), 1);
    let first = sink.wait_for(1, Duration::from_secs(5));
    assert_eq!(items(&first[0]).len(), 1);

    // A day later (W28a: a ticket is not digested only once in its life).
    app.sql("UPDATE activities SET \"timestamp\" = \"timestamp\" - interval '2 days'");
    app.sql("UPDATE tickets SET sent_notifications_at = sent_notifications_at - interval '1 day'");
    activity(
        &app,
        d1,
        Some(p1.id),
        "attachment:destroy",
        Some(("attachment", "1")),
    );
    activity(
        &app,
        d1,
        Some(p1.id),
        "expense:create",
        Some(("expense", "1")),
    );
    assert_eq!(reviews_cli::digest_now(&jobs).unwrap(), 1);
    let mail = sink.wait_for(2, Duration::from_secs(5));
    let second = mail.iter().find(|m| *m != &first[0]).unwrap();
    let lines = items(second);
    assert_eq!(lines.len(), 2, "{lines:#?}");
    // W28b: a destroy removed something.
    assert!(
        lines[0].contains("added an expense to ticket")
            || lines[1].contains("added an expense to ticket"),
        "{lines:#?}"
    );
    assert!(lines
        .iter()
        .any(|l| l.contains(&format!("{} removed an attachment from ticket", name(&p1)))));
    assert!(!lines.iter().any(|l| l.contains("reopen")), "{lines:#?}");
}

#[actix_web::test]
async fn the_daily_job_is_scheduled_once_and_reschedules_itself_before_working() {
    let app = TestApp::new().await;
    let sink = SmtpSink::start();
    let p0 = app.user("Pia", &[]).await;
    let d0 = app.ticket(&p0, "D0").await;
    activity(&app, d0, Some(p0.id), "comment:create", None);
    let jobs = runner(&app, &sink);
    jobs.run_until_idle().unwrap();

    assert!(reviews_cli::digest_schedule(&app.db.db).unwrap().is_some());
    assert!(
        reviews_cli::digest_schedule(&app.db.db).unwrap().is_none(),
        "never two pending"
    );
    let pending = "jobs WHERE kind = 'digest' AND state = 'pending'";
    assert_eq!(app.count(pending), 1);
    assert_eq!(
        app.count("jobs WHERE kind = 'digest' AND run_at BETWEEN now() + interval '23 hours' AND now() + interval '25 hours'"),
        1
    );
    assert_eq!(jobs.run_until_idle().unwrap(), 0, "due tomorrow");

    // Tomorrow: the job runs, sends, and is pending again for the day after.
    app.sql("UPDATE jobs SET run_at = now() WHERE kind = 'digest'");
    jobs.run_until_idle().unwrap();
    let mail = sink.wait_for(1, Duration::from_secs(5));
    assert_eq!(mail.len(), 1);
    assert_eq!(
        app.count("jobs WHERE kind = 'digest' AND state = 'done'"),
        1
    );
    assert_eq!(app.count(pending), 1);
    assert_eq!(
        app.count("jobs WHERE kind = 'digest' AND state = 'pending' AND run_at > now() + interval '23 hours'"),
        1
    );
    assert!(reviews_cli::digest_schedule(&app.db.db).unwrap().is_none());

    // A failing run (here: the bookkeeping column is gone) still leaves tomorrow's job.
    app.sql("UPDATE jobs SET run_at = now() WHERE kind = 'digest' AND state = 'pending'");
    app.sql("ALTER TABLE tickets RENAME COLUMN sent_notifications_at TO gone");
    jobs.run_until_idle().unwrap();
    app.sql("ALTER TABLE tickets RENAME COLUMN gone TO sent_notifications_at");
    assert_eq!(
        app.count("jobs WHERE kind = 'digest' AND state = 'done'"),
        2
    );
    assert_eq!(app.count(pending), 1);
}

fn desk(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/desk.toml");
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_desk"));
    command
        .arg("--config")
        .arg(config)
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap());
    for (k, v) in env {
        command.env(k, v);
    }
    command.output().expect("run desk")
}

#[actix_web::test]
async fn the_operator_commands_digest_and_reviews_request() {
    let app = TestApp::new().await;
    let sink = SmtpSink::start();
    let p0 = app.user("Pia", &[]).await;
    let d0 = app.ticket(&p0, "D0").await;
    app.sql(&format!(
        "UPDATE tickets SET status = 'closed' WHERE id = {d0}"
    ));
    let smtp = sink.url();
    let env = [
        ("DATABASE_URL", app.db.url.as_str()),
        ("DESK_PUBLIC_URL", "https://desk.example.org"),
        ("DESK_SECRET_KEY", "0123456789abcdef0123456789abcdef"),
        ("DESK_SMTP_URL", smtp.as_str()),
        ("DESK_MAIL_FROM", "desk@example.org"),
    ];
    let text = |o: &std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };

    let out = desk(&["digest", "--schedule"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("Digest scheduled"), "{}", text(&out));
    let out = desk(&["digest", "--schedule"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("already scheduled"), "{}", text(&out));
    assert_eq!(
        app.count("jobs WHERE kind = 'digest' AND state = 'pending'"),
        1
    );

    // `desk digest` runs now: the ticket's creation has no line, so nothing to send.
    let out = desk(&["digest"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("Sent 0 notifications."),
        "{}",
        text(&out)
    );

    // `desk reviews request`: sent now; an unknown ticket is a runtime failure.
    let out = desk(&["reviews", "request", &d0.to_string()], &env);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{} closed={}",
        text(&out),
        app.count("tickets WHERE status = 'closed'")
    );
    assert!(
        text(&out).contains("Sent 1 review request(s)"),
        "{}",
        text(&out)
    );
    let mail = sink.wait_for(1, Duration::from_secs(5));
    assert_eq!(mail.len(), 1);
    assert!(mail[0].body.contains(&format!(
        "https://desk.example.org/tickets/view/{d0}/review?token="
    )));
    let out = desk(&["reviews", "request", "999999"], &env);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));

    // DESK_REVIEWS_DISABLED: nothing.
    let mut disabled = env.to_vec();
    disabled.push(("DESK_REVIEWS_DISABLED", "true"));
    let out = desk(&["reviews", "request", &d0.to_string()], &disabled);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(sink.messages().len(), 1);
}
