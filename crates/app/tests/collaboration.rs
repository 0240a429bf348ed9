//! Collaboration scenarios of BEHAVIOUR §8 over HTTP: comments (CM1–CM6), responders
//! (RS1–RS9), subscribers (SB1–SB17), activities (AC1–AC4) and the ticket includes,
//! adapted to our decisions (W6, W8, W15, W26, W27, W31). The e-mail notices (CM7, SB18) are
//! tested against a real SMTP server in `collaboration_mail.rs`.

mod common;

use actix_web::http::{Method, StatusCode};
use common::*;
use serde_json::{json, Value};

fn ids(body: &Value) -> Vec<i32> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().parse().unwrap())
        .collect()
}

fn first_error(r: &Response) -> (String, String, String) {
    let e = &r.json()["errors"][0];
    (
        e["detail"].as_str().unwrap_or("").to_string(),
        e["source"]["pointer"].as_str().unwrap_or("").to_string(),
        e["code"].as_str().unwrap_or("").to_string(),
    )
}

fn comment_body(ticket: i32, body: &str) -> Value {
    // The acceptance style: relationships inside `attributes`, read-only members included.
    json!({"data": {"type": "comments", "id": null, "attributes": {
        "body": body, "created-at": "2020-01-01T00:00:00Z",
        "ticket": {"type": "tickets", "id": ticket.to_string()},
        "user": {"type": "profiles", "id": "1"}}}})
}

fn responder_body(ticket: i32, user: i32) -> Value {
    json!({"data": {"type": "responders", "attributes": {"created-at": null},
        "relationships": {"ticket": {"data": {"type": "tickets", "id": ticket.to_string()}},
                          "user": {"data": {"type": "profiles", "id": user.to_string()}}}}})
}

fn subscriber_body(ticket: i32, email: &str) -> Value {
    json!({"data": {"type": "subscribers", "attributes": {"email": email, "created-at": null,
        "ticket": {"type": "tickets", "id": ticket}}}})
}

// ---- comments --------------------------------------------------------------------------

struct Comments {
    app: TestApp,
    u: Vec<User>,
    t0: i32,
    c0: i32,
}

/// U0 requester of T0; U1 unrelated; U2 responder; U3 subscriber who wrote C0.
async fn comments_fixture() -> Comments {
    let app = TestApp::new().await;
    let mut u = Vec::new();
    for name in ["Cora", "Cid", "Cleo", "Cyd"] {
        u.push(app.user(name, &[]).await);
    }
    let t0 = app.ticket(&u[0], "T0 comments").await;
    app.add_responder(t0, &u[2]);
    app.add_subscriber(t0, &u[3]);
    let r = app
        .send(
            Method::POST,
            "/api/v3/comments",
            Some(&u[3].token),
            comment_body(t0, "first"),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let c0 = r.json()["data"]["id"].as_str().unwrap().parse().unwrap();
    Comments { app, u, t0, c0 }
}

#[actix_web::test]
async fn cm1_to_cm4_comments_are_seen_through_their_ticket() {
    let f = comments_fixture().await;
    assert_eq!(
        f.app.get("/api/v3/comments", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = f.app.get("/api/v3/comments", Some(&f.u[0].token)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(ids(&r.json()), vec![f.c0]);
    let path = format!("/api/v3/comments/{}", f.c0);
    assert_eq!(
        f.app.get(&path, Some(&f.u[0].token)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        f.app.get(&path, Some(&f.u[1].token)).await.status,
        StatusCode::NOT_FOUND
    );
    assert!(ids(&f
        .app
        .get("/api/v3/comments", Some(&f.u[1].token))
        .await
        .json())
    .is_empty());
    // Staff without a relation see nothing either; superusers see everything.
    let staff = f.app.with_roles(&f.u[1], &["staff"]);
    assert_eq!(
        f.app.get(&path, Some(&staff.token)).await.status,
        StatusCode::NOT_FOUND
    );
    let su = f.app.with_roles(&f.u[1], &["superuser"]);
    assert_eq!(
        f.app.get(&path, Some(&su.token)).await.status,
        StatusCode::OK
    );
    // Other methods: 405 after authentication.
    let r = f
        .app
        .call(Method::DELETE, &path, Some(&f.u[0].token), &[], None)
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    let r = f.app.call(Method::DELETE, &path, None, &[], None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn cm5_cm6_create_bumps_updated_at_and_refuses_outsiders() {
    let f = comments_fixture().await;
    f.app.sql(&format!(
        "UPDATE tickets SET updated_at = '0001-01-01T00:00:00Z' WHERE id = {}",
        f.t0
    ));
    let before = f.app.count("comments");
    let r = f
        .app
        .send(
            Method::POST,
            "/api/v3/comments",
            Some(&f.u[0].token),
            comment_body(f.t0, "Hi <img src=x onerror=alert(1)> there & you"),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let body = r.json();
    assert_eq!(body["data"]["attributes"]["body"], "Hi  there &amp; you");
    assert_eq!(
        body["data"]["relationships"]["user"]["data"]["id"],
        f.u[0].id.to_string()
    );
    assert_eq!(f.app.count("comments"), before + 1);
    assert_eq!(
        f.app.count(&format!(
            "activities WHERE verb = 'comment:create' AND ticket_id = {}",
            f.t0
        )),
        2
    );
    assert_eq!(
        f.app.count(&format!(
            "tickets WHERE id = {} AND updated_at > '2000-01-01'",
            f.t0
        )),
        1
    );
    // U1 takes no part: 422 Ticket not found., nothing written.
    let r = f
        .app
        .send(
            Method::POST,
            "/api/v3/comments",
            Some(&f.u[1].token),
            comment_body(f.t0, "x"),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.json(),
        json!({"errors": [{"detail": "Ticket not found.", "source": {"pointer": "/data/attributes/ticket"}}]})
    );
    assert_eq!(f.app.count("comments"), before + 1);
}

#[actix_web::test]
async fn comment_validation_comes_before_the_ticket_rule() {
    let f = comments_fixture().await;
    let outsider = &f.u[1];
    let r = f
        .app
        .send(
            Method::POST,
            "/api/v3/comments",
            Some(&outsider.token),
            comment_body(f.t0, "  "),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        first_error(&r),
        (
            "This field may not be blank.".into(),
            "/data/attributes/body".into(),
            "blank".into()
        )
    );
    let r = f
        .app
        .send(
            Method::POST,
            "/api/v3/comments",
            Some(&outsider.token),
            json!({"data": {"type": "comments", "attributes": {"body": "x"}}}),
        )
        .await;
    assert_eq!(
        first_error(&r),
        (
            "This field is required.".into(),
            "/data/relationships/ticket".into(),
            "required".into()
        )
    );
    let r = f.app.send(Method::POST, "/api/v3/comments", Some(&outsider.token),
        json!({"data": {"type": "comments", "attributes": {"body": "x"}, "relationships": {"ticket": {"data": 5}}}})).await;
    assert_eq!(
        first_error(&r).0,
        "Incorrect type. Expected resource identifier object, received int."
    );
    assert_eq!(first_error(&r).2, "incorrect_type");
    let r = f
        .app
        .send(
            Method::POST,
            "/api/v3/comments",
            Some(&outsider.token),
            comment_body(99999, "x"),
        )
        .await;
    assert_eq!(
        first_error(&r),
        (
            "Invalid pk \"99999\" - object does not exist.".into(),
            "/data/relationships/ticket".into(),
            "does_not_exist".into()
        )
    );
    // Relationships win over attributes.
    let r = f.app.send(Method::POST, "/api/v3/comments", Some(&f.u[0].token),
        json!({"data": {"type": "comments", "attributes": {"body": "x", "ticket": {"type": "tickets", "id": "99999"}},
            "relationships": {"ticket": {"data": {"type": "tickets", "id": f.t0.to_string()}}}}})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}

#[actix_web::test]
async fn comments_filter_by_ticket_and_include_people_without_leaking_emails() {
    let f = comments_fixture().await;
    let other = f.app.ticket(&f.u[0], "T1 other").await;
    let r = f
        .app
        .send(
            Method::POST,
            "/api/v3/comments",
            Some(&f.u[0].token),
            comment_body(other, "on T1"),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = f
        .app
        .get(
            &format!(
                "/api/v3/comments?filter[ticket]={}&include=user,ticket",
                f.t0
            ),
            Some(&f.u[0].token),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let body = r.json();
    assert_eq!(ids(&body), vec![f.c0]);
    let included = body["included"].as_array().unwrap();
    assert!(included
        .iter()
        .any(|i| i["type"] == "profiles" && i["id"] == *f.u[3].id.to_string()));
    assert!(included
        .iter()
        .any(|i| i["type"] == "tickets" && i["id"] == *f.t0.to_string()));
    assert!(!r.text.contains(&f.u[3].email) && !r.text.contains(&f.u[2].email));
    // A well-formed unknown id matches nothing; an unparsable one is ignored (W24).
    assert!(ids(&f
        .app
        .get("/api/v3/comments?filter[ticket]=99999", Some(&f.u[0].token))
        .await
        .json())
    .is_empty());
    assert_eq!(
        ids(&f
            .app
            .get("/api/v3/comments?filter[ticket]=abc", Some(&f.u[0].token))
            .await
            .json())
        .len(),
        2
    );
    let r = f
        .app
        .get("/api/v3/comments?include=requester", Some(&f.u[0].token))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

// ---- responders ------------------------------------------------------------------------

struct People {
    app: TestApp,
    u: Vec<User>,
    t0: i32,
    t1: i32,
}

fn rid(app: &TestApp, ticket: i32, user: &User) -> i32 {
    #[derive(diesel::QueryableByName)]
    struct Id {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        id: i32,
    }
    use diesel::prelude::*;
    let mut conn = PgConnection::establish(&app.db.url).unwrap();
    diesel::sql_query(format!("SELECT id FROM responders WHERE ticket_id = {ticket} AND user_id = {} UNION ALL SELECT id FROM subscribers WHERE ticket_id = {ticket} AND user_id = {}", user.id, user.id))
        .get_result::<Id>(&mut conn)
        .unwrap()
        .id
}

/// U0, U1, U3 plain, U2 superuser; T0 by U0, T1 by U1; R0 = U1 on T0; R1 = U2 on T1; U3
/// subscribed to T0.
async fn responders_fixture() -> People {
    let app = TestApp::new().await;
    let mut u = Vec::new();
    for (name, roles) in [
        ("Rita", &[][..]),
        ("Rolf", &[]),
        ("Rosa", &["superuser"]),
        ("Ravi", &[]),
    ] {
        u.push(app.user(name, roles).await);
    }
    let t0 = app.ticket(&u[0], "T0 responders").await;
    let t1 = app.ticket(&u[1], "T1 responders").await;
    app.add_responder(t0, &u[1]);
    app.add_responder(t1, &u[2]);
    app.add_subscriber(t0, &u[3]);
    People { app, u, t0, t1 }
}

#[actix_web::test]
async fn rs1_rs2_rs3_assigning_responders() {
    let f = responders_fixture().await;
    let r = f
        .app
        .send(
            Method::POST,
            "/api/v3/responders",
            Some(&f.u[0].token),
            responder_body(f.t0, f.u[2].id),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(first_error(&r).0, "Ticket not found.");
    let r = f
        .app
        .send(
            Method::POST,
            "/api/v3/responders",
            Some(&f.u[2].token),
            responder_body(f.t0, f.u[3].id),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        first_error(&r),
        (
            "Subscriber already exists.".into(),
            "/data/relationships/user".into(),
            "unique".into()
        )
    );
    assert_eq!(r.json()["errors"][0]["status"], "422");
    let r = f
        .app
        .send(
            Method::POST,
            "/api/v3/responders",
            Some(&f.u[2].token),
            responder_body(f.t0, f.u[1].id),
        )
        .await;
    assert_eq!(first_error(&r).0, "User is a responder.");
    // RS3: a closed ticket moves to in-progress too; no ticket:update activity.
    f.app.sql(&format!(
        "UPDATE tickets SET status = 'closed' WHERE id = {}",
        f.t0
    ));
    let before = f.app.count("responders");
    let r = f
        .app
        .send(
            Method::POST,
            "/api/v3/responders",
            Some(&f.u[2].token),
            responder_body(f.t0, f.u[0].id),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let body = r.json();
    assert_eq!(body["data"]["attributes"], json!({}));
    assert_eq!(
        body["data"]["relationships"]["user"]["data"]["id"],
        f.u[0].id.to_string()
    );
    assert_eq!(f.app.count("responders"), before + 1);
    assert_eq!(
        f.app.count(&format!(
            "tickets WHERE id = {} AND status = 'in-progress'",
            f.t0
        )),
        1
    );
    assert_eq!(
        f.app.count(&format!(
            "activities WHERE ticket_id = {} AND verb LIKE 'ticket:update%'",
            f.t0
        )),
        0
    );
    assert_eq!(f.app.count(&format!("activities WHERE ticket_id = {} AND verb = 'responder:create' AND action_type = 'profile' AND action_id = {}", f.t0, f.u[0].id)), 1);
    // Missing and unknown users.
    let r = f.app.send(Method::POST, "/api/v3/responders", Some(&f.u[2].token),
        json!({"data": {"type": "responders", "relationships": {"ticket": {"data": {"type": "tickets", "id": f.t0}}}}})).await;
    assert_eq!(
        first_error(&r),
        (
            "This field is required.".into(),
            "/data/relationships/user".into(),
            "required".into()
        )
    );
    let r = f
        .app
        .send(
            Method::POST,
            "/api/v3/responders",
            Some(&f.u[2].token),
            responder_body(f.t0, 99999),
        )
        .await;
    assert_eq!(
        first_error(&r).0,
        "Invalid pk \"99999\" - object does not exist."
    );
}

#[actix_web::test]
async fn rs4_to_rs9_removing_and_reading_responders() {
    let f = responders_fixture().await;
    let r0 = rid(&f.app, f.t0, &f.u[1]);
    let r1 = rid(&f.app, f.t1, &f.u[2]);
    let r = f
        .app
        .call(
            Method::DELETE,
            &format!("/api/v3/responders/{r0}"),
            Some(&f.u[0].token),
            &[],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        f.app.get("/api/v3/responders", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = f.app.get("/api/v3/responders", Some(&f.u[0].token)).await;
    assert_eq!(ids(&r.json()), vec![r0]);
    assert_eq!(
        f.app
            .get(&format!("/api/v3/responders/{r0}"), Some(&f.u[0].token))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        f.app
            .get(&format!("/api/v3/responders/{r1}"), Some(&f.u[0].token))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // The responder may step down (U1 on T0); then the superuser removes R1.
    let before = f.app.count("responders");
    let r = f
        .app
        .call(
            Method::DELETE,
            &format!("/api/v3/responders/{r0}"),
            Some(&f.u[1].token),
            &[],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert!(r.text.is_empty());
    assert_eq!(f.app.count("responders"), before - 1);
    assert_eq!(
        f.app.count(&format!(
            "activities WHERE ticket_id = {} AND verb = 'responder:destroy' AND action_id = {}",
            f.t0, f.u[1].id
        )),
        1
    );
    let r = f
        .app
        .call(
            Method::DELETE,
            &format!("/api/v3/responders/{r1}"),
            Some(&f.u[2].token),
            &[],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = f
        .app
        .call(
            Method::PATCH,
            &format!("/api/v3/responders/{r1}"),
            Some(&f.u[2].token),
            &[],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
}

// ---- subscribers -----------------------------------------------------------------------

/// U0, U1, U3 plain, U2 superuser; T0 by U0, T1 by U1; responders U1 on T0, U2 on T1; S0 =
/// U0 subscribed to T0 (a fixture row: the API no longer lets a requester subscribe, W15).
async fn subscribers_fixture() -> (People, i32) {
    let app = TestApp::new().await;
    let mut u = Vec::new();
    for (name, roles) in [
        ("Sara", &[][..]),
        ("Sven", &[]),
        ("Sina", &["superuser"]),
        ("Saul", &[]),
    ] {
        u.push(app.user(name, roles).await);
    }
    let t0 = app.ticket(&u[0], "T0 subscribers").await;
    let t1 = app.ticket(&u[1], "T1 subscribers").await;
    app.add_responder(t0, &u[1]);
    app.add_responder(t1, &u[2]);
    app.add_subscriber(t0, &u[0]);
    let s0 = rid(&app, t0, &u[0]);
    (People { app, u, t0, t1 }, s0)
}

async fn post(f: &People, user: &User, email: &str) -> Response {
    f.app
        .send(
            Method::POST,
            "/api/v3/subscribers",
            Some(&user.token),
            subscriber_body(f.t0, email),
        )
        .await
}

async fn del(f: &People, user: &User, id: i32) -> Response {
    f.app
        .call(
            Method::DELETE,
            &format!("/api/v3/subscribers/{id}"),
            Some(&user.token),
            &[],
            None,
        )
        .await
}

#[actix_web::test]
async fn sb1_to_sb8_subscribing() {
    let (f, s0) = subscribers_fixture().await;
    let r = post(&f, &f.u[3], &f.u[3].email).await;
    assert_eq!(
        first_error(&r),
        (
            "Ticket not found.".into(),
            "/data/attributes/ticket".into(),
            "".into()
        )
    );
    let r = post(&f, &f.u[2], &f.u[0].email).await;
    assert_eq!(
        first_error(&r),
        (
            "Subscriber already exists.".into(),
            "/data/relationships/user".into(),
            "unique".into()
        )
    );
    // Matching is case-insensitive (W15).
    let r = post(&f, &f.u[2], &f.u[1].email.to_uppercase()).await;
    assert_eq!(
        first_error(&r),
        (
            "User is a responder.".into(),
            "/data/relationships/user".into(),
            "unique".into()
        )
    );
    let before = f.app.count("subscribers");
    let r = post(&f, &f.u[2], &f.u[2].email).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let body = r.json();
    assert_eq!(body["data"]["attributes"]["email"], Value::Null);
    assert_eq!(
        body["data"]["relationships"]["user"]["data"]["id"],
        f.u[2].id.to_string()
    );
    assert_eq!(body["included"][0]["id"], f.u[2].id.to_string());
    assert_eq!(f.app.count("subscribers"), before + 1);
    // SB5/SB6: the requester subscribes somebody else.
    f.app
        .sql(&format!("DELETE FROM subscribers WHERE id = {s0}"));
    let r = post(&f, &f.u[0], &f.u[3].email).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert!(
        !r.text.contains(&f.u[3].email),
        "a plain requester does not see another's e-mail"
    );
    // SB7: a fresh address, with a stray `user` attribute that is ignored.
    let fresh = format!("Fresh.{}@Example.org", rand::random::<u32>());
    let r = f
        .app
        .send(
            Method::POST,
            "/api/v3/subscribers",
            Some(&f.u[0].token),
            json!({"data": {"type": "subscribers", "attributes": {"email": fresh, "user": {},
            "ticket": {"type": "tickets", "id": f.t0}}}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json()["data"]["attributes"]["email"], fresh.as_str());
    assert_eq!(
        r.json()["data"]["relationships"]["user"]["data"],
        Value::Null
    );
    assert_eq!(
        f.app.count(&format!(
            "activities WHERE verb = 'subscriber:create' AND ticket_id = {} AND action_id IS NULL",
            f.t0
        )),
        1
    );
    // SB8: the same address again, in another case.
    let before = f.app.count("subscribers");
    let r = post(&f, &f.u[0], &fresh.to_lowercase()).await;
    assert_eq!(
        first_error(&r),
        (
            "Email already subscribed.".into(),
            "/data/attributes/email".into(),
            "unique".into()
        )
    );
    assert_eq!(f.app.count("subscribers"), before);
    // Not an address; missing e-mail; the requester themself (W15).
    let r = post(&f, &f.u[0], "not-an-address").await;
    assert_eq!(
        first_error(&r),
        (
            "Enter a valid email address.".into(),
            "/data/attributes/email".into(),
            "invalid".into()
        )
    );
    let r = f.app.send(Method::POST, "/api/v3/subscribers", Some(&f.u[0].token),
        json!({"data": {"type": "subscribers", "attributes": {"ticket": {"type": "tickets", "id": f.t0}}}})).await;
    assert_eq!(
        first_error(&r),
        (
            "This field is required.".into(),
            "/data/attributes/email".into(),
            "required".into()
        )
    );
    let r = post(&f, &f.u[2], &f.u[0].email).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(first_error(&r).1, "/data/attributes/email");
    assert!(first_error(&r).0.contains("requester"));
}

#[actix_web::test]
async fn subscribers_may_not_add_others_w6() {
    let (f, _) = subscribers_fixture().await;
    f.app.add_subscriber(f.t0, &f.u[3]);
    let r = f
        .app
        .send(
            Method::POST,
            "/api/v3/subscribers",
            Some(&f.u[3].token),
            subscriber_body(f.t0, &format!("x{}@example.org", rand::random::<u32>())),
        )
        .await;
    assert_eq!(first_error(&r).0, "Ticket not found.");
}

#[actix_web::test]
async fn sb9_to_sb17_removing_and_reading_subscriptions() {
    let (f, s0) = subscribers_fixture().await;
    assert_eq!(del(&f, &f.u[3], s0).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        f.app.get("/api/v3/subscribers", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = f.app.get("/api/v3/subscribers", Some(&f.u[0].token)).await;
    assert_eq!(ids(&r.json()), vec![s0]);
    assert_eq!(
        f.app
            .get(&format!("/api/v3/subscribers/{s0}"), Some(&f.u[0].token))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        f.app
            .get(&format!("/api/v3/subscribers/{s0}"), Some(&f.u[1].token))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        f.app
            .get(&format!("/api/v3/subscribers/{s0}"), Some(&f.u[3].token))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // SB10: the requester removes U3's subscription; a subscriber may not remove another's (W6).
    f.app.add_subscriber(f.t0, &f.u[3]);
    let s3 = rid(&f.app, f.t0, &f.u[3]);
    assert_eq!(del(&f, &f.u[3], s0).await.status, StatusCode::NOT_FOUND);
    let before = f.app.count("subscribers");
    assert_eq!(del(&f, &f.u[0], s3).await.status, StatusCode::NO_CONTENT);
    assert_eq!(f.app.count("subscribers"), before - 1);
    assert_eq!(
        f.app.count(&format!(
            "activities WHERE verb = 'subscriber:destroy' AND action_id = {}",
            f.u[3].id
        )),
        1
    );
    // SB11: own subscription; SB12: a superuser.
    f.app.add_subscriber(f.t0, &f.u[3]);
    let s3 = rid(&f.app, f.t0, &f.u[3]);
    assert_eq!(del(&f, &f.u[3], s3).await.status, StatusCode::NO_CONTENT);
    assert_eq!(del(&f, &f.u[2], s0).await.status, StatusCode::NO_CONTENT);
    assert_eq!(
        f.app
            .count(&format!("subscribers WHERE ticket_id = {}", f.t0)),
        0
    );
    let _ = f.t1;
}

#[actix_web::test]
async fn a_first_sign_in_claims_bare_email_subscriptions() {
    let (f, _) = subscribers_fixture().await;
    let newcomer = format!("newcomer.{}@example.org", rand::random::<u32>());
    let r = f
        .app
        .send(
            Method::POST,
            "/api/v3/subscribers",
            Some(&f.u[0].token),
            subscriber_body(f.t0, &newcomer.to_uppercase()),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let person = f.app.user_with_email(&newcomer).await;
    assert_eq!(
        f.app.count(&format!(
            "subscribers WHERE ticket_id = {} AND user_id = {} AND email IS NULL",
            f.t0, person.id
        )),
        1
    );
    assert_eq!(f.app.count(&format!("activities WHERE verb = 'subscriber:update:joined' AND actor_id = {0} AND action_id = {0} AND ticket_id = {1}", person.id, f.t0)), 1);
    // The ticket is now theirs to see, and a second sign-in records nothing more.
    let r = f
        .app
        .get(&format!("/api/v3/tickets/{}", f.t0), Some(&person.token))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        f.app
            .count("activities WHERE verb = 'subscriber:update:joined'"),
        1
    );
}

// ---- activities ------------------------------------------------------------------------

#[actix_web::test]
async fn ac1_to_ac4_the_timeline() {
    let app = TestApp::new().await;
    let u0 = app.user("Ada", &[]).await;
    let u1 = app.user("Abe", &[]).await;
    let t0 = app.ticket(&u1, "T0 timeline").await;
    app.sql(&format!("INSERT INTO attachments (ticket_id, user_id, storage_key, file_name, file_size, created_at) VALUES ({t0}, {}, 'attachments/x', 'x.txt', 1, now())", u0.id));
    app.sql(&format!("INSERT INTO activities (ticket_id, actor_id, verb, action_type, action_id, timestamp) SELECT {t0}, {}, 'test-action', 'attachment', max(id), now() + interval '1 minute' FROM attachments", u1.id));
    assert_eq!(
        app.get("/api/v3/activities", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = app.get("/api/v3/activities", Some(&u0.token)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(ids(&r.json()).is_empty());
    assert!(r.json().get("meta").is_none());
    let r = app.get("/api/v3/activities", Some(&u1.token)).await;
    assert!(
        r.text.contains("test-action") && r.text.contains("first-id") && r.text.contains("last-id")
    );
    let body = r.json();
    // Newest first: the test action, then ticket:create.
    assert_eq!(body["data"][0]["attributes"]["verb"], "test-action");
    assert_eq!(body["meta"]["first-id"], body["data"][0]["id"]);
    assert_eq!(body["meta"]["last-id"], body["data"][1]["id"]);
    assert!(body["meta"]["last-id"].is_string());
    let r = app
        .get(
            "/api/v3/activities?include=comment,responder-user,user",
            Some(&u1.token),
        )
        .await;
    let body = r.json();
    assert_eq!(body["included"].as_array().unwrap().len(), 1);
    assert_eq!(body["included"][0]["type"], "profiles");
    assert_eq!(body["included"][0]["id"], u1.id.to_string());
    let rel = &body["data"][0]["relationships"];
    let keys: Vec<&String> = rel.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "user",
            "ticket",
            "attachment",
            "comment",
            "expense",
            "responder-user"
        ]
    );
    assert!(rel["attachment"]["data"]["id"].is_string());
    assert_eq!(rel["comment"]["data"], Value::Null);
    // A deleted action object renders as null.
    app.sql("DELETE FROM attachments");
    let body = app.get("/api/v3/activities", Some(&u1.token)).await.json();
    assert_eq!(
        body["data"][0]["relationships"]["attachment"]["data"],
        Value::Null
    );
    // Retrieve: visible to the requester, 404 for others; other methods 405.
    let id = body["data"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        app.get(&format!("/api/v3/activities/{id}"), Some(&u1.token))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.get(&format!("/api/v3/activities/{id}"), Some(&u0.token))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/v3/activities/{id}"),
            Some(&u1.token),
            &[],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[actix_web::test]
async fn timeline_filters_cursor_and_responder_user() {
    let f = responders_fixture().await;
    let su = &f.u[2];
    for user in [&f.u[0], &f.u[3]] {
        let _ = f
            .app
            .send(
                Method::POST,
                "/api/v3/responders",
                Some(&su.token),
                responder_body(f.t0, user.id),
            )
            .await;
    }
    let base = format!("/api/v3/activities?filter[target_object_id]={}&include=comment,responder-user,user&page[size]=1&sort=-timestamp", f.t0);
    let r = f.app.get(&base, Some(&f.u[0].token)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let body = r.json();
    let newest: i32 = body["meta"]["first-id"].as_str().unwrap().parse().unwrap();
    let oldest: i32 = body["meta"]["last-id"].as_str().unwrap().parse().unwrap();
    assert_eq!(ids(&body), vec![newest]);
    assert_eq!(body["data"][0]["attributes"]["verb"], "responder:create");
    assert_eq!(
        body["data"][0]["relationships"]["responder-user"]["data"]["id"],
        f.u[0].id.to_string()
    );
    // The "load older" cursor.
    let older = f
        .app
        .get(
            &format!("{base}&filter[id__lt]={newest}"),
            Some(&f.u[0].token),
        )
        .await
        .json();
    assert!(ids(&older)[0] < newest);
    assert_eq!(older["meta"]["last-id"], oldest.to_string());
    let only = f
        .app
        .get(
            &format!(
                "/api/v3/activities?filter[verb]=ticket:create&filter[target_object_id]={}",
                f.t0
            ),
            Some(&f.u[0].token),
        )
        .await
        .json();
    assert_eq!(ids(&only), vec![oldest]);
    // T1 is not U0's: its activities never show, even when asked for by id.
    let theirs = f
        .app
        .get(
            &format!("/api/v3/activities?filter[target_object_id]={}", f.t1),
            Some(&f.u[0].token),
        )
        .await
        .json();
    assert!(ids(&theirs).is_empty());
}

// ---- ticket includes -------------------------------------------------------------------

#[actix_web::test]
async fn ticket_includes_show_rows_created_through_the_api() {
    let f = responders_fixture().await;
    let su = &f.u[2];
    let r = f
        .app
        .send(
            Method::POST,
            "/api/v3/responders",
            Some(&su.token),
            responder_body(f.t0, f.u[0].id),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let mail = format!("outside.{}@example.org", rand::random::<u32>());
    let r = f
        .app
        .send(
            Method::POST,
            "/api/v3/subscribers",
            Some(&su.token),
            subscriber_body(f.t0, &mail),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = f.app.get(&format!("/api/v3/tickets/{}?include=responders,responders.user,subscribers,subscribers.user", f.t0), Some(&f.u[0].token)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let body = r.json();
    assert_eq!(
        body["data"]["relationships"]["responders"]["meta"]["count"],
        2
    );
    assert_eq!(
        body["data"]["relationships"]["subscribers"]["meta"]["count"],
        2
    );
    let users: Vec<i64> = body["data"]["attributes"]["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_i64().unwrap())
        .collect();
    assert!(
        users.contains(&(f.u[0].id as i64))
            && users.contains(&(f.u[1].id as i64))
            && users.contains(&(f.u[3].id as i64))
    );
    let included = body["included"].as_array().unwrap();
    assert!(included
        .iter()
        .any(|i| i["type"] == "subscribers" && i["attributes"]["email"] == mail.as_str()));
    assert!(!r.text.contains(&f.u[1].email) && !r.text.contains(&f.u[3].email));
}

// ---- notices (the e-mails themselves are composed and sent by the job worker) ----------

#[actix_web::test]
async fn collaboration_enqueues_its_notices_with_the_right_recipients() {
    use desk_domain::jobs::{notices_for, Job, NoticeKind};
    let f = responders_fixture().await;
    let su = &f.u[2];
    let r = f
        .app
        .send(
            Method::POST,
            "/api/v3/responders",
            Some(&su.token),
            responder_body(f.t0, f.u[0].id),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let bare = format!("bare.{}@example.org", rand::random::<u32>());
    let r = f
        .app
        .send(
            Method::POST,
            "/api/v3/subscribers",
            Some(&su.token),
            subscriber_body(f.t0, &bare),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let subscriber: i32 = r.json()["data"]["id"].as_str().unwrap().parse().unwrap();
    let r = f
        .app
        .send(
            Method::POST,
            "/api/v3/comments",
            Some(&f.u[1].token),
            comment_body(f.t0, "hello"),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    for kind in ["responder-added", "subscriber-added", "comment-created"] {
        assert_eq!(
            f.app.count(&format!("jobs WHERE kind = '{kind}'")),
            1,
            "{kind}"
        );
    }
    let t0 = desk_domain::TicketId(f.t0);
    let run = |job: Job| {
        f.app
            .state
            .db
            .in_transaction(None, move |uow| notices_for(uow, &job, &[]))
            .unwrap()
    };
    // The comment by U1 (responder): the requester, the bare address and U3 (subscriber),
    // U0 once although requester and responder, never the author.
    let notices = run(Job::CommentCreated {
        ticket: t0,
        author: desk_domain::ProfileId(f.u[1].id),
    });
    let mut to: Vec<String> = notices.iter().map(|n| n.to.clone()).collect();
    to.sort();
    let mut expected = vec![f.u[0].email.clone(), f.u[3].email.clone(), bare.clone()];
    expected.sort();
    assert_eq!(to, expected);
    assert!(notices
        .iter()
        .all(|n| n.kind == NoticeKind::CommentCreated && n.actor_name == "Rolf Tester"));
    let notices = run(Job::ResponderAdded {
        ticket: t0,
        responder: desk_domain::ProfileId(f.u[0].id),
    });
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].to, f.u[0].email);
    let notices = run(Job::SubscriberAdded {
        ticket: t0,
        subscriber: desk_domain::SubscriberId(subscriber),
        actor: desk_domain::ProfileId(su.id),
    });
    assert_eq!((notices.len(), notices[0].to.as_str()), (1, bare.as_str()));
}
