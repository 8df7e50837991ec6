//! Reading loosely typed JSON values the way Inbenta writes them: ids as numbers or strings,
//! times as unix seconds, unix milliseconds or text, sizes as numbers or numeric strings, and
//! reply attachments as bare media uuids or objects.

use crate::connectors::TicketAttachment;
use crate::domain::ExternalId;
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde_json::{Map, Value};

/// Numbers at or above this are milliseconds (as seconds it would be the year 5138).
const MILLIS_THRESHOLD: f64 = 100_000_000_000.0;

/// An id: a number, or a non-blank string.
pub(super) fn id_of(value: &Value) -> Option<ExternalId> {
    match value {
        Value::Number(n) => Some(ExternalId::new(n.to_string())),
        Value::String(s) if !s.trim().is_empty() => Some(ExternalId::new(s.trim())),
        _ => None,
    }
}

/// The first of `fields` that holds an id.
pub(super) fn first_id(object: &Map<String, Value>, fields: &[&str]) -> Option<ExternalId> {
    fields.iter().find_map(|f| object.get(*f).and_then(id_of))
}

/// The first of `fields` that holds non-blank text.
pub(super) fn first_text(object: &Map<String, Value>, fields: &[&str]) -> Option<String> {
    fields.iter().find_map(|f| match object.get(*f) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        _ => None,
    })
}

/// The first of `fields` that holds a point in time.
pub(super) fn first_instant(object: &Map<String, Value>, fields: &[&str]) -> Option<DateTime<Utc>> {
    fields
        .iter()
        .find_map(|f| object.get(*f).and_then(instant_of))
}

/// A point in time: unix seconds or milliseconds (number or numeric string), RFC 3339, or
/// `YYYY-MM-DD HH:MM:SS` read as UTC. Zero and negative numbers mean "unset".
pub(super) fn instant_of(value: &Value) -> Option<DateTime<Utc>> {
    match value {
        Value::Number(n) => instant_from_number(n.as_f64()?),
        Value::String(text) => {
            let text = text.trim();
            if let Ok(number) = text.parse::<f64>() {
                return instant_from_number(number);
            }
            if let Ok(at) = DateTime::parse_from_rfc3339(text) {
                return Some(at.with_timezone(&Utc));
            }
            [
                "%Y-%m-%d %H:%M:%S",
                "%Y-%m-%dT%H:%M:%S",
                "%Y-%m-%d %H:%M:%S%.f",
            ]
            .iter()
            .find_map(|format| NaiveDateTime::parse_from_str(text, format).ok())
            .map(|naive| Utc.from_utc_datetime(&naive))
        }
        _ => None,
    }
}

fn instant_from_number(number: f64) -> Option<DateTime<Utc>> {
    if !number.is_finite() || number <= 0.0 {
        return None;
    }
    let millis = if number >= MILLIS_THRESHOLD {
        number
    } else {
        number * 1000.0
    };
    // Whole milliseconds are plenty; the cast saturates on absurd values, which chrono refuses.
    DateTime::from_timestamp_millis(millis.round() as i64)
}

/// A byte count: a non-negative integer or numeric string.
fn size_of(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A reply's attachments: `["uuid", ...]` or `[{uuid|id, name, url, size, content_type}, ...]`
/// (mixed is fine). Also the number of entries that could not be read.
pub(super) fn attachments_of(value: Option<&Value>) -> (Vec<TicketAttachment>, usize) {
    let items: Vec<&Value> = match value {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(single @ (Value::Object(_) | Value::String(_))) => vec![single],
        _ => return (Vec::new(), 0),
    };
    let total = items.len();
    let parsed: Vec<TicketAttachment> = items.into_iter().filter_map(attachment_of).collect();
    let skipped = total - parsed.len();
    (parsed, skipped)
}

fn attachment_of(value: &Value) -> Option<TicketAttachment> {
    let object = match value {
        Value::Object(object) => object,
        other => {
            return id_of(other).map(|id| TicketAttachment {
                id,
                name: None,
                mime_type: None,
                url: None,
                size: None,
            });
        }
    };
    let url = first_text(object, &["url", "download_url", "link", "href"]);
    let id = first_id(object, &["uuid", "id", "full_uuid", "media_uuid", "media"])
        .or_else(|| url.clone().map(ExternalId::new))?;
    Some(TicketAttachment {
        id,
        name: first_text(object, &["name", "filename", "file_name", "original_name"]),
        mime_type: first_text(
            object,
            &[
                "content_type",
                "mime_type",
                "mimetype",
                "contentType",
                "mimeType",
            ],
        ),
        url,
        size: ["size", "filesize", "file_size", "bytes"]
            .iter()
            .find_map(|f| object.get(*f).and_then(size_of)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(secs: i64) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp(secs, 0)
    }

    #[test]
    fn times_are_read_as_seconds_milliseconds_or_text() {
        assert_eq!(instant_of(&json!(1_717_000_000)), at(1_717_000_000));
        assert_eq!(instant_of(&json!(1_717_000_000_000_i64)), at(1_717_000_000));
        assert_eq!(instant_of(&json!("1717000000")), at(1_717_000_000));
        assert_eq!(
            instant_of(&json!("2024-05-29T16:26:40Z")),
            at(1_717_000_000)
        );
        assert_eq!(
            instant_of(&json!("2024-05-29T18:26:40+02:00")),
            at(1_717_000_000)
        );
        assert_eq!(instant_of(&json!("2024-05-29 16:26:40")), at(1_717_000_000));
        assert_eq!(
            instant_of(&json!(1_717_000_000.5)),
            DateTime::from_timestamp_millis(1_717_000_000_500)
        );
    }

    #[test]
    fn unusable_times_are_none() {
        for value in [json!(0), json!(-5), json!("soon"), json!(null), json!({})] {
            assert_eq!(instant_of(&value), None, "{value}");
        }
    }

    #[test]
    fn attachments_are_read_from_uuids_and_objects() {
        let (parsed, skipped) = attachments_of(Some(&json!([
            "m-1",
            { "uuid": "m-2", "name": "a.pdf", "size": 12, "content_type": "application/pdf",
              "url": "https://x.invalid/m-2" },
            { "id": 7, "filename": "b.png", "mime_type": "image/png", "size": "34" },
            { "url": "https://cdn.invalid/c.jpg" },
            { "name": "no id, no url" },
            true,
        ])));

        assert_eq!(skipped, 2);
        let ids: Vec<&str> = parsed.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["m-1", "m-2", "7", "https://cdn.invalid/c.jpg"]);
        assert_eq!(parsed[1].name.as_deref(), Some("a.pdf"));
        assert_eq!(parsed[1].size, Some(12));
        assert_eq!(parsed[1].mime_type.as_deref(), Some("application/pdf"));
        assert_eq!(parsed[1].url.as_deref(), Some("https://x.invalid/m-2"));
        assert_eq!(parsed[2].name.as_deref(), Some("b.png"));
        assert_eq!(parsed[2].mime_type.as_deref(), Some("image/png"));
        assert_eq!(parsed[2].size, Some(34));
        assert_eq!(parsed[0].name, None);
    }

    #[test]
    fn missing_or_null_attachments_are_none() {
        assert_eq!(attachments_of(None), (Vec::new(), 0));
        assert_eq!(attachments_of(Some(&json!(null))), (Vec::new(), 0));
    }
}
