//! Responders (contract §3.5, §4.3, CLIENT §6.12): superusers assign researchers; a responder
//! may step down.

use super::collaboration::{found, page_of, profile_link, ticket_link, Link, Listed};
use crate::activity::{ActionObject, NewActivity, Verb};
use crate::error::{DomainError, DomainResult, FieldError};
use crate::jobs::{Job, NewJob};
use crate::listing::Params;
use crate::model::*;
use crate::policy::{self, Actor};
use crate::ports::{Clock, CollaborationWork, RowFilter, RowOrder};

pub const FILTERS: &[&str] = &["id"];

pub const SUBSCRIBER_EXISTS: &str = "Subscriber already exists.";
pub const USER_IS_RESPONDER: &str = "User is a responder.";
pub const EMAIL_SUBSCRIBED: &str = "Email already subscribed.";

/// The §4.3 uniqueness error: every failing rule's message under one pointer.
pub fn uniqueness_error(messages: &[&str]) -> DomainError {
    let about_email = messages.contains(&EMAIL_SUBSCRIBED);
    DomainError::invalid(
        messages
            .iter()
            .map(|&m| {
                if about_email {
                    FieldError::attribute("email", m, "unique")
                } else {
                    FieldError::relationship("user", m, "unique")
                }
            })
            .collect(),
    )
}

pub fn list_responders(
    uow: &mut impl CollaborationWork,
    actor: &Actor,
    params: &Params,
) -> DomainResult<Listed<Responder>> {
    let scope = policy::ticket_scope(actor);
    let filter = RowFilter::from_params(params, FILTERS);
    let page = page_of(params, uow.count_responders(scope, &filter)?)?;
    let rows = uow.list_responders(scope, &filter, RowOrder::from_params(params), page)?;
    Ok(Listed { rows, page })
}

pub fn get_responder(
    uow: &mut impl CollaborationWork,
    actor: &Actor,
    id: ResponderId,
) -> DomainResult<Responder> {
    found(uow.responder(policy::ticket_scope(actor), id)?)
}

/// What an assignment did (the notice job needs the activity).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub responder: Responder,
    pub activity: ActivityId,
}

/// Assigns `user` to `ticket`: validation (existence, §4.3) first, then the policy (422T for
/// non-superusers). The ticket moves to `in-progress` whatever its status, without a
/// `ticket:update` activity; `responder:create` names the responder's profile.
pub fn add_responder(
    uow: &mut impl CollaborationWork,
    clock: &dyn Clock,
    actor: &Actor,
    ticket: &Link,
    user: &Link,
) -> DomainResult<Assignment> {
    let mut errors = Vec::new();
    let ticket = ticket_link(uow, ticket, &mut errors)?;
    let user = profile_link(uow, "user", user, &mut errors)?;
    let (Some(ticket), Some(user), true) = (ticket, user, errors.is_empty()) else {
        return Err(DomainError::invalid(errors));
    };
    let relation = uow.relation(ticket.id, user.id)?;
    let mut duplicate = Vec::new();
    if relation.subscriber {
        duplicate.push(SUBSCRIBER_EXISTS);
    }
    if relation.responder {
        duplicate.push(USER_IS_RESPONDER);
    }
    if !duplicate.is_empty() {
        return Err(uniqueness_error(&duplicate));
    }
    policy::may_add_responder(actor)?;
    let now = clock.now();
    let responder = uow
        .insert_responder(ticket.id, user.id, now)?
        .ok_or_else(|| uniqueness_error(&[USER_IS_RESPONDER]))?;
    uow.set_ticket_status(ticket.id, TicketStatus::InProgress)?;
    let activity = uow.record_activity(&NewActivity {
        actor: Some(actor.id),
        verb: Verb::ResponderCreate,
        ticket: ticket.id,
        action: Some(ActionObject::Profile(user.id)),
        at: now,
    })?;
    uow.enqueue(&NewJob::now(Job::ResponderAdded {
        ticket: ticket.id,
        responder: user.id,
    }))?;
    Ok(Assignment {
        responder,
        activity: activity.id,
    })
}

/// Removes a responder: 404 outside the visible set or unless the policy allows it.
pub fn remove_responder(
    uow: &mut impl CollaborationWork,
    clock: &dyn Clock,
    actor: &Actor,
    id: ResponderId,
) -> DomainResult<()> {
    let responder = found(uow.responder(policy::ticket_scope(actor), id)?)?;
    let relation = uow.relation(responder.ticket_id, actor.id)?;
    policy::may_remove_responder(actor, relation, responder.user_id)?;
    uow.delete_responder(id)?;
    uow.record_activity(&NewActivity {
        actor: Some(actor.id),
        verb: Verb::ResponderDestroy,
        ticket: responder.ticket_id,
        action: Some(ActionObject::Profile(responder.user_id)),
        at: clock.now(),
    })?;
    Ok(())
}
