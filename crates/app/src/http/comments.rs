//! `/api/v3/comments` (contract §3.2, CLIENT §6.10; W26).

use super::collab::single_document;
use super::collab::{list_rows, retrieve_row};
use super::errors::ApiResult;
use super::method_not_allowed;
use super::render::comment_resource;
use super::request::{check_accept, linkage, path_id, read_document, Expect};
use super::{AppState, Caller};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use desk_domain::usecases::comments as usecase;
use desk_domain::CommentId;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/api/v3/comments")
            .route(web::get().to(list))
            .route(web::head().to(list))
            .route(web::post().to(create))
            .default_service(web::to(method_not_allowed("GET, POST, HEAD, OPTIONS"))),
    )
    .service(
        web::resource("/api/v3/comments/{id}")
            .route(web::get().to(retrieve))
            .route(web::head().to(retrieve))
            .default_service(web::to(method_not_allowed("GET, HEAD, OPTIONS"))),
    );
}

/// Comments of the tickets the caller sees.
#[utoipa::path(get, path = "/api/v3/comments", tag = "comments",
    params(("filter[id]" = Option<i32>, Query), ("filter[ticket]" = Option<i32>, Query),
           ("sort" = Option<String>, Query, description = "created_at, with - for descending"),
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
        |uow, actor, params| usecase::list_comments(uow, actor, params),
        comment_resource,
    )
    .await
}

#[utoipa::path(get, path = "/api/v3/comments/{id}", tag = "comments",
    params(("id" = String, Path), ("include" = Option<String>, Query)),
    responses((status = 200), (status = 401), (status = 404)), security(("bearer" = [])))]
pub async fn retrieve(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = CommentId(path_id(&id)?);
    retrieve_row(
        &req,
        &caller,
        &state,
        move |uow, actor| usecase::get_comment(uow, actor, id),
        comment_resource,
    )
    .await
}

/// Comment on a ticket the caller takes part in (superusers: any ticket).
#[utoipa::path(post, path = "/api/v3/comments", tag = "comments",
    request_body(content_type = "application/vnd.api+json", description = "JSON:API document of type comments: body, ticket"),
    responses((status = 201), (status = 400), (status = 401), (status = 409), (status = 415), (status = 422)),
    security(("bearer" = [])))]
pub async fn create(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    check_accept(&req)?;
    let input = read_document(&req, payload, Expect::Create { kind: "comments" }).await?;
    let ticket = linkage(&input, "ticket", "tickets");
    let clock = state.clock.clone();
    let (_, comment) = state
        .run(&caller, move |uow, actor| {
            usecase::create_comment(uow, clock.as_ref(), actor, &input.attributes, &ticket)
        })
        .await?;
    Ok(single_document(
        StatusCode::CREATED,
        comment_resource(&comment),
        None,
    ))
}
