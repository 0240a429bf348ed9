//! Hosting the client bundle (`DESK_CLIENT_DIR`): files, history routing, cache headers,
//! no traversal, never in place of `/api` or `/accounts`.

use actix_web::body::to_bytes;
use actix_web::dev::Service;
use actix_web::http::StatusCode;
use actix_web::test;
use desk_app::http::accounts::WebSettings;
use desk_testkit::db::TestDb;
use desk_testkit::TestIssuer;

async fn get(
    state: &actix_web::web::Data<desk_app::http::AppState>,
    path: &str,
) -> (StatusCode, Option<String>, Option<String>, String) {
    let app = test::init_service(desk_app::server::app(state.clone())).await;
    let response = app
        .call(test::TestRequest::get().uri(path).to_request())
        .await
        .unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (status, content_type, cache) = (
        response.status(),
        header("content-type"),
        header("cache-control"),
    );
    let body = to_bytes(response.into_body()).await.unwrap_or_default();
    (
        status,
        content_type,
        cache,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

#[actix_web::test]
async fn the_bundle_is_served_with_history_routing_and_no_traversal() {
    let root = std::env::temp_dir().join(format!("desk-client-{}", rand::random::<u64>()));
    std::fs::create_dir_all(root.join("assets")).unwrap();
    std::fs::write(root.join("index.html"), "<div id=\"ember-app\"></div>").unwrap();
    std::fs::write(root.join("assets/id-0123456789abcdef.js"), "app()").unwrap();
    std::fs::write(root.join("assets/symbols.svg"), "<svg/>").unwrap();
    std::fs::write(root.parent().unwrap().join("desk-secret.txt"), "secret").unwrap();

    let db = TestDb::new();
    let issuer = TestIssuer::start_for_client("desk").await;
    let settings = desk_app::config::ServeSettings {
        database_url: db.url.clone(),
        pool_size: 2,
        bind: "127.0.0.1:0".parse().unwrap(),
        issuer: issuer.url().to_string(),
        client_id: "desk".into(),
        audience: "desk".into(),
        member_centers: vec![],
        expense_scopes: vec![],
        media_root: std::env::temp_dir().join("desk-client-media"),
        max_upload_bytes: 1 << 20,
    };
    let web = WebSettings {
        client_dir: Some(root.clone()),
        ..WebSettings::default()
    };
    let state = desk_app::server::state_with_web(
        &settings,
        web,
        db.db.clone(),
        desk_app::server::system_clock(),
    )
    .unwrap();

    let (status, ct, cache, body) = get(&state, "/tickets/view/5").await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("ember-app"));
    assert_eq!(ct.as_deref(), Some("text/html; charset=utf-8"));
    assert_eq!(cache.as_deref(), Some("no-cache"));
    assert_eq!(get(&state, "/tickets").await.0, StatusCode::OK);

    let (status, ct, cache, body) = get(&state, "/tickets/assets/id-0123456789abcdef.js").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "app()"));
    assert_eq!(ct.as_deref(), Some("text/javascript; charset=utf-8"));
    assert_eq!(
        cache.as_deref(),
        Some("public, max-age=31536000, immutable")
    );
    let (status, ct, _, _) = get(&state, "/assets/symbols.svg").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ct.as_deref(), Some("image/svg+xml"));
    assert_eq!(
        get(&state, "/assets/nothing.svg").await.0,
        StatusCode::NOT_FOUND
    );

    for evil in [
        "/tickets/..%2fdesk-secret.txt",
        "/tickets/assets/..%2f..%2fdesk-secret.txt",
        "/assets/..%2f..%2fdesk-secret.txt",
        "/tickets/%2e%2e/desk-secret.txt",
    ] {
        let (status, _, _, body) = get(&state, evil).await;
        assert!(!body.contains("secret"), "{evil}: {body}");
        assert_eq!(status, StatusCode::NOT_FOUND, "{evil}");
    }
    // A directory is never listed.
    let (_, _, _, body) = get(&state, "/tickets/assets").await;
    assert!(body.contains("ember-app"), "{body}");
    // The API and the accounts routes are never the shell.
    let (status, _, _, body) = get(&state, "/api/v3/nothing").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!body.contains("ember-app"));
    let (_, _, _, body) = get(&state, "/accounts/nothing").await;
    assert!(!body.contains("ember-app"));
    let _ = std::fs::remove_dir_all(&root);
}
