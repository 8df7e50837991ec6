use super::*;
use crate::domain::{Contact, ConversationKey, ExternalId};
use chrono::Utc;

const WA: IdRules = IdRules::WA_ID;
const ROOMS: IdRules = IdRules {
    conversation: KeyRule::Uuid,
    contact: &[KeyRule::Phone, KeyRule::Uuid],
};

fn message(wa_id: &str, id: &str, name: &str, text: &str) -> InboundEvent {
    InboundEvent {
        dedupe_key: id.to_owned(),
        conversation: ConversationKey::new(wa_id),
        occurred_at: Utc::now(),
        kind: EventKind::CustomerMessage(CustomerMessage {
            remote_id: ExternalId::new(id),
            contact: Contact {
                id: wa_id.to_owned(),
                name: Some(name.to_owned()),
                phone: None,
            },
            body: MessageBody::Text {
                text: text.to_owned(),
            },
            tags: Vec::new(),
            annotations: Vec::new(),
        }),
    }
}

fn refusal_field(event: InboundEvent, rule: IdRules) -> &'static str {
    admit(event, rule).expect_err("refused").field
}

#[test]
fn a_valid_message_is_admitted_unchanged() {
    let event = message("6281234567890", "wamid.1", "Ana", "hello");
    assert_eq!(admit(event.clone(), WA).unwrap(), event);
}

#[test]
fn wa_ids_that_are_not_whatsapp_numbers_are_refused_with_the_field_named() {
    for wa_id in [
        "",
        "1.8446744073709552e+19",
        "../../../../etc/passwd",
        "62812\u{0}345",
        "123456789012345678901",
        "+6281234",
    ] {
        assert_eq!(
            refusal_field(message(wa_id, "wamid.1", "Ana", "hi"), WA),
            "conversation",
            "{wa_id:?}"
        );
    }
    let long = "9".repeat(200_000);
    assert_eq!(
        refusal_field(message(&long, "wamid.1", "Ana", "hi"), WA),
        "conversation"
    );
}

#[test]
fn message_ids_must_be_printable_and_bounded() {
    let nul = message("628123", "wamid.\u{0}1", "Ana", "hi");
    assert_eq!(refusal_field(nul, WA), "dedupe key");
    let long = message("628123", &"w".repeat(MAX_ID_CHARS + 1), "Ana", "hi");
    assert_eq!(refusal_field(long, WA), "dedupe key");
    let empty = message("628123", " ", "Ana", "hi");
    assert_eq!(refusal_field(empty, WA), "dedupe key");
}

#[test]
fn nul_in_free_text_is_replaced_not_refused() {
    let event = admit(message("628123", "wamid.1", "A\u{0}na", "he\u{0}llo"), WA).unwrap();
    let EventKind::CustomerMessage(m) = event.kind else {
        panic!("kind changed")
    };
    assert_eq!(m.contact.name.as_deref(), Some("A\u{FFFD}na"));
    assert_eq!(m.body.text_for_matching(), "he\u{FFFD}llo");
}

#[test]
fn very_long_text_is_cut_with_a_note() {
    let text = "é".repeat(MAX_TEXT_CHARS + 10);
    let event = admit(message("628123", "wamid.1", "Ana", &text), WA).unwrap();
    let EventKind::CustomerMessage(m) = event.kind else {
        panic!("kind changed")
    };
    let kept = m.body.text_for_matching();
    assert!(kept.starts_with(&"é".repeat(MAX_TEXT_CHARS)));
    assert!(
        kept.contains("cut by the bridge"),
        "{}",
        &kept[kept.len() - 80..]
    );
    assert!(kept.chars().count() < MAX_TEXT_CHARS + 100);
}

#[test]
fn room_ids_must_be_uuids() {
    let room = "e658411a-99aa-417d-8c6f-40e1594554a7";
    let mut event = message(room, "m1", "Ana", "hi");
    if let EventKind::CustomerMessage(m) = &mut event.kind {
        m.contact.id = "+6281234".to_owned();
    }
    assert!(admit(event.clone(), ROOMS).is_ok());
    if let EventKind::CustomerMessage(m) = &mut event.kind {
        m.contact.id = "../../etc/passwd".to_owned();
    }
    assert_eq!(refusal_field(event, ROOMS), "contact.id");
    let bad = message("room-1", "m1", "Ana", "hi");
    assert_eq!(refusal_field(bad, ROOMS), "conversation");
}
