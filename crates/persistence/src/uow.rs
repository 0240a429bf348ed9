//! The unit of work: one connection, inside one open transaction but for the single read
//! of [`crate::Database::read_first`]. The repository traits are implemented in
//! `tickets.rs`, `profiles.rs` and `activities.rs`.

use desk_domain::error::DomainError;
use desk_domain::ProfileId;
use diesel::PgConnection;

/// Every repository port on one transaction (see [`crate::Database::in_transaction`]).
pub struct PgUnitOfWork<'c> {
    pub(crate) conn: &'c mut PgConnection,
    /// False for the single read of [`crate::Database::read_first`]: what needs a
    /// transaction (a lock held until the end of it) is left to the transactional path.
    pub(crate) in_transaction: bool,
    /// The `desk.actor_id` this transaction already publishes, if any.
    pub(crate) published_actor: Option<ProfileId>,
    /// The signed-in profile's `tickets-count` as the sign-in read it: a hint for choosing
    /// how to read that person's list (`ticket_page`), never an answer (it may be stale
    /// once this transaction writes).
    pub(crate) signed_in_tickets: Option<(ProfileId, i64)>,
}

impl<'c> PgUnitOfWork<'c> {
    /// Wraps a connection. The caller is responsible for the transaction; use
    /// [`crate::Database::in_transaction`] unless you manage one yourself (tests).
    pub fn new(conn: &'c mut PgConnection) -> Self {
        PgUnitOfWork {
            conn,
            in_transaction: true,
            published_actor: None,
            signed_in_tickets: None,
        }
    }

    /// Wraps a connection outside any transaction, for one read statement (as
    /// [`crate::Database::read_first`] does; public for tests that count its statements).
    pub fn without_transaction(conn: &'c mut PgConnection) -> Self {
        PgUnitOfWork {
            in_transaction: false,
            ..PgUnitOfWork::new(conn)
        }
    }

    /// Records who the transaction acts for (`desk.actor_id`), once the caller's profile is
    /// known (after signing in, inside the same transaction). Free when signing in already
    /// published that profile (the identity look-up does it in its own statement).
    pub fn set_actor(&mut self, actor: ProfileId) -> Result<(), DomainError> {
        if self.published_actor == Some(actor) {
            return Ok(());
        }
        crate::database::set_actor(self.conn, Some(actor)).map_err(crate::error::storage)?;
        self.published_actor = Some(actor);
        Ok(())
    }

    /// The underlying connection, for queries that have no port yet.
    pub fn connection(&mut self) -> &mut PgConnection {
        self.conn
    }
}
