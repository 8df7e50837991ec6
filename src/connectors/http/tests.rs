//! The vendor HTTP layer against wiremock: which failures are retried and which are dead
//! letters, timeouts named as such, URLs kept out of messages, and the one token refresh on 401.

use super::urls::MAX_URL_CHARS;
use super::{TokenSource, VendorHttp, with_segments};
use crate::connectors::{ConnectorError, ErrorClass};
use async_trait::async_trait;
use std::sync::Mutex;
use std::time::Duration;
use url::Url;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn vendor_http(timeout: Duration) -> VendorHttp {
    VendorHttp::new("acme", timeout, |body| {
        let value: serde_json::Value = serde_json::from_slice(body).ok()?;
        value.get("problem")?.as_str().map(str::to_owned)
    })
    .expect("client builds")
}

async fn answering(status: u16, body: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(status).set_body_string(body))
        .mount(&server)
        .await;
    server
}

/// GET `<server>/thing?signature=s3cr3t` and read the answer as JSON.
async fn get_json(
    http: &VendorHttp,
    server: &MockServer,
) -> Result<serde_json::Value, ConnectorError> {
    let url = format!("{}/thing?signature=s3cr3t", server.uri());
    let response = http.send(http.client().get(url)).await?;
    http.read_json(response).await
}

#[tokio::test]
async fn client_errors_are_dead_letters_with_the_vendors_explanation() {
    let http = vendor_http(Duration::from_secs(5));
    for status in [400, 404, 409, 422] {
        let server = answering(status, r#"{"problem": "title is required"}"#).await;
        let err = get_json(&http, &server).await.unwrap_err();
        assert_eq!(err.class(), ErrorClass::DeadLetter, "{status}: {err:?}");
        assert!(err.to_string().contains("title is required"), "{err}");
    }
}

#[tokio::test]
async fn server_errors_408_and_429_are_retried_with_the_asked_delay() {
    let http = vendor_http(Duration::from_secs(5));
    for status in [500, 502, 503, 408] {
        let server = answering(status, "<html>oops</html>").await;
        let err = get_json(&http, &server).await.unwrap_err();
        assert_eq!(err.class(), ErrorClass::Retry, "{status}: {err:?}");
        assert!(err.to_string().contains("<html>oops</html>"), "{err}");
    }
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "12"))
        .mount(&server)
        .await;
    let err = get_json(&http, &server).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Retry);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(12)));
}

#[tokio::test]
async fn an_answer_we_cannot_read_is_permanent() {
    let http = vendor_http(Duration::from_secs(5));
    let server = answering(200, "not json at all").await;
    let err = get_json(&http, &server).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::DeadLetter, "{err:?}");
    assert!(err.to_string().contains("unreadable answer"), "{err}");
}

#[tokio::test]
async fn a_json_answer_past_the_limit_is_permanent() {
    let http = vendor_http(Duration::from_secs(30));
    let huge = format!("\"{}\"", "x".repeat(super::answer::MAX_JSON_BYTES as usize));
    let server = answering(200, &huge).await;
    let err = get_json(&http, &server).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::DeadLetter, "{err:?}");
    assert!(err.to_string().contains("larger than the 16 MB"), "{err}");
}

#[tokio::test]
async fn a_timeout_is_retried_named_as_one_and_without_the_url() {
    let http = vendor_http(Duration::from_millis(200));
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let err = get_json(&http, &server).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Retry, "{err:?}");
    let text = err.to_string();
    assert!(text.contains("timed out after 200ms"), "{text}");
    assert!(
        !text.contains("s3cr3t") && !text.contains("127.0.0.1"),
        "{text}"
    );
}

#[tokio::test]
async fn a_refused_connection_is_retried_without_the_url() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    drop(listener);
    let http = vendor_http(Duration::from_secs(5));
    let url = format!("http://{address}/thing?signature=s3cr3t");
    let err = http.send(http.client().get(url)).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Retry, "{err:?}");
    let text = err.to_string();
    assert!(text.contains("network error"), "{text}");
    assert!(
        !text.contains("s3cr3t") && !text.contains(&address.to_string()),
        "{text}"
    );
}

#[tokio::test]
async fn a_request_that_cannot_be_built_is_permanent() {
    let http = vendor_http(Duration::from_secs(5));
    let server = answering(200, "{}").await;
    let bad_header = http
        .client()
        .get(server.uri())
        .header("x-id", "line\nbreak");
    let err = http.send(bad_header).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::DeadLetter, "{err:?}");
    assert!(
        err.to_string().contains("cannot build the request"),
        "{err}"
    );
}

#[tokio::test]
async fn a_huge_id_in_the_path_is_permanent_and_never_sent() {
    let http = vendor_http(Duration::from_secs(5));
    let server = answering(200, "{}").await;
    let base = Url::parse(&format!("{}/media/", server.uri())).expect("url");
    for length in [MAX_URL_CHARS, 200_000] {
        let id = "7".repeat(length);
        let url = with_segments("acme", &base, &[&id]).expect("the URL itself builds");
        let err = http.send(http.client().get(url)).await.unwrap_err();
        assert_eq!(err.class(), ErrorClass::DeadLetter, "{err:?}");
        let text = err.to_string();
        assert!(text.contains("cannot build the request"), "{text}");
        assert!(!text.contains(&id[..100]), "the id is not echoed");
    }
    let received = server.received_requests().await.expect("recorded");
    assert!(received.is_empty(), "nothing was sent");
}

/// Hands out `token-1`, then `token-2` once the first is refused.
struct CountingTokens {
    replaced: Mutex<u32>,
}

#[async_trait]
impl TokenSource for CountingTokens {
    type Token = String;

    async fn token(&self) -> Result<String, ConnectorError> {
        Ok("token-1".into())
    }

    async fn replace(&self, _rejected: &String) -> Result<Option<String>, ConnectorError> {
        *self.replaced.lock().expect("lock") += 1;
        Ok(Some("token-2".into()))
    }
}

#[tokio::test]
async fn a_401_replaces_the_token_once_and_sends_again() {
    let http = vendor_http(Duration::from_secs(5));
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/thing"))
        .and(header("authorization", "Bearer token-2"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{}"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(header("authorization", "Bearer token-1"))
        .respond_with(ResponseTemplate::new(401))
        .expect(1)
        .mount(&server)
        .await;
    let tokens = CountingTokens {
        replaced: Mutex::new(0),
    };
    let url = format!("{}/thing", server.uri());
    let response = http
        .send_authed(&tokens, |client, token: &String| {
            Ok(client.get(&url).bearer_auth(token))
        })
        .await
        .expect("answered");
    assert_eq!(response.status(), 200);
    assert_eq!(*tokens.replaced.lock().expect("lock"), 1);
}

#[tokio::test]
async fn a_second_401_is_returned_not_retried_again() {
    let http = vendor_http(Duration::from_secs(5));
    let server = answering(401, r#"{"problem": "bad token"}"#).await;
    let tokens = CountingTokens {
        replaced: Mutex::new(0),
    };
    let response = http
        .send_authed(&tokens, |client, token: &String| {
            Ok(client.get(server.uri()).bearer_auth(token))
        })
        .await
        .expect("answered");
    let err = http.check(response).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Auth { .. }), "{err:?}");
    assert_eq!(*tokens.replaced.lock().expect("lock"), 1);
    assert_eq!(server.received_requests().await.expect("recorded").len(), 2);
}
