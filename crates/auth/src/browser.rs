//! The browser side of OpenID Connect: the authorization-code flow with PKCE (S256), `state`
//! and `nonce`, ID-token verification, RP-initiated logout URLs and back-channel logout
//! tokens (decision W2, OPERATIONS "Authentication modes").
//!
//! The protocol work is done by the `openidconnect` crate; this module adds what Research
//! Desk needs around it: Keycloak's `resource_access.<client>.roles`, the provider's `sid`,
//! and a provider-metadata cache that is refreshed on an unknown signing key at most once per
//! [`METADATA_REFRESH_INTERVAL`], so forged `kid`s cannot make us hammer the provider.
//!
//! The HTTP client never follows redirects: a provider endpoint redirecting elsewhere must not
//! turn the server into a request proxy (SSRF).

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use desk_domain::ports::IdentityClaims;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreIdToken};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet, EndpointNotSet,
    EndpointSet, IssuerUrl, LogoutRequest, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, PostLogoutRedirectUrl, ProviderMetadataWithLogout, RedirectUrl, Scope,
    TokenResponse,
};
use serde_json::Value;
use tokio::sync::Mutex;

/// Shortest time between two fetches of the provider metadata (and its JWKS).
pub const METADATA_REFRESH_INTERVAL: Duration = Duration::from_secs(60);

/// The `events` member a back-channel logout token must carry.
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

const LEEWAY_SECS: i64 = 30;

type Oidc = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// What the browser login needs to know about the provider and our client.
#[derive(Clone)]
pub struct BrowserSettings {
    /// `DESK_OIDC_ISSUER`.
    pub issuer: String,
    /// `DESK_OIDC_CLIENT_ID`: the audience of ID tokens and the `resource_access` key.
    pub client_id: String,
    /// `DESK_OIDC_CLIENT_SECRET`.
    pub client_secret: String,
    /// `DESK_PUBLIC_URL` + `/accounts/callback`.
    pub redirect_url: String,
}

impl std::fmt::Debug for BrowserSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrowserSettings")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("redirect_url", &self.redirect_url)
            .finish_non_exhaustive()
    }
}

/// Why a browser login or logout step failed. Messages never contain tokens or secrets.
#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    /// The provider could not be reached or answered nonsense (discovery, JWKS).
    #[error("identity provider unavailable: {0}")]
    Unavailable(String),
    /// The provider refused to exchange the code (wrong secret, PKCE mismatch, reused code).
    #[error("the authorization code was refused: {0}")]
    Exchange(String),
    /// The ID token failed verification (signature, issuer, audience, expiry, nonce).
    #[error("the ID token is invalid: {0}")]
    IdToken(String),
    /// The back-channel logout token failed verification.
    #[error("the logout token is invalid: {0}")]
    LogoutToken(String),
}

/// Where to send the browser, and the secrets to keep server-side until the callback.
#[derive(Debug)]
pub struct LoginStart {
    pub url: url::Url,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

/// The verified outcome of a callback.
#[derive(Debug, Clone)]
pub struct BrowserIdentity {
    pub claims: IdentityClaims,
    /// The provider's session id, for back-channel logout.
    pub sid: Option<String>,
    /// The raw ID token, kept as the `id_token_hint` of RP-initiated logout.
    pub id_token: String,
}

/// Who a verified back-channel logout token logs out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutTarget {
    pub sid: Option<String>,
    pub subject: Option<String>,
}

struct Cached {
    metadata: Arc<ProviderMetadataWithLogout>,
    fetched: Instant,
}

/// The OpenID Connect client of the browser login. Cheap to share behind an `Arc`.
/// "Now" for token expiry checks; injected so the application's clock governs it.
pub type TimeFn = Arc<dyn Fn() -> chrono::DateTime<chrono::Utc> + Send + Sync>;

pub struct BrowserClient {
    settings: BrowserSettings,
    http: reqwest::Client,
    cache: Mutex<Option<Cached>>,
    now: TimeFn,
}

impl std::fmt::Debug for BrowserClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrowserClient")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// A reqwest client suitable for the provider: no redirects, bounded time.
pub fn http_client() -> Result<reqwest::Client, BrowserError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| BrowserError::Unavailable(e.to_string()))
}

fn claims_payload(jwt: &str) -> Option<Value> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn text(claims: &Value, name: &str) -> Option<String> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn roles_of(claims: &Value, client_id: &str) -> Option<Vec<String>> {
    claims.get("resource_access").map(|access| {
        access
            .get(client_id)
            .and_then(|c| c.get("roles"))
            .and_then(Value::as_array)
            .map(|roles| {
                roles
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    })
}

fn accepted_algorithm(name: &str) -> Option<Algorithm> {
    match name {
        "RS256" => Some(Algorithm::RS256),
        "PS256" => Some(Algorithm::PS256),
        "ES256" => Some(Algorithm::ES256),
        _ => None,
    }
}

impl BrowserClient {
    pub fn new(settings: BrowserSettings, http: reqwest::Client) -> Self {
        Self {
            settings,
            http,
            cache: Mutex::new(None),
            now: Arc::new(chrono::Utc::now),
        }
    }

    /// Uses `now` instead of the system time for `exp`/`iat` checks.
    pub fn with_clock(mut self, now: TimeFn) -> Self {
        self.now = now;
        self
    }

    fn id_token_verifier<'a>(
        &self,
        client: &'a Oidc,
    ) -> openidconnect::IdTokenVerifier<'a, openidconnect::core::CoreJsonWebKey> {
        let now = self.now.clone();
        client.id_token_verifier().set_time_fn(move || now())
    }

    pub fn settings(&self) -> &BrowserSettings {
        &self.settings
    }

    /// The provider metadata; `refresh` asks for a new fetch (honoured at most once per
    /// [`METADATA_REFRESH_INTERVAL`]). Concurrent callers share one fetch.
    async fn metadata(
        &self,
        refresh: bool,
    ) -> Result<Arc<ProviderMetadataWithLogout>, BrowserError> {
        let mut cache = self.cache.lock().await;
        if let Some(cached) = cache.as_ref() {
            if !refresh || cached.fetched.elapsed() < METADATA_REFRESH_INTERVAL {
                return Ok(cached.metadata.clone());
            }
        }
        let issuer = IssuerUrl::new(self.settings.issuer.clone())
            .map_err(|e| BrowserError::Unavailable(format!("issuer URL: {e}")))?;
        let metadata = ProviderMetadataWithLogout::discover_async(issuer, &self.http)
            .await
            .map_err(|e| BrowserError::Unavailable(format!("discovery: {e}")))?;
        let metadata = Arc::new(metadata);
        *cache = Some(Cached {
            metadata: metadata.clone(),
            fetched: Instant::now(),
        });
        Ok(metadata)
    }

    fn client(&self, metadata: &ProviderMetadataWithLogout) -> Result<Oidc, BrowserError> {
        let redirect = RedirectUrl::new(self.settings.redirect_url.clone())
            .map_err(|e| BrowserError::Unavailable(format!("redirect URL: {e}")))?;
        Ok(CoreClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(self.settings.client_id.clone()),
            Some(ClientSecret::new(self.settings.client_secret.clone())),
        )
        .set_redirect_uri(redirect))
    }

    /// Step one: the provider's authorization URL with a fresh `state`, `nonce` and PKCE
    /// (S256) challenge.
    pub async fn start(&self) -> Result<LoginStart, BrowserError> {
        let metadata = self.metadata(false).await?;
        let client = self.client(&metadata)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge)
            .url();
        Ok(LoginStart {
            url,
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Step two: exchanges `code` (with the PKCE verifier and the client secret), verifies
    /// the ID token (signature, `iss`, `aud`, `exp`, `nonce`) and reads the identity.
    pub async fn finish(
        &self,
        code: &str,
        pkce_verifier: &str,
        nonce: &str,
    ) -> Result<BrowserIdentity, BrowserError> {
        let metadata = self.metadata(false).await?;
        let client = self.client(&metadata)?;
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| BrowserError::Unavailable(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(&self.http)
            .await
            .map_err(|e| BrowserError::Exchange(e.to_string()))?;
        let id_token = response
            .id_token()
            .ok_or_else(|| BrowserError::Exchange("no ID token in the token response".into()))?
            .clone();
        let nonce = Nonce::new(nonce.to_owned());
        let verified = match id_token.claims(&self.id_token_verifier(&client), &nonce) {
            Ok(_) => Ok(()),
            Err(openidconnect::ClaimsVerificationError::SignatureVerification(first)) => {
                // Perhaps the provider rotated its key: refresh (rate-limited) and retry once.
                let fresh = self.metadata(true).await?;
                let client = self.client(&fresh)?;
                let verifier = self.id_token_verifier(&client);
                let retried = id_token.claims(&verifier, &nonce).map(|_| ());
                retried.map_err(|_| BrowserError::IdToken(first.to_string()))
            }
            Err(other) => Err(BrowserError::IdToken(other.to_string())),
        };
        verified?;
        let raw = id_token.to_string();
        // The signature is verified above, so reading the payload directly is safe; it gives
        // the claims openidconnect has no type for (`resource_access`, `sid`).
        let claims = claims_payload(&raw)
            .ok_or_else(|| BrowserError::IdToken("unreadable payload".into()))?;
        let subject = text(&claims, "sub").ok_or_else(|| BrowserError::IdToken("no sub".into()))?;
        let mut roles = roles_of(&claims, &self.settings.client_id);
        let mut profile = claims.clone();
        if roles.is_none() || text(&claims, "email").is_none() {
            // Keycloak puts client roles in the access token and userinfo by default, not
            // always in the ID token: ask userinfo, bound to the same subject.
            if let Some(info) = self
                .userinfo(&metadata, response.access_token().secret())
                .await
                .filter(|info| text(info, "sub").as_deref() == Some(subject.as_str()))
            {
                if roles.is_none() {
                    roles = roles_of(&info, &self.settings.client_id);
                }
                if let (Some(target), Some(info)) = (profile.as_object_mut(), info.as_object()) {
                    for (name, value) in info {
                        target.entry(name.clone()).or_insert_with(|| value.clone());
                    }
                }
            }
        }
        let roles = roles.unwrap_or_default();
        Ok(BrowserIdentity {
            claims: IdentityClaims {
                issuer: self.settings.issuer.clone(),
                subject,
                email: text(&profile, "email"),
                // Only an explicit `true` counts: linking by e-mail depends on it (W3).
                email_verified: profile.get("email_verified") == Some(&Value::Bool(true)),
                first_name: text(&profile, "given_name"),
                last_name: text(&profile, "family_name"),
                is_staff: roles.iter().any(|r| r == "staff"),
                is_superuser: roles.iter().any(|r| r == "superuser"),
            },
            sid: text(&claims, "sid"),
            id_token: raw,
        })
    }

    async fn userinfo(
        &self,
        metadata: &ProviderMetadataWithLogout,
        access_token: &str,
    ) -> Option<Value> {
        let endpoint = metadata.userinfo_endpoint()?;
        let response = self
            .http
            .get(endpoint.url().clone())
            .bearer_auth(access_token)
            .header("accept", "application/json")
            .send()
            .await
            .ok()?;
        if !response.status().is_success() {
            return None;
        }
        // A signed (JWT) userinfo answer is not used; plain JSON over TLS from the
        // provider's own endpoint is authentic enough for roles and names.
        response.json::<Value>().await.ok()
    }

    /// The provider's end-session URL for RP-initiated logout, when it has one.
    pub async fn end_session_url(
        &self,
        id_token_hint: Option<&str>,
        post_logout_redirect: &str,
    ) -> Option<url::Url> {
        let metadata = self.metadata(false).await.ok()?;
        let endpoint = metadata
            .additional_metadata()
            .end_session_endpoint
            .clone()?;
        let mut request = LogoutRequest::from(endpoint)
            .set_client_id(ClientId::new(self.settings.client_id.clone()));
        if let Some(hint) = id_token_hint.and_then(|h| h.parse::<CoreIdToken>().ok()) {
            request = request.set_id_token_hint(&hint);
        }
        if let Ok(redirect) = PostLogoutRedirectUrl::new(post_logout_redirect.to_owned()) {
            request = request.set_post_logout_redirect_uri(redirect);
        }
        Some(request.http_get_url())
    }

    /// Verifies a back-channel logout token (OpenID Connect Back-Channel Logout 1.0 §2.6):
    /// signature from the provider's JWKS, `iss`, `aud`, `iat`, `exp` when present, the
    /// logout event, no `nonce`, header `typ` absent, `logout+jwt` or `JWT`, and a `sid` or
    /// `sub`.
    pub async fn verify_logout_token(&self, token: &str) -> Result<LogoutTarget, BrowserError> {
        let bad = |why: &str| BrowserError::LogoutToken(why.to_owned());
        let header = jsonwebtoken::decode_header(token).map_err(|_| bad("malformed"))?;
        let alg = accepted_algorithm(&format!("{:?}", header.alg))
            .ok_or_else(|| bad("algorithm not accepted"))?;
        if let Some(typ) = header.typ.as_deref() {
            // Explicit typing is optional in the spec and Keycloak sends `JWT`; what makes
            // this a logout token (and not, say, a replayed ID token) is the event and the
            // missing nonce, checked below. Other explicit types are other kinds of token.
            let typ = typ.to_ascii_lowercase();
            if !matches!(
                typ.as_str(),
                "logout+jwt" | "application/logout+jwt" | "jwt" | "application/jwt"
            ) {
                return Err(bad("wrong typ"));
            }
        }
        let key = match self.logout_key(header.kid.as_deref(), false).await? {
            Some(key) => key,
            None => self
                .logout_key(header.kid.as_deref(), true)
                .await?
                .ok_or_else(|| bad("unknown signing key"))?,
        };
        let mut validation = Validation::new(alg);
        validation.leeway = LEEWAY_SECS as u64;
        validation.validate_exp = false; // optional in logout tokens; checked below if present
        validation.set_required_spec_claims(&["iss", "aud"]);
        validation.set_issuer(&[self.settings.issuer.trim_end_matches('/')]);
        validation.set_audience(&[&self.settings.client_id]);
        let data = jsonwebtoken::decode::<Value>(token, &key, &validation)
            .map_err(|e| BrowserError::LogoutToken(e.to_string()))?;
        let claims = data.claims;
        let now = (self.now)().timestamp();
        let iat = claims
            .get("iat")
            .and_then(Value::as_i64)
            .ok_or_else(|| bad("no iat"))?;
        if iat > now + LEEWAY_SECS {
            return Err(bad("issued in the future"));
        }
        if let Some(exp) = claims.get("exp") {
            match exp.as_i64() {
                Some(exp) if exp + LEEWAY_SECS > now => {}
                _ => return Err(bad("expired")),
            }
        }
        if claims.get("nonce").is_some() {
            return Err(bad("a logout token must not carry a nonce"));
        }
        let has_event = claims
            .get("events")
            .and_then(Value::as_object)
            .is_some_and(|events| events.contains_key(BACKCHANNEL_LOGOUT_EVENT));
        if !has_event {
            return Err(bad("no back-channel logout event"));
        }
        let target = LogoutTarget {
            sid: text(&claims, "sid"),
            subject: text(&claims, "sub"),
        };
        if target.sid.is_none() && target.subject.is_none() {
            return Err(bad("neither sid nor sub"));
        }
        Ok(target)
    }

    async fn logout_key(
        &self,
        kid: Option<&str>,
        refresh: bool,
    ) -> Result<Option<DecodingKey>, BrowserError> {
        let metadata = self.metadata(refresh).await?;
        let jwks: jsonwebtoken::jwk::JwkSet = serde_json::to_value(metadata.jwks())
            .and_then(serde_json::from_value)
            .map_err(|e| BrowserError::Unavailable(format!("JWKS: {e}")))?;
        let jwk = match kid {
            Some(kid) => jwks.find(kid),
            None if jwks.keys.len() == 1 => jwks.keys.first(),
            None => None,
        };
        Ok(jwk.and_then(|jwk| DecodingKey::from_jwk(jwk).ok()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn roles_are_read_from_the_client_entry_only() {
        let claims = json!({"resource_access": {"desk": {"roles": ["staff"]}, "other": {"roles": ["superuser"]}}});
        assert_eq!(roles_of(&claims, "desk"), Some(vec!["staff".to_string()]));
        assert_eq!(roles_of(&claims, "absent"), Some(vec![]));
        assert_eq!(roles_of(&json!({}), "desk"), None);
    }

    #[test]
    fn only_asymmetric_algorithms_are_accepted() {
        assert!(accepted_algorithm("HS256").is_none());
        assert!(accepted_algorithm("none").is_none());
        assert_eq!(accepted_algorithm("ES256"), Some(Algorithm::ES256));
    }
}
