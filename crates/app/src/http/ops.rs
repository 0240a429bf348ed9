//! Operations endpoints: liveness, readiness, Prometheus metrics, the OpenAPI document.

use super::AppState;
use actix_web::{web, HttpResponse};
use utoipa::OpenApi;

/// The process is alive.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body("ok\n")
}

/// The database answers and its schema is current. No details (they would help an attacker).
#[utoipa::path(get, path = "/readyz", tag = "operations", responses((status = 200), (status = 503)))]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let db = state.db.clone();
    let ready = state
        .blocking(move || db.ping() && db.migrations_current().unwrap_or(false))
        .await
        .unwrap_or(false);
    if ready {
        HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .body("ready\n")
    } else {
        HttpResponse::ServiceUnavailable()
            .content_type("text/plain; charset=utf-8")
            .body("not ready\n")
    }
}

/// Prometheus text format: requests by route and status, latencies, pool usage.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200)))]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let pool = state.db.pool_state();
    state.metrics.set_pool(pool.connections, pool.idle);
    let db = state.db.clone();
    match state.blocking(move || db.queue_stats()).await {
        Ok(Ok(stats)) => state.metrics.set_queue(stats),
        // Keep the last figures; the scrape itself must not fail.
        _ => tracing::warn!("queue figures unavailable for /metrics"),
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Research Desk API", description = "JSON:API for research requests (tickets) and their people."),
    paths(
        healthz, readyz, metrics, openapi,
        super::profiles::me, super::profiles::list, super::profiles::retrieve, super::profiles::update,
        super::tickets::list, super::tickets::retrieve, super::tickets::create, super::tickets::update,
        super::comments::list, super::comments::retrieve, super::comments::create,
        super::responders::list, super::responders::retrieve, super::responders::create, super::responders::delete,
        super::subscribers::list, super::subscribers::retrieve, super::subscribers::create, super::subscribers::delete,
        super::attachments::list, super::attachments::retrieve, super::attachments::create, super::attachments::delete,
        super::attachments::download, super::activities::list, super::activities::retrieve,
        super::reviews::create,
        super::exports::ticket_exports, super::exports::expense_exports, super::exports::review_exports,
        super::expenses::list, super::expenses::retrieve, super::expenses::create, super::expenses::update,
        super::expenses::delete, super::stats::ticket_stats, super::stats::review_stats,
    ),
    modifiers(&BearerScheme),
)]
pub struct ApiDoc;

struct BearerScheme;

impl utoipa::Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// This document: OpenAPI 3.1, generated from the handlers' annotations.
#[utoipa::path(get, path = "/api/v3/openapi.json", tag = "operations", responses((status = 200)))]
pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(ApiDoc::openapi().to_json().unwrap_or_default())
}
