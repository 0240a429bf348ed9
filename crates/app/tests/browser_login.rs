//! Browser login end to end: a real `desk` HTTP server on 127.0.0.1, a real and independent
//! OpenID provider (node `oidc-provider`) started by the test, and an HTTP client that behaves
//! like a browser (keeps cookies, follows redirects one by one so every hop can be checked).

mod common;

use chrono::{DateTime, Duration, Utc};
use desk_app::config::Secret;
use desk_app::http::accounts::{BrowserLoginSettings, WebSettings};
use desk_domain::ports::Clock;
use desk_domain::usecases::sessions::SessionPolicy;
use desk_testkit::db::TestDb;
use desk_testkit::oidc_provider::{Account, ClientRegistration, OidcProvider};
use diesel::prelude::*;
use reqwest::{header, Method, StatusCode};
use serde_json::Value;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

const CLIENT: &str = "research-desk";
const SECRET: &str = "a-client-secret-for-tests-only";

/// A clock the test moves forward.
struct TestClock(Mutex<DateTime<Utc>>);

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }
}

impl TestClock {
    fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }

    /// Back in step with the provider, whose ID tokens carry real times.
    fn reset(&self) {
        *self.0.lock().unwrap() = Utc::now();
    }
}

struct Site {
    db: TestDb,
    provider: OidcProvider,
    base: String,
    clock: Arc<TestClock>,
}

fn accounts() -> Vec<Account> {
    let mut unverified = Account::new("mallory", "victim@example.org", &[]);
    unverified.email_verified = false;
    vec![
        Account::new("alice", "alice@example.org", &["staff"]),
        Account::new("bob", "bob@example.org", &["superuser", "staff"]),
        Account::new("carol", "carol@example.org", &[]),
        unverified,
    ]
}

impl Site {
    async fn start() -> Site {
        Site::start_with(None, SessionPolicy::default()).await
    }

    async fn start_with(id_token_ttl: Option<u64>, session: SessionPolicy) -> Site {
        let db = TestDb::new();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let provider = OidcProvider::start(
            &ClientRegistration {
                client_id: CLIENT.into(),
                client_secret: SECRET.into(),
                app_base: base.clone(),
                id_token_ttl,
            },
            &accounts(),
        );
        let settings = desk_app::config::ServeSettings {
            database_url: db.url.clone(),
            pool_size: 4,
            bind: listener.local_addr().unwrap(),
            issuer: provider.issuer.clone(),
            client_id: CLIENT.into(),
            audience: CLIENT.into(),
            member_centers: vec![],
            expense_scopes: vec![],
            media_root: std::env::temp_dir().join("desk-browser-login-media"),
            max_upload_bytes: 1 << 20,
        };
        let web = WebSettings {
            public_url: Some(url::Url::parse(&base).unwrap()),
            cors_origins: vec!["https://partner.example".into()],
            session,
            browser: Some(BrowserLoginSettings {
                client_secret: Secret(SECRET.into()),
            }),
            ..WebSettings::default()
        };
        let clock = Arc::new(TestClock(Mutex::new(Utc::now())));
        let state =
            desk_app::server::state_with_web(&settings, web, db.db.clone(), clock.clone()).unwrap();
        actix_web::rt::spawn(desk_app::server::run(state, listener));
        Site {
            db,
            provider,
            base,
            clock,
        }
    }

    fn browser(&self) -> Browser {
        Browser {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: self.base.clone(),
        }
    }

    fn sql(&self, statement: &str) {
        let mut conn = PgConnection::establish(&self.db.url).unwrap();
        diesel::sql_query(statement).execute(&mut conn).unwrap();
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
}

struct Reply {
    status: StatusCode,
    location: Option<String>,
    headers: header::HeaderMap,
    text: String,
}

struct Browser {
    http: reqwest::Client,
    base: String,
}

fn form_field<'a>(html: &'a str, name: &str) -> Option<&'a str> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    html[start..].split('"').next()
}

fn form_action(html: &str) -> Option<String> {
    let start = html.find("action=\"")? + "action=\"".len();
    Some(html[start..].split('"').next()?.replace("&amp;", "&"))
}

impl Browser {
    async fn request(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, String)>,
    ) -> Reply {
        let url = if url.starts_with('/') {
            format!("{}{url}", self.base)
        } else {
            url.to_owned()
        };
        let mut request = self.http.request(method, &url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some((content_type, body)) = body {
            request = request.header("content-type", content_type).body(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let location = headers
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap().to_owned())
            .map(|l| url::Url::parse(&url).unwrap().join(&l).unwrap().to_string());
        Reply {
            status,
            location,
            headers,
            text: response.text().await.unwrap(),
        }
    }

    async fn get(&self, url: &str) -> Reply {
        self.request(Method::GET, url, &[], None).await
    }

    /// `GET /accounts/login?next=…`, then through the provider's login (as `account`) and
    /// consent pages, up to — not including — the callback to the app. Returns that URL.
    async fn provider_round(&self, next: &str, account: &str) -> String {
        let start = self
            .get(&format!("/accounts/login?next={}", urlencode(next)))
            .await;
        assert_eq!(start.status, StatusCode::FOUND, "{}", start.text);
        let mut url = start.location.expect("a redirect to the provider");
        assert!(url.contains("code_challenge_method=S256"), "{url}");
        assert!(url.contains("nonce="), "{url}");
        for _ in 0..20 {
            if url.starts_with(&format!("{}/accounts/callback", self.base)) {
                return url;
            }
            let page = self.get(&url).await;
            if let Some(location) = page.location {
                url = location;
                continue;
            }
            assert_eq!(page.status, StatusCode::OK, "{url}: {}", page.text);
            let action = form_action(&page.text).expect("an interaction form");
            let action = url::Url::parse(&url).unwrap().join(&action).unwrap();
            let body = match form_field(&page.text, "prompt") {
                Some("login") => format!("prompt=login&login={account}&password=any"),
                Some("consent") => "prompt=consent".to_owned(),
                other => panic!("unexpected interaction {other:?}: {}", page.text),
            };
            let posted = self
                .request(
                    Method::POST,
                    action.as_str(),
                    &[],
                    Some(("application/x-www-form-urlencoded", body)),
                )
                .await;
            url = posted.location.expect("the interaction redirects");
        }
        panic!("the provider never sent the browser back");
    }

    /// A full login; returns the app's answer to the callback.
    async fn login(&self, next: &str, account: &str) -> Reply {
        let callback = self.provider_round(next, account).await;
        self.get(&callback).await
    }

    async fn me(&self) -> Reply {
        self.request(
            Method::GET,
            "/api/v3/me",
            &[("accept", "application/vnd.api+json")],
            None,
        )
        .await
    }

    async fn post_ticket(&self, headers: &[(&str, &str)]) -> Reply {
        let mut all = vec![("accept", "application/vnd.api+json")];
        all.extend_from_slice(headers);
        self.request(
            Method::POST,
            "/api/v3/tickets",
            &all,
            Some((
                "application/vnd.api+json",
                common::ticket_body("Browser-made ticket").to_string(),
            )),
        )
        .await
    }
}

fn urlencode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn me_json(reply: &Reply) -> Value {
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    serde_json::from_str(&reply.text).unwrap()
}

#[actix_web::test]
async fn login_maps_roles_and_the_session_works_until_logout() {
    let site = Site::start().await;
    let browser = site.browser();
    assert_eq!(browser.me().await.status, StatusCode::UNAUTHORIZED);

    let done = browser.login("/tickets/view/5", "alice").await;
    assert_eq!(done.status, StatusCode::FOUND, "{}", done.text);
    assert_eq!(
        done.location.as_deref(),
        Some(format!("{}/tickets/view/5", site.base).as_str())
    );
    let cookie = done
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|c| c.starts_with("desk_session="))
        .expect("a session cookie")
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "plain http public URL: {cookie}"
    );

    let me = me_json(&browser.me().await);
    assert_eq!(me["data"]["attributes"]["email"], "alice@example.org");
    assert_eq!(me["data"]["attributes"]["is-staff"], true);
    assert_eq!(me["data"]["attributes"]["is-superuser"], false);
    let id = me["data"]["id"].as_str().unwrap().to_owned();

    // Already signed in: login goes straight to `next`.
    let again = browser.get("/accounts/login?next=/tickets").await;
    assert_eq!(again.status, StatusCode::FOUND);
    assert_eq!(
        again.location.as_deref(),
        Some(format!("{}/tickets", site.base).as_str())
    );

    // Another id in the client's logout link ends nothing, and is 302 (W11).
    let other = browser.get("/accounts/logout/99999").await;
    assert_eq!(other.status, StatusCode::FOUND);
    assert_eq!(browser.me().await.status, StatusCode::OK);

    // The client's link (with the double slash of a logoutURL ending in `/`) ends it, through
    // the provider's end-session endpoint with our ID token as hint.
    let out = browser.get(&format!("/accounts/logout//{id}")).await;
    assert_eq!(out.status, StatusCode::FOUND);
    let location = out.location.unwrap();
    assert!(location.starts_with(&site.provider.issuer), "{location}");
    assert!(location.contains("id_token_hint="), "{location}");
    assert_eq!(browser.me().await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(site.sessions(), 0);
}

#[actix_web::test]
async fn superuser_roles_and_post_logout() {
    let site = Site::start().await;
    let browser = site.browser();
    assert_eq!(browser.login("/", "bob").await.status, StatusCode::FOUND);
    let me = me_json(&browser.me().await);
    assert_eq!(me["data"]["attributes"]["is-superuser"], true);

    // Logout is an unsafe cookie request: a foreign origin may not end the session.
    let forged = browser
        .request(
            Method::POST,
            "/accounts/logout",
            &[("origin", "https://evil.example")],
            None,
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert_eq!(browser.me().await.status, StatusCode::OK);

    let base = site.base.clone();
    let out = browser
        .request(
            Method::POST,
            "/accounts/logout?next=//evil.example",
            &[("origin", &base)],
            None,
        )
        .await;
    assert_eq!(out.status, StatusCode::FOUND);
    let location = out.location.unwrap();
    let target = url::Url::parse(&location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "post_logout_redirect_uri")
        .map(|(_, v)| v.into_owned());
    assert_eq!(
        target,
        Some(format!("{base}/")),
        "post-logout redirect is our root, not evil.example: {location}"
    );
    assert_eq!(browser.me().await.status, StatusCode::UNAUTHORIZED);
}

#[actix_web::test]
async fn a_backchannel_logout_from_the_provider_ends_the_session() {
    let site = Site::start().await;
    let browser = site.browser();
    assert_eq!(browser.login("/", "carol").await.status, StatusCode::FOUND);
    assert_eq!(browser.me().await.status, StatusCode::OK);

    // The person signs out at the provider itself; it calls our back-channel endpoint.
    let page = browser
        .get(&format!("{}/session/end", site.provider.issuer))
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let xsrf = form_field(&page.text, "xsrf").expect("the logout confirmation form");
    let action = form_action(&page.text).unwrap();
    let action = url::Url::parse(&site.provider.issuer)
        .unwrap()
        .join(&action)
        .unwrap();
    let confirmed = browser
        .request(
            Method::POST,
            action.as_str(),
            &[],
            Some((
                "application/x-www-form-urlencoded",
                format!("xsrf={xsrf}&logout=yes"),
            )),
        )
        .await;
    assert!(
        confirmed.status.is_redirection() || confirmed.status.is_success(),
        "{}",
        confirmed.text
    );
    for _ in 0..50 {
        if site.sessions() == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(browser.me().await.status, StatusCode::UNAUTHORIZED);

    // Garbage is refused without effect.
    let bad = browser
        .request(
            Method::POST,
            "/accounts/backchannel-logout",
            &[],
            Some((
                "application/x-www-form-urlencoded",
                "logout_token=not.a.token".into(),
            )),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}

#[actix_web::test]
async fn state_is_single_use_and_bound_to_the_browser() {
    let site = Site::start().await;
    let browser = site.browser();
    let callback = browser.provider_round("/", "alice").await;
    // Another browser presenting the callback (login CSRF) is refused…
    let stranger = site.browser().get(&callback).await;
    assert_eq!(stranger.status, StatusCode::BAD_REQUEST);
    assert!(stranger.text.contains("Try again"), "{}", stranger.text);
    // …which does not spend the attempt of the right browser.
    assert_eq!(browser.get(&callback).await.status, StatusCode::FOUND);
    assert_eq!(browser.me().await.status, StatusCode::OK);
    // Replayed state.
    let replay = browser.get(&callback).await;
    assert!(replay.status.is_client_error(), "{}", replay.status);

    // A forged state.
    let forged = site
        .browser()
        .get("/accounts/callback?code=x&state=forged")
        .await;
    assert_eq!(forged.status, StatusCode::BAD_REQUEST);

    // The provider reports a refusal.
    let denied = site
        .browser()
        .get("/accounts/callback?error=access_denied&state=x")
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert!(denied.text.contains("/accounts/login"), "{}", denied.text);
}

#[actix_web::test]
async fn an_expired_login_attempt_and_a_wrong_nonce_are_refused() {
    let site = Site::start().await;
    let browser = site.browser();
    let callback = browser.provider_round("/", "alice").await;
    site.clock.advance(Duration::minutes(11));
    let late = browser.get(&callback).await;
    assert_eq!(late.status, StatusCode::BAD_REQUEST);
    assert!(late.text.contains("expired"), "{}", late.text);

    let site = Site::start().await;
    let browser = site.browser();
    let callback = browser.provider_round("/", "alice").await;
    // The ID token will carry the nonce we sent, not this one.
    site.sql("UPDATE login_attempts SET nonce = 'another-nonce'");
    let wrong = browser.get(&callback).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST, "{}", wrong.text);
    assert_eq!(site.sessions(), 0);
}

#[actix_web::test]
async fn an_expired_id_token_is_refused() {
    // ID tokens live 60 s; our clock is 2 minutes ahead of the provider's by the callback,
    // while the login attempt (10 minutes) is still valid.
    let site = Site::start_with(Some(60), SessionPolicy::default()).await;
    let browser = site.browser();
    let callback = browser.provider_round("/", "alice").await;
    site.clock.advance(Duration::minutes(2));
    let reply = browser.get(&callback).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.text);
    assert_eq!(site.sessions(), 0);
}

#[actix_web::test]
async fn unverified_colliding_email_and_inactive_profiles_are_refused() {
    let site = Site::start().await;
    site.sql(
        "INSERT INTO profiles (email, first_name, last_name, is_active) VALUES ('victim@example.org', 'V', 'Ictim', true)",
    );
    let refused = site.browser().login("/", "mallory").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.text.contains("not verified"), "{}", refused.text);

    let browser = site.browser();
    assert_eq!(browser.login("/", "carol").await.status, StatusCode::FOUND);
    assert_eq!(browser.me().await.status, StatusCode::OK);
    site.sql("UPDATE profiles SET is_active = false WHERE email = 'carol@example.org'");
    // The session of a deactivated profile authenticates nobody…
    assert_eq!(browser.me().await.status, StatusCode::UNAUTHORIZED);
    // …and a new login is refused with a clear page.
    let again = site.browser().login("/", "carol").await;
    assert_eq!(again.status, StatusCode::FORBIDDEN);
    assert!(again.text.contains("deactivated"), "{}", again.text);
}

#[actix_web::test]
async fn next_never_leaves_the_site() {
    let site = Site::start().await;
    for evil in ["//evil.example", "https://evil.example", "/\\evil.example"] {
        let browser = site.browser();
        let reply = browser.login(evil, "alice").await;
        assert_eq!(reply.status, StatusCode::FOUND);
        assert_eq!(
            reply.location.as_deref(),
            Some(format!("{}/", site.base).as_str()),
            "{evil}"
        );
        // Signed in, the immediate redirect obeys the same rule.
        let again = browser
            .get(&format!("/accounts/login?next={}", urlencode(evil)))
            .await;
        assert_eq!(
            again.location.as_deref(),
            Some(format!("{}/", site.base).as_str()),
            "{evil}"
        );
    }
}

#[actix_web::test]
async fn cookie_writes_need_one_of_our_origins() {
    let site = Site::start().await;
    let browser = site.browser();
    assert_eq!(browser.login("/", "alice").await.status, StatusCode::FOUND);

    let cross = browser
        .post_ticket(&[("origin", "https://evil.example")])
        .await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN, "{}", cross.text);
    assert!(
        cross.text.contains("\"errors\""),
        "JSON:API error: {}",
        cross.text
    );
    let none = browser.post_ticket(&[]).await;
    assert_eq!(none.status, StatusCode::FORBIDDEN);
    let fetch_cross = browser
        .post_ticket(&[("sec-fetch-site", "cross-site")])
        .await;
    assert_eq!(fetch_cross.status, StatusCode::FORBIDDEN);

    let base = site.base.clone();
    let same = browser.post_ticket(&[("origin", &base)]).await;
    assert_eq!(same.status, StatusCode::CREATED, "{}", same.text);
    let fetch_same = browser
        .post_ticket(&[("sec-fetch-site", "same-origin")])
        .await;
    assert_eq!(
        fetch_same.status,
        StatusCode::CREATED,
        "{}",
        fetch_same.text
    );
    let partner = browser
        .post_ticket(&[("origin", "https://partner.example")])
        .await;
    assert_eq!(partner.status, StatusCode::CREATED, "{}", partner.text);
    assert_eq!(
        partner.headers.get("access-control-allow-origin").unwrap(),
        "https://partner.example"
    );

    // CORS preflight: answered for the allow-list only.
    let preflight = |origin: &'static str| {
        let browser = &browser;
        async move {
            browser
                .request(
                    Method::OPTIONS,
                    "/api/v3/tickets",
                    &[
                        ("origin", origin),
                        ("access-control-request-method", "POST"),
                    ],
                    None,
                )
                .await
        }
    };
    let ok = preflight("https://partner.example").await;
    assert_eq!(
        ok.headers.get("access-control-allow-origin").unwrap(),
        "https://partner.example"
    );
    assert_eq!(
        ok.headers.get("access-control-allow-credentials").unwrap(),
        "true"
    );
    assert!(ok
        .headers
        .get_all("vary")
        .iter()
        .any(|v| v.to_str().unwrap().contains("Origin")));
    let unknown = preflight("https://evil.example").await;
    assert!(unknown.headers.get("access-control-allow-origin").is_none());
    assert!(unknown
        .headers
        .get("access-control-allow-credentials")
        .is_none());
}

#[actix_web::test]
async fn bearer_writes_are_exempt_from_the_origin_check() {
    let app = common::TestApp::new().await;
    let user = app.user("Bearer", &[]).await;
    let reply = app
        .call(
            actix_web::http::Method::POST,
            "/api/v3/tickets",
            Some(&user.token),
            &[
                ("content-type", common::JSONAPI),
                ("origin", "https://evil.example"),
            ],
            Some(
                common::ticket_body("From a script")
                    .to_string()
                    .into_bytes(),
            ),
        )
        .await;
    assert_eq!(
        reply.status,
        actix_web::http::StatusCode::CREATED,
        "{}",
        reply.text
    );
}

#[actix_web::test]
async fn sessions_end_after_idle_time_and_at_their_absolute_limit() {
    let policy = SessionPolicy {
        idle: Duration::hours(1),
        max: Duration::hours(3),
    };
    let site = Site::start_with(None, policy).await;
    let browser = site.browser();
    assert_eq!(browser.login("/", "alice").await.status, StatusCode::FOUND);
    site.clock.advance(Duration::minutes(59));
    assert_eq!(
        browser.me().await.status,
        StatusCode::OK,
        "used within the idle time"
    );
    site.clock.advance(Duration::minutes(61));
    assert_eq!(
        browser.me().await.status,
        StatusCode::UNAUTHORIZED,
        "idle too long"
    );
    assert_eq!(site.sessions(), 0, "an expired session is deleted");

    // Busy all along, still ends at the absolute limit.
    site.clock.reset();
    assert_eq!(browser.login("/", "alice").await.status, StatusCode::FOUND);
    for _ in 0..3 {
        site.clock.advance(Duration::minutes(50));
        assert_eq!(browser.me().await.status, StatusCode::OK);
    }
    site.clock.advance(Duration::minutes(31));
    assert_eq!(
        browser.me().await.status,
        StatusCode::UNAUTHORIZED,
        "past the absolute limit"
    );
}
