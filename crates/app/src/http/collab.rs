//! What the collaboration handlers (comments, responders, subscribers, attachments,
//! activities) share: `include=user,ticket`, and the collection and single documents.

use super::errors::ApiResult;
use super::render::{includes, pagination_links, profile_resource, ticket_resource};
use super::{document, AppState, Caller};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use desk_domain::listing::{PageSlice, Params};
use desk_domain::usecases::collaboration::Related;
use desk_domain::{Actor, ProfileId, TicketId};
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// The include paths of comments, responders, subscribers and attachments.
pub const ROW_INCLUDES: &[&str] = &["user", "ticket"];

/// Which related resources a document includes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Wanted {
    pub users: bool,
    pub tickets: bool,
}

impl Wanted {
    pub fn from(paths: &BTreeSet<String>) -> Wanted {
        Wanted {
            users: paths.contains("user"),
            tickets: paths.contains("ticket"),
        }
    }
    pub fn any(&self) -> bool {
        self.users || self.tickets
    }
    /// The ids to load for rows naming these people and tickets.
    pub fn ids(
        &self,
        people: impl IntoIterator<Item = ProfileId>,
        tickets: impl IntoIterator<Item = TicketId>,
    ) -> (Vec<ProfileId>, Vec<TicketId>) {
        (
            if self.users {
                people.into_iter().collect()
            } else {
                Vec::new()
            },
            if self.tickets {
                tickets.into_iter().collect()
            } else {
                Vec::new()
            },
        )
    }
}

pub fn row_includes(params: &Params) -> ApiResult<Wanted> {
    Ok(Wanted::from(&includes(params, ROW_INCLUDES)?))
}

/// Profiles (by id; e-mail hidden per policy) then visible tickets (by id).
pub fn included(actor: &Actor, related: &Related) -> Vec<Value> {
    let mut people: Vec<_> = related.profiles.values().collect();
    people.sort_by_key(|v| v.profile.id);
    let mut out: Vec<Value> = people
        .into_iter()
        .map(|v| profile_resource(actor, v))
        .collect();
    out.extend(
        related
            .tickets
            .iter()
            .map(|t| ticket_resource(actor, t, &related.graph)),
    );
    out
}

/// `{"links", "data", "included"?}` (a caller may add `meta`, which then comes last).
pub fn list_body(
    req: &HttpRequest,
    params: &Params,
    page: &PageSlice,
    data: Vec<Value>,
    included: Option<Vec<Value>>,
) -> Value {
    let mut body = json!({"links": pagination_links(req, params, page), "data": data});
    if let Some(included) = included {
        body["included"] = Value::Array(included);
    }
    body
}

pub fn list_document(
    req: &HttpRequest,
    params: &Params,
    page: &PageSlice,
    data: Vec<Value>,
    included: Option<Vec<Value>>,
) -> HttpResponse {
    document(StatusCode::OK, list_body(req, params, page, data, included))
}

/// `{"data", "included"?}`.
pub fn single_document(
    status: StatusCode,
    data: Value,
    included: Option<Vec<Value>>,
) -> HttpResponse {
    let mut body = json!({ "data": data });
    if let Some(included) = included {
        body["included"] = Value::Array(included);
    }
    document(status, body)
}

/// 204 with an empty body.
pub fn no_content() -> HttpResponse {
    HttpResponse::NoContent().finish()
}

/// Runs a delete use case for the caller.
pub async fn delete_with<F>(state: &AppState, caller: &Caller, work: F) -> ApiResult<HttpResponse>
where
    F: FnOnce(
            &mut desk_persistence::PgUnitOfWork<'_>,
            &Actor,
        ) -> desk_domain::error::DomainResult<()>
        + Send
        + 'static,
{
    state.run(caller, work).await?;
    Ok(no_content())
}
