//! Seeding: deterministic, consistent, guarded; the same rows and bookkeeping whichever way
//! they are loaded. `DESK_SEED_TICKETS` scales the first test (for timing in release builds:
//! `DESK_SEED_TICKETS=100000 cargo test --release -p desk-persistence --test seeding -- --nocapture`).

mod common;

use common::TestDb;
use desk_domain::listing::{PageSlice, ProfileFilter, TicketFilter};
use desk_domain::policy::{ProfileScope, Scope};
use desk_domain::ports::{ProfileRepository, TicketRepository};
use desk_persistence::seed::{seed, seed_with, Loading, SeedOptions};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::BigInt;

#[derive(QueryableByName)]
struct N {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn count(t: &TestDb, sql: &str) -> i64 {
    let mut conn = t.db.connection().unwrap();
    diesel::sql_query(sql).get_result::<N>(&mut conn).unwrap().n
}

#[test]
fn seeds_consistent_data_and_refuses_to_reseed() {
    let tickets: usize = std::env::var("DESK_SEED_TICKETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2500);
    let profiles = (tickets / 50).max(40);
    let t = TestDb::new();
    let mut calls = Vec::new();
    let started = std::time::Instant::now();
    let report = seed(&t.db, profiles, tickets, 7, &mut |stage, done, total| {
        calls.push((stage.to_string(), done, total))
    })
    .expect("seed");
    eprintln!("seeded {report:?} in {:?}", started.elapsed());
    assert_eq!((report.profiles, report.tickets), (profiles, tickets));
    assert_eq!(
        calls.last().unwrap(),
        &("tickets".to_string(), tickets as u64, tickets as u64)
    );
    assert_eq!(
        count(&t, "SELECT count(*) AS n FROM tickets"),
        tickets as i64
    );
    assert_eq!(
        count(&t, "SELECT count(*) AS n FROM profile_identities"),
        0,
        "seeded people are claimed by their first verified sign-in"
    );
    assert_eq!(
        count(&t, "SELECT count(*) AS n FROM activities"),
        report.activities as i64
    );
    assert_eq!(
        count(
            &t,
            "SELECT count(*) AS n FROM activities WHERE verb = 'ticket:create'"
        ),
        tickets as i64
    );
    assert!(count(&t, "SELECT count(*) AS n FROM profiles WHERE is_superuser") >= 1);
    assert!(count(&t, "SELECT count(*) AS n FROM profiles WHERE is_staff") >= 1);
    assert!(
        count(
            &t,
            "SELECT count(*) AS n FROM subscribers WHERE user_id IS NULL"
        ) > 0
    );
    assert!(report.responders > 0 && report.comments > 0);
    // updated_at is the last activity of each ticket.
    assert_eq!(
        count(
            &t,
            "SELECT count(*) AS n FROM tickets t WHERE t.updated_at <> (SELECT max(a.timestamp) FROM activities a WHERE a.ticket_id = t.id)"
        ),
        0
    );
    // Full-text search finds something, and the repositories read the data.
    t.db.in_transaction(None, |uow| {
        let filter = TicketFilter {
            search: Some("offshore company".into()),
            ..Default::default()
        };
        assert!(uow.status_totals(Scope::Everything, &filter)?.all() > 0);
        let page = PageSlice {
            number: 1,
            size: 30,
            last: 1,
        };
        assert_eq!(
            uow.list_tickets(Scope::Everything, &filter, &[], page)?
                .len(),
            30
        );
        assert_eq!(
            uow.count_profiles(ProfileScope::Active, &ProfileFilter::default())?,
            profiles as i64
        );
        Ok(())
    })
    .unwrap();

    assert!(
        seed(&t.db, 3, 3, 7, &mut |_, _, _| {}).is_err(),
        "refuses a non-empty database"
    );
    let more = seed_with(
        &t.db,
        &SeedOptions {
            force: true,
            ..SeedOptions::new(3, 3, 7)
        },
        &mut |_, _, _| {},
    )
    .unwrap();
    assert_eq!(more.tickets, 3);
}

#[test]
fn same_seed_same_data() {
    let (a, b) = (TestDb::new(), TestDb::new());
    seed(&a.db, 20, 50, 99, &mut |_, _, _| {}).unwrap();
    seed(&b.db, 20, 50, 99, &mut |_, _, _| {}).unwrap();
    assert_eq!(fingerprint(&a), fingerprint(&b));
    let c = TestDb::new();
    seed(&c.db, 20, 50, 100, &mut |_, _, _| {}).unwrap();
    assert_ne!(
        fingerprint(&a)[0],
        fingerprint(&c)[0],
        "another seed, other tickets"
    );
}

/// Every seeded table, the bookkeeping the triggers keep (counter slots summed) and the id
/// sequences, one line each.
fn fingerprint(t: &TestDb) -> Vec<String> {
    #[derive(QueryableByName, Debug)]
    struct Line {
        #[diesel(sql_type = diesel::sql_types::Text)]
        line: String,
    }
    let mut conn = t.db.connection().unwrap();
    diesel::sql_query(
        "SELECT 'tickets ' || md5(string_agg(t::text, ',' ORDER BY id)) AS line FROM tickets t \
         UNION ALL SELECT 'responders ' || md5(string_agg(r::text, ',' ORDER BY id)) FROM responders r \
         UNION ALL SELECT 'subscribers ' || md5(string_agg(s::text, ',' ORDER BY id)) FROM subscribers s \
         UNION ALL SELECT 'comments ' || md5(string_agg(c::text, ',' ORDER BY id)) FROM comments c \
         UNION ALL SELECT 'activities ' || md5(string_agg(a::text, ',' ORDER BY id)) FROM activities a \
         UNION ALL SELECT 'profiles ' || md5(string_agg(concat_ws('|', id, email, first_name, last_name, is_staff, is_superuser, locale, country, date_joined), ',' ORDER BY id)) FROM profiles \
         UNION ALL SELECT 'participants ' || md5(string_agg(x::text, ',' ORDER BY profile_id, ticket_id)) FROM ticket_participants x \
         UNION ALL SELECT 'profile counts ' || md5(string_agg(x::text, ',' ORDER BY profile_id)) FROM (SELECT profile_id, sum(n) FROM profile_ticket_counts GROUP BY 1 HAVING sum(n) <> 0) x \
         UNION ALL SELECT 'status counts ' || string_agg(x::text, ',' ORDER BY status) FROM (SELECT status, sum(n) FROM ticket_status_counts GROUP BY 1 HAVING sum(n) <> 0) x \
         UNION ALL SELECT 'activity counts ' || md5(string_agg(x::text, ',' ORDER BY ticket_id)) FROM (SELECT ticket_id, sum(n) FROM ticket_activity_counts GROUP BY 1 HAVING sum(n) <> 0) x \
         UNION ALL SELECT 'ticket stats ' || md5(string_agg(x::text, ',' ORDER BY dimension, month, status, country, responder_id)) FROM ( \
             SELECT dimension, month, status, country, responder_id, sum(n), sum(age_us), sum(past_deadline) \
             FROM (SELECT * FROM ticket_stats UNION ALL SELECT * FROM ticket_stats_deltas) u GROUP BY 1, 2, 3, 4, 5 \
             HAVING sum(n) <> 0 OR sum(age_us) <> 0 OR sum(past_deadline) <> 0) x \
         UNION ALL SELECT 'next ids ' || string_agg(concat_ws('=', sequencename, last_value), ' ' ORDER BY sequencename) FROM pg_sequences \
             WHERE sequencename IN ('tickets_id_seq', 'responders_id_seq', 'subscribers_id_seq', 'comments_id_seq', 'activities_id_seq')",
    )
    .load::<Line>(&mut conn)
    .unwrap()
    .into_iter()
    .map(|l| l.line)
    .collect()
}

/// How many of the seeded tables' sequences would not hand out the id after their last row.
const SEQUENCES_PAST_THEIR_ROWS: &str = "SELECT count(*) AS n FROM (VALUES \
       ('tickets_id_seq', (SELECT max(id) FROM tickets)), \
       ('responders_id_seq', (SELECT max(id) FROM responders)), \
       ('subscribers_id_seq', (SELECT max(id) FROM subscribers)), \
       ('comments_id_seq', (SELECT max(id) FROM comments)), \
       ('activities_id_seq', (SELECT max(id) FROM activities))) AS s (seq, max_id) \
     WHERE pg_sequence_last_value(seq::regclass) IS DISTINCT FROM max_id";

/// Each table of bookkeeping, as kept (counter slots summed) and as recounted from the
/// tables it summarizes.
const BOOKKEEPING: [(&str, &str); 5] = [
    (
        "SELECT profile_id, ticket_id, ways::bigint FROM ticket_participants",
        "SELECT profile_id, ticket_id, count(*) FROM ( \
           SELECT requester_id AS profile_id, id AS ticket_id FROM tickets \
           UNION ALL SELECT user_id, ticket_id FROM responders \
           UNION ALL SELECT user_id, ticket_id FROM subscribers WHERE user_id IS NOT NULL) w \
         GROUP BY 1, 2",
    ),
    (
        "SELECT profile_id, sum(n) FROM profile_ticket_counts GROUP BY 1 HAVING sum(n) <> 0",
        "SELECT profile_id, count(*) FROM ticket_participants GROUP BY 1",
    ),
    (
        "SELECT status, sum(n) FROM ticket_status_counts GROUP BY 1 HAVING sum(n) <> 0",
        "SELECT status, count(*) FROM tickets GROUP BY 1",
    ),
    (
        "SELECT ticket_id, sum(n) FROM ticket_activity_counts GROUP BY 1 HAVING sum(n) <> 0",
        "SELECT ticket_id, count(*) FROM activities GROUP BY 1",
    ),
    (
        "SELECT dimension, month, status, country, responder_id, sum(n), sum(age_us), sum(past_deadline) \
         FROM (SELECT * FROM ticket_stats UNION ALL SELECT * FROM ticket_stats_deltas) u \
         GROUP BY 1, 2, 3, 4, 5 HAVING sum(n) <> 0 OR sum(age_us) <> 0 OR sum(past_deadline) <> 0",
        "SELECT dimension, month, status, country, responder_id, sum(n), sum(age_us), sum(past_deadline) \
         FROM ticket_stats_rows(ARRAY(SELECT ROW(id, created_at, status, updated_at, deadline_at, \
                                                 countries)::ticket_stat_state FROM tickets), 1) \
         GROUP BY 1, 2, 3, 4, 5",
    ),
];

/// How many rows of the bookkeeping differ from a recount of the tables it summarizes.
fn bookkeeping_mismatches(t: &TestDb) -> i64 {
    BOOKKEEPING
        .iter()
        .map(|(kept, recounted)| {
            count(
                t,
                &format!(
                    "SELECT count(*) AS n FROM (({kept} EXCEPT {recounted}) \
                     UNION ALL ({recounted} EXCEPT {kept})) differing"
                ),
            )
        })
        .sum()
}

fn options(loading: Loading) -> SeedOptions {
    // Three batches, the last one short.
    SeedOptions {
        loading,
        ..SeedOptions::new(40, 2_500, 21)
    }
}

#[test]
fn every_way_of_loading_gives_the_same_rows_and_bookkeeping() {
    let triggered = TestDb::new();
    let report = seed_with(
        &triggered.db,
        &options(Loading::Triggered),
        &mut |_, _, _| {},
    )
    .unwrap();
    assert_eq!(report.loading, Loading::Triggered);
    let expected = fingerprint(&triggered);
    assert_eq!(bookkeeping_mismatches(&triggered), 0);
    for writers in [1, 3] {
        let t = TestDb::new();
        let report = seed_with(
            &t.db,
            &options(Loading::Parallel { writers }),
            &mut |_, _, _| {},
        )
        .unwrap();
        assert_eq!(report.loading, Loading::Parallel { writers });
        assert_eq!(fingerprint(&t), expected, "{writers} writer(s)");
        assert_eq!(bookkeeping_mismatches(&t), 0, "{writers} writer(s)");
        assert_eq!(
            count(&t, SEQUENCES_PAST_THEIR_ROWS),
            0,
            "the unused ends of the id blocks are given back"
        );
    }
    // No more writers than the pool has connections (the test pool has 4).
    let t = TestDb::new();
    let report = seed_with(
        &t.db,
        &options(Loading::Parallel { writers: 8 }),
        &mut |_, _, _| {},
    )
    .unwrap();
    assert_eq!(
        report.loading,
        Loading::Parallel { writers: 3 },
        "one per batch at most"
    );
    assert_eq!(fingerprint(&t), expected);
}

#[test]
fn a_second_seed_keeps_the_books_and_numbers_after_the_first() {
    let t = TestDb::new();
    seed(&t.db, 30, 1_200, 5, &mut |_, _, _| {}).unwrap();
    // Something written in between, as a running server would.
    common::write(&t.db, |uow| {
        let requester = common::profile(uow, "between@example.org", "Bet", "Ween", false, false);
        let ticket = common::ticket(uow, requester.id, &common::content("between two seeds"), 0);
        common::add_responder(uow, ticket.id, requester.id);
    });
    let more = seed_with(
        &t.db,
        &SeedOptions {
            force: true,
            ..SeedOptions::new(10, 1_100, 6)
        },
        &mut |_, _, _| {},
    )
    .unwrap();
    assert_eq!(more.tickets, 1_100);
    assert_eq!(count(&t, "SELECT count(*) AS n FROM tickets"), 2_301);
    assert_eq!(count(&t, "SELECT max(id)::bigint AS n FROM tickets"), 2_301);
    assert_eq!(bookkeeping_mismatches(&t), 0);
}

#[test]
fn a_role_that_may_not_turn_triggers_off_seeds_with_them_on() {
    let reference = TestDb::new();
    seed_with(
        &reference.db,
        &options(Loading::Parallel { writers: 2 }),
        &mut |_, _, _| {},
    )
    .unwrap();
    // Declared before the database, so dropped after it: a role with privileges in a
    // database cannot be dropped while the database exists.
    let role = Role::new();
    let t = TestDb::new();
    t.db.connection()
        .unwrap()
        .batch_execute(&format!(
            "GRANT ALL ON ALL TABLES IN SCHEMA public TO {0}; \
             GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO {0}",
            role.name
        ))
        .unwrap();
    let db = desk_persistence::Database::connect(&role.url(&t.url), 4).unwrap();
    let report = seed_with(
        &db,
        &options(Loading::Parallel { writers: 2 }),
        &mut |_, _, _| {},
    )
    .unwrap();
    drop(db);
    assert_eq!(report.loading, Loading::Triggered);
    assert_eq!(fingerprint(&t), fingerprint(&reference));
}

#[test]
fn a_failed_batch_leaves_only_complete_batches() {
    let t = TestDb::new();
    // Fires even with the triggers off (ENABLE ALWAYS): the second batch fails.
    t.db.connection()
        .unwrap()
        .batch_execute(
            "CREATE FUNCTION refuse_ticket() RETURNS trigger LANGUAGE plpgsql AS \
               $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$; \
             CREATE TRIGGER refuse_ticket BEFORE INSERT ON tickets FOR EACH ROW \
               WHEN (NEW.id = 1500) EXECUTE FUNCTION refuse_ticket(); \
             ALTER TABLE tickets ENABLE ALWAYS TRIGGER refuse_ticket",
        )
        .unwrap();
    let failed = seed_with(
        &t.db,
        &options(Loading::Parallel { writers: 2 }),
        &mut |_, _, _| {},
    );
    let error = failed
        .expect_err("the refused ticket fails the seed")
        .to_string();
    assert!(error.contains("refused by the test"), "{error}");
    assert_eq!(
        count(
            &t,
            "SELECT count(*) AS n FROM tickets WHERE id BETWEEN 1001 AND 2000"
        ),
        0,
        "the failed batch is rolled back whole"
    );
    assert_eq!(
        count(
            &t,
            "SELECT count(*) AS n FROM tickets WHERE id BETWEEN 1 AND 1000"
        ),
        1000,
        "the batch before it is there whole"
    );
    assert_eq!(bookkeeping_mismatches(&t), 0);
}

/// A login role without superuser rights, dropped at the end.
struct Role {
    name: String,
}

impl Role {
    fn new() -> Role {
        use rand::Rng;
        let name = format!("desk_seeder_{:08x}", rand::thread_rng().gen::<u32>());
        PgConnection::establish(&common::admin_url())
            .unwrap()
            .batch_execute(&format!("CREATE ROLE {name} LOGIN"))
            .unwrap();
        Role { name }
    }

    /// `url` with this role as its user.
    fn url(&self, url: &str) -> String {
        let (scheme, rest) = url.split_once("://").unwrap();
        let host = rest.split_once('@').map_or(rest, |(_, host)| host);
        format!("{scheme}://{}@{host}", self.name)
    }
}

impl Drop for Role {
    fn drop(&mut self) {
        if let Ok(mut admin) = PgConnection::establish(&common::admin_url()) {
            let _ = admin.batch_execute(&format!("DROP ROLE IF EXISTS {}", self.name));
        }
    }
}

#[test]
fn profiles_without_tickets() {
    let t = TestDb::new();
    let report = seed(&t.db, 5, 0, 3, &mut |_, _, _| {}).unwrap();
    assert_eq!((report.profiles, report.tickets), (5, 0));
    assert_eq!(count(&t, "SELECT count(*) AS n FROM profiles"), 5);
    assert_eq!(
        count(
            &t,
            "SELECT count(*) AS n FROM pg_sequences WHERE last_value IS NOT NULL \
             AND sequencename IN ('tickets_id_seq', 'activities_id_seq')"
        ),
        0,
        "no ids reserved for no tickets"
    );
}

#[test]
fn busy_tables_fail_the_seed_before_it_writes_anything() {
    let t = TestDb::new();
    // An application transaction in the middle of writing a comment.
    let mut writer = PgConnection::establish(&t.url).unwrap();
    writer
        .batch_execute("BEGIN; LOCK TABLE comments IN ROW EXCLUSIVE MODE")
        .unwrap();
    let started = std::time::Instant::now();
    let refused = seed(&t.db, 5, 10, 3, &mut |_, _, _| {}).expect_err("the tables stay busy");
    assert!(refused.to_string().contains("busy"), "{refused}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    writer.batch_execute("COMMIT").unwrap();
    assert_eq!(count(&t, "SELECT count(*) AS n FROM profiles"), 0);
    // Once they are free, seeding goes ahead.
    seed(&t.db, 5, 10, 3, &mut |_, _, _| {}).unwrap();
    assert_eq!(count(&t, "SELECT count(*) AS n FROM tickets"), 10);
}

/// The INSERT triggers whose work `keep_books` does itself when writers load with the
/// triggers off. A trigger added to these tables fails this test until the seeder does
/// its work too (or it is shown to have nothing to do for new tickets).
#[test]
fn the_seeder_knows_every_insert_trigger_of_the_tables_it_fills() {
    let t = TestDb::new();
    let mut conn = t.db.connection().unwrap();
    #[derive(QueryableByName)]
    struct Trigger {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    let triggers: Vec<String> = diesel::sql_query(
        "SELECT tgrelid::regclass::text || '.' || tgname AS name FROM pg_trigger \
         WHERE NOT tgisinternal AND (tgtype & 4) <> 0 \
           AND tgrelid IN ('tickets'::regclass, 'responders'::regclass, 'subscribers'::regclass, \
                           'comments'::regclass, 'activities'::regclass) \
         ORDER BY 1",
    )
    .load::<Trigger>(&mut conn)
    .unwrap()
    .into_iter()
    .map(|t| t.name)
    .collect();
    assert_eq!(
        triggers,
        [
            "activities.ticket_activity_counts_insert",
            "responders.ticket_participants_insert",
            "responders.ticket_review_stats_insert",
            "responders.ticket_stats_insert",
            "subscribers.ticket_participants_insert",
            "tickets.ticket_participants_insert",
            "tickets.ticket_stats_insert",
            "tickets.ticket_status_counts_insert",
        ]
    );
}
