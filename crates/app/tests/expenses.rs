//! Expense scenarios of BEHAVIOUR §8 (EX1–EX11) over HTTP, adapted to our decisions: W5
//! (staff and superusers manage expenses of any existing ticket, `include=ticket` renders
//! only tickets the caller may see), W19 (updates are PATCH-like), exact decimals (§4.1).

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

/// The acceptance style: every field of an (unsaved) expense representation, relationships
/// as identifier objects inside `attributes`, read-only members included.
fn expense_body(ticket: i32, notes: &str, extra: Value) -> Value {
    let mut attributes = json!({
        "amount": "10.5000", "amount-currency": "EUR", "rating": 3, "notes": notes,
        "scope": "Registry", "payment-method": "card", "created-at": null, "updated-at": null,
        "ticket": {"type": "tickets", "id": ticket.to_string()},
        "user": {"type": "profiles", "id": "1"}
    });
    for (k, v) in extra.as_object().unwrap() {
        attributes[k] = v.clone();
    }
    attributes
        .as_object_mut()
        .unwrap()
        .retain(|k, v| !(k == "created-at" && v.is_null()));
    json!({"data": {"type": "expenses", "id": null, "attributes": attributes}})
}

struct Fixture {
    app: TestApp,
    /// U0 plain requester of T0.
    u0: User,
    /// U1: staff (or superuser-only), no relation to T0.
    u1: User,
    /// U2 plain, creator of E0.
    u2: User,
    t0: i32,
    e0: i32,
}

async fn fixture(u1_roles: &[&str]) -> Fixture {
    let app = TestApp::new().await;
    let u0 = app.user("Ula", &[]).await;
    let u1 = app.user("Uwe", u1_roles).await;
    let u2 = app.user("Uta", &[]).await;
    let t0 = app.ticket(&u0, "T0 expenses").await;
    // E0 by U2 (staff for this one request), with an exact amount.
    let u2_staff = app.with_roles(&u2, &["staff"]);
    let r = app
        .send(
            Method::POST,
            "/api/v3/expenses",
            Some(&u2_staff.token),
            json!({"data": {"type": "expenses", "attributes": {
                "amount": 10.5, "amount-currency": "MDL", "rating": 2, "scope": "orbis.com", "notes": "first"},
                "relationships": {"ticket": {"data": {"type": "tickets", "id": t0.to_string()}}}}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let e0 = r.json()["data"]["id"].as_str().unwrap().parse().unwrap();
    Fixture {
        app,
        u0,
        u1,
        u2,
        t0,
        e0,
    }
}

#[actix_web::test]
async fn ex1_to_ex5_staff_and_superusers_read_every_expense_others_none() {
    for roles in [&["staff"][..], &["superuser"][..]] {
        let f = fixture(roles).await;
        assert_eq!(
            f.app.get("/api/v3/expenses", None).await.status,
            StatusCode::UNAUTHORIZED
        );
        let r = f.app.get("/api/v3/expenses", Some(&f.u0.token)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        assert!(ids(&r.json()).is_empty());
        let r = f.app.get("/api/v3/expenses", Some(&f.u1.token)).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(ids(&r.json()), vec![f.e0]);
        let path = format!("/api/v3/expenses/{}", f.e0);
        assert_eq!(
            f.app.get(&path, Some(&f.u0.token)).await.status,
            StatusCode::NOT_FOUND
        );
        let r = f.app.get(&path, Some(&f.u1.token)).await;
        assert_eq!(r.status, StatusCode::OK);
        let data = &r.json()["data"];
        assert_eq!(data["type"], "expenses");
        assert_eq!(data["attributes"]["amount"], "10.5000");
        assert_eq!(data["attributes"]["amount-currency"], "MDL");
        assert_eq!(data["attributes"]["rating"], 2);
        assert_eq!(data["attributes"]["scope"], "orbis.com");
        assert_eq!(data["attributes"]["payment-method"], Value::Null);
        assert_eq!(
            data["relationships"]["user"]["data"]["id"],
            f.u2.id.to_string()
        );
        assert_eq!(
            data["relationships"]["ticket"]["data"]["id"],
            f.t0.to_string()
        );
        // Other methods: 405 after authentication, 401 before.
        let r = f
            .app
            .call(Method::POST, &path, Some(&f.u1.token), &[], None)
            .await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
        let r = f.app.call(Method::POST, &path, None, &[], None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            f.app
                .get("/api/v3/expenses/abc", Some(&f.u1.token))
                .await
                .status,
            StatusCode::NOT_FOUND
        );
    }
}

#[actix_web::test]
async fn ex6_ex7_only_staff_create_on_any_existing_ticket() {
    let f = fixture(&["staff"]).await;
    let before = f.app.count("expenses");
    let acts = |app: &TestApp| {
        app.count(&format!(
            "activities WHERE ticket_id = {} AND verb = 'expense:create'",
            f.t0
        ))
    };
    let acts_before = acts(&f.app);
    // EX6: a valid body from a non-staff caller → 422 `Ticket not found.`.
    let r = f
        .app
        .send(
            Method::POST,
            "/api/v3/expenses",
            Some(&f.u0.token),
            expense_body(f.t0, "new note", json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(
        r.json(),
        json!({"errors": [{"detail": "Ticket not found.", "source": {"pointer": "/data/attributes/ticket"}}]})
    );
    assert_eq!(f.app.count("expenses"), before);
    // EX7: staff without any relation to T0 → 201, activity recorded.
    let r = f
        .app
        .send(
            Method::POST,
            "/api/v3/expenses",
            Some(&f.u1.token),
            expense_body(
                f.t0,
                "new notes",
                json!({"created-at": "2026-11-22T06:21:26.718Z"}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let data = &r.json()["data"];
    assert_eq!(data["attributes"]["amount"], "10.5000");
    assert_eq!(data["attributes"]["amount-currency"], "EUR");
    assert_eq!(data["attributes"]["notes"], "new notes");
    assert_eq!(data["attributes"]["created-at"], "2026-11-22T06:21:26Z");
    assert_eq!(
        data["relationships"]["user"]["data"]["id"],
        f.u1.id.to_string(),
        "the user is the caller, whatever the body says"
    );
    assert_eq!(f.app.count("expenses"), before + 1);
    assert_eq!(acts(&f.app), acts_before + 1);
    let id: i32 = data["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        f.app.count(&format!(
            "activities WHERE verb = 'expense:create' AND action_type = 'expense' AND action_id = {id} AND actor_id = {}",
            f.u1.id
        )),
        1
    );
    assert_eq!(
        f.app.count(&format!(
            "expenses WHERE id = {id} AND created_at = '2026-11-22T06:21:26.718Z'::timestamptz"
        )),
        1
    );
    // W5: the ticket must exist.
    let r = f
        .app
        .send(
            Method::POST,
            "/api/v3/expenses",
            Some(&f.u1.token),
            expense_body(999999, "x", json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        first_error(&r),
        (
            "Invalid pk \"999999\" - object does not exist.".to_string(),
            "/data/relationships/ticket".to_string(),
            "does_not_exist".to_string()
        )
    );
    // The SPA's create: relationships member, null amount, no currency change without amount.
    let r = f
        .app
        .send(
            Method::POST,
            "/api/v3/expenses",
            Some(&f.u1.token),
            json!({"data":{"type":"expenses","attributes":{"scope":"orbis.com","amount":null,"amount-currency":"EUR","rating":3,"notes":null,"payment-method":null,"created-at":"2026-11-22T06:21:26.718Z","updated-at":null},"relationships":{"user":{"data":{"type":"profiles","id":"2"}},"ticket":{"data":{"type":"tickets","id":f.t0.to_string()}}}}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let a = &r.json()["data"]["attributes"];
    assert_eq!(a["amount"], Value::Null);
    assert_eq!(a["amount-currency"], "USD");
    // Without a ticket.
    let r = f
        .app
        .send(
            Method::POST,
            "/api/v3/expenses",
            Some(&f.u1.token),
            json!({"data": {"type": "expenses", "attributes": {"scope": "x"}}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(first_error(&r).1, "/data/relationships/ticket");
    assert_eq!(first_error(&r).2, "required");
}

#[actix_web::test]
async fn decimal_and_field_validation() {
    let f = fixture(&["staff"]).await;
    let before = f.app.count("expenses");
    let post = |extra: Value| {
        let body = expense_body(f.t0, "v", extra);
        let token = f.u1.token.clone();
        let app = &f.app;
        async move {
            app.send(Method::POST, "/api/v3/expenses", Some(&token), body)
                .await
        }
    };
    for (amount, detail, code) in [
        (
            json!("1.00001"),
            "Ensure that there are no more than 4 decimal places.",
            "max_decimal_places",
        ),
        (
            json!("1234567890123456"),
            "Ensure that there are no more than 15 digits before the decimal point.",
            "max_whole_digits",
        ),
        (
            json!("12345678901234567890"),
            "Ensure that there are no more than 19 digits in total.",
            "max_digits",
        ),
        (
            json!(12345678901234567890u64),
            "Ensure that there are no more than 19 digits in total.",
            "max_digits",
        ),
        (json!("abc"), "A valid number is required.", "invalid"),
        (json!("NaN"), "A valid number is required.", "invalid"),
        (json!([1]), "A valid number is required.", "invalid"),
    ] {
        let r = post(json!({ "amount": amount })).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{amount}: {}",
            r.text
        );
        assert_eq!(
            first_error(&r),
            (
                detail.to_string(),
                "/data/attributes/amount".to_string(),
                code.to_string()
            ),
            "{amount}"
        );
        assert_eq!(r.json()["errors"][0]["status"], "422");
    }
    for (amount, shown) in [
        (json!(0.1), "0.1000"),
        (json!("999999999999999.9999"), "999999999999999.9999"),
        (json!("-3"), "-3.0000"),
        (json!(7), "7.0000"),
        (json!("1E+2"), "100.0000"),
    ] {
        let r = post(json!({ "amount": amount, "amount-currency": "JPY" })).await;
        assert_eq!(r.status, StatusCode::CREATED, "{amount}: {}", r.text);
        let id = r.json()["data"]["id"].as_str().unwrap().to_string();
        assert_eq!(r.json()["data"]["attributes"]["amount"], shown);
        assert_eq!(r.json()["data"]["attributes"]["amount-currency"], "JPY");
        // Stored exactly, read back exactly.
        assert_eq!(
            f.app.count(&format!(
                "expenses WHERE id = {id} AND amount = '{shown}'::numeric"
            )),
            1
        );
        let back = f
            .app
            .get(&format!("/api/v3/expenses/{id}"), Some(&f.u1.token))
            .await;
        assert_eq!(back.json()["data"]["attributes"]["amount"], shown);
    }
    let created = f.app.count("expenses") - before;
    // The currency is validated only together with an amount.
    let r = post(json!({"amount": "5", "amount-currency": "ZZZ"})).await;
    assert_eq!(
        first_error(&r),
        (
            "'ZZZ' is not a valid currency".to_string(),
            "/data/attributes/amount".to_string(),
            "invalid_currency".to_string()
        )
    );
    let r = post(json!({"amount": null, "amount-currency": "ZZZ"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json()["data"]["attributes"]["amount-currency"], "USD");
    // Other fields.
    for (extra, pointer, code) in [
        (json!({"scope": ""}), "/data/attributes/scope", "blank"),
        (json!({"scope": null}), "/data/attributes/scope", "null"),
        (
            json!({"scope": "s".repeat(256)}),
            "/data/attributes/scope",
            "max_length",
        ),
        (
            json!({"payment-method": "p".repeat(256)}),
            "/data/attributes/payment-method",
            "max_length",
        ),
        (
            json!({"rating": "high"}),
            "/data/attributes/rating",
            "invalid",
        ),
        (json!({"rating": 1.5}), "/data/attributes/rating", "invalid"),
        (
            json!({"created-at": "soon"}),
            "/data/attributes/created-at",
            "invalid",
        ),
    ] {
        let r = post(extra.clone()).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{extra}");
        let (_, p, c) = first_error(&r);
        assert_eq!((p.as_str(), c.as_str()), (pointer, code), "{extra}");
    }
    let mut without_scope = expense_body(f.t0, "v", json!({}));
    without_scope["data"]["attributes"]
        .as_object_mut()
        .unwrap()
        .remove("scope");
    let r = f
        .app
        .send(
            Method::POST,
            "/api/v3/expenses",
            Some(&f.u1.token),
            without_scope,
        )
        .await;
    assert_eq!(
        first_error(&r),
        (
            "This field is required.".to_string(),
            "/data/attributes/scope".to_string(),
            "required".to_string()
        )
    );
    assert_eq!(f.app.count("expenses"), before + created + 1);
}

#[actix_web::test]
async fn ex8_ex9_updates_keep_microseconds_and_record_nothing() {
    let f = fixture(&["superuser"]).await;
    let path = format!("/api/v3/expenses/{}", f.e0);
    let original = f.app.get(&path, Some(&f.u1.token)).await.json();
    let acts_before = f.app.count("activities");
    // EX8: non-staff → 404.
    let mut body = expense_body(f.t0, "hacked", json!({}));
    body["data"]["id"] = json!(f.e0.to_string());
    let r = f
        .app
        .send(Method::PUT, &path, Some(&f.u0.token), body)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // EX9: the copied payload with new notes and created-at now, microseconds kept.
    let now = chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6f")
        .to_string();
    let mut data = original["data"].clone();
    data["attributes"]["notes"] = json!("update notes");
    data["attributes"]["created-at"] = json!(now);
    data["attributes"]["amount-currency"] = json!("GBP");
    data["attributes"]["ticket"] = data["relationships"]["ticket"]["data"].clone();
    data["attributes"]["user"] = data["relationships"]["user"]["data"].clone();
    data.as_object_mut().unwrap().remove("relationships");
    let count = f.app.count("expenses");
    let r = f
        .app
        .send(
            Method::PUT,
            &path,
            Some(&f.u1.token),
            json!({ "data": data }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(f.app.count("expenses"), count);
    let a = &r.json()["data"]["attributes"];
    assert_eq!(a["notes"], "update notes");
    assert_eq!(a["amount"], "10.5000");
    assert_eq!(a["amount-currency"], "GBP");
    assert_eq!(
        f.app.count(&format!(
            "expenses WHERE id = {} AND notes = 'update notes' AND created_at = '{now}'::timestamptz",
            f.e0
        )),
        1
    );
    assert_eq!(f.app.count("activities"), acts_before, "no activity");
    // PATCH-like: an absent attribute is unchanged; the ticket may change (to an existing one).
    let t1 = f.app.ticket(&f.u0, "T1 other").await;
    let r = f
        .app
        .send(
            Method::PATCH,
            &path,
            Some(&f.u1.token),
            json!({"data": {"type": "expenses", "id": f.e0.to_string(), "attributes": {"rating": 1},
                "relationships": {"ticket": {"data": {"type": "tickets", "id": t1.to_string()}}}}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let d = &r.json()["data"];
    assert_eq!(d["attributes"]["rating"], 1);
    assert_eq!(d["attributes"]["notes"], "update notes");
    assert_eq!(d["relationships"]["ticket"]["data"]["id"], t1.to_string());
    let r = f
        .app
        .send(
            Method::PATCH,
            &path,
            Some(&f.u1.token),
            json!({"data": {"type": "expenses", "id": f.e0.to_string(), "attributes": {
                "ticket": {"type": "tickets", "id": "999999"}}}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(first_error(&r).2, "does_not_exist");
    // Envelope rules.
    let r = f
        .app
        .send(
            Method::PATCH,
            &path,
            Some(&f.u1.token),
            json!({"data": {"type": "expenses", "id": "999", "attributes": {}}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
}

#[actix_web::test]
async fn ex10_ex11_delete_records_the_creator() {
    let f = fixture(&["staff"]).await;
    let path = format!("/api/v3/expenses/{}", f.e0);
    let r = f
        .app
        .call(Method::DELETE, &path, Some(&f.u0.token), &[], None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(f.app.count("expenses"), 1);
    let r = f
        .app
        .call(Method::DELETE, &path, Some(&f.u1.token), &[], None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(r.text.is_empty());
    assert_eq!(f.app.count("expenses"), 0);
    assert_eq!(
        f.app.count(&format!(
            "activities WHERE ticket_id = {} AND verb = 'expense:destroy' AND actor_id = {} \
             AND action_type = 'profile' AND action_id = {}",
            f.t0, f.u1.id, f.u2.id
        )),
        1
    );
    assert_eq!(
        f.app.get(&path, Some(&f.u1.token)).await.status,
        StatusCode::NOT_FOUND
    );
}

#[actix_web::test]
async fn w5_included_tickets_only_when_visible() {
    let f = fixture(&["staff"]).await;
    let included_types = |body: &Value| -> Vec<(String, String)> {
        body["included"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|r| {
                        (
                            r["type"].as_str().unwrap().to_string(),
                            r["id"].as_str().unwrap().to_string(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    // Staff who do not take part in T0 see the expense, but not the ticket.
    let r = f
        .app
        .get("/api/v3/expenses?include=ticket,user", Some(&f.u1.token))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let body = r.json();
    assert_eq!(ids(&body), vec![f.e0]);
    assert_eq!(
        included_types(&body),
        vec![("profiles".to_string(), f.u2.id.to_string())]
    );
    assert!(!r.text.contains("T0 expenses"));
    let r = f
        .app
        .get(
            &format!("/api/v3/expenses/{}?include=ticket", f.e0),
            Some(&f.u1.token),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(included_types(&r.json()).is_empty());
    // A staff member who takes part (or a superuser) gets the ticket.
    f.app.add_responder(f.t0, &f.u1);
    let r = f
        .app
        .get("/api/v3/expenses?include=ticket", Some(&f.u1.token))
        .await;
    assert_eq!(
        included_types(&r.json()),
        vec![("tickets".to_string(), f.t0.to_string())]
    );
    let su = f.app.with_roles(&f.u0, &["superuser"]);
    let r = f
        .app
        .get(
            &format!("/api/v3/expenses/{}?include=ticket", f.e0),
            Some(&su.token),
        )
        .await;
    assert_eq!(
        included_types(&r.json()),
        vec![("tickets".to_string(), f.t0.to_string())]
    );
    // Unsupported include → 400.
    let r = f
        .app
        .get("/api/v3/expenses?include=requester", Some(&f.u1.token))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[actix_web::test]
async fn filters_sort_and_pages() {
    let f = fixture(&["staff"]).await;
    let t1 = f.app.ticket(&f.u0, "T1").await;
    for (ticket, scope, pm, at) in [
        (t1, "domaintools.com", "card", "2024-01-02T00:00:00Z"),
        (t1, "orbis.com", "cash", "2024-03-01T00:00:00Z"),
    ] {
        let r = f
            .app
            .send(
                Method::POST,
                "/api/v3/expenses",
                Some(&f.u1.token),
                expense_body(
                    ticket,
                    "n",
                    json!({"scope": scope, "payment-method": pm, "created-at": at}),
                ),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    let get = |q: &str| {
        let path = format!("/api/v3/expenses?{q}");
        let token = f.u1.token.clone();
        let app = &f.app;
        async move {
            let r = app.get(&path, Some(&token)).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            r.json()
        }
    };
    let all = ids(&get("sort=created_at").await);
    assert_eq!(all.len(), 3);
    assert_eq!(all[2], f.e0, "E0 was created now, the others in 2024");
    let desc = ids(&get("sort=-created_at").await);
    assert_eq!(desc, all.iter().rev().cloned().collect::<Vec<_>>());
    assert_eq!(ids(&get(&format!("filter[ticket]={t1}")).await).len(), 2);
    assert_eq!(ids(&get("filter[ticket]=999999").await).len(), 0);
    assert_eq!(ids(&get("filter[ticket]=bogus").await).len(), 3);
    assert_eq!(ids(&get("filter[scope]=orbis.com").await).len(), 2);
    assert_eq!(ids(&get("filter[payment_method]=cash").await).len(), 1);
    assert_eq!(
        ids(&get(&format!("filter[user]={}", f.u2.id)).await),
        vec![f.e0]
    );
    assert_eq!(
        ids(&get("filter[created_at__range]=2024-01-01,2024-02-01").await).len(),
        1
    );
    let page = get("page[size]=2&page[number]=2&sort=created_at").await;
    assert_eq!(ids(&page), vec![f.e0]);
    assert!(page["links"]["next"].is_null());
    let r = f
        .app
        .get(
            "/api/v3/expenses?page[number]=3&page[size]=2",
            Some(&f.u1.token),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn expense_and_stats_routes_are_documented() {
    let app = TestApp::new().await;
    let openapi = app.get("/api/v3/openapi.json", None).await.json();
    for (path, method) in [
        ("/api/v3/expenses", "get"),
        ("/api/v3/expenses", "post"),
        ("/api/v3/expenses/{id}", "get"),
        ("/api/v3/expenses/{id}", "patch"),
        ("/api/v3/expenses/{id}", "delete"),
        ("/api/v3/ticket-stats", "get"),
        ("/api/v3/review-stats", "get"),
    ] {
        assert!(
            openapi["paths"][path][method].is_object(),
            "{method} {path}"
        );
    }
}
