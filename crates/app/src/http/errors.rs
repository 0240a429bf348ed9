//! JSON:API error documents (contract §2.5, §3.0, §4) and the mapping from domain outcomes.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use desk_domain::{DomainError, FieldError};
use serde_json::{json, Value};
use std::fmt;

pub const JSONAPI: &str = "application/vnd.api+json";

/// Everything a request can end with other than success.
#[derive(Debug)]
pub enum ApiError {
    Unauthenticated,
    InvalidToken,
    Forbidden,
    Refused(&'static str),
    NotFound,
    /// 404 after a successful lookup (ownership checks); carries `source.pointer` `/data`.
    InvalidPage,
    MethodNotAllowed {
        method: String,
        allow: &'static str,
    },
    NotAcceptable,
    UnsupportedMediaType(String),
    PayloadTooLarge(usize),
    /// 400 with a pointer and code, e.g. a body without `data`.
    BadRequest {
        detail: String,
        code: &'static str,
    },
    Conflict(String),
    Invalid(Vec<FieldError>),
    TicketNotFound,
    Unavailable,
    Internal,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self)
    }
}

impl From<DomainError> for ApiError {
    fn from(error: DomainError) -> Self {
        match error {
            DomainError::NotFound => ApiError::NotFound,
            DomainError::InvalidPage => ApiError::InvalidPage,
            DomainError::Forbidden => ApiError::Forbidden,
            DomainError::Invalid(errors) => ApiError::Invalid(errors),
            DomainError::TicketNotFound => ApiError::TicketNotFound,
            DomainError::Refused(message) => ApiError::Refused(message),
            DomainError::Storage(message) => {
                tracing::error!(error = %message, "storage failure");
                ApiError::Unavailable
            }
        }
    }
}

fn error_object(detail: &str, status: StatusCode, code: &str, pointer: Option<&str>) -> Value {
    let mut object = json!({"detail": detail, "status": status.as_u16().to_string()});
    if let Some(pointer) = pointer {
        object["source"] = json!({"pointer": pointer});
    }
    object["code"] = json!(code);
    object
}

impl ApiError {
    fn body(&self) -> Value {
        let status = self.status_code();
        let errors = match self {
            ApiError::Unauthenticated => vec![error_object(
                "Authentication credentials were not provided.",
                status,
                "not_authenticated",
                Some("/data"),
            )],
            ApiError::InvalidToken => vec![error_object(
                "The access token is invalid or has expired.",
                status,
                "authentication_failed",
                Some("/data"),
            )],
            ApiError::Forbidden => vec![error_object(
                "You do not have permission to perform this action.",
                status,
                "permission_denied",
                Some("/data"),
            )],
            ApiError::Refused(message) => vec![error_object(
                message,
                status,
                "permission_denied",
                Some("/data"),
            )],
            ApiError::NotFound => vec![error_object("Not found.", status, "not_found", None)],
            ApiError::InvalidPage => vec![error_object(
                "Invalid page.",
                status,
                "not_found",
                Some("/data"),
            )],
            ApiError::MethodNotAllowed { method, .. } => vec![error_object(
                &format!("Method \"{method}\" not allowed."),
                status,
                "method_not_allowed",
                Some("/data"),
            )],
            ApiError::NotAcceptable => {
                vec![error_object(
                    "Could not satisfy the request Accept header.",
                    status,
                    "not_acceptable",
                    Some("/data"),
                )]
            }
            ApiError::UnsupportedMediaType(media) => vec![error_object(
                &format!("Unsupported media type \"{media}\" in request."),
                status,
                "unsupported_media_type",
                Some("/data"),
            )],
            ApiError::PayloadTooLarge(limit) => vec![error_object(
                &format!("The request body is larger than the limit of {limit} bytes."),
                status,
                "payload_too_large",
                Some("/data"),
            )],
            ApiError::BadRequest { detail, code } => {
                vec![error_object(detail, status, code, Some("/data"))]
            }
            ApiError::Conflict(detail) => {
                vec![error_object(detail, status, "error", Some("/data"))]
            }
            ApiError::Invalid(errors) => errors
                .iter()
                .map(|e| error_object(&e.detail, status, e.code, Some(&e.pointer)))
                .collect(),
            ApiError::TicketNotFound => {
                vec![
                    json!({"detail": "Ticket not found.", "source": {"pointer": "/data/attributes/ticket"}}),
                ]
            }
            ApiError::Unavailable => vec![error_object(
                "The service is temporarily unavailable. Please try again.",
                status,
                "unavailable",
                None,
            )],
            ApiError::Internal => vec![error_object(
                "A server error occurred.",
                status,
                "error",
                None,
            )],
        };
        json!({ "errors": errors })
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Unauthenticated | ApiError::InvalidToken => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden | ApiError::Refused(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound | ApiError::InvalidPage => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Invalid(_) | ApiError::TicketNotFound => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, JSONAPI));
        match self {
            ApiError::Unauthenticated => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            ApiError::InvalidToken => {
                response
                    .insert_header((header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\""));
            }
            ApiError::MethodNotAllowed { allow, .. } => {
                response.insert_header((header::ALLOW, *allow));
            }
            _ => {}
        }
        response.body(self.body().to_string())
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
