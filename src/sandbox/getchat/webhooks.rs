//! Builders of webhook bodies as get.chat would POST them, in each shape the bridge accepts, and
//! of get.chat Message objects.

use serde_json::{Value, json};

/// A file announced in an inbound media message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookMedia {
    /// WhatsApp type: `image`, `video`, `audio`, `voice`, `document` or `sticker`.
    pub kind: String,
    /// The media id (a get.chat media id from [`super::GetchatSim::add_media`]).
    pub id: String,
    pub mime_type: String,
    /// SHA-256 as WhatsApp announces it (see [`super::sha256_hex`], [`super::sha256_base64`]).
    pub sha256: Option<String>,
    pub caption: Option<String>,
    /// Documents only.
    pub filename: Option<String>,
}

fn now_seconds() -> i64 {
    chrono::Utc::now().timestamp()
}

fn text_message(wa_id: &str, wamid: &str, text: &str) -> Value {
    json!({
        "from": wa_id,
        "id": wamid,
        "timestamp": now_seconds().to_string(),
        "type": "text",
        "text": {"body": text},
    })
}

fn media_message(wa_id: &str, wamid: &str, media: &WebhookMedia) -> Value {
    let mut object = json!({"id": media.id, "mime_type": media.mime_type});
    if let Some(sha256) = &media.sha256 {
        object["sha256"] = json!(sha256);
    }
    if let Some(caption) = &media.caption {
        object["caption"] = json!(caption);
    }
    if let Some(filename) = &media.filename {
        object["filename"] = json!(filename);
    }
    let mut message = json!({
        "from": wa_id,
        "id": wamid,
        "timestamp": now_seconds().to_string(),
        "type": media.kind,
    });
    message[media.kind.as_str()] = object;
    message
}

fn contacts(wa_id: &str, name: &str) -> Value {
    json!([{"profile": {"name": name}, "wa_id": wa_id}])
}

/// A get.chat Message object (`GET messages/` results, `incoming_messages[]`…).
pub(super) fn message_object(
    getchat_id: &str,
    waba_payload: Value,
    wa_id: &str,
    name: &str,
    from_us: bool,
) -> Value {
    let initials: String = name.chars().filter(|c| c.is_uppercase()).take(2).collect();
    json!({
        "id": getchat_id,
        "waba_payload": waba_payload,
        "waba_statuses": {"sent": null, "delivered": null, "read": null},
        "contact": {
            "wa_id": wa_id,
            "waba_payload": {"profile": {"name": name}, "wa_id": wa_id},
            "initials": initials,
            "last_message_timestamp": now_seconds(),
        },
        "from_us": from_us,
        "received": false,
        "sender": null,
        "context": null,
        "customer_wa_id": wa_id,
        "tags": [],
        "chat_tags": [],
    })
}

/// On-prem style text message: `{contacts, messages}`.
pub fn onprem_text_webhook(wa_id: &str, name: &str, wamid: &str, text: &str) -> Value {
    json!({"contacts": contacts(wa_id, name), "messages": [text_message(wa_id, wamid, text)]})
}

/// What get.chat really sends for an incoming text: the on-prem sections plus the same message
/// as a Message object in `incoming_messages` (seed 001).
pub fn incoming_text_webhook(wa_id: &str, name: &str, wamid: &str, text: &str) -> Value {
    let message = text_message(wa_id, wamid, text);
    let object = message_object(&new_id(), message.clone(), wa_id, name, false);
    json!({"contacts": contacts(wa_id, name), "messages": [message], "incoming_messages": [object]})
}

/// Cloud API text message: `{object, entry[].changes[].value}`.
pub fn cloud_text_webhook(wa_id: &str, name: &str, wamid: &str, text: &str) -> Value {
    cloud_envelope(json!({
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550000000", "phone_number_id": "100000000000000"},
        "contacts": contacts(wa_id, name),
        "messages": [text_message(wa_id, wamid, text)],
    }))
}

/// An incoming media message in get.chat's form (on-prem sections + `incoming_messages`).
pub fn incoming_media_webhook(wa_id: &str, name: &str, wamid: &str, media: &WebhookMedia) -> Value {
    let message = media_message(wa_id, wamid, media);
    let object = message_object(&new_id(), message.clone(), wa_id, name, false);
    json!({"contacts": contacts(wa_id, name), "messages": [message], "incoming_messages": [object]})
}

/// On-prem style media message.
pub fn onprem_media_webhook(wa_id: &str, name: &str, wamid: &str, media: &WebhookMedia) -> Value {
    json!({"contacts": contacts(wa_id, name), "messages": [media_message(wa_id, wamid, media)]})
}

/// Cloud API media message.
pub fn cloud_media_webhook(wa_id: &str, name: &str, wamid: &str, media: &WebhookMedia) -> Value {
    cloud_envelope(json!({
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550000000", "phone_number_id": "100000000000000"},
        "contacts": contacts(wa_id, name),
        "messages": [media_message(wa_id, wamid, media)],
    }))
}

/// A delivery status with get.chat's `getchat_id` extension.
pub fn status_webhook(
    wamid: &str,
    getchat_id: Option<&str>,
    recipient: &str,
    status: &str,
) -> Value {
    let mut entry = json!({
        "id": wamid,
        "recipient_id": recipient,
        "status": status,
        "timestamp": now_seconds().to_string(),
        "type": "message",
    });
    if let Some(getchat_id) = getchat_id {
        entry["getchat_id"] = json!(getchat_id);
    }
    json!({"statuses": [entry]})
}

/// A text written by an inbox user (`outgoing_messages`).
pub fn outgoing_text_webhook(getchat_id: &str, wa_id: &str, name: &str, text: &str) -> Value {
    let payload = json!({
        "to": wa_id,
        "type": "text",
        "text": {"body": text},
        "id": format!("gBGG{}", new_id().replace('-', "")),
        "timestamp": now_seconds(),
    });
    json!({"outgoing_messages": [message_object(getchat_id, payload, wa_id, name, true)]})
}

/// A chat resolved (or reopened) in the inbox.
pub fn chat_resolved_webhook(wa_id: &str, resolved: bool) -> Value {
    json!({"chat_resolved": {"wa_id": wa_id, "resolved": resolved}})
}

fn cloud_envelope(value: Value) -> Value {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "100000000000001", "changes": [{"field": "messages", "value": value}]}],
    })
}

pub(super) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
