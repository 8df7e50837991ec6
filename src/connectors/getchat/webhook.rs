//! Webhook bodies → events. A get.chat WABA webhook comes in three shapes, which may be mixed:
//!
//! * on-prem style: `{contacts, messages, statuses}`;
//! * get.chat extensions: `incoming_messages`, `outgoing_messages`, `assigned_messages` (Message
//!   objects), `statuses` with `getchat_id`, `chat_assignment`, `chat_tagging`, `message_tagging`,
//!   `chat_resolved`, `user_availability` (plus the deprecated `tagged_chats`/`tagged_messages`);
//! * Cloud API: `{object: "whatsapp_business_account", entry[].changes[].value}`.
//!
//! Websocket frames (`{type: "waba_webhook" | "getchat_webhook", waba_payload}`) are unwrapped
//! first. get.chat sends `messages` and `incoming_messages` together for the same WhatsApp
//! message, so events are merged by dedupe key within one body. Any malformed item rejects the
//! whole body: a webhook is stored completely or not at all.

use super::convert::{self, ContactNames, SenderInfo};
use super::wire::{GcMessage, WaContact, WaError, WaMessage, WaStatus};
use crate::connectors::WebhookError;
use crate::domain::{EventKind, InboundEvent, MessageBody};
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use std::collections::HashMap;

/// On-prem sections.
const WABA_SECTIONS: &[&str] = &["contacts", "messages", "statuses"];
/// get.chat sections holding Message objects written by customers.
const CUSTOMER_MESSAGE_SECTIONS: &[&str] = &["incoming_messages", "assigned_messages"];
/// get.chat event sections, with the event name each one is stored under.
const EVENT_SECTIONS: &[(&str, &str)] = &[
    ("chat_assignment", "chat_assignment"),
    ("chat_tagging", "chat_tagging"),
    ("tagged_chats", "chat_tagging"),
    ("message_tagging", "message_tagging"),
    ("tagged_messages", "message_tagging"),
    ("chat_resolved", "chat_resolved"),
    ("user_availability", "user_availability"),
];

/// Parse one webhook body. `now` stands in for missing timestamps.
pub(super) fn parse_body(
    body: &[u8],
    now: DateTime<Utc>,
) -> Result<Vec<InboundEvent>, WebhookError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| WebhookError::InvalidJson(e.to_string()))?;
    let object = unwrap_websocket_frame(as_object(&value, "the body")?)?;
    let mut events = EventList::default();
    let is_cloud = object.contains_key("object") || object.contains_key("entry");
    let has_sections = known_sections(object).next().is_some();
    if !is_cloud && !has_sections {
        return Err(unrecognized_body(object));
    }
    if is_cloud {
        parse_cloud(object, now, &mut events)?;
    }
    parse_sections(object, "", &[], now, &mut events)?;
    Ok(events.into_vec())
}

/// `{type: "waba_webhook" | "getchat_webhook", waba_payload: {...}}` → the payload.
fn unwrap_websocket_frame(
    object: &Map<String, Value>,
) -> Result<&Map<String, Value>, WebhookError> {
    let frame_type = object.get("type").and_then(Value::as_str);
    match (frame_type, object.get("waba_payload")) {
        (Some("waba_webhook" | "getchat_webhook"), Some(payload)) => {
            as_object(payload, "waba_payload")
        }
        _ => Ok(object),
    }
}

fn known_sections(object: &Map<String, Value>) -> impl Iterator<Item = &str> {
    WABA_SECTIONS
        .iter()
        .chain(CUSTOMER_MESSAGE_SECTIONS)
        .chain(&["outgoing_messages"])
        .copied()
        .chain(EVENT_SECTIONS.iter().map(|(section, _)| *section))
        .filter(|section| object.contains_key(*section))
}

fn unrecognized_body(object: &Map<String, Value>) -> WebhookError {
    let keys: Vec<&str> = object.keys().map(String::as_str).take(10).collect();
    let found = if keys.is_empty() {
        "an empty object".to_owned()
    } else {
        format!("keys {}", keys.join(", "))
    };
    WebhookError::Unrecognized(format!(
        "not a get.chat webhook: found {found}; expected on-prem sections (contacts, messages, \
         statuses), get.chat sections (incoming_messages, outgoing_messages, chat_assignment, \
         chat_tagging, chat_resolved, …) or a Cloud API body (object, entry)"
    ))
}

/// `{object, entry[].changes[].value}`.
fn parse_cloud(
    object: &Map<String, Value>,
    now: DateTime<Utc>,
    events: &mut EventList,
) -> Result<(), WebhookError> {
    if let Some(kind) = object.get("object")
        && kind.as_str() != Some("whatsapp_business_account")
    {
        return Err(WebhookError::Unrecognized(format!(
            "Cloud API body for {kind}; only \"whatsapp_business_account\" is supported"
        )));
    }
    let entries = object
        .get("entry")
        .ok_or_else(|| unrecognized("entry", "a Cloud API body needs entry[]"))?;
    for (e, entry) in as_array(entries, "entry")?.iter().enumerate() {
        let entry_path = format!("entry[{e}]");
        let entry = as_object(entry, &entry_path)?;
        let Some(changes) = entry.get("changes") else {
            continue;
        };
        for (c, change) in as_array(changes, &format!("{entry_path}.changes"))?
            .iter()
            .enumerate()
        {
            let path = format!("{entry_path}.changes[{c}]");
            let change = as_object(change, &path)?;
            let field = change
                .get("field")
                .and_then(Value::as_str)
                .unwrap_or("messages");
            let Some(value) = change.get("value") else {
                return Err(unrecognized(&path, "change has no \"value\""));
            };
            let value_path = format!("{path}.value");
            let value_object = as_object(value, &value_path)?;
            let carries_messages = WABA_SECTIONS.iter().any(|s| value_object.contains_key(*s));
            if field == "messages" || carries_messages {
                let value_errors: Vec<WaError> = match value_object.get("errors") {
                    Some(errors) => decode(errors, &format!("{value_path}.errors"))?,
                    None => Vec::new(),
                };
                parse_sections(value_object, &value_path, &value_errors, now, events)?;
                let has_items = ["messages", "statuses"]
                    .iter()
                    .any(|s| value_object.contains_key(*s));
                if !value_errors.is_empty() && !has_items {
                    // An error about the account or the webhook itself: keep it, don't drop it.
                    events.push(convert::other_event("whatsapp_errors", value, now));
                }
            } else {
                events.push(convert::other_event(field, value, now));
            }
        }
    }
    Ok(())
}

/// The on-prem and get.chat sections of one object (the body, or a Cloud API `value`).
fn parse_sections(
    object: &Map<String, Value>,
    path: &str,
    value_errors: &[WaError],
    now: DateTime<Utc>,
    events: &mut EventList,
) -> Result<(), WebhookError> {
    let at = |section: &str| {
        if path.is_empty() {
            section.to_owned()
        } else {
            format!("{path}.{section}")
        }
    };
    let contacts: Vec<WaContact> = match object.get("contacts") {
        Some(contacts) => decode(contacts, &at("contacts"))?,
        None => Vec::new(),
    };
    let names = ContactNames::new(&contacts);

    for (i, item) in items(object, "messages", &at("messages"))?
        .iter()
        .enumerate()
    {
        let item_path = format!("{}[{i}]", at("messages"));
        let message: WaMessage = decode(item, &item_path)?;
        let sender = SenderInfo {
            name: message
                .from
                .as_deref()
                .and_then(|from| names.name_for(from)),
            ..SenderInfo::default()
        };
        let event = convert::customer_message_event(&message, sender, value_errors, now)
            .map_err(|problem| unrecognized(&item_path, &problem))?;
        events.push(event);
    }

    for section in CUSTOMER_MESSAGE_SECTIONS {
        for (i, item) in items(object, section, &at(section))?.iter().enumerate() {
            let item_path = format!("{}[{i}]", at(section));
            events.push(message_object_event(item, &item_path, now)?);
        }
    }

    let outgoing = at("outgoing_messages");
    for (i, item) in items(object, "outgoing_messages", &outgoing)?
        .iter()
        .enumerate()
    {
        let item_path = format!("{outgoing}[{i}]");
        let message: GcMessage = decode(item, &item_path)?;
        let event = convert::outgoing_message_event(&message, now)
            .map_err(|problem| unrecognized(&item_path, &problem))?;
        events.push(event);
    }

    for (i, item) in items(object, "statuses", &at("statuses"))?
        .iter()
        .enumerate()
    {
        let item_path = format!("{}[{i}]", at("statuses"));
        let status: WaStatus = decode(item, &item_path)?;
        let event = convert::status_event(&status, now)
            .map_err(|problem| unrecognized(&item_path, &problem))?;
        events.push(event);
    }

    for (section, name) in EVENT_SECTIONS {
        match object.get(*section) {
            None | Some(Value::Null) => {}
            Some(Value::Array(list)) => {
                for (i, item) in list.iter().enumerate() {
                    as_object(item, &format!("{}[{i}]", at(section)))?;
                    events.push(convert::other_event(name, item, now));
                }
            }
            Some(item @ Value::Object(_)) => events.push(convert::other_event(name, item, now)),
            Some(other) => {
                return Err(unrecognized(
                    &at(section),
                    &format!("expected an object or an array, got {}", type_name(other)),
                ));
            }
        }
    }
    Ok(())
}

/// A Message object from `incoming_messages`/`assigned_messages` or a `GET messages/` page.
/// Messages written by inbox users (`from_us`) can appear in `assigned_messages`; they become
/// agent messages, exactly as from `outgoing_messages`.
pub(super) fn message_object_event(
    item: &Value,
    path: &str,
    now: DateTime<Utc>,
) -> Result<InboundEvent, WebhookError> {
    let message: GcMessage = decode(item, path)?;
    if message.from_us == Some(true) {
        return convert::outgoing_message_event(&message, now)
            .map_err(|problem| unrecognized(path, &problem));
    }
    let payload = message
        .waba_payload
        .as_ref()
        .ok_or_else(|| unrecognized(path, "Message object has no \"waba_payload\""))?;
    let whatsapp: WaMessage = decode(payload, &format!("{path}.waba_payload"))?;
    let sender = convert::message_object_sender(&message);
    convert::customer_message_event(&whatsapp, sender, &[], now)
        .map_err(|problem| unrecognized(path, &problem))
}

/// The items of an array section; a missing or null section has none.
fn items<'a>(
    object: &'a Map<String, Value>,
    section: &str,
    path: &str,
) -> Result<&'a [Value], WebhookError> {
    match object.get(section) {
        None | Some(Value::Null) => Ok(&[]),
        Some(value) => as_array(value, path).map(Vec::as_slice),
    }
}

fn decode<T: DeserializeOwned>(value: &Value, path: &str) -> Result<T, WebhookError> {
    T::deserialize(value).map_err(|e| unrecognized(path, &e.to_string()))
}

fn as_object<'a>(value: &'a Value, path: &str) -> Result<&'a Map<String, Value>, WebhookError> {
    value.as_object().ok_or_else(|| {
        unrecognized(
            path,
            &format!("expected a JSON object, got {}", type_name(value)),
        )
    })
}

fn as_array<'a>(value: &'a Value, path: &str) -> Result<&'a Vec<Value>, WebhookError> {
    value.as_array().ok_or_else(|| {
        unrecognized(
            path,
            &format!("expected an array, got {}", type_name(value)),
        )
    })
}

fn unrecognized(path: &str, problem: &str) -> WebhookError {
    WebhookError::Unrecognized(format!("{path}: {problem}"))
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Events in body order, one per dedupe key. A second customer message with the same wamid
/// (the `messages` and `incoming_messages` copies of one message) fills in what the first lacks.
#[derive(Default)]
struct EventList {
    events: Vec<InboundEvent>,
    index: HashMap<String, usize>,
}

impl EventList {
    fn push(&mut self, event: InboundEvent) {
        match self.index.get(&event.dedupe_key) {
            Some(&i) => merge_into(&mut self.events[i], event),
            None => {
                self.index
                    .insert(event.dedupe_key.clone(), self.events.len());
                self.events.push(event);
            }
        }
    }

    fn into_vec(self) -> Vec<InboundEvent> {
        self.events
    }
}

fn merge_into(kept: &mut InboundEvent, other: InboundEvent) {
    let (EventKind::CustomerMessage(kept), EventKind::CustomerMessage(other)) =
        (&mut kept.kind, other.kind)
    else {
        return;
    };
    if kept.contact.name.is_none() {
        kept.contact.name = other.contact.name;
    }
    for tag in other.tags {
        if !kept.tags.contains(&tag) {
            kept.tags.push(tag);
        }
    }
    for note in other.annotations {
        if !kept.annotations.contains(&note) {
            kept.annotations.push(note);
        }
    }
    if let (MessageBody::Media { media: kept, .. }, MessageBody::Media { media: other, .. }) =
        (&mut kept.body, other.body)
    {
        kept.url = kept.url.take().or(other.url);
        kept.sha256 = kept.sha256.take().or(other.sha256);
        kept.mime_type = kept.mime_type.take().or(other.mime_type);
        kept.filename = kept.filename.take().or(other.filename);
    }
}

#[cfg(test)]
mod tests;
