//! The helpdesk's webhook: the verification handshake and batched thin events.

use super::AppState;
use crate::connectors::WebhookAuthError;
use crate::error::ApiError;
use crate::sync::HelpdeskIngestOutcome;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;

/// `GET /webhooks/inbenta`: the helpdesk's verification handshake, as its connector answers it.
pub(super) async fn verify(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    let answer = state
        .engine
        .registry()
        .tickets()
        .webhook_handshake(&headers)
        .map_err(|err| {
            tracing::warn!(error = %err, "Helpdesk webhook verification refused.");
            refusal(err)
        })?;
    tracing::info!("Helpdesk webhook verified.");
    Ok(([(CONTENT_TYPE, "text/plain; charset=utf-8")], answer))
}

fn refusal(err: WebhookAuthError) -> ApiError {
    match err {
        WebhookAuthError::Unauthorized(detail) => ApiError::Unauthorized(detail),
        WebhookAuthError::Malformed { code, detail } => ApiError::BadRequest { code, detail },
    }
}

/// `POST /webhooks/inbenta`: store the events (in the conversation of their ticket), then 200.
pub(super) async fn receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<HelpdeskIngestOutcome>, ApiError> {
    let result = handle(&state, &headers, &body).await;
    let label = match &result {
        Ok(_) => "accepted",
        Err(ApiError::Unauthorized(_)) => "unauthorized",
        Err(ApiError::BadRequest { .. } | ApiError::Unprocessable { .. }) => "malformed",
        Err(_) => "error",
    };
    let vendor = state.engine.registry().tickets().vendor();
    metrics::counter!("omnibridge_webhooks_received_total", "channel" => vendor, "result" => label)
        .increment(1);
    result.map(Json)
}

async fn handle(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<HelpdeskIngestOutcome, ApiError> {
    let tickets = state.engine.registry().tickets();
    tickets.verify_webhook(headers).map_err(|err| {
        tracing::warn!(error = %err, "Helpdesk webhook refused.");
        refusal(err)
    })?;
    let events = tickets.parse_webhook(body).map_err(|err| {
        tracing::warn!(error = %err, "Helpdesk webhook refused: malformed body.");
        super::webhooks::malformed(err)
    })?;
    let outcome = state
        .engine
        .ingest_helpdesk(&events)
        .await
        .map_err(ApiError::internal)?;
    tracing::debug!(
        stored = outcome.stored,
        duplicates = outcome.duplicates,
        held = outcome.held,
        "Helpdesk events stored."
    );
    Ok(outcome)
}
