//! Use cases: one function per thing a caller can ask for. Each takes the unit of work of
//! its request (one transaction), the caller, and validated input; each write records its
//! activity rows in the same unit of work.

pub mod activities;
pub mod attachments;
pub mod collaboration;
pub mod comments;
pub mod identity;
pub mod profiles;
pub mod responders;
pub mod sessions;
pub mod subscribers;
pub mod tickets;
