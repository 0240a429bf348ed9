//! `/api/v3/attachments` and `/api/v3/download/{id}` (contract §1.6, §3.3, §3.4, CLIENT §7;
//! W13). Uploads are streamed to a staging file (never held in memory), counted against the
//! limit while they arrive, sniffed from their first bytes, then moved into the file store.

use super::collab::single_document;
use super::collab::{list_rows, retrieve_row};
use super::errors::{ApiError, ApiResult};
use super::method_not_allowed;
use super::render::attachment_resource;
use super::request::{check_accept, link_value, linkage, path_id, read_document, Expect};
use super::{AppState, Caller};
use crate::files::FsFileStore;
use actix_multipart::Multipart;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use desk_domain::ports::FileStore;
use desk_domain::usecases::attachments::{
    self as usecase, clean_file_name, StoredUpload, UploadInput,
};
use desk_domain::usecases::collaboration::Link;
use desk_domain::AttachmentId;
use futures_util::StreamExt;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use std::path::{Path, PathBuf};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Bytes kept from the start of a file for content sniffing.
const SNIFF_BYTES: usize = 8192;
/// Largest non-file form field (the `ticket` identifier).
const MAX_FIELD_BYTES: usize = 16 * 1024;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/api/v3/attachments")
            .route(web::get().to(list))
            .route(web::head().to(list))
            .route(web::post().to(create))
            .default_service(web::to(method_not_allowed("GET, POST, HEAD, OPTIONS"))),
    )
    .service(
        web::resource("/api/v3/attachments/{id}")
            .route(web::get().to(retrieve))
            .route(web::head().to(retrieve))
            .route(web::delete().to(delete))
            .default_service(web::to(method_not_allowed("GET, DELETE, HEAD, OPTIONS"))),
    )
    .service(
        web::resource("/api/v3/download/{id}")
            .route(web::get().to(download))
            .route(web::head().to(download))
            .default_service(web::to(method_not_allowed("GET, HEAD, OPTIONS"))),
    );
}

fn store(state: &AppState) -> FsFileStore {
    FsFileStore::new(state.settings.uploads.media_root.clone())
}

/// Attachments of the tickets the caller sees.
#[utoipa::path(get, path = "/api/v3/attachments", tag = "attachments",
    params(("filter[ticket]" = Option<i32>, Query), ("filter[user]" = Option<i32>, Query),
           ("filter[created_at__range]" = Option<String>, Query), ("sort" = Option<String>, Query),
           ("include" = Option<String>, Query, description = "user, ticket"),
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
        |uow, actor, params| usecase::list_attachments(uow, actor, params),
        |a| attachment_resource(&req, a),
    )
    .await
}

#[utoipa::path(get, path = "/api/v3/attachments/{id}", tag = "attachments",
    params(("id" = String, Path), ("include" = Option<String>, Query)),
    responses((status = 200), (status = 401), (status = 404)), security(("bearer" = [])))]
pub async fn retrieve(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = AttachmentId(path_id(&id)?);
    retrieve_row(
        &req,
        &caller,
        &state,
        move |uow, actor| usecase::get_attachment(uow, actor, id),
        |a| attachment_resource(&req, a),
    )
    .await
}

/// What the multipart form carried.
struct Received {
    ticket: Link,
    upload: UploadInput,
    /// The staged file, until it is in the store.
    staged: Option<StagedFile>,
}

/// A staging file that is removed when dropped. A client that goes away mid-upload makes
/// actix drop the request future at an `.await`, where no async clean-up can run: only a
/// destructor does. (Unlinking is a quick metadata call, fine on the async thread.)
struct StagedFile(Option<PathBuf>);

impl StagedFile {
    fn path(&self) -> &Path {
        self.0
            .as_deref()
            .expect("a staged file has a path until it is handed over")
    }

    /// The file was moved into the store: nothing left to remove.
    fn handed_over(mut self) {
        self.0 = None;
    }
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn bad_upload() -> ApiError {
    ApiError::BadRequest {
        detail: "The multipart request body could not be read.".into(),
        code: "parse_error",
    }
}

/// Streams one file part to a staging file, counting bytes against the limit.
async fn stage_file(
    field: &mut actix_multipart::Field,
    path: &Path,
    limit: u64,
) -> ApiResult<(u64, Vec<u8>)> {
    let mut file = tokio::fs::File::create(path)
        .await
        .map_err(|_| ApiError::Unavailable)?;
    let mut size: u64 = 0;
    let mut head = Vec::new();
    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(|_| bad_upload())?;
        size += chunk.len() as u64;
        if size > limit {
            return Err(ApiError::PayloadTooLarge(
                usize::try_from(limit).unwrap_or(usize::MAX),
            ));
        }
        if head.len() < SNIFF_BYTES {
            let take = (SNIFF_BYTES - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..take]);
        }
        file.write_all(&chunk)
            .await
            .map_err(|_| ApiError::Unavailable)?;
    }
    file.flush().await.map_err(|_| ApiError::Unavailable)?;
    Ok((size, head))
}

async fn read_field(field: &mut actix_multipart::Field) -> ApiResult<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(chunk) = field.next().await {
        let chunk = chunk.map_err(|_| bad_upload())?;
        if out.len() + chunk.len() > MAX_FIELD_BYTES {
            return Err(bad_upload());
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Reads the form: `ticket` (the identifier object as JSON text) and the `upload` file; other
/// parts (the client adds `Content-Type`) are skipped. On error, or when the client goes
/// away, the staged file is removed (by its guard).
async fn receive(mut form: Multipart, store: &FsFileStore, limit: u64) -> ApiResult<Received> {
    let mut received = Received {
        ticket: Link::Absent,
        upload: UploadInput::Missing,
        staged: None,
    };
    while let Some(field) = form.next().await {
        let mut field = field.map_err(|_| bad_upload())?;
        let name = field.name().unwrap_or("").to_string();
        let file_name = field
            .content_disposition()
            .and_then(|d| d.get_filename())
            .map(str::to_string);
        match (name.as_str(), file_name) {
            ("upload", Some(file_name)) if received.staged.is_none() => {
                let path = store.staging_path().map_err(|_| ApiError::Unavailable)?;
                let staged = received.staged.insert(StagedFile(Some(path)));
                let (size, head) = stage_file(&mut field, staged.path(), limit).await?;
                received.upload = if size == 0 {
                    UploadInput::Empty
                } else {
                    UploadInput::Stored(StoredUpload {
                        storage_key: String::new(),
                        file_name: clean_file_name(&file_name),
                        file_size: i64::try_from(size).unwrap_or(i64::MAX),
                        mime_type: infer::get(&head).map(|t| t.mime_type().to_string()),
                    })
                };
            }
            ("ticket", _) => {
                let raw = read_field(&mut field).await?;
                received.ticket = match serde_json::from_slice(&raw) {
                    Ok(value) => link_value("ticket", "tickets", &value),
                    // A bare id (`5`) parses as a number above; other text is no object.
                    Err(_) => link_value(
                        "ticket",
                        "tickets",
                        &serde_json::Value::String(String::from_utf8_lossy(&raw).into()),
                    ),
                };
            }
            _ => while field.next().await.is_some() {},
        }
    }
    Ok(received)
}

fn is_multipart(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        })
}

/// Upload a file to a ticket the caller takes part in (multipart: `ticket`, `upload`).
#[utoipa::path(post, path = "/api/v3/attachments", tag = "attachments",
    request_body(content_type = "multipart/form-data", description = "ticket: JSON identifier object; upload: the file"),
    responses((status = 201), (status = 400), (status = 401), (status = 413), (status = 415), (status = 422)),
    security(("bearer" = [])))]
pub async fn create(
    req: HttpRequest,
    caller: Caller,
    state: web::Data<AppState>,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    check_accept(&req)?;
    let files = store(&state);
    let mut received = if is_multipart(&req) {
        let form = Multipart::new(req.headers(), payload.into_inner());
        receive(form, &files, state.settings.uploads.max_bytes).await?
    } else {
        // A JSON:API document cannot carry a file: validated as such, then "No file".
        let input = read_document(
            &req,
            payload,
            Expect::Create {
                kind: "attachments",
            },
        )
        .await?;
        Received {
            ticket: linkage(&input, "ticket", "tickets"),
            upload: UploadInput::Missing,
            staged: None,
        }
    };
    // Into the store before the row exists; removed again if the row is refused. A staged
    // file that is not stored (empty upload) is removed by its guard at the end of this `if`.
    if let (UploadInput::Stored(file), Some(staged)) =
        (&mut received.upload, received.staged.take())
    {
        let (store_, path) = (files.clone(), staged.path().to_path_buf());
        file.storage_key = web::block(move || store_.put(&path))
            .await
            .map_err(|_| ApiError::Internal)??;
        staged.handed_over();
    }
    let key = match &received.upload {
        UploadInput::Stored(file) => Some(file.storage_key.clone()),
        _ => None,
    };
    let clock = state.clock.clone();
    let (ticket, upload) = (received.ticket, received.upload);
    let outcome = state
        .run(&caller, move |uow, actor| {
            usecase::create_attachment(uow, clock.as_ref(), actor, &ticket, &upload)
        })
        .await;
    match outcome {
        Ok((_, attachment)) => Ok(single_document(
            StatusCode::CREATED,
            attachment_resource(&req, &attachment),
            None,
        )),
        Err(error) => {
            if let Some(key) = key {
                let _ = web::block(move || files.delete(&key)).await;
            }
            Err(error)
        }
    }
}

/// Delete an attachment (uploader or superuser); its file goes once the row is gone.
#[utoipa::path(delete, path = "/api/v3/attachments/{id}", tag = "attachments",
    params(("id" = String, Path)),
    responses((status = 204), (status = 401), (status = 404)), security(("bearer" = [])))]
pub async fn delete(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = AttachmentId(path_id(&id)?);
    let clock = state.clock.clone();
    let (_, key) = state
        .run(&caller, move |uow, actor| {
            usecase::delete_attachment(uow, clock.as_ref(), actor, id)
        })
        .await?;
    // After the commit (W13): a failed deletion leaves an orphan file, never a dangling row.
    let files = store(&state);
    if let Ok(Err(error)) = web::block(move || files.delete(&key)).await {
        tracing::warn!(%error, "attachment file not deleted");
    }
    Ok(HttpResponse::NoContent().finish())
}

/// RFC 6266 attr-chars stay literal in `filename*`.
const FILENAME_STAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `attachment; filename="…"` for plain ASCII names, else the RFC 5987 `filename*` form.
pub fn content_disposition(name: &str) -> String {
    let plain = name
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\' || b == b' ');
    if plain {
        format!("attachment; filename=\"{name}\"")
    } else {
        format!(
            "attachment; filename*=utf-8''{}",
            utf8_percent_encode(name, FILENAME_STAR)
        )
    }
}

/// The file of a visible attachment, streamed.
#[utoipa::path(get, path = "/api/v3/download/{id}", tag = "attachments",
    params(("id" = String, Path)),
    responses((status = 200, description = "the file, as application/octet-stream"), (status = 401), (status = 404)),
    security(("bearer" = [])))]
pub async fn download(
    caller: Caller,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = AttachmentId(path_id(&id)?);
    let (_, attachment) = state
        .run(&caller, move |uow, actor| usecase::download(uow, actor, id))
        .await?;
    let path = store(&state)
        .path_of(&attachment.upload)
        .ok_or(ApiError::NotFound)?;
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|_| ApiError::NotFound)?;
    let size = file.metadata().await.map_err(|_| ApiError::NotFound)?.len();
    let chunks = futures_util::stream::unfold(file, |mut file| async move {
        let mut buf = vec![0u8; 64 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(web::Bytes::from(buf)), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    });
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header((
            header::CONTENT_DISPOSITION,
            content_disposition(&attachment.file_name),
        ))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .no_chunking(size)
        .streaming(chunks))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_disposition_is_plain_for_ascii_and_encoded_otherwise() {
        assert_eq!(
            content_disposition("my_report.pdf"),
            "attachment; filename=\"my_report.pdf\""
        );
        assert_eq!(
            content_disposition("țеșт_file.txt"),
            "attachment; filename*=utf-8''%C8%9B%D0%B5%C8%99%D1%82_file.txt"
        );
    }
}
