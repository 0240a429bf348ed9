//! "A fixed number of queries per request whatever the page size": counts the SQL
//! statements the ticket and profile use cases issue, with diesel's instrumentation, for
//! small and large pages.

mod common;

use common::{params, TestDb};
use desk_domain::usecases::tickets::GraphProfiles;
use desk_domain::usecases::{identity, profiles, tickets};
use desk_domain::{Actor, ProfileId};
use desk_persistence::PgUnitOfWork;
use diesel::connection::{Connection, InstrumentationEvent};
use diesel::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Runs `work` on a fresh connection and returns how many statements it sent.
fn count_queries(url: &str, work: impl FnOnce(&mut PgUnitOfWork<'_>)) -> usize {
    count_statements(url, |conn| work(&mut PgUnitOfWork::new(conn)))
}

/// [`count_queries`] on the bare connection.
fn count_statements(url: &str, work: impl FnOnce(&mut PgConnection)) -> usize {
    let mut conn = PgConnection::establish(url).unwrap();
    let counter = Arc::new(AtomicUsize::new(0));
    let seen = counter.clone();
    conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
        if let InstrumentationEvent::StartQuery { .. } = event {
            seen.fetch_add(1, Ordering::SeqCst);
        }
    });
    work(&mut conn);
    counter.load(Ordering::SeqCst)
}

#[test]
fn ticket_and_profile_reads_issue_a_fixed_number_of_queries() {
    let t = TestDb::new();
    desk_persistence::seed::seed(&t.db, 30, 400, 3, &mut |_, _, _| {}).unwrap();
    let everyone = t.db.all_profiles().unwrap();
    let superuser = everyone.iter().find(|p| p.is_superuser).unwrap();
    let su = Actor {
        id: superuser.id,
        is_staff: superuser.is_staff,
        is_superuser: true,
    };
    let plain = Actor {
        id: ProfileId(
            everyone
                .iter()
                .find(|p| !p.is_superuser && !p.is_staff)
                .unwrap()
                .id
                .0,
        ),
        is_staff: false,
        is_superuser: false,
    };

    let list_with = |wanted: GraphProfiles, actor: Actor, size: &str, extra: &[(&str, &str)]| {
        let mut p = params(&[("page[size]", size), ("sort", "-created_at")]);
        p.extend(params(extra));
        let mut rows = 0;
        let queries = count_queries(&t.url, |uow| {
            let listing = tickets::list_tickets(uow, &actor, &p).unwrap();
            tickets::ticket_graph(uow, &listing.tickets, wanted).unwrap();
            rows = listing.tickets.len();
        });
        (queries, rows)
    };
    let list = |actor: Actor, size: &str, extra: &[(&str, &str)]| {
        list_with(GraphProfiles::TicketUsersAndRequesters, actor, size, extra)
    };
    // The superuser's large page really is large: the count is measured on 100 rows.
    assert_eq!(list(su, "100", &[]).1, 100);
    for actor in [su, plain] {
        let (small, _) = list(actor, "2", &[]);
        let (large, _) = list(actor, "100", &[]);
        assert_eq!(
            small, large,
            "list queries must not grow with the page size"
        );
        // A participant's page comes with its totals in one statement, after the size of
        // their scope (which a bearer sign-in has already read; not here); the superuser's
        // totals are the status counters, read apart from the page.
        assert_eq!(
            large, 4,
            "page and totals (+ size or counters), responders with subscribers, profiles"
        );
        let (searched, rows) = list(actor, "100", &[("filter[search]", "offshore company")]);
        assert!(rows > 0, "the search found something");
        assert_eq!(searched, 3, "a ranked page comes with its totals");
    }
    // Without `include=requester` the profiles are the ticket users': one look-up at most
    // (none for a page where nobody responds or follows).
    for size in ["2", "100"] {
        let (queries, _) = list_with(GraphProfiles::TicketUsers, su, size, &[]);
        assert!((3..=4).contains(&queries), "{queries} for a page of {size}");
    }
    // Superuser filter labels add at most two look-ups.
    let (labelled, _) = list(
        su,
        "100",
        &[
            ("filter[requester]", &plain.id.to_string()),
            ("filter[responders__user]", "1"),
        ],
    );
    assert!(labelled <= 7, "{labelled}");

    let profiles_page = |size: &str| {
        let p = params(&[("page[size]", size)]);
        count_queries(&t.url, move |uow| {
            profiles::list_profiles(uow, &su, &p).unwrap();
        })
    };
    assert_eq!(profiles_page("2"), profiles_page("100"));
    assert!(profiles_page("100") <= 2);
}

#[test]
fn me_signs_in_and_counts_in_one_statement() {
    let t = TestDb::new();
    let claims = desk_domain::ports::IdentityClaims {
        issuer: "https://sso.example.org".into(),
        subject: "sub-me".into(),
        email: Some("me@example.org".into()),
        email_verified: true,
        first_name: Some("Mira".into()),
        last_name: Some("Ene".into()),
        is_staff: false,
        is_superuser: false,
    };
    // First sight creates and links the profile; afterwards `/me` is one look-up.
    let first =
        t.db.in_transaction(None, |uow| identity::sign_in_viewing(uow, &claims))
            .unwrap();
    assert_eq!(first.1.tickets_count, 0);
    let mut again = None;
    let queries = count_queries(&t.url, |uow| {
        again = Some(identity::sign_in_viewing(uow, &claims).unwrap());
    });
    assert_eq!(
        queries, 1,
        "the identity, the profile and its tickets-count"
    );
    assert_eq!(again, Some(first));
    // Their list after a sign-in: the size of their scope is known, one statement more.
    let listed = count_queries(&t.url, |uow| {
        let (actor, _) = identity::sign_in(uow, &claims).unwrap();
        let listing = tickets::list_tickets(uow, &actor, &params(&[])).unwrap();
        assert!(listing.tickets.is_empty());
    });
    assert_eq!(listed, 2, "sign-in, then the page with its totals");

    // `/me`'s read outside a transaction (`Database::read_first`): one statement whether the
    // identity is known or not; an unknown one is left to the transactional sign-in.
    let read = |claims: &desk_domain::ports::IdentityClaims| {
        let mut found = None;
        let statements = count_statements(&t.url, |conn| {
            let mut uow = PgUnitOfWork::without_transaction(conn);
            found = Some(identity::view_if_signed_in(&mut uow, claims).unwrap());
        });
        (statements, found.unwrap())
    };
    let (statements, known) = read(&claims);
    assert_eq!(statements, 1);
    assert_eq!(known, Some(again.unwrap()));
    let stranger = desk_domain::ports::IdentityClaims {
        subject: "sub-nobody".into(),
        ..claims.clone()
    };
    assert_eq!(read(&stranger), (1, None));
}

/// `Database::read_first`: the read runs outside any transaction (PostgreSQL refuses a
/// savepoint there), the work only without an answer (not after a failed read), inside one
/// transaction, and its writes are undone when it fails.
#[test]
fn read_first_reads_outside_a_transaction_and_falls_back_to_one() {
    let t = TestDb::new();
    let in_a_transaction = |uow: &mut PgUnitOfWork<'_>| {
        diesel::sql_query("SAVEPOINT probe")
            .execute(uow.connection())
            .is_ok()
    };
    let answered =
        t.db.read_first(
            |uow| Ok(Some(in_a_transaction(uow))),
            |_| panic!("the work runs only when the read has no answer"),
        )
        .unwrap();
    assert!(!answered, "the read ran inside a transaction");

    let fell_back =
        t.db.read_first(|_| Ok(None), |uow| Ok(in_a_transaction(uow)))
            .unwrap();
    assert!(fell_back, "the work ran outside a transaction");

    let refused: Result<(), _> = t.db.read_first(
        |_| Err(desk_domain::DomainError::Forbidden),
        |_| panic!("a failed read ends the request"),
    );
    assert!(matches!(refused, Err(desk_domain::DomainError::Forbidden)));

    let count = |t: &TestDb| -> i64 {
        t.db.in_transaction(None, |uow| {
            Ok(diesel::sql_query("SELECT count(*) AS n FROM profiles")
                .get_result::<Counted>(uow.connection())
                .unwrap()
                .n)
        })
        .unwrap()
    };
    let before = count(&t);
    let failed: Result<(), _> = t.db.read_first(
        |_| Ok(None),
        |uow| {
            diesel::sql_query(
                "INSERT INTO profiles (email, first_name, last_name) VALUES ('x@example.org', 'X', 'Y')",
            )
            .execute(uow.connection())
            .unwrap();
            Err(desk_domain::DomainError::NotFound)
        },
    );
    assert!(matches!(failed, Err(desk_domain::DomainError::NotFound)));
    assert_eq!(
        count(&t),
        before,
        "the failed work's insert was rolled back"
    );
}

#[derive(diesel::QueryableByName)]
struct Counted {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}
