//! Failed answers become the right `ConnectorError` class, with the vendor's message.

use super::{client_for, config_for, customer_ticket, server_answering};
use crate::config::InbentaConfig;
use crate::connectors::http::parse_retry_after;
use crate::connectors::inbenta::InbentaClient;
use crate::connectors::inbenta::wire::vendor_error_message;
use crate::connectors::{ConnectorError, TicketConnector};
use crate::domain::ExternalId;
use serde_json::json;
use std::time::Duration;
use wiremock::ResponseTemplate;

#[tokio::test]
async fn server_error_is_transient() {
    let server = server_answering("GET", "/v1/users", ResponseTemplate::new(503)).await;

    let err = client_for(&server)
        .find_user("a@x.invalid")
        .await
        .expect_err("503");

    assert!(matches!(err, ConnectorError::Transient { .. }), "{err:?}");
}

#[tokio::test]
async fn timeout_is_transient_and_does_not_leak_the_looked_up_address() {
    let server = server_answering(
        "GET",
        "/v1/users",
        ResponseTemplate::new(200)
            .set_body_json(json!({ "data": [] }))
            .set_delay(Duration::from_secs(3)),
    )
    .await;
    let client = InbentaClient::new(&InbentaConfig {
        timeout: Duration::from_millis(300),
        ..config_for(&server)
    })
    .expect("client builds");

    let err = client
        .find_user("62812999@whatsapp.invalid")
        .await
        .expect_err("timed out");

    assert!(matches!(err, ConnectorError::Transient { .. }), "{err:?}");
    assert!(!err.to_string().contains("62812999"), "{err}");
}

#[tokio::test]
async fn rate_limit_carries_the_retry_after_delay() {
    let server = server_answering(
        "GET",
        "/v1/users",
        ResponseTemplate::new(429)
            .insert_header("Retry-After", "30")
            .set_body_json(json!({"message": "Too many requests"})),
    )
    .await;

    let err = client_for(&server)
        .find_user("a@x.invalid")
        .await
        .expect_err("429");

    assert!(matches!(err, ConnectorError::RateLimited { .. }), "{err:?}");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
}

#[tokio::test]
async fn bad_request_is_permanent_and_carries_the_vendor_message() {
    let server = server_answering(
        "POST",
        "/v1/tickets",
        ResponseTemplate::new(400).set_body_json(json!({
            "errors": [{ "message": "The creator does not exist", "code": 4001 }]
        })),
    )
    .await;

    let err = client_for(&server)
        .create_ticket(&customer_ticket())
        .await
        .expect_err("400");

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
        err.to_string()
            .contains("The creator does not exist (code 4001)")
    );
}

#[tokio::test]
async fn unknown_ticket_is_not_found() {
    let server = server_answering(
        "GET",
        "/v1/tickets/999",
        ResponseTemplate::new(404)
            .set_body_json(json!({"error": "not_found", "message": "Ticket not found"})),
    )
    .await;

    let err = client_for(&server)
        .ticket_state(&ExternalId::new("999"))
        .await
        .expect_err("404");

    assert!(matches!(err, ConnectorError::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("Ticket not found"));
}

#[test]
fn vendor_messages_are_read_from_every_known_error_shape() {
    assert_eq!(
        vendor_error_message(br#"{"errors":[{"message":"bad","code":"E1"}]}"#),
        "bad (code E1)"
    );
    assert_eq!(
        vendor_error_message(br#"{"error":"x","message":"nope"}"#),
        "nope"
    );
    assert_eq!(
        vendor_error_message(br#"{"error":"only error"}"#),
        "only error"
    );
    assert_eq!(
        vendor_error_message(br#"{"message":"Unauthorized"}"#),
        "Unauthorized"
    );
    assert_eq!(vendor_error_message(b""), "empty answer");
    let long = "x".repeat(1000);
    assert_eq!(vendor_error_message(long.as_bytes()).len(), 300);
}

#[test]
fn retry_after_accepts_seconds_and_http_dates() {
    let now = chrono::DateTime::parse_from_rfc2822("Wed, 21 Oct 2026 07:28:00 GMT")
        .expect("date")
        .with_timezone(&chrono::Utc);
    assert_eq!(
        parse_retry_after("120", now),
        Some(Duration::from_secs(120))
    );
    assert_eq!(
        parse_retry_after("Wed, 21 Oct 2026 07:28:45 GMT", now),
        Some(Duration::from_secs(45))
    );
    assert_eq!(
        parse_retry_after("Wed, 21 Oct 2026 07:00:00 GMT", now),
        Some(Duration::ZERO)
    );
    assert_eq!(parse_retry_after("soon", now), None);
}
