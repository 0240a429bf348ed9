//! # desk-testkit
//!
//! The harness shared by the integration tests of every crate: real parts, started by the
//! tests themselves.
//! - [`db::TestDb`]: a fresh PostgreSQL database per test, from a migrated template.
//! - [`issuer::TestIssuer`]: a real OpenID issuer (discovery + JWKS) on 127.0.0.1 that mints tokens.

pub mod db;
pub mod issuer;
pub use issuer::TestIssuer;
