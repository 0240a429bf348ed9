//! The trigger-kept `ticket_participants` and `profile_ticket_counts` must always equal what
//! they summarise: after random sequences of every kind of write to tickets, responders and
//! subscribers (one and many rows per statement, requester changes, bare-e-mail
//! subscriptions claimed by a profile, deletes that cascade, rolled-back transactions), and
//! under concurrent writers. `DESK_PROPTEST_CASES` raises the number of sequences.

mod common;

use common::*;
use desk_domain::ports::ProfileRepository;
use desk_domain::ProfileId;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use std::collections::BTreeMap;

#[derive(QueryableByName, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Pair {
    #[diesel(sql_type = Integer)]
    profile_id: i32,
    #[diesel(sql_type = Integer)]
    ticket_id: i32,
    #[diesel(sql_type = BigInt)]
    ways: i64,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = Integer)]
    profile_id: i32,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The participation recomputed from the base tables.
fn expected(conn: &mut PgConnection) -> Vec<Pair> {
    diesel::sql_query(
        "SELECT profile_id, ticket_id, count(*) AS ways FROM (
             SELECT requester_id AS profile_id, id AS ticket_id FROM tickets
             UNION ALL SELECT user_id, ticket_id FROM responders
             UNION ALL SELECT user_id, ticket_id FROM subscribers WHERE user_id IS NOT NULL
         ) w GROUP BY 1, 2 ORDER BY 1, 2",
    )
    .load(conn)
    .unwrap()
}

fn kept(conn: &mut PgConnection) -> Vec<Pair> {
    diesel::sql_query(
        "SELECT profile_id, ticket_id, ways::bigint AS ways FROM ticket_participants ORDER BY 1, 2",
    )
    .load(conn)
    .unwrap()
}

/// Every profile's counter (summed slots) against the size of its participation set.
fn assert_counts(db: &desk_persistence::Database) {
    let mut conn = db.connection().unwrap();
    let counters: Vec<Count> = diesel::sql_query(
        "SELECT p.id AS profile_id, coalesce((SELECT sum(c.n) FROM profile_ticket_counts c
             WHERE c.profile_id = p.id), 0)::bigint AS n FROM profiles p",
    )
    .load(&mut conn)
    .unwrap();
    let mut truth: BTreeMap<i32, i64> = BTreeMap::new();
    for pair in expected(&mut conn) {
        *truth.entry(pair.profile_id).or_default() += 1;
    }
    for c in &counters {
        assert_eq!(
            c.n,
            truth.get(&c.profile_id).copied().unwrap_or(0),
            "tickets-count counter of profile {}",
            c.profile_id
        );
    }
    // And as the repository renders it (non-superusers only: a superuser counts all).
    let ids: Vec<ProfileId> = counters.iter().map(|c| ProfileId(c.profile_id)).collect();
    let views = db
        .read_only(None, |uow| uow.profile_views(&ids))
        .expect("profile views");
    for view in views.iter().filter(|v| !v.profile.is_superuser) {
        assert_eq!(
            view.tickets_count,
            truth.get(&view.profile.id.0).copied().unwrap_or(0)
        );
    }
}

fn assert_consistent(db: &desk_persistence::Database) {
    let mut conn = db.connection().unwrap();
    assert_eq!(kept(&mut conn), expected(&mut conn));
    drop(conn);
    assert_counts(db);
}

/// One write, as SQL over 6 profiles and the tickets present. Ticket ids are picked by
/// rank (`OFFSET`) so the operations stay meaningful whatever ids exist.
#[derive(Debug, Clone)]
enum Op {
    Tickets { requester: u8, count: u8 },
    Responder { ticket: u8, user: u8 },
    Subscriber { ticket: u8, user: Option<u8> },
    ClaimEmailSubscriptions { user: u8 },
    ChangeRequester { ticket: u8, user: u8 },
    MoveResponders { from: u8, to: u8 },
    RemoveResponders { user: u8 },
    RemoveSubscribers { ticket: u8 },
    DeleteTickets { modulo: u8 },
    RolledBack(Box<Op>),
}

fn op() -> impl Strategy<Value = Op> {
    let leaf = prop_oneof![
        3 => (0..6u8, 1..4u8).prop_map(|(requester, count)| Op::Tickets { requester, count }),
        3 => (0..12u8, 0..6u8).prop_map(|(ticket, user)| Op::Responder { ticket, user }),
        3 => (0..12u8, proptest::option::of(0..6u8))
            .prop_map(|(ticket, user)| Op::Subscriber { ticket, user }),
        1 => (0..6u8).prop_map(|user| Op::ClaimEmailSubscriptions { user }),
        1 => (0..12u8, 0..6u8).prop_map(|(ticket, user)| Op::ChangeRequester { ticket, user }),
        1 => (0..6u8, 0..6u8).prop_map(|(from, to)| Op::MoveResponders { from, to }),
        1 => (0..6u8).prop_map(|user| Op::RemoveResponders { user }),
        1 => (0..12u8).prop_map(|ticket| Op::RemoveSubscribers { ticket }),
        1 => (2..7u8).prop_map(|modulo| Op::DeleteTickets { modulo }),
    ];
    with_rollbacks(leaf, Op::RolledBack)
}

fn sql_of(op: &Op, profiles: &[i32]) -> String {
    let p = |i: u8| profiles[i as usize % profiles.len()];
    match op {
        Op::Tickets { requester, count } => format!(
            "INSERT INTO tickets (requester_id, background, created_at, updated_at)
             SELECT {}, 'p', now(), now() FROM generate_series(1, {count})",
            p(*requester)
        ),
        Op::Responder { ticket, user } => format!(
            "INSERT INTO responders (ticket_id, user_id) SELECT t, {} FROM {} AS x(t)
             WHERE t IS NOT NULL ON CONFLICT DO NOTHING",
            p(*user),
            ticket_at(*ticket)
        ),
        Op::Subscriber { ticket, user } => {
            let (user, email) = match user {
                Some(u) => (p(*u).to_string(), "NULL".to_string()),
                // The e-mail of profile 0..6 in some case, so a later claim can match it.
                None => ("NULL".to_string(), format!("'U{}@X.org'", ticket % 6)),
            };
            format!(
                "INSERT INTO subscribers (ticket_id, user_id, email) SELECT t, {user}, {email}
                 FROM {} AS x(t) WHERE t IS NOT NULL ON CONFLICT DO NOTHING",
                ticket_at(*ticket)
            )
        }
        Op::ClaimEmailSubscriptions { user } => format!(
            "UPDATE subscribers s SET user_id = {id}, email = NULL
             WHERE s.user_id IS NULL AND lower(s.email) = 'u{user}@x.org'
               AND NOT EXISTS (SELECT 1 FROM subscribers o
                               WHERE o.ticket_id = s.ticket_id AND o.user_id = {id})",
            id = p(*user)
        ),
        Op::ChangeRequester { ticket, user } => format!(
            "UPDATE tickets SET requester_id = {} WHERE id = {}",
            p(*user),
            ticket_at(*ticket)
        ),
        Op::MoveResponders { from, to } => format!(
            "UPDATE responders r SET user_id = {to} WHERE r.user_id = {from}
               AND NOT EXISTS (SELECT 1 FROM responders o WHERE o.ticket_id = r.ticket_id
                               AND o.user_id = {to})",
            from = p(*from),
            to = p(*to)
        ),
        Op::RemoveResponders { user } => {
            format!("DELETE FROM responders WHERE user_id = {}", p(*user))
        }
        Op::RemoveSubscribers { ticket } => format!(
            "DELETE FROM subscribers WHERE ticket_id = {}",
            ticket_at(*ticket)
        ),
        Op::DeleteTickets { modulo } => {
            format!("DELETE FROM tickets WHERE id % {modulo} = 0")
        }
        Op::RolledBack(inner) => sql_of(inner, profiles),
    }
}

#[test]
fn participation_follows_every_kind_of_write() {
    let t = TestDb::new();
    let profiles: Vec<i32> = write(&t.db, |uow| {
        (0..6)
            .map(|i| {
                profile(
                    uow,
                    &format!("u{i}@x.org"),
                    "P",
                    &i.to_string(),
                    false,
                    false,
                )
                .id
                .0
            })
            .collect()
    });
    let mut runner = TestRunner::new(Config {
        cases: write_sequence_cases(64),
        ..Config::default()
    });
    runner
        .run(&proptest::collection::vec(op(), 1..25), |ops| {
            apply_writes(
                &t.db,
                "TRUNCATE tickets, responders, subscribers, ticket_participants, profile_ticket_counts CASCADE",
                ops.iter()
                    .map(|op| (sql_of(op, &profiles), matches!(op, Op::RolledBack(_)))),
            );
            assert_consistent(&t.db);
            Ok(())
        })
        .unwrap();
}

/// Writers on other connections adding and removing the same people on the same tickets at
/// once: the counters must still be exact when they are done.
#[test]
fn participation_stays_exact_under_concurrent_writers() {
    let t = TestDb::new();
    let profiles: Vec<i32> = write(&t.db, |uow| {
        (0..4)
            .map(|i| {
                profile(
                    uow,
                    &format!("c{i}@x.org"),
                    "C",
                    &i.to_string(),
                    false,
                    false,
                )
                .id
                .0
            })
            .collect()
    });
    let tickets: Vec<i32> = write(&t.db, |uow| {
        (0..8)
            .map(|i| {
                ticket(uow, ProfileId(profiles[i % 4]), &content("c"), i as i64)
                    .id
                    .0
            })
            .collect()
    });
    concurrent_writes(&t.db, 4, 60, |worker, round| {
        let user = profiles[(worker + round) % profiles.len()];
        let ticket = tickets[(round * 3 + worker) % tickets.len()];
        match round % 4 {
            0 => format!("INSERT INTO responders (ticket_id, user_id) VALUES ({ticket}, {user}) ON CONFLICT DO NOTHING"),
            1 => format!("INSERT INTO subscribers (ticket_id, user_id) VALUES ({ticket}, {user}) ON CONFLICT DO NOTHING"),
            2 => format!("DELETE FROM responders WHERE ticket_id = {ticket} AND user_id = {user}"),
            _ => format!("DELETE FROM subscribers WHERE ticket_id = {ticket}"),
        }
    });
    assert_consistent(&t.db);
}
