//! A real OpenID issuer on 127.0.0.1 for integration tests: discovery document and JWKS over
//! HTTP, Keycloak URL layout (`http://127.0.0.1:PORT/realms/desk`), ES256 tokens with
//! Keycloak-shaped claims. A thin convenience over [`desk_auth::local_issuer`].
//!
//! ```no_run
//! # async fn example() {
//! use desk_testkit::TestIssuer;
//! let issuer = TestIssuer::start().await;
//! let verifier = issuer.verifier();
//! let token = issuer.token_with_roles("user-1", &["staff"]);
//! let claims = verifier.verify(&token).await.unwrap();
//! assert!(claims.is_staff);
//! # }
//! ```

use std::net::{Ipv4Addr, SocketAddr};

use desk_auth::local_issuer::{AccessTokenSpec, LocalIssuer, RunningIssuer};
use desk_auth::{BearerVerifier, OidcSettings};

/// Client id (and audience) the test issuer's tokens are minted for by default.
pub const TEST_CLIENT_ID: &str = "desk";

/// A running test issuer. Dropping it stops the server.
#[derive(Debug)]
pub struct TestIssuer {
    running: RunningIssuer,
    client_id: String,
}

impl TestIssuer {
    /// Starts an issuer on a free port of 127.0.0.1 for the client [`TEST_CLIENT_ID`].
    pub async fn start() -> Self {
        Self::start_for_client(TEST_CLIENT_ID).await
    }

    /// Starts an issuer whose tokens target `client_id` (audience and `resource_access` key).
    pub async fn start_for_client(client_id: &str) -> Self {
        let running = LocalIssuer::new()
            .serve(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .await
            .expect("the test issuer binds 127.0.0.1:0");
        Self {
            running,
            client_id: client_id.to_owned(),
        }
    }

    /// The issuer URL (`DESK_OIDC_ISSUER`), e.g. `http://127.0.0.1:41234/realms/desk`.
    pub fn url(&self) -> &str {
        &self.running.url
    }

    /// The client id tokens are minted for (`DESK_OIDC_CLIENT_ID` and `DESK_OIDC_AUDIENCE`).
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The underlying issuer: sign arbitrary claims, rotate keys.
    pub fn issuer(&self) -> &LocalIssuer {
        self.running.issuer()
    }

    /// Settings that make a verifier trust this issuer.
    pub fn settings(&self) -> OidcSettings {
        OidcSettings {
            issuer: self.url().to_owned(),
            audience: self.client_id.clone(),
            client_id: self.client_id.clone(),
        }
    }

    /// A verifier that trusts this issuer.
    pub fn verifier(&self) -> BearerVerifier {
        BearerVerifier::new(self.settings(), reqwest_client())
            .expect("a loopback issuer is accepted")
    }

    /// Token parameters for `subject` (no roles, no profile claims, 5 minutes); adjust and
    /// pass to [`mint`](Self::mint).
    pub fn spec(&self, subject: &str) -> AccessTokenSpec {
        AccessTokenSpec::new(self.url(), &self.client_id, subject)
    }

    /// A signed access token for `spec`.
    pub fn mint(&self, spec: &AccessTokenSpec) -> String {
        self.issuer().access_token_for(spec)
    }

    /// A valid access token for `subject` with e-mail `{subject}@example.org` (verified).
    pub fn token(&self, subject: &str) -> String {
        self.token_with_roles(subject, &[])
    }

    /// Like [`token`](Self::token) with client roles (`"staff"`, `"superuser"`).
    pub fn token_with_roles(&self, subject: &str, roles: &[&str]) -> String {
        let mut spec = self.spec(subject);
        spec.email = Some(format!("{subject}@example.org"));
        spec.email_verified = true;
        spec.given_name = Some("Test".to_owned());
        spec.family_name = Some(subject.to_owned());
        spec.roles = roles.iter().map(|r| (*r).to_owned()).collect();
        self.mint(&spec)
    }

    /// How many times the JWKS was fetched.
    pub fn jwks_fetch_count(&self) -> usize {
        self.running.jwks_fetch_count()
    }

    /// Stops the server (tests of the "issuer unreachable" path).
    pub async fn stop(self) {
        self.running.stop().await;
    }
}

fn reqwest_client() -> desk_auth::reqwest::Client {
    desk_auth::reqwest::Client::new()
}
