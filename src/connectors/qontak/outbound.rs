//! Sending into a room: text and files as bot messages (`POST messages/whatsapp/bot`), templates
//! as direct broadcasts (`templates.rs`), recovery through the room's history, and resolving.
//!
//! A room whose session expired only takes templates: that is known from the room (a webhook,
//! a poll, `GET rooms/{id}`) or from Qontak's refusal, and reported as
//! [`ConnectorError::WindowClosed`].

use super::channel::QontakChannel;
use super::client::{VENDOR, classify};
use super::convert::{self, Author};
use super::wire::{Envelope, QMessage};
use crate::connectors::http::{self, Failure};
use crate::connectors::{ConnectorError, SentMessage};
use crate::domain::{ExternalId, MediaFile, MediaKind, OutboundBody, Recipient};
use chrono::{DateTime, Duration as ChronoDuration, Utc};
use serde_json::{Value, json};

/// History messages read per page, and pages at most, when looking for a sent message.
const HISTORY_PAGE: usize = 50;
const HISTORY_PAGES: usize = 4;
/// Our clock and Qontak's may differ a little.
const CLOCK_SLACK_SECS: i64 = 120;

/// Words in a refusal that point at a closed customer-service window.
const WINDOW_WORDS: &[&str] = &["session", "expired", "24 hour", "24-hour", "24h", "window"];

const MB: u64 = 1024 * 1024;

impl QontakChannel {
    pub(super) async fn send_body(
        &self,
        to: &Recipient,
        body: &OutboundBody,
    ) -> Result<SentMessage, ConnectorError> {
        let room = to.conversation.as_str();
        match body {
            OutboundBody::Text { text } => {
                self.refuse_if_expired(room).await?;
                let url = self.client.endpoint("messages/whatsapp/bot", &[])?;
                let payload = json!({"room_id": room, "type": "text", "text": text});
                let response = self
                    .client
                    .send(|http| http.post(url.clone()).json(&payload))
                    .await?;
                self.read_sent(room, response).await
            }
            OutboundBody::Media {
                kind,
                file,
                caption,
            } => {
                let wire_type = media_type(*kind, file)?;
                self.refuse_if_expired(room).await?;
                let url = self.client.endpoint("messages/whatsapp/bot", &[])?;
                let response = self
                    .client
                    .send(|http| {
                        let mut form = reqwest::multipart::Form::new()
                            .text("room_id", room.to_owned())
                            .text("type", wire_type)
                            .part("file", http::file_part(file));
                        if let Some(caption) = caption.as_ref().filter(|c| !c.trim().is_empty()) {
                            form = form.text("text", caption.clone());
                        }
                        http.post(url.clone()).multipart(form)
                    })
                    .await?;
                self.read_sent(room, response).await
            }
            OutboundBody::Template {
                name,
                language,
                parameters,
            } => self.send_template(to, name, language, parameters).await,
        }
    }

    /// `WindowClosed` when the room is known to be expired (confirmed with `GET rooms/{id}`, as
    /// the customer may have written since).
    async fn refuse_if_expired(&self, room: &str) -> Result<(), ConnectorError> {
        if !self.rooms.get(room).is_some_and(|f| f.session_expired()) {
            return Ok(());
        }
        let facts = self.rooms.fetch(&self.client, room).await?;
        if facts.session_expired() {
            return Err(window_closed(room, "the room's session is expired"));
        }
        Ok(())
    }

    /// The created message of a 201, or the classified refusal.
    async fn read_sent(
        &self,
        room: &str,
        response: reqwest::Response,
    ) -> Result<SentMessage, ConnectorError> {
        if !response.status().is_success() {
            let failure = self.client.http.failure(response).await;
            return Err(self.send_refusal(room, failure).await);
        }
        let answer: Envelope<QMessage> = self.client.http.read_json(response).await?;
        let message = answer.data;
        if let Some(room_object) = &message.room {
            self.rooms.remember(room_object);
        }
        let id = message
            .id
            .filter(|id| !id.trim().is_empty())
            .ok_or_else(|| ConnectorError::Permanent {
                vendor: VENDOR,
                status: None,
                message: "Qontak accepted the message but its answer has no id".into(),
            })?;
        Ok(SentMessage {
            id: ExternalId::new(id),
            alt_id: message
                .external_id
                .filter(|id| !id.trim().is_empty())
                .map(ExternalId::new),
        })
    }

    /// A refused send: `WindowClosed` when the refusal or the room says the session expired.
    async fn send_refusal(&self, room: &str, failure: Failure) -> ConnectorError {
        let doing = format!("sending into room {room}");
        let client_refusal = matches!(failure.status, 400 | 403 | 409 | 422);
        if !client_refusal || failure.mentions(&["wait a moment"]) {
            return classify(failure, &doing);
        }
        if failure.mentions(WINDOW_WORDS) {
            return window_closed(room, &failure.summary());
        }
        match self.rooms.fetch(&self.client, room).await {
            Ok(facts) if facts.session_expired() => window_closed(room, &failure.summary()),
            _ => classify(failure, &doing),
        }
    }

    /// A message from us (bot or agent) in the room since `since` that matches `body`.
    pub(super) async fn find_in_history(
        &self,
        to: &Recipient,
        since: DateTime<Utc>,
        body: &OutboundBody,
    ) -> Result<Option<ExternalId>, ConnectorError> {
        let room = to.conversation.as_str();
        let since = since - ChronoDuration::seconds(CLOCK_SLACK_SECS);
        let messages = self.history_since(room, since, HISTORY_PAGES).await?;
        let found = messages
            .iter()
            .filter(|m| matches!(convert::author_of(m), Author::Bot | Author::Agent))
            .filter(|m| sent_matches(m, body))
            .filter_map(|m| {
                let at = convert::parse_time(m.created_at.as_deref())?;
                Some((at, m.id.clone()?))
            })
            .min_by_key(|(at, _)| *at);
        Ok(found.map(|(_, id)| ExternalId::new(id)))
    }

    /// The room's messages created at or after `since`, newest first, reading at most `pages`.
    pub(super) async fn history_since(
        &self,
        room: &str,
        since: DateTime<Utc>,
        pages: usize,
    ) -> Result<Vec<QMessage>, ConnectorError> {
        let url = self.client.room_endpoint(room, &["histories"])?;
        let mut cursor: Option<String> = None;
        let mut found = Vec::new();
        for _ in 0..pages {
            let mut query = vec![
                ("limit", HISTORY_PAGE.to_string()),
                ("order_by", "created_at".to_owned()),
                ("order_direction", "desc".to_owned()),
            ];
            if let Some(cursor) = &cursor {
                query.push(("cursor", cursor.clone()));
                query.push(("cursor_direction", "after".to_owned()));
            }
            let page: Envelope<Vec<QMessage>> = self
                .client
                .get(
                    &format!("reading the history of room {room}"),
                    url.clone(),
                    &query,
                )
                .await?;
            let count = page.data.len();
            let next = page.next_cursor();
            let mut reached_older = false;
            for message in page.data {
                match convert::parse_time(message.created_at.as_deref()) {
                    Some(at) if at < since => reached_older = true,
                    _ => found.push(message),
                }
            }
            if reached_older || count < HISTORY_PAGE || next.is_none() {
                break;
            }
            cursor = next;
        }
        Ok(found)
    }

    /// `PUT rooms/{id}/resolve`; a room Qontak says is already resolved is fine.
    pub(super) async fn resolve_room(&self, room: &str) -> Result<(), ConnectorError> {
        let url = self.client.room_endpoint(room, &["resolve"])?;
        let response = self.client.send(|http| http.put(url.clone())).await?;
        if response.status().is_success() {
            return Ok(());
        }
        let failure = self.client.http.failure(response).await;
        if failure.status == 422 && failure.mentions(&["already resolved", "already been resolved"])
        {
            return Ok(());
        }
        Err(classify(failure, &format!("resolving room {room}")))
    }
}

pub(super) fn window_closed(room: &str, reason: &str) -> ConnectorError {
    ConnectorError::WindowClosed {
        vendor: VENDOR,
        message: format!("room {room}: {reason}; only a template can reach the customer now"),
    }
}

/// The bot endpoint's `type` for a file: its kind when WhatsApp takes that kind in this format
/// and size, else `document`. Files over 100 MB are refused before any call.
pub(super) fn media_type(
    kind: MediaKind,
    file: &MediaFile,
) -> Result<&'static str, ConnectorError> {
    let len = file.bytes.len() as u64;
    if len > 100 * MB {
        return Err(ConnectorError::Permanent {
            vendor: VENDOR,
            status: None,
            message: format!(
                "{} is {} MB; WhatsApp accepts files of at most 100 MB",
                file.filename,
                len / MB
            ),
        });
    }
    let essence = file
        .mime_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let preferred = match kind {
        MediaKind::Image | MediaKind::Sticker => "image",
        MediaKind::Video => "video",
        MediaKind::Audio | MediaKind::Voice => "audio",
        MediaKind::Document => "document",
    };
    let fits = whatsapp_accepts(preferred, &essence) && len <= max_bytes(preferred);
    Ok(if fits { preferred } else { "document" })
}

/// WhatsApp's formats per media type (Cloud API media reference).
pub(super) fn whatsapp_accepts(media_type: &str, mime_essence: &str) -> bool {
    match media_type {
        "image" => matches!(mime_essence, "image/jpeg" | "image/png"),
        "video" => matches!(mime_essence, "video/mp4" | "video/3gpp"),
        "audio" => matches!(
            mime_essence,
            "audio/aac" | "audio/mp4" | "audio/mpeg" | "audio/amr" | "audio/ogg" | "audio/opus"
        ),
        _ => true,
    }
}

/// WhatsApp's size limit per media type.
pub(super) fn max_bytes(media_type: &str) -> u64 {
    match media_type {
        "image" => 5 * MB,
        "video" | "audio" => 16 * MB,
        _ => 100 * MB,
    }
}

/// Whether a history message is what `body` would have produced.
fn sent_matches(message: &QMessage, body: &OutboundBody) -> bool {
    let message_type = message
        .message_type
        .as_deref()
        .unwrap_or("")
        .to_ascii_lowercase();
    let text = message.text.as_deref().map(normalize);
    match body {
        OutboundBody::Text { text: sent } => {
            message.is_campaign != Some(true)
                && message_type == "text"
                && text.as_deref() == Some(normalize(sent).as_str())
        }
        OutboundBody::Media {
            kind,
            file,
            caption,
        } => {
            let expected = media_type(*kind, file).unwrap_or("document");
            let caption_ok = match caption.as_deref().map(normalize).filter(|c| !c.is_empty()) {
                Some(caption) => text.as_deref() == Some(caption.as_str()),
                None => true,
            };
            (message_type == expected || message_type == "document")
                && caption_ok
                && same_file(message, file)
        }
        OutboundBody::Template { parameters, .. } => {
            message.is_campaign == Some(true)
                && parameters.iter().all(|p| {
                    text.as_deref()
                        .is_some_and(|t| t.contains(normalize(p).as_str()))
                })
        }
    }
}

/// Two files of one kind sent in a row look alike: when the history names the file (its
/// `filename` or `size`, which Qontak does not document), it must be ours. Names are compared on
/// letters and digits only, in case Qontak makes them URL-safe.
fn same_file(message: &QMessage, file: &MediaFile) -> bool {
    let described = message.file.as_ref().and_then(Value::as_object);
    let name = described
        .and_then(|f| f.get("filename"))
        .and_then(Value::as_str)
        .or(message.filename.as_deref());
    let size = described.and_then(|f| f.get("size")).and_then(|size| {
        size.as_u64()
            .or_else(|| size.as_str().and_then(|s| s.trim().parse().ok()))
    });
    let letters = |name: &str| -> String {
        name.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect()
    };
    name.is_none_or(|name| letters(name) == letters(&file.filename))
        && size.is_none_or(|size| usize::try_from(size) == Ok(file.bytes.len()))
}

fn normalize(text: &str) -> String {
    text.replace("\r\n", "\n").trim().to_owned()
}
