//! Media: `POST /v1/media` (a base64 upload, as seed 004 describes) and `GET /v1/media/{uuid}`
//! (the file's bytes with its content type, for the bridge to download agents' attachments).

use super::checks::{Answer, SimError, authorize, body_object, ok, required_text};
use super::routes::SimState;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use base64::Engine as _;
use serde_json::{Value, json};

pub(super) async fn upload_media(
    State(state): State<SimState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Answer {
    authorize(&state, &headers)?;
    let body = body_object(&headers, body)?;
    let name = required_text(&body, "name")?;
    let content = match body.get("content") {
        Some(Value::String(content)) => content,
        _ => {
            return Err(SimError::invalid(
                "The field 'content' is required",
                "content_required",
            ));
        }
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(content.trim())
        .map_err(|_| {
            SimError::invalid("The field 'content' is not valid base64", "invalid_content")
        })?;
    let content_type = content_type_for(&name).to_owned();
    let uuid = state.with(|data| data.add_media(name, content_type, bytes));
    ok(StatusCode::CREATED, json!({ "uuid": uuid }))
}

pub(super) async fn download_media(
    State(state): State<SimState>,
    headers: HeaderMap,
    Path(uuid): Path<String>,
) -> Answer {
    authorize(&state, &headers)?;
    let file = state.with(|data| {
        data.media_file(&uuid)
            .map(|(media, bytes)| (media.content_type.clone(), bytes.to_vec()))
    });
    let (content_type, bytes) = file.ok_or_else(|| SimError::not_found("Media not found"))?;
    let content_type = HeaderValue::from_str(&content_type)
        .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
    Ok(([(header::CONTENT_TYPE, content_type)], bytes).into_response())
}

/// The content type of an uploaded file, from its name's extension.
fn content_type_for(name: &str) -> &'static str {
    let extension = name
        .rsplit_once('.')
        .map(|(_, ext)| ext.to_ascii_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "pdf" => "application/pdf",
        "txt" => "text/plain",
        "csv" => "text/csv",
        "mp4" => "video/mp4",
        "mp3" => "audio/mpeg",
        "ogg" | "opus" => "audio/ogg",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "zip" => "application/zip",
        _ => "application/octet-stream",
    }
}
