//! # Research Desk domain
//!
//! Everything the desk *means*, with no I/O: the entities (profiles, tickets, responders,
//! subscribers, comments, attachments, expenses, reviews, activities), the validated value
//! types they are made of, the **access policy** (who may see and do what), the **ports**
//! (traits the adapters implement: repositories, clock, identity) and the **use cases** that
//! combine them.
//!
//! Adapters never decide access themselves: they ask [`policy`] for a [`policy::Scope`] and
//! translate it into SQL. The use cases run inside one unit of work supplied by the caller
//! (the persistence adapter opens a transaction per request), so a use case either commits
//! everything it wrote (rows and activities) or nothing.

pub mod activity;
pub mod codes;
pub mod error;
pub mod forms;
pub mod jobs;
pub mod listing;
pub mod model;
pub mod policy;
pub mod ports;
pub mod text;
pub mod usecases;

pub use error::{DomainError, FieldError};
pub use model::*;
pub use policy::{Actor, Scope};
