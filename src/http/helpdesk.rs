//! The helpdesk's webhook: the verification handshake and batched thin events.

use super::AppState;
use super::auth::secret_matches;
use crate::error::ApiError;
use crate::sync::HelpdeskIngestOutcome;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;

const SIGNATURE: &str = "x-hook-signature";
const CHALLENGE: &str = "x-inbenta-challenge";

/// `GET /webhooks/inbenta`: answer the challenge when the signature is the configured secret.
pub(super) async fn verify(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    let signature = headers.get(SIGNATURE).and_then(|v| v.to_str().ok());
    if !secret_matches(state.helpdesk_secret.as_ref(), signature) {
        tracing::warn!(
            "Helpdesk webhook verification refused: X-Hook-Signature does not match inbenta.webhook_secret."
        );
        return Err(ApiError::Unauthorized(
            "X-Hook-Signature does not match inbenta.webhook_secret".into(),
        ));
    }
    let challenge = headers
        .get(CHALLENGE)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| ApiError::BadRequest {
            code: "missing_challenge",
            detail: "X-Inbenta-Challenge header is missing".into(),
        })?;
    tracing::info!("Helpdesk webhook verified.");
    Ok((
        [(CONTENT_TYPE, "text/plain; charset=utf-8")],
        challenge.to_owned(),
    ))
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
    metrics::counter!("omnibridge_webhooks_received_total", "channel" => "inbenta", "result" => label).increment(1);
    result.map(Json)
}

async fn handle(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<HelpdeskIngestOutcome, ApiError> {
    // Deliveries only name ids (the bridge reads the ticket itself), so a delivery without a
    // signature is accepted; a wrong one is not.
    if let Some(signature) = headers.get(SIGNATURE)
        && !secret_matches(state.helpdesk_secret.as_ref(), signature.to_str().ok())
    {
        tracing::warn!("Helpdesk webhook refused: wrong X-Hook-Signature.");
        return Err(ApiError::Unauthorized("wrong X-Hook-Signature".into()));
    }
    let tickets = state.engine.registry().tickets();
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
