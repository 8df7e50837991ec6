//! Customer messages as helpdesk HTML: escaped text, line breaks, qualifying annotations, a line
//! for each file, and the invisible marker that makes a reply recognisable after a crash.

use crate::connectors::ConnectorError;
use crate::domain::{CustomerMessage, ExternalId, MediaFile, MediaKind, MediaRef, MessageBody};

pub(super) struct RenderedMessage {
    pub html: String,
    pub attachments: Vec<ExternalId>,
}

/// The marker appended to everything the bridge posts for an inbound event.
pub(super) fn marker(channel: &str, dedupe_key: &str) -> String {
    format!(
        "<!-- omnibridge:{}:{} -->",
        escape(channel),
        escape(dedupe_key).replace("--", "&#45;&#45;")
    )
}

/// Whether helpdesk HTML carries a bridge marker (the bridge posted it).
pub(super) fn has_marker(html: &str) -> bool {
    html.contains("<!-- omnibridge:")
}

/// HTML of a message without a file.
pub(super) fn message_html(message: &CustomerMessage) -> RenderedMessage {
    let mut html = annotations_html(message);
    match &message.body {
        MessageBody::Text { text } | MessageBody::Rendered { text } => {
            html.push_str(&text_html(text))
        }
        MessageBody::Media { caption, .. } => {
            html.push_str(&text_html(caption.as_deref().unwrap_or("")))
        }
    }
    RenderedMessage {
        html,
        attachments: Vec::new(),
    }
}

/// HTML of a message with a file: the note about the file, then the caption.
pub(super) fn media_html(
    message: &CustomerMessage,
    caption: Option<&str>,
    note: String,
    attachment: Option<ExternalId>,
) -> RenderedMessage {
    let mut html = annotations_html(message);
    html.push_str(&format!("<p><em>{}</em></p>", escape(&note)));
    if let Some(caption) = caption.filter(|c| !c.trim().is_empty()) {
        html.push_str(&text_html(caption));
    }
    RenderedMessage {
        html,
        attachments: attachment.into_iter().collect(),
    }
}

pub(super) fn attached_note(kind: MediaKind, file: &MediaFile) -> String {
    format!(
        "📎 {} attached: {} ({}, {})",
        capitalise(kind.label()),
        file.filename,
        file.mime_type,
        human_size(file.bytes.len())
    )
}

pub(super) fn too_large_note(kind: MediaKind, file: &MediaFile, limit: usize) -> String {
    format!(
        "📎 The customer sent a {} that is too large to attach here: {} ({}, {}; the limit is {}). It is still on WhatsApp.",
        kind.label(),
        file.filename,
        file.mime_type,
        human_size(file.bytes.len()),
        human_size(limit)
    )
}

pub(super) fn download_failed_note(
    kind: MediaKind,
    media: &MediaRef,
    err: &ConnectorError,
) -> String {
    let name = media.filename.clone().unwrap_or_else(|| media.id.clone());
    format!(
        "📎 The customer sent a {} ({}) that could not be downloaded: {}",
        kind.label(),
        name,
        err
    )
}

fn annotations_html(message: &CustomerMessage) -> String {
    message
        .annotations
        .iter()
        .map(|a| format!("<p><em>{}</em></p>", escape(a)))
        .collect()
}

/// Escaped text with line breaks kept.
pub(super) fn text_html(text: &str) -> String {
    if text.is_empty() {
        return String::new();
    }
    format!(
        "<p>{}</p>",
        escape(text).replace("\r\n", "\n").replace('\n', "<br>")
    )
}

pub(super) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// "512 B", "3.4 KB", "12.3 MB".
pub fn human_size(bytes: usize) -> String {
    const KB: f64 = 1024.0;
    let b = bytes as f64;
    if b < KB {
        format!("{bytes} B")
    } else if b < KB * KB {
        format!("{:.1} KB", b / KB)
    } else {
        format!("{:.1} MB", b / (KB * KB))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Contact;

    fn text_message(text: &str) -> CustomerMessage {
        CustomerMessage {
            remote_id: ExternalId::new("wamid.1"),
            contact: Contact {
                id: "4915".into(),
                name: Some("Ana".into()),
                phone: None,
            },
            body: MessageBody::Text { text: text.into() },
            tags: vec![],
            annotations: vec!["Reply to an earlier message".into()],
        }
    }

    #[test]
    fn customer_text_is_escaped_and_keeps_line_breaks() {
        let html = message_html(&text_message("<b>hi</b>\nsecond & last")).html;
        assert_eq!(
            html,
            "<p><em>Reply to an earlier message</em></p><p>&lt;b&gt;hi&lt;/b&gt;<br>second &amp; last</p>"
        );
    }

    #[test]
    fn marker_cannot_close_the_html_comment_early() {
        let m = marker("sales", "wamid--x>");
        assert!(m.starts_with("<!-- omnibridge:sales:"));
        assert_eq!(m.matches("--").count(), 2, "{m}");
    }

    #[test]
    fn sizes_are_human_readable() {
        assert_eq!(human_size(512), "512 B");
        assert_eq!(human_size(3 * 1024 + 400), "3.4 KB");
        assert_eq!(human_size(12 * 1024 * 1024 + 300 * 1024), "12.3 MB");
    }
}
