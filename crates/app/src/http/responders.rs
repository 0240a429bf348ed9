//! `/api/v3/responders` (contract §3.5, §4.3, CLIENT §6.12).

use super::collab::{delete_with, included, list_document, row_includes, single_document};
use super::errors::ApiResult;
use super::method_not_allowed;
use super::render::responder_resource;
use super::request::{check_accept, linkage, path_id, query_params, read_document, Expect};
use super::{AppState, Caller};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use desk_domain::usecases::collaboration::related;
use desk_domain::usecases::responders as usecase;
use desk_domain::ResponderId;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/api/v3/responders")
            .route(web::get().to(list))
            .route(web::head().to(list))
            .route(web::post().to(create))
            .default_service(web::to(method_not_allowed("GET, POST, HEAD, OPTIONS"))),
    )
    .service(
        web::resource("/api/v3/responders/{id}")
            .route(web::get().to(retrieve))
            .route(web::head().to(retrieve))
            .route(web::delete().to(delete))
            .default_service(web::to(method_not_allowed("GET, DELETE, HEAD, OPTIONS"))),
    );
}

/// Responders of the tickets the caller sees.
#[utoipa::path(get, path = "/api/v3/responders", tag = "responders",
    params(("filter[id]" = Option<i32>, Query), ("sort" = Option<String>, Query),
           ("include" = Option<String>, Query, description = "user, ticket"),
           ("page[number]" = Option<String>, Query), ("page[size]" = Option<i32>, Query)),
    responses((status = 200), (status = 400), (status = 401), (status = 404, description = "invalid page")),
    security(("bearer" = [])))]
pub async fn list(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    check_accept(&req)?;
    let params = query_params(&req)?;
    let wanted = row_includes(&params)?;
    let query = params.clone();
    let (actor, (listed, rel)) = state
        .run(&caller, move |uow, actor| {
            let listed = usecase::list_responders(uow, actor, &query)?;
            let (people, tickets) = wanted.ids(
                listed.rows.iter().map(|r| r.user_id),
                listed.rows.iter().map(|r| r.ticket_id),
            );
            let rel = related(uow, actor, people, tickets)?;
            Ok((listed, rel))
        })
        .await?;
    let data = listed.rows.iter().map(responder_resource).collect();
    let inc = wanted.any().then(|| included(&actor, &rel));
    Ok(list_document(&req, &params, &listed.page, data, inc))
}

#[utoipa::path(get, path = "/api/v3/responders/{id}", tag = "responders",
    params(("id" = String, Path), ("include" = Option<String>, Query)),
    responses((status = 200), (status = 401), (status = 404)), security(("bearer" = [])))]
pub async fn retrieve(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    check_accept(&req)?;
    let id = ResponderId(path_id(&id)?);
    let wanted = row_includes(&query_params(&req)?)?;
    let (actor, (row, rel)) = state
        .run(&caller, move |uow, actor| {
            let r = usecase::get_responder(uow, actor, id)?;
            let (people, tickets) = wanted.ids([r.user_id], [r.ticket_id]);
            let rel = related(uow, actor, people, tickets)?;
            Ok((r, rel))
        })
        .await?;
    let inc = wanted.any().then(|| included(&actor, &rel));
    Ok(single_document(
        StatusCode::OK,
        responder_resource(&row),
        inc,
    ))
}

/// Assign a researcher (superusers); the ticket moves to `in-progress`.
#[utoipa::path(post, path = "/api/v3/responders", tag = "responders",
    request_body(content_type = "application/vnd.api+json", description = "JSON:API document of type responders: ticket, user"),
    responses((status = 201), (status = 400), (status = 401), (status = 409), (status = 415), (status = 422)),
    security(("bearer" = [])))]
pub async fn create(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    check_accept(&req)?;
    let input = read_document(&req, payload, Expect::Create { kind: "responders" }).await?;
    let ticket = linkage(&input, "ticket", "tickets");
    let user = linkage(&input, "user", "profiles");
    let clock = state.clock.clone();
    let (_, assignment) = state
        .run(&caller, move |uow, actor| {
            usecase::add_responder(uow, clock.as_ref(), actor, &ticket, &user)
        })
        .await?;
    Ok(single_document(
        StatusCode::CREATED,
        responder_resource(&assignment.responder),
        None,
    ))
}

/// Unassign: superusers, or the responder themself.
#[utoipa::path(delete, path = "/api/v3/responders/{id}", tag = "responders",
    params(("id" = String, Path)),
    responses((status = 204), (status = 401), (status = 404)), security(("bearer" = [])))]
pub async fn delete(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = ResponderId(path_id(&id)?);
    let clock = state.clock.clone();
    delete_with(&state, &caller, move |uow, actor| {
        usecase::remove_responder(uow, clock.as_ref(), actor, id)
    })
    .await
}
