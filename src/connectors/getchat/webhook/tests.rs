//! Body shapes, mixing and merging, refusals.

use super::parse_body;
use crate::connectors::WebhookError;
use crate::domain::{ConversationUpdate, EventKind, InboundEvent};
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap()
}

fn parse(body: &Value) -> Result<Vec<InboundEvent>, WebhookError> {
    parse_body(body.to_string().as_bytes(), now())
}

fn unrecognized(body: &Value) -> String {
    match parse(body) {
        Err(WebhookError::Unrecognized(detail)) => detail,
        other => panic!("expected Unrecognized, got {other:?}"),
    }
}

fn text_message(wamid: &str, from: &str, text: &str) -> Value {
    json!({"from": from, "id": wamid, "timestamp": "1700000000", "type": "text", "text": {"body": text}})
}

fn message_object(getchat_id: &str, payload: Value, wa_id: &str, name: &str) -> Value {
    json!({
        "id": getchat_id,
        "waba_payload": payload,
        "contact": {"wa_id": wa_id, "waba_payload": {"profile": {"name": name}, "wa_id": wa_id}},
        "from_us": false,
        "customer_wa_id": wa_id,
        "tags": [],
        "chat_tags": [{"id": 3, "name": "vip", "web_inbox_color": "#fff"}],
    })
}

fn customer(event: &InboundEvent) -> &crate::domain::CustomerMessage {
    match &event.kind {
        EventKind::CustomerMessage(message) => message,
        other => panic!("{other:#?}"),
    }
}

#[test]
fn body_that_is_not_json_is_invalid_json() {
    let err = parse_body(b"not json{", now()).unwrap_err();
    assert!(matches!(err, WebhookError::InvalidJson(_)), "{err:?}");
}

#[test]
fn json_of_no_known_shape_is_unrecognized_with_a_helpful_detail() {
    assert!(unrecognized(&json!({})).contains("empty object"));
    let detail = unrecognized(&json!({"foo": 1}));
    assert!(
        detail.contains("foo") && detail.contains("incoming_messages"),
        "{detail}"
    );
    assert!(unrecognized(&json!([1, 2])).contains("an array"));
    assert!(unrecognized(&json!("text")).contains("a string"));
    assert!(unrecognized(&json!({"object": "page", "entry": []})).contains("page"));
}

#[test]
fn recognised_bodies_without_events_give_no_events() {
    let cloud = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [
        {"field": "messages", "value": {"messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "1", "phone_number_id": "2"}}}]}]});
    assert_eq!(parse(&cloud).unwrap(), vec![]);
    assert_eq!(
        parse(&json!({"messages": [], "contacts": []})).unwrap(),
        vec![]
    );
    assert_eq!(parse(&json!({"statuses": null})).unwrap(), vec![]);
}

#[test]
fn message_without_id_or_from_rejects_the_whole_body() {
    let mut missing_id = text_message("wamid.B", "48111", "second");
    missing_id.as_object_mut().unwrap().remove("id");
    let body = json!({"messages": [text_message("wamid.A", "48111", "first"), missing_id]});
    let detail = unrecognized(&body);
    assert!(
        detail.contains("messages[1]") && detail.contains("\"id\""),
        "{detail}"
    );

    let mut missing_from = text_message("wamid.C", "48111", "x");
    missing_from.as_object_mut().unwrap().remove("from");
    let detail = unrecognized(&json!({"messages": [missing_from]}));
    assert!(
        detail.contains("wamid.C") && detail.contains("\"from\""),
        "{detail}"
    );
}

#[test]
fn wrongly_typed_sections_are_unrecognized() {
    assert!(unrecognized(&json!({"messages": {"id": "x"}})).contains("expected an array"));
    let detail = unrecognized(&json!({"messages": [{"id": "x", "from": "1", "text": "oops"}]}));
    assert!(detail.contains("messages[0]"), "{detail}");
    assert!(
        unrecognized(&json!({"statuses": [{"id": "x", "status": "read"}]}))
            .contains("recipient_id")
    );
    assert!(unrecognized(&json!({"chat_resolved": 5})).contains("chat_resolved"));
    assert!(unrecognized(&json!({"incoming_messages": [{"id": "u"}]})).contains("waba_payload"));
    assert!(unrecognized(&json!({"outgoing_messages": [{"waba_payload": {}}]})).contains("\"id\""));
}

#[test]
fn messages_and_incoming_messages_of_one_message_give_one_richer_event() {
    let payload = text_message("wamid.SAME", "48123", "hello");
    let body = json!({
        "contacts": [{"wa_id": "48123"}],
        "messages": [payload.clone()],
        "incoming_messages": [message_object("uuid-1", payload, "48123", "Konrad")],
    });
    let events = parse(&body).unwrap();
    assert_eq!(events.len(), 1, "{events:#?}");
    let message = customer(&events[0]);
    assert_eq!(events[0].dedupe_key, "wamid.SAME");
    assert_eq!(message.contact.name.as_deref(), Some("Konrad"));
    assert_eq!(message.tags, vec!["vip"]);
    assert_eq!(message.body.text_for_matching(), "hello");
}

#[test]
fn assigned_messages_duplicating_incoming_messages_are_absorbed() {
    let object = message_object(
        "uuid-2",
        text_message("wamid.X", "48123", "hi"),
        "48123",
        "K",
    );
    let body = json!({"incoming_messages": [object.clone()], "assigned_messages": [object]});
    assert_eq!(parse(&body).unwrap().len(), 1);
}

#[test]
fn message_object_without_from_uses_the_customer_wa_id() {
    let mut payload = text_message("wamid.Y", "48123", "hi");
    payload.as_object_mut().unwrap().remove("from");
    let body = json!({"incoming_messages": [message_object("uuid-3", payload, "48999", "K")]});
    let events = parse(&body).unwrap();
    assert_eq!(events[0].conversation.as_str(), "48999");
}

#[test]
fn outgoing_messages_become_agent_messages_of_the_customer_chat() {
    let outgoing = |id: &str| {
        json!({"id": id, "waba_payload": {"to": "48123123123", "type": "image",
            "image": {"link": "http://x/api/v1/media/e4b6"}, "id": "gBGG", "timestamp": 1612372697},
            "from_us": true, "customer_wa_id": "48123123123"})
    };
    let events =
        parse(&json!({"outgoing_messages": [outgoing("8e04"), outgoing("e6a3")]})).unwrap();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0].dedupe_key, "outgoing:8e04");
    assert_eq!(events[1].dedupe_key, "outgoing:e6a3");
    assert_eq!(events[0].conversation.as_str(), "48123123123");
    assert_eq!(
        events[0].occurred_at,
        Utc.timestamp_opt(1612372697, 0).unwrap()
    );
    let EventKind::AgentMessage(message) = &events[0].kind else {
        panic!("{:?}", events[0]);
    };
    assert_eq!(message.remote_id.as_str(), "8e04");
    assert_eq!(message.alt_remote_id.as_ref().unwrap().as_str(), "gBGG");
}

#[test]
fn from_us_message_in_assigned_messages_is_not_a_customer_message() {
    let mut object = message_object(
        "uuid-4",
        json!({"to": "48123", "type": "text",
        "text": {"body": "agent"}, "id": "gB1", "timestamp": 1}),
        "48123",
        "K",
    );
    object["from_us"] = json!(true);
    let events = parse(&json!({"assigned_messages": [object]})).unwrap();
    assert_eq!(events[0].dedupe_key, "outgoing:uuid-4");
    assert_eq!(events[0].kind.name(), "agent_message");
}

#[test]
fn inbox_events_keep_their_keys_and_become_updates_or_other_events() {
    let tagging = json!({"timestamp": 1700000001, "action": "added",
        "tag": {"id": 7, "name": "vip", "web_inbox_color": "#f00"}, "chat": "48123", "extra": {}});
    let body = json!({
        "chat_tagging": [tagging],
        "message_tagging": {"timestamp": 1700000002, "action": "removed", "tag": {"id": 8}, "message": "uuid-9"},
        "chat_resolved": {"wa_id": "48123", "resolved": true},
        "user_availability": {"is_available": false, "user": {"id": 5, "username": "ann"}},
    });
    let events = parse(&body).unwrap();
    let summary: Vec<(&str, &str, &str)> = events
        .iter()
        .map(|e| {
            (
                e.kind.name(),
                e.conversation.as_str(),
                e.dedupe_key.as_str(),
            )
        })
        .collect();
    assert_eq!(
        summary[0],
        ("tagged", "48123", "chat_tagging:48123:7:added:1700000001")
    );
    assert_eq!(
        summary[1],
        (
            "message_tagging",
            "_channel",
            "message_tagging:uuid-9:8:removed:1700000002"
        )
    );
    assert_eq!(summary[2].0, "resolved");
    assert_eq!(summary[2].1, "48123");
    assert!(
        summary[2].2.starts_with("chat_resolved:48123:true:sha256:"),
        "{}",
        summary[2].2
    );
    assert_eq!(summary[3].0, "user_availability");
    assert_eq!(summary[3].1, "_channel");
    assert_eq!(
        events[0].occurred_at,
        Utc.timestamp_opt(1700000001, 0).unwrap()
    );
    assert_eq!(events[2].occurred_at, now());
}

#[test]
fn chat_tagging_object_and_deprecated_alias_are_accepted() {
    let tagging = json!({"timestamp": 1, "action": "added", "tag": {"id": 7}, "chat": "48123"});
    assert_eq!(
        parse(&json!({"chat_tagging": tagging.clone()}))
            .unwrap()
            .len(),
        1
    );
    let events = parse(&json!({"tagged_chats": [tagging]})).unwrap();
    assert_eq!(events[0].dedupe_key, "chat_tagging:48123:7:added:1");
    assert_eq!(
        events[0].kind,
        EventKind::ConversationUpdate(ConversationUpdate::Tagged {
            tag: "7".into(),
            added: true
        })
    );
}

#[test]
fn hashed_keys_do_not_depend_on_key_order() {
    let a = parse_body(
        br#"{"chat_resolved": {"wa_id": "1", "resolved": false}}"#,
        now(),
    )
    .unwrap();
    let b = parse_body(
        br#"{"chat_resolved": {"resolved": false, "wa_id": "1"}}"#,
        now(),
    )
    .unwrap();
    assert_eq!(a[0].dedupe_key, b[0].dedupe_key);
}

#[test]
fn cloud_body_with_getchat_status_extension_and_several_changes() {
    let body = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [
        {"field": "messages", "value": {"messaging_product": "whatsapp",
            "statuses": [{"id": "gBEG", "getchat_id": "8b17", "recipient_id": "48123123123",
                "status": "read", "timestamp": "1634833334", "type": "message"}]}},
        {"field": "messages", "value": {"contacts": [{"profile": {"name": "Ann"}, "wa_id": "48555"}],
            "messages": [text_message("wamid.C1", "48555", "yo")]}},
        {"field": "message_template_status_update", "value": {"event": "APPROVED", "message_template_id": 9}}
    ]}]});
    let events = parse(&body).unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(events[0].dedupe_key, "status:gBEG:read");
    assert_eq!(customer(&events[1]).contact.name.as_deref(), Some("Ann"));
    assert_eq!(events[2].kind.name(), "message_template_status_update");
    assert_eq!(events[2].conversation.as_str(), "_channel");
}

#[test]
fn timestamps_may_be_strings_numbers_or_fractions_and_default_to_now() {
    let mut messages = Vec::new();
    for (i, ts) in [
        json!("1700000000"),
        json!(1700000000),
        json!(1700000000.5),
        Value::Null,
    ]
    .into_iter()
    .enumerate()
    {
        let mut m = text_message(&format!("wamid.{i}"), "1", "t");
        m["timestamp"] = ts;
        messages.push(m);
    }
    let events = parse(&json!({"messages": messages})).unwrap();
    let base = Utc.timestamp_opt(1700000000, 0).unwrap();
    assert_eq!(events[0].occurred_at, base);
    assert_eq!(events[1].occurred_at, base);
    assert_eq!(
        events[2].occurred_at,
        base + chrono::Duration::milliseconds(500)
    );
    assert_eq!(events[3].occurred_at, now());
}

#[test]
fn unknown_and_object_less_types_are_rendered_not_skipped() {
    let body = json!({"messages": [
        {"from": "1", "id": "w1", "type": "ephemeral"},
        {"from": "1", "id": "w2", "type": "image"},
        {"from": "1", "id": "w3", "type": "interactive", "interactive": {"type": "nfm_reply",
            "nfm_reply": {"name": "flow", "body": "Sent", "response_json": "{\"a\":1}"}}},
        {"from": "1", "id": "w4", "type": "image", "image": {"link": "https://i.example/api/v1/media/abc?x=1"}},
    ]});
    let events = parse(&body).unwrap();
    let texts: Vec<&str> = events
        .iter()
        .map(|e| customer(e).body.text_for_matching())
        .collect();
    assert_eq!(texts[0], "Unsupported message type (ephemeral)");
    assert_eq!(texts[1], "Unsupported message type (image)");
    assert_eq!(texts[2], "Submitted flow: Sent\nAnswers: {\"a\":1}");
    let crate::domain::MessageBody::Media { media, .. } = &customer(&events[3]).body else {
        panic!()
    };
    assert_eq!(media.id, "abc");
}

#[test]
fn cloud_errors_without_messages_are_kept_as_an_event() {
    let body = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [
        {"field": "messages", "value": {"messaging_product": "whatsapp",
            "errors": [{"code": 131000, "title": "Something went wrong"}]}}]}]});
    let events = parse(&body).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind.name(), "whatsapp_errors");
    assert_eq!(events[0].conversation.as_str(), "_channel");
}
