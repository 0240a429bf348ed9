//! Protocol rules of contract §3.0 and "bad input gets a clear 4xx and changes nothing":
//! media types, documents, methods, routing, pagination, headers, hostile values.

mod common;

use actix_web::http::{Method, StatusCode};
use common::*;
use serde_json::json;

fn error_code(r: &Response) -> String {
    r.json()["errors"][0]["code"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

#[actix_web::test]
async fn media_types_and_accept() {
    let app = TestApp::new().await;
    let u = app.user("Uma", &[]).await;
    let body = ticket_body("x").to_string().into_bytes();
    for media in [
        "application/json",
        "application/x-www-form-urlencoded",
        "text/plain",
        "multipart/form-data; boundary=x",
    ] {
        let r = app
            .call(
                Method::POST,
                "/api/v3/tickets",
                Some(&u.token),
                &[("content-type", media)],
                Some(body.clone()),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{media}");
        assert_eq!(r.header("content-type").as_deref(), Some(JSONAPI));
    }
    let r = app
        .call(
            Method::POST,
            "/api/v3/tickets",
            Some(&u.token),
            &[],
            Some(body.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let r = app
        .call(
            Method::GET,
            "/api/v3/me",
            Some(&u.token),
            &[("accept", "application/json")],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_ACCEPTABLE);
    assert_eq!(
        r.json()["errors"][0]["detail"],
        "Could not satisfy the request Accept header."
    );
    for ok in [
        "*/*",
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        JSONAPI,
    ] {
        let r = app
            .call(
                Method::GET,
                "/api/v3/me",
                Some(&u.token),
                &[("accept", ok)],
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{ok}");
    }
    assert_eq!(app.count("tickets"), 0);
}

#[actix_web::test]
async fn malformed_documents_are_4xx_and_change_nothing() {
    let app = TestApp::new().await;
    let u = app.user("Uma", &[]).await;
    let t = app.ticket(&u, "original").await;
    let raw = |body: &str| body.as_bytes().to_vec();
    let cases: Vec<(Method, String, Vec<u8>, StatusCode, &str)> = vec![
        (
            Method::POST,
            "/api/v3/tickets".into(),
            raw("{not json"),
            StatusCode::BAD_REQUEST,
            "parse_error",
        ),
        (
            Method::POST,
            "/api/v3/tickets".into(),
            raw("[1,2]"),
            StatusCode::BAD_REQUEST,
            "parse_error",
        ),
        (
            Method::POST,
            "/api/v3/tickets".into(),
            raw("{\"meta\":{}}"),
            StatusCode::BAD_REQUEST,
            "parse_error",
        ),
        (
            Method::POST,
            "/api/v3/tickets".into(),
            raw("{\"data\":[]}"),
            StatusCode::BAD_REQUEST,
            "parse_error",
        ),
        (
            Method::POST,
            "/api/v3/tickets".into(),
            raw("{\"data\":{\"type\":\"comments\",\"attributes\":{}}}"),
            StatusCode::CONFLICT,
            "error",
        ),
        (
            Method::POST,
            "/api/v3/tickets".into(),
            raw("{\"data\":{\"type\":\"tickets\",\"attributes\":[]}}"),
            StatusCode::BAD_REQUEST,
            "parse_error",
        ),
        (
            Method::PATCH,
            format!("/api/v3/tickets/{t}"),
            raw("{\"data\":{\"type\":\"tickets\",\"attributes\":{}}}"),
            StatusCode::BAD_REQUEST,
            "parse_error",
        ),
        (
            Method::PATCH,
            format!("/api/v3/tickets/{t}"),
            raw("{\"data\":{\"type\":\"tickets\",\"id\":\"999\",\"attributes\":{}}}"),
            StatusCode::CONFLICT,
            "error",
        ),
        (
            Method::POST,
            "/api/v3/tickets".into(),
            vec![0xff, 0xfe, 0x00],
            StatusCode::BAD_REQUEST,
            "parse_error",
        ),
    ];
    for (method, path, body, status, code) in cases {
        let r = app
            .call(
                method.clone(),
                &path,
                Some(&u.token),
                &[("content-type", JSONAPI)],
                Some(body),
            )
            .await;
        assert_eq!(r.status, status, "{method} {path}: {}", r.text);
        assert_eq!(error_code(&r), code, "{}", r.text);
    }
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/v3/tickets/{t}"),
            Some(&u.token),
            &[("content-type", JSONAPI)],
            Some(raw(
                "{\"data\":{\"type\":\"tickets\",\"id\":\"999\",\"attributes\":{}}}",
            )),
        )
        .await;
    assert_eq!(
        r.json()["errors"][0]["detail"],
        format!("The resource object's id (999) does not match url's lookup id ({t})")
    );
    assert_eq!(app.count("tickets"), 1);
    assert_eq!(app.count("activities"), 1);
}

#[actix_web::test]
async fn wrong_types_huge_and_nul_values_are_422() {
    let app = TestApp::new().await;
    let u = app.user("Uma", &[]).await;
    let bad_values = vec![
        json!({"background": 42, "kind": ["other"]}),
        json!({"background": "ok", "sensitive": "perhaps"}),
        json!({"background": "ok", "countries": "RO"}),
        json!({"background": "ok", "tags": [1, null]}),
        json!({"background": "ok", "deadline-at": 12}),
        json!({"background": "ok", "deadline-at": "99999-01-01"}),
        json!({"background": "ok\u{0}"}),
        json!({"background": "ok", "first-name": "x".repeat(513)}),
        json!({"background": "x".repeat(100_001)}),
        json!({"background": "ok", "tags": ["x".repeat(256)]}),
        json!({"background": "ok", "country": "ZZ"}),
        json!({"background": "   "}),
        json!({"background": "ok", "deadline-at": "2000-01-01T00:00:00Z"}),
    ];
    for attributes in bad_values {
        let r = app
            .send(
                Method::POST,
                "/api/v3/tickets",
                Some(&u.token),
                json!({"data": {"type": "tickets", "attributes": attributes}}),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{attributes}: {}",
            r.text
        );
        let errors = r.json()["errors"].as_array().unwrap().clone();
        assert!(!errors.is_empty());
        for e in errors {
            assert!(
                e["source"]["pointer"]
                    .as_str()
                    .unwrap()
                    .starts_with("/data/attributes/"),
                "{e}"
            );
            assert_eq!(e["status"], "422");
        }
    }
    // A body over the limit is refused before it is read whole.
    let huge = vec![b' '; 2 * 1024 * 1024];
    let r = app
        .call(
            Method::POST,
            "/api/v3/tickets",
            Some(&u.token),
            &[("content-type", JSONAPI)],
            Some(huge),
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(app.count("tickets"), 0);
}

#[actix_web::test]
async fn methods_routes_and_authentication_order() {
    let app = TestApp::new().await;
    let u = app.user("Uma", &[]).await;
    // Anonymous callers get 401 even for methods the route lacks.
    let r = app
        .call(Method::DELETE, "/api/v3/tickets/1", None, &[], None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = app
        .call(
            Method::DELETE,
            "/api/v3/tickets/1",
            Some(&u.token),
            &[],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        r.json()["errors"][0]["detail"],
        "Method \"DELETE\" not allowed."
    );
    assert!(r.header("allow").unwrap().contains("PATCH"));
    for (method, path) in [
        (Method::POST, "/api/v3/me"),
        (Method::DELETE, "/api/v3/profiles/1"),
        (Method::POST, "/api/v3/profiles"),
    ] {
        assert_eq!(
            app.call(method, path, Some(&u.token), &[], None)
                .await
                .status,
            StatusCode::METHOD_NOT_ALLOWED
        );
    }
    // A trailing slash matches nothing: plain HTML 404.
    let r = app.get("/api/v3/tickets/", Some(&u.token)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    // HEAD wherever GET is.
    let r = app
        .call(Method::HEAD, "/api/v3/me", Some(&u.token), &[], None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = app
        .call(
            Method::OPTIONS,
            "/api/v3/tickets",
            Some(&u.token),
            &[],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.json()["data"]["allowed_methods"]
        .as_array()
        .unwrap()
        .contains(&json!("POST")));
}

#[actix_web::test]
async fn queries_includes_and_pages() {
    let app = TestApp::new().await;
    let u = app.user("Uma", &[]).await;
    let r = app
        .get("/api/v3/tickets?filter%5Bsearch%5D=%FF", Some(&u.token))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let r = app
        .get("/api/v3/tickets?include=attachments", Some(&u.token))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json()["errors"][0]["detail"],
        "This endpoint does not support the include parameter for path attachments"
    );
    for page in ["2", "0", "-1", "x"] {
        let r = app
            .get(
                &format!("/api/v3/tickets?page[number]={page}"),
                Some(&u.token),
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{page}");
        assert_eq!(r.json()["errors"][0]["detail"], "Invalid page.");
    }
    let r = app
        .get(
            "/api/v3/tickets?page[number]=1&page[size]=100000",
            Some(&u.token),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let links = r.json()["links"].clone();
    assert!(
        links["first"]
            .as_str()
            .unwrap()
            .contains("page[number]=1&page[size]=100000"),
        "{links}"
    );
    // Links use the forwarded host and scheme.
    let r = app
        .call(
            Method::GET,
            "/api/v3/tickets?sort=-created_at&filter[search]=a%20b",
            Some(&u.token),
            &[
                ("x-forwarded-host", "desk.example.org"),
                ("x-forwarded-proto", "https"),
            ],
            None,
        )
        .await;
    let first = r.json()["links"]["first"].as_str().unwrap().to_string();
    assert_eq!(first, "https://desk.example.org/api/v3/tickets?filter[search]=a+b&page[number]=1&sort=-created_at");
}

#[actix_web::test]
async fn security_headers_and_error_documents() {
    let app = TestApp::new().await;
    let u = app.user("Uma", &[]).await;
    for r in [
        app.get("/api/v3/me", Some(&u.token)).await,
        app.get("/api/v3/me", None).await,
        app.get("/nowhere", None).await,
    ] {
        assert_eq!(
            r.header("x-content-type-options").as_deref(),
            Some("nosniff")
        );
        assert_eq!(r.header("referrer-policy").as_deref(), Some("same-origin"));
        assert_eq!(
            r.header("cross-origin-opener-policy").as_deref(),
            Some("same-origin")
        );
    }
    let r = app.get("/api/v3/me", Some("not-a-token")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
    assert_eq!(r.header("content-type").as_deref(), Some(JSONAPI));
}

#[actix_web::test]
async fn operations_endpoints() {
    let app = TestApp::new().await;
    assert_eq!(app.get("/healthz", None).await.status, StatusCode::OK);
    assert_eq!(app.get("/readyz", None).await.status, StatusCode::OK);
    let u = app.user("Uma", &[]).await;
    app.get("/api/v3/tickets", Some(&u.token)).await;
    let metrics = app.get("/metrics", None).await;
    assert!(metrics.text.contains("desk_http_requests_total"));
    assert!(metrics.text.contains("route=\"/api/v3/me\""));
    let openapi = app.get("/api/v3/openapi.json", None).await.json();
    assert!(openapi["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/api/v3/tickets",
        "/api/v3/tickets/{id}",
        "/api/v3/me",
        "/api/v3/profiles",
        "/api/v3/profiles/{id}",
    ] {
        assert!(openapi["paths"][path].is_object(), "{path}");
    }
}

/// A NUL character (`%00`) in a query parameter is refused before anything reads the
/// database: PostgreSQL cannot store or compare one in text, so it used to fail there (a 500,
/// or an export cut off after its first bytes). Found by fuzzing the OpenAPI description.
#[actix_web::test]
async fn a_nul_character_in_the_query_is_a_client_error_everywhere() {
    let app = TestApp::new().await;
    let su = app.user("Sue", &["superuser", "staff"]).await;
    for path in [
        "/api/v3/tickets?filter%5Bcountry%5D=R%00O",
        "/api/v3/tickets?filter%5Bsearch%5D=mining%00",
        "/api/v3/tickets?filter%5Bstatus__in%5D=new%2C%00",
        "/api/v3/profiles?filter%5Bname%5D=%00",
        "/api/v3/expenses?filter%5Bscope%5D=Registry%00",
        "/api/v3/activities?filter%5Bverb%5D=%00",
        "/api/v3/comments?filter%5Bticket%5D=1%00",
        "/api/v3/ticket-stats?filter%5Bcountry%5D=%00",
        "/api/v3/review-stats?filter%5Bby%5D=%00",
        "/api/v3/ticket-exports?filter%5Bcountry%5D=%00",
        "/api/v3/expense-exports?filter%5Bscope%5D=%00",
        "/api/v3/review-exports?filter%5Bcreated_at__gte%5D=%00",
        "/api/v3/tickets?fil%00ter=1",
    ] {
        let r = app.get(path, Some(&su.token)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}: {}", r.text);
        assert_eq!(
            r.json()["errors"][0]["detail"],
            "The query string contains a NUL character.",
            "{path}"
        );
    }
}
