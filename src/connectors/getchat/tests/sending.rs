//! Sending and resolving against the get.chat simulator, and the choice of WhatsApp file type.

use super::super::outbound::{FileType, file_type};
use super::recipient;
use crate::connectors::getchat::GetchatChannel;
use crate::connectors::{ChannelConnector, ConnectorError};
use crate::domain::{ConversationKey, MediaFile, MediaKind, OutboundBody};
use crate::sandbox::getchat::GetchatSim;
use serde_json::json;

pub(super) fn sim_channel(sim: &GetchatSim) -> GetchatChannel {
    let settings = json!({"id": "sales", "kind": "getchat", "base_url": sim.base_url(),
        "token": sim.token()});
    GetchatChannel::new(&serde_json::from_value(settings).unwrap()).unwrap()
}

pub(super) fn file(name: &str, mime: &str, bytes: &[u8]) -> MediaFile {
    MediaFile {
        filename: name.into(),
        mime_type: mime.into(),
        bytes: bytes.to_vec(),
    }
}

pub(super) fn media(kind: MediaKind, file: MediaFile, caption: Option<&str>) -> OutboundBody {
    OutboundBody::Media {
        kind,
        file,
        caption: caption.map(str::to_owned),
    }
}

#[test]
fn files_go_out_natively_only_as_types_whatsapp_takes_and_otherwise_as_documents() {
    use FileType::*;
    use MediaKind as K;
    let table = [
        (K::Image, "image/jpeg", Image),
        (K::Image, "image/png", Image),
        (K::Image, "IMAGE/JPEG; charset=binary", Image),
        (K::Image, "image/webp", Document),
        (K::Image, "image/gif", Document),
        (K::Image, "image/heic", Document),
        (K::Video, "video/mp4", Video),
        (K::Video, "video/3gpp", Video),
        (K::Video, "video/quicktime", Document),
        (K::Audio, "audio/aac", Audio),
        (K::Audio, "audio/mp4", Audio),
        (K::Audio, "audio/mpeg", Audio),
        (K::Audio, "audio/amr", Audio),
        (K::Audio, "audio/ogg; codecs=opus", Audio),
        (K::Audio, "audio/wav", Document),
        (K::Voice, "audio/ogg", Audio),
        (K::Document, "application/pdf", Document),
        (K::Document, "image/jpeg", Document),
        (K::Sticker, "image/webp", Document),
        // The requested kind cannot take the content: a document, not a guess.
        (K::Image, "video/mp4", Document),
        (K::Audio, "image/png", Document),
        (K::Video, "", Document),
    ];
    for (kind, mime, want) in table {
        assert_eq!(file_type(kind, mime), want, "{kind:?} {mime:?}");
    }
}

#[tokio::test]
async fn text_is_sent_as_a_text_message_and_answers_getchats_id() {
    let sim = GetchatSim::start().await.unwrap();
    let channel = sim_channel(&sim);
    let text = OutboundBody::Text {
        text: "*Hello* there".into(),
    };
    let sent = channel.send(&recipient("48123"), &text).await.unwrap();
    let recorded = sim.sent_messages();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].id, sent.id.as_str());
    assert_eq!(sent.alt_id, None);
    assert_eq!(
        recorded[0].body,
        json!({"wa_id": "48123", "type": "text", "text": {"body": "*Hello* there"}})
    );
}

#[tokio::test]
async fn an_image_is_uploaded_then_sent_by_link_with_its_caption() {
    let sim = GetchatSim::start().await.unwrap();
    let channel = sim_channel(&sim);
    let photo = media(
        MediaKind::Image,
        file("photo.jpg", "image/jpeg", b"\xff\xd8jpeg"),
        Some("Your receipt"),
    );
    channel.send(&recipient("48123"), &photo).await.unwrap();
    let uploads = sim.uploaded_media();
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].bytes, b"\xff\xd8jpeg");
    assert_eq!(uploads[0].mime_type, "image/jpeg");
    assert_eq!(uploads[0].filename.as_deref(), Some("photo.jpg"));
    let body = &sim.sent_messages()[0].body;
    assert_eq!(body["type"], "image");
    let link = body["image"]["link"].as_str().unwrap();
    assert!(
        link.starts_with(&format!("{}media/{}", sim.api_url(), uploads[0].id)),
        "{link}"
    );
    assert_eq!(body["image"]["caption"], "Your receipt");
    assert!(body["image"].get("filename").is_none(), "{body}");
}

#[tokio::test]
async fn audio_goes_without_caption_and_documents_carry_their_name() {
    let sim = GetchatSim::start().await.unwrap();
    let channel = sim_channel(&sim);
    let voice = media(
        MediaKind::Voice,
        file("note.ogg", "audio/ogg", b"OggS"),
        Some("listen"),
    );
    channel.send(&recipient("48123"), &voice).await.unwrap();
    let pdf = media(
        MediaKind::Document,
        file("invoice 7.pdf", "application/pdf", b"%PDF"),
        Some("Invoice"),
    );
    channel.send(&recipient("48123"), &pdf).await.unwrap();
    let webp = media(
        MediaKind::Image,
        file("sticker.webp", "image/webp", b"RIFF"),
        None,
    );
    channel.send(&recipient("48123"), &webp).await.unwrap();
    let sent = sim.sent_messages();
    assert_eq!(sent[0].message_type, "audio");
    assert!(sent[0].body["audio"].get("caption").is_none());
    assert_eq!(sent[1].message_type, "document");
    assert_eq!(sent[1].body["document"]["filename"], "invoice 7.pdf");
    assert_eq!(sent[1].body["document"]["caption"], "Invoice");
    assert_eq!(sent[2].message_type, "document");
    assert_eq!(sent[2].body["document"]["filename"], "sticker.webp");
}

#[tokio::test]
async fn templates_name_their_language_and_fill_body_parameters() {
    let sim = GetchatSim::start().await.unwrap();
    let channel = sim_channel(&sim);
    let with_parameters = OutboundBody::Template {
        name: "ticket_update".into(),
        language: "en_US".into(),
        parameters: vec!["Ann".into(), "#42".into()],
    };
    let without = OutboundBody::Template {
        name: "follow_up".into(),
        language: "de".into(),
        parameters: vec![],
    };
    channel
        .send(&recipient("48123"), &with_parameters)
        .await
        .unwrap();
    channel.send(&recipient("48123"), &without).await.unwrap();
    let sent = sim.sent_messages();
    assert_eq!(
        sent[0].body,
        json!({"wa_id": "48123", "type": "template", "template": {
            "name": "ticket_update",
            "language": {"code": "en_US", "policy": "deterministic"},
            "components": [{"type": "body", "parameters": [
                {"type": "text", "text": "Ann"}, {"type": "text", "text": "#42"}]}]
        }})
    );
    assert_eq!(
        sent[1].body,
        json!({"wa_id": "48123", "type": "template", "template": {
            "name": "follow_up", "language": {"code": "de", "policy": "deterministic"}}})
    );
}

#[tokio::test]
async fn a_closed_window_refuses_free_form_messages_but_not_templates() {
    let sim = GetchatSim::start().await.unwrap();
    let channel = sim_channel(&sim);
    sim.close_window("48123");
    let text = OutboundBody::Text {
        text: "late".into(),
    };
    let err = channel.send(&recipient("48123"), &text).await.unwrap_err();
    match &err {
        ConnectorError::WindowClosed { message, .. } => {
            assert_eq!(message, "24h window closed")
        }
        other => panic!("{other:?}"),
    }
    let photo = media(MediaKind::Image, file("a.png", "image/png", b"png"), None);
    let err = channel.send(&recipient("48123"), &photo).await.unwrap_err();
    assert!(matches!(err, ConnectorError::WindowClosed { .. }), "{err}");
    let template = OutboundBody::Template {
        name: "reopen".into(),
        language: "en".into(),
        parameters: vec![],
    };
    channel.send(&recipient("48123"), &template).await.unwrap();
    assert_eq!(sim.sent_messages().len(), 1);
}

#[tokio::test]
async fn a_queued_message_is_a_success_and_refusals_are_classified() {
    let sim = GetchatSim::start().await.unwrap();
    let channel = sim_channel(&sim);
    sim.queue_messages(true);
    let text = OutboundBody::Text { text: "hi".into() };
    let sent = channel.send(&recipient("48123"), &text).await.unwrap();
    assert_eq!(sim.sent_messages()[0].id, sent.id.as_str());
    let err = channel
        .send(&recipient("not-a-number"), &text)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ConnectorError::Permanent {
                status: Some(400),
                ..
            }
        ),
        "{err}"
    );
    sim.fail_next("POST", "messages/", 503, 1);
    let err = channel.send(&recipient("48123"), &text).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Transient { .. }), "{err}");
}

#[tokio::test]
async fn a_file_over_the_upload_cap_is_permanently_too_large() {
    let sim = GetchatSim::start().await.unwrap();
    sim.set_max_upload_bytes(8);
    let channel = sim_channel(&sim);
    let big = media(
        MediaKind::Video,
        file("clip.mp4", "video/mp4", &[0u8; 64]),
        None,
    );
    let err = channel.send(&recipient("48123"), &big).await.unwrap_err();
    assert!(
        matches!(
            err,
            ConnectorError::Permanent {
                status: Some(413),
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("too large"), "{err}");
    assert!(sim.sent_messages().is_empty());
}

#[tokio::test]
async fn resolve_marks_the_chat_resolved() {
    let sim = GetchatSim::start().await.unwrap();
    let channel = sim_channel(&sim);
    channel
        .resolve(&ConversationKey::new("48123"))
        .await
        .unwrap();
    assert_eq!(sim.chat_resolved("48123"), Some(true));
    assert_eq!(sim.resolved_chats(), vec![("48123".to_owned(), true)]);
    assert_eq!(sim.request_count("PATCH", "chats/48123/resolve"), 1);
}
