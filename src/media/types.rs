//! Content types: choosing one for a downloaded file, and mapping types to file extensions and
//! back (through `mime_guess`, with WhatsApp's usual extensions preferred).

use super::sniff::sniff;

pub const OCTET_STREAM: &str = "application/octet-stream";

/// The extension the bridge gives a type where `mime_guess` would pick a rarer one first
/// (`image/jpeg` → `jfif`), and the types WhatsApp names differently.
const PREFERRED_EXTENSIONS: &[(&str, &str)] = &[
    ("image/jpeg", "jpg"),
    ("image/jpg", "jpg"),
    ("image/tiff", "tiff"),
    ("video/mp4", "mp4"),
    ("video/3gpp", "3gp"),
    ("video/quicktime", "mov"),
    ("audio/ogg", "ogg"),
    ("audio/opus", "ogg"),
    ("audio/mpeg", "mp3"),
    ("audio/mp3", "mp3"),
    ("audio/mp4", "m4a"),
    ("audio/m4a", "m4a"),
    ("audio/x-m4a", "m4a"),
    ("audio/aac", "aac"),
    ("audio/amr", "amr"),
    ("audio/wav", "wav"),
    ("text/plain", "txt"),
    ("text/html", "html"),
    ("application/msword", "doc"),
    ("application/vnd.ms-excel", "xls"),
    ("application/vnd.ms-powerpoint", "ppt"),
];

/// The type without parameters, lower case: `Image/JPEG; q=1` → `image/jpeg`.
pub fn essence(mime: &str) -> String {
    mime.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// A type that says more than "some bytes".
fn is_specific(mime: &&str) -> bool {
    let essence = essence(mime);
    !essence.is_empty() && essence != OCTET_STREAM && essence != "binary/octet-stream"
}

/// The answer's Content-Type when specific, else the announced type, else one guessed from the
/// file name, else one sniffed from the content, else `application/octet-stream`. Parameters
/// (`; codecs=opus`) of a chosen header are kept.
pub fn choose_mime(
    content_type: Option<&str>,
    announced: Option<&str>,
    filename: Option<&str>,
    content: &[u8],
) -> String {
    content_type
        .filter(is_specific)
        .or(announced.filter(is_specific))
        .map(|m| m.trim().to_owned())
        .or_else(|| filename.and_then(mime_for_name))
        .or_else(|| sniff(content).map(str::to_owned))
        .unwrap_or_else(|| OCTET_STREAM.to_owned())
}

/// The content type of a file name's extension, if it has a known one.
pub fn mime_for_name(name: &str) -> Option<String> {
    let (stem, extension) = name.rsplit_once('.')?;
    if stem.is_empty() || extension.trim().is_empty() {
        return None;
    }
    let extension = extension.trim().to_ascii_lowercase();
    let preferred = PREFERRED_EXTENSIONS
        .iter()
        .find(|(_, ext)| *ext == extension)
        .map(|(mime, _)| (*mime).to_owned());
    preferred.or_else(|| {
        mime_guess::from_ext(&extension)
            .first_raw()
            .map(str::to_owned)
    })
}

/// The usual extension for a type, `bin` when none is known.
pub fn extension_for(mime: &str) -> &'static str {
    let essence = essence(mime);
    PREFERRED_EXTENSIONS
        .iter()
        .find(|(known, _)| *known == essence)
        .map(|(_, ext)| *ext)
        .or_else(|| {
            mime_guess::get_mime_extensions_str(&essence)?
                .first()
                .copied()
        })
        .unwrap_or("bin")
}

/// WhatsApp's kind of a file: `image`, `video`, `audio`, or `document` for anything else.
pub fn kind_of(mime: &str) -> &'static str {
    match essence(mime).split('/').next().unwrap_or("") {
        "image" => "image",
        "video" => "video",
        "audio" => "audio",
        _ => "document",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_type_comes_from_the_answer_then_the_announcement_then_name_then_content() {
        let png = b"\x89PNG\r\n\x1A\n";
        assert_eq!(
            choose_mime(Some("image/png"), Some("image/jpeg"), Some("a.pdf"), b""),
            "image/png"
        );
        assert_eq!(
            choose_mime(Some(OCTET_STREAM), Some("image/jpeg"), None, b""),
            "image/jpeg"
        );
        assert_eq!(
            choose_mime(
                Some("application/octet-stream; x=1"),
                None,
                Some("Scan.PDF"),
                b""
            ),
            "application/pdf"
        );
        assert_eq!(choose_mime(None, None, Some("notes"), png), "image/png");
        assert_eq!(choose_mime(None, None, None, b"?"), OCTET_STREAM);
        assert_eq!(
            choose_mime(Some(" audio/ogg; codecs=opus "), None, None, b""),
            "audio/ogg; codecs=opus"
        );
    }

    #[test]
    fn types_map_to_whatsapps_usual_extensions_and_back() {
        assert_eq!(extension_for("image/jpeg"), "jpg");
        assert_eq!(extension_for("Audio/OGG; codecs=opus"), "ogg");
        assert_eq!(extension_for("application/pdf"), "pdf");
        assert_eq!(
            extension_for(
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            ),
            "docx"
        );
        assert_eq!(extension_for("application/x-unknown"), "bin");
        assert_eq!(mime_for_name("photo.JPG").as_deref(), Some("image/jpeg"));
        assert_eq!(mime_for_name("voice.opus").as_deref(), Some("audio/ogg"));
        assert_eq!(
            mime_for_name("sheet.xlsx").as_deref(),
            Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        );
        assert_eq!(mime_for_name("README"), None);
        assert_eq!(mime_for_name(".hidden"), None);
    }

    #[test]
    fn kinds_follow_the_top_level_type() {
        assert_eq!(kind_of("image/webp"), "image");
        assert_eq!(kind_of("AUDIO/ogg"), "audio");
        assert_eq!(kind_of("application/pdf"), "document");
    }
}
