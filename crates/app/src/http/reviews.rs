//! `POST /api/v3/reviews` (contract §3.8, CLIENT §6.15 and §8; W4): the anonymous review
//! form. No `Caller`: the e-mailed token is the only credential, and it names the ticket
//! (the body's `ticket` relationship is ignored). Every other method is 405, also for
//! anonymous callers (RV1).

use super::errors::{ApiError, ApiResult, JSONAPI};
use super::render::datetime;
use super::request::{check_accept, read_document, Expect};
use super::{document, AppState};
use actix_web::http::{header, Method, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use desk_domain::usecases::reviews as usecase;
use desk_domain::Review;
use serde_json::json;

const ALLOW: &str = "POST, OPTIONS";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/api/v3/reviews")
            .route(web::post().to(create))
            .default_service(web::to(not_allowed)),
    );
}

/// 405 for anyone (no authentication needed to learn that only POST exists here).
async fn not_allowed(req: HttpRequest) -> ApiResult<HttpResponse> {
    if req.method() == Method::OPTIONS {
        return Ok(HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, JSONAPI))
            .insert_header((header::ALLOW, ALLOW))
            .body(json!({"data": {"allowed_methods": ["POST", "OPTIONS"]}}).to_string()));
    }
    Err(ApiError::MethodNotAllowed {
        method: req.method().to_string(),
        allow: ALLOW,
    })
}

pub fn review_resource(r: &Review) -> serde_json::Value {
    json!({
        "type": "reviews",
        "id": r.id.0.to_string(),
        "attributes": {
            "rating": r.rating,
            "link": r.link,
            "body": r.body,
            "created-at": datetime(&r.created_at),
            "token": null,
        },
    })
}

/// Store a review, identified by the single-use token of a review-request e-mail.
#[utoipa::path(post, path = "/api/v3/reviews", tag = "reviews",
    request_body(content_type = "application/vnd.api+json", description = "JSON:API document of type reviews: rating (0-3), link, body, token"),
    responses((status = 201), (status = 400), (status = 405), (status = 415),
              (status = 422, description = "invalid attributes, or any token that is not valid, unexpired and unused: Ticket not found.")))]
pub async fn create(
    req: HttpRequest,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    check_accept(&req)?;
    let input = read_document(&req, payload, Expect::Create { kind: "reviews" }).await?;
    let db = state.db.clone();
    let clock = state.clock.clone();
    let key = state.settings.review_tokens.clone();
    // The ticket the client names (relationship, or attribute object): only checked
    // against the token's.
    let named = [
        input
            .relationships
            .get("ticket")
            .and_then(|t| t.get("data")),
        input.attributes.get("ticket"),
    ]
    .into_iter()
    .flatten()
    .find_map(|t| match t.get("id")? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    });
    let review = state
        .blocking(move || {
            db.in_transaction(None, |uow| {
                usecase::create_review(
                    uow,
                    clock.as_ref(),
                    &key,
                    &input.attributes,
                    named.as_deref(),
                )
            })
        })
        .await
        .map_err(|_| ApiError::Internal)?
        .map_err(ApiError::from)?;
    Ok(document(
        StatusCode::CREATED,
        json!({"data": review_resource(&review)}),
    ))
}
