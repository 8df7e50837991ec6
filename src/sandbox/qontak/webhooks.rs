//! Qontak message objects and webhook bodies, in the shapes of the vendor's samples
//! (`specs/payloads/qontak_*`, seed 003): a flat message with its `room{…}` plus the top-level
//! `webhook_event`/`data_event` current payloads carry; the seed's `room_resolved` and
//! `broadcast_log_status` bodies.

use super::state::{SimData, SimRoom, time_text};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// Who wrote a simulated message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Writer {
    Customer,
    /// An agent in Qontak's inbox, by name.
    Agent(String),
    /// A bot token (the bridge) or a campaign.
    Bot,
}

/// What a simulated message says.
pub(super) struct MessageSpec {
    pub(super) id: String,
    pub(super) message_type: String,
    pub(super) text: Option<String>,
    pub(super) writer: Writer,
    pub(super) status: String,
    pub(super) file: Option<Value>,
    pub(super) is_campaign: bool,
    pub(super) at: DateTime<Utc>,
}

/// A message object as histories list it (no `room`).
pub(super) fn message_object(data: &SimData, room: &SimRoom, spec: &MessageSpec) -> Value {
    let (sender_type, participant_type, sender_name, sender_id) = match &spec.writer {
        Writer::Customer => (
            "Models::Contact",
            "customer",
            room.name.clone(),
            room_contact_id(room),
        ),
        Writer::Agent(name) => (
            "Models::User",
            "agent",
            name.clone(),
            stable_id("agent", name),
        ),
        Writer::Bot => (
            "Models::SystemAccount",
            "bot",
            "Bot".to_owned(),
            stable_id("bot", "bot"),
        ),
    };
    let mut object = json!({
        "id": spec.id,
        "type": spec.message_type,
        "room_id": room.id,
        "is_campaign": spec.is_campaign,
        "sender_id": sender_id,
        "sender_type": sender_type,
        "sender": {"name": sender_name, "avatar": null},
        "participant_id": stable_id("participant", &format!("{}{sender_type}", room.id)),
        "organization_id": data.organization_id,
        "text": spec.text,
        "status": spec.status,
        "participant_type": participant_type,
        "external_id": if spec.writer == Writer::Customer { Value::String(wamid()) } else { Value::Null },
        "local_id": null,
        "created_at": time_text(spec.at),
        "reply": null,
    });
    if let Some(file) = &spec.file {
        object["file"] = file.clone();
    }
    object
}

/// `object` with the room embedded, as webhooks and the send answer carry it.
pub(super) fn with_room(data: &SimData, mut object: Value, room: &SimRoom) -> Value {
    object["room"] = data.room_json(room);
    object
}

/// A message-interaction webhook body: the message with its room and the event names.
pub(super) fn message_webhook(message_with_room: Value, data_event: &str) -> Value {
    let mut body = message_with_room;
    body["webhook_event"] = json!("message_interaction");
    body["data_event"] = json!(data_event);
    body
}

/// The seed's `room_resolved` body.
pub(super) fn room_resolved_body(room: &SimRoom) -> Value {
    json!({
        "event_type": "room_resolved",
        "data": {
            "room_id": room.id,
            "resolved_at": room.resolved_at.map(time_text),
            "resolved_by": stable_id("agent", "sandbox"),
        },
    })
}

/// The seed's `broadcast_log_status` body for one recipient of a direct broadcast.
pub(super) fn broadcast_log_body(
    data: &SimData,
    broadcast_id: &str,
    template_id: &str,
    phone: &str,
    name: &str,
    status: &str,
    wamid: &str,
) -> Value {
    let now = Utc::now();
    json!({
        "id": super::state::new_id(),
        "organization_id": data.organization_id,
        "messages_broadcast_id": broadcast_id,
        "messages_broadcast_template_id": template_id,
        "contact_phone_number": phone,
        "contact_full_name": name,
        "status": status,
        "whatsapp_message_id": wamid,
        "whatsapp_error_message": if status == "failed" { "Message failed to send" } else { "n/a" },
        "messages_response": {
            status: {"statuses": [{"id": wamid, "recipient_id": phone, "status": status,
                                   "timestamp": now.timestamp()}]},
            "messages": [{"id": wamid, "message_status": "accepted"}],
            "contacts": [{"input": phone, "wa_id": phone}],
            "messaging_product": "whatsapp",
        },
        "messages": {"body": {"type": "body", "template": null, "parameters": []}},
        "created_at": time_text(now),
        "is_pacing": false,
        "data_event": "broadcast_log_status",
        "webhook_event": "message_interaction",
    })
}

/// The same body without `webhook_event` / `data_event`, as Qontak's 2021 documents show it.
pub fn without_event_names(body: &Value) -> Value {
    let mut body = body.clone();
    if let Some(object) = body.as_object_mut() {
        object.remove("webhook_event");
        object.remove("data_event");
    }
    body
}

/// A WhatsApp-like message id.
pub(super) fn wamid() -> String {
    let id = uuid::Uuid::new_v4()
        .simple()
        .to_string()
        .to_ascii_uppercase();
    format!("wamid.HBgM{}", &id[..24])
}

fn room_contact_id(room: &SimRoom) -> String {
    stable_id("contact", &room.phone)
}

/// A UUID derived from `kind` and `name`, so the same agent keeps the same id.
fn stable_id(kind: &str, name: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(format!("{kind}:{name}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}
