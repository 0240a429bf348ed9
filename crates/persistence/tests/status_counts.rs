//! The trigger-kept `ticket_status_counts` must always equal a real count: after inserts
//! (one and many per statement), status changes, other updates, deletes and rollbacks.

mod common;

use common::*;
use desk_domain::listing::{StatusTotals, TicketFilter};
use desk_domain::ports::TicketRepository;
use desk_domain::{Scope, TicketStatus};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

/// Totals by a plain GROUP BY, the reference.
fn counted(db: &desk_persistence::Database) -> StatusTotals {
    let mut conn = db.connection().unwrap();
    let rows: Vec<(String, i64)> = desk_persistence::schema::tickets::table
        .group_by(desk_persistence::schema::tickets::status)
        .select((
            desk_persistence::schema::tickets::status,
            diesel::dsl::count_star(),
        ))
        .load(&mut conn)
        .unwrap();
    let mut totals = StatusTotals::default();
    for (status, n) in rows {
        totals.add(TicketStatus::parse(&status).unwrap(), n);
    }
    totals
}

/// Totals as the repository answers an unfiltered, unscoped request (the counters).
fn kept(db: &desk_persistence::Database) -> StatusTotals {
    db.in_transaction(None, |uow| {
        uow.status_totals(Scope::Everything, &TicketFilter::default())
    })
    .unwrap()
}

#[test]
fn counters_follow_every_kind_of_write() {
    let t = TestDb::new();
    let requester = write(&t.db, |uow| profile(uow, "r@x.org", "R", "Q", false, false)).id;
    write(&t.db, |uow| {
        for i in 0..5 {
            ticket(uow, requester, &content(&format!("t{i}")), i);
        }
    });
    assert_eq!(kept(&t.db), counted(&t.db));
    assert_eq!(kept(&t.db).new, 5);

    let mut conn = t.db.connection().unwrap();
    // Many rows in one statement, status changes, an update that leaves the status alone,
    // a delete.
    conn.batch_execute(&format!(
        "INSERT INTO tickets (requester_id, background, status, created_at, updated_at)
         SELECT {requester}, 'bulk', (ARRAY['new','pending','closed'])[1 + g % 3], now(), now()
         FROM generate_series(1, 300) g;
         UPDATE tickets SET status = 'cancelled' WHERE background = 't1' OR id % 7 = 0;
         UPDATE tickets SET updated_at = now() WHERE status = 'closed';
         DELETE FROM tickets WHERE id % 5 = 0;"
    ))
    .unwrap();
    assert_eq!(kept(&t.db), counted(&t.db));

    // A rolled-back change leaves the counters as they were.
    let before = kept(&t.db);
    let _ =
        t.db.in_transaction(None, |uow| -> Result<(), desk_domain::DomainError> {
            uow.connection()
                .batch_execute(
                    "UPDATE tickets SET status = 'pending'; DELETE FROM tickets WHERE id % 2 = 0",
                )
                .unwrap();
            Err(desk_domain::DomainError::NotFound)
        });
    assert_eq!(kept(&t.db), before);
    assert_eq!(kept(&t.db), counted(&t.db));
    assert!(kept(&t.db).all() > 200);
}
