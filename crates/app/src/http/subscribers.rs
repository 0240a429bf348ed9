//! `/api/v3/subscribers` (contract §3.6, §4.3, CLIENT §6.13; W6, W15).

use super::collab::{delete_with, included, single_document};
use super::collab::{list_rows, retrieve_row};
use super::errors::ApiResult;
use super::method_not_allowed;
use super::render::subscriber_resource;
use super::request::{check_accept, linkage, path_id, read_document, Expect};
use super::{AppState, Caller};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use desk_domain::usecases::collaboration::related;
use desk_domain::usecases::subscribers as usecase;
use desk_domain::SubscriberId;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/api/v3/subscribers")
            .route(web::get().to(list))
            .route(web::head().to(list))
            .route(web::post().to(create))
            .default_service(web::to(method_not_allowed("GET, POST, HEAD, OPTIONS"))),
    )
    .service(
        web::resource("/api/v3/subscribers/{id}")
            .route(web::get().to(retrieve))
            .route(web::head().to(retrieve))
            .route(web::delete().to(delete))
            .default_service(web::to(method_not_allowed("GET, DELETE, HEAD, OPTIONS"))),
    );
}

/// Subscribers of the tickets the caller sees.
#[utoipa::path(get, path = "/api/v3/subscribers", tag = "subscribers",
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
        |uow, actor, params| usecase::list_subscribers(uow, actor, params),
        subscriber_resource,
    )
    .await
}

#[utoipa::path(get, path = "/api/v3/subscribers/{id}", tag = "subscribers",
    params(("id" = String, Path), ("include" = Option<String>, Query)),
    responses((status = 200), (status = 401), (status = 404)), security(("bearer" = [])))]
pub async fn retrieve(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = SubscriberId(path_id(&id)?);
    retrieve_row(
        &req,
        &caller,
        &state,
        move |uow, actor| usecase::get_subscriber(uow, actor, id),
        subscriber_resource,
    )
    .await
}

/// Subscribe a person by e-mail (requester, responders, superusers; W6).
#[utoipa::path(post, path = "/api/v3/subscribers", tag = "subscribers",
    request_body(content_type = "application/vnd.api+json", description = "JSON:API document of type subscribers: email, ticket"),
    responses((status = 201), (status = 400), (status = 401), (status = 409), (status = 415), (status = 422)),
    security(("bearer" = [])))]
pub async fn create(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    check_accept(&req)?;
    let input = read_document(
        &req,
        payload,
        Expect::Create {
            kind: "subscribers",
        },
    )
    .await?;
    let ticket = linkage(&input, "ticket", "tickets");
    let clock = state.clock.clone();
    let (actor, (subscription, rel)) = state
        .run(&caller, move |uow, actor| {
            let s =
                usecase::add_subscriber(uow, clock.as_ref(), actor, &input.attributes, &ticket)?;
            // The client shows the subscribed person's name: include the profile so it need
            // not fetch it (CLIENT §6.13).
            let rel = related(uow, actor, s.subscriber.user_id, [])?;
            Ok((s, rel))
        })
        .await?;
    let inc = subscription
        .subscriber
        .user_id
        .is_some()
        .then(|| included(&actor, &rel));
    Ok(single_document(
        StatusCode::CREATED,
        subscriber_resource(&subscription.subscriber),
        inc,
    ))
}

/// End a subscription: requester, responders, superusers, or the subscribed person.
#[utoipa::path(delete, path = "/api/v3/subscribers/{id}", tag = "subscribers",
    params(("id" = String, Path)),
    responses((status = 204), (status = 401), (status = 404)), security(("bearer" = [])))]
pub async fn delete(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = SubscriberId(path_id(&id)?);
    let clock = state.clock.clone();
    delete_with(&state, &caller, move |uow, actor| {
        usecase::remove_subscriber(uow, clock.as_ref(), actor, id)
    })
    .await
}
