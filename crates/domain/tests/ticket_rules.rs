//! The ticket use cases (`usecases::tickets::{create_ticket, update_ticket}`) against a
//! mocked unit of work and a fixed clock: who becomes requester, which status/priority a new
//! ticket gets (W7, W20), `country`/`countries` (W16, W33), the deadline rules of §4.4 (TK14,
//! TK15, W17), who may update what (W6, W32, TK9–TK13, TK16 adapted), PATCH semantics (W19),
//! the verbs and reason comments recorded — and that nothing is written when a request is
//! refused.

mod support;

use chrono::{DateTime, Utc};
use desk_domain::activity::{ActionObject, NewActivity, Verb};
use desk_domain::jobs::{Job, JobId, NewJob};
use desk_domain::policy::{Scope, TicketRelation};
use desk_domain::ports::TicketLinks;
use desk_domain::usecases::tickets::{create_ticket, update_ticket, TicketUpdate};
use desk_domain::*;
use mockall::{predicate::eq, Sequence};
use serde_json::{json, Map, Value};
use support::*;

const T0: TicketId = TicketId(3);
const REQUESTER: i32 = 7;
const RESPONDER: i32 = 8;
const SUBSCRIBER: i32 = 9;
const STRANGER: i32 = 11;
const ROOT: i32 = 1;

fn requester_rel() -> TicketRelation {
    TicketRelation {
        requester: true,
        ..Default::default()
    }
}

fn responder_rel() -> TicketRelation {
    TicketRelation {
        responder: true,
        ..Default::default()
    }
}

fn subscriber_rel() -> TicketRelation {
    TicketRelation {
        subscriber: true,
        ..Default::default()
    }
}

/// T0 as stored: requested by 7, status `new`, a deadline in the future.
fn stored() -> Ticket {
    Ticket {
        id: T0,
        requester_id: ProfileId(REQUESTER),
        kind: TicketKind::CompanyOwnership,
        request_type: RequestType::Cost,
        status: TicketStatus::New,
        priority: Priority::Default,
        sensitive: true,
        whysensitive: Some("Because".into()),
        deadline_at: Some(at(2031, 1, 2, 3, 4, 5)),
        created_at: at(2026, 11, 1, 10, 0, 0),
        updated_at: at(2026, 11, 2, 10, 0, 0),
        member_center: None,
        identifier: None,
        countries: vec!["RO".into(), "MD".into(), "IQ".into()],
        tags: vec!["a".into(), "b".into()],
        background: "Acme &amp; co".into(),
        first_name: Some("Ana".into()),
        last_name: Some("Pop".into()),
        born_at: Some(at(1980, 5, 6, 0, 0, 0)),
        connections: Some("Zorrilla &amp; Asociados S.C.P".into()),
        sources: None,
        business_activities: Some("Shipping".into()),
        initial_information: None,
        company_name: Some("Acme".into()),
        country: Some("IQ".into()),
    }
}

fn wire_date(value: Option<DateTime<Utc>>) -> Value {
    value.map_or(Value::Null, |d| {
        json!(d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
    })
}

/// The "copied payload" of §8: every attribute of the ticket as the client renders it,
/// read-only members and relationships included.
fn payload(t: &Ticket) -> Map<String, Value> {
    attrs(json!({
        "users": [{"id": RESPONDER, "first_name": "Resp", "last_name": "Two", "is_staff": false}],
        "kind": t.kind.as_str(),
        "request-type": t.request_type.as_str(),
        "status": t.status.as_str(),
        "priority": t.priority.as_str(),
        "sensitive": t.sensitive,
        "whysensitive": t.whysensitive,
        "deadline-at": wire_date(t.deadline_at),
        "created-at": wire_date(Some(t.created_at)),
        "updated-at": wire_date(Some(t.updated_at)),
        "member-center": t.member_center,
        "identifier": t.identifier,
        "countries": t.countries,
        "tags": t.tags,
        "background": t.background,
        "first-name": t.first_name,
        "last-name": t.last_name,
        "born-at": wire_date(t.born_at),
        "connections": t.connections,
        "sources": t.sources,
        "business-activities": t.business_activities,
        "initial-information": t.initial_information,
        "company-name": t.company_name,
        "country": t.country,
        "reopen-reason": null,
        "pending-reason": null,
        "requester": {"type": "profiles", "id": t.requester_id.to_string()},
        "responders": [{"type": "responders", "id": "2"}],
    }))
}

/// `payload` with some attributes replaced.
fn payload_with(t: &Ticket, overrides: Value) -> Map<String, Value> {
    let mut map = payload(t);
    map.extend(attrs(overrides));
    map
}

/// The row a repository returns after writing `content`.
fn row(id: TicketId, requester: ProfileId, content: &TicketContent, at: DateTime<Utc>) -> Ticket {
    let c = content.clone();
    Ticket {
        id,
        requester_id: requester,
        kind: c.kind,
        request_type: c.request_type,
        status: c.status,
        priority: c.priority,
        sensitive: c.sensitive,
        whysensitive: c.whysensitive,
        deadline_at: c.deadline_at,
        created_at: at,
        updated_at: at,
        member_center: c.member_center,
        identifier: c.identifier,
        countries: c.countries,
        tags: c.tags,
        background: c.background,
        first_name: c.first_name,
        last_name: c.last_name,
        born_at: c.born_at,
        connections: c.connections,
        sources: c.sources,
        business_activities: c.business_activities,
        initial_information: c.initial_information,
        company_name: c.company_name,
        country: c.country,
    }
}

fn field_errors(result: Result<impl std::fmt::Debug, DomainError>) -> Vec<FieldError> {
    match result {
        Err(DomainError::Invalid(errors)) => errors,
        other => panic!("expected a validation error, got {other:?}"),
    }
}

fn pointers(errors: &[FieldError]) -> Vec<&str> {
    errors.iter().map(|e| e.pointer.as_str()).collect()
}

// ---- create --------------------------------------------------------------------------------

/// A unit of work expecting exactly one insert by `requester` whose content passes `check`,
/// then the `ticket:create` activity of ticket 42 at "now".
fn expect_create(
    requester: i32,
    check: impl Fn(&TicketContent) -> bool + Send + 'static,
) -> MockUow {
    let mut uow = MockUow::new();
    let mut seq = Sequence::new();
    uow.expect_insert_ticket()
        .withf(move |who, content, when| {
            *who == ProfileId(requester) && *when == now() && check(content)
        })
        .times(1)
        .in_sequence(&mut seq)
        .returning(|who, content, when| Ok(row(TicketId(42), who, content, when)));
    uow.expect_record_activity()
        .with(eq(NewActivity {
            actor: Some(ProfileId(requester)),
            verb: Verb::TicketCreate,
            ticket: TicketId(42),
            action: None,
            at: now(),
        }))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|a| Ok(recorded(a)));
    // The new-ticket notice, exactly once, after the rows it refers to.
    uow.expect_enqueue()
        .with(eq(NewJob::now(Job::TicketCreated {
            ticket: TicketId(42),
        })))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(Some(JobId(1))));
    uow
}

fn expect_no_writes(uow: &mut MockUow) {
    uow.expect_insert_ticket().never();
    uow.expect_update_ticket().never();
    uow.expect_insert_comment().never();
    uow.expect_record_activity().never();
    uow.expect_enqueue().never();
}

#[test]
fn create_makes_the_caller_requester_and_records_ticket_create() {
    let mut uow = expect_create(STRANGER, |c| {
        c.background == "Acme &amp; co"
            && c.kind == TicketKind::PersonOwnership
            && c.first_name.as_deref() == Some("Ana")
            && c.tags == ["x"]
    });
    let body = attrs(json!({
        "background": "<b>Acme</b> & co", "kind": "person_ownership", "first-name": "Ana",
        "tags": ["x"], "requester": {"type": "profiles", "id": "1"}, "country": "", "countries": [],
    }));
    let ticket = create_ticket(&mut uow, &clock(), &plain(STRANGER), &body).unwrap();
    assert_eq!(ticket.id, TicketId(42));
    assert_eq!(ticket.requester_id, ProfileId(STRANGER));
    assert_eq!(ticket.created_at, now());
}

#[test]
fn a_non_superuser_ticket_starts_new_with_default_priority() {
    for actor in [plain(STRANGER), staff(STRANGER)] {
        let mut uow = expect_create(STRANGER, |c| {
            c.status == TicketStatus::New && c.priority == Priority::Default
        });
        let body = attrs(json!({"background": "b", "status": "closed", "priority": "high"}));
        let ticket = create_ticket(&mut uow, &clock(), &actor, &body).unwrap();
        assert_eq!(ticket.status, TicketStatus::New);
    }
}

#[test]
fn a_superuser_chooses_status_and_priority() {
    let mut uow = expect_create(ROOT, |c| {
        c.status == TicketStatus::Closed && c.priority == Priority::High
    });
    let body = attrs(json!({"background": "b", "status": "closed", "priority": "high"}));
    create_ticket(&mut uow, &clock(), &superuser(ROOT), &body).unwrap();

    // Without them, a superuser's ticket gets the defaults too.
    let mut uow = expect_create(ROOT, |c| {
        c.status == TicketStatus::New && c.priority == Priority::Default
    });
    create_ticket(
        &mut uow,
        &clock(),
        &superuser(ROOT),
        &attrs(json!({"background": "b"})),
    )
    .unwrap();
}

#[test]
fn country_is_appended_to_countries_once_and_the_client_order_is_kept() {
    let cases: [(Value, Value, &[&str], Option<&str>); 7] = [
        // TK17: a country not among the countries is appended.
        (
            json!(["RO", "KZ", "UA"]),
            json!("MD"),
            &["RO", "KZ", "UA", "MD"],
            Some("MD"),
        ),
        // Already there: no duplicate.
        (json!(["RO", "MD"]), json!("MD"), &["RO", "MD"], Some("MD")),
        // W33: the client's order, duplicates dropped (first occurrence kept).
        (
            json!(["MD", "RO", "MD", "AL", "RO"]),
            json!("AL"),
            &["MD", "RO", "AL"],
            Some("AL"),
        ),
        // A blank or null country adds nothing.
        (json!(["RO"]), json!(""), &["RO"], Some("")),
        (json!(["RO"]), json!(null), &["RO"], None),
        // W16: a null list is an empty list.
        (json!(null), json!("XK"), &["XK"], Some("XK")),
        (json!([]), json!(null), &[], None),
    ];
    for (countries, country, expected, expected_country) in cases {
        let wanted: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
        let wanted_country = expected_country.map(str::to_string);
        let mut uow = expect_create(STRANGER, move |c| {
            c.countries == wanted && c.country == wanted_country
        });
        let body = attrs(json!({"background": "b", "countries": countries, "country": country}));
        create_ticket(&mut uow, &clock(), &plain(STRANGER), &body)
            .unwrap_or_else(|e| panic!("{body:?}: {e:?}"));
    }
}

#[test]
fn create_without_country_and_countries_is_not_an_error() {
    // W16: the original answered 500 when either attribute was missing.
    let mut uow = expect_create(STRANGER, |c| c.countries.is_empty() && c.country.is_none());
    create_ticket(
        &mut uow,
        &clock(),
        &plain(STRANGER),
        &attrs(json!({"background": "b"})),
    )
    .unwrap();
}

#[test]
fn create_accepts_a_future_deadline() {
    let mut uow = expect_create(STRANGER, |c| c.deadline_at == Some(at(2027, 1, 1, 0, 0, 0)));
    let body = attrs(json!({"background": "b", "deadline-at": "2027-01-01T02:00:00+02:00"}));
    create_ticket(&mut uow, &clock(), &plain(STRANGER), &body).unwrap();
}

#[test]
fn create_refuses_a_past_deadline_and_inserts_nothing() {
    for actor in [plain(STRANGER), superuser(ROOT)] {
        let mut uow = MockUow::new();
        expect_no_writes(&mut uow);
        let body = attrs(json!({"background": "b", "deadline-at": "2026-11-22T05:59:59Z"}));
        let errors = field_errors(create_ticket(&mut uow, &clock(), &actor, &body));
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].pointer, "/data/attributes/deadline-at");
        assert_eq!(errors[0].detail, "The date can not be in the past.");
    }
}

#[test]
fn create_requires_a_background_and_inserts_nothing() {
    let mut uow = MockUow::new();
    expect_no_writes(&mut uow);
    let body = attrs(json!({"kind": "other", "countries": ["RO"], "country": "RO"}));
    let errors = field_errors(create_ticket(&mut uow, &clock(), &plain(STRANGER), &body));
    assert_eq!(pointers(&errors), ["/data/attributes/background"]);
    assert_eq!(errors[0].detail, "This field is required.");

    let mut uow = MockUow::new();
    expect_no_writes(&mut uow);
    let body = attrs(json!({"background": "<p> </p>"}));
    let errors = field_errors(create_ticket(&mut uow, &clock(), &plain(STRANGER), &body));
    assert_eq!(errors[0].detail, "This field may not be blank.");
}

// ---- update --------------------------------------------------------------------------------

/// A unit of work in which `actor` finds T0 (as `ticket`) and stands in `relation` to it.
fn visible(actor: &Actor, ticket: Ticket, relation: TicketRelation) -> MockUow {
    let scope = if actor.is_superuser {
        Scope::Everything
    } else {
        Scope::ParticipantOf(actor.id)
    };
    let mut uow = MockUow::new();
    uow.expect_ticket_for_update()
        .with(eq(scope), eq(T0))
        .times(1)
        .return_once(move |_, _| Ok(Some(ticket)));
    uow.expect_relation()
        .with(eq(T0), eq(actor.id))
        .returning(move |_, _| Ok(relation));
    uow
}

/// Expects the update of T0 with exactly `content` at "now", then the activity `verb`
/// without action object; no comment.
fn expect_update(uow: &mut MockUow, actor: &Actor, content: TicketContent, verb: Verb) {
    let mut seq = Sequence::new();
    uow.expect_update_ticket()
        .withf(move |id, c, when| *id == T0 && *c == content && *when == now())
        .times(1)
        .in_sequence(&mut seq)
        .returning(|id, c, when| Ok(row(id, ProfileId(REQUESTER), c, when)));
    uow.expect_insert_comment().never();
    // A review request is the only job a plain update may enqueue: when it closes the
    // ticket (W18), 60 days later, one pending per ticket.
    uow.expect_enqueue()
        .withf(|j| !matches!(j.job, Job::ReviewRequest { .. }))
        .never();
    uow.expect_enqueue()
        .withf(|j| matches!(j.job, Job::ReviewRequest { .. }))
        .returning(|j| {
            assert_eq!(j.job, Job::ReviewRequest { ticket: T0 });
            assert_eq!(j.run_at, Some(now() + chrono::Duration::days(60)));
            assert_eq!(
                j.idempotency_key.as_deref(),
                Some(&*format!("review-request:{T0}"))
            );
            Ok(Some(JobId(1)))
        });
    uow.expect_record_activity()
        .with(eq(NewActivity {
            actor: Some(actor.id),
            verb,
            ticket: T0,
            action: None,
            at: now(),
        }))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|a| Ok(recorded(a)));
}

fn run_update(
    uow: &mut MockUow,
    actor: &Actor,
    body: &Map<String, Value>,
    full: bool,
) -> Result<TicketUpdate, DomainError> {
    update_ticket(uow, &clock(), actor, T0, body, full)
}

#[test]
fn an_invisible_ticket_is_not_found_and_nothing_is_written() {
    // TK9: an unrelated user PUTs a copied payload.
    let actor = plain(STRANGER);
    let mut uow = MockUow::new();
    uow.expect_ticket_for_update()
        .with(eq(Scope::ParticipantOf(ProfileId(STRANGER))), eq(T0))
        .times(1)
        .returning(|_, _| Ok(None));
    expect_no_writes(&mut uow);
    let body = payload_with(&stored(), json!({"background": "changed"}));
    let result = run_update(&mut uow, &actor, &body, true);
    assert!(matches!(result, Err(DomainError::NotFound)), "{result:?}");

    // Staff without a relation fare no better.
    let mut uow = MockUow::new();
    uow.expect_ticket_for_update()
        .times(1)
        .returning(|_, _| Ok(None));
    expect_no_writes(&mut uow);
    let result = run_update(&mut uow, &staff(STRANGER), &body, true);
    assert!(matches!(result, Err(DomainError::NotFound)), "{result:?}");
}

#[test]
fn a_subscriber_may_not_update_the_ticket() {
    // W6: the original let a subscriber change the status.
    let actor = plain(SUBSCRIBER);
    for body in [
        payload_with(&stored(), json!({"status": "closed"})),
        payload_with(
            &stored(),
            json!({"status": "new", "reopen-reason": "Again"}),
        ),
        attrs(json!({})),
    ] {
        let mut uow = visible(&actor, stored(), subscriber_rel());
        expect_no_writes(&mut uow);
        let result = run_update(&mut uow, &actor, &body, false);
        assert!(matches!(result, Err(DomainError::Forbidden)), "{result:?}");
    }
}

#[test]
fn the_requester_changes_the_status() {
    // TK10: PUT of the copied payload with status `closed`.
    let actor = plain(REQUESTER);
    let mut uow = visible(&actor, stored(), requester_rel());
    let wanted = TicketContent {
        status: TicketStatus::Closed,
        ..stored().content()
    };
    expect_update(
        &mut uow,
        &actor,
        wanted,
        Verb::TicketStatus(TicketStatus::Closed),
    );
    let body = payload_with(&stored(), json!({"status": "closed"}));
    let update = run_update(&mut uow, &actor, &body, true).unwrap();
    assert_eq!(update.ticket.status, TicketStatus::Closed);
    assert_eq!(update.verb.as_wire(), "ticket:update:status_closed");
    assert_eq!(update.previous_status, TicketStatus::New);
    assert_eq!(update.reason_comment, None);
    assert_eq!(update.ticket.updated_at, now());
}

#[test]
fn a_responder_changes_the_status() {
    // TK11.
    let actor = plain(RESPONDER);
    let mut uow = visible(&actor, stored(), responder_rel());
    let wanted = TicketContent {
        status: TicketStatus::InProgress,
        ..stored().content()
    };
    expect_update(
        &mut uow,
        &actor,
        wanted,
        Verb::TicketStatus(TicketStatus::InProgress),
    );
    let body = payload_with(&stored(), json!({"status": "in-progress"}));
    let update = run_update(&mut uow, &actor, &body, false).unwrap();
    assert_eq!(update.verb.as_wire(), "ticket:update:status_in-progress");
}

#[test]
fn without_a_status_the_status_is_unchanged_and_the_verb_is_ticket_update() {
    // W17: no `status_None`, no change; also for non-superusers (W16: no 500).
    let cases = [
        (
            superuser(ROOT),
            TicketRelation::default(),
            json!({"background": "new"}),
        ),
        (plain(REQUESTER), requester_rel(), json!({})),
        (
            plain(RESPONDER),
            responder_rel(),
            json!({"background": "Acme &amp; co"}),
        ),
        // The stored status sent again is no change either.
        (plain(RESPONDER), responder_rel(), json!({"status": "new"})),
    ];
    for (actor, relation, body) in cases {
        let mut uow = visible(&actor, stored(), relation);
        let mut wanted = stored().content();
        if actor.is_superuser {
            wanted.background = "new".into();
        }
        expect_update(&mut uow, &actor, wanted, Verb::TicketUpdate);
        let update = run_update(&mut uow, &actor, &attrs(body), false).unwrap();
        assert_eq!(update.verb.as_wire(), "ticket:update");
        assert_eq!(update.ticket.status, TicketStatus::New);
    }
}

#[test]
fn a_reopen_reason_becomes_a_sanitized_comment_and_the_action_object() {
    // TK13: superuser PATCH with status `in-progress` and a reopen reason.
    let actor = superuser(ROOT);
    let closed = Ticket {
        status: TicketStatus::Closed,
        ..stored()
    };
    let mut uow = visible(&actor, closed.clone(), TicketRelation::default());
    let mut seq = Sequence::new();
    let wanted = TicketContent {
        status: TicketStatus::InProgress,
        ..closed.content()
    };
    uow.expect_update_ticket()
        .withf(move |id, c, when| *id == T0 && *c == wanted && *when == now())
        .times(1)
        .in_sequence(&mut seq)
        .returning(|id, c, when| Ok(row(id, ProfileId(REQUESTER), c, when)));
    uow.expect_insert_comment()
        .withf(|ticket, author, body, when| {
            *ticket == T0
                && *author == ProfileId(ROOT)
                && body == "The reason... ."
                && *when == now()
        })
        .times(1)
        .in_sequence(&mut seq)
        .returning(|ticket, author, body, when| {
            Ok(Comment {
                id: CommentId(500),
                ticket_id: ticket,
                user_id: author,
                body: body.into(),
                created_at: when,
            })
        });
    uow.expect_record_activity()
        .with(eq(NewActivity {
            actor: Some(ProfileId(ROOT)),
            verb: Verb::TicketReopen,
            ticket: T0,
            action: Some(ActionObject::Comment(CommentId(500))),
            at: now(),
        }))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|a| Ok(recorded(a)));
    // W30: the reopen notice names the re-opener.
    uow.expect_enqueue()
        .with(eq(NewJob::now(Job::TicketReopened {
            ticket: T0,
            actor: ProfileId(ROOT),
        })))
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_| Ok(Some(JobId(2))));
    let body = payload_with(
        &closed,
        json!({"status": "in-progress",
               "reopen-reason": "The reason... <a href=\"javascript: alert(Date)\">.</a>"}),
    );
    let update = run_update(&mut uow, &actor, &body, false).unwrap();
    assert_eq!(update.verb.as_wire(), "ticket:update:reopen");
    assert_eq!(update.previous_status, TicketStatus::Closed);
    assert_eq!(update.ticket.status, TicketStatus::InProgress);
    let comment = update.reason_comment.expect("the reason comment");
    assert_eq!(comment.body, "The reason... .");
    assert_eq!(comment.id, CommentId(500));
}

#[test]
fn a_pending_reason_is_recorded_as_ticket_update_pending() {
    // TK16, adapted to W32: the responder sends `whysensitive` unchanged.
    let actor = plain(RESPONDER);
    let mut uow = visible(&actor, stored(), responder_rel());
    let wanted = TicketContent {
        status: TicketStatus::Pending,
        ..stored().content()
    };
    uow.expect_update_ticket()
        .withf(move |id, c, _| *id == T0 && *c == wanted)
        .times(1)
        .returning(|id, c, when| Ok(row(id, ProfileId(REQUESTER), c, when)));
    uow.expect_insert_comment()
        .withf(|ticket, author, body, _| {
            *ticket == T0 && *author == ProfileId(RESPONDER) && body == "The reason..."
        })
        .times(1)
        .returning(|ticket, author, body, when| {
            Ok(Comment {
                id: CommentId(501),
                ticket_id: ticket,
                user_id: author,
                body: body.into(),
                created_at: when,
            })
        });
    uow.expect_record_activity()
        .withf(|a| {
            a.verb == Verb::TicketPending && a.action == Some(ActionObject::Comment(CommentId(501)))
        })
        .times(1)
        .returning(|a| Ok(recorded(a)));
    // Only a reopen notifies.
    uow.expect_enqueue().never();
    let body = payload_with(
        &stored(),
        json!({"status": "pending", "pending-reason": "The reason..."}),
    );
    let update = run_update(&mut uow, &actor, &body, false).unwrap();
    assert_eq!(update.verb.as_wire(), "ticket:update:pending");
    assert_eq!(update.ticket.whysensitive.as_deref(), Some("Because"));
}

#[test]
fn a_responder_changing_whysensitive_gets_a_422_naming_the_field() {
    // TK16 as the original wrote it: the change used to be dropped silently (W32).
    let actor = plain(RESPONDER);
    let mut uow = visible(&actor, stored(), responder_rel());
    expect_no_writes(&mut uow);
    let body = payload_with(
        &stored(),
        json!({"status": "pending", "pending-reason": "The reason...", "whysensitive": "Removed"}),
    );
    let errors = field_errors(run_update(&mut uow, &actor, &body, false));
    assert_eq!(pointers(&errors), ["/data/attributes/whysensitive"]);
    assert_eq!(
        errors[0].detail,
        "Only the status of this ticket can be changed by you."
    );
}

#[test]
fn a_status_only_caller_sees_every_changed_field_sorted_by_pointer() {
    let actor = plain(REQUESTER);
    let mut uow = visible(&actor, stored(), requester_rel());
    expect_no_writes(&mut uow);
    let body = payload_with(
        &stored(),
        json!({"tags": ["a"], "background": "other", "priority": "high", "status": "closed"}),
    );
    let errors = field_errors(run_update(&mut uow, &actor, &body, false));
    assert_eq!(
        pointers(&errors),
        [
            "/data/attributes/background",
            "/data/attributes/priority",
            "/data/attributes/tags"
        ]
    );
}

#[test]
fn a_superuser_may_set_a_past_deadline_together_with_a_status_change() {
    // TK14.
    let actor = superuser(ROOT);
    let mut uow = visible(&actor, stored(), TicketRelation::default());
    let wanted = TicketContent {
        status: TicketStatus::InProgress,
        deadline_at: Some(at(1900, 1, 1, 0, 0, 0)),
        ..stored().content()
    };
    expect_update(
        &mut uow,
        &actor,
        wanted,
        Verb::TicketStatus(TicketStatus::InProgress),
    );
    let body = payload_with(
        &stored(),
        json!({"deadline-at": "1900-01-01T00:00", "status": "in-progress"}),
    );
    let update = run_update(&mut uow, &actor, &body, false).unwrap();
    assert_eq!(update.ticket.deadline_at, Some(at(1900, 1, 1, 0, 0, 0)));
}

#[test]
fn a_past_deadline_without_a_status_change_is_refused() {
    // TK15: a responder, status unchanged.
    let actor = plain(RESPONDER);
    let mut uow = visible(&actor, stored(), responder_rel());
    expect_no_writes(&mut uow);
    let body = payload_with(&stored(), json!({"deadline-at": "1900-01-01T00:00"}));
    let errors = field_errors(run_update(&mut uow, &actor, &body, false));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].pointer, "/data/attributes/deadline-at");
    assert_eq!(errors[0].detail, "The date can not be in the past.");

    // W17: a superuser body without `status` is no status change either.
    let actor = superuser(ROOT);
    let mut uow = visible(&actor, stored(), TicketRelation::default());
    expect_no_writes(&mut uow);
    let body = attrs(json!({"deadline-at": "2026-11-21T00:00:00Z"}));
    let errors = field_errors(run_update(&mut uow, &actor, &body, false));
    assert_eq!(pointers(&errors), ["/data/attributes/deadline-at"]);
}

#[test]
fn an_unchanged_past_deadline_may_be_sent_again() {
    let overdue = Ticket {
        deadline_at: Some(at(2020, 1, 1, 0, 0, 0)),
        ..stored()
    };
    for (actor, relation) in [
        (plain(RESPONDER), responder_rel()),
        (superuser(ROOT), Default::default()),
    ] {
        let mut uow = visible(&actor, overdue.clone(), relation);
        expect_update(&mut uow, &actor, overdue.content(), Verb::TicketUpdate);
        let update = run_update(&mut uow, &actor, &payload(&overdue), true).unwrap();
        assert_eq!(update.ticket.deadline_at, Some(at(2020, 1, 1, 0, 0, 0)));
    }
}

#[test]
fn a_responder_may_send_the_whole_record_in_other_spellings_with_a_new_status() {
    // W32: values equal by meaning (instants, not strings; sets; blank = null) are no change.
    let actor = plain(RESPONDER);
    let mut uow = visible(&actor, stored(), responder_rel());
    let wanted = TicketContent {
        status: TicketStatus::Closed,
        ..stored().content()
    };
    expect_update(
        &mut uow,
        &actor,
        wanted,
        Verb::TicketStatus(TicketStatus::Closed),
    );
    let body = payload_with(
        &stored(),
        json!({
            "status": "closed",
            "deadline-at": "2031-01-02T03:04:05.000Z",
            "born-at": "1980-05-06",
            "created-at": "2026-11-01T12:00:00+02:00",
            "countries": ["IQ", "RO", "MD", "RO"],
            "identifier": "",
            "sources": "",
            "connections": "Zorrilla & Asociados S.C.P",
            "background": "<b>Acme</b> &amp; co",
        }),
    );
    let update = run_update(&mut uow, &actor, &body, true).unwrap();
    assert_eq!(update.ticket.status, TicketStatus::Closed);
    assert_eq!(update.ticket.countries, ["RO", "MD", "IQ"]);
}

#[test]
fn a_superuser_patch_changes_what_is_sent_and_keeps_the_rest() {
    // W19/W20 and TK12.
    let actor = superuser(ROOT);
    let mut uow = visible(&actor, stored(), TicketRelation::default());
    let wanted = TicketContent {
        background: "new-background".into(),
        priority: Priority::High,
        whysensitive: None,
        sensitive: false,
        kind: TicketKind::Other,
        tags: vec![],
        countries: vec!["AL".into(), "RO".into()],
        deadline_at: None,
        company_name: Some("Zorrilla &amp; Asociados".into()),
        ..stored().content()
    };
    expect_update(&mut uow, &actor, wanted, Verb::TicketUpdate);
    let body = attrs(json!({
        "background": "new-background", "priority": "high", "whysensitive": null,
        "sensitive": "no", "kind": "other", "tags": null, "countries": ["AL", "RO", "AL"],
        "deadline-at": null, "company-name": "Zorrilla & Asociados",
        // `country` is not appended to `countries` on update.
    }));
    let update = run_update(&mut uow, &actor, &body, false).unwrap();
    assert_eq!(update.ticket.background, "new-background");
    assert_eq!(update.ticket.first_name.as_deref(), Some("Ana"));
    assert_eq!(update.ticket.country.as_deref(), Some("IQ"));
}

#[test]
fn a_put_without_background_is_refused_and_nothing_is_written() {
    for (actor, relation) in [
        (superuser(ROOT), TicketRelation::default()),
        (plain(REQUESTER), requester_rel()),
    ] {
        let mut uow = visible(&actor, stored(), relation);
        expect_no_writes(&mut uow);
        let mut body = payload_with(&stored(), json!({"status": "closed"}));
        body.remove("background");
        let errors = field_errors(run_update(&mut uow, &actor, &body, true));
        assert_eq!(pointers(&errors), ["/data/attributes/background"]);
        assert_eq!(errors[0].detail, "This field is required.");
    }
}

#[test]
fn stored_sub_seconds_are_no_change_when_the_client_sends_back_whole_seconds() {
    // §1.0: storage keeps microseconds, the API renders whole seconds; W32: the client
    // sends back what it was shown, which must count as unchanged.
    let precise = Ticket {
        deadline_at: Some(at(2031, 1, 2, 3, 4, 5) + chrono::Duration::microseconds(663_078)),
        born_at: Some(at(1980, 5, 6, 0, 0, 0) + chrono::Duration::microseconds(1)),
        ..stored()
    };
    let actor = plain(RESPONDER);
    let mut uow = visible(&actor, precise.clone(), responder_rel());
    let wanted = TicketContent {
        status: TicketStatus::Closed,
        ..precise.content()
    };
    expect_update(
        &mut uow,
        &actor,
        wanted,
        Verb::TicketStatus(TicketStatus::Closed),
    );
    let body = payload_with(&precise, json!({"status": "closed"}));
    assert_eq!(body["deadline-at"], json!("2031-01-02T03:04:05Z"));
    run_update(&mut uow, &actor, &body, false).unwrap();

    // The same for an overdue deadline re-sent without a status change (§4.4).
    let overdue = Ticket {
        deadline_at: Some(at(2020, 1, 1, 0, 0, 0) + chrono::Duration::milliseconds(500)),
        ..stored()
    };
    let actor = superuser(ROOT);
    let mut uow = visible(&actor, overdue.clone(), TicketRelation::default());
    uow.expect_update_ticket()
        .withf(|_, c, _| {
            c.deadline_at.map(|d| d.timestamp()) == Some(at(2020, 1, 1, 0, 0, 0).timestamp())
        })
        .times(1)
        .returning(|id, c, when| Ok(row(id, ProfileId(REQUESTER), c, when)));
    uow.expect_record_activity()
        .times(1)
        .returning(|a| Ok(recorded(a)));
    run_update(&mut uow, &actor, &payload(&overdue), true).unwrap();
}

// ---- the people of a ticket document --------------------------------------------------------

/// T0's links: 8 responds, 9 follows, and a bare e-mail follows too.
fn t0_links() -> TicketLinks {
    TicketLinks {
        responders: vec![Responder {
            id: ResponderId(1),
            ticket_id: T0,
            user_id: ProfileId(RESPONDER),
            created_at: now(),
        }],
        subscribers: vec![
            Subscriber {
                id: SubscriberId(1),
                ticket_id: T0,
                user_id: Some(ProfileId(SUBSCRIBER)),
                email: None,
                created_at: now(),
            },
            Subscriber {
                id: SubscriberId(2),
                ticket_id: T0,
                user_id: None,
                email: Some("outside@example.org".into()),
                created_at: now(),
            },
        ],
    }
}

/// The profiles read for a graph: its ticket users always, the requester only when asked
/// (an `include=requester`); one look-up each for links and profiles.
#[test]
fn ticket_graph_reads_the_requester_only_when_wanted() {
    use desk_domain::usecases::tickets::{ticket_graph, GraphProfiles};
    for (wanted, expected) in [
        (
            GraphProfiles::TicketUsers,
            vec![ProfileId(RESPONDER), ProfileId(SUBSCRIBER)],
        ),
        (
            GraphProfiles::TicketUsersAndRequesters,
            vec![
                ProfileId(REQUESTER),
                ProfileId(RESPONDER),
                ProfileId(SUBSCRIBER),
            ],
        ),
    ] {
        let mut uow = MockUow::new();
        uow.expect_ticket_links()
            .with(eq(vec![T0]))
            .times(1)
            .returning(|_| Ok(t0_links()));
        uow.expect_profile_views()
            .with(eq(expected.clone()))
            .times(1)
            .returning(|ids| Ok(ids.iter().map(|id| view(profile(id.0))).collect()));
        let graph = ticket_graph(&mut uow, &[stored()], wanted).unwrap();
        let mut read: Vec<ProfileId> = graph.profiles.keys().copied().collect();
        read.sort();
        assert_eq!(read, expected, "{wanted:?}");
        assert_eq!(
            graph.ticket_users(T0),
            vec![ProfileId(RESPONDER), ProfileId(SUBSCRIBER)]
        );
    }
}

/// No tickets, no look-ups.
#[test]
fn an_empty_page_has_an_empty_graph() {
    use desk_domain::usecases::tickets::{ticket_graph, GraphProfiles};
    let mut uow = MockUow::new();
    let graph = ticket_graph(&mut uow, &[], GraphProfiles::TicketUsersAndRequesters).unwrap();
    assert!(graph.profiles.is_empty() && graph.links.responders.is_empty());
}
