//! [`QontakChannel`]: one configured Qontak WhatsApp channel as a [`ChannelConnector`].

use super::auth::{OAuthSettings, TokenManager};
use super::client::{QontakClient, VENDOR, error_text};
use super::rooms::RoomCache;
use super::webhook;
use super::wire::{MessageInteractions, RoomInteractions};
use crate::config::{ChannelConfig, ChannelKind};
#[cfg(test)]
use crate::connectors::http::Clock;
use crate::connectors::http::VendorHttp;
use crate::connectors::{
    ChannelCapabilities, ChannelConnector, ConnectorError, CredentialStore, PollBatch,
    Registration, SentMessage, WebhookError,
};
use crate::domain::{
    ChannelId, ConversationKey, ExternalId, InboundEvent, MediaFile, MediaRef, OutboundBody,
    Recipient,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use url::Url;

/// Why a Qontak channel could not be built from its settings.
#[derive(Debug, thiserror::Error)]
pub enum QontakBuildError {
    #[error("channel {channel:?} is of kind {kind}, not qontak")]
    WrongKind { channel: String, kind: &'static str },
    #[error(
        "channel {channel:?} needs {missing} for Qontak (the access token is refreshed with them)"
    )]
    MissingCredentials { channel: String, missing: String },
    #[error("channel {channel:?}: base_url {base_url} cannot be used as a Qontak API address")]
    InvalidBaseUrl { channel: String, base_url: String },
    #[error("channel {channel:?}: cannot build the HTTP client")]
    HttpClient {
        channel: String,
        #[source]
        source: reqwest::Error,
    },
}

/// A Qontak Omnichannel WhatsApp account: rooms are conversations (keyed by room id), replies go
/// out as bot messages into the room, templates as direct broadcasts.
pub struct QontakChannel {
    pub(super) id: ChannelId,
    pub(super) client: QontakClient,
    /// `channel_integration_id` from the settings; else the room's own is used.
    pub(super) integration: Option<String>,
    pub(super) rooms: RoomCache,
    /// `(template name, language)` → template id.
    pub(super) templates: Mutex<HashMap<(String, String), String>>,
    /// Largest file `fetch_media` accepts.
    pub(super) max_media_bytes: u64,
}

impl std::fmt::Debug for QontakChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QontakChannel")
            .field("id", &self.id)
            .field("api_base", &self.client.api_base().as_str())
            .finish_non_exhaustive()
    }
}

/// The largest file WhatsApp accepts (documents).
pub(super) const MAX_MEDIA_BYTES: u64 = 100 * 1024 * 1024;

impl QontakChannel {
    /// Build the channel from its settings. Rotated tokens are loaded from and saved to
    /// `credentials` under [`credentials_key`](super::credentials_key)`(config.id)`.
    pub fn new(
        config: &ChannelConfig,
        credentials: Arc<dyn CredentialStore>,
    ) -> Result<Self, QontakBuildError> {
        if config.kind != ChannelKind::Qontak {
            return Err(QontakBuildError::WrongKind {
                channel: config.id.clone(),
                kind: config.kind.as_str(),
            });
        }
        let set = |s: &Option<SecretString>| {
            s.as_ref()
                .filter(|s| !s.expose_secret().trim().is_empty())
                .cloned()
        };
        let client_id = config.client_id.clone().filter(|c| !c.trim().is_empty());
        let (refresh_token, client_secret) =
            (set(&config.refresh_token), set(&config.client_secret));
        let missing: Vec<&str> = [
            ("refresh_token", refresh_token.is_none()),
            ("client_id", client_id.is_none()),
            ("client_secret", client_secret.is_none()),
        ]
        .into_iter()
        .filter_map(|(key, absent)| absent.then_some(key))
        .collect();
        let (Some(refresh_token), Some(client_id), Some(client_secret)) =
            (refresh_token, client_id, client_secret)
        else {
            return Err(QontakBuildError::MissingCredentials {
                channel: config.id.clone(),
                missing: missing.join(", "),
            });
        };
        let invalid_base = || QontakBuildError::InvalidBaseUrl {
            channel: config.id.clone(),
            base_url: config.base_url.to_string(),
        };
        let (api_base, token_url) = base_urls(&config.base_url).ok_or_else(invalid_base)?;
        let http = VendorHttp::new(VENDOR, config.timeout, error_text).map_err(|source| {
            QontakBuildError::HttpClient {
                channel: config.id.clone(),
                source,
            }
        })?;
        let oauth = OAuthSettings {
            channel: config.id.clone(),
            token_url,
            client_id,
            client_secret,
            access_token: set(&config.access_token),
            refresh_token,
        };
        let tokens = TokenManager::new(http.clone(), oauth, credentials);
        Ok(Self {
            id: ChannelId::new(config.id.clone()),
            client: QontakClient::new(http, api_base, tokens),
            integration: config
                .channel_integration_id
                .clone()
                .filter(|i| !i.trim().is_empty()),
            rooms: RoomCache::default(),
            templates: Mutex::new(HashMap::new()),
            max_media_bytes: MAX_MEDIA_BYTES,
        })
    }

    /// The open-API root this channel talks to (`…/api/open/v1/`).
    pub fn api_base(&self) -> &Url {
        self.client.api_base()
    }

    /// The credential-store key of this channel's rotated tokens.
    pub fn credentials_key(&self) -> &str {
        self.client.tokens.store_key()
    }

    /// The session state (`open`, `expiring`, `expired`) last seen for a room, if any.
    pub fn known_session(&self, room: &ConversationKey) -> Option<String> {
        self.rooms.get(room.as_str()).and_then(|f| f.session)
    }

    /// Read time from `clock` (tests move it forward).
    #[cfg(test)]
    pub(super) fn with_clock_for_tests(mut self, clock: Arc<dyn Clock>) -> Self {
        self.client.http = self.client.http.clone().with_clock(clock.clone());
        self.client.tokens.http = self.client.tokens.http.clone().with_clock(clock);
        self
    }
}

/// `https://host[/prefix]` → (`…/api/open/v1/`, `…/oauth/token`). A base already ending in
/// `/api/open` or `/api/open/v1` is completed, not doubled. Query and fragment are dropped.
pub(super) fn base_urls(base: &Url) -> Option<(Url, Url)> {
    if base.cannot_be_a_base() || !matches!(base.scheme(), "http" | "https") {
        return None;
    }
    let mut root = base.clone();
    root.set_query(None);
    root.set_fragment(None);
    let path = root.path().trim_end_matches('/');
    let path = path
        .strip_suffix("/api/open/v1")
        .or_else(|| path.strip_suffix("/api/open"))
        .unwrap_or(path)
        .to_owned();
    let mut api = root.clone();
    api.set_path(&format!("{path}/api/open/v1/"));
    let mut token = root;
    token.set_path(&format!("{path}/oauth/token"));
    Some((api, token))
}

#[async_trait]
impl ChannelConnector for QontakChannel {
    fn channel_id(&self) -> &ChannelId {
        &self.id
    }

    fn vendor(&self) -> &'static str {
        VENDOR
    }

    /// Qontak keys conversations by room id (a UUID); the customer is a phone number, or the
    /// room when Qontak names no number.
    fn id_rules(&self) -> crate::domain::admit::IdRules {
        use crate::domain::admit::{IdRules, KeyRule};
        IdRules {
            conversation: KeyRule::Uuid,
            contact: &[KeyRule::Phone, KeyRule::Uuid],
        }
    }

    fn parse_webhook(&self, body: &[u8]) -> Result<Vec<InboundEvent>, WebhookError> {
        let parsed =
            webhook::parse_body(body, self.integration.as_deref(), &self.rooms, Utc::now())?;
        for room in &parsed.rooms {
            self.rooms.remember(room);
        }
        if let Some(reason) = parsed.ignored {
            tracing::debug!(channel = %self.id, reason = %reason, "Qontak webhook for a room of another channel ignored.");
        }
        Ok(parsed.events)
    }

    async fn fetch_media(&self, media: &MediaRef) -> Result<MediaFile, ConnectorError> {
        self.download(media).await
    }

    async fn send(
        &self,
        to: &Recipient,
        body: &OutboundBody,
    ) -> Result<SentMessage, ConnectorError> {
        self.send_body(to, body).await
    }

    async fn find_sent(
        &self,
        to: &Recipient,
        since: DateTime<Utc>,
        body: &OutboundBody,
    ) -> Result<Option<ExternalId>, ConnectorError> {
        self.find_in_history(to, since, body).await
    }

    async fn resolve(&self, conversation: &ConversationKey) -> Result<(), ConnectorError> {
        self.resolve_room(conversation.as_str()).await
    }

    async fn poll(&self, since: DateTime<Utc>) -> Result<PollBatch, ConnectorError> {
        self.poll_rooms(since).await
    }

    /// Webhooks are registered through the API; Qontak has nothing like get.chat's
    /// `mark_as_received`.
    fn capabilities(&self) -> ChannelCapabilities {
        ChannelCapabilities {
            webhook_registration: true,
            poll_acknowledgement: false,
        }
    }

    /// `PUT message_interactions` (customer and agent messages, statuses, broadcast logs) and
    /// `PUT room_interactions` (resolved rooms), both to `url`.
    async fn register_webhooks(&self, url: &str) -> Result<Registration, ConnectorError> {
        let messages = MessageInteractions {
            receive_message_from_agent: true,
            receive_message_from_customer: true,
            status_message: true,
            broadcast_log_status: true,
            url,
        };
        let endpoint = self.client.endpoint("message_interactions", &[])?;
        let _: serde_json::Value = self
            .client
            .call("registering the message webhooks", |http| {
                http.put(endpoint.clone()).json(&messages)
            })
            .await?;
        let rooms = RoomInteractions {
            room_resolved: true,
            url,
        };
        let endpoint = self.client.endpoint("room_interactions", &[])?;
        let _: serde_json::Value = self
            .client
            .call("registering the room webhook", |http| {
                http.put(endpoint.clone()).json(&rooms)
            })
            .await?;
        tracing::info!(channel = %self.id, "Registered the Qontak webhooks.");
        Ok(Registration::Created)
    }
}
