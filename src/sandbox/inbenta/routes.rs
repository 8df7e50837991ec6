//! HTTP side of the simulated Inbenta: auth endpoints at the root, the Messenger (ticketing) API
//! under `/prod/ticketing`, and a middleware that records every request and injects faults.
//! What each endpoint refuses is checked with the helpers in `checks.rs`.

use super::checks::{
    Answer, SimError, attachments, authorize, body_object, check_api_key, check_token,
    existing_user, ok, optional_integer, required_text, ticket_id,
};
use super::state::{Fault, Shared, random_hex};
use super::webhooks::{list_webhooks, register_webhook};
use super::{SECRET, SimMedia, SimReply, SimTicket, SimUser};
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

pub(super) type SimState = Arc<Shared>;

/// Inbenta's API payload limit (seed 004).
pub(super) const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;

pub(super) fn router(state: SimState) -> Router {
    let ticketing = Router::new()
        .route("/v1/users", get(list_users).post(create_user))
        .route("/v1/tickets", get(list_tickets).post(create_ticket))
        .route("/v1/tickets/{id}", get(get_ticket).put(update_ticket))
        .route(
            "/v1/tickets/{id}/replies",
            get(list_replies).post(create_reply),
        )
        .route("/v1/media", post(upload_media))
        .route("/v1/webhooks", get(list_webhooks).post(register_webhook));
    Router::new()
        .route("/v1/auth", post(authenticate))
        .route("/v1/refreshToken", post(refresh_token))
        .route("/v1/apis", get(list_apis))
        .nest("/prod/ticketing", ticketing)
        .fallback(unknown_route)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            record_and_inject,
        ))
        .with_state(state)
}

// --- Middleware ---------------------------------------------------------------------------------

async fn record_and_inject(
    State(state): State<SimState>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    let (injected, delay) = state.with(|data| (data.record_request(&method, &path), data.delay));
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    match injected {
        Some(Fault::Before(status)) => injected_failure(status),
        Some(Fault::After(status)) => {
            let _carried_out = next.run(request).await;
            injected_failure(status)
        }
        None => next.run(request).await,
    }
}

fn injected_failure(status: u16) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = SimError::coded(
        code,
        format!("Injected failure (HTTP {})", code.as_u16()),
        json!(code.as_u16()),
    )
    .into_response();
    if code == StatusCode::TOO_MANY_REQUESTS {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

async fn unknown_route() -> SimError {
    SimError::new(StatusCode::NOT_FOUND, json!({ "message": "Not Found" }))
}

// --- Auth endpoints -----------------------------------------------------------------------------

async fn authenticate(
    State(state): State<SimState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    check_api_key(&headers)?;
    let body = body_object(&headers, body)?;
    if body.get("secret").and_then(Value::as_str) != Some(SECRET) {
        return Err(SimError::new(
            StatusCode::UNAUTHORIZED,
            json!({ "message": "Invalid API secret" }),
        ));
    }
    let mut answer = token_answer(&state);
    if state.apis_in_auth_answer {
        answer["apis"] = json!({ "ticketing": state.ticketing_url() });
    }
    ok(StatusCode::OK, answer)
}

async fn refresh_token(State(state): State<SimState>, headers: HeaderMap) -> Answer {
    check_api_key(&headers)?;
    check_token(&state, &headers)?;
    ok(StatusCode::OK, token_answer(&state))
}

fn token_answer(state: &Shared) -> Value {
    let (token, expiration, lifetime) = state.with(|data| {
        let (token, expiration) = data.issue_token();
        (token, expiration, data.token_lifetime_secs())
    });
    json!({ "accessToken": token, "expiration": expiration, "expires_in": lifetime })
}

async fn list_apis(State(state): State<SimState>, headers: HeaderMap) -> Answer {
    authorize(&state, &headers)?;
    ok(
        StatusCode::OK,
        json!({ "apis": { "ticketing": state.ticketing_url() } }),
    )
}

// --- Users --------------------------------------------------------------------------------------

fn user_json(user: &SimUser) -> Value {
    json!({ "id": user.id, "name": user.name, "address": user.address })
}

async fn list_users(
    State(state): State<SimState>,
    headers: HeaderMap,
    Query(filter): Query<HashMap<String, String>>,
) -> Answer {
    authorize(&state, &headers)?;
    let users: Vec<Value> = state.with(|data| {
        data.users
            .iter()
            .filter(|u| {
                filter
                    .get("address")
                    .is_none_or(|a| u.address.eq_ignore_ascii_case(a))
            })
            .filter(|u| filter.get("name").is_none_or(|n| &u.name == n))
            .map(user_json)
            .collect()
    });
    ok(StatusCode::OK, json!({ "data": users }))
}

async fn create_user(
    State(state): State<SimState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    authorize(&state, &headers)?;
    let body = body_object(&headers, body)?;
    let name = required_text(&body, "name")?;
    let address = required_text(&body, "address")?;
    let id = state.with(|data| data.add_user(name, address));
    ok(
        StatusCode::CREATED,
        json!({ "uuid": id, "hash_uuid": random_hex() }),
    )
}

// --- Tickets ------------------------------------------------------------------------------------

fn ticket_json(ticket: &SimTicket) -> Value {
    json!({
        "id": ticket.id,
        "title": ticket.title,
        "creator": ticket.creator,
        "message": ticket.message,
        "status": ticket.status,
        "queue": ticket.queue,
        "source": ticket.source,
        "external_id": ticket.external_id,
        "attachments": ticket.attachments,
    })
}

async fn list_tickets(
    State(state): State<SimState>,
    headers: HeaderMap,
    Query(filter): Query<HashMap<String, String>>,
) -> Answer {
    authorize(&state, &headers)?;
    let tickets: Vec<Value> = state.with(|data| {
        data.tickets
            .values()
            .filter(|t| {
                filter
                    .get("external_id")
                    .is_none_or(|e| t.external_id.as_ref() == Some(e))
            })
            .map(ticket_json)
            .collect()
    });
    ok(StatusCode::OK, json!({ "data": tickets }))
}

async fn create_ticket(
    State(state): State<SimState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    authorize(&state, &headers)?;
    let body = body_object(&headers, body)?;
    let creator = existing_user(&state, &body, "creator")?;
    let message = required_text(&body, "message")?;
    let queue = optional_integer(&body, "queue")?;
    let source = optional_integer(&body, "source")?;
    let attachments = attachments(&state, &body)?;
    let title = body
        .get("title")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let external_id = match body.get("external_id") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let id = state.with(|data| {
        let id = data.next_ticket_id();
        data.tickets.insert(
            id,
            SimTicket {
                id,
                title,
                creator,
                message,
                queue,
                source,
                attachments,
                external_id,
                status: 1,
                replies: Vec::new(),
                received_at: std::time::SystemTime::now(),
            },
        );
        id
    });
    ok(StatusCode::CREATED, json!({ "full_uuid": id.to_string() }))
}

async fn get_ticket(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(raw_id): Path<String>,
) -> Answer {
    authorize(&state, &headers)?;
    let id = ticket_id(&raw_id)?;
    let ticket = state.with(|data| data.tickets.get(&id).map(ticket_json));
    ok(
        StatusCode::OK,
        ticket.ok_or_else(|| SimError::not_found("Ticket not found"))?,
    )
}

async fn update_ticket(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(raw_id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    authorize(&state, &headers)?;
    let id = ticket_id(&raw_id)?;
    let body = body_object(&headers, body)?;
    let status = optional_integer(&body, "status")?;
    let title = body.get("title").and_then(Value::as_str).map(str::to_owned);
    let updated = state.with(|data| {
        let ticket = data.tickets.get_mut(&id)?;
        if let Some(status) = status {
            ticket.status = status;
        }
        if let Some(title) = title {
            ticket.title = title;
        }
        Some(ticket_json(ticket))
    });
    ok(
        StatusCode::OK,
        updated.ok_or_else(|| SimError::not_found("Ticket not found"))?,
    )
}

// --- Replies ------------------------------------------------------------------------------------

fn reply_json(reply: &SimReply) -> Value {
    json!({
        "id": reply.id,
        "type": reply.kind,
        "creator": { "id": reply.creator },
        "message": reply.message,
        "attachments": reply.attachments,
    })
}

async fn list_replies(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(raw_id): Path<String>,
) -> Answer {
    authorize(&state, &headers)?;
    let id = ticket_id(&raw_id)?;
    let replies = state.with(|data| {
        data.tickets
            .get(&id)
            .map(|t| t.replies.iter().map(reply_json).collect::<Vec<_>>())
    });
    let replies = replies.ok_or_else(|| SimError::not_found("Ticket not found"))?;
    ok(StatusCode::OK, json!({ "data": replies }))
}

async fn create_reply(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(raw_id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    authorize(&state, &headers)?;
    let id = ticket_id(&raw_id)?;
    if !state.with(|data| data.tickets.contains_key(&id)) {
        return Err(SimError::not_found("Ticket not found"));
    }
    let body = body_object(&headers, body)?;
    let creator = existing_user(&state, &body, "creator")?;
    let message = required_text(&body, "message")?;
    let attachments = attachments(&state, &body)?;
    let reply_id = state
        .with(|data| data.add_reply(id, creator, message, attachments))
        .ok_or_else(|| SimError::not_found("Ticket not found"))?;
    ok(StatusCode::CREATED, json!({ "uuid": reply_id.to_string() }))
}

// --- Media --------------------------------------------------------------------------------------

async fn upload_media(
    State(state): State<SimState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    authorize(&state, &headers)?;
    let body = body_object(&headers, body)?;
    let name = required_text(&body, "name")?;
    let content = match body.get("content") {
        Some(Value::String(content)) => content,
        _ => {
            return Err(SimError::invalid(
                "The field 'content' is required",
                "content_required",
            ));
        }
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(content.trim())
        .map_err(|_| {
            SimError::invalid("The field 'content' is not valid base64", "invalid_content")
        })?;
    let uuid = uuid::Uuid::new_v4().to_string();
    state.with(|data| {
        data.media.push(SimMedia {
            uuid: uuid.clone(),
            name,
            size_bytes: bytes.len(),
        });
    });
    ok(StatusCode::CREATED, json!({ "uuid": uuid }))
}
