//! Tokens: refresh on 401, one refresh at a time, persistence through the credential store,
//! early refresh before expiry, and a clear error when the refresh token is dead.

use super::{settings, sim_channel, to_room};
use crate::connectors::http::ShiftedClock;
use crate::connectors::qontak::{QontakBuildError, QontakChannel, credentials_key};
use crate::connectors::{ChannelConnector, ConnectorError, CredentialStore};
use crate::domain::OutboundBody;
use crate::sandbox::qontak::{MemoryCredentials, QontakSim};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use std::sync::Arc;

fn text(body: &str) -> OutboundBody {
    OutboundBody::Text { text: body.into() }
}

#[tokio::test]
async fn refused_token_is_refreshed_saved_and_used_after_a_restart() {
    let sim = QontakSim::start().await.unwrap();
    let room = sim.add_room("628111222333", "Siti");
    let store = Arc::new(MemoryCredentials::new());
    let channel = sim_channel(&sim, store.clone());
    let (first_access, first_refresh) = (sim.access_token(), sim.refresh_token());
    sim.expire_access_token();

    channel.send(&to_room(&room), &text("one")).await.unwrap();
    assert_eq!(sim.tokens_issued(), 2, "one refresh");
    let stored = store
        .load(&credentials_key("jakarta"))
        .await
        .unwrap()
        .unwrap();
    let stored: serde_json::Value = serde_json::from_str(stored.expose_secret()).unwrap();
    assert_eq!(stored["access_token"], sim.access_token());
    assert_eq!(stored["refresh_token"], sim.refresh_token());

    // A restart with the original (now dead) configured tokens uses the stored ones.
    let config = settings(
        &sim.base_url(),
        json!({"access_token": first_access, "refresh_token": first_refresh}),
    );
    let restarted = QontakChannel::new(&config, store.clone()).unwrap();
    restarted.send(&to_room(&room), &text("two")).await.unwrap();
    assert_eq!(sim.tokens_issued(), 2, "no second refresh");
    assert_eq!(sim.sent_messages().len(), 2);
}

#[tokio::test]
async fn concurrent_calls_share_one_refresh() {
    let sim = QontakSim::start().await.unwrap();
    let room = sim.add_room("628111222333", "Siti");
    let channel = sim_channel(&sim, Arc::new(MemoryCredentials::new()));
    sim.expire_access_token();
    let to = to_room(&room);
    let bodies: Vec<OutboundBody> = (0..5).map(|i| text(&format!("message {i}"))).collect();
    let sends = bodies.iter().map(|body| channel.send(&to, body));
    for result in futures::future::join_all(sends).await {
        result.unwrap();
    }
    assert_eq!(sim.tokens_issued(), 2);
    assert_eq!(sim.request_count("POST", "/oauth/token"), 1);
}

#[tokio::test]
async fn failed_refresh_says_what_to_do_without_showing_tokens() {
    let sim = QontakSim::start().await.unwrap();
    let room = sim.add_room("628111222333", "Siti");
    let channel = sim_channel(&sim, Arc::new(MemoryCredentials::new()));
    let (access, refresh) = (sim.access_token(), sim.refresh_token());
    sim.expire_access_token();
    sim.revoke_refresh_token();

    let err = channel
        .send(&to_room(&room), &text("hello"))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Auth { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("refreshing the access token"), "{message}");
    assert!(message.contains("invalid_grant"), "{message}");
    assert!(
        message.contains("access_token and refresh_token"),
        "{message}"
    );
    assert!(!message.contains(&access) && !message.contains(&refresh));
    assert!(sim.sent_messages().is_empty());
}

#[tokio::test]
async fn token_is_refreshed_before_it_expires() {
    let sim = QontakSim::start().await.unwrap();
    let room = sim.add_room("628111222333", "Siti");
    sim.set_token_lifetime(3600);
    let clock = Arc::new(ShiftedClock::default());
    let channel =
        sim_channel(&sim, Arc::new(MemoryCredentials::new())).with_clock_for_tests(clock.clone());
    // The configured token's lifetime is unknown: learn one through a refresh.
    sim.expire_access_token();
    channel.send(&to_room(&room), &text("one")).await.unwrap();
    assert_eq!(sim.tokens_issued(), 2);
    let bot_posts = sim.request_count("POST", "messages/whatsapp/bot");

    clock.advance(3500);
    channel.send(&to_room(&room), &text("two")).await.unwrap();
    assert_eq!(sim.tokens_issued(), 3, "refreshed early");
    assert_eq!(
        sim.request_count("POST", "messages/whatsapp/bot"),
        bot_posts + 1,
        "the message went out once, without a refused first try"
    );
}

#[tokio::test]
async fn new_tokens_in_the_settings_replace_stored_ones() {
    let sim = QontakSim::start().await.unwrap();
    let room = sim.add_room("628111222333", "Siti");
    let store = Arc::new(MemoryCredentials::new());
    let stale = json!({"access_token": "old-access", "refresh_token": "old-refresh",
                       "configured": "0000000000000000"});
    store
        .save(
            &credentials_key("jakarta"),
            &SecretString::from(stale.to_string()),
        )
        .await
        .unwrap();
    let channel = sim_channel(&sim, store);
    channel.send(&to_room(&room), &text("hi")).await.unwrap();
    assert_eq!(sim.tokens_issued(), 1, "the configured token worked as is");
}

#[tokio::test]
async fn settings_without_refresh_credentials_are_refused() {
    let mut config = settings("https://qontak.invalid", json!({}));
    config.client_secret = None;
    config.refresh_token = None;
    let err = QontakChannel::new(&config, Arc::new(MemoryCredentials::new())).unwrap_err();
    assert!(matches!(err, QontakBuildError::MissingCredentials { .. }));
    assert_eq!(
        err.to_string(),
        "channel \"jakarta\" needs refresh_token, client_secret for Qontak (the access token is \
         refreshed with them)"
    );
}

#[tokio::test]
async fn a_refresh_token_alone_is_enough_to_start() {
    let sim = QontakSim::start().await.unwrap();
    let room = sim.add_room("628111222333", "Siti");
    let mut config = settings(
        &sim.base_url(),
        json!({"refresh_token": sim.refresh_token()}),
    );
    config.access_token = None;
    let channel = QontakChannel::new(&config, Arc::new(MemoryCredentials::new())).unwrap();
    channel.send(&to_room(&room), &text("hi")).await.unwrap();
    assert_eq!(sim.tokens_issued(), 2);
}

#[test]
fn debug_output_shows_no_secret() {
    let channel = super::channel_at("https://qontak.invalid", json!({}));
    let debug = format!("{channel:?}");
    assert!(debug.contains("jakarta"));
    assert!(!debug.contains("configured-access-token"));
    assert!(!debug.contains("configured-refresh-token"));
}

#[test]
fn base_url_gets_the_open_api_path_exactly_once() {
    use crate::connectors::qontak::channel::base_urls;
    let cases = [
        (
            "https://service-chat.qontak.com",
            "https://service-chat.qontak.com/api/open/v1/",
        ),
        (
            "https://service-chat.qontak.com/api/open",
            "https://service-chat.qontak.com/api/open/v1/",
        ),
        (
            "https://service-chat.qontak.com/api/open/v1/",
            "https://service-chat.qontak.com/api/open/v1/",
        ),
        (
            "https://gw.example/qontak/",
            "https://gw.example/qontak/api/open/v1/",
        ),
    ];
    for (base, api) in cases {
        let (got_api, token) = base_urls(&url::Url::parse(base).unwrap()).unwrap();
        assert_eq!(got_api.as_str(), api, "{base}");
        assert!(token.as_str().ends_with("/oauth/token"), "{token}");
        assert!(!token.as_str().contains("/api/open"), "{token}");
    }
}
