//! Sending (text, files, templates), closed windows, recovery, resolving, registration, media.

use super::{channel_at, sim_channel, to_room};
use crate::connectors::{
    ChannelCapabilities, ChannelConnector, ConnectorError, PollBatch, Registration,
};
use crate::domain::{
    ConversationKey, EventKind, MediaFile, MediaKind, MessageBody, OutboundBody, Recipient,
};
use crate::sandbox::qontak::{MemoryCredentials, QontakSim, SimFile};
use chrono::{Duration, Utc};
use serde_json::json;
use std::sync::Arc;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn text(body: &str) -> OutboundBody {
    OutboundBody::Text { text: body.into() }
}

fn media(kind: MediaKind, mime: &str, name: &str, len: usize) -> OutboundBody {
    OutboundBody::Media {
        kind,
        file: MediaFile {
            filename: name.into(),
            mime_type: mime.into(),
            bytes: vec![7u8; len],
        },
        caption: Some("here it is".into()),
    }
}

fn template(name: &str, language: &str, parameters: &[&str]) -> OutboundBody {
    OutboundBody::Template {
        name: name.into(),
        language: language.into(),
        parameters: parameters.iter().map(|p| (*p).to_owned()).collect(),
    }
}

async fn start() -> (QontakSim, String) {
    let sim = QontakSim::start().await.unwrap();
    let room = sim.add_room("628111222333", "Siti");
    (sim, room)
}

#[tokio::test]
async fn text_goes_into_the_room_as_a_bot_message() {
    let (sim, room) = start().await;
    let channel = sim_channel(&sim, Arc::new(MemoryCredentials::new()));
    let sent = channel
        .send(&to_room(&room), &text("Halo *Siti*"))
        .await
        .unwrap();
    let recorded = sim.sent_messages();
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0].id, sent.id.as_str());
    assert_eq!(recorded[0].room_id, room);
    assert_eq!(recorded[0].message_type, "text");
    assert_eq!(recorded[0].text.as_deref(), Some("Halo *Siti*"));
    assert_eq!(recorded[0].encoding, "json");
}

#[tokio::test]
async fn files_are_sent_as_multipart_with_their_type() {
    let (sim, room) = start().await;
    let channel = sim_channel(&sim, Arc::new(MemoryCredentials::new()));
    channel
        .send(
            &to_room(&room),
            &media(MediaKind::Image, "image/png", "photo.png", 1000),
        )
        .await
        .unwrap();
    let recorded = &sim.sent_messages()[0];
    assert_eq!(recorded.encoding, "multipart");
    assert_eq!(recorded.message_type, "image");
    assert_eq!(recorded.text.as_deref(), Some("here it is"));
    let file = recorded.file.as_ref().unwrap();
    assert_eq!(
        (
            file.filename.as_str(),
            file.mime_type.as_str(),
            file.bytes.len()
        ),
        ("photo.png", "image/png", 1000)
    );
}

#[tokio::test]
async fn files_whatsapp_would_refuse_in_their_kind_go_as_documents() {
    let (sim, room) = start().await;
    let channel = sim_channel(&sim, Arc::new(MemoryCredentials::new()));
    let big_image = media(MediaKind::Image, "image/jpeg", "big.jpg", 6 * 1024 * 1024);
    let sticker = media(MediaKind::Sticker, "image/webp", "s.webp", 100);
    channel.send(&to_room(&room), &big_image).await.unwrap();
    channel.send(&to_room(&room), &sticker).await.unwrap();
    let types: Vec<String> = sim
        .sent_messages()
        .into_iter()
        .map(|m| m.message_type)
        .collect();
    assert_eq!(types, ["document", "document"]);
}

#[tokio::test]
async fn expired_session_is_a_closed_window() {
    let (sim, room) = start().await;
    let channel = sim_channel(&sim, Arc::new(MemoryCredentials::new()));
    sim.set_session(&room, "expired");
    let err = channel
        .send(&to_room(&room), &text("late"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::WindowClosed { .. }),
        "{err:?}"
    );
    assert!(sim.sent_messages().is_empty());
}

#[tokio::test]
async fn a_session_known_expired_is_checked_before_sending_and_reopens_with_the_customer() {
    let (sim, room) = start().await;
    let channel = sim_channel(&sim, Arc::new(MemoryCredentials::new()));
    sim.set_session(&room, "expired");
    let stale = sim.agent_text(&room, "Agent", "ping");
    channel.parse_webhook(&super::bytes(&stale)).unwrap();

    let err = channel
        .send(&to_room(&room), &text("late"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::WindowClosed { .. }),
        "{err:?}"
    );
    assert_eq!(sim.request_count("POST", "messages/whatsapp/bot"), 0);

    let customer = sim.customer_text(&room, "I'm back");
    channel.parse_webhook(&super::bytes(&customer)).unwrap();
    channel
        .send(&to_room(&room), &text("welcome back"))
        .await
        .unwrap();
    assert_eq!(sim.sent_messages().len(), 1);
}

/// A refusal whose wording says nothing about sessions: the room decides.
async fn refusing_server(session: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/open/v1/messages/whatsapp/bot"))
        .respond_with(ResponseTemplate::new(422).set_body_json(
            json!({"status": "error", "error": {"code": 422, "messages": ["Failed to send message"]}}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/open/v1/rooms/room-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"status": "success", "data": {"id": "room-1", "session": session}}),
        ))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn an_unexplained_refusal_is_a_closed_window_only_when_the_room_says_so() {
    let expired = refusing_server("expired").await;
    let channel = channel_at(&expired.uri(), json!({}));
    let err = channel
        .send(&to_room("room-1"), &text("x"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, ConnectorError::WindowClosed { .. }),
        "{err:?}"
    );

    let open = refusing_server("open").await;
    let channel = channel_at(&open.uri(), json!({}));
    let err = channel
        .send(&to_room("room-1"), &text("x"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ConnectorError::Permanent { status: Some(422), message, .. }
            if message.contains("Failed to send message")),
        "{err:?}"
    );
}

#[tokio::test]
async fn template_is_found_by_name_and_sent_as_a_direct_broadcast() {
    let (sim, room) = start().await;
    let template_id = sim.add_template("follow_up", "id", "Halo {{1}}, balasan: {{2}}");
    sim.add_template("follow_up", "en", "Hello {{1}}: {{2}}");
    let channel = sim_channel(&sim, Arc::new(MemoryCredentials::new()));
    let to = Recipient {
        conversation: ConversationKey::new(&room),
        phone: Some("+62 811-1222-333".into()),
        name: Some("Siti".into()),
    };
    let body = template("follow_up", "id", &["Siti", "Pesanan dikirim"]);
    let sent = channel.send(&to, &body).await.unwrap();
    channel.send(&to, &body).await.unwrap();

    let broadcasts = sim.direct_broadcasts();
    assert_eq!(broadcasts.len(), 2);
    assert_eq!(broadcasts[0].id, sent.id.as_str());
    assert_eq!(broadcasts[0].to_number, "628111222333");
    assert_eq!(broadcasts[0].to_name, "Siti");
    assert_eq!(broadcasts[0].template_id, template_id);
    assert_eq!(broadcasts[0].language, "id");
    assert_eq!(broadcasts[0].parameters, ["Siti", "Pesanan dikirim"]);
    assert_eq!(broadcasts[0].body["parameters"]["body"][0]["key"], "1");
    assert_eq!(
        sim.request_count("GET", "templates/whatsapp"),
        1,
        "the id is remembered"
    );
}

#[tokio::test]
async fn template_takes_phone_and_integration_from_the_room_and_ids_as_they_are() {
    let (sim, room) = start().await;
    let template_id = sim.add_template("reminder", "en", "Reminder for you");
    let config = super::settings(
        &sim.base_url(),
        json!({"access_token": sim.access_token(), "refresh_token": sim.refresh_token()}),
    );
    let channel =
        crate::connectors::qontak::QontakChannel::new(&config, Arc::new(MemoryCredentials::new()))
            .unwrap();
    channel
        .send(&to_room(&room), &template(&template_id, "en", &[]))
        .await
        .unwrap();
    let sent = &sim.direct_broadcasts()[0];
    assert_eq!(sent.to_number, "628111222333");
    assert_eq!(sent.to_name, "Siti");
    assert_eq!(
        sent.body["channel_integration_id"],
        sim.channel_integration_id()
    );
    assert_eq!(sim.request_count("GET", "templates/whatsapp"), 0);
}

#[tokio::test]
async fn unknown_template_or_language_is_a_permanent_error_naming_what_exists() {
    let (sim, room) = start().await;
    sim.add_template("follow_up", "id", "Halo {{1}}");
    let channel = sim_channel(&sim, Arc::new(MemoryCredentials::new()));
    let to = to_room(&room);
    let err = channel
        .send(&to, &template("nope", "id", &["x"]))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("no WhatsApp template named \"nope\""),
        "{err}"
    );
    let err = channel
        .send(&to, &template("follow_up", "en", &["x"]))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("has no language \"en\" (it has id)"),
        "{err}"
    );
    assert!(sim.direct_broadcasts().is_empty());
}

#[tokio::test]
async fn sent_message_is_found_again_in_the_room_history() {
    let (sim, room) = start().await;
    let channel = sim_channel(&sim, Arc::new(MemoryCredentials::new()));
    let since = Utc::now() - Duration::seconds(5);
    let to = to_room(&room);
    sim.customer_text(&room, "Where is my order?");
    let sent = channel.send(&to, &text("On its way")).await.unwrap();

    let found = channel
        .find_sent(&to, since, &text("On its way"))
        .await
        .unwrap();
    assert_eq!(found, Some(sent.id));
    let other = channel
        .find_sent(&to, since, &text("Where is my order?"))
        .await
        .unwrap();
    assert_eq!(other, None, "the customer's message is not ours");
    let later = channel
        .find_sent(&to, Utc::now() + Duration::hours(1), &text("On its way"))
        .await
        .unwrap();
    assert_eq!(later, None);
}

#[tokio::test]
async fn a_sent_file_is_told_apart_from_another_file_of_the_same_kind() {
    let (sim, room) = start().await;
    let channel = sim_channel(&sim, Arc::new(MemoryCredentials::new()));
    let since = Utc::now() - Duration::seconds(5);
    let to = to_room(&room);
    let first = media(MediaKind::Image, "image/png", "first.png", 1000);
    let second = media(MediaKind::Image, "image/png", "second.png", 2000);
    let sent = channel.send(&to, &first).await.unwrap();

    let found = channel.find_sent(&to, since, &first).await.unwrap();
    assert_eq!(found, Some(sent.id));
    let other = channel.find_sent(&to, since, &second).await.unwrap();
    assert_eq!(other, None, "only the first file was sent");
}

#[tokio::test]
async fn resolve_and_register_reach_qontak() {
    let (sim, room) = start().await;
    let channel = sim_channel(&sim, Arc::new(MemoryCredentials::new()));
    channel.resolve(&ConversationKey::new(&room)).await.unwrap();
    assert_eq!(sim.resolved_rooms(), std::slice::from_ref(&room));
    assert_eq!(sim.room(&room).unwrap()["status"], "resolved");

    // Registration is offered; acknowledging polled events is not (and refused if called).
    assert_eq!(
        channel.capabilities(),
        ChannelCapabilities {
            webhook_registration: true,
            poll_acknowledgement: false,
        }
    );
    let ack = channel
        .acknowledge(&PollBatch::default())
        .await
        .unwrap_err();
    assert!(
        ack.to_string()
            .contains("does not offer poll_acknowledgement"),
        "{ack}"
    );
    let url = "https://bridge.example/webhooks/qontak/jakarta?auth=s3cret";
    assert_eq!(
        channel.register_webhooks(url).await.unwrap(),
        Registration::Created
    );
    let registered = sim.registrations();
    assert_eq!(
        registered.message_interactions.unwrap(),
        json!({"receive_message_from_agent": true, "receive_message_from_customer": true,
               "status_message": true, "broadcast_log_status": true, "url": url})
    );
    assert_eq!(
        registered.room_interactions.unwrap(),
        json!({"room_resolved": true, "url": url})
    );
}

#[tokio::test]
async fn customer_files_are_downloaded_and_uploads_are_stored() {
    let (sim, room) = start().await;
    let mut channel = sim_channel(&sim, Arc::new(MemoryCredentials::new()));
    let file = SimFile {
        filename: "voice.ogg".into(),
        mime_type: "audio/ogg".into(),
        bytes: b"OggS-bytes".to_vec(),
    };
    let body = sim.customer_media(&room, "audio", file, None);
    let events = channel.parse_webhook(&super::bytes(&body)).unwrap();
    let EventKind::CustomerMessage(message) = &events[0].kind else {
        panic!("expected a customer message");
    };
    let MessageBody::Media { media, .. } = &message.body else {
        panic!("expected media");
    };
    let downloaded = channel.fetch_media(media).await.unwrap();
    assert_eq!(downloaded.bytes, b"OggS-bytes");
    assert_eq!(downloaded.mime_type, "audio/ogg");
    assert_eq!(downloaded.filename, "voice.ogg");

    channel.set_max_media_bytes_for_tests(4);
    let err = channel.fetch_media(media).await.unwrap_err();
    assert!(err.to_string().contains("larger than"), "{err}");

    let upload = MediaFile {
        filename: "menu.pdf".into(),
        mime_type: "application/pdf".into(),
        bytes: b"%PDF".to_vec(),
    };
    let url = channel.upload_file(&upload).await.unwrap();
    assert_eq!(sim.file_at(&url).unwrap().bytes, b"%PDF");
}

#[tokio::test]
async fn the_token_goes_only_to_qontak_hosts() {
    let qontak = MockServer::start().await;
    let cdn = MockServer::start().await;
    for server in [&qontak, &cdn] {
        Mock::given(method("GET"))
            .and(path("/uploads/a.jpg"))
            .respond_with(ResponseTemplate::new(200).set_body_raw(b"jpg".to_vec(), "image/jpeg"))
            .mount(server)
            .await;
    }
    let channel = channel_at(&qontak.uri(), json!({}));
    for server in [&qontak, &cdn] {
        let reference = crate::domain::MediaRef {
            id: "m-1".into(),
            mime_type: None,
            sha256: None,
            filename: None,
            url: Some(format!("{}/uploads/a.jpg", server.uri())),
        };
        let file = channel.fetch_media(&reference).await.unwrap();
        assert_eq!(file.filename, "a.jpg");
    }
    let authorization = |requests: Vec<Request>| {
        requests[0]
            .headers
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_owned())
    };
    assert_eq!(
        authorization(qontak.received_requests().await.unwrap()).as_deref(),
        Some("Bearer configured-access-token")
    );
    assert_eq!(authorization(cdn.received_requests().await.unwrap()), None);
}
