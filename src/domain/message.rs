//! Inbound events and the messages they carry.

use super::{ConversationKey, ExternalId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One thing that happened on a channel, as parsed from a webhook or a poll.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InboundEvent {
    /// Unique per channel: the vendor's id for this event (a WhatsApp message id, a status key...).
    /// A second delivery with the same key is a duplicate and changes nothing.
    pub dedupe_key: String,
    /// The conversation the event belongs to; events of one conversation are processed in order.
    pub conversation: ConversationKey,
    pub occurred_at: DateTime<Utc>,
    pub kind: EventKind,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// A message written by the customer.
    CustomerMessage(CustomerMessage),
    /// Delivery status of a message the business sent (sent, delivered, read, failed).
    Status(DeliveryStatus),
    /// A message written to the customer from the channel's inbox (or the bridge's own echo).
    AgentMessage(super::AgentMessage),
    /// Assignment, tagging or resolution of the conversation on the channel.
    ConversationUpdate(super::ConversationUpdate),
    /// The helpdesk reported a change on a ticket (a new agent answer, a status change).
    TicketActivity(super::TicketActivity),
    /// Any other vendor event (assignment, tagging, resolution, messages written in the vendor's
    /// own inbox...). Stored as received; later versions act on them.
    Other {
        name: String,
        payload: serde_json::Value,
    },
}

impl EventKind {
    /// Short name stored in the `kind` column.
    pub fn name(&self) -> &str {
        match self {
            EventKind::CustomerMessage(_) => "customer_message",
            EventKind::Status(_) => "status",
            EventKind::AgentMessage(_) => "agent_message",
            EventKind::ConversationUpdate(update) => match update {
                super::ConversationUpdate::Assigned { .. } => "assigned",
                super::ConversationUpdate::Tagged { .. } => "tagged",
                super::ConversationUpdate::Resolved { .. } => "resolved",
            },
            EventKind::TicketActivity(_) => "ticket_activity",
            EventKind::Other { name, .. } => name,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    /// The customer's id on the channel (wa_id for WhatsApp).
    pub id: String,
    pub name: Option<String>,
    /// Phone number in international form without `+`, when known.
    pub phone: Option<String>,
}

impl Contact {
    /// The name to show: the profile name, else the id.
    pub fn display_name(&self) -> &str {
        self.name
            .as_deref()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or(&self.id)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CustomerMessage {
    /// The vendor's message id (WhatsApp `wamid…`, Qontak message id).
    pub remote_id: ExternalId,
    pub contact: Contact,
    pub body: MessageBody,
    /// Chat or room tags known at the time of the message (used by mapping rules).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Readable lines that qualify the message: "Reply to …", "Forwarded", ad referral…
    #[serde(default)]
    pub annotations: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "body", rename_all = "snake_case")]
pub enum MessageBody {
    /// Plain text written by the customer.
    Text { text: String },
    /// A file: image, document, audio, voice, video or sticker.
    Media {
        kind: MediaKind,
        media: MediaRef,
        caption: Option<String>,
    },
    /// A message without a native ticket form (location, contacts, buttons, reactions, unsupported
    /// types…), rendered by the connector as readable plain text.
    Rendered { text: String },
}

impl MessageBody {
    /// The text a mapping rule matches against.
    pub fn text_for_matching(&self) -> &str {
        match self {
            MessageBody::Text { text } | MessageBody::Rendered { text } => text,
            MessageBody::Media { caption, .. } => caption.as_deref().unwrap_or(""),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    Image,
    Document,
    Audio,
    Voice,
    Video,
    Sticker,
}

impl MediaKind {
    pub fn label(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Document => "document",
            MediaKind::Audio => "audio",
            MediaKind::Voice => "voice message",
            MediaKind::Video => "video",
            MediaKind::Sticker => "sticker",
        }
    }
}

/// Where a file can be fetched from on the channel that announced it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MediaRef {
    pub id: String,
    pub mime_type: Option<String>,
    /// Checksum announced by the vendor (hex or base64 SHA-256), verified after download.
    pub sha256: Option<String>,
    pub filename: Option<String>,
    /// A direct link, when the vendor gives one.
    pub url: Option<String>,
}

/// A downloaded file.
#[derive(Clone, PartialEq)]
pub struct MediaFile {
    pub filename: String,
    pub mime_type: String,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for MediaFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaFile")
            .field("filename", &self.filename)
            .field("mime_type", &self.mime_type)
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// A delivery status of a message the business sent.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeliveryStatus {
    /// The vendor's id of the outbound message (wamid).
    pub message_id: ExternalId,
    /// A second id for the same message, when the vendor has one (get.chat's `getchat_id`).
    pub alt_message_id: Option<ExternalId>,
    /// sent | delivered | read | played | failed | pending…
    pub status: String,
    pub recipient: String,
    /// Error texts for `failed`, e.g. "131047: Re-engagement message".
    #[serde(default)]
    pub errors: Vec<String>,
}
