//! File names: cleaning what vendors announce, reading them from headers and links, and naming
//! files that came without one.
//!
//! Percent-decoding (links and `filename*=`) goes through `percent-encoding`: `%XX` escapes are
//! decoded, invalid escapes are kept as written and invalid UTF-8 becomes U+FFFD. A `+` stays a
//! `+` everywhere: it means a space only in form-encoded query strings, and file names never
//! come from those.

use super::types::extension_for;
use url::Url;

/// A file name without any directory part or control characters; `None` when nothing is left.
pub fn clean_filename(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next()?;
    let cleaned: String = base.chars().filter(|c| !c.is_control()).collect();
    let cleaned = cleaned.trim();
    (!cleaned.is_empty() && cleaned != "." && cleaned != "..").then(|| cleaned.to_owned())
}

/// `%XX` escapes decoded (see the module notes on `+` and invalid input).
pub fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// The file name of a Content-Disposition header: `filename*=UTF-8''…` (RFC 6266) when given,
/// else `filename="…"` (or unquoted).
pub fn disposition_filename(header: &str) -> Option<String> {
    let parameter = |wanted: &str| {
        header.split(';').find_map(|part| {
            let (key, value) = part.split_once('=')?;
            key.trim()
                .eq_ignore_ascii_case(wanted)
                .then(|| value.trim().trim_matches('"'))
        })
    };
    let extended = parameter("filename*")
        .and_then(|value| {
            value
                .split_once("''")
                .map(|(_, encoded)| percent_decode(encoded))
        })
        .and_then(|name| clean_filename(&name));
    extended.or_else(|| parameter("filename").and_then(clean_filename))
}

/// The link's last path segment, decoded, when it looks like a file name (has an extension).
pub fn url_filename(url: &Url) -> Option<String> {
    let last = url.path_segments()?.next_back()?;
    let name = clean_filename(&percent_decode(last))?;
    name.rsplit_once('.')
        .is_some_and(|(stem, ext)| !stem.is_empty() && !ext.is_empty())
        .then_some(name)
}

/// `<prefix>-<id>.<ext>` for a file that came without a name: the id keeps only letters,
/// digits, `-` and `_` (at most 64 of them; `file` when none is left), the extension follows
/// the type.
pub fn fallback_filename(prefix: &str, id: &str, mime_type: &str) -> String {
    let id: String = id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .take(64)
        .collect();
    let id = if id.is_empty() { "file" } else { &id };
    format!("{prefix}-{id}.{}", extension_for(mime_type))
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn percent_decoding_keeps_plus_and_invalid_escapes() {
        assert_eq!(percent_decode("photo%20one+two.jpg"), "photo one+two.jpg");
        assert_eq!(percent_decode("100%.txt"), "100%.txt");
        assert_eq!(percent_decode("%E2%82%AC.pdf"), "€.pdf");
        assert_eq!(percent_decode("%FF.bin"), "\u{FFFD}.bin");
    }

    #[test]
    fn content_disposition_and_links_can_name_the_file() {
        let named = |h| disposition_filename(h);
        assert_eq!(
            named("attachment; filename=\"report 1.pdf\"").as_deref(),
            Some("report 1.pdf")
        );
        assert_eq!(
            named("attachment; filename=\"a.pdf\"; filename*=UTF-8''%E2%82%AC%20rates.pdf")
                .as_deref(),
            Some("€ rates.pdf")
        );
        assert_eq!(named("inline"), None);
        let link = Url::parse("https://cdn.invalid/files/photo%20one+1.jpg?sig=1").expect("url");
        assert_eq!(url_filename(&link).as_deref(), Some("photo one+1.jpg"));
        let media = Url::parse("https://h.invalid/v1/media/3f2a").expect("url");
        assert_eq!(url_filename(&media), None);
    }

    #[test]
    fn unnamed_files_are_named_after_id_and_type() {
        assert_eq!(
            fallback_filename("attachment", "m/1?", "image/jpeg"),
            "attachment-m1.jpg"
        );
        assert_eq!(
            fallback_filename("file", "", "application/x-unknown"),
            "file-file.bin"
        );
        assert_eq!(
            fallback_filename("audio", "w.1", "audio/ogg; codecs=opus"),
            "audio-w1.ogg"
        );
    }
}
