//! Harness of the HTTP tests: a fresh database, a real OpenID issuer on 127.0.0.1, and the
//! full application (every middleware) in process.

#![allow(dead_code)]

use actix_web::body::to_bytes;
use actix_web::dev::Service;
use actix_web::http::{header, Method, StatusCode};
use actix_web::test;
use desk_app::config::ServeSettings;
use desk_testkit::db::TestDb;
use desk_testkit::issuer::TestIssuer;
use diesel::prelude::*;
use serde_json::{json, Value};

pub const CLIENT_ID: &str = "research-desk";
pub const JSONAPI: &str = "application/vnd.api+json";
/// The upload limit of the test application (bytes).
pub const UPLOAD_LIMIT: u64 = 64 * 1024;

/// A person with a valid bearer token (roles are in the token, re-read on every request).
#[derive(Clone, Debug)]
pub struct User {
    pub id: i32,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub token: String,
}

pub struct Response {
    pub status: StatusCode,
    pub headers: header::HeaderMap,
    pub text: String,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    }
}

pub struct TestApp {
    pub db: TestDb,
    pub issuer: TestIssuer,
    pub state: actix_web::web::Data<desk_app::http::AppState>,
    /// This test's media root.
    pub media: std::path::PathBuf,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.media);
    }
}

impl TestApp {
    pub async fn new() -> TestApp {
        let db = TestDb::new();
        let issuer = TestIssuer::start_for_client(CLIENT_ID).await;
        // A private media root per test (uploads land here).
        let media = std::env::temp_dir().join(format!("desk-test-media-{}", rand::random::<u64>()));
        let settings = ServeSettings {
            database_url: db.url.clone(),
            pool_size: 4,
            bind: "127.0.0.1:0".parse().unwrap(),
            issuer: issuer.url().to_string(),
            client_id: CLIENT_ID.into(),
            audience: CLIENT_ID.into(),
            member_centers: vec!["RISE".into(), "OCCRP".into()],
            expense_scopes: vec!["orbis.com".into(), "domaintools.com".into()],
            media_root: media.clone(),
            max_upload_bytes: UPLOAD_LIMIT,
        };
        let state =
            desk_app::server::state(&settings, db.db.clone(), desk_app::server::system_clock())
                .unwrap();
        TestApp {
            db,
            issuer,
            state,
            media,
        }
    }

    /// A token for `email` with these roles (`staff`, `superuser`).
    pub fn token(&self, email: &str, first: &str, last: &str, roles: &[&str]) -> String {
        let mut spec = self.issuer.spec(email);
        spec.email = Some(email.to_string());
        spec.email_verified = true;
        spec.given_name = Some(first.to_string());
        spec.family_name = Some(last.to_string());
        spec.roles = roles.iter().map(|r| r.to_string()).collect();
        self.issuer.mint(&spec)
    }

    /// Creates (through a first authenticated request) a profile with these roles.
    pub async fn user(&self, name: &str, roles: &[&str]) -> User {
        let email = format!(
            "{}.{}@example.org",
            name.to_lowercase(),
            rand::random::<u32>()
        );
        let (first, last) = (name.to_string(), "Tester".to_string());
        let token = self.token(&email, &first, &last, roles);
        let me = self.get("/api/v3/me", Some(&token)).await;
        assert_eq!(me.status, StatusCode::OK, "{}", me.text);
        let id = me.json()["data"]["id"].as_str().unwrap().parse().unwrap();
        User {
            id,
            email,
            first_name: first,
            last_name: last,
            token,
        }
    }

    /// Signs in (first request) a person with this exact, verified e-mail and no roles.
    pub async fn user_with_email(&self, email: &str) -> User {
        let token = self.token(email, "New", "Comer", &[]);
        let me = self.get("/api/v3/me", Some(&token)).await;
        assert_eq!(me.status, StatusCode::OK, "{}", me.text);
        let id = me.json()["data"]["id"].as_str().unwrap().parse().unwrap();
        User {
            id,
            email: email.to_string(),
            first_name: "New".into(),
            last_name: "Comer".into(),
            token,
        }
    }

    /// The same person with other roles (the provider changed them).
    pub fn with_roles(&self, user: &User, roles: &[&str]) -> User {
        User {
            token: self.token(&user.email, &user.first_name, &user.last_name, roles),
            ..user.clone()
        }
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Response {
        let app = test::init_service(desk_app::server::app(self.state.clone())).await;
        let mut req = test::TestRequest::default().method(method).uri(path);
        if let Some(token) = token {
            req = req.insert_header((header::AUTHORIZATION, format!("Bearer {token}")));
        }
        for (name, value) in headers {
            req = req.insert_header((*name, *value));
        }
        if let Some(body) = body {
            req = req.set_payload(body);
        }
        let response = app.call(req.to_request()).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = to_bytes(response.into_body()).await.unwrap_or_default();
        Response {
            status,
            headers,
            text: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        self.call(Method::GET, path, token, &[], None).await
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> Response {
        self.call(
            method,
            path,
            token,
            &[("content-type", JSONAPI)],
            Some(body.to_string().into_bytes()),
        )
        .await
    }

    /// Direct SQL for fixtures the API of this issue cannot create yet (responders, subscribers).
    pub fn sql(&self, statement: &str) {
        let mut conn = PgConnection::establish(&self.db.url).unwrap();
        diesel::sql_query(statement)
            .execute(&mut conn)
            .unwrap_or_else(|e| panic!("{statement}: {e}"));
    }

    pub fn count(&self, table_and_where: &str) -> i64 {
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = PgConnection::establish(&self.db.url).unwrap();
        diesel::sql_query(format!("SELECT count(*) AS n FROM {table_and_where}"))
            .get_result::<Count>(&mut conn)
            .unwrap()
            .n
    }

    /// Creates a ticket through the API as `user` and returns its id.
    pub async fn ticket(&self, user: &User, background: &str) -> i32 {
        let r = self
            .send(
                Method::POST,
                "/api/v3/tickets",
                Some(&user.token),
                ticket_body(background),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        r.json()["data"]["id"].as_str().unwrap().parse().unwrap()
    }

    pub fn add_responder(&self, ticket: i32, user: &User) {
        self.sql(&format!(
            "INSERT INTO responders (ticket_id, user_id, created_at) VALUES ({ticket}, {}, now())",
            user.id
        ));
    }

    pub fn add_subscriber(&self, ticket: i32, user: &User) {
        self.sql(&format!(
            "INSERT INTO subscribers (ticket_id, user_id, created_at) VALUES ({ticket}, {}, now())",
            user.id
        ));
    }
}

/// A create payload as the SPA sends it.
pub fn ticket_body(background: &str) -> Value {
    json!({"data": {"type": "tickets", "attributes": {
        "kind": "company_ownership", "status": "new", "priority": "default", "created-at": null, "updated-at": null,
        "deadline-at": null, "reopen-reason": null, "pending-reason": null, "background": background,
        "sensitive": false, "whysensitive": null, "member-center": "OCCRP", "identifier": null, "countries": ["RO", "MD"],
        "first-name": null, "last-name": null, "initial-information": null, "born-at": null, "business-activities": null,
        "company-name": "Acme Corp", "country": "RO", "sources": "Some sources", "connections": null
    }}})
}

/// The "copied payload" of a ticket: its whole representation sent back, with overrides.
pub fn copied(ticket: &Value, overrides: Value) -> Value {
    let mut data = ticket["data"].clone();
    data.as_object_mut().unwrap().remove("relationships");
    for (k, v) in overrides.as_object().unwrap() {
        data["attributes"][k] = v.clone();
    }
    json!({ "data": data })
}
