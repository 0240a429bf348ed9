//! The trigger-kept `ticket_activity_counts` must always equal the number of each ticket's
//! activities, and the timeline's count built on it (`count_activities` with only a ticket,
//! or a ticket and an `id__lt` cursor) must equal an exact count in every visibility scope:
//! after random sequences of activity inserts (one and many rows per statement), deletes,
//! moves to another ticket, ticket deletes that cascade and rolled-back transactions, and
//! under concurrent writers. `DESK_PROPTEST_CASES` raises the number of sequences.

mod common;

use common::*;
use desk_domain::policy::Scope;
use desk_domain::ports::{ActivityFilter, ActivityReadRepository};
use desk_domain::{ProfileId, TicketId};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

#[derive(QueryableByName, Debug, PartialEq, Eq)]
struct TicketCount {
    #[diesel(sql_type = Integer)]
    ticket_id: i32,
    #[diesel(sql_type = Integer)]
    requester_id: i32,
    #[diesel(sql_type = BigInt)]
    exact: i64,
    #[diesel(sql_type = BigInt)]
    kept: i64,
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = Integer)]
    id: i32,
}

fn exact_before(conn: &mut PgConnection, ticket: i32, cursor: i32) -> i64 {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    diesel::sql_query("SELECT count(*) AS n FROM activities WHERE ticket_id = $1 AND id < $2")
        .bind::<Integer, _>(ticket)
        .bind::<Integer, _>(cursor)
        .get_result::<N>(conn)
        .unwrap()
        .n
}

/// The counters against a count of the activities, then the repository's timeline count for
/// every ticket, with and without cursors, in every kind of scope.
fn assert_consistent(db: &desk_persistence::Database, requester: i32) {
    let mut conn = db.connection().unwrap();
    let rows: Vec<TicketCount> = diesel::sql_query(
        "SELECT t.id AS ticket_id, t.requester_id,
                (SELECT count(*) FROM activities a WHERE a.ticket_id = t.id) AS exact,
                coalesce((SELECT sum(c.n) FROM ticket_activity_counts c
                          WHERE c.ticket_id = t.id), 0)::bigint AS kept
         FROM tickets t ORDER BY t.id",
    )
    .load(&mut conn)
    .unwrap();
    let ids: Vec<i32> = diesel::sql_query("SELECT id FROM activities ORDER BY id")
        .load::<Id>(&mut conn)
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    // Cursors: every activity id, one past the last, and one below the first.
    let mut cursors = ids.clone();
    cursors.push(ids.last().map_or(1, |last| last + 1));
    cursors.push(0);
    for row in &rows {
        assert_eq!(row.kept, row.exact, "counter of ticket {}", row.ticket_id);
        let ticket = TicketId(row.ticket_id);
        for scope in [
            Scope::Everything,
            Scope::ParticipantOf(ProfileId(requester)),
            Scope::Nothing,
        ] {
            let visible = match scope {
                Scope::Everything => true,
                Scope::ParticipantOf(p) => p.0 == row.requester_id,
                Scope::Nothing => false,
            };
            let filter = ActivityFilter {
                ticket: Some(ticket),
                ..ActivityFilter::default()
            };
            let counted = db
                .read_only(None, |uow| uow.count_activities(scope, &filter))
                .unwrap();
            assert_eq!(counted, if visible { row.exact } else { 0 }, "{scope:?}");
            for &cursor in &cursors {
                let filter = ActivityFilter {
                    ticket: Some(ticket),
                    id_lt: Some(cursor),
                    ..ActivityFilter::default()
                };
                let counted = db
                    .read_only(None, |uow| uow.count_activities(scope, &filter))
                    .unwrap();
                let expected = if visible {
                    exact_before(&mut conn, row.ticket_id, cursor)
                } else {
                    0
                };
                assert_eq!(counted, expected, "{scope:?} before {cursor}");
            }
        }
    }
    // A ticket that does not exist has no activities.
    let filter = ActivityFilter {
        ticket: Some(TicketId(i32::MAX)),
        ..ActivityFilter::default()
    };
    let counted = db
        .read_only(None, |uow| uow.count_activities(Scope::Everything, &filter))
        .unwrap();
    assert_eq!(counted, 0);
}

/// One write, as SQL. Tickets are picked by rank (`OFFSET`) so the operations stay
/// meaningful whatever ids exist.
#[derive(Debug, Clone)]
enum Op {
    Tickets { mine: bool, count: u8 },
    Activities { ticket: u8, count: u8 },
    DeleteActivities { modulo: u8 },
    MoveActivities { from: u8, to: u8 },
    DeleteTickets { modulo: u8 },
    RolledBack(Box<Op>),
}

fn op() -> impl Strategy<Value = Op> {
    let leaf = prop_oneof![
        2 => (proptest::bool::ANY, 1..4u8).prop_map(|(mine, count)| Op::Tickets { mine, count }),
        5 => (0..8u8, 1..6u8).prop_map(|(ticket, count)| Op::Activities { ticket, count }),
        1 => (2..6u8).prop_map(|modulo| Op::DeleteActivities { modulo }),
        1 => (0..8u8, 0..8u8).prop_map(|(from, to)| Op::MoveActivities { from, to }),
        1 => (2..7u8).prop_map(|modulo| Op::DeleteTickets { modulo }),
    ];
    with_rollbacks(leaf, Op::RolledBack)
}

fn sql_of(op: &Op, mine: i32, other: i32) -> String {
    match op {
        Op::Tickets {
            mine: is_mine,
            count,
        } => format!(
            "INSERT INTO tickets (requester_id, background, created_at, updated_at)
             SELECT {}, 'a', now(), now() FROM generate_series(1, {count})",
            if *is_mine { mine } else { other }
        ),
        Op::Activities { ticket, count } => format!(
            "INSERT INTO activities (ticket_id, verb) SELECT t, 'comment:create'
             FROM {} AS x(t), generate_series(1, {count}) WHERE t IS NOT NULL",
            ticket_at(*ticket)
        ),
        Op::DeleteActivities { modulo } => {
            format!("DELETE FROM activities WHERE id % {modulo} = 0")
        }
        Op::MoveActivities { from, to } => format!(
            "UPDATE activities SET ticket_id = x.t FROM {} AS x(t)
             WHERE x.t IS NOT NULL AND activities.ticket_id = {}",
            ticket_at(*to),
            ticket_at(*from)
        ),
        Op::DeleteTickets { modulo } => format!("DELETE FROM tickets WHERE id % {modulo} = 0"),
        Op::RolledBack(inner) => sql_of(inner, mine, other),
    }
}

fn two_profiles(db: &desk_persistence::Database) -> (i32, i32) {
    write(db, |uow| {
        let mine = profile(uow, "mine@x.org", "M", "Ine", false, false).id.0;
        let other = profile(uow, "other@x.org", "O", "Ther", false, false).id.0;
        (mine, other)
    })
}

#[test]
fn timeline_counts_follow_every_kind_of_write() {
    let t = TestDb::new();
    let (mine, other) = two_profiles(&t.db);
    let mut runner = TestRunner::new(Config {
        cases: write_sequence_cases(64),
        ..Config::default()
    });
    runner
        .run(&proptest::collection::vec(op(), 1..25), |ops| {
            apply_writes(
                &t.db,
                "TRUNCATE tickets, activities, ticket_activity_counts CASCADE",
                ops.iter()
                    .map(|op| (sql_of(op, mine, other), matches!(op, Op::RolledBack(_)))),
            );
            assert_consistent(&t.db, mine);
            Ok(())
        })
        .unwrap();
}

/// Writers on other connections adding activities to the same two tickets at once, some
/// of them rolled back: the counters must still be exact when they are done.
#[test]
fn timeline_counts_stay_exact_under_concurrent_writers() {
    let t = TestDb::new();
    let (mine, _) = two_profiles(&t.db);
    let tickets: Vec<i32> = write(&t.db, |uow| {
        (0..2)
            .map(|i| ticket(uow, ProfileId(mine), &content("c"), i).id.0)
            .collect()
    });
    let failed = concurrent_writes(&t.db, 4, 50, |worker, round| {
        let ticket = tickets[(round + worker) % tickets.len()];
        let insert =
            format!("INSERT INTO activities (ticket_id, verb) VALUES ({ticket}, 'comment:create')");
        if round % 5 == 4 {
            format!("BEGIN; {insert}; ROLLBACK")
        } else {
            insert
        }
    });
    assert_eq!(failed, 0, "every activity insert succeeds");
    assert_consistent(&t.db, mine);
}

/// A comment records its activity while a status change of the same ticket, which locks the
/// ticket row first, records its own. Both must lock in the same order (ticket row, then a
/// counter slot), or the two deadlock whenever they draw the same slot.
#[test]
fn recording_activities_never_deadlocks_with_a_ticket_update() {
    use desk_domain::activity::{NewActivity, Verb};
    use desk_domain::ports::ActivityRepository;
    let t = TestDb::new();
    let (mine, _) = two_profiles(&t.db);
    let ticket = write(&t.db, |uow| {
        ticket(uow, ProfileId(mine), &content("d"), 0).id
    });
    let rounds = 120;
    std::thread::scope(|s| {
        // The status-change order: ticket row first, a pause, then the activity.
        let updater = s.spawn(|| {
            let mut conn = t.db.connection().unwrap();
            for _ in 0..rounds {
                conn.batch_execute(&format!(
                    "BEGIN; UPDATE tickets SET status = 'in-progress' WHERE id = {id};
                     SELECT pg_sleep(0.002);
                     INSERT INTO activities (ticket_id, verb) VALUES ({id}, 'ticket:update');
                     COMMIT",
                    id = ticket.0
                ))
                .expect("ticket update and its activity");
            }
        });
        // The comment order: whatever the repository does.
        for _ in 0..rounds * 2 {
            t.db.in_transaction(Some(ProfileId(mine)), |uow| {
                uow.record_activity(&NewActivity {
                    actor: Some(ProfileId(mine)),
                    verb: Verb::CommentCreate,
                    ticket,
                    action: None,
                    at: at(1),
                })
            })
            .expect("activity recorded without a deadlock");
        }
        updater.join().unwrap();
    });
    assert_consistent(&t.db, mine);
}
