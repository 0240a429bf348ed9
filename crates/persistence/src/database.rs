//! The connection pool, migrations and the per-request transaction.

use crate::error::{storage, PersistenceError};
use crate::uow::PgUnitOfWork;
use desk_domain::{DomainError, ProfileId};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, Pool, PooledConnection};
use diesel::sql_types::Text;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use std::time::Duration;

/// The schema, compiled into the binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

type PgPool = Pool<ConnectionManager<PgConnection>>;

/// Connections of the pool, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolState {
    pub connections: u32,
    pub idle: u32,
}

/// A pool of PostgreSQL connections. Cheap to clone (the pool is shared).
#[derive(Clone)]
pub struct Database {
    pool: PgPool,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Deliberately not the URL: it may hold a password.
        f.debug_struct("Database")
            .field("state", &self.pool_state())
            .finish()
    }
}

/// Internal error of a transaction body: a domain refusal or a database failure.
enum TxError {
    Domain(DomainError),
    Db(diesel::result::Error),
}

impl From<diesel::result::Error> for TxError {
    fn from(e: diesel::result::Error) -> Self {
        TxError::Db(e)
    }
}

impl Database {
    /// Opens a pool of `pool_size` connections. One direct connection is tried first so an
    /// unreachable server fails at once with libpq's message (which never contains the
    /// password) instead of after the pool's timeout.
    pub fn connect(url: &str, pool_size: u32) -> Result<Database, PersistenceError> {
        PgConnection::establish(url)
            .map_err(|e| PersistenceError::Connect(e.to_string().trim().to_string()))?;
        let pool = Pool::builder()
            .max_size(pool_size.max(1))
            // No idle floor: with one, r2d2 reconnects in a background thread as soon as a
            // connection is taken, and a short command (`desk seed` refusing a non-empty
            // database) could exit while that thread is inside libpq — a segfault at exit.
            // Connections are opened when needed and then kept.
            .min_idle(Some(0))
            .connection_timeout(Duration::from_secs(10))
            .test_on_check_out(false)
            .build(ConnectionManager::<PgConnection>::new(url))
            .map_err(|e| PersistenceError::Connect(e.to_string()))?;
        Ok(Database { pool })
    }

    fn conn(&self) -> Result<PooledConnection<ConnectionManager<PgConnection>>, PersistenceError> {
        self.pool
            .get()
            .map_err(|e| PersistenceError::Pool(e.to_string()))
    }

    /// Applies pending migrations; returns how many ran.
    pub fn migrate(&self) -> Result<usize, PersistenceError> {
        let mut conn = self.conn()?;
        let applied = conn
            .run_pending_migrations(MIGRATIONS)
            .map_err(|e| PersistenceError::Migration(e.to_string()))?;
        Ok(applied.len())
    }

    /// Whether every embedded migration has been applied.
    pub fn migrations_current(&self) -> Result<bool, PersistenceError> {
        let mut conn = self.conn()?;
        let pending = conn
            .has_pending_migration(MIGRATIONS)
            .map_err(|e| PersistenceError::Migration(e.to_string()))?;
        Ok(!pending)
    }

    /// A liveness probe: a connection answers `SELECT 1`.
    pub fn ping(&self) -> bool {
        match self.pool.get() {
            Ok(mut conn) => conn.batch_execute("SELECT 1").is_ok(),
            Err(_) => false,
        }
    }

    /// The most connections the pool opens.
    pub fn max_connections(&self) -> u32 {
        self.pool.max_size()
    }

    /// Open and idle connections, for metrics.
    pub fn pool_state(&self) -> PoolState {
        let state = self.pool.state();
        PoolState {
            connections: state.connections,
            idle: state.idle_connections,
        }
    }

    /// Runs `work` on one transaction: committed when it returns `Ok`, rolled back on `Err`.
    /// `actor` is published as the transaction-local setting `desk.actor_id` (left unset
    /// when anonymous: read it with `current_setting('desk.actor_id', true)`) so a
    /// row-level-security layer can be added without touching callers.
    pub fn in_transaction<T>(
        &self,
        actor: Option<ProfileId>,
        work: impl FnOnce(&mut PgUnitOfWork<'_>) -> Result<T, DomainError>,
    ) -> Result<T, DomainError> {
        self.run(actor, false, work)
    }

    /// Like [`Database::in_transaction`] on a `READ ONLY` transaction: any write fails.
    pub fn read_only<T>(
        &self,
        actor: Option<ProfileId>,
        work: impl FnOnce(&mut PgUnitOfWork<'_>) -> Result<T, DomainError>,
    ) -> Result<T, DomainError> {
        self.run(actor, true, work)
    }

    /// First `read`, ONE statement outside an explicit transaction (PostgreSQL runs it in
    /// its own); only when it answers `None`, `work` in one transaction as
    /// [`Database::in_transaction`] runs it. For a request whose usual answer is a single
    /// read: `BEGIN` and `COMMIT` are two round trips of three. `read` must not write, nor
    /// issue more than one statement (several would not share a snapshot).
    pub fn read_first<T>(
        &self,
        read: impl FnOnce(&mut PgUnitOfWork<'_>) -> Result<Option<T>, DomainError>,
        work: impl FnOnce(&mut PgUnitOfWork<'_>) -> Result<T, DomainError>,
    ) -> Result<T, DomainError> {
        let mut conn = self.request_connection()?;
        if let Some(value) = read(&mut PgUnitOfWork::without_transaction(&mut conn))? {
            return Ok(value);
        }
        outcome(conn.transaction(|conn| transaction_body(conn, None, work)))
    }

    fn run<T>(
        &self,
        actor: Option<ProfileId>,
        read_only: bool,
        work: impl FnOnce(&mut PgUnitOfWork<'_>) -> Result<T, DomainError>,
    ) -> Result<T, DomainError> {
        let mut conn = self.request_connection()?;
        // `BEGIN READ ONLY` in one statement rather than BEGIN + SET TRANSACTION.
        let result = if read_only {
            conn.build_transaction()
                .read_only()
                .run(|conn| transaction_body(conn, actor, work))
        } else {
            conn.transaction(|conn| transaction_body(conn, actor, work))
        };
        outcome(result)
    }

    /// A connection of the pool for a request's work; waiting too long is a storage error.
    fn request_connection(
        &self,
    ) -> Result<PooledConnection<ConnectionManager<PgConnection>>, DomainError> {
        self.pool
            .get()
            .map_err(|e| DomainError::Storage(format!("database pool: {e}")))
    }

    /// A raw connection of the pool, for tools (seeding, tests).
    pub fn connection(
        &self,
    ) -> Result<PooledConnection<ConnectionManager<PgConnection>>, PersistenceError> {
        self.conn()
    }
}

/// A transaction's result as the domain sees it.
fn outcome<T>(result: Result<T, TxError>) -> Result<T, DomainError> {
    match result {
        Ok(value) => Ok(value),
        Err(TxError::Domain(e)) => Err(e),
        Err(TxError::Db(e)) => Err(storage(e)),
    }
}

/// The body of every request transaction: the actor is published, then `work` runs.
fn transaction_body<T>(
    conn: &mut PgConnection,
    actor: Option<ProfileId>,
    work: impl FnOnce(&mut PgUnitOfWork<'_>) -> Result<T, DomainError>,
) -> Result<T, TxError> {
    // An anonymous transaction publishes nothing: the setting of an earlier transaction was
    // local to it, so `current_setting('desk.actor_id', true)` is already empty or unset
    // here (one round trip less on every request).
    if actor.is_some() {
        set_actor(conn, actor)?;
    }
    work(&mut PgUnitOfWork::new(conn)).map_err(TxError::Domain)
}

/// `SELECT set_config('desk.actor_id', $1, true)`: local to the current transaction.
pub(crate) fn set_actor(conn: &mut PgConnection, actor: Option<ProfileId>) -> QueryResult<()> {
    let value = actor.map(|a| a.0.to_string()).unwrap_or_default();
    diesel::select(set_config("desk.actor_id", value, true)).execute(conn)?;
    Ok(())
}

diesel::define_sql_function!(fn set_config(name: Text, value: Text, is_local: diesel::sql_types::Bool) -> Text);
