//! CSRF defence for cookie sessions (decision W1) and CORS for the allow-list.
//!
//! A browser attaches the session cookie to cross-site requests (`SameSite=Lax` still sends it
//! on top-level navigations), so every unsafe request authenticated by the cookie must prove
//! it comes from one of our origins: its `Origin` header (sent by every current browser on
//! POST/PUT/PATCH/DELETE) must be the public origin or an entry of `DESK_CORS_ORIGINS`;
//! without `Origin`, `Sec-Fetch-Site: same-origin` is accepted. Bearer requests carry no
//! ambient credential and are exempt.

use super::accounts::WebSettings;
use super::AppState;
use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest, HttpResponse};

/// Methods that change something.
pub fn is_unsafe(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

fn origin_allowed(web: &WebSettings, origin: &str) -> bool {
    let public = web
        .public_url
        .as_ref()
        .map(|u| u.origin().ascii_serialization());
    public.as_deref() == Some(origin) || web.cors_origins.iter().any(|o| o == origin)
}

/// Whether a cookie-authenticated unsafe request comes from one of our origins.
pub fn same_site_request(req: &HttpRequest, web: &WebSettings) -> bool {
    match req.headers().get(header::ORIGIN).map(HeaderValue::to_str) {
        Some(Ok(origin)) => origin_allowed(web, origin),
        Some(Err(_)) => false,
        None => {
            req.headers()
                .get("sec-fetch-site")
                .and_then(|v| v.to_str().ok())
                == Some("same-origin")
        }
    }
}

const ALLOW_METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS";
const ALLOW_HEADERS: &str = "accept, authorization, content-type, x-requested-with";

/// CORS: preflights from allow-listed origins are answered here (with credentials); actual
/// responses to them get `Access-Control-Allow-Origin`. Unknown origins get no CORS headers,
/// so the browser keeps the answer from the calling page.
pub async fn cors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<BoxBody>>, actix_web::Error> {
    let allowed_origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .filter(|origin| {
            req.app_data::<web::Data<AppState>>()
                .is_some_and(|state| state.web.cors_origins.iter().any(|o| o == origin))
        })
        .map(str::to_owned);
    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if let (true, Some(origin)) = (preflight, &allowed_origin) {
        let response = HttpResponse::NoContent()
            .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.as_str()))
            .insert_header((header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true"))
            .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, ALLOW_METHODS))
            .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS))
            .insert_header((header::ACCESS_CONTROL_MAX_AGE, "86400"))
            .insert_header((header::VARY, "Origin"))
            .finish();
        return Ok(req.into_response(response).map_into_right_body());
    }
    let mut response = next.call(req).await?;
    let headers = response.headers_mut();
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = allowed_origin.and_then(|o| HeaderValue::from_str(&o).ok()) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
    Ok(response.map_body(|_, body| EitherBody::left(body.boxed())))
}
