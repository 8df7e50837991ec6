//! HTTP client of one get.chat instance's Integration API (`{instance}/api/v1/`).
//!
//! Every call carries `Authorization: Token <token>`. The token comes from the channel settings,
//! or from `POST auth/token/` with the configured username and password; when a call answers 401
//! and credentials are configured, the client logs in again once and repeats the call.

use super::files::{choose_mime, media_filename, verify_checksum};
use super::wire::{CreateMediaResponse, CreateMessageResponse, LoginRequest, LoginResponse};
use crate::connectors::ConnectorError;
use crate::connectors::download::read_limited;
use crate::domain::{MediaFile, MediaRef};
use reqwest::header::{ACCEPT, AUTHORIZATION, RETRY_AFTER};
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
    http: Client,
    /// `https://<instance>/api/v1/`, always with the trailing slash.
    api_base: Url,
    login: Option<Login>,
    /// The token in use; `None` until the first login.
    token: Mutex<Option<SecretString>>,
    /// Largest file `fetch_media` accepts.
    max_media_bytes: u64,
}

impl GetchatClient {
    pub(super) fn new(
        api_base: Url,
        token: Option<SecretString>,
        login: Option<Login>,
        timeout: Duration,
    ) -> Result<Self, reqwest::Error> {
        // reqwest is built without a default TLS provider; installing ours twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = Client::builder()
            .timeout(timeout)
            .user_agent(concat!("omnibridge/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            http,
            api_base,
            login,
            token: Mutex::new(token),
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
        self.api_base
            .join(path)
            .map_err(|e| ConnectorError::Permanent {
                vendor: VENDOR,
                status: None,
                message: format!("cannot build the URL for {path}: {e}"),
            })
    }

    /// The current token, logging in first when there is none yet.
    async fn current_token(&self) -> Result<SecretString, ConnectorError> {
        let mut token = self.token.lock().await;
        if let Some(token) = token.as_ref() {
            return Ok(token.clone());
        }
        let fresh = self.log_in().await?;
        *token = Some(fresh.clone());
        Ok(fresh)
    }

    /// Log in again after `rejected` was refused, unless another call already did.
    async fn replace_token(&self, rejected: &SecretString) -> Result<SecretString, ConnectorError> {
        let mut token = self.token.lock().await;
        if let Some(current) = token.as_ref()
            && current.expose_secret() != rejected.expose_secret()
        {
            return Ok(current.clone());
        }
        let fresh = self.log_in().await?;
        *token = Some(fresh.clone());
        Ok(fresh)
    }

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
        let response = self
            .http
            .post(self.endpoint("auth/token/")?)
            .header(ACCEPT, "application/json")
            .json(&request)
            .send()
            .await
            .map_err(|e| ConnectorError::from_transport(VENDOR, &e))?;
        let status = response.status();
        if status == StatusCode::BAD_REQUEST || status == StatusCode::UNAUTHORIZED {
            let detail = error_detail(response).await;
            return Err(ConnectorError::Auth {
                vendor: VENDOR,
                message: format!("login as {:?} refused: {detail}", login.username),
            });
        }
        let answer: LoginResponse = read_json(check(response).await?).await?;
        tracing::debug!(username = %login.username, "Logged in to get.chat.");
        Ok(SecretString::from(answer.token))
    }

    /// Send an authenticated request built by `build`; on 401 log in again once and repeat it.
    async fn send_authed(
        &self,
        build: impl Fn(&Client) -> RequestBuilder,
    ) -> Result<Response, ConnectorError> {
        let token = self.current_token().await?;
        let response = self.send_with(&build, &token).await?;
        if response.status() != StatusCode::UNAUTHORIZED || self.login.is_none() {
            return Ok(response);
        }
        tracing::info!("get.chat refused the token; logging in again.");
        let token = self.replace_token(&token).await?;
        self.send_with(&build, &token).await
    }

    async fn send_with(
        &self,
        build: &impl Fn(&Client) -> RequestBuilder,
        token: &SecretString,
    ) -> Result<Response, ConnectorError> {
        build(&self.http)
            .header(AUTHORIZATION, format!("Token {}", token.expose_secret()))
            .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
            .send()
            .await
            .map_err(|e| ConnectorError::from_transport(VENDOR, &e))
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
            let detail = error_detail(response).await;
            return Err(ConnectorError::WindowClosed {
                vendor: VENDOR,
                message: detail,
            });
        }
        let answer: CreateMessageResponse = read_json(check(response).await?).await?;
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
                let part = reqwest::multipart::Part::bytes(file.bytes.clone())
                    .file_name(file.filename.clone());
                // An unparsable mime type is sent as the default (octet-stream).
                let part = match part.mime_str(&file.mime_type) {
                    Ok(part) => part,
                    Err(_) => reqwest::multipart::Part::bytes(file.bytes.clone())
                        .file_name(file.filename.clone()),
                };
                let form = reqwest::multipart::Form::new().part("file_encoded", part);
                http.post(url.clone())
                    .header(ACCEPT, "application/json")
                    .multipart(form)
            })
            .await?;
        if response.status() == StatusCode::PAYLOAD_TOO_LARGE {
            let detail = error_detail(response).await;
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
        let answer: CreateMediaResponse = read_json(check(response).await?).await?;
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
        read_json(check(response).await?).await
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
        check(response).await.map(drop)
    }

    /// `<api base>/<segments…>` with each segment percent-encoded (`chats/{wa_id}/resolve`).
    pub(super) fn endpoint_of(&self, segments: &[&str]) -> Result<Url, ConnectorError> {
        let mut url = self.api_base.clone();
        url.path_segments_mut()
            .map_err(|()| ConnectorError::Permanent {
                vendor: VENDOR,
                status: None,
                message: "the get.chat base URL cannot hold a path".into(),
            })?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// `GET media/{id}` (or the announced link when it points at this instance), checked against
    /// the announced SHA-256.
    pub(super) async fn fetch_media(&self, media: &MediaRef) -> Result<MediaFile, ConnectorError> {
        let url = self.media_url(media)?;
        let response = self.send_authed(|http| http.get(url.clone())).await?;
        let response = check(response).await?;
        let max = self.max_media_bytes;
        let too_big = |_| ConnectorError::Permanent {
            vendor: VENDOR,
            status: None,
            message: format!(
                "media {} is larger than {}, the largest file WhatsApp allows",
                media.id,
                human_size(max)
            ),
        };
        let download = read_limited(response, VENDOR, max, too_big).await?;
        let (bytes, content_type) = (download.bytes, download.content_type);
        verify_checksum(media, &bytes)?;
        let mime_type = choose_mime(content_type.as_deref(), media.mime_type.as_deref());
        let filename = media_filename(media, &mime_type);
        Ok(MediaFile {
            filename,
            mime_type,
            bytes,
        })
    }

    fn media_url(&self, media: &MediaRef) -> Result<Url, ConnectorError> {
        let link = media.url.as_deref().and_then(|u| Url::parse(u).ok());
        if let Some(link) = link.filter(|l| same_origin(l, &self.api_base)) {
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

/// "100 MB", or bytes below one megabyte.
fn human_size(bytes: u64) -> String {
    const MB: u64 = 1024 * 1024;
    if bytes >= MB {
        format!("{} MB", bytes / MB)
    } else {
        format!("{bytes} bytes")
    }
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// The response when it is a success, else a classified error carrying get.chat's explanation.
async fn check(response: Response) -> Result<Response, ConnectorError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let detail = error_detail(response).await;
    Err(ConnectorError::from_status(
        VENDOR,
        status.as_u16(),
        detail,
        retry_after,
    ))
}

/// `detail` or `reason` of a JSON error body, else the start of the body, else the status text.
async fn error_detail(response: Response) -> String {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let from_json = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| {
            ["detail", "reason", "non_field_errors"]
                .iter()
                .find_map(|key| match v.get(key)? {
                    serde_json::Value::String(s) => Some(s.clone()),
                    other => Some(other.to_string()),
                })
        });
    from_json
        .or_else(|| {
            let trimmed = text.trim();
            (!trimmed.is_empty()).then(|| trimmed.chars().take(300).collect())
        })
        .unwrap_or_else(|| status.to_string())
}

async fn read_json<T: serde::de::DeserializeOwned>(
    response: Response,
) -> Result<T, ConnectorError> {
    response
        .json()
        .await
        .map_err(|e| ConnectorError::from_transport(VENDOR, &e))
}
