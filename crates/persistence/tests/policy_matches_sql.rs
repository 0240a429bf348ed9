//! The SQL of every ticket scope selects exactly the tickets `policy::ticket_visible` allows,
//! and the lists seen through a ticket (comments, responders, subscribers, activities) exactly
//! the rows of those tickets, never twice.
//! One database serves all cases: each case runs in a transaction that is rolled back.

mod common;

use common::*;
use desk_domain::listing::Direction;
use desk_domain::listing::{PageNumber, PageRequest, PageSlice, TicketFilter};
use desk_domain::policy::{self, Actor, TicketRelation};
use desk_domain::ports::{
    ActivityFilter, ActivityReadRepository, CommentReadRepository, ResponderRepository, RowFilter,
    RowOrder, SubscriberRepository, TicketRepository,
};
use desk_domain::*;
use desk_persistence::schema::{activities, comments, profiles, responders, subscribers, tickets};
use desk_persistence::PgUnitOfWork;
use diesel::prelude::*;
use proptest::prelude::*;
use std::collections::{BTreeSet, HashSet};

#[derive(Debug, Clone)]
enum Sub {
    /// A subscription with the profile at this index.
    User(usize),
    /// An e-mail-only subscription carrying that profile's address (grants nothing).
    Email(usize),
}

#[derive(Debug, Clone)]
struct GenTicket {
    requester: usize,
    responders: BTreeSet<usize>,
    subscribers: Vec<Sub>,
}

#[derive(Debug, Clone)]
struct World {
    profiles: Vec<(bool, bool)>,
    tickets: Vec<GenTicket>,
}

fn world() -> impl Strategy<Value = World> {
    prop::collection::vec(any::<(bool, bool)>(), 2..=8).prop_flat_map(|profiles| {
        let n = profiles.len();
        let sub = prop_oneof![(0..n).prop_map(Sub::User), (0..n).prop_map(Sub::Email)];
        let ticket = (
            0..n,
            prop::collection::btree_set(0..n, 0..=3),
            prop::collection::vec(sub, 0..=3),
        )
            .prop_map(|(requester, responders, subscribers)| GenTicket {
                requester,
                responders,
                subscribers,
            });
        (Just(profiles), prop::collection::vec(ticket, 1..=10))
            .prop_map(|(profiles, tickets)| World { profiles, tickets })
    })
}

fn cases() -> u32 {
    std::env::var("DESK_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
}

/// Inserts the world, then checks every profile as actor. Returns the first mismatch.
fn check(uow: &mut PgUnitOfWork<'_>, w: &World) -> Result<Option<String>, DomainError> {
    let storage = |e: diesel::result::Error| DomainError::Storage(e.to_string());
    let email = |i: usize| format!("p{i}@x.org");
    let rows: Vec<_> = w
        .profiles
        .iter()
        .enumerate()
        .map(|(i, (staff, su))| {
            (
                profiles::email.eq(email(i)),
                profiles::is_staff.eq(*staff),
                profiles::is_superuser.eq(*su),
            )
        })
        .collect();
    let pids: Vec<i32> = diesel::insert_into(profiles::table)
        .values(&rows)
        .returning(profiles::id)
        .get_results(uow.connection())
        .map_err(storage)?;
    let rows: Vec<_> = w
        .tickets
        .iter()
        .map(|t| {
            (
                tickets::requester_id.eq(pids[t.requester]),
                tickets::background.eq("generated"),
            )
        })
        .collect();
    let tids: Vec<i32> = diesel::insert_into(tickets::table)
        .values(&rows)
        .returning(tickets::id)
        .get_results(uow.connection())
        .map_err(storage)?;

    let mut resp_rows = Vec::new();
    let mut sub_rows = Vec::new();
    let mut seen_subs = HashSet::new();
    for (t, gen) in w.tickets.iter().enumerate() {
        for r in &gen.responders {
            resp_rows.push((
                responders::ticket_id.eq(tids[t]),
                responders::user_id.eq(pids[*r]),
            ));
        }
        for s in &gen.subscribers {
            let (user, mail) = match s {
                Sub::User(i) => (Some(pids[*i]), None),
                Sub::Email(i) => (None, Some(email(*i))),
            };
            if seen_subs.insert((t, user, mail.clone())) {
                sub_rows.push((
                    subscribers::ticket_id.eq(tids[t]),
                    subscribers::user_id.eq(user),
                    subscribers::email.eq(mail),
                ));
            }
        }
    }
    // (row id, ticket id) of every ticket-bound row, to compare each list with the policy.
    let mut responder_rows: Vec<(i32, i32)> = Vec::new();
    let mut subscriber_rows: Vec<(i32, i32)> = Vec::new();
    if !resp_rows.is_empty() {
        responder_rows = diesel::insert_into(responders::table)
            .values(&resp_rows)
            .returning((responders::id, responders::ticket_id))
            .get_results(uow.connection())
            .map_err(storage)?;
    }
    if !sub_rows.is_empty() {
        subscriber_rows = diesel::insert_into(subscribers::table)
            .values(&sub_rows)
            .returning((subscribers::id, subscribers::ticket_id))
            .get_results(uow.connection())
            .map_err(storage)?;
    }
    let comment_rows: Vec<(i32, i32)> = diesel::insert_into(comments::table)
        .values(
            w.tickets
                .iter()
                .enumerate()
                .map(|(t, gen)| {
                    (
                        comments::ticket_id.eq(tids[t]),
                        comments::user_id.eq(pids[gen.requester]),
                        comments::body.eq("generated"),
                    )
                })
                .collect::<Vec<_>>(),
        )
        .returning((comments::id, comments::ticket_id))
        .get_results(uow.connection())
        .map_err(storage)?;
    let activity_rows: Vec<(i32, i32)> = diesel::insert_into(activities::table)
        .values(
            tids.iter()
                .map(|t| {
                    (
                        activities::ticket_id.eq(*t),
                        activities::verb.eq("ticket:create"),
                    )
                })
                .collect::<Vec<_>>(),
        )
        .returning((activities::id, activities::ticket_id))
        .get_results(uow.connection())
        .map_err(storage)?;

    let page = PageSlice {
        number: 1,
        size: 100,
        last: 1,
    };
    for (i, (staff, su)) in w.profiles.iter().enumerate() {
        let actor = Actor {
            id: ProfileId(pids[i]),
            is_staff: *staff,
            is_superuser: *su,
        };
        let relation = |t: &GenTicket| TicketRelation {
            requester: t.requester == i,
            responder: t.responders.contains(&i),
            subscriber: t
                .subscribers
                .iter()
                .any(|s| matches!(s, Sub::User(k) if *k == i)),
        };
        let expected: BTreeSet<i32> = w
            .tickets
            .iter()
            .enumerate()
            .filter(|(_, t)| policy::ticket_visible(&actor, relation(t)))
            .map(|(k, _)| tids[k])
            .collect();
        let scope = policy::ticket_scope(&actor);
        let listed: Vec<i32> = uow
            .list_tickets(scope, &TicketFilter::default(), &[], page)?
            .into_iter()
            .map(|t| t.id.0)
            .collect();
        let listed_set: BTreeSet<i32> = listed.iter().copied().collect();
        if listed_set.len() != listed.len() {
            return Ok(Some(format!("actor {i}: duplicates in {listed:?}")));
        }
        if listed_set != expected {
            return Ok(Some(format!(
                "actor {i} ({actor:?}): listed {listed_set:?}, policy allows {expected:?}"
            )));
        }
        let total = uow.status_totals(scope, &TicketFilter::default())?.all();
        if total != expected.len() as i64 {
            return Ok(Some(format!(
                "actor {i}: totals {total}, expected {}",
                expected.len()
            )));
        }
        // The list's page with its totals (one statement for a participant) agrees too.
        let request = PageRequest {
            number: PageNumber::Number(1),
            size: page.size,
        };
        let paged = uow.ticket_page(scope, &TicketFilter::default(), &[], request)?;
        let paged_ids: Vec<i32> = paged.tickets.iter().map(|t| t.id.0).collect();
        if paged_ids != listed || paged.totals.all() != total {
            return Ok(Some(format!(
                "actor {i}: ticket_page {paged_ids:?} of {}, list {listed:?} of {total}",
                paged.totals.all()
            )));
        }
        // Every ticket-bound list holds exactly the rows of the visible tickets, once each.
        let allowed = |rows: &[(i32, i32)]| -> Vec<i32> {
            let mut ids: Vec<i32> = rows
                .iter()
                .filter(|(_, t)| expected.contains(t))
                .map(|(id, _)| *id)
                .collect();
            ids.sort_unstable();
            ids
        };
        let all = RowFilter::default();
        let sorted = |mut ids: Vec<i32>| {
            ids.sort_unstable();
            ids
        };
        let lists: [(&str, Vec<i32>, i64, Vec<i32>); 4] = [
            (
                "comments",
                sorted(
                    uow.list_comments(scope, &all, RowOrder::default(), page)?
                        .into_iter()
                        .map(|c| c.id.0)
                        .collect(),
                ),
                uow.count_comments(scope, &all)?,
                allowed(&comment_rows),
            ),
            (
                "responders",
                sorted(
                    uow.list_responders(scope, &all, RowOrder::default(), page)?
                        .into_iter()
                        .map(|r| r.id.0)
                        .collect(),
                ),
                uow.count_responders(scope, &all)?,
                allowed(&responder_rows),
            ),
            (
                "subscribers",
                sorted(
                    uow.list_subscribers(scope, &all, RowOrder::default(), page)?
                        .into_iter()
                        .map(|r| r.id.0)
                        .collect(),
                ),
                uow.count_subscribers(scope, &all)?,
                allowed(&subscriber_rows),
            ),
            (
                "activities",
                sorted(
                    uow.list_activities(scope, &ActivityFilter::default(), Direction::Desc, page)?
                        .into_iter()
                        .map(|a| a.id.0)
                        .collect(),
                ),
                uow.count_activities(scope, &ActivityFilter::default())?,
                allowed(&activity_rows),
            ),
        ];
        for (name, listed, count, wanted) in lists {
            if listed != wanted || count != wanted.len() as i64 {
                return Ok(Some(format!(
                    "actor {i}: {name} listed {listed:?} (count {count}), policy allows {wanted:?}"
                )));
            }
        }
        for (id, _) in &comment_rows {
            let found = uow.comment(scope, CommentId(*id))?.is_some();
            if found != allowed(&comment_rows).contains(id) {
                return Ok(Some(format!("actor {i}: comment({id}) found = {found}")));
            }
        }
        for id in tids.iter().copied().chain([i32::MAX]) {
            let found = uow.ticket(scope, TicketId(id))?.is_some();
            if found != expected.contains(&id) {
                return Ok(Some(format!("actor {i}: ticket({id}) found = {found}")));
            }
        }
    }
    Ok(None)
}

#[test]
fn ticket_scope_sql_matches_the_policy() {
    let t = TestDb::new();
    // The proptest closure is `Fn`: the one connection sits in a RefCell.
    let conn = std::cell::RefCell::new(PgConnection::establish(&t.url).expect("connect"));
    let started = std::time::Instant::now();
    let config = ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(w in world())| {
        let mut outcome = None;
        let _ = conn.borrow_mut().transaction::<(), diesel::result::Error, _>(|conn| {
            outcome = Some(check(&mut PgUnitOfWork::new(conn), &w));
            Err(diesel::result::Error::RollbackTransaction)
        });
        match outcome.expect("case ran") {
            Ok(None) => {}
            Ok(Some(mismatch)) => prop_assert!(false, "{}", mismatch),
            Err(e) => prop_assert!(false, "storage error: {}", e),
        }
    });
    eprintln!("{} cases in {:?}", cases(), started.elapsed());
}
