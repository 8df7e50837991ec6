//! Qontak's error answers → classified `ConnectorError`s carrying Qontak's explanations.

use super::{channel_at, sim_channel, to_room};
use crate::connectors::qontak::client::error_messages;
use crate::connectors::{ChannelConnector, ConnectorError, ErrorClass};
use crate::domain::{ConversationKey, OutboundBody};
use crate::sandbox::qontak::{MemoryCredentials, QontakSim};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn text(body: &str) -> OutboundBody {
    OutboundBody::Text { text: body.into() }
}

#[test]
fn error_bodies_of_every_known_shape_are_read() {
    let cases = [
        (
            json!({"status": "error", "error": {"code": 401, "messages": ["Invalid token"]}}),
            vec!["Invalid token"],
        ),
        (
            json!({"status": "error", "error": {"code": 422, "messages": [
                {"active_model_errors": {"offset": ["must be an integer"]},
                 "type": "expectation_failed"}]}}),
            vec!["offset must be an integer"],
        ),
        (
            json!({"error": "invalid_grant", "error_description": "The grant is invalid."}),
            vec!["invalid_grant: The grant is invalid."],
        ),
        (
            json!({"message": "Too many requests"}),
            vec!["Too many requests"],
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(error_messages(&body.to_string()), expected, "{body}");
    }
    assert_eq!(
        error_messages("<html>Bad Gateway</html>"),
        ["<html>Bad Gateway</html>"]
    );
    assert!(error_messages("").is_empty());
}

#[tokio::test]
async fn refusals_carry_qontak_messages_and_are_classified() {
    let sim = QontakSim::start().await.unwrap();
    let room = sim.add_room("628111222333", "Siti");
    let channel = sim_channel(&sim, Arc::new(MemoryCredentials::new()));
    let to = to_room(&room);

    sim.fail_next_with(
        "POST",
        "messages/whatsapp/bot",
        400,
        &["text is too long"],
        1,
    );
    let err = channel.send(&to, &text("x")).await.unwrap_err();
    assert!(
        matches!(&err, ConnectorError::Permanent { status: Some(400), message, .. }
            if message.contains("text is too long")),
        "{err:?}"
    );

    sim.fail_next("POST", "messages/whatsapp/bot", 503, 1);
    let err = channel.send(&to, &text("x")).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Retry, "{err:?}");

    let err = channel
        .resolve(&ConversationKey::new("no-such-room"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ConnectorError::NotFound { message, .. } if message.contains("Room not found")),
        "{err:?}"
    );
}

#[tokio::test]
async fn rate_limit_reset_as_a_unix_time_becomes_a_delay() {
    let sim = QontakSim::start().await.unwrap();
    let room = sim.add_room("628111222333", "Siti");
    let channel = sim_channel(&sim, Arc::new(MemoryCredentials::new()));
    sim.fail_next("POST", "messages/whatsapp/bot", 429, 1);
    let err = channel.send(&to_room(&room), &text("x")).await.unwrap_err();
    let ConnectorError::RateLimited { retry_after, .. } = err else {
        panic!("expected a rate limit, got {err:?}");
    };
    // The simulator resets two seconds ahead of its clock, so the delay is at most that.
    let delay = retry_after.expect("a delay");
    assert!(delay <= Duration::from_secs(2), "{delay:?}");
}

#[tokio::test]
async fn rate_limit_reset_as_a_delay_and_retry_after_are_honoured() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/api/open/v1/rooms/r-1/resolve"))
        .respond_with(ResponseTemplate::new(429).insert_header("x-ratelimit-reset", "30"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/api/open/v1/rooms/r-1/resolve"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "7"))
        .mount(&server)
        .await;
    let channel = channel_at(&server.uri(), json!({}));
    let room = ConversationKey::new("r-1");
    for expected in [30, 7] {
        let err = channel.resolve(&room).await.unwrap_err();
        assert_eq!(
            err.retry_after(),
            Some(Duration::from_secs(expected)),
            "{err:?}"
        );
    }
}

#[tokio::test]
async fn please_wait_a_moment_is_retried_later() {
    let sim = QontakSim::start().await.unwrap();
    let room = sim.add_room("628111222333", "Siti");
    sim.add_template("follow_up", "id", "Halo {{1}}");
    let channel = sim_channel(&sim, Arc::new(MemoryCredentials::new()));
    sim.fail_next_with(
        "POST",
        "broadcasts/whatsapp/direct",
        422,
        &["please wait a moment to send a new broadcast message."],
        1,
    );
    let body = OutboundBody::Template {
        name: "follow_up".into(),
        language: "id".into(),
        parameters: vec!["Siti".into()],
    };
    let err = channel.send(&to_room(&room), &body).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Transient { .. }), "{err:?}");
    assert!(err.to_string().contains("please wait a moment"), "{err}");
    channel.send(&to_room(&room), &body).await.unwrap();
    assert_eq!(sim.direct_broadcasts().len(), 1);
}

#[tokio::test]
async fn already_resolved_room_is_not_an_error() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/api/open/v1/rooms/r-1/resolve"))
        .respond_with(ResponseTemplate::new(422).set_body_json(
            json!({"status": "error", "error": {"code": 422, "messages": ["Room already resolved"]}}),
        ))
        .mount(&server)
        .await;
    let channel = channel_at(&server.uri(), json!({}));
    channel.resolve(&ConversationKey::new("r-1")).await.unwrap();
}
