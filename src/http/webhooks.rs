//! Vendor webhooks: authenticate, parse into domain events, store durably, answer.

use super::AppState;
use super::auth::secret_matches;
use crate::config::ChannelKind;
use crate::domain::ChannelId;
use crate::error::ApiError;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
pub(super) struct WebhookQuery {
    auth: Option<String>,
}

#[derive(Serialize)]
pub(super) struct WebhookAnswer {
    stored: usize,
    duplicates: usize,
    /// Events refused at the edge (named in the log); the others were stored.
    refused: usize,
}

pub(super) async fn getchat(
    state: State<AppState>,
    channel: Path<String>,
    query: Result<Query<WebhookQuery>, QueryRejection>,
    body: Bytes,
) -> Result<Json<WebhookAnswer>, ApiError> {
    receive(
        state,
        ChannelKind::Getchat,
        channel,
        query.map_err(invalid_query)?,
        body,
    )
    .await
}

pub(super) async fn qontak(
    state: State<AppState>,
    channel: Path<String>,
    query: Result<Query<WebhookQuery>, QueryRejection>,
    body: Bytes,
) -> Result<Json<WebhookAnswer>, ApiError> {
    receive(
        state,
        ChannelKind::Qontak,
        channel,
        query.map_err(invalid_query)?,
        body,
    )
    .await
}

/// Verify → parse → store → answer. 200 only once the events are committed.
#[tracing::instrument(skip_all, fields(vendor = kind.as_str(), channel = %channel))]
async fn receive(
    State(state): State<AppState>,
    kind: ChannelKind,
    Path(channel): Path<String>,
    Query(query): Query<WebhookQuery>,
    body: Bytes,
) -> Result<Json<WebhookAnswer>, ApiError> {
    let channel = ChannelId::new(channel);
    let result = handle(&state, kind, &channel, query.auth.as_deref(), &body).await;
    let label = match &result {
        Ok(_) => "accepted",
        Err(ApiError::Unauthorized(_)) => "unauthorized",
        Err(ApiError::NotFound(_)) => "unknown_channel",
        Err(ApiError::BadRequest { .. } | ApiError::Unprocessable { .. }) => "malformed",
        Err(_) => "error",
    };
    // Only configured channels become label values: anyone can call any path.
    let channel_label = if state.channels.contains_key(&channel) {
        channel.to_string()
    } else {
        "unknown".to_owned()
    };
    metrics::counter!("omnibridge_webhooks_received_total", "channel" => channel_label, "result" => label).increment(1);
    result.map(Json)
}

async fn handle(
    state: &AppState,
    kind: ChannelKind,
    channel: &ChannelId,
    auth: Option<&str>,
    body: &[u8],
) -> Result<WebhookAnswer, ApiError> {
    let known = state
        .channels
        .get(channel)
        .filter(|c| c.kind == kind)
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "no enabled {} channel {:?}",
                kind.as_str(),
                channel.as_str()
            ))
        })?;
    if !secret_matches(known.webhook_secret.as_ref(), auth) {
        tracing::warn!("Webhook refused: wrong or missing ?auth= secret.");
        return Err(ApiError::Unauthorized(
            "wrong or missing ?auth= secret".into(),
        ));
    }
    let connector = state.engine.registry().channel(channel).ok_or_else(|| {
        ApiError::NotFound(format!("channel {:?} has no connector", channel.as_str()))
    })?;
    let events = connector.parse_webhook(body).map_err(|err| {
        tracing::warn!(error = %err, "Webhook refused: malformed body.");
        malformed(err)
    })?;
    let parsed = events.len();
    let admitted = crate::sync::admit(connector.as_ref(), events);
    let refused = admitted.refused.len();
    if admitted.events.is_empty() {
        if let Some((key, refusal)) = admitted.refused.first() {
            // Nothing valid: the vendor is told, and nothing is stored.
            return Err(ApiError::Unprocessable {
                code: "invalid_event",
                detail: format!("{refused} of {parsed} events refused; first ({key:?}): {refusal}"),
            });
        }
        tracing::debug!("Webhook understood; it carries nothing to store.");
        return Ok(WebhookAnswer {
            stored: 0,
            duplicates: 0,
            refused: 0,
        });
    }
    let outcome = state
        .engine
        .ingest(channel, &admitted.events)
        .await
        .map_err(ApiError::internal)?;
    Ok(WebhookAnswer {
        stored: outcome.stored,
        duplicates: outcome.duplicates,
        refused,
    })
}

/// 400 for a query string that does not parse (a duplicated `?auth=`, for example).
fn invalid_query(rejection: QueryRejection) -> ApiError {
    ApiError::BadRequest {
        code: "invalid_query",
        detail: rejection.body_text(),
    }
}

/// 400 for a body that is not JSON, 422 for JSON of a shape we do not know.
pub(super) fn malformed(err: crate::connectors::WebhookError) -> ApiError {
    match err {
        crate::connectors::WebhookError::InvalidJson(_) => ApiError::BadRequest {
            code: err.code(),
            detail: err.to_string(),
        },
        crate::connectors::WebhookError::Unrecognized(_) => ApiError::Unprocessable {
            code: err.code(),
            detail: err.to_string(),
        },
    }
}
