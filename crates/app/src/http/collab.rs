//! What the collaboration handlers (comments, responders, subscribers, attachments,
//! activities) share: `include=user,ticket`, and the collection and single documents.

use super::errors::ApiResult;
use super::render::{
    includes, pagination_links, profile_resource, rendered, ticket_resource, Document, Rendered,
};
use super::request::{check_accept, query_params};
use super::{AppState, Caller};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use desk_domain::error::DomainResult;
use desk_domain::listing::{PageSlice, Params};
use desk_domain::usecases::collaboration::{related, Listed, Related};
use desk_domain::{
    Actor, Attachment, Comment, Expense, ProfileId, Responder, Subscriber, TicketId,
};
use desk_persistence::PgUnitOfWork;
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
pub fn included(actor: &Actor, related: &Related) -> Vec<Rendered> {
    let mut people: Vec<_> = related.profiles.values().collect();
    people.sort_by_key(|v| v.profile.id);
    let mut out: Vec<Rendered> = people
        .into_iter()
        .map(|v| rendered(&profile_resource(actor, v)))
        .collect();
    out.extend(
        related
            .tickets
            .iter()
            .map(|t| rendered(&ticket_resource(actor, t, &related.graph))),
    );
    out
}

/// `{"links", "data", "included"?}` (a caller may add `meta`, which then comes last).
pub fn list_body(
    req: &HttpRequest,
    params: &Params,
    page: &PageSlice,
    data: Vec<Rendered>,
    included: Option<Vec<Rendered>>,
) -> Document {
    Document::many(data)
        .links(pagination_links(req, params, page))
        .included(included)
}

pub fn list_document(
    req: &HttpRequest,
    params: &Params,
    page: &PageSlice,
    data: Vec<Rendered>,
    included: Option<Vec<Rendered>>,
) -> HttpResponse {
    list_body(req, params, page, data, included).respond(StatusCode::OK)
}

/// `{"data", "included"?}`.
pub fn single_document(
    status: StatusCode,
    data: Rendered,
    included: Option<Vec<Rendered>>,
) -> HttpResponse {
    Document::one(data).included(included).respond(status)
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

/// What a ticket-bound row names, for `include=user,ticket`.
pub trait RowLinks {
    /// The profile the row belongs to (none for an e-mail-only subscription).
    fn user(&self) -> Option<ProfileId>;
    fn ticket(&self) -> TicketId;
}

macro_rules! row_links {
    ($($row:ty => |$r:ident| $user:expr),+ $(,)?) => {
        $(impl RowLinks for $row {
            fn user(&self) -> Option<ProfileId> {
                let $r = self;
                $user
            }
            fn ticket(&self) -> TicketId {
                self.ticket_id
            }
        })+
    };
}

row_links!(
    Comment => |r| Some(r.user_id),
    Responder => |r| Some(r.user_id),
    Subscriber => |r| r.user_id,
    Expense => |r| Some(r.user_id),
    Attachment => |r| Some(r.user_id),
);

/// The related resources `wanted` asks for, for these rows (one query per type).
fn related_of<'a, T: RowLinks + 'a>(
    uow: &mut PgUnitOfWork<'_>,
    actor: &Actor,
    wanted: Wanted,
    rows: impl Iterator<Item = &'a T> + Clone,
) -> DomainResult<Related> {
    let (people, tickets) = wanted.ids(
        rows.clone().filter_map(RowLinks::user),
        rows.map(RowLinks::ticket),
    );
    related(uow, actor, people, tickets)
}

/// `GET` of a ticket-bound collection: the use case's page, its includes, one document.
pub async fn list_rows<T, L>(
    req: &HttpRequest,
    caller: &Caller,
    state: &AppState,
    list: L,
    render: impl Fn(&T) -> Rendered,
) -> ApiResult<HttpResponse>
where
    T: RowLinks + Send + 'static,
    L: FnOnce(&mut PgUnitOfWork<'_>, &Actor, &Params) -> DomainResult<Listed<T>> + Send + 'static,
{
    check_accept(req)?;
    let params = query_params(req)?;
    let wanted = row_includes(&params)?;
    let query = params.clone();
    let (actor, (listed, rel)) = state
        .run(caller, move |uow, actor| {
            let listed = list(uow, actor, &query)?;
            let rel = related_of(uow, actor, wanted, listed.rows.iter())?;
            Ok((listed, rel))
        })
        .await?;
    let data = listed.rows.iter().map(render).collect();
    let inc = wanted.any().then(|| included(&actor, &rel));
    Ok(list_document(req, &params, &listed.page, data, inc))
}

/// `GET` of one ticket-bound row (404 outside the caller's scope) with its includes.
pub async fn retrieve_row<T, G>(
    req: &HttpRequest,
    caller: &Caller,
    state: &AppState,
    get: G,
    render: impl Fn(&T) -> Rendered,
) -> ApiResult<HttpResponse>
where
    T: RowLinks + Send + 'static,
    G: FnOnce(&mut PgUnitOfWork<'_>, &Actor) -> DomainResult<T> + Send + 'static,
{
    check_accept(req)?;
    let wanted = row_includes(&query_params(req)?)?;
    let (actor, (row, rel)) = state
        .run(caller, move |uow, actor| {
            let row = get(uow, actor)?;
            let rel = related_of(uow, actor, wanted, std::iter::once(&row))?;
            Ok((row, rel))
        })
        .await?;
    let inc = wanted.any().then(|| included(&actor, &rel));
    Ok(single_document(StatusCode::OK, render(&row), inc))
}
