//! Files fetched from get.chat: checksum verification, content type and file name choice.

use super::client::VENDOR;
use crate::connectors::ConnectorError;
use crate::domain::{MediaFile, MediaRef};
use crate::media::{Download, clean_filename, fallback_filename, kind_of};
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// The announced checksum as 32 bytes: 64 hex digits or base64 (standard or URL-safe, padded or
/// not). `None` when it is neither.
pub(super) fn decode_checksum(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    if text.len() == 64 && text.chars().all(|c| c.is_ascii_hexdigit()) {
        return hex::decode(text).ok()?.try_into().ok();
    }
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(text).ok())
        .and_then(|bytes| bytes.try_into().ok())
}

pub(super) fn verify_checksum(media: &MediaRef, bytes: &[u8]) -> Result<(), ConnectorError> {
    let Some(announced) = media.sha256.as_deref().filter(|s| !s.trim().is_empty()) else {
        return Ok(());
    };
    let Some(expected) = decode_checksum(announced) else {
        tracing::warn!(media_id = %media.id, checksum = announced, "Announced media checksum is neither hex nor base64 SHA-256; not verified.");
        return Ok(());
    };
    let actual: [u8; 32] = Sha256::digest(bytes).into();
    if actual == expected {
        return Ok(());
    }
    Err(ConnectorError::Transient {
        vendor: VENDOR,
        message: format!(
            "media {} checksum did not match (expected {}, got {}); a re-download may fix it",
            media.id,
            hex::encode(expected),
            hex::encode(actual)
        ),
    })
}

/// The downloaded file, typed (see [`Download::into_file`]) and named: the document's own name,
/// else `<kind>-<id>.<ext>`.
pub(super) fn media_file(media: &MediaRef, download: Download) -> MediaFile {
    let own_name = media.filename.as_deref().and_then(clean_filename);
    download.into_file(media.mime_type.as_deref(), own_name, |mime| {
        fallback_filename(kind_of(mime), &media.id, mime)
    })
}
