//! [`InbentaClient`]: the [`TicketConnector`] for Inbenta Messenger.

use super::auth::{API_KEY_HEADER, Credentials, TokenManager};
use super::convert::{Statuses, polled_change};
use super::media::MAX_DOWNLOAD_BYTES;
use super::webhook::{answer_challenge, parse_events, verify_delivery};
use super::wire::{
    CreateReplyRequest, CreateTicketRequest, CreateUserRequest, IdValue, Identified, MaybeWrapped,
    ReplyDto, TicketDto, UpdateStatusRequest, UploadMediaRequest, vendor_error_message,
};
use crate::config::InbentaConfig;
use crate::connectors::http::{self, VendorHttp};
use crate::connectors::{
    ConnectorError, HelpdeskEvent, NewReply, NewTicket, Registration, TicketAttachment,
    TicketConnector, TicketReply, WebhookAuthError, WebhookError,
};
use crate::domain::{ExternalId, MediaFile, TicketState};
use async_trait::async_trait;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use reqwest::Method;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap};
use secrecy::{ExposeSecret, SecretString};
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
    pub(super) http: VendorHttp,
    /// For attachment downloads: follows no redirects by itself, so Inbenta's headers never
    /// travel to another host (see `media.rs`).
    pub(super) media_http: VendorHttp,
    pub(super) tokens: TokenManager,
    /// Largest attachment `fetch_attachment` downloads.
    pub(super) max_download_bytes: u64,
    /// What open and closed are in this deployment's numbers.
    statuses: Statuses,
    /// `inbenta.webhook_secret`: what `X-Hook-Signature` must carry (see `webhook.rs`).
    pub(super) webhook_secret: Option<SecretString>,
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
        let http = VendorHttp::new(VENDOR, config.timeout, error_text)?;
        // Large files may take longer than one call's timeout: only a stall is a failure.
        let media_http = VendorHttp::for_downloads(VENDOR, config.timeout, error_text)?;
        let tokens = TokenManager::new(http.clone(), config.auth_url.clone(), api_key, secret);
        Ok(Self {
            http,
            media_http,
            tokens,
            max_download_bytes: MAX_DOWNLOAD_BYTES,
            statuses: Statuses {
                open: config.open_status,
                closed: config.closed_status,
            },
            webhook_secret: non_empty(config.webhook_secret.as_ref()),
        })
    }

    /// Refuse attachments larger than `bytes` (default [`MAX_DOWNLOAD_BYTES`]).
    pub fn with_max_download_bytes(mut self, bytes: u64) -> Self {
        self.max_download_bytes = bytes;
        self
    }

    /// Read time from `clock` (tests move it forward).
    #[cfg(test)]
    pub(super) fn with_clock_for_tests(mut self, clock: std::sync::Arc<dyn http::Clock>) -> Self {
        self.tokens.http = self.tokens.http.clone().with_clock(clock.clone());
        self.http = self.http.clone().with_clock(clock.clone());
        self.media_http = self.media_http.clone().with_clock(clock);
        self
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
        let vendor_http = match target {
            Target::Api { .. } => &self.http,
            Target::Link(_) => &self.media_http,
        };
        vendor_http
            .send_authed(&self.tokens, |client, credentials: &Credentials| {
                let url = match target {
                    Target::Api { path, query } => {
                        ticketing_endpoint(&credentials.ticketing_url, path, query)?
                    }
                    Target::Link(url) => url.clone(),
                };
                let request = client
                    .request(method.clone(), url)
                    .header(API_KEY_HEADER, self.tokens.api_key())
                    .header(
                        AUTHORIZATION,
                        format!("Bearer {}", credentials.token.expose_secret()),
                    );
                Ok(match &body {
                    Some(body) => request
                        .header(CONTENT_TYPE, "application/json")
                        .body(body.clone()),
                    None => request,
                })
            })
            .await
    }

    pub(super) async fn call<T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &[&str],
        query: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> Result<T, ConnectorError> {
        let response = self.send(method, path, query, body).await?;
        self.http.read_json(response).await
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

    /// `GET /v1/tickets/{id}`; `inbenta.closed_status` is closed, `inbenta.open_status` open.
    async fn ticket_state(
        &self,
        ticket: &ExternalId,
    ) -> Result<Option<TicketState>, ConnectorError> {
        let found: MaybeWrapped<TicketDto> = self
            .call(Method::GET, &["tickets", ticket.as_str()], &[], None)
            .await?;
        Ok(found
            .into_inner()
            .status
            .and_then(|status| status.as_number())
            .map(|status| self.statuses.state_of(status)))
    }

    /// `PUT /v1/tickets/{id} {status}` with the configured number for the state.
    async fn set_ticket_state(
        &self,
        ticket: &ExternalId,
        state: &TicketState,
    ) -> Result<(), ConnectorError> {
        let status = self
            .statuses
            .status_of(state)
            .ok_or_else(|| ConnectorError::Permanent {
                vendor: VENDOR,
                status: None,
                message: format!("ticket state {state:?} has no Inbenta status number"),
            })?;
        let body = to_json(&UpdateStatusRequest { status })?;
        let response = self
            .send(Method::PUT, &["tickets", ticket.as_str()], &[], Some(body))
            .await?;
        self.http.check(response).await.map(drop)
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

    /// `X-Hook-Signature` must equal `inbenta.webhook_secret` when that is set (see `webhook.rs`).
    fn verify_webhook(&self, headers: &HeaderMap) -> Result<(), WebhookAuthError> {
        verify_delivery(self.webhook_secret.as_ref(), headers)
    }

    /// `X-Hook-Signature` = `inbenta.webhook_secret`; the answer is `X-Inbenta-Challenge`.
    fn webhook_handshake(&self, headers: &HeaderMap) -> Result<String, WebhookAuthError> {
        answer_challenge(self.webhook_secret.as_ref(), headers)
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

    /// Tickets whose `last_update` is strictly after `since`, oldest first (see `polling.rs`),
    /// each a change keyed by its time and status (see `convert.rs`).
    async fn updated_tickets(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<HelpdeskEvent>, ConnectorError> {
        let tickets = self.tickets_updated_after(since).await?;
        let polled_at = self.http.clock().now();
        Ok(tickets
            .iter()
            .map(|ticket| polled_change(ticket, polled_at))
            .collect())
    }
}

/// Inbenta's explanation of a failure (see [`vendor_error_message`]).
fn error_text(body: &[u8]) -> Option<String> {
    Some(vendor_error_message(body))
}

/// `{ticketing}/v1/{path...}?{query}`, each segment percent-encoded.
pub(super) fn ticketing_endpoint(
    base: &Url,
    path: &[&str],
    query: &[(&str, &str)],
) -> Result<Url, ConnectorError> {
    let mut base = base.clone();
    base.set_query(None);
    let segments: Vec<&str> = std::iter::once("v1").chain(path.iter().copied()).collect();
    let mut url = http::with_segments(VENDOR, &base, &segments)?;
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
