//! The type of a file from its first bytes, for files that arrive without a usable one.

/// The content type the leading bytes announce, for the formats WhatsApp and helpdesks carry.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    let starts = |prefix: &[u8]| bytes.starts_with(prefix);
    let at = |offset: usize, tag: &[u8]| bytes.get(offset..offset + tag.len()) == Some(tag);
    Some(match bytes {
        _ if starts(b"\xFF\xD8\xFF") => "image/jpeg",
        _ if starts(b"\x89PNG\r\n\x1A\n") => "image/png",
        _ if starts(b"GIF87a") || starts(b"GIF89a") => "image/gif",
        _ if starts(b"RIFF") && at(8, b"WEBP") => "image/webp",
        _ if starts(b"RIFF") && at(8, b"WAVE") => "audio/wav",
        _ if starts(b"%PDF-") => "application/pdf",
        _ if starts(b"OggS") => "audio/ogg",
        _ if starts(b"#!AMR") => "audio/amr",
        _ if starts(b"ID3") || starts(b"\xFF\xFB") || starts(b"\xFF\xF3") => "audio/mpeg",
        _ if at(4, b"ftyp") => match bytes.get(8..11) {
            Some(b"M4A") => "audio/mp4",
            Some(b"3gp") => "video/3gpp",
            _ => "video/mp4",
        },
        _ if starts(b"PK\x03\x04") => "application/zip",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::sniff;

    #[test]
    fn common_formats_are_recognised_by_their_first_bytes() {
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0rest"), Some("image/jpeg"));
        assert_eq!(sniff(b"\x89PNG\r\n\x1A\n...."), Some("image/png"));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff(b"%PDF-1.7"), Some("application/pdf"));
        assert_eq!(sniff(b"OggS\0\x02"), Some("audio/ogg"));
        assert_eq!(sniff(b"\0\0\0\x20ftypisom"), Some("video/mp4"));
        assert_eq!(sniff(b"\0\0\0\x20ftypM4A "), Some("audio/mp4"));
        assert_eq!(sniff(b"hello"), None);
        assert_eq!(sniff(b""), None);
    }
}
