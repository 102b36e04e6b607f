//! Health check and the static files (compiled in, so the binary serves them anywhere).

use actix_web::http::header;
use actix_web::{web, HttpResponse};

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

/// GET /static/{file}
pub async fn static_file(path: web::Path<String>) -> AppResult<HttpResponse> {
    let name = path.into_inner();
    let (_, content_type, body) = FILES
        .iter()
        .find(|(n, _, _)| *n == name)
        .ok_or(AppError::NotFound)?;
    Ok(HttpResponse::Ok()
        .content_type(*content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .body(*body))
}

/// Any other path.
pub async fn not_found() -> AppResult<HttpResponse> {
    Err(AppError::NotFound)
}
