//! The connector boundary: what the sync core may ask of a vendor.
//!
//! Two roles exist. A [`ChannelConnector`] is a messaging channel (get.chat, Qontak): it turns
//! webhooks into [`InboundEvent`]s and serves the files they mention. A [`TicketConnector`] is the
//! helpdesk (Inbenta Messenger): users, tickets, replies and media. The core only sees these
//! traits and [`ConnectorError`]; vendor folders keep their wire types to themselves.

mod error;
#[cfg(test)]
pub(crate) mod fake;
pub mod getchat;
pub(crate) mod http;
pub mod inbenta;
mod metered;
pub mod qontak;
mod registry;

pub use error::{ConnectorError, ErrorClass, WebhookAuthError, WebhookError};
pub use metered::Metered;
pub use registry::Registry;

use crate::domain::admit::IdRules;
use crate::domain::{
    ChannelId, ConversationKey, ExternalId, InboundEvent, MediaFile, MediaRef, OutboundBody,
    Recipient, ReplyAuthor, TicketActivity, TicketState,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use secrecy::SecretString;

/// A messaging channel the bridge receives customer conversations from.
#[async_trait]
pub trait ChannelConnector: Send + Sync + 'static {
    fn channel_id(&self) -> &ChannelId;

    /// The vendor's name, for logs and metrics only; the core never branches on it.
    fn vendor(&self) -> &'static str;

    /// The form of this channel's conversation keys and customer ids; events that break them are
    /// refused at the edge with the field named.
    fn id_rules(&self) -> IdRules;

    /// Parse a webhook body into domain events. An empty list means "understood, nothing to do".
    fn parse_webhook(&self, body: &[u8]) -> Result<Vec<InboundEvent>, WebhookError>;

    /// Download a file announced in an inbound message, verifying its checksum when one is given.
    async fn fetch_media(&self, media: &MediaRef) -> Result<MediaFile, ConnectorError>;

    /// Send a message to the customer. Media is uploaded through the channel's own media
    /// endpoint first when the channel needs that. Fails with [`ConnectorError::WindowClosed`]
    /// when the channel refuses free-form messages because the customer-service window closed.
    async fn send(
        &self,
        to: &Recipient,
        body: &OutboundBody,
    ) -> Result<SentMessage, ConnectorError>;

    /// Recovery after a crash or a lost answer: a message with this body the channel shows as
    /// sent to this conversation since `since`, if any, so it is not sent twice.
    async fn find_sent(
        &self,
        to: &Recipient,
        since: DateTime<Utc>,
        body: &OutboundBody,
    ) -> Result<Option<ExternalId>, ConnectorError>;

    /// Mark the conversation resolved on the channel (ticket closed on the helpdesk).
    async fn resolve(&self, conversation: &ConversationKey) -> Result<(), ConnectorError>;

    /// Catch-up polling: events that happened since `since` (webhooks missed during downtime).
    /// Returns at most one page; call again from `batch.newest` while `batch.more` is set.
    async fn poll(&self, since: DateTime<Utc>) -> Result<PollBatch, ConnectorError>;

    /// Which optional methods below this channel offers; the core checks before calling one.
    fn capabilities(&self) -> ChannelCapabilities;

    /// Tell the channel the polled events are stored (get.chat `mark_as_received`). Called only
    /// after the batch is committed, and only with
    /// [`ChannelCapabilities::poll_acknowledgement`]; a connector without it leaves this out.
    async fn acknowledge(&self, _batch: &PollBatch) -> Result<(), ConnectorError> {
        Err(not_offered(self.vendor(), "poll_acknowledgement"))
    }

    /// Register the bridge's webhook URL with the channel. Called only with
    /// [`ChannelCapabilities::webhook_registration`]; a connector without it leaves this out.
    async fn register_webhooks(&self, _url: &str) -> Result<Registration, ConnectorError> {
        Err(not_offered(self.vendor(), "webhook_registration"))
    }
}

/// The optional parts of [`ChannelConnector`] a channel offers. The core checks the matching
/// flag before it calls one; a connector that does not offer a part does not implement it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelCapabilities {
    /// [`ChannelConnector::register_webhooks`]: the vendor has an API to register the bridge's
    /// webhook URL. Without it, the webhook is configured on the vendor's side.
    pub webhook_registration: bool,
    /// [`ChannelConnector::acknowledge`]: polled events must be confirmed as received.
    pub poll_acknowledgement: bool,
}

/// What an optional method answers when called on a connector that does not offer it: a bug in
/// the caller, which should have checked [`ChannelConnector::capabilities`].
fn not_offered(vendor: &'static str, capability: &str) -> ConnectorError {
    ConnectorError::Permanent {
        vendor,
        status: None,
        message: format!("this channel does not offer {capability} (check capabilities() first)"),
    }
}

/// Durable storage for credentials a connector rotates itself (Qontak's OAuth tokens), so a
/// restart does not fall back to a token that is no longer valid. Values are opaque to the store
/// and never logged.
#[async_trait]
pub trait CredentialStore: Send + Sync + 'static {
    async fn load(&self, key: &str) -> Result<Option<SecretString>, ConnectorError>;
    async fn save(&self, key: &str, value: &SecretString) -> Result<(), ConnectorError>;
}

/// A message the channel accepted.
#[derive(Clone, Debug, PartialEq)]
pub struct SentMessage {
    /// The channel's id for it (statuses and echoes name it).
    pub id: ExternalId,
    /// A second id of the same message, when the channel has one.
    pub alt_id: Option<ExternalId>,
}

/// One page of polled events.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PollBatch {
    pub events: Vec<InboundEvent>,
    /// The time of the newest event seen (the next cursor), if any.
    pub newest: Option<DateTime<Utc>>,
    /// More pages follow.
    pub more: bool,
}

/// What a webhook registration found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Registration {
    Created,
    AlreadyRegistered,
}

/// Something the helpdesk reported (a webhook delivery or a polled change), parsed.
#[derive(Clone, Debug, PartialEq)]
pub struct HelpdeskEvent {
    /// Unique per helpdesk event, built by the connector.
    pub dedupe_key: String,
    pub occurred_at: DateTime<Utc>,
    pub activity: TicketActivity,
}

/// A file attached to a ticket reply.
#[derive(Clone, Debug, PartialEq)]
pub struct TicketAttachment {
    pub id: ExternalId,
    pub name: Option<String>,
    pub mime_type: Option<String>,
    pub url: Option<String>,
    pub size: Option<u64>,
}

/// A new ticket, opened by a customer.
#[derive(Clone, Debug, PartialEq)]
pub struct NewTicket {
    pub title: String,
    pub creator: ExternalId,
    /// First message, HTML.
    pub message_html: String,
    pub queue: Option<i64>,
    pub source: Option<i64>,
    pub attachments: Vec<ExternalId>,
    /// Deterministic id the bridge can look the ticket up by after a crash.
    pub external_id: String,
}

/// A message added to an existing ticket.
#[derive(Clone, Debug, PartialEq)]
pub struct NewReply {
    pub creator: ExternalId,
    pub message_html: String,
    pub attachments: Vec<ExternalId>,
}

/// A reply as listed on a ticket.
#[derive(Clone, Debug, PartialEq)]
pub struct TicketReply {
    pub id: ExternalId,
    /// Who wrote it: only [`ReplyAuthor::Agent`] replies go to the customer.
    pub author: ReplyAuthor,
    pub creator: Option<ExternalId>,
    pub message_html: String,
    pub attachments: Vec<TicketAttachment>,
    pub created_at: Option<DateTime<Utc>>,
}

/// The helpdesk where conversations become tickets.
#[async_trait]
pub trait TicketConnector: Send + Sync + 'static {
    fn vendor(&self) -> &'static str;

    /// Look a user up by address (e-mail-like key).
    async fn find_user(&self, address: &str) -> Result<Option<ExternalId>, ConnectorError>;
    async fn create_user(&self, name: &str, address: &str) -> Result<ExternalId, ConnectorError>;

    /// Look a ticket up by the external id it was created with.
    async fn find_ticket(&self, external_id: &str) -> Result<Option<ExternalId>, ConnectorError>;
    async fn create_ticket(&self, ticket: &NewTicket) -> Result<ExternalId, ConnectorError>;
    /// The ticket's state, if the helpdesk reports one.
    async fn ticket_state(
        &self,
        ticket: &ExternalId,
    ) -> Result<Option<TicketState>, ConnectorError>;
    /// Open or close the ticket.
    async fn set_ticket_state(
        &self,
        ticket: &ExternalId,
        state: &TicketState,
    ) -> Result<(), ConnectorError>;

    async fn list_replies(&self, ticket: &ExternalId) -> Result<Vec<TicketReply>, ConnectorError>;
    async fn add_reply(
        &self,
        ticket: &ExternalId,
        reply: &NewReply,
    ) -> Result<ExternalId, ConnectorError>;

    /// Upload a file so it can be attached to a ticket or reply.
    async fn upload_media(&self, file: &MediaFile) -> Result<ExternalId, ConnectorError>;
    /// The largest file (raw bytes) `upload_media` accepts.
    fn max_attachment_bytes(&self) -> usize;

    /// Download a file attached to a reply.
    async fn fetch_attachment(
        &self,
        attachment: &TicketAttachment,
    ) -> Result<MediaFile, ConnectorError>;

    /// Whether a webhook delivery proves it comes from the helpdesk, from its headers; checked
    /// before [`TicketConnector::parse_webhook`].
    fn verify_webhook(&self, headers: &HeaderMap) -> Result<(), WebhookAuthError>;

    /// The helpdesk's webhook verification handshake (a `GET` on the webhook URL): the
    /// plain-text body to answer with.
    fn webhook_handshake(&self, headers: &HeaderMap) -> Result<String, WebhookAuthError>;

    /// Parse a helpdesk webhook delivery (after [`TicketConnector::verify_webhook`]).
    fn parse_webhook(&self, body: &[u8]) -> Result<Vec<HelpdeskEvent>, WebhookError>;

    /// Register the bridge's webhook for new replies unless one with this URL exists.
    async fn register_webhook(
        &self,
        url: &str,
        secret: &SecretString,
    ) -> Result<Registration, ConnectorError>;

    /// Catch-up polling: the changes of tickets changed since `since`, oldest first, each keyed
    /// so that dedupe absorbs a change seen twice (`occurred_at` is the change's time).
    async fn updated_tickets(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<HelpdeskEvent>, ConnectorError>;
}
