//! The collaboration notices end to end (contract §5.3.3, §5.3.4, §5.3.6 with W30): a change
//! through the HTTP API enqueues its notice, the worker runs it, and a real SMTP server on
//! 127.0.0.1 receives the e-mails. CM7 and SB18 adapted to our decisions: one e-mail per
//! address (case-insensitive), never to the author, and the comment notice names its author.

mod common;

use actix_web::http::{Method, StatusCode};
use common::*;
use desk_app::worker::JobRunner;
use desk_mail::{MailSettings, SmtpMailer, Templates};
use desk_persistence::jobs::RetryPolicy;
use desk_testkit::smtp::ReceivedMail;
use desk_testkit::SmtpSink;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

fn runner(app: &TestApp, sink: &SmtpSink) -> JobRunner {
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
        notify_emails: Vec::new(),
        retry: RetryPolicy {
            base: Duration::ZERO,
            cap: Duration::ZERO,
        },
        reviews: Default::default(),
    }
}

/// The one message that went to `to` (exactly one, whatever the case of the address).
fn to<'a>(mail: &'a [ReceivedMail], to: &str) -> &'a ReceivedMail {
    let hits: Vec<_> = mail
        .iter()
        .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(to)))
        .collect();
    assert_eq!(hits.len(), 1, "messages to {to}: {mail:#?}");
    hits[0]
}

fn recipients(mail: &[ReceivedMail]) -> Vec<String> {
    let mut all: Vec<String> = mail
        .iter()
        .flat_map(|m| m.to.iter().map(|t| t.to_lowercase()))
        .collect();
    all.sort();
    all
}

fn created_id(r: &Response) -> i32 {
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    r.json()["data"]["id"].as_str().unwrap().parse().unwrap()
}

fn subscriber_body(ticket: i32, email: &str) -> Value {
    json!({"data": {"type": "subscribers", "attributes": {"email": email,
        "ticket": {"type": "tickets", "id": ticket.to_string()}}}})
}

fn responder_body(ticket: i32, user: i32) -> Value {
    json!({"data": {"type": "responders",
        "relationships": {"ticket": {"data": {"type": "tickets", "id": ticket.to_string()}},
                          "user": {"data": {"type": "profiles", "id": user.to_string()}}}}})
}

#[actix_web::test]
async fn cm7_a_comment_notifies_each_follower_once_but_not_its_author() {
    let app = TestApp::new().await;
    let sink = SmtpSink::start();
    let requester = app.user("Cora", &[]).await;
    let outsider = app.user("Cid", &[]).await;
    let responder = app.user("Cleo", &["staff"]).await;
    let author = app.user("Cyd", &[]).await;
    let follower = app.user("Cai", &[]).await;
    let t0 = app.ticket(&requester, "T0 comment mail").await;
    app.add_responder(t0, &responder);
    app.add_subscriber(t0, &responder); // responder and subscriber: still one e-mail
    app.add_subscriber(t0, &author);
    app.add_subscriber(t0, &follower);
    // Bare-address subscriptions: a stranger, and (other spelling) the requester and the
    // author, who must get one e-mail and none respectively (W30).
    for email in [
        "Watcher@Example.org".to_string(),
        requester.email.to_uppercase(),
        author.email.to_uppercase(),
    ] {
        app.sql(&format!(
            "INSERT INTO subscribers (ticket_id, email, created_at) VALUES ({t0}, '{email}', now())"
        ));
    }
    let jobs = runner(&app, &sink);
    jobs.run_until_idle().unwrap(); // the creation notice: nobody to tell
    assert!(sink.messages().is_empty());

    let r = app
        .send(
            Method::POST,
            "/api/v3/comments",
            Some(&author.token),
            json!({"data": {"type": "comments", "attributes": {"body": "Found the registry entry.",
                "ticket": {"type": "tickets", "id": t0.to_string()}}}}),
        )
        .await;
    created_id(&r);
    // comment-created, then one mail job per address.
    assert_eq!(jobs.run_until_idle().unwrap(), 5);
    let mail = sink.wait_for(4, Duration::from_secs(5));
    let mut expected = vec![
        requester.email.clone(),
        responder.email.clone(),
        follower.email.clone(),
        "watcher@example.org".to_string(),
    ];
    expected.sort();
    assert_eq!(recipients(&mail), expected);
    assert!(!recipients(&mail).contains(&outsider.email));
    for m in &mail {
        assert_eq!(m.from, "desk@example.org");
        assert_eq!(m.subject, format!("A new comment for ticket ID: {t0}"));
        // The author's name, not the requester's (W30).
        assert!(
            m.body.contains(&format!(
                "Cyd Tester has added a new comment to the ticket with ID {t0}"
            )),
            "{}",
            m.body
        );
        assert!(m
            .body
            .contains(&format!("https://desk.example.org/tickets/view/{t0}")));
        assert!(m.body.contains("the page requires an account"));
        assert!(m.body.contains("The Research Desk Team."));
    }
    assert!(to(&mail, &requester.email)
        .body
        .starts_with("Hello Cora Tester,"));
    assert!(to(&mail, &responder.email)
        .body
        .starts_with("Hello Cleo Tester,"));
    assert!(to(&mail, &follower.email)
        .body
        .starts_with("Hello Cai Tester,"));
    // A bare address has no name: it is greeted by itself (not by a blank).
    assert!(to(&mail, "watcher@example.org")
        .body
        .starts_with("Hello Watcher@Example.org,"));
    // Nothing left, nothing sent twice.
    assert_eq!(jobs.run_until_idle().unwrap(), 0);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(sink.messages().len(), 4);
}

#[actix_web::test]
async fn a_new_responder_is_told_and_a_removed_one_is_not() {
    let app = TestApp::new().await;
    let sink = SmtpSink::start();
    let requester = app.user("Rita", &[]).await;
    let ross = app.user("Ross", &["staff"]).await;
    let rhea = app.user("Rhea", &["staff"]).await;
    let root = app.user("Root", &["superuser"]).await;
    let t0 = app.ticket(&requester, "T0 responder mail").await;
    let jobs = runner(&app, &sink);
    jobs.run_until_idle().unwrap();

    let r = app
        .send(
            Method::POST,
            "/api/v3/responders",
            Some(&root.token),
            responder_body(t0, ross.id),
        )
        .await;
    created_id(&r);
    // Rhea is added and removed again before the worker runs: no e-mail for her.
    let rhea_row = created_id(
        &app.send(
            Method::POST,
            "/api/v3/responders",
            Some(&root.token),
            responder_body(t0, rhea.id),
        )
        .await,
    );
    let removed = app
        .call(
            Method::DELETE,
            &format!("/api/v3/responders/{rhea_row}"),
            Some(&root.token),
            &[],
            None,
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.text);

    // Two responder-added notices, one mail job.
    assert_eq!(jobs.run_until_idle().unwrap(), 3);
    let mail = sink.wait_for(1, Duration::from_secs(5));
    assert_eq!(recipients(&mail), vec![ross.email.clone()]);
    let m = &mail[0];
    assert_eq!(m.from, "desk@example.org");
    assert_eq!(m.subject, format!("You were added to the ticket ID: {t0}"));
    assert!(m.body.starts_with("Hello Ross Tester,"), "{}", m.body);
    assert!(m.body.contains(&format!(
        "You were added as a responder to the ticket with ID {t0}"
    )));
    assert!(m
        .body
        .contains(&format!("https://desk.example.org/tickets/view/{t0}")));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(sink.messages().len(), 1);
}

#[actix_web::test]
async fn sb18_a_new_subscriber_is_told_by_address_or_profile() {
    let app = TestApp::new().await;
    let sink = SmtpSink::start();
    let requester = app.user("Sara", &[]).await;
    let sam = app.user("Sam", &[]).await;
    let sid = app.user("Sid", &[]).await;
    let t0 = app.ticket(&requester, "T0 subscriber mail").await;
    let jobs = runner(&app, &sink);
    jobs.run_until_idle().unwrap();

    let subscribe = |email: String| {
        app.send(
            Method::POST,
            "/api/v3/subscribers",
            Some(&requester.token),
            subscriber_body(t0, &email),
        )
    };
    // An existing profile, matched whatever the case: mail goes to the profile's address.
    created_id(&subscribe(sam.email.to_uppercase()).await);
    // An address without a profile.
    created_id(&subscribe("Outsider@Example.org".into()).await);
    // Subscribed and unsubscribed before the worker runs: nothing.
    let gone = created_id(&subscribe(sid.email.clone()).await);
    let removed = app
        .call(
            Method::DELETE,
            &format!("/api/v3/subscribers/{gone}"),
            Some(&requester.token),
            &[],
            None,
        )
        .await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT, "{}", removed.text);

    // Three subscriber-added notices, two mail jobs.
    assert_eq!(jobs.run_until_idle().unwrap(), 5);
    let mail = sink.wait_for(2, Duration::from_secs(5));
    let mut expected = vec![sam.email.clone(), "outsider@example.org".to_string()];
    expected.sort();
    assert_eq!(recipients(&mail), expected);
    for m in &mail {
        assert_eq!(m.from, "desk@example.org");
        assert_eq!(
            m.subject,
            format!("You were subscribed to the ticket ID: {t0}")
        );
        assert!(
            m.body.contains(&format!(
                "Sara Tester has subscribed you to the ticket with ID {t0}"
            )),
            "{}",
            m.body
        );
        assert!(m
            .body
            .contains(&format!("https://desk.example.org/tickets/view/{t0}")));
        assert!(m.body.contains("The Research Desk Team."));
    }
    let to_sam = to(&mail, &sam.email);
    assert_eq!(
        to_sam.to,
        vec![sam.email.clone()],
        "the profile's own spelling"
    );
    assert!(to_sam.body.starts_with("Hello Sam Tester,"));
    assert!(to(&mail, "outsider@example.org")
        .body
        .starts_with("Hello Outsider@Example.org,"));
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(sink.messages().len(), 2);
}
