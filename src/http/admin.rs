//! The admin API under /api/v1 (Bearer `server.admin_token`).

use super::AppState;
use super::auth::secret_matches;
use crate::error::ApiError;
use crate::store::{DeadLetter, Link, LinkFilter, OutboundMessage};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use serde::Deserialize;

fn require_admin(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(expected) = state.admin_token.as_ref() else {
        return Err(ApiError::Unauthorized(
            "the admin API is disabled: set server.admin_token".into(),
        ));
    };
    let given = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if secret_matches(Some(expected), given) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized(
            "missing or wrong Bearer token".into(),
        ))
    }
}

#[derive(Deserialize)]
pub(super) struct LinksQuery {
    channel: Option<String>,
    conversation: Option<String>,
    limit: Option<i64>,
}

pub(super) async fn list_links(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<LinksQuery>,
) -> Result<Json<Vec<Link>>, ApiError> {
    require_admin(&state, &headers)?;
    let filter = LinkFilter {
        channel: query.channel.filter(|c| !c.is_empty()),
        conversation: query.conversation.filter(|c| !c.is_empty()),
        limit: query.limit.unwrap_or(1000).clamp(1, 10_000),
    };
    let links = state
        .engine
        .store()
        .list_links(&filter)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(links))
}

/// `GET /api/v1/messages?channel=&conversation=`: messages the bridge sent to customers, with
/// their latest delivery status, newest first.
pub(super) async fn list_messages(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<LinksQuery>,
) -> Result<Json<Vec<OutboundMessage>>, ApiError> {
    require_admin(&state, &headers)?;
    let messages = state
        .engine
        .store()
        .list_outbound(
            query.channel.as_deref().filter(|c| !c.is_empty()),
            query.conversation.as_deref().filter(|c| !c.is_empty()),
            query.limit.unwrap_or(1000).clamp(1, 10_000),
        )
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(messages))
}

#[derive(Deserialize)]
pub(super) struct JobsQuery {
    state: Option<String>,
}

pub(super) async fn list_jobs(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<JobsQuery>,
) -> Result<Json<Vec<DeadLetter>>, ApiError> {
    require_admin(&state, &headers)?;
    match query.state.as_deref() {
        Some("failed") | None => {}
        Some(other) => {
            return Err(ApiError::BadRequest {
                code: "invalid_state",
                detail: format!("state={other:?} is not supported; use state=failed"),
            });
        }
    }
    let dead = state
        .engine
        .store()
        .dead_letters(1000)
        .await
        .map_err(ApiError::internal)?;
    Ok(Json(dead))
}

/// `POST /api/v1/jobs/{id}/retry`: redrive one dead letter.
pub(super) async fn retry_job(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Json<serde_json::Value>, ApiError> {
    require_admin(&state, &headers)?;
    let engine = &state.engine;
    let woken = crate::sync::redrive(engine.store(), engine.queue(), Some(id))
        .await
        .map_err(ApiError::internal)?;
    if woken == 0 {
        return Err(ApiError::NotFound(format!("no dead letter with id {id}")));
    }
    Ok(Json(serde_json::json!({ "id": id, "state": "pending" })))
}
