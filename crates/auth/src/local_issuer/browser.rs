//! The browser side of the demo identity provider: an authorization endpoint with a page to
//! pick a demo person, a token endpoint (authorization code + PKCE S256, confidential client)
//! and an end-session endpoint, at Keycloak's paths below the realm.
//!
//! It exists for `desk demo` only: nothing answers (404) until
//! [`LocalIssuer::enable_browser_login`] registers the demo client, its redirect URIs and the
//! people one may sign in as. There is no password: picking a person is the login, which is
//! what a demo on a loopback port wants and why `serve` never runs this issuer.
//!
//! Codes are random, single-use, short-lived and bound to the client, the redirect URI, the
//! PKCE challenge, the nonce and the person; the token endpoint checks every binding.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use rand::rngs::OsRng;
use rand::RngCore;
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::server::IssuerState;
use super::{now_secs, AccessTokenSpec, LocalIssuer};

/// How long an authorization code can be exchanged.
pub const CODE_TTL: Duration = Duration::from_secs(60);
/// Lifetime of the access and ID tokens the token endpoint issues.
pub const TOKEN_LIFETIME: Duration = Duration::from_secs(300);
/// Pending codes kept at most; beyond that the page asks to try again (bounded memory).
const MAX_PENDING_CODES: usize = 1000;
/// Longest `state` or `nonce` accepted.
const MAX_PARAM_LEN: usize = 512;

/// Someone who can sign in to the demo (subject, profile claims, client roles).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoPerson {
    pub subject: String,
    pub email: String,
    pub given_name: String,
    pub family_name: String,
    /// Become `resource_access.<client id>.roles`.
    pub roles: Vec<String>,
}

/// The registration of the one confidential client and the people it may sign in.
#[derive(Clone)]
pub struct BrowserLogin {
    pub client_id: String,
    pub client_secret: String,
    /// Exact redirect URIs accepted (no prefix matching).
    pub redirect_uris: Vec<String>,
    pub people: Vec<DemoPerson>,
    /// Lifetime of authorization codes ([`CODE_TTL`] unless a test shortens it).
    pub code_ttl: Duration,
}

impl BrowserLogin {
    pub fn new(
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
        redirect_uris: Vec<String>,
        people: Vec<DemoPerson>,
    ) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            redirect_uris,
            people,
            code_ttl: CODE_TTL,
        }
    }
}

impl std::fmt::Debug for BrowserLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrowserLogin")
            .field("client_id", &self.client_id)
            .field("redirect_uris", &self.redirect_uris)
            .field("people", &self.people.len())
            .finish_non_exhaustive()
    }
}

struct PendingCode {
    client_id: String,
    redirect_uri: String,
    code_challenge: String,
    nonce: String,
    person: DemoPerson,
    expires: Instant,
}

struct Enabled {
    login: BrowserLogin,
    codes: Mutex<HashMap<String, PendingCode>>,
}

/// Test knobs that make the token endpoint issue bad ID tokens.
#[derive(Debug, Clone, Default)]
struct IdTokenOverrides {
    audience: Option<String>,
    expired: bool,
}

/// The browser-login state of a [`LocalIssuer`] (shared by its clones).
#[derive(Default)]
pub(super) struct BrowserState {
    enabled: RwLock<Option<Arc<Enabled>>>,
    overrides: Mutex<IdTokenOverrides>,
}

impl LocalIssuer {
    /// Turns on the browser side (authorization, token and end-session endpoints) for one
    /// client. Replaces an earlier registration and forgets its pending codes.
    pub fn enable_browser_login(&self, login: BrowserLogin) {
        let mut enabled = self
            .inner
            .browser
            .enabled
            .write()
            .unwrap_or_else(|e| e.into_inner());
        *enabled = Some(Arc::new(Enabled {
            login,
            codes: Mutex::new(HashMap::new()),
        }));
    }

    /// Test knob: the next ID tokens carry this `aud` instead of the client id.
    pub fn set_id_token_audience_override(&self, audience: Option<&str>) {
        self.overrides().audience = audience.map(str::to_owned);
    }

    /// Test knob: the next ID tokens expired two minutes ago.
    pub fn set_id_token_expired(&self, expired: bool) {
        self.overrides().expired = expired;
    }

    fn overrides(&self) -> std::sync::MutexGuard<'_, IdTokenOverrides> {
        self.inner
            .browser
            .overrides
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    fn browser_login(&self) -> Option<Arc<Enabled>> {
        self.inner
            .browser
            .enabled
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Keycloak-shaped ID token claims for `person`.
    fn id_token_claims(
        &self,
        issuer_url: &str,
        client_id: &str,
        person: &DemoPerson,
        nonce: &str,
    ) -> Value {
        let overrides = self.overrides().clone();
        let mut now = now_secs();
        if overrides.expired {
            now = now.saturating_sub(TOKEN_LIFETIME.as_secs() + 120);
        }
        json!({
            "iss": issuer_url,
            "sub": person.subject,
            "aud": overrides.audience.as_deref().unwrap_or(client_id),
            "azp": client_id,
            "typ": "ID",
            "iat": now,
            "auth_time": now,
            "exp": now + TOKEN_LIFETIME.as_secs(),
            "nonce": nonce,
            "sid": random_token(),
            "email": person.email,
            "email_verified": true,
            "given_name": person.given_name,
            "family_name": person.family_name,
            "name": format!("{} {}", person.given_name, person.family_name).trim(),
            "preferred_username": person.email,
            "resource_access": { client_id: { "roles": person.roles } },
        })
    }
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Equality that takes the same time wherever the inputs differ (secrets, PKCE).
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// RFC 7636 §4.1: 43–128 characters of `[A-Za-z0-9-._~]` (also the shape of an S256 challenge).
fn pkce_shaped(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

fn page(status: actix_web::http::StatusCode, title: &str, body: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(format!(
            "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>{title}</title>\
             <style>body{{font-family:sans-serif;max-width:40em;margin:2em auto}}\
             button{{display:block;width:100%;text-align:left;margin:.5em 0;padding:.6em}}</style>\
             <h1>{title}</h1>{body}</html>",
            title = escape_html(title)
        ))
}

fn bad_request_page(message: &str) -> HttpResponse {
    page(
        actix_web::http::StatusCode::BAD_REQUEST,
        "Demo sign-in refused",
        &format!("<p>{}</p>", escape_html(message)),
    )
}

fn not_enabled() -> HttpResponse {
    HttpResponse::NotFound().finish()
}

/// The parameters of an authorization request (query of the GET, form of the POST, which
/// adds `person`).
#[derive(Debug, Default, Deserialize)]
pub(super) struct AuthParams {
    response_type: Option<String>,
    client_id: Option<String>,
    redirect_uri: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    person: Option<String>,
}

/// A request that passed every check.
struct Valid<'a> {
    redirect_uri: &'a str,
    state: &'a str,
    nonce: &'a str,
    code_challenge: &'a str,
}

/// Why an authorization request is refused: before the redirect URI is trusted the answer is
/// a page; after, an OAuth2 error sent back to the client (RFC 6749 §4.1.2.1).
enum Refusal {
    Page(&'static str),
    Redirect(&'static str, &'static str),
}

fn usable(value: &Option<String>) -> Option<&str> {
    value
        .as_deref()
        .filter(|v| !v.is_empty() && v.len() <= MAX_PARAM_LEN)
}

fn validate<'a>(login: &BrowserLogin, p: &'a AuthParams) -> Result<Valid<'a>, Refusal> {
    if p.client_id.as_deref() != Some(login.client_id.as_str()) {
        return Err(Refusal::Page("Unknown client."));
    }
    let redirect_uri = p
        .redirect_uri
        .as_deref()
        .filter(|uri| login.redirect_uris.iter().any(|r| r == uri))
        .ok_or(Refusal::Page(
            "This redirect URI is not registered for the client.",
        ))?;
    if p.response_type.as_deref() != Some("code") {
        return Err(Refusal::Redirect(
            "unsupported_response_type",
            "only the authorization code flow is supported",
        ));
    }
    if !p
        .scope
        .as_deref()
        .is_some_and(|s| s.split(' ').any(|s| s == "openid"))
    {
        return Err(Refusal::Redirect(
            "invalid_scope",
            "the openid scope is required",
        ));
    }
    let code_challenge = match (
        p.code_challenge.as_deref(),
        p.code_challenge_method.as_deref(),
    ) {
        (Some(challenge), Some("S256")) if pkce_shaped(challenge) => challenge,
        _ => {
            return Err(Refusal::Redirect(
                "invalid_request",
                "a PKCE code_challenge with method S256 is required",
            ))
        }
    };
    let (Some(state), Some(nonce)) = (usable(&p.state), usable(&p.nonce)) else {
        return Err(Refusal::Redirect(
            "invalid_request",
            "state and nonce are required",
        ));
    };
    Ok(Valid {
        redirect_uri,
        state,
        nonce,
        code_challenge,
    })
}

fn redirect_with(redirect_uri: &str, pairs: &[(&str, &str)]) -> HttpResponse {
    match url::Url::parse(redirect_uri) {
        Ok(mut url) => {
            if !pairs.is_empty() {
                url.query_pairs_mut().extend_pairs(pairs);
            }
            HttpResponse::Found()
                .insert_header((header::LOCATION, url.as_str()))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .finish()
        }
        Err(_) => bad_request_page("The redirect URI is malformed."),
    }
}

fn refuse(refusal: Refusal, p: &AuthParams) -> HttpResponse {
    match refusal {
        Refusal::Page(message) => bad_request_page(message),
        Refusal::Redirect(error, description) => {
            // Only reached after the redirect URI matched a registered one.
            let redirect_uri = p.redirect_uri.as_deref().unwrap_or_default();
            let mut pairs = vec![("error", error), ("error_description", description)];
            if let Some(state) = p.state.as_deref() {
                pairs.push(("state", state));
            }
            redirect_with(redirect_uri, &pairs)
        }
    }
}

/// `GET …/protocol/openid-connect/auth`: the page listing the demo people.
pub(super) async fn authorize_page(
    state: web::Data<IssuerState>,
    query: web::Query<AuthParams>,
) -> HttpResponse {
    let Some(enabled) = state.issuer.browser_login() else {
        return not_enabled();
    };
    let p = query.into_inner();
    let valid = match validate(&enabled.login, &p) {
        Ok(valid) => valid,
        Err(refusal) => return refuse(refusal, &p),
    };
    let hidden = [
        ("response_type", "code"),
        ("client_id", enabled.login.client_id.as_str()),
        ("redirect_uri", valid.redirect_uri),
        ("scope", p.scope.as_deref().unwrap_or("openid")),
        ("state", valid.state),
        ("nonce", valid.nonce),
        ("code_challenge", valid.code_challenge),
        ("code_challenge_method", "S256"),
    ]
    .iter()
    .map(|(name, value)| {
        format!(
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
            escape_html(name),
            escape_html(value)
        )
    })
    .collect::<String>();
    let buttons = enabled
        .login
        .people
        .iter()
        .map(|person| {
            let roles = if person.roles.is_empty() {
                "no roles".to_owned()
            } else {
                person.roles.join(", ")
            };
            format!(
                "<button type=\"submit\" name=\"person\" value=\"{}\"><strong>{} {}</strong> \
                 &lt;{}&gt; — {}</button>",
                escape_html(&person.subject),
                escape_html(&person.given_name),
                escape_html(&person.family_name),
                escape_html(&person.email),
                escape_html(&roles)
            )
        })
        .collect::<String>();
    page(
        actix_web::http::StatusCode::OK,
        "Sign in to the Research Desk demo",
        &format!(
            "<p>This demo identity provider has no passwords: choose who you want to be.</p>\
             <form method=\"post\" action=\"auth\">{hidden}{buttons}</form>"
        ),
    )
}

/// `POST …/protocol/openid-connect/auth`: the person was chosen; issue a code and send the
/// browser back to the client.
pub(super) async fn authorize_choice(
    state: web::Data<IssuerState>,
    form: web::Form<AuthParams>,
) -> HttpResponse {
    let Some(enabled) = state.issuer.browser_login() else {
        return not_enabled();
    };
    let p = form.into_inner();
    let valid = match validate(&enabled.login, &p) {
        Ok(valid) => valid,
        Err(refusal) => return refuse(refusal, &p),
    };
    let Some(person) = enabled
        .login
        .people
        .iter()
        .find(|person| Some(person.subject.as_str()) == p.person.as_deref())
    else {
        return bad_request_page("Unknown demo person.");
    };
    let code = random_token();
    {
        let mut codes = enabled.codes.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        codes.retain(|_, pending| pending.expires > now);
        if codes.len() >= MAX_PENDING_CODES {
            return refuse(
                Refusal::Redirect("temporarily_unavailable", "too many sign-ins in progress"),
                &p,
            );
        }
        codes.insert(
            code.clone(),
            PendingCode {
                client_id: enabled.login.client_id.clone(),
                redirect_uri: valid.redirect_uri.to_owned(),
                code_challenge: valid.code_challenge.to_owned(),
                nonce: valid.nonce.to_owned(),
                person: person.clone(),
                expires: now + enabled.login.code_ttl,
            },
        );
    }
    redirect_with(
        valid.redirect_uri,
        &[("code", &code), ("state", valid.state)],
    )
}

fn oauth_error(
    status: actix_web::http::StatusCode,
    error: &str,
    description: &str,
) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    if status == actix_web::http::StatusCode::UNAUTHORIZED {
        response.insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"demo\""));
    }
    response.json(json!({ "error": error, "error_description": description }))
}

fn invalid_grant(description: &str) -> HttpResponse {
    oauth_error(
        actix_web::http::StatusCode::BAD_REQUEST,
        "invalid_grant",
        description,
    )
}

fn form_decode(value: &str) -> Option<String> {
    let plus_as_space = value.replace('+', " ");
    percent_encoding::percent_decode_str(&plus_as_space)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// `client_secret_basic` (RFC 6749 §2.3.1: both parts form-encoded, then Base64).
fn basic_credentials(req: &HttpRequest) -> Option<Result<(String, String), ()>> {
    let value = req.headers().get(header::AUTHORIZATION)?;
    let parsed = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|v| STANDARD.decode(v.trim()).ok())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|pair| {
            let (id, secret) = pair.split_once(':')?;
            Some((form_decode(id)?, form_decode(secret)?))
        });
    Some(parsed.ok_or(()))
}

/// `POST …/protocol/openid-connect/token`: exchanges a code for an access and an ID token.
pub(super) async fn token(
    state: web::Data<IssuerState>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    use actix_web::http::StatusCode;
    let Some(enabled) = state.issuer.browser_login() else {
        return not_enabled();
    };
    let login = &enabled.login;
    let mut form: HashMap<String, String> = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(&body) {
        // RFC 6749 §3.2: parameters must not repeat.
        if form.insert(name.into_owned(), value.into_owned()).is_some() {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "repeated parameter",
            );
        }
    }
    let field = |name: &str| form.get(name).map(String::as_str);
    if field("grant_type") != Some("authorization_code") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only authorization_code is supported",
        );
    }
    let credentials = match (basic_credentials(&req), field("client_secret")) {
        (Some(Ok(pair)), None) => Some(pair),
        (None, Some(secret)) => field("client_id").map(|id| (id.to_owned(), secret.to_owned())),
        (Some(_), Some(_)) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "use one client authentication method",
            )
        }
        _ => None,
    };
    let authenticated = credentials
        .is_some_and(|(id, secret)| id == login.client_id && same(&secret, &login.client_secret));
    if !authenticated {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
    }
    let Some(code) = field("code") else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "no code");
    };
    // Taken out before any check: a code is spent by its first use, even a failed one.
    let pending = enabled
        .codes
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(code);
    let Some(pending) = pending else {
        return invalid_grant("unknown or already used code");
    };
    if Instant::now() >= pending.expires {
        return invalid_grant("the code has expired");
    }
    if pending.client_id != login.client_id {
        return invalid_grant("the code was issued to another client");
    }
    if field("redirect_uri") != Some(pending.redirect_uri.as_str()) {
        return invalid_grant("redirect_uri does not match the authorization request");
    }
    let verified = field("code_verifier")
        .filter(|v| pkce_shaped(v))
        .is_some_and(|v| {
            same(
                &URL_SAFE_NO_PAD.encode(Sha256::digest(v.as_bytes())),
                &pending.code_challenge,
            )
        });
    if !verified {
        return invalid_grant("PKCE verification failed");
    }

    let person = &pending.person;
    let mut spec = AccessTokenSpec::new(&state.issuer_url, &login.client_id, &person.subject);
    spec.email = Some(person.email.clone());
    spec.email_verified = true;
    spec.given_name = Some(person.given_name.clone());
    spec.family_name = Some(person.family_name.clone());
    spec.roles = person.roles.clone();
    spec.lifetime = TOKEN_LIFETIME;
    let access_token = state.issuer.access_token_for(&spec);
    let id_token = state.issuer.sign(&state.issuer.id_token_claims(
        &state.issuer_url,
        &login.client_id,
        person,
        &pending.nonce,
    ));
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(json!({
            "access_token": access_token,
            "id_token": id_token,
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME.as_secs(),
            "scope": "openid email profile",
        }))
}

#[derive(Debug, Deserialize)]
pub(super) struct LogoutParams {
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
}

/// `GET …/protocol/openid-connect/logout`: the demo keeps no provider session, so there is
/// nothing to end; go back to the client when its address is one of the registered origins.
pub(super) async fn end_session(
    state: web::Data<IssuerState>,
    query: web::Query<LogoutParams>,
) -> HttpResponse {
    let Some(enabled) = state.issuer.browser_login() else {
        return not_enabled();
    };
    let origin = |raw: &str| url::Url::parse(raw).ok().map(|u| u.origin());
    let target = query.post_logout_redirect_uri.as_deref().filter(|target| {
        let wanted = origin(target);
        wanted.is_some()
            && enabled
                .login
                .redirect_uris
                .iter()
                .any(|registered| origin(registered) == wanted)
    });
    match target {
        Some(target) => {
            let state_pair = query.state.as_deref().map(|s| ("state", s));
            redirect_with(target, &state_pair.into_iter().collect::<Vec<_>>())
        }
        None => page(
            actix_web::http::StatusCode::OK,
            "Signed out",
            "<p>You are signed out of the demo identity provider.</p>",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_shape_and_constant_time_equality() {
        assert!(pkce_shaped(&"a".repeat(43)));
        assert!(!pkce_shaped(&"a".repeat(42)));
        assert!(!pkce_shaped(&format!("{}+", "a".repeat(43))));
        assert!(same("x", "x"));
        assert!(!same("x", "y"));
    }

    #[test]
    fn html_is_escaped() {
        assert_eq!(
            escape_html("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let header = format!("Basic {}", STANDARD.encode("my%3Aclient:s+e%2Bcret"));
        let req = actix_web::test::TestRequest::default()
            .insert_header((header::AUTHORIZATION, header))
            .to_http_request();
        assert_eq!(
            basic_credentials(&req),
            Some(Ok(("my:client".into(), "s e+cret".into())))
        );
    }
}
