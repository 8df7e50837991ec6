//! Files fetched from get.chat: checksum verification, content type and file name choice.

use super::client::VENDOR;
use crate::connectors::ConnectorError;
use crate::domain::MediaRef;
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

/// The answer's Content-Type unless it is missing or generic, then the announced type.
pub(super) fn choose_mime(content_type: Option<&str>, announced: Option<&str>) -> String {
    let usable = |m: &&str| !m.trim().is_empty();
    let specific = content_type
        .filter(usable)
        .filter(|m| !m.starts_with("application/octet-stream"));
    specific
        .or(announced.filter(usable))
        .or(content_type.filter(usable))
        .unwrap_or("application/octet-stream")
        .trim()
        .to_owned()
}

/// The document's own name (without any directory part), else `<kind>-<id>.<ext>`.
pub(super) fn media_filename(media: &MediaRef, mime_type: &str) -> String {
    let own = media
        .filename
        .as_deref()
        .and_then(|name| name.rsplit(['/', '\\']).next())
        .map(|name| name.chars().filter(|c| !c.is_control()).collect::<String>())
        .filter(|name| !name.trim().is_empty() && name != "." && name != "..");
    if let Some(name) = own {
        return name;
    }
    let essence = mime_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let kind = match essence.split('/').next().unwrap_or("") {
        "image" => "image",
        "video" => "video",
        "audio" => "audio",
        _ => "document",
    };
    let id: String = media
        .id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .take(64)
        .collect();
    let id = if id.is_empty() { "file".to_owned() } else { id };
    format!("{kind}-{id}.{}", extension_for(&essence))
}

fn extension_for(mime_essence: &str) -> &'static str {
    match mime_essence {
        "image/jpeg" | "image/jpg" => "jpg",
        "image/png" => "png",
        "image/webp" => "webp",
        "image/gif" => "gif",
        "video/mp4" => "mp4",
        "video/3gpp" => "3gp",
        "audio/ogg" | "audio/opus" => "ogg",
        "audio/mpeg" | "audio/mp3" => "mp3",
        "audio/mp4" | "audio/m4a" | "audio/x-m4a" => "m4a",
        "audio/aac" => "aac",
        "audio/amr" => "amr",
        "application/pdf" => "pdf",
        "text/plain" => "txt",
        "text/csv" => "csv",
        "application/msword" => "doc",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => "docx",
        "application/vnd.ms-excel" => "xls",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => "xlsx",
        "application/vnd.ms-powerpoint" => "ppt",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation" => "pptx",
        "application/zip" => "zip",
        _ => "bin",
    }
}
