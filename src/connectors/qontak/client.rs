//! HTTP client of Qontak's open API (`{base}/api/open/v1/`).
//!
//! Every call carries `Authorization: Bearer <access token>`; when Qontak answers 401 the token is
//! refreshed (see `auth.rs`) and the call repeated once. Errors come in Qontak's envelope
//! `{status, error: {code, messages[]}}` (messages are strings, or objects such as
//! `{active_model_errors: {field: [..]}}`); OAuth errors as `{error, error_description}`.

use super::auth::TokenManager;
use crate::connectors::ConnectorError;
use reqwest::header::{ACCEPT, AUTHORIZATION, RETRY_AFTER};
use reqwest::{Client, RequestBuilder, Response, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::time::Duration;
use url::Url;

pub(super) const VENDOR: &str = "qontak";

/// Header Qontak's rate limiter answers 429 with: a unix time or a delay in seconds.
const RATE_LIMIT_RESET: &str = "x-ratelimit-reset";

/// Unix times are larger than this; smaller reset values are delays.
const EPOCH_THRESHOLD: i64 = 1_000_000_000;

pub(super) struct QontakClient {
    http: Client,
    /// `{base}/api/open/v1/`, always with the trailing slash.
    api_base: Url,
    pub(super) tokens: TokenManager,
}

impl QontakClient {
    pub(super) fn new(http: Client, api_base: Url, tokens: TokenManager) -> Self {
        Self {
            http,
            api_base,
            tokens,
        }
    }

    pub(super) fn http(&self) -> &Client {
        &self.http
    }

    pub(super) fn api_base(&self) -> &Url {
        &self.api_base
    }

    /// `{api_base}{path}`, each `segments` entry appended as one escaped path segment.
    pub(super) fn endpoint(&self, path: &str, segments: &[&str]) -> Result<Url, ConnectorError> {
        let mut url = self
            .api_base
            .join(path)
            .map_err(|e| ConnectorError::Permanent {
                vendor: VENDOR,
                status: None,
                message: format!("cannot build the URL for {path}: {e}"),
            })?;
        if !segments.is_empty() {
            let mut path_segments =
                url.path_segments_mut()
                    .map_err(|()| ConnectorError::Permanent {
                        vendor: VENDOR,
                        status: None,
                        message: "the Qontak base URL cannot hold a path".into(),
                    })?;
            path_segments.pop_if_empty();
            for segment in segments {
                path_segments.push(segment);
            }
        }
        Ok(url)
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
        let token = self.tokens.access_token().await?;
        let response = self.send_with(&build, &token).await?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let token = self.tokens.replace_rejected(&token).await?;
        let response = self.send_with(&build, &token).await?;
        if response.status() == StatusCode::UNAUTHORIZED {
            let failure = failure_of(response, self.tokens.clock.now()).await;
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

    async fn send_with(
        &self,
        build: &impl Fn(&Client) -> RequestBuilder,
        token: &SecretString,
    ) -> Result<Response, ConnectorError> {
        build(&self.http)
            .header(AUTHORIZATION, format!("Bearer {}", token.expose_secret()))
            .header(ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| ConnectorError::from_transport(VENDOR, &e))
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
            let failure = failure_of(response, self.tokens.clock.now()).await;
            return Err(failure.into_error(doing));
        }
        read_json(response).await
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

pub(super) async fn read_json<T: DeserializeOwned>(
    response: Response,
) -> Result<T, ConnectorError> {
    let bytes = response
        .bytes()
        .await
        .map_err(|e| ConnectorError::from_transport(VENDOR, &e))?;
    serde_json::from_slice(&bytes).map_err(|e| ConnectorError::Permanent {
        vendor: VENDOR,
        status: None,
        message: format!("unreadable answer: {e}"),
    })
}

/// A failed answer, read once so callers can inspect it before classifying it.
#[derive(Debug)]
pub(super) struct Failure {
    pub(super) status: u16,
    /// Qontak's explanations, flattened to text.
    pub(super) messages: Vec<String>,
    pub(super) retry_after: Option<Duration>,
}

impl Failure {
    /// The messages joined, or the status text when Qontak gave none.
    pub(super) fn summary(&self) -> String {
        if self.messages.is_empty() {
            StatusCode::from_u16(self.status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("no explanation given")
                .to_owned()
        } else {
            self.messages.join("; ")
        }
    }

    /// True when any message contains one of `needles` (case-insensitive).
    pub(super) fn mentions(&self, needles: &[&str]) -> bool {
        self.messages.iter().any(|m| {
            let m = m.to_ascii_lowercase();
            needles.iter().any(|n| m.contains(n))
        })
    }

    /// Classified as [`ConnectorError::from_status`] does, except that a 422 asking to "wait a
    /// moment" (Qontak's broadcast pacing) is transient.
    pub(super) fn into_error(self, doing: &str) -> ConnectorError {
        let message = format!("{doing}: {}", self.summary());
        if self.status == 422 && self.mentions(&["please wait a moment", "wait a moment"]) {
            return ConnectorError::Transient {
                vendor: VENDOR,
                message,
            };
        }
        ConnectorError::from_status(VENDOR, self.status, message, self.retry_after)
    }
}

/// Read a failed answer: its status, messages and requested delay. `now` is unix seconds.
pub(super) async fn failure_of(response: Response, now: i64) -> Failure {
    let status = response.status().as_u16();
    let retry_after = retry_after(response.headers(), now);
    let text = response.text().await.unwrap_or_default();
    Failure {
        status,
        messages: error_messages(&text),
        retry_after,
    }
}

/// `x-ratelimit-reset` (a unix time, or a delay when small) else `Retry-After` (seconds).
fn retry_after(headers: &reqwest::header::HeaderMap, now: i64) -> Option<Duration> {
    let number = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
    };
    if let Some(reset) = number(RATE_LIMIT_RESET) {
        let reset = reset.ceil() as i64;
        let delay = if reset > EPOCH_THRESHOLD {
            reset - now
        } else {
            reset
        };
        return Some(Duration::from_secs(delay.max(0) as u64));
    }
    number(RETRY_AFTER.as_str()).map(|s| Duration::from_secs(s.max(0.0).ceil() as u64))
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
