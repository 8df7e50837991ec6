//! Liveness, readiness and metrics.

use super::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;

pub(super) async fn healthz() -> &'static str {
    "ok"
}

/// Ready when the database answers and every migration is applied.
pub(super) async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    if state.engine.store().is_ready().await {
        (StatusCode::OK, "ready")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "database unreachable or not migrated",
        )
    }
}

pub(super) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    if let Ok(depth) = state.engine.store().pending_count().await {
        metrics::gauge!("omnibridge_queue_depth").set(depth as f64);
    }
    (
        [("content-type", "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}
