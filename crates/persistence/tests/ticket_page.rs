//! `TicketRepository::ticket_page`: the one-statement page with its totals (searches and
//! participants' lists) answers exactly what the totals-then-page path answers, for every
//! kind of caller, filter, sort and page number, on a seeded database.

mod common;

use common::{params, TestDb};
use desk_domain::listing::{ticket_sort, PageRequest, TicketFilter};
use desk_domain::policy::{self, Actor, Scope};
use desk_domain::ports::{ticket_page_in_two_passes, TicketRepository};
use desk_domain::DomainError;
use desk_persistence::PgUnitOfWork;
use diesel::connection::{Connection, InstrumentationEvent};
use diesel::{PgConnection, RunQueryDsl};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

#[test]
fn the_one_pass_page_equals_the_two_pass_page() {
    let t = TestDb::new();
    desk_persistence::seed::seed(&t.db, 40, 1500, 11, &mut |_, _, _| {}).unwrap();
    let everyone = t.db.all_profiles().unwrap();
    let actor = |p: &desk_domain::Profile| Actor {
        id: p.id,
        is_staff: p.is_staff,
        is_superuser: p.is_superuser,
    };
    let superuser = actor(everyone.iter().find(|p| p.is_superuser).unwrap());
    let staff = actor(
        everyone
            .iter()
            .find(|p| p.is_staff && !p.is_superuser)
            .unwrap(),
    );
    // The journalist who takes part in the most tickets, and one who takes part in none.
    let counts =
        t.db.in_transaction(None, |uow| {
            everyone
                .iter()
                .filter(|p| !p.is_staff && !p.is_superuser)
                .map(|p| {
                    let n = uow
                        .status_totals(Scope::ParticipantOf(p.id), &TicketFilter::default())?
                        .all();
                    Ok((n, p))
                })
                .collect::<Result<Vec<_>, DomainError>>()
        })
        .unwrap();
    let busiest = actor(counts.iter().max_by_key(|(n, _)| *n).unwrap().1);
    let idle = counts.iter().find(|(n, _)| *n == 0).map(|(_, p)| actor(p));
    assert!(
        counts.iter().max_by_key(|(n, _)| *n).unwrap().0 >= 20,
        "the busiest journalist has pages to turn"
    );
    // Somebody subscribed to 1,200 tickets: past the one-pass limit, their list takes the
    // index walk again.
    let avid = actor(
        counts
            .iter()
            .find(|(n, p)| *n > 0 && p.id != busiest.id)
            .unwrap()
            .1,
    );
    let mut conn = PgConnection::establish(&t.url).unwrap();
    diesel::sql_query(
        "INSERT INTO subscribers (ticket_id, user_id) SELECT t.id, $1 FROM tickets t \
         WHERE NOT EXISTS (SELECT 1 FROM ticket_participants tp \
                           WHERE tp.ticket_id = t.id AND tp.profile_id = $1) \
         ORDER BY t.id LIMIT 1200",
    )
    .bind::<diesel::sql_types::Integer, _>(avid.id.0)
    .execute(&mut conn)
    .unwrap();
    let participation = |conn: &mut PgConnection, scope: Scope| -> i64 {
        let mut uow = PgUnitOfWork::new(conn);
        uow.status_totals(scope, &TicketFilter::default())
            .unwrap()
            .all()
    };
    assert!(participation(&mut conn, Scope::ParticipantOf(avid.id)) > 1_000);

    let (busiest_id, staff_id) = (busiest.id.to_string(), staff.id.to_string());
    let filters: Vec<Vec<(&str, &str)>> = vec![
        vec![],
        vec![("filter[search]", "offshore company")],
        vec![("filter[search]", "company")],
        vec![("filter[search]", "zzzqqx")],
        vec![
            ("filter[search]", "company"),
            ("filter[status__in]", "new,in-progress"),
        ],
        vec![("filter[status__in]", "closed")],
        vec![("filter[status__in]", "no-such-status")],
        vec![("filter[kind]", "person_ownership")],
        vec![("filter[country]", "RO")],
        vec![("filter[requester]", &busiest_id)],
        vec![("filter[responders__user]", &staff_id)],
        vec![("filter[created_at__gte]", "2023-01-01T00:00:00Z")],
        vec![("filter[deadline_at__gte]", "2000-01-01T00:00:00Z")],
        vec![
            ("filter[responders__user__isnull]", "true"),
            ("filter[search]", "company"),
        ],
        vec![("filter[responders__user__isnull]", "false")],
    ];
    let sorts = ["", "-created_at", "deadline_at", "-deadline_at,created_at"];
    let sizes = ["1", "7", "100"];
    let pages = ["1", "2", "3", "last", "40", "0", "x", "9223372036854775807"];
    let mut actors = vec![superuser, staff, busiest, avid];
    actors.extend(idle);

    // Statements are counted to know which path answered.
    let sent = Arc::new(AtomicUsize::new(0));
    let last_sql = Arc::new(Mutex::new(String::new()));
    let (counter, sql) = (sent.clone(), last_sql.clone());
    conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
        if let InstrumentationEvent::StartQuery { query, .. } = event {
            counter.fetch_add(1, Ordering::SeqCst);
            *sql.lock().unwrap() = query.to_string();
        }
    });
    let mut compared = 0;
    let (mut one_statement, mut rows_compared) = (0, 0);
    for actor in &actors {
        let scope = policy::ticket_scope(actor);
        let small = scope == Scope::Everything || participation(&mut conn, scope) <= 1_000;
        for filter in &filters {
            for sort in sorts {
                for size in sizes {
                    for number in pages {
                        let mut p = params(filter);
                        p.extend(params(&[("page[size]", size), ("page[number]", number)]));
                        if !sort.is_empty() {
                            p.insert("sort".into(), sort.into());
                        }
                        let filter = TicketFilter::from_params(&p);
                        let sort = ticket_sort(&p);
                        let request = PageRequest::from_params(&p);
                        let mut uow = PgUnitOfWork::new(&mut conn);
                        let before = sent.load(Ordering::SeqCst);
                        let one = uow.ticket_page(scope, &filter, &sort, request);
                        let statements = sent.load(Ordering::SeqCst) - before;
                        let one_sql = last_sql.lock().unwrap().clone();
                        let two =
                            ticket_page_in_two_passes(&mut uow, scope, &filter, &sort, request);
                        // A page number whose offset can be computed (else: refused).
                        let numbered = match (number.parse::<i64>(), size.parse::<i64>()) {
                            (Ok(n), Ok(size)) if n >= 1 => (n - 1).checked_mul(size).is_some(),
                            _ => false,
                        };
                        // A participant's size is read first (the sign-in would know it).
                        let probe =
                            usize::from(scope != Scope::Everything && filter.search.is_none());
                        let one_pass = numbered
                            && (filter.search.is_some() || (scope != Scope::Everything && small));
                        assert_eq!(
                            one_sql.starts_with("WITH matches"),
                            one_pass,
                            "{actor:?} {p:?}: {one_sql}"
                        );
                        if one_pass {
                            assert_eq!(statements, probe + 1, "{actor:?} {p:?}");
                            one_statement += 1;
                            // The id-list form of the scope only where nothing else narrows
                            // the list (its plan ignores the other filters' indexes).
                            let id_list = one_sql.contains("= ANY(ARRAY(");
                            let scope_alone = scope != Scope::Everything
                                && filter.search.is_none()
                                && filter
                                    == TicketFilter {
                                        status_in: filter.status_in.clone(),
                                        ..TicketFilter::default()
                                    };
                            assert_eq!(id_list, scope_alone, "{actor:?} {p:?}");
                        }
                        match (&one, &two) {
                            (Ok(one), Ok(two)) => {
                                assert_eq!(one, two, "{actor:?} {p:?}");
                                rows_compared += one.tickets.len();
                            }
                            (Err(DomainError::InvalidPage), Err(DomainError::InvalidPage)) => {}
                            _ => panic!("{actor:?} {p:?}: {one:?} against {two:?}"),
                        }
                        compared += 1;
                    }
                }
            }
        }
    }
    assert_eq!(
        compared,
        actors.len() * filters.len() * sorts.len() * sizes.len() * pages.len()
    );
    assert!(one_statement > 1500, "{one_statement} one-statement pages");
    assert!(rows_compared > 10_000, "the pages compared were not empty");
}

/// The statements a journalist's list and a keyword search run on every request settle on
/// their generic plans instead of being planned for each caller (see
/// `scope::visible_tickets_as_id_list` and `ticket_page::keywords_only`).
#[test]
fn a_participants_page_and_a_keyword_search_are_not_planned_per_request() {
    use diesel::prelude::*;
    use diesel::sql_types::{BigInt, Text};

    #[derive(QueryableByName)]
    struct Plans {
        #[diesel(sql_type = Text)]
        statement: String,
        #[diesel(sql_type = BigInt)]
        generic_plans: i64,
    }

    let t = TestDb::new();
    // Enough tickets that the planner expects many matches: the generic plan guesses a
    // LIMIT reads a tenth of them, so a plan for a page of one looks cheaper than it, and
    // without the sub-selects the search is planned every time (with 8,000 tickets the
    // planner's own surcharge for planning still tips it to the generic plan).
    desk_persistence::seed::seed(&t.db, 40, 20_000, 5, &mut |_, _, _| {}).unwrap();
    let mut conn = t.db.connection().unwrap();
    diesel::sql_query("ANALYZE").execute(&mut conn).unwrap();
    let journalists: Vec<desk_domain::Profile> =
        t.db.all_profiles()
            .unwrap()
            .into_iter()
            .filter(|p| !p.is_staff && !p.is_superuser)
            .collect();
    let search = TicketFilter::from_params(&params(&[("filter[search]", "company")]));
    let request = PageRequest::from_params(&params(&[("page[size]", "1")]));
    for round in 0..8 {
        let mut uow = PgUnitOfWork::new(&mut conn);
        // A different journalist each time: the plan must not depend on who asks.
        let someone = Scope::ParticipantOf(journalists[round % journalists.len()].id);
        uow.ticket_page(someone, &TicketFilter::default(), &[], request)
            .unwrap();
        uow.ticket_page(Scope::Everything, &search, &[], request)
            .unwrap();
    }
    let plans: Vec<Plans> = diesel::sql_query(
        "SELECT statement, generic_plans FROM pg_prepared_statements \
         WHERE statement LIKE 'WITH matches%'",
    )
    .load(&mut conn)
    .unwrap();
    assert_eq!(plans.len(), 2, "the participant's page and the search");
    for plan in &plans {
        assert!(
            plan.generic_plans >= 3,
            "planned for every execution: {}",
            plan.statement
        );
    }
}
