//! HTTP client of one get.chat instance's Integration API (`{instance}/api/v1/`).
//!
//! Every call carries `Authorization: Token <token>`. The token comes from the channel settings,
//! or from `POST auth/token/` with the configured username and password; when a call answers 401
//! and credentials are configured, the client logs in again once and repeats the call (see
//! [`VendorHttp::send_authed`]).

use super::files::{media_file, verify_checksum};
use super::wire::{CreateMediaResponse, CreateMessageResponse, LoginRequest, LoginResponse};
use crate::connectors::ConnectorError;
use crate::connectors::http::{self, TokenSource, VendorHttp};
use crate::domain::{MediaFile, MediaRef};
use crate::media::human_size;
use async_trait::async_trait;
use reqwest::header::{ACCEPT, AUTHORIZATION};
use reqwest::{Client, RequestBuilder, Response, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;
use tokio::sync::Mutex;
use url::Url;

pub(super) const VENDOR: &str = "getchat";

/// WhatsApp's own limit for documents, the largest media type.
pub(super) const MAX_MEDIA_BYTES: u64 = 100 * 1024 * 1024;

/// The HTTP status get.chat answers `POST messages/` with when the customer's 24-hour window is
/// closed and only a template may be sent.
pub(super) const WINDOW_CLOSED_STATUS: u16 = 453;

/// get.chat's answer to `POST messages/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct CreatedMessage {
    /// get.chat's id of the message (also `getchat_id` in later statuses).
    pub(super) id: String,
    /// get.chat's explanation, e.g. that the message is queued.
    pub(super) reason: Option<String>,
}

/// get.chat's answer to `POST media/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct UploadedMedia {
    /// Absolute URL of the file, to be used as `link` in a media message.
    pub(super) file: String,
    pub(super) id: String,
}

/// Username and password for `POST auth/token/`.
#[derive(Clone)]
pub(super) struct Login {
    pub(super) username: String,
    pub(super) password: SecretString,
}

pub(super) struct GetchatClient {
    http: VendorHttp,
    /// `https://<instance>/api/v1/`, always with the trailing slash.
    api_base: Url,
    tokens: Tokens,
    /// Largest file `fetch_media` accepts.
    max_media_bytes: u64,
}

/// The token in use, and how to log in for another.
struct Tokens {
    http: VendorHttp,
    login_url: Url,
    login: Option<Login>,
    /// `None` until the first login.
    token: Mutex<Option<SecretString>>,
}

impl GetchatClient {
    pub(super) fn new(
        api_base: Url,
        token: Option<SecretString>,
        login: Option<Login>,
        timeout: Duration,
    ) -> Result<Self, reqwest::Error> {
        let http = VendorHttp::new(VENDOR, timeout, error_text)?;
        let login_url = api_base
            .join("auth/token/")
            .unwrap_or_else(|_| api_base.clone());
        let tokens = Tokens {
            http: http.clone(),
            login_url,
            login,
            token: Mutex::new(token),
        };
        Ok(Self {
            http,
            api_base,
            tokens,
            max_media_bytes: MAX_MEDIA_BYTES,
        })
    }

    #[cfg(test)]
    pub(super) fn set_max_media_bytes(&mut self, max: u64) {
        self.max_media_bytes = max;
    }

    pub(super) fn api_base(&self) -> &Url {
        &self.api_base
    }

    /// `<api base><path>`; `path` is relative and keeps get.chat's trailing slash.
    pub(super) fn endpoint(&self, path: &str) -> Result<Url, ConnectorError> {
        http::join(VENDOR, &self.api_base, path)
    }

    /// `<api base>/<segments…>` with each segment percent-encoded (`chats/{wa_id}/resolve`).
    pub(super) fn endpoint_of(&self, segments: &[&str]) -> Result<Url, ConnectorError> {
        http::with_segments(VENDOR, &self.api_base, segments)
    }

    /// Send an authenticated request built by `build` (see [`VendorHttp::send_authed`]).
    async fn send_authed(
        &self,
        build: impl Fn(&Client) -> RequestBuilder,
    ) -> Result<Response, ConnectorError> {
        self.http
            .send_authed(&self.tokens, |client, token: &SecretString| {
                Ok(build(client)
                    .header(AUTHORIZATION, format!("Token {}", token.expose_secret()))
                    .header("X-Request-ID", uuid::Uuid::new_v4().to_string()))
            })
            .await
    }

    /// `POST messages/` with a WhatsApp-style body (`wa_id`, `type`, type object). 200/201 (sent)
    /// and 202 (stored, sent later) are success; 453 is [`ConnectorError::WindowClosed`].
    pub(super) async fn send_message(
        &self,
        body: &serde_json::Value,
    ) -> Result<CreatedMessage, ConnectorError> {
        let url = self.endpoint("messages/")?;
        let response = self
            .send_authed(|http| {
                http.post(url.clone())
                    .header(ACCEPT, "application/json")
                    .json(body)
            })
            .await?;
        if response.status().as_u16() == WINDOW_CLOSED_STATUS {
            return Err(ConnectorError::WindowClosed {
                vendor: VENDOR,
                message: self.http.failure(response).await.summary(),
            });
        }
        let answer: CreateMessageResponse = self.http.read_json(response).await?;
        Ok(CreatedMessage {
            id: answer.id,
            reason: answer.reason,
        })
    }

    /// `POST media/`, multipart with the single field `file_encoded`. 413 is a permanent error
    /// saying the file is too large.
    pub(super) async fn upload_media(
        &self,
        file: &MediaFile,
    ) -> Result<UploadedMedia, ConnectorError> {
        let url = self.endpoint("media/")?;
        let response = self
            .send_authed(|http| {
                let form =
                    reqwest::multipart::Form::new().part("file_encoded", http::file_part(file));
                http.post(url.clone())
                    .header(ACCEPT, "application/json")
                    .multipart(form)
            })
            .await?;
        if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
            let detail = self.http.failure(response).await.summary();
            return Err(ConnectorError::Permanent {
                vendor: VENDOR,
                status: Some(StatusCode::PAYLOAD_TOO_LARGE.as_u16()),
                message: format!(
                    "file {:?} ({}) is too large for get.chat: {detail}",
                    file.filename,
                    human_size(file.bytes.len() as u64)
                ),
            });
        }
        let answer: CreateMediaResponse = self.http.read_json(response).await?;
        Ok(UploadedMedia {
            file: answer.file,
            id: answer.id,
        })
    }

    /// `GET <path>?<query>` → the JSON answer.
    pub(super) async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, ConnectorError> {
        let url = self.endpoint(path)?;
        let response = self
            .send_authed(|http| {
                http.get(url.clone())
                    .header(ACCEPT, "application/json")
                    .query(query)
            })
            .await?;
        self.http.read_json(response).await
    }

    /// `<method> <url>` with a JSON body; the answer's body is not needed.
    pub(super) async fn send_json(
        &self,
        method: reqwest::Method,
        url: Url,
        body: &serde_json::Value,
    ) -> Result<(), ConnectorError> {
        let response = self
            .send_authed(|http| {
                http.request(method.clone(), url.clone())
                    .header(ACCEPT, "application/json")
                    .json(body)
            })
            .await?;
        self.http.check(response).await.map(drop)
    }

    /// `GET media/{id}` (or the announced link when it points at this instance), checked against
    /// the announced SHA-256.
    pub(super) async fn fetch_media(&self, media: &MediaRef) -> Result<MediaFile, ConnectorError> {
        let url = self.media_url(media)?;
        let response = self.send_authed(|http| http.get(url.clone())).await?;
        let response = self.http.check(response).await?;
        let what = format!("media {}", media.id);
        let download = self
            .http
            .download(response, &what, self.max_media_bytes)
            .await?;
        verify_checksum(media, &download.bytes)?;
        Ok(media_file(media, download))
    }

    fn media_url(&self, media: &MediaRef) -> Result<Url, ConnectorError> {
        let link = media.url.as_deref().and_then(|u| Url::parse(u).ok());
        if let Some(link) = link.filter(|l| http::same_origin(l, &self.api_base)) {
            return Ok(link);
        }
        let id = media.id.trim();
        if id.is_empty() {
            return Err(ConnectorError::Permanent {
                vendor: VENDOR,
                status: None,
                message: "the media has no id and its link is not on the get.chat instance".into(),
            });
        }
        self.endpoint_of(&["media", id])
    }
}

#[async_trait]
impl TokenSource for Tokens {
    type Token = SecretString;

    async fn token(&self) -> Result<SecretString, ConnectorError> {
        let mut token = self.token.lock().await;
        if let Some(token) = token.as_ref() {
            return Ok(token.clone());
        }
        let fresh = self.log_in().await?;
        *token = Some(fresh.clone());
        Ok(fresh)
    }

    /// Log in again, unless another call already did; `None` without username and password.
    async fn replace(
        &self,
        rejected: &SecretString,
    ) -> Result<Option<SecretString>, ConnectorError> {
        if self.login.is_none() {
            return Ok(None);
        }
        let mut token = self.token.lock().await;
        if let Some(current) = token.as_ref()
            && current.expose_secret() != rejected.expose_secret()
        {
            return Ok(Some(current.clone()));
        }
        let fresh = self.log_in().await?;
        *token = Some(fresh.clone());
        Ok(Some(fresh))
    }
}

impl Tokens {
    /// `POST auth/token/` with the configured username and password.
    async fn log_in(&self) -> Result<SecretString, ConnectorError> {
        let Some(login) = &self.login else {
            return Err(ConnectorError::Auth {
                vendor: VENDOR,
                message: "no token and no username/password configured".into(),
            });
        };
        let request = LoginRequest {
            username: &login.username,
            password: login.password.expose_secret(),
        };
        let request = self
            .http
            .client()
            .post(self.login_url.clone())
            .header(ACCEPT, "application/json")
            .json(&request);
        let response = self.http.send(request).await?;
        let status = response.status();
        if status == StatusCode::BAD_REQUEST || status == StatusCode::UNAUTHORIZED {
            let detail = self.http.failure(response).await.summary();
            return Err(ConnectorError::Auth {
                vendor: VENDOR,
                message: format!("login as {:?} refused: {detail}", login.username),
            });
        }
        let answer: LoginResponse = self.http.read_json(response).await?;
        tracing::debug!(username = %login.username, "Logged in to get.chat.");
        Ok(SecretString::from(answer.token))
    }
}

/// `detail`, `reason` or `non_field_errors` of a JSON error body.
fn error_text(body: &[u8]) -> Option<String> {
    let value = serde_json::from_slice::<serde_json::Value>(body).ok()?;
    ["detail", "reason", "non_field_errors"]
        .iter()
        .find_map(|key| match value.get(key)? {
            serde_json::Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        })
}
