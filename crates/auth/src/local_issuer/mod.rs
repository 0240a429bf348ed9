//! A small, real OpenID Connect issuer that lives in the process.
//!
//! `desk demo` uses it as its built-in identity provider and the test suites use it as the
//! issuer they verify against, so both exercise exactly the code path production uses against
//! Keycloak: discovery document → JWKS → ES256 signature. It mimics Keycloak's URL layout
//! (`/realms/{realm}/protocol/openid-connect/certs`) and claim shapes (`resource_access`).
//!
//! The key pair is generated at start and never leaves memory. [`LocalIssuer`] is cheap to
//! clone; clones share keys and the JWKS fetch counter.
//!
//! For `desk demo` it can also play the browser side of a provider ([`browser`]): a page to
//! pick a demo person, authorization codes with PKCE and a token endpoint.

pub mod browser;
pub mod server;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::pkcs8::EncodePrivateKey;
use rand::rngs::OsRng;
use rand::RngCore;
use serde_json::{json, Value};

pub use browser::{BrowserLogin, DemoPerson};
pub use server::RunningIssuer;

/// Path of the JWKS below the issuer URL (Keycloak's layout).
pub const JWKS_PATH: &str = "/protocol/openid-connect/certs";
/// Path of the discovery document below the issuer URL (OpenID Connect Discovery 1.0).
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";

/// One ES256 signing key: the private half for signing, the public half as a JWK.
struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    public_jwk: Value,
}

impl SigningKey {
    fn generate(kid: String) -> Self {
        let secret = p256::SecretKey::random(&mut OsRng);
        let der = secret
            .to_pkcs8_der()
            .expect("a freshly generated P-256 key encodes as PKCS#8");
        let encoding = EncodingKey::from_ec_der(der.as_bytes());
        let mut public_jwk =
            serde_json::to_value(secret.public_key().to_jwk()).expect("a JWK serializes");
        let obj = public_jwk.as_object_mut().expect("a JWK is a JSON object");
        obj.insert("kid".into(), Value::String(kid.clone()));
        obj.insert("use".into(), Value::String("sig".into()));
        obj.insert("alg".into(), Value::String("ES256".into()));
        Self {
            kid,
            encoding,
            public_jwk,
        }
    }
}

struct KeyRing {
    current: SigningKey,
    /// The key before the last [`LocalIssuer::rotate`]: still published so tokens it signed
    /// stay verifiable until they expire, as a real provider does during a rotation.
    previous: Option<SigningKey>,
}

struct Inner {
    keys: RwLock<KeyRing>,
    jwks_fetches: AtomicUsize,
    browser: browser::BrowserState,
}

/// An in-process ES256 token issuer with Keycloak-shaped discovery, JWKS and claims.
#[derive(Clone)]
pub struct LocalIssuer {
    inner: Arc<Inner>,
}

impl Default for LocalIssuer {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for LocalIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("LocalIssuer")
            .field("kid", &self.kid())
            .finish_non_exhaustive()
    }
}

fn random_kid() -> String {
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl LocalIssuer {
    /// A new issuer with a freshly generated P-256 key and a random `kid`.
    pub fn new() -> Self {
        Self::with_kid(random_kid())
    }

    /// A new issuer whose first key has the given `kid`. Tests use it to forge a token signed
    /// by a different key under a `kid` the verifier already trusts.
    pub fn with_kid(kid: impl Into<String>) -> Self {
        Self {
            inner: Arc::new(Inner {
                keys: RwLock::new(KeyRing {
                    current: SigningKey::generate(kid.into()),
                    previous: None,
                }),
                jwks_fetches: AtomicUsize::new(0),
                browser: browser::BrowserState::default(),
            }),
        }
    }

    fn keys(&self) -> std::sync::RwLockReadGuard<'_, KeyRing> {
        // A poisoned lock only means a panic elsewhere; the key ring itself is always valid.
        self.inner.keys.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The `kid` of the key that [`sign`](Self::sign) currently uses.
    pub fn kid(&self) -> String {
        self.keys().current.kid.clone()
    }

    /// The OpenID Connect discovery document for an issuer served at `issuer_url`
    /// (e.g. `http://127.0.0.1:PORT/realms/desk`).
    pub fn discovery_document(&self, issuer_url: &str) -> Value {
        let iss = issuer_url.trim_end_matches('/');
        let oidc = format!("{iss}/protocol/openid-connect");
        json!({
            "issuer": iss,
            "authorization_endpoint": format!("{oidc}/auth"),
            "token_endpoint": format!("{oidc}/token"),
            "userinfo_endpoint": format!("{oidc}/userinfo"),
            "end_session_endpoint": format!("{oidc}/logout"),
            "jwks_uri": format!("{iss}{JWKS_PATH}"),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["openid", "email", "profile"],
            "claims_supported": [
                "iss", "sub", "aud", "exp", "iat", "nbf", "azp", "email", "email_verified",
                "given_name", "family_name", "preferred_username", "name"
            ],
        })
    }

    /// The public JWKS: the current key and, during a rotation, the previous one.
    pub fn jwks(&self) -> Value {
        let ring = self.keys();
        let mut keys = vec![ring.current.public_jwk.clone()];
        if let Some(previous) = &ring.previous {
            keys.push(previous.public_jwk.clone());
        }
        json!({ "keys": keys })
    }

    /// Signs arbitrary claims with the current key (header `alg: ES256`, `typ: JWT`, `kid`).
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_with_typ(claims, Some("JWT"))
    }

    /// Like [`sign`](Self::sign) with the header `typ` given (`None` leaves it out); tests
    /// use it for explicitly typed tokens such as `logout+jwt`.
    pub fn sign_with_typ(&self, claims: &Value, typ: Option<&str>) -> String {
        let ring = self.keys();
        let mut header = Header::new(Algorithm::ES256);
        header.typ = typ.map(str::to_owned);
        header.kid = Some(ring.current.kid.clone());
        jsonwebtoken::encode(&header, claims, &ring.current.encoding)
            .expect("ES256 signing with a valid key cannot fail")
    }

    /// Replaces the signing key with a new one (new random `kid`). The old key stays in the
    /// JWKS until [`retire_previous_key`](Self::retire_previous_key) or the next rotation.
    pub fn rotate(&self) {
        let mut ring = self.inner.keys.write().unwrap_or_else(|e| e.into_inner());
        let new = SigningKey::generate(random_kid());
        let old = std::mem::replace(&mut ring.current, new);
        ring.previous = Some(old);
    }

    /// Stops publishing the key that was current before the last rotation.
    pub fn retire_previous_key(&self) {
        let mut ring = self.inner.keys.write().unwrap_or_else(|e| e.into_inner());
        ring.previous = None;
    }

    /// How many times the JWKS was served over HTTP (lets tests assert caching behaviour).
    pub fn jwks_fetch_count(&self) -> usize {
        self.inner.jwks_fetches.load(Ordering::SeqCst)
    }

    pub(crate) fn record_jwks_fetch(&self) {
        self.inner.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    }

    /// Keycloak-shaped access-token claims for `spec` (not signed; see
    /// [`access_token_for`](Self::access_token_for)). Tests tweak these to build bad tokens.
    pub fn access_token_claims(&self, spec: &AccessTokenSpec) -> Value {
        let now = now_secs();
        let aud = match spec.audience.as_slice() {
            [single] => Value::String(single.clone()),
            many => json!(many),
        };
        let mut claims = json!({
            "iss": spec.issuer_url.trim_end_matches('/'),
            "sub": spec.subject,
            "aud": aud,
            "azp": spec.client_id,
            "typ": "Bearer",
            "iat": now,
            "nbf": now,
            "exp": now + spec.lifetime.as_secs(),
            "jti": random_kid(),
            "scope": "openid email profile",
            "email_verified": spec.email_verified,
            "resource_access": {
                spec.client_id.clone(): { "roles": spec.roles }
            },
        });
        let obj = claims.as_object_mut().expect("claims are a JSON object");
        // Keycloak leaves out profile claims the user does not have.
        for (name, value) in [
            ("email", &spec.email),
            ("given_name", &spec.given_name),
            ("family_name", &spec.family_name),
        ] {
            if let Some(value) = value {
                obj.insert(name.into(), Value::String(value.clone()));
            }
        }
        let username = spec.email.clone().unwrap_or_else(|| spec.subject.clone());
        obj.insert("preferred_username".into(), Value::String(username));
        claims
    }

    /// A signed access token for `spec`.
    pub fn access_token_for(&self, spec: &AccessTokenSpec) -> String {
        self.sign(&self.access_token_claims(spec))
    }

    /// A signed, Keycloak-shaped access token. `audience` with one entry becomes a string
    /// `aud`, with several an array; `roles` go to `resource_access.<client_id>.roles`.
    #[allow(clippy::too_many_arguments)] // mirrors the claims one to one; see AccessTokenSpec
    pub fn access_token(
        &self,
        issuer_url: &str,
        audience: &[&str],
        client_id: &str,
        subject: &str,
        email: Option<&str>,
        email_verified: bool,
        given_name: Option<&str>,
        family_name: Option<&str>,
        roles: &[&str],
        lifetime: Duration,
    ) -> String {
        self.access_token_for(&AccessTokenSpec {
            issuer_url: issuer_url.to_owned(),
            audience: audience.iter().map(|s| (*s).to_owned()).collect(),
            client_id: client_id.to_owned(),
            subject: subject.to_owned(),
            email: email.map(str::to_owned),
            email_verified,
            given_name: given_name.map(str::to_owned),
            family_name: family_name.map(str::to_owned),
            roles: roles.iter().map(|s| (*s).to_owned()).collect(),
            lifetime,
        })
    }
}

/// What goes into an access token minted by [`LocalIssuer::access_token_for`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessTokenSpec {
    pub issuer_url: String,
    /// One entry → `aud` is a string; several → an array.
    pub audience: Vec<String>,
    /// Becomes `azp` and the key under `resource_access`.
    pub client_id: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub roles: Vec<String>,
    pub lifetime: Duration,
}

impl AccessTokenSpec {
    /// A token for `subject` with audience and client both `client_id`, no profile claims,
    /// no roles, valid for five minutes.
    pub fn new(issuer_url: &str, client_id: &str, subject: &str) -> Self {
        Self {
            issuer_url: issuer_url.to_owned(),
            audience: vec![client_id.to_owned()],
            client_id: client_id.to_owned(),
            subject: subject.to_owned(),
            email: None,
            email_verified: false,
            given_name: None,
            family_name: None,
            roles: Vec::new(),
            lifetime: Duration::from_secs(300),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jwks_publishes_public_keys_only_and_keeps_previous_on_rotation() {
        let issuer = LocalIssuer::new();
        let first = issuer.kid();
        let jwks = issuer.jwks();
        let keys = jwks["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0]["kid"], first.as_str());
        assert_eq!(keys[0]["kty"], "EC");
        assert_eq!(keys[0]["crv"], "P-256");
        assert!(
            keys[0].get("d").is_none(),
            "private scalar must not be published"
        );

        issuer.rotate();
        assert_ne!(issuer.kid(), first);
        let kids: Vec<_> = issuer.jwks()["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(kids, vec![issuer.kid(), first]);

        issuer.retire_previous_key();
        assert_eq!(issuer.jwks()["keys"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn claims_are_keycloak_shaped() {
        let issuer = LocalIssuer::new();
        let mut spec = AccessTokenSpec::new("http://127.0.0.1:1/realms/desk", "desk", "u1");
        spec.audience = vec!["desk".into(), "account".into()];
        spec.roles = vec!["staff".into()];
        spec.email = Some("a@example.org".into());
        let claims = issuer.access_token_claims(&spec);
        assert_eq!(claims["aud"], json!(["desk", "account"]));
        assert_eq!(claims["resource_access"]["desk"]["roles"], json!(["staff"]));
        assert_eq!(claims["typ"], "Bearer");
        assert_eq!(claims["azp"], "desk");
        assert!(claims.get("given_name").is_none());

        let doc = issuer.discovery_document("http://127.0.0.1:1/realms/desk");
        assert_eq!(
            doc["jwks_uri"],
            "http://127.0.0.1:1/realms/desk/protocol/openid-connect/certs"
        );
    }
}
