//! HTTP side of the simulated Inbenta: auth endpoints at the root, the Messenger (ticketing) API
//! under `/prod/ticketing`, and the look of injected failures (`sandbox::faults` injects them).
//! What each endpoint refuses is checked with the helpers in `checks.rs`.

use super::checks::{
    Answer, SimError, attachments, authorize, body_object, check_api_key, check_token,
    existing_user, ok, optional_integer, required_text, ticket_id,
};
use super::media::{download_media, upload_media};
use super::state::{Shared, SimData, random_hex};
use super::webhooks::{Change, announce, change_event, list_webhooks, register_webhook};
use super::{SECRET, SimReply, SimTicket, SimUser};
use crate::sandbox::faults::{RetryHeader, SimProfile};
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

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
        .route("/v1/media/{uuid}", get(download_media))
        .route("/v1/webhooks", get(list_webhooks).post(register_webhook));
    Router::new()
        .route("/v1/auth", post(authenticate))
        .route("/v1/refreshToken", post(refresh_token))
        .route("/v1/apis", get(list_apis))
        .nest("/prod/ticketing", ticketing)
        .fallback(unknown_route)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

// --- Injected failures --------------------------------------------------------------------------

/// How injected failures look: `{"errors": [{message, code}]}`, `Retry-After` in seconds. Path
/// prefixes are full paths (`/prod/ticketing/v1/tickets`, `/v1/auth`).
pub(super) static PROFILE: SimProfile = SimProfile {
    name: "Inbenta",
    api_root: "/",
    error_body: injected_failure,
    retry_header: RetryHeader::RetryAfterSeconds,
    default_retry_after: Duration::from_secs(1),
};

fn injected_failure(status: StatusCode, messages: &[String]) -> Response {
    let code = json!(status.as_u16());
    if messages.is_empty() {
        let text = format!("Injected failure (HTTP {})", status.as_u16());
        return SimError::coded(status, text, code).into_response();
    }
    let errors: Vec<Value> = messages
        .iter()
        .map(|message| json!({ "message": message, "code": code }))
        .collect();
    SimError::new(status, json!({ "errors": errors })).into_response()
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
        "last_update": ticket.last_update,
    })
}

/// Most tickets one `GET /v1/tickets` page lists (also the default `length`).
const MAX_PAGE_LENGTH: usize = 100;

/// `GET /v1/tickets`: filters `external_id`, `last_update_from` / `last_update_to` (unix
/// seconds, inclusive); `sort` = `id` (default) or `last_update`, `order` = `asc` (default) or
/// `desc`; pages of `length` (at most 100) from `page` 1.
async fn list_tickets(
    State(state): State<SimState>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Answer {
    authorize(&state, &headers)?;
    let from = integer_param(&query, "last_update_from")?;
    let to = integer_param(&query, "last_update_to")?;
    let length = integer_param(&query, "length")?.map_or(MAX_PAGE_LENGTH, |n| {
        usize::try_from(n).unwrap_or(0).clamp(1, MAX_PAGE_LENGTH)
    });
    let page = integer_param(&query, "page")?.map_or(1, |n| usize::try_from(n).unwrap_or(1).max(1));
    let by_last_update = match query.get("sort").map(String::as_str) {
        None | Some("id") => false,
        Some("last_update") => true,
        Some(other) => {
            return Err(SimError::invalid(
                format!("Tickets cannot be sorted by '{other}'"),
                "invalid_sort",
            ));
        }
    };
    let descending = match query.get("order").map(|o| o.to_ascii_lowercase()) {
        None => false,
        Some(order) if order == "asc" => false,
        Some(order) if order == "desc" => true,
        Some(_) => {
            return Err(SimError::invalid(
                "The order must be 'asc' or 'desc'",
                "invalid_order",
            ));
        }
    };
    let tickets: Vec<Value> = state.with(|data| {
        let mut matching: Vec<&SimTicket> = data
            .tickets
            .values()
            .filter(|t| {
                query
                    .get("external_id")
                    .is_none_or(|e| t.external_id.as_ref() == Some(e))
            })
            .filter(|t| from.is_none_or(|from| t.last_update >= from))
            .filter(|t| to.is_none_or(|to| t.last_update <= to))
            .collect();
        if by_last_update {
            matching.sort_by_key(|t| (t.last_update, t.id));
        }
        if descending {
            matching.reverse();
        }
        matching
            .into_iter()
            .skip((page - 1).saturating_mul(length))
            .take(length)
            .map(ticket_json)
            .collect()
    });
    ok(StatusCode::OK, json!({ "data": tickets }))
}

/// An optional integer query parameter; anything else is refused.
fn integer_param(query: &HashMap<String, String>, name: &str) -> Result<Option<i64>, SimError> {
    query
        .get(name)
        .map(|value| {
            value.trim().parse().map_err(|_| {
                SimError::invalid(
                    format!("The parameter '{name}' must be an integer"),
                    &format!("invalid_{name}"),
                )
            })
        })
        .transpose()
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
        let last_update = data.now();
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
                last_update,
                replies: Vec::new(),
                received_at: std::time::SystemTime::now(),
            },
        );
        id
    });
    let change = Change {
        id,
        item: "ticket",
        action: "add",
        parent: None,
        actor: creator,
    };
    announce(&state, "ticket", change_event(&state, change));
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
        let now = data.now();
        let ticket = data.tickets.get_mut(&id)?;
        if let Some(status) = status {
            ticket.status = status;
        }
        if let Some(title) = title {
            ticket.title = title;
        }
        ticket.last_update = now;
        Some(ticket_json(ticket))
    });
    let updated = updated.ok_or_else(|| SimError::not_found("Ticket not found"))?;
    let change = Change {
        id,
        item: "ticket",
        action: "update",
        parent: None,
        actor: super::AGENT_USER_ID,
    };
    announce(&state, "ticket", change_event(&state, change));
    ok(StatusCode::OK, updated)
}

// --- Replies ------------------------------------------------------------------------------------

/// A reply as listed: attachments as objects with a download link on the ticketing API.
fn reply_json(reply: &SimReply, data: &SimData, ticketing_url: &str) -> Value {
    let attachments: Vec<Value> = reply
        .attachments
        .iter()
        .map(|uuid| {
            let media = data.media_file(uuid).map(|(media, _)| media);
            json!({
                "uuid": uuid,
                "name": media.map(|m| m.name.as_str()),
                "size": media.map(|m| m.size_bytes),
                "content_type": media.map(|m| m.content_type.as_str()),
                "url": format!("{ticketing_url}/v1/media/{uuid}"),
            })
        })
        .collect();
    json!({
        "id": reply.id,
        "type": reply.kind,
        "creator": { "id": reply.creator },
        "message": reply.message,
        "creation_date": reply.created_at,
        "attachments": attachments,
    })
}

async fn list_replies(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(raw_id): Path<String>,
) -> Answer {
    authorize(&state, &headers)?;
    let id = ticket_id(&raw_id)?;
    let ticketing_url = state.ticketing_url();
    let replies = state.with(|data| {
        data.tickets.get(&id).map(|t| {
            t.replies
                .iter()
                .map(|reply| reply_json(reply, data, &ticketing_url))
                .collect::<Vec<_>>()
        })
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
    let change = Change {
        id: reply_id,
        item: "reply",
        action: "add",
        parent: Some(id),
        actor: creator,
    };
    announce(&state, "reply", change_event(&state, change));
    ok(StatusCode::CREATED, json!({ "uuid": reply_id.to_string() }))
}
