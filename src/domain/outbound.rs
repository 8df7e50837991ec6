//! What the bridge sends to a customer on a channel.

use super::{MediaFile, MediaKind};

/// A message for the customer, ready for a channel connector.
#[derive(Clone, Debug, PartialEq)]
pub enum OutboundBody {
    /// WhatsApp-formatted text (`*bold*`, `_italic_`, lists, bare links).
    Text { text: String },
    /// A file with an optional caption. `kind` is what the channel should send it as; the
    /// connector may still fall back to a document when the channel refuses the type.
    Media {
        kind: MediaKind,
        file: MediaFile,
        caption: Option<String>,
    },
    /// A pre-approved template (outside the 24-hour window).
    Template {
        name: String,
        language: String,
        parameters: Vec<String>,
    },
}

impl OutboundBody {
    /// Short label for logs and the `kind` of recorded outbound messages.
    pub fn label(&self) -> &'static str {
        match self {
            OutboundBody::Text { .. } => "text",
            OutboundBody::Media { .. } => "media",
            OutboundBody::Template { .. } => "template",
        }
    }
}

/// The person the message goes to, as the conversation knows them.
#[derive(Clone, Debug, PartialEq)]
pub struct Recipient {
    /// The conversation key (wa_id for get.chat, room id for Qontak).
    pub conversation: super::ConversationKey,
    /// Phone number without `+`, when known (Qontak direct templates need it).
    pub phone: Option<String>,
    pub name: Option<String>,
}
