//! Profile and session scenarios of BEHAVIOUR §8 (PF1–PF9, ME1–ME3), with W19 (PATCH
//! semantics) and the `/me` meta on the caller's own profile responses.

mod common;

use actix_web::http::{Method, StatusCode};
use common::*;
use serde_json::json;

#[actix_web::test]
async fn me1_me3_session() {
    let app = TestApp::new().await;
    assert_eq!(
        app.get("/api/v3/me", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    let u0 = app.user("Uma", &[]).await;
    let u1 = app.user("Ugo", &["superuser"]).await;
    app.ticket(&u0, "mine").await;
    app.ticket(&u1, "theirs").await;
    let r = app.get("/api/v3/me", Some(&u0.token)).await;
    assert_eq!(r.status, StatusCode::OK);
    let body = r.json();
    assert_eq!(body["data"]["id"], u0.id.to_string());
    assert_eq!(body["data"]["attributes"]["email"], u0.email.as_str());
    assert_eq!(body["data"]["attributes"]["tickets-count"], 1);
    assert_eq!(
        body["meta"],
        json!({"member-centers": ["OCCRP", "RISE"], "expense-scopes": ["domaintools.com", "orbis.com"]})
    );
    let body = app.get("/api/v3/me", Some(&u1.token)).await.json();
    assert_eq!(
        body["data"]["attributes"]["tickets-count"], 2,
        "a superuser counts every ticket"
    );
    assert_eq!(body["data"]["attributes"]["is-superuser"], true);
    // Roles follow the token on every request.
    let demoted = app.with_roles(&u1, &[]);
    let body = app.get("/api/v3/me", Some(&demoted.token)).await.json();
    assert_eq!(body["data"]["attributes"]["is-superuser"], false);
    assert_eq!(body["data"]["attributes"]["tickets-count"], 1);
    let promoted = app.with_roles(&u0, &["superuser"]);
    let body = app.get("/api/v3/me", Some(&promoted.token)).await.json();
    assert_eq!(
        body["data"]["attributes"]["tickets-count"], 2,
        "counted again when the role changes"
    );
    // A first request that is `/me` creates the profile and counts it.
    let token = app.token("first.sight@example.org", "First", "Sight", &[]);
    let r = app.get("/api/v3/me", Some(&token)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["data"]["attributes"]["tickets-count"], 0);
    assert_eq!(
        r.json()["data"]["attributes"]["email"],
        "first.sight@example.org"
    );
}

#[actix_web::test]
async fn pf1_pf4_who_sees_which_profiles() {
    let app = TestApp::new().await;
    assert_eq!(
        app.get("/api/v3/profiles", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    let u0 = app.user("Uma", &[]).await;
    let u1 = app.user("Ugo", &[]).await;
    let u2 = app.user("Ula", &["superuser"]).await;
    let r = app.get("/api/v3/profiles", Some(&u0.token)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.text.contains(&u0.email) && !r.text.contains(&u1.email) && !r.text.contains(&u2.email)
    );
    assert_eq!(r.json()["data"].as_array().unwrap().len(), 1);
    // PF3: staff is no superuser here.
    let staff = app.with_roles(&u0, &["staff"]);
    let r = app
        .get("/api/v3/profiles?filter[name]=Ugo", Some(&staff.token))
        .await;
    assert_eq!(
        r.json()["data"].as_array().unwrap().len(),
        1,
        "filters ignored for non-superusers"
    );
    assert!(r.text.contains(&u0.email));
    // PF4
    let r = app.get("/api/v3/profiles", Some(&u2.token)).await;
    for u in [&u0, &u1, &u2] {
        assert!(r.text.contains(&u.email));
    }
    // Inactive profiles are not listed and cannot call the API (W14).
    app.sql(&format!(
        "UPDATE profiles SET is_active = false WHERE id = {}",
        u1.id
    ));
    let r = app.get("/api/v3/profiles", Some(&u2.token)).await;
    assert!(!r.text.contains(&u1.email));
    assert_eq!(
        app.get(&format!("/api/v3/profiles/{}", u1.id), Some(&u2.token))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let refused = app.get("/api/v3/me", Some(&u1.token)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.json()["errors"][0]["detail"]
        .as_str()
        .unwrap()
        .contains("deactivated"));
}

#[actix_web::test]
async fn pf5_pf6_name_filter_for_superusers() {
    let app = TestApp::new().await;
    let su = app.user("Root", &["superuser"]).await;
    let stan = app.token("stan@example.org", "Станислав", "Popov", &[]);
    let susc = app.token("susc@example.org", "Ion", "Sușcov", &["staff"]);
    app.get("/api/v3/me", Some(&stan)).await;
    app.get("/api/v3/me", Some(&susc)).await;
    let r = app
        .get(
            "/api/v3/profiles?filter[name]=%D1%82%D0%B0%D0%BD",
            Some(&su.token),
        )
        .await;
    assert!(
        r.text.contains("stan@example.org")
            && r.text.contains("Станислав")
            && !r.text.contains("susc@example.org")
    );
    let r = app
        .get("/api/v3/profiles?filter[name]=u%C8%99c", Some(&su.token))
        .await;
    assert!(r.text.contains("susc@example.org") && !r.text.contains("stan@example.org"));
    let r = app
        .get("/api/v3/profiles?filter[name]=ion%20su", Some(&su.token))
        .await;
    assert!(
        r.text.contains("susc@example.org"),
        "matches across first and last name"
    );
    let r = app
        .get("/api/v3/profiles?filter[is_staff]=true", Some(&su.token))
        .await;
    assert_eq!(r.json()["data"].as_array().unwrap().len(), 1);
    let r = app
        .get("/api/v3/profiles?filter[name]=100%25_", Some(&su.token))
        .await;
    assert_eq!(
        r.json()["data"].as_array().unwrap().len(),
        0,
        "LIKE wildcards are literal"
    );
    let r = app
        .get("/api/v3/profiles?sort=email&page[size]=1", Some(&su.token))
        .await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "sort is ignored, never a 500 (W16)"
    );
    assert!(r.json()["links"]["last"]
        .as_str()
        .unwrap()
        .contains("page[number]=3"));
}

#[actix_web::test]
async fn pf7_pf9_bio_updates() {
    let app = TestApp::new().await;
    let u0 = app.user("Uma", &[]).await;
    let u1 = app.user("Ugo", &[]).await;
    let u2 = app.user("Ula", &["superuser"]).await;
    let body = |id: i32| json!({"data": {"type": "profiles", "id": id.to_string(), "attributes": {"email": "ignored@email.address", "bio": "Short Bio", "is-staff": true}}});
    let r = app
        .send(
            Method::PATCH,
            &format!("/api/v3/profiles/{}", u1.id),
            Some(&u0.token),
            body(u1.id),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .send(
            Method::PATCH,
            &format!("/api/v3/profiles/{}", u0.id),
            Some(&u0.token),
            body(u0.id),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let json = r.json();
    assert_eq!(json["data"]["attributes"]["email"], u0.email.as_str());
    assert_eq!(json["data"]["attributes"]["bio"], "Short Bio");
    assert_eq!(json["data"]["attributes"]["is-staff"], false);
    assert_eq!(
        json["meta"]["member-centers"],
        json!(["OCCRP", "RISE"]),
        "own profile carries the /me meta"
    );
    // PF9: a superuser edits someone else's bio; staff flag stays as the provider says.
    let staff = app.with_roles(&u0, &["staff"]);
    app.get("/api/v3/me", Some(&staff.token)).await;
    let r = app
        .send(
            Method::PATCH,
            &format!("/api/v3/profiles/{}", u0.id),
            Some(&u2.token),
            body(u0.id),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["data"]["attributes"]["is-staff"], true);
    assert!(r.json().get("meta").is_none());
    // W19: without bio, the bio stays.
    let r = app
        .send(
            Method::PATCH,
            &format!("/api/v3/profiles/{}", u0.id),
            Some(&u0.token),
            json!({"data": {"type": "profiles", "id": u0.id.to_string(), "attributes": {}}}),
        )
        .await;
    assert_eq!(r.json()["data"]["attributes"]["bio"], "Short Bio");
    // Bad bio types are 422, and change nothing.
    let r = app
        .send(Method::PATCH, &format!("/api/v3/profiles/{}", u0.id), Some(&u0.token), json!({"data": {"type": "profiles", "id": u0.id.to_string(), "attributes": {"bio": {"x": 1}}}}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.count(&format!(
            "profiles WHERE id = {} AND bio = 'Short Bio'",
            u0.id
        )),
        1
    );
}

#[actix_web::test]
async fn concurrent_first_requests_of_one_identity_all_succeed() {
    // Many requests of a person never seen before, at once: one profile, one identity,
    // no 5xx (each first sign-in waits for the one that creates the profile).
    let app = TestApp::new().await;
    let token = app.token("fresh@example.org", "Fresh", "Face", &["staff"]);
    let calls = (0..48).map(|_| app.get("/api/v3/me", Some(&token)));
    let responses = futures_util::future::join_all(calls).await;
    for r in &responses {
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    assert_eq!(
        app.count("profiles WHERE lower(email) = 'fresh@example.org'"),
        1
    );
    assert_eq!(app.count("profile_identities"), 1);
}

#[actix_web::test]
async fn every_request_gives_its_database_permit_back() {
    // Requests wait for one of the pool's connections in arrival order (AppState::blocking).
    // More at once than there are connections, answering and failing alike: afterwards
    // every permit is free again, or later requests would queue for good.
    let app = TestApp::new().await;
    let user = app.user("Queue", &["staff"]).await;
    let calls = (0..24).map(|i| {
        let path = match i % 4 {
            0 => "/api/v3/me".to_string(),
            1 => "/api/v3/tickets/999999".to_string(),
            2 => "/api/v3/profiles?page%5Bnumber%5D=0".to_string(),
            // A streamed export holds its connection, and its permit, until its last row.
            _ => "/api/v3/ticket-exports".to_string(),
        };
        let token = user.token.clone();
        let app = &app;
        async move { (i, app.get(&path, Some(&token)).await) }
    });
    for (i, r) in futures_util::future::join_all(calls).await {
        let expected = match i % 4 {
            0 | 3 => StatusCode::OK,
            _ => StatusCode::NOT_FOUND,
        };
        assert_eq!(r.status, expected, "{i}: {}", r.text);
    }
    assert_eq!(
        app.state.db_slots.available_permits(),
        app.state.db.max_connections() as usize
    );
}
