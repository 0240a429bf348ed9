//! Reviews (contract §3.8, §4.5, §5.3.5; decisions W4, W18): the anonymous review form and
//! who is asked for one.
//!
//! The ticket is identified by the e-mailed token only (never by the body's relationship).
//! The body is validated first; then any token problem — missing, malformed, forged,
//! expired, already spent, for a ticket that is gone — is the same 422 `Ticket not found.`.

use crate::activity::{ActionObject, NewActivity, Verb};
use crate::error::{DomainError, DomainResult, FieldError};
use crate::forms::{Attributes, Text, MAX_TEXT_CHARS};
use crate::model::*;
use crate::policy::Scope;
use crate::ports::{Clock, NewReview, ReviewClaims, ReviewTokens, ReviewWork};
use chrono::Duration;
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// How long a review link works after it was sent (`MAX_DAYS_TO_RESPOND`).
pub const TOKEN_DAYS: i64 = 7;
/// How long after closing a ticket its review request is sent.
pub const REQUEST_DELAY_DAYS: i64 = 60;

/// The idempotency key of a ticket's pending review request (W18: at most one).
pub fn request_key(ticket: TicketId) -> String {
    format!("review-request:{ticket}")
}

/// Validated review attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewForm {
    pub rating: i16,
    pub link: Option<String>,
    pub body: String,
}

fn invalid_rating(shown: &str) -> FieldError {
    FieldError::attribute(
        "rating",
        format!("\"{shown}\" is not a valid choice."),
        "invalid_choice",
    )
}

/// `rating` ∈ {0,1,2,3} (default 1), `link` ≤ 255 and not `""`, `body` required, sanitized.
pub fn parse_review(attributes: &Map<String, Value>) -> Result<ReviewForm, Vec<FieldError>> {
    let mut a = Attributes::new(attributes);
    let mut rating = 1;
    match a.raw("rating") {
        None => {}
        Some(Value::Null) => a.errors.push(FieldError::null("rating")),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(v @ 0..=3) => rating = v as i16,
            _ => a.errors.push(invalid_rating(&n.to_string())),
        },
        Some(Value::String(s)) => match s.trim().parse::<i16>() {
            Ok(v @ 0..=3) => rating = v,
            _ => a.errors.push(invalid_rating(s)),
        },
        Some(other) => a.errors.push(invalid_rating(&other.to_string())),
    }
    let link = a
        .text("link", Text::plain(255).not_blank())
        .flatten()
        .filter(|l| !l.is_empty());
    let body = a
        .text("body", Text::sanitized(MAX_TEXT_CHARS).required())
        .flatten();
    if !a.has("body") {
        a.errors.push(FieldError::required("body"));
    }
    match (body, a.errors.is_empty()) {
        (Some(body), true) => Ok(ReviewForm { rating, link, body }),
        _ => {
            let mut errors = a.errors;
            errors.sort_by(|x, y| x.pointer.cmp(&y.pointer));
            Err(errors)
        }
    }
}

/// `POST /reviews` (anonymous): validates the body, then the token; stores the review and
/// records `review:create` without an actor. A token works once. The token names the
/// ticket; a `ticket` the client names as well (`named_ticket`, the raw id) must agree.
pub fn create_review(
    uow: &mut impl ReviewWork,
    clock: &dyn Clock,
    tokens: &dyn ReviewTokens,
    attributes: &Map<String, Value>,
    named_ticket: Option<&str>,
) -> DomainResult<Review> {
    let form = parse_review(attributes).map_err(DomainError::invalid)?;
    let now = clock.now();
    let claims = attributes
        .get("token")
        .and_then(Value::as_str)
        .and_then(|token| tokens.verify(token, now))
        .ok_or(DomainError::TicketNotFound)?;
    if named_ticket.is_some_and(|named| named.trim() != claims.ticket.to_string()) {
        return Err(DomainError::TicketNotFound);
    }
    let ticket = uow
        .ticket(Scope::Everything, claims.ticket)?
        .ok_or(DomainError::TicketNotFound)?;
    let review = uow
        .insert_review(&NewReview {
            ticket: ticket.id,
            rating: form.rating,
            link: form.link,
            body: form.body,
            recipient: claims.recipient,
            token_id: claims.token_id,
            at: now,
        })?
        .ok_or(DomainError::TicketNotFound)?;
    uow.record_activity(&NewActivity {
        actor: None,
        verb: Verb::ReviewCreate,
        ticket: ticket.id,
        action: Some(ActionObject::Review(review.id)),
        at: now,
    })?;
    Ok(review)
}

/// One review request to send: the address and its freshly issued token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewRequest {
    pub ticket: TicketId,
    pub to: String,
    pub token: String,
}

/// The review requests of `ticket` as things are now (§5.3.5): nothing unless the ticket
/// exists and is closed; otherwise one per distinct address (case-insensitive) of the
/// requester and the e-mail subscribers, each with its own token valid [`TOKEN_DAYS`] days.
/// `new_token_id` draws a fresh, unguessable token id.
pub fn review_requests(
    uow: &mut impl ReviewWork,
    clock: &dyn Clock,
    tokens: &dyn ReviewTokens,
    ticket: TicketId,
    new_token_id: &mut dyn FnMut() -> String,
) -> DomainResult<Vec<ReviewRequest>> {
    let Some(ticket) = uow.ticket(Scope::Everything, ticket)? else {
        return Ok(Vec::new());
    };
    if ticket.status != TicketStatus::Closed {
        return Ok(Vec::new());
    }
    let mut addresses: Vec<String> = Vec::new();
    if let Some(requester) = uow.profile(ticket.requester_id)? {
        addresses.push(requester.email);
    }
    let links = uow.ticket_links(&[ticket.id])?;
    let mut subscribers = links.subscribers;
    subscribers.sort_by_key(|s| s.id);
    addresses.extend(subscribers.into_iter().filter_map(|s| s.email));
    let expires_at = clock.now() + Duration::days(TOKEN_DAYS);
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for address in addresses {
        let address = address.trim().to_string();
        if address.is_empty() || !seen.insert(address.to_lowercase()) {
            continue;
        }
        let token = tokens.issue(&ReviewClaims {
            ticket: ticket.id,
            recipient: address.clone(),
            token_id: new_token_id(),
            expires_at,
        });
        out.push(ReviewRequest {
            ticket: ticket.id,
            to: address,
            token,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attrs(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn ratings_are_zero_to_three_with_one_as_default() {
        let form = parse_review(&attrs(json!({"body": "Useful"}))).unwrap();
        assert_eq!(form.rating, 1);
        assert_eq!(form.link, None);
        for (value, want) in [(json!(0), 0), (json!("3"), 3), (json!(2), 2)] {
            let form = parse_review(&attrs(json!({"body": "x", "rating": value}))).unwrap();
            assert_eq!(form.rating, want);
        }
        let errors = parse_review(&attrs(json!({"body": "x", "rating": "9"}))).unwrap_err();
        assert_eq!(errors[0].detail, "\"9\" is not a valid choice.");
        assert_eq!(errors[0].pointer, "/data/attributes/rating");
        let errors = parse_review(&attrs(json!({"body": "x", "rating": 9}))).unwrap_err();
        assert_eq!(errors[0].detail, "\"9\" is not a valid choice.");
    }

    #[test]
    fn body_is_required_and_sanitized_link_not_blank() {
        let errors = parse_review(&attrs(json!({"link": ""}))).unwrap_err();
        let pointers: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            ["/data/attributes/body", "/data/attributes/link"],
            "{errors:?}"
        );
        let form = parse_review(&attrs(
            json!({"body": "<b>Great</b> & <script>x</script>", "link": null}),
        ))
        .unwrap();
        assert!(!form.body.contains('<'), "{}", form.body);
        let long = "x".repeat(256);
        assert!(parse_review(&attrs(json!({"body": "b", "link": long}))).is_err());
    }
}
