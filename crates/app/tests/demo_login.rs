//! Browser login against the demo identity provider (`desk demo`'s `LocalIssuer` with its
//! browser side): a real `desk` HTTP server on 127.0.0.1 and a client that behaves like a
//! browser (keeps cookies, follows each redirect by hand so every hop is checked).

use desk_app::config::Secret;
use desk_app::http::accounts::{BrowserLoginSettings, WebSettings, CALLBACK_PATH};
use desk_auth::local_issuer::{BrowserLogin, DemoPerson};
use desk_auth::{LocalIssuer, RunningIssuer};
use desk_testkit::db::TestDb;
use diesel::prelude::*;
use reqwest::{header, StatusCode};
use serde_json::Value;
use std::net::TcpListener;

const CLIENT: &str = "research-desk-demo";
const SECRET: &str = "a-demo-secret-made-at-start";

struct Site {
    db: TestDb,
    provider: RunningIssuer,
    base: String,
    http: reqwest::Client,
}

fn people() -> Vec<DemoPerson> {
    let person = |email: &str, given: &str, family: &str, roles: &[&str]| DemoPerson {
        subject: email.into(),
        email: email.into(),
        given_name: given.into(),
        family_name: family.into(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
    };
    vec![
        person("sam@example.org", "Sam", "Super", &["superuser", "staff"]),
        person("rita@example.org", "Rita", "Researcher", &["staff"]),
        person("jo@example.org", "Jo", "Journalist", &[]),
    ]
}

/// The parts of the picker form: every hidden field plus the chosen `person`.
fn picker_form(html: &str, subject: &str) -> Vec<(String, String)> {
    let unescape = |s: &str| s.replace("&quot;", "\"").replace("&amp;", "&");
    let mut form: Vec<(String, String)> = html
        .split("<input type=\"hidden\" name=\"")
        .skip(1)
        .map(|rest| {
            let (name, rest) = rest.split_once('"').unwrap();
            let value = rest.split("value=\"").nth(1).unwrap().split('"').next();
            (unescape(name), unescape(value.unwrap()))
        })
        .collect();
    assert!(
        html.contains(&format!("name=\"person\" value=\"{subject}\"")),
        "{subject} is offered: {html}"
    );
    form.push(("person".into(), subject.into()));
    form
}

impl Site {
    async fn start() -> Site {
        let db = TestDb::new();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let issuer = LocalIssuer::new();
        issuer.enable_browser_login(BrowserLogin::new(
            CLIENT,
            SECRET,
            vec![format!("{base}{CALLBACK_PATH}")],
            people(),
        ));
        let provider = issuer
            .serve_realm("127.0.0.1:0".parse().unwrap(), "demo")
            .await
            .unwrap();
        let settings = desk_app::config::ServeSettings {
            database_url: db.url.clone(),
            pool_size: 4,
            bind: listener.local_addr().unwrap(),
            issuer: provider.url.clone(),
            client_id: CLIENT.into(),
            audience: CLIENT.into(),
            member_centers: vec![],
            expense_scopes: vec![],
            media_root: std::env::temp_dir().join("desk-demo-login-media"),
            max_upload_bytes: 1 << 20,
        };
        let web = WebSettings {
            public_url: Some(url::Url::parse(&base).unwrap()),
            browser: Some(BrowserLoginSettings {
                client_secret: Secret(SECRET.into()),
            }),
            ..WebSettings::default()
        };
        let state = desk_app::server::state_with_web(
            &settings,
            web,
            db.db.clone(),
            desk_app::server::system_clock(),
        )
        .unwrap();
        actix_web::rt::spawn(desk_app::server::run(state, listener));
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Site {
            db,
            provider,
            base,
            http,
        }
    }

    fn sessions(&self) -> i64 {
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = PgConnection::establish(&self.db.url).unwrap();
        diesel::sql_query("SELECT count(*) AS n FROM sessions")
            .get_result::<Count>(&mut conn)
            .unwrap()
            .n
    }

    fn location(response: &reqwest::Response) -> String {
        let base = response.url().clone();
        let raw = response.headers()[header::LOCATION].to_str().unwrap();
        base.join(raw).unwrap().to_string()
    }

    /// `/accounts/login` → the provider's page → the choice of `subject` → the callback.
    /// Returns the app's answer to the callback.
    async fn login_as(&self, subject: &str) -> reqwest::Response {
        let start = self
            .http
            .get(format!("{}/accounts/login?next=/api/v3/me", self.base))
            .send()
            .await
            .unwrap();
        assert_eq!(start.status(), StatusCode::FOUND);
        let to_provider = Site::location(&start);
        assert!(to_provider.starts_with(&self.provider.url), "{to_provider}");
        assert!(to_provider.contains("code_challenge_method=S256"));

        let page = self.http.get(&to_provider).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let action = page.url().clone();
        let html = page.text().await.unwrap();
        let chosen = self
            .http
            .post(action.join("auth").unwrap())
            .form(&picker_form(&html, subject))
            .send()
            .await
            .unwrap();
        assert_eq!(chosen.status(), StatusCode::FOUND);
        let callback = Site::location(&chosen);
        assert!(
            callback.starts_with(&format!("{}{CALLBACK_PATH}?", self.base)),
            "{callback}"
        );
        self.http.get(&callback).send().await.unwrap()
    }

    async fn me(&self) -> (StatusCode, Value) {
        let reply = self
            .http
            .get(format!("{}/api/v3/me", self.base))
            .header("accept", "application/vnd.api+json")
            .send()
            .await
            .unwrap();
        let status = reply.status();
        let text = reply.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }
}

#[actix_web::test]
async fn a_person_picked_at_the_demo_provider_gets_a_session() {
    let site = Site::start().await;
    assert_eq!(site.me().await.0, StatusCode::UNAUTHORIZED);

    let done = site.login_as("rita@example.org").await;
    assert_eq!(done.status(), StatusCode::FOUND);
    assert_eq!(Site::location(&done), format!("{}/api/v3/me", site.base));
    let (status, me) = site.me().await;
    assert_eq!(status, StatusCode::OK, "{me}");
    let attributes = &me["data"]["attributes"];
    assert_eq!(attributes["email"], "rita@example.org");
    assert_eq!(attributes["first-name"], "Rita");
    assert_eq!(attributes["is-staff"], true);
    assert_eq!(attributes["is-superuser"], false);
    assert_eq!(site.sessions(), 1);

    // Logging out passes by the provider's end-session endpoint and comes back here.
    let id = me["data"]["id"].as_str().unwrap().to_owned();
    let out = site
        .http
        .get(format!("{}/accounts/logout/{id}", site.base))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::FOUND);
    let via = site.http.get(Site::location(&out)).send().await.unwrap();
    assert_eq!(via.status(), StatusCode::FOUND);
    assert_eq!(Site::location(&via), format!("{}/", site.base));
    assert_eq!(site.me().await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(site.sessions(), 0);

    // The next person in the same browser, with the roles the provider gives them.
    assert_eq!(
        site.login_as("sam@example.org").await.status(),
        StatusCode::FOUND
    );
    let (_, me) = site.me().await;
    assert_eq!(me["data"]["attributes"]["email"], "sam@example.org");
    assert_eq!(me["data"]["attributes"]["is-superuser"], true);
    assert_eq!(me["data"]["attributes"]["is-staff"], true);
}

#[actix_web::test]
async fn id_tokens_for_another_audience_or_expired_end_on_the_error_page() {
    let site = Site::start().await;
    let issuer = site.provider.issuer();

    issuer.set_id_token_audience_override(Some("someone-else"));
    let refused = site.login_as("jo@example.org").await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    let page = refused.text().await.unwrap();
    assert!(page.contains("could not be verified"), "{page}");
    assert!(page.contains("Try again"), "{page}");
    assert_eq!(site.sessions(), 0);
    assert_eq!(site.me().await.0, StatusCode::UNAUTHORIZED);

    issuer.set_id_token_audience_override(None);
    issuer.set_id_token_expired(true);
    let refused = site.login_as("jo@example.org").await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert_eq!(site.sessions(), 0);

    // With honest tokens again the same person gets in.
    issuer.set_id_token_expired(false);
    assert_eq!(
        site.login_as("jo@example.org").await.status(),
        StatusCode::FOUND
    );
    assert_eq!(site.me().await.0, StatusCode::OK);
}
