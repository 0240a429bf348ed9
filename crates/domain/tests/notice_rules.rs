//! Who gets which notice (`jobs::notices_for`, contract §5.3.1/§5.3.2, W30), against a mocked
//! unit of work: the configured addresses for a new ticket, the ticket users for a reopen,
//! one e-mail per address (case-insensitive), never the author, nothing for a vanished ticket.

mod support;

use desk_domain::jobs::{notices_for, Job, NoticeKind};
use desk_domain::policy::Scope;
use desk_domain::ports::TicketLinks;
use desk_domain::*;
use mockall::predicate::eq;
use support::*;

const T: TicketId = TicketId(5);

fn ticket(requester: i32) -> Ticket {
    Ticket {
        id: T,
        requester_id: ProfileId(requester),
        kind: TicketKind::Other,
        request_type: RequestType::Subsidized,
        status: TicketStatus::InProgress,
        priority: Priority::Default,
        sensitive: false,
        whysensitive: None,
        deadline_at: None,
        created_at: now(),
        updated_at: now(),
        member_center: None,
        identifier: None,
        countries: vec![],
        tags: vec![],
        background: "b".into(),
        first_name: None,
        last_name: None,
        born_at: None,
        connections: None,
        sources: None,
        business_activities: None,
        initial_information: None,
        company_name: None,
        country: None,
    }
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[test]
fn a_new_ticket_goes_to_each_configured_address_once_but_not_to_its_requester() {
    let mut uow = MockUow::new();
    uow.expect_ticket()
        .with(eq(Scope::Everything), eq(T))
        .returning(|_, _| Ok(Some(ticket(7))));
    uow.expect_profile()
        .with(eq(ProfileId(7)))
        .returning(|id| Ok(Some(profile(id.0))));
    let notify = strings(&[
        "team@x.org",
        "TEAM@x.org",
        "USER7@example.org",
        "lead@x.org",
    ]);
    let notices = notices_for(&mut uow, &Job::TicketCreated { ticket: T }, &notify).unwrap();
    let to: Vec<&str> = notices.iter().map(|n| n.to.as_str()).collect();
    assert_eq!(to, ["team@x.org", "lead@x.org"]);
    assert!(notices.iter().all(|n| n.kind == NoticeKind::TicketCreated
        && n.ticket == T
        && n.actor_name == "First7 Last7"));
}

#[test]
fn a_reopen_goes_to_responders_and_user_subscribers_but_not_the_reopener() {
    let mut uow = MockUow::new();
    uow.expect_ticket().returning(|_, _| Ok(Some(ticket(7))));
    uow.expect_ticket_links().with(eq(vec![T])).returning(|_| {
        let at = now();
        Ok(TicketLinks {
            responders: vec![
                Responder {
                    id: ResponderId(1),
                    ticket_id: T,
                    user_id: ProfileId(8),
                    created_at: at,
                },
                Responder {
                    id: ResponderId(2),
                    ticket_id: T,
                    user_id: ProfileId(1),
                    created_at: at,
                },
            ],
            subscribers: vec![
                Subscriber {
                    id: SubscriberId(1),
                    ticket_id: T,
                    user_id: Some(ProfileId(9)),
                    email: None,
                    created_at: at,
                },
                // E-mail-only subscribers are not ticket users.
                Subscriber {
                    id: SubscriberId(2),
                    ticket_id: T,
                    user_id: None,
                    email: Some("outsider@x.org".into()),
                    created_at: at,
                },
                Subscriber {
                    id: SubscriberId(3),
                    ticket_id: T,
                    user_id: Some(ProfileId(8)),
                    email: None,
                    created_at: at,
                },
            ],
        })
    });
    uow.expect_profile()
        .with(eq(ProfileId(1)))
        .returning(|id| Ok(Some(profile(id.0))));
    // The re-opener (1) is not even looked up as a recipient.
    uow.expect_profile_views()
        .withf(|ids| ids == [ProfileId(8), ProfileId(9)])
        .returning(|ids| {
            Ok(ids
                .iter()
                .map(|id| {
                    let mut p = profile(id.0);
                    if id.0 == 9 {
                        p.email = "USER8@example.org".into(); // same address as 8
                    }
                    view(p)
                })
                .collect())
        });
    let job = Job::TicketReopened {
        ticket: T,
        actor: ProfileId(1),
    };
    let notices = notices_for(&mut uow, &job, &strings(&["team@x.org"])).unwrap();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0].to, "user8@example.org");
    assert_eq!(notices[0].recipient_name, "First8 Last8");
    assert_eq!(notices[0].actor_name, "First1 Last1");
    assert_eq!(notices[0].kind, NoticeKind::TicketReopened);
}

#[test]
fn a_vanished_ticket_means_no_notice() {
    let mut uow = MockUow::new();
    uow.expect_ticket().returning(|_, _| Ok(None));
    uow.expect_profile().never();
    for job in [
        Job::TicketCreated { ticket: T },
        Job::TicketReopened {
            ticket: T,
            actor: ProfileId(1),
        },
    ] {
        let notices = notices_for(&mut uow, &job, &strings(&["team@x.org"])).unwrap();
        assert!(notices.is_empty());
    }
}
