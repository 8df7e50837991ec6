//! Files: downloading what customers sent (a link in the message; the Bearer token is sent only
//! to Qontak's own host, never to a CDN or a third party) and uploading through
//! `POST file_uploader` for links Qontak hosts.

use super::channel::QontakChannel;
use super::client::{VENDOR, failure_of, read_json};
use crate::connectors::ConnectorError;
use crate::connectors::download::read_limited;
use crate::domain::{MediaFile, MediaRef};
use serde_json::Value;
use url::Url;

impl QontakChannel {
    /// `GET` the file's link, at most `max_media_bytes`.
    pub(super) async fn download(&self, media: &MediaRef) -> Result<MediaFile, ConnectorError> {
        let link = media
            .url
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .ok_or_else(|| permanent(format!("media {} has no link to download", media.id)))?;
        let url = Url::parse(link)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https"))
            .ok_or_else(|| permanent(format!("media {} has an unusable link", media.id)))?;
        let response = if same_origin(&url, self.client.api_base()) {
            self.client.send(|http| http.get(url.clone())).await?
        } else {
            self.client
                .http()
                .get(url.clone())
                .send()
                .await
                .map_err(|e| ConnectorError::from_transport(VENDOR, &e))?
        };
        if !response.status().is_success() {
            let failure = failure_of(response, self.client.tokens.clock.now()).await;
            return Err(failure.into_error(&format!("downloading media {}", media.id)));
        }
        let max = self.max_media_bytes;
        let too_big = |_| {
            permanent(format!(
                "media {} is larger than {} MB, the largest file WhatsApp allows",
                media.id,
                max / (1024 * 1024)
            ))
        };
        let download = read_limited(response, VENDOR, max, too_big).await?;
        let (bytes, content_type) = (download.bytes, download.content_type);
        let mime_type = choose_mime(content_type.as_deref(), media.mime_type.as_deref());
        let filename = filename_for(media, &url, &mime_type);
        Ok(MediaFile {
            filename,
            mime_type,
            bytes,
        })
    }

    /// Upload a file with `POST file_uploader` (multipart `file`); the answer's URL is a link
    /// Qontak hosts (for template headers).
    pub async fn upload_file(&self, file: &MediaFile) -> Result<String, ConnectorError> {
        let url = self.client.endpoint("file_uploader", &[])?;
        let response = self
            .client
            .send(|http| {
                let part = reqwest::multipart::Part::bytes(file.bytes.clone())
                    .file_name(file.filename.clone());
                let part = match part.mime_str(&file.mime_type) {
                    Ok(part) => part,
                    Err(_) => reqwest::multipart::Part::bytes(file.bytes.clone())
                        .file_name(file.filename.clone()),
                };
                http.post(url.clone())
                    .multipart(reqwest::multipart::Form::new().part("file", part))
            })
            .await?;
        if !response.status().is_success() {
            let failure = failure_of(response, self.client.tokens.clock.now()).await;
            return Err(failure.into_error(&format!("uploading {}", file.filename)));
        }
        let answer: Value = read_json(response).await?;
        // Clients read `data.url` or `url`; the shape is not documented precisely.
        [answer.pointer("/data/url"), answer.get("url")]
            .into_iter()
            .flatten()
            .find_map(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| permanent("Qontak's file_uploader answer has no url".into()))
    }

    #[cfg(test)]
    pub(super) fn set_max_media_bytes_for_tests(&mut self, max: u64) {
        self.max_media_bytes = max;
    }
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// The answer's Content-Type unless it is missing or generic, then the announced one.
fn choose_mime(content_type: Option<&str>, announced: Option<&str>) -> String {
    let usable = |m: &&str| !m.trim().is_empty();
    content_type
        .filter(usable)
        .filter(|m| !m.starts_with("application/octet-stream"))
        .or(announced.filter(usable))
        .or(content_type.filter(usable))
        .unwrap_or("application/octet-stream")
        .trim()
        .to_owned()
}

/// The announced name, else the link's last path segment, else `file-<id>`; never a path.
fn filename_for(media: &MediaRef, url: &Url, mime_type: &str) -> String {
    let clean = |name: &str| -> Option<String> {
        let name = name.rsplit(['/', '\\']).next()?;
        let name: String = name.chars().filter(|c| !c.is_control()).collect();
        (!name.trim().is_empty() && name != "." && name != "..").then_some(name)
    };
    if let Some(name) = media.filename.as_deref().and_then(clean) {
        return name;
    }
    let from_link = url
        .path_segments()
        .and_then(|mut segments| segments.next_back())
        .map(percent_decode)
        .and_then(|s| clean(&s))
        .filter(|s| s.contains('.'));
    if let Some(name) = from_link {
        return name;
    }
    let id: String = media
        .id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .take(64)
        .collect();
    let extension = mime_type
        .split(';')
        .next()
        .and_then(|essence| essence.trim().split('/').nth(1))
        .filter(|sub| sub.chars().all(|c| c.is_ascii_alphanumeric()) && sub.len() <= 5)
        .unwrap_or("bin");
    format!(
        "file-{}.{extension}",
        if id.is_empty() { "media" } else { &id }
    )
}

fn percent_decode(segment: &str) -> String {
    url::form_urlencoded::parse(format!("x={segment}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| segment.to_owned())
}

fn permanent(message: String) -> ConnectorError {
    ConnectorError::Permanent {
        vendor: VENDOR,
        status: None,
        message,
    }
}
