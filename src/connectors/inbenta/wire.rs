//! Inbenta wire shapes. Inbenta is loose about them: ids come as numbers or strings, under `id`,
//! `uuid` or `full_uuid`, and answers may or may not be wrapped in `{data: ...}`. Everything here
//! accepts all of those and hands the client plain values.

use super::loose_json::{attachments_of, instant_of};
use crate::connectors::TicketReply;
use crate::domain::ExternalId;
use serde::{Deserialize, Serialize};

// ---------------------------------------------------------------------------------------------
// Auth

/// `POST /v1/auth` body.
#[derive(Serialize)]
pub(super) struct AuthRequest<'a> {
    pub(super) secret: &'a str,
}

/// Answer of `/v1/auth` and `/v1/refreshToken` (the latter without `apis`).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct TokenResponse {
    pub(super) access_token: String,
    /// Unix seconds.
    #[serde(default)]
    pub(super) expiration: Option<i64>,
    /// Seconds from now; some deployments send this instead of (or with) `expiration`.
    #[serde(default, alias = "expires_in")]
    pub(super) expires_in: Option<i64>,
    #[serde(default)]
    pub(super) apis: Option<ApiUrls>,
}

/// `GET /v1/apis` answer.
#[derive(Deserialize)]
pub(super) struct ApisResponse {
    pub(super) apis: ApiUrls,
}

#[derive(Deserialize)]
pub(super) struct ApiUrls {
    #[serde(default)]
    pub(super) ticketing: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Ids

/// An id as Inbenta writes it: a number or a string.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(untagged)]
pub(super) enum RawId {
    Number(i64),
    Text(String),
}

impl RawId {
    fn into_external(self) -> Option<ExternalId> {
        match self {
            RawId::Number(n) => Some(ExternalId::new(n.to_string())),
            RawId::Text(t) if !t.trim().is_empty() => Some(ExternalId::new(t)),
            RawId::Text(_) => None,
        }
    }
}

/// An id we send: numeric ids go out as JSON numbers (Inbenta's examples write `creator: 1234`),
/// anything else as a string.
#[derive(Serialize)]
#[serde(untagged)]
pub(super) enum IdValue<'a> {
    Number(i64),
    Text(&'a str),
}

impl<'a> From<&'a ExternalId> for IdValue<'a> {
    fn from(id: &'a ExternalId) -> Self {
        match id.as_str().parse::<i64>() {
            Ok(n) => IdValue::Number(n),
            Err(_) => IdValue::Text(id.as_str()),
        }
    }
}

/// Any object that names itself by `id`, `uuid` or `full_uuid` (first present wins).
#[derive(Deserialize)]
pub(super) struct Identified {
    #[serde(default)]
    id: Option<RawId>,
    #[serde(default)]
    uuid: Option<RawId>,
    #[serde(default)]
    full_uuid: Option<RawId>,
    /// Present on users; used to double-check a lookup.
    #[serde(default)]
    pub(super) address: Option<String>,
    /// Present on tickets; used to double-check a lookup.
    #[serde(default)]
    pub(super) external_id: Option<RawId>,
}

impl Identified {
    pub(super) fn id(self) -> Option<ExternalId> {
        [self.id, self.uuid, self.full_uuid]
            .into_iter()
            .flatten()
            .find_map(RawId::into_external)
    }

    /// The ticket's external id as text, when the answer carries one.
    pub(super) fn external_id_text(&self) -> Option<String> {
        match &self.external_id {
            Some(RawId::Number(n)) => Some(n.to_string()),
            Some(RawId::Text(t)) => Some(t.clone()),
            None => None,
        }
    }
}

/// A body that may be `{data: T}` or `T` itself.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum MaybeWrapped<T> {
    Wrapped { data: T },
    Bare(T),
}

impl<T> MaybeWrapped<T> {
    pub(super) fn into_inner(self) -> T {
        match self {
            MaybeWrapped::Wrapped { data } | MaybeWrapped::Bare(data) => data,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Users, tickets, replies, media

#[derive(Serialize)]
pub(super) struct CreateUserRequest<'a> {
    pub(super) name: &'a str,
    pub(super) address: &'a str,
}

#[derive(Serialize)]
pub(super) struct CreateTicketRequest<'a> {
    pub(super) title: &'a str,
    pub(super) creator: IdValue<'a>,
    pub(super) message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) queue: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) source: Option<i64>,
    pub(super) attachments: Vec<&'a str>,
    pub(super) external_id: &'a str,
}

#[derive(Serialize)]
pub(super) struct UpdateStatusRequest {
    pub(super) status: i64,
}

#[derive(Serialize)]
pub(super) struct CreateReplyRequest<'a> {
    pub(super) creator: IdValue<'a>,
    pub(super) message: &'a str,
    pub(super) attachments: Vec<&'a str>,
}

#[derive(Serialize)]
pub(super) struct UploadMediaRequest<'a> {
    pub(super) name: &'a str,
    /// Base64 (standard alphabet, padded).
    pub(super) content: String,
}

/// A ticket status: `1`, `"1"` or `{id: 1, name: "Open"}`.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum RawStatus {
    Number(i64),
    Text(String),
    Object { id: RawId },
}

impl RawStatus {
    pub(super) fn as_number(&self) -> Option<i64> {
        match self {
            RawStatus::Number(n)
            | RawStatus::Object {
                id: RawId::Number(n),
            } => Some(*n),
            RawStatus::Text(t) | RawStatus::Object { id: RawId::Text(t) } => t.trim().parse().ok(),
        }
    }
}

#[derive(Deserialize)]
pub(super) struct TicketDto {
    #[serde(default)]
    pub(super) status: Option<RawStatus>,
}

/// The author of a reply: a bare id or a user object.
#[derive(Deserialize)]
#[serde(untagged)]
pub(super) enum CreatorRef {
    Id(RawId),
    Object(Identified),
}

impl CreatorRef {
    fn into_id(self) -> Option<ExternalId> {
        match self {
            CreatorRef::Id(id) => id.into_external(),
            CreatorRef::Object(obj) => obj.id(),
        }
    }
}

#[derive(Deserialize)]
pub(super) struct ReplyDto {
    #[serde(default)]
    id: Option<RawId>,
    #[serde(default)]
    uuid: Option<RawId>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    creator: Option<CreatorRef>,
    #[serde(default)]
    message: Option<String>,
    /// Media uuids or attachment objects; read by [`attachments_of`].
    #[serde(default)]
    attachments: Option<serde_json::Value>,
    /// When the reply was written, under whichever name the deployment uses.
    #[serde(default)]
    creation_date: Option<serde_json::Value>,
    #[serde(default)]
    created_at: Option<serde_json::Value>,
    #[serde(default)]
    date: Option<serde_json::Value>,
}

/// A reply as the connector boundary describes it; `None` when the reply carries no id at all.
pub(super) struct ParsedReply {
    pub(super) reply: TicketReply,
    /// Attachment entries that named neither a media id nor a link.
    pub(super) unreadable_attachments: usize,
}

impl ReplyDto {
    pub(super) fn into_parsed(self) -> Option<ParsedReply> {
        let id = [self.id, self.uuid]
            .into_iter()
            .flatten()
            .find_map(RawId::into_external)?;
        let (attachments, unreadable_attachments) = attachments_of(self.attachments.as_ref());
        let created_at = [&self.creation_date, &self.created_at, &self.date]
            .into_iter()
            .flatten()
            .find_map(instant_of);
        Some(ParsedReply {
            reply: TicketReply {
                id,
                author: super::convert::author_of(self.kind.as_deref()),
                creator: self.creator.and_then(CreatorRef::into_id),
                message_html: self.message.unwrap_or_default(),
                attachments,
                created_at,
            },
            unreadable_attachments,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Webhooks

/// One entry of `GET /v1/webhooks`.
#[derive(Deserialize)]
pub(super) struct WebhookDto {
    #[serde(default)]
    pub(super) item: Option<String>,
    #[serde(default)]
    pub(super) url: Option<String>,
}

/// `POST /v1/webhooks` body.
#[derive(Serialize)]
pub(super) struct RegisterWebhookRequest<'a> {
    pub(super) item: &'a str,
    pub(super) url: &'a str,
    pub(super) secret: &'a str,
}

// ---------------------------------------------------------------------------------------------
// Errors

/// Pull the human message out of an Inbenta error body:
/// `{"errors":[{"message","code"}]}`, `{"error":..,"message":..}`, `{"message":..}`;
/// otherwise the first 300 characters of the body.
pub(super) fn vendor_error_message(body: &[u8]) -> String {
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(body)
        && let Some(message) = message_from_json(&value)
    {
        return message;
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return "empty answer".to_owned();
    }
    text.chars().take(300).collect()
}

fn message_from_json(value: &serde_json::Value) -> Option<String> {
    let text_of = |v: &serde_json::Value| v.as_str().map(str::to_owned).filter(|s| !s.is_empty());
    if let Some(first) = value
        .get("errors")
        .and_then(|e| e.as_array()?.first().cloned())
    {
        let message = first
            .get("message")
            .and_then(text_of)
            .or_else(|| text_of(&first))?;
        return Some(match first.get("code") {
            Some(code) if !code.is_null() => format!("{message} (code {})", code_text(code)),
            _ => message,
        });
    }
    if let Some(message) = value.get("message").and_then(text_of) {
        return Some(message);
    }
    match value.get("error") {
        Some(err) => text_of(err).or_else(|| err.get("message").and_then(text_of)),
        None => None,
    }
}

fn code_text(code: &serde_json::Value) -> String {
    code.as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| code.to_string())
}
