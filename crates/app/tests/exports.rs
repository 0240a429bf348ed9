//! CSV exports (contract §6.1, §8 TE*/EE*/RE*, CLIENT.md §9.2, W9, W10): authorization,
//! exact cells (links from DESK_PUBLIC_URL, formula injection, non-ASCII), the list filters,
//! no pagination, methods.

mod common;

use actix_web::http::{Method, StatusCode};
use common::{Response, TestApp, User, CLIENT_ID, UPLOAD_LIMIT};
use desk_app::config::ServeSettings;
use desk_app::http::accounts::WebSettings;

const PUBLIC: &str = "https://desk.example.org";
const EXPORTS: [(&str, &str); 3] = [
    ("/api/v3/ticket-exports", "tickets"),
    ("/api/v3/expense-exports", "expenses"),
    ("/api/v3/review-exports", "reviews"),
];

/// The test application with `DESK_PUBLIC_URL` set (links are built from it).
async fn app() -> TestApp {
    let mut app = TestApp::new().await;
    let settings = ServeSettings {
        database_url: app.db.url.clone(),
        pool_size: 4,
        bind: "127.0.0.1:0".parse().unwrap(),
        issuer: app.issuer.url().to_string(),
        client_id: CLIENT_ID.into(),
        audience: CLIENT_ID.into(),
        member_centers: vec!["RISE".into(), "OCCRP".into()],
        expense_scopes: vec!["orbis.com".into(), "domaintools.com".into()],
        media_root: app.media.clone(),
        max_upload_bytes: UPLOAD_LIMIT,
    };
    let web = WebSettings {
        public_url: Some(PUBLIC.parse().unwrap()),
        ..WebSettings::default()
    };
    app.state = desk_app::server::state_with_web(
        &settings,
        web,
        app.db.db.clone(),
        desk_app::server::system_clock(),
    )
    .unwrap();
    app
}

fn link(ticket: i32) -> String {
    format!("{PUBLIC}/tickets/view/{ticket}")
}

/// The body's lines (CRLF-terminated records; no record here holds a line break unless said).
fn lines(r: &Response) -> Vec<String> {
    assert!(r.text.ends_with("\r\n"), "{:?}", r.text);
    r.text[..r.text.len() - 2]
        .split("\r\n")
        .map(str::to_string)
        .collect()
}

fn assert_csv(r: &Response, prefix: &str) {
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.header("content-type").as_deref(),
        Some("text/csv; charset=utf-8")
    );
    let today = chrono::Utc::now().format("%Y-%m-%d");
    assert_eq!(
        r.header("content-disposition").unwrap(),
        format!("attachment; filename=\"{prefix}-{today}.csv\"")
    );
    assert!(!r.text.starts_with('\u{feff}'), "no BOM");
}

fn assert_error(r: &Response, status: StatusCode) {
    assert_eq!(r.status, status, "{}", r.text);
    assert!(r.json()["errors"].is_array(), "{}", r.text);
}

/// U0 plain; staff+superuser; staff only; superuser only.
async fn people(app: &TestApp) -> (User, Vec<User>) {
    let plain = app.user("Plain", &[]).await;
    let allowed = vec![
        app.user("Both", &["staff", "superuser"]).await,
        app.user("Staff", &["staff"]).await,
        app.user("Super", &["superuser"]).await,
    ];
    (plain, allowed)
}

#[actix_web::test]
async fn authorization_and_methods_for_all_three_exports() {
    let app = app().await;
    let (plain, allowed) = people(&app).await;
    for (path, prefix) in EXPORTS {
        // TE1/EE1/RE1: anonymous 401 (also before method routing).
        assert_error(&app.get(path, None).await, StatusCode::UNAUTHORIZED);
        assert_error(
            &app.call(Method::POST, path, None, &[], None).await,
            StatusCode::UNAUTHORIZED,
        );
        // TE2/EE2/RE2: a plain person 403.
        assert_error(
            &app.get(path, Some(&plain.token)).await,
            StatusCode::FORBIDDEN,
        );
        // W9: staff or superuser, either role alone is enough.
        for user in &allowed {
            let r = app.get(path, Some(&user.token)).await;
            assert_csv(&r, prefix);
            assert_eq!(lines(&r).len(), 1, "header only: {}", r.text);
        }
        // W10: GET/HEAD on the collection only.
        let head = app
            .call(Method::HEAD, path, Some(&allowed[0].token), &[], None)
            .await;
        assert_csv(&head, prefix);
        assert!(head.text.is_empty());
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            let r = app
                .call(method.clone(), path, Some(&allowed[0].token), &[], None)
                .await;
            assert_error(&r, StatusCode::METHOD_NOT_ALLOWED);
            assert_eq!(r.header("allow").as_deref(), Some("GET, HEAD, OPTIONS"));
        }
        let member = app.get(&format!("{path}/1"), Some(&allowed[0].token)).await;
        assert_eq!(member.status, StatusCode::NOT_FOUND);
    }
    let openapi = app.get("/api/v3/openapi.json", None).await.json();
    for (path, _) in EXPORTS {
        assert!(openapi["paths"][path]["get"].is_object(), "{path}");
    }
}

#[actix_web::test]
async fn ticket_export_cells_filters_and_no_pagination() {
    let app = app().await;
    let (plain, allowed) = people(&app).await;
    let u1 = &allowed[0];
    // TE3 setup: T0, T1 requested by U0; T2 by U1.
    let t0 = app.ticket(&plain, "first").await;
    let t1 = app.ticket(&plain, "second").await;
    let t2 = app.ticket(u1, "third").await;
    app.sql(&format!(
        "UPDATE profiles SET country = 'MD' WHERE id = {}",
        plain.id
    ));
    // The contract's example line, exactly.
    app.sql(&format!(
        "UPDATE tickets SET created_at = '2026-11-22 06:15:31.457787+00', deadline_at = '2031-01-02 03:04:05+00', \
         status = 'new', kind = 'other', request_type = 'cost_plus', priority = 'high', country = 'TK', \
         countries = '{{MD,RO}}', member_center = 'MC1', tags = '{{a,b}}' WHERE id = {t0}"
    ));
    // Formula injection, non-ASCII, NULLs and empty lists.
    app.sql(&format!(
        "UPDATE tickets SET created_at = '2026-11-23 00:00:00+00', deadline_at = NULL, status = 'closed', \
         kind = 'data_request', request_type = 'subs', priority = 'default', country = NULL, countries = '{{}}', \
         member_center = '=HYPERLINK(\"http://evil\")', tags = '{{Ștefan Zoë,-x}}' WHERE id = {t1}"
    ));
    app.sql(&format!(
        "UPDATE tickets SET created_at = '2026-11-24 10:00:00+00', deadline_at = NULL, status = 'in-progress', \
         kind = 'person_ownership', request_type = 'cost', priority = 'low', country = '', countries = '{{RO}}', \
         member_center = NULL, tags = '{{}}' WHERE id = {t2}"
    ));
    // A search word that ranks t1 (a name: weight A) before t0 (the background: B).
    app.sql(&format!(
        "UPDATE tickets SET first_name = 'Zorro' WHERE id = {t1}"
    ));
    app.sql(&format!(
        "UPDATE tickets SET background = background || ' zorro' WHERE id = {t0}"
    ));
    let header = "Link,Email,Date,Deadline,Status,Kind,RequestType,Priority,RequesterCountry,OriginalCountry,ExtraCountries,MemberCenter,Tags";
    let row0 = format!(
        "{},{},2026-11-22 06:15:31.457787,2031-01-02 03:04:05,new,other,cost_plus,high,MD,TK,\"MD,RO\",MC1,\"a,b\"",
        link(t0),
        plain.email
    );
    let row1 = format!(
        "{},{},2026-11-23 00:00:00,,closed,data_request,subs,default,MD,,,\"'=HYPERLINK(\"\"http://evil\"\")\",\"Ștefan Zoë,-x\"",
        link(t1),
        plain.email
    );
    let row2 = format!(
        "{},{},2026-11-24 10:00:00,,in-progress,person_ownership,cost,low,,,RO,,",
        link(t2),
        u1.email
    );

    // TE3: everything, for a staff+superuser; page and include ignored.
    let r = app
        .get(
            "/api/v3/ticket-exports?page[number]=2&page[size]=1&include=requester,responders",
            Some(&u1.token),
        )
        .await;
    assert_csv(&r, "tickets");
    assert!(r.text.contains("RequestType,Priority"));
    assert_eq!(
        lines(&r),
        vec![header.to_string(), row0.clone(), row1.clone(), row2.clone()]
    );

    // W9: staff alone sees every row too (not only tickets they take part in).
    let staff = app
        .get("/api/v3/ticket-exports", Some(&allowed[1].token))
        .await;
    assert_eq!(lines(&staff).len(), 4);

    // The ticket list's filters: status, kind, country, requester, created_at, sort.
    let cases: Vec<(String, Vec<&String>)> = vec![
        (
            "filter[status__in]=new,in-progress".into(),
            vec![&row0, &row2],
        ),
        ("filter[kind]=data_request".into(), vec![&row1]),
        ("filter[country]=TK".into(), vec![&row0]),
        (
            format!("filter[requester]={}", plain.id),
            vec![&row0, &row1],
        ),
        (
            "filter[created_at__gte]=2026-11-23T00:00:00".into(),
            vec![&row1, &row2],
        ),
        ("filter[search]=third".into(), vec![&row2]),
        // The list's order: best rank first (W25), before the sort.
        ("filter[search]=zorro".into(), vec![&row1, &row0]),
        (
            "filter[search]=zorro&sort=-created_at".into(),
            vec![&row1, &row0],
        ),
        ("sort=-created_at".into(), vec![&row2, &row1, &row0]),
        ("filter[requester]=999999".into(), vec![]),
    ];
    for (query, rows) in cases {
        let r = app
            .get(&format!("/api/v3/ticket-exports?{query}"), Some(&u1.token))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{query}: {}", r.text);
        let mut expected = vec![header.to_string()];
        expected.extend(rows.into_iter().cloned());
        assert_eq!(lines(&r), expected, "{query}");
    }

    // The SPA's own link (CLIENT.md §9.2): empty filters are absent, page/include ignored.
    let spa = "/api/v3/ticket-exports?filter[country]=&filter[kind]=&filter[requester]=&filter[responder]=&filter[search]=&filter[created_at__gte]=2026-01-01T00:00:00&filter[status__in]=new,in-progress,pending&page[number]=2&page[size]=25&sort=deadline_at&include=requester,responders,responders.user";
    let r = app.get(spa, Some(&u1.token)).await;
    assert_eq!(lines(&r), vec![header.to_string(), row0, row2]);

    // A responder filter matches the list's semantics.
    app.add_responder(t1, &allowed[1]);
    let r = app
        .get(
            &format!(
                "/api/v3/ticket-exports?filter[responders__user]={}",
                allowed[1].id
            ),
            Some(&u1.token),
        )
        .await;
    assert_eq!(lines(&r), vec![header.to_string(), row1]);
}

#[actix_web::test]
async fn ticket_export_streams_many_rows() {
    let app = app().await;
    let (plain, allowed) = people(&app).await;
    let _ = app.ticket(&plain, "seed").await;
    app.sql(&format!(
        "INSERT INTO tickets (requester_id, background, created_at, updated_at) \
         SELECT {}, 'bulk ' || g, now(), now() FROM generate_series(1, 5000) g",
        plain.id
    ));
    let r = app
        .get("/api/v3/ticket-exports", Some(&allowed[1].token))
        .await;
    assert_csv(&r, "tickets");
    let lines = lines(&r);
    assert_eq!(lines.len(), 5002);
    assert!(
        r.text.len() > 256 * 1024,
        "several chunks: {}",
        r.text.len()
    );
    // Ordered by id.
    let ids: Vec<i32> = lines[1..]
        .iter()
        .map(|l| {
            l.split(',')
                .next()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]));
}

#[actix_web::test]
async fn expense_export_cells_and_filters() {
    let app = app().await;
    let (plain, allowed) = people(&app).await;
    let u1 = &allowed[0];
    // EE3 setup: T0, T1 requested by U0; E0 on T0, E1 on T1.
    let t0 = app.ticket(&plain, "first").await;
    let t1 = app.ticket(&plain, "second").await;
    app.sql(&format!(
        "UPDATE profiles SET country = 'MD' WHERE id = {}",
        plain.id
    ));
    app.sql(&format!(
        "UPDATE tickets SET status = 'new', country = 'NA', countries = '{{MD,RO}}' WHERE id = {t0}"
    ));
    app.sql(&format!(
        "UPDATE tickets SET status = 'closed', country = NULL, countries = '{{}}' WHERE id = {t1}"
    ));
    app.sql(&format!(
        "INSERT INTO expenses (ticket_id, user_id, amount, amount_currency, rating, scope, payment_method, created_at, updated_at) VALUES \
         ({t0}, {u}, 10.5, 'EUR', 3, 'Registry', 'card', '2026-11-22 06:15:31.655224+00', '2026-11-22 08:00:00+00'), \
         ({t1}, {s}, NULL, 'USD', 0, '=SUM(A1:A9)', NULL, '2026-11-23 00:00:00+00', '2026-11-21 00:00:00+00')",
        u = u1.id,
        s = allowed[1].id
    ));
    let header = "Link,Date,Status,Amount,Currency,Rating,Scope,RequesterCountry,OriginalCountry,ExtraCountries";
    let e0 = format!(
        "{},2026-11-22 06:15:31.655224,new,10.5000,EUR,3,Registry,MD,NA,\"MD,RO\"",
        link(t0)
    );
    let e1 = format!(
        "{},2026-11-23 00:00:00,closed,,USD,0,'=SUM(A1:A9),MD,,",
        link(t1)
    );

    let r = app
        .get(
            "/api/v3/expense-exports?page[size]=1&include=ticket",
            Some(&u1.token),
        )
        .await;
    assert_csv(&r, "expenses");
    assert!(r.text.contains("Currency,Rating"));
    assert_eq!(lines(&r), vec![header.to_string(), e0.clone(), e1.clone()]);

    let cases: Vec<(String, Vec<&String>)> = vec![
        ("filter[scope]=Registry".into(), vec![&e0]),
        ("filter[payment_method]=card".into(), vec![&e0]),
        (format!("filter[ticket]={t1}"), vec![&e1]),
        (format!("filter[user]={}", u1.id), vec![&e0]),
        (
            "filter[created_at__range]=2026-11-22T12:00:00,2026-11-24T00:00:00".into(),
            vec![&e1],
        ),
        ("sort=updated_at".into(), vec![&e1, &e0]),
        ("sort=-created_at".into(), vec![&e1, &e0]),
        ("filter[ticket]=999999".into(), vec![]),
        // The SPA sends the ticket filters: they mean nothing here.
        (
            "filter[status__in]=pending&filter[kind]=other".into(),
            vec![&e0, &e1],
        ),
    ];
    for (query, rows) in cases {
        let r = app
            .get(
                &format!("/api/v3/expense-exports?{query}"),
                Some(&allowed[2].token),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{query}: {}", r.text);
        let mut expected = vec![header.to_string()];
        expected.extend(rows.into_iter().cloned());
        assert_eq!(lines(&r), expected, "{query}");
    }
}

#[actix_web::test]
async fn review_export_cells_and_filters() {
    let app = app().await;
    let (plain, allowed) = people(&app).await;
    let u1 = &allowed[0];
    // RE3 setup: reviews V0, V1 each on its own ticket.
    let t0 = app.ticket(&plain, "first").await;
    let t1 = app.ticket(&plain, "second").await;
    app.sql(&format!(
        "INSERT INTO reviews (ticket_id, rating, link, body, created_at) VALUES \
         ({t0}, 3, NULL, E'good, \"quoted\"\\nnext', '2026-11-22 06:15:31.502509+00'), \
         ({t1}, 0, '@http://x', 'Mulțumesc, Zoë', '2026-11-21 00:00:00+00')"
    ));
    let header = "Ticket,Date,Rating,Link,Comment";
    let v0 = format!(
        "{},2026-11-22 06:15:31.502509,3,,\"good, \"\"quoted\"\"\nnext\"",
        link(t0)
    );
    let v1 = format!(
        "{},2026-11-21 00:00:00,0,'@http://x,\"Mulțumesc, Zoë\"",
        link(t1)
    );

    let r = app
        .get("/api/v3/review-exports?page[number]=3", Some(&u1.token))
        .await;
    assert_csv(&r, "reviews");
    assert!(r.text.starts_with("Ticket,Date,Rating,Link"));
    assert_eq!(r.text, format!("{header}\r\n{v0}\r\n{v1}\r\n"));

    let id: i64 = app.count(&format!("reviews WHERE ticket_id = {t1}"));
    assert_eq!(id, 1);
    let r = app
        .get(
            "/api/v3/review-exports?sort=created_at",
            Some(&allowed[1].token),
        )
        .await;
    assert_eq!(r.text, format!("{header}\r\n{v1}\r\n{v0}\r\n"));
    let r = app
        .get(
            "/api/v3/review-exports?filter[created_at__gte]=2026-11-22T00:00:00",
            Some(&allowed[2].token),
        )
        .await;
    assert_eq!(r.text, format!("{header}\r\n{v0}\r\n"));
}

#[actix_web::test]
async fn links_never_come_from_the_host_header() {
    let app = app().await;
    let (plain, allowed) = people(&app).await;
    let t0 = app.ticket(&plain, "first").await;
    let r = app
        .call(
            Method::GET,
            "/api/v3/ticket-exports",
            Some(&allowed[0].token),
            &[("host", "evil.example.com")],
            None,
        )
        .await;
    assert!(r.text.contains(&link(t0)), "{}", r.text);
    assert!(!r.text.contains("evil"));
}

#[actix_web::test]
async fn a_client_that_goes_away_stops_the_export() {
    use actix_web::body::MessageBody;
    use actix_web::dev::Service;
    use actix_web::test;

    let app = app().await;
    let (plain, allowed) = people(&app).await;
    let _ = app.ticket(&plain, "seed").await;
    app.sql(&format!(
        "INSERT INTO tickets (requester_id, background, created_at, updated_at) \
         SELECT {}, 'bulk ' || g, now(), now() FROM generate_series(1, 50000) g",
        plain.id
    ));
    let service = test::init_service(desk_app::server::app(app.state.clone())).await;
    let req = test::TestRequest::get()
        .uri("/api/v3/ticket-exports")
        .insert_header(("authorization", format!("Bearer {}", allowed[0].token)))
        .to_request();
    let response = service.call(req).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = Box::pin(response.into_body());
    // The first bytes are there before the last row was read.
    let first = futures_util::future::poll_fn(|cx| body.as_mut().poll_next(cx))
        .await
        .unwrap()
        .unwrap_or_else(|_| panic!("body failed"));
    assert!(first.starts_with(b"Link,Email,Date,"));
    drop(body);
    // The producer notices, ends its transaction and gives its connection back.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let pool = app.state.db.pool_state();
        if pool.idle == pool.connections {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "export still holds its connection: {pool:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
