//! Review requests and the anonymous review form end to end (contract §3.8, §5.3.5; RV1–RV4
//! adapted to W4 and W18): closing a ticket queues one request 60 days later; when it runs,
//! the requester and the e-mail subscribers each get a personal link (real SMTP server);
//! each link's token works once; anything else is 422 `Ticket not found.`.

mod common;

use actix_web::http::{Method, StatusCode};
use chrono::{Duration as Days, Utc};
use common::*;
use desk_app::reviews_cli::{self, ReviewJobSettings, ReviewKey};
use desk_app::worker::JobRunner;
use desk_domain::ports::{ReviewClaims, ReviewTokens};
use desk_domain::TicketId;
use desk_mail::{MailSettings, SmtpMailer, Templates};
use desk_persistence::jobs::RetryPolicy;
use desk_testkit::smtp::ReceivedMail;
use desk_testkit::SmtpSink;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

fn runner(app: &TestApp, sink: &SmtpSink, disabled: bool) -> JobRunner {
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
        reviews: ReviewJobSettings {
            disabled,
            key: app.state.settings.review_tokens.clone(),
        },
    }
}

async fn set_status(app: &TestApp, user: &User, id: i32, attributes: Value) {
    let r = app
        .send(
            Method::PATCH,
            &format!("/api/v3/tickets/{id}"),
            Some(&user.token),
            json!({"data": {"type": "tickets", "id": id.to_string(), "attributes": attributes}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

async fn close(app: &TestApp, user: &User, id: i32) {
    set_status(app, user, id, json!({"status": "closed"})).await;
}

async fn reopen(app: &TestApp, user: &User, id: i32) {
    set_status(
        app,
        user,
        id,
        json!({"status": "in-progress", "reopen-reason": "More to do."}),
    )
    .await;
}

fn pending_requests(app: &TestApp, id: i32) -> i64 {
    app.count(&format!(
        "jobs WHERE kind = 'review-request' AND state = 'pending' \
         AND idempotency_key = 'review-request:{id}' AND payload->>'ticket' = '{id}'"
    ))
}

/// The 60 days have passed.
fn force_due(app: &TestApp, id: i32) {
    app.sql(&format!(
        "UPDATE jobs SET run_at = now() WHERE idempotency_key = 'review-request:{id}' AND state = 'pending'"
    ));
}

fn token_in(mail: &ReceivedMail) -> String {
    let start = mail.body.find("review?token=").expect("a review link") + "review?token=".len();
    mail.body[start..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

fn to<'a>(mail: &'a [ReceivedMail], address: &str) -> &'a ReceivedMail {
    let hits: Vec<_> = mail
        .iter()
        .filter(|m| m.to.iter().any(|t| t.eq_ignore_ascii_case(address)))
        .collect();
    assert_eq!(hits.len(), 1, "messages to {address}: {mail:#?}");
    hits[0]
}

fn review_body(ticket: Option<i32>, token: Value, attributes: Value) -> Value {
    let mut attrs = json!({"rating": 2, "link": "https://example.org/story", "body": "Great help",
        "created-at": null, "token": token});
    for (k, v) in attributes.as_object().unwrap() {
        attrs[k] = v.clone();
    }
    let mut data = json!({"type": "reviews", "attributes": attrs});
    if let Some(t) = ticket {
        data["relationships"] =
            json!({"ticket": {"data": {"type": "tickets", "id": t.to_string()}}});
    }
    json!({ "data": data })
}

async fn post_review(app: &TestApp, body: Value) -> Response {
    app.send(Method::POST, "/api/v3/reviews", None, body).await
}

fn assert_ticket_not_found(r: &Response) {
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let errors = r.json()["errors"].clone();
    assert_eq!(errors.as_array().unwrap().len(), 1, "{}", r.text);
    assert_eq!(errors[0]["detail"], "Ticket not found.", "{}", r.text);
    assert_eq!(
        errors[0]["source"]["pointer"], "/data/attributes/ticket",
        "{}",
        r.text
    );
}

#[actix_web::test]
async fn rv4_closing_asks_the_requester_and_email_subscribers_once_each_and_each_link_works_once() {
    let app = TestApp::new().await;
    let sink = SmtpSink::start();
    let rita = app.user("Rita", &[]).await;
    let ross = app.user("Ross", &["staff"]).await;
    let sam = app.user("Sam", &[]).await;
    let id = app.ticket(&rita, "Who owns Acme?").await;
    app.add_responder(id, &ross);
    app.add_subscriber(id, &sam); // a user subscriber is not asked
    for email in ["Watcher@Example.org".to_string(), rita.email.to_uppercase()] {
        app.sql(&format!(
            "INSERT INTO subscribers (ticket_id, email, created_at) VALUES ({id}, '{email}', now())"
        ));
    }
    let jobs = runner(&app, &sink, false);
    jobs.run_until_idle().unwrap();

    close(&app, &rita, id).await;
    assert_eq!(pending_requests(&app, id), 1);
    assert_eq!(
        app.count(&format!(
            "jobs WHERE idempotency_key = 'review-request:{id}' \
             AND run_at BETWEEN now() + interval '59 days' AND now() + interval '61 days'"
        )),
        1,
        "due 60 days after closing"
    );
    assert_eq!(jobs.run_until_idle().unwrap(), 0, "not due yet");

    force_due(&app, id);
    // The request, then one mail job per address.
    assert_eq!(jobs.run_until_idle().unwrap(), 3);
    let mail = sink.wait_for(2, Duration::from_secs(5));
    assert_eq!(mail.len(), 2, "{mail:#?}");
    let link = format!("https://desk.example.org/tickets/view/{id}/review?token=");
    for m in &mail {
        assert_eq!(m.subject, "Tell us how you used our research!");
        assert_eq!(m.from, "desk@example.org");
        assert!(m.body.contains(&link), "{}", m.body);
    }
    let rita_token = token_in(to(&mail, &rita.email));
    let watcher_token = token_in(to(&mail, "watcher@example.org"));
    assert_ne!(rita_token, watcher_token);

    // RV1: only POST (also for anonymous callers).
    let r = app.get("/api/v3/reviews", None).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{}", r.text);
    assert_eq!(r.header("allow").as_deref(), Some("POST, OPTIONS"));

    // The attributes are validated before the token is looked at (and it is not spent).
    let r = post_review(
        &app,
        review_body(
            Some(id),
            json!(rita_token),
            json!({"rating": "9", "link": ""}),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let details: Vec<(String, String)> = r.json()["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["source"]["pointer"].as_str().unwrap().to_string(),
                e["detail"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(details.contains(&(
        "/data/attributes/rating".into(),
        "\"9\" is not a valid choice.".into()
    )));
    assert!(details.iter().any(|(p, _)| p == "/data/attributes/link"));
    let r = post_review(&app, review_body(None, json!(null), json!({"body": ""}))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(
        r.json()["errors"][0]["source"]["pointer"],
        "/data/attributes/body"
    );

    // RV3: anonymous, with the token → 201; the review and an actor-less activity.
    let r = post_review(
        &app,
        review_body(
            Some(id),
            json!(rita_token),
            json!({"body": "<b>Great</b> help <script>x</script>"}),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let doc = r.json();
    assert_eq!(doc["data"]["type"], "reviews");
    assert_eq!(doc["data"]["attributes"]["rating"], 2);
    assert_eq!(doc["data"]["attributes"]["token"], Value::Null);
    assert!(!doc["data"]["attributes"]["body"]
        .as_str()
        .unwrap()
        .contains("<script>"));
    assert_eq!(
        app.count(&format!(
            "reviews WHERE ticket_id = {id} AND rating = 2 AND lower(recipient) = lower('{}') AND token_id IS NOT NULL",
            rita.email
        )),
        1
    );
    assert_eq!(
        app.count(&format!(
            "activities WHERE ticket_id = {id} AND verb = 'review:create' AND actor_id IS NULL \
             AND action_type = 'review'"
        )),
        1
    );

    // The same link again: spent.
    let r = post_review(&app, review_body(Some(id), json!(rita_token), json!({}))).await;
    assert_ticket_not_found(&r);
    assert_eq!(app.count(&format!("reviews WHERE ticket_id = {id}")), 1);

    // The other recipient's link works (once), without the relationship too.
    let r = post_review(
        &app,
        review_body(None, json!(watcher_token), json!({"rating": 0})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json()["data"]["attributes"]["rating"], 0);
    let r = post_review(&app, review_body(None, json!(watcher_token), json!({}))).await;
    assert_ticket_not_found(&r);
    // RV2: no token at all.
    let r = post_review(&app, review_body(Some(id), json!(null), json!({}))).await;
    assert_ticket_not_found(&r);
    let r = post_review(
        &app,
        json!({"data": {"type": "reviews", "attributes": {"body": "No token"}}}),
    )
    .await;
    assert_ticket_not_found(&r);
}

#[actix_web::test]
async fn forged_expired_foreign_and_orphaned_tokens_are_ticket_not_found() {
    let app = TestApp::new().await;
    let rita = app.user("Rita", &[]).await;
    let t0 = app.ticket(&rita, "T0").await;
    let t1 = app.ticket(&rita, "T1").await;
    let key = app.state.settings.review_tokens.clone();
    let token = |ticket: i32, expires: chrono::DateTime<Utc>, id: &str| {
        key.issue(&ReviewClaims {
            ticket: TicketId(ticket),
            recipient: rita.email.clone(),
            token_id: id.to_string(),
            expires_at: expires,
        })
    };
    let later = Utc::now() + Days::days(7);

    let forged = ReviewKey::derive(b"not the desk's secret, not its key").issue(&ReviewClaims {
        ticket: TicketId(t0),
        recipient: rita.email.clone(),
        token_id: "forged".into(),
        expires_at: later,
    });
    let good = token(t0, later, "good");
    let mut tampered = good.clone();
    tampered.insert(tampered.find('.').unwrap() + 3, 'A');
    let expired = token(t0, Utc::now() - Days::seconds(1), "expired");
    let unknown = token(999_999, later, "unknown");
    let for_t1 = token(t1, later, "for-t1");
    for bad in [
        json!(forged),
        json!(tampered),
        json!(expired),
        json!(unknown),
        json!("abc.def.ghi"),
        json!("not a token"),
        json!(""),
        json!(12),
        json!({"sub": t0}),
    ] {
        let r = post_review(&app, review_body(Some(t0), bad.clone(), json!({}))).await;
        assert_ticket_not_found(&r);
    }
    // A token of T1 sent for T0.
    let r = post_review(&app, review_body(Some(t0), json!(for_t1), json!({}))).await;
    assert_ticket_not_found(&r);
    // A token of a ticket deleted since.
    let orphan = token(t1, later, "orphan");
    app.sql(&format!("DELETE FROM tickets WHERE id = {t1}"));
    let r = post_review(&app, review_body(Some(t1), json!(orphan), json!({}))).await;
    assert_ticket_not_found(&r);
    assert_eq!(app.count("reviews"), 0);
    // The untouched good one still works.
    let r = post_review(&app, review_body(Some(t0), json!(good), json!({}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json()["data"]["attributes"]["rating"], 2);
}

#[actix_web::test]
async fn w18_reopen_then_close_keeps_one_pending_request_and_a_reopened_ticket_is_not_asked() {
    let app = TestApp::new().await;
    let sink = SmtpSink::start();
    let rita = app.user("Rita", &[]).await;
    let root = app.user("Root", &["superuser"]).await;
    let id = app.ticket(&rita, "Close, reopen, close").await;
    let jobs = runner(&app, &sink, false);
    jobs.run_until_idle().unwrap();

    close(&app, &root, id).await;
    // Editing a closed ticket (still closed) queues nothing more.
    set_status(
        &app,
        &root,
        id,
        json!({"status": "closed", "priority": "high"}),
    )
    .await;
    reopen(&app, &root, id).await;
    close(&app, &root, id).await;
    assert_eq!(pending_requests(&app, id), 1);
    assert_eq!(
        app.count(&format!(
            "jobs WHERE kind = 'review-request' AND payload->>'ticket' = '{id}'"
        )),
        1
    );

    // When the request comes due, the ticket is open again: nothing is sent.
    reopen(&app, &root, id).await;
    force_due(&app, id);
    jobs.run_until_idle().unwrap();
    assert_eq!(pending_requests(&app, id), 0);
    assert_eq!(app.count("jobs WHERE kind = 'mail'"), 0);
    std::thread::sleep(Duration::from_millis(300));
    assert!(sink.messages().is_empty());

    // Closed again: a new request may be queued (the first one has run).
    close(&app, &root, id).await;
    assert_eq!(pending_requests(&app, id), 1);
}

#[actix_web::test]
async fn reviews_disabled_sends_nothing_and_the_operator_command_sends_now() {
    let app = TestApp::new().await;
    let sink = SmtpSink::start();
    let rita = app.user("Rita", &[]).await;
    let id = app.ticket(&rita, "Disabled").await;
    let open = app.ticket(&rita, "Still open").await;
    let disabled = runner(&app, &sink, true);
    disabled.run_until_idle().unwrap();
    close(&app, &rita, id).await;
    force_due(&app, id);
    assert_eq!(disabled.run_until_idle().unwrap(), 1, "the request runs…");
    assert_eq!(
        reviews_cli::request_now(&disabled, TicketId(id)).unwrap(),
        0
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(sink.messages().is_empty(), "…and sends nothing");
    assert_eq!(app.count("jobs WHERE kind = 'mail'"), 0);

    // `desk reviews request TICKET_ID`: now, delivered at once; not for an open ticket.
    let enabled = runner(&app, &sink, false);
    assert_eq!(
        reviews_cli::request_now(&enabled, TicketId(open)).unwrap(),
        0
    );
    assert_eq!(reviews_cli::request_now(&enabled, TicketId(id)).unwrap(), 1);
    let mail = sink.wait_for(1, Duration::from_secs(5));
    assert_eq!(mail.len(), 1);
    assert!(mail[0].to[0].eq_ignore_ascii_case(&rita.email));
    let token = token_in(&mail[0]);
    let r = post_review(&app, review_body(Some(id), json!(token), json!({}))).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}
