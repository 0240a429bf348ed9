//! Errors a use case can end with. The HTTP layer maps each to one status code.

use std::fmt;

/// A validation message bound to a JSON:API pointer (`/data/attributes/background`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub pointer: String,
    pub detail: String,
    pub code: &'static str,
}

impl FieldError {
    pub fn attribute(name: &str, detail: impl Into<String>, code: &'static str) -> Self {
        FieldError {
            pointer: format!("/data/attributes/{name}"),
            detail: detail.into(),
            code,
        }
    }
    pub fn relationship(name: &str, detail: impl Into<String>, code: &'static str) -> Self {
        FieldError {
            pointer: format!("/data/relationships/{name}"),
            detail: detail.into(),
            code,
        }
    }
    pub fn required(name: &str) -> Self {
        Self::attribute(name, "This field is required.", "required")
    }
    pub fn blank(name: &str) -> Self {
        Self::attribute(name, "This field may not be blank.", "blank")
    }
    pub fn null(name: &str) -> Self {
        Self::attribute(name, "This field may not be null.", "null")
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.pointer, self.detail)
    }
}

/// The outcome of a refused or failed use case.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// The row does not exist or lies outside the caller's visible set (never told apart).
    #[error("not found")]
    NotFound,
    /// `page[number]` outside the list (404 `Invalid page.`).
    #[error("invalid page")]
    InvalidPage,
    /// The caller sees the row but may not do this to it.
    #[error("permission denied")]
    Forbidden,
    /// The body failed validation; messages sorted by pointer.
    #[error("validation failed")]
    Invalid(Vec<FieldError>),
    /// A create referring to a ticket the caller may not act on (contract §4.2).
    #[error("ticket not found")]
    TicketNotFound,
    /// An identity the provider vouches for, still refused (inactive profile, unverified
    /// e-mail colliding with an existing profile): 403 with this message.
    #[error("refused: {0}")]
    Refused(&'static str),
    /// A storage failure: not the caller's fault.
    #[error("storage failure: {0}")]
    Storage(String),
}

impl DomainError {
    pub fn invalid(mut errors: Vec<FieldError>) -> Self {
        errors.sort_by(|a, b| a.pointer.cmp(&b.pointer));
        DomainError::Invalid(errors)
    }
    pub fn one(error: FieldError) -> Self {
        DomainError::Invalid(vec![error])
    }
}

pub type DomainResult<T> = Result<T, DomainError>;
