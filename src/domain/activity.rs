//! Events that are not customer messages: what agents do on either side, and what the helpdesk
//! reports about its tickets.

use super::{ExternalId, MessageBody};
use serde::{Deserialize, Serialize};

/// A message written to the customer from the channel's own inbox (a get.chat inbox user, a
/// Qontak agent), or one the bridge sent itself (recognised by its id and dropped as an echo).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AgentMessage {
    /// The vendor's message id; the bridge's own sends are recognised by it.
    pub remote_id: ExternalId,
    /// A second id of the same message (get.chat's `getchat_id` vs the wamid), when known.
    #[serde(default)]
    pub alt_remote_id: Option<ExternalId>,
    /// Who wrote it, as the channel names them (an inbox user name, an agent name).
    pub author: Option<String>,
    pub body: MessageBody,
}

/// A change of the conversation's state on the channel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "update", rename_all = "snake_case")]
pub enum ConversationUpdate {
    /// Assigned to a user and/or group (names or ids as the channel gives them; `None` = unassigned).
    Assigned {
        user: Option<String>,
        group: Option<String>,
    },
    /// A tag was added to (or removed from) the conversation.
    Tagged { tag: String, added: bool },
    /// Resolved (closed) or reopened on the channel.
    Resolved { resolved: bool },
}

/// Something the helpdesk reported about a ticket (a webhook delivery or a poll), by ids only.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TicketActivity {
    pub ticket: ExternalId,
    /// What changed (stored as `item`, its name in events written by earlier versions).
    #[serde(rename = "item")]
    pub subject: ActivitySubject,
    /// The helpdesk's word for what happened (`add`, `update`…), for logs only.
    pub action: String,
    /// The changed object's id (the reply id for replies, the ticket id for tickets).
    pub object_id: ExternalId,
}

/// What a [`TicketActivity`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivitySubject {
    /// A reply on the ticket (an agent's answer may be among the new ones).
    Reply,
    /// The ticket itself (its state may have changed).
    Ticket,
}

/// Who wrote a reply on a ticket, as the helpdesk types it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyAuthor {
    /// Someone on the helpdesk side, writing to the customer: these are sent to the channel.
    Agent,
    /// The customer (how the bridge posts the customer's messages).
    Customer,
    /// Anything else the helpdesk lists (internal notes, system entries…).
    Other,
}

/// A ticket's state, in the bridge's terms; the helpdesk connector maps its own statuses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TicketState {
    Open,
    Closed,
    /// A state the bridge does not act on, in the helpdesk's words (for logs).
    Other(String),
}
