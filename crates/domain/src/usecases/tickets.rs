//! Ticket use cases: list, read, create, update (contract §3.1, §4.4; decisions W6, W7, W16,
//! W17, W19, W20, W32, W33).

use crate::activity::{ActionObject, NewActivity, Verb};
use crate::error::{DomainError, DomainResult, FieldError};
use crate::forms::TicketForm;
use crate::jobs::{Job, NewJob};
use crate::listing::{ticket_sort, PageRequest, PageSlice, Params, StatusTotals, TicketFilter};
use crate::model::*;
use crate::policy::{self, Actor, TicketRights};
use crate::ports::{Clock, TicketLinks, TicketPage, UnitOfWork};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashMap};

/// A page of the ticket list and its meta.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketList {
    pub tickets: Vec<Ticket>,
    pub page: PageSlice,
    pub totals: StatusTotals,
    /// Labels of the requester/responder filter chips (superusers only).
    pub requester_label: Option<Profile>,
    pub responder_label: Option<Profile>,
}

pub fn list_tickets(
    uow: &mut impl UnitOfWork,
    actor: &Actor,
    params: &Params,
) -> DomainResult<TicketList> {
    let scope = policy::ticket_scope(actor);
    let filter = TicketFilter::from_params(params);
    let sort = ticket_sort(params);
    let TicketPage {
        totals,
        page,
        tickets,
    } = uow.ticket_page(scope, &filter, &sort, PageRequest::from_params(params))?;
    let (requester_label, responder_label) = if policy::sees_filter_labels(actor) {
        (
            filter
                .requester
                .map(|id| uow.profile(id))
                .transpose()?
                .flatten(),
            filter
                .responder
                .map(|id| uow.profile(id))
                .transpose()?
                .flatten(),
        )
    } else {
        (None, None)
    };
    Ok(TicketList {
        tickets,
        page,
        totals,
        requester_label,
        responder_label,
    })
}

/// `meta.total` of single-ticket responses: the caller's whole visible set.
pub fn visible_totals(uow: &mut impl UnitOfWork, actor: &Actor) -> DomainResult<StatusTotals> {
    uow.status_totals(policy::ticket_scope(actor), &TicketFilter::default())
}

pub fn get_ticket(uow: &mut impl UnitOfWork, actor: &Actor, id: TicketId) -> DomainResult<Ticket> {
    uow.ticket(policy::ticket_scope(actor), id)?
        .ok_or(DomainError::NotFound)
}

/// The people and rows a ticket document shows: responder/subscriber rows, every profile
/// they name and, when wanted ([`GraphProfiles`]), the requesters'. A fixed number of
/// queries whatever the number of tickets.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TicketGraph {
    pub links: TicketLinks,
    pub profiles: HashMap<ProfileId, ProfileView>,
}

impl TicketGraph {
    pub fn responders_of(&self, ticket: TicketId) -> impl Iterator<Item = &Responder> {
        self.links
            .responders
            .iter()
            .filter(move |r| r.ticket_id == ticket)
    }
    pub fn subscribers_of(&self, ticket: TicketId) -> impl Iterator<Item = &Subscriber> {
        self.links
            .subscribers
            .iter()
            .filter(move |s| s.ticket_id == ticket)
    }
    /// The ticket users (§1.2): distinct responder and user-subscriber profiles.
    pub fn ticket_users(&self, ticket: TicketId) -> Vec<ProfileId> {
        let mut ids = BTreeSet::new();
        ids.extend(self.responders_of(ticket).map(|r| r.user_id));
        ids.extend(self.subscribers_of(ticket).filter_map(|s| s.user_id));
        ids.into_iter().collect()
    }
}

/// Whose profiles [`ticket_graph`] reads. Every ticket resource shows its ticket users
/// (§1.2) nested in `attributes.users`; the requesters' profiles only appear when a document
/// includes them (the relationship itself is the ticket's `requester_id`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphProfiles {
    TicketUsers,
    TicketUsersAndRequesters,
}

pub fn ticket_graph(
    uow: &mut impl UnitOfWork,
    tickets: &[Ticket],
    wanted: GraphProfiles,
) -> DomainResult<TicketGraph> {
    if tickets.is_empty() {
        return Ok(TicketGraph::default());
    }
    let ids: Vec<TicketId> = tickets.iter().map(|t| t.id).collect();
    let links = uow.ticket_links(&ids)?;
    let mut people = BTreeSet::new();
    if wanted == GraphProfiles::TicketUsersAndRequesters {
        people.extend(tickets.iter().map(|t| t.requester_id));
    }
    people.extend(links.responders.iter().map(|r| r.user_id));
    people.extend(links.subscribers.iter().filter_map(|s| s.user_id));
    let people: Vec<ProfileId> = people.into_iter().collect();
    let profiles = uow
        .profile_views(&people)?
        .into_iter()
        .map(|v| (v.profile.id, v))
        .collect();
    Ok(TicketGraph { links, profiles })
}

fn into_invalid(errors: Vec<FieldError>) -> DomainError {
    DomainError::invalid(errors)
}

fn past_deadline() -> FieldError {
    FieldError::attribute("deadline-at", "The date can not be in the past.", "invalid")
}

/// Creates a ticket requested by the caller, with its `ticket:create` activity.
pub fn create_ticket(
    uow: &mut impl UnitOfWork,
    clock: &dyn Clock,
    actor: &Actor,
    attributes: &Map<String, Value>,
) -> DomainResult<Ticket> {
    let now = clock.now();
    let form = TicketForm::parse(attributes, true).map_err(into_invalid)?;
    if let Some(Some(deadline)) = form.deadline_at {
        if deadline < now {
            return Err(DomainError::one(past_deadline()));
        }
    }
    let superuser = policy::may_set_initial_status(actor);
    let mut countries = form.countries.unwrap_or_default();
    let country = form.country.flatten();
    if let Some(c) = country.as_deref().filter(|c| !c.is_empty()) {
        if !countries.iter().any(|x| x == c) {
            countries.push(c.to_string());
        }
    }
    let content = TicketContent {
        kind: form.kind.unwrap_or_default(),
        request_type: form.request_type.unwrap_or_default(),
        status: if superuser {
            form.status.unwrap_or_default()
        } else {
            TicketStatus::New
        },
        priority: if superuser {
            form.priority.unwrap_or_default()
        } else {
            Priority::Default
        },
        sensitive: form.sensitive.unwrap_or(false),
        whysensitive: form.whysensitive.flatten(),
        deadline_at: form.deadline_at.flatten(),
        member_center: form.member_center.flatten(),
        identifier: form.identifier.flatten(),
        countries,
        tags: form.tags.unwrap_or_default(),
        background: form.background.unwrap_or_default(),
        first_name: form.first_name.flatten(),
        last_name: form.last_name.flatten(),
        born_at: form.born_at.flatten(),
        connections: form.connections.flatten(),
        sources: form.sources.flatten(),
        business_activities: form.business_activities.flatten(),
        initial_information: form.initial_information.flatten(),
        company_name: form.company_name.flatten(),
        country,
    };
    let ticket = uow.insert_ticket(actor.id, &content, now)?;
    uow.record_activity(&NewActivity {
        actor: Some(actor.id),
        verb: Verb::TicketCreate,
        ticket: ticket.id,
        action: None,
        at: now,
    })?;
    // Same transaction: no ticket without its notice, no notice for a rolled-back ticket.
    uow.enqueue(&NewJob::now(Job::TicketCreated { ticket: ticket.id }))?;
    Ok(ticket)
}

/// The content after applying the form: absent attributes keep their stored value (W19).
fn apply(form: &TicketForm, current: &TicketContent) -> TicketContent {
    fn pick<T: Clone>(new: &Option<T>, old: &T) -> T {
        new.clone().unwrap_or_else(|| old.clone())
    }
    TicketContent {
        kind: pick(&form.kind, &current.kind),
        request_type: pick(&form.request_type, &current.request_type),
        status: pick(&form.status, &current.status),
        priority: pick(&form.priority, &current.priority),
        sensitive: pick(&form.sensitive, &current.sensitive),
        whysensitive: pick(&form.whysensitive, &current.whysensitive),
        deadline_at: pick(&form.deadline_at, &current.deadline_at),
        member_center: pick(&form.member_center, &current.member_center),
        identifier: pick(&form.identifier, &current.identifier),
        countries: pick(&form.countries, &current.countries),
        tags: pick(&form.tags, &current.tags),
        background: pick(&form.background, &current.background),
        first_name: pick(&form.first_name, &current.first_name),
        last_name: pick(&form.last_name, &current.last_name),
        born_at: pick(&form.born_at, &current.born_at),
        connections: pick(&form.connections, &current.connections),
        sources: pick(&form.sources, &current.sources),
        business_activities: pick(&form.business_activities, &current.business_activities),
        initial_information: pick(&form.initial_information, &current.initial_information),
        company_name: pick(&form.company_name, &current.company_name),
        country: pick(&form.country, &current.country),
    }
}

/// Whether two datetimes are the same value as the API shows them: responses render whole
/// seconds (§1.0) while storage keeps microseconds, and the client sends back what it was
/// shown (W32).
fn same_instant(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> bool {
    a.map(|t| t.timestamp()) == b.map(|t| t.timestamp())
}

/// Attributes whose value (compared by meaning) differs from the stored one, other than
/// `status`: what a status-only caller may not touch (W32).
fn changed_besides_status(proposed: &TicketContent, current: &TicketContent) -> Vec<&'static str> {
    let same_set = |a: &[String], b: &[String]| {
        a.iter().collect::<BTreeSet<_>>() == b.iter().collect::<BTreeSet<_>>()
    };
    let blank_is_null = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
    let mut changed = Vec::new();
    let mut check = |differs: bool, name: &'static str| {
        if differs {
            changed.push(name)
        }
    };
    check(proposed.kind != current.kind, "kind");
    check(
        proposed.request_type != current.request_type,
        "request-type",
    );
    check(proposed.priority != current.priority, "priority");
    check(proposed.sensitive != current.sensitive, "sensitive");
    check(
        blank_is_null(&proposed.whysensitive) != blank_is_null(&current.whysensitive),
        "whysensitive",
    );
    check(
        !same_instant(proposed.deadline_at, current.deadline_at),
        "deadline-at",
    );
    check(
        proposed.member_center != current.member_center,
        "member-center",
    );
    check(
        blank_is_null(&proposed.identifier) != blank_is_null(&current.identifier),
        "identifier",
    );
    check(
        !same_set(&proposed.countries, &current.countries),
        "countries",
    );
    check(!same_set(&proposed.tags, &current.tags), "tags");
    check(proposed.background != current.background, "background");
    check(
        blank_is_null(&proposed.first_name) != blank_is_null(&current.first_name),
        "first-name",
    );
    check(
        blank_is_null(&proposed.last_name) != blank_is_null(&current.last_name),
        "last-name",
    );
    check(!same_instant(proposed.born_at, current.born_at), "born-at");
    check(
        blank_is_null(&proposed.connections) != blank_is_null(&current.connections),
        "connections",
    );
    check(
        blank_is_null(&proposed.sources) != blank_is_null(&current.sources),
        "sources",
    );
    check(
        blank_is_null(&proposed.business_activities) != blank_is_null(&current.business_activities),
        "business-activities",
    );
    check(
        blank_is_null(&proposed.initial_information) != blank_is_null(&current.initial_information),
        "initial-information",
    );
    check(
        blank_is_null(&proposed.company_name) != blank_is_null(&current.company_name),
        "company-name",
    );
    check(
        blank_is_null(&proposed.country) != blank_is_null(&current.country),
        "country",
    );
    changed
}

/// What an update did, for the caller (and, later, for the jobs it enqueues).
#[derive(Debug, Clone, PartialEq)]
pub struct TicketUpdate {
    pub ticket: Ticket,
    pub verb: Verb,
    pub previous_status: TicketStatus,
    pub reason_comment: Option<Comment>,
}

/// Updates a ticket. `full` = PUT (background required); PATCH otherwise.
pub fn update_ticket(
    uow: &mut impl UnitOfWork,
    clock: &dyn Clock,
    actor: &Actor,
    id: TicketId,
    attributes: &Map<String, Value>,
    full: bool,
) -> DomainResult<TicketUpdate> {
    let now = clock.now();
    let scope = policy::ticket_scope(actor);
    let stored = uow
        .ticket_for_update(scope, id)?
        .ok_or(DomainError::NotFound)?;
    let relation = uow.relation(id, actor.id)?;
    let rights = policy::ticket_update_rights(actor, relation)?;
    let form = TicketForm::parse(attributes, full).map_err(into_invalid)?;

    let current = stored.content();
    // W17: an absent status means "unchanged".
    let status_changed = form.status.is_some_and(|s| s != current.status);
    let mut errors = Vec::new();
    if let Some(Some(deadline)) = form.deadline_at {
        let deadline_changed = !same_instant(current.deadline_at, Some(deadline));
        if !status_changed && deadline_changed && deadline < now {
            errors.push(past_deadline());
        }
    }
    let mut proposed = apply(&form, &current);
    if rights == TicketRights::StatusOnly {
        for name in changed_besides_status(&proposed, &current) {
            if !errors
                .iter()
                .any(|e| e.pointer.ends_with(&format!("/{name}")))
            {
                errors.push(FieldError::attribute(
                    name,
                    "Only the status of this ticket can be changed by you.",
                    "read_only",
                ));
            }
        }
        proposed = TicketContent {
            status: proposed.status,
            ..current.clone()
        };
    }
    if !errors.is_empty() {
        return Err(DomainError::invalid(errors));
    }

    let mut verb = if status_changed {
        Verb::TicketStatus(proposed.status)
    } else {
        Verb::TicketUpdate
    };
    let reason = match (&form.reopen_reason, &form.pending_reason) {
        (Some(reopen), _) => {
            verb = Verb::TicketReopen;
            Some(reopen.clone())
        }
        (None, Some(pending)) => {
            verb = Verb::TicketPending;
            Some(pending.clone())
        }
        (None, None) => None,
    };
    let ticket = uow.update_ticket(id, &proposed, now)?;
    // The reason becomes a comment of the caller, without its own activity (§3.1 step 7).
    let reason_comment = match reason {
        Some(body) => Some(uow.insert_comment(id, actor.id, &body, now)?),
        None => None,
    };
    uow.record_activity(&NewActivity {
        actor: Some(actor.id),
        verb,
        ticket: id,
        action: reason_comment.as_ref().map(|c| ActionObject::Comment(c.id)),
        at: now,
    })?;
    if verb == Verb::TicketReopen {
        uow.enqueue(&NewJob::now(Job::TicketReopened {
            ticket: id,
            actor: actor.id,
        }))?;
    }
    // W18: only a transition into `closed` asks for a review, at most one pending per ticket.
    if proposed.status == TicketStatus::Closed && current.status != TicketStatus::Closed {
        uow.enqueue(
            &NewJob::now(Job::ReviewRequest { ticket: id })
                .at(now + chrono::Duration::days(super::reviews::REQUEST_DELAY_DAYS))
                .key(super::reviews::request_key(id)),
        )?;
    }
    // `updated_at` moved with the activity; return the row as stored.
    let ticket = Ticket {
        updated_at: now,
        ..ticket
    };
    Ok(TicketUpdate {
        ticket,
        verb,
        previous_status: current.status,
        reason_comment,
    })
}
