//! Qontak's JSON shapes, private to this folder. Qontak documents few of its fields precisely and
//! its payloads changed over time, so every field is optional and read leniently: a value of an
//! unexpected type reads as missing instead of rejecting the whole body.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// `{status, data, meta}`, the envelope of every successful open-API answer.
#[derive(Debug, Deserialize)]
pub(super) struct Envelope<T> {
    pub(super) data: T,
    #[serde(default)]
    pub(super) meta: Option<Meta>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct Meta {
    #[serde(default)]
    pub(super) pagination: Option<Pagination>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct Pagination {
    #[serde(default)]
    pub(super) cursor: Option<Cursor>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct Cursor {
    #[serde(default, deserialize_with = "lenient_string")]
    pub(super) next: Option<String>,
}

impl<T> Envelope<T> {
    /// The cursor of the next page, when the answer names one.
    pub(super) fn next_cursor(&self) -> Option<String> {
        self.meta
            .as_ref()?
            .pagination
            .as_ref()?
            .cursor
            .as_ref()?
            .next
            .clone()
            .filter(|c| !c.trim().is_empty())
    }
}

/// A message as webhooks, `POST messages/whatsapp/bot` and room histories give it.
#[derive(Clone, Debug, Default, Deserialize)]
pub(super) struct QMessage {
    #[serde(default, deserialize_with = "lenient_string")]
    pub(super) id: Option<String>,
    #[serde(default, rename = "type", deserialize_with = "lenient_string")]
    pub(super) message_type: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub(super) room_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub(super) is_campaign: Option<bool>,
    #[serde(default, deserialize_with = "lenient_bool")]
    pub(super) is_agent: Option<bool>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub(super) sender_type: Option<String>,
    #[serde(default, deserialize_with = "lenient_object")]
    pub(super) sender: Option<QSender>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub(super) text: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub(super) status: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub(super) participant_type: Option<String>,
    /// The WhatsApp message id (wamid), once WhatsApp accepted the message.
    #[serde(default, deserialize_with = "lenient_string")]
    pub(super) external_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub(super) created_at: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub(super) updated_at: Option<String>,
    #[serde(default)]
    pub(super) reply: Option<Value>,
    #[serde(default, deserialize_with = "lenient_object")]
    pub(super) room: Option<QRoom>,
    /// Media fields are undocumented: `file` (an object with `url`, or a bare URL), `url`,
    /// `media{url}`; read by `convert::media_of`.
    #[serde(default)]
    pub(super) file: Option<Value>,
    #[serde(default)]
    pub(super) url: Option<Value>,
    #[serde(default)]
    pub(super) media: Option<Value>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub(super) filename: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub(super) content_type: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub(super) mime_type: Option<String>,
    /// Failure explanations some payloads carry for `failed` messages.
    #[serde(default)]
    pub(super) error: Option<Value>,
    #[serde(default)]
    pub(super) errors: Option<Value>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub(super) struct QSender {
    #[serde(default, deserialize_with = "lenient_string")]
    pub(super) name: Option<String>,
}

/// A room (conversation) as embedded in messages and listed by `GET rooms`.
#[derive(Clone, Debug, Default, Deserialize)]
pub(super) struct QRoom {
    #[serde(default, deserialize_with = "lenient_string")]
    pub(super) id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub(super) name: Option<String>,
    /// `unassigned`, `assigned`, `resolved`, `campaign`.
    #[serde(default, deserialize_with = "lenient_string")]
    pub(super) status: Option<String>,
    #[serde(default, deserialize_with = "lenient_tags")]
    pub(super) tags: Vec<String>,
    /// `wa`, `wa_cloud`, `ig`, `fb`, `telegram`… (an organisation's webhooks cover them all).
    #[serde(default, deserialize_with = "lenient_string")]
    pub(super) channel: Option<String>,
    /// The customer's phone number for WhatsApp rooms.
    #[serde(default, deserialize_with = "lenient_string")]
    pub(super) account_uniq_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub(super) channel_integration_id: Option<String>,
    /// `open`, `expiring` or `expired`: whether free-form messages may still be sent.
    #[serde(default, deserialize_with = "lenient_string")]
    pub(super) session: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub(super) session_at: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub(super) updated_at: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub(super) resolved_at: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub(super) last_activity_at: Option<String>,
    #[serde(default, deserialize_with = "lenient_object")]
    pub(super) last_message: Option<QLastMessage>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub(super) struct QLastMessage {
    #[serde(default, deserialize_with = "lenient_string")]
    pub(super) created_at: Option<String>,
}

/// `POST /oauth/token` answer.
#[derive(Debug, Deserialize)]
pub(super) struct TokenResponse {
    pub(super) access_token: String,
    #[serde(default, deserialize_with = "lenient_string")]
    pub(super) refresh_token: Option<String>,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub(super) expires_in: Option<i64>,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub(super) created_at: Option<i64>,
}

/// `POST /oauth/token` body for the refresh grant (seed 003).
#[derive(Serialize)]
pub(super) struct RefreshRequest<'a> {
    pub(super) refresh_token: &'a str,
    pub(super) grant_type: &'static str,
    pub(super) client_id: &'a str,
    pub(super) client_secret: &'a str,
}

/// One entry of `GET templates/whatsapp`.
#[derive(Clone, Debug, Deserialize)]
pub(super) struct QTemplate {
    #[serde(default, deserialize_with = "lenient_string")]
    pub(super) id: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub(super) name: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub(super) language: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    pub(super) status: Option<String>,
}

/// `POST broadcasts/whatsapp/direct` body.
#[derive(Debug, Serialize)]
pub(super) struct DirectBroadcast<'a> {
    pub(super) to_number: &'a str,
    pub(super) to_name: &'a str,
    pub(super) message_template_id: &'a str,
    pub(super) channel_integration_id: &'a str,
    pub(super) language: Language<'a>,
    pub(super) parameters: TemplateParameters,
}

#[derive(Debug, Serialize)]
pub(super) struct Language<'a> {
    pub(super) code: &'a str,
}

#[derive(Debug, Serialize)]
pub(super) struct TemplateParameters {
    pub(super) body: Vec<BodyParameter>,
}

/// `{key: "1", value, value_text}`: `value` names the variable, `value_text` is what is sent.
#[derive(Debug, Serialize)]
pub(super) struct BodyParameter {
    pub(super) key: String,
    pub(super) value: String,
    pub(super) value_text: String,
}

/// The `data` of a created broadcast; only its id matters.
#[derive(Debug, Deserialize)]
pub(super) struct CreatedBroadcast {
    #[serde(default, deserialize_with = "lenient_string")]
    pub(super) id: Option<String>,
}

/// `PUT message_interactions` body (Qontak's swagger plus `broadcast_log_status`).
#[derive(Debug, Serialize)]
pub(super) struct MessageInteractions<'a> {
    pub(super) receive_message_from_agent: bool,
    pub(super) receive_message_from_customer: bool,
    pub(super) status_message: bool,
    pub(super) broadcast_log_status: bool,
    pub(super) url: &'a str,
}

/// `PUT room_interactions` body.
#[derive(Debug, Serialize)]
pub(super) struct RoomInteractions<'a> {
    pub(super) room_resolved: bool,
    pub(super) url: &'a str,
}

/// The text of a string, a number or a bool; anything else is missing.
pub(super) fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(text_of(&Value::deserialize(d)?))
}

fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Bool(b) => Some(b),
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        },
        Value::Number(n) => n.as_i64().map(|n| n != 0),
        _ => None,
    })
}

fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

/// An object of type `T`, or missing when the value is null, of another type or malformed.
fn lenient_object<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let value = Value::deserialize(d)?;
    if !value.is_object() {
        return Ok(None);
    }
    Ok(serde_json::from_value(value).ok())
}

/// Tags as strings or as objects with a `name`.
fn lenient_tags<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let Value::Array(items) = Value::deserialize(d)? else {
        return Ok(Vec::new());
    };
    Ok(items
        .iter()
        .filter_map(|item| match item {
            Value::Object(object) => object.get("name").and_then(text_of),
            other => text_of(other),
        })
        .filter(|tag| !tag.trim().is_empty())
        .collect())
}
