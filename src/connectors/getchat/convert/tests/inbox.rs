//! Inbox events in webhook bodies: agent messages, assignment, tagging, resolution.

use super::super::super::webhook::parse_body;
use super::now;
use crate::domain::{ConversationUpdate, EventKind, MediaKind, MessageBody};

#[test]
fn assignment_names_people_and_groups_and_a_cleared_assignment_names_nobody() {
    let body = r#"{"chat_assignment": [
        {"wa_id": "48123", "assigned_to_user_set": {"id": 7, "username": "jo",
            "first_name": "Jo", "last_name": "Smith"}, "assigned_group_set": {"id": 3, "name": "Sales"},
         "timestamp": 1700000000},
        {"wa_id": "48123", "assigned_to_user_set": null, "assigned_to_user_was_cleared": true,
         "assigned_group_set": null, "assigned_group_was_cleared": true, "timestamp": 1700000001}
    ]}"#;
    let events = parse_body(body.as_bytes(), now()).unwrap();
    let kinds: Vec<EventKind> = events.into_iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        vec![
            EventKind::ConversationUpdate(ConversationUpdate::Assigned {
                user: Some("Jo Smith".into()),
                group: Some("Sales".into()),
            }),
            EventKind::ConversationUpdate(ConversationUpdate::Assigned {
                user: None,
                group: None,
            }),
        ]
    );
}

#[test]
fn chat_tagging_and_resolution_become_conversation_updates_with_unchanged_keys() {
    let body = r#"{
        "chat_tagging": [{"timestamp": 1700000000, "action": "added",
            "tag": {"id": 4, "name": "VIP", "web_inbox_color": "red"}, "chat": "48123",
            "extra": {}, "done_by": null},
          {"timestamp": 1700000005, "action": "removed", "tag": {"id": 4, "name": "VIP"},
            "chat": "48123"}],
        "chat_resolved": {"wa_id": "48123", "resolved": true}
    }"#;
    let events = parse_body(body.as_bytes(), now()).unwrap();
    let summary: Vec<(&str, &str, &EventKind)> = events
        .iter()
        .map(|e| (e.dedupe_key.as_str(), e.conversation.as_str(), &e.kind))
        .collect();
    let tagged = |added| {
        EventKind::ConversationUpdate(ConversationUpdate::Tagged {
            tag: "VIP".into(),
            added,
        })
    };
    assert_eq!(
        summary[0],
        (
            "chat_tagging:48123:4:added:1700000000",
            "48123",
            &tagged(true)
        )
    );
    assert_eq!(
        summary[1],
        (
            "chat_tagging:48123:4:removed:1700000005",
            "48123",
            &tagged(false)
        )
    );
    assert_eq!(summary[2].1, "48123");
    assert!(
        summary[2].0.starts_with("chat_resolved:48123:true:sha256:"),
        "{}",
        summary[2].0
    );
    assert_eq!(
        summary[2].2,
        &EventKind::ConversationUpdate(ConversationUpdate::Resolved { resolved: true })
    );
}

#[test]
fn channel_events_and_unreadable_updates_stay_other_events() {
    let body = r#"{
        "user_availability": {"user": {"id": 1}, "is_available": false},
        "message_tagging": {"timestamp": 1, "action": "added", "tag": {"id": 1, "name": "x"},
            "message": "m-1"},
        "chat_resolved": {"wa_id": "48123"},
        "chat_tagging": {"timestamp": 2, "tag": {"id": 1, "name": "x"}, "chat": "48123"}
    }"#;
    let events = parse_body(body.as_bytes(), now()).unwrap();
    let names: Vec<&str> = events.iter().map(|e| e.kind.name()).collect();
    assert_eq!(names.len(), 4);
    for event in &events {
        assert!(matches!(event.kind, EventKind::Other { .. }), "{event:?}");
    }
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [
            "chat_resolved",
            "chat_tagging",
            "message_tagging",
            "user_availability"
        ]
    );
}

#[test]
fn outgoing_texts_and_files_keep_their_body_and_author() {
    let body = r#"{"outgoing_messages": [
        {"id": "g-1", "from_us": true, "customer_wa_id": "48123",
         "sender": {"id": 2, "username": "jo", "first_name": "Jo", "last_name": ""},
         "waba_payload": {"to": "48123", "type": "text", "text": {"body": "On it!"},
                          "id": "gBGG1", "timestamp": 1700000000}},
        {"id": "g-2", "from_us": true, "customer_wa_id": "48123", "sender": null,
         "waba_payload": {"to": "48123", "type": "image", "timestamp": 1700000001,
            "image": {"link": "https://acme.example/api/v1/media/e4b6?x=1", "caption": "Look"}}}
    ]}"#;
    let events = parse_body(body.as_bytes(), now()).unwrap();
    let agent = |i: usize| match &events[i].kind {
        EventKind::AgentMessage(message) => message.clone(),
        other => panic!("{other:#?}"),
    };
    let text = agent(0);
    assert_eq!(text.author.as_deref(), Some("Jo"));
    assert_eq!(
        text.body,
        MessageBody::Text {
            text: "On it!".into()
        }
    );
    assert_eq!(text.alt_remote_id.unwrap().as_str(), "gBGG1");
    let image = agent(1);
    assert_eq!(
        (image.remote_id.as_str(), image.alt_remote_id, image.author),
        ("g-2", None, None)
    );
    let MessageBody::Media {
        kind,
        media,
        caption,
    } = image.body
    else {
        panic!()
    };
    assert_eq!(
        (kind, media.id.as_str(), caption.as_deref()),
        (MediaKind::Image, "e4b6", Some("Look"))
    );
}
