//! The simulated open API: `POST /oauth/token` at the host root, everything else under
//! `/api/open/v1/` behind `Authorization: Bearer`, answers in Qontak's envelopes
//! (`{status: "success", data, meta}` / `{status: "error", error: {code, messages}}`).
//! Files are served under `/uploads/…` without a token, like Qontak's CDN.

use super::messages;
use super::state::{Shared, SimData, SimRoom, time_text};
use crate::sandbox::faults::{RetryHeader, SimProfile};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use base64::Engine as _;
use chrono::Utc;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub(super) type SimState = Arc<Shared>;

/// An error answer ready to return (boxed: a `Response` is large).
pub(super) type Refused = Box<Response>;

/// Largest page `limit` the list endpoints accept.
const MAX_LIMIT: usize = 100;

pub(super) fn router(shared: SimState) -> Router {
    let api = Router::new()
        .route("/integrations", get(list_integrations))
        .route("/rooms", get(list_rooms))
        .route("/rooms/{id}", get(show_room))
        .route("/rooms/{id}/histories", get(room_histories))
        .route("/rooms/{id}/resolve", put(resolve_room))
        .route(
            "/message_interactions",
            put(register_message_interactions).get(show_message_interactions),
        )
        .route(
            "/room_interactions",
            put(register_room_interactions).get(show_room_interactions),
        )
        .route("/templates/whatsapp", get(list_templates))
        .route(
            "/messages/whatsapp/bot",
            post(messages::create_bot_message).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/file_uploader",
            post(messages::upload_file).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/broadcasts/whatsapp/direct",
            post(messages::direct_broadcast),
        )
        .fallback(not_found)
        .layer(from_fn_with_state(Arc::clone(&shared), require_bearer));
    Router::new()
        .route("/oauth/token", post(issue_token))
        .route("/uploads/{*path}", get(download_file))
        .nest("/api/open/v1", api)
        .fallback(not_found)
        .with_state(shared)
}

/// `{status: "error", error: {code, messages}}` with `status`.
pub(super) fn refusal(status: StatusCode, messages: &[&str]) -> Response {
    let body = json!({
        "status": "error",
        "error": {"code": status.as_u16(), "messages": messages},
    });
    (status, axum::Json(body)).into_response()
}

/// `{status: "success", data}` with `status`.
pub(super) fn success(status: StatusCode, data: Value) -> Response {
    (
        status,
        axum::Json(json!({"status": "success", "data": data})),
    )
        .into_response()
}

async fn not_found() -> Response {
    refusal(StatusCode::NOT_FOUND, &["Not found"])
}

/// How injected failures look: Qontak's error envelope ("Simulated failure"), and for rate limits
/// `x-ratelimit-reset` (a unix time, by default two seconds ahead).
pub(super) static PROFILE: SimProfile = SimProfile {
    name: "Qontak",
    api_root: "/api/open/v1/",
    error_body: injected_failure,
    retry_header: RetryHeader::RateLimitReset,
    default_retry_after: Duration::from_secs(2),
};

fn injected_failure(status: StatusCode, messages: &[String]) -> Response {
    if messages.is_empty() {
        return refusal(status, &["Simulated failure"]);
    }
    let texts: Vec<&str> = messages.iter().map(String::as_str).collect();
    refusal(status, &texts)
}

/// Every open-API call needs a current, unexpired access token.
async fn require_bearer(State(shared): State<SimState>, request: Request, next: Next) -> Response {
    let token = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_owned());
    let now = Utc::now().timestamp();
    let valid = token.is_some_and(|t| shared.with(|data| data.access_valid(&t, now)));
    if valid {
        next.run(request).await
    } else {
        refusal(StatusCode::UNAUTHORIZED, &["Invalid token"])
    }
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let body = json!({"error": error, "error_description": description});
    (status, axum::Json(body)).into_response()
}

/// `POST /oauth/token` with the refresh grant (JSON or form). The used refresh token stops
/// working, as does every earlier access token.
async fn issue_token(
    State(shared): State<SimState>,
    headers: axum::http::HeaderMap,
    body: Bytes,
) -> Response {
    let is_form = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let fields: HashMap<String, String> = if is_form {
        url::form_urlencoded::parse(&body).into_owned().collect()
    } else {
        match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(object)) => object
                .into_iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k, s.to_owned())))
                .collect(),
            _ => {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "The request is missing a required parameter or is otherwise malformed.",
                );
            }
        }
    };
    let field = |key: &str| fields.get(key).map(String::as_str).unwrap_or("");
    if field("client_id") != super::CLIENT_ID || field("client_secret") != super::CLIENT_SECRET {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed due to unknown client, no client authentication \
             included, or unsupported authentication method.",
        );
    }
    if field("grant_type") != "refresh_token" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server.",
        );
    }
    let now = Utc::now();
    let issued = shared.with(|data| {
        let presented = field("refresh_token");
        let current = data.refresh_token.as_deref();
        (!presented.is_empty() && current == Some(presented)).then(|| {
            let (access, refresh) = data.issue_tokens(now);
            (access, refresh, data.token_lifetime)
        })
    });
    match issued {
        Some((access, refresh, lifetime)) => axum::Json(json!({
            "access_token": access, "token_type": "Bearer", "expires_in": lifetime,
            "refresh_token": refresh, "created_at": now.timestamp(),
        }))
        .into_response(),
        None => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "The provided authorization grant is invalid, expired, revoked, does not match the \
             redirection URI used in the authorization request, or was issued to another client.",
        ),
    }
}

async fn download_file(State(shared): State<SimState>, Path(path): Path<String>) -> Response {
    let key = format!("/uploads/{path}");
    match shared.with(|data| data.files.get(&key).cloned()) {
        Some(file) => ([(CONTENT_TYPE, file.mime_type)], file.bytes).into_response(),
        None => (StatusCode::NOT_FOUND, "Not Found").into_response(),
    }
}

async fn list_integrations(State(shared): State<SimState>) -> Response {
    let (id, organization) =
        shared.with(|data| (data.integration_id.clone(), data.organization_id.clone()));
    let integration = json!({
        "id": id, "target_channel": "wa", "webhook": "sandbox", "settings": {},
        "organization_id": organization, "created_at": time_text(Utc::now()), "is_active": true,
    });
    page_response(vec![integration], None, 1, MAX_LIMIT)
}

/// `limit` (1–100, default 25) and `cursor` (opaque: the index of the next item).
pub(super) fn paging(params: &HashMap<String, String>) -> Result<(usize, usize), Refused> {
    let limit = match params.get("limit").filter(|v| !v.is_empty()) {
        None => 25,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
            _ => {
                return Err(Box::new(invalid_param(
                    "limit",
                    "must be an integer between 1 and 100",
                )));
            }
        },
    };
    let start = match params.get("cursor").filter(|v| !v.is_empty()) {
        None => 0,
        Some(cursor) => base64::engine::general_purpose::STANDARD
            .decode(cursor)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.strip_prefix("sim:").and_then(|n| n.parse().ok()))
            .ok_or_else(|| Box::new(invalid_param("cursor", "is invalid")))?,
    };
    Ok((start, limit))
}

/// Qontak's 422 for a bad query parameter.
pub(super) fn invalid_param(field: &str, problem: &str) -> Response {
    let body = json!({
        "status": "error",
        "error": {"code": 422, "messages": [
            {"active_model_errors": {field: [problem]}, "type": "expectation_failed"}
        ]},
    });
    (StatusCode::UNPROCESSABLE_ENTITY, axum::Json(body)).into_response()
}

fn page_response(items: Vec<Value>, next: Option<usize>, start: usize, limit: usize) -> Response {
    let total = items.len();
    let cursor =
        |index: usize| base64::engine::general_purpose::STANDARD.encode(format!("sim:{index}"));
    let body = json!({
        "status": "success",
        "data": items,
        "meta": {"pagination": {
            "cursor": {"next": next.map(cursor), "prev": null},
            "offset": start + 1, "limit": limit, "total": total,
        }},
    });
    axum::Json(body).into_response()
}

/// One page of `all`, with the cursor of the next one.
fn page_of(all: Vec<Value>, start: usize, limit: usize) -> Response {
    let end = (start + limit).min(all.len());
    let next = (end < all.len()).then_some(end);
    let items = all.into_iter().skip(start).take(limit).collect();
    page_response(items, next, start, limit)
}

/// `GET rooms`: `order_by` (created_at|updated_at), `order_direction` (asc|desc), `sessions`,
/// `status` filters, cursor paging.
async fn list_rooms(
    State(shared): State<SimState>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let (start, limit) = match paging(&params) {
        Ok(paging) => paging,
        Err(refused) => return *refused,
    };
    let order_by = params
        .get("order_by")
        .map(String::as_str)
        .unwrap_or("created_at");
    if !matches!(order_by, "created_at" | "updated_at") {
        return invalid_param("order_by", "does not have a valid value");
    }
    let descending = match params.get("order_direction").map(String::as_str) {
        None | Some("desc") => true,
        Some("asc") => false,
        Some(_) => return invalid_param("order_direction", "does not have a valid value"),
    };
    let filter = |key: &str| {
        params.get(key).map(|v| {
            v.split(',')
                .map(str::trim)
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
    };
    let (sessions, statuses) = (filter("sessions"), filter("status"));
    let all = shared.with(|data| {
        let mut rooms: Vec<&SimRoom> = data
            .rooms
            .iter()
            .filter(|r| sessions.as_ref().is_none_or(|s| s.contains(&r.session)))
            .filter(|r| statuses.as_ref().is_none_or(|s| s.contains(&r.status)))
            .collect();
        rooms.sort_by_key(|r| {
            if order_by == "updated_at" {
                r.updated_at
            } else {
                r.created_at
            }
        });
        if descending {
            rooms.reverse();
        }
        rooms.iter().map(|r| data.room_json(r)).collect::<Vec<_>>()
    });
    page_of(all, start, limit)
}

async fn show_room(State(shared): State<SimState>, Path(id): Path<String>) -> Response {
    match shared.with(|data| data.room(&id).map(|r| data.room_json(r))) {
        Some(room) => success(StatusCode::OK, room),
        None => refusal(StatusCode::NOT_FOUND, &["Room not found"]),
    }
}

/// `GET rooms/{id}/histories`: the room's messages (without their room), newest first unless
/// `order_direction=asc`.
async fn room_histories(
    State(shared): State<SimState>,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let (start, limit) = match paging(&params) {
        Ok(paging) => paging,
        Err(refused) => return *refused,
    };
    let descending = match params.get("order_direction").map(String::as_str) {
        None | Some("desc") => true,
        Some("asc") => false,
        Some(_) => return invalid_param("order_direction", "does not have a valid value"),
    };
    let all = shared.with(|data| {
        data.room(&id)?;
        let mut messages: Vec<_> = data
            .histories
            .get(&id)
            .map(|h| h.iter().collect())
            .unwrap_or_default();
        messages.sort_by_key(|m| (m.created_at, m.sequence));
        if descending {
            messages.reverse();
        }
        Some(
            messages
                .iter()
                .map(|m| m.object.clone())
                .collect::<Vec<_>>(),
        )
    });
    match all {
        Some(all) => page_of(all, start, limit),
        None => refusal(StatusCode::NOT_FOUND, &["Room not found"]),
    }
}

/// `PUT rooms/{id}/resolve`.
async fn resolve_room(State(shared): State<SimState>, Path(id): Path<String>) -> Response {
    let now = Utc::now();
    let room = shared.with(|data| {
        let room = data.room_mut(&id)?;
        room.status = "resolved".into();
        room.resolved_at = Some(now);
        room.updated_at = now;
        room.unread_count = 0;
        let room = room.clone();
        data.resolved.push(id.clone());
        Some(data.room_json(&room))
    });
    match room {
        Some(room) => success(StatusCode::OK, room),
        None => refusal(StatusCode::NOT_FOUND, &["Room not found"]),
    }
}

/// The webhook URL of a registration: https, except loopback hosts (a sandbox concession; the
/// real service refuses plain http).
fn checked_url(body: &Value) -> Result<(), Refused> {
    let Some(url) = body.get("url").and_then(Value::as_str) else {
        return Err(Box::new(refusal(
            StatusCode::UNPROCESSABLE_ENTITY,
            &["url is missing"],
        )));
    };
    let parsed = url::Url::parse(url)
        .map_err(|_| refusal(StatusCode::UNPROCESSABLE_ENTITY, &["url is invalid"]))?;
    let loopback = matches!(parsed.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    if parsed.scheme() != "https" && !loopback {
        return Err(Box::new(refusal(
            StatusCode::UNPROCESSABLE_ENTITY,
            &["url must use https"],
        )));
    }
    Ok(())
}

fn parse_body(body: &Bytes) -> Result<Value, Refused> {
    match serde_json::from_slice::<Value>(body) {
        Ok(value @ Value::Object(_)) => Ok(value),
        _ => Err(Box::new(refusal(
            StatusCode::BAD_REQUEST,
            &["body must be a JSON object"],
        ))),
    }
}

const MESSAGE_FLAGS: &[&str] = &[
    "receive_message_from_agent",
    "receive_message_from_customer",
    "status_message",
    "broadcast_log_status",
];

async fn register_message_interactions(State(shared): State<SimState>, body: Bytes) -> Response {
    let body = match parse_body(&body) {
        Ok(body) => body,
        Err(refused) => return *refused,
    };
    if let Err(refused) = checked_url(&body) {
        return *refused;
    }
    for flag in MESSAGE_FLAGS {
        if body.get(*flag).is_some_and(|v| !v.is_boolean()) {
            return refusal(
                StatusCode::UNPROCESSABLE_ENTITY,
                &[&format!("{flag} is invalid")],
            );
        }
    }
    shared.with(|data| data.message_interactions = Some(body.clone()));
    success(StatusCode::OK, shared.with(settings_json))
}

async fn show_message_interactions(State(shared): State<SimState>) -> Response {
    success(StatusCode::OK, shared.with(settings_json))
}

async fn register_room_interactions(State(shared): State<SimState>, body: Bytes) -> Response {
    let body = match parse_body(&body) {
        Ok(body) => body,
        Err(refused) => return *refused,
    };
    if let Err(refused) = checked_url(&body) {
        return *refused;
    }
    if body.get("room_resolved").is_some_and(|v| !v.is_boolean()) {
        return refusal(
            StatusCode::UNPROCESSABLE_ENTITY,
            &["room_resolved is invalid"],
        );
    }
    shared.with(|data| data.room_interactions = Some(body.clone()));
    success(StatusCode::OK, shared.with(settings_json))
}

async fn show_room_interactions(State(shared): State<SimState>) -> Response {
    success(StatusCode::OK, shared.with(settings_json))
}

/// The organisation's webhook settings, as `PUT message_interactions` answers them.
fn settings_json(data: &mut SimData) -> Value {
    let entry = |registration: &Option<Value>, flag: &str, event: &str| {
        let enabled = registration
            .as_ref()
            .and_then(|r| r.get(flag))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let webhooks: Vec<Value> = registration
            .as_ref()
            .and_then(|r| r.get("url"))
            .map(|url| json!({"id": "sandbox-webhook", "event": event, "url": url}))
            .into_iter()
            .collect();
        json!({"enabled": enabled, "webhooks": webhooks})
    };
    let m = &data.message_interactions;
    let r = &data.room_interactions;
    json!({
        "auto_assign_agent": false,
        "agent_can_takeover": true,
        "agent_assigned_to_room": {"enabled": false, "webhooks": []},
        "agent_unassigned_from_room": {"enabled": false, "webhooks": []},
        "room_resolved": entry(r, "room_resolved", "room_interaction"),
        "receive_message_from_agent": entry(m, "receive_message_from_agent", "message_interaction"),
        "receive_message_from_customer": entry(m, "receive_message_from_customer", "message_interaction"),
        "broadcast_log_status": entry(m, "broadcast_log_status", "message_interaction"),
        "status_message": entry(m, "status_message", "message_interaction"),
    })
}

async fn list_templates(
    State(shared): State<SimState>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let (start, limit) = match paging(&params) {
        Ok(paging) => paging,
        Err(refused) => return *refused,
    };
    let all = shared.with(|data| data.templates.iter().map(|t| t.to_json()).collect());
    page_of(all, start, limit)
}
