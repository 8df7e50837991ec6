//! A helpdesk connector wrapper that counts every call in `omnibridge_vendor_calls_total`.

use super::{ConnectorError, NewReply, NewTicket, TicketConnector, TicketReply};
use crate::domain::{ExternalId, MediaFile};
use async_trait::async_trait;

pub struct Metered<T> {
    inner: T,
}

impl<T: TicketConnector> Metered<T> {
    pub fn new(inner: T) -> Self {
        Self { inner }
    }

    fn observe<R>(&self, result: Result<R, ConnectorError>) -> Result<R, ConnectorError> {
        let outcome = match &result {
            Ok(_) => "ok",
            Err(ConnectorError::RateLimited { .. }) => "rate_limited",
            Err(ConnectorError::Transient { .. }) => "transient",
            Err(ConnectorError::Auth { .. }) => "auth",
            Err(ConnectorError::NotFound { .. }) => "not_found",
            Err(ConnectorError::Permanent { .. }) => "permanent",
        };
        crate::metrics::vendor_call(self.inner.vendor(), outcome);
        result
    }
}

#[async_trait]
impl<T: TicketConnector> TicketConnector for Metered<T> {
    fn vendor(&self) -> &'static str {
        self.inner.vendor()
    }

    async fn find_user(&self, address: &str) -> Result<Option<ExternalId>, ConnectorError> {
        self.observe(self.inner.find_user(address).await)
    }

    async fn create_user(&self, name: &str, address: &str) -> Result<ExternalId, ConnectorError> {
        self.observe(self.inner.create_user(name, address).await)
    }

    async fn find_ticket(&self, external_id: &str) -> Result<Option<ExternalId>, ConnectorError> {
        self.observe(self.inner.find_ticket(external_id).await)
    }

    async fn create_ticket(&self, ticket: &NewTicket) -> Result<ExternalId, ConnectorError> {
        self.observe(self.inner.create_ticket(ticket).await)
    }

    async fn ticket_status(&self, ticket: &ExternalId) -> Result<Option<i64>, ConnectorError> {
        self.observe(self.inner.ticket_status(ticket).await)
    }

    async fn set_ticket_status(
        &self,
        ticket: &ExternalId,
        status: i64,
    ) -> Result<(), ConnectorError> {
        self.observe(self.inner.set_ticket_status(ticket, status).await)
    }

    async fn list_replies(&self, ticket: &ExternalId) -> Result<Vec<TicketReply>, ConnectorError> {
        self.observe(self.inner.list_replies(ticket).await)
    }

    async fn add_reply(
        &self,
        ticket: &ExternalId,
        reply: &NewReply,
    ) -> Result<ExternalId, ConnectorError> {
        self.observe(self.inner.add_reply(ticket, reply).await)
    }

    async fn upload_media(&self, file: &MediaFile) -> Result<ExternalId, ConnectorError> {
        self.observe(self.inner.upload_media(file).await)
    }

    fn max_attachment_bytes(&self) -> usize {
        self.inner.max_attachment_bytes()
    }
}
