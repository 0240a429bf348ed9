//! The HTTP adapter: translates requests into use-case calls and results into JSON:API
//! documents. No rule of the desk lives here; the domain decides, this layer only speaks HTTP.

pub mod accounts;
pub mod activities;
pub mod attachments;
pub mod client_bundle;
pub mod collab;
pub mod comments;
pub mod csrf;
pub mod errors;
pub mod expenses;
pub mod exports;
pub mod ops;
pub mod profiles;
pub mod render;
pub mod request;
pub mod responders;
pub mod reviews;
pub mod stats;
pub mod subscribers;
pub mod tickets;

use crate::metrics::Metrics;
use actix_web::dev::Payload;
use actix_web::http::{header, Method};
use actix_web::{web, FromRequest, HttpRequest, HttpResponse};
use desk_auth::BearerVerifier;
use desk_domain::error::DomainResult;
use desk_domain::ports::{Clock, IdentityClaims};
use desk_domain::usecases::identity::{sign_in, sign_in_viewing, view_if_signed_in};
use desk_domain::{Actor, ProfileView};
use desk_persistence::{Database, PgUnitOfWork};
use errors::{ApiError, ApiResult, JSONAPI};
use futures_util::future::LocalBoxFuture;
use std::sync::Arc;

/// Settings the handlers read (a subset of the configuration, without secrets).
#[derive(Debug, Clone, Default)]
pub struct ApiSettings {
    pub member_centers: Vec<String>,
    pub expense_scopes: Vec<String>,
    /// Where attachments go and how large they may be.
    pub uploads: crate::files::UploadSettings,
    /// The key of review tokens (derived from `DESK_SECRET_KEY`, W4).
    pub review_tokens: crate::reviews_cli::ReviewKey,
}

/// Shared by every worker thread.
pub struct AppState {
    pub db: Database,
    pub verifier: BearerVerifier,
    pub clock: Arc<dyn Clock>,
    pub settings: ApiSettings,
    pub metrics: Metrics,
    /// Browser side: public origin, sessions, CORS, client bundle.
    pub web: accounts::WebSettings,
    /// The OpenID Connect code-flow client; `None` when browser login is not configured.
    pub browser: Option<Arc<desk_auth::browser::BrowserClient>>,
    /// One permit per database connection (see [`AppState::blocking`]).
    pub db_slots: Arc<tokio::sync::Semaphore>,
}

/// How a request authenticates.
#[derive(Debug, Clone)]
pub enum Credential {
    /// A verified bearer token's claims.
    Bearer(IdentityClaims),
    /// The hash of a session cookie's token; checked (expiry, active profile) by
    /// [`AppState::run`] in the request's transaction.
    Session(Vec<u8>),
}

/// The identity behind a request, by bearer token or by session cookie (anonymous callers
/// never get this far: 401). Cookie-authenticated unsafe requests must pass the CSRF origin
/// check (W1) before they get here; bearer requests are exempt.
#[derive(Debug, Clone)]
pub struct Caller {
    pub credential: Credential,
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(|t| t.trim().to_string());
        let session = match (&state, &token) {
            (Some(state), None) => accounts::session_token_hash(req, &state.web).map(|hash| {
                let same_site =
                    !csrf::is_unsafe(req.method()) || csrf::same_site_request(req, &state.web);
                (hash, same_site)
            }),
            _ => None,
        };
        Box::pin(async move {
            let state = state.ok_or(ApiError::Internal)?;
            if let Some((hash, same_site)) = session {
                return if same_site {
                    Ok(Caller {
                        credential: Credential::Session(hash),
                    })
                } else {
                    Err(ApiError::Forbidden)
                };
            }
            let token = token
                .filter(|t| !t.is_empty())
                .ok_or(ApiError::Unauthenticated)?;
            match state.verifier.verify(&token).await {
                Ok(claims) => Ok(Caller {
                    credential: Credential::Bearer(claims),
                }),
                Err(error) if error.is_unavailable() => {
                    tracing::error!(%error, "identity provider unavailable");
                    Err(ApiError::Unavailable)
                }
                Err(error) => {
                    tracing::info!(%error, "bearer token refused");
                    Err(ApiError::InvalidToken)
                }
            }
        })
    }
}

impl AppState {
    /// Runs blocking database work on the blocking pool once a connection is free for it.
    /// Requests beyond the pool's size wait for a permit here, as futures, in arrival order.
    /// Without it they waited as blocking threads parked on the connection pool, woken in no
    /// particular order, so a request could wait behind many later ones: at 16 clients and 4
    /// connections the p99 of `/me` was 7.2 ms, and 4.9 ms with the queue
    /// (docs/performance.md).
    pub async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, actix_web::error::BlockingError> {
        let permit = self.db_permit().await;
        web::block(move || {
            // Held by the work, not by the request's future: a client that goes away
            // mid-request does not free it while the connection is still in use.
            let _permit = permit;
            work()
        })
        .await
    }

    /// A permit for one of the pool's connections, in arrival order; whoever holds it may
    /// take a connection (see [`AppState::blocking`]). The semaphore is never closed; were
    /// it, `None` lets the work go on, bounded by the pool alone.
    pub async fn db_permit(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.db_slots.clone().acquire_owned().await.ok()
    }

    /// Runs `work` for `caller` in ONE database transaction on the blocking pool: the caller's
    /// profile is found or created from the verified claims (roles refreshed), or, for a
    /// session, loaded with the roles stored at login; then the use case runs with that
    /// actor. Commit on success, rollback on any error. An expired session, or one whose
    /// profile is inactive, is 401.
    pub async fn run<T, F>(&self, caller: &Caller, work: F) -> ApiResult<(Actor, T)>
    where
        T: Send + 'static,
        F: FnOnce(&mut PgUnitOfWork<'_>, &Actor) -> DomainResult<T> + Send + 'static,
    {
        let db = self.db.clone();
        let credential = caller.credential.clone();
        let policy = self.web.session;
        let now = self.clock.now();
        let outcome = self
            .blocking(move || {
                db.in_transaction(None, |uow| {
                    let actor = match &credential {
                        Credential::Bearer(claims) => sign_in(uow, claims)?.0,
                        Credential::Session(hash) => {
                            match desk_domain::usecases::sessions::authenticate(
                                uow, &policy, now, hash,
                            )? {
                                Some(actor) => actor,
                                // Committed on purpose: the dead session's deletion is kept.
                                None => return Ok(None),
                            }
                        }
                    };
                    uow.set_actor(actor.id)?;
                    let value = work(uow, &actor)?;
                    Ok(Some((actor, value)))
                })
            })
            .await
            .map_err(|_| ApiError::Internal)?;
        outcome
            .map_err(ApiError::from)?
            .ok_or(ApiError::Unauthenticated)
    }

    /// The caller and their own profile document (`GET /me`). A bearer caller's profile and
    /// its `tickets-count` come with the sign-in's look-up, without a transaction unless
    /// signing in has something to write; a session's are read after it.
    pub async fn run_me(&self, caller: &Caller) -> ApiResult<(Actor, ProfileView)> {
        let Credential::Bearer(claims) = &caller.credential else {
            return self
                .run(caller, |uow, actor| {
                    desk_domain::usecases::profiles::me(uow, actor)
                })
                .await;
        };
        let db = self.db.clone();
        let claims = claims.clone();
        self.blocking(move || {
            db.read_first(
                // Usually the answer: a known identity whose profile the claims leave as is.
                |uow| view_if_signed_in(uow, &claims),
                |uow| {
                    let (actor, view) = sign_in_viewing(uow, &claims)?;
                    // Free unless the sign-in created or linked the profile (as in `run`).
                    uow.set_actor(actor.id)?;
                    Ok((actor, view))
                },
            )
        })
        .await
        .map_err(|_| ApiError::Internal)?
        .map_err(ApiError::from)
    }
}

/// A JSON:API success response.
pub fn document(status: actix_web::http::StatusCode, body: serde_json::Value) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, JSONAPI))
        .body(body.to_string())
}

/// The answer for a method a route does not have. Authentication comes first (contract
/// §2.1): the `Caller` argument makes anonymous callers get 401 instead.
pub fn method_not_allowed(
    allow: &'static str,
) -> impl Fn(HttpRequest, Caller) -> std::future::Ready<ApiResult<HttpResponse>> + Clone {
    move |req: HttpRequest, _caller: Caller| {
        if req.method() == Method::OPTIONS {
            return std::future::ready(Ok(options_document(allow)));
        }
        std::future::ready(Err(ApiError::MethodNotAllowed {
            method: req.method().to_string(),
            allow,
        }))
    }
}

/// A minimal OPTIONS answer (clients do not rely on it, contract §3.0).
fn options_document(allow: &'static str) -> HttpResponse {
    let methods: Vec<&str> = allow.split(", ").collect();
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, JSONAPI))
        .insert_header((header::ALLOW, allow))
        .body(serde_json::json!({"data": {"allowed_methods": methods}}).to_string())
}

/// Anything that matches no route (trailing slashes included): a plain HTML 404, as the
/// original answers.
pub async fn no_route() -> HttpResponse {
    HttpResponse::NotFound()
        .content_type("text/html; charset=utf-8")
        .body("<!doctype html><title>Not Found</title><h1>Not Found</h1><p>The requested resource was not found on this server.</p>")
}

/// Registers every route of the API.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/api/v3/me")
            .route(web::get().to(profiles::me))
            .route(web::head().to(profiles::me))
            .default_service(web::to(method_not_allowed("GET, HEAD, OPTIONS"))),
    )
    .service(
        web::resource("/api/v3/profiles")
            .route(web::get().to(profiles::list))
            .route(web::head().to(profiles::list))
            .default_service(web::to(method_not_allowed("GET, HEAD, OPTIONS"))),
    )
    .service(
        web::resource("/api/v3/profiles/{id}")
            .route(web::get().to(profiles::retrieve))
            .route(web::head().to(profiles::retrieve))
            .route(web::put().to(profiles::update))
            .route(web::patch().to(profiles::update))
            .default_service(web::to(method_not_allowed(
                "GET, PUT, PATCH, HEAD, OPTIONS",
            ))),
    )
    .service(
        web::resource("/api/v3/tickets")
            .route(web::get().to(tickets::list))
            .route(web::head().to(tickets::list))
            .route(web::post().to(tickets::create))
            .default_service(web::to(method_not_allowed("GET, POST, HEAD, OPTIONS"))),
    )
    .service(
        web::resource("/api/v3/tickets/{id}")
            .route(web::get().to(tickets::retrieve))
            .route(web::head().to(tickets::retrieve))
            .route(web::put().to(tickets::update))
            .route(web::patch().to(tickets::update))
            .default_service(web::to(method_not_allowed(
                "GET, PUT, PATCH, HEAD, OPTIONS",
            ))),
    )
    .configure(comments::routes)
    .configure(responders::routes)
    .configure(subscribers::routes)
    .configure(activities::routes)
    .configure(attachments::routes)
    .configure(reviews::routes)
    .configure(exports::routes)
    .configure(expenses::routes)
    .configure(stats::routes)
    .configure(accounts::routes)
    .route("/healthz", web::get().to(ops::healthz))
    .route("/readyz", web::get().to(ops::readyz))
    .route("/metrics", web::get().to(ops::metrics))
    .route("/api/v3/openapi.json", web::get().to(ops::openapi));
}
