//! A Qontak message (from a webhook or a room's history) → domain events. Webhooks and polling
//! both come through here, so the same message gets the same dedupe key either way:
//!
//! * a message: its Qontak id;
//! * a delivery status: `status:{message id}:{status}`;
//! * a resolved room: `room_resolved:{room id}:{resolved time in unix seconds}`;
//! * a broadcast log entry: `broadcast_log:{log id}:{status}`.

use super::wire::{QMessage, QRoom, text_of};
use crate::domain::{
    AgentMessage, Contact, ConversationKey, ConversationUpdate, CustomerMessage, DeliveryStatus,
    EventKind, ExternalId, InboundEvent, MediaKind, MediaRef, MessageBody,
};
use chrono::{DateTime, Utc};
use serde_json::Value;

/// Who wrote a message, as Qontak marks it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Author {
    Customer,
    /// An agent in Qontak's inbox (`Models::User`).
    Agent,
    /// A bot token (`Models::SystemAccount`): the bridge itself, or a Qontak chatbot.
    Bot,
    Unknown,
}

/// `participant_type` first, then `sender_type`, then `is_agent`.
pub(super) fn author_of(message: &QMessage) -> Author {
    let participant = message
        .participant_type
        .as_deref()
        .map(str::to_ascii_lowercase);
    match participant.as_deref() {
        Some("customer" | "contact") => return Author::Customer,
        Some("agent" | "user") => return Author::Agent,
        Some("bot" | "system" | "system_account") => return Author::Bot,
        _ => {}
    }
    match message.sender_type.as_deref() {
        Some("Models::Contact") => return Author::Customer,
        Some("Models::User") => return Author::Agent,
        Some("Models::SystemAccount" | "Models::Bot") => return Author::Bot,
        _ => {}
    }
    match message.is_agent {
        Some(true) => Author::Agent,
        Some(false) => Author::Customer,
        None => Author::Unknown,
    }
}

/// Statuses that describe delivery of an outbound message (not its creation).
pub(super) fn is_delivery_status(status: &str) -> bool {
    matches!(
        status.to_ascii_lowercase().as_str(),
        "sent" | "delivered" | "read" | "failed" | "played" | "deleted"
    )
}

/// `2021-03-03T22:53:29.000Z` and other RFC 3339 forms, or unix seconds.
pub(super) fn parse_time(text: Option<&str>) -> Option<DateTime<Utc>> {
    let text = text?.trim();
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Some(time.with_timezone(&Utc));
    }
    if let Ok(naive) = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f") {
        return Some(naive.and_utc());
    }
    let seconds: f64 = text.parse().ok()?;
    DateTime::from_timestamp_millis((seconds * 1000.0) as i64)
}

/// The room a message belongs to: its embedded room, else the room it was listed under.
fn room_id_of<'a>(message: &'a QMessage, room: Option<&'a QRoom>) -> Option<&'a str> {
    message
        .room_id
        .as_deref()
        .or_else(|| message.room.as_ref().and_then(|r| r.id.as_deref()))
        .or_else(|| room.and_then(|r| r.id.as_deref()))
        .filter(|id| !id.trim().is_empty())
}

/// The ids every message event needs, or why the message cannot be used.
struct Basics<'a> {
    id: &'a str,
    room_id: &'a str,
    room: Option<&'a QRoom>,
    occurred_at: DateTime<Utc>,
}

fn basics<'a>(
    message: &'a QMessage,
    listed_room: Option<&'a QRoom>,
    now: DateTime<Utc>,
) -> Result<Basics<'a>, String> {
    let id = message
        .id
        .as_deref()
        .filter(|id| !id.trim().is_empty())
        .ok_or("the message has no id")?;
    let room_id = room_id_of(message, listed_room).ok_or("the message names no room")?;
    Ok(Basics {
        id,
        room_id,
        room: message.room.as_ref().or(listed_room),
        occurred_at: parse_time(message.created_at.as_deref()).unwrap_or(now),
    })
}

/// A message written by the customer.
pub(super) fn customer_message(
    message: &QMessage,
    listed_room: Option<&QRoom>,
    now: DateTime<Utc>,
) -> Result<InboundEvent, String> {
    let b = basics(message, listed_room, now)?;
    let phone = b
        .room
        .and_then(|r| r.account_uniq_id.clone())
        .filter(|p| !p.trim().is_empty());
    let name = message
        .sender
        .as_ref()
        .and_then(|s| s.name.clone())
        .or_else(|| b.room.and_then(|r| r.name.clone()))
        .filter(|n| !n.trim().is_empty());
    let contact = Contact {
        id: phone.clone().unwrap_or_else(|| b.room_id.to_owned()),
        name,
        phone: phone.map(|p| p.trim_start_matches('+').to_owned()),
    };
    let customer = CustomerMessage {
        remote_id: ExternalId::new(b.id),
        contact,
        body: body_of(message),
        tags: b.room.map(|r| r.tags.clone()).unwrap_or_default(),
        annotations: reply_annotation(message).into_iter().collect(),
    };
    Ok(InboundEvent {
        dedupe_key: b.id.to_owned(),
        conversation: ConversationKey::new(b.room_id),
        occurred_at: b.occurred_at,
        kind: EventKind::CustomerMessage(customer),
    })
}

/// A message written in Qontak's inbox (or sent by a bot token, the bridge's own included).
/// Campaign messages (templates and broadcasts) are kept as `campaign_message` events: they
/// are not conversation replies, and the bridge's own templates come back this way with an id
/// it never saw (the direct-broadcast API answers with the broadcast's id).
pub(super) fn agent_message(
    message: &QMessage,
    listed_room: Option<&QRoom>,
    now: DateTime<Utc>,
) -> Result<InboundEvent, String> {
    let b = basics(message, listed_room, now)?;
    let kind = if message.is_campaign == Some(true) {
        EventKind::Other {
            name: "campaign_message".into(),
            payload: campaign_payload(message),
        }
    } else {
        EventKind::AgentMessage(AgentMessage {
            remote_id: ExternalId::new(b.id),
            alt_remote_id: message
                .external_id
                .as_deref()
                .filter(|id| !id.trim().is_empty())
                .map(ExternalId::new),
            author: message
                .sender
                .as_ref()
                .and_then(|s| s.name.clone())
                .filter(|n| !n.trim().is_empty()),
            body: body_of(message),
        })
    };
    Ok(InboundEvent {
        dedupe_key: b.id.to_owned(),
        conversation: ConversationKey::new(b.room_id),
        occurred_at: b.occurred_at,
        kind,
    })
}

fn campaign_payload(message: &QMessage) -> Value {
    serde_json::json!({
        "id": message.id,
        "type": message.message_type,
        "text": message.text,
        "status": message.status,
        "external_id": message.external_id,
        "created_at": message.created_at,
    })
}

/// The delivery status a `status_message` reports, when the message carries one.
pub(super) fn status_event(
    message: &QMessage,
    listed_room: Option<&QRoom>,
    now: DateTime<Utc>,
) -> Result<Option<InboundEvent>, String> {
    let b = basics(message, listed_room, now)?;
    let Some(status) = message
        .status
        .as_deref()
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
    else {
        return Ok(None);
    };
    let recipient = b
        .room
        .and_then(|r| r.account_uniq_id.clone())
        .unwrap_or_default();
    let occurred_at = parse_time(message.updated_at.as_deref()).unwrap_or(now);
    Ok(Some(InboundEvent {
        dedupe_key: format!("status:{}:{status}", b.id),
        conversation: ConversationKey::new(b.room_id),
        occurred_at,
        kind: EventKind::Status(DeliveryStatus {
            message_id: ExternalId::new(b.id),
            alt_message_id: message
                .external_id
                .as_deref()
                .filter(|id| !id.trim().is_empty())
                .map(ExternalId::new),
            status,
            recipient,
            errors: error_texts(message),
        }),
    }))
}

fn error_texts(message: &QMessage) -> Vec<String> {
    let mut texts = Vec::new();
    for value in [&message.error, &message.errors].into_iter().flatten() {
        match value {
            Value::Array(items) => texts.extend(items.iter().map(|item| {
                text_of(item)
                    .or_else(|| item.get("message").and_then(text_of))
                    .or_else(|| item.get("title").and_then(text_of))
                    .unwrap_or_else(|| item.to_string())
            })),
            Value::Object(object) => texts.extend(
                ["message", "title", "detail"]
                    .iter()
                    .find_map(|k| object.get(*k).and_then(text_of))
                    .or_else(|| Some(value.to_string())),
            ),
            Value::Null => {}
            other => texts.extend(text_of(other)),
        }
    }
    texts.retain(|t| !t.trim().is_empty());
    texts
}

/// A room resolved on Qontak. `resolved_at` falls back to `now` only when Qontak gave no time.
pub(super) fn room_resolved(
    room_id: &str,
    resolved_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> InboundEvent {
    let at = resolved_at.unwrap_or(now);
    InboundEvent {
        dedupe_key: format!("room_resolved:{room_id}:{}", at.timestamp()),
        conversation: ConversationKey::new(room_id),
        occurred_at: at,
        kind: EventKind::ConversationUpdate(ConversationUpdate::Resolved { resolved: true }),
    }
}

/// What the customer wrote, as a domain body.
fn body_of(message: &QMessage) -> MessageBody {
    let message_type = message
        .message_type
        .as_deref()
        .unwrap_or("text")
        .to_ascii_lowercase();
    let text = message.text.clone().filter(|t| !t.trim().is_empty());
    if message_type == "text" {
        return match text {
            Some(text) => MessageBody::Text { text },
            None => MessageBody::Rendered {
                text: "(empty message)".into(),
            },
        };
    }
    if let Some(kind) = media_kind(&message_type) {
        return match media_of(message) {
            Some(media) => MessageBody::Media {
                kind,
                media,
                caption: text,
            },
            None => MessageBody::Rendered {
                text: match text {
                    Some(caption) => format!("({} without a file link) {caption}", kind.label()),
                    None => format!("({} without a file link)", kind.label()),
                },
            },
        };
    }
    MessageBody::Rendered {
        text: match text {
            Some(text) => text,
            None => format!("({message_type} message)"),
        },
    }
}

fn media_kind(message_type: &str) -> Option<MediaKind> {
    Some(match message_type {
        "image" | "photo" => MediaKind::Image,
        "video" => MediaKind::Video,
        "audio" => MediaKind::Audio,
        "voice" | "ptt" => MediaKind::Voice,
        "document" | "file" => MediaKind::Document,
        "sticker" => MediaKind::Sticker,
        _ => return None,
    })
}

/// The file of a media message. Qontak does not document these fields; accepted: `file{url,
/// filename|name, content_type|mime_type}`, `file` as a bare URL, `url`, `media{url, …}`.
pub(super) fn media_of(message: &QMessage) -> Option<MediaRef> {
    let field = |value: &Value, keys: &[&str]| {
        keys.iter()
            .find_map(|k| value.get(*k).and_then(text_of))
            .filter(|s| !s.trim().is_empty())
    };
    let objects: Vec<&Value> = [&message.file, &message.media]
        .into_iter()
        .flatten()
        .filter(|v| v.is_object())
        .collect();
    let url = objects
        .iter()
        .find_map(|o| field(o, &["url", "link", "file_url"]))
        .or_else(|| message.file.as_ref().and_then(text_of))
        .or_else(|| message.url.as_ref().and_then(text_of))
        .or_else(|| message.media.as_ref().and_then(text_of))
        .filter(|u| !u.trim().is_empty())?;
    let filename = objects
        .iter()
        .find_map(|o| field(o, &["filename", "file_name", "name"]))
        .or_else(|| message.filename.clone());
    let mime_type = objects
        .iter()
        .find_map(|o| field(o, &["content_type", "mime_type", "mimetype"]))
        .or_else(|| message.content_type.clone())
        .or_else(|| message.mime_type.clone());
    Some(MediaRef {
        id: message.id.clone().unwrap_or_else(|| url.clone()),
        mime_type,
        sha256: None,
        filename,
        url: Some(url),
    })
}

/// "Reply to: …" when the message quotes another one.
fn reply_annotation(message: &QMessage) -> Option<String> {
    match message.reply.as_ref()? {
        Value::Object(object) => {
            let quoted = object.get("text").and_then(text_of);
            Some(match quoted.filter(|q| !q.trim().is_empty()) {
                Some(quoted) => format!("Reply to: {}", shorten(&quoted, 200)),
                None => "Reply to an earlier message".into(),
            })
        }
        Value::String(s) if !s.trim().is_empty() => Some("Reply to an earlier message".into()),
        _ => None,
    }
}

fn shorten(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(max_chars).collect();
    short.push('…');
    short
}
