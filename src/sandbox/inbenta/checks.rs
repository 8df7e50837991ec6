//! What every simulated endpoint checks before acting, and the error answers it gives:
//! the API key (403), a live bearer token (401 `{"message":"Unauthorized"}`), the body (JSON or
//! form, at most 10 MB, else 413), required fields and known ids (400 with
//! `{"errors":[{"message","code"}]}`), known tickets (404).

use super::API_KEY;
use super::state::Shared;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

// --- Errors -------------------------------------------------------------------------------------

/// An error answer in one of Inbenta's shapes.
pub(super) struct SimError {
    status: StatusCode,
    body: Value,
}

impl SimError {
    /// An answer with any status and body.
    pub(super) fn new(status: StatusCode, body: Value) -> Self {
        Self { status, body }
    }

    pub(super) fn forbidden() -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            body: json!({ "message": "Forbidden" }),
        }
    }

    pub(super) fn unauthorized() -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            body: json!({ "message": "Unauthorized" }),
        }
    }

    pub(super) fn invalid(message: impl Into<String>, code: &str) -> Self {
        Self::coded(StatusCode::BAD_REQUEST, message.into(), json!(code))
    }

    pub(super) fn not_found(message: &str) -> Self {
        Self::coded(StatusCode::NOT_FOUND, message.to_owned(), json!(404))
    }

    pub(super) fn coded(status: StatusCode, message: String, code: Value) -> Self {
        Self {
            status,
            body: json!({ "errors": [{ "message": message, "code": code }] }),
        }
    }
}

impl IntoResponse for SimError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body)).into_response()
    }
}

pub(super) type Answer = Result<Response, SimError>;

pub(super) fn ok(status: StatusCode, body: Value) -> Answer {
    Ok((status, axum::Json(body)).into_response())
}

// --- Request checks -----------------------------------------------------------------------------

pub(super) fn check_api_key(headers: &HeaderMap) -> Result<(), SimError> {
    match headers.get("x-inbenta-key").map(HeaderValue::as_bytes) {
        Some(key) if key == API_KEY.as_bytes() => Ok(()),
        _ => Err(SimError::forbidden()),
    }
}

/// The bearer token, if it is one the simulator issued and it has not expired.
pub(super) fn check_token(state: &Shared, headers: &HeaderMap) -> Result<String, SimError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
        .ok_or_else(SimError::unauthorized)?;
    if state.with(|data| data.token_is_valid(token)) {
        Ok(token.to_owned())
    } else {
        Err(SimError::unauthorized())
    }
}

pub(super) fn authorize(state: &Shared, headers: &HeaderMap) -> Result<(), SimError> {
    check_api_key(headers)?;
    check_token(state, headers).map(drop)
}

/// The body as a JSON object; form-encoded bodies (what Inbenta's PHP connector sends) are
/// accepted too, with `key[]` / `key[0]` collected into arrays.
pub(super) fn body_object(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Map<String, Value>, SimError> {
    let bytes = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            SimError {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                body: json!({ "message": "Request Entity Too Large" }),
            }
        } else {
            SimError::invalid("The request body could not be read", "invalid_body")
        }
    })?;
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if is_form {
        return Ok(form_to_object(&bytes));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(SimError::invalid(
            "The request body must be a JSON object",
            "invalid_body",
        )),
        Err(_) => Err(SimError::invalid(
            "The request body is not valid JSON",
            "invalid_json",
        )),
    }
}

pub(super) fn form_to_object(bytes: &[u8]) -> Map<String, Value> {
    let mut map = Map::new();
    for (key, value) in url::form_urlencoded::parse(bytes) {
        match key.split_once('[') {
            Some((base, _)) => {
                let entry = map
                    .entry(base.to_owned())
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(items) = entry {
                    items.push(Value::String(value.into_owned()));
                }
            }
            None => {
                map.insert(key.into_owned(), Value::String(value.into_owned()));
            }
        }
    }
    map
}

/// A required, non-blank string field.
pub(super) fn required_text(body: &Map<String, Value>, field: &str) -> Result<String, SimError> {
    match body.get(field) {
        Some(Value::String(text)) if !text.trim().is_empty() => Ok(text.clone()),
        _ => Err(SimError::invalid(
            format!("The field '{field}' is required"),
            &format!("{field}_required"),
        )),
    }
}

/// An optional integer field, given as a number or a numeric string.
pub(super) fn optional_integer(
    body: &Map<String, Value>,
    field: &str,
) -> Result<Option<i64>, SimError> {
    let invalid = || {
        SimError::invalid(
            format!("The field '{field}' must be an integer"),
            &format!("invalid_{field}"),
        )
    };
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_i64().map(Some).ok_or_else(invalid),
        Some(Value::String(s)) => s.trim().parse().map(Some).map_err(|_| invalid()),
        Some(_) => Err(invalid()),
    }
}

/// A required user id that names an existing user.
pub(super) fn existing_user(
    state: &Shared,
    body: &Map<String, Value>,
    field: &str,
) -> Result<i64, SimError> {
    let id = optional_integer(body, field)?.ok_or_else(|| {
        SimError::invalid(
            format!("The field '{field}' is required"),
            &format!("{field}_required"),
        )
    })?;
    if state.with(|data| data.user_exists(id)) {
        Ok(id)
    } else {
        Err(SimError::invalid(
            format!("The user {id} given as '{field}' does not exist"),
            "user_not_found",
        ))
    }
}

/// `attachments`: uuids of uploaded media (absent means none).
pub(super) fn attachments(
    state: &Shared,
    body: &Map<String, Value>,
) -> Result<Vec<String>, SimError> {
    let uuids: Vec<String> = match body.get("attachments") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(s.clone()),
                _ => Err(SimError::invalid(
                    "Attachments must be media uuids",
                    "invalid_attachments",
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(SimError::invalid(
                "Attachments must be a list of media uuids",
                "invalid_attachments",
            ));
        }
    };
    if let Some(unknown) = state.with(|data| data.unknown_media(&uuids).map(str::to_owned)) {
        return Err(SimError::invalid(
            format!("The media {unknown} does not exist"),
            "media_not_found",
        ));
    }
    Ok(uuids)
}

pub(super) fn ticket_id(raw: &str) -> Result<i64, SimError> {
    raw.parse()
        .map_err(|_| SimError::not_found("Ticket not found"))
}
