//! The simulator refuses what Qontak refuses, and speaks in Qontak's shapes.

use super::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

fn api(sim: &QontakSim, path: &str) -> String {
    format!("{}/api/open/v1/{path}", sim.base_url())
}

async fn answer(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn post_json(sim: &QontakSim, path: &str, body: &Value) -> (StatusCode, Value) {
    let response = http()
        .post(api(sim, path))
        .bearer_auth(sim.access_token())
        .json(body)
        .send()
        .await
        .unwrap();
    answer(response).await
}

fn messages(body: &Value) -> Vec<String> {
    body["error"]["messages"]
        .as_array()
        .map(|m| {
            m.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn every_api_call_needs_a_valid_bearer_token() {
    let sim = QontakSim::start().await.unwrap();
    for token in [None, Some("nope".to_owned())] {
        let mut request = http().get(api(&sim, "rooms"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let (status, body) = answer(request.send().await.unwrap()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            body,
            json!({"status": "error", "error": {"code": 401, "messages": ["Invalid token"]}})
        );
    }
    let ok = http()
        .get(api(&sim, "rooms"))
        .bearer_auth(sim.access_token())
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    sim.expire_access_token();
    let expired = http()
        .get(api(&sim, "rooms"))
        .bearer_auth(sim.access_token())
        .send()
        .await
        .unwrap();
    assert_eq!(expired.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn refresh_tokens_rotate_and_work_once() {
    let sim = QontakSim::start().await.unwrap();
    let (old_access, refresh) = (sim.access_token(), sim.refresh_token());
    let grant = |refresh: &str, secret: &str| {
        json!({"refresh_token": refresh, "grant_type": "refresh_token",
               "client_id": CLIENT_ID, "client_secret": secret})
    };
    let url = format!("{}/oauth/token", sim.base_url());
    let (status, body) = answer(
        http()
            .post(&url)
            .json(&grant(&refresh, CLIENT_SECRET))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["access_token"], sim.access_token());
    assert_ne!(body["refresh_token"], refresh.as_str());
    assert!(body["expires_in"].is_i64() && body["created_at"].is_i64());
    assert_eq!(sim.tokens_issued(), 2);

    let (status, body) = answer(
        http()
            .post(&url)
            .json(&grant(&refresh, CLIENT_SECRET))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    let (status, body) = answer(
        http()
            .post(&url)
            .json(&grant(&sim.refresh_token(), "wrong"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );

    let old = http()
        .get(api(&sim, "rooms"))
        .bearer_auth(old_access)
        .send()
        .await
        .unwrap();
    assert_eq!(
        old.status(),
        StatusCode::UNAUTHORIZED,
        "the previous access token is revoked"
    );
}

#[tokio::test]
async fn bot_messages_are_refused_like_qontak_refuses_them() {
    let sim = QontakSim::start().await.unwrap();
    let room = sim.add_room("628111222333", "Siti");
    let cases = [
        (json!({"type": "text", "text": "hi"}), "room_id is missing"),
        (json!({"room_id": room, "text": "hi"}), "type is missing"),
        (
            json!({"room_id": room, "type": "sticker"}),
            "type does not have a valid value",
        ),
        (json!({"room_id": room, "type": "text"}), "text is missing"),
        (
            json!({"room_id": room, "type": "image", "file": "https://x/y.jpg"}),
            "file is missing",
        ),
        (
            json!({"room_id": room, "type": "text", "message": "hi"}),
            "text is missing",
        ),
    ];
    for (body, expected) in cases {
        let (status, answer) = post_json(&sim, "messages/whatsapp/bot", &body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(
            messages(&answer).contains(&expected.to_owned()),
            "{body}: {answer}"
        );
    }
    let (status, _) = post_json(
        &sim,
        "messages/whatsapp/bot",
        &json!({"room_id": "unknown", "type": "text", "text": "hi"}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    sim.set_session(&room, "expired");
    let (status, answer) = post_json(
        &sim,
        "messages/whatsapp/bot",
        &json!({"room_id": room, "type": "text", "text": "hi"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(messages(&answer), [SESSION_EXPIRED_MESSAGE]);
    assert!(sim.sent_messages().is_empty());
}

#[tokio::test]
async fn media_must_fit_whatsapp_rules() {
    let sim = QontakSim::start().await.unwrap();
    let room = sim.add_room("628111222333", "Siti");
    let send = |mime: &'static str, len: usize| {
        let form = reqwest::multipart::Form::new()
            .text("room_id", room.clone())
            .text("type", "image")
            .part(
                "file",
                reqwest::multipart::Part::bytes(vec![1u8; len])
                    .file_name("a")
                    .mime_str(mime)
                    .unwrap(),
            );
        http()
            .post(api(&sim, "messages/whatsapp/bot"))
            .bearer_auth(sim.access_token())
            .multipart(form)
            .send()
    };
    let (status, body) = answer(send("image/gif", 10).await.unwrap()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = answer(send("image/png", 5 * 1024 * 1024 + 1).await.unwrap()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = answer(send("image/png", 10).await.unwrap()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["data"]["type"], "image");
    assert!(
        body["data"]["file"]["url"]
            .as_str()
            .unwrap()
            .starts_with(&sim.base_url())
    );
}

#[tokio::test]
async fn bot_message_answer_has_the_shape_of_qontak_sample() {
    let sim = QontakSim::start().await.unwrap();
    let room = sim.add_room("628111222333", "Siti");
    let (status, body) = post_json(
        &sim,
        "messages/whatsapp/bot",
        &json!({"room_id": room, "type": "text", "text": "Bot Send Message"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let sample: Value = serde_json::from_str(include_str!(
        "../../connectors/qontak/tests/fixtures/qontak_post_messages_whatsapp_bot_response_2021doc.json"
    )).unwrap();
    assert_same_keys(&sample["data"], &body["data"]);
    assert_same_keys(&sample["data"]["room"], &body["data"]["room"]);
    assert_eq!(body["data"]["participant_type"], "bot");
    assert_eq!(body["data"]["sender_type"], "Models::SystemAccount");
}

#[tokio::test]
async fn webhook_bodies_have_the_keys_of_qontak_samples() {
    let sim = QontakSim::start().await.unwrap();
    let room = sim.add_room("628117661000", "Burhanudin");
    let customer = sim.customer_text(&room, "helo");
    let sample: Value = serde_json::from_str(include_str!(
        "../../connectors/qontak/tests/fixtures/qontak_webhook_receive_message_from_customer_text_2021doc.json"
    )).unwrap();
    assert_same_keys(&sample, &without_event_names(&customer));
    assert_same_keys(&sample["room"], &customer["room"]);
    assert_eq!(customer["data_event"], "receive_message_from_customer");

    let agent = sim.agent_text(&room, "Agent One", "ada yang bisa dibantu?");
    let status = sim
        .message_status(agent["id"].as_str().unwrap(), "read")
        .unwrap();
    let sample: Value = serde_json::from_str(include_str!(
        "../../connectors/qontak/tests/fixtures/qontak_webhook_status_message_agent_read_2021doc.json"
    )).unwrap();
    let mut status_keys = without_event_names(&status);
    status_keys.as_object_mut().unwrap().remove("updated_at");
    assert_same_keys(&sample, &status_keys);
    assert_eq!(status["participant_type"], "agent");
    assert!(
        status["external_id"]
            .as_str()
            .unwrap()
            .starts_with("wamid.")
    );
}

fn assert_same_keys(expected: &Value, actual: &Value) {
    let keys = |v: &Value| {
        let mut keys: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        keys
    };
    assert_eq!(keys(actual), keys(expected));
}

#[tokio::test]
async fn direct_broadcasts_are_validated() {
    let sim = QontakSim::start().await.unwrap();
    let template = sim.add_template(
        "message",
        "id",
        "Hi {{1}}, Silakan periksa invoice di email anda.",
    );
    let valid = json!({
        "to_number": "628117661000", "to_name": "Burhanudin Hakim",
        "message_template_id": template, "channel_integration_id": sim.channel_integration_id(),
        "language": {"code": "id"},
        "parameters": {"body": [{"key": "1", "value": "full_name", "value_text": "Burhanudin Hakim"}]},
    });
    let broken = |pointer: &str, value: Value| {
        let mut body = valid.clone();
        *body.pointer_mut(pointer).unwrap() = value;
        body
    };
    let cases = [
        (broken("/to_number", json!("")), "to_number is missing"),
        (
            broken("/to_number", json!("+62 811")),
            "to_number is invalid",
        ),
        (
            broken("/message_template_id", json!("nope")),
            "Message template not found",
        ),
        (
            broken("/channel_integration_id", json!("other")),
            "Channel integration not found",
        ),
        (
            broken("/language/code", json!("en")),
            "language code en does not match the template (id)",
        ),
        (
            broken("/parameters/body", json!([])),
            "the template needs 1 body parameters, 0 given",
        ),
        (
            broken("/parameters/body/0/key", json!("2")),
            "parameters[body] key \"2\" is invalid",
        ),
    ];
    for (body, expected) in cases {
        let (status, answer) = post_json(&sim, "broadcasts/whatsapp/direct", &body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert_eq!(messages(&answer), [expected], "{body}");
    }
    assert!(sim.direct_broadcasts().is_empty());
    let (status, answer) = post_json(&sim, "broadcasts/whatsapp/direct", &valid).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["data"]["message_template"]["id"], template.as_str());
    let sent = sim.direct_broadcasts();
    assert_eq!(sent[0].parameters, ["Burhanudin Hakim"]);
    assert_eq!(sent[0].id, answer["data"]["id"].as_str().unwrap());
    // The template shows up in the (new) room of that number as a campaign message.
    let rooms = http()
        .get(api(&sim, "rooms"))
        .bearer_auth(sim.access_token())
        .send()
        .await
        .unwrap();
    let rooms: Value = rooms.json().await.unwrap();
    let room = rooms["data"][0]["id"].as_str().unwrap();
    let history = sim.history(room);
    assert_eq!(history[0]["is_campaign"], true);
    assert_eq!(
        history[0]["text"],
        "Hi Burhanudin Hakim, Silakan periksa invoice di email anda."
    );
}

#[tokio::test]
async fn lists_page_with_cursors_and_rooms_order_by_update() {
    let sim = QontakSim::start().await.unwrap();
    let first = sim.add_room("62811", "First");
    let second = sim.add_room("62812", "Second");
    sim.customer_text(&first, "bump");
    let get = |query: &'static [(&'static str, &'static str)]| {
        http()
            .get(api(&sim, "rooms"))
            .bearer_auth(sim.access_token())
            .query(query)
            .send()
    };
    let page: Value = get(&[
        ("order_by", "updated_at"),
        ("order_direction", "desc"),
        ("limit", "1"),
    ])
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(page["data"][0]["id"], first.as_str());
    let next = page["meta"]["pagination"]["cursor"]["next"]
        .as_str()
        .unwrap()
        .to_owned();
    let rest: Value = http()
        .get(api(&sim, "rooms"))
        .bearer_auth(sim.access_token())
        .query(&[
            ("order_by", "updated_at"),
            ("order_direction", "desc"),
            ("limit", "1"),
            ("cursor", next.as_str()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rest["data"][0]["id"], second.as_str());
    assert!(rest["meta"]["pagination"]["cursor"]["next"].is_null());

    let (status, body) = answer(get(&[("limit", "1000")]).await.unwrap()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body["error"]["messages"][0]["active_model_errors"]["limit"][0],
        "must be an integer between 1 and 100"
    );
}

#[tokio::test]
async fn webhook_registration_wants_https_and_booleans() {
    let sim = QontakSim::start().await.unwrap();
    let put = |path: &'static str, body: Value| {
        http()
            .put(api(&sim, path))
            .bearer_auth(sim.access_token())
            .json(&body)
            .send()
    };
    let (status, _) = answer(
        put(
            "message_interactions",
            json!({"status_message": true,
        "url": "http://bridge.example/hook"}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = answer(
        put(
            "room_interactions",
            json!({"room_resolved": "yes",
        "url": "https://bridge.example/hook"}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, body) = answer(
        put(
            "message_interactions",
            json!({"receive_message_from_customer": true,
        "url": "https://bridge.example/hook"}),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["data"]["receive_message_from_customer"]["enabled"],
        true
    );
    assert_eq!(body["data"]["status_message"]["enabled"], false);
    assert_eq!(
        body["data"]["receive_message_from_customer"]["webhooks"][0]["url"],
        "https://bridge.example/hook"
    );
}

#[tokio::test]
async fn injected_rate_limits_carry_the_reset_header() {
    let sim = QontakSim::start().await.unwrap();
    sim.fail_next("GET", "rooms", 429, 1);
    let response = http()
        .get(api(&sim, "rooms"))
        .bearer_auth(sim.access_token())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let reset: i64 = response.headers()["x-ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(reset > 1_000_000_000);
    let again = http()
        .get(api(&sim, "rooms"))
        .bearer_auth(sim.access_token())
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(sim.request_count("GET", "rooms"), 2);
}

#[tokio::test]
async fn a_lost_answer_sends_the_message_but_answers_the_failure() {
    let sim = QontakSim::start().await.unwrap();
    let room = sim.add_room("62811", "Siti");
    sim.lose_answer_next("POST", "messages/whatsapp/bot", 502, 1);
    let body = json!({"room_id": room, "type": "text", "text": "Halo"});
    let (status, refused) = post_json(&sim, "messages/whatsapp/bot", &body).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(messages(&refused), ["Simulated failure"]);
    assert_eq!(sim.sent_messages().len(), 1, "the message went out");
    assert!(sim.history(&room).iter().any(|m| m["text"] == "Halo"));
    sim.fail_next_with_retry_after(
        "POST",
        "messages/whatsapp/bot",
        503,
        std::time::Duration::from_secs(30),
        1,
    );
    let response = http()
        .post(api(&sim, "messages/whatsapp/bot"))
        .bearer_auth(sim.access_token())
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let reset: i64 = response.headers()["x-ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(reset >= Utc::now().timestamp() + 29, "{reset}");
    assert_eq!(
        sim.sent_messages().len(),
        1,
        "nothing sent by a plain failure"
    );
    assert_eq!(sim.request_count("POST", "messages/whatsapp/bot"), 2);
}

#[tokio::test]
async fn bodies_are_delivered_as_json_posts() {
    use wiremock::matchers::{body_json, method};
    let receiver = wiremock::MockServer::start().await;
    let sim = QontakSim::start().await.unwrap();
    let room = sim.add_room("62811", "Siti");
    let body = sim.customer_text(&room, "hi");
    wiremock::Mock::given(method("POST"))
        .and(body_json(&body))
        .respond_with(wiremock::ResponseTemplate::new(200))
        .expect(1)
        .mount(&receiver)
        .await;
    assert_eq!(sim.deliver(&receiver.uri(), &body).await.unwrap(), 200);
}
