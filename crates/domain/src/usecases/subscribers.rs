//! Subscribers (contract §3.6, §4.3, §7.3, CLIENT §6.13; W6, W15): people following a ticket,
//! by profile or by a bare e-mail address of somebody without an account.

use super::collaboration::{found, page_of, ticket_link, Link, Listed};
use super::responders::{uniqueness_error, EMAIL_SUBSCRIBED, SUBSCRIBER_EXISTS, USER_IS_RESPONDER};
use crate::activity::{ActionObject, NewActivity, Verb};
use crate::error::{DomainError, DomainResult, FieldError};
use crate::forms::{Attributes, Text};
use crate::jobs::{Job, NewJob};
use crate::listing::Params;
use crate::model::*;
use crate::policy::{self, Actor};
use crate::ports::{
    ActivityRepository, Clock, CollaborationWork, RowFilter, RowOrder, SubscriptionClaims,
};
use crate::text::is_valid_email;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

pub const FILTERS: &[&str] = &["id"];

/// W15: the requester follows their ticket anyway; a subscription would duplicate notices.
pub const REQUESTER_CANNOT_SUBSCRIBE: &str =
    "The requester of a ticket is informed about it already and cannot subscribe to it.";

pub fn list_subscribers(
    uow: &mut impl CollaborationWork,
    actor: &Actor,
    params: &Params,
) -> DomainResult<Listed<Subscriber>> {
    let scope = policy::ticket_scope(actor);
    let filter = RowFilter::from_params(params, FILTERS);
    let page = page_of(params, uow.count_subscribers(scope, &filter)?)?;
    let rows = uow.list_subscribers(scope, &filter, RowOrder::from_params(params), page)?;
    Ok(Listed { rows, page })
}

pub fn get_subscriber(
    uow: &mut impl CollaborationWork,
    actor: &Actor,
    id: SubscriberId,
) -> DomainResult<Subscriber> {
    found(uow.subscriber(policy::ticket_scope(actor), id)?)
}

/// What a subscription did (the notice job needs the activity and the row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub subscriber: Subscriber,
    pub activity: ActivityId,
}

/// Subscribes `attributes.email` to the ticket: an address of an existing profile
/// (case-insensitive, W15) subscribes that profile, any other valid address is kept as is.
/// Any `user` the client sends is ignored. Validation and §4.3 first, then the policy (W6).
pub fn add_subscriber(
    uow: &mut impl CollaborationWork,
    clock: &dyn Clock,
    actor: &Actor,
    attributes: &Map<String, Value>,
    ticket: &Link,
) -> DomainResult<Subscription> {
    let mut a = Attributes::new(attributes);
    let email = a
        .text("email", Text::plain(512).required())
        .flatten()
        .map(|e| e.trim().to_string());
    if !a.has("email") {
        a.errors.push(FieldError::required("email"));
    }
    let mut errors = a.errors;
    let ticket = ticket_link(uow, ticket, &mut errors)?;
    let (Some(email), Some(ticket), true) = (email, ticket, errors.is_empty()) else {
        return Err(DomainError::invalid(errors));
    };
    let user = uow.profile_by_email(&email)?;
    let mut duplicate = Vec::new();
    match &user {
        Some(profile) => {
            let relation = uow.relation(ticket.id, profile.id)?;
            if relation.subscriber {
                duplicate.push(SUBSCRIBER_EXISTS);
            }
            if relation.responder {
                duplicate.push(USER_IS_RESPONDER);
            }
        }
        None => {
            if !is_valid_email(&email) {
                return Err(DomainError::one(FieldError::attribute(
                    "email",
                    "Enter a valid email address.",
                    "invalid",
                )));
            }
            if uow.email_subscribed(ticket.id, &email)? {
                duplicate.push(EMAIL_SUBSCRIBED);
            }
        }
    }
    if !duplicate.is_empty() {
        return Err(uniqueness_error(&duplicate));
    }
    if user.as_ref().is_some_and(|p| p.id == ticket.requester_id) {
        return Err(DomainError::one(FieldError::attribute(
            "email",
            REQUESTER_CANNOT_SUBSCRIBE,
            "invalid",
        )));
    }
    let relation = uow.relation(ticket.id, actor.id)?;
    policy::may_add_subscriber(actor, relation)?;
    let now = clock.now();
    let user_id = user.as_ref().map(|p| p.id);
    let stored_email = if user.is_some() { None } else { Some(email) };
    let subscriber = uow
        .insert_subscriber(ticket.id, user_id, stored_email.as_deref(), now)?
        .ok_or_else(|| {
            uniqueness_error(&[if user_id.is_some() {
                SUBSCRIBER_EXISTS
            } else {
                EMAIL_SUBSCRIBED
            }])
        })?;
    let activity = uow.record_activity(&NewActivity {
        actor: Some(actor.id),
        verb: Verb::SubscriberCreate,
        ticket: ticket.id,
        action: user_id.map(ActionObject::Profile),
        at: now,
    })?;
    uow.enqueue(&NewJob::now(Job::SubscriberAdded {
        ticket: ticket.id,
        subscriber: subscriber.id,
        actor: actor.id,
    }))?;
    Ok(Subscription {
        subscriber,
        activity: activity.id,
    })
}

/// Ends a subscription: 404 outside the visible set or unless the policy allows it (W6).
pub fn remove_subscriber(
    uow: &mut impl CollaborationWork,
    clock: &dyn Clock,
    actor: &Actor,
    id: SubscriberId,
) -> DomainResult<()> {
    let subscriber = found(uow.subscriber(policy::ticket_scope(actor), id)?)?;
    let relation = uow.relation(subscriber.ticket_id, actor.id)?;
    policy::may_remove_subscriber(actor, relation, subscriber.user_id)?;
    uow.delete_subscriber(id)?;
    uow.record_activity(&NewActivity {
        actor: Some(actor.id),
        verb: Verb::SubscriberDestroy,
        ticket: subscriber.ticket_id,
        action: subscriber.user_id.map(ActionObject::Profile),
        at: clock.now(),
    })?;
    Ok(())
}

/// At a person's first sign-in with a verified address (§7.3): their bare e-mail
/// subscriptions become theirs, each with a `subscriber:update:joined` activity.
pub fn claim_subscriptions<U>(
    uow: &mut U,
    profile: ProfileId,
    verified_email: &str,
    at: DateTime<Utc>,
) -> DomainResult<Vec<Subscriber>>
where
    U: SubscriptionClaims + ActivityRepository,
{
    let claimed = uow.claim_email_subscriptions(profile, verified_email)?;
    for s in &claimed {
        uow.record_activity(&NewActivity {
            actor: Some(profile),
            verb: Verb::SubscriberJoined,
            ticket: s.ticket_id,
            action: Some(ActionObject::Profile(profile)),
            at,
        })?;
    }
    Ok(claimed)
}
