//! Statistics scenarios of BEHAVIOUR §8 over HTTP: ticket stats (TST1–TST8) and review stats
//! (RST1–RST6), adapted to our decisions: W9 (staff or superuser, all rows; TST3/RST3 now
//! answer 200 for a superuser), W22 (unique ids), CLIENT §9.1 (`filter[by]`, `filter[startAt]`).

mod common;

use actix_web::http::{Method, StatusCode};
use common::*;
use serde_json::{json, Value};
use sha2::Digest;
use std::collections::BTreeSet;

fn rows(r: &Response) -> Vec<Value> {
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let body = r.json();
    assert!(body.get("links").is_none() && body.get("meta").is_none());
    body["data"].as_array().unwrap().clone()
}

fn unique_ids(rows: &[Value]) -> bool {
    let ids: BTreeSet<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    ids.len() == rows.len() && ids.iter().all(|id| id.len() == 64)
}

fn row_with<'a>(rows: &'a [Value], status: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["attributes"]["status"] == status)
        .unwrap_or_else(|| panic!("no {status} row in {rows:?}"))
}

async fn assert_refused(app: &TestApp, path: &str, plain: &User) {
    let r = app.get(path, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = app.get(path, Some(&plain.token)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.header("content-type").as_deref(), Some(JSONAPI));
    assert_eq!(
        r.json(),
        json!({"errors": [{"detail": "You do not have permission to perform this action.",
            "status": "403", "source": {"pointer": "/data"}, "code": "permission_denied"}]})
    );
    // Only GET: other methods 405 after authentication, 401 before.
    let r = app
        .call(Method::POST, path, Some(&plain.token), &[], None)
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    let r = app.call(Method::DELETE, path, None, &[], None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

// ---- ticket stats -----------------------------------------------------------------------

struct Tickets {
    app: TestApp,
    u0: User,
    u1: User,
    u2: User,
    x: Vec<i32>,
}

/// U0 plain, U1 and U2 staff; X0 cancelled with deadline 2030-10-15; X1–X4 new without
/// deadline; all with countries ['MD'], created 2030-10-20, updated 2030-11-10.
async fn tickets_fixture() -> Tickets {
    let app = TestApp::new().await;
    let u0 = app.user("Tess", &[]).await;
    let u1 = app.user("Tom", &["staff"]).await;
    let u2 = app.user("Tim", &["staff"]).await;
    let mut x = Vec::new();
    for i in 0..5 {
        x.push(app.ticket(&u0, &format!("X{i}")).await);
    }
    app.sql(&format!(
        "UPDATE tickets SET countries = '{{MD}}', created_at = '2030-10-20T00:00:00Z', \
         updated_at = '2030-11-10T00:00:00Z', status = 'new', deadline_at = NULL WHERE id IN ({})",
        x.iter()
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(",")
    ));
    app.sql(&format!(
        "UPDATE tickets SET status = 'cancelled', deadline_at = '2030-10-15T00:00:00Z' WHERE id = {}",
        x[0]
    ));
    Tickets { app, u0, u1, u2, x }
}

#[actix_web::test]
async fn tst1_to_tst5_monthly_rows_for_staff_and_superusers() {
    let f = tickets_fixture().await;
    assert_refused(&f.app, "/api/v3/ticket-stats", &f.u0).await;
    // TST3 adapted (W9): a superuser without staff reads the same rows.
    let su = f.app.with_roles(&f.u0, &["superuser"]);
    for token in [&f.u1.token, &su.token] {
        let data = rows(&f.app.get("/api/v3/ticket-stats", Some(token)).await);
        assert_eq!(data.len(), 2, "{data:?}");
        assert!(unique_ids(&data));
        let cancelled = row_with(&data, "cancelled");
        assert_eq!(cancelled["type"], "ticket-stats");
        assert_eq!(cancelled["attributes"]["count"], 1);
        assert_ne!(cancelled["attributes"]["avg-time"], 0);
        assert_eq!(cancelled["attributes"]["past-deadline"], 1);
        assert_eq!(cancelled["attributes"]["date"], "2030-10-01T00:00:00Z");
        assert_eq!(cancelled["attributes"]["country"], Value::Null);
        assert_eq!(cancelled["relationships"]["responder"]["data"], Value::Null);
        let new = row_with(&data, "new");
        assert_eq!(new["attributes"]["count"], 4);
        assert_eq!(new["attributes"]["avg-time"], 504);
        assert_eq!(new["attributes"]["past-deadline"], 0);
        assert_eq!(new["attributes"]["date"], "2030-10-01T00:00:00Z");
    }
    let head = f
        .app
        .call(
            Method::HEAD,
            "/api/v3/ticket-stats",
            Some(&f.u1.token),
            &[],
            None,
        )
        .await;
    assert_eq!(head.status, StatusCode::OK);
    // The original's id for a month row: sha256(status + "YYYY-MM-01 00:00:00").
    let data = rows(&f.app.get("/api/v3/ticket-stats", Some(&f.u1.token)).await);
    let new = row_with(&data, "new");
    let expected: String = sha2::Sha256::digest(b"new2030-10-01 00:00:00")
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(new["id"], expected);
    // TST5, in both spellings of the date filter; empty include accepted.
    for q in [
        "filter[created_at__gte]=3000-01-01T00:00:00",
        "filter[startAt]=3000-01-01T00:00:00&include=",
    ] {
        let data = rows(
            &f.app
                .get(&format!("/api/v3/ticket-stats?{q}"), Some(&f.u1.token))
                .await,
        );
        assert!(data.is_empty(), "{q}");
    }
    // Other filters.
    let data = rows(
        &f.app
            .get(
                "/api/v3/ticket-stats?filter[status__in]=cancelled&filter[country]=&filter[created_at__lte]=2031-01-01",
                Some(&f.u1.token),
            )
            .await,
    );
    assert_eq!(data.len(), 1);
    let data = rows(
        &f.app
            .get(
                "/api/v3/ticket-stats?filter[created_at__lte]=2030-10-19",
                Some(&f.u1.token),
            )
            .await,
    );
    assert!(data.is_empty());
    let r = f
        .app
        .get("/api/v3/ticket-stats?include=ticket", Some(&f.u1.token))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[actix_web::test]
async fn tst6_filter_by_responder() {
    let f = tickets_fixture().await;
    f.app.add_responder(f.x[0], &f.u1);
    f.app.add_responder(f.x[1], &f.u1);
    f.app.add_responder(f.x[1], &f.u2);
    // Adding responders through SQL does not touch updated_at (the fixture's 2030 values).
    let data = rows(
        &f.app
            .get(
                &format!("/api/v3/ticket-stats?filter[responders__user]={}", f.u1.id),
                Some(&f.u1.token),
            )
            .await,
    );
    assert_eq!(data.len(), 2, "{data:?}");
    let cancelled = row_with(&data, "cancelled");
    assert_eq!(cancelled["attributes"]["count"], 1);
    assert_eq!(cancelled["attributes"]["past-deadline"], 1);
    assert_eq!(cancelled["attributes"]["date"], "2030-10-01T00:00:00Z");
    let new = row_with(&data, "new");
    assert_eq!(new["attributes"]["count"], 1);
    assert_eq!(new["attributes"]["avg-time"], 504);
    // Tickets without responders.
    let data = rows(
        &f.app
            .get(
                "/api/v3/ticket-stats?filter[responders__user__isnull]=true",
                Some(&f.u1.token),
            )
            .await,
    );
    assert_eq!(data.len(), 1);
    assert_eq!(row_with(&data, "new")["attributes"]["count"], 3);
    // With responders: each ticket once (never repeated by its two responders).
    let data = rows(
        &f.app
            .get(
                "/api/v3/ticket-stats?filter[responders__user__isnull]=false",
                Some(&f.u1.token),
            )
            .await,
    );
    assert_eq!(row_with(&data, "new")["attributes"]["count"], 1);
}

#[actix_web::test]
async fn tst7_grouped_by_responder_in_both_spellings() {
    let f = tickets_fixture().await;
    f.app.add_responder(f.x[0], &f.u1);
    for q in ["by=responder", "filter[by]=responder&include=responder"] {
        let r = f
            .app
            .get(&format!("/api/v3/ticket-stats?{q}"), Some(&f.u2.token))
            .await;
        let data = rows(&r);
        assert_eq!(data.len(), 2, "{q}: {data:?}");
        assert!(unique_ids(&data));
        let cancelled = row_with(&data, "cancelled");
        assert_eq!(cancelled["attributes"]["count"], 1);
        assert_ne!(cancelled["attributes"]["avg-time"], 0);
        assert_eq!(cancelled["attributes"]["past-deadline"], 1);
        assert_eq!(cancelled["attributes"]["date"], Value::Null);
        assert_eq!(
            cancelled["relationships"]["responder"]["data"],
            json!({"type": "profiles", "id": f.u1.id.to_string()})
        );
        let new = row_with(&data, "new");
        assert_eq!(new["attributes"]["count"], 4);
        assert_eq!(new["attributes"]["avg-time"], 504);
        assert_eq!(new["relationships"]["responder"]["data"], Value::Null);
        if q.contains("include") {
            let included = r.json()["included"].as_array().unwrap().clone();
            assert_eq!(included.len(), 1);
            assert_eq!(included[0]["type"], "profiles");
            assert_eq!(included[0]["id"], f.u1.id.to_string());
            assert_eq!(included[0]["attributes"]["first-name"], "Tom");
        } else {
            assert!(r.json().get("included").is_none());
        }
    }
}

#[actix_web::test]
async fn tst8_grouped_by_country_with_unique_ids() {
    let f = tickets_fixture().await;
    // X0 saved normally: its updated_at becomes now (before the 2030 deadline).
    f.app.sql(&format!(
        "UPDATE tickets SET countries = '{{RO}}', updated_at = now() WHERE id = {}",
        f.x[0]
    ));
    let data = rows(
        &f.app
            .get("/api/v3/ticket-stats?filter[by]=country", Some(&f.u1.token))
            .await,
    );
    assert_eq!(data.len(), 2, "{data:?}");
    let cancelled = row_with(&data, "cancelled");
    assert_eq!(cancelled["attributes"]["count"], 1);
    assert_ne!(cancelled["attributes"]["avg-time"], 0);
    assert_eq!(cancelled["attributes"]["past-deadline"], 0);
    assert_eq!(cancelled["attributes"]["country"], "RO");
    assert_eq!(cancelled["attributes"]["date"], Value::Null);
    let new = row_with(&data, "new");
    assert_eq!(new["attributes"]["count"], 4);
    assert_eq!(new["attributes"]["avg-time"], 504);
    assert_eq!(new["attributes"]["country"], "MD");
    // W22: the same status in two countries gives two distinct ids.
    f.app.sql(&format!(
        "UPDATE tickets SET countries = '{{MD,RO}}' WHERE id = {}",
        f.x[1]
    ));
    let data = rows(
        &f.app
            .get("/api/v3/ticket-stats?by=country", Some(&f.u1.token))
            .await,
    );
    assert_eq!(data.len(), 3, "{data:?}");
    assert!(unique_ids(&data));
    let new_ro = data
        .iter()
        .find(|r| r["attributes"]["status"] == "new" && r["attributes"]["country"] == "RO")
        .unwrap();
    assert_eq!(new_ro["attributes"]["count"], 1);
}

// ---- review stats -----------------------------------------------------------------------

struct Reviews {
    app: TestApp,
    u0: User,
    u1: User,
    ta: i32,
    tb: i32,
}

/// U0 plain, U1 staff; V0 and V1 (rating 2) on TA, V2 (rating 2) on TB; TA, TB by U0.
async fn reviews_fixture() -> Reviews {
    let app = TestApp::new().await;
    let u0 = app.user("Rae", &[]).await;
    let u1 = app.user("Rex", &["staff"]).await;
    let ta = app.ticket(&u0, "TA").await;
    let tb = app.ticket(&u0, "TB").await;
    for t in [ta, ta, tb] {
        app.sql(&format!(
            "INSERT INTO reviews (ticket_id, rating, body, created_at) VALUES ({t}, 2, 'good', now())"
        ));
    }
    Reviews {
        app,
        u0,
        u1,
        ta,
        tb,
    }
}

fn ticket_row(rows: &[Value], ticket: i32) -> &Value {
    let id = ticket.to_string();
    rows.iter()
        .find(|r| r["relationships"]["ticket"]["data"]["id"].as_str() == Some(id.as_str()))
        .unwrap_or_else(|| panic!("no row for ticket {ticket} in {rows:?}"))
}

#[actix_web::test]
async fn rst1_to_rst5_rows_per_ticket() {
    let f = reviews_fixture().await;
    assert_refused(&f.app, "/api/v3/review-stats", &f.u0).await;
    let su = f.app.with_roles(&f.u0, &["superuser"]);
    for token in [&f.u1.token, &su.token] {
        let data = rows(&f.app.get("/api/v3/review-stats", Some(token)).await);
        assert_eq!(data.len(), 2, "{data:?}");
        assert!(unique_ids(&data));
        let a = ticket_row(&data, f.ta);
        assert_eq!(a["type"], "review-stats");
        assert_eq!(a["attributes"], json!({"count": 2, "ratings": 4}));
        assert_eq!(a["relationships"]["responder"]["data"], Value::Null);
        let b = ticket_row(&data, f.tb);
        assert_eq!(b["attributes"], json!({"count": 1, "ratings": 2}));
    }
    for q in [
        "filter[created_at__gte]=3000-01-01T00:00:00",
        "filter[startAt]=3000-01-01T00:00:00",
    ] {
        let data = rows(
            &f.app
                .get(&format!("/api/v3/review-stats?{q}"), Some(&f.u1.token))
                .await,
        );
        assert!(data.is_empty(), "{q}");
    }
    let data = rows(
        &f.app
            .get(
                &format!("/api/v3/review-stats?filter[ticket]={}", f.tb),
                Some(&f.u1.token),
            )
            .await,
    );
    assert_eq!(data.len(), 1);
    // The client's request: included tickets only when the caller may see them.
    let r = f
        .app
        .get(
            "/api/v3/review-stats?filter[by]=ticket&include=ticket",
            Some(&f.u1.token),
        )
        .await;
    assert_eq!(rows(&r).len(), 2);
    assert_eq!(r.json()["included"], json!([]));
    let r = f
        .app
        .get(
            "/api/v3/review-stats?filter[by]=ticket&include=ticket",
            Some(&su.token),
        )
        .await;
    let included: Vec<String> = r.json()["included"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            format!(
                "{}:{}",
                t["type"].as_str().unwrap(),
                t["id"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        included,
        vec![format!("tickets:{}", f.ta), format!("tickets:{}", f.tb)]
    );
    // The sticky `filter[by]=country` of the client: answered per ticket, not 400.
    let data = rows(
        &f.app
            .get("/api/v3/review-stats?filter[by]=country", Some(&f.u1.token))
            .await,
    );
    assert_eq!(data.len(), 2);
}

#[actix_web::test]
async fn rst6_rows_per_responder() {
    let f = reviews_fixture().await;
    f.app.add_responder(f.ta, &f.u1);
    for q in ["by=responder", "filter[by]=responder&include=responder"] {
        let r = f
            .app
            .get(&format!("/api/v3/review-stats?{q}"), Some(&f.u1.token))
            .await;
        let data = rows(&r);
        assert_eq!(data.len(), 2, "{data:?}");
        assert!(unique_ids(&data));
        let mine = data
            .iter()
            .find(|r| {
                r["relationships"]["responder"]["data"]["id"].as_str()
                    == Some(f.u1.id.to_string().as_str())
            })
            .unwrap();
        assert_eq!(mine["attributes"], json!({"count": 2, "ratings": 4}));
        assert_eq!(mine["relationships"]["ticket"]["data"], Value::Null);
        let none = data
            .iter()
            .find(|r| r["relationships"]["responder"]["data"].is_null())
            .unwrap();
        assert_eq!(none["attributes"], json!({"count": 1, "ratings": 2}));
        if q.contains("include") {
            assert_eq!(r.json()["included"][0]["id"], f.u1.id.to_string());
        }
    }
    let data = rows(
        &f.app
            .get(
                &format!(
                    "/api/v3/review-stats?filter[ticket__responders__user]={}",
                    f.u1.id
                ),
                Some(&f.u1.token),
            )
            .await,
    );
    assert_eq!(data.len(), 1);
    assert_eq!(ticket_row(&data, f.ta)["attributes"]["count"], 2);
    let data = rows(
        &f.app
            .get(
                "/api/v3/review-stats?filter[ticket__isnull]=true",
                Some(&f.u1.token),
            )
            .await,
    );
    assert!(data.is_empty());
}

// ---- one grouped query per statistic ------------------------------------------------------

/// Runs `work` on a fresh connection and returns how many statements it sent.
fn count_queries(url: &str, work: impl FnOnce(&mut desk_persistence::PgUnitOfWork<'_>)) -> usize {
    use diesel::connection::{Connection, InstrumentationEvent};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let mut conn = diesel::PgConnection::establish(url).unwrap();
    let counter = Arc::new(AtomicUsize::new(0));
    let seen = counter.clone();
    conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
        if let InstrumentationEvent::StartQuery { .. } = event {
            seen.fetch_add(1, Ordering::SeqCst);
        }
    });
    work(&mut desk_persistence::PgUnitOfWork::new(&mut conn));
    counter.load(Ordering::SeqCst)
}

#[actix_web::test]
async fn each_statistic_is_one_grouped_query() {
    use desk_domain::usecases::stats;
    let f = tickets_fixture().await;
    f.app.add_responder(f.x[0], &f.u1);
    f.app.add_responder(f.x[1], &f.u2);
    let staff = desk_domain::Actor {
        id: desk_domain::ProfileId(f.u1.id),
        is_staff: true,
        is_superuser: false,
    };
    let now = chrono::Utc::now();
    for by in ["month", "country", "responder"] {
        let params: desk_domain::listing::Params =
            [("by".to_string(), by.to_string())].into_iter().collect();
        let n = count_queries(&f.app.db.url, |uow| {
            let s = stats::ticket_stats(uow, &staff, now, &params, false).unwrap();
            assert!(!s.rows.is_empty());
        });
        // The fold of the summary's appended differences, then one grouped query.
        assert_eq!(n, 2, "ticket stats by {by}");
        let n = count_queries(&f.app.db.url, |uow| {
            stats::review_stats(uow, &staff, now, &params, false, false).unwrap();
        });
        // By responder the summary answers in one query; by ticket (any other `by`) the
        // grouped query over the reviews, after the sort's memory setting.
        let expected = if by == "responder" { 1 } else { 2 };
        assert_eq!(n, expected, "review stats by {by}");
    }
    // Including the responders adds one query for their profiles, however many there are
    // (after the fold and the grouped query).
    let params: desk_domain::listing::Params = [("by".to_string(), "responder".to_string())]
        .into_iter()
        .collect();
    let n = count_queries(&f.app.db.url, |uow| {
        let s = stats::ticket_stats(uow, &staff, now, &params, true).unwrap();
        assert_eq!(s.related.profiles.len(), 2);
    });
    assert_eq!(n, 3);
    // The policy refuses before any query.
    let plain = desk_domain::Actor {
        id: desk_domain::ProfileId(f.u0.id),
        is_staff: false,
        is_superuser: false,
    };
    let n = count_queries(&f.app.db.url, |uow| {
        assert!(matches!(
            stats::ticket_stats(uow, &plain, now, &params, false),
            Err(desk_domain::DomainError::Forbidden)
        ));
    });
    assert_eq!(n, 0);
}
