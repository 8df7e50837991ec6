//! Files: downloading what customers sent (a link in the message; the Bearer token is sent only
//! to Qontak's own host, never to a CDN or a third party) and uploading through
//! `POST file_uploader` for links Qontak hosts.

use super::channel::QontakChannel;
use super::client::{VENDOR, classify};
use crate::connectors::ConnectorError;
use crate::connectors::http;
use crate::domain::{MediaFile, MediaRef};
use crate::media::{Download, clean_filename, fallback_filename, url_filename};
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
        let vendor_http = &self.client.http;
        let response = if http::same_origin(&url, self.client.api_base()) {
            self.client.send(|client| client.get(url.clone())).await?
        } else {
            vendor_http
                .send(vendor_http.client().get(url.clone()))
                .await?
        };
        let what = format!("media {}", media.id);
        if !response.status().is_success() {
            let failure = vendor_http.failure(response).await;
            return Err(classify(failure, &format!("downloading {what}")));
        }
        let download = vendor_http
            .download(response, &what, self.max_media_bytes)
            .await?;
        Ok(media_file(media, &url, download))
    }

    /// Upload a file with `POST file_uploader` (multipart `file`); the answer's URL is a link
    /// Qontak hosts (for template headers).
    pub async fn upload_file(&self, file: &MediaFile) -> Result<String, ConnectorError> {
        let url = self.client.endpoint("file_uploader", &[])?;
        let response = self
            .client
            .send(|client| {
                client
                    .post(url.clone())
                    .multipart(reqwest::multipart::Form::new().part("file", http::file_part(file)))
            })
            .await?;
        if !response.status().is_success() {
            let failure = self.client.http.failure(response).await;
            return Err(classify(failure, &format!("uploading {}", file.filename)));
        }
        let answer: Value = self.client.http.read_json(response).await?;
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

/// The downloaded file, typed (see [`Download::into_file`]) and named: the announced name, else
/// the link's last path segment, else `file-<id>.<ext>`; never a path.
fn media_file(media: &MediaRef, url: &Url, download: Download) -> MediaFile {
    let own_name = media
        .filename
        .as_deref()
        .and_then(clean_filename)
        .or_else(|| url_filename(url));
    download.into_file(media.mime_type.as_deref(), own_name, |mime| {
        fallback_filename("file", &media.id, mime)
    })
}

fn permanent(message: String) -> ConnectorError {
    ConnectorError::Permanent {
        vendor: VENDOR,
        status: None,
        message,
    }
}
