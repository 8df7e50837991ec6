//! Access tokens and the ticketing base URL.
//!
//! One [`Session`] lives behind a `tokio::sync::Mutex`: the first caller that finds it missing or
//! about to expire refreshes it while the others wait, so concurrent calls never re-authenticate
//! all at once. The ticketing URL is kept in memory only and re-read with every full `/v1/auth`,
//! as Inbenta asks (seed 004, "Get the API URL").

use super::client::VENDOR;
use super::wire::{ApisResponse, AuthRequest, TokenResponse};
use crate::connectors::ConnectorError;
use crate::connectors::http::{self, TokenSource, VendorHttp};
use async_trait::async_trait;
use reqwest::header::AUTHORIZATION;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Mutex;
use url::Url;

/// Header carrying the API key on every Inbenta call.
pub(super) const API_KEY_HEADER: &str = "x-inbenta-key";

/// Refresh this long before expiry at most (the official connector's margin)...
const REFRESH_MARGIN_SECS: i64 = 180;
/// ...or when less than this share of the token's lifetime is left, for short-lived tokens.
const REFRESH_MARGIN_DIVISOR: i64 = 10;

/// What a ticketing call needs: a bearer token and where to send it.
#[derive(Clone)]
pub(super) struct Credentials {
    pub(super) token: SecretString,
    pub(super) ticketing_url: Url,
}

struct Session {
    token: SecretString,
    /// Unix seconds.
    expires_at: i64,
    /// Seconds the token was valid for when we got it.
    lifetime: i64,
    ticketing_url: Url,
}

impl Session {
    fn refresh_due(&self, now: i64) -> bool {
        let margin = REFRESH_MARGIN_SECS.min(self.lifetime / REFRESH_MARGIN_DIVISOR);
        now >= self.expires_at - margin
    }

    fn expired(&self, now: i64) -> bool {
        now >= self.expires_at
    }
}

/// Obtains, refreshes and forgets Inbenta access tokens.
pub(super) struct TokenManager {
    pub(super) http: VendorHttp,
    auth_url: Url,
    api_key: SecretString,
    secret: SecretString,
    session: Mutex<Option<Session>>,
}

impl TokenManager {
    pub(super) fn new(
        http: VendorHttp,
        auth_url: Url,
        api_key: SecretString,
        secret: SecretString,
    ) -> Self {
        Self {
            http,
            auth_url,
            api_key,
            secret,
            session: Mutex::new(None),
        }
    }

    pub(super) fn api_key(&self) -> &str {
        self.api_key.expose_secret()
    }

    pub(super) fn auth_url(&self) -> &Url {
        &self.auth_url
    }

    /// A token valid for a while yet, refreshing or re-authenticating first when needed.
    pub(super) async fn credentials(&self) -> Result<Credentials, ConnectorError> {
        let mut guard = self.session.lock().await;
        let now = self.http.clock().unix_seconds();
        match guard.as_ref() {
            Some(current) if !current.refresh_due(now) => {}
            Some(current) if !current.expired(now) => match self.refresh(current).await {
                Ok(refreshed) => *guard = Some(refreshed),
                Err(err) => {
                    tracing::debug!(vendor = VENDOR, error = %err, "Inbenta token refresh failed, authenticating again.");
                    match self.authenticate().await {
                        Ok(fresh) => *guard = Some(fresh),
                        // The current token still works for a little while: use it.
                        Err(err) => {
                            tracing::debug!(vendor = VENDOR, error = %err, "Inbenta re-authentication failed, keeping the current token.")
                        }
                    }
                }
            },
            _ => *guard = Some(self.authenticate().await?),
        }
        let session = guard.as_ref().ok_or(ConnectorError::Auth {
            vendor: VENDOR,
            message: "no access token available".into(),
        })?;
        Ok(Credentials {
            token: session.token.clone(),
            ticketing_url: session.ticketing_url.clone(),
        })
    }

    /// Forget `rejected` after the API refused it, so the next [`Self::credentials`] does a full
    /// `/v1/auth`. A token another caller already replaced is left alone.
    pub(super) async fn invalidate(&self, rejected: &SecretString) {
        let mut session = self.session.lock().await;
        if session
            .as_ref()
            .is_some_and(|s| s.token.expose_secret() == rejected.expose_secret())
        {
            *session = None;
        }
    }

    /// Full `POST /v1/auth`, then the ticketing URL from its `apis` or from `GET /v1/apis`.
    async fn authenticate(&self) -> Result<Session, ConnectorError> {
        let url = self.endpoint("auth")?;
        tracing::debug!(vendor = VENDOR, "Authenticating with Inbenta.");
        let request = self
            .http
            .client()
            .post(url)
            .header(API_KEY_HEADER, self.api_key())
            .json(&AuthRequest {
                secret: self.secret.expose_secret(),
            });
        let response = self.http.send(request).await?;
        let answer: TokenResponse = self.http.read_json(response).await?;
        let now = self.http.clock().unix_seconds();
        let (token, expires_at, lifetime) = token_parts(&answer, now)?;
        let ticketing = match answer.apis.and_then(|apis| apis.ticketing) {
            Some(url) => url,
            None => self.discover_ticketing(&token).await?,
        };
        let ticketing_url = parse_ticketing_url(&ticketing)?;
        tracing::debug!(vendor = VENDOR, expires_at, ticketing = %ticketing_url, "Inbenta token obtained.");
        Ok(Session {
            token,
            expires_at,
            lifetime,
            ticketing_url,
        })
    }

    /// `POST /v1/refreshToken`; the answer has no `apis`, so the ticketing URL is kept.
    async fn refresh(&self, session: &Session) -> Result<Session, ConnectorError> {
        let url = self.endpoint("refreshToken")?;
        tracing::debug!(
            vendor = VENDOR,
            expires_at = session.expires_at,
            "Refreshing Inbenta token."
        );
        let request = self
            .http
            .client()
            .post(url)
            .header(API_KEY_HEADER, self.api_key())
            .header(
                AUTHORIZATION,
                format!("Bearer {}", session.token.expose_secret()),
            );
        let response = self.http.send(request).await?;
        let answer: TokenResponse = self.http.read_json(response).await?;
        let (token, expires_at, lifetime) = token_parts(&answer, self.http.clock().unix_seconds())?;
        Ok(Session {
            token,
            expires_at,
            lifetime,
            ticketing_url: session.ticketing_url.clone(),
        })
    }

    /// `GET /v1/apis` → `apis.ticketing`.
    async fn discover_ticketing(&self, token: &SecretString) -> Result<String, ConnectorError> {
        let url = self.endpoint("apis")?;
        let request = self
            .http
            .client()
            .get(url)
            .header(API_KEY_HEADER, self.api_key())
            .header(AUTHORIZATION, format!("Bearer {}", token.expose_secret()));
        let response = self.http.send(request).await?;
        let answer: ApisResponse = self.http.read_json(response).await?;
        answer.apis.ticketing.ok_or(ConnectorError::Permanent {
            vendor: VENDOR,
            status: None,
            message: "the API list has no `ticketing` URL".into(),
        })
    }

    /// `{auth_url}/v1/{name}`.
    fn endpoint(&self, name: &str) -> Result<Url, ConnectorError> {
        http::with_segments(VENDOR, &self.auth_url, &["v1", name])
    }
}

#[async_trait]
impl TokenSource for TokenManager {
    type Token = Credentials;

    async fn token(&self) -> Result<Credentials, ConnectorError> {
        self.credentials().await
    }

    /// Forget the refused token, then authenticate again (unless another call already did).
    async fn replace(&self, rejected: &Credentials) -> Result<Option<Credentials>, ConnectorError> {
        self.invalidate(&rejected.token).await;
        self.credentials().await.map(Some)
    }
}

/// The token, its expiry and its lifetime, accepting `expiration` (unix seconds) or `expires_in`.
fn token_parts(
    answer: &TokenResponse,
    now: i64,
) -> Result<(SecretString, i64, i64), ConnectorError> {
    if answer.access_token.is_empty() {
        return Err(ConnectorError::Auth {
            vendor: VENDOR,
            message: "the auth answer has an empty access token".into(),
        });
    }
    let expires_at = match (answer.expiration, answer.expires_in) {
        (Some(at), _) => at,
        (None, Some(secs)) => now + secs,
        (None, None) => {
            return Err(ConnectorError::Permanent {
                vendor: VENDOR,
                status: None,
                message: "the auth answer has neither `expiration` nor `expires_in`".into(),
            });
        }
    };
    let lifetime = (expires_at - now).max(0);
    Ok((
        SecretString::from(answer.access_token.clone()),
        expires_at,
        lifetime,
    ))
}

fn parse_ticketing_url(text: &str) -> Result<Url, ConnectorError> {
    let url = Url::parse(text).map_err(|e| bad_url(&format!("ticketing URL is invalid: {e}")))?;
    if url.cannot_be_a_base() {
        return Err(bad_url("ticketing URL cannot take a path"));
    }
    Ok(url)
}

fn bad_url(message: &str) -> ConnectorError {
    ConnectorError::Permanent {
        vendor: VENDOR,
        status: None,
        message: message.to_owned(),
    }
}
