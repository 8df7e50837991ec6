//! [`GetchatChannel`]: one configured get.chat channel as a [`ChannelConnector`].

use super::client::{GetchatClient, Login, SentMessage, UploadedMedia, VENDOR};
use super::webhook;
use crate::config::{ChannelConfig, ChannelKind};
use crate::connectors::{ChannelConnector, ConnectorError, WebhookError};
use crate::domain::{ChannelId, InboundEvent, MediaFile, MediaRef};
use async_trait::async_trait;
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

/// A get.chat WhatsApp inbox: parses its WABA webhooks and downloads the files they announce.
/// It can also send messages and upload files (used by the reply path).
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

    /// `POST messages/` with a WhatsApp-style body (`wa_id`, `type`, type object). A closed
    /// 24-hour window is `ConnectorError::Permanent { status: Some(453), .. }`, see
    /// [`is_window_closed`](super::is_window_closed).
    pub async fn send_message(
        &self,
        body: &serde_json::Value,
    ) -> Result<SentMessage, ConnectorError> {
        self.client.send_message(body).await
    }

    /// `POST media/` (multipart field `file_encoded`); the answer's `file` is the link to send.
    pub async fn upload_media(&self, file: &MediaFile) -> Result<UploadedMedia, ConnectorError> {
        self.client.upload_media(file).await
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

    fn parse_webhook(&self, body: &[u8]) -> Result<Vec<InboundEvent>, WebhookError> {
        webhook::parse_body(body, chrono::Utc::now())
    }

    async fn fetch_media(&self, media: &MediaRef) -> Result<MediaFile, ConnectorError> {
        self.client.fetch_media(media).await
    }

    // PENDING(helper): the outbound side replaces these placeholders.
    async fn send(
        &self,
        _to: &crate::domain::Recipient,
        _body: &crate::domain::OutboundBody,
    ) -> Result<crate::connectors::SentMessage, ConnectorError> {
        Err(pending())
    }

    async fn find_sent(
        &self,
        _to: &crate::domain::Recipient,
        _since: chrono::DateTime<chrono::Utc>,
        _body: &crate::domain::OutboundBody,
    ) -> Result<Option<crate::domain::ExternalId>, ConnectorError> {
        Err(pending())
    }

    async fn resolve(
        &self,
        _conversation: &crate::domain::ConversationKey,
    ) -> Result<(), ConnectorError> {
        Err(pending())
    }

    async fn poll(
        &self,
        _since: chrono::DateTime<chrono::Utc>,
    ) -> Result<crate::connectors::PollBatch, ConnectorError> {
        Err(pending())
    }

    async fn acknowledge(
        &self,
        _batch: &crate::connectors::PollBatch,
    ) -> Result<(), ConnectorError> {
        Err(pending())
    }

    async fn register_webhooks(
        &self,
        _url: &str,
    ) -> Result<crate::connectors::Registration, ConnectorError> {
        Ok(crate::connectors::Registration::NotSupported)
    }
}

fn pending() -> ConnectorError {
    ConnectorError::Permanent {
        vendor: VENDOR,
        status: None,
        message: "not available yet".into(),
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
