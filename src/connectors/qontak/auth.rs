//! Qontak's OAuth tokens: a Bearer access token and a refresh token that rotates with every
//! refresh (seed 003, `POST /oauth/token` with `grant_type: refresh_token`).
//!
//! The tokens live behind one `tokio::sync::Mutex`, so only one refresh runs at a time and the
//! callers that waited use its result. Every refreshed pair is saved through the
//! [`CredentialStore`] under [`credentials_key`] and preferred to the configured pair at the next
//! start, because the configured refresh token stops working once it was used. The stored
//! document remembers which configured pair it replaced: when an operator puts new tokens in the
//! settings, those win again.

use super::client::{VENDOR, classify};
use super::wire::{RefreshRequest, TokenResponse};
use crate::connectors::http::{TokenSource, VendorHttp};
use crate::connectors::{ConnectorError, CredentialStore};
use async_trait::async_trait;
use reqwest::header::ACCEPT;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use tokio::sync::Mutex;
use url::Url;

/// After a failed early refresh, the next early attempt waits this long.
const EARLY_RETRY_SECS: i64 = 300;
/// Refresh at most this long before the announced expiry...
const REFRESH_MARGIN_SECS: i64 = 3600;
/// ...or when less than this share of the lifetime is left, for short-lived tokens.
const REFRESH_MARGIN_DIVISOR: i64 = 10;

/// The [`CredentialStore`] key under which a channel's rotated tokens are kept.
pub fn credentials_key(channel_id: &str) -> String {
    format!("qontak:{channel_id}:tokens")
}

/// What is saved in the credential store (as one JSON document, itself a secret).
#[derive(Serialize, Deserialize)]
struct StoredTokens {
    access_token: String,
    refresh_token: String,
    #[serde(default)]
    created_at: Option<i64>,
    #[serde(default)]
    expires_in: Option<i64>,
    /// Fingerprint of the configured pair these tokens descend from.
    #[serde(default)]
    configured: Option<String>,
}

#[derive(Clone)]
struct Tokens {
    /// `None` when only a refresh token is known: refresh before the first call.
    access: Option<SecretString>,
    refresh: SecretString,
    /// Unix seconds, when Qontak announced `created_at` and `expires_in`.
    expires_at: Option<i64>,
    lifetime: Option<i64>,
}

impl Tokens {
    fn refresh_due(&self, now: i64) -> bool {
        let Some(expires_at) = self.expires_at else {
            return false;
        };
        let lifetime = self.lifetime.unwrap_or(REFRESH_MARGIN_SECS);
        let margin = REFRESH_MARGIN_SECS.min(lifetime / REFRESH_MARGIN_DIVISOR);
        now >= expires_at - margin
    }

    fn expired(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|at| now >= at)
    }
}

/// The OAuth client settings of one channel.
pub(super) struct OAuthSettings {
    pub(super) channel: String,
    pub(super) token_url: Url,
    pub(super) client_id: String,
    pub(super) client_secret: SecretString,
    pub(super) access_token: Option<SecretString>,
    pub(super) refresh_token: SecretString,
}

pub(super) struct TokenManager {
    pub(super) http: VendorHttp,
    settings: OAuthSettings,
    /// Fingerprint of the configured pair (never the tokens themselves).
    configured_fingerprint: String,
    store: Arc<dyn CredentialStore>,
    store_key: String,
    /// `None` until the first call loads the tokens.
    tokens: Mutex<Option<Tokens>>,
    /// Unix seconds of the last failed early refresh (0: none).
    early_failed_at: AtomicI64,
}

impl TokenManager {
    pub(super) fn new(
        http: VendorHttp,
        settings: OAuthSettings,
        store: Arc<dyn CredentialStore>,
    ) -> Self {
        let configured_fingerprint =
            fingerprint(settings.access_token.as_ref(), &settings.refresh_token);
        let store_key = credentials_key(&settings.channel);
        Self {
            http,
            settings,
            configured_fingerprint,
            store,
            store_key,
            tokens: Mutex::new(None),
            early_failed_at: AtomicI64::new(0),
        }
    }

    pub(super) fn store_key(&self) -> &str {
        &self.store_key
    }

    /// An access token to use now: loaded at first use, refreshed first when it is missing or
    /// about to expire.
    pub(super) async fn access_token(&self) -> Result<SecretString, ConnectorError> {
        let mut guard = self.tokens.lock().await;
        if guard.is_none() {
            *guard = Some(self.load().await?);
        }
        let current = guard.as_ref().cloned().ok_or_else(no_token)?;
        let now = self.http.clock().unix_seconds();
        let early_retry_at = self.early_failed_at.load(Ordering::Relaxed) + EARLY_RETRY_SECS;
        match &current.access {
            Some(access) if !current.refresh_due(now) => return Ok(access.clone()),
            Some(access) if !current.expired(now) && now < early_retry_at => {
                return Ok(access.clone());
            }
            Some(access) if !current.expired(now) => match self.refresh(&current).await {
                Ok(fresh) => *guard = Some(fresh),
                // The current token still works for a little while: keep using it.
                Err(err) => {
                    self.early_failed_at.store(now, Ordering::Relaxed);
                    tracing::warn!(vendor = VENDOR, channel = %self.settings.channel, error = %err, "Early Qontak token refresh failed; the current token is used until it expires.");
                    return Ok(access.clone());
                }
            },
            _ => *guard = Some(self.refresh(&current).await?),
        }
        guard
            .as_ref()
            .and_then(|tokens| tokens.access.clone())
            .ok_or_else(no_token)
    }

    /// Refresh after Qontak refused `rejected`, unless another call already replaced it.
    pub(super) async fn replace_rejected(
        &self,
        rejected: &SecretString,
    ) -> Result<SecretString, ConnectorError> {
        let mut guard = self.tokens.lock().await;
        if guard.is_none() {
            *guard = Some(self.load().await?);
        }
        let current = guard.as_ref().cloned().ok_or_else(no_token)?;
        if let Some(access) = &current.access
            && access.expose_secret() != rejected.expose_secret()
        {
            return Ok(access.clone());
        }
        tracing::info!(vendor = VENDOR, channel = %self.settings.channel, "Qontak refused the access token; refreshing it.");
        let fresh = self.refresh(&current).await?;
        let access = fresh.access.clone().ok_or_else(no_token)?;
        *guard = Some(fresh);
        Ok(access)
    }

    /// The stored tokens when they descend from the configured ones, else the configured ones.
    async fn load(&self) -> Result<Tokens, ConnectorError> {
        let configured = Tokens {
            access: self.settings.access_token.clone(),
            refresh: self.settings.refresh_token.clone(),
            expires_at: None,
            lifetime: None,
        };
        let Some(stored) = self.store.load(&self.store_key).await? else {
            return Ok(configured);
        };
        let stored: StoredTokens = match serde_json::from_str(stored.expose_secret()) {
            Ok(stored) => stored,
            Err(err) => {
                tracing::warn!(vendor = VENDOR, channel = %self.settings.channel, key = %self.store_key, error = %err, "Stored Qontak tokens are unreadable; using the configured ones.");
                return Ok(configured);
            }
        };
        if stored
            .configured
            .as_deref()
            .is_some_and(|f| f != self.configured_fingerprint)
        {
            tracing::info!(vendor = VENDOR, channel = %self.settings.channel, "The configured Qontak tokens changed; they replace the stored ones.");
            return Ok(configured);
        }
        Ok(Tokens {
            access: Some(SecretString::from(stored.access_token)),
            refresh: SecretString::from(stored.refresh_token),
            expires_at: expiry(stored.created_at, stored.expires_in),
            lifetime: stored.expires_in,
        })
    }

    /// `POST /oauth/token` with the refresh grant, then save the new pair.
    async fn refresh(&self, current: &Tokens) -> Result<Tokens, ConnectorError> {
        let request = RefreshRequest {
            refresh_token: current.refresh.expose_secret(),
            grant_type: "refresh_token",
            client_id: &self.settings.client_id,
            client_secret: self.settings.client_secret.expose_secret(),
        };
        let request = self
            .http
            .client()
            .post(self.settings.token_url.clone())
            .header(ACCEPT, "application/json")
            .json(&request);
        let response = self.http.send(request).await?;
        let status = response.status();
        if !status.is_success() {
            let failure = self.http.failure(response).await;
            if matches!(status.as_u16(), 400 | 401 | 403) {
                return Err(ConnectorError::Auth {
                    vendor: VENDOR,
                    message: format!(
                        "refreshing the access token of channel {:?} failed (HTTP {}: {}). The \
                         refresh token is no longer valid: create a new access and refresh token \
                         in Qontak, put them in access_token and refresh_token of this channel's \
                         settings and restart; they replace the stored ones",
                        self.settings.channel,
                        status.as_u16(),
                        failure.summary()
                    ),
                });
            }
            return Err(classify(
                failure,
                &format!(
                    "refreshing the access token of channel {:?}",
                    self.settings.channel
                ),
            ));
        }
        let answer: TokenResponse = self.http.read_json(response).await?;
        let refresh = answer
            .refresh_token
            .filter(|t| !t.is_empty())
            .map(SecretString::from)
            .unwrap_or_else(|| current.refresh.clone());
        let created_at = answer.created_at.or(Some(self.http.clock().unix_seconds()));
        let fresh = Tokens {
            access: Some(SecretString::from(answer.access_token)),
            refresh,
            expires_at: expiry(created_at, answer.expires_in),
            lifetime: answer.expires_in,
        };
        tracing::info!(vendor = VENDOR, channel = %self.settings.channel, expires_in = ?answer.expires_in, "Refreshed the Qontak access token.");
        self.save(&fresh, created_at, answer.expires_in).await;
        Ok(fresh)
    }

    /// Save a refreshed pair. A failure is logged, not returned: the new token works now, but
    /// the operator must know that a restart would fall back to a used refresh token.
    async fn save(&self, tokens: &Tokens, created_at: Option<i64>, expires_in: Option<i64>) {
        let Some(access) = &tokens.access else {
            return;
        };
        let document = StoredTokens {
            access_token: access.expose_secret().to_owned(),
            refresh_token: tokens.refresh.expose_secret().to_owned(),
            created_at,
            expires_in,
            configured: Some(self.configured_fingerprint.clone()),
        };
        let value = match serde_json::to_string(&document) {
            Ok(text) => SecretString::from(text),
            Err(err) => {
                tracing::error!(vendor = VENDOR, channel = %self.settings.channel, error = %err, "Cannot serialise the refreshed Qontak tokens.");
                return;
            }
        };
        if let Err(err) = self.store.save(&self.store_key, &value).await {
            tracing::error!(vendor = VENDOR, channel = %self.settings.channel, key = %self.store_key, error = %err, "Could not save the refreshed Qontak tokens; after a restart the channel needs new tokens in its settings.");
        }
    }
}

#[async_trait]
impl TokenSource for TokenManager {
    type Token = SecretString;

    async fn token(&self) -> Result<SecretString, ConnectorError> {
        self.access_token().await
    }

    async fn replace(
        &self,
        rejected: &SecretString,
    ) -> Result<Option<SecretString>, ConnectorError> {
        self.replace_rejected(rejected).await.map(Some)
    }
}

fn expiry(created_at: Option<i64>, expires_in: Option<i64>) -> Option<i64> {
    Some(created_at? + expires_in?)
}

fn no_token() -> ConnectorError {
    ConnectorError::Auth {
        vendor: VENDOR,
        message: "no Qontak access token is available".into(),
    }
}

/// A short, one-way fingerprint of the configured pair, to notice when an operator changes it.
fn fingerprint(access: Option<&SecretString>, refresh: &SecretString) -> String {
    let mut hasher = Sha256::new();
    hasher.update(access.map(|a| a.expose_secret()).unwrap_or("").as_bytes());
    hasher.update(b"\n");
    hasher.update(refresh.expose_secret().as_bytes());
    hex::encode(&hasher.finalize()[..8])
}
