//! A private database per test (the shared harness lives in `desk-testkit`; this crate's tests
//! must not depend on it being ready): `desk_ptest_<random>`, migrated, dropped on Drop.
#![allow(dead_code)]

use chrono::{DateTime, TimeZone, Utc};
use desk_domain::ports::{IdentityRepository, ProfileDetails, TicketRepository};
use desk_domain::*;
use desk_persistence::schema::{responders, subscribers};
use desk_persistence::{Database, PgUnitOfWork};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use rand::Rng;

pub fn admin_url() -> String {
    // Without TLS to the local server: it protects nothing on loopback, and libpq's OpenSSL
    // state torn down at process exit while a pool thread still holds a connection once
    // aborted a test binary ("double free or corruption") after all its tests had passed.
    std::env::var("DATABASE_URL").unwrap_or_else(|_| {
        "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable".to_string()
    })
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, format!("?{q}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    format!("{base}/{name}{query}")
}

pub struct TestDb {
    pub name: String,
    pub url: String,
    pub db: Database,
}

impl TestDb {
    pub fn new() -> TestDb {
        let name = format!("desk_ptest_{:016x}", rand::thread_rng().gen::<u64>());
        let mut admin = PgConnection::establish(&admin_url()).expect("admin connection");
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create database");
        let url = with_database(&admin_url(), &name);
        let db = Database::connect(&url, 4).expect("connect");
        db.migrate().expect("migrate");
        TestDb { name, url, db }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Ok(mut admin) = PgConnection::establish(&admin_url()) {
            let _ = admin.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

pub fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000 + secs, 0).unwrap()
}

pub fn content(background: &str) -> TicketContent {
    TicketContent {
        kind: TicketKind::Other,
        request_type: RequestType::Subsidized,
        status: TicketStatus::New,
        priority: Priority::Default,
        sensitive: false,
        whysensitive: None,
        deadline_at: None,
        member_center: None,
        identifier: None,
        countries: vec![],
        tags: vec![],
        background: background.to_string(),
        first_name: None,
        last_name: None,
        born_at: None,
        connections: None,
        sources: None,
        business_activities: None,
        initial_information: None,
        company_name: None,
        country: None,
    }
}

pub fn profile(
    uow: &mut PgUnitOfWork<'_>,
    email: &str,
    first: &str,
    last: &str,
    staff: bool,
    superuser: bool,
) -> Profile {
    uow.insert_profile(&ProfileDetails {
        email: email.to_string(),
        first_name: first.to_string(),
        last_name: last.to_string(),
        is_staff: staff,
        is_superuser: superuser,
    })
    .expect("insert profile")
}

pub fn ticket(
    uow: &mut PgUnitOfWork<'_>,
    requester: ProfileId,
    c: &TicketContent,
    secs: i64,
) -> Ticket {
    uow.insert_ticket(requester, c, at(secs))
        .expect("insert ticket")
}

pub fn add_responder(uow: &mut PgUnitOfWork<'_>, ticket: TicketId, user: ProfileId) {
    diesel::insert_into(responders::table)
        .values((
            responders::ticket_id.eq(ticket.0),
            responders::user_id.eq(user.0),
        ))
        .execute(uow.connection())
        .expect("insert responder");
}

pub fn add_subscriber(
    uow: &mut PgUnitOfWork<'_>,
    ticket: TicketId,
    user: Option<ProfileId>,
    email: Option<&str>,
) -> QueryResult<usize> {
    diesel::insert_into(subscribers::table)
        .values((
            subscribers::ticket_id.eq(ticket.0),
            subscribers::user_id.eq(user.map(|u| u.0)),
            subscribers::email.eq(email),
        ))
        .execute(uow.connection())
}

/// Runs `f` on a transaction of `db` that is committed (tests read the data afterwards).
pub fn write<T>(db: &Database, f: impl FnOnce(&mut PgUnitOfWork<'_>) -> T) -> T {
    db.in_transaction(None, |uow| Ok(f(uow)))
        .expect("transaction")
}

/// `count` staff profiles with e-mails `{prefix}{i}@x.org`: the people of the summaries'
/// property tests (requesters, responders).
pub fn staff_profiles(db: &Database, prefix: &str, count: usize) -> Vec<i32> {
    write(db, |uow| {
        (0..count)
            .map(|i| {
                let email = format!("{prefix}{i}@x.org");
                profile(uow, &email, "P", &i.to_string(), true, false).id.0
            })
            .collect()
    })
}

/// Property tests of the trigger-kept summaries run random sequences of SQL writes. These
/// are the parts they share.
///
/// How many sequences per run: `DESK_PROPTEST_CASES` / 10, and at least `floor`.
pub fn write_sequence_cases(floor: u32) -> u32 {
    std::env::var("DESK_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(|n: u32| (n / 10).max(floor))
        .unwrap_or(floor)
}

/// The id of the ticket of rank `rank` (by id, `OFFSET`), as a sub-select: generated
/// operations stay meaningful whatever ids exist.
pub fn ticket_at(rank: u8) -> String {
    format!("(SELECT id FROM tickets ORDER BY id OFFSET {rank} LIMIT 1)")
}

/// `leaf` with about one write in eight wrapped by `rolled_back`.
pub fn with_rollbacks<O: std::fmt::Debug + Clone>(
    leaf: impl proptest::strategy::Strategy<Value = O>,
    rolled_back: fn(Box<O>) -> O,
) -> impl proptest::strategy::Strategy<Value = O> {
    use proptest::strategy::Strategy;
    (leaf, proptest::bool::weighted(0.125)).prop_map(move |(op, roll_back)| {
        if roll_back {
            rolled_back(Box::new(op))
        } else {
            op
        }
    })
}

/// Runs `workers` writers at once, each on a connection of its own, each sending the
/// `rounds` batches of SQL that `sql(worker, round)` writes. A batch that fails is rolled
/// back and counted (between writers of the same rows a deadlock is a legitimate outcome,
/// and the rollback must leave the summaries exact too); returns how many failed.
pub fn concurrent_writes(
    db: &Database,
    workers: usize,
    rounds: usize,
    sql: impl Fn(usize, usize) -> String + Sync,
) -> usize {
    let sql = &sql;
    std::thread::scope(|s| {
        let writers: Vec<_> = (0..workers)
            .map(|worker| {
                s.spawn(move || {
                    let mut conn = db.connection().unwrap();
                    let mut failed = 0;
                    for round in 0..rounds {
                        if conn.batch_execute(&sql(worker, round)).is_err() {
                            failed += 1;
                            // Ends a batch's transaction left open by its failure.
                            let _ = conn.batch_execute("ROLLBACK");
                        }
                    }
                    failed
                })
            })
            .collect();
        writers.into_iter().map(|w| w.join().unwrap()).sum()
    })
}

/// Empties the tables with `reset`, then runs each write; a write marked `true` runs in a
/// transaction that is rolled back.
pub fn apply_writes(db: &Database, reset: &str, writes: impl IntoIterator<Item = (String, bool)>) {
    let mut conn = db.connection().unwrap();
    conn.batch_execute(reset).unwrap();
    for (sql, rolled_back) in writes {
        if rolled_back {
            conn.batch_execute(&format!("BEGIN; {sql}; ROLLBACK"))
                .unwrap();
        } else {
            conn.batch_execute(&sql).unwrap();
        }
    }
}

/// Query parameters of a list request, as the HTTP layer hands them to the use cases.
pub fn params(pairs: &[(&str, &str)]) -> desk_domain::listing::Params {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
