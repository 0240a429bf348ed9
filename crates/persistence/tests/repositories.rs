//! The repositories against a real PostgreSQL (one fresh database per test).

mod common;

use chrono::{TimeZone, Utc};
use common::*;
use desk_domain::activity::{ActionObject, NewActivity, Verb};
use desk_domain::listing::{
    Direction, PageSlice, ProfileFilter, TicketFilter, TicketSortField, TimeRange,
};
use desk_domain::policy::{ProfileScope, Scope, TicketRelation};
use desk_domain::ports::*;
use desk_domain::*;

const PAGE: PageSlice = PageSlice {
    number: 1,
    size: 100,
    last: 1,
};

struct Fixture {
    t: TestDb,
    a: Profile,
    b: Profile,
    c: Profile,
    s: Profile,
    tickets: Vec<Ticket>,
}

/// Four tickets:
/// t0: requester a, person_ownership, RO, created 10, deadline 1000, new, responders b and c
/// t1: requester a, company_ownership, MD, created 20, no deadline, closed, no responder
/// t2: requester c, other, RO, created 30, deadline 500, in-progress, responder b
/// t3: requester c, data_request, no country, created 40, deadline 2000, pending, no responder
fn fixture() -> Fixture {
    let t = TestDb::new();
    let (a, b, c, s, tickets) = write(&t.db, |uow| {
        let a = profile(uow, "a@x.org", "Ann", "Able", false, false);
        let b = profile(uow, "b@x.org", "Bob", "Baker", true, false);
        let c = profile(uow, "c@x.org", "Cid", "Cole", false, false);
        let s = profile(uow, "s@x.org", "Sue", "Super", true, true);
        let mut c0 = content("first ticket");
        c0.kind = TicketKind::PersonOwnership;
        c0.country = Some("RO".into());
        c0.deadline_at = Some(at(1000));
        let mut c1 = content("second ticket");
        c1.kind = TicketKind::CompanyOwnership;
        c1.country = Some("MD".into());
        c1.status = TicketStatus::Closed;
        let mut c2 = content("third ticket");
        c2.country = Some("RO".into());
        c2.deadline_at = Some(at(500));
        c2.status = TicketStatus::InProgress;
        let mut c3 = content("fourth ticket");
        c3.kind = TicketKind::DataRequest;
        c3.deadline_at = Some(at(2000));
        c3.status = TicketStatus::Pending;
        let t0 = ticket(uow, a.id, &c0, 10);
        let t1 = ticket(uow, a.id, &c1, 20);
        let t2 = ticket(uow, c.id, &c2, 30);
        let t3 = ticket(uow, c.id, &c3, 40);
        add_responder(uow, t0.id, b.id);
        add_responder(uow, t0.id, c.id);
        add_responder(uow, t2.id, b.id);
        (a, b, c, s, vec![t0, t1, t2, t3])
    });
    Fixture {
        t,
        a,
        b,
        c,
        s,
        tickets,
    }
}

impl Fixture {
    fn list(
        &self,
        scope: Scope,
        filter: &TicketFilter,
        sort: &[(TicketSortField, Direction)],
    ) -> Vec<usize> {
        let rows = self
            .t
            .db
            .in_transaction(None, |uow| uow.list_tickets(scope, filter, sort, PAGE))
            .unwrap();
        rows.iter()
            .map(|r| {
                self.tickets
                    .iter()
                    .position(|t| t.id == r.id)
                    .expect("known ticket")
            })
            .collect()
    }
    fn ids(&self, filter: TicketFilter) -> Vec<usize> {
        self.list(Scope::Everything, &filter, &[])
    }
}

#[test]
fn every_ticket_filter() {
    let f = fixture();
    let all = TicketFilter::default;
    assert_eq!(f.ids(all()), vec![0, 1, 2, 3]);
    assert_eq!(
        f.ids(TicketFilter {
            kind: Some(TicketKind::DataRequest),
            ..all()
        }),
        vec![3]
    );
    assert_eq!(
        f.ids(TicketFilter {
            country: Some("RO".into()),
            ..all()
        }),
        vec![0, 2]
    );
    assert_eq!(
        f.ids(TicketFilter {
            country: Some("ro".into()),
            ..all()
        }),
        Vec::<usize>::new()
    );
    assert_eq!(
        f.ids(TicketFilter {
            requester: Some(f.c.id),
            ..all()
        }),
        vec![2, 3]
    );
    assert_eq!(
        f.ids(TicketFilter {
            requester: Some(ProfileId(i32::MAX)),
            ..all()
        }),
        Vec::<usize>::new()
    );
    assert_eq!(
        f.ids(TicketFilter {
            responder: Some(f.b.id),
            ..all()
        }),
        vec![0, 2]
    );
    assert_eq!(
        f.ids(TicketFilter {
            responder: Some(f.c.id),
            ..all()
        }),
        vec![0]
    );
    assert_eq!(
        f.ids(TicketFilter {
            responder: Some(ProfileId(999_999)),
            ..all()
        }),
        Vec::<usize>::new()
    );
    assert_eq!(
        f.ids(TicketFilter {
            has_responder: Some(true),
            ..all()
        }),
        vec![0, 2]
    );
    assert_eq!(
        f.ids(TicketFilter {
            has_responder: Some(false),
            ..all()
        }),
        vec![1, 3]
    );
    // Inclusive ranges, either end open.
    let range = |from: Option<i64>, to: Option<i64>| TimeRange {
        from: from.map(at),
        to: to.map(at),
    };
    assert_eq!(
        f.ids(TicketFilter {
            created_at: range(Some(20), Some(30)),
            ..all()
        }),
        vec![1, 2]
    );
    assert_eq!(
        f.ids(TicketFilter {
            created_at: range(Some(30), None),
            ..all()
        }),
        vec![2, 3]
    );
    assert_eq!(
        f.ids(TicketFilter {
            created_at: range(None, Some(10)),
            ..all()
        }),
        vec![0]
    );
    assert_eq!(
        f.ids(TicketFilter {
            deadline_at: range(Some(500), Some(1000)),
            ..all()
        }),
        vec![0, 2]
    );
    assert_eq!(
        f.ids(TicketFilter {
            deadline_at: range(Some(0), None),
            ..all()
        }),
        vec![0, 2, 3]
    );
    let statuses = |s: &[&str]| Some(s.iter().map(|x| x.to_string()).collect::<Vec<_>>());
    assert_eq!(
        f.ids(TicketFilter {
            status_in: statuses(&["new", "pending"]),
            ..all()
        }),
        vec![0, 3]
    );
    assert_eq!(
        f.ids(TicketFilter {
            status_in: statuses(&["bogus"]),
            ..all()
        }),
        Vec::<usize>::new()
    );
    assert_eq!(
        f.ids(TicketFilter {
            status_in: statuses(&["closed", "Closed"]),
            ..all()
        }),
        vec![1]
    );
    // Combined.
    let combined = TicketFilter {
        country: Some("RO".into()),
        has_responder: Some(true),
        kind: Some(TicketKind::Other),
        ..all()
    };
    assert_eq!(f.ids(combined), vec![2]);
}

#[test]
fn sorting_and_pages() {
    let f = fixture();
    let all = TicketFilter::default();
    assert_eq!(
        f.list(
            Scope::Everything,
            &all,
            &[(TicketSortField::CreatedAt, Direction::Desc)]
        ),
        vec![3, 2, 1, 0]
    );
    assert_eq!(
        f.list(
            Scope::Everything,
            &all,
            &[(TicketSortField::DeadlineAt, Direction::Asc)]
        ),
        vec![2, 0, 3, 1]
    );
    assert_eq!(
        f.list(
            Scope::Everything,
            &all,
            &[(TicketSortField::DeadlineAt, Direction::Desc)]
        ),
        vec![1, 3, 0, 2]
    );
    let page2 = PageSlice {
        number: 2,
        size: 3,
        last: 2,
    };
    let rows =
        f.t.db
            .in_transaction(None, |uow| {
                uow.list_tickets(Scope::Everything, &all, &[], page2)
            })
            .unwrap();
    assert_eq!(
        rows.iter().map(|t| t.id).collect::<Vec<_>>(),
        vec![f.tickets[3].id]
    );
}

#[test]
fn totals_ignore_the_status_filter() {
    let f = fixture();
    let filter = TicketFilter {
        status_in: Some(vec!["closed".into()]),
        ..Default::default()
    };
    let totals =
        f.t.db
            .in_transaction(None, |uow| uow.status_totals(Scope::Everything, &filter))
            .unwrap();
    assert_eq!(
        (
            totals.new,
            totals.in_progress,
            totals.pending,
            totals.closed,
            totals.cancelled
        ),
        (1, 1, 1, 1, 0)
    );
    assert_eq!(totals.all(), 4);
    assert_eq!(totals.matching(&filter), 1);
    // Other filters and the scope do count.
    let filter = TicketFilter {
        country: Some("RO".into()),
        status_in: Some(vec!["new".into()]),
        ..Default::default()
    };
    let totals =
        f.t.db
            .in_transaction(None, |uow| {
                uow.status_totals(Scope::ParticipantOf(f.a.id), &filter)
            })
            .unwrap();
    assert_eq!((totals.new, totals.all()), (1, 1));
}

#[test]
fn no_duplicates_with_several_responders_and_scope_semantics() {
    let f = fixture();
    let all = TicketFilter::default();
    // b responds to t0 and t2, and also subscribes to t0: still one row each.
    f.t.db
        .in_transaction(None, |uow| {
            add_subscriber(uow, f.tickets[0].id, Some(f.b.id), None).unwrap();
            add_subscriber(uow, f.tickets[1].id, None, Some("b@x.org")).unwrap();
            Ok(())
        })
        .unwrap();
    assert_eq!(f.list(Scope::ParticipantOf(f.b.id), &all, &[]), vec![0, 2]);
    assert_eq!(f.list(Scope::ParticipantOf(f.a.id), &all, &[]), vec![0, 1]);
    assert_eq!(
        f.list(Scope::ParticipantOf(f.c.id), &all, &[]),
        vec![0, 2, 3]
    );
    assert_eq!(
        f.list(Scope::ParticipantOf(f.s.id), &all, &[]),
        Vec::<usize>::new()
    );
    assert_eq!(f.list(Scope::Nothing, &all, &[]), Vec::<usize>::new());
    assert_eq!(
        f.list(
            Scope::Everything,
            &TicketFilter {
                has_responder: Some(true),
                ..all.clone()
            },
            &[]
        ),
        vec![0, 2]
    );
    f.t.db
        .in_transaction(None, |uow| {
            assert!(uow
                .ticket(Scope::ParticipantOf(f.b.id), f.tickets[0].id)?
                .is_some());
            // An e-mail-only subscription grants nothing.
            assert!(uow
                .ticket(Scope::ParticipantOf(f.b.id), f.tickets[1].id)?
                .is_none());
            assert!(uow.ticket(Scope::Nothing, f.tickets[1].id)?.is_none());
            assert!(uow.ticket(Scope::Everything, TicketId(999_999))?.is_none());
            assert!(uow
                .ticket_for_update(Scope::Everything, f.tickets[3].id)?
                .is_some());
            assert!(uow
                .ticket_for_update(Scope::ParticipantOf(f.a.id), f.tickets[3].id)?
                .is_none());
            assert_eq!(
                uow.relation(f.tickets[0].id, f.b.id)?,
                TicketRelation {
                    requester: false,
                    responder: true,
                    subscriber: true
                }
            );
            assert_eq!(
                uow.relation(f.tickets[0].id, f.a.id)?,
                TicketRelation {
                    requester: true,
                    ..Default::default()
                }
            );
            assert_eq!(
                uow.relation(f.tickets[1].id, f.b.id)?,
                TicketRelation::default()
            );
            let totals =
                uow.status_totals(Scope::ParticipantOf(f.b.id), &TicketFilter::default())?;
            assert_eq!(totals.all(), 2);
            Ok(())
        })
        .unwrap();
}

#[test]
fn search_ranks_best_first_then_sorts() {
    let t = TestDb::new();
    let (ids, sorted) = write(&t.db, |uow| {
        let a = profile(uow, "a@x.org", "A", "A", false, false);
        let mut weak = content("nothing to see");
        weak.connections = Some("Zorrilla holdings".into());
        let mut name = content("nothing here");
        name.first_name = Some("Zorrilla".into());
        let mut body = content("the zorrilla family owns boats");
        body.deadline_at = Some(at(5));
        let mut body2 = content("zorrilla again, other boats");
        body2.deadline_at = Some(at(1));
        let other = content("unrelated words only");
        let weak = ticket(uow, a.id, &weak, 1).id;
        let name = ticket(uow, a.id, &name, 2).id;
        let body = ticket(uow, a.id, &body, 3).id;
        let body2 = ticket(uow, a.id, &body2, 4).id;
        ticket(uow, a.id, &other, 5);
        let filter = TicketFilter {
            search: Some("Zorrilla".into()),
            ..Default::default()
        };
        let found = uow
            .list_tickets(Scope::Everything, &filter, &[], PAGE)
            .unwrap();
        let by_deadline = uow
            .list_tickets(
                Scope::Everything,
                &filter,
                &[(TicketSortField::DeadlineAt, Direction::Asc)],
                PAGE,
            )
            .unwrap();
        let totals = uow.status_totals(Scope::Everything, &filter).unwrap();
        assert_eq!(totals.all(), 4);
        let ids = |v: Vec<Ticket>| v.into_iter().map(|t| t.id).collect::<Vec<_>>();
        // PostgreSQL runs a cached statement on its generic plan after five executions:
        // the same answers then.
        for _ in 0..7 {
            let again = uow
                .list_tickets(Scope::Everything, &filter, &[], PAGE)
                .unwrap();
            assert_eq!(ids(again), ids(found.clone()));
            let again = uow.status_totals(Scope::Everything, &filter).unwrap();
            assert_eq!(again.all(), 4);
        }
        // The page is chosen among the ranked matches, then read whole in the same order.
        let pages: Vec<Vec<TicketId>> = (1..=3)
            .map(|number| {
                let slice = PageSlice {
                    number,
                    size: 2,
                    last: 2,
                };
                ids(uow
                    .list_tickets(
                        Scope::Everything,
                        &filter,
                        &[(TicketSortField::DeadlineAt, Direction::Asc)],
                        slice,
                    )
                    .unwrap())
            })
            .collect();
        assert_eq!(
            pages,
            vec![vec![name, body2], vec![body, weak], vec![]],
            "pages of the ranked and sorted matches"
        );
        (
            (ids(found), vec![name, body, body2, weak]),
            (ids(by_deadline), vec![name, body2, body, weak]),
        )
    });
    assert_eq!(
        ids.0, ids.1,
        "A weight before B before C; equal ranks by id"
    );
    assert_eq!(sorted.0, sorted.1, "the sort applies after the rank");
}

#[test]
fn activity_bumps_updated_at_and_keeps_microseconds() {
    let t = TestDb::new();
    let micro = Utc.timestamp_opt(1_790_000_000, 663_078_000).unwrap();
    let (tid, comment) = write(&t.db, |uow| {
        let a = profile(uow, "a@x.org", "A", "A", false, false);
        let tk = ticket(uow, a.id, &content("x"), 0);
        let comment = uow.insert_comment(tk.id, a.id, "hello", at(1)).unwrap();
        let activity = uow
            .record_activity(&NewActivity {
                actor: Some(a.id),
                verb: Verb::CommentCreate,
                ticket: tk.id,
                action: Some(ActionObject::Comment(comment.id)),
                at: micro,
            })
            .unwrap();
        assert_eq!(activity.verb, "comment:create");
        assert_eq!(activity.action, Some(ActionObject::Comment(comment.id)));
        assert_eq!(activity.timestamp, micro);
        (tk.id, comment)
    });
    assert_eq!(comment.body, "hello");
    let stored =
        t.db.in_transaction(None, |uow| uow.ticket(Scope::Everything, tid))
            .unwrap()
            .unwrap();
    assert_eq!(stored.updated_at, micro);
    assert_eq!(stored.created_at, at(0));
}

#[test]
fn insert_and_update_tickets_write_every_column() {
    let t = TestDb::new();
    write(&t.db, |uow| {
        let a = profile(uow, "a@x.org", "A", "A", false, false);
        let mut c = content("bg");
        c.kind = TicketKind::VehicleTracking;
        c.request_type = RequestType::CostPlus;
        c.priority = Priority::High;
        c.sensitive = true;
        c.whysensitive = Some("why".into());
        c.member_center = Some("mc".into());
        c.identifier = Some("id".into());
        c.countries = vec!["RO".into(), "MD".into()];
        c.tags = vec!["a".into(), "b c".into()];
        c.first_name = Some("F".into());
        c.last_name = Some("L".into());
        c.born_at = Some(at(-1000));
        c.connections = Some("conn".into());
        c.sources = Some("src".into());
        c.business_activities = Some("biz".into());
        c.initial_information = Some("init".into());
        c.company_name = Some("co".into());
        c.country = Some("".into());
        c.deadline_at = Some(at(99));
        let tk = uow.insert_ticket(a.id, &c, at(1)).unwrap();
        assert_eq!(tk.content(), c);
        assert_eq!(
            (tk.requester_id, tk.created_at, tk.updated_at),
            (a.id, at(1), at(1))
        );
        let mut c2 = content("new bg");
        c2.status = TicketStatus::Cancelled;
        let updated = uow.update_ticket(tk.id, &c2, at(7)).unwrap();
        assert_eq!(updated.content(), c2);
        assert_eq!((updated.created_at, updated.updated_at), (at(1), at(7)));
        assert!(matches!(
            uow.update_ticket(TicketId(424242), &c2, at(7)),
            Err(DomainError::NotFound)
        ));
    });
}

#[test]
fn profile_name_filter_is_unicode_case_insensitive() {
    let t = TestDb::new();
    write(&t.db, |uow| {
        profile(uow, "s@x.org", "Станислав", "Петров", false, false);
        profile(uow, "m@x.org", "Mihai", "Sușcov", true, false);
        profile(uow, "p@x.org", "Per_cent", "100%", false, true);
        let inactive = profile(uow, "i@x.org", "Mihai", "Inactive", false, false);
        diesel::RunQueryDsl::execute(
            diesel::update(diesel::QueryDsl::find(
                desk_persistence::schema::profiles::table,
                inactive.id.0,
            ))
            .set(diesel::ExpressionMethods::eq(
                desk_persistence::schema::profiles::is_active,
                false,
            )),
            uow.connection(),
        )
        .unwrap();
    });
    let names = |filter: ProfileFilter, scope: ProfileScope| {
        t.db.in_transaction(None, |uow| {
            let n = uow.count_profiles(scope, &filter)?;
            let rows = uow.list_profiles(scope, &filter, PAGE)?;
            assert_eq!(n as usize, rows.len());
            Ok(rows
                .into_iter()
                .map(|v| v.profile.last_name)
                .collect::<Vec<_>>())
        })
        .unwrap()
    };
    let name = |s: &str| ProfileFilter {
        name: Some(s.into()),
        ..Default::default()
    };
    assert_eq!(names(name("тан"), ProfileScope::Active), vec!["Петров"]);
    assert_eq!(
        names(name("СТАНИСЛАВ П"), ProfileScope::Active),
        vec!["Петров"]
    );
    assert_eq!(names(name("ușc"), ProfileScope::Active), vec!["Sușcov"]);
    assert_eq!(names(name("UȘC"), ProfileScope::Active), vec!["Sușcov"]);
    assert_eq!(
        names(name("usc"), ProfileScope::Active),
        Vec::<String>::new()
    );
    assert_eq!(
        names(name("mihai"), ProfileScope::Active),
        vec!["Sușcov"],
        "inactive profiles are out of scope"
    );
    assert_eq!(
        names(name("_"), ProfileScope::Active),
        vec!["100%"],
        "no LIKE wildcards"
    );
    assert_eq!(names(name("%"), ProfileScope::Active), vec!["100%"]);
    let staff = ProfileFilter {
        is_staff: Some(true),
        ..Default::default()
    };
    assert_eq!(names(staff, ProfileScope::Active), vec!["Sușcov"]);
    let su = ProfileFilter {
        is_superuser: Some(false),
        ..Default::default()
    };
    assert_eq!(names(su, ProfileScope::Active), vec!["Петров", "Sușcov"]);
    let own =
        t.db.in_transaction(None, |uow| {
            Ok(uow.unlinked_profiles_by_email("M@X.org")?[0].id)
        })
        .unwrap();
    assert_eq!(
        names(ProfileFilter::default(), ProfileScope::Only(own)),
        vec!["Sușcov"]
    );
}

#[test]
fn tickets_count_and_links() {
    let f = fixture();
    f.t.db
        .in_transaction(None, |uow| {
            add_subscriber(uow, f.tickets[3].id, Some(f.b.id), None).unwrap();
            add_subscriber(uow, f.tickets[3].id, None, Some("ext@x.org")).unwrap();
            let views = uow.profile_views(&[f.a.id, f.b.id, f.c.id, f.s.id, ProfileId(999)])?;
            let count = |p: &Profile| {
                views
                    .iter()
                    .find(|v| v.profile.id == p.id)
                    .unwrap()
                    .tickets_count
            };
            assert_eq!(views.len(), 4);
            assert_eq!(
                (count(&f.a), count(&f.b), count(&f.c), count(&f.s)),
                (2, 3, 3, 4)
            );
            let listed =
                uow.list_profiles(ProfileScope::Active, &ProfileFilter::default(), PAGE)?;
            assert_eq!(
                listed.iter().map(|v| v.tickets_count).collect::<Vec<_>>(),
                vec![2, 3, 3, 4]
            );
            let links = uow.ticket_links(&[f.tickets[0].id, f.tickets[3].id])?;
            assert_eq!(
                links
                    .responders
                    .iter()
                    .map(|r| r.user_id)
                    .collect::<Vec<_>>(),
                vec![f.b.id, f.c.id]
            );
            assert_eq!(links.subscribers.len(), 2);
            assert_eq!(links.subscribers[1].email.as_deref(), Some("ext@x.org"));
            assert_eq!(uow.ticket_links(&[])?, TicketLinks::default());
            Ok(())
        })
        .unwrap();
}

#[test]
fn identities_and_profile_details() {
    let t = TestDb::new();
    t.db.in_transaction(None, |uow| {
        let details = ProfileDetails {
            email: "Mixed@Case.org".into(),
            first_name: "M".into(),
            last_name: "C".into(),
            is_staff: false,
            is_superuser: false,
        };
        let p = uow.insert_profile(&details)?;
        assert!(p.is_active);
        uow.link_identity(p.id, "https://idp", "sub-1")?;
        assert_eq!(
            uow.profile_by_identity("https://idp", "sub-1")?
                .map(|x| x.id),
            Some(p.id)
        );
        assert_eq!(uow.profile_by_identity("https://idp", "sub-2")?, None);
        // Claimed by an identity now: no longer offered for e-mail linking, but in use.
        assert!(uow.unlinked_profiles_by_email("mixed@case.ORG")?.is_empty());
        assert!(uow.email_in_use("mixed@case.ORG")?);
        assert!(!uow.email_in_use("")?);
        assert!(uow.unlinked_profiles_by_email("")?.is_empty());
        let changed = uow.update_profile_details(
            p.id,
            &ProfileDetails {
                is_staff: true,
                first_name: "New".into(),
                ..details
            },
        )?;
        assert!(changed.is_staff);
        assert_eq!(changed.first_name, "New");
        uow.set_bio(p.id, Some("hello"))?;
        assert_eq!(uow.profile(p.id)?.unwrap().bio.as_deref(), Some("hello"));
        uow.set_bio(p.id, None)?;
        assert_eq!(uow.profile(p.id)?.unwrap().bio, None);
        assert!(uow.profile(ProfileId(777))?.is_none());
        Ok(())
    })
    .unwrap();
}

#[test]
fn unique_indexes_reject_duplicates() {
    let t = TestDb::new();
    let (a, tid) = write(&t.db, |uow| {
        let a = profile(uow, "a@x.org", "A", "A", false, false);
        // Machine accounts without e-mail do not collide.
        profile(uow, "", "m1", "", false, false);
        profile(uow, "", "m2", "", false, false);
        let tk = ticket(uow, a.id, &content("x"), 0);
        add_subscriber(uow, tk.id, Some(a.id), None).unwrap();
        add_subscriber(uow, tk.id, None, Some("Ext@X.org")).unwrap();
        (a, tk.id)
    });
    let fails = |f: &dyn Fn(&mut desk_persistence::PgUnitOfWork<'_>) -> Result<(), DomainError>| {
        matches!(t.db.in_transaction(None, f), Err(DomainError::Storage(_)))
    };
    assert!(fails(&|uow| add_subscriber(uow, tid, Some(a.id), None)
        .map(drop)
        .map_err(|e| DomainError::Storage(e.to_string()))));
    assert!(fails(&|uow| add_subscriber(
        uow,
        tid,
        None,
        Some("ext@x.ORG")
    )
    .map(drop)
    .map_err(|e| DomainError::Storage(e.to_string()))));
    assert!(fails(&|uow| add_subscriber(uow, tid, None, None)
        .map(drop)
        .map_err(|e| DomainError::Storage(e.to_string()))));
    assert!(fails(&|uow| {
        uow.insert_profile(&ProfileDetails {
            email: "A@X.ORG".into(),
            first_name: String::new(),
            last_name: String::new(),
            is_staff: false,
            is_superuser: false,
        })
        .map(drop)
    }));
    assert!(fails(&|uow| {
        uow.link_identity(a.id, "i", "s")?;
        uow.link_identity(a.id, "i", "s")
    }));
}

#[test]
fn rollback_on_err_leaves_nothing() {
    let t = TestDb::new();
    let result: Result<(), DomainError> = t.db.in_transaction(Some(ProfileId(1)), |uow| {
        let a = profile(uow, "a@x.org", "A", "A", false, false);
        ticket(uow, a.id, &content("x"), 0);
        Err(DomainError::Forbidden)
    });
    assert!(matches!(result, Err(DomainError::Forbidden)));
    let counts =
        t.db.in_transaction(None, |uow| {
            let profiles = uow.count_profiles(ProfileScope::Active, &ProfileFilter::default())?;
            let tickets = uow
                .status_totals(Scope::Everything, &TicketFilter::default())?
                .all();
            Ok((profiles, tickets))
        })
        .unwrap();
    assert_eq!(counts, (0, 0));
}

#[test]
fn actor_setting_and_read_only() {
    use diesel::prelude::*;
    use diesel::sql_types::Text;
    #[derive(QueryableByName)]
    struct Setting {
        #[diesel(sql_type = Text)]
        value: String,
    }
    let t = TestDb::new();
    let value =
        t.db.in_transaction(Some(ProfileId(42)), |uow| {
            diesel::sql_query("SELECT current_setting('desk.actor_id') AS value")
                .get_result::<Setting>(uow.connection())
                .map_err(|e| DomainError::Storage(e.to_string()))
        })
        .unwrap();
    assert_eq!(value.value, "42");
    let write_attempt = t.db.read_only(None, |uow| {
        uow.insert_profile(&ProfileDetails {
            email: "r@x.org".into(),
            first_name: String::new(),
            last_name: String::new(),
            is_staff: false,
            is_superuser: false,
        })
    });
    assert!(matches!(write_attempt, Err(DomainError::Storage(_))));
    assert!(t.db.ping());
    assert!(t.db.migrations_current().unwrap());
    assert_eq!(t.db.migrate().unwrap(), 0);
    assert!(t.db.pool_state().connections >= 1);
}

#[test]
fn connect_fails_fast_without_leaking_the_password() {
    let started = std::time::Instant::now();
    let err =
        desk_persistence::Database::connect("postgres://someone:s3cr3tpw@127.0.0.1:1/nope", 2)
            .unwrap_err();
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let message = err.to_string();
    assert!(!message.contains("s3cr3tpw"), "{message}");
}

/// Signing in publishes the profile found as `desk.actor_id` in the look-up's own statement,
/// and `set_actor` still moves it elsewhere when asked.
#[test]
fn identity_look_up_publishes_the_actor() {
    use desk_domain::ports::IdentityRepository;
    use diesel::prelude::*;
    use diesel::sql_types::Text;
    #[derive(QueryableByName)]
    struct Setting {
        #[diesel(sql_type = Text)]
        value: String,
    }
    fn actor_setting(uow: &mut desk_persistence::PgUnitOfWork<'_>) -> String {
        diesel::sql_query("SELECT coalesce(current_setting('desk.actor_id', true), '') AS value")
            .get_result::<Setting>(uow.connection())
            .unwrap()
            .value
    }
    let t = TestDb::new();
    let (me, other) = write(&t.db, |uow| {
        let me = profile(uow, "me@x.org", "M", "E", false, false).id;
        let other = profile(uow, "other@x.org", "O", "T", false, false).id;
        uow.link_identity(me, "https://sso.example.org", "sub-me")
            .unwrap();
        (me, other)
    });
    let seen =
        t.db.in_transaction(None, |uow| {
            let unknown = uow.profile_by_identity("https://sso.example.org", "nobody")?;
            let before = actor_setting(uow);
            let found = uow.profile_by_identity("https://sso.example.org", "sub-me")?;
            let after_look_up = actor_setting(uow);
            uow.set_actor(me)?;
            let after_same = actor_setting(uow);
            uow.set_actor(other)?;
            let after_other = actor_setting(uow);
            Ok((
                unknown.is_none(),
                before,
                found.map(|p| p.id),
                after_look_up,
                after_same,
                after_other,
            ))
        })
        .unwrap();
    assert_eq!(
        seen,
        (
            true,
            String::new(),
            Some(me),
            me.0.to_string(),
            me.0.to_string(),
            other.0.to_string()
        )
    );
}

/// A look-up of one profile or one ticket's links settles on a generic plan
/// (`fragments::batch_ids`) instead of being planned for every execution.
#[test]
fn look_ups_by_a_few_ids_reuse_their_plan() {
    use diesel::prelude::*;
    use diesel::sql_types::{BigInt, Text};
    #[derive(QueryableByName, Debug)]
    struct Plans {
        #[diesel(sql_type = Text)]
        statement: String,
        #[diesel(sql_type = BigInt)]
        generic_plans: i64,
        #[diesel(sql_type = BigInt)]
        custom_plans: i64,
    }
    let t = TestDb::new();
    let plans = write(&t.db, |uow| {
        let a = profile(uow, "a@x.org", "Ann", "Able", false, false);
        let b = profile(uow, "b@x.org", "Bob", "Baker", true, false);
        let ticket = ticket(uow, a.id, &content("one ticket"), 1);
        add_responder(uow, ticket.id, b.id);
        // Prepared statements belong to the connection: all in this one transaction.
        for round in 0..8 {
            let who = if round % 2 == 0 { a.id } else { b.id };
            assert_eq!(uow.profile_views(&[who]).unwrap().len(), 1);
            assert_eq!(uow.ticket_links(&[ticket.id]).unwrap().responders.len(), 1);
        }
        assert_eq!(uow.profile_views(&[a.id, b.id]).unwrap().len(), 2);
        diesel::sql_query(
            "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements
             WHERE statement LIKE '%= ANY(%' ORDER BY statement",
        )
        .load::<Plans>(uow.connection())
        .unwrap()
    });
    // The profiles' look-up, and the responders' and subscribers' in one statement.
    assert_eq!(plans.len(), 2, "{plans:?}");
    for from in [
        "FROM \"profiles\"",
        "FROM responders WHERE",
        "FROM subscribers WHERE",
    ] {
        assert!(plans.iter().any(|p| p.statement.contains(from)), "{from}");
    }
    for p in &plans {
        assert!(p.generic_plans >= 3, "{p:?}");
        assert!(p.custom_plans <= 5, "{p:?}");
    }
}

/// Long ticket texts and comment bodies are set to LZ4 (migration `long_text_lz4`) where the
/// server has it, else left to the default; a long text written now uses that method and
/// reads back as written.
#[test]
fn long_texts_are_compressed_with_lz4_where_the_server_has_it() {
    use diesel::prelude::*;
    use diesel::sql_types::{Integer, Nullable, Text};
    #[derive(QueryableByName)]
    struct Method {
        #[diesel(sql_type = Nullable<Text>)]
        method: Option<String>,
    }
    let t = TestDb::new();
    let mut conn = t.db.connection().unwrap();
    // Whether this server can compress with LZ4 at all: a column asking for it is refused
    // otherwise (before PostgreSQL 14, the syntax itself is).
    let has_lz4 = conn
        .transaction::<(), diesel::result::Error, _>(|conn| {
            diesel::sql_query("CREATE TEMP TABLE lz4_probe (t text COMPRESSION lz4)")
                .execute(conn)?;
            Err(diesel::result::Error::RollbackTransaction)
        })
        .is_err_and(|e| e == diesel::result::Error::RollbackTransaction);
    let expected = if has_lz4 { "l" } else { "" };
    let columns: Vec<Method> = diesel::sql_query(
        "SELECT attcompression::text AS method FROM pg_attribute \
         WHERE (attrelid = 'tickets'::regclass AND attname IN ('background', 'connections', \
                'sources', 'business_activities', 'initial_information')) \
            OR (attrelid = 'comments'::regclass AND attname = 'body')",
    )
    .load(&mut conn)
    .unwrap();
    assert_eq!(columns.len(), 6);
    for column in &columns {
        assert_eq!(column.method.as_deref().unwrap_or(""), expected);
    }

    // Repetitive, so it compresses; long enough that the row must be compressed.
    let long = "Offshore holdings of the mining company, year after year. ".repeat(200);
    let (id, read) = write(&t.db, |uow| {
        let a = profile(uow, "a@x.org", "Ann", "Able", false, false);
        let created = ticket(uow, a.id, &content(&long), 10);
        let read = uow.ticket(Scope::Everything, created.id).unwrap().unwrap();
        (created.id, read)
    });
    assert_eq!(read.background, long);
    let stored: Method = diesel::sql_query(
        "SELECT pg_column_compression(background) AS method FROM tickets WHERE id = $1",
    )
    .bind::<Integer, _>(id.0)
    .get_result(&mut conn)
    .unwrap();
    if has_lz4 {
        assert_eq!(stored.method.as_deref(), Some("lz4"));
    } else {
        assert!(stored.method.is_some(), "a long text is stored compressed");
    }
}
