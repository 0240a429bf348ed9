//! `/api/v3/activities` (contract §3.11, §3.14, CLIENT §6.9; W8, W27).

use super::collab::{list_body, single_document};
use super::errors::ApiResult;
use super::method_not_allowed;
use super::render::{
    activity_resource, comment_resource, includes, profile_resource, rendered, ticket_resource,
    Rendered,
};
use super::request::{check_accept, path_id, query_params};
use super::{AppState, Caller};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use desk_domain::activity::{ActionObject, Activity};
use desk_domain::usecases::activities::{self as usecase, timeline_objects, TimelineObjects};
use desk_domain::usecases::collaboration::{related, Related};
use desk_domain::{ActivityId, Actor, ProfileId};
use serde_json::json;
use std::collections::BTreeSet;

const INCLUDES: &[&str] = &["user", "comment", "responder-user", "ticket"];

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/api/v3/activities")
            .route(web::get().to(list))
            .route(web::head().to(list))
            .default_service(web::to(method_not_allowed("GET, HEAD, OPTIONS"))),
    )
    .service(
        web::resource("/api/v3/activities/{id}")
            .route(web::get().to(retrieve))
            .route(web::head().to(retrieve))
            .default_service(web::to(method_not_allowed("GET, HEAD, OPTIONS"))),
    );
}

/// Loads what the rows point at, and the included tickets when asked for.
fn load(
    uow: &mut desk_persistence::PgUnitOfWork<'_>,
    actor: &Actor,
    rows: &[Activity],
    paths: &BTreeSet<String>,
) -> desk_domain::error::DomainResult<(TimelineObjects, Related)> {
    let objects = timeline_objects(uow, rows)?;
    let tickets: Vec<_> = if paths.contains("ticket") {
        rows.iter().map(|a| a.ticket).collect()
    } else {
        Vec::new()
    };
    let rel = related(uow, actor, [], tickets)?;
    Ok((objects, rel))
}

/// `included`: comments, then profiles (actors and/or responder-users), then tickets.
fn included(
    actor: &Actor,
    rows: &[Activity],
    objects: &TimelineObjects,
    rel: &Related,
    paths: &BTreeSet<String>,
) -> Vec<Rendered> {
    let mut comments = BTreeSet::new();
    let mut people: BTreeSet<ProfileId> = BTreeSet::new();
    for a in rows {
        if paths.contains("user") {
            people.extend(a.actor);
        }
        match a.action {
            Some(ActionObject::Comment(id)) if paths.contains("comment") => {
                comments.insert(id);
            }
            Some(ActionObject::Profile(id)) if paths.contains("responder-user") => {
                people.insert(id);
            }
            _ => {}
        }
    }
    let mut out: Vec<Rendered> = comments
        .iter()
        .filter_map(|id| objects.comments.get(id))
        .map(comment_resource)
        .collect();
    out.extend(
        people
            .iter()
            .filter_map(|id| objects.profiles.get(id))
            .map(|v| rendered(&profile_resource(actor, v))),
    );
    out.extend(
        rel.tickets
            .iter()
            .map(|t| rendered(&ticket_resource(actor, t, &rel.graph))),
    );
    out
}

/// The timeline of the tickets the caller sees, newest first by default.
#[utoipa::path(get, path = "/api/v3/activities", tag = "activities",
    params(("filter[id]" = Option<i32>, Query), ("filter[id__lt]" = Option<i32>, Query), ("filter[id__gt]" = Option<i32>, Query),
           ("filter[timestamp__range]" = Option<String>, Query), ("filter[target_object_id]" = Option<i32>, Query),
           ("filter[actor_object_id]" = Option<i32>, Query), ("filter[verb]" = Option<String>, Query),
           ("sort" = Option<String>, Query, description = "timestamp or -timestamp (default)"),
           ("include" = Option<String>, Query, description = "user, comment, responder-user, ticket"),
           ("page[number]" = Option<String>, Query), ("page[size]" = Option<i32>, Query)),
    responses((status = 200, description = "activities with meta.first-id and meta.last-id when non-empty"), (status = 400), (status = 401), (status = 404, description = "invalid page")),
    security(("bearer" = [])))]
pub async fn list(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    check_accept(&req)?;
    let params = query_params(&req)?;
    let paths = includes(&params, INCLUDES)?;
    let query = params.clone();
    let wanted = paths.clone();
    let (actor, (timeline, objects, rel)) = state
        .run(&caller, move |uow, actor| {
            let timeline = usecase::list_activities(uow, actor, &query)?;
            let (objects, rel) = load(uow, actor, &timeline.listed.rows, &wanted)?;
            Ok((timeline, objects, rel))
        })
        .await?;
    let rows = &timeline.listed.rows;
    let data = rows
        .iter()
        .map(|a| activity_resource(a, &objects))
        .collect();
    let inc = (!paths.is_empty()).then(|| included(&actor, rows, &objects, &rel, &paths));
    let mut body = list_body(&req, &params, &timeline.listed.page, data, inc);
    // Ids as strings, of the whole filtered set; no meta for an empty one (CLIENT §6.9).
    if let Some((first, last)) = timeline.ends {
        body = body.meta(json!({"first-id": first.to_string(), "last-id": last.to_string()}));
    }
    Ok(body.respond(StatusCode::OK))
}

#[utoipa::path(get, path = "/api/v3/activities/{id}", tag = "activities",
    params(("id" = String, Path), ("include" = Option<String>, Query)),
    responses((status = 200), (status = 401), (status = 404)), security(("bearer" = [])))]
pub async fn retrieve(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    check_accept(&req)?;
    let id = ActivityId(path_id(&id)?);
    let paths = includes(&query_params(&req)?, INCLUDES)?;
    let wanted = paths.clone();
    let (actor, (activity, objects, rel)) = state
        .run(&caller, move |uow, actor| {
            let a = usecase::get_activity(uow, actor, id)?;
            let (objects, rel) = load(uow, actor, std::slice::from_ref(&a), &wanted)?;
            Ok((a, objects, rel))
        })
        .await?;
    let rows = std::slice::from_ref(&activity);
    let inc = (!paths.is_empty()).then(|| included(&actor, rows, &objects, &rel, &paths));
    Ok(single_document(
        StatusCode::OK,
        activity_resource(&activity, &objects),
        inc,
    ))
}
