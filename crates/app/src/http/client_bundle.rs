//! Hosting the browser client bundle (`DESK_CLIENT_DIR` under `DESK_CLIENT_PATH`, CLIENT.md
//! §2): files with their content type, `index.html` for every other path below the mount
//! (history routing), `/assets/…` also at the root (the shell fetches `/assets/symbols.svg`).
//!
//! Only regular files strictly inside the directory are served: the decoded path must consist
//! of plain segments (no `..`, `.`, hidden names, backslashes or NULs), so `..%2f` and friends
//! never leave it, and directories are never listed.

use super::accounts::WebSettings;
use super::AppState;
use actix_web::http::{header, Method};
use actix_web::{web, HttpRequest, HttpResponse};
use std::path::{Path, PathBuf};

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "otf" => "font/otf",
        "txt" => "text/plain; charset=utf-8",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

/// A fingerprinted name (`id-3f2a9b1c0d4e.js`, `app.3f2a9b1c.css`): a part of at least eight
/// hex digits. Such a file never changes, so browsers may keep it for a year.
fn is_hashed(name: &str) -> bool {
    name.split(['-', '.', '_'])
        .any(|part| part.len() >= 8 && part.chars().all(|c| c.is_ascii_hexdigit()))
}

/// The file below `root` that `tail` (still percent-encoded) names, if it is a safe name.
/// `Err(())` means a path that tries to leave the directory.
fn resolve(root: &Path, tail: &str) -> Result<PathBuf, ()> {
    let decoded = percent_encoding::percent_decode_str(tail)
        .decode_utf8()
        .map_err(|_| ())?;
    let mut path = root.to_path_buf();
    for segment in decoded.split('/').filter(|s| !s.is_empty()) {
        if segment.starts_with('.') || segment.contains(['\\', '\0', ':']) {
            return Err(());
        }
        path.push(segment);
    }
    Ok(path)
}

async fn file_response(req: &HttpRequest, path: &Path, cache: &str) -> Option<HttpResponse> {
    let meta = tokio::fs::metadata(path).await.ok()?;
    if !meta.is_file() {
        return None;
    }
    let bytes = tokio::fs::read(path).await.ok()?;
    let mut response = HttpResponse::Ok();
    response
        .insert_header((header::CONTENT_TYPE, content_type(path)))
        .insert_header((header::CACHE_CONTROL, cache));
    Some(if req.method() == Method::HEAD {
        response
            .insert_header((header::CONTENT_LENGTH, bytes.len().to_string()))
            .finish()
    } else {
        response.body(bytes)
    })
}

fn cache_for(path: &Path) -> &'static str {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let in_assets = path
        .parent()
        .and_then(|p| p.file_name())
        .is_some_and(|p| p == "assets");
    if in_assets && is_hashed(name) {
        IMMUTABLE
    } else {
        "no-cache"
    }
}

fn bundle_dir(state: &AppState) -> Option<&Path> {
    state.web.client_dir.as_deref()
}

/// `GET {mount}` and `GET {mount}/{tail}`: a file of the bundle, else its `index.html`.
async fn serve(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let Some(root) = bundle_dir(&state) else {
        return super::no_route().await;
    };
    let tail = req.match_info().get("tail").unwrap_or("");
    let Ok(path) = resolve(root, tail) else {
        return super::no_route().await;
    };
    if !tail.is_empty() {
        if let Some(response) = file_response(&req, &path, cache_for(&path)).await {
            return response;
        }
    }
    match file_response(&req, &root.join("index.html"), "no-cache").await {
        Some(response) => response,
        None => super::no_route().await,
    }
}

/// `GET /assets/{tail}`: files only, no fallback.
async fn root_assets(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let Some(root) = bundle_dir(&state) else {
        return super::no_route().await;
    };
    let tail = req.match_info().get("tail").unwrap_or("");
    match resolve(&root.join("assets"), tail) {
        Ok(path) => match file_response(&req, &path, cache_for(&path)).await {
            Some(response) => response,
            None => super::no_route().await,
        },
        Err(()) => super::no_route().await,
    }
}

/// Mounts the bundle when `DESK_CLIENT_DIR` is set. Registered after the API routes, so
/// `/api/…` and `/accounts/…` never reach it.
pub fn configure(cfg: &mut web::ServiceConfig, web_settings: &WebSettings) {
    if web_settings.client_dir.is_none() {
        return;
    }
    let mount = web_settings.client_path.trim_end_matches('/').to_owned();
    cfg.service(
        web::resource("/assets/{tail:.*}")
            .route(web::get().to(root_assets))
            .route(web::head().to(root_assets)),
    );
    if mount.is_empty() {
        // Mounted at the root (CLIENT.md §2.4): everything else but the API's own prefixes.
        cfg.service(
            web::resource("/{tail:.*}")
                .guard(actix_web::guard::fn_guard(|ctx| {
                    let path = ctx.head().uri.path();
                    !["/api/", "/accounts/", "/healthz", "/readyz", "/metrics"]
                        .iter()
                        .any(|p| path.starts_with(p))
                }))
                .route(web::get().to(serve))
                .route(web::head().to(serve)),
        );
    } else {
        cfg.service(
            web::resource(mount.clone())
                .route(web::get().to(serve))
                .route(web::head().to(serve)),
        )
        .service(
            web::resource(format!("{mount}/{{tail:.*}}"))
                .route(web::get().to(serve))
                .route(web::head().to(serve)),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traversal_is_refused() {
        let root = Path::new("/srv/client");
        assert!(resolve(root, "..%2f..%2fetc%2fpasswd").is_err());
        assert!(resolve(root, "assets/%2e%2e/x").is_err());
        assert!(resolve(root, "a%5c..%5cb").is_err());
        assert_eq!(
            resolve(root, "assets/id.js").unwrap(),
            Path::new("/srv/client/assets/id.js")
        );
    }

    #[test]
    fn fingerprints_are_recognised() {
        assert!(is_hashed("id-d41d8cd98f00b204e9800998ecf8427e.js"));
        assert!(is_hashed("vendor.3f2a9b1c.css"));
        assert!(!is_hashed("id.js"));
        assert!(!is_hashed("symbols.svg"));
    }
}
