//! Building the HTTP application and running the server.

use crate::config::ServeSettings;
use crate::http::{self, ApiSettings, AppState};
use crate::metrics::{self, Metrics};
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, DefaultHeaders};
use actix_web::{web, App, HttpServer};
use desk_auth::{BearerVerifier, OidcSettings};
use desk_domain::ports::{Clock, SystemClock};
use desk_persistence::Database;
use std::net::TcpListener;
use std::sync::Arc;

/// The application with every route and middleware; used by `serve`, `demo` and the tests.
pub fn app(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    App::new()
        .app_data(state)
        .wrap(from_fn(metrics::record))
        .wrap(
            DefaultHeaders::new()
                .add(("X-Content-Type-Options", "nosniff"))
                .add(("Referrer-Policy", "same-origin"))
                .add(("Cross-Origin-Opener-Policy", "same-origin"))
                .add(("X-Frame-Options", "DENY"))
                .add(("Cache-Control", "no-store")),
        )
        .configure(http::routes)
        .default_service(web::to(http::no_route))
}

/// Builds the shared state from validated settings and an open database.
pub fn state(
    settings: &ServeSettings,
    db: Database,
    clock: Arc<dyn Clock>,
) -> Result<web::Data<AppState>, StartupError> {
    let verifier = BearerVerifier::new(
        OidcSettings {
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            client_id: settings.client_id.clone(),
        },
        desk_auth::reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| StartupError(format!("HTTP client: {e}")))?,
    )
    .map_err(|e| StartupError(e.to_string()))?;
    Ok(web::Data::new(AppState {
        db,
        verifier,
        clock,
        settings: ApiSettings {
            member_centers: settings.member_centers.clone(),
            expense_scopes: settings.expense_scopes.clone(),
        },
        metrics: Metrics::new(),
    }))
}

/// The system clock, shared.
pub fn system_clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

/// Serves until SIGINT/SIGTERM (actix handles both and drains connections).
pub async fn run(state: web::Data<AppState>, listener: TcpListener) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "serving");
    HttpServer::new(move || app(state.clone()))
        .listen(listener)?
        .run()
        .await
}

/// A start-up failure; the message is shown to the operator as is (it never holds secrets).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StartupError(pub String);
