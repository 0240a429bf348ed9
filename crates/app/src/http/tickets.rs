//! `/api/v3/tickets` (contract §3.1, CLIENT.md §6.2–6.5).

use super::errors::ApiResult;
use super::render::{
    json_api_response, pagination_links, rendered, ticket_included, ticket_includes,
    ticket_resource, totals_meta, CollectionDocument, Document,
};
use super::request::{check_accept, path_id, query_params, read_document, Expect};
use super::{AppState, Caller};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use desk_domain::usecases::tickets::{self as usecase, GraphProfiles};
use desk_domain::TicketId;
use serde_json::json;
use std::collections::BTreeSet;

/// List tickets visible to the caller.
#[utoipa::path(get, path = "/api/v3/tickets", tag = "tickets",
    params(
        ("filter[status__in]" = Option<String>, Query, description = "comma-separated statuses"),
        ("filter[kind]" = Option<String>, Query), ("filter[country]" = Option<String>, Query),
        ("filter[requester]" = Option<i32>, Query), ("filter[responders__user]" = Option<i32>, Query),
        ("filter[responders__user__isnull]" = Option<bool>, Query), ("filter[search]" = Option<String>, Query),
        ("filter[created_at__gte]" = Option<String>, Query), ("filter[created_at__lte]" = Option<String>, Query),
        ("filter[created_at__range]" = Option<String>, Query), ("filter[deadline_at__gte]" = Option<String>, Query),
        ("filter[deadline_at__lte]" = Option<String>, Query), ("filter[deadline_at__range]" = Option<String>, Query),
        ("sort" = Option<String>, Query, description = "created_at, deadline_at, with - for descending"),
        ("include" = Option<String>, Query), ("page[number]" = Option<String>, Query), ("page[size]" = Option<i32>, Query),
    ),
    responses((status = 200, description = "tickets with meta.total and meta.filters"), (status = 401), (status = 404, description = "invalid page")),
    security(("bearer" = [])))]
pub async fn list(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    check_accept(&req)?;
    let params = query_params(&req)?;
    let paths = ticket_includes(&params)?;
    let query = params.clone();
    let wanted = graph_profiles(&paths);
    let (actor, (listing, graph)) = state
        .run(&caller, move |uow, actor| {
            let listing = usecase::list_tickets(uow, actor, &query)?;
            let graph = usecase::ticket_graph(uow, &listing.tickets, wanted)?;
            Ok((listing, graph))
        })
        .await?;
    let data: Vec<_> = listing
        .tickets
        .iter()
        .map(|t| ticket_resource(&actor, t, &graph))
        .collect();
    let mut filters = serde_json::Map::new();
    let label = |p: &desk_domain::Profile| json!({"first-name": p.first_name, "last-name": p.last_name, "email": p.email});
    if let Some(p) = &listing.requester_label {
        filters.insert("requester".into(), label(p));
    }
    if let Some(p) = &listing.responder_label {
        filters.insert("responder".into(), label(p));
    }
    let included =
        (!paths.is_empty()).then(|| ticket_included(&actor, &listing.tickets, &graph, &paths));
    let body = CollectionDocument::new(&data, included)
        .links(pagination_links(&req, &params, &listing.page))
        .meta(json!({"total": totals_meta(&listing.totals), "filters": filters}))
        .to_body(LIST_OVERHEAD_BYTES + data.len() * TICKET_BYTES);
    Ok(json_api_response(StatusCode::OK, body))
}

/// About the size of a ticket resource as the seed's tickets render (2-5 KB): enough to
/// serialize most pages without growing the buffer.
const TICKET_BYTES: usize = 4 * 1024;

/// Links and meta of a list.
const LIST_OVERHEAD_BYTES: usize = 1024;

/// The requesters' profiles are read only for a document that includes them.
fn graph_profiles(paths: &BTreeSet<String>) -> GraphProfiles {
    if paths.contains("requester") {
        GraphProfiles::TicketUsersAndRequesters
    } else {
        GraphProfiles::TicketUsers
    }
}

/// Renders one ticket with its includes and `meta.total` (all in the same transaction).
async fn single(
    req: &HttpRequest,
    state: &AppState,
    caller: &Caller,
    status: StatusCode,
    load: impl FnOnce(
            &mut desk_persistence::PgUnitOfWork<'_>,
            &desk_domain::Actor,
        ) -> desk_domain::error::DomainResult<desk_domain::Ticket>
        + Send
        + 'static,
) -> ApiResult<HttpResponse> {
    let params = query_params(req)?;
    let paths = ticket_includes(&params)?;
    let wanted = graph_profiles(&paths);
    let (actor, (ticket, graph, totals)) = state
        .run(caller, move |uow, actor| {
            let ticket = load(uow, actor)?;
            let graph = usecase::ticket_graph(uow, std::slice::from_ref(&ticket), wanted)?;
            let totals = usecase::visible_totals(uow, actor)?;
            Ok((ticket, graph, totals))
        })
        .await?;
    let included = (!paths.is_empty())
        .then(|| ticket_included(&actor, std::slice::from_ref(&ticket), &graph, &paths));
    Ok(
        Document::one(rendered(&ticket_resource(&actor, &ticket, &graph)))
            .included(included)
            .meta(json!({"total": totals_meta(&totals)}))
            .respond(status),
    )
}

/// One ticket (404 unless visible).
#[utoipa::path(get, path = "/api/v3/tickets/{id}", tag = "tickets",
    params(("id" = String, Path), ("include" = Option<String>, Query)),
    responses((status = 200), (status = 401), (status = 404)), security(("bearer" = [])))]
pub async fn retrieve(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    check_accept(&req)?;
    let id = TicketId(path_id(&id)?);
    single(&req, &state, &caller, StatusCode::OK, move |uow, actor| {
        usecase::get_ticket(uow, actor, id)
    })
    .await
}

/// Request research: the caller becomes the requester.
#[utoipa::path(post, path = "/api/v3/tickets", tag = "tickets",
    request_body(content_type = "application/vnd.api+json", description = "JSON:API document of type tickets"),
    responses((status = 201), (status = 400), (status = 401), (status = 409), (status = 415), (status = 422)),
    security(("bearer" = [])))]
pub async fn create(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    check_accept(&req)?;
    let input = read_document(&req, payload, Expect::Create { kind: "tickets" }).await?;
    let clock = state.clock.clone();
    single(
        &req,
        &state,
        &caller,
        StatusCode::CREATED,
        move |uow, actor| usecase::create_ticket(uow, clock.as_ref(), actor, &input.attributes),
    )
    .await
}

/// Update a ticket: superusers every writable attribute, requester and responders the status.
#[utoipa::path(patch, path = "/api/v3/tickets/{id}", tag = "tickets",
    params(("id" = String, Path)),
    request_body(content_type = "application/vnd.api+json", description = "JSON:API document of type tickets; PUT requires background"),
    responses((status = 200), (status = 401), (status = 403), (status = 404), (status = 409), (status = 415), (status = 422)),
    security(("bearer" = [])))]
pub async fn update(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    check_accept(&req)?;
    let raw_id = id.into_inner();
    let id = TicketId(path_id(&raw_id)?);
    let input = read_document(
        &req,
        payload,
        Expect::Update {
            kind: "tickets",
            url_id: &raw_id,
        },
    )
    .await?;
    let full = req.method() == actix_web::http::Method::PUT;
    let clock = state.clock.clone();
    single(&req, &state, &caller, StatusCode::OK, move |uow, actor| {
        usecase::update_ticket(uow, clock.as_ref(), actor, id, &input.attributes, full)
            .map(|u| u.ticket)
    })
    .await
}
