//! Browser login (`/accounts/…`): the OpenID Connect code flow with PKCE, server-side
//! sessions, logout and back-channel logout (OPERATIONS "Authentication modes", BEHAVIOUR
//! §7.1–7.5, decisions W2, W3, W11, W12, W14).
//!
//! The session cookie holds 256 random bits; the database only ever sees their SHA-256, so a
//! copy of the `sessions` table opens no session. The pre-login record (`state`, `nonce`,
//! PKCE verifier, `next`) lives server-side, keyed by the hash of `state`, and is consumed by
//! the first callback that presents it. The `state` is also kept in a short-lived cookie
//! scoped to the callback, so a callback URL made in another browser (login CSRF) is refused.

use super::errors::ApiError;
use super::{csrf, AppState};
use crate::config::Secret;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use desk_auth::browser::BrowserError;
use desk_domain::usecases::identity::sign_in;
use desk_domain::usecases::sessions::{
    self, LoginAttempt, LoginAttemptProblem, NewSession, SessionPolicy,
};
use desk_domain::DomainError;
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};
use rand::RngCore;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::path::PathBuf;

/// Browser-facing settings (validated by [`crate::config::Config::validate_web`]).
#[derive(Debug, Clone)]
pub struct WebSettings {
    /// `DESK_PUBLIC_URL`: the origin for the CSRF check, `Secure` cookies, redirect URI.
    pub public_url: Option<url::Url>,
    /// `DESK_CORS_ORIGINS`, as serialized origins.
    pub cors_origins: Vec<String>,
    pub session: SessionPolicy,
    pub client_dir: Option<PathBuf>,
    /// Mount point of the client bundle, `/tickets` by default, without trailing slash.
    pub client_path: String,
    /// Set when browser login is configured (needs `DESK_OIDC_CLIENT_SECRET`).
    pub browser: Option<BrowserLoginSettings>,
}

impl Default for WebSettings {
    fn default() -> Self {
        WebSettings {
            public_url: None,
            cors_origins: Vec::new(),
            session: SessionPolicy::default(),
            client_dir: None,
            client_path: "/tickets".into(),
            browser: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct BrowserLoginSettings {
    pub client_secret: Secret,
}

/// The callback path; the redirect URI is `DESK_PUBLIC_URL` + this.
pub const CALLBACK_PATH: &str = "/accounts/callback";
const LOGIN_COOKIE: &str = "desk_login_state";

impl WebSettings {
    fn secure(&self) -> bool {
        self.public_url
            .as_ref()
            .is_some_and(|u| u.scheme() == "https")
    }

    /// `__Host-` binds the cookie to our exact origin (no `Domain`, `Secure`, `Path=/`);
    /// browsers accept that prefix only over https.
    pub fn session_cookie_name(&self) -> &'static str {
        if self.secure() {
            "__Host-desk_session"
        } else {
            "desk_session"
        }
    }

    /// `DESK_PUBLIC_URL` without a trailing slash.
    pub fn base_url(&self) -> Option<String> {
        self.public_url
            .as_ref()
            .map(|u| u.as_str().trim_end_matches('/').to_owned())
    }

    fn cookie(&self, name: &str, value: &str, path: &str, max_age: i64) -> String {
        let secure = if self.secure() { "; Secure" } else { "" };
        format!("{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}")
    }
}

/// SHA-256 of a token or `state`: what the database stores instead of the value.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The value of cookie `name`, if the request has one.
pub fn cookie_value(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The hash of the session token the request carries.
pub fn session_token_hash(req: &HttpRequest, web: &WebSettings) -> Option<Vec<u8>> {
    cookie_value(req, web.session_cookie_name()).map(|t| token_hash(&t))
}

/// Characters re-encoded in a `next` path so it is always a valid `Location` value.
const LOCATION: &AsciiSet = &CONTROLS.add(b' ').add(b'"').add(b'<').add(b'>').add(b'`');

/// W12: `next` is kept only when it is a path on this site — `/…`, but not `//…` nor `/\…`
/// (both mean another host to a browser), no scheme, no control characters (browsers drop
/// tabs and newlines, which would turn `/\t/evil` into `//evil`). Anything else is `/`.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.starts_with("/\\")
                && !n.chars().any(char::is_control) =>
        {
            utf8_percent_encode(n, LOCATION).to_string()
        }
        _ => "/".to_owned(),
    }
}

fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// A small HTML page ending a failed login, with a way to try again.
fn login_problem(status: StatusCode, message: &str, next: &str) -> HttpResponse {
    let retry = format!(
        "/accounts/login?next={}",
        utf8_percent_encode(next, percent_encoding::NON_ALPHANUMERIC)
    );
    let body = format!(
        "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Sign-in failed</title>\
         <h1>Sign-in failed</h1><p>{}</p><p><a href=\"{}\">Try again</a></p></html>",
        escape_html(message),
        escape_html(&retry)
    );
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, "default-src 'none'"))
        .body(body)
}

fn redirect(location: &str) -> actix_web::HttpResponseBuilder {
    let mut response = HttpResponse::Found();
    response.insert_header((header::LOCATION, location));
    response
}

/// Runs blocking session work on one transaction.
async fn in_transaction<T: Send + 'static>(
    state: &web::Data<AppState>,
    work: impl FnOnce(&mut desk_persistence::PgUnitOfWork<'_>) -> Result<T, DomainError>
        + Send
        + 'static,
) -> Result<T, DomainError> {
    let db = state.db.clone();
    state
        .blocking(move || db.in_transaction(None, work))
        .await
        .map_err(|_| DomainError::Storage("blocking pool".into()))?
}

/// The profile id of the request's valid session, if any.
async fn session_profile(
    req: &HttpRequest,
    state: &web::Data<AppState>,
) -> Result<Option<desk_domain::ProfileId>, DomainError> {
    let Some(hash) = session_token_hash(req, &state.web) else {
        return Ok(None);
    };
    let policy = state.web.session;
    let now = state.clock.now();
    let actor = in_transaction(state, move |uow| {
        sessions::authenticate(uow, &policy, now, &hash)
    })
    .await?;
    Ok(actor.map(|a| a.id))
}

#[derive(Debug, Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// `GET /accounts/login?next=/path`: 302 to `next` when signed in, else to the provider.
pub async fn login(
    req: HttpRequest,
    query: web::Query<NextQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let next = safe_next(query.next.as_deref());
    match session_profile(&req, &state).await {
        Ok(Some(_)) => return redirect(&next).finish(),
        Ok(None) => {}
        Err(error) => {
            tracing::error!(%error, "session look-up failed");
            return login_problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "The service is temporarily unavailable.",
                &next,
            );
        }
    }
    let Some(browser) = state.browser.clone() else {
        return login_problem(
            StatusCode::NOT_FOUND,
            "Browser sign-in is not configured on this server.",
            &next,
        );
    };
    let start = match browser.start().await {
        Ok(start) => start,
        Err(error) => {
            tracing::error!(%error, "browser login cannot start");
            return login_problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "The identity provider cannot be reached. Please try again in a moment.",
                &next,
            );
        }
    };
    let attempt = LoginAttempt {
        state_hash: token_hash(&start.state),
        nonce: start.nonce,
        pkce_verifier: start.pkce_verifier,
        next_path: next.clone(),
        expires_at: state.clock.now(),
    };
    let now = state.clock.now();
    if let Err(error) =
        in_transaction(&state, move |uow| sessions::begin_login(uow, now, attempt)).await
    {
        tracing::error!(%error, "login attempt not stored");
        return login_problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "The service is temporarily unavailable.",
            &next,
        );
    }
    redirect(start.url.as_str())
        .insert_header((
            header::SET_COOKIE,
            state.web.cookie(
                LOGIN_COOKIE,
                &start.state,
                CALLBACK_PATH,
                sessions::LOGIN_ATTEMPT_SECS,
            ),
        ))
        .finish()
}

#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// `GET /accounts/callback`: finishes the code flow and starts a session.
pub async fn callback(
    req: HttpRequest,
    query: web::Query<CallbackQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let fail = |status: StatusCode, message: &str| login_problem(status, message, "/");
    let Some(browser) = state.browser.clone() else {
        return fail(
            StatusCode::NOT_FOUND,
            "Browser sign-in is not configured on this server.",
        );
    };
    if let Some(error) = &query.error {
        tracing::info!(error = %error.chars().take(64).collect::<String>(), "provider refused the login");
        let message = if error == "access_denied" {
            "The sign-in was cancelled or refused by the identity provider."
        } else {
            "The identity provider could not complete the sign-in."
        };
        return fail(StatusCode::FORBIDDEN, message);
    }
    let (Some(code), Some(login_state)) = (query.code.as_deref(), query.state.as_deref()) else {
        return fail(
            StatusCode::BAD_REQUEST,
            "The sign-in response is incomplete.",
        );
    };
    // Login CSRF: the callback must come back to the browser that started the login.
    if cookie_value(&req, LOGIN_COOKIE).as_deref() != Some(login_state) {
        return fail(
            StatusCode::BAD_REQUEST,
            "This sign-in was started in another browser window or has already been used.",
        );
    }
    let hash = token_hash(login_state);
    let now = state.clock.now();
    let attempt =
        match in_transaction(&state, move |uow| sessions::finish_login(uow, now, &hash)).await {
            Ok(Ok(attempt)) => attempt,
            Ok(Err(LoginAttemptProblem::Unknown)) => {
                return fail(
                    StatusCode::BAD_REQUEST,
                    "This sign-in link is unknown or has already been used.",
                )
            }
            Ok(Err(LoginAttemptProblem::Expired)) => {
                return fail(
                    StatusCode::BAD_REQUEST,
                    "This sign-in took too long and has expired.",
                )
            }
            Err(error) => {
                tracing::error!(%error, "login attempt look-up failed");
                return fail(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The service is temporarily unavailable.",
                );
            }
        };
    let next = attempt.next_path.clone();
    let fail = |status: StatusCode, message: &str| login_problem(status, message, &next);
    let identity = match browser
        .finish(code, &attempt.pkce_verifier, &attempt.nonce)
        .await
    {
        Ok(identity) => identity,
        Err(BrowserError::Unavailable(error)) => {
            tracing::error!(%error, "identity provider unavailable");
            return fail(
                StatusCode::SERVICE_UNAVAILABLE,
                "The identity provider cannot be reached. Please try again in a moment.",
            );
        }
        Err(error) => {
            tracing::info!(%error, "browser login refused");
            return fail(
                StatusCode::BAD_REQUEST,
                "The identity provider's answer could not be verified.",
            );
        }
    };
    let token = random_token();
    let new = NewSession {
        token_hash: token_hash(&token),
        profile: desk_domain::ProfileId(0),
        created_at: now,
        expires_at: now,
        idle_expires_at: now,
        oidc_sid: identity.sid.clone(),
        oidc_subject: Some(identity.claims.subject.clone()),
        id_token: Some(identity.id_token.clone()),
    };
    let previous = session_token_hash(&req, &state.web);
    let policy = state.web.session;
    let claims = identity.claims;
    let started = in_transaction(&state, move |uow| {
        // A new session at every login: whatever session the browser had ends here.
        if let Some(previous) = previous {
            sessions::end_session(uow, &previous)?;
        }
        let (actor, _) = sign_in(uow, &claims)?;
        sessions::start_session(
            uow,
            &policy,
            now,
            NewSession {
                profile: actor.id,
                ..new
            },
        )
    })
    .await;
    match started {
        Ok(()) => {}
        Err(DomainError::Refused(message)) => return fail(StatusCode::FORBIDDEN, message),
        Err(error) => {
            tracing::error!(%error, "session not started");
            return fail(
                StatusCode::SERVICE_UNAVAILABLE,
                "The service is temporarily unavailable.",
            );
        }
    }
    let web = &state.web;
    redirect(&next)
        .append_header((
            header::SET_COOKIE,
            web.cookie(
                web.session_cookie_name(),
                &token,
                "/",
                web.session.max.num_seconds(),
            ),
        ))
        .append_header((
            header::SET_COOKIE,
            web.cookie(LOGIN_COOKIE, "", CALLBACK_PATH, 0),
        ))
        .finish()
}

/// Ends the request's session and answers 302 to `next`, through the provider's end-session
/// endpoint when the session kept an ID token.
async fn end_and_redirect(
    req: &HttpRequest,
    state: &web::Data<AppState>,
    next: &str,
) -> HttpResponse {
    let mut location = next.to_owned();
    if let Some(hash) = session_token_hash(req, &state.web) {
        match in_transaction(state, move |uow| sessions::end_session(uow, &hash)).await {
            Ok(Some(session)) => {
                if let (Some(browser), Some(base)) = (&state.browser, state.web.base_url()) {
                    if let Some(url) = browser
                        .end_session_url(session.id_token.as_deref(), &format!("{base}{next}"))
                        .await
                    {
                        location = url.to_string();
                    }
                }
            }
            Ok(None) => {}
            Err(error) => {
                tracing::error!(%error, "logout failed");
                return login_problem(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The service is temporarily unavailable.",
                    next,
                );
            }
        }
    }
    let web = &state.web;
    redirect(&location)
        .insert_header((
            header::SET_COOKIE,
            web.cookie(web.session_cookie_name(), "", "/", 0),
        ))
        .finish()
}

/// `POST /accounts/logout`: cookie-authenticated, so the CSRF rule applies.
pub async fn logout(
    req: HttpRequest,
    query: web::Query<NextQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    if !csrf::same_site_request(&req, &state.web) {
        return Err(ApiError::Forbidden);
    }
    let next = safe_next(query.next.as_deref());
    Ok(end_and_redirect(&req, &state, &next).await)
}

/// `GET /accounts/logout`: a plain link cannot be allowed to end a session (any site could
/// embed it), so this answers a one-button page that POSTs the logout.
pub async fn logout_page(query: web::Query<NextQuery>) -> HttpResponse {
    let next = safe_next(query.next.as_deref());
    let action = format!(
        "/accounts/logout?next={}",
        utf8_percent_encode(&next, percent_encoding::NON_ALPHANUMERIC)
    );
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_SECURITY_POLICY, "default-src 'none'; form-action 'self'"))
        .body(format!(
            "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Sign out</title>\
             <form method=\"post\" action=\"{}\"><button type=\"submit\">Sign out</button></form></html>",
            escape_html(&action)
        ))
}

/// `GET /accounts/logout/{id}` (the client's link, W11): ends the session when `{id}` is the
/// caller; always 302 (never 301) to `next` or `/`.
pub async fn logout_profile(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<NextQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let next = safe_next(query.next.as_deref());
    let wanted = path.trim_matches('/').parse::<i32>().ok();
    match session_profile(&req, &state).await {
        Ok(Some(profile)) if Some(profile.0) == wanted => {
            end_and_redirect(&req, &state, &next).await
        }
        _ => redirect(&next).finish(),
    }
}

#[derive(Debug, Deserialize)]
pub struct BackchannelForm {
    logout_token: Option<String>,
}

/// `POST /accounts/backchannel-logout` (OpenID Connect Back-Channel Logout 1.0): the provider
/// tells us a person signed out; every session of that provider session (`sid`) or, without
/// one, of that subject ends.
pub async fn backchannel_logout(
    form: web::Form<BackchannelForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let refuse = || {
        HttpResponse::BadRequest()
            .content_type("application/json")
            .body(r#"{"error":"invalid_request"}"#)
    };
    let (Some(browser), Some(token)) = (state.browser.clone(), form.logout_token.clone()) else {
        return refuse();
    };
    let target = match browser.verify_logout_token(&token).await {
        Ok(target) => target,
        Err(BrowserError::Unavailable(error)) => {
            tracing::error!(%error, "identity provider unavailable");
            return HttpResponse::ServiceUnavailable().finish();
        }
        Err(error) => {
            tracing::info!(%error, "back-channel logout refused");
            return refuse();
        }
    };
    match in_transaction(&state, move |uow| {
        sessions::provider_logout(uow, target.sid.as_deref(), target.subject.as_deref())
    })
    .await
    {
        Ok(ended) => {
            tracing::info!(ended, "back-channel logout");
            HttpResponse::Ok().finish()
        }
        Err(error) => {
            tracing::error!(%error, "back-channel logout failed");
            HttpResponse::ServiceUnavailable().finish()
        }
    }
}

/// The `/accounts` routes.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/accounts/login", web::get().to(login))
        .route(CALLBACK_PATH, web::get().to(callback))
        .route("/accounts/logout", web::post().to(logout))
        .route("/accounts/logout", web::get().to(logout_page))
        .route("/accounts/logout/{id:.*}", web::get().to(logout_profile))
        .route(
            "/accounts/backchannel-logout",
            web::post().to(backchannel_logout),
        );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_accepts_only_local_paths() {
        assert_eq!(safe_next(Some("/tickets/view/5")), "/tickets/view/5");
        assert_eq!(safe_next(Some("/tickets?a=b c")), "/tickets?a=b%20c");
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil.example",
            "/\t/evil.example",
            "evil",
            "",
            "javascript:alert(1)",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn cookies_are_found_by_name() {
        let req = actix_web::test::TestRequest::default()
            .insert_header((header::COOKIE, "a=1; desk_session=tok; b=2"))
            .to_http_request();
        assert_eq!(cookie_value(&req, "desk_session").as_deref(), Some("tok"));
        assert_eq!(cookie_value(&req, "c"), None);
    }
}
