//! The collaboration lists issue a fixed number of queries whatever the page size, includes
//! (people and tickets) and the timeline's action objects included.

mod common;

use common::TestDb;
use desk_domain::listing::Params;
use desk_domain::usecases::collaboration::related;
use desk_domain::usecases::{activities, comments, responders, subscribers};
use desk_domain::Actor;
use desk_persistence::PgUnitOfWork;
use diesel::connection::{Connection, InstrumentationEvent};
use diesel::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

fn count_queries(url: &str, work: impl FnOnce(&mut PgUnitOfWork<'_>)) -> usize {
    let mut conn = PgConnection::establish(url).unwrap();
    let counter = Arc::new(AtomicUsize::new(0));
    let seen = counter.clone();
    conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
        if let InstrumentationEvent::StartQuery { .. } = event {
            seen.fetch_add(1, Ordering::SeqCst);
        }
    });
    work(&mut PgUnitOfWork::new(&mut conn));
    counter.load(Ordering::SeqCst)
}

fn page(size: &str) -> Params {
    [("page[size]".to_string(), size.to_string())]
        .into_iter()
        .collect()
}

#[test]
fn collaboration_lists_issue_a_fixed_number_of_queries() {
    let t = TestDb::new();
    desk_persistence::seed::seed(&t.db, 30, 200, 3, &mut |_, _, _| {}).unwrap();
    let superuser =
        t.db.all_profiles()
            .unwrap()
            .into_iter()
            .find(|p| p.is_superuser)
            .unwrap();
    let su = Actor {
        id: superuser.id,
        is_staff: superuser.is_staff,
        is_superuser: true,
    };
    let run = |size: &str| {
        let params = page(size);
        let mut rows = 0;
        let n = count_queries(&t.url, |uow| {
            let listed = comments::list_comments(uow, &su, &params).unwrap();
            rows += listed.rows.len();
            related(
                uow,
                &su,
                listed.rows.iter().map(|c| c.user_id),
                listed.rows.iter().map(|c| c.ticket_id),
            )
            .unwrap();
            let listed = responders::list_responders(uow, &su, &params).unwrap();
            rows += listed.rows.len();
            related(
                uow,
                &su,
                listed.rows.iter().map(|r| r.user_id),
                listed.rows.iter().map(|r| r.ticket_id),
            )
            .unwrap();
            let listed = subscribers::list_subscribers(uow, &su, &params).unwrap();
            rows += listed.rows.len();
            related(
                uow,
                &su,
                listed.rows.iter().filter_map(|s| s.user_id),
                listed.rows.iter().map(|s| s.ticket_id),
            )
            .unwrap();
            let timeline = activities::list_activities(uow, &su, &params).unwrap();
            rows += timeline.listed.rows.len();
            activities::timeline_objects(uow, &timeline.listed.rows).unwrap();
            related(uow, &su, [], timeline.listed.rows.iter().map(|a| a.ticket)).unwrap();
        });
        (n, rows)
    };
    let (small, small_rows) = run("1");
    let (large, large_rows) = run("100");
    assert!(
        large_rows > small_rows * 10,
        "{small_rows} vs {large_rows} rows"
    );
    // The timeline's action kinds may differ between pages (a page of one row cannot point at
    // every kind), so allow the few object look-ups a larger page adds, never per row.
    assert!(
        large <= small + 3,
        "{small} queries for pages of 1, {large} for 100"
    );
}
