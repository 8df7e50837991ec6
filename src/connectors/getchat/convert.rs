//! Wire → domain: one WhatsApp message, status, get.chat Message object or get.chat event at a
//! time. `webhook.rs` finds these items in a body and gives each a location for error messages;
//! this file decides what they mean.

use super::render::{self, non_empty};
use super::wire::{GcMessage, NumberOrText, WaContact, WaError, WaMedia, WaMessage, WaStatus};
use crate::domain::{
    Contact, ConversationKey, CustomerMessage, DeliveryStatus, EventKind, ExternalId, InboundEvent,
    MediaKind, MediaRef, MessageBody,
};
use chrono::{DateTime, Utc};
use serde_json::Value;

mod inbox;

pub(super) use inbox::{other_event, outgoing_message_event};

/// Conversation key of events that belong to the channel, not to one chat (`user_availability`).
pub(super) const CHANNEL_CONVERSATION: &str = "_channel";

/// What is known about the sender of a message apart from the message itself.
#[derive(Clone, Debug, Default)]
pub(super) struct SenderInfo {
    /// The customer's wa_id when the message has no `from` (get.chat Message objects).
    pub(super) wa_id: Option<String>,
    pub(super) name: Option<String>,
    pub(super) tags: Vec<String>,
}

/// Profile names of a body's `contacts[]`, looked up by wa_id.
#[derive(Debug, Default)]
pub(super) struct ContactNames {
    entries: Vec<(String, Option<String>)>,
}

impl ContactNames {
    pub(super) fn new(contacts: &[WaContact]) -> Self {
        let entries = contacts
            .iter()
            .filter_map(|c| {
                let wa_id = c.wa_id.clone()?;
                let name = c.profile.as_ref().and_then(|p| p.name.clone());
                Some((wa_id, name))
            })
            .collect();
        Self { entries }
    }

    /// The name for `wa_id`; with a single contact whose wa_id is spelled differently (Meta
    /// normalises some national numbers), that contact's name.
    pub(super) fn name_for(&self, wa_id: &str) -> Option<String> {
        if let Some((_, name)) = self.entries.iter().find(|(id, _)| id == wa_id) {
            return name.clone();
        }
        match self.entries.as_slice() {
            [(_, name)] => name.clone(),
            _ => None,
        }
    }
}

/// A message written by the customer. `Err` names what is missing.
pub(super) fn customer_message_event(
    message: &WaMessage,
    sender: SenderInfo,
    value_errors: &[WaError],
    now: DateTime<Utc>,
) -> Result<InboundEvent, String> {
    let wamid = non_empty(message.id.as_deref()).ok_or("message has no \"id\"")?;
    let wa_id = non_empty(message.from.as_deref())
        .or(non_empty(sender.wa_id.as_deref()))
        .ok_or_else(|| format!("message {wamid} has no \"from\""))?;
    let contact = Contact {
        id: wa_id.to_owned(),
        name: sender.name.filter(|n| !n.trim().is_empty()),
        phone: wa_id
            .chars()
            .all(|c| c.is_ascii_digit())
            .then(|| wa_id.to_owned()),
    };
    let mut annotations = render::annotations(message.context.as_ref(), message.referral.as_ref());
    let body = message_body(message, value_errors);
    let own_errors = message.errors.as_deref().unwrap_or_default();
    if !matches!(body, MessageBody::Rendered { .. }) && !own_errors.is_empty() {
        let texts: Vec<String> = own_errors.iter().map(render::error_text).collect();
        annotations.push(format!("WhatsApp reported: {}", texts.join("; ")));
    }
    Ok(InboundEvent {
        dedupe_key: wamid.to_owned(),
        conversation: ConversationKey::new(wa_id),
        occurred_at: timestamp_or(message.timestamp.as_ref(), now),
        kind: EventKind::CustomerMessage(CustomerMessage {
            remote_id: ExternalId::new(wamid),
            contact,
            body,
            tags: sender.tags,
            annotations,
        }),
    })
}

/// The message type, from `type` or, when absent, from the type object present.
fn message_type(message: &WaMessage) -> &str {
    if let Some(kind) = non_empty(message.kind.as_deref()) {
        return kind;
    }
    let present = [
        ("text", message.text.is_some()),
        ("image", message.image.is_some()),
        ("video", message.video.is_some()),
        ("audio", message.audio.is_some()),
        ("voice", message.voice.is_some()),
        ("document", message.document.is_some()),
        ("sticker", message.sticker.is_some()),
        ("location", message.location.is_some()),
        ("contacts", message.contacts.is_some()),
        ("interactive", message.interactive.is_some()),
        ("button", message.button.is_some()),
        ("reaction", message.reaction.is_some()),
        ("order", message.order.is_some()),
        ("system", message.system.is_some()),
        ("template", message.template.is_some()),
    ];
    present
        .into_iter()
        .find(|(_, is_present)| *is_present)
        .map(|(kind, _)| kind)
        .unwrap_or("unknown")
}

/// The body of a WhatsApp message, customer's or business's.
fn message_body(message: &WaMessage, value_errors: &[WaError]) -> MessageBody {
    let kind = message_type(message);
    let errors = match message.errors.as_deref() {
        Some(own) if !own.is_empty() => own,
        _ => value_errors,
    };
    let unsupported = || MessageBody::Rendered {
        text: render::unsupported(kind, errors),
    };
    let rendered = |text: String| MessageBody::Rendered { text };
    match kind {
        "text" => match message.text.as_ref().and_then(|t| t.body.clone()) {
            Some(text) => MessageBody::Text { text },
            None => unsupported(),
        },
        "image" => media_body(MediaKind::Image, message.image.as_ref(), kind, errors),
        "video" => media_body(MediaKind::Video, message.video.as_ref(), kind, errors),
        "document" => media_body(MediaKind::Document, message.document.as_ref(), kind, errors),
        "sticker" => media_body(MediaKind::Sticker, message.sticker.as_ref(), kind, errors),
        "voice" => media_body(
            MediaKind::Voice,
            message.voice.as_ref().or(message.audio.as_ref()),
            kind,
            errors,
        ),
        "audio" => {
            let audio = message.audio.as_ref().or(message.voice.as_ref());
            let media_kind = if audio.and_then(|a| a.voice) == Some(true) {
                MediaKind::Voice
            } else {
                MediaKind::Audio
            };
            media_body(media_kind, audio, kind, errors)
        }
        "location" => message
            .location
            .as_ref()
            .map(|l| rendered(render::location(l)))
            .unwrap_or_else(unsupported),
        "contacts" => message
            .contacts
            .as_deref()
            .map(|c| rendered(render::contact_cards(c)))
            .unwrap_or_else(unsupported),
        "interactive" => message
            .interactive
            .as_ref()
            .and_then(render::interactive)
            .map(rendered)
            .unwrap_or_else(unsupported),
        "button" => match message.button.as_ref() {
            Some(button) => {
                let label = non_empty(button.text.as_deref())
                    .or(non_empty(button.payload.as_deref()))
                    .unwrap_or("(no label)");
                rendered(format!("Selected: {label}"))
            }
            None => unsupported(),
        },
        "reaction" => message
            .reaction
            .as_ref()
            .map(|r| rendered(render::reaction(r)))
            .unwrap_or_else(unsupported),
        "order" => message
            .order
            .as_ref()
            .map(|o| rendered(render::order(o)))
            .unwrap_or_else(unsupported),
        "system" => match message
            .system
            .as_ref()
            .and_then(|s| non_empty(s.body.as_deref()))
        {
            Some(body) => rendered(format!("System notice: {body}")),
            None => unsupported(),
        },
        // Only messages sent from the business side carry templates.
        "template" | "hsm" => message
            .template
            .as_ref()
            .map(|t| rendered(render::template(t)))
            .unwrap_or_else(unsupported),
        "unsupported" => {
            let inner = message
                .unsupported
                .as_ref()
                .and_then(|u| non_empty(u.kind.as_deref()))
                .unwrap_or("unknown");
            rendered(render::unsupported(inner, errors))
        }
        _ => unsupported(),
    }
}

fn media_body(
    kind: MediaKind,
    media: Option<&WaMedia>,
    type_name: &str,
    errors: &[WaError],
) -> MessageBody {
    let Some(media) = media else {
        return MessageBody::Rendered {
            text: render::unsupported(type_name, errors),
        };
    };
    let link = non_empty(media.link.as_deref()).or(non_empty(media.url.as_deref()));
    let id = non_empty(media.id.as_deref())
        .map(str::to_owned)
        .or_else(|| link.and_then(media_id_from_link));
    if id.is_none() && link.is_none() {
        return MessageBody::Rendered {
            text: format!(
                "Received a {} that cannot be downloaded (no media id)",
                kind.label()
            ),
        };
    }
    MessageBody::Media {
        kind,
        media: MediaRef {
            id: id.unwrap_or_default(),
            mime_type: non_empty(media.mime_type.as_deref()).map(str::to_owned),
            sha256: non_empty(media.sha256.as_deref()).map(str::to_owned),
            filename: non_empty(media.filename.as_deref()).map(str::to_owned),
            url: link.map(str::to_owned),
        },
        caption: non_empty(media.caption.as_deref()).map(str::to_owned),
    }
}

/// `…/api/v1/media/<id>?…` → `<id>`.
pub(super) fn media_id_from_link(link: &str) -> Option<String> {
    let (_, rest) = link.split_once("/media/")?;
    let id = rest.split(['?', '#', '/']).next()?;
    (!id.is_empty()).then(|| id.to_owned())
}

/// A delivery status. `Err` names what is missing.
pub(super) fn status_event(status: &WaStatus, now: DateTime<Utc>) -> Result<InboundEvent, String> {
    let wamid = non_empty(status.id.as_deref());
    let getchat_id = non_empty(status.getchat_id.as_deref());
    let message_id = wamid.or(getchat_id).ok_or("status has no \"id\"")?;
    let state = non_empty(status.status.as_deref())
        .ok_or_else(|| format!("status of {message_id} has no \"status\""))?;
    let recipient = non_empty(status.recipient_id.as_deref())
        .ok_or_else(|| format!("status of {message_id} has no \"recipient_id\""))?;
    let errors = status
        .errors
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(render::error_text)
        .collect();
    Ok(InboundEvent {
        dedupe_key: format!("status:{message_id}:{state}"),
        conversation: ConversationKey::new(recipient),
        occurred_at: timestamp_or(status.timestamp.as_ref(), now),
        kind: EventKind::Status(DeliveryStatus {
            message_id: ExternalId::new(message_id),
            alt_message_id: getchat_id.filter(|_| wamid.is_some()).map(ExternalId::new),
            status: state.to_owned(),
            recipient: recipient.to_owned(),
            errors,
        }),
    })
}

/// The customer's wa_id of a get.chat Message object.
pub(super) fn message_object_wa_id(message: &GcMessage) -> Option<String> {
    let payload_field = |key: &str| {
        message
            .waba_payload
            .as_ref()
            .and_then(|p| p.get(key))
            .and_then(Value::as_str)
            .and_then(|s| non_empty(Some(s)))
            .map(str::to_owned)
    };
    non_empty(message.customer_wa_id.as_deref())
        .map(str::to_owned)
        .or_else(|| message.contact.as_ref().and_then(|c| c.wa_id.clone()))
        .or_else(|| payload_field("to"))
        .or_else(|| payload_field("wa_id"))
}

/// Sender details carried by a get.chat Message object.
pub(super) fn message_object_sender(message: &GcMessage) -> SenderInfo {
    let mut tags: Vec<String> = Vec::new();
    let all_tags = message
        .chat_tags
        .iter()
        .chain(message.tags.iter())
        .flatten();
    for name in all_tags.filter_map(|t| t.name()) {
        if !tags.iter().any(|t| t == name) {
            tags.push(name.to_owned());
        }
    }
    SenderInfo {
        wa_id: message_object_wa_id(message),
        name: message
            .contact
            .as_ref()
            .and_then(|c| c.waba_payload.as_ref())
            .and_then(|p| p.profile.as_ref())
            .and_then(|p| p.name.clone()),
        tags,
    }
}

/// Unix seconds (string or number, fractions allowed) → time; anything unusable → `now`.
pub(super) fn timestamp_or(timestamp: Option<&NumberOrText>, now: DateTime<Utc>) -> DateTime<Utc> {
    timestamp
        .and_then(NumberOrText::as_f64)
        .filter(|secs| secs.is_finite() && *secs > 0.0)
        .and_then(|secs| DateTime::from_timestamp_millis((secs * 1000.0).round() as i64))
        .unwrap_or(now)
}

#[cfg(test)]
mod tests;
