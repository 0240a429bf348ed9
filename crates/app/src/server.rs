//! Building the HTTP application and running the server.

use crate::config::ServeSettings;
use crate::http::accounts::WebSettings;
use crate::http::{self, ApiSettings, AppState};
use crate::metrics::{self, Metrics};
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, DefaultHeaders};
use actix_web::{web, App, HttpServer};
use desk_auth::browser::{BrowserClient, BrowserSettings};
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
    let web_settings = state.web.clone();
    App::new()
        .app_data(state)
        .wrap(from_fn(http::csrf::cors))
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
        .configure(move |cfg| http::client_bundle::configure(cfg, &web_settings))
        .default_service(web::to(http::no_route))
}

/// Builds the shared state from validated settings and an open database (no browser side).
pub fn state(
    settings: &ServeSettings,
    db: Database,
    clock: Arc<dyn Clock>,
) -> Result<web::Data<AppState>, StartupError> {
    state_with_web(settings, WebSettings::default(), db, clock)
}

/// Like [`state`], with the browser side: login, sessions, CORS, client bundle. Review
/// tokens use this process's key (see [`state_with_reviews`]).
pub fn state_with_web(
    settings: &ServeSettings,
    web_settings: WebSettings,
    db: Database,
    clock: Arc<dyn Clock>,
) -> Result<web::Data<AppState>, StartupError> {
    state_with_reviews(settings, web_settings, db, clock, Default::default())
}

/// Like [`state_with_web`], with the review-token key of the configuration.
pub fn state_with_reviews(
    settings: &ServeSettings,
    web_settings: WebSettings,
    db: Database,
    clock: Arc<dyn Clock>,
    review_tokens: crate::reviews_cli::ReviewKey,
) -> Result<web::Data<AppState>, StartupError> {
    let browser = match (&web_settings.browser, web_settings.base_url()) {
        (Some(login), Some(base)) => Some(Arc::new(
            BrowserClient::new(
                BrowserSettings {
                    issuer: settings.issuer.clone(),
                    client_id: settings.client_id.clone(),
                    client_secret: login.client_secret.0.clone(),
                    redirect_url: format!("{base}{}", http::accounts::CALLBACK_PATH),
                },
                desk_auth::browser::http_client().map_err(|e| StartupError(e.to_string()))?,
            )
            .with_clock({
                let clock = clock.clone();
                Arc::new(move || clock.now())
            }),
        )),
        _ => None,
    };
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
    let db_slots = Arc::new(tokio::sync::Semaphore::new(db.max_connections() as usize));
    Ok(web::Data::new(AppState {
        db,
        db_slots,
        verifier,
        clock,
        settings: ApiSettings {
            member_centers: settings.member_centers.clone(),
            expense_scopes: settings.expense_scopes.clone(),
            uploads: crate::files::UploadSettings {
                media_root: settings.media_root.clone(),
                max_bytes: settings.max_upload_bytes,
            },
            review_tokens,
        },
        metrics: Metrics::new(),
        web: web_settings,
        browser,
    }))
}

/// The system clock, shared.
pub fn system_clock() -> Arc<dyn Clock> {
    Arc::new(SystemClock)
}

/// Serves until SIGINT/SIGTERM (actix handles both and drains connections).
pub async fn run(state: web::Data<AppState>, listener: TcpListener) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    // Staged uploads a crashed process left behind; an hour idle is surely not in progress.
    let files = crate::files::FsFileStore::new(state.settings.uploads.media_root.clone());
    match files.sweep_staging(std::time::Duration::from_secs(3600)) {
        Ok(0) => {}
        Ok(removed) => tracing::info!(removed, "stale staged uploads removed"),
        Err(error) => tracing::warn!(%error, "staged uploads not swept"),
    }
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
