//! Validation of `POST messages/` bodies, as get.chat's createMessage schema describes them.

use serde_json::Value;

/// createMessage's `type` enum (seed 001). `voice` is not in it: voice notes are sent as `audio`.
pub(super) const MESSAGE_TYPES: &[&str] = &[
    "text",
    "image",
    "contacts",
    "document",
    "hsm",
    "location",
    "sticker",
    "template",
    "audio",
    "video",
    "interactive",
    "reaction",
];

/// Types that may be sent when the customer's 24-hour window is closed.
pub(super) fn allowed_outside_window(message_type: &str) -> bool {
    matches!(message_type, "template" | "hsm")
}

/// `(wa_id, type)` of a valid body, else the reason it is refused.
pub(super) fn check_create_message(body: &Value) -> Result<(String, String), String> {
    let object = body.as_object().ok_or("the body must be a JSON object")?;
    let wa_id = object
        .get("wa_id")
        .and_then(Value::as_str)
        .ok_or("wa_id: this field is required")?;
    if wa_id.is_empty() || !wa_id.chars().all(|c| c.is_ascii_digit()) {
        return Err(format!("wa_id: {wa_id:?} does not match ^[0-9]+$"));
    }
    let message_type = object
        .get("type")
        .and_then(Value::as_str)
        .ok_or("type: this field is required")?;
    if !MESSAGE_TYPES.contains(&message_type) {
        return Err(format!(
            "type: {message_type:?} is not a valid choice ({})",
            MESSAGE_TYPES.join(", ")
        ));
    }
    let required =
        || format!("{message_type}: this field is required when type is {message_type:?}");
    let content = object
        .get(message_type)
        .filter(|v| v.is_object() || v.is_array())
        .ok_or_else(required)?;
    let text_of = |value: &Value, key: &str| {
        value
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
            .is_some()
    };
    match message_type {
        "text" if !text_of(content, "body") => Err("text.body: this field is required".into()),
        "image" | "document" | "audio" | "video" | "sticker"
            if !text_of(content, "link") && !text_of(content, "id") =>
        {
            Err(format!("{message_type}: either link or id is required"))
        }
        // WhatsApp shows captions on images, videos and documents only.
        "audio" | "sticker" if content.get("caption").is_some() => Err(format!(
            "{message_type}.caption: captions are not allowed on {message_type} messages"
        )),
        "template" if !text_of(content, "name") => {
            Err("template.name: this field is required".into())
        }
        "template"
            if !content
                .get("language")
                .is_some_and(|language| text_of(language, "code")) =>
        {
            Err("template.language.code: this field is required".into())
        }
        "location"
            if !(content.get("latitude").is_some_and(Value::is_number)
                && content.get("longitude").is_some_and(Value::is_number)) =>
        {
            Err("location: latitude and longitude are required numbers".into())
        }
        "contacts" if content.as_array().is_none_or(Vec::is_empty) => {
            Err("contacts: a non-empty list is required".into())
        }
        "interactive" if !text_of(content, "type") => {
            Err("interactive.type: this field is required".into())
        }
        "reaction" if !text_of(content, "message_id") => {
            Err("reaction.message_id: this field is required".into())
        }
        _ => Ok((wa_id.to_owned(), message_type.to_owned())),
    }
}
