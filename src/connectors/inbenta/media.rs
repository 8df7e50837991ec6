//! Downloading reply attachments.
//!
//! The file comes from the attachment's own `url` when it has one, else from
//! `GET {ticketing}/v1/media/{uuid}`. Inbenta's key and token go only to the ticketing host:
//! redirects are followed here, one hop at a time, so a link that redirects to a storage host
//! is fetched there without them. Downloads stop at the client's size limit.

use super::client::{InbentaClient, Target, VENDOR, ticketing_endpoint};
use crate::connectors::http::same_origin;
use crate::connectors::{ConnectorError, TicketAttachment};
use crate::domain::MediaFile;
use crate::media::{
    Download, clean_filename, disposition_filename, fallback_filename, url_filename,
};
use reqwest::header::LOCATION;
use reqwest::{Method, Response};
use url::Url;

/// Largest attachment downloaded by default: 100 MB, the largest document WhatsApp delivers,
/// so nothing the channel could send is refused here.
pub const MAX_DOWNLOAD_BYTES: u64 = 100 * 1024 * 1024;

/// Redirect hops followed before giving up.
const MAX_REDIRECTS: usize = 5;

impl InbentaClient {
    pub(super) async fn download_attachment(
        &self,
        attachment: &TicketAttachment,
    ) -> Result<MediaFile, ConnectorError> {
        let max = self.max_download_bytes;
        if let Some(size) = attachment.size.filter(|&size| size > max) {
            return Err(ConnectorError::Permanent {
                vendor: VENDOR,
                status: None,
                message: format!(
                    "attachment {} is larger than the {} the bridge accepts ({})",
                    attachment.id,
                    crate::media::human_size(max),
                    crate::media::human_size(size)
                ),
            });
        }
        let ticketing = self.tokens.credentials().await?.ticketing_url;
        let mut url = source_url(attachment, &ticketing)?;
        for _ in 0..=MAX_REDIRECTS {
            let response = if same_origin(&url, &ticketing) {
                self.send_to(Method::GET, Target::Link(&url), None).await?
            } else {
                let request = self.media_http.client().get(url.clone());
                self.media_http.send(request).await?
            };
            if response.status().is_redirection() {
                url = redirect_target(&response, &url)?;
                tracing::debug!(vendor = VENDOR, attachment = %attachment.id, host = url.host_str().unwrap_or_default(), "Following the attachment's redirect.");
                continue;
            }
            if !response.status().is_success() {
                return Err(self.media_http.failure(response).await.into_error());
            }
            let what = format!("attachment {}", attachment.id);
            let download = self.media_http.download(response, &what, max).await?;
            return Ok(attachment_file(attachment, &url, download));
        }
        Err(ConnectorError::Permanent {
            vendor: VENDOR,
            status: None,
            message: format!(
                "attachment {} redirects more than {MAX_REDIRECTS} times",
                attachment.id
            ),
        })
    }
}

/// The attachment's link when it is http(s) (relative links are on the ticketing host), else
/// the media endpoint for its uuid.
fn source_url(attachment: &TicketAttachment, ticketing: &Url) -> Result<Url, ConnectorError> {
    let link = attachment
        .url
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty());
    if let Some(link) = link {
        let parsed = match Url::parse(link) {
            Ok(url) => Some(url),
            Err(url::ParseError::RelativeUrlWithoutBase) => ticketing.join(link).ok(),
            Err(_) => None,
        };
        if let Some(url) = parsed.filter(|u| matches!(u.scheme(), "http" | "https")) {
            return Ok(url);
        }
    }
    let id = attachment.id.as_str().trim();
    if id.is_empty() || link == Some(id) {
        return Err(ConnectorError::Permanent {
            vendor: VENDOR,
            status: None,
            message: "the attachment has neither a usable link nor a media id".into(),
        });
    }
    ticketing_endpoint(ticketing, &["media", id], &[])
}

fn redirect_target(response: &Response, from: &Url) -> Result<Url, ConnectorError> {
    response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|location| from.join(location).ok())
        .filter(|u| matches!(u.scheme(), "http" | "https"))
        .ok_or_else(|| ConnectorError::Permanent {
            vendor: VENDOR,
            status: Some(response.status().as_u16()),
            message: "the attachment redirects without a usable Location".into(),
        })
}

/// The downloaded file, named by the attachment, its Content-Disposition or its link (else
/// `attachment-<id>.<ext>`) and typed (see [`Download::into_file`]).
fn attachment_file(attachment: &TicketAttachment, url: &Url, download: Download) -> MediaFile {
    let own_name = attachment
        .name
        .as_deref()
        .and_then(clean_filename)
        .or_else(|| {
            download
                .content_disposition
                .as_deref()
                .and_then(disposition_filename)
        })
        .or_else(|| url_filename(url));
    let file = download.into_file(attachment.mime_type.as_deref(), own_name, |mime| {
        fallback_filename("attachment", attachment.id.as_str(), mime)
    });
    tracing::debug!(vendor = VENDOR, attachment = %attachment.id, size = file.bytes.len(), mime_type = %file.mime_type, "Attachment downloaded from Inbenta.");
    file
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ExternalId;

    fn attachment(id: &str, url: Option<&str>) -> TicketAttachment {
        TicketAttachment {
            id: ExternalId::new(id),
            name: None,
            mime_type: None,
            url: url.map(str::to_owned),
            size: None,
        }
    }

    #[test]
    fn files_come_from_their_link_or_the_media_endpoint() {
        let ticketing = Url::parse("https://t.invalid/prod/ticketing").expect("url");
        let from_link = source_url(
            &attachment("m-1", Some("https://cdn.invalid/a.png")),
            &ticketing,
        )
        .expect("url");
        let relative = source_url(
            &attachment("m-1", Some("/prod/ticketing/v1/media/m-1")),
            &ticketing,
        )
        .expect("url");
        let by_uuid = source_url(&attachment("m 1", Some("att:m-1")), &ticketing).expect("url");

        assert_eq!(from_link.as_str(), "https://cdn.invalid/a.png");
        assert_eq!(
            relative.as_str(),
            "https://t.invalid/prod/ticketing/v1/media/m-1"
        );
        assert_eq!(
            by_uuid.as_str(),
            "https://t.invalid/prod/ticketing/v1/media/m%201"
        );
        assert!(source_url(&attachment("ftp://x", Some("ftp://x")), &ticketing).is_err());
    }
}
