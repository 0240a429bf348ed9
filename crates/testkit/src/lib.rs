//! # desk-testkit
//!
//! The harness shared by the integration tests of every crate: real parts, started by the
//! tests themselves.
//! - [`db::TestDb`]: a fresh PostgreSQL database per test, from a migrated template.
//! - [`issuer::TestIssuer`]: a real OpenID issuer (discovery + JWKS) on 127.0.0.1 that mints tokens.
//! - [`oidc_provider::OidcProvider`]: an independent OpenID provider (node `oidc-provider`) for
//!   the browser login.
//! - [`smtp::SmtpSink`]: a real SMTP server (Python `aiosmtpd`) on 127.0.0.1 that keeps what it receives.

pub mod db;
pub mod issuer;
pub mod oidc_provider;
pub mod smtp;
pub use issuer::TestIssuer;
pub use smtp::SmtpSink;
