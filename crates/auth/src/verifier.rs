//! Bearer access-token verification against the issuer's discovery document and JWKS.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use desk_domain::ports::IdentityClaims;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use tokio::sync::{Mutex, RwLock};

use crate::local_issuer::DISCOVERY_PATH;
use crate::verified_tokens::VerifiedTokens;

/// Clock skew tolerated on `exp` and `nbf`: the issuer's and our clocks may disagree a little;
/// 30 s is small against Keycloak's usual 5-minute access tokens.
pub const LEEWAY_SECS: u64 = 30;

/// Minimum time between two JWKS refreshes caused by an unknown `kid`. Without it, anyone could
/// make us fetch the JWKS on every request by sending random `kid`s.
pub const JWKS_REFRESH_INTERVAL: Duration = Duration::from_secs(60);

/// While no JWKS has ever been loaded (e.g. the issuer was down at start), a failed load is
/// retried after this long instead of a full refresh interval, so an outage at start-up ends
/// soon after the issuer is back, while still not hammering it.
pub const INITIAL_LOAD_RETRY: Duration = Duration::from_secs(5);

/// Per-request timeout for discovery and JWKS fetches: a hung issuer must not hold the refresh
/// lock (and thus every request with a new `kid`) indefinitely.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// The only signature algorithms accepted (decision W2). Never `none`, never HMAC: an HMAC
/// "key" would be public JWKS material.
fn accepted_algorithm(name: &str) -> Option<Algorithm> {
    match name {
        "RS256" => Some(Algorithm::RS256),
        "PS256" => Some(Algorithm::PS256),
        "ES256" => Some(Algorithm::ES256),
        _ => None,
    }
}

/// Where bearer tokens come from and whom they must be for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcSettings {
    /// `DESK_OIDC_ISSUER`: the realm URL, compared verbatim with the token's `iss`.
    pub issuer: String,
    /// `DESK_OIDC_AUDIENCE`: must be in the token's `aud`.
    pub audience: String,
    /// `DESK_OIDC_CLIENT_ID`: roles are read from `resource_access.<client_id>.roles`.
    pub client_id: String,
}

/// The settings cannot work; raised by [`BearerVerifier::new`] at start-up.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("DESK_OIDC_ISSUER is not a valid URL: {0}")]
    InvalidIssuerUrl(String),
    #[error(
        "DESK_OIDC_ISSUER must use https (plain http is accepted only for loopback hosts: \
         127.0.0.0/8, ::1, localhost); got {0}"
    )]
    InsecureIssuer(String),
    #[error("DESK_OIDC_AUDIENCE must not be empty")]
    EmptyAudience,
    #[error("DESK_OIDC_CLIENT_ID must not be empty")]
    EmptyClientId,
}

/// Why a bearer token was refused. Messages never contain the token.
///
/// [`IssuerUnreachable`](AuthError::IssuerUnreachable) means we could not check the token at
/// all (answer 503); every other variant means the token is not acceptable (answer 401).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum AuthError {
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    #[error("unsupported token algorithm {0:?} (accepted: RS256, PS256, ES256)")]
    UnsupportedAlgorithm(String),
    #[error("token signed with a key the issuer does not publish")]
    UnknownKey,
    #[error("invalid token signature")]
    BadSignature,
    #[error("token issued by another issuer")]
    WrongIssuer,
    #[error("token not issued for this audience")]
    WrongAudience,
    #[error("token expired")]
    Expired,
    #[error("token not yet valid")]
    NotYetValid,
    #[error("token lacks the required claim {0:?}")]
    MissingClaim(&'static str),
    #[error("the OpenID issuer could not be reached: {0}")]
    IssuerUnreachable(String),
}

impl AuthError {
    /// True when the failure is ours or the issuer's, not the caller's (HTTP 503).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, AuthError::IssuerUnreachable(_))
    }
}

/// The key types the accepted algorithms need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Rsa,
    EcP256,
}

fn key_kind_for(alg: Algorithm) -> KeyKind {
    match alg {
        Algorithm::ES256 => KeyKind::EcP256,
        _ => KeyKind::Rsa,
    }
}

struct CachedKey {
    kid: Option<String>,
    /// `alg` from the JWK, when the issuer pins one.
    alg: Option<Algorithm>,
    kind: KeyKind,
    key: Arc<DecodingKey>,
}

/// Result of looking a key up in the cache.
enum Lookup {
    Found(Arc<DecodingKey>),
    /// A key with that `kid` exists but cannot verify this algorithm (e.g. `alg: RS256` with an
    /// EC key's `kid`): a forgery attempt or a broken token, not a reason to refresh.
    Mismatch,
    Missing,
}

fn lookup(keys: &[CachedKey], kid: Option<&str>, alg: Algorithm) -> Lookup {
    let wanted = key_kind_for(alg);
    let usable = |k: &CachedKey| k.kind == wanted && k.alg.unwrap_or(alg) == alg;
    match kid {
        Some(kid) => match keys.iter().find(|k| k.kid.as_deref() == Some(kid)) {
            Some(k) if usable(k) => Lookup::Found(k.key.clone()),
            Some(_) => Lookup::Mismatch,
            None => Lookup::Missing,
        },
        // Without a `kid` only an unambiguous key will do.
        None => {
            let mut candidates = keys.iter().filter(|k| usable(k));
            match (candidates.next(), candidates.next()) {
                (Some(k), None) => Lookup::Found(k.key.clone()),
                _ => Lookup::Missing,
            }
        }
    }
}

/// Bookkeeping of JWKS loads, guarded by the refresh mutex.
#[derive(Default)]
struct RefreshState {
    /// `jwks_uri` from the discovery document, fetched once.
    jwks_uri: Option<String>,
    /// At least one JWKS was loaded successfully.
    loaded: bool,
    /// When the last refresh after the initial load was attempted.
    last_refresh: Option<Instant>,
    /// When the last initial-load attempt failed, and why.
    last_failure: Option<(Instant, String)>,
}

/// Verifies bearer access tokens issued by one OpenID Connect issuer.
///
/// Cheap to share behind an `Arc` (or `web::Data`); all state is internal and async-safe.
pub struct BearerVerifier {
    settings: OidcSettings,
    http: reqwest::Client,
    keys: RwLock<Vec<CachedKey>>,
    /// Serializes JWKS loads so concurrent requests with a new `kid` cause one fetch, not many.
    refresh: Mutex<RefreshState>,
    /// Tokens that passed the full check; emptied on every JWKS load.
    verified: VerifiedTokens,
}

impl std::fmt::Debug for BearerVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BearerVerifier")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// `https`, or `http` to a loopback host (a local Keycloak or the demo issuer).
fn check_issuer_url(issuer: &str) -> Result<(), ConfigError> {
    let url = url::Url::parse(issuer)
        .map_err(|e| ConfigError::InvalidIssuerUrl(format!("{issuer} ({e})")))?;
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&url) => Ok(()),
        "http" => Err(ConfigError::InsecureIssuer(issuer.to_owned())),
        other => Err(ConfigError::InvalidIssuerUrl(format!(
            "{issuer} (scheme {other} is not http(s))"
        ))),
    }
}

fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    }
}

/// The token's header, read by hand: `jsonwebtoken` cannot even parse `alg: none`, and we
/// want to refuse unsupported algorithms before any key lookup.
fn read_header(token: &str) -> Result<(Algorithm, Option<String>), AuthError> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::Malformed("not a compact JWS"));
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| AuthError::Malformed("header is not base64url"))?;
    let header: Value =
        serde_json::from_slice(&bytes).map_err(|_| AuthError::Malformed("header is not JSON"))?;
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(AuthError::Malformed("header has no alg"))?;
    // Echo a bounded amount of the attacker-supplied name, for the log.
    let alg = accepted_algorithm(alg)
        .ok_or_else(|| AuthError::UnsupportedAlgorithm(alg.chars().take(16).collect()))?;
    let kid = match header.get("kid") {
        None | Some(Value::Null) => None,
        Some(Value::String(kid)) => Some(kid.clone()),
        Some(_) => return Err(AuthError::Malformed("kid is not a string")),
    };
    Ok((alg, kid))
}

/// Turns one JWKS entry into a cached key; `None` for keys we cannot or must not use
/// (encryption keys, other curves or types — Keycloak publishes RSA-OAEP keys too).
fn parse_jwk(jwk: &Value) -> Option<CachedKey> {
    let field = |name: &str| jwk.get(name).and_then(Value::as_str);
    if field("use").is_some_and(|u| u != "sig") {
        return None;
    }
    let alg = match field("alg") {
        None => None,
        Some(name) => Some(accepted_algorithm(name)?),
    };
    let (kind, key) = match field("kty")? {
        "RSA" => (
            KeyKind::Rsa,
            DecodingKey::from_rsa_components(field("n")?, field("e")?).ok()?,
        ),
        "EC" if field("crv")? == "P-256" => (
            KeyKind::EcP256,
            DecodingKey::from_ec_components(field("x")?, field("y")?).ok()?,
        ),
        _ => return None,
    };
    Some(CachedKey {
        kid: field("kid").map(str::to_owned),
        alg,
        kind,
        key: Arc::new(key),
    })
}

impl BearerVerifier {
    /// Checks the settings (see [`ConfigError`]); nothing is fetched until the first token.
    pub fn new(settings: OidcSettings, http: reqwest::Client) -> Result<Self, ConfigError> {
        check_issuer_url(&settings.issuer)?;
        if settings.audience.is_empty() {
            return Err(ConfigError::EmptyAudience);
        }
        if settings.client_id.is_empty() {
            return Err(ConfigError::EmptyClientId);
        }
        Ok(Self {
            settings,
            http,
            keys: RwLock::new(Vec::new()),
            refresh: Mutex::new(RefreshState::default()),
            verified: VerifiedTokens::default(),
        })
    }

    /// The settings this verifier was built with.
    pub fn settings(&self) -> &OidcSettings {
        &self.settings
    }

    /// Verifies a bearer token (without the `Bearer ` prefix) and maps its claims. A token
    /// verified before is answered from [`VerifiedTokens`] while its `exp`/`nbf` hold.
    pub async fn verify(&self, token: &str) -> Result<IdentityClaims, AuthError> {
        let now = unix_now();
        if let Some(claims) = self.verified.get(token, now, LEEWAY_SECS) {
            return Ok(claims);
        }
        let generation = self.verified.generation();
        let (alg, kid) = read_header(token)?;
        let key = self.key_for(kid.as_deref(), alg).await?;

        let mut validation = Validation::new(alg);
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&[&self.settings.audience]);
        validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);

        let data =
            jsonwebtoken::decode::<Value>(token, &key, &validation).map_err(map_jwt_error)?;
        let claims = self.map_claims(&data.claims)?;
        // `exp` is required and was checked, so it is a number here; `nbf` is optional.
        if let Some(expires) = data.claims.get("exp").and_then(Value::as_u64) {
            let not_before = data.claims.get("nbf").and_then(Value::as_u64);
            self.verified.insert(
                token,
                &claims,
                expires,
                not_before,
                now,
                LEEWAY_SECS,
                generation,
            );
        }
        Ok(claims)
    }

    /// How many verified tokens are remembered (the tests read it).
    pub fn verified_tokens(&self) -> usize {
        self.verified.len()
    }

    fn map_claims(&self, claims: &Value) -> Result<IdentityClaims, AuthError> {
        let text = |name: &str| {
            claims
                .get(name)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let subject = text("sub").ok_or(AuthError::MissingClaim("sub"))?;
        let roles: Vec<&str> = claims
            .get("resource_access")
            .and_then(|r| r.get(&self.settings.client_id))
            .and_then(|c| c.get("roles"))
            .and_then(Value::as_array)
            .map(|roles| roles.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        Ok(IdentityClaims {
            issuer: self.settings.issuer.clone(),
            subject,
            email: text("email"),
            // Only an explicit `true` counts: linking by e-mail depends on it (W3).
            email_verified: claims.get("email_verified") == Some(&Value::Bool(true)),
            first_name: text("given_name"),
            last_name: text("family_name"),
            is_staff: roles.contains(&"staff"),
            is_superuser: roles.contains(&"superuser"),
        })
    }

    /// The key for (`kid`, `alg`), loading or refreshing the JWKS when needed and allowed.
    async fn key_for(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<Arc<DecodingKey>, AuthError> {
        match lookup(&self.keys.read().await, kid, alg) {
            Lookup::Found(key) => return Ok(key),
            Lookup::Mismatch => return Err(AuthError::BadSignature),
            Lookup::Missing => {}
        }

        let mut state = self.refresh.lock().await;
        // Another request may have refreshed while we waited for the lock.
        match lookup(&self.keys.read().await, kid, alg) {
            Lookup::Found(key) => return Ok(key),
            Lookup::Mismatch => return Err(AuthError::BadSignature),
            Lookup::Missing => {}
        }

        let now = Instant::now();
        if state.loaded {
            if state
                .last_refresh
                .is_some_and(|t| now.duration_since(t) < JWKS_REFRESH_INTERVAL)
            {
                return Err(AuthError::UnknownKey);
            }
            state.last_refresh = Some(now);
        } else if let Some((at, reason)) = &state.last_failure {
            if now.duration_since(*at) < INITIAL_LOAD_RETRY {
                return Err(AuthError::IssuerUnreachable(reason.clone()));
            }
        }

        let fetched = match self.fetch_jwks(&mut state).await {
            Ok(keys) => keys,
            Err(reason) => {
                tracing::warn!(issuer = %self.settings.issuer, %reason, "JWKS fetch failed");
                if !state.loaded {
                    state.last_failure = Some((now, reason.clone()));
                }
                return Err(AuthError::IssuerUnreachable(reason));
            }
        };
        tracing::info!(issuer = %self.settings.issuer, keys = fetched.len(), "JWKS loaded");
        let reloaded = state.loaded;
        state.loaded = true;
        state.last_failure = None;
        let mut keys = self.keys.write().await;
        *keys = fetched;
        // Verdicts given under the old key set may rest on a key that is gone now. (Before
        // the first load there were none.)
        if reloaded {
            self.verified.clear();
        }
        match lookup(&keys, kid, alg) {
            Lookup::Found(key) => Ok(key),
            Lookup::Mismatch => Err(AuthError::BadSignature),
            Lookup::Missing => Err(AuthError::UnknownKey),
        }
    }

    /// Discovery (once) then the JWKS. Errors are human-readable reasons for the log.
    async fn fetch_jwks(&self, state: &mut RefreshState) -> Result<Vec<CachedKey>, String> {
        let jwks_uri = match &state.jwks_uri {
            Some(uri) => uri.clone(),
            None => {
                let uri = self.discover_jwks_uri().await?;
                state.jwks_uri = Some(uri.clone());
                uri
            }
        };
        let jwks: Value = self.get_json(&jwks_uri).await?;
        let keys: Vec<CachedKey> = jwks
            .get("keys")
            .and_then(Value::as_array)
            .ok_or_else(|| format!("{jwks_uri} is not a JWKS"))?
            .iter()
            .filter_map(parse_jwk)
            .collect();
        Ok(keys)
    }

    async fn discover_jwks_uri(&self) -> Result<String, String> {
        let url = format!(
            "{}{DISCOVERY_PATH}",
            self.settings.issuer.trim_end_matches('/')
        );
        let doc = self.get_json(&url).await?;
        // OpenID Connect Discovery §4.3: the document must name exactly our issuer; otherwise
        // we are talking to the wrong realm or a misconfigured proxy.
        if doc.get("issuer").and_then(Value::as_str) != Some(self.settings.issuer.as_str()) {
            return Err(format!(
                "{url} names issuer {:?}, expected {:?}",
                doc.get("issuer"),
                self.settings.issuer
            ));
        }
        let jwks_uri = doc
            .get("jwks_uri")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{url} has no jwks_uri"))?;
        // The keys deserve the same transport protection as the issuer itself.
        check_issuer_url(jwks_uri).map_err(|e| format!("jwks_uri rejected: {e}"))?;
        Ok(jwks_uri.to_owned())
    }

    async fn get_json(&self, url: &str) -> Result<Value, String> {
        let response = self
            .http
            .get(url)
            .timeout(FETCH_TIMEOUT)
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("GET {url}: HTTP {status}"));
        }
        response
            .json::<Value>()
            .await
            .map_err(|e| format!("GET {url}: invalid JSON ({e})"))
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn map_jwt_error(error: jsonwebtoken::errors::Error) -> AuthError {
    match error.into_kind() {
        ErrorKind::InvalidSignature | ErrorKind::InvalidEcdsaKey | ErrorKind::Crypto(_) => {
            AuthError::BadSignature
        }
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => {
            AuthError::UnsupportedAlgorithm("mismatch".into())
        }
        ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
        ErrorKind::InvalidAudience => AuthError::WrongAudience,
        ErrorKind::ExpiredSignature => AuthError::Expired,
        ErrorKind::ImmatureSignature => AuthError::NotYetValid,
        ErrorKind::MissingRequiredClaim(claim) => match claim.as_str() {
            "iss" => AuthError::WrongIssuer,
            "aud" => AuthError::WrongAudience,
            "exp" => AuthError::MissingClaim("exp"),
            _ => AuthError::MissingClaim("sub"),
        },
        _ => AuthError::Malformed("undecodable claims or signature"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(issuer: &str) -> OidcSettings {
        OidcSettings {
            issuer: issuer.into(),
            audience: "desk".into(),
            client_id: "desk".into(),
        }
    }

    fn new(issuer: &str) -> Result<BearerVerifier, ConfigError> {
        BearerVerifier::new(settings(issuer), reqwest::Client::new())
    }

    #[test]
    fn plain_http_is_refused_for_non_loopback_issuers() {
        let err = new("http://sso.example.org/realms/desk").unwrap_err();
        assert!(matches!(err, ConfigError::InsecureIssuer(_)));
        assert!(err.to_string().contains("DESK_OIDC_ISSUER"));
        assert!(new("http://10.0.0.1/realms/desk").is_err());
        assert!(new("ftp://127.0.0.1/realms/desk").is_err());
        assert!(new("not a url").is_err());
    }

    #[test]
    fn https_and_loopback_http_are_accepted() {
        for ok in [
            "https://sso.example.org/realms/desk",
            "http://127.0.0.1:8080/realms/desk",
            "http://127.9.9.9/realms/desk",
            "http://[::1]:8080/realms/desk",
            "http://localhost:8080/realms/desk",
        ] {
            assert!(new(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn header_parsing_refuses_none_and_hmac() {
        let enc = |h: &str| format!("{}.e30.sig", URL_SAFE_NO_PAD.encode(h));
        assert_eq!(
            read_header(&enc(r#"{"alg":"none"}"#)).unwrap_err(),
            AuthError::UnsupportedAlgorithm("none".into())
        );
        assert!(matches!(
            read_header(&enc(r#"{"alg":"HS256","kid":"k"}"#)),
            Err(AuthError::UnsupportedAlgorithm(_))
        ));
        assert_eq!(
            read_header(&enc(r#"{"alg":"ES256","kid":"k"}"#)).unwrap(),
            (Algorithm::ES256, Some("k".into()))
        );
        assert!(matches!(read_header("a.b"), Err(AuthError::Malformed(_))));
    }

    #[test]
    fn errors_do_not_echo_tokens() {
        let err = read_header("not-a-token-secret").unwrap_err();
        assert!(!err.to_string().contains("secret"));
    }
}
