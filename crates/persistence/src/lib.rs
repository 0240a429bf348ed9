//! # Research Desk persistence
//!
//! The PostgreSQL adapter of the desk: the schema (`migrations/` at the workspace root,
//! embedded as [`MIGRATIONS`]), an r2d2 pool of diesel connections ([`Database`]), and
//! [`PgUnitOfWork`], which implements every repository port of `desk_domain::ports` on one
//! transaction.
//!
//! Access control is decided by the domain policy; this crate only translates a
//! [`desk_domain::Scope`] into SQL. That translation lives in exactly one module, [`scope`]
//! ([`scope::visible_tickets`], and the same set as an id list for a participant's page),
//! and every ticket-bound query goes through it (a property test checks both forms against
//! `desk_domain::policy::ticket_visible`).
//!
//! The API is synchronous on purpose: diesel is blocking, and the HTTP layer runs each unit
//! of work on its blocking thread pool (`web::block`), one transaction per request via
//! [`Database::in_transaction`].
//!
//! Some summaries are kept by the database itself, in triggers of the migrations, so that
//! reads stay small whatever the data size: `ticket_status_counts` (superusers' totals),
//! `ticket_participants` and `profile_ticket_counts` (a participant's scope and
//! `tickets-count`), and `ticket_stats` with its append-only `ticket_stats_deltas` (the
//! statistics by month, country and responder, folded when read), `review_stats` (review
//! statistics by responder, per month), `ticket_activity_counts` (the size of a ticket's
//! timeline). Each has a property test that compares it with a recount after random writes
//! and under concurrent writers. The triggers are PL/pgSQL, whose statements PostgreSQL
//! plans once per connection; hand-written SQL of the adapter goes through
//! `fragments::static_sql` and `fragments::prepared`, so diesel keeps it prepared too.
//!
//! Also here: deterministic demo data ([`seed`]) and a private PostgreSQL cluster for demos
//! ([`embedded::PrivateCluster`]).

mod activities;
mod activities_read;
mod attachments;
mod comments;
mod database;
mod digest;
pub mod embedded;
mod error;
mod expenses;
mod exports;
mod fragments;
pub mod jobs;
mod models;
mod operators;
mod profiles;
mod responders;
mod reviews;
pub mod schema;
pub mod scope;
pub mod seed;
mod sessions;
mod stats;
mod subscribers;
mod ticket_page;
mod tickets;
mod uow;

pub use database::{Database, PoolState, MIGRATIONS};
pub use error::PersistenceError;
pub use uow::PgUnitOfWork;
