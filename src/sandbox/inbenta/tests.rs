//! The simulated Inbenta refuses what the real one refuses, and the real client works against it.
//! Shared helpers and the refusals live here; `tests/behaviour.rs` covers what the simulator
//! does, `tests/client.rs` runs the real [`InbentaClient`] against it.

mod behaviour;
mod client;

use super::{API_KEY, InbentaSim, SECRET, SimDelivery};
use crate::config::InbentaConfig;
use crate::connectors::inbenta::InbentaClient;
use axum::http::HeaderMap;
use secrecy::SecretString;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// Someone calling the simulated API by hand, with a valid token.
pub(super) struct Caller {
    pub(super) http: reqwest::Client,
    pub(super) sim: InbentaSim,
    pub(super) token: String,
}

impl Caller {
    pub(super) async fn start() -> Self {
        let sim = InbentaSim::start().await.expect("simulator starts");
        let http = reqwest::Client::new();
        let answer: Value = http
            .post(format!("{}/v1/auth", sim.auth_url()))
            .header("x-inbenta-key", API_KEY)
            .json(&json!({ "secret": SECRET }))
            .send()
            .await
            .expect("auth answered")
            .json()
            .await
            .expect("auth JSON");
        let token = answer["accessToken"].as_str().expect("token").to_owned();
        Self { http, sim, token }
    }

    pub(super) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sim.ticketing_url())
    }

    /// An authorised ticketing call; returns the status and the JSON body (Null if none).
    pub(super) async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, self.url(path))
            .header("x-inbenta-key", API_KEY)
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("answered");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub(super) async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    pub(super) async fn get(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, None).await
    }

    pub(super) async fn new_user(&self) -> i64 {
        let (status, body) = self
            .post(
                "/v1/users",
                json!({ "name": "Ana", "address": "ana@wa.invalid" }),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["uuid"].as_i64().expect("numeric user id")
    }

    pub(super) async fn new_ticket(&self, creator: i64) -> i64 {
        let (status, body) = self
            .post(
                "/v1/tickets",
                json!({ "title": "t", "creator": creator, "message": "hi", "external_id": "ext-1" }),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["full_uuid"]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("numeric ticket id")
    }
}

pub(super) fn first_error_code(body: &Value) -> &str {
    body["errors"][0]["code"].as_str().unwrap_or_default()
}

// --- Refusals -----------------------------------------------------------------------------------

#[tokio::test]
async fn auth_with_a_wrong_secret_is_unauthorized() {
    let sim = InbentaSim::start().await.expect("simulator starts");
    let status = reqwest::Client::new()
        .post(format!("{}/v1/auth", sim.auth_url()))
        .header("x-inbenta-key", API_KEY)
        .json(&json!({ "secret": "guess" }))
        .send()
        .await
        .expect("answered")
        .status();
    assert_eq!(status, 401);
}

#[tokio::test]
async fn auth_accepts_a_form_encoded_secret_like_the_php_connector() {
    let sim = InbentaSim::start().await.expect("simulator starts");
    let status = reqwest::Client::new()
        .post(format!("{}/v1/auth", sim.auth_url()))
        .header("x-inbenta-key", API_KEY)
        .form(&[("secret", SECRET)])
        .send()
        .await
        .expect("answered")
        .status();
    assert_eq!(status, 200);
}

#[tokio::test]
async fn missing_or_wrong_api_key_is_forbidden() {
    let sim = InbentaSim::start().await.expect("simulator starts");
    let http = reqwest::Client::new();
    let url = format!("{}/v1/auth", sim.auth_url());
    let body = json!({ "secret": SECRET });
    let without = http.post(&url).json(&body).send().await.expect("answered");
    let wrong = http
        .post(&url)
        .header("x-inbenta-key", "nope")
        .json(&body)
        .send()
        .await
        .expect("answered");
    assert_eq!(without.status(), 403);
    assert_eq!(wrong.status(), 403);
}

#[tokio::test]
async fn ticketing_call_without_a_token_is_unauthorized() {
    let caller = Caller::start().await;
    let response = caller
        .http
        .get(caller.url("/v1/users"))
        .header("x-inbenta-key", API_KEY)
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body, json!({ "message": "Unauthorized" }));
}

#[tokio::test]
async fn expired_token_is_unauthorized_and_cannot_be_refreshed() {
    let caller = Caller::start().await;
    caller.sim.expire_all_tokens();

    let (status, _) = caller.get("/v1/users").await;
    let refresh = caller
        .http
        .post(format!("{}/v1/refreshToken", caller.sim.auth_url()))
        .header("x-inbenta-key", API_KEY)
        .bearer_auth(&caller.token)
        .send()
        .await
        .expect("answered");

    assert_eq!(status, 401);
    assert_eq!(refresh.status(), 401);
}

#[tokio::test]
async fn user_without_address_is_refused() {
    let caller = Caller::start().await;
    let (status, body) = caller.post("/v1/users", json!({ "name": "Ana" })).await;
    assert_eq!(status, 400);
    assert_eq!(first_error_code(&body), "address_required");
}

#[tokio::test]
async fn ticket_without_creator_or_message_is_refused() {
    let caller = Caller::start().await;
    let user = caller.new_user().await;

    let (no_creator, body) = caller.post("/v1/tickets", json!({ "message": "hi" })).await;
    assert_eq!(
        (no_creator, first_error_code(&body)),
        (400, "creator_required")
    );
    let (no_message, body) = caller.post("/v1/tickets", json!({ "creator": user })).await;
    assert_eq!(
        (no_message, first_error_code(&body)),
        (400, "message_required")
    );
}

#[tokio::test]
async fn ticket_for_an_unknown_creator_is_refused() {
    let caller = Caller::start().await;
    let (status, body) = caller
        .post("/v1/tickets", json!({ "creator": 424242, "message": "hi" }))
        .await;
    assert_eq!(status, 400);
    assert_eq!(first_error_code(&body), "user_not_found");
    assert!(body["errors"][0]["message"].as_str().is_some());
}

#[tokio::test]
async fn unknown_ticket_is_not_found() {
    let caller = Caller::start().await;
    assert_eq!(caller.get("/v1/tickets/999999").await.0, 404);
    assert_eq!(caller.get("/v1/tickets/abc/replies").await.0, 404);
}

#[tokio::test]
async fn media_that_is_not_base64_is_refused() {
    let caller = Caller::start().await;
    let (status, body) = caller
        .post(
            "/v1/media",
            json!({ "name": "a.txt", "content": "not base64!" }),
        )
        .await;
    assert_eq!((status, first_error_code(&body)), (400, "invalid_content"));
}

#[tokio::test]
async fn body_over_ten_megabytes_is_too_large() {
    let caller = Caller::start().await;
    let content = "A".repeat(10 * 1024 * 1024 + 4);
    let (status, _) = caller
        .post(
            "/v1/media",
            json!({ "name": "big.bin", "content": content }),
        )
        .await;
    assert_eq!(status, 413);
    assert!(caller.sim.media().is_empty());
}

#[tokio::test]
async fn attachment_that_was_never_uploaded_is_refused() {
    let caller = Caller::start().await;
    let user = caller.new_user().await;
    let (status, body) = caller
        .post(
            "/v1/tickets",
            json!({ "creator": user, "message": "hi", "attachments": ["no-such-media"] }),
        )
        .await;
    assert_eq!((status, first_error_code(&body)), (400, "media_not_found"));
}

// --- Shared helpers -----------------------------------------------------------------------------

/// A local receiver for webhook tests: echoes the challenge when `echo` is true and the
/// signature is `s3cret`; accepts every POST.
pub(super) async fn webhook_receiver(echo: bool) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind receiver");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::get(move |headers: HeaderMap| async move {
            let challenge = headers
                .get("x-inbenta-challenge")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let signed = headers
                .get("x-hook-signature")
                .is_some_and(|v| v == "s3cret");
            if echo && signed {
                challenge
            } else {
                "nope".to_owned()
            }
        })
        .post(|| async { "ok" }),
    );
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, server)
}

/// Register `url` for `item` through the API (the receiver must echo the challenge).
pub(super) async fn register(caller: &Caller, item: &str, url: &str) {
    let (status, body) = caller
        .post(
            "/v1/webhooks",
            json!({ "item": item, "url": url, "secret": "s3cret" }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

/// The deliveries once at least `count` were made (or what there is after five seconds).
pub(super) async fn deliveries_after(sim: &InbentaSim, count: usize) -> Vec<SimDelivery> {
    let deadline = Instant::now() + Duration::from_secs(5);
    while sim.deliveries().len() < count && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    sim.deliveries()
}

pub(super) fn client_for(sim: &InbentaSim) -> InbentaClient {
    InbentaClient::new(&InbentaConfig {
        auth_url: url::Url::parse(&sim.auth_url()).expect("sim URL"),
        api_key: Some(SecretString::from(API_KEY)),
        secret: Some(SecretString::from(SECRET)),
        ..InbentaConfig::default()
    })
    .expect("client builds")
}
