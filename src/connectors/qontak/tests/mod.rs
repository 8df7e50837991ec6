//! The Qontak connector against the simulator (`sandbox::qontak`), and wiremock where an answer
//! must be shaped by hand.

mod auth;
mod errors;
mod outbound;
mod poll;
mod webhooks;

use super::QontakChannel;
use crate::config::ChannelConfig;
use crate::connectors::CredentialStore;
use crate::domain::{ConversationKey, Recipient};
use crate::sandbox::qontak::{CLIENT_ID, CLIENT_SECRET, MemoryCredentials, QontakSim};
use serde_json::{Value, json};
use std::sync::Arc;

/// A Qontak sample payload from `tests/fixtures/`.
macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!("fixtures/", $name))
    };
}
pub(super) use fixture;

/// Channel settings for `base_url` with test credentials, `extra` keys on top.
pub(super) fn settings(base_url: &str, extra: Value) -> ChannelConfig {
    let mut base = json!({
        "id": "jakarta",
        "kind": "qontak",
        "base_url": base_url,
        "access_token": "configured-access-token",
        "refresh_token": "configured-refresh-token",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    });
    for (key, value) in extra.as_object().expect("extra settings are an object") {
        base[key] = value.clone();
    }
    serde_json::from_value(base).expect("valid channel settings")
}

/// A channel on `base_url` (a wiremock server or an unreachable host) with its own store.
pub(super) fn channel_at(base_url: &str, extra: Value) -> QontakChannel {
    QontakChannel::new(
        &settings(base_url, extra),
        Arc::new(MemoryCredentials::new()),
    )
    .expect("channel builds")
}

/// A channel on the simulator with the simulator's current tokens and integration.
pub(super) fn sim_channel(sim: &QontakSim, store: Arc<dyn CredentialStore>) -> QontakChannel {
    let config = settings(
        &sim.base_url(),
        json!({
            "access_token": sim.access_token(),
            "refresh_token": sim.refresh_token(),
            "channel_integration_id": sim.channel_integration_id(),
        }),
    );
    QontakChannel::new(&config, store).expect("channel builds")
}

pub(super) fn to_room(room: &str) -> Recipient {
    Recipient {
        conversation: ConversationKey::new(room),
        phone: None,
        name: None,
    }
}

pub(super) fn bytes(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).expect("JSON serialises")
}
