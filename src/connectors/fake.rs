//! A channel for unit tests of the core: it declares the capabilities it is given and records
//! the name of every method called on it, so a test sees whether the core called an optional
//! method the channel does not offer.

use super::{
    ChannelCapabilities, ChannelConnector, ConnectorError, PollBatch, Registration, SentMessage,
    WebhookError,
};
use crate::domain::admit::IdRules;
use crate::domain::{
    ChannelId, ConversationKey, ExternalId, InboundEvent, MediaFile, MediaRef, OutboundBody,
    Recipient,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Mutex;

pub(crate) struct RecordingChannel {
    id: ChannelId,
    capabilities: ChannelCapabilities,
    calls: Mutex<Vec<&'static str>>,
}

impl RecordingChannel {
    pub(crate) fn new(capabilities: ChannelCapabilities) -> Self {
        Self {
            id: ChannelId::new("fake"),
            capabilities,
            calls: Mutex::new(Vec::new()),
        }
    }

    /// The methods called so far, in order.
    pub(crate) fn calls(&self) -> Vec<&'static str> {
        self.calls.lock().expect("calls").clone()
    }

    fn record(&self, name: &'static str) {
        self.calls.lock().expect("calls").push(name);
    }

    fn unused(&self, name: &'static str) -> ConnectorError {
        self.record(name);
        ConnectorError::Permanent {
            vendor: "fake",
            status: None,
            message: format!("{name} is not used by these tests"),
        }
    }
}

#[async_trait]
impl ChannelConnector for RecordingChannel {
    fn channel_id(&self) -> &ChannelId {
        &self.id
    }

    fn vendor(&self) -> &'static str {
        "fake"
    }

    fn id_rules(&self) -> IdRules {
        IdRules::WA_ID
    }

    fn parse_webhook(&self, _body: &[u8]) -> Result<Vec<InboundEvent>, WebhookError> {
        self.record("parse_webhook");
        Ok(Vec::new())
    }

    async fn fetch_media(&self, _media: &MediaRef) -> Result<MediaFile, ConnectorError> {
        Err(self.unused("fetch_media"))
    }

    async fn send(
        &self,
        _to: &Recipient,
        _body: &OutboundBody,
    ) -> Result<SentMessage, ConnectorError> {
        Err(self.unused("send"))
    }

    async fn find_sent(
        &self,
        _to: &Recipient,
        _since: DateTime<Utc>,
        _body: &OutboundBody,
    ) -> Result<Option<ExternalId>, ConnectorError> {
        Err(self.unused("find_sent"))
    }

    async fn resolve(&self, _conversation: &ConversationKey) -> Result<(), ConnectorError> {
        Err(self.unused("resolve"))
    }

    async fn poll(&self, _since: DateTime<Utc>) -> Result<PollBatch, ConnectorError> {
        Err(self.unused("poll"))
    }

    fn capabilities(&self) -> ChannelCapabilities {
        self.capabilities
    }

    async fn acknowledge(&self, _batch: &PollBatch) -> Result<(), ConnectorError> {
        self.record("acknowledge");
        if self.capabilities.poll_acknowledgement {
            Ok(())
        } else {
            Err(ConnectorError::Permanent {
                vendor: "fake",
                status: None,
                message: "acknowledge called without the capability".into(),
            })
        }
    }

    async fn register_webhooks(&self, _url: &str) -> Result<Registration, ConnectorError> {
        self.record("register_webhooks");
        if self.capabilities.webhook_registration {
            Ok(Registration::Created)
        } else {
            Err(ConnectorError::Permanent {
                vendor: "fake",
                status: None,
                message: "register_webhooks called without the capability".into(),
            })
        }
    }
}
