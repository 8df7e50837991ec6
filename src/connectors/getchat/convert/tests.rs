//! Every sample payload in `tests/fixtures/{wa,getchat}` through the webhook parser.

use super::super::webhook::parse_body;
use crate::domain::{
    ConversationUpdate, DeliveryStatus, EventKind, InboundEvent, MediaKind, MessageBody,
};
use chrono::{DateTime, TimeZone, Utc};

macro_rules! fixture {
    ($name:literal) => {
        (
            $name,
            include_str!(concat!("../../../../tests/fixtures/", $name)),
        )
    };
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap()
}

fn parse_one(name: &str, body: &str) -> InboundEvent {
    let events = parse_body(body.as_bytes(), now()).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(events.len(), 1, "{name}: {events:#?}");
    events.into_iter().next().unwrap()
}

/// What a sample's single customer message must become.
enum Expect {
    Text(&'static str),
    Media(MediaKind),
    Rendered(&'static str),
}

const CLOUD_INBOUND: &[((&str, &str), Expect)] = &[
    (
        fixture!("wa/wa_cloud_inbound_animated_sticker.json"),
        Expect::Media(MediaKind::Sticker),
    ),
    (
        fixture!("wa/wa_cloud_inbound_audio.json"),
        Expect::Media(MediaKind::Audio),
    ),
    (
        fixture!("wa/wa_cloud_inbound_chosen_location.json"),
        Expect::Rendered(
            "📍 Location: Facebook HQ, 1 Hacker Way, Menlo Park, CA 94025 — https://maps.google.com/?q=37.4611978,-122.2164385 (https://maps.google.com/?cid=2000000000000000000)",
        ),
    ),
    (
        fixture!("wa/wa_cloud_inbound_contacts.json"),
        Expect::Rendered(
            "Contact card: Chandler Bing, +1 555-555-5555\nContact card: Monica, +1 666-666-6666\nContact card: Rachel Green, +1 777-777-7777",
        ),
    ),
    (
        fixture!("wa/wa_cloud_inbound_current_location.json"),
        Expect::Rendered("📍 Location — https://maps.google.com/?q=12.25089,43.90539"),
    ),
    (
        fixture!("wa/wa_cloud_inbound_document.json"),
        Expect::Media(MediaKind::Document),
    ),
    (
        fixture!("wa/wa_cloud_inbound_forwarded.json"),
        Expect::Text("forwarded text"),
    ),
    (
        fixture!("wa/wa_cloud_inbound_forwarded_many_times.json"),
        Expect::Text("text forwarded many times"),
    ),
    (
        fixture!("wa/wa_cloud_inbound_image.json"),
        Expect::Media(MediaKind::Image),
    ),
    (
        fixture!("wa/wa_cloud_inbound_interactive_callback_button_button.json"),
        Expect::Rendered("Selected: title"),
    ),
    (
        fixture!("wa/wa_cloud_inbound_interactive_callback_button_quick_reply.json"),
        Expect::Rendered("Selected: title"),
    ),
    (
        fixture!(
            "wa/wa_cloud_inbound_interactive_callback_button_quick_reply_without_context.json"
        ),
        Expect::Rendered("Selected: title"),
    ),
    (
        fixture!("wa/wa_cloud_inbound_interactive_callback_selection_callback.json"),
        Expect::Rendered("Selected: title"),
    ),
    (
        fixture!("wa/wa_cloud_inbound_interactive_callback_selection_description.json"),
        Expect::Rendered("Selected: title — description"),
    ),
    (
        fixture!("wa/wa_cloud_inbound_interactive_message_with_err.json"),
        Expect::Rendered(
            "Unsupported message type (interactive): 131000: Something went wrong (Unsupported webhook payload)",
        ),
    ),
    (
        fixture!("wa/wa_cloud_inbound_media_with_url.json"),
        Expect::Media(MediaKind::Image),
    ),
    (
        fixture!("wa/wa_cloud_inbound_order.json"),
        Expect::Rendered(
            "🛒 Order (catalog 354160437058781): 3 × HAMBURGER at 30 ILS, 2 × FRENCH_FRIES at 35 ILS, 2 × SODA at 10 ILS — total 180 ILS",
        ),
    ),
    (
        fixture!("wa/wa_cloud_inbound_reaction.json"),
        Expect::Rendered("Reacted 😮 to a message"),
    ),
    (
        fixture!("wa/wa_cloud_inbound_referral.json"),
        Expect::Text("BODY"),
    ),
    (
        fixture!("wa/wa_cloud_inbound_reply.json"),
        Expect::Text("replied text"),
    ),
    (
        fixture!("wa/wa_cloud_inbound_static_sticker.json"),
        Expect::Media(MediaKind::Sticker),
    ),
    (
        fixture!("wa/wa_cloud_inbound_system_system_identity_change.json"),
        Expect::Rendered("System notice: User identity changed"),
    ),
    (
        fixture!("wa/wa_cloud_inbound_system_system_phone_number_change.json"),
        Expect::Rendered("System notice: User A changed from 972987654321 to 972912345678"),
    ),
    (
        fixture!("wa/wa_cloud_inbound_text.json"),
        Expect::Text("Body Text"),
    ),
    (
        fixture!("wa/wa_cloud_inbound_unreaction_empty.json"),
        Expect::Rendered("Removed a reaction"),
    ),
    (
        fixture!("wa/wa_cloud_inbound_unreaction_no_emoji.json"),
        Expect::Rendered("Removed a reaction"),
    ),
    (
        fixture!("wa/wa_cloud_inbound_unsupported.json"),
        Expect::Rendered(
            "Unsupported message type (unknown): 131051: Message type unknown (Message type is currently not supported.)",
        ),
    ),
    (
        fixture!("wa/wa_cloud_inbound_unsupported_with_type.json"),
        Expect::Rendered(
            "Unsupported message type (pool): 131051: Message type unknown (Message type is currently not supported.)",
        ),
    ),
    (
        fixture!("wa/wa_cloud_inbound_video.json"),
        Expect::Media(MediaKind::Video),
    ),
    (
        fixture!("wa/wa_cloud_inbound_voice.json"),
        Expect::Media(MediaKind::Voice),
    ),
];

#[test]
fn every_cloud_inbound_sample_is_covered_by_the_table() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/wa");
    let on_disk = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with("wa_cloud_inbound_"))
        .count();
    assert_eq!(on_disk, CLOUD_INBOUND.len());
}

#[test]
fn every_cloud_inbound_sample_becomes_one_customer_message_of_the_expected_kind() {
    for ((name, body), expect) in CLOUD_INBOUND {
        let event = parse_one(name, body);
        assert_eq!(event.conversation.as_str(), "972987654321", "{name}");
        assert_ne!(event.occurred_at, now(), "{name}: timestamp not read");
        let EventKind::CustomerMessage(message) = &event.kind else {
            panic!("{name}: {event:#?}");
        };
        assert_eq!(event.dedupe_key, message.remote_id.as_str(), "{name}");
        assert!(event.dedupe_key.starts_with("wamid."), "{name}");
        match (expect, &message.body) {
            (Expect::Text(want), MessageBody::Text { text }) => assert_eq!(text, want, "{name}"),
            (Expect::Media(want), MessageBody::Media { kind, media, .. }) => {
                assert_eq!(kind, want, "{name}");
                assert!(!media.id.is_empty(), "{name}");
                assert!(media.sha256.is_some(), "{name}");
            }
            (Expect::Rendered(want), MessageBody::Rendered { text }) => {
                assert_eq!(text, want, "{name}")
            }
            (_, body) => panic!("{name}: unexpected body {body:#?}"),
        }
    }
}

fn customer_message(name: &str, body: &str) -> crate::domain::CustomerMessage {
    match parse_one(name, body).kind {
        EventKind::CustomerMessage(message) => message,
        other => panic!("{name}: {other:#?}"),
    }
}

#[test]
fn cloud_contact_name_and_timestamp_are_read() {
    let (name, body) = fixture!("wa/wa_cloud_inbound_text.json");
    let event = parse_one(name, body);
    assert_eq!(event.occurred_at, Utc.timestamp_opt(1697043223, 0).unwrap());
    let EventKind::CustomerMessage(message) = event.kind else {
        panic!()
    };
    assert_eq!(message.contact.name.as_deref(), Some("Test Name"));
    assert_eq!(message.contact.phone.as_deref(), Some("972987654321"));
}

#[test]
fn document_keeps_filename_caption_mime_and_checksum() {
    let (name, body) = fixture!("wa/wa_cloud_inbound_document.json");
    let MessageBody::Media { media, caption, .. } = customer_message(name, body).body else {
        panic!()
    };
    assert_eq!(media.filename.as_deref(), Some("filename.pdf"));
    assert_eq!(media.mime_type.as_deref(), Some("application/pdf"));
    assert_eq!(media.id, "1234567890987654321");
    assert_eq!(caption.as_deref(), Some("caption"));
}

#[test]
fn media_url_is_kept_when_announced() {
    let (name, body) = fixture!("wa/wa_cloud_inbound_media_with_url.json");
    let MessageBody::Media { media, .. } = customer_message(name, body).body else {
        panic!()
    };
    assert!(
        media
            .url
            .unwrap()
            .starts_with("https://lookaside.fbsbx.com/")
    );
}

#[test]
fn context_and_referral_become_annotations() {
    let cases = [
        (fixture!("wa/wa_cloud_inbound_forwarded.json"), "Forwarded"),
        (
            fixture!("wa/wa_cloud_inbound_forwarded_many_times.json"),
            "Forwarded many times",
        ),
        (
            fixture!("wa/wa_cloud_inbound_reply.json"),
            "Reply to message wamid.xyzxyz== from 972123456789",
        ),
        (
            fixture!("wa/wa_cloud_inbound_referral.json"),
            "Came from an ad or post: AD_TITLE — AD_DESCRIPTION (AD_OR_POST_FB_URL)",
        ),
    ];
    for ((name, body), note) in cases {
        let message = customer_message(name, body);
        assert_eq!(message.annotations, vec![note.to_owned()], "{name}");
    }
}

#[test]
fn phone_number_change_without_contacts_has_no_name() {
    let (name, body) = fixture!("wa/wa_cloud_inbound_system_system_phone_number_change.json");
    assert_eq!(customer_message(name, body).contact.name, None);
}

#[test]
fn onprem_samples_become_customer_messages() {
    let (name, body) = fixture!("wa/wa_onprem_inbound_text.json");
    let message = customer_message(name, body);
    assert_eq!(message.body, MessageBody::Text { text: "Hi".into() });
    assert_eq!(message.contact.id, "1234567890");

    let (name, body) = fixture!("wa/wa_onprem_inbound_voice.CONSTRUCTED.json");
    let message = customer_message(name, body);
    assert!(matches!(
        message.body,
        MessageBody::Media {
            kind: MediaKind::Voice,
            ..
        }
    ));
    assert_eq!(message.contact.name.as_deref(), Some("Test Name"));

    let (name, body) = fixture!("wa/wa_onprem_inbound_image.CONSTRUCTED.json");
    let MessageBody::Media { kind, caption, .. } = customer_message(name, body).body else {
        panic!()
    };
    assert_eq!(kind, MediaKind::Image);
    assert_eq!(caption.as_deref(), Some("optional caption"));

    let (name, body) = fixture!("wa/wa_onprem_inbound_document.CONSTRUCTED.json");
    let MessageBody::Media { media, .. } = customer_message(name, body).body else {
        panic!()
    };
    assert_eq!(media.filename.as_deref(), Some("invoice.pdf"));

    let (name, body) = fixture!("wa/wa_onprem_inbound_location.CONSTRUCTED.json");
    assert_eq!(
        customer_message(name, body).body.text_for_matching(),
        "📍 Location: Main Street Beach, 1 Hacker Way, Menlo Park, CA 94025 — https://maps.google.com/?q=37.483307,-122.148981"
    );
}

fn status(name: &str, body: &str) -> (InboundEvent, DeliveryStatus) {
    let event = parse_one(name, body);
    match event.kind.clone() {
        EventKind::Status(status) => (event, status),
        other => panic!("{name}: {other:#?}"),
    }
}

#[test]
fn every_status_sample_becomes_a_status_event() {
    let samples = [
        (fixture!("wa/wa_cloud_status_delivered.json"), "delivered"),
        (fixture!("wa/wa_cloud_status_failed.json"), "failed"),
        (fixture!("wa/wa_cloud_status_group.json"), "read"),
        (fixture!("wa/wa_cloud_status_played.json"), "played"),
        (fixture!("wa/wa_cloud_status_read.json"), "read"),
        (fixture!("wa/wa_cloud_status_sent.json"), "sent"),
        (fixture!("wa/wa_cloud_status_with_tracker.json"), "sent"),
        (fixture!("wa/wa_onprem_status_delivered.json"), "delivered"),
        (
            fixture!("wa/wa_onprem_status_failed_with_pricing.CONSTRUCTED.json"),
            "failed",
        ),
        (fixture!("wa/wa_onprem_status_read.json"), "read"),
        (fixture!("wa/wa_onprem_status_sent.json"), "sent"),
        (
            fixture!("wa/wa_onprem_status_sent_with_conversation.CONSTRUCTED.json"),
            "sent",
        ),
    ];
    for ((name, body), want) in samples {
        let (event, status) = status(name, body);
        assert_eq!(status.status, want, "{name}");
        assert_eq!(
            event.dedupe_key,
            format!("status:{}:{want}", status.message_id),
            "{name}"
        );
        assert_eq!(event.conversation.as_str(), status.recipient, "{name}");
        assert_ne!(event.occurred_at, now(), "{name}");
    }
}

#[test]
fn failed_statuses_render_their_errors() {
    let (name, body) = fixture!("wa/wa_cloud_status_failed.json");
    assert_eq!(
        status(name, body).1.errors,
        vec![
            "130472: User's number is part of an experiment (Failed to send message because this user's phone number is part of an experiment)"
        ]
    );
    let (name, body) = fixture!("wa/wa_onprem_status_failed_with_pricing.CONSTRUCTED.json");
    assert_eq!(
        status(name, body).1.errors,
        vec![
            "470: Message failed to send because more than 24 hours have passed since the customer last replied to this number"
        ]
    );
}

#[test]
fn getchat_status_carries_the_getchat_id() {
    let (name, body) = fixture!("getchat/getchat_webhook_statuses.CONSTRUCTED.json");
    let (event, status) = status(name, body);
    assert_eq!(event.dedupe_key, "status:gBEGkYhISZKCAgl1GmhZTFwTs9I:read");
    assert_eq!(
        status.alt_message_id.unwrap().as_str(),
        "b4da75b2-aa49-46da-9fc0-eb5453fa5b47"
    );
    assert_eq!(event.conversation.as_str(), "919800000001");
    assert!(status.errors.is_empty());
}

#[test]
fn getchat_incoming_message_object_becomes_a_customer_message() {
    let (name, body) = fixture!("getchat/getchat_webhook_incoming_messages.CONSTRUCTED.json");
    let event = parse_one(name, body);
    assert_eq!(event.dedupe_key, "ABEGkYhISZKCAhCOKQjdeAoldc7wm4GI79Hd");
    assert_eq!(event.conversation.as_str(), "919800000001");
    assert_eq!(event.occurred_at, Utc.timestamp_opt(1696583080, 0).unwrap());
    let EventKind::CustomerMessage(message) = event.kind else {
        panic!()
    };
    assert_eq!(message.contact.name.as_deref(), Some("Test Customer"));
    assert_eq!(message.body.text_for_matching(), "This is test msg");
}

#[test]
fn message_object_sample_wrapped_as_incoming_message_parses() {
    let (_, object) = fixture!("getchat/getchat_message_object_incoming_text.json");
    let body = format!(r#"{{"incoming_messages": [{object}]}}"#);
    let message = customer_message("wrapped", &body);
    assert_eq!(
        message.remote_id.as_str(),
        "ABEGkYhISZKCAhCOKQjdeAoldc7wm4GI79Hd"
    );
}

#[test]
fn chat_assignment_becomes_an_assignment_of_the_chat() {
    let (name, body) = fixture!("getchat/getchat_webhook_chat_assignment.CONSTRUCTED.json");
    let event = parse_one(name, body);
    assert_eq!(event.conversation.as_str(), "919800000001");
    assert_eq!(
        event.dedupe_key,
        "chat_assignment:919800000001:1:-:1696999500"
    );
    assert_eq!(event.occurred_at, Utc.timestamp_opt(1696999500, 0).unwrap());
    assert_eq!(
        event.kind,
        EventKind::ConversationUpdate(ConversationUpdate::Assigned {
            user: Some("info@example.com".into()),
            group: None,
        })
    );
}

#[test]
fn websocket_getchat_frame_yields_the_outgoing_message_as_an_agent_message() {
    let (name, body) = fixture!("getchat/getchat_ws_event_getchat_webhook.CONSTRUCTED.json");
    let event = parse_one(name, body);
    assert_eq!(
        event.dedupe_key,
        "outgoing:b4da75b2-aa49-46da-9fc0-eb5453fa5b47"
    );
    assert_eq!(event.conversation.as_str(), "919800000001");
    assert_eq!(event.occurred_at, Utc.timestamp_opt(1696997645, 0).unwrap());
    let EventKind::AgentMessage(message) = event.kind else {
        panic!("{event:#?}")
    };
    assert_eq!(
        message.remote_id.as_str(),
        "b4da75b2-aa49-46da-9fc0-eb5453fa5b47"
    );
    assert_eq!(
        message.alt_remote_id.unwrap().as_str(),
        "gBEGkYhISZKCAgl1GmhZTFwTs9I"
    );
    assert_eq!(message.author.as_deref(), Some("info@example.com"));
    assert_eq!(
        message.body,
        MessageBody::Rendered {
            text: "Template message welocme (en)".into()
        }
    );
}

mod inbox;
