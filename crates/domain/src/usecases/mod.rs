//! Use cases: one function per thing a caller can ask for. Each takes the unit of work of
//! its request (one transaction), the caller, and validated input; each write records its
//! activity rows in the same unit of work.

pub mod activities;
pub mod attachments;
pub mod collaboration;
pub mod comments;
pub mod digest;
pub mod expenses;
pub mod exports;
pub mod identity;
pub mod profiles;
pub mod responders;
pub mod reviews;
pub mod sessions;
pub mod stats;
pub mod subscribers;
pub mod tickets;
