//! `/api/v3/responders` (contract §3.5, §4.3, CLIENT §6.12).

use super::collab::{delete_with, single_document};
use super::collab::{list_rows, retrieve_row};
use super::errors::ApiResult;
use super::method_not_allowed;
use super::render::responder_resource;
use super::request::{check_accept, linkage, path_id, read_document, Expect};
use super::{AppState, Caller};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
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
    list_rows(
        &req,
        &caller,
        &state,
        |uow, actor, params| usecase::list_responders(uow, actor, params),
        responder_resource,
    )
    .await
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
    let id = ResponderId(path_id(&id)?);
    retrieve_row(
        &req,
        &caller,
        &state,
        move |uow, actor| usecase::get_responder(uow, actor, id),
        responder_resource,
    )
    .await
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
