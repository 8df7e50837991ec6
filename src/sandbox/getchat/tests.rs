//! The simulator refuses what get.chat refuses, and the get.chat connector works against it.

use super::*;
use crate::connectors::ChannelConnector;
use crate::connectors::ConnectorError;
use crate::connectors::getchat::GetchatChannel;
use crate::domain::{
    ConversationKey, EventKind, MediaFile, MediaKind, MediaRef, MessageBody, OutboundBody,
    Recipient,
};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

fn auth(sim: &GetchatSim) -> String {
    format!("Token {}", sim.token())
}

async fn post_message(sim: &GetchatSim, body: &Value) -> (StatusCode, Value) {
    let response = http()
        .post(format!("{}messages/", sim.api_url()))
        .header("Authorization", auth(sim))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn channel(sim: &GetchatSim, credentials: Value) -> GetchatChannel {
    let mut settings = json!({"id": "sales", "kind": "getchat", "base_url": sim.base_url()});
    for (key, value) in credentials.as_object().unwrap() {
        settings[key] = value.clone();
    }
    GetchatChannel::new(&serde_json::from_value(settings).unwrap()).unwrap()
}

#[tokio::test]
async fn login_hands_out_the_token_only_for_the_right_credentials() {
    let sim = GetchatSim::start().await.unwrap();
    let url = format!("{}auth/token/", sim.api_url());
    let ok = http()
        .post(&url)
        .json(&json!({"username": USERNAME, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(ok.json::<Value>().await.unwrap()["token"], sim.token());
    for body in [
        json!({"username": USERNAME, "password": "wrong"}),
        json!({"username": USERNAME}),
    ] {
        let refused = http().post(&url).json(&body).send().await.unwrap();
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{body}");
    }
}

#[tokio::test]
async fn media_download_needs_the_token_and_a_known_id() {
    let sim = GetchatSim::start().await.unwrap();
    let id = sim.add_media(b"png-bytes".to_vec(), "image/png");
    let url = format!("{}media/{id}", sim.api_url());
    let anonymous = http().get(&url).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let wrong = http()
        .get(&url)
        .header("Authorization", "Token nope")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let bearer = http()
        .get(&url)
        .bearer_auth(sim.token())
        .send()
        .await
        .unwrap();
    assert_eq!(bearer.status(), StatusCode::UNAUTHORIZED);
    let unknown = http()
        .get(format!("{}media/unknown", sim.api_url()))
        .header("Authorization", auth(&sim))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let ok = http()
        .get(&url)
        .header("Authorization", auth(&sim))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(ok.headers()["content-type"], "image/png");
    assert_eq!(ok.bytes().await.unwrap().as_ref(), b"png-bytes");
}

#[tokio::test]
async fn upload_requires_file_encoded_and_respects_the_size_cap() {
    let sim = GetchatSim::start().await.unwrap();
    let url = format!("{}media/", sim.api_url());
    let upload = |field: &'static str, bytes: Vec<u8>| {
        let part = reqwest::multipart::Part::bytes(bytes)
            .file_name("a.jpg")
            .mime_str("image/jpeg")
            .unwrap();
        http()
            .post(&url)
            .header("Authorization", auth(&sim))
            .multipart(reqwest::multipart::Form::new().part(field, part))
            .send()
    };
    assert_eq!(
        upload("file", b"x".to_vec()).await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    let not_multipart = http()
        .post(&url)
        .header("Authorization", auth(&sim))
        .json(&json!({"file_encoded": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(not_multipart.status(), StatusCode::BAD_REQUEST);
    sim.set_max_upload_bytes(4);
    assert_eq!(
        upload("file_encoded", b"too big".to_vec())
            .await
            .unwrap()
            .status(),
        StatusCode::PAYLOAD_TOO_LARGE
    );
    sim.set_max_upload_bytes(1024);
    let created = upload("file_encoded", b"jpeg".to_vec()).await.unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let answer: Value = created.json().await.unwrap();
    let id = answer["id"].as_str().unwrap();
    assert_eq!(
        answer["file"],
        format!(
            "{}media/{id}?mime_type_type=image&mime_type_subtype=jpeg",
            sim.api_url()
        )
    );
    let stored = sim.media(id).unwrap();
    assert_eq!(
        (stored.bytes.as_slice(), stored.filename.as_deref()),
        (&b"jpeg"[..], Some("a.jpg"))
    );
}

#[tokio::test]
async fn create_message_validates_like_the_create_message_schema() {
    let sim = GetchatSim::start().await.unwrap();
    let refused = [
        json!({"wa_id": "+48123", "type": "text", "text": {"body": "x"}}),
        json!({"type": "text", "text": {"body": "x"}}),
        json!({"wa_id": "48123", "type": "voice", "voice": {"link": "https://x"}}),
        json!({"wa_id": "48123", "type": "text"}),
        json!({"wa_id": "48123", "type": "text", "text": {"body": ""}}),
        json!({"wa_id": "48123", "type": "image", "image": {"caption": "no file"}}),
        json!({"wa_id": "48123", "type": "template", "template": {"name": "t"}}),
        json!({"wa_id": "48123", "type": "reaction", "reaction": {"emoji": "👍"}}),
    ];
    for body in refused {
        let (status, answer) = post_message(&sim, &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(answer["detail"].is_string(), "{body}: {answer}");
    }
    assert!(sim.sent_messages().is_empty());
    let anonymous = http()
        .post(format!("{}messages/", sim.api_url()))
        .json(&json!({"wa_id": "48123", "type": "text", "text": {"body": "x"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn seed_request_samples_are_accepted_and_recorded() {
    let sim = GetchatSim::start().await.unwrap();
    for sample in [
        include_str!("../../../tests/fixtures/getchat/getchat_create_message_request_text.json"),
        include_str!(
            "../../../tests/fixtures/getchat/getchat_create_message_request_image_link.CONSTRUCTED.json"
        ),
    ] {
        let body: Value = serde_json::from_str(sample).unwrap();
        let (status, answer) = post_message(&sim, &body).await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
        assert!(answer["id"].is_string());
    }
    let sent = sim.sent_messages();
    assert_eq!(sent.len(), 2);
    assert_eq!(
        (sent[0].wa_id.as_str(), sent[0].message_type.as_str()),
        ("919800000002", "text")
    );
    assert_eq!(sent[1].body["image"]["mime_type"], "image/jpeg");
}

#[tokio::test]
async fn a_closed_window_answers_453_except_for_templates() {
    let sim = GetchatSim::start().await.unwrap();
    sim.close_window("48123");
    let (status, answer) = post_message(
        &sim,
        &json!({"wa_id": "48123", "type": "text", "text": {"body": "late"}}),
    )
    .await;
    assert_eq!(status.as_u16(), 453);
    assert_eq!(answer["reason"], "24h window closed");
    let template = json!({"wa_id": "48123", "type": "template",
        "template": {"name": "follow_up", "language": {"code": "en"}}});
    assert_eq!(post_message(&sim, &template).await.0, StatusCode::CREATED);
    sim.open_window("48123");
    let (status, _) = post_message(
        &sim,
        &json!({"wa_id": "48123", "type": "text", "text": {"body": "hi"}}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn list_messages_filters_and_paginates_newest_first() {
    let sim = GetchatSim::start().await.unwrap();
    sim.add_incoming_message("48111", "Ann", "wamid.1", "one", 1_700_000_001);
    sim.add_incoming_message("48111", "Ann", "wamid.2", "two", 1_700_000_002);
    sim.add_incoming_message("48222", "Bob", "wamid.3", "three", 1_700_000_003);
    let get = |query: &'static str| {
        let url = format!("{}messages/?{query}", sim.api_url());
        let token = auth(&sim);
        async move {
            let response = http()
                .get(url)
                .header("Authorization", token)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            response.json::<Value>().await.unwrap()
        }
    };
    let wamids = |page: &Value| -> Vec<String> {
        page["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["waba_payload"]["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let all = get("").await;
    assert_eq!(all["count"], 3);
    assert_eq!(wamids(&all), ["wamid.3", "wamid.2", "wamid.1"]);
    assert_eq!(wamids(&get("wa_id=48111").await), ["wamid.2", "wamid.1"]);
    assert_eq!(
        wamids(&get("since_time=1700000002").await),
        ["wamid.3", "wamid.2"]
    );
    assert_eq!(wamids(&get("before_time=1700000002").await), ["wamid.1"]);
    let first = get("limit=2").await;
    assert_eq!(wamids(&first), ["wamid.3", "wamid.2"]);
    assert!(first["previous"].is_null());
    let next = first["next"].as_str().unwrap();
    assert!(
        next.contains("offset=2") && next.starts_with(&sim.api_url()),
        "{next}"
    );
    let second = get("limit=2&offset=2").await;
    assert_eq!(wamids(&second), ["wamid.1"]);
    assert!(second["next"].is_null() && second["previous"].is_string());
    assert_eq!(
        all["results"][0]["contact"]["waba_payload"]["profile"]["name"],
        "Bob"
    );
}

#[tokio::test]
async fn resolve_chat_needs_a_boolean() {
    let sim = GetchatSim::start().await.unwrap();
    let url = format!("{}chats/48123/resolve", sim.api_url());
    let patch = |body: Value| {
        http()
            .patch(&url)
            .header("Authorization", auth(&sim))
            .json(&body)
            .send()
    };
    assert_eq!(
        patch(json!({})).await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    let ok = patch(json!({"resolved": true})).await.unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(
        ok.json::<Value>().await.unwrap(),
        json!({"wa_id": "48123", "resolved": true})
    );
    assert_eq!(sim.chat_resolved("48123"), Some(true));
    let slash = http()
        .patch(format!("{url}/"))
        .header("Authorization", auth(&sim))
        .json(&json!({"resolved": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(slash.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn injected_failures_fire_the_given_number_of_times_and_are_counted() {
    let sim = GetchatSim::start().await.unwrap();
    let body = json!({"wa_id": "48123", "type": "text", "text": {"body": "x"}});
    sim.fail_next("POST", "messages/", 503, 2);
    assert_eq!(
        post_message(&sim, &body).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        post_message(&sim, &body).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(post_message(&sim, &body).await.0, StatusCode::CREATED);
    assert_eq!(sim.request_count("POST", "messages/"), 3);
    assert_eq!(sim.request_count("post", "/api/v1/messages/"), 3);
    assert_eq!(sim.sent_messages().len(), 1);
    sim.lose_answer_next("POST", "messages/", 500, 1);
    assert_eq!(
        post_message(&sim, &body).await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(sim.sent_messages().len(), 2);
}

#[tokio::test]
async fn webhook_builders_produce_bodies_the_connector_accepts() {
    let sim = GetchatSim::start().await.unwrap();
    let channel = channel(&sim, json!({"token": sim.token()}));
    let parse = |body: Value| channel.parse_webhook(body.to_string().as_bytes()).unwrap();
    for body in [
        incoming_text_webhook("48123", "Ann", "wamid.A", "hello"),
        onprem_text_webhook("48123", "Ann", "wamid.A", "hello"),
        cloud_text_webhook("48123", "Ann", "wamid.A", "hello"),
    ] {
        let events = parse(body);
        assert_eq!(events.len(), 1);
        let EventKind::CustomerMessage(message) = &events[0].kind else {
            panic!()
        };
        assert_eq!(message.contact.name.as_deref(), Some("Ann"));
        assert_eq!(
            message.body,
            MessageBody::Text {
                text: "hello".into()
            }
        );
    }
    let media = WebhookMedia {
        kind: "voice".into(),
        id: "m1".into(),
        mime_type: "audio/ogg".into(),
        sha256: Some(sha256_hex(b"ogg")),
        caption: None,
        filename: None,
    };
    for body in [
        incoming_media_webhook("48123", "Ann", "wamid.B", &media),
        onprem_media_webhook("48123", "Ann", "wamid.B", &media),
        cloud_media_webhook("48123", "Ann", "wamid.B", &media),
    ] {
        let events = parse(body);
        let EventKind::CustomerMessage(message) = &events[0].kind else {
            panic!()
        };
        assert!(matches!(&message.body, MessageBody::Media { media, .. } if media.id == "m1"));
    }
    assert_eq!(
        parse(status_webhook("wamid.C", Some("g1"), "48123", "read"))[0].dedupe_key,
        "status:wamid.C:read"
    );
    let outgoing = parse(outgoing_text_webhook("g2", "48123", "Ann", "hi"));
    assert_eq!(outgoing[0].dedupe_key, "outgoing:g2");
    assert!(
        matches!(&outgoing[0].kind, EventKind::AgentMessage(m) if m.remote_id.as_str() == "g2")
    );
    assert_eq!(
        parse(chat_resolved_webhook("48123", true))[0].kind.name(),
        "resolved"
    );
}

#[tokio::test]
async fn the_connector_downloads_verified_media_and_logs_in_again_after_expiry() {
    let sim = GetchatSim::start().await.unwrap();
    let channel = channel(&sim, json!({"username": USERNAME, "password": PASSWORD}));
    let id = sim.add_media(b"%PDF-1.7".to_vec(), "application/pdf");
    let mut media = MediaRef {
        id: id.clone(),
        mime_type: Some("application/pdf".into()),
        sha256: Some(sha256_base64(b"%PDF-1.7")),
        filename: Some("invoice.pdf".into()),
        url: None,
    };
    let file = channel.fetch_media(&media).await.unwrap();
    assert_eq!(
        (file.filename.as_str(), file.mime_type.as_str()),
        ("invoice.pdf", "application/pdf")
    );
    sim.expire_token();
    media.sha256 = Some(sha256_hex(b"%PDF-1.7"));
    assert_eq!(
        channel.fetch_media(&media).await.unwrap().bytes,
        b"%PDF-1.7"
    );
    assert_eq!(sim.request_count("POST", "auth/token/"), 2);
}

#[tokio::test]
async fn the_connector_uploads_sends_and_recognises_the_closed_window() {
    let sim = GetchatSim::start().await.unwrap();
    let channel = channel(&sim, json!({"token": sim.token()}));
    let to = Recipient {
        conversation: ConversationKey::new("48123"),
        phone: None,
        name: None,
    };
    let photo = OutboundBody::Media {
        kind: MediaKind::Image,
        file: MediaFile {
            filename: "photo.jpg".into(),
            mime_type: "image/jpeg".into(),
            bytes: b"jpeg".to_vec(),
        },
        caption: None,
    };
    let sent = channel.send(&to, &photo).await.unwrap();
    assert_eq!(sim.uploaded_media()[0].bytes, b"jpeg");
    assert_eq!(sim.sent_messages()[0].id, sent.id.as_str());
    sim.close_window("48123");
    let err = channel.send(&to, &photo).await.unwrap_err();
    assert!(matches!(err, ConnectorError::WindowClosed { .. }), "{err}");
}

#[tokio::test]
async fn upload_refuses_any_field_but_file_encoded() {
    let sim = GetchatSim::start().await.unwrap();
    let part = || {
        reqwest::multipart::Part::bytes(b"jpeg".to_vec())
            .file_name("a.jpg")
            .mime_str("image/jpeg")
            .unwrap()
    };
    let form = reqwest::multipart::Form::new()
        .part("file_encoded", part())
        .text("caption", "extra");
    let response = http()
        .post(format!("{}media/", sim.api_url()))
        .header("Authorization", auth(&sim))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(sim.uploaded_media().is_empty());
    let anonymous = http()
        .post(format!("{}media/", sim.api_url()))
        .multipart(reqwest::multipart::Form::new().part("file_encoded", part()))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn captions_are_refused_where_whatsapp_shows_none() {
    let sim = GetchatSim::start().await.unwrap();
    for body in [
        json!({"wa_id": "48123", "type": "audio", "audio": {"link": "https://x/a.ogg", "caption": "c"}}),
        json!({"wa_id": "48123", "type": "sticker", "sticker": {"id": "s1", "caption": "c"}}),
    ] {
        let (status, answer) = post_message(&sim, &body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            answer["detail"].as_str().unwrap().contains("caption"),
            "{answer}"
        );
    }
    let audio = json!({"wa_id": "48123", "type": "audio", "audio": {"link": "https://x/a.ogg"}});
    assert_eq!(post_message(&sim, &audio).await.0, StatusCode::CREATED);
}

#[tokio::test]
async fn sent_messages_are_listed_as_from_us_with_their_sender() {
    let sim = GetchatSim::start().await.unwrap();
    sim.add_incoming_message("48123", "Ann Lee", "wamid.in", "hi", 1_700_000_000);
    let body = json!({"wa_id": "48123", "type": "text", "text": {"body": "hello Ann"}});
    let (status, answer) = post_message(&sim, &body).await;
    assert_eq!(status, StatusCode::CREATED);
    let listed: Value = http()
        .get(format!(
            "{}messages/?wa_id=48123&from_us=true",
            sim.api_url()
        ))
        .header("Authorization", auth(&sim))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["count"], 1);
    let message = &listed["results"][0];
    assert_eq!(message["id"], answer["id"]);
    assert_eq!(message["from_us"], true);
    assert_eq!(message["customer_wa_id"], "48123");
    assert_eq!(message["waba_payload"]["to"], "48123");
    assert_eq!(message["waba_payload"]["text"]["body"], "hello Ann");
    assert!(
        message["waba_payload"]["id"]
            .as_str()
            .unwrap()
            .starts_with("gBGG")
    );
    assert!(message["waba_payload"]["timestamp"].is_i64());
    assert_eq!(message["sender"]["username"], USERNAME);
    assert_eq!(
        message["contact"]["waba_payload"]["profile"]["name"],
        "Ann Lee"
    );

    sim.queue_messages(true);
    let (status, answer) = post_message(&sim, &body).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert!(answer["id"].is_string());
}

#[tokio::test]
async fn mark_as_received_needs_both_fields_and_no_future_timestamp() {
    let sim = GetchatSim::start().await.unwrap();
    sim.add_incoming_message("48123", "Ann", "wamid.1", "a", 1_700_000_000);
    let post = |body: Value| {
        http()
            .post(format!("{}mark_as_received/", sim.api_url()))
            .header("Authorization", auth(&sim))
            .json(&body)
            .send()
    };
    let future = chrono::Utc::now().timestamp() + 3600;
    for body in [
        json!({"timestamp": 1_700_000_000}),
        json!({"customer_wa_id": "48123"}),
        json!({"customer_wa_id": "48123", "timestamp": "soon"}),
        json!({"customer_wa_id": "48123", "timestamp": future}),
    ] {
        let status = post(body.clone()).await.unwrap().status();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
    assert_eq!(sim.received_mark("48123"), None);
    let ok = post(json!({"customer_wa_id": "48123", "timestamp": 1_700_000_000}))
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::CREATED);
    assert_eq!(ok.json::<Value>().await.unwrap(), json!({}));
    post(json!({"customer_wa_id": "48123", "timestamp": 1_600_000_000}))
        .await
        .unwrap();
    assert_eq!(sim.received_mark("48123"), Some(1_700_000_000));
    let listed: Value = http()
        .get(format!("{}messages/?wa_id=48123", sim.api_url()))
        .header("Authorization", auth(&sim))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["results"][0]["received"], true);
}
