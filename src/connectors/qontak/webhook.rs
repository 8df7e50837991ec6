//! Webhook bodies → events. Qontak POSTs five kinds the bridge registers for:
//!
//! * `receive_message_from_customer`, `receive_message_from_agent`, `status_message`: a flat
//!   message object with its `room{…}` (seed 003 / CONTRACTS §2.5);
//! * `broadcast_log_status`: a broadcast log entry (`messages_broadcast_id`, `status`, …);
//! * `room_resolved`: `{event_type, data: {room_id, resolved_at, resolved_by}}` in the seed; a
//!   room object or a message with its room is accepted too.
//!
//! Payloads since 2024 name the event in top-level `data_event` (with `webhook_event`
//! `message_interaction`); the 2021 documents do not, so the kind is then told from the shape.
//! A message from an agent or bot without an event name may be either a new message or a status
//! update: it yields the agent message *and*, when its status is a delivery status, the status
//! (each deduplicated on its own key). A `data` wrapper is unwrapped.

use super::convert::{self, Author};
use super::rooms::not_ours;
use super::wire::{QMessage, QRoom, text_of};
use crate::connectors::WebhookError;
use crate::domain::{ConversationKey, EventKind, InboundEvent};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// Conversation key of events that belong to no known room.
pub(super) const CHANNEL_CONVERSATION: &str = "_channel";

/// What one webhook body said.
#[derive(Debug, Default)]
pub(super) struct ParsedWebhook {
    pub(super) events: Vec<InboundEvent>,
    /// Rooms embedded in the body, to remember their session state.
    pub(super) rooms: Vec<QRoom>,
    /// Why the body was ignored: its room belongs to another channel or integration.
    pub(super) ignored: Option<String>,
}

/// Room lookups the parser may use (phone → room) without knowing the cache's type.
pub(super) trait RoomLookup {
    fn room_for_phone(&self, phone: &str) -> Option<String>;
}

/// Parse one body. `integration` is the configured `channel_integration_id`, if any: rooms of
/// other integrations, and rooms of other channels than WhatsApp, are acknowledged and ignored.
/// `now` stands in for missing times.
pub(super) fn parse_body(
    body: &[u8],
    integration: Option<&str>,
    rooms: &dyn RoomLookup,
    now: DateTime<Utc>,
) -> Result<ParsedWebhook, WebhookError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| WebhookError::InvalidJson(e.to_string()))?;
    let Value::Object(top) = &value else {
        return Err(WebhookError::Unrecognized(
            "a Qontak webhook body is a JSON object".into(),
        ));
    };
    let payload = unwrap_data(top);
    let name = event_name(top).or_else(|| event_name(payload));
    let mut parsed = ParsedWebhook::default();
    let kind = match name.as_deref() {
        Some(name) => Kind::from_name(name),
        None => infer_kind(payload)?,
    };
    match kind {
        Kind::Customer | Kind::Agent | Kind::Status | Kind::UntoldMessage => {
            let message = read_message(payload)?;
            if let Some(room) = &message.room {
                if let Some(reason) = not_ours(room, integration) {
                    parsed.ignored = Some(reason);
                    return Ok(parsed);
                }
                parsed.rooms.push(room.clone());
            }
            parsed.events = message_events(kind, &message, now)?;
        }
        Kind::BroadcastLog => parsed.events.push(broadcast_log(payload, rooms, now)?),
        Kind::RoomResolved => {
            let (event, room) = resolved(payload, now)?;
            if let Some(room) = room {
                if let Some(reason) = not_ours(&room, integration) {
                    parsed.ignored = Some(reason);
                    return Ok(parsed);
                }
                parsed.rooms.push(room);
            }
            parsed.events.push(event);
        }
        Kind::OtherNamed(name) => parsed.events.push(other_event(&name, payload, body, now)),
    }
    Ok(parsed)
}

#[derive(Debug, PartialEq, Eq)]
enum Kind {
    Customer,
    Agent,
    Status,
    /// A message from an agent or bot without an event name.
    UntoldMessage,
    BroadcastLog,
    RoomResolved,
    OtherNamed(String),
}

impl Kind {
    fn from_name(name: &str) -> Kind {
        match name {
            "receive_message_from_customer" => Kind::Customer,
            "receive_message_from_agent" => Kind::Agent,
            "status_message" => Kind::Status,
            "broadcast_log_status" => Kind::BroadcastLog,
            "room_resolved" => Kind::RoomResolved,
            other => Kind::OtherNamed(other.to_owned()),
        }
    }
}

/// The specific event name: `data_event`, `event_type`, `event`, or a `webhook_event` that is
/// more than the family name (`message_interaction`, `room_interaction`).
fn event_name(object: &Map<String, Value>) -> Option<String> {
    ["data_event", "event_type", "event", "webhook_event"]
        .iter()
        .filter_map(|key| object.get(*key).and_then(Value::as_str))
        .map(|name| name.trim().to_ascii_lowercase())
        .find(|name| {
            !name.is_empty() && !matches!(name.as_str(), "message_interaction" | "room_interaction")
        })
}

/// `{…, data: {…}}` → the inner object, unless the outer one is itself the message or room.
fn unwrap_data(top: &Map<String, Value>) -> &Map<String, Value> {
    match top.get("data") {
        Some(Value::Object(inner)) if !top.contains_key("id") && !top.contains_key("room") => inner,
        _ => top,
    }
}

fn infer_kind(payload: &Map<String, Value>) -> Result<Kind, WebhookError> {
    let has = |key: &str| payload.get(key).is_some_and(|v| !v.is_null());
    if has("messages_broadcast_id") || (has("whatsapp_message_id") && has("contact_phone_number")) {
        return Ok(Kind::BroadcastLog);
    }
    let message_like = has("id")
        && (has("sender_type") || has("participant_type") || has("sender") || has("is_agent"));
    if message_like {
        let message = read_message(payload)?;
        return match convert::author_of(&message) {
            Author::Customer => Ok(Kind::Customer),
            Author::Agent | Author::Bot => Ok(Kind::UntoldMessage),
            Author::Unknown => Err(WebhookError::Unrecognized(
                "a Qontak message whose author cannot be told: participant_type and sender_type \
                 are missing or unknown"
                    .into(),
            )),
        };
    }
    let resolved_room = (has("room_id") || has("id"))
        && (has("resolved_at")
            || payload.get("status").and_then(Value::as_str) == Some("resolved"));
    if resolved_room {
        return Ok(Kind::RoomResolved);
    }
    let keys: Vec<&str> = payload.keys().map(String::as_str).take(12).collect();
    Err(WebhookError::Unrecognized(format!(
        "not a Qontak webhook: found {}; expected a message with its room \
         (receive_message_from_customer, receive_message_from_agent, status_message), a \
         broadcast log entry (broadcast_log_status) or a resolved room (room_resolved)",
        if keys.is_empty() {
            "an empty object".to_owned()
        } else {
            format!("keys {}", keys.join(", "))
        }
    )))
}

fn read_message(payload: &Map<String, Value>) -> Result<QMessage, WebhookError> {
    serde_json::from_value(Value::Object(payload.clone()))
        .map_err(|e| WebhookError::Unrecognized(format!("unreadable Qontak message: {e}")))
}

fn message_events(
    kind: Kind,
    message: &QMessage,
    now: DateTime<Utc>,
) -> Result<Vec<InboundEvent>, WebhookError> {
    let unusable = |reason: String| WebhookError::Unrecognized(format!("Qontak message: {reason}"));
    let mut events = Vec::new();
    match kind {
        Kind::Customer => {
            events.push(convert::customer_message(message, None, now).map_err(unusable)?)
        }
        Kind::Agent => events.push(convert::agent_message(message, None, now).map_err(unusable)?),
        Kind::Status => {
            events.extend(convert::status_event(message, None, now).map_err(unusable)?);
        }
        _ => {
            events.push(convert::agent_message(message, None, now).map_err(unusable)?);
            if message
                .status
                .as_deref()
                .is_some_and(convert::is_delivery_status)
            {
                events.extend(convert::status_event(message, None, now).map_err(unusable)?);
            }
        }
    }
    Ok(events)
}

/// `{room_id | id | room{…}, resolved_at | room.resolved_at | updated_at}`.
fn resolved(
    payload: &Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<(InboundEvent, Option<QRoom>), WebhookError> {
    let embedded: Option<QRoom> = payload
        .get("room")
        .filter(|r| r.is_object())
        .and_then(|r| serde_json::from_value(r.clone()).ok());
    let text = |key: &str| payload.get(key).and_then(text_of).filter(|s| !s.is_empty());
    let room_id = text("room_id")
        .or_else(|| embedded.as_ref().and_then(|r| r.id.clone()))
        .or_else(|| text("id"))
        .ok_or_else(|| WebhookError::Unrecognized("room_resolved without a room_id".into()))?;
    let resolved_at = text("resolved_at")
        .or_else(|| embedded.as_ref().and_then(|r| r.resolved_at.clone()))
        .or_else(|| text("updated_at"))
        .or_else(|| embedded.as_ref().and_then(|r| r.updated_at.clone()));
    let room = match embedded {
        Some(room) => Some(room),
        // A flat room object (it has the room's own fields).
        None if payload.contains_key("account_uniq_id") || payload.contains_key("session") => {
            serde_json::from_value(Value::Object(payload.clone())).ok()
        }
        None => None,
    };
    let event = convert::room_resolved(&room_id, convert::parse_time(resolved_at.as_deref()), now);
    Ok((event, room))
}

/// A broadcast log entry, kept as an `Other` event in the room of its phone number when known.
fn broadcast_log(
    payload: &Map<String, Value>,
    rooms: &dyn RoomLookup,
    now: DateTime<Utc>,
) -> Result<InboundEvent, WebhookError> {
    let text = |key: &str| payload.get(key).and_then(text_of).filter(|s| !s.is_empty());
    let id = text("id")
        .or_else(|| text("whatsapp_message_id"))
        .ok_or_else(|| WebhookError::Unrecognized("broadcast_log_status without an id".into()))?;
    let status = text("status").unwrap_or_else(|| "unknown".into());
    let conversation = text("contact_phone_number")
        .and_then(|phone| rooms.room_for_phone(phone.trim_start_matches('+')))
        .unwrap_or_else(|| CHANNEL_CONVERSATION.to_owned());
    Ok(InboundEvent {
        dedupe_key: format!("broadcast_log:{id}:{}", status.to_ascii_lowercase()),
        conversation: ConversationKey::new(conversation),
        occurred_at: convert::parse_time(text("created_at").as_deref()).unwrap_or(now),
        kind: EventKind::Other {
            name: "broadcast_log_status".into(),
            payload: Value::Object(payload.clone()),
        },
    })
}

/// An event the bridge does not act on (agent assignment…), kept as received. Its key is the
/// body's hash, so a redelivery of the same body is a duplicate.
fn other_event(
    name: &str,
    payload: &Map<String, Value>,
    body: &[u8],
    now: DateTime<Utc>,
) -> InboundEvent {
    let room = payload
        .get("room_id")
        .and_then(text_of)
        .or_else(|| {
            payload
                .get("room")
                .and_then(|r| r.get("id"))
                .and_then(text_of)
        })
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| CHANNEL_CONVERSATION.to_owned());
    let digest = hex::encode(&Sha256::digest(body)[..12]);
    InboundEvent {
        dedupe_key: format!("{name}:{digest}"),
        conversation: ConversationKey::new(room),
        occurred_at: now,
        kind: EventKind::Other {
            name: name.to_owned(),
            payload: Value::Object(payload.clone()),
        },
    }
}
