//! Every refusal is JSON: a 4xx answered by axum itself (body limit, extractor rejections, unknown
//! route, wrong method) in plain text becomes `{code, detail}`, like [`crate::error::ApiError`].

use axum::Json;
use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Plain-text refusals are a short sentence; anything longer is cut.
const MAX_DETAIL_BYTES: usize = 4096;

#[derive(Serialize)]
struct RefusalBody {
    code: &'static str,
    detail: String,
}

/// A refusal the bridge answers itself, as `{code, detail}`.
pub(super) fn json_refusal(status: StatusCode, code: &'static str, detail: String) -> Response {
    (status, Json(RefusalBody { code, detail })).into_response()
}

/// `map_response` layer: a 4xx without a JSON body is answered again as `{code, detail}`.
pub(super) async fn json_refusals(response: Response) -> Response {
    let status = response.status();
    if !status.is_client_error() || is_json(&response) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, MAX_DETAIL_BYTES)
        .await
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_owned())
        .unwrap_or_default();
    let detail = if text.is_empty() {
        status.canonical_reason().unwrap_or("refused").to_owned()
    } else {
        text
    };
    let mut refusal = (
        status,
        Json(RefusalBody {
            code: code_for(status),
            detail,
        }),
    )
        .into_response();
    // Keep what axum said about the refusal (Allow on a 405, for example), not the old body's shape.
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            refusal.headers_mut().insert(name.clone(), value.clone());
        }
    }
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        // The rest of the body is never read, so this connection cannot carry another request:
        // say so, or a client that pools connections sends its next request into a closing socket.
        refusal.headers_mut().insert(
            header::CONNECTION,
            header::HeaderValue::from_static("close"),
        );
    }
    refusal
}

fn is_json(response: &Response<Body>) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

fn code_for(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::REQUEST_TIMEOUT => "request_timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "unprocessable",
        _ => "client_error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_plain_text_refusal_becomes_code_and_detail() {
        let plain = (StatusCode::PAYLOAD_TOO_LARGE, "length limit exceeded").into_response();
        let json = json_refusals(plain).await;
        assert_eq!(json.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let body = axum::body::to_bytes(json.into_body(), 1024).await.unwrap();
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["code"], "payload_too_large");
        assert_eq!(value["detail"], "length limit exceeded");
    }

    #[tokio::test]
    async fn a_body_over_the_limit_closes_its_connection() {
        let plain = (StatusCode::PAYLOAD_TOO_LARGE, "length limit exceeded").into_response();
        let json = json_refusals(plain).await;
        assert_eq!(json.headers()[header::CONNECTION], "close");
        let other = json_refusals((StatusCode::NOT_FOUND, "no").into_response()).await;
        assert!(other.headers().get(header::CONNECTION).is_none());
    }

    #[tokio::test]
    async fn successes_and_json_refusals_pass_unchanged() {
        let ok = json_refusals((StatusCode::OK, "ok").into_response()).await;
        let body = axum::body::to_bytes(ok.into_body(), 1024).await.unwrap();
        assert_eq!(&body[..], b"ok");
        let api = crate::error::ApiError::NotFound("no such job".into()).into_response();
        let api = json_refusals(api).await;
        let body = axum::body::to_bytes(api.into_body(), 1024).await.unwrap();
        let value: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(value["code"], "not_found");
        assert_eq!(value["detail"], "no such job");
    }
}
