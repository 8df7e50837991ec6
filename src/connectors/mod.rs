//! The connector boundary: what the sync core may ask of a vendor.
//!
//! Two roles exist. A [`ChannelConnector`] is a messaging channel (get.chat, Qontak): it turns
//! webhooks into [`InboundEvent`]s and serves the files they mention. A [`TicketConnector`] is the
//! helpdesk (Inbenta Messenger): users, tickets, replies and media. The core only sees these
//! traits and [`ConnectorError`]; vendor folders keep their wire types to themselves.

mod error;
pub mod getchat;
pub mod inbenta;
mod metered;
mod registry;

pub use error::{ConnectorError, ErrorClass, WebhookError};
pub use metered::Metered;
pub use registry::Registry;

use crate::domain::{ChannelId, ExternalId, InboundEvent, MediaFile, MediaRef};
use async_trait::async_trait;

/// A messaging channel the bridge receives customer conversations from.
#[async_trait]
pub trait ChannelConnector: Send + Sync + 'static {
    fn channel_id(&self) -> &ChannelId;

    /// The vendor's name, for logs and metrics only; the core never branches on it.
    fn vendor(&self) -> &'static str;

    /// Parse a webhook body into domain events. An empty list means "understood, nothing to do".
    fn parse_webhook(&self, body: &[u8]) -> Result<Vec<InboundEvent>, WebhookError>;

    /// Download a file announced in an inbound message, verifying its checksum when one is given.
    async fn fetch_media(&self, media: &MediaRef) -> Result<MediaFile, ConnectorError>;
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
    /// `answer` (agent → customer) or `reply` (customer → agent), as the helpdesk types it.
    pub kind: String,
    pub creator: Option<ExternalId>,
    pub message_html: String,
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
    /// The ticket's numeric status, if the helpdesk reports one.
    async fn ticket_status(&self, ticket: &ExternalId) -> Result<Option<i64>, ConnectorError>;
    async fn set_ticket_status(
        &self,
        ticket: &ExternalId,
        status: i64,
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
}
