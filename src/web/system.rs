//! Health check and the static files (compiled in, so the binary serves them anywhere).

use std::sync::OnceLock;

use actix_web::http::header;
use actix_web::{web, HttpResponse};

use sha2::{Digest, Sha256};

use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::db;

/// GET /healthz — 200 when the database answers.
pub async fn healthz(state: web::Data<AppState>) -> HttpResponse {
    match db(&state.pool, |conn| Ok(crate::db::ping(conn)?)).await {
        Ok(()) => HttpResponse::Ok().content_type("text/plain").body("ok"),
        Err(err) => {
            tracing::warn!(error = ?err, "health check failed");
            HttpResponse::ServiceUnavailable()
                .content_type("text/plain")
                .body("database unavailable")
        }
    }
}

const FILES: &[(&str, &str, &str)] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../../static/app.css"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_str!("../../static/favicon.svg"),
    ),
];

/// Each file's name with a hash of its content (`app.3f9c2a1b.css`), in `FILES` order.
fn hashed_names() -> &'static [String] {
    static NAMES: OnceLock<Vec<String>> = OnceLock::new();
    NAMES.get_or_init(|| {
        FILES
            .iter()
            .map(|(name, _, body)| {
                let digest = Sha256::digest(body.as_bytes());
                let hash: String = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
                match name.rsplit_once('.') {
                    Some((stem, ext)) => format!("{stem}.{hash}.{ext}"),
                    None => format!("{name}.{hash}"),
                }
            })
            .collect()
    })
}

/// The URL pages link a static file by: its content-hashed name, so it can be cached for
/// a year and a new release is fetched at once (`asset("app.css")`).
pub fn asset(name: &str) -> String {
    let hashed = FILES
        .iter()
        .position(|(n, _, _)| *n == name)
        .map_or(name, |i| hashed_names()[i].as_str());
    format!("/static/{hashed}")
}

/// GET /static/{file} — by its hashed name, cached for good; by its plain name (an old
/// bookmark, a browser's own favicon request), for an hour.
pub async fn static_file(path: web::Path<String>) -> AppResult<HttpResponse> {
    let name = path.into_inner();
    let (index, cache) = match hashed_names().iter().position(|n| *n == name) {
        Some(i) => (i, "public, max-age=31536000, immutable"),
        None => (
            FILES
                .iter()
                .position(|(n, _, _)| *n == name)
                .ok_or(AppError::NotFound)?,
            "public, max-age=3600",
        ),
    };
    let (_, content_type, body) = FILES[index];
    Ok(HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, cache))
        .body(body))
}

/// Any other path.
pub async fn not_found() -> AppResult<HttpResponse> {
    Err(AppError::NotFound)
}
