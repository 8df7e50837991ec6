//! get.chat inbox events: messages written by inbox users (or the bridge itself), chat
//! assignment, tagging and resolution, and everything else get.chat reports about its inbox.

use super::super::render::non_empty;
use super::super::wire::{GcMessage, NumberOrText, WaMessage};
use super::{CHANNEL_CONVERSATION, message_body, message_object_wa_id, timestamp_or};
use crate::domain::{
    AgentMessage, ConversationKey, ConversationUpdate, EventKind, ExternalId, InboundEvent,
};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// A message written to the customer from the get.chat side: by an inbox user, by automation, or
/// by the bridge through `POST messages/` (recognised as an echo by its ids). `remote_id` is
/// get.chat's id, which is what `send` answers with; `alt_remote_id` is the WhatsApp message id.
pub(in crate::connectors::getchat) fn outgoing_message_event(
    message: &GcMessage,
    now: DateTime<Utc>,
) -> Result<InboundEvent, String> {
    let id = non_empty(message.id.as_deref()).ok_or("outgoing message has no \"id\"")?;
    let wa_id = message_object_wa_id(message)
        .ok_or_else(|| format!("outgoing message {id} names no customer (customer_wa_id)"))?;
    let whatsapp: WaMessage = match &message.waba_payload {
        Some(payload) => serde_json::from_value(payload.clone())
            .map_err(|e| format!("outgoing message {id}: waba_payload: {e}"))?,
        None => WaMessage::default(),
    };
    let wamid = non_empty(whatsapp.id.as_deref()).filter(|wamid| *wamid != id);
    Ok(InboundEvent {
        dedupe_key: format!("outgoing:{id}"),
        conversation: ConversationKey::new(wa_id),
        occurred_at: timestamp_or(whatsapp.timestamp.as_ref(), now),
        kind: EventKind::AgentMessage(AgentMessage {
            remote_id: ExternalId::new(id),
            alt_remote_id: wamid.map(ExternalId::new),
            author: message.sender.as_ref().and_then(user_name),
            body: message_body(&whatsapp, &[]),
        }),
    })
}

/// A get.chat inbox event (`chat_assignment`, `chat_tagging`, `message_tagging`, `chat_resolved`,
/// `user_availability`) or a non-message Cloud API change. Assignment, chat tagging and
/// resolution of a chat become [`ConversationUpdate`]s; the rest (and updates too malformed to
/// read) are stored as received.
pub(in crate::connectors::getchat) fn other_event(
    name: &str,
    object: &Value,
    now: DateTime<Utc>,
) -> InboundEvent {
    let field = |key: &str| object.get(key).unwrap_or(&Value::Null);
    let (conversation, identity): (Option<String>, Vec<String>) = match name {
        "chat_assignment" => {
            let wa_id = first_text(object, &["wa_id", "chat", "customer_wa_id"]);
            let ids = vec![
                wa_id.clone().unwrap_or_else(|| "-".into()),
                identity_text(field("assigned_to_user_set")),
                identity_text(field("assigned_group_set")),
            ];
            (wa_id, ids)
        }
        "chat_tagging" => {
            let chat = field("chat");
            let wa_id = chat
                .as_str()
                .map(str::to_owned)
                .or_else(|| first_text(chat, &["wa_id"]))
                .or_else(|| first_text(object, &["wa_id"]));
            let ids = vec![
                wa_id.clone().unwrap_or_else(|| "-".into()),
                identity_text(field("tag")),
                identity_text(field("action")),
            ];
            (wa_id, ids)
        }
        "message_tagging" => {
            let message = field("message");
            let wa_id = first_text(message, &["customer_wa_id"])
                .or_else(|| first_text(object, &["wa_id", "customer_wa_id"]));
            let ids = vec![
                identity_text(message),
                identity_text(field("tag")),
                identity_text(field("action")),
            ];
            (wa_id, ids)
        }
        "chat_resolved" => {
            let wa_id = first_text(object, &["wa_id", "chat"]);
            let ids = vec![
                wa_id.clone().unwrap_or_else(|| "-".into()),
                identity_text(field("resolved")),
            ];
            (wa_id, ids)
        }
        "user_availability" => (
            None,
            vec![
                identity_text(field("user")),
                identity_text(field("is_available")),
            ],
        ),
        _ => (None, Vec::new()),
    };
    let timestamp = object
        .get("timestamp")
        .and_then(|t| serde_json::from_value::<NumberOrText>(t.clone()).ok());
    let mut key = std::iter::once(name.to_owned())
        .chain(identity)
        .collect::<Vec<_>>()
        .join(":");
    match &timestamp {
        Some(ts) => key.push_str(&format!(":{}", ts.to_text())),
        None => key.push_str(&format!(":sha256:{}", canonical_sha256(object))),
    }
    // An update needs the chat it belongs to; without one it is kept as received.
    let update = conversation
        .as_ref()
        .and_then(|_| conversation_update(name, object));
    let kind = match update {
        Some(update) => EventKind::ConversationUpdate(update),
        None => EventKind::Other {
            name: name.to_owned(),
            payload: object.clone(),
        },
    };
    InboundEvent {
        dedupe_key: key,
        conversation: ConversationKey::new(
            conversation.unwrap_or_else(|| CHANNEL_CONVERSATION.to_owned()),
        ),
        occurred_at: timestamp_or(timestamp.as_ref(), now),
        kind,
    }
}

/// What an assignment, chat tagging or resolution event says, when it can be read.
fn conversation_update(name: &str, object: &Value) -> Option<ConversationUpdate> {
    match name {
        "chat_assignment" => Some(ConversationUpdate::Assigned {
            user: object.get("assigned_to_user_set").and_then(user_name),
            group: object.get("assigned_group_set").and_then(group_name),
        }),
        "chat_tagging" => {
            let tag = object.get("tag").and_then(group_name)?;
            let added = match object.get("action").and_then(Value::as_str) {
                Some("added") => true,
                Some("removed") => false,
                _ => return None,
            };
            Some(ConversationUpdate::Tagged { tag, added })
        }
        "chat_resolved" => Some(ConversationUpdate::Resolved {
            resolved: object.get("resolved")?.as_bool()?,
        }),
        _ => None,
    }
}

/// A get.chat User as people know them: "First Last", else the username, else the e-mail, else
/// the id. A bare id (number or string) is taken as is; `null` is nobody.
pub(in crate::connectors::getchat) fn user_name(user: &Value) -> Option<String> {
    match user {
        Value::Object(_) => {
            let text = |key: &str| {
                user.get(key)
                    .and_then(Value::as_str)
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
            };
            let full: Vec<&str> = [text("first_name"), text("last_name")]
                .into_iter()
                .flatten()
                .collect();
            if !full.is_empty() {
                return Some(full.join(" "));
            }
            text("username")
                .or(text("email"))
                .map(str::to_owned)
                .or_else(|| first_text(user, &["id"]))
        }
        other => scalar_text(other),
    }
}

/// A Group or Tag by its `name`, else its id; a bare name or id as is; `null` is none.
fn group_name(group: &Value) -> Option<String> {
    match group {
        Value::Object(_) => first_text(group, &["name", "id"]),
        other => scalar_text(other),
    }
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The first of `keys` that holds a non-empty string or a number.
fn first_text(object: &Value, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|key| match object.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

/// A short identity for a key part: scalars as text, objects by `id` (else `name`), null as `-`.
fn identity_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Object(_) => {
            first_text(value, &["id", "name", "username"]).unwrap_or_else(|| "-".into())
        }
        Value::Null | Value::Array(_) => "-".into(),
    }
}

/// SHA-256 (hex) of the JSON with object keys sorted, so equal objects give equal keys.
pub(in crate::connectors::getchat) fn canonical_sha256(value: &Value) -> String {
    let mut text = String::new();
    write_canonical(value, &mut text);
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}
