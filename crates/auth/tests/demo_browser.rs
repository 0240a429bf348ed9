//! The demo provider's browser side (authorization page, codes, token endpoint) served over
//! HTTP on 127.0.0.1, driven by hand and by the relying-party code of `desk_auth::browser`;
//! and the back-channel logout token rules of that relying party.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use desk_auth::browser::{
    http_client, BrowserClient, BrowserError, BrowserSettings, BACKCHANNEL_LOGOUT_EVENT,
};
use desk_auth::local_issuer::{BrowserLogin, DemoPerson};
use desk_auth::{LocalIssuer, RunningIssuer};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const CLIENT: &str = "research-desk-demo";
const SECRET: &str = "demo-secret-for-tests";
const REDIRECT: &str = "http://127.0.0.1:9/accounts/callback";

fn people() -> Vec<DemoPerson> {
    vec![
        DemoPerson {
            subject: "ada@example.org".into(),
            email: "ada@example.org".into(),
            given_name: "Ada".into(),
            family_name: "<b>Lovelace</b>".into(),
            roles: vec!["superuser".into(), "staff".into()],
        },
        DemoPerson {
            subject: "joe@example.org".into(),
            email: "joe@example.org".into(),
            given_name: "Joe".into(),
            family_name: "Public".into(),
            roles: vec![],
        },
    ]
}

struct Demo {
    running: RunningIssuer,
    http: reqwest::Client,
}

/// A PKCE verifier and its S256 challenge.
fn pkce() -> (String, String) {
    let verifier = format!("{}-verifier-{}", "v".repeat(40), rand::random::<u32>());
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// The hidden fields of the person-picker form.
fn hidden_fields(html: &str) -> Vec<(String, String)> {
    html.split("<input type=\"hidden\" name=\"")
        .skip(1)
        .map(|rest| {
            let (name, rest) = rest.split_once('"').unwrap();
            let value = rest.split("value=\"").nth(1).unwrap().split('"').next();
            (unescape(name), unescape(value.unwrap()))
        })
        .collect()
}

impl Demo {
    async fn start(code_ttl: Duration) -> Demo {
        let issuer = LocalIssuer::new();
        let mut login = BrowserLogin::new(CLIENT, SECRET, vec![REDIRECT.to_owned()], people());
        login.code_ttl = code_ttl;
        issuer.enable_browser_login(login);
        let running = issuer
            .serve_realm("127.0.0.1:0".parse().unwrap(), "demo")
            .await
            .unwrap();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Demo { running, http }
    }

    fn endpoint(&self, name: &str) -> String {
        format!("{}/protocol/openid-connect/{name}", self.running.url)
    }

    fn client(&self) -> BrowserClient {
        BrowserClient::new(
            BrowserSettings {
                issuer: self.running.url.clone(),
                client_id: CLIENT.into(),
                client_secret: SECRET.into(),
                redirect_url: REDIRECT.into(),
            },
            http_client().unwrap(),
        )
    }

    fn auth_url(&self, challenge: &str, redirect: &str) -> String {
        let mut url = url::Url::parse(&self.endpoint("auth")).unwrap();
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", CLIENT)
            .append_pair("redirect_uri", redirect)
            .append_pair("scope", "openid email profile")
            .append_pair("state", "the-state")
            .append_pair("nonce", "the-nonce")
            .append_pair("code_challenge", challenge)
            .append_pair("code_challenge_method", "S256");
        url.to_string()
    }

    /// Opens the page at `auth_url`, picks `subject`, returns the redirect's URL.
    async fn pick(&self, auth_url: &str, subject: &str) -> url::Url {
        let page = self.http.get(auth_url).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        let mut form = hidden_fields(&html);
        form.push(("person".into(), subject.into()));
        let chosen = self
            .http
            .post(self.endpoint("auth"))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(chosen.status(), StatusCode::FOUND);
        let location = chosen.headers()["location"].to_str().unwrap();
        url::Url::parse(location).unwrap()
    }

    async fn code(&self, challenge: &str) -> String {
        let back = self
            .pick(&self.auth_url(challenge, REDIRECT), "ada@example.org")
            .await;
        assert!(back.as_str().starts_with(REDIRECT), "{back}");
        let query: Vec<(String, String)> = back.query_pairs().into_owned().collect();
        assert!(
            query.contains(&("state".into(), "the-state".into())),
            "{back}"
        );
        query.into_iter().find(|(k, _)| k == "code").unwrap().1
    }

    /// A token request with `client_secret_post`.
    async fn exchange(&self, pairs: &[(&str, &str)]) -> (StatusCode, Value) {
        let response = self
            .http
            .post(self.endpoint("token"))
            .form(pairs)
            .send()
            .await
            .unwrap();
        (response.status(), response.json().await.unwrap())
    }

    async fn redeem(&self, code: &str, verifier: &str) -> (StatusCode, Value) {
        self.exchange(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
            ("client_id", CLIENT),
            ("client_secret", SECRET),
        ])
        .await
    }
}

fn payload(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[tokio::test]
async fn the_relying_party_signs_in_a_picked_person() {
    let demo = Demo::start(Duration::from_secs(60)).await;
    let client = demo.client();
    let start = client.start().await.unwrap();
    let page = demo.http.get(start.url.as_str()).send().await.unwrap();
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let html = page.text().await.unwrap();
    assert!(
        html.contains("&lt;b&gt;Lovelace&lt;/b&gt;"),
        "escaped: {html}"
    );
    assert!(!html.contains("<b>Lovelace"), "{html}");
    assert!(html.contains("superuser, staff") && html.contains("joe@example.org"));

    let back = demo.pick(start.url.as_str(), "ada@example.org").await;
    let code = back
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let identity = client
        .finish(&code, &start.pkce_verifier, &start.nonce)
        .await
        .unwrap();
    assert_eq!(identity.claims.subject, "ada@example.org");
    assert_eq!(identity.claims.email.as_deref(), Some("ada@example.org"));
    assert!(identity.claims.email_verified);
    assert!(identity.claims.is_superuser && identity.claims.is_staff);
    assert_eq!(identity.claims.issuer, demo.running.url);

    // The ID token is shaped as the brief of the demo says.
    let claims = payload(&identity.id_token);
    assert_eq!(claims["aud"], CLIENT);
    assert_eq!(claims["nonce"], start.nonce.as_str());
    assert_eq!(claims["family_name"], "<b>Lovelace</b>");

    // The end-session endpoint sends the browser back to the client's origin only.
    let logout = client
        .end_session_url(Some(&identity.id_token), "http://127.0.0.1:9/")
        .await
        .unwrap();
    let out = demo.http.get(logout).send().await.unwrap();
    assert_eq!(out.status(), StatusCode::FOUND);
    assert_eq!(out.headers()["location"], "http://127.0.0.1:9/");
    let elsewhere = format!(
        "{}?post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F",
        demo.endpoint("logout")
    );
    let out = demo.http.get(elsewhere).send().await.unwrap();
    assert_eq!(out.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_token_endpoint_answers_the_documented_shape() {
    let demo = Demo::start(Duration::from_secs(60)).await;
    let (verifier, challenge) = pkce();
    let code = demo.code(&challenge).await;
    // client_secret_basic this time.
    let response = demo
        .http
        .post(demo.endpoint("token"))
        .basic_auth(CLIENT, Some(SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 300);
    let access = payload(body["access_token"].as_str().unwrap());
    assert_eq!(access["sub"], "ada@example.org");
    assert_eq!(
        access["resource_access"][CLIENT]["roles"],
        json!(["superuser", "staff"])
    );
    let id = payload(body["id_token"].as_str().unwrap());
    for claim in [
        "iss",
        "sub",
        "email",
        "given_name",
        "family_name",
        "exp",
        "iat",
    ] {
        assert!(id.get(claim).is_some(), "{claim} in {id}");
    }
    assert_eq!(id["email_verified"], true);
    assert_eq!(id["nonce"], "the-nonce");
}

#[tokio::test]
async fn pkce_mismatch_and_reuse_are_invalid_grant() {
    let demo = Demo::start(Duration::from_secs(60)).await;
    let (verifier, challenge) = pkce();

    let code = demo.code(&challenge).await;
    let (other, _) = pkce();
    let (status, body) = demo.redeem(&code, &other).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    // A failed attempt spends the code.
    let (status, body) = demo.redeem(&code, &verifier).await;
    assert_eq!(
        (status, body["error"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalid_grant"))
    );
    // No verifier at all.
    let code = demo.code(&challenge).await;
    let (status, body) = demo
        .exchange(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("client_id", CLIENT),
            ("client_secret", SECRET),
        ])
        .await;
    assert_eq!(
        (status, body["error"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalid_grant"))
    );

    let code = demo.code(&challenge).await;
    let (status, _) = demo.redeem(&code, &verifier).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = demo.redeem(&code, &verifier).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant", "a code works once");
}

#[tokio::test]
async fn redirect_uri_client_secret_and_expiry_are_enforced() {
    let demo = Demo::start(Duration::from_secs(60)).await;
    let (verifier, challenge) = pkce();

    // An unregistered redirect URI gets a page, never a redirect.
    let stranger = demo
        .http
        .get(demo.auth_url(&challenge, "https://evil.example/cb"))
        .send()
        .await
        .unwrap();
    assert_eq!(stranger.status(), StatusCode::BAD_REQUEST);
    assert!(stranger.headers().get("location").is_none());
    let prefixed = demo
        .http
        .get(demo.auth_url(&challenge, &format!("{REDIRECT}/../x")))
        .send()
        .await
        .unwrap();
    assert_eq!(prefixed.status(), StatusCode::BAD_REQUEST);

    // Without PKCE the request goes back to the client with an OAuth2 error.
    let no_pkce = demo
        .http
        .get(
            demo.auth_url("", REDIRECT)
                .replace("code_challenge_method=S256", ""),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(no_pkce.status(), StatusCode::FOUND);
    let location = no_pkce.headers()["location"].to_str().unwrap();
    assert!(
        location.starts_with(REDIRECT) && location.contains("error=invalid_request"),
        "{location}"
    );

    // The redirect URI of the exchange must be the one of the request.
    let code = demo.code(&challenge).await;
    let (status, body) = demo
        .exchange(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:9/elsewhere"),
            ("code_verifier", &verifier),
            ("client_id", CLIENT),
            ("client_secret", SECRET),
        ])
        .await;
    assert_eq!(
        (status, body["error"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalid_grant"))
    );

    // A wrong secret, by either method, is invalid_client and leaves the code usable.
    let code = demo.code(&challenge).await;
    let (status, body) = demo
        .exchange(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
            ("client_id", CLIENT),
            ("client_secret", "guess"),
        ])
        .await;
    assert_eq!(
        (status, body["error"].clone()),
        (StatusCode::UNAUTHORIZED, json!("invalid_client"))
    );
    let basic = demo
        .http
        .post(demo.endpoint("token"))
        .basic_auth(CLIENT, Some("guess"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(demo.redeem(&code, &verifier).await.0, StatusCode::OK);

    // Codes expire.
    let demo = Demo::start(Duration::ZERO).await;
    let code = demo.code(&challenge).await;
    let (status, body) = demo.redeem(&code, &verifier).await;
    assert_eq!(
        (status, body["error"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalid_grant"))
    );
    assert!(body["error_description"]
        .as_str()
        .unwrap()
        .contains("expired"));
}

#[tokio::test]
async fn without_registration_the_browser_side_does_not_exist() {
    let running = LocalIssuer::new()
        .serve_realm("127.0.0.1:0".parse().unwrap(), "demo")
        .await
        .unwrap();
    let http = reqwest::Client::new();
    for (method, name) in [("GET", "auth"), ("POST", "token"), ("GET", "logout")] {
        let url = format!("{}/protocol/openid-connect/{name}", running.url);
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let status = http.request(method, url).send().await.unwrap().status();
        assert_eq!(status, StatusCode::NOT_FOUND, "{name}");
    }
}

#[tokio::test]
async fn id_tokens_for_another_audience_or_expired_are_refused() {
    let demo = Demo::start(Duration::from_secs(60)).await;
    let client = demo.client();
    for bad in ["audience", "expired"] {
        match bad {
            "audience" => demo
                .running
                .issuer()
                .set_id_token_audience_override(Some("someone-else")),
            _ => {
                demo.running.issuer().set_id_token_audience_override(None);
                demo.running.issuer().set_id_token_expired(true);
            }
        }
        let start = client.start().await.unwrap();
        let back = demo.pick(start.url.as_str(), "joe@example.org").await;
        let code = back.query_pairs().find(|(k, _)| k == "code").unwrap().1;
        let refused = client
            .finish(&code, &start.pkce_verifier, &start.nonce)
            .await
            .expect_err(bad);
        assert!(
            matches!(refused, BrowserError::IdToken(_)),
            "{bad}: {refused:?}"
        );
    }
}

fn logout_claims(issuer_url: &str) -> Value {
    json!({
        "iss": issuer_url,
        "aud": CLIENT,
        "iat": chrono::Utc::now().timestamp(),
        "jti": "logout-1",
        "sid": "session-1",
        "events": { BACKCHANNEL_LOGOUT_EVENT: {} },
    })
}

#[tokio::test]
async fn logout_tokens_may_be_untyped_logout_typed_or_jwt_typed() {
    let demo = Demo::start(Duration::from_secs(60)).await;
    let client = demo.client();
    let issuer = demo.running.issuer();
    let claims = logout_claims(&demo.running.url);
    for typ in [
        None,
        Some("logout+jwt"),
        Some("JWT"),
        Some("application/logout+jwt"),
    ] {
        let token = issuer.sign_with_typ(&claims, typ);
        let target = client
            .verify_logout_token(&token)
            .await
            .unwrap_or_else(|e| panic!("typ {typ:?}: {e}"));
        assert_eq!(target.sid.as_deref(), Some("session-1"));
    }

    // Another explicit type is another kind of token.
    let token = issuer.sign_with_typ(&claims, Some("at+jwt"));
    assert!(client.verify_logout_token(&token).await.is_err());

    // An ID token (typ JWT, a nonce, no event) is not a logout token.
    let mut id_token = claims.clone();
    id_token.as_object_mut().unwrap().remove("events");
    id_token["nonce"] = json!("n");
    id_token["exp"] = json!(chrono::Utc::now().timestamp() + 300);
    let refused = client
        .verify_logout_token(&issuer.sign(&id_token))
        .await
        .expect_err("an ID token");
    assert!(matches!(refused, BrowserError::LogoutToken(_)));
    id_token.as_object_mut().unwrap().remove("nonce");
    let refused = client
        .verify_logout_token(&issuer.sign(&id_token))
        .await
        .expect_err("no back-channel event");
    assert!(refused.to_string().contains("event"), "{refused}");
}
