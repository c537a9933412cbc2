//! The HTTP API: the seeds' public contract (`/api/scan`, `/api/scans`), our own endpoints
//! (`/api/v1/…`), and the OpenAPI description of both (`/api/openapi.json`, no key needed).
//! Every other route needs an API key in `x-api-key`: 401 when missing, 403 when unknown.
//! Errors are `{"error": "…", "code": "…"}`. No answer carries a credential: target configs
//! hold only `env:` references and contract headers are stored sealed and never returned.

mod contract;
mod hooks;
mod ours;
pub mod pages;

use crate::queue::db;
use crate::seal::Sealer;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use middlebrick_core::Allowlist;
use middlebrick_store::service::{ApiKey, ServiceStore};
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct AppState {
    pub store: Arc<ServiceStore>,
    pub allow: Allowlist,
    pub allow_active: bool,
    pub contract_checks: Vec<String>,
    pub sealer: Sealer,
    /// The shortest schedule interval a target may have, in seconds.
    pub min_interval: u64,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/openapi.json", get(openapi))
        .route("/health", get(|| async { "ok" }))
        .route("/api/scan", post(contract::create))
        .route("/api/scans", get(contract::list))
        .route("/api/scans/{id}", get(contract::get))
        .route(
            "/api/v1/targets",
            get(ours::list_targets).post(ours::create_target),
        )
        .route(
            "/api/v1/targets/{id}",
            get(ours::get_target)
                .put(ours::update_target)
                .delete(ours::delete_target),
        )
        .route("/api/v1/targets/{id}/scans", post(ours::trigger))
        .route("/api/v1/scans", get(ours::list_scans))
        .route("/api/v1/scans/{id}", get(ours::get_scan))
        .route("/api/v1/scans/{id}/report", get(ours::report))
        .route("/api/v1/scans/{id}/diff", get(ours::diff))
        .route("/api/v1/webhooks", get(hooks::list).post(hooks::create))
        .route("/api/v1/webhooks/{id}", delete(hooks::delete))
        .route("/api/v1/deliveries", get(hooks::deliveries))
        .route("/dashboard", get(pages::redirect))
        .route("/dashboard/", get(pages::targets))
        .route("/dashboard/scans/{id}", get(pages::scan))
        .route("/dashboard/scans/{id}/diff", get(pages::diff))
        .route("/dashboard/deliveries", get(pages::deliveries))
        .fallback(|| async { ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such route") })
        .with_state(state)
}

async fn openapi() -> Response {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        include_str!("../../openapi.json"),
    )
        .into_response()
}

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }
    pub fn bad(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message)
    }
    pub fn not_found(what: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no such {what}"),
        )
    }
    /// A store failure: logged here, answered without detail.
    pub fn internal(e: String) -> ApiError {
        tracing::error!("store: {e}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(serde_json::json!({"error": self.message, "code": self.code})),
        )
            .into_response()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// The caller's key, from `x-api-key`.
#[derive(Debug)]
pub struct Caller(pub ApiKey);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Caller> {
        let Some(v) = parts.headers.get("x-api-key") else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "an API key is required in the x-api-key header",
            ));
        };
        let secret = v.to_str().unwrap_or_default().trim().to_string();
        let found = db(&state.store, move |s| s.key_by_secret(&secret))
            .await
            .map_err(ApiError::internal)?;
        found.map(Caller).ok_or_else(|| {
            ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "the API key is not valid",
            )
        })
    }
}

/// RFC 3339 (UTC, milliseconds) from the store's epoch milliseconds.
pub fn rfc3339(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}
