//! `/api/v3/me` and `/api/v3/profiles` (contract §3.9, §3.10, CLIENT.md §6.1, §6.6, §6.7).

use super::errors::ApiResult;
use super::render::{me_meta, pagination_links, profile_resource, rendered, Document};
use super::request::{check_accept, path_id, query_params, read_document, Expect};
use super::{AppState, Caller};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use desk_domain::usecases::profiles as usecase;
use desk_domain::{Actor, ProfileId, ProfileView};

/// A single profile document; the caller's own carries the `/me` meta (CLIENT.md §6.1 caveat).
fn profile_document(state: &AppState, actor: &Actor, view: &ProfileView) -> HttpResponse {
    let mut document = Document::one(rendered(&profile_resource(actor, view)));
    if view.profile.id == actor.id {
        document = document.meta(me_meta(
            &state.settings.member_centers,
            &state.settings.expense_scopes,
        ));
    }
    document.respond(StatusCode::OK)
}

/// The caller's profile (e-mail included) with the configured member centres and expense scopes.
#[utoipa::path(get, path = "/api/v3/me", tag = "profiles",
    responses((status = 200), (status = 401), (status = 403, description = "inactive profile")), security(("bearer" = [])))]
pub async fn me(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    check_accept(&req)?;
    let (actor, view) = state.run_me(&caller).await?;
    Ok(profile_document(&state, &actor, &view))
}

/// Profiles: superusers see every active profile (with filters), others only themselves.
#[utoipa::path(get, path = "/api/v3/profiles", tag = "profiles",
    params(("filter[name]" = Option<String>, Query), ("filter[is_staff]" = Option<bool>, Query),
           ("filter[is_superuser]" = Option<bool>, Query), ("page[number]" = Option<String>, Query), ("page[size]" = Option<i32>, Query)),
    responses((status = 200), (status = 401), (status = 404, description = "invalid page")), security(("bearer" = [])))]
pub async fn list(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    check_accept(&req)?;
    let params = query_params(&req)?;
    let query = params.clone();
    let (actor, listing) = state
        .run(&caller, move |uow, actor| {
            usecase::list_profiles(uow, actor, &query)
        })
        .await?;
    let data = listing
        .profiles
        .iter()
        .map(|v| rendered(&profile_resource(&actor, v)))
        .collect();
    Ok(Document::many(data)
        .links(pagination_links(&req, &params, &listing.page))
        .respond(StatusCode::OK))
}

#[utoipa::path(get, path = "/api/v3/profiles/{id}", tag = "profiles", params(("id" = String, Path)),
    responses((status = 200), (status = 401), (status = 404)), security(("bearer" = [])))]
pub async fn retrieve(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    check_accept(&req)?;
    let id = ProfileId(path_id(&id)?);
    let (actor, view) = state
        .run(&caller, move |uow, actor| {
            usecase::get_profile(uow, actor, id)
        })
        .await?;
    Ok(profile_document(&state, &actor, &view))
}

/// Update the bio (the only writable attribute).
#[utoipa::path(patch, path = "/api/v3/profiles/{id}", tag = "profiles", params(("id" = String, Path)),
    request_body(content_type = "application/vnd.api+json", description = "JSON:API document of type profiles"),
    responses((status = 200), (status = 401), (status = 404), (status = 409), (status = 415), (status = 422)), security(("bearer" = [])))]
pub async fn update(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    check_accept(&req)?;
    let raw_id = id.into_inner();
    let id = ProfileId(path_id(&raw_id)?);
    let input = read_document(
        &req,
        payload,
        Expect::Update {
            kind: "profiles",
            url_id: &raw_id,
        },
    )
    .await?;
    let (actor, view) = state
        .run(&caller, move |uow, actor| {
            usecase::update_profile(uow, actor, id, &input.attributes)
        })
        .await?;
    Ok(profile_document(&state, &actor, &view))
}
