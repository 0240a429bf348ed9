//! `/api/v3/expenses` (contract §3.7, CLIENT §6.14; W5): staff and superusers manage the
//! expenses of any existing ticket; `include=ticket` renders only tickets the caller sees.

use super::collab::{delete_with, single_document};
use super::collab::{list_rows, retrieve_row};
use super::errors::ApiResult;
use super::method_not_allowed;
use super::render::{datetime, rendered, to_one, Rendered};
use super::request::{check_accept, linkage, path_id, read_document, Expect};
use super::{AppState, Caller};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use desk_domain::usecases::expenses::{self as usecase, format_amount};
use desk_domain::{Expense, ExpenseId};
use serde_json::json;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/api/v3/expenses")
            .route(web::get().to(list))
            .route(web::head().to(list))
            .route(web::post().to(create))
            .default_service(web::to(method_not_allowed("GET, POST, HEAD, OPTIONS"))),
    )
    .service(
        web::resource("/api/v3/expenses/{id}")
            .route(web::get().to(retrieve))
            .route(web::head().to(retrieve))
            .route(web::put().to(update))
            .route(web::patch().to(update))
            .route(web::delete().to(delete))
            .default_service(web::to(method_not_allowed(
                "GET, PUT, PATCH, DELETE, HEAD, OPTIONS",
            ))),
    );
}

/// An `expenses` resource; the amount as an exact decimal string with four places.
pub fn expense_resource(e: &Expense) -> Rendered {
    rendered(&json!({
        "type": "expenses",
        "id": e.id.to_string(),
        "attributes": {
            "amount": e.amount.as_ref().map(format_amount),
            "amount-currency": e.amount_currency,
            "rating": e.rating,
            "notes": e.notes,
            "scope": e.scope,
            "payment-method": e.payment_method,
            "created-at": datetime(&e.created_at),
            "updated-at": datetime(&e.updated_at),
        },
        "relationships": {
            "user": to_one("profiles", Some(e.user_id.0)),
            "ticket": to_one("tickets", Some(e.ticket_id.0)),
        }
    }))
}

/// Every expense for staff and superusers; an empty list for everybody else.
#[utoipa::path(get, path = "/api/v3/expenses", tag = "expenses",
    params(("filter[ticket]" = Option<i32>, Query), ("filter[user]" = Option<i32>, Query),
           ("filter[scope]" = Option<String>, Query), ("filter[payment_method]" = Option<String>, Query),
           ("filter[created_at__range]" = Option<String>, Query, description = "start,end (inclusive)"),
           ("sort" = Option<String>, Query, description = "created_at, updated_at, with - for descending"),
           ("include" = Option<String>, Query, description = "user, ticket (only tickets the caller may see)"),
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
        |uow, actor, params| usecase::list_expenses(uow, actor, params),
        expense_resource,
    )
    .await
}

#[utoipa::path(get, path = "/api/v3/expenses/{id}", tag = "expenses",
    params(("id" = String, Path), ("include" = Option<String>, Query)),
    responses((status = 200), (status = 401), (status = 404)), security(("bearer" = [])))]
pub async fn retrieve(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = ExpenseId(path_id(&id)?);
    retrieve_row(
        &req,
        &caller,
        &state,
        move |uow, actor| usecase::get_expense(uow, actor, id),
        expense_resource,
    )
    .await
}

/// Record an expense on any existing ticket (staff and superusers).
#[utoipa::path(post, path = "/api/v3/expenses", tag = "expenses",
    request_body(content_type = "application/vnd.api+json", description = "JSON:API document of type expenses: scope, amount, amount-currency, rating, notes, payment-method, created-at, ticket"),
    responses((status = 201), (status = 400), (status = 401), (status = 409), (status = 415), (status = 422)),
    security(("bearer" = [])))]
pub async fn create(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    check_accept(&req)?;
    let input = read_document(&req, payload, Expect::Create { kind: "expenses" }).await?;
    let ticket = linkage(&input, "ticket", "tickets");
    let clock = state.clock.clone();
    let (_, expense) = state
        .run(&caller, move |uow, actor| {
            usecase::create_expense(uow, clock.as_ref(), actor, &input.attributes, &ticket)
        })
        .await?;
    Ok(single_document(
        StatusCode::CREATED,
        expense_resource(&expense),
        None,
    ))
}

/// Change an expense (absent attributes unchanged); no activity.
#[utoipa::path(patch, path = "/api/v3/expenses/{id}", tag = "expenses",
    params(("id" = String, Path)),
    request_body(content_type = "application/vnd.api+json", description = "JSON:API document of type expenses with its id"),
    responses((status = 200), (status = 400), (status = 401), (status = 404), (status = 409), (status = 415), (status = 422)),
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
    let id = ExpenseId(path_id(&raw_id)?);
    let input = read_document(
        &req,
        payload,
        Expect::Update {
            kind: "expenses",
            url_id: &raw_id,
        },
    )
    .await?;
    let ticket = linkage(&input, "ticket", "tickets");
    let clock = state.clock.clone();
    let (_, expense) = state
        .run(&caller, move |uow, actor| {
            usecase::update_expense(uow, clock.as_ref(), actor, id, &input.attributes, &ticket)
        })
        .await?;
    Ok(single_document(
        StatusCode::OK,
        expense_resource(&expense),
        None,
    ))
}

#[utoipa::path(delete, path = "/api/v3/expenses/{id}", tag = "expenses",
    params(("id" = String, Path)),
    responses((status = 204), (status = 401), (status = 404)), security(("bearer" = [])))]
pub async fn delete(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = ExpenseId(path_id(&id)?);
    let clock = state.clock.clone();
    delete_with(&state, &caller, move |uow, actor| {
        usecase::delete_expense(uow, clock.as_ref(), actor, id)
    })
    .await
}
