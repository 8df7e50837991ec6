//! Obtaining, reusing, refreshing and replacing access tokens.

use super::{
    API_KEY, SECRET, client_for, mount_auth, now, one_user, requests_to, server_answering,
    ticketing, users_lookup, users_request,
};
use crate::connectors::http::ShiftedClock;
use crate::connectors::{ConnectorError, TicketConnector};
use crate::domain::ExternalId;
use serde_json::json;
use std::sync::Arc;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn first_call_authenticates_then_sends_key_and_bearer() {
    let server = MockServer::start().await;
    mount_auth(&server, "token-1", None).await;
    users_request("token-1")
        .and(query_param("address", "62812@whatsapp.invalid"))
        .respond_with(one_user())
        .expect(1)
        .mount(&server)
        .await;

    let user = client_for(&server)
        .find_user("62812@whatsapp.invalid")
        .await
        .expect("lookup succeeds");

    assert_eq!(user, Some(ExternalId::new("77")));
    assert_eq!(requests_to(&server, "/v1/auth").await, 1);
}

#[tokio::test]
async fn token_is_reused_while_far_from_expiry() {
    let server = MockServer::start().await;
    mount_auth(&server, "token-1", None).await;
    users_lookup("token-1").expect(2).mount(&server).await;
    let client = client_for(&server);

    client.find_user("a@x.invalid").await.expect("first call");
    client.find_user("a@x.invalid").await.expect("second call");

    assert_eq!(requests_to(&server, "/v1/auth").await, 1);
}

#[tokio::test]
async fn concurrent_callers_authenticate_only_once() {
    let server = MockServer::start().await;
    mount_auth(&server, "token-1", None).await;
    users_lookup("token-1").mount(&server).await;
    let client = Arc::new(client_for(&server));

    let calls: Vec<_> = (0..8)
        .map(|_| {
            let client = Arc::clone(&client);
            tokio::spawn(async move { client.find_user("a@x.invalid").await })
        })
        .collect();
    for call in calls {
        call.await.expect("task joins").expect("call succeeds");
    }

    assert_eq!(requests_to(&server, "/v1/auth").await, 1);
}

#[tokio::test]
async fn token_is_refreshed_shortly_before_it_expires_and_ticketing_url_is_kept() {
    let server = MockServer::start().await;
    mount_auth(&server, "token-1", None).await;
    Mock::given(method("POST"))
        .and(path("/v1/refreshToken"))
        .and(header("x-inbenta-key", API_KEY))
        .and(header("authorization", "Bearer token-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "accessToken": "token-2",
            "expiration": now() + 7200,
        })))
        .expect(1)
        .mount(&server)
        .await;
    users_lookup("token-1").expect(1).mount(&server).await;
    users_lookup("token-2").expect(1).mount(&server).await;
    let clock = Arc::new(ShiftedClock::default());
    let client = client_for(&server).with_clock_for_tests(clock.clone());

    client
        .find_user("a@x.invalid")
        .await
        .expect("call with the first token");
    clock.advance(3600 - 60);
    client
        .find_user("a@x.invalid")
        .await
        .expect("call with the refreshed token");

    assert_eq!(requests_to(&server, "/v1/auth").await, 1);
}

#[tokio::test]
async fn failed_refresh_falls_back_to_full_authentication() {
    let server = MockServer::start().await;
    mount_auth(&server, "token-1", Some(1)).await;
    mount_auth(&server, "token-2", None).await;
    Mock::given(method("POST"))
        .and(path("/v1/refreshToken"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"message": "Unauthorized"})))
        .mount(&server)
        .await;
    users_lookup("token-1").expect(1).mount(&server).await;
    users_lookup("token-2").expect(1).mount(&server).await;
    let clock = Arc::new(ShiftedClock::default());
    let client = client_for(&server).with_clock_for_tests(clock.clone());

    client.find_user("a@x.invalid").await.expect("first call");
    clock.advance(3600 - 10);
    client
        .find_user("a@x.invalid")
        .await
        .expect("call after re-authenticating");

    assert_eq!(requests_to(&server, "/v1/auth").await, 2);
}

#[tokio::test]
async fn expired_token_is_replaced_by_full_authentication_without_refresh() {
    let server = MockServer::start().await;
    mount_auth(&server, "token-1", Some(1)).await;
    mount_auth(&server, "token-2", None).await;
    users_lookup("token-1").mount(&server).await;
    users_lookup("token-2").expect(1).mount(&server).await;
    let clock = Arc::new(ShiftedClock::default());
    let client = client_for(&server).with_clock_for_tests(clock.clone());

    client.find_user("a@x.invalid").await.expect("first call");
    clock.advance(3600 + 1);
    client
        .find_user("a@x.invalid")
        .await
        .expect("call after expiry");

    assert_eq!(requests_to(&server, "/v1/refreshToken").await, 0);
}

#[tokio::test]
async fn expires_in_is_accepted_instead_of_expiration() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/auth"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "accessToken": "token-1",
            "expires_in": 3600,
            "apis": { "ticketing": ticketing(&server) },
        })))
        .mount(&server)
        .await;
    users_lookup("token-1").expect(1).mount(&server).await;

    client_for(&server)
        .find_user("a@x.invalid")
        .await
        .expect("call succeeds");
}

#[tokio::test]
async fn ticketing_url_is_discovered_when_the_auth_answer_lists_no_apis() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/auth"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "accessToken": "token-1",
            "expiration": now() + 3600,
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1/apis"))
        .and(header("x-inbenta-key", API_KEY))
        .and(header("authorization", "Bearer token-1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "apis": { "ticketing": ticketing(&server) } })),
        )
        .expect(1)
        .mount(&server)
        .await;
    users_lookup("token-1").expect(1).mount(&server).await;

    client_for(&server)
        .find_user("a@x.invalid")
        .await
        .expect("call succeeds");
}

#[tokio::test]
async fn unauthorized_call_is_sent_again_after_authenticating_again() {
    let server = MockServer::start().await;
    mount_auth(&server, "token-1", Some(1)).await;
    mount_auth(&server, "token-2", None).await;
    Mock::given(method("GET"))
        .and(path("/prod/ticketing/v1/users"))
        .and(header("authorization", "Bearer token-1"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"message": "Unauthorized"})))
        .expect(1)
        .mount(&server)
        .await;
    users_lookup("token-2").expect(1).mount(&server).await;

    let user = client_for(&server)
        .find_user("a@x.invalid")
        .await
        .expect("second attempt succeeds");

    assert_eq!(user, Some(ExternalId::new("77")));
}

#[tokio::test]
async fn second_unauthorized_answer_is_an_auth_error() {
    let server = server_answering(
        "GET",
        "/v1/users",
        ResponseTemplate::new(401).set_body_json(json!({"message": "Unauthorized"})),
    )
    .await;

    let err = client_for(&server)
        .find_user("a@x.invalid")
        .await
        .expect_err("refused twice");

    assert!(matches!(err, ConnectorError::Auth { .. }), "{err:?}");
    assert_eq!(requests_to(&server, "/prod/ticketing/v1/users").await, 2);
    assert_eq!(requests_to(&server, "/v1/auth").await, 2);
}

#[tokio::test]
async fn wrong_secret_is_an_auth_error_that_does_not_repeat_the_secret() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/auth"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(json!({"message": "Invalid secret"})),
        )
        .mount(&server)
        .await;

    let err = client_for(&server)
        .find_user("a@x.invalid")
        .await
        .expect_err("auth refused");

    assert!(matches!(err, ConnectorError::Auth { .. }), "{err:?}");
    assert!(err.to_string().contains("Invalid secret"));
    assert!(!err.to_string().contains(SECRET) && !format!("{err:?}").contains(API_KEY));
}
