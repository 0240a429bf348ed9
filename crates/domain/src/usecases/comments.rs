//! Comments (contract §3.2, CLIENT §6.10; W26): list, read, create.

use super::collaboration::{found, page_of, ticket_link_with_relation, Link, Listed};
use crate::activity::{ActionObject, NewActivity, Verb};
use crate::error::{DomainError, DomainResult};
use crate::forms::{Attributes, Text, MAX_TEXT_CHARS};
use crate::jobs::{Job, NewJob};
use crate::listing::Params;
use crate::model::*;
use crate::policy::{self, Actor};
use crate::ports::{Clock, CollaborationWork, RowFilter, RowOrder};
use serde_json::{Map, Value};

/// Filters the comment list accepts: `filter[id]`, and `filter[ticket]` (W26).
pub const FILTERS: &[&str] = &["id", "ticket"];

pub fn list_comments(
    uow: &mut impl CollaborationWork,
    actor: &Actor,
    params: &Params,
) -> DomainResult<Listed<Comment>> {
    let scope = policy::ticket_scope(actor);
    let filter = RowFilter::from_params(params, FILTERS);
    let page = page_of(params, uow.count_comments(scope, &filter)?)?;
    let rows = uow.list_comments(scope, &filter, RowOrder::from_params(params), page)?;
    Ok(Listed { rows, page })
}

pub fn get_comment(
    uow: &mut impl CollaborationWork,
    actor: &Actor,
    id: CommentId,
) -> DomainResult<Comment> {
    found(uow.comment(policy::ticket_scope(actor), id)?)
}

/// Creates a comment of the caller: body validated first, then the ticket (422T when the
/// caller may not contribute), then the row and its `comment:create` activity, which also
/// bumps the ticket's `updated_at`.
pub fn create_comment(
    uow: &mut impl CollaborationWork,
    clock: &dyn Clock,
    actor: &Actor,
    attributes: &Map<String, Value>,
    ticket: &Link,
) -> DomainResult<Comment> {
    let mut a = Attributes::new(attributes);
    let body = a
        .text("body", Text::sanitized(MAX_TEXT_CHARS).required())
        .flatten();
    if !a.has("body") {
        a.errors.push(crate::error::FieldError::required("body"));
    }
    let mut errors = a.errors;
    let ticket = ticket_link_with_relation(uow, ticket, actor, &mut errors)?;
    let (Some(body), Some((ticket, relation)), true) = (body, ticket, errors.is_empty()) else {
        return Err(DomainError::invalid(errors));
    };
    policy::may_contribute(actor, relation)?;
    let now = clock.now();
    let comment = uow.insert_comment(ticket.id, actor.id, &body, now)?;
    uow.record_activity(&NewActivity {
        actor: Some(actor.id),
        verb: Verb::CommentCreate,
        ticket: ticket.id,
        action: Some(ActionObject::Comment(comment.id)),
        at: now,
    })?;
    uow.enqueue(&NewJob::now(Job::CommentCreated {
        ticket: ticket.id,
        author: actor.id,
    }))?;
    Ok(comment)
}
