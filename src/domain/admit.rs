//! The edge rules every inbound event passes before it is stored: identifiers are checked against
//! the channel's own rules and refused with the field named; free text stays the customer's but
//! is made storable (no NUL, which PostgreSQL text cannot hold, replaced the same way on both
//! databases) and bounded.

use super::{
    AgentMessage, ConversationUpdate, CustomerMessage, DeliveryStatus, EventKind, InboundEvent,
    MediaRef, MessageBody,
};

/// Longest vendor id kept (message ids, dedupe keys, media ids).
pub const MAX_ID_CHARS: usize = 512;
/// Longest free text kept in one field; longer text is cut with a note saying so.
pub const MAX_TEXT_CHARS: usize = 65_536;

/// The form a channel's conversation keys (and customer ids) take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyRule {
    /// Digits only, at most this many (a WhatsApp wa_id: the number without `+`).
    Digits { max: usize },
    /// A phone number: an optional `+`, then digits only, at most [`WA_ID_MAX_DIGITS`].
    Phone,
    /// A UUID in its hyphenated form (Qontak room ids).
    Uuid,
    /// Printable characters, at most this many.
    Printable { max: usize },
}

/// A channel's rules for its identifiers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IdRules {
    /// The conversation key (a wa_id, a room id).
    pub conversation: KeyRule,
    /// The customer's id on the channel: any one of these forms.
    pub contact: &'static [KeyRule],
}

impl IdRules {
    /// WhatsApp through an inbox keyed by wa_id (get.chat): both are the customer's number.
    pub const WA_ID: IdRules = IdRules {
        conversation: KeyRule::Digits {
            max: WA_ID_MAX_DIGITS,
        },
        contact: &[KeyRule::Digits {
            max: WA_ID_MAX_DIGITS,
        }],
    };
}

/// Why an event was refused at the edge.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct Refusal {
    /// The event field, e.g. `conversation` or `contact.id`.
    pub field: &'static str,
    pub reason: String,
}

/// Check an event's identifiers and make its free text storable. Returns the event to store, or
/// why it is refused.
pub fn admit(mut event: InboundEvent, rules: IdRules) -> Result<InboundEvent, Refusal> {
    check_id("dedupe key", &event.dedupe_key)?;
    check_key(
        "conversation",
        event.conversation.as_str(),
        rules.conversation,
    )?;
    match &mut event.kind {
        EventKind::CustomerMessage(message) => admit_customer_message(message, rules)?,
        EventKind::AgentMessage(message) => admit_agent_message(message)?,
        EventKind::Status(status) => admit_status(status)?,
        EventKind::ConversationUpdate(update) => clean_update(update),
        EventKind::TicketActivity(activity) => {
            check_id("ticket", activity.ticket.as_str())?;
            check_id("object id", activity.object_id.as_str())?;
            clean(&mut activity.action);
        }
        EventKind::Other { name, payload } => {
            clean(name);
            clean_json(payload);
        }
    }
    Ok(event)
}

fn admit_customer_message(message: &mut CustomerMessage, rules: IdRules) -> Result<(), Refusal> {
    check_id("message id", message.remote_id.as_str())?;
    check_any("contact.id", &message.contact.id, rules.contact)?;
    if let Some(phone) = &message.contact.phone {
        check_key("contact.phone", phone, KeyRule::Phone)?;
    }
    clean_opt(&mut message.contact.name);
    admit_body(&mut message.body)?;
    message.tags.iter_mut().for_each(clean);
    message.annotations.iter_mut().for_each(clean);
    Ok(())
}

fn admit_agent_message(message: &mut AgentMessage) -> Result<(), Refusal> {
    check_id("message id", message.remote_id.as_str())?;
    if let Some(alt) = &message.alt_remote_id {
        check_id("alt message id", alt.as_str())?;
    }
    clean_opt(&mut message.author);
    admit_body(&mut message.body)
}

fn admit_status(status: &mut DeliveryStatus) -> Result<(), Refusal> {
    check_id("status message id", status.message_id.as_str())?;
    if let Some(alt) = &status.alt_message_id {
        check_id("status alt message id", alt.as_str())?;
    }
    clean(&mut status.status);
    clean(&mut status.recipient);
    status.errors.iter_mut().for_each(clean);
    Ok(())
}

fn admit_body(body: &mut MessageBody) -> Result<(), Refusal> {
    match body {
        MessageBody::Text { text } | MessageBody::Rendered { text } => clean(text),
        MessageBody::Media { media, caption, .. } => {
            admit_media(media)?;
            clean_opt(caption);
        }
    }
    Ok(())
}

fn admit_media(media: &mut MediaRef) -> Result<(), Refusal> {
    check_id("media id", &media.id)?;
    if media
        .url
        .as_ref()
        .is_some_and(|url| url.chars().count() > 8 * 1024)
    {
        return Err(refused("media url", "longer than 8192 characters"));
    }
    clean_opt(&mut media.url);
    clean_opt(&mut media.mime_type);
    clean_opt(&mut media.filename);
    clean_opt(&mut media.sha256);
    Ok(())
}

fn clean_update(update: &mut ConversationUpdate) {
    match update {
        ConversationUpdate::Assigned { user, group } => {
            clean_opt(user);
            clean_opt(group);
        }
        ConversationUpdate::Tagged { tag, .. } => clean(tag),
        ConversationUpdate::Resolved { .. } => {}
    }
}

/// WhatsApp numbers are at most 15 digits (E.164); wa_ids a few more in some regions.
pub const WA_ID_MAX_DIGITS: usize = 20;

fn check_key(field: &'static str, value: &str, rule: KeyRule) -> Result<(), Refusal> {
    match rule {
        KeyRule::Digits { max } => {
            if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                return Err(refused(field, "must be digits only"));
            }
            if value.len() > max {
                return Err(refused(field, &format!("longer than {max} digits")));
            }
        }
        KeyRule::Phone => {
            let digits = value.strip_prefix('+').unwrap_or(value);
            check_key(
                field,
                digits,
                KeyRule::Digits {
                    max: WA_ID_MAX_DIGITS,
                },
            )
            .map_err(|_| refused(field, "must be a phone number (digits, optionally after +)"))?;
        }
        KeyRule::Uuid => {
            if uuid::Uuid::try_parse(value).is_err() || value.len() != 36 {
                return Err(refused(field, "must be a UUID (8-4-4-4-12 hex digits)"));
            }
        }
        KeyRule::Printable { max } => {
            check_printable(field, value)?;
            if value.chars().count() > max {
                return Err(refused(field, &format!("longer than {max} characters")));
            }
        }
    }
    Ok(())
}

/// Passes when the value has any one of the forms (the first form's refusal otherwise).
fn check_any(field: &'static str, value: &str, rules: &[KeyRule]) -> Result<(), Refusal> {
    let mut first = None;
    for rule in rules {
        match check_key(field, value, *rule) {
            Ok(()) => return Ok(()),
            Err(refusal) => {
                first.get_or_insert(refusal);
            }
        }
    }
    first.map_or(Ok(()), Err)
}

fn check_id(field: &'static str, value: &str) -> Result<(), Refusal> {
    check_key(field, value, KeyRule::Printable { max: MAX_ID_CHARS })
}

fn check_printable(field: &'static str, value: &str) -> Result<(), Refusal> {
    if value.trim().is_empty() {
        return Err(refused(field, "is empty"));
    }
    if value.chars().any(char::is_control) {
        return Err(refused(field, "contains control characters"));
    }
    Ok(())
}

fn refused(field: &'static str, reason: &str) -> Refusal {
    Refusal {
        field,
        reason: reason.to_owned(),
    }
}

fn clean_opt(text: &mut Option<String>) {
    if let Some(text) = text {
        clean(text);
    }
}

/// NUL becomes U+FFFD (the replacement character) and text past [`MAX_TEXT_CHARS`] is cut.
fn clean(text: &mut String) {
    if text.contains('\0') {
        *text = text.replace('\0', "\u{FFFD}");
    }
    if text.len() > MAX_TEXT_CHARS
        && let Some((cut, _)) = text.char_indices().nth(MAX_TEXT_CHARS)
    {
        let total = text.chars().count();
        text.truncate(cut);
        text.push_str(&format!(
            " […cut by the bridge: {total} characters, the first {MAX_TEXT_CHARS} kept]"
        ));
    }
}

fn clean_json(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::String(text) => clean(text),
        serde_json::Value::Array(items) => items.iter_mut().for_each(clean_json),
        serde_json::Value::Object(map) => {
            let keys: Vec<String> = map.keys().filter(|k| k.contains('\0')).cloned().collect();
            for key in keys {
                if let Some(v) = map.remove(&key) {
                    map.insert(key.replace('\0', "\u{FFFD}"), v);
                }
            }
            map.values_mut().for_each(clean_json);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests;
