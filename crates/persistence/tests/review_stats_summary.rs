//! The trigger-kept review summary (`review_stats`) must answer review statistics by
//! responder exactly as a count over the reviews and their tickets' responders would: after
//! random sequences of every kind of write (reviews added, re-rated, moved in time and
//! deleted; responders added, moved and removed; tickets and profiles deleted with what
//! cascades from them; rolled-back transactions), for windows that start and end inside a
//! month, and under concurrent writers. `DESK_PROPTEST_CASES` raises the number of
//! sequences.

mod common;

use chrono::{DateTime, TimeZone, Utc};
use common::*;
use desk_domain::ports::{ReviewStat, ReviewStatsGroup, ReviewStatsQuery, StatsRepository};
use desk_domain::ProfileId;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Nullable<Integer>)]
    responder: Option<i32>,
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = BigInt)]
    ratings: i64,
}

/// The statistic counted over the reviews themselves (BEHAVIOUR §6.3: a review counts once
/// per responder of its ticket; reviews of tickets without one form the null group).
fn counted(conn: &mut PgConnection, q: &ReviewStatsQuery) -> Vec<ReviewStat> {
    let to =
        q.to.map(|to| format!(" AND v.created_at <= '{}'", to.to_rfc3339()))
            .unwrap_or_default();
    let rows: Vec<Row> = diesel::sql_query(format!(
        "SELECT r.user_id AS responder, count(*) AS n, sum(v.rating)::int8 AS ratings
         FROM reviews v LEFT JOIN responders r ON r.ticket_id = v.ticket_id
         WHERE v.created_at >= '{}'{to}
         GROUP BY 1 ORDER BY 1 NULLS FIRST",
        q.from.to_rfc3339()
    ))
    .load(conn)
    .unwrap();
    rows.into_iter()
        .map(|r| ReviewStat {
            ticket: None,
            responder: r.responder.map(ProfileId),
            count: r.n,
            ratings: r.ratings,
        })
        .collect()
}

fn query(from: DateTime<Utc>, to: Option<DateTime<Utc>>) -> ReviewStatsQuery {
    ReviewStatsQuery {
        group: ReviewStatsGroup::Responder,
        from,
        to,
        ticket: None,
        ticket_isnull: None,
        responder: None,
        has_responder: None,
    }
}

fn day(d: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::days(d)
}

/// Windows that begin and end on and between month boundaries, inside one month, and
/// backwards.
fn windows() -> Vec<(DateTime<Utc>, Option<DateTime<Utc>>)> {
    vec![
        (day(-400), None),
        (day(0), None),
        (day(17) + chrono::Duration::seconds(3), None),
        (day(10), Some(day(75))),
        (day(31), Some(day(59))),
        (day(33), Some(day(40))),
        (day(40), Some(day(33))),
        (day(0), Some(day(31))),
        (day(-400), Some(day(380))),
        (day(200), Some(day(500))),
    ]
}

fn assert_consistent(db: &desk_persistence::Database) {
    for (from, to) in windows() {
        let q = query(from, to);
        let mut conn = db.connection().unwrap();
        let expected = counted(&mut conn, &q);
        drop(conn);
        let summarised = db
            .in_transaction(None, |uow| uow.review_stats(&q))
            .expect("review stats");
        assert_eq!(summarised, expected, "{q:?}");
    }
}

/// One write, as SQL over 4 profiles (and 2 more that may be deleted) and the tickets and
/// reviews present, picked by rank (`OFFSET`) so the operations stay meaningful whatever
/// ids exist.
#[derive(Debug, Clone)]
enum Op {
    Tickets {
        count: u8,
    },
    Reviews {
        ticket: u8,
        count: u8,
        day: u8,
        rating: u8,
    },
    Rerate {
        modulo: u8,
        rating: u8,
    },
    Redate {
        review: u8,
        day: u8,
    },
    MoveReview {
        review: u8,
        ticket: u8,
    },
    DeleteReviews {
        modulo: u8,
    },
    Responder {
        ticket: u8,
        user: u8,
    },
    MoveResponders {
        from: u8,
        to: u8,
    },
    RemoveResponders {
        user: u8,
    },
    DeleteTickets {
        modulo: u8,
    },
    DeleteProfile {
        user: u8,
    },
    RolledBack(Box<Op>),
}

fn op() -> impl Strategy<Value = Op> {
    let leaf = prop_oneof![
        2 => (1..4u8).prop_map(|count| Op::Tickets { count }),
        4 => (0..10u8, 1..3u8, 0..90u8, 0..4u8).prop_map(|(ticket, count, day, rating)| {
            Op::Reviews { ticket, count, day, rating }
        }),
        1 => (1..4u8, 0..4u8).prop_map(|(modulo, rating)| Op::Rerate { modulo, rating }),
        1 => (0..10u8, 0..90u8).prop_map(|(review, day)| Op::Redate { review, day }),
        1 => (0..10u8, 0..10u8).prop_map(|(review, ticket)| Op::MoveReview { review, ticket }),
        1 => (2..6u8).prop_map(|modulo| Op::DeleteReviews { modulo }),
        4 => (0..10u8, 0..6u8).prop_map(|(ticket, user)| Op::Responder { ticket, user }),
        1 => (0..6u8, 0..6u8).prop_map(|(from, to)| Op::MoveResponders { from, to }),
        1 => (0..6u8).prop_map(|user| Op::RemoveResponders { user }),
        1 => (2..6u8).prop_map(|modulo| Op::DeleteTickets { modulo }),
        1 => (4..6u8).prop_map(|user| Op::DeleteProfile { user }),
    ];
    with_rollbacks(leaf, Op::RolledBack)
}

fn review_at(rank: u8) -> String {
    format!("(SELECT id FROM reviews ORDER BY id OFFSET {rank} LIMIT 1)")
}

/// `profiles`: four requesters and responders that stay, then two responders that may be
/// deleted (their responder rows cascade).
fn sql_of(op: &Op, profiles: &[i32]) -> String {
    let p = |i: u8| profiles[i as usize % profiles.len()];
    // Every fifth day, at an odd second: fifteen months, into a second year.
    let at = |d: u8| {
        format!(
            "'{}'::timestamptz",
            (day(d as i64 * 5) + chrono::Duration::seconds(d as i64 * 7 + 1)).to_rfc3339()
        )
    };
    match op {
        Op::Tickets { count } => format!(
            "INSERT INTO tickets (requester_id, background)
             SELECT {}, 's' FROM generate_series(1, {count})",
            p(*count)
        ),
        Op::Reviews {
            ticket,
            count,
            day,
            rating,
        } => format!(
            "INSERT INTO reviews (ticket_id, rating, body, created_at)
             SELECT t, {rating}, 'r', {} + g * interval '9 days 0.5 seconds'
             FROM {} AS x(t), generate_series(1, {count}) AS g WHERE t IS NOT NULL",
            at(*day),
            ticket_at(*ticket)
        ),
        Op::Rerate { modulo, rating } => {
            format!("UPDATE reviews SET rating = {rating} WHERE id % {modulo} = 0")
        }
        Op::Redate { review, day } => format!(
            "UPDATE reviews SET created_at = {} WHERE id = {}",
            at(*day),
            review_at(*review)
        ),
        Op::MoveReview { review, ticket } => format!(
            "UPDATE reviews SET ticket_id = x.t FROM {} AS x(t)
             WHERE x.t IS NOT NULL AND reviews.id = {}",
            ticket_at(*ticket),
            review_at(*review)
        ),
        Op::DeleteReviews { modulo } => format!("DELETE FROM reviews WHERE id % {modulo} = 0"),
        // Profiles 4 and 5 may have been deleted: only existing ones are used.
        Op::Responder { ticket, user } => format!(
            "INSERT INTO responders (ticket_id, user_id) SELECT x.t, p.id
             FROM {} AS x(t), profiles p WHERE x.t IS NOT NULL AND p.id = {}
             ON CONFLICT DO NOTHING",
            ticket_at(*ticket),
            p(*user)
        ),
        Op::MoveResponders { from, to } => format!(
            "UPDATE responders r SET user_id = {to} WHERE r.user_id = {from}
               AND EXISTS (SELECT 1 FROM profiles WHERE id = {to})
               AND NOT EXISTS (SELECT 1 FROM responders o WHERE o.ticket_id = r.ticket_id
                               AND o.user_id = {to})",
            from = p(*from),
            to = p(*to)
        ),
        Op::RemoveResponders { user } => {
            format!("DELETE FROM responders WHERE user_id = {}", p(*user))
        }
        Op::DeleteTickets { modulo } => format!("DELETE FROM tickets WHERE id % {modulo} = 0"),
        // Only the two profiles that never request: their responder rows cascade.
        Op::DeleteProfile { user } => format!("DELETE FROM profiles WHERE id = {}", p(*user)),
        Op::RolledBack(inner) => sql_of(inner, profiles),
    }
}

fn profiles(db: &desk_persistence::Database, prefix: &str) -> Vec<i32> {
    staff_profiles(db, prefix, 6)
}

#[test]
fn the_review_summary_answers_like_a_count_after_every_kind_of_write() {
    let t = TestDb::new();
    let profiles = profiles(&t.db, "s");
    // Requesters among the first four only, so deleting the last two never deletes tickets.
    let requesters = &profiles[..4];
    let mut runner = TestRunner::new(Config {
        cases: write_sequence_cases(48),
        ..Config::default()
    });
    runner
        .run(&proptest::collection::vec(op(), 1..25), |ops| {
            // A deleted profile comes back (same id) for the next sequence.
            let restore: Vec<String> = profiles[4..]
                .iter()
                .map(|id| {
                    format!(
                        "INSERT INTO profiles (id, email) VALUES ({id}, 'back{id}@x.org')
                         ON CONFLICT (id) DO NOTHING"
                    )
                })
                .collect();
            apply_writes(
                &t.db,
                &format!(
                    "TRUNCATE tickets, responders, reviews, review_stats CASCADE; {}",
                    restore.join("; ")
                ),
                ops.iter().map(|op| {
                    let profiles = match op {
                        Op::Tickets { .. } => requesters,
                        _ => &profiles[..],
                    };
                    (sql_of(op, profiles), matches!(op, Op::RolledBack(_)))
                }),
            );
            assert_consistent(&t.db);
            Ok(())
        })
        .unwrap();
}

/// Writers on other connections adding reviews and changing the responders of the same
/// tickets at once (the grouping depends on both): the summary must still be exact when
/// they are done.
#[test]
fn the_review_summary_stays_exact_under_concurrent_writers() {
    let t = TestDb::new();
    let profiles = profiles(&t.db, "c");
    let mut conn = t.db.connection().unwrap();
    conn.batch_execute(&sql_of(&Op::Tickets { count: 3 }, &profiles[..4]))
        .unwrap();
    drop(conn);
    let requesters = &profiles[..4];
    concurrent_writes(&t.db, 4, 150, |worker, round| {
        let (worker, round) = (worker as u8, round as u8);
        let ticket = (round + worker) % 3;
        let op = match (round + worker) % 4 {
            0 => Op::Reviews {
                ticket,
                count: 1,
                day: round,
                rating: worker % 4,
            },
            1 => Op::Responder {
                ticket,
                user: (worker + round) % 4,
            },
            2 => Op::RemoveResponders {
                user: (worker + round) % 4,
            },
            _ => Op::DeleteReviews { modulo: 7 },
        };
        // The pause keeps each write uncommitted while the others' triggers run.
        format!(
            "BEGIN; {}; SELECT pg_sleep(0.002); COMMIT",
            sql_of(&op, requesters)
        )
    });
    assert_consistent(&t.db);
}

/// A subscriber change writes the ticket's participants, then bumps the ticket (its
/// activity). A responder added at the same moment for the same person and ticket must take
/// its locks in that order too: the summary's responder triggers fire after the
/// participants' (trigger names order them), or the two deadlock.
#[test]
fn a_responder_and_a_subscriber_added_at_once_never_deadlock() {
    let t = TestDb::new();
    let profiles = profiles(&t.db, "d");
    let mut conn = t.db.connection().unwrap();
    let rounds = 6u8;
    conn.batch_execute(&sql_of(&Op::Tickets { count: rounds }, &profiles[..1]))
        .unwrap();
    // Every ticket already has a review, so the summary's triggers have work to do.
    conn.batch_execute(
        "INSERT INTO reviews (ticket_id, rating, body, created_at)
         SELECT id, 2, 'r', now() FROM tickets",
    )
    .unwrap();
    drop(conn);
    for round in 0..rounds {
        let ticket = ticket_at(round);
        let user = profiles[1 + round as usize % 3];
        let inserted = std::sync::Barrier::new(2);
        std::thread::scope(|s| {
            let subscriber = s.spawn(|| {
                let mut conn = t.db.connection().unwrap();
                conn.batch_execute(&format!(
                    "BEGIN; INSERT INTO subscribers (ticket_id, user_id) SELECT {ticket}, {user}"
                ))
                .unwrap();
                inserted.wait();
                // The responder's insert is waiting by now.
                std::thread::sleep(std::time::Duration::from_millis(150));
                conn.batch_execute(&format!(
                    "UPDATE tickets SET updated_at = now() WHERE id = {ticket}; COMMIT"
                ))
            });
            let mut conn = t.db.connection().unwrap();
            inserted.wait();
            let responder = conn.batch_execute(&format!(
                "BEGIN; INSERT INTO responders (ticket_id, user_id) SELECT {ticket}, {user};
                 UPDATE tickets SET updated_at = now() WHERE id = {ticket}; COMMIT"
            ));
            assert!(responder.is_ok(), "responder: {responder:?}");
            let subscriber = subscriber.join().unwrap();
            assert!(subscriber.is_ok(), "subscriber: {subscriber:?}");
        });
    }
    assert_consistent(&t.db);
}
