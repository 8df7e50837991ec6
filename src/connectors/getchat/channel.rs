//! [`GetchatChannel`]: one configured get.chat channel as a [`ChannelConnector`].

use super::client::{GetchatClient, Login, VENDOR};
use super::{catchup, outbound, webhook};
use crate::config::{ChannelConfig, ChannelKind};
use crate::connectors::{
    ChannelCapabilities, ChannelConnector, ConnectorError, PollBatch, SentMessage, WebhookError,
};
use crate::domain::{
    ChannelId, ConversationKey, ExternalId, InboundEvent, MediaFile, MediaRef, OutboundBody,
    Recipient,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::json;
use url::Url;

/// Why a get.chat channel could not be built from its settings.
#[derive(Debug, thiserror::Error)]
pub enum GetchatBuildError {
    #[error("channel {channel:?} is of kind {kind}, not getchat")]
    WrongKind { channel: String, kind: &'static str },
    #[error(
        "channel {channel:?} needs either `token` or both `username` and `password` for get.chat"
    )]
    MissingCredentials { channel: String },
    #[error("channel {channel:?}: base_url {base_url} cannot be used as a get.chat API address")]
    InvalidBaseUrl { channel: String, base_url: String },
    #[error("channel {channel:?}: cannot build the HTTP client")]
    HttpClient {
        channel: String,
        #[source]
        source: reqwest::Error,
    },
}

/// A get.chat WhatsApp inbox: parses its WABA webhooks, downloads the files they announce, sends
/// messages (uploading files first), resolves chats and polls `GET messages/` to catch up.
pub struct GetchatChannel {
    id: ChannelId,
    client: GetchatClient,
}

impl std::fmt::Debug for GetchatChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GetchatChannel")
            .field("id", &self.id)
            .field("api_base", &self.client.api_base().as_str())
            .finish_non_exhaustive()
    }
}

impl GetchatChannel {
    pub fn new(config: &ChannelConfig) -> Result<Self, GetchatBuildError> {
        if config.kind != ChannelKind::Getchat {
            return Err(GetchatBuildError::WrongKind {
                channel: config.id.clone(),
                kind: config.kind.as_str(),
            });
        }
        let login = match (&config.username, &config.password) {
            (Some(username), Some(password)) if !username.trim().is_empty() => Some(Login {
                username: username.clone(),
                password: password.clone(),
            }),
            _ => None,
        };
        if config.token.is_none() && login.is_none() {
            return Err(GetchatBuildError::MissingCredentials {
                channel: config.id.clone(),
            });
        }
        let api_base =
            api_base_url(&config.base_url).ok_or_else(|| GetchatBuildError::InvalidBaseUrl {
                channel: config.id.clone(),
                base_url: config.base_url.to_string(),
            })?;
        let client = GetchatClient::new(api_base, config.token.clone(), login, config.timeout)
            .map_err(|source| GetchatBuildError::HttpClient {
                channel: config.id.clone(),
                source,
            })?;
        Ok(Self {
            id: ChannelId::new(config.id.clone()),
            client,
        })
    }

    #[cfg(test)]
    pub(super) fn set_max_media_bytes_for_tests(&mut self, max: u64) {
        self.client.set_max_media_bytes(max);
    }

    /// The Integration API root this channel talks to (`…/api/v1/`).
    pub fn api_base(&self) -> &Url {
        self.client.api_base()
    }
}

#[async_trait]
impl ChannelConnector for GetchatChannel {
    fn channel_id(&self) -> &ChannelId {
        &self.id
    }

    fn vendor(&self) -> &'static str {
        VENDOR
    }

    /// get.chat keys conversations by the customer's wa_id.
    fn id_rules(&self) -> crate::domain::admit::IdRules {
        crate::domain::admit::IdRules::WA_ID
    }

    fn parse_webhook(&self, body: &[u8]) -> Result<Vec<InboundEvent>, WebhookError> {
        webhook::parse_body(body, chrono::Utc::now())
    }

    async fn fetch_media(&self, media: &MediaRef) -> Result<MediaFile, ConnectorError> {
        self.client.fetch_media(media).await
    }

    async fn send(
        &self,
        to: &Recipient,
        body: &OutboundBody,
    ) -> Result<SentMessage, ConnectorError> {
        outbound::send(&self.client, to, body).await
    }

    async fn find_sent(
        &self,
        to: &Recipient,
        since: DateTime<Utc>,
        body: &OutboundBody,
    ) -> Result<Option<ExternalId>, ConnectorError> {
        catchup::find_sent(&self.client, to, since, body).await
    }

    /// `PATCH chats/{wa_id}/resolve` `{"resolved": true}`.
    async fn resolve(&self, conversation: &ConversationKey) -> Result<(), ConnectorError> {
        let url = self
            .client
            .endpoint_of(&["chats", conversation.as_str(), "resolve"])?;
        self.client
            .send_json(reqwest::Method::PATCH, url, &json!({"resolved": true}))
            .await
    }

    async fn poll(&self, since: DateTime<Utc>) -> Result<PollBatch, ConnectorError> {
        catchup::poll(&self.client, since).await
    }

    /// Polled messages are marked as received; get.chat's webhook registration endpoint is not
    /// documented (CONTRACTS §1.5): webhooks are configured in the get.chat admin panel.
    fn capabilities(&self) -> ChannelCapabilities {
        ChannelCapabilities {
            webhook_registration: false,
            poll_acknowledgement: true,
        }
    }

    async fn acknowledge(&self, batch: &PollBatch) -> Result<(), ConnectorError> {
        catchup::acknowledge(&self.client, batch).await
    }
}

/// `https://host[/prefix]` → `https://host[/prefix]/api/v1/`; a base already ending in `/api/v1`
/// (with or without the slash) or `/api` is completed, not doubled. Query and fragment are dropped.
pub(super) fn api_base_url(base: &Url) -> Option<Url> {
    if base.cannot_be_a_base() || !matches!(base.scheme(), "http" | "https") {
        return None;
    }
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    let path = url.path().trim_end_matches('/').to_owned();
    let path = if path.ends_with("/api/v1") {
        format!("{path}/")
    } else if path.ends_with("/api") {
        format!("{path}/v1/")
    } else {
        format!("{path}/api/v1/")
    };
    url.set_path(&path);
    Some(url)
}
