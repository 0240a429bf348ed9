//! `TicketRepository::ticket_page`: the one-statement page with its totals (searches and
//! participants' lists) answers exactly what the totals-then-page path answers, for every
//! kind of caller, filter, sort and page number, on a seeded database.

mod common;

use common::TestDb;
use desk_domain::listing::{ticket_sort, PageRequest, Params, TicketFilter};
use desk_domain::policy::{self, Actor, Scope};
use desk_domain::ports::{ticket_page_in_two_passes, TicketRepository};
use desk_domain::DomainError;

fn params(pairs: &[(&str, &str)]) -> Params {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

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

    let filters: &[&[(&str, &str)]] = &[
        &[],
        &[("filter[search]", "offshore company")],
        &[("filter[search]", "company")],
        &[("filter[search]", "zzzqqx")],
        &[
            ("filter[search]", "company"),
            ("filter[status__in]", "new,in-progress"),
        ],
        &[("filter[status__in]", "closed")],
        &[("filter[status__in]", "no-such-status")],
        &[("filter[kind]", "person_ownership")],
        &[("filter[deadline_at__gte]", "2000-01-01T00:00:00Z")],
        &[
            ("filter[responders__user__isnull]", "true"),
            ("filter[search]", "company"),
        ],
    ];
    let sorts = ["", "-created_at", "deadline_at", "-deadline_at,created_at"];
    let pages = ["1", "2", "3", "last", "40", "0", "x"];
    let mut actors = vec![superuser, staff, busiest];
    actors.extend(idle);
    let mut compared = 0;
    let mut rows_compared = 0;
    for actor in &actors {
        let scope = policy::ticket_scope(actor);
        for filter in filters {
            for sort in sorts {
                for number in pages {
                    let mut p = params(filter);
                    p.extend(params(&[("page[size]", "7"), ("page[number]", number)]));
                    if !sort.is_empty() {
                        p.insert("sort".into(), sort.into());
                    }
                    let filter = TicketFilter::from_params(&p);
                    let sort = ticket_sort(&p);
                    let request = PageRequest::from_params(&p);
                    let (one, two) =
                        t.db.in_transaction(None, |uow| {
                            let one = uow.ticket_page(scope, &filter, &sort, request);
                            let two =
                                ticket_page_in_two_passes(uow, scope, &filter, &sort, request);
                            Ok((one, two))
                        })
                        .unwrap();
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
    assert_eq!(
        compared,
        actors.len() * filters.len() * sorts.len() * pages.len()
    );
    assert!(rows_compared > 1000, "the pages compared were not empty");
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
        let mut uow = desk_persistence::PgUnitOfWork::new(&mut conn);
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
