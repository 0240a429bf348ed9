//! The trigger-kept statistics summary (`ticket_stats` + `ticket_stats_deltas`) must answer
//! every statistic exactly as a count over the tickets would: after random sequences of
//! every kind of write (tickets inserted, updated in any counted column, deleted with their
//! responders; responders added, moved and removed; rolled-back transactions; folds at any
//! point), for every grouping and for windows that start and end inside a month, and under
//! concurrent writers. `DESK_PROPTEST_CASES` raises the number of sequences.

mod common;

use chrono::{DateTime, TimeZone, Utc};
use common::*;
use desk_domain::ports::{StatsRepository, TicketStat, TicketStatsGroup, TicketStatsQuery};
use desk_domain::ProfileId;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Text, Timestamptz};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Nullable<Timestamptz>)]
    month: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Text>)]
    country: Option<String>,
    #[diesel(sql_type = Nullable<Integer>)]
    responder: Option<i32>,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = BigInt)]
    avg_hours: i64,
    #[diesel(sql_type = BigInt)]
    past_deadline: i64,
}

/// The statistic counted over the tickets themselves, written independently of the
/// adapter (BEHAVIOUR §6.2; the mean is exact, then truncated toward zero).
fn counted(conn: &mut PgConnection, q: &TicketStatsQuery) -> Vec<TicketStat> {
    let (key, join) = match q.group {
        TicketStatsGroup::Month => (
            "date_trunc('month', t.created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS month, \
             NULL::text AS country, NULL::int4 AS responder",
            "",
        ),
        TicketStatsGroup::Country => (
            "NULL::timestamptz AS month, c.country AS country, NULL::int4 AS responder",
            " CROSS JOIN LATERAL unnest(t.countries) AS c(country)",
        ),
        TicketStatsGroup::Responder => (
            "NULL::timestamptz AS month, NULL::text AS country, r.user_id AS responder",
            " LEFT JOIN responders r ON r.ticket_id = t.id",
        ),
    };
    let statuses = q
        .status_in
        .as_ref()
        .map(|s| format!(" AND t.status IN ('{}')", s.join("','")))
        .unwrap_or_default();
    let to =
        q.to.map(|to| format!(" AND t.created_at <= '{}'", to.to_rfc3339()))
            .unwrap_or_default();
    let rows: Vec<Row> = diesel::sql_query(format!(
        "SELECT {key}, t.status, count(*) AS n,
                trunc(sum(extract(epoch FROM t.updated_at - t.created_at)) / count(*) / 3600)::int8
                    AS avg_hours,
                count(*) FILTER (WHERE t.updated_at > t.deadline_at) AS past_deadline
         FROM tickets t{join} WHERE t.created_at >= '{}'{to}{statuses}
         GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3 NULLS FIRST, 4",
        q.from.to_rfc3339()
    ))
    .load(conn)
    .unwrap();
    rows.into_iter()
        .map(|r| TicketStat {
            month: r.month,
            country: r.country,
            responder: r.responder.map(ProfileId),
            status: r.status,
            count: r.n,
            avg_hours: r.avg_hours,
            past_deadline: r.past_deadline,
        })
        .collect()
}

fn query(
    group: TicketStatsGroup,
    from: DateTime<Utc>,
    to: Option<DateTime<Utc>>,
    status_in: Option<Vec<String>>,
) -> TicketStatsQuery {
    TicketStatsQuery {
        group,
        from,
        to,
        country: None,
        status_in,
        kind: None,
        responder: None,
        has_responder: None,
    }
}

fn summarised(db: &desk_persistence::Database, q: &TicketStatsQuery) -> Vec<TicketStat> {
    db.in_transaction(None, |uow| uow.ticket_stats(q))
        .expect("ticket stats")
}

fn day(d: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap() + chrono::Duration::days(d)
}

/// Every grouping over windows that begin and end on and between month and year
/// boundaries.
fn queries() -> Vec<TicketStatsQuery> {
    let windows: Vec<(DateTime<Utc>, Option<DateTime<Utc>>)> = vec![
        (day(-400), None),
        (day(0), None),
        (day(17) + chrono::Duration::seconds(3), None),
        (day(10), Some(day(75))),
        (day(31), Some(day(59))),
        (day(33), Some(day(40))),
        (day(40), Some(day(33))),
        (day(0), Some(day(31))),
        (day(-400), Some(day(380))),
        (day(40), Some(day(420))),
        (day(365), None),
        (day(200), None),
        (day(200), Some(day(500))),
    ];
    let mut out = Vec::new();
    for group in [
        TicketStatsGroup::Month,
        TicketStatsGroup::Country,
        TicketStatsGroup::Responder,
    ] {
        for (from, to) in &windows {
            for status_in in [None, Some(vec!["new".to_string(), "closed".to_string()])] {
                out.push(query(group, *from, *to, status_in));
            }
        }
    }
    out
}

/// The summary's rows (folded plus still appended) against a recount of every grouping from
/// the tickets, to the microsecond: the statistics show hours, so a small error in the
/// recorded ages would pass the comparison of answers.
const SUMMARY_MISMATCHES: &str = "
    WITH t AS (
        SELECT id, status, countries,
               date_trunc('month', created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS month,
               date_trunc('year', created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS year,
               (extract(epoch FROM updated_at - created_at) * 1000000)::int8 AS age,
               (CASE WHEN updated_at > deadline_at THEN 1 ELSE 0 END)::int8 AS late
        FROM tickets),
    keyed AS (
        SELECT 0::int2 AS d, month AS m, status, ''::text AS c, 0 AS r, age, late FROM t
        UNION ALL SELECT 1::int2, month, status, c, 0, age, late FROM t, unnest(countries) c
        UNION ALL SELECT 3::int2, year, status, c, 0, age, late FROM t, unnest(countries) c
        UNION ALL SELECT 2::int2, month, status, '', coalesce(x.user_id, 0), age, late
            FROM t LEFT JOIN responders x ON x.ticket_id = t.id
        UNION ALL SELECT 4::int2, year, status, '', coalesce(x.user_id, 0), age, late
            FROM t LEFT JOIN responders x ON x.ticket_id = t.id),
    expected AS (
        SELECT d, m, status, c, r, count(*)::int8 AS n, sum(age)::int8 AS age,
               sum(late)::int8 AS late
        FROM keyed GROUP BY 1, 2, 3, 4, 5),
    actual AS (
        SELECT dimension, month, status, country, responder_id, sum(n)::int8,
               sum(age_us)::int8, sum(past_deadline)::int8
        FROM (SELECT * FROM ticket_stats UNION ALL SELECT * FROM ticket_stats_deltas) s
        GROUP BY 1, 2, 3, 4, 5
        HAVING sum(n) <> 0 OR sum(age_us) <> 0 OR sum(past_deadline) <> 0)
    SELECT count(*) AS n FROM (
        (SELECT * FROM expected EXCEPT ALL SELECT * FROM actual)
        UNION ALL (SELECT * FROM actual EXCEPT ALL SELECT * FROM expected)) wrong";

#[derive(QueryableByName)]
struct Mismatches {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn assert_consistent(db: &desk_persistence::Database) {
    let mut conn = db.connection().unwrap();
    let wrong = diesel::sql_query(SUMMARY_MISMATCHES)
        .get_result::<Mismatches>(&mut conn)
        .unwrap();
    assert_eq!(wrong.n, 0, "summary rows differing from a recount");
    drop(conn);
    for q in queries() {
        let mut conn = db.connection().unwrap();
        let expected = counted(&mut conn, &q);
        drop(conn);
        assert_eq!(summarised(db, &q), expected, "{q:?}");
    }
}

const STATUSES: [&str; 5] = ["new", "in-progress", "pending", "closed", "cancelled"];

/// One write, as SQL over 4 profiles and the tickets present. Tickets are picked by rank
/// (`OFFSET`) so the operations stay meaningful whatever ids exist.
#[derive(Debug, Clone)]
enum Op {
    Tickets {
        count: u8,
        day: u8,
        hours: u16,
        status: u8,
        deadline: Option<u8>,
        countries: u8,
    },
    Status {
        ticket: u8,
        status: u8,
    },
    Touch {
        modulo: u8,
        hours: u8,
    },
    Deadline {
        ticket: u8,
        day: Option<u8>,
    },
    Countries {
        ticket: u8,
        countries: u8,
    },
    CreatedAt {
        ticket: u8,
        day: u8,
    },
    Bookkeeping,
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
    Fold,
    RolledBack(Box<Op>),
}

fn op() -> impl Strategy<Value = Op> {
    let leaf = prop_oneof![
        3 => (1..4u8, 0..90u8, 0..2000u16, 0..5u8, proptest::option::of(0..90u8), 0..8u8)
            .prop_map(|(count, day, hours, status, deadline, countries)| Op::Tickets {
                count, day, hours, status, deadline, countries
            }),
        2 => (0..10u8, 0..5u8).prop_map(|(ticket, status)| Op::Status { ticket, status }),
        2 => (1..4u8, 1..200u8).prop_map(|(modulo, hours)| Op::Touch { modulo, hours }),
        1 => (0..10u8, proptest::option::of(0..90u8))
            .prop_map(|(ticket, day)| Op::Deadline { ticket, day }),
        1 => (0..10u8, 0..8u8).prop_map(|(ticket, countries)| Op::Countries { ticket, countries }),
        1 => (0..10u8, 0..90u8).prop_map(|(ticket, day)| Op::CreatedAt { ticket, day }),
        1 => Just(Op::Bookkeeping),
        3 => (0..10u8, 0..4u8).prop_map(|(ticket, user)| Op::Responder { ticket, user }),
        1 => (0..4u8, 0..4u8).prop_map(|(from, to)| Op::MoveResponders { from, to }),
        1 => (0..4u8).prop_map(|user| Op::RemoveResponders { user }),
        1 => (2..6u8).prop_map(|modulo| Op::DeleteTickets { modulo }),
        1 => Just(Op::Fold),
    ];
    with_rollbacks(leaf, Op::RolledBack)
}

/// A countries array from three bits (a repeated element counts twice, as `unnest` does).
fn countries(bits: u8) -> String {
    let all = ["RO", "MD", "RO"];
    let picked: Vec<&str> = (0..3)
        .filter(|i| bits & (1 << i) != 0)
        .map(|i| all[i])
        .collect();
    format!("ARRAY[{}]::text[]", {
        let quoted: Vec<String> = picked.iter().map(|c| format!("'{c}'")).collect();
        quoted.join(",")
    })
}

fn sql_of(op: &Op, profiles: &[i32]) -> String {
    let p = |i: u8| profiles[i as usize % profiles.len()];
    // Every fifth day: the tickets spread over fifteen months, into a second year.
    let at = |d: u8| format!("'{}'::timestamptz", day(d as i64 * 5).to_rfc3339());
    match op {
        Op::Tickets {
            count,
            day,
            hours,
            status,
            deadline,
            countries: c,
        } => format!(
            "INSERT INTO tickets (requester_id, background, status, created_at, updated_at, deadline_at, countries)
             SELECT {}, 's', '{}', {created} + g * interval '7 hours 13 minutes 0.000123 seconds',
                    {created} + g * interval '7 hours 13 minutes 0.000123 seconds' + interval '{hours} hours 17 seconds',
                    {}, {}
             FROM generate_series(1, {count}) AS g",
            p(*day),
            STATUSES[*status as usize],
            deadline.map(at).unwrap_or_else(|| "NULL".into()),
            countries(*c),
            created = at(*day),
        ),
        Op::Status { ticket, status } => format!(
            "UPDATE tickets SET status = '{}', updated_at = updated_at + interval '1 hour'
             WHERE id = {}",
            STATUSES[*status as usize],
            ticket_at(*ticket)
        ),
        Op::Touch { modulo, hours } => format!(
            "UPDATE tickets SET updated_at = updated_at + interval '{hours} hours 0.5 seconds'
             WHERE id % {modulo} = 0"
        ),
        Op::Deadline { ticket, day } => format!(
            "UPDATE tickets SET deadline_at = {} WHERE id = {}",
            day.map(at).unwrap_or_else(|| "NULL".into()),
            ticket_at(*ticket)
        ),
        Op::Countries { ticket, countries: c } => format!(
            "UPDATE tickets SET countries = {} WHERE id = {}",
            countries(*c),
            ticket_at(*ticket)
        ),
        Op::CreatedAt { ticket, day } => format!(
            "UPDATE tickets SET created_at = {} WHERE id = {}",
            at(*day),
            ticket_at(*ticket)
        ),
        Op::Bookkeeping => "UPDATE tickets SET sent_notifications_at = now()".into(),
        Op::Responder { ticket, user } => format!(
            "INSERT INTO responders (ticket_id, user_id) SELECT t, {} FROM {} AS x(t)
             WHERE t IS NOT NULL ON CONFLICT DO NOTHING",
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
        Op::DeleteTickets { modulo } => {
            format!("DELETE FROM tickets WHERE id % {modulo} = 0")
        }
        Op::Fold => "SELECT ticket_stats_fold()".into(),
        Op::RolledBack(inner) => sql_of(inner, profiles),
    }
}

fn profiles(db: &desk_persistence::Database, prefix: &str) -> Vec<i32> {
    staff_profiles(db, prefix, 4)
}

#[test]
fn the_summary_answers_like_a_count_after_every_kind_of_write() {
    let t = TestDb::new();
    let profiles = profiles(&t.db, "s");
    let mut runner = TestRunner::new(Config {
        cases: write_sequence_cases(48),
        ..Config::default()
    });
    runner
        .run(&proptest::collection::vec(op(), 1..25), |ops| {
            apply_writes(
                &t.db,
                "TRUNCATE tickets, responders, ticket_stats, ticket_stats_deltas CASCADE",
                ops.iter()
                    .map(|op| (sql_of(op, &profiles), matches!(op, Op::RolledBack(_)))),
            );
            assert_consistent(&t.db);
            Ok(())
        })
        .unwrap();
}

/// A statistic folds what writers appended: afterwards nothing is left to fold.
#[test]
fn reading_a_statistic_folds_the_differences() {
    let t = TestDb::new();
    let profiles = profiles(&t.db, "f");
    let mut conn = t.db.connection().unwrap();
    for op in [
        Op::Tickets {
            count: 3,
            day: 5,
            hours: 30,
            status: 0,
            deadline: Some(6),
            countries: 3,
        },
        Op::Responder { ticket: 1, user: 2 },
        Op::Status {
            ticket: 0,
            status: 3,
        },
    ] {
        conn.batch_execute(&sql_of(&op, &profiles)).unwrap();
    }
    let pending = |conn: &mut PgConnection| -> i64 {
        diesel::select(diesel::dsl::sql::<BigInt>(
            "(SELECT count(*) FROM ticket_stats_deltas)",
        ))
        .get_result(conn)
        .unwrap()
    };
    assert!(pending(&mut conn) > 0);
    let q = query(TicketStatsGroup::Month, day(0), None, None);
    assert_eq!(summarised(&t.db, &q), counted(&mut conn, &q));
    assert_eq!(pending(&mut conn), 0);
}

/// Writers on other connections changing the same tickets and their responders at once
/// (the responder grouping depends on both), with folds in between: the summary must still
/// be exact when they are done.
#[test]
fn the_summary_stays_exact_under_concurrent_writers() {
    let t = TestDb::new();
    let profiles = profiles(&t.db, "c");
    let mut conn = t.db.connection().unwrap();
    conn.batch_execute(&sql_of(
        &Op::Tickets {
            count: 3,
            day: 3,
            hours: 5,
            status: 0,
            deadline: Some(4),
            countries: 1,
        },
        &profiles,
    ))
    .unwrap();
    conn.batch_execute(&sql_of(
        &Op::Tickets {
            count: 3,
            day: 40,
            hours: 50,
            status: 1,
            deadline: None,
            countries: 6,
        },
        &profiles,
    ))
    .unwrap();
    drop(conn);
    // A write and a responder change in one transaction, like the use cases do.
    concurrent_writes(&t.db, 4, 60, |worker, round| {
        let (worker, round) = (worker as u8, round as u8);
        let ticket = (round * 3 + worker) % 6;
        let op = match round % 5 {
            0 => Op::Responder {
                ticket,
                user: (worker + round) % 4,
            },
            1 => Op::Status {
                ticket,
                status: (round + worker) % 5,
            },
            2 => Op::RemoveResponders {
                user: (worker + round) % 4,
            },
            3 => Op::Fold,
            _ => Op::Touch {
                modulo: 1 + worker % 3,
                hours: round,
            },
        };
        let status = Op::Status {
            ticket,
            status: round % 5,
        };
        format!(
            "BEGIN; {}; {}; COMMIT",
            sql_of(&op, &profiles),
            sql_of(&status, &profiles)
        )
    });
    assert_consistent(&t.db);
}

/// Whether some session waits for a lock that the session `pid` holds.
fn someone_waits_for(conn: &mut PgConnection, pid: i32) -> bool {
    #[derive(QueryableByName)]
    struct Waiting {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    diesel::sql_query(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid))",
    )
    .bind::<Integer, _>(pid)
    .get_result::<Waiting>(conn)
    .unwrap()
    .n > 0
}

/// Plays one race step by step: `first` runs and stays uncommitted; `second` starts on
/// another connection; once `second` waits for `first`'s locks (or has already finished,
/// which is what happens when nothing makes it wait), `first` commits. Nothing can fail
/// between the two steps: `first` always ends, so `second` can never be left waiting.
fn race(db: &desk_persistence::Database, first: &str, second: &str) {
    #[derive(QueryableByName)]
    struct Pid {
        #[diesel(sql_type = Integer)]
        pid: i32,
    }
    let mut a = db.connection().unwrap();
    let mut probe = db.connection().unwrap();
    let a_pid = diesel::sql_query("SELECT pg_backend_pid() AS pid")
        .get_result::<Pid>(&mut a)
        .unwrap()
        .pid;
    a.batch_execute(&format!("BEGIN; {first}")).unwrap();
    let (waited, second_done) = std::thread::scope(|s| {
        let b = s.spawn(|| {
            let mut b = db.connection().unwrap();
            b.batch_execute(&format!("BEGIN; {second}; COMMIT"))
        });
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let mut waited = false;
        while !b.is_finished() && std::time::Instant::now() < deadline {
            if someone_waits_for(&mut probe, a_pid) {
                waited = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let finished_first = b.is_finished();
        let committed = a.batch_execute("COMMIT");
        let second_done = b.join().unwrap();
        committed.unwrap();
        (waited || finished_first, second_done)
    });
    second_done.unwrap();
    assert!(
        waited,
        "the second writer neither finished nor waited for the first"
    );
}

/// The race the writers' ticket lock closes, in both orders: a responder added to a ticket
/// while another transaction changes its status. Were they not serialized, the status
/// change's trigger could not see the uncommitted responder, and the responder's trigger
/// would record the ticket under its old status: the responder's group would keep a ticket
/// that has left it. (The concurrent-writers test above hits this only by chance.)
#[test]
fn a_new_responder_racing_a_status_change_is_counted_once() {
    let t = TestDb::new();
    let profiles = profiles(&t.db, "r");
    let mut conn = t.db.connection().unwrap();
    let tickets = Op::Tickets {
        count: 2,
        day: 3,
        hours: 5,
        status: 0,
        deadline: Some(1),
        countries: 1,
    };
    conn.batch_execute(&sql_of(&tickets, &profiles)).unwrap();
    drop(conn);
    let responder = |ticket, user| sql_of(&Op::Responder { ticket, user }, &profiles);
    let status = |ticket, status| sql_of(&Op::Status { ticket, status }, &profiles);
    race(&t.db, &responder(0, 1), &status(0, 3));
    assert_consistent(&t.db);
    race(&t.db, &status(1, 2), &responder(1, 2));
    assert_consistent(&t.db);
}
