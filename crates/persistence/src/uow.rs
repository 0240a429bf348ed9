//! The unit of work: one connection inside one open transaction. The repository traits are
//! implemented in `tickets.rs`, `profiles.rs` and `activities.rs`.

use desk_domain::error::DomainError;
use desk_domain::ProfileId;
use diesel::PgConnection;

/// Every repository port on one transaction (see [`crate::Database::in_transaction`]).
pub struct PgUnitOfWork<'c> {
    pub(crate) conn: &'c mut PgConnection,
}

impl<'c> PgUnitOfWork<'c> {
    /// Wraps a connection. The caller is responsible for the transaction; use
    /// [`crate::Database::in_transaction`] unless you manage one yourself (tests).
    pub fn new(conn: &'c mut PgConnection) -> Self {
        PgUnitOfWork { conn }
    }

    /// Records who the transaction acts for (`desk.actor_id`), once the caller's profile is
    /// known (after signing in, inside the same transaction).
    pub fn set_actor(&mut self, actor: ProfileId) -> Result<(), DomainError> {
        crate::database::set_actor(self.conn, Some(actor)).map_err(crate::error::storage)
    }

    /// The underlying connection, for queries that have no port yet.
    pub fn connection(&mut self) -> &mut PgConnection {
        self.conn
    }
}
