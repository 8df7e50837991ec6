//! The sending endpoints: `POST messages/whatsapp/bot` (JSON text or multipart with a file, as
//! the swagger declares), `POST file_uploader`, `POST broadcasts/whatsapp/direct`. Refusals use
//! Grape's wording ("room_id is missing") in Qontak's error envelope.

use super::routes::{Refused, SimState, refusal, success};
use super::state::{SimBroadcast, SimFile, SimRoom, SimSentMessage, new_id, time_text};
use super::webhooks::{MessageSpec, Writer, message_object, with_room};
use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::Response;
use chrono::Utc;
use serde_json::{Value, json};

/// The bot endpoint's `type` enum (Qontak's swagger).
const MESSAGE_TYPES: &[&str] = &[
    "audio", "contact", "document", "image", "location", "system", "text", "video",
];

/// What Qontak answers when a room's WhatsApp session (24-hour window) has expired. The exact
/// wording of the real service is not documented.
pub const SESSION_EXPIRED_MESSAGE: &str =
    "Room session is expired, please send a message template to continue the conversation";

const MB: usize = 1024 * 1024;

/// The fields of a bot message, however they were sent.
#[derive(Default)]
struct BotFields {
    room_id: Option<String>,
    message_type: Option<String>,
    text: Option<String>,
    file: Option<SimFile>,
}

/// `POST messages/whatsapp/bot`.
pub(super) async fn create_bot_message(
    State(shared): State<SimState>,
    request: Request,
) -> Response {
    let multipart = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let fields = if multipart {
        match Multipart::from_request(request, &()).await {
            Ok(form) => read_multipart(form).await,
            Err(_) => Err(Box::new(refusal(
                StatusCode::BAD_REQUEST,
                &["invalid multipart body"],
            ))),
        }
    } else {
        match Bytes::from_request(request, &()).await {
            Ok(body) => read_json_fields(&body),
            Err(_) => Err(Box::new(refusal(
                StatusCode::BAD_REQUEST,
                &["unreadable body"],
            ))),
        }
    };
    let fields = match fields {
        Ok(fields) => fields,
        Err(refused) => return *refused,
    };
    let encoding = if multipart { "multipart" } else { "json" };
    let (room_id, message_type) = match check_bot_fields(&fields) {
        Ok(checked) => checked,
        Err(problems) => {
            let texts: Vec<&str> = problems.iter().map(String::as_str).collect();
            return refusal(StatusCode::UNPROCESSABLE_ENTITY, &texts);
        }
    };
    let now = Utc::now();
    let base_url = shared.base_url.clone();
    shared.with(|data| {
        let Some(room) = data.room(&room_id).cloned() else {
            return refusal(StatusCode::NOT_FOUND, &["Room not found"]);
        };
        if room.session == "expired" {
            return refusal(StatusCode::UNPROCESSABLE_ENTITY, &[SESSION_EXPIRED_MESSAGE]);
        }
        let file_json = match &fields.file {
            Some(file) => {
                let path = format!(
                    "/uploads/messages/{}/{}",
                    new_id(),
                    url_safe(&file.filename)
                );
                data.files.insert(path.clone(), file.clone());
                Some(
                    json!({"url": format!("{base_url}{path}"), "filename": file.filename,
                            "size": file.bytes.len()}),
                )
            }
            None => None,
        };
        let spec = MessageSpec {
            id: new_id(),
            message_type: message_type.clone(),
            text: fields.text.clone(),
            writer: Writer::Bot,
            status: "created".into(),
            file: file_json,
            is_campaign: false,
            at: now,
        };
        let object = message_object(data, &room, &spec);
        data.store_message(&room.id, object.clone(), now);
        if let Some(room) = data.room_mut(&room_id) {
            room.updated_at = now;
        }
        data.sent.push(SimSentMessage {
            id: spec.id.clone(),
            room_id: room_id.clone(),
            message_type: message_type.clone(),
            text: fields.text.clone(),
            file: fields.file.clone(),
            encoding,
        });
        let room = data.room(&room_id).cloned().unwrap_or(room);
        success(StatusCode::CREATED, with_room(data, object, &room))
    })
}

fn read_json_fields(body: &Bytes) -> Result<BotFields, Refused> {
    let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(body) else {
        return Err(Box::new(refusal(
            StatusCode::BAD_REQUEST,
            &["body must be a JSON object"],
        )));
    };
    let text = |key: &str| object.get(key).and_then(Value::as_str).map(str::to_owned);
    Ok(BotFields {
        room_id: text("room_id"),
        message_type: text("type"),
        text: text("text"),
        // A file cannot travel in JSON; a `file` string (a link) is not a file.
        file: None,
    })
}

async fn read_multipart(mut form: Multipart) -> Result<BotFields, Refused> {
    let bad = |_| {
        Box::new(refusal(
            StatusCode::BAD_REQUEST,
            &["invalid multipart body"],
        ))
    };
    let mut fields = BotFields::default();
    while let Some(field) = form.next_field().await.map_err(bad)? {
        let name = field.name().unwrap_or("").to_owned();
        match name.as_str() {
            "file" => {
                let filename = field.file_name().unwrap_or("file").to_owned();
                let mime_type = field
                    .content_type()
                    .unwrap_or("application/octet-stream")
                    .to_owned();
                let bytes = field.bytes().await.map_err(bad)?.to_vec();
                fields.file = Some(SimFile {
                    filename,
                    mime_type,
                    bytes,
                });
            }
            "room_id" | "type" | "text" => {
                let value = field.text().await.map_err(bad)?;
                match name.as_str() {
                    "room_id" => fields.room_id = Some(value),
                    "type" => fields.message_type = Some(value),
                    _ => fields.text = Some(value),
                }
            }
            _ => {}
        }
    }
    Ok(fields)
}

/// `(room_id, type)` of a valid request, else every problem found.
fn check_bot_fields(fields: &BotFields) -> Result<(String, String), Vec<String>> {
    let mut problems = Vec::new();
    let room_id = fields.room_id.clone().filter(|r| !r.trim().is_empty());
    if room_id.is_none() {
        problems.push("room_id is missing".to_owned());
    }
    let message_type = fields.message_type.clone();
    match message_type.as_deref() {
        None | Some("") => problems.push("type is missing".into()),
        Some(t) if !MESSAGE_TYPES.contains(&t) => {
            problems.push("type does not have a valid value".into())
        }
        Some("text") if fields.text.as_deref().is_none_or(|t| t.trim().is_empty()) => {
            problems.push("text is missing".into())
        }
        Some(t @ ("audio" | "document" | "image" | "video")) => match &fields.file {
            None => problems.push("file is missing".into()),
            Some(file) => problems.extend(check_file(t, file)),
        },
        _ => {}
    }
    match (room_id, message_type) {
        (Some(room), Some(t)) if problems.is_empty() => Ok((room, t)),
        _ => Err(problems),
    }
}

/// WhatsApp's format and size rules, which Qontak passes on.
fn check_file(message_type: &str, file: &SimFile) -> Option<String> {
    let essence = file
        .mime_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let (formats, max): (&[&str], usize) = match message_type {
        "image" => (&["image/jpeg", "image/png"], 5 * MB),
        "video" => (&["video/mp4", "video/3gpp"], 16 * MB),
        "audio" => (
            &[
                "audio/aac",
                "audio/mp4",
                "audio/mpeg",
                "audio/amr",
                "audio/ogg",
                "audio/opus",
            ],
            16 * MB,
        ),
        _ => (&[], 100 * MB),
    };
    if file.bytes.is_empty() {
        return Some("file is empty".into());
    }
    if !formats.is_empty() && !formats.contains(&essence.as_str()) {
        return Some(format!(
            "file type {essence} is not supported for {message_type}"
        ));
    }
    (file.bytes.len() > max).then(|| format!("file size must be less than {} MB", max / MB))
}

/// `POST file_uploader` (multipart `file`) → `{data: {filename, url}}`.
pub(super) async fn upload_file(State(shared): State<SimState>, request: Request) -> Response {
    let Ok(form) = Multipart::from_request(request, &()).await else {
        return refusal(StatusCode::UNPROCESSABLE_ENTITY, &["file is missing"]);
    };
    let fields = match read_multipart(form).await {
        Ok(fields) => fields,
        Err(refused) => return *refused,
    };
    let Some(file) = fields.file.filter(|f| !f.bytes.is_empty()) else {
        return refusal(StatusCode::UNPROCESSABLE_ENTITY, &["file is missing"]);
    };
    if file.bytes.len() > 100 * MB {
        return refusal(
            StatusCode::UNPROCESSABLE_ENTITY,
            &["file size must be less than 100 MB"],
        );
    }
    let path = format!(
        "/uploads/direct/files/{}/{}",
        new_id(),
        url_safe(&file.filename)
    );
    let url = format!("{}{path}", shared.base_url);
    let filename = file.filename.clone();
    shared.with(|data| data.files.insert(path, file));
    success(StatusCode::OK, json!({"filename": filename, "url": url}))
}

/// `POST broadcasts/whatsapp/direct`: a template to one phone number.
pub(super) async fn direct_broadcast(State(shared): State<SimState>, body: Bytes) -> Response {
    let Ok(body @ Value::Object(_)) = serde_json::from_slice::<Value>(&body) else {
        return refusal(StatusCode::BAD_REQUEST, &["body must be a JSON object"]);
    };
    let text = |pointer: &str| {
        body.pointer(pointer)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let mut problems = Vec::new();
    for (pointer, name) in [
        ("/to_number", "to_number"),
        ("/to_name", "to_name"),
        ("/message_template_id", "message_template_id"),
        ("/channel_integration_id", "channel_integration_id"),
        ("/language/code", "language[code]"),
    ] {
        if text(pointer).is_none() {
            problems.push(format!("{name} is missing"));
        }
    }
    if let Some(number) = text("/to_number")
        && !number.chars().all(|c| c.is_ascii_digit())
    {
        problems.push("to_number is invalid".into());
    }
    if !problems.is_empty() {
        let texts: Vec<&str> = problems.iter().map(String::as_str).collect();
        return refusal(StatusCode::UNPROCESSABLE_ENTITY, &texts);
    }
    let (to_number, to_name) = (
        text("/to_number").unwrap_or_default(),
        text("/to_name").unwrap_or_default(),
    );
    let (template_id, language) = (
        text("/message_template_id").unwrap_or_default(),
        text("/language/code").unwrap_or_default(),
    );
    let now = Utc::now();
    shared.with(|data| {
        let Some(template) = data.templates.iter().find(|t| t.id == template_id).cloned() else {
            return refusal(StatusCode::UNPROCESSABLE_ENTITY, &["Message template not found"]);
        };
        if text("/channel_integration_id").as_deref() != Some(data.integration_id.as_str()) {
            return refusal(StatusCode::UNPROCESSABLE_ENTITY, &["Channel integration not found"]);
        }
        if !language.eq_ignore_ascii_case(&template.language) {
            return refusal(
                StatusCode::UNPROCESSABLE_ENTITY,
                &[&format!("language code {language} does not match the template ({})", template.language)],
            );
        }
        let parameters = match body_parameters(&body, template.placeholder_count()) {
            Ok(parameters) => parameters,
            Err(problem) => return refusal(StatusCode::UNPROCESSABLE_ENTITY, &[&problem]),
        };
        let mut rendered = template.body.clone();
        for (i, value) in parameters.iter().enumerate() {
            rendered = rendered.replace(&format!("{{{{{}}}}}", i + 1), value);
        }
        let room = match data.rooms.iter().find(|r| r.phone == to_number).cloned() {
            Some(room) => room,
            None => {
                let room = SimRoom {
                    id: new_id(), name: to_name.clone(), phone: to_number.clone(),
                    status: "campaign".into(), tags: Vec::new(), session: "expired".into(),
                    session_at: None, created_at: now, updated_at: now, resolved_at: None,
                    unread_count: 0,
                };
                data.rooms.push(room.clone());
                room
            }
        };
        let spec = MessageSpec {
            id: new_id(), message_type: "text".into(), text: Some(rendered),
            writer: Writer::Bot, status: "pending".into(), file: None, is_campaign: true, at: now,
        };
        let object = message_object(data, &room, &spec);
        data.store_message(&room.id, object, now);
        if let Some(room) = data.room_mut(&room.id) {
            room.updated_at = now;
        }
        let id = new_id();
        data.broadcasts.push(SimBroadcast {
            id: id.clone(), to_number: to_number.clone(), to_name: to_name.clone(),
            template_id: template.id.clone(), language: language.clone(),
            parameters: parameters.clone(), body: body.clone(),
        });
        let numbered: serde_json::Map<String, Value> = parameters
            .iter()
            .enumerate()
            .map(|(i, v)| ((i + 1).to_string(), json!(v)))
            .collect();
        success(StatusCode::CREATED, json!({
            "id": id, "name": to_name, "organization_id": data.organization_id,
            "channel_integration_id": data.integration_id, "contact_list_id": null,
            "contact_id": new_id(), "target_channel": "wa",
            "parameters": {"header": {}, "body": numbered},
            "created_at": time_text(now),
            "message_status_count": {"failed": 0, "delivered": 0, "read": 0, "pending": 1, "sent": 0},
            "message_template": template.to_json(),
        }))
    })
}

/// `parameters.body[]` as `value_text`s in key order: keys "1".."n", one per placeholder.
fn body_parameters(body: &Value, expected: usize) -> Result<Vec<String>, String> {
    let entries = match body.pointer("/parameters/body") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(entries)) => entries.clone(),
        Some(_) => return Err("parameters[body] is invalid".into()),
    };
    if entries.len() != expected {
        return Err(format!(
            "the template needs {expected} body parameters, {} given",
            entries.len()
        ));
    }
    let mut values = vec![String::new(); expected];
    for entry in &entries {
        let key = entry.get("key").and_then(Value::as_str).unwrap_or("");
        let index = key
            .parse::<usize>()
            .ok()
            .filter(|k| (1..=expected).contains(k));
        let Some(index) = index else {
            return Err(format!("parameters[body] key {key:?} is invalid"));
        };
        let value_text = entry
            .get("value_text")
            .and_then(Value::as_str)
            .unwrap_or("");
        if value_text.trim().is_empty() || entry.get("value").and_then(Value::as_str).is_none() {
            return Err(format!(
                "parameters[body][{key}] needs value and value_text"
            ));
        }
        values[index - 1] = value_text.to_owned();
    }
    Ok(values)
}

/// A file name usable in a URL path.
pub(super) fn url_safe(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if cleaned.trim_matches('.').is_empty() {
        "file".into()
    } else {
        cleaned
    }
}
