//! Errors at the HTTP edge.
//!
//! Which error goes where:
//! - `connectors`, `store`, `mapping`, `media`, `config`: `thiserror` enums that keep their source.
//! - `sync` classifies vendor failures into retry / dead letter (see `sync::drain`).
//! - HTTP handlers return [`ApiError`]: client mistakes become 400/401/404/409/413/422 with a JSON
//!   `{code, detail}` body; anything else is logged with its whole cause chain and answered as an
//!   opaque 500 (a vendor will retry its webhook).
//! - `anyhow` only in `main.rs`, job entry points and tests.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug)]
pub enum ApiError {
    BadRequest { code: &'static str, detail: String },
    Unauthorized(String),
    NotFound(String),
    Unprocessable { code: &'static str, detail: String },
    Conflict(String),
    Internal(anyhow::Error),
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    detail: &'a str,
}

impl ApiError {
    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        ApiError::Internal(err.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, detail) = match &self {
            ApiError::BadRequest { code, detail } => {
                (StatusCode::BAD_REQUEST, *code, detail.as_str())
            }
            ApiError::Unauthorized(detail) => {
                (StatusCode::UNAUTHORIZED, "unauthorized", detail.as_str())
            }
            ApiError::NotFound(detail) => (StatusCode::NOT_FOUND, "not_found", detail.as_str()),
            ApiError::Unprocessable { code, detail } => {
                (StatusCode::UNPROCESSABLE_ENTITY, *code, detail.as_str())
            }
            ApiError::Conflict(detail) => (StatusCode::CONFLICT, "conflict", detail.as_str()),
            ApiError::Internal(err) => {
                tracing::error!(error = ?err, "Request failed.");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal error; see the bridge's log",
                )
            }
        };
        (status, Json(ErrorBody { code, detail })).into_response()
    }
}
