//! The CSV exports (contract §6.1, CLIENT.md §9.2, W9, W10): `GET`/`HEAD` on
//! `/api/v3/ticket-exports`, `/api/v3/expense-exports` and `/api/v3/review-exports`; any
//! other method 405 after authentication; no member routes.
//!
//! Authorization runs first in the request's own transaction (401/403 as JSON:API). The
//! export itself runs on the blocking pool on a dedicated connection and a read-only
//! transaction: rows are read one at a time from the server, written as CSV by the export
//! adapter into a bounded channel, and the response body streams from that channel — memory
//! stays constant whatever the row count, and the first bytes leave before the last row is
//! read. A producer that fails after the first bytes ends the body with an error (the client
//! sees a broken transfer, never a silently truncated file).

use super::errors::{ApiError, ApiResult};
use super::request::query_params;
use super::{method_not_allowed, AppState, Caller};
use actix_web::http::{header, Method};
use actix_web::web::{self, Bytes};
use actix_web::{HttpRequest, HttpResponse};
use desk_domain::usecases::exports::{self as usecase, ExportKind, LinkBase};
use desk_export::CsvExportWriter;
use futures_util::stream::{self, StreamExt};
use std::io;
use tokio::sync::mpsc;

/// Chunks in flight between the producer and the response body (each ≤ 64 KiB).
const CHANNEL_CHUNKS: usize = 4;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/api/v3/ticket-exports")
            .route(web::get().to(ticket_exports))
            .route(web::head().to(ticket_exports))
            .default_service(web::to(method_not_allowed("GET, HEAD, OPTIONS"))),
    )
    .service(
        web::resource("/api/v3/expense-exports")
            .route(web::get().to(expense_exports))
            .route(web::head().to(expense_exports))
            .default_service(web::to(method_not_allowed("GET, HEAD, OPTIONS"))),
    )
    .service(
        web::resource("/api/v3/review-exports")
            .route(web::get().to(review_exports))
            .route(web::head().to(review_exports))
            .default_service(web::to(method_not_allowed("GET, HEAD, OPTIONS"))),
    );
}

/// Every ticket matching the ticket list's filters and sort, as CSV.
#[utoipa::path(get, path = "/api/v3/ticket-exports", tag = "exports",
    params(
        ("filter[status__in]" = Option<String>, Query), ("filter[kind]" = Option<String>, Query),
        ("filter[country]" = Option<String>, Query), ("filter[requester]" = Option<i32>, Query),
        ("filter[responders__user]" = Option<i32>, Query), ("filter[search]" = Option<String>, Query),
        ("filter[created_at__gte]" = Option<String>, Query), ("filter[created_at__lte]" = Option<String>, Query),
        ("sort" = Option<String>, Query, description = "created_at, deadline_at, with - for descending"),
    ),
    responses((status = 200, content_type = "text/csv", description = "Link, Email, Date, Deadline, Status, Kind, RequestType, Priority, RequesterCountry, OriginalCountry, ExtraCountries, MemberCenter, Tags"),
        (status = 401), (status = 403), (status = 405)),
    security(("bearer" = [])))]
pub async fn ticket_exports(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    export(req, caller, state, ExportKind::Tickets).await
}

/// Every expense matching the expense list's filters and sort, as CSV.
#[utoipa::path(get, path = "/api/v3/expense-exports", tag = "exports",
    params(
        ("filter[created_at__range]" = Option<String>, Query), ("filter[scope]" = Option<String>, Query),
        ("filter[payment_method]" = Option<String>, Query), ("filter[ticket]" = Option<i32>, Query),
        ("filter[user]" = Option<i32>, Query),
        ("sort" = Option<String>, Query, description = "created_at, updated_at, with - for descending"),
    ),
    responses((status = 200, content_type = "text/csv", description = "Link, Date, Status, Amount, Currency, Rating, Scope, RequesterCountry, OriginalCountry, ExtraCountries"),
        (status = 401), (status = 403), (status = 405)),
    security(("bearer" = [])))]
pub async fn expense_exports(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    export(req, caller, state, ExportKind::Expenses).await
}

/// Every review, as CSV.
#[utoipa::path(get, path = "/api/v3/review-exports", tag = "exports",
    params(("filter[id]" = Option<i32>, Query), ("filter[created_at__range]" = Option<String>, Query),
        ("sort" = Option<String>, Query, description = "created_at, with - for descending")),
    responses((status = 200, content_type = "text/csv", description = "Ticket, Date, Rating, Link, Comment"),
        (status = 401), (status = 403), (status = 405)),
    security(("bearer" = [])))]
pub async fn review_exports(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    export(req, caller, state, ExportKind::Reviews).await
}

/// An `io::Write` that hands each buffer the CSV writer flushes (≤ 64 KiB) to the response
/// body through a bounded channel: the producer waits while the client is slow, and fails
/// (`BrokenPipe`) once the client went away.
struct ChannelWriter {
    tx: mpsc::Sender<Result<Bytes, io::Error>>,
}

impl io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.tx
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "client went away"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

async fn export(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    kind: ExportKind,
) -> ApiResult<HttpResponse> {
    let params = query_params(&req)?;
    let (actor, ()) = state
        .run(&caller, |_, actor| usecase::authorize(actor))
        .await?;
    let mut response = HttpResponse::Ok();
    response
        .insert_header((header::CONTENT_TYPE, "text/csv; charset=utf-8"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"{}\"",
                kind.file_name(state.clock.now())
            ),
        ));
    if req.method() == Method::HEAD {
        return Ok(response.finish());
    }

    let (tx, mut rx) = mpsc::channel::<Result<Bytes, io::Error>>(CHANNEL_CHUNKS);
    let db = state.db.clone();
    let links = LinkBase::new(state.web.base_url().as_deref());
    // The export holds a pool connection for as long as it streams: it takes its permit
    // like every request, and keeps it until the last row is sent.
    let permit = state.db_permit().await;
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let errors = tx.clone();
        let mut out = CsvExportWriter::new(ChannelWriter { tx });
        let outcome = db.read_only(Some(actor.id), |uow| match kind {
            ExportKind::Tickets => usecase::export_tickets(uow, &mut out, &actor, &params, &links),
            ExportKind::Expenses => {
                usecase::export_expenses(uow, &mut out, &actor, &params, &links)
            }
            ExportKind::Reviews => usecase::export_reviews(uow, &mut out, &actor, &params, &links),
        });
        match outcome {
            Ok(rows) => tracing::info!(export = kind.prefix(), rows, "export done"),
            Err(error) if errors.is_closed() => {
                tracing::info!(export = kind.prefix(), %error, "export abandoned by the client")
            }
            Err(error) => {
                tracing::error!(export = kind.prefix(), %error, "export failed");
                let _ = errors.blocking_send(Err(io::Error::other("export failed")));
            }
        }
    });

    // The first chunk (at least the header line) decides between a 200 and a 500.
    match rx.recv().await {
        Some(Ok(first)) => {
            let rest = stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
            Ok(response.streaming(stream::once(async { Ok::<_, io::Error>(first) }).chain(rest)))
        }
        Some(Err(_)) | None => Err(ApiError::Internal),
    }
}
