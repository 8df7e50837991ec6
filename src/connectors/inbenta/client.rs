//! [`InbentaClient`]: the [`TicketConnector`] for Inbenta Messenger.

use super::auth::{API_KEY_HEADER, Credentials, TokenManager, read_json};
use super::media::MAX_DOWNLOAD_BYTES;
use super::webhook::parse_events;
use super::wire::{
    CreateReplyRequest, CreateTicketRequest, CreateUserRequest, IdValue, Identified, MaybeWrapped,
    ReplyDto, TicketDto, UpdateStatusRequest, UploadMediaRequest, vendor_error_message,
};
use crate::config::InbentaConfig;
use crate::connectors::{
    ConnectorError, HelpdeskEvent, NewReply, NewTicket, Registration, TicketAttachment,
    TicketConnector, TicketReply, TicketSummary, WebhookError,
};
use crate::domain::{ExternalId, MediaFile};
use async_trait::async_trait;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use reqwest::header::{AUTHORIZATION, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use std::time::{Duration, Instant};
use url::Url;

/// Vendor name in errors, logs and metrics.
pub(super) const VENDOR: &str = "inbenta";

/// Largest file `upload_media` accepts: Inbenta caps a request at 10 MB and base64 inflates a
/// file by a third, which leaves 7 MB of file (seed 004, "Attachments").
pub const MAX_ATTACHMENT_BYTES: usize = 7 * 1024 * 1024;

/// Why an [`InbentaClient`] could not be built from its settings.
#[derive(Debug, thiserror::Error)]
pub enum InbentaBuildError {
    #[error("inbenta.api_key is not set; Inbenta gives it together with the secret")]
    MissingApiKey,
    #[error("inbenta.secret is not set; Inbenta gives it together with the API key")]
    MissingSecret,
    #[error("could not build the HTTP client for Inbenta")]
    Http(#[from] reqwest::Error),
}

/// Talks to the Inbenta Messenger (ticketing) API: users, tickets, replies and media.
///
/// Cheap to share behind an `Arc`; tokens are obtained lazily on the first call and refreshed
/// before they expire.
pub struct InbentaClient {
    pub(super) http: reqwest::Client,
    /// For attachment downloads: follows no redirects by itself, so Inbenta's headers never
    /// travel to another host (see `media.rs`).
    pub(super) media_http: reqwest::Client,
    pub(super) tokens: TokenManager,
    /// Largest attachment `fetch_attachment` downloads.
    pub(super) max_download_bytes: u64,
}

/// Where a ticketing call goes.
#[derive(Clone, Copy)]
pub(super) enum Target<'a> {
    /// `{ticketing}/v1/{path...}?{query}`.
    Api {
        path: &'a [&'a str],
        query: &'a [(&'a str, &'a str)],
    },
    /// A full URL on the ticketing host (an attachment link), fetched without following
    /// redirects.
    Link(&'a Url),
}

impl Target<'_> {
    fn describe(&self) -> String {
        match self {
            Target::Api { path, .. } => path.join("/"),
            Target::Link(url) => url.path().to_owned(),
        }
    }
}

impl std::fmt::Debug for InbentaClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InbentaClient")
            .field("auth_url", &self.tokens.auth_url().as_str())
            .finish_non_exhaustive()
    }
}

impl InbentaClient {
    /// Build a client from the `[inbenta]` settings. Fails when the API key or secret is missing.
    pub fn new(config: &InbentaConfig) -> Result<Self, InbentaBuildError> {
        let api_key = non_empty(config.api_key.as_ref()).ok_or(InbentaBuildError::MissingApiKey)?;
        let secret = non_empty(config.secret.as_ref()).ok_or(InbentaBuildError::MissingSecret)?;
        ensure_crypto_provider();
        let user_agent = concat!("omnibridge/", env!("CARGO_PKG_VERSION"));
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .user_agent(user_agent)
            .build()?;
        // Large files may take longer than one call's timeout: only a stall is a failure.
        let media_http = reqwest::Client::builder()
            .connect_timeout(config.timeout)
            .read_timeout(config.timeout)
            .user_agent(user_agent)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        let tokens = TokenManager::new(http.clone(), config.auth_url.clone(), api_key, secret);
        Ok(Self {
            http,
            media_http,
            tokens,
            max_download_bytes: MAX_DOWNLOAD_BYTES,
        })
    }

    /// Refuse attachments larger than `bytes` (default [`MAX_DOWNLOAD_BYTES`]).
    pub fn with_max_download_bytes(mut self, bytes: u64) -> Self {
        self.max_download_bytes = bytes;
        self
    }

    #[cfg(test)]
    pub(super) fn advance_clock(&self, secs: i64) {
        self.tokens.clock.advance(secs);
    }

    /// Send one ticketing call; on a 401 authenticate again and send it once more.
    pub(super) async fn send(
        &self,
        method: Method,
        path: &[&str],
        query: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Result<reqwest::Response, ConnectorError> {
        self.send_to(method, Target::Api { path, query }, body)
            .await
    }

    /// [`Self::send`] to any [`Target`].
    pub(super) async fn send_to(
        &self,
        method: Method,
        target: Target<'_>,
        body: Option<Vec<u8>>,
    ) -> Result<reqwest::Response, ConnectorError> {
        let credentials = self.tokens.credentials().await?;
        let response = self
            .send_once(&credentials, &method, target, body.clone())
            .await?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        tracing::debug!(vendor = VENDOR, %method, path = %target.describe(), "Inbenta refused the token, authenticating again.");
        self.tokens.invalidate(&credentials.token).await;
        let credentials = self.tokens.credentials().await?;
        self.send_once(&credentials, &method, target, body).await
    }

    async fn send_once(
        &self,
        credentials: &Credentials,
        method: &Method,
        target: Target<'_>,
        body: Option<Vec<u8>>,
    ) -> Result<reqwest::Response, ConnectorError> {
        let (http, url) = match target {
            Target::Api { path, query } => (
                &self.http,
                ticketing_endpoint(&credentials.ticketing_url, path, query)?,
            ),
            Target::Link(url) => (&self.media_http, url.clone()),
        };
        let path = target.describe();
        let mut request = http
            .request(method.clone(), url)
            .header(API_KEY_HEADER, self.tokens.api_key())
            .header(
                AUTHORIZATION,
                format!("Bearer {}", credentials.token.expose_secret()),
            );
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body);
        }
        let started = Instant::now();
        let result = request.send().await;
        let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match result {
            Ok(response) => {
                tracing::debug!(vendor = VENDOR, %method, %path, status = response.status().as_u16(), elapsed_ms, "Inbenta call answered.");
                Ok(response)
            }
            Err(err) => {
                let err = ConnectorError::from_transport(VENDOR, &err.without_url());
                tracing::debug!(vendor = VENDOR, %method, %path, elapsed_ms, error = %err, "Inbenta call failed.");
                Err(err)
            }
        }
    }

    pub(super) async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &[&str],
        query: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Result<T, ConnectorError> {
        read_json(self.send(method, path, query, body).await?).await
    }

    /// A call whose answer must name what it created.
    async fn create(
        &self,
        path: &[&str],
        body: Vec<u8>,
        what: &str,
    ) -> Result<ExternalId, ConnectorError> {
        let answer: MaybeWrapped<Identified> =
            self.call(Method::POST, path, &[], Some(body)).await?;
        answer
            .into_inner()
            .id()
            .ok_or_else(|| ConnectorError::Permanent {
                vendor: VENDOR,
                status: None,
                message: format!("the answer to creating a {what} carries no id"),
            })
    }
}

#[async_trait]
impl TicketConnector for InbentaClient {
    fn vendor(&self) -> &'static str {
        VENDOR
    }

    async fn find_user(&self, address: &str) -> Result<Option<ExternalId>, ConnectorError> {
        let found: MaybeWrapped<Vec<Identified>> = self
            .call(Method::GET, &["users"], &[("address", address)], None)
            .await?;
        // If the API ignored the filter, never pick somebody else's user.
        Ok(found
            .into_inner()
            .into_iter()
            .filter(|user| {
                user.address
                    .as_deref()
                    .is_none_or(|a| a.eq_ignore_ascii_case(address))
            })
            .find_map(Identified::id))
    }

    async fn create_user(&self, name: &str, address: &str) -> Result<ExternalId, ConnectorError> {
        let body = to_json(&CreateUserRequest { name, address })?;
        self.create(&["users"], body, "user").await
    }

    async fn find_ticket(&self, external_id: &str) -> Result<Option<ExternalId>, ConnectorError> {
        let found: MaybeWrapped<Vec<Identified>> = self
            .call(
                Method::GET,
                &["tickets"],
                &[("external_id", external_id)],
                None,
            )
            .await?;
        // If the API ignored the filter, never pick a ticket with another external id.
        Ok(found
            .into_inner()
            .into_iter()
            .filter(|ticket| ticket.external_id_text().is_none_or(|e| e == external_id))
            .find_map(Identified::id))
    }

    async fn create_ticket(&self, ticket: &NewTicket) -> Result<ExternalId, ConnectorError> {
        let body = to_json(&CreateTicketRequest {
            title: &ticket.title,
            creator: IdValue::from(&ticket.creator),
            message: &ticket.message_html,
            queue: ticket.queue,
            source: ticket.source,
            attachments: ticket.attachments.iter().map(ExternalId::as_str).collect(),
            external_id: &ticket.external_id,
        })?;
        self.create(&["tickets"], body, "ticket").await
    }

    async fn ticket_status(&self, ticket: &ExternalId) -> Result<Option<i64>, ConnectorError> {
        let found: MaybeWrapped<TicketDto> = self
            .call(Method::GET, &["tickets", ticket.as_str()], &[], None)
            .await?;
        Ok(found
            .into_inner()
            .status
            .and_then(|status| status.as_number()))
    }

    async fn set_ticket_status(
        &self,
        ticket: &ExternalId,
        status: i64,
    ) -> Result<(), ConnectorError> {
        let body = to_json(&UpdateStatusRequest { status })?;
        let response = self
            .send(Method::PUT, &["tickets", ticket.as_str()], &[], Some(body))
            .await?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(error_from_response(response).await)
        }
    }

    async fn list_replies(&self, ticket: &ExternalId) -> Result<Vec<TicketReply>, ConnectorError> {
        let found: MaybeWrapped<Vec<ReplyDto>> = self
            .call(
                Method::GET,
                &["tickets", ticket.as_str(), "replies"],
                &[],
                None,
            )
            .await?;
        let replies = found.into_inner();
        let listed = replies.len();
        let mut unreadable_attachments = 0;
        let parsed: Vec<TicketReply> = replies
            .into_iter()
            .filter_map(ReplyDto::into_parsed)
            .map(|parsed| {
                unreadable_attachments += parsed.unreadable_attachments;
                parsed.reply
            })
            .collect();
        if parsed.len() != listed {
            tracing::debug!(vendor = VENDOR, ticket = %ticket, skipped = listed - parsed.len(), "Skipped Inbenta replies without an id.");
        }
        if unreadable_attachments > 0 {
            tracing::warn!(vendor = VENDOR, ticket = %ticket, skipped = unreadable_attachments, "Skipped Inbenta reply attachments that name neither a media id nor a link.");
        }
        Ok(parsed)
    }

    async fn add_reply(
        &self,
        ticket: &ExternalId,
        reply: &NewReply,
    ) -> Result<ExternalId, ConnectorError> {
        let body = to_json(&CreateReplyRequest {
            creator: IdValue::from(&reply.creator),
            message: &reply.message_html,
            attachments: reply.attachments.iter().map(ExternalId::as_str).collect(),
        })?;
        self.create(&["tickets", ticket.as_str(), "replies"], body, "reply")
            .await
    }

    async fn upload_media(&self, file: &MediaFile) -> Result<ExternalId, ConnectorError> {
        if file.bytes.len() > MAX_ATTACHMENT_BYTES {
            return Err(ConnectorError::Permanent {
                vendor: VENDOR,
                status: None,
                message: format!(
                    "file {:?} is {} bytes; Inbenta accepts at most {MAX_ATTACHMENT_BYTES} bytes",
                    file.filename,
                    file.bytes.len()
                ),
            });
        }
        let body = to_json(&UploadMediaRequest {
            name: &file.filename,
            content: base64::engine::general_purpose::STANDARD.encode(&file.bytes),
        })?;
        tracing::debug!(vendor = VENDOR, size = file.bytes.len(), mime_type = %file.mime_type, "Uploading media to Inbenta.");
        self.create(&["media"], body, "media file").await
    }

    fn max_attachment_bytes(&self) -> usize {
        MAX_ATTACHMENT_BYTES
    }

    /// The attachment's `url` (Inbenta's headers only when it is on the ticketing host), else
    /// `GET {ticketing}/v1/media/{uuid}`; at most `max_download_bytes` (see `media.rs`).
    async fn fetch_attachment(
        &self,
        attachment: &TicketAttachment,
    ) -> Result<MediaFile, ConnectorError> {
        self.download_attachment(attachment).await
    }

    /// A JSON array (or one object) of `{id, item, action, timestamp, actor, parent}`; only
    /// `reply` and `ticket` events are kept (see `webhook.rs`).
    fn parse_webhook(&self, body: &[u8]) -> Result<Vec<HelpdeskEvent>, WebhookError> {
        parse_events(body, Utc::now())
    }

    /// `GET /v1/webhooks`, then `POST /v1/webhooks {item: reply, url, secret}` unless a `reply`
    /// webhook with this URL is listed.
    async fn register_webhook(
        &self,
        url: &str,
        secret: &SecretString,
    ) -> Result<Registration, ConnectorError> {
        self.ensure_reply_webhook(url, secret).await
    }

    /// Tickets whose `last_update` is strictly after `since`, oldest first (see `polling.rs`).
    async fn updated_tickets(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<TicketSummary>, ConnectorError> {
        self.tickets_updated_after(since).await
    }
}

/// Classify a failed answer, with the vendor's own message and any `Retry-After`.
pub(super) async fn error_from_response(response: reqwest::Response) -> ConnectorError {
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, chrono::Utc::now()));
    let body = response.bytes().await.unwrap_or_default();
    ConnectorError::from_status(VENDOR, status, vendor_error_message(&body), retry_after)
}

/// `Retry-After` as delay-seconds or an HTTP date (a date in the past means "now").
pub(super) fn parse_retry_after(
    value: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let delay = at.with_timezone(&chrono::Utc) - now;
    Some(delay.to_std().unwrap_or(Duration::ZERO))
}

/// `{ticketing}/v1/{path...}?{query}`, each segment percent-encoded.
pub(super) fn ticketing_endpoint(
    base: &Url,
    path: &[&str],
    query: &[(&str, &str)],
) -> Result<Url, ConnectorError> {
    let mut url = base.clone();
    url.set_query(None);
    url.path_segments_mut()
        .map_err(|()| ConnectorError::Permanent {
            vendor: VENDOR,
            status: None,
            message: "ticketing URL cannot take a path".into(),
        })?
        .pop_if_empty()
        .push("v1")
        .extend(path);
    if !query.is_empty() {
        url.query_pairs_mut().extend_pairs(query);
    }
    Ok(url)
}

pub(super) fn to_json<T: serde::Serialize>(body: &T) -> Result<Vec<u8>, ConnectorError> {
    serde_json::to_vec(body).map_err(|e| ConnectorError::Permanent {
        vendor: VENDOR,
        status: None,
        message: format!("could not encode the request: {e}"),
    })
}

fn non_empty(secret: Option<&SecretString>) -> Option<SecretString> {
    secret
        .filter(|s| !s.expose_secret().trim().is_empty())
        .cloned()
}

/// reqwest is built without a default TLS crypto provider; install ring's unless the process
/// already chose one (start-up normally does this first).
fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing the race to another thread installing one is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}
