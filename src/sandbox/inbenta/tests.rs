//! The simulated Inbenta refuses what the real one refuses, and the real client works against it.

use super::{AGENT_USER_ID, API_KEY, InbentaSim, InbentaSimOptions, SECRET};
use crate::config::InbentaConfig;
use crate::connectors::inbenta::InbentaClient;
use crate::connectors::{ConnectorError, NewReply, NewTicket, TicketConnector};
use crate::domain::{ExternalId, MediaFile};
use axum::http::HeaderMap;
use secrecy::SecretString;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

struct Caller {
    http: reqwest::Client,
    sim: InbentaSim,
    token: String,
}

impl Caller {
    async fn start() -> Self {
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

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sim.ticketing_url())
    }

    /// An authorised ticketing call; returns the status and the JSON body (Null if none).
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
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

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        self.send(reqwest::Method::GET, path, None).await
    }

    async fn new_user(&self) -> i64 {
        let (status, body) = self
            .post(
                "/v1/users",
                json!({ "name": "Ana", "address": "ana@wa.invalid" }),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["uuid"].as_i64().expect("numeric user id")
    }

    async fn new_ticket(&self, creator: i64) -> i64 {
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

fn first_error_code(body: &Value) -> &str {
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

// --- Behaviour ----------------------------------------------------------------------------------

#[tokio::test]
async fn replies_are_typed_by_who_wrote_them() {
    let caller = Caller::start().await;
    let user = caller.new_user().await;
    let ticket = caller.new_ticket(user).await;

    let (status, _) = caller
        .post(
            &format!("/v1/tickets/{ticket}/replies"),
            json!({ "creator": user, "message": "more" }),
        )
        .await;
    assert_eq!(status, 201);
    caller
        .sim
        .add_agent_answer(ticket, "<p>on it</p>")
        .expect("ticket exists");

    let (_, listed) = caller.get(&format!("/v1/tickets/{ticket}/replies")).await;
    assert_eq!(listed["data"][0]["type"], "reply");
    assert_eq!(listed["data"][1]["type"], "answer");
    assert_eq!(listed["data"][1]["creator"]["id"], AGENT_USER_ID);
}

#[tokio::test]
async fn tickets_are_found_by_external_id() {
    let caller = Caller::start().await;
    let user = caller.new_user().await;
    let ticket = caller.new_ticket(user).await;

    let (_, found) = caller.get("/v1/tickets?external_id=ext-1").await;
    let (_, missing) = caller.get("/v1/tickets?external_id=other").await;

    assert_eq!(found["data"][0]["id"], ticket);
    assert_eq!(missing["data"], json!([]));
}

#[tokio::test]
async fn injected_failures_answer_then_stop() {
    let caller = Caller::start().await;
    caller
        .sim
        .fail_next("GET", "/prod/ticketing/v1/users", 429, 1);

    let response = caller
        .http
        .get(caller.url("/v1/users"))
        .header("x-inbenta-key", API_KEY)
        .bearer_auth(&caller.token)
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "1");
    assert_eq!(caller.get("/v1/users").await.0, 200);
    assert_eq!(
        caller.sim.request_count("GET", "/prod/ticketing/v1/users"),
        2
    );
}

/// A local receiver for webhook tests: echoes the challenge when `echo` is true.
async fn webhook_receiver(echo: bool) -> (String, tokio::task::JoinHandle<()>) {
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

#[tokio::test]
async fn webhook_is_registered_only_when_the_receiver_echoes_the_challenge() {
    let caller = Caller::start().await;
    let (bad_url, _bad) = webhook_receiver(false).await;
    let (good_url, _good) = webhook_receiver(true).await;

    let (refused, body) = caller
        .post(
            "/v1/webhooks",
            json!({ "item": "reply", "url": bad_url, "secret": "s3cret" }),
        )
        .await;
    let (accepted, _) = caller
        .post(
            "/v1/webhooks",
            json!({ "item": "reply", "url": good_url, "secret": "s3cret" }),
        )
        .await;

    assert_eq!(
        (refused, first_error_code(&body)),
        (400, "webhook_verification_failed")
    );
    assert_eq!(accepted, 201);
    assert_eq!(caller.sim.webhooks().len(), 1);
    let (_, listed) = caller.get("/v1/webhooks").await;
    assert_eq!(listed["data"][0]["url"], good_url.as_str());
}

#[tokio::test]
async fn agent_answer_is_announced_to_reply_webhooks() {
    let caller = Caller::start().await;
    let (url, _receiver) = webhook_receiver(true).await;
    let (status, _) = caller
        .post(
            "/v1/webhooks",
            json!({ "item": "reply", "url": url, "secret": "s3cret" }),
        )
        .await;
    assert_eq!(status, 201);
    let user = caller.new_user().await;
    let ticket = caller.new_ticket(user).await;

    let reply = caller
        .sim
        .add_agent_answer(ticket, "hello")
        .expect("ticket exists");

    let deadline = Instant::now() + Duration::from_secs(5);
    while caller.sim.deliveries().is_empty() && Instant::now() < deadline {
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let deliveries = caller.sim.deliveries();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].status, Some(200));
    assert_eq!(deliveries[0].body[0]["id"], reply);
    assert_eq!(deliveries[0].body[0]["parent"], ticket);
}

// --- The real client against the simulator ------------------------------------------------------

fn client_for(sim: &InbentaSim) -> InbentaClient {
    InbentaClient::new(&InbentaConfig {
        auth_url: url::Url::parse(&sim.auth_url()).expect("sim URL"),
        api_key: Some(SecretString::from(API_KEY)),
        secret: Some(SecretString::from(SECRET)),
        ..InbentaConfig::default()
    })
    .expect("client builds")
}

#[tokio::test]
async fn inbenta_client_runs_a_whole_ticket_flow_against_the_simulator() {
    let sim = InbentaSim::start_with(InbentaSimOptions {
        apis_in_auth_answer: false,
        ..InbentaSimOptions::default()
    })
    .await
    .expect("simulator starts");
    let client = client_for(&sim);
    let address = "62812@whatsapp.invalid";

    assert_eq!(client.find_user(address).await.expect("lookup"), None);
    let user = client.create_user("Ana", address).await.expect("user");
    assert_eq!(
        client.find_user(address).await.expect("lookup"),
        Some(user.clone())
    );
    let media = client
        .upload_media(&MediaFile {
            filename: "photo.jpg".into(),
            mime_type: "image/jpeg".into(),
            bytes: vec![7; 1000],
        })
        .await
        .expect("media");
    let ticket = client
        .create_ticket(&NewTicket {
            title: "WhatsApp Ana".into(),
            creator: user.clone(),
            message_html: "<p>hello</p>".into(),
            queue: Some(2),
            source: None,
            attachments: vec![media.clone()],
            external_id: "wa:x:62812".into(),
        })
        .await
        .expect("ticket");
    assert_eq!(
        client.find_ticket("wa:x:62812").await.expect("lookup"),
        Some(ticket.clone())
    );

    sim.expire_all_tokens();
    let reply = NewReply {
        creator: user.clone(),
        message_html: "second".into(),
        attachments: vec![],
    };
    client
        .add_reply(&ticket, &reply)
        .await
        .expect("reply after re-auth");
    let ticket_id: i64 = ticket.as_str().parse().expect("numeric");
    sim.add_agent_answer(ticket_id, "<p>answer</p>")
        .expect("ticket exists");
    client
        .set_ticket_status(&ticket, 3)
        .await
        .expect("status set");

    let replies = client.list_replies(&ticket).await.expect("replies");
    assert_eq!(
        replies.iter().map(|r| r.kind.as_str()).collect::<Vec<_>>(),
        ["reply", "answer"]
    );
    assert_eq!(
        replies[1].creator,
        Some(ExternalId::new(AGENT_USER_ID.to_string()))
    );
    assert_eq!(
        client.ticket_status(&ticket).await.expect("status"),
        Some(3)
    );
    let stored = sim.ticket(ticket_id).expect("stored");
    assert_eq!(stored.attachments, vec![media.to_string()]);
    assert_eq!(stored.queue, Some(2));
    assert_eq!(sim.media()[0].size_bytes, 1000);
    assert_eq!(sim.request_count("GET", "/v1/apis"), 2);
}

#[tokio::test]
async fn inbenta_client_classifies_simulator_refusals() {
    let sim = InbentaSim::start().await.expect("simulator starts");
    let client = client_for(&sim);

    sim.fail_next("GET", "/prod/ticketing/v1/users", 503, 1);
    let unavailable = client.find_user("a@x.invalid").await.expect_err("503");
    let unknown_creator = client
        .create_ticket(&NewTicket {
            title: "t".into(),
            creator: ExternalId::new("424242"),
            message_html: "hi".into(),
            queue: None,
            source: None,
            attachments: vec![],
            external_id: "e".into(),
        })
        .await
        .expect_err("unknown creator");
    let missing = client
        .ticket_status(&ExternalId::new("999999"))
        .await
        .expect_err("unknown ticket");

    assert!(
        matches!(unavailable, ConnectorError::Transient { .. }),
        "{unavailable:?}"
    );
    assert!(
        matches!(
            unknown_creator,
            ConnectorError::Permanent {
                status: Some(400),
                ..
            }
        ),
        "{unknown_creator:?}"
    );
    assert!(unknown_creator.to_string().contains("user_not_found"));
    assert!(
        matches!(missing, ConnectorError::NotFound { .. }),
        "{missing:?}"
    );
}

#[tokio::test]
async fn largest_file_the_client_accepts_fits_the_ten_megabyte_payload_limit() {
    let sim = InbentaSim::start().await.expect("simulator starts");
    let client = client_for(&sim);
    let file = MediaFile {
        filename: "largest.bin".into(),
        mime_type: "application/octet-stream".into(),
        bytes: vec![0xAB; client.max_attachment_bytes()],
    };

    client
        .upload_media(&file)
        .await
        .expect("accepted by the simulator");

    assert_eq!(sim.media()[0].size_bytes, client.max_attachment_bytes());
}

#[tokio::test]
async fn cleared_failures_do_not_fire() {
    let caller = Caller::start().await;
    caller
        .sim
        .fail_next("GET", "/prod/ticketing/v1/users", 503, 5);

    caller.sim.clear_failures();

    assert_eq!(caller.get("/v1/users").await.0, 200);
}
