//! A connector wrapper that counts every vendor call in `omnibridge_vendor_calls_total`.

use super::{
    ChannelCapabilities, ChannelConnector, ConnectorError, HelpdeskEvent, NewReply, NewTicket,
    PollBatch, Registration, SentMessage, TicketAttachment, TicketConnector, TicketReply,
    WebhookAuthError, WebhookError,
};
use crate::domain::{
    ChannelId, ConversationKey, ExternalId, InboundEvent, MediaFile, MediaRef, OutboundBody,
    Recipient, TicketState,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use reqwest::header::HeaderMap;
use secrecy::SecretString;

pub struct Metered<T> {
    inner: T,
}

impl<T> Metered<T> {
    pub fn new(inner: T) -> Self {
        Self { inner }
    }
}

fn observe<R>(
    vendor: &'static str,
    result: Result<R, ConnectorError>,
) -> Result<R, ConnectorError> {
    let outcome = match &result {
        Ok(_) => "ok",
        Err(ConnectorError::RateLimited { .. }) => "rate_limited",
        Err(ConnectorError::Transient { .. }) => "transient",
        Err(ConnectorError::Auth { .. }) => "auth",
        Err(ConnectorError::NotFound { .. }) => "not_found",
        Err(ConnectorError::WindowClosed { .. }) => "window_closed",
        Err(ConnectorError::Permanent { .. }) => "permanent",
    };
    crate::metrics::vendor_call(vendor, outcome);
    result
}

#[async_trait]
impl<T: ChannelConnector> ChannelConnector for Metered<T> {
    fn channel_id(&self) -> &ChannelId {
        self.inner.channel_id()
    }

    fn vendor(&self) -> &'static str {
        self.inner.vendor()
    }

    fn id_rules(&self) -> crate::domain::admit::IdRules {
        self.inner.id_rules()
    }

    fn parse_webhook(&self, body: &[u8]) -> Result<Vec<InboundEvent>, WebhookError> {
        self.inner.parse_webhook(body)
    }

    async fn fetch_media(&self, media: &MediaRef) -> Result<MediaFile, ConnectorError> {
        observe(self.inner.vendor(), self.inner.fetch_media(media).await)
    }

    async fn send(
        &self,
        to: &Recipient,
        body: &OutboundBody,
    ) -> Result<SentMessage, ConnectorError> {
        observe(self.inner.vendor(), self.inner.send(to, body).await)
    }

    async fn find_sent(
        &self,
        to: &Recipient,
        since: DateTime<Utc>,
        body: &OutboundBody,
    ) -> Result<Option<ExternalId>, ConnectorError> {
        observe(
            self.inner.vendor(),
            self.inner.find_sent(to, since, body).await,
        )
    }

    async fn resolve(&self, conversation: &ConversationKey) -> Result<(), ConnectorError> {
        observe(self.inner.vendor(), self.inner.resolve(conversation).await)
    }

    async fn poll(&self, since: DateTime<Utc>) -> Result<PollBatch, ConnectorError> {
        observe(self.inner.vendor(), self.inner.poll(since).await)
    }

    fn capabilities(&self) -> ChannelCapabilities {
        self.inner.capabilities()
    }

    async fn acknowledge(&self, batch: &PollBatch) -> Result<(), ConnectorError> {
        observe(self.inner.vendor(), self.inner.acknowledge(batch).await)
    }

    async fn register_webhooks(&self, url: &str) -> Result<Registration, ConnectorError> {
        observe(self.inner.vendor(), self.inner.register_webhooks(url).await)
    }
}

#[async_trait]
impl<T: TicketConnector> TicketConnector for Metered<T> {
    fn vendor(&self) -> &'static str {
        self.inner.vendor()
    }

    async fn find_user(&self, address: &str) -> Result<Option<ExternalId>, ConnectorError> {
        observe(
            TicketConnector::vendor(&self.inner),
            self.inner.find_user(address).await,
        )
    }

    async fn create_user(&self, name: &str, address: &str) -> Result<ExternalId, ConnectorError> {
        observe(
            TicketConnector::vendor(&self.inner),
            self.inner.create_user(name, address).await,
        )
    }

    async fn find_ticket(&self, external_id: &str) -> Result<Option<ExternalId>, ConnectorError> {
        observe(
            TicketConnector::vendor(&self.inner),
            self.inner.find_ticket(external_id).await,
        )
    }

    async fn create_ticket(&self, ticket: &NewTicket) -> Result<ExternalId, ConnectorError> {
        observe(
            TicketConnector::vendor(&self.inner),
            self.inner.create_ticket(ticket).await,
        )
    }

    async fn ticket_state(
        &self,
        ticket: &ExternalId,
    ) -> Result<Option<TicketState>, ConnectorError> {
        observe(
            TicketConnector::vendor(&self.inner),
            self.inner.ticket_state(ticket).await,
        )
    }

    async fn set_ticket_state(
        &self,
        ticket: &ExternalId,
        state: &TicketState,
    ) -> Result<(), ConnectorError> {
        observe(
            TicketConnector::vendor(&self.inner),
            self.inner.set_ticket_state(ticket, state).await,
        )
    }

    async fn list_replies(&self, ticket: &ExternalId) -> Result<Vec<TicketReply>, ConnectorError> {
        observe(
            TicketConnector::vendor(&self.inner),
            self.inner.list_replies(ticket).await,
        )
    }

    async fn add_reply(
        &self,
        ticket: &ExternalId,
        reply: &NewReply,
    ) -> Result<ExternalId, ConnectorError> {
        observe(
            TicketConnector::vendor(&self.inner),
            self.inner.add_reply(ticket, reply).await,
        )
    }

    async fn upload_media(&self, file: &MediaFile) -> Result<ExternalId, ConnectorError> {
        observe(
            TicketConnector::vendor(&self.inner),
            self.inner.upload_media(file).await,
        )
    }

    fn max_attachment_bytes(&self) -> usize {
        self.inner.max_attachment_bytes()
    }

    async fn fetch_attachment(
        &self,
        attachment: &TicketAttachment,
    ) -> Result<MediaFile, ConnectorError> {
        observe(
            TicketConnector::vendor(&self.inner),
            self.inner.fetch_attachment(attachment).await,
        )
    }

    fn verify_webhook(&self, headers: &HeaderMap) -> Result<(), WebhookAuthError> {
        self.inner.verify_webhook(headers)
    }

    fn webhook_handshake(&self, headers: &HeaderMap) -> Result<String, WebhookAuthError> {
        self.inner.webhook_handshake(headers)
    }

    fn parse_webhook(&self, body: &[u8]) -> Result<Vec<HelpdeskEvent>, WebhookError> {
        TicketConnector::parse_webhook(&self.inner, body)
    }

    async fn register_webhook(
        &self,
        url: &str,
        secret: &SecretString,
    ) -> Result<Registration, ConnectorError> {
        observe(
            TicketConnector::vendor(&self.inner),
            self.inner.register_webhook(url, secret).await,
        )
    }

    async fn updated_tickets(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<HelpdeskEvent>, ConnectorError> {
        observe(
            TicketConnector::vendor(&self.inner),
            self.inner.updated_tickets(since).await,
        )
    }
}
