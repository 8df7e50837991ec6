//! The simulated Integration API under `/api/v1/`, with get.chat's exact paths (trailing slashes
//! included) and Django REST Framework style error bodies.

use super::checks::{allowed_outside_window, check_create_message};
use super::state::{Shared, SimMedia, SimSentMessage};
use super::webhooks::{message_object, new_id};
use crate::sandbox::faults::{RetryHeader, SimProfile};
use axum::Router;
use axum::body::Bytes;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub(super) type SimState = Arc<Shared>;

/// get.chat's answer when the customer's 24-hour window is closed.
const WINDOW_CLOSED: u16 = 453;

pub(super) fn router(shared: SimState) -> Router {
    Router::new()
        .route("/api/v1/auth/token/", post(log_in))
        .route(
            "/api/v1/media/",
            post(upload_media).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/v1/media/{id}", get(download_media))
        .route("/api/v1/messages/", post(create_message).get(list_messages))
        .route("/api/v1/chats/{wa_id}/resolve", patch(resolve_chat))
        .route("/api/v1/mark_as_received/", post(mark_as_received))
        .fallback(not_found)
        .with_state(shared)
}

/// How injected failures look: a DRF `{"detail": …}` body, `Retry-After` in seconds.
pub(super) static PROFILE: SimProfile = SimProfile {
    name: "get.chat",
    api_root: "/api/v1/",
    error_body: injected_failure,
    retry_header: RetryHeader::RetryAfterSeconds,
    default_retry_after: Duration::from_secs(1),
};

fn injected_failure(status: StatusCode, messages: &[String]) -> Response {
    let text = if messages.is_empty() {
        "Simulated failure.".to_owned()
    } else {
        messages.join(" ")
    };
    (status, axum::Json(json!({"detail": text}))).into_response()
}

/// An error answer: a status and a DRF-style JSON body.
pub(super) struct Refusal {
    status: StatusCode,
    body: Value,
}

impl Refusal {
    fn new(status: StatusCode, body: Value) -> Self {
        Self { status, body }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Token"),
            );
        }
        response
    }
}

/// `{"detail": text}` with `status`.
fn detail(status: StatusCode, text: impl Into<String>) -> Refusal {
    Refusal::new(status, json!({"detail": text.into()}))
}

/// `{"<field>": ["This field is required."]}`.
fn field_required(fields: &[&str]) -> Refusal {
    let body: serde_json::Map<String, Value> = fields
        .iter()
        .map(|f| ((*f).to_owned(), json!(["This field is required."])))
        .collect();
    Refusal::new(StatusCode::BAD_REQUEST, Value::Object(body))
}

async fn not_found() -> Refusal {
    detail(StatusCode::NOT_FOUND, "Not found.")
}

/// `Authorization: Token <token>` with the current token, else DRF's 401.
fn authorize(shared: &Shared, headers: &HeaderMap) -> Result<(), Refusal> {
    let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return Err(detail(
            StatusCode::UNAUTHORIZED,
            "Authentication credentials were not provided.",
        ));
    };
    let token = value.strip_prefix("Token ").map(str::trim);
    if shared.with(|data| token == Some(data.token.as_str())) {
        Ok(())
    } else {
        Err(detail(StatusCode::UNAUTHORIZED, "Invalid token."))
    }
}

fn parse_json(body: &Bytes) -> Result<Value, Refusal> {
    serde_json::from_slice(body)
        .map_err(|e| detail(StatusCode::BAD_REQUEST, format!("JSON parse error - {e}")))
}

/// `POST auth/token/` `{username, password}` → `{token}`.
async fn log_in(State(shared): State<SimState>, body: Bytes) -> Result<Response, Refusal> {
    let credentials = parse_json(&body)?;
    let field = |key: &str| {
        credentials
            .get(key)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let (Some(username), Some(password)) = (field("username"), field("password")) else {
        return Err(field_required(&["username", "password"]));
    };
    let token = shared.with(|data| {
        (data.username == username && data.password == password).then(|| data.token.clone())
    });
    match token {
        Some(token) => Ok(axum::Json(json!({"token": token})).into_response()),
        None => Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            json!({"non_field_errors": ["Unable to log in with provided credentials."]}),
        )),
    }
}

/// `GET media/{id}` → the bytes with their Content-Type.
async fn download_media(
    State(shared): State<SimState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Refusal> {
    authorize(&shared, &headers)?;
    let media = shared
        .with(|data| data.media.get(&id).cloned())
        .ok_or_else(|| detail(StatusCode::NOT_FOUND, "Not found."))?;
    Ok(([(CONTENT_TYPE, media.mime_type)], media.bytes).into_response())
}

/// `POST media/` multipart with the file in `file_encoded` → `{file, id}`.
async fn upload_media(
    State(shared): State<SimState>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Response, Refusal> {
    authorize(&shared, &headers)?;
    let mut multipart = multipart.map_err(|_| {
        detail(
            StatusCode::BAD_REQUEST,
            "Expected multipart/form-data with the file in the \"file_encoded\" field.",
        )
    })?;
    let bad_multipart = |err: axum::extract::multipart::MultipartError| {
        detail(StatusCode::BAD_REQUEST, err.body_text())
    };
    let max_bytes = shared.with(|data| data.max_upload_bytes);
    let mut upload: Option<(String, Option<String>, Vec<u8>)> = None;
    while let Some(mut field) = multipart.next_field().await.map_err(bad_multipart)? {
        // createMediaFile has a single field; anything else is a client that does not know it.
        if field.name() != Some("file_encoded") || upload.is_some() {
            let name = field.name().unwrap_or("(unnamed)").to_owned();
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                json!({"non_field_errors": [format!(
                    "Unexpected field \"{name}\": send one file in \"file_encoded\"."
                )]}),
            ));
        }
        let mime_type = field
            .content_type()
            .unwrap_or("application/octet-stream")
            .to_owned();
        let filename = field.file_name().map(str::to_owned);
        let mut bytes = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(bad_multipart)? {
            if bytes.len() + chunk.len() > max_bytes {
                return Err(detail(StatusCode::PAYLOAD_TOO_LARGE, "File too large."));
            }
            bytes.extend_from_slice(&chunk);
        }
        upload = Some((mime_type, filename, bytes));
    }
    let Some((mime_type, filename, bytes)) = upload else {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            json!({"file_encoded": ["No file was submitted."]}),
        ));
    };
    let id = new_id();
    let file = media_file_url(&shared, &id, &mime_type);
    let media = SimMedia {
        id: id.clone(),
        mime_type,
        filename,
        bytes,
    };
    shared.with(|data| {
        data.media.insert(id.clone(), media);
        data.uploads.push(id.clone());
    });
    let answer = axum::Json(json!({"file": file, "id": id}));
    Ok((StatusCode::CREATED, answer).into_response())
}

/// `{base}/api/v1/media/<id>?mime_type_type=image&mime_type_subtype=jpeg`.
pub(super) fn media_file_url(shared: &Shared, id: &str, mime_type: &str) -> String {
    let essence = mime_type.split(';').next().unwrap_or("").trim();
    let (main, sub) = essence
        .split_once('/')
        .unwrap_or(("application", "octet-stream"));
    let mut url = match url::Url::parse(&shared.api_url(&format!("media/{id}"))) {
        Ok(url) => url,
        Err(_) => return shared.api_url(&format!("media/{id}")),
    };
    url.query_pairs_mut()
        .append_pair("mime_type_type", main)
        .append_pair("mime_type_subtype", sub);
    url.to_string()
}

/// `POST messages/` → 201 `{id, reason}`, 400 for invalid bodies, 453 when the window is closed.
async fn create_message(
    State(shared): State<SimState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Refusal> {
    authorize(&shared, &headers)?;
    let body = parse_json(&body)?;
    let (wa_id, message_type) =
        check_create_message(&body).map_err(|problem| detail(StatusCode::BAD_REQUEST, problem))?;
    let window_closed = shared.with(|data| data.closed_windows.contains(&wa_id));
    if window_closed && !allowed_outside_window(&message_type) {
        let status = StatusCode::from_u16(WINDOW_CLOSED).unwrap_or(StatusCode::BAD_REQUEST);
        return Err(Refusal::new(status, json!({"reason": "24h window closed"})));
    }
    let id = new_id();
    let now = chrono::Utc::now().timestamp();
    let queued = shared.with(|data| data.queue_messages);
    let mut payload = body.clone();
    if let Some(object) = payload.as_object_mut() {
        object.insert("to".into(), json!(wa_id));
        object.insert("timestamp".into(), json!(now));
        // A queued message has no WhatsApp id until it is handed to WhatsApp.
        if !queued {
            object.insert("id".into(), json!(format!("gBGG{}", id.replace('-', ""))));
        }
    }
    shared.with(|data| {
        let name = data
            .messages
            .iter()
            .rev()
            .find(|m| m.wa_id == wa_id)
            .and_then(|m| m.object["contact"]["waba_payload"]["profile"]["name"].as_str())
            .unwrap_or("")
            .to_owned();
        let mut object = message_object(&id, payload, &wa_id, &name, true);
        object["sender"] = api_user(&shared, &data.username);
        object["received"] = json!(true);
        data.store_message(object, &wa_id, now as f64, true);
        data.sent.push(SimSentMessage {
            wa_id: wa_id.clone(),
            message_type,
            body,
            id: id.clone(),
        });
    });
    let (status, reason) = if queued {
        (
            StatusCode::ACCEPTED,
            "Message is saved and will be sent as soon as other messages currently pending for this user are delivered.",
        )
    } else {
        (
            StatusCode::CREATED,
            "Message is saved and will be sent to WhatsApp.",
        )
    };
    Ok((status, axum::Json(json!({"id": id, "reason": reason}))).into_response())
}

/// The User object of the API user (`sender` of the messages it sends).
fn api_user(shared: &Shared, username: &str) -> Value {
    json!({
        "url": shared.api_url("users/1/"),
        "id": 1,
        "username": username,
        "first_name": "",
        "last_name": "",
        "email": "",
        "profile": {"role": "app"},
        "groups": [],
    })
}

/// `GET messages/`: newest first, filters `wa_id`, `since_time`, `before_time`, `from_us`,
/// pagination `limit`/`offset` with absolute `next`/`previous` links.
async fn list_messages(
    State(shared): State<SimState>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, Refusal> {
    authorize(&shared, &headers)?;
    let number = |key: &str| -> Result<Option<f64>, Refusal> {
        match params.get(key).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => v.parse::<f64>().map(Some).map_err(|_| {
                detail(
                    StatusCode::BAD_REQUEST,
                    format!("{key}: A valid number is required."),
                )
            }),
        }
    };
    let (since, before) = (number("since_time")?, number("before_time")?);
    let (limit, offset) = (number("limit")?, number("offset")?);
    let limit = limit.map_or(100, |l| l.max(1.0) as usize);
    let offset = offset.map_or(0, |o| o.max(0.0) as usize);
    let wa_id = params.get("wa_id").filter(|v| !v.is_empty());
    let from_us = params
        .get("from_us")
        .map(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "1"));
    let (count, page) = shared.with(|data| {
        let mut matching: Vec<_> = data
            .messages
            .iter()
            .filter(|m| wa_id.is_none_or(|w| &m.wa_id == w))
            .filter(|m| since.is_none_or(|s| m.timestamp >= s))
            .filter(|m| before.is_none_or(|b| m.timestamp < b))
            .filter(|m| from_us.is_none_or(|f| m.from_us == f))
            .collect();
        matching.sort_by(|a, b| {
            b.timestamp
                .total_cmp(&a.timestamp)
                .then(b.sequence.cmp(&a.sequence))
        });
        let page: Vec<Value> = matching
            .iter()
            .skip(offset)
            .take(limit)
            .map(|m| m.object.clone())
            .collect();
        (matching.len(), page)
    });
    let link = |new_offset: usize| {
        let mut url = url::Url::parse(&shared.api_url("messages/")).ok()?;
        {
            let mut query = url.query_pairs_mut();
            let mut keys: Vec<&String> = params
                .keys()
                .filter(|k| *k != "offset" && *k != "limit")
                .collect();
            keys.sort();
            for key in keys {
                query.append_pair(key, &params[key]);
            }
            query.append_pair("limit", &limit.to_string());
            query.append_pair("offset", &new_offset.to_string());
        }
        Some(url.to_string())
    };
    let next = (offset + limit < count)
        .then(|| link(offset + limit))
        .flatten();
    let previous = (offset > 0)
        .then(|| link(offset.saturating_sub(limit)))
        .flatten();
    let answer = json!({"count": count, "next": next, "previous": previous, "results": page});
    Ok(axum::Json(answer).into_response())
}

/// `PATCH chats/{wa_id}/resolve` `{resolved}` → `{wa_id, resolved}`.
async fn resolve_chat(
    State(shared): State<SimState>,
    Path(wa_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Refusal> {
    authorize(&shared, &headers)?;
    let body = parse_json(&body)?;
    let resolved = body
        .get("resolved")
        .and_then(Value::as_bool)
        .ok_or_else(|| field_required(&["resolved"]))?;
    shared.with(|data| data.resolved.insert(wa_id.clone(), resolved));
    Ok(axum::Json(json!({"wa_id": wa_id, "resolved": resolved})).into_response())
}

/// `POST mark_as_received/` `{customer_wa_id, timestamp}` → 201 `{}`. Like get.chat, refuses a
/// timestamp in the future (the messages must be stored before they can be marked).
async fn mark_as_received(
    State(shared): State<SimState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Refusal> {
    authorize(&shared, &headers)?;
    let body = parse_json(&body)?;
    let wa_id = body.get("customer_wa_id").and_then(Value::as_str);
    let timestamp = body.get("timestamp").and_then(Value::as_i64);
    let (wa_id, timestamp) = match (wa_id, timestamp) {
        (Some(wa_id), Some(timestamp)) if !wa_id.is_empty() => (wa_id.to_owned(), timestamp),
        (None | Some(""), _) => return Err(field_required(&["customer_wa_id"])),
        _ => {
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                json!({"timestamp": ["A valid integer is required."]}),
            ));
        }
    };
    if timestamp > chrono::Utc::now().timestamp() {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            json!({"timestamp": ["Cannot mark messages as received in the future."]}),
        ));
    }
    shared.with(|data| data.mark_received(&wa_id, timestamp));
    Ok((StatusCode::CREATED, axum::Json(json!({}))).into_response())
}
