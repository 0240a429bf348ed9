//! HTTP side of [`LocalIssuer`]: the discovery document and the JWKS, served by actix-web,
//! and the browser endpoints of [`super::browser`] (404 until browser login is enabled).
//!
//! [`LocalIssuer::serve`] runs a standalone server (tests, demo); [`configure`] mounts the
//! same routes into another actix-web `App`.

use std::io;
use std::net::{SocketAddr, TcpListener};

use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpResponse, HttpServer};

use super::{browser, LocalIssuer, DISCOVERY_PATH, JWKS_PATH};

/// Realm name used by [`LocalIssuer::serve`], giving Keycloak's `/realms/desk` layout.
pub const DEFAULT_REALM: &str = "desk";

const AUTH_PATH: &str = "/protocol/openid-connect/auth";
const TOKEN_PATH: &str = "/protocol/openid-connect/token";
const LOGOUT_PATH: &str = "/protocol/openid-connect/logout";

#[derive(Clone)]
pub(super) struct IssuerState {
    pub(super) issuer: LocalIssuer,
    pub(super) issuer_url: String,
}

async fn discovery(state: web::Data<IssuerState>) -> HttpResponse {
    HttpResponse::Ok().json(state.issuer.discovery_document(&state.issuer_url))
}

async fn certs(state: web::Data<IssuerState>) -> HttpResponse {
    state.issuer.record_jwks_fetch();
    HttpResponse::Ok().json(state.issuer.jwks())
}

/// Mounts `GET {path}/.well-known/openid-configuration`,
/// `GET {path}/protocol/openid-connect/certs` and the browser endpoints (`…/auth`, `…/token`,
/// `…/logout`), where `{path}` is the path of `issuer_url` (e.g. `/realms/desk`). The
/// discovery document names `issuer_url` verbatim, never the request's `Host`.
pub fn configure(cfg: &mut web::ServiceConfig, issuer: LocalIssuer, issuer_url: &str) {
    let issuer_url = issuer_url.trim_end_matches('/').to_owned();
    let path = url::Url::parse(&issuer_url)
        .map(|u| u.path().trim_end_matches('/').to_owned())
        .unwrap_or_default();
    let state = web::Data::new(IssuerState { issuer, issuer_url });
    cfg.service(
        web::scope(&path)
            .app_data(state)
            .route(DISCOVERY_PATH, web::get().to(discovery))
            .route(JWKS_PATH, web::get().to(certs))
            .route(AUTH_PATH, web::get().to(browser::authorize_page))
            .route(AUTH_PATH, web::post().to(browser::authorize_choice))
            .route(TOKEN_PATH, web::post().to(browser::token))
            .route(LOGOUT_PATH, web::get().to(browser::end_session)),
    );
}

/// A [`LocalIssuer`] being served over HTTP. Dropping it stops the server.
pub struct RunningIssuer {
    /// The issuer URL, e.g. `http://127.0.0.1:41234/realms/desk` (no trailing slash).
    pub url: String,
    /// The actix-web server handle (stop, pause, resume).
    pub handle: ServerHandle,
    issuer: LocalIssuer,
    task: Option<tokio::task::JoinHandle<io::Result<()>>>,
}

impl RunningIssuer {
    /// The issuer being served (mint tokens, rotate keys).
    pub fn issuer(&self) -> &LocalIssuer {
        &self.issuer
    }

    /// How many times the JWKS has been fetched.
    pub fn jwks_fetch_count(&self) -> usize {
        self.issuer.jwks_fetch_count()
    }

    /// Stops the server and waits until it no longer accepts connections.
    pub async fn stop(mut self) {
        self.handle.stop(false).await;
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningIssuer {
    fn drop(&mut self) {
        if self.task.is_some() {
            // The stop command is sent when `stop` is called; awaiting only waits for it.
            drop(self.handle.stop(false));
        }
    }
}

impl std::fmt::Debug for RunningIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningIssuer")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl LocalIssuer {
    /// Serves this issuer on `addr` (use `127.0.0.1:0` for a free port) under the realm
    /// [`DEFAULT_REALM`]. Must be called inside a Tokio runtime.
    pub async fn serve(&self, addr: SocketAddr) -> io::Result<RunningIssuer> {
        self.serve_realm(addr, DEFAULT_REALM).await
    }

    /// Like [`serve`](Self::serve) with the issuer URL `http://{addr}/realms/{realm}`.
    pub async fn serve_realm(&self, addr: SocketAddr, realm: &str) -> io::Result<RunningIssuer> {
        let listener = TcpListener::bind(addr)?;
        let local = listener.local_addr()?;
        let url = format!("http://{local}/realms/{realm}");
        let issuer = self.clone();
        let factory_url = url.clone();
        let server = HttpServer::new(move || {
            let issuer = issuer.clone();
            let url = factory_url.clone();
            App::new().configure(move |cfg| configure(cfg, issuer, &url))
        })
        // One worker is plenty for a provider of a few people; signals belong to the host process.
        .workers(1)
        .disable_signals()
        .shutdown_timeout(1)
        .listen(listener)?
        .run();
        let handle = server.handle();
        let task = tokio::spawn(server);
        tracing::debug!(%url, "local OpenID issuer listening");
        Ok(RunningIssuer {
            url,
            handle,
            issuer: self.clone(),
            task: Some(task),
        })
    }
}
