//! The Inbenta client against wiremock: request shapes, token life cycle, error classes.
//! Shared helpers live here; the cases are grouped in `tests/`.

mod attachments;
mod errors;
mod polling;
mod shapes;
mod tokens;
mod webhooks;

use super::{InbentaBuildError, InbentaClient};
use crate::config::InbentaConfig;
use crate::connectors::NewTicket;
use crate::domain::ExternalId;
use secrecy::SecretString;
use serde_json::json;
use std::time::Duration;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockBuilder, MockServer, ResponseTemplate};

pub(super) const API_KEY: &str = "test-api-key";
pub(super) const SECRET: &str = "test-secret";

pub(super) fn config_for(server: &MockServer) -> InbentaConfig {
    InbentaConfig {
        auth_url: url::Url::parse(&server.uri()).expect("mock server URI"),
        api_key: Some(SecretString::from(API_KEY)),
        secret: Some(SecretString::from(SECRET)),
        timeout: Duration::from_secs(5),
        ..InbentaConfig::default()
    }
}

pub(super) fn client_for(server: &MockServer) -> InbentaClient {
    InbentaClient::new(&config_for(server)).expect("client builds")
}

pub(super) fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

pub(super) fn ticketing(server: &MockServer) -> String {
    format!("{}/prod/ticketing", server.uri())
}

pub(super) fn token_answer(server: &MockServer, token: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "accessToken": token,
        "expiration": now() + 3600,
        "apis": { "ticketing": ticketing(server) },
    }))
}

/// `/v1/auth` answers `token` (at most `times` times when given), expecting the key and secret.
pub(super) async fn mount_auth(server: &MockServer, token: &str, times: Option<u64>) {
    let mock = Mock::given(method("POST"))
        .and(path("/v1/auth"))
        .and(header("x-inbenta-key", API_KEY))
        .and(body_json(json!({ "secret": SECRET })))
        .respond_with(token_answer(server, token));
    match times {
        Some(n) => mock.up_to_n_times(n).mount(server).await,
        None => mock.mount(server).await,
    }
}

/// `GET /v1/users` with the key and `token` as bearer.
pub(super) fn users_request(token: &str) -> MockBuilder {
    Mock::given(method("GET"))
        .and(path("/prod/ticketing/v1/users"))
        .and(header("x-inbenta-key", API_KEY))
        .and(header("authorization", format!("Bearer {token}").as_str()))
}

pub(super) fn one_user() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({ "data": [{ "id": 77 }] }))
}

/// `GET /v1/users?address=…` answered with one user, only for `token`.
pub(super) fn users_lookup(token: &str) -> Mock {
    users_request(token).respond_with(one_user())
}

pub(super) async fn requests_to(server: &MockServer, wanted: &str) -> usize {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == wanted)
        .count()
}

/// An authenticated server whose `path` answers `template`.
pub(super) async fn server_answering(
    verb: &str,
    at: &str,
    template: ResponseTemplate,
) -> MockServer {
    let server = MockServer::start().await;
    mount_auth(&server, "token-1", None).await;
    Mock::given(method(verb))
        .and(path(format!("/prod/ticketing{at}")))
        .respond_with(template)
        .mount(&server)
        .await;
    server
}

pub(super) fn customer_ticket() -> NewTicket {
    NewTicket {
        title: "WhatsApp +62 812".into(),
        creator: ExternalId::new("1234"),
        message_html: "<p>Hello</p>".into(),
        queue: None,
        source: None,
        attachments: vec![ExternalId::new("media-1")],
        external_id: "wa:chan:62812".into(),
    }
}

// --- Building -----------------------------------------------------------------------------------

#[test]
fn client_without_api_key_is_not_built() {
    let config = InbentaConfig {
        secret: Some(SecretString::from(SECRET)),
        ..InbentaConfig::default()
    };
    assert!(matches!(
        InbentaClient::new(&config),
        Err(InbentaBuildError::MissingApiKey)
    ));
}

#[test]
fn client_without_secret_is_not_built() {
    let config = InbentaConfig {
        api_key: Some(SecretString::from(API_KEY)),
        secret: Some(SecretString::from("  ")),
        ..InbentaConfig::default()
    };
    assert!(matches!(
        InbentaClient::new(&config),
        Err(InbentaBuildError::MissingSecret)
    ));
}

#[tokio::test]
async fn debug_output_shows_no_secret() {
    let server = MockServer::start().await;
    let printed = format!("{:?}", client_for(&server));
    assert!(
        !printed.contains(API_KEY) && !printed.contains(SECRET),
        "{printed}"
    );
}
