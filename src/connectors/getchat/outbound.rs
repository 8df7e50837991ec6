//! Messages to the customer: the `POST messages/` bodies for text, files and templates, the
//! WhatsApp type a file goes out as, and recognising a message that was already sent.

use super::client::GetchatClient;
use super::convert::media_id_from_link;
use super::render::non_empty;
use super::wire::{WaMedia, WaMessage};
use crate::connectors::{ConnectorError, SentMessage};
use crate::domain::{ExternalId, MediaFile, MediaKind, MediaRef, OutboundBody, Recipient};
use serde_json::{Value, json};

/// The WhatsApp message type a file is sent as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum FileType {
    Image,
    Video,
    Audio,
    Document,
}

impl FileType {
    /// The `type` value and the name of the type object.
    pub(super) fn as_str(self) -> &'static str {
        match self {
            FileType::Image => "image",
            FileType::Video => "video",
            FileType::Audio => "audio",
            FileType::Document => "document",
        }
    }

    /// WhatsApp shows captions on images, videos and documents only.
    pub(super) fn takes_caption(self) -> bool {
        !matches!(self, FileType::Audio)
    }
}

/// The type a file of `mime_type` goes out as when `kind` was asked for. WhatsApp (and get.chat's
/// own inbox) take only JPEG and PNG images, MP4 and 3GPP videos, and AAC, MP4, MPEG, AMR and
/// OGG audio natively; anything else, and anything the requested kind cannot take, is sent as a
/// document. A voice note is sent as audio; a sticker as a document.
pub(super) fn file_type(kind: MediaKind, mime_type: &str) -> FileType {
    let essence = mime_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let native = match essence.as_str() {
        "image/jpeg" | "image/png" => FileType::Image,
        "video/mp4" | "video/3gpp" => FileType::Video,
        "audio/aac" | "audio/mp4" | "audio/mpeg" | "audio/amr" | "audio/ogg" => FileType::Audio,
        _ => FileType::Document,
    };
    let requested = match kind {
        MediaKind::Image => FileType::Image,
        MediaKind::Video => FileType::Video,
        MediaKind::Audio | MediaKind::Voice => FileType::Audio,
        MediaKind::Document | MediaKind::Sticker => FileType::Document,
    };
    if native == requested {
        native
    } else {
        FileType::Document
    }
}

/// `{wa_id, type: "text", text: {body}}`.
pub(super) fn text_request(wa_id: &str, text: &str) -> Value {
    json!({"wa_id": wa_id, "type": "text", "text": {"body": text}})
}

/// `{wa_id, type, <type>: {link, mime_type, caption?, filename?}}` for an uploaded file, as
/// get.chat's own inbox sends it. A caption is kept only where WhatsApp shows one; a document
/// carries its file name.
pub(super) fn file_request(
    wa_id: &str,
    file_type: FileType,
    link: &str,
    file: &MediaFile,
    caption: Option<&str>,
) -> Value {
    let mut object = json!({"link": link});
    if let Some(mime) = non_empty(Some(file.mime_type.as_str())) {
        object["mime_type"] = json!(mime);
    }
    if let Some(caption) = non_empty(caption) {
        if file_type.takes_caption() {
            object["caption"] = json!(caption);
        } else {
            tracing::warn!(
                file_type = file_type.as_str(),
                "WhatsApp shows no caption on this type; the caption is not sent."
            );
        }
    }
    if file_type == FileType::Document {
        object["filename"] = json!(file.filename);
    }
    let type_name = file_type.as_str();
    let mut body = json!({"wa_id": wa_id, "type": type_name});
    body[type_name] = object;
    body
}

/// `{wa_id, type: "template", template: {name, language: {code, policy}, components?}}`; the
/// parameters fill the body's variables in order.
pub(super) fn template_request(
    wa_id: &str,
    name: &str,
    language: &str,
    parameters: &[String],
) -> Value {
    let mut template = json!({
        "name": name,
        "language": {"code": language, "policy": "deterministic"},
    });
    if !parameters.is_empty() {
        let parameters: Vec<Value> = parameters
            .iter()
            .map(|text| json!({"type": "text", "text": text}))
            .collect();
        template["components"] = json!([{"type": "body", "parameters": parameters}]);
    }
    json!({"wa_id": wa_id, "type": "template", "template": template})
}

/// Send `body` to the customer; a file is uploaded through `POST media/` first.
pub(super) async fn send(
    client: &GetchatClient,
    to: &Recipient,
    body: &OutboundBody,
) -> Result<SentMessage, ConnectorError> {
    let wa_id = to.conversation.as_str();
    let request = match body {
        OutboundBody::Text { text } => text_request(wa_id, text),
        OutboundBody::Media {
            kind,
            file,
            caption,
        } => {
            let file_type = file_type(*kind, &file.mime_type);
            let uploaded = client.upload_media(file).await?;
            tracing::debug!(media_id = %uploaded.id, file_type = file_type.as_str(), "File uploaded to get.chat.");
            file_request(wa_id, file_type, &uploaded.file, file, caption.as_deref())
        }
        OutboundBody::Template {
            name,
            language,
            parameters,
        } => template_request(wa_id, name, language, parameters),
    };
    let created = client.send_message(&request).await?;
    if let Some(reason) = created.reason.as_deref() {
        tracing::debug!(message_id = %created.id, reason, "get.chat accepted the message.");
    }
    Ok(SentMessage {
        id: ExternalId::new(created.id),
        alt_id: None,
    })
}

/// Whether a message listed as sent is the one `body` describes.
#[derive(Debug, PartialEq)]
pub(super) enum SentMatch {
    No,
    Yes,
    /// Type, caption and file name agree; it is the same message if this file has our bytes.
    IfSameFile(MediaRef),
}

/// Compare a sent WhatsApp message (a Message object's `waba_payload`) with `body`.
pub(super) fn sent_match(sent: &WaMessage, body: &OutboundBody) -> SentMatch {
    let sent_type = non_empty(sent.kind.as_deref()).unwrap_or("");
    let yes_if = |same: bool| if same { SentMatch::Yes } else { SentMatch::No };
    match body {
        OutboundBody::Text { text } => yes_if(
            sent_type == "text"
                && sent.text.as_ref().and_then(|t| t.body.as_deref()) == Some(text.as_str()),
        ),
        OutboundBody::Template {
            name,
            language,
            parameters,
        } => {
            let Some(template) = sent.template.as_ref().filter(|_| sent_type == "template") else {
                return SentMatch::No;
            };
            let sent_language = template
                .language
                .as_ref()
                .and_then(|l| non_empty(l.code.as_deref()));
            yes_if(
                template.name.as_deref() == Some(name.as_str())
                    && sent_language.is_none_or(|code| code == language.as_str())
                    && template.body_parameters()
                        == parameters.iter().map(String::as_str).collect::<Vec<_>>(),
            )
        }
        OutboundBody::Media {
            kind,
            file,
            caption,
        } => {
            let file_type = file_type(*kind, &file.mime_type);
            let Some(media) =
                sent_file(sent, file_type).filter(|_| sent_type == file_type.as_str())
            else {
                return SentMatch::No;
            };
            let wanted_caption =
                non_empty(caption.as_deref()).filter(|_| file_type.takes_caption());
            if non_empty(media.caption.as_deref()) != wanted_caption {
                return SentMatch::No;
            }
            if file_type == FileType::Document
                && non_empty(media.filename.as_deref()) != non_empty(Some(file.filename.as_str()))
            {
                return SentMatch::No;
            }
            let link = non_empty(media.link.as_deref()).or(non_empty(media.url.as_deref()));
            let id = non_empty(media.id.as_deref())
                .map(str::to_owned)
                .or_else(|| link.and_then(media_id_from_link));
            match (id, link) {
                (None, None) => SentMatch::No,
                (id, link) => SentMatch::IfSameFile(MediaRef {
                    id: id.unwrap_or_default(),
                    mime_type: None,
                    sha256: None,
                    filename: None,
                    url: link.map(str::to_owned),
                }),
            }
        }
    }
}

fn sent_file(sent: &WaMessage, file_type: FileType) -> Option<&WaMedia> {
    match file_type {
        FileType::Image => sent.image.as_ref(),
        FileType::Video => sent.video.as_ref(),
        FileType::Audio => sent.audio.as_ref().or(sent.voice.as_ref()),
        FileType::Document => sent.document.as_ref(),
    }
}
