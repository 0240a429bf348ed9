//! Ticket scenarios of BEHAVIOUR §8 (TK1–TK17), adapted to our decisions (W6, W7, W17,
//! W20, W24, W25, W32, W33), over HTTP against a real database and a real issuer.

mod common;

use actix_web::http::{Method, StatusCode};
use common::*;
use serde_json::{json, Value};

struct Fixture {
    app: TestApp,
    u: Vec<User>,
    t: Vec<i32>,
}

/// U0–U3; T0, T1 requested by U0; T2 by U1; U1 and U2 responders of T0.
async fn fixture() -> Fixture {
    let app = TestApp::new().await;
    let mut u = Vec::new();
    for name in ["Uma", "Ugo", "Ula", "Uwe"] {
        u.push(app.user(name, &[]).await);
    }
    let t = vec![
        app.ticket(&u[0], "T0 background about shipping").await,
        app.ticket(&u[0], "T1 background about mining").await,
        app.ticket(&u[1], "T2 background about banking").await,
    ];
    app.add_responder(t[0], &u[1]);
    app.add_responder(t[0], &u[2]);
    Fixture { app, u, t }
}

fn ids(body: &Value) -> Vec<i32> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().parse().unwrap())
        .collect()
}

#[actix_web::test]
async fn tk1_anonymous_list_is_401_with_a_bearer_challenge() {
    let f = fixture().await;
    let r = f.app.get("/api/v3/tickets", None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.header("www-authenticate").as_deref(), Some("Bearer"));
    assert_eq!(r.json()["errors"][0]["code"], "not_authenticated");
}

#[actix_web::test]
async fn tk2_requester_lists_own_tickets_with_totals() {
    let f = fixture().await;
    let r = f.app.get("/api/v3/tickets", Some(&f.u[0].token)).await;
    assert_eq!(r.status, StatusCode::OK);
    let body = r.json();
    assert!(r.text.contains("T0 background"));
    assert_eq!(body["meta"]["total"]["all"], 2);
    assert_eq!(ids(&body), vec![f.t[0], f.t[1]]);
    let keys: Vec<&String> = body["meta"]["total"].as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "new",
            "in-progress",
            "pending",
            "closed",
            "cancelled",
            "all"
        ]
    );
    assert_eq!(body["meta"]["filters"], json!({}));
    assert_eq!(body["links"]["next"], Value::Null);
    assert_eq!(body["links"]["prev"], Value::Null);
}

#[actix_web::test]
async fn responders_see_their_tickets_and_unrelated_people_see_none() {
    let f = fixture().await;
    let r = f
        .app
        .get("/api/v3/tickets", Some(&f.u[1].token))
        .await
        .json();
    assert_eq!(ids(&r), vec![f.t[0], f.t[2]]);
    let r = f
        .app
        .get("/api/v3/tickets", Some(&f.u[3].token))
        .await
        .json();
    assert_eq!(ids(&r), Vec::<i32>::new());
    assert_eq!(r["meta"]["total"]["all"], 0);
    // Staff without a relation see nothing either (§2.3).
    let staff = f.app.with_roles(&f.u[3], &["staff"]);
    assert_eq!(
        ids(&f
            .app
            .get("/api/v3/tickets", Some(&staff.token))
            .await
            .json()),
        Vec::<i32>::new()
    );
}

#[actix_web::test]
async fn tk3_totals_ignore_the_status_filter() {
    let f = fixture().await;
    let su = f.app.with_roles(&f.u[0], &["superuser"]);
    let r = f
        .app
        .send(Method::PATCH, &format!("/api/v3/tickets/{}", f.t[1]), Some(&su.token), json!({"data": {"type": "tickets", "id": f.t[1].to_string(), "attributes": {"status": "cancelled"}}}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = f
        .app
        .get(
            "/api/v3/tickets?filter%5Bstatus__in%5D=new%2Cin-progress",
            Some(&su.token),
        )
        .await;
    let body = r.json();
    assert_eq!(body["meta"]["total"]["all"], 3);
    assert_eq!(body["meta"]["total"]["cancelled"], 1);
    assert!(r.text.contains("T0 background"));
    assert_eq!(ids(&body), vec![f.t[0], f.t[2]]);
}

#[actix_web::test]
async fn tk4_includes_hide_other_peoples_emails() {
    let f = fixture().await;
    let r = f
        .app
        .get(
            "/api/v3/tickets?include=requester,responders.user",
            Some(&f.u[0].token),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let body = r.json();
    assert!(body["included"].as_array().unwrap().len() >= 3);
    assert!(!r.text.contains(&f.u[1].email) && !r.text.contains(&f.u[2].email));
    assert!(r.text.contains(&f.u[0].email), "own e-mail is shown");
    // Staff see every e-mail.
    let staff = f.app.with_roles(&f.u[0], &["staff"]);
    let r = f
        .app
        .get(
            "/api/v3/tickets?include=requester,responders.user",
            Some(&staff.token),
        )
        .await;
    assert!(r.text.contains(&f.u[1].email) && r.text.contains(&f.u[2].email));
}

#[actix_web::test]
async fn tk5_superuser_filter_labels() {
    let f = fixture().await;
    let su = f.app.with_roles(&f.u[1], &["superuser"]);
    let body = f
        .app
        .get(
            &format!("/api/v3/tickets?filter[requester]={}", f.u[0].id),
            Some(&su.token),
        )
        .await
        .json();
    assert_eq!(body["meta"]["total"]["all"], 2);
    assert_eq!(
        body["meta"]["filters"]["requester"],
        json!({"first-name": f.u[0].first_name, "last-name": f.u[0].last_name, "email": f.u[0].email})
    );
    let body = f
        .app
        .get(
            &format!("/api/v3/tickets?filter[responders__user]={}", f.u[2].id),
            Some(&su.token),
        )
        .await
        .json();
    assert_eq!(ids(&body), vec![f.t[0]]);
    assert_eq!(
        body["meta"]["filters"]["responder"]["email"],
        f.u[2].email.as_str()
    );
}

#[actix_web::test]
async fn tk6_unparsable_filters_are_ignored_and_unknown_ids_match_nothing() {
    let f = fixture().await;
    let r = f
        .app
        .get(
            "/api/v3/tickets?filter[requester]=none&filter[kind]=bogus",
            Some(&f.u[0].token),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let body = r.json();
    assert_eq!(body["meta"]["filters"], json!({}));
    assert_eq!(body["meta"]["total"]["all"], 2);
    let body = f
        .app
        .get(
            "/api/v3/tickets?filter[requester]=999999",
            Some(&f.u[0].token),
        )
        .await
        .json();
    assert_eq!(
        body["meta"]["total"]["all"], 0,
        "W24: a well-formed unknown id matches no rows"
    );
}

#[actix_web::test]
async fn tk7_full_text_search_best_first() {
    let f = fixture().await;
    let su = f.app.with_roles(&f.u[0], &["superuser"]);
    let patch = |id: i32, background: &str| json!({"data": {"type": "tickets", "id": id.to_string(), "attributes": {"background": background}}});
    let r = f
        .app
        .send(
            Method::PATCH,
            &format!("/api/v3/tickets/{}", f.t[0]),
            Some(&su.token),
            patch(f.t[0], "Investigative Dashboard Proj€ct"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let body = f
        .app
        .get(
            "/api/v3/tickets?filter[search]=Investigative%20Dashboard%20Proj%E2%82%ACct",
            Some(&f.u[0].token),
        )
        .await
        .json();
    assert_eq!(ids(&body), vec![f.t[0]]);
    assert_eq!(body["meta"]["total"]["all"], 1);
    // W25: a ticket naming the words in its title ranks above one mentioning them in passing.
    f.app
        .send(Method::PATCH, &format!("/api/v3/tickets/{}", f.t[1]), Some(&su.token), json!({"data": {"type": "tickets", "id": f.t[1].to_string(), "attributes": {"company-name": "Dashboard Holdings", "background": "dashboard dashboard dashboard"}}}))
        .await;
    let body = f
        .app
        .get(
            "/api/v3/tickets?filter[search]=dashboard&sort=created_at",
            Some(&su.token),
        )
        .await
        .json();
    assert_eq!(ids(&body), vec![f.t[1], f.t[0]]);
}

#[actix_web::test]
async fn tk8_retrieve_and_404_outside_the_visible_set() {
    let f = fixture().await;
    let r = f.app.get(&format!("/api/v3/tickets/{}?include=requester,responders,responders.user,subscribers,subscribers.user", f.t[0]), Some(&f.u[0].token)).await;
    assert_eq!(r.status, StatusCode::OK);
    let body = r.json();
    assert!(r.text.contains("T0 background"));
    assert_eq!(
        body["data"]["relationships"]["responders"]["meta"]["count"],
        2
    );
    assert_eq!(body["data"]["attributes"]["reopen-reason"], Value::Null);
    assert_eq!(
        body["data"]["attributes"]["users"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(body["meta"]["total"]["all"], 2);
    for (user, ticket) in [(3, 0), (3, 2), (0, 2)] {
        let r = f
            .app
            .get(
                &format!("/api/v3/tickets/{}", f.t[ticket]),
                Some(&f.u[user].token),
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert_eq!(r.json()["errors"][0]["detail"], "Not found.");
    }
    assert_eq!(
        f.app
            .get("/api/v3/tickets/abc", Some(&f.u[0].token))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        f.app
            .get("/api/v3/tickets/999999", Some(&f.u[0].token))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

async fn current(f: &Fixture, user: usize, ticket: i32) -> Value {
    let su = f.app.with_roles(&f.u[user], &["superuser"]);
    f.app
        .get(&format!("/api/v3/tickets/{ticket}"), Some(&su.token))
        .await
        .json()
}

#[actix_web::test]
async fn tk9_unrelated_user_cannot_update() {
    let f = fixture().await;
    let t0 = current(&f, 0, f.t[0]).await;
    let r = f
        .app
        .send(
            Method::PUT,
            &format!("/api/v3/tickets/{}", f.t[0]),
            Some(&f.u[3].token),
            copied(&t0, json!({"background": "hijacked"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(current(&f, 0, f.t[0])
        .await
        .to_string()
        .contains("T0 background"));
}

#[actix_web::test]
async fn tk10_tk11_requester_and_responder_close() {
    let f = fixture().await;
    for (user, ticket) in [(0, 0), (2, 0)] {
        let t = current(&f, 0, f.t[ticket]).await;
        let r = f
            .app
            .send(
                Method::PUT,
                &format!("/api/v3/tickets/{}", f.t[ticket]),
                Some(&f.u[user].token),
                copied(&t, json!({"status": "closed"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert_eq!(r.json()["data"]["attributes"]["status"], "closed");
    }
    assert_eq!(
        f.app.count(&format!(
            "activities WHERE ticket_id = {} AND verb = 'ticket:update:status_closed'",
            f.t[0]
        )),
        1
    );
    assert_eq!(
        f.app.count(&format!(
            "activities WHERE ticket_id = {} AND verb = 'ticket:update'",
            f.t[0]
        )),
        1
    );
}

#[actix_web::test]
async fn subscribers_see_but_may_not_change_the_ticket() {
    let f = fixture().await;
    f.app.add_subscriber(f.t[0], &f.u[3]);
    let t = f
        .app
        .get(&format!("/api/v3/tickets/{}", f.t[0]), Some(&f.u[3].token))
        .await;
    assert_eq!(t.status, StatusCode::OK);
    let r = f
        .app
        .send(
            Method::PATCH,
            &format!("/api/v3/tickets/{}", f.t[0]),
            Some(&f.u[3].token),
            copied(&t.json(), json!({"status": "cancelled"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "W6");
    assert_eq!(
        current(&f, 0, f.t[0]).await["data"]["attributes"]["status"],
        "new"
    );
}

#[actix_web::test]
async fn tk12_superuser_replaces_background() {
    let f = fixture().await;
    let su = f.app.with_roles(&f.u[0], &["superuser"]);
    let t = current(&f, 0, f.t[0]).await;
    let r = f
        .app
        .send(
            Method::PUT,
            &format!("/api/v3/tickets/{}", f.t[0]),
            Some(&su.token),
            copied(
                &t,
                json!({"background": "new-background", "priority": "high"}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains("new-background"));
    assert_eq!(r.json()["data"]["attributes"]["priority"], "high", "W20");
}

#[actix_web::test]
async fn tk13_reopen_reason_becomes_a_sanitized_comment() {
    let f = fixture().await;
    let su = f.app.with_roles(&f.u[0], &["superuser"]);
    let t = current(&f, 0, f.t[0]).await;
    let body = copied(
        &t,
        json!({"status": "in-progress", "reopen-reason": "The reason... <a href=\"javascript: alert(Date)\">.</a>"}),
    );
    let r = f
        .app
        .send(
            Method::PATCH,
            &format!("/api/v3/tickets/{}", f.t[0]),
            Some(&su.token),
            body,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let json = r.json();
    assert_eq!(json["data"]["attributes"]["status"], "in-progress");
    assert_eq!(json["data"]["attributes"]["reopen-reason"], Value::Null);
    assert_eq!(
        f.app.count(&format!(
            "comments WHERE ticket_id = {} AND body = 'The reason... .'",
            f.t[0]
        )),
        1
    );
    assert_eq!(
        f.app
            .count(&format!("comments WHERE ticket_id = {}", f.t[0])),
        1
    );
    assert_eq!(
        f.app.count(&format!(
            "activities a JOIN comments c ON a.action_type = 'comment' AND a.action_id = c.id WHERE a.ticket_id = {} AND a.verb = 'ticket:update:reopen' AND a.id = (SELECT max(id) FROM activities WHERE ticket_id = {})",
            f.t[0], f.t[0]
        )),
        1
    );
}

#[actix_web::test]
async fn tk14_past_deadline_with_a_status_change() {
    let f = fixture().await;
    let su = f.app.with_roles(&f.u[0], &["superuser"]);
    let t = current(&f, 0, f.t[0]).await;
    let r = f
        .app
        .send(
            Method::PATCH,
            &format!("/api/v3/tickets/{}", f.t[0]),
            Some(&su.token),
            copied(
                &t,
                json!({"deadline-at": "1900-01-01T00:00", "status": "pending"}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let json = r.json();
    assert_eq!(json["data"]["attributes"]["status"], "pending");
    assert_eq!(
        json["data"]["attributes"]["deadline-at"],
        "1900-01-01T00:00:00Z"
    );
}

#[actix_web::test]
async fn tk15_past_deadline_without_status_change_is_refused() {
    let f = fixture().await;
    let t = current(&f, 0, f.t[0]).await;
    let r = f
        .app
        .send(
            Method::PATCH,
            &format!("/api/v3/tickets/{}", f.t[0]),
            Some(&f.u[1].token),
            copied(&t, json!({"deadline-at": "1900-01-01T00:00"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let json = r.json();
    assert_eq!(
        json["errors"][0]["detail"],
        "The date can not be in the past."
    );
    assert_eq!(
        json["errors"][0]["source"]["pointer"],
        "/data/attributes/deadline-at"
    );
    assert_eq!(
        current(&f, 0, f.t[0]).await["data"]["attributes"]["deadline-at"],
        Value::Null
    );
}

#[actix_web::test]
async fn tk16_pending_reason_by_a_responder_and_w32() {
    let f = fixture().await;
    let t = current(&f, 0, f.t[0]).await;
    // W32: changing another attribute is refused, naming it; nothing is written.
    let r = f.app.send(Method::PATCH, &format!("/api/v3/tickets/{}", f.t[0]), Some(&f.u[1].token), copied(&t, json!({"status": "pending", "pending-reason": "The reason...", "whysensitive": "Removed"}))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        r.json()["errors"][0]["source"]["pointer"],
        "/data/attributes/whysensitive"
    );
    assert_eq!(
        f.app
            .count(&format!("comments WHERE ticket_id = {}", f.t[0])),
        0
    );
    // The whole record sent back unchanged (dates with milliseconds) plus the status is fine.
    let mut same = copied(
        &t,
        json!({"status": "pending", "pending-reason": "The reason..."}),
    );
    same["data"]["attributes"]["created-at"] = json!("2000-01-01T00:00:00.000Z");
    let r = f
        .app
        .send(
            Method::PATCH,
            &format!("/api/v3/tickets/{}", f.t[0]),
            Some(&f.u[1].token),
            same,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["data"]["attributes"]["status"], "pending");
    assert_eq!(
        f.app.count(&format!(
            "comments WHERE ticket_id = {} AND body = 'The reason...'",
            f.t[0]
        )),
        1
    );
    assert_eq!(
        f.app.count(&format!("activities WHERE ticket_id = {} AND verb = 'ticket:update:pending' AND action_type = 'comment'", f.t[0])),
        1
    );
}

#[actix_web::test]
async fn tk17_create_appends_country_and_forces_new_status() {
    let f = fixture().await;
    let before = f.app.count("tickets");
    let mut body = ticket_body("ticket-background");
    body["data"]["attributes"]["country"] = json!("MD");
    body["data"]["attributes"]["countries"] = json!(["AL", "BE", "AL"]);
    body["data"]["attributes"]["status"] = json!("closed");
    body["data"]["id"] = json!("77");
    let r = f
        .app
        .send(Method::POST, "/api/v3/tickets", Some(&f.u[0].token), body)
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let json = r.json();
    assert_eq!(
        json["data"]["attributes"]["countries"],
        json!(["AL", "BE", "MD"])
    );
    assert_eq!(json["data"]["attributes"]["status"], "new", "W7");
    assert_eq!(
        json["data"]["relationships"]["requester"]["data"]["id"],
        f.u[0].id.to_string()
    );
    assert_ne!(json["data"]["id"], "77");
    assert_eq!(json["meta"]["total"]["all"], 3);
    assert_eq!(f.app.count("tickets"), before + 1);
    let id = json["data"]["id"].as_str().unwrap();
    assert_eq!(
        f.app.count(&format!(
            "activities WHERE ticket_id = {id} AND verb = 'ticket:create'"
        )),
        1
    );
    // Without country/countries (W16): created, no 500.
    let mut minimal =
        json!({"data": {"type": "tickets", "attributes": {"background": "just this"}}});
    let r = f
        .app
        .send(
            Method::POST,
            "/api/v3/tickets",
            Some(&f.u[0].token),
            minimal.take(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json()["data"]["attributes"]["countries"], json!([]));
}

#[actix_web::test]
async fn superuser_creates_with_status_and_sees_everything() {
    let f = fixture().await;
    let su = f.app.with_roles(&f.u[3], &["superuser", "staff"]);
    let mut body = ticket_body("created closed");
    body["data"]["attributes"]["status"] = json!("closed");
    let r = f
        .app
        .send(Method::POST, "/api/v3/tickets", Some(&su.token), body)
        .await;
    assert_eq!(r.json()["data"]["attributes"]["status"], "closed");
    let list = f
        .app
        .get(
            "/api/v3/tickets?page[size]=2&sort=-created_at",
            Some(&su.token),
        )
        .await
        .json();
    assert_eq!(list["meta"]["total"]["all"], 4);
    assert_eq!(list["data"].as_array().unwrap().len(), 2);
    let next = list["links"]["next"].as_str().unwrap();
    assert!(
        next.contains("page[number]=2") && next.contains("page[size]=2&sort=-created_at"),
        "{next}"
    );
    assert_eq!(list["links"]["prev"], Value::Null);
}

#[actix_web::test]
async fn list_filters_and_no_duplicates() {
    let f = fixture().await;
    let su = f.app.with_roles(&f.u[3], &["superuser"]);
    let get = |q: &str| {
        let app = &f.app;
        let token = su.token.clone();
        let q = q.to_string();
        async move {
            ids(&app
                .get(&format!("/api/v3/tickets?{q}"), Some(&token))
                .await
                .json())
        }
    };
    assert_eq!(
        get("filter[responders__user__isnull]=false").await,
        vec![f.t[0]],
        "two responders, one row"
    );
    assert_eq!(
        get("filter[responders__user__isnull]=true").await,
        vec![f.t[1], f.t[2]]
    );
    assert_eq!(get("filter[kind]=company_ownership").await.len(), 3);
    assert_eq!(get("filter[kind]=other").await.len(), 0);
    assert_eq!(get("filter[country]=RO").await.len(), 3);
    assert_eq!(
        get("filter[country]=&filter[kind]=&filter[requester]=&filter[responder]=&filter[search]=")
            .await
            .len(),
        3
    );
    assert_eq!(
        get("filter[created_at__gte]=2000-01-01T00:00:00")
            .await
            .len(),
        3
    );
    assert_eq!(get("filter[created_at__lte]=2000-01-01").await.len(), 0);
    assert_eq!(
        get("filter[created_at__range]=2000-01-01,2999-01-01")
            .await
            .len(),
        3
    );
    assert_eq!(get("filter[status__in]=closed,cancelled").await.len(), 0);
    assert_eq!(get("sort=-created_at").await, vec![f.t[2], f.t[1], f.t[0]]);
    assert_eq!(get("page[number]=last&page[size]=2").await, vec![f.t[2]]);
    let r = f
        .app
        .get(
            "/api/v3/tickets?page[number]=3&page[size]=2",
            Some(&su.token),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json()["errors"][0]["detail"], "Invalid page.");
}
