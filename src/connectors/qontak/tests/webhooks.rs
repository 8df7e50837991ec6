//! Webhook bodies (Qontak's own samples and the simulator's) → events.

use super::{bytes, channel_at, fixture};
use crate::connectors::{ChannelConnector, WebhookError};
use crate::domain::{
    ConversationKey, ConversationUpdate, EventKind, ExternalId, InboundEvent, MediaKind,
    MessageBody,
};
use crate::sandbox::qontak::{QontakSim, SimFile, without_event_names};
use serde_json::{Value, json};

const OFFLINE: &str = "https://qontak.invalid";

fn sample(text: &str) -> Value {
    serde_json::from_str(text).expect("sample is JSON")
}

fn parse(value: &Value) -> Vec<InboundEvent> {
    channel_at(OFFLINE, json!({}))
        .parse_webhook(&bytes(value))
        .expect("webhook accepted")
}

#[test]
fn customer_text_sample_becomes_a_customer_message_of_its_room() {
    let body = sample(fixture!(
        "qontak_webhook_receive_message_from_customer_text_2021doc.json"
    ));
    let events = parse(&body);
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!(event.dedupe_key, "4198c4b2-d39d-45b5-ac9c-89bccb9513ec");
    assert_eq!(
        event.conversation,
        ConversationKey::new("e658411a-99aa-417d-8c6f-40e1594554a7")
    );
    assert_eq!(event.occurred_at.to_rfc3339(), "2021-03-03T22:53:29+00:00");
    let EventKind::CustomerMessage(message) = &event.kind else {
        panic!("expected a customer message, got {:?}", event.kind);
    };
    assert_eq!(message.contact.id, "628117661000");
    assert_eq!(message.contact.phone.as_deref(), Some("628117661000"));
    assert_eq!(message.contact.name.as_deref(), Some("Burhanudin"));
    assert_eq!(
        message.body,
        MessageBody::Text {
            text: "helo".into()
        }
    );
}

#[test]
fn event_names_and_a_data_wrapper_do_not_change_the_events() {
    let plain = sample(fixture!(
        "qontak_webhook_receive_message_from_customer_text_2021doc.json"
    ));
    let mut named = plain.clone();
    named["webhook_event"] = json!("message_interaction");
    named["data_event"] = json!("receive_message_from_customer");
    let wrapped = json!({"webhook_event": "message_interaction",
                         "data_event": "receive_message_from_customer", "data": plain});
    let expected = parse(&plain);
    assert_eq!(parse(&named), expected);
    assert_eq!(parse(&wrapped), expected);
}

#[test]
fn agent_read_status_without_event_name_gives_the_message_and_its_status() {
    let body = sample(fixture!(
        "qontak_webhook_status_message_agent_read_2021doc.json"
    ));
    let events = parse(&body);
    let keys: Vec<&str> = events.iter().map(|e| e.dedupe_key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "d27cc7ac-8281-438d-9cea-e74e627cea32",
            "status:d27cc7ac-8281-438d-9cea-e74e627cea32:read"
        ]
    );
    let EventKind::AgentMessage(agent) = &events[0].kind else {
        panic!("expected an agent message, got {:?}", events[0].kind);
    };
    assert_eq!(agent.author.as_deref(), Some("Agent One"));
    assert_eq!(
        agent.alt_remote_id,
        Some(ExternalId::new("gBEGYoEXZhAAAglXDyY42p1Do6I"))
    );
    let EventKind::Status(status) = &events[1].kind else {
        panic!("expected a status, got {:?}", events[1].kind);
    };
    assert_eq!(status.status, "read");
    assert_eq!(status.recipient, "628117661000");
    assert_eq!(
        status.message_id,
        ExternalId::new("d27cc7ac-8281-438d-9cea-e74e627cea32")
    );
}

#[test]
fn named_status_message_is_only_a_status() {
    let mut body = sample(fixture!(
        "qontak_webhook_status_message_agent_read_2021doc.json"
    ));
    body["data_event"] = json!("status_message");
    let events = parse(&body);
    assert_eq!(events.len(), 1);
    assert!(matches!(&events[0].kind, EventKind::Status(s) if s.status == "read"));
}

#[test]
fn campaign_message_is_kept_apart_from_agent_replies() {
    let body = sample(fixture!(
        "qontak_webhook_status_message_broadcast_sent_2021doc.json"
    ));
    let events = parse(&body);
    assert!(
        matches!(&events[0].kind, EventKind::Other { name, .. } if name == "campaign_message"),
        "{:?}",
        events[0].kind
    );
    assert!(matches!(&events[1].kind, EventKind::Status(s) if s.status == "sent"));
}

#[tokio::test]
async fn simulated_bodies_of_every_kind_are_understood() {
    let sim = QontakSim::start().await.unwrap();
    let room = sim.add_room("628111222333", "Siti");
    let customer = sim.customer_text(&room, "Halo, pesanan saya?");
    let agent = sim.agent_text(&room, "Agent Two", "Sebentar ya");
    let agent_id = agent["id"].as_str().unwrap().to_owned();
    let status = sim.message_status(&agent_id, "delivered").unwrap();
    let resolved = sim.resolve_room_by_agent(&room);

    let kinds: Vec<String> = [&customer, &agent, &status, &resolved]
        .into_iter()
        .flat_map(parse)
        .map(|e| e.kind.name().to_owned())
        .collect();
    assert_eq!(
        kinds,
        ["customer_message", "agent_message", "status", "resolved"]
    );
    let resolved_events = parse(&resolved);
    assert_eq!(resolved_events[0].conversation, ConversationKey::new(&room));
    assert!(matches!(
        resolved_events[0].kind,
        EventKind::ConversationUpdate(ConversationUpdate::Resolved { resolved: true })
    ));
}

#[test]
fn resolved_room_has_the_same_key_in_the_seed_shape_and_as_a_room_object() {
    let seed = json!({"event_type": "room_resolved", "data": {
        "room_id": "room-1", "resolved_at": "2023-10-27T10:15:00Z", "resolved_by": "agent-x"}});
    let room_object = json!({"webhook_event": "room_interaction", "data_event": "room_resolved",
        "id": "room-1", "status": "resolved", "session": "open",
        "account_uniq_id": "62811", "resolved_at": "2023-10-27T10:15:00.000Z"});
    let a = parse(&seed);
    let b = parse(&room_object);
    assert_eq!(a[0].dedupe_key, "room_resolved:room-1:1698401700");
    assert_eq!(a, b);
}

#[tokio::test]
async fn broadcast_log_goes_to_the_room_of_its_phone_once_that_room_is_known() {
    let channel = channel_at(OFFLINE, json!({}));
    let log = json!({"id": "log-1", "messages_broadcast_id": "b-1", "status": "delivered",
        "contact_phone_number": "628117661000", "whatsapp_message_id": "wamid.X",
        "data_event": "broadcast_log_status", "webhook_event": "message_interaction"});
    let before = channel.parse_webhook(&bytes(&log)).unwrap();
    assert_eq!(before[0].conversation, ConversationKey::new("_channel"));
    assert_eq!(before[0].dedupe_key, "broadcast_log:log-1:delivered");
    assert!(
        matches!(&before[0].kind, EventKind::Other { name, .. } if name == "broadcast_log_status")
    );

    let customer = fixture!("qontak_webhook_receive_message_from_customer_text_2021doc.json");
    channel.parse_webhook(customer.as_bytes()).unwrap();
    let after = channel
        .parse_webhook(&bytes(&without_event_names(&log)))
        .unwrap();
    assert_eq!(
        after[0].conversation,
        ConversationKey::new("e658411a-99aa-417d-8c6f-40e1594554a7")
    );
}

#[tokio::test]
async fn customer_file_from_the_simulator_is_a_media_message_with_its_link() {
    let sim = QontakSim::start().await.unwrap();
    let room = sim.add_room("628111222333", "Siti");
    let file = SimFile {
        filename: "invoice.pdf".into(),
        mime_type: "application/pdf".into(),
        bytes: b"%PDF-1.4".to_vec(),
    };
    let body = sim.customer_media(&room, "document", file, Some("my invoice"));
    let events = parse(&body);
    let EventKind::CustomerMessage(message) = &events[0].kind else {
        panic!("expected a customer message");
    };
    let MessageBody::Media {
        kind,
        media,
        caption,
    } = &message.body
    else {
        panic!("expected media, got {:?}", message.body);
    };
    assert_eq!(*kind, MediaKind::Document);
    assert_eq!(caption.as_deref(), Some("my invoice"));
    assert_eq!(media.filename.as_deref(), Some("invoice.pdf"));
    assert!(media.url.as_deref().unwrap().starts_with(&sim.base_url()));
}

#[test]
fn undocumented_media_fields_are_all_read() {
    let base = json!({"id": "m-1", "room_id": "r-1", "participant_type": "customer",
                      "sender_type": "Models::Contact", "type": "image"});
    let variants = [
        json!({"file": {"url": "https://cdn.example/a.jpg", "filename": "a.jpg",
                        "content_type": "image/jpeg"}}),
        json!({"file": "https://cdn.example/a.jpg"}),
        json!({"url": "https://cdn.example/a.jpg"}),
        json!({"media": {"url": "https://cdn.example/a.jpg", "mime_type": "image/jpeg"}}),
    ];
    for extra in variants {
        let mut body = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let events = parse(&body);
        let EventKind::CustomerMessage(message) = &events[0].kind else {
            panic!("expected a customer message for {extra}");
        };
        match &message.body {
            MessageBody::Media { kind, media, .. } => {
                assert_eq!(*kind, MediaKind::Image, "{extra}");
                assert_eq!(
                    media.url.as_deref(),
                    Some("https://cdn.example/a.jpg"),
                    "{extra}"
                );
            }
            other => panic!("expected media for {extra}, got {other:?}"),
        }
    }
    let mut no_link = base.clone();
    no_link["text"] = json!("see photo");
    let events = parse(&no_link);
    let EventKind::CustomerMessage(message) = &events[0].kind else {
        panic!("expected a customer message");
    };
    assert_eq!(
        message.body,
        MessageBody::Rendered {
            text: "(image without a file link) see photo".into()
        }
    );
}

#[test]
fn room_tags_and_session_are_taken_from_the_room() {
    let channel = channel_at(OFFLINE, json!({}));
    let mut body = sample(fixture!(
        "qontak_webhook_receive_message_from_customer_text_2021doc.json"
    ));
    body["room"]["tags"] = json!(["vip", {"name": "billing"}]);
    body["room"]["session"] = json!("expiring");
    let events = channel.parse_webhook(&bytes(&body)).unwrap();
    let EventKind::CustomerMessage(message) = &events[0].kind else {
        panic!("expected a customer message");
    };
    assert_eq!(message.tags, ["vip", "billing"]);
    assert_eq!(
        channel
            .known_session(&ConversationKey::new(
                "e658411a-99aa-417d-8c6f-40e1594554a7"
            ))
            .as_deref(),
        Some("expiring")
    );
}

#[test]
fn rooms_of_another_integration_or_channel_are_ignored() {
    let channel = channel_at(OFFLINE, json!({"channel_integration_id": "mine"}));
    let body = fixture!("qontak_webhook_receive_message_from_customer_text_2021doc.json");
    assert!(channel.parse_webhook(body.as_bytes()).unwrap().is_empty());
    let ours = channel_at(
        OFFLINE,
        json!({"channel_integration_id": "b3a2ee0b-7dac-47b8-a115-7bc63abf8f15"}),
    );
    assert_eq!(ours.parse_webhook(body.as_bytes()).unwrap().len(), 1);

    let mut instagram: Value = serde_json::from_str(body).unwrap();
    instagram["room"]["channel"] = json!("ig");
    let any_integration = channel_at(OFFLINE, json!({}));
    assert!(
        any_integration
            .parse_webhook(&bytes(&instagram))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn bodies_that_are_not_qontak_webhooks_are_refused() {
    let channel = channel_at(OFFLINE, json!({}));
    assert!(matches!(
        channel.parse_webhook(b"not json"),
        Err(WebhookError::InvalidJson(_))
    ));
    for body in [
        json!([1, 2]),
        json!({"hello": "world"}),
        json!({"id": "m-1", "room_id": "r-1", "sender_type": "Models::Robot"}),
        json!({"data_event": "receive_message_from_customer", "room_id": "r-1"}),
    ] {
        let refused = channel.parse_webhook(&bytes(&body));
        assert!(
            matches!(refused, Err(WebhookError::Unrecognized(_))),
            "{body}: {refused:?}"
        );
    }
}

#[test]
fn other_named_events_are_kept_and_deduplicated_by_their_body() {
    let body = json!({"data_event": "agent_assigned_to_room", "room_id": "r-9", "agent": "x"});
    let first = parse(&body);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].conversation, ConversationKey::new("r-9"));
    assert!(
        matches!(&first[0].kind, EventKind::Other { name, .. } if name == "agent_assigned_to_room")
    );
    assert_eq!(parse(&body)[0].dedupe_key, first[0].dedupe_key);
}
