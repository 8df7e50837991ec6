//! Downloading reply attachments.
//!
//! The file comes from the attachment's own `url` when it has one, else from
//! `GET {ticketing}/v1/media/{uuid}`. Inbenta's key and token go only to the ticketing host:
//! redirects are followed here, one hop at a time, so a link that redirects to a storage host
//! is fetched there without them. Downloads stop at the client's size limit.

use super::client::{InbentaClient, Target, VENDOR, error_from_response, ticketing_endpoint};
use crate::connectors::download::read_limited;
use crate::connectors::{ConnectorError, TicketAttachment};
use crate::domain::MediaFile;
use reqwest::header::LOCATION;
use reqwest::{Method, Response};
use url::Url;

/// Largest attachment downloaded by default: 100 MB, the largest document WhatsApp delivers,
/// so nothing the channel could send is refused here.
pub const MAX_DOWNLOAD_BYTES: u64 = 100 * 1024 * 1024;

/// Redirect hops followed before giving up.
const MAX_REDIRECTS: usize = 5;

const OCTET_STREAM: &str = "application/octet-stream";

impl InbentaClient {
    pub(super) async fn download_attachment(
        &self,
        attachment: &TicketAttachment,
    ) -> Result<MediaFile, ConnectorError> {
        let max = self.max_download_bytes;
        if let Some(size) = attachment.size.filter(|&size| size > max) {
            return Err(too_large(attachment, size, max));
        }
        let ticketing = self.tokens.credentials().await?.ticketing_url;
        let mut url = source_url(attachment, &ticketing)?;
        for _ in 0..=MAX_REDIRECTS {
            let response = if same_origin(&url, &ticketing) {
                self.send_to(Method::GET, Target::Link(&url), None).await?
            } else {
                self.media_http
                    .get(url.clone())
                    .send()
                    .await
                    .map_err(|e| ConnectorError::from_transport(VENDOR, &e.without_url()))?
            };
            if response.status().is_redirection() {
                url = redirect_target(&response, &url)?;
                tracing::debug!(vendor = VENDOR, attachment = %attachment.id, host = url.host_str().unwrap_or_default(), "Following the attachment's redirect.");
                continue;
            }
            if !response.status().is_success() {
                return Err(error_from_response(response).await);
            }
            return read_file(response, attachment, &url, max).await;
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

/// Read the body up to `max` bytes and name the file.
async fn read_file(
    response: Response,
    attachment: &TicketAttachment,
    url: &Url,
    max: u64,
) -> Result<MediaFile, ConnectorError> {
    let download = read_limited(response, VENDOR, max, |size| {
        too_large(attachment, size, max)
    })
    .await?;
    let (bytes, content_type, disposition) = (
        download.bytes,
        download.content_type,
        download.content_disposition,
    );
    let own_name = attachment
        .name
        .as_deref()
        .and_then(clean_filename)
        .or_else(|| disposition.as_deref().and_then(disposition_filename))
        .or_else(|| url_filename(url));
    let mime_type = choose_mime(
        content_type.as_deref(),
        attachment.mime_type.as_deref(),
        own_name.as_deref(),
    );
    let filename = own_name.unwrap_or_else(|| fallback_filename(attachment, &mime_type));
    tracing::debug!(vendor = VENDOR, attachment = %attachment.id, size = bytes.len(), %mime_type, "Attachment downloaded from Inbenta.");
    Ok(MediaFile {
        filename,
        mime_type,
        bytes,
    })
}

fn too_large(attachment: &TicketAttachment, size: u64, max: u64) -> ConnectorError {
    ConnectorError::Permanent {
        vendor: VENDOR,
        status: None,
        message: format!(
            "attachment {} is larger than the {max} bytes the bridge downloads (at least {size} bytes)",
            attachment.id
        ),
    }
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// The answer's Content-Type when specific, else the announced type, else one guessed from the
/// file name, else `application/octet-stream`.
pub(super) fn choose_mime(
    content_type: Option<&str>,
    announced: Option<&str>,
    filename: Option<&str>,
) -> String {
    let specific = |m: &&str| {
        let essence = essence(m);
        !essence.is_empty() && essence != OCTET_STREAM && essence != "binary/octet-stream"
    };
    content_type
        .filter(specific)
        .or(announced.filter(specific))
        .map(|m| m.trim().to_owned())
        .or_else(|| filename.and_then(mime_for_name).map(str::to_owned))
        .unwrap_or_else(|| OCTET_STREAM.to_owned())
}

fn essence(mime: &str) -> String {
    mime.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// A file name without any directory part or control characters; `None` when nothing is left.
pub(super) fn clean_filename(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next()?;
    let cleaned: String = base.chars().filter(|c| !c.is_control()).collect();
    let cleaned = cleaned.trim();
    (!cleaned.is_empty() && cleaned != "." && cleaned != "..").then(|| cleaned.to_owned())
}

/// `filename="…"` (or unquoted) from a Content-Disposition header.
fn disposition_filename(header: &str) -> Option<String> {
    header.split(';').find_map(|part| {
        let (key, value) = part.split_once('=')?;
        if !key.trim().eq_ignore_ascii_case("filename") {
            return None;
        }
        clean_filename(value.trim().trim_matches('"'))
    })
}

/// The link's last path segment, when it looks like a file name (has an extension).
fn url_filename(url: &Url) -> Option<String> {
    let last = url.path_segments()?.next_back()?;
    let decoded = percent_decode(last);
    let name = clean_filename(&decoded)?;
    name.rsplit_once('.')
        .is_some_and(|(stem, ext)| !stem.is_empty() && !ext.is_empty())
        .then_some(name)
}

/// `%XX` escapes of a URL path segment decoded (invalid escapes are kept as written).
fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|pair| std::str::from_utf8(pair).ok())
            .and_then(|pair| u8::from_str_radix(pair, 16).ok());
        match escaped {
            Some(byte) => {
                decoded.push(byte);
                i += 3;
            }
            None => {
                decoded.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// `attachment-<id>.<ext>` for a file that came without a name.
fn fallback_filename(attachment: &TicketAttachment, mime_type: &str) -> String {
    let id: String = attachment
        .id
        .as_str()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .take(64)
        .collect();
    let id = if id.is_empty() { "file".to_owned() } else { id };
    let essence = essence(mime_type);
    let extension = FILE_TYPES
        .iter()
        .find(|(_, mime)| *mime == essence)
        .map_or("bin", |(ext, _)| ext);
    format!("attachment-{id}.{extension}")
}

/// The content type of a file name's extension, for the types agents commonly attach.
pub(super) fn mime_for_name(name: &str) -> Option<&'static str> {
    let (_, extension) = name.rsplit_once('.')?;
    let extension = extension.trim().to_ascii_lowercase();
    FILE_TYPES
        .iter()
        .find(|(ext, _)| *ext == extension)
        .map(|(_, mime)| *mime)
}

/// Extension → content type; the first entry of a type is its preferred extension.
const FILE_TYPES: &[(&str, &str)] = &[
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("png", "image/png"),
    ("gif", "image/gif"),
    ("webp", "image/webp"),
    ("bmp", "image/bmp"),
    ("svg", "image/svg+xml"),
    ("heic", "image/heic"),
    ("tif", "image/tiff"),
    ("tiff", "image/tiff"),
    ("mp4", "video/mp4"),
    ("3gp", "video/3gpp"),
    ("mov", "video/quicktime"),
    ("webm", "video/webm"),
    ("mp3", "audio/mpeg"),
    ("ogg", "audio/ogg"),
    ("opus", "audio/ogg"),
    ("m4a", "audio/mp4"),
    ("aac", "audio/aac"),
    ("amr", "audio/amr"),
    ("wav", "audio/wav"),
    ("pdf", "application/pdf"),
    ("txt", "text/plain"),
    ("csv", "text/csv"),
    ("html", "text/html"),
    ("htm", "text/html"),
    ("json", "application/json"),
    ("xml", "application/xml"),
    ("rtf", "application/rtf"),
    ("doc", "application/msword"),
    (
        "docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    ("xls", "application/vnd.ms-excel"),
    (
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    ("ppt", "application/vnd.ms-powerpoint"),
    (
        "pptx",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ),
    ("odt", "application/vnd.oasis.opendocument.text"),
    ("ods", "application/vnd.oasis.opendocument.spreadsheet"),
    ("zip", "application/zip"),
    ("rar", "application/vnd.rar"),
    ("7z", "application/x-7z-compressed"),
];

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
    fn content_type_comes_from_the_answer_then_the_announcement_then_the_name() {
        assert_eq!(
            choose_mime(Some("image/png"), Some("image/jpeg"), Some("a.pdf")),
            "image/png"
        );
        assert_eq!(
            choose_mime(Some(OCTET_STREAM), Some("image/jpeg"), Some("a.pdf")),
            "image/jpeg"
        );
        assert_eq!(
            choose_mime(
                Some("application/octet-stream; charset=binary"),
                None,
                Some("Scan.PDF")
            ),
            "application/pdf"
        );
        assert_eq!(choose_mime(None, None, Some("notes")), OCTET_STREAM);
        assert_eq!(choose_mime(None, None, None), OCTET_STREAM);
    }

    #[test]
    fn file_names_lose_directories_and_control_characters() {
        assert_eq!(
            clean_filename("../../etc/passwd").as_deref(),
            Some("passwd")
        );
        assert_eq!(
            clean_filename("C:\\x\\bill.pdf").as_deref(),
            Some("bill.pdf")
        );
        assert_eq!(clean_filename("a\u{0}b.txt").as_deref(), Some("ab.txt"));
        assert_eq!(clean_filename(".."), None);
        assert_eq!(clean_filename("  "), None);
    }

    #[test]
    fn content_disposition_and_link_can_name_the_file() {
        assert_eq!(
            disposition_filename("attachment; filename=\"report 1.pdf\"").as_deref(),
            Some("report 1.pdf")
        );
        assert_eq!(disposition_filename("inline").as_deref(), None);
        let link = Url::parse("https://cdn.invalid/files/photo%20one.jpg?sig=1").expect("url");
        assert_eq!(url_filename(&link).as_deref(), Some("photo one.jpg"));
        let media = Url::parse("https://h.invalid/v1/media/3f2a").expect("url");
        assert_eq!(url_filename(&media), None);
    }

    #[test]
    fn unnamed_files_are_named_after_id_and_type() {
        assert_eq!(
            fallback_filename(&attachment("m/1?", None), "image/jpeg"),
            "attachment-m1.jpg"
        );
        assert_eq!(
            fallback_filename(&attachment("x", None), "application/x-unknown"),
            "attachment-x.bin"
        );
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
