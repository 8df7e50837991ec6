//! Inbenta webhooks: registering the bridge's `reply` webhook, its verification handshake, and
//! checking and reading deliveries.
//!
//! Inbenta signs with the shared secret itself: `X-Hook-Signature` carries
//! `inbenta.webhook_secret` on the handshake (`GET`, answered with the `X-Inbenta-Challenge`
//! value as plain text) and on every delivery. With a secret configured a delivery must carry
//! the right signature; without one, unsigned deliveries are accepted (they only name ids the
//! bridge then reads itself) and a signed one is refused, since nothing can check it.
//!
//! A delivery is a JSON array of thin events `{id, item, action, timestamp, actor, parent}`
//! (CONTRACTS §3.3); the bridge reads the ticket itself, so only ids are kept. Events about
//! replies and tickets are kept, the rest (users, queues, media...) are dropped.

use super::client::{InbentaClient, VENDOR, to_json};
use super::convert::{subject_of, webhook_key};
use super::loose_json::{first_id, first_instant, id_of};
use super::wire::{MaybeWrapped, RegisterWebhookRequest, WebhookDto};
use crate::connectors::{
    ConnectorError, HelpdeskEvent, Registration, WebhookAuthError, WebhookError,
};
use crate::domain::{ActivitySubject, TicketActivity};
use crate::http::secret_matches;
use chrono::{DateTime, Utc};
use reqwest::Method;
use reqwest::header::HeaderMap;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

/// The webhook item the bridge registers: new replies on tickets.
const REPLY_ITEM: &str = "reply";

/// The shared secret, on the handshake and on every delivery.
const SIGNATURE: &str = "x-hook-signature";
/// The value the handshake must be answered with.
const CHALLENGE: &str = "x-inbenta-challenge";

/// `POST` delivery: see the module documentation for when a signature is required.
pub(super) fn verify_delivery(
    secret: Option<&SecretString>,
    headers: &HeaderMap,
) -> Result<(), WebhookAuthError> {
    let signature = headers.get(SIGNATURE).map(|v| v.to_str().ok());
    match (secret, signature) {
        (None, None) => Ok(()),
        (Some(_), None) => Err(WebhookAuthError::Unauthorized(
            "X-Hook-Signature is missing (inbenta.webhook_secret is set)".into(),
        )),
        (None, Some(_)) => Err(WebhookAuthError::Unauthorized(
            "X-Hook-Signature given but inbenta.webhook_secret is not set".into(),
        )),
        (Some(_), Some(given)) if secret_matches(secret, given) => Ok(()),
        (Some(_), Some(_)) => Err(WebhookAuthError::Unauthorized(
            "wrong X-Hook-Signature".into(),
        )),
    }
}

/// `GET` handshake: the signature must be the configured secret; the answer is the challenge.
pub(super) fn answer_challenge(
    secret: Option<&SecretString>,
    headers: &HeaderMap,
) -> Result<String, WebhookAuthError> {
    let signature = headers.get(SIGNATURE).and_then(|v| v.to_str().ok());
    if !secret_matches(secret, signature) {
        return Err(WebhookAuthError::Unauthorized(
            "X-Hook-Signature does not match inbenta.webhook_secret".into(),
        ));
    }
    headers
        .get(CHALLENGE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .ok_or_else(|| WebhookAuthError::Malformed {
            code: "missing_challenge",
            detail: "X-Inbenta-Challenge header is missing".into(),
        })
}

impl InbentaClient {
    pub(super) async fn ensure_reply_webhook(
        &self,
        url: &str,
        secret: &SecretString,
    ) -> Result<Registration, ConnectorError> {
        let listed: MaybeWrapped<Vec<WebhookDto>> =
            self.call(Method::GET, &["webhooks"], &[], None).await?;
        let exists = listed.into_inner().iter().any(|hook| {
            hook.item
                .as_deref()
                .is_some_and(|item| item.trim().eq_ignore_ascii_case(REPLY_ITEM))
                && hook.url.as_deref().is_some_and(|u| same_url(u, url))
        });
        if exists {
            tracing::debug!(vendor = VENDOR, "Inbenta reply webhook already registered.");
            return Ok(Registration::AlreadyRegistered);
        }
        let body = to_json(&RegisterWebhookRequest {
            item: REPLY_ITEM,
            url,
            secret: secret.expose_secret(),
        })?;
        // Inbenta checks the URL answers its challenge before it answers this call.
        let response = self
            .send(Method::POST, &["webhooks"], &[], Some(body))
            .await?;
        if !response.status().is_success() {
            return Err(self.http.failure(response).await.into_error());
        }
        tracing::info!(vendor = VENDOR, "Inbenta reply webhook registered.");
        Ok(Registration::Created)
    }
}

/// Equal as URLs (scheme and host case, default ports), or as trimmed text.
fn same_url(listed: &str, wanted: &str) -> bool {
    let (listed, wanted) = (listed.trim(), wanted.trim());
    match (url::Url::parse(listed), url::Url::parse(wanted)) {
        (Ok(a), Ok(b)) => a == b,
        _ => listed == wanted,
    }
}

/// Parse a delivery: a JSON array of events, or a single event object. `now` stands in for a
/// missing or unreadable `timestamp`.
pub(super) fn parse_events(
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<Vec<HelpdeskEvent>, WebhookError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| WebhookError::InvalidJson(e.to_string()))?;
    let entries: Vec<&Value> = match &value {
        Value::Array(items) => items.iter().collect(),
        Value::Object(_) => vec![&value],
        _ => {
            return Err(WebhookError::Unrecognized(
                "an Inbenta webhook delivery is a JSON array of events".into(),
            ));
        }
    };
    let mut events = Vec::with_capacity(entries.len());
    let mut dropped = 0;
    for (index, entry) in entries.into_iter().enumerate() {
        let Value::Object(entry) = entry else {
            return Err(unrecognized(index, "is not an object"));
        };
        match event_of(entry, now).map_err(|why| unrecognized(index, why))? {
            Some(event) => events.push(event),
            None => dropped += 1,
        }
    }
    if dropped > 0 {
        tracing::debug!(
            vendor = VENDOR,
            dropped,
            kept = events.len(),
            "Ignored Inbenta webhook events about items other than replies and tickets."
        );
    }
    Ok(events)
}

fn unrecognized(index: usize, why: &str) -> WebhookError {
    WebhookError::Unrecognized(format!("Inbenta webhook event {index} {why}"))
}

/// One event; `Ok(None)` for items the bridge does not follow.
fn event_of(
    entry: &Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<Option<HelpdeskEvent>, &'static str> {
    let item = match entry.get("item") {
        Some(Value::String(item)) if !item.trim().is_empty() => item.trim().to_ascii_lowercase(),
        _ => return Err("has no `item`"),
    };
    let Some(subject) = subject_of(&item) else {
        return Ok(None);
    };
    let id = entry.get("id").and_then(id_of).ok_or("has no `id`")?;
    let action = match entry.get("action") {
        Some(Value::String(action)) if !action.trim().is_empty() => {
            action.trim().to_ascii_lowercase()
        }
        _ => return Err("has no `action`"),
    };
    let ticket = match subject {
        ActivitySubject::Reply => {
            first_id(entry, &["parent"]).ok_or("is a reply without its ticket (`parent`)")?
        }
        ActivitySubject::Ticket => id.clone(),
    };
    let timestamp = first_instant(entry, &["timestamp"]);
    Ok(Some(HelpdeskEvent {
        dedupe_key: webhook_key(subject, &id, &action, timestamp),
        occurred_at: timestamp.unwrap_or(now),
        activity: TicketActivity {
            ticket,
            subject,
            action,
            object_id: id,
        },
    }))
}
