//! # desk-app
//!
//! The thin outer layer of Research Desk: the `desk` command line, configuration, logging,
//! and the actix-web HTTP adapter that wires the domain's use cases to the PostgreSQL
//! (`desk-persistence`) and OpenID Connect (`desk-auth`) adapters.
//!
//! Handlers only translate: HTTP request → use-case call (inside one database transaction
//! on the blocking pool) → JSON:API document. Access rules come from `desk_domain::policy`.

pub mod cli;
pub mod config;
pub mod demo;
pub mod files;
pub mod http;
pub mod metrics;
pub mod queue_cli;
pub mod reviews_cli;
pub mod server;
pub mod worker;
