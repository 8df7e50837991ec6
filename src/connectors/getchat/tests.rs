//! The connector against wiremock: settings, auth, media download and how answers are read.
//! Sending and catching up run against the get.chat simulator (`tests/sending.rs`,
//! `tests/catchup.rs`).

use super::channel::api_base_url;
use super::files::decode_checksum;
use super::{GetchatBuildError, GetchatChannel};
use crate::config::ChannelConfig;
use crate::connectors::{ChannelCapabilities, ChannelConnector, ConnectorError};
use crate::domain::{ConversationKey, MediaFile, MediaKind, MediaRef, OutboundBody, Recipient};
use base64::Engine as _;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use wiremock::matchers::{body_json, body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn channel_config(settings: Value) -> ChannelConfig {
    let mut base = json!({"id": "sales", "kind": "getchat", "base_url": "https://x.example"});
    for (key, value) in settings.as_object().unwrap() {
        base[key] = value.clone();
    }
    serde_json::from_value(base).unwrap()
}

fn channel(server: &MockServer, credentials: Value) -> GetchatChannel {
    let mut settings = credentials;
    settings["base_url"] = json!(server.uri());
    GetchatChannel::new(&channel_config(settings)).unwrap()
}

fn media(id: &str) -> MediaRef {
    MediaRef {
        id: id.into(),
        mime_type: None,
        sha256: None,
        filename: None,
        url: None,
    }
}

async fn serve_media(server: &MockServer, id: &str, bytes: &[u8], mime: &str) {
    Mock::given(method("GET"))
        .and(path(format!("/api/v1/media/{id}")))
        .and(header("Authorization", "Token secret-token"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(bytes.to_vec(), mime))
        .mount(server)
        .await;
}

#[test]
fn base_url_gets_api_v1_exactly_once() {
    let cases = [
        (
            "https://acme.inbox.getchat.360dialog.io",
            "https://acme.inbox.getchat.360dialog.io/api/v1/",
        ),
        ("https://acme.example/", "https://acme.example/api/v1/"),
        (
            "https://acme.example/api/v1/",
            "https://acme.example/api/v1/",
        ),
        (
            "https://acme.example/api/v1",
            "https://acme.example/api/v1/",
        ),
        ("https://acme.example/api", "https://acme.example/api/v1/"),
        (
            "http://127.0.0.1:9000/prefix?x=1",
            "http://127.0.0.1:9000/prefix/api/v1/",
        ),
    ];
    for (input, want) in cases {
        let got = api_base_url(&url::Url::parse(input).unwrap()).unwrap();
        assert_eq!(got.as_str(), want, "{input}");
    }
}

#[test]
fn settings_without_credentials_or_of_another_kind_are_refused() {
    let err = GetchatChannel::new(&channel_config(json!({}))).unwrap_err();
    assert!(
        matches!(err, GetchatBuildError::MissingCredentials { .. }),
        "{err}"
    );
    let err = GetchatChannel::new(&channel_config(json!({"username": "bot"}))).unwrap_err();
    assert!(
        matches!(err, GetchatBuildError::MissingCredentials { .. }),
        "{err}"
    );
    let err =
        GetchatChannel::new(&channel_config(json!({"kind": "qontak", "token": "t"}))).unwrap_err();
    assert!(matches!(err, GetchatBuildError::WrongKind { .. }), "{err}");
}

#[test]
fn channel_reports_its_id_and_vendor_and_parses_webhooks() {
    let channel = GetchatChannel::new(&channel_config(json!({"token": "t"}))).unwrap();
    assert_eq!(channel.channel_id().as_str(), "sales");
    assert_eq!(channel.vendor(), "getchat");
    assert_eq!(
        channel.parse_webhook(br#"{"messages": []}"#).unwrap(),
        vec![]
    );
    assert!(!format!("{channel:?}").contains("\"t\""));
}

#[test]
fn checksums_decode_from_hex_and_base64() {
    let digest: [u8; 32] = Sha256::digest(b"abc").into();
    let hex = hex::encode(digest);
    assert_eq!(decode_checksum(&hex), Some(digest));
    assert_eq!(decode_checksum(&hex.to_uppercase()), Some(digest));
    let b64 = base64::engine::general_purpose::STANDARD.encode(digest);
    assert_eq!(decode_checksum(&b64), Some(digest));
    assert_eq!(decode_checksum(b64.trim_end_matches('=')), Some(digest));
    assert_eq!(decode_checksum("4654+8g="), None);
}

#[tokio::test]
async fn media_is_downloaded_with_the_token_and_named_after_its_type() {
    let server = MockServer::start().await;
    serve_media(&server, "abc-123", b"\xff\xd8jpeg", "image/jpeg").await;
    let channel = channel(&server, json!({"token": "secret-token"}));
    let file = channel.fetch_media(&media("abc-123")).await.unwrap();
    assert_eq!(file.bytes, b"\xff\xd8jpeg");
    assert_eq!(file.mime_type, "image/jpeg");
    assert_eq!(file.filename, "image-abc-123.jpg");
}

#[tokio::test]
async fn document_keeps_its_filename_and_falls_back_to_the_announced_mime() {
    let server = MockServer::start().await;
    serve_media(&server, "doc1", b"%PDF", "application/octet-stream").await;
    let channel = channel(&server, json!({"token": "secret-token"}));
    let mut document = media("doc1");
    document.filename = Some("../invoice 7.pdf".into());
    document.mime_type = Some("application/pdf".into());
    let file = channel.fetch_media(&document).await.unwrap();
    assert_eq!(file.filename, "invoice 7.pdf");
    assert_eq!(file.mime_type, "application/pdf");
}

#[tokio::test]
async fn link_on_the_instance_is_used_and_foreign_links_are_not() {
    let server = MockServer::start().await;
    serve_media(&server, "by-link", b"one", "audio/ogg").await;
    serve_media(&server, "by-id", b"two", "audio/ogg").await;
    let channel = channel(&server, json!({"token": "secret-token"}));
    let mut own = media("ignored");
    own.url = Some(format!(
        "{}/api/v1/media/by-link?mime_type_type=audio",
        server.uri()
    ));
    assert_eq!(channel.fetch_media(&own).await.unwrap().bytes, b"one");
    let mut foreign = media("by-id");
    foreign.url = Some("https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1".into());
    assert_eq!(channel.fetch_media(&foreign).await.unwrap().bytes, b"two");
}

#[tokio::test]
async fn matching_hex_and_base64_checksums_are_accepted() {
    let server = MockServer::start().await;
    serve_media(&server, "m1", b"payload", "video/mp4").await;
    let channel = channel(&server, json!({"token": "secret-token"}));
    let digest = Sha256::digest(b"payload");
    for checksum in [
        hex::encode(digest),
        base64::engine::general_purpose::STANDARD.encode(digest),
    ] {
        let mut announced = media("m1");
        announced.sha256 = Some(checksum);
        let file = channel.fetch_media(&announced).await.unwrap();
        assert_eq!(file.filename, "video-m1.mp4");
    }
}

#[tokio::test]
async fn checksum_mismatch_is_transient() {
    let server = MockServer::start().await;
    serve_media(&server, "m2", b"corrupted", "image/png").await;
    let channel = channel(&server, json!({"token": "secret-token"}));
    let mut announced = media("m2");
    announced.sha256 = Some(hex::encode(Sha256::digest(b"original")));
    let err = channel.fetch_media(&announced).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Transient { .. }), "{err}");
    assert!(err.to_string().contains("checksum did not match"), "{err}");
}

#[tokio::test]
async fn error_answers_are_classified() {
    let server = MockServer::start().await;
    let cases = [
        (404, "missing"),
        (500, "broken"),
        (429, "busy"),
        (400, "bad"),
    ];
    for (status, id) in cases {
        Mock::given(method("GET"))
            .and(path(format!("/api/v1/media/{id}")))
            .respond_with(
                ResponseTemplate::new(status)
                    .insert_header("Retry-After", "7")
                    .set_body_json(json!({"detail": "nope"})),
            )
            .mount(&server)
            .await;
    }
    let channel = channel(&server, json!({"token": "secret-token"}));
    let err = channel.fetch_media(&media("missing")).await.unwrap_err();
    assert!(matches!(err, ConnectorError::NotFound { .. }), "{err}");
    assert!(err.to_string().contains("nope"));
    let err = channel.fetch_media(&media("broken")).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Transient { .. }), "{err}");
    let err = channel.fetch_media(&media("busy")).await.unwrap_err();
    assert_eq!(err.retry_after(), Some(std::time::Duration::from_secs(7)));
    let err = channel.fetch_media(&media("bad")).await.unwrap_err();
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
}

#[tokio::test]
async fn files_over_the_limit_are_refused_as_permanent() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/media/huge"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(vec![0u8; 64], "video/mp4"))
        .mount(&server)
        .await;
    let mut channel = channel(&server, json!({"token": "secret-token"}));
    channel.set_max_media_bytes_for_tests(32);
    let err = channel.fetch_media(&media("huge")).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Permanent { .. }), "{err}");
    assert!(err.to_string().contains("larger than"), "{err}");
}

#[tokio::test]
async fn username_and_password_log_in_before_the_first_call() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/auth/token/"))
        .and(body_json(json!({"username": "bot", "password": "pw"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"token": "secret-token"})))
        .expect(1)
        .mount(&server)
        .await;
    serve_media(&server, "m3", b"x", "image/png").await;
    let channel = channel(&server, json!({"username": "bot", "password": "pw"}));
    channel.fetch_media(&media("m3")).await.unwrap();
    channel.fetch_media(&media("m3")).await.unwrap();
}

#[tokio::test]
async fn a_refused_token_leads_to_one_new_login_and_a_repeat() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/media/m4"))
        .and(header("Authorization", "Token stale"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"detail": "Invalid token."})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/auth/token/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"token": "secret-token"})))
        .expect(1)
        .mount(&server)
        .await;
    serve_media(&server, "m4", b"fresh", "image/png").await;
    let channel = channel(
        &server,
        json!({"token": "stale", "username": "bot", "password": "pw"}),
    );
    assert_eq!(
        channel.fetch_media(&media("m4")).await.unwrap().bytes,
        b"fresh"
    );
}

#[tokio::test]
async fn a_refused_static_token_is_an_auth_error_and_bad_credentials_too() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/auth/token/"))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"non_field_errors": ["Unable to log in with provided credentials."]}),
        ))
        .mount(&server)
        .await;
    let static_only = channel(&server, json!({"token": "stale"}));
    let err = static_only.fetch_media(&media("m5")).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Auth { .. }), "{err}");
    let with_login = channel(&server, json!({"username": "bot", "password": "wrong"}));
    let err = with_login.fetch_media(&media("m5")).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Auth { .. }), "{err}");
    assert!(err.to_string().contains("Unable to log in"), "{err}");
}

fn recipient(wa_id: &str) -> Recipient {
    Recipient {
        conversation: ConversationKey::new(wa_id),
        phone: Some(wa_id.into()),
        name: None,
    }
}

#[tokio::test]
async fn send_takes_200_201_and_202_as_success_and_453_as_a_closed_window() {
    let server = MockServer::start().await;
    let body = json!({"wa_id": "48123", "type": "text", "text": {"body": "Hi"}});
    for (status, id) in [(200, "uuid-200"), (201, "uuid-201"), (202, "uuid-202")] {
        Mock::given(method("POST"))
            .and(path("/api/v1/messages/"))
            .and(header("Authorization", "Token secret-token"))
            .and(body_json(&body))
            .respond_with(
                ResponseTemplate::new(status)
                    .set_body_json(json!({"id": id, "reason": "Message is saved."})),
            )
            .up_to_n_times(1)
            .mount(&server)
            .await;
    }
    Mock::given(method("POST"))
        .and(path("/api/v1/messages/"))
        .respond_with(
            ResponseTemplate::new(453).set_body_json(json!({"reason": "24h window closed"})),
        )
        .mount(&server)
        .await;
    let channel = channel(&server, json!({"token": "secret-token"}));
    let text = OutboundBody::Text { text: "Hi".into() };
    let mut ids = Vec::new();
    for _ in 0..3 {
        let sent = channel.send(&recipient("48123"), &text).await.unwrap();
        assert_eq!(sent.alt_id, None);
        ids.push(sent.id.to_string());
    }
    ids.sort();
    assert_eq!(ids, ["uuid-200", "uuid-201", "uuid-202"]);
    let err = channel.send(&recipient("48123"), &text).await.unwrap_err();
    match &err {
        ConnectorError::WindowClosed { message, .. } => assert_eq!(message, "24h window closed"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn upload_posts_the_file_as_file_encoded_and_a_413_says_the_file_is_too_large() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/media/"))
        .and(body_string_contains(
            "name=\"file_encoded\"; filename=\"photo.jpg\"",
        ))
        .and(body_string_contains("Content-Type: image/jpeg"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({
            "file": format!("{}/api/v1/media/5e26?mime_type_type=image&mime_type_subtype=jpeg", server.uri()),
            "id": "5e26"
        })))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/media/"))
        .respond_with(ResponseTemplate::new(413).set_body_string("Request Entity Too Large"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/messages/"))
        .and(body_string_contains("/api/v1/media/5e26?"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": "m-1"})))
        .expect(1)
        .mount(&server)
        .await;
    let channel = channel(&server, json!({"token": "secret-token"}));
    let photo = OutboundBody::Media {
        kind: MediaKind::Image,
        file: MediaFile {
            filename: "photo.jpg".into(),
            mime_type: "image/jpeg".into(),
            bytes: b"jpegdata".to_vec(),
        },
        caption: None,
    };
    let sent = channel.send(&recipient("48123"), &photo).await.unwrap();
    assert_eq!(sent.id.as_str(), "m-1");
    let err = channel.send(&recipient("48123"), &photo).await.unwrap_err();
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
}

mod catchup;
mod sending;

#[tokio::test]
async fn a_media_id_far_too_long_for_a_url_is_a_permanent_error() {
    let server = MockServer::start().await;
    let channel = channel(&server, json!({"token": "secret-token"}));
    let err = channel
        .fetch_media(&media(&"9".repeat(200_000)))
        .await
        .unwrap_err();
    assert_eq!(
        err.class(),
        crate::connectors::ErrorClass::DeadLetter,
        "{err:?}"
    );
    assert!(matches!(err, ConnectorError::Permanent { .. }), "{err:?}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn webhooks_are_configured_in_the_panel_and_polls_are_acknowledged() {
    let server = MockServer::start().await;
    let channel = channel(&server, json!({"token": "t"}));
    assert_eq!(
        channel.capabilities(),
        ChannelCapabilities {
            webhook_registration: false,
            poll_acknowledgement: true,
        }
    );
    // Not offered, so refused if called anyway, without a request to get.chat.
    let err = channel
        .register_webhooks("https://bridge.example/webhooks/getchat/sales")
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("does not offer webhook_registration"),
        "{err}"
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}
