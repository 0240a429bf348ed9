//! Seeding: deterministic, consistent, guarded. `DESK_SEED_TICKETS` scales it (for timing in
//! release builds: `DESK_SEED_TICKETS=100000 cargo test --release -p desk-persistence --test seeding -- --nocapture`).

mod common;

use common::TestDb;
use desk_domain::listing::{PageSlice, ProfileFilter, TicketFilter};
use desk_domain::policy::{ProfileScope, Scope};
use desk_domain::ports::{ProfileRepository, TicketRepository};
use desk_persistence::seed::{seed, seed_with, SeedOptions};
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
            profiles: 3,
            tickets: 3,
            seed: 7,
            force: true,
        },
        &mut |_, _, _| {},
    )
    .unwrap();
    assert_eq!(more.tickets, 3);
}

#[test]
fn same_seed_same_data() {
    let fingerprint = |t: &TestDb| {
        let mut conn = t.db.connection().unwrap();
        #[derive(QueryableByName)]
        struct F {
            #[diesel(sql_type = diesel::sql_types::Text)]
            f: String,
        }
        diesel::sql_query(
            "SELECT md5(string_agg(concat_ws('|', t.kind, t.status, t.created_at, t.background, p.email, p.first_name), ',' ORDER BY t.id)) AS f \
             FROM tickets t JOIN profiles p ON p.id = t.requester_id",
        )
        .get_result::<F>(&mut conn)
        .unwrap()
        .f
    };
    let (a, b) = (TestDb::new(), TestDb::new());
    seed(&a.db, 20, 50, 99, &mut |_, _, _| {}).unwrap();
    seed(&b.db, 20, 50, 99, &mut |_, _, _| {}).unwrap();
    assert_eq!(fingerprint(&a), fingerprint(&b));
}
