//! Errors of the adapter itself (start-up, migrations, seeding, private cluster). Request work
//! reports [`desk_domain::DomainError::Storage`] instead.

use desk_domain::DomainError;

#[derive(Debug, thiserror::Error)]
pub enum PersistenceError {
    /// The database could not be reached or refused the connection.
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    /// No pooled connection could be checked out.
    #[error("database pool: {0}")]
    Pool(String),
    #[error("migrations failed: {0}")]
    Migration(String),
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("seeding refused: {0}")]
    SeedRefused(String),
    #[error("private PostgreSQL cluster: {0}")]
    Cluster(String),
    #[error(transparent)]
    Domain(#[from] DomainError),
}

/// Database failures during request work. The message is diesel's, which carries the server's
/// error text but never connection parameters.
pub(crate) fn storage(error: diesel::result::Error) -> DomainError {
    DomainError::Storage(error.to_string())
}
