//! HTTP client of Qontak's open API (`{base}/api/open/v1/`).
//!
//! Every call carries `Authorization: Bearer <access token>`; when Qontak answers 401 the token is
//! refreshed (see `auth.rs`) and the call repeated once. Errors come in Qontak's envelope
//! `{status, error: {code, messages[]}}` (messages are strings, or objects such as
//! `{active_model_errors: {field: [..]}}`); OAuth errors as `{error, error_description}`.

use super::auth::TokenManager;
use crate::connectors::ConnectorError;
use crate::connectors::http::{self, Failure, VendorHttp};
use reqwest::header::{ACCEPT, AUTHORIZATION};
use reqwest::{Client, RequestBuilder, Response, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde_json::Value;
use url::Url;

pub(super) const VENDOR: &str = "qontak";

pub(super) struct QontakClient {
    pub(super) http: VendorHttp,
    /// `{base}/api/open/v1/`, always with the trailing slash.
    api_base: Url,
    pub(super) tokens: TokenManager,
}

impl QontakClient {
    pub(super) fn new(http: VendorHttp, api_base: Url, tokens: TokenManager) -> Self {
        Self {
            http,
            api_base,
            tokens,
        }
    }

    pub(super) fn api_base(&self) -> &Url {
        &self.api_base
    }

    /// `{api_base}{path}`, each `segments` entry appended as one escaped path segment.
    pub(super) fn endpoint(&self, path: &str, segments: &[&str]) -> Result<Url, ConnectorError> {
        let url = http::join(VENDOR, &self.api_base, path)?;
        if segments.is_empty() {
            return Ok(url);
        }
        http::with_segments(VENDOR, &url, segments)
    }

    /// `rooms/{room}/{tail}` with the room id escaped.
    pub(super) fn room_endpoint(&self, room: &str, tail: &[&str]) -> Result<Url, ConnectorError> {
        let mut segments = vec![room];
        segments.extend_from_slice(tail);
        self.endpoint("rooms", &segments)
    }

    /// Send an authenticated request built by `build`; on 401 refresh the token once and
    /// repeat it. A second 401 is an `Auth` error.
    pub(super) async fn send(
        &self,
        build: impl Fn(&Client) -> RequestBuilder,
    ) -> Result<Response, ConnectorError> {
        let response = self
            .http
            .send_authed(&self.tokens, |client, token: &SecretString| {
                Ok(build(client)
                    .header(AUTHORIZATION, format!("Bearer {}", token.expose_secret()))
                    .header(ACCEPT, "application/json"))
            })
            .await?;
        if response.status() == StatusCode::UNAUTHORIZED {
            let failure = self.http.failure(response).await;
            return Err(ConnectorError::Auth {
                vendor: VENDOR,
                message: format!(
                    "the access token was refused even right after a refresh ({}); check that \
                     the token belongs to a user or bot allowed to use this endpoint",
                    failure.summary()
                ),
            });
        }
        Ok(response)
    }

    /// An authenticated call whose success answer is read as `T`; failures are classified with
    /// `doing` (what we were doing) in the message.
    pub(super) async fn call<T: DeserializeOwned>(
        &self,
        doing: &str,
        build: impl Fn(&Client) -> RequestBuilder,
    ) -> Result<T, ConnectorError> {
        let response = self.send(build).await?;
        if !response.status().is_success() {
            return Err(classify(self.http.failure(response).await, doing));
        }
        self.http.read_json(response).await
    }

    /// GET `url` and read the answer as `T`.
    pub(super) async fn get<T: DeserializeOwned>(
        &self,
        doing: &str,
        url: Url,
        query: &[(&str, String)],
    ) -> Result<T, ConnectorError> {
        self.call(doing, |http| http.get(url.clone()).query(query))
            .await
    }
}

/// Classified as [`ConnectorError::from_status`] does, except that a 422 asking to "wait a
/// moment" (Qontak's broadcast pacing) is transient.
pub(super) fn classify(failure: Failure, doing: &str) -> ConnectorError {
    if failure.status == 422 && failure.mentions(&["please wait a moment", "wait a moment"]) {
        return ConnectorError::Transient {
            vendor: VENDOR,
            message: format!("{doing}: {}", failure.summary()),
        };
    }
    failure.into_error_while(doing)
}

/// Qontak's explanations of a failure, joined (see [`error_messages`]).
pub(super) fn error_text(body: &[u8]) -> Option<String> {
    let messages = error_messages(&String::from_utf8_lossy(body));
    (!messages.is_empty()).then(|| messages.join("; "))
}

/// The explanations in an error body: Qontak's `error.messages[]` (strings or objects), an OAuth
/// `error_description`/`error`, a `message`, else the start of the body.
pub(super) fn error_messages(text: &str) -> Vec<String> {
    let Ok(value) = serde_json::from_str::<Value>(text) else {
        let trimmed = text.trim();
        return if trimmed.is_empty() {
            Vec::new()
        } else {
            vec![trimmed.chars().take(300).collect()]
        };
    };
    let mut messages = Vec::new();
    match value.get("error") {
        Some(Value::Object(error)) => {
            if let Some(list) = error.get("messages") {
                flatten_messages(list, &mut messages);
            }
            if messages.is_empty()
                && let Some(message) = error.get("message")
            {
                flatten_messages(message, &mut messages);
            }
        }
        Some(Value::String(code)) => {
            let description = value.get("error_description").and_then(Value::as_str);
            messages.push(match description {
                Some(description) => format!("{code}: {description}"),
                None => code.clone(),
            });
        }
        _ => {}
    }
    if messages.is_empty() {
        for key in ["messages", "message", "errors"] {
            if let Some(found) = value.get(key) {
                flatten_messages(found, &mut messages);
            }
        }
    }
    messages.retain(|m| !m.trim().is_empty());
    messages
}

/// Strings as they are; `{field: [msgs]}` maps as "field msg"; other objects by their values.
fn flatten_messages(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|item| flatten_messages(item, out)),
        Value::Object(object) => {
            for (key, inner) in object {
                match (key.as_str(), inner) {
                    ("type", _) => {}
                    ("active_model_errors", Value::Object(fields)) => {
                        for (field, problems) in fields {
                            let mut texts = Vec::new();
                            flatten_messages(problems, &mut texts);
                            out.extend(texts.into_iter().map(|t| format!("{field} {t}")));
                        }
                    }
                    (_, Value::String(s)) if key == "message" || key == "messages" => {
                        out.push(s.clone())
                    }
                    (_, Value::String(s)) => out.push(format!("{key}: {s}")),
                    (_, Value::Array(_)) => {
                        let mut texts = Vec::new();
                        flatten_messages(inner, &mut texts);
                        out.extend(texts.into_iter().map(|t| format!("{key} {t}")));
                    }
                    _ => flatten_messages(inner, out),
                }
            }
        }
        Value::Number(n) => out.push(n.to_string()),
        _ => {}
    }
}
