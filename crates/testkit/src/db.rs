//! A fresh PostgreSQL database per test, created from a migrated template (OPERATIONS.md
//! "Test harness"). The template is built once per migration set — guarded by an advisory
//! lock, so parallel test processes never build it twice — and each test database is
//! dropped (`WITH (FORCE)`) when the [`TestDb`] goes out of scope.

use desk_persistence::{Database, MIGRATIONS};
use diesel::migration::MigrationSource;
use diesel::prelude::*;
use diesel::sql_query;
use std::sync::OnceLock;

/// The administrative connection URL: `DATABASE_URL`, else the local server.
pub fn admin_url() -> String {
    // Without TLS to the local server: it protects nothing on loopback, and libpq's OpenSSL
    // state torn down at process exit while a pool thread still holds a connection once
    // aborted a test binary ("double free or corruption") after all its tests had passed.
    std::env::var("DATABASE_URL").unwrap_or_else(|_| {
        "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable".to_string()
    })
}

/// `url` with its database name replaced.
pub fn with_database(url: &str, name: &str) -> String {
    let mut parsed = url::Url::parse(url).expect("DATABASE_URL is a URL");
    parsed.set_path(&format!("/{name}"));
    parsed.to_string()
}

fn admin() -> PgConnection {
    PgConnection::establish(&admin_url()).unwrap_or_else(|e| {
        panic!("tests need PostgreSQL: cannot connect to DATABASE_URL or 127.0.0.1:5432 ({e})")
    })
}

/// The template's name changes whenever the migrations change: their names and, read from
/// the workspace's `migrations/`, their SQL (a migration edited before it lands keeps its
/// name).
fn template_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        let migrations = MigrationSource::<diesel::pg::Pg>::migrations(&MIGRATIONS)
            .expect("embedded migrations");
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for m in migrations {
            let name = m.name().to_string();
            let sql = std::fs::read(dir.join(&name).join("up.sql")).unwrap_or_default();
            for b in name.bytes().chain(sql) {
                hash = (hash ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
            }
        }
        format!("desk_template_{hash:016x}")
    })
}

fn ensure_template() -> &'static str {
    static READY: OnceLock<()> = OnceLock::new();
    let name = template_name();
    READY.get_or_init(|| {
        let mut conn = admin();
        // One builder at a time across processes.
        sql_query("SELECT pg_advisory_lock(775533)")
            .execute(&mut conn)
            .expect("advisory lock");
        #[derive(QueryableByName)]
        struct Exists {
            #[diesel(sql_type = diesel::sql_types::Bool)]
            exists: bool,
        }
        let exists = sql_query(format!(
            "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = '{name}') AS exists"
        ))
        .get_result::<Exists>(&mut conn)
        .expect("query pg_database")
        .exists;
        if !exists {
            let building = format!("{name}_building");
            sql_query(format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"))
                .execute(&mut conn)
                .expect("drop");
            sql_query(format!("CREATE DATABASE {building}"))
                .execute(&mut conn)
                .expect("create template");
            {
                let db = Database::connect(&with_database(&admin_url(), &building), 1)
                    .expect("connect to template");
                db.migrate().expect("migrate template");
            }
            sql_query(format!("ALTER DATABASE {building} RENAME TO {name}"))
                .execute(&mut conn)
                .expect("rename template");
        }
        sql_query("SELECT pg_advisory_unlock(775533)")
            .execute(&mut conn)
            .expect("advisory unlock");
    });
    name
}

/// A migrated database of its own, dropped at the end of the test.
pub struct TestDb {
    pub name: String,
    pub url: String,
    pub db: Database,
}

impl TestDb {
    pub fn new() -> TestDb {
        let template = ensure_template();
        let name = format!("desk_test_{:016x}", rand::random::<u64>());
        let mut conn = admin();
        sql_query(format!("CREATE DATABASE {name} TEMPLATE {template}"))
            .execute(&mut conn)
            .expect("create test database from template");
        let url = with_database(&admin_url(), &name);
        let db = Database::connect(&url, 4).expect("connect to test database");
        TestDb { name, url, db }
    }
}

impl Default for TestDb {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut conn) = PgConnection::establish(&admin_url()) {
            let _ = sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ))
            .execute(&mut conn);
        }
    }
}
