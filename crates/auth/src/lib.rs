//! OpenID Connect adapter of Research Desk: verification of bearer access tokens.
//!
//! Machine clients call the API with `Authorization: Bearer <access token>` issued by the
//! configured Keycloak realm. [`BearerVerifier::verify`] accepts a token only when all of this
//! holds (decision W2, `OPERATIONS.md` "Authentication modes"):
//!
//! - the header names RS256, PS256 or ES256 — never `none` and never HS*, because an HMAC
//!   "secret" taken from a public JWKS would let anyone mint tokens;
//! - the signature verifies with the key the issuer publishes under the token's `kid` in the
//!   JWKS found through `{issuer}/.well-known/openid-configuration` → `jwks_uri`;
//! - `iss` equals `DESK_OIDC_ISSUER` exactly, `aud` contains `DESK_OIDC_AUDIENCE`;
//! - `exp` (required) and `nbf` (when present) hold, with [`LEEWAY_SECS`] (30 s) of clock skew;
//! - `sub` is present.
//!
//! The verified claims become [`desk_domain::ports::IdentityClaims`]; the roles `staff` and
//! `superuser` are read from `resource_access.<DESK_OIDC_CLIENT_ID>.roles` on every request.
//!
//! # Key cache and refresh rate limit
//! The discovery document is fetched lazily, once. The JWKS is loaded on the first token and
//! cached by `kid`. A token with an unknown `kid` (the issuer rotated its key) triggers a
//! refresh, but at most once per [`JWKS_REFRESH_INTERVAL`] (60 s): otherwise anyone could make
//! us fetch the JWKS on every request by sending random `kid`s. Loads are serialized by a
//! mutex, so a burst of requests with a new `kid` causes one fetch. While no JWKS has ever been
//! loaded, a failed load is retried after [`INITIAL_LOAD_RETRY`].
//!
//! # Verified-token cache
//! A token that passed the full check is remembered by its SHA-256 until its `exp`
//! ([`verified_tokens`]): the next request with the same token skips the signature check and
//! claim parsing, but `exp`/`nbf` are checked again every time, and the whole cache is
//! dropped whenever the JWKS is loaded again (a withdrawn key stops vouching at once).
//!
//! When the issuer cannot be reached the error is [`AuthError::IssuerUnreachable`]
//! (the HTTP layer answers 503); every other [`AuthError`] is the caller's problem (401).
//!
//! [`local_issuer`] is a real in-process issuer (ES256 keys, Keycloak layout) used by
//! `desk demo` and by the tests.

pub mod browser;
pub mod local_issuer;
pub mod verified_tokens;
mod verifier;

/// The HTTP client [`BearerVerifier::new`] takes, re-exported so callers use the same version.
pub use reqwest;

pub use local_issuer::{AccessTokenSpec, LocalIssuer, RunningIssuer};
pub use verifier::{
    AuthError, BearerVerifier, ConfigError, OidcSettings, INITIAL_LOAD_RETRY,
    JWKS_REFRESH_INTERVAL, LEEWAY_SECS,
};
