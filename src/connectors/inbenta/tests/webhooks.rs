//! Webhook deliveries become helpdesk events; the reply webhook is registered once.

use super::{client_for, mount_auth, server_answering};
use crate::connectors::{ConnectorError, Registration, TicketConnector, WebhookError};
use crate::domain::ActivitySubject;
use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::{body_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn offline_client() -> (MockServer, crate::connectors::inbenta::InbentaClient) {
    let server = MockServer::start().await;
    let client = client_for(&server);
    (server, client)
}

#[tokio::test]
async fn reply_and_ticket_events_are_read_from_a_batch() {
    let (_server, client) = offline_client().await;
    let body = json!([
        { "id": 98765, "item": "reply", "action": "add", "timestamp": 1_717_000_000,
          "actor": 42, "parent": 12345 },
        { "id": 12345, "item": "ticket", "action": "update", "timestamp": 1_717_000_050_000_i64,
          "actor": 42, "parent": null },
        { "id": 7, "item": "user", "action": "add", "timestamp": 1_717_000_000,
          "actor": 42, "parent": null },
    ]);

    let events = client
        .parse_webhook(body.to_string().as_bytes())
        .expect("parsed");

    assert_eq!(events.len(), 2, "the user event is dropped");
    let reply = &events[0];
    assert_eq!(reply.dedupe_key, "inbenta:reply:98765:add");
    assert_eq!(reply.activity.ticket.as_str(), "12345");
    assert_eq!(reply.activity.subject, ActivitySubject::Reply);
    assert_eq!(reply.activity.action, "add");
    assert_eq!(reply.activity.object_id.as_str(), "98765");
    assert_eq!(reply.occurred_at.timestamp(), 1_717_000_000);
    let ticket = &events[1];
    assert_eq!(ticket.activity.ticket.as_str(), "12345");
    assert_eq!(ticket.activity.subject, ActivitySubject::Ticket);
    assert_eq!(ticket.activity.object_id.as_str(), "12345");
    assert_eq!(ticket.occurred_at.timestamp(), 1_717_000_050);
    assert_eq!(
        ticket.dedupe_key, "inbenta:ticket:12345:update:1717000050000",
        "updates recur, so their time tells them apart"
    );
}

#[tokio::test]
async fn one_event_object_and_string_ids_are_accepted() {
    let (_server, client) = offline_client().await;
    let body = json!({ "id": "r-1", "item": "Reply", "action": "ADD", "timestamp": "1717000000",
                       "actor": 1, "parent": "T-9" });

    let events = client
        .parse_webhook(body.to_string().as_bytes())
        .expect("parsed");

    assert_eq!(events.len(), 1);
    assert_eq!(events[0].dedupe_key, "inbenta:reply:r-1:add");
    assert_eq!(events[0].activity.ticket.as_str(), "T-9");
}

#[tokio::test]
async fn the_same_reply_event_always_has_the_same_dedupe_key() {
    let (_server, client) = offline_client().await;
    let delivered =
        br#"[{"id":5,"item":"reply","action":"add","timestamp":1717000000,"actor":1,"parent":9}]"#;
    let redelivered =
        br#"[{"id":5,"item":"reply","action":"add","timestamp":1717000999,"actor":1,"parent":9}]"#;

    let first = client.parse_webhook(delivered).expect("parsed");
    let second = client.parse_webhook(redelivered).expect("parsed");

    assert_eq!(first[0].dedupe_key, second[0].dedupe_key);
}

#[tokio::test]
async fn empty_batch_and_unfollowed_items_give_no_events() {
    let (_server, client) = offline_client().await;
    assert!(client.parse_webhook(b"[]").expect("parsed").is_empty());
    let queue =
        br#"[{"id":1,"item":"queue","action":"update","timestamp":1,"actor":1,"parent":null}]"#;
    assert!(client.parse_webhook(queue).expect("parsed").is_empty());
}

#[tokio::test]
async fn body_that_is_not_json_is_invalid_json() {
    let (_server, client) = offline_client().await;
    let err = client
        .parse_webhook(b"id=1&item=reply")
        .expect_err("not JSON");
    assert!(matches!(err, WebhookError::InvalidJson(_)), "{err:?}");
    assert_eq!(err.code(), "invalid_json");
}

#[tokio::test]
async fn json_of_another_shape_is_unrecognized() {
    let (_server, client) = offline_client().await;
    for body in [
        json!("reply"),
        json!([1, 2]),
        json!([{ "id": 1, "action": "add" }]),
        json!([{ "item": "reply", "action": "add", "parent": 3 }]),
        json!([{ "id": 1, "item": "reply", "parent": 3 }]),
        json!([{ "id": 1, "item": "reply", "action": "add", "parent": null }]),
    ] {
        let err = client
            .parse_webhook(body.to_string().as_bytes())
            .expect_err("wrong shape");
        assert!(
            matches!(err, WebhookError::Unrecognized(_)),
            "{body}: {err:?}"
        );
        assert_eq!(err.code(), "unrecognized_payload");
    }
}

#[tokio::test]
async fn missing_timestamp_falls_back_to_the_time_of_receipt() {
    let (_server, client) = offline_client().await;
    let before = chrono::Utc::now();
    let events = client
        .parse_webhook(br#"{"id":1,"item":"reply","action":"add","parent":2}"#)
        .expect("parsed");
    assert!(events[0].occurred_at >= before);
    assert_eq!(events[0].dedupe_key, "inbenta:reply:1:add");
}

// --- Registration -------------------------------------------------------------------------------

#[tokio::test]
async fn existing_reply_webhook_with_this_url_is_not_registered_again() {
    let server = MockServer::start().await;
    mount_auth(&server, "token-1", None).await;
    Mock::given(method("GET"))
        .and(path("/prod/ticketing/v1/webhooks"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "data": [
            { "uuid": "w-1", "item": "ticket", "url": "https://bridge.invalid/webhooks/inbenta" },
            { "uuid": "w-2", "item": "reply", "url": "https://BRIDGE.invalid:443/webhooks/inbenta" },
        ]})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/prod/ticketing/v1/webhooks"))
        .respond_with(ResponseTemplate::new(201))
        .expect(0)
        .mount(&server)
        .await;

    let outcome = client_for(&server)
        .register_webhook(
            "https://bridge.invalid/webhooks/inbenta",
            &SecretString::from("hook-secret"),
        )
        .await
        .expect("listed");

    assert_eq!(outcome, Registration::AlreadyRegistered);
}

#[tokio::test]
async fn reply_webhook_is_registered_with_item_url_and_secret() {
    let server = MockServer::start().await;
    mount_auth(&server, "token-1", None).await;
    Mock::given(method("GET"))
        .and(path("/prod/ticketing/v1/webhooks"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            { "uuid": "w-1", "item": "ticket", "url": "https://bridge.invalid/webhooks/inbenta" },
        ])))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/prod/ticketing/v1/webhooks"))
        .and(body_json(json!({
            "item": "reply",
            "url": "https://bridge.invalid/webhooks/inbenta",
            "secret": "hook-secret",
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!("0f1e2d3c")))
        .expect(1)
        .mount(&server)
        .await;

    let outcome = client_for(&server)
        .register_webhook(
            "https://bridge.invalid/webhooks/inbenta",
            &SecretString::from("hook-secret"),
        )
        .await
        .expect("registered");

    assert_eq!(outcome, Registration::Created);
}

#[tokio::test]
async fn refused_registration_carries_inbentas_message() {
    let server = server_answering(
        "GET",
        "/v1/webhooks",
        ResponseTemplate::new(200).set_body_json(json!({ "data": [] })),
    )
    .await;
    Mock::given(method("POST"))
        .and(path("/prod/ticketing/v1/webhooks"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({
            "errors": [{ "message": "The URL must use the 'https' protocol", "code": 4002 }]
        })))
        .mount(&server)
        .await;

    let err = client_for(&server)
        .register_webhook("http://bridge.invalid/hook", &SecretString::from("x"))
        .await
        .expect_err("refused");

    assert!(
        matches!(
            err,
            ConnectorError::Permanent {
                status: Some(400),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("must use the 'https' protocol"),
        "{err}"
    );
}

// --- Signature and handshake ----------------------------------------------------------------

fn headers(pairs: &[(&'static str, &str)]) -> reqwest::header::HeaderMap {
    let mut map = reqwest::header::HeaderMap::new();
    for (name, value) in pairs {
        map.insert(*name, value.parse().expect("header value"));
    }
    map
}

async fn client_with_webhook_secret(
    secret: Option<&str>,
) -> (MockServer, crate::connectors::inbenta::InbentaClient) {
    let server = MockServer::start().await;
    let config = crate::config::InbentaConfig {
        webhook_secret: secret.map(SecretString::from),
        ..super::config_for(&server)
    };
    let client = crate::connectors::inbenta::InbentaClient::new(&config).expect("client builds");
    (server, client)
}

#[tokio::test]
async fn with_a_webhook_secret_a_delivery_needs_the_right_signature() {
    use crate::connectors::WebhookAuthError::Unauthorized;
    let (_server, client) = client_with_webhook_secret(Some("hook-s3cret")).await;
    client
        .verify_webhook(&headers(&[("x-hook-signature", "hook-s3cret")]))
        .expect("signed with the secret");
    let missing = client.verify_webhook(&headers(&[])).unwrap_err();
    assert!(
        matches!(&missing, Unauthorized(m) if m.contains("X-Hook-Signature is missing")),
        "{missing:?}"
    );
    let wrong = client
        .verify_webhook(&headers(&[("x-hook-signature", "hook-s3cre")]))
        .unwrap_err();
    assert!(
        matches!(&wrong, Unauthorized(m) if m == "wrong X-Hook-Signature"),
        "{wrong:?}"
    );
    assert!(!format!("{missing} {wrong}").contains("hook-s3cret"));
}

#[tokio::test]
async fn without_a_webhook_secret_only_unsigned_deliveries_pass() {
    // An empty secret counts as none.
    for secret in [None, Some("  ")] {
        let (_server, client) = client_with_webhook_secret(secret).await;
        client.verify_webhook(&headers(&[])).expect("unsigned");
        let signed = client.verify_webhook(&headers(&[("x-hook-signature", "anything")]));
        assert!(signed.is_err(), "nothing can check a signature");
    }
}

#[tokio::test]
async fn the_handshake_answers_the_challenge_when_the_signature_is_the_secret() {
    use crate::connectors::WebhookAuthError::{Malformed, Unauthorized};
    let (_server, client) = client_with_webhook_secret(Some("hook-s3cret")).await;
    let answer = client
        .webhook_handshake(&headers(&[
            ("x-hook-signature", "hook-s3cret"),
            ("x-inbenta-challenge", "ch-42"),
        ]))
        .expect("verified");
    assert_eq!(answer, "ch-42");
    let wrong = client.webhook_handshake(&headers(&[
        ("x-hook-signature", "nope"),
        ("x-inbenta-challenge", "ch-42"),
    ]));
    assert!(matches!(wrong, Err(Unauthorized(_))), "{wrong:?}");
    let no_challenge = client.webhook_handshake(&headers(&[("x-hook-signature", "hook-s3cret")]));
    assert!(
        matches!(
            no_challenge,
            Err(Malformed {
                code: "missing_challenge",
                ..
            })
        ),
        "{no_challenge:?}"
    );
    let (_server, unset) = client_with_webhook_secret(None).await;
    let refused = unset.webhook_handshake(&headers(&[
        ("x-hook-signature", ""),
        ("x-inbenta-challenge", "ch-42"),
    ]));
    assert!(matches!(refused, Err(Unauthorized(_))), "{refused:?}");
}
