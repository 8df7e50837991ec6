//! A simulated get.chat Integration API on `127.0.0.1` and a random port, for integration tests
//! and `omnibridge sandbox`.
//!
//! It serves, under `/api/v1/`: `POST auth/token/`, `GET media/{id}`, `POST media/`
//! (`file_encoded` only, 413 above a size cap), `POST messages/` (each type's required fields,
//! no caption on audio), `GET messages/` (Message objects, newest first, `wa_id`, `from_us`,
//! `since_time`, `before_time`, `limit`, `offset`), `POST mark_as_received/` and
//! `PATCH chats/{wa_id}/resolve`, with the vendor's trailing slashes, `Authorization: Token …`,
//! Django REST Framework error bodies and get.chat's 453 for a closed 24-hour window. Tests inspect what was sent, inject failures and
//! build webhook bodies in the three shapes get.chat may POST.

mod checks;
mod routes;
mod state;
#[cfg(test)]
mod tests;
mod webhooks;

pub use state::{SimMedia, SimSentMessage};
pub use webhooks::{
    WebhookMedia, chat_resolved_webhook, cloud_media_webhook, cloud_text_webhook,
    incoming_media_webhook, incoming_text_webhook, onprem_media_webhook, onprem_text_webhook,
    outgoing_text_webhook, status_webhook,
};

use crate::sandbox::server::SimServer;
use base64::Engine as _;
use routes::SimState;
use serde_json::json;
use sha2::{Digest, Sha256};
use state::Shared;
use std::net::SocketAddr;
use std::sync::Arc;

/// Username the simulator accepts at `POST auth/token/`. Valid for the simulator only.
pub const USERNAME: &str = "sandbox-bot";
/// Password the simulator accepts at `POST auth/token/`. Valid for the simulator only.
pub const PASSWORD: &str = "sandbox-getchat-password";

/// SHA-256 of `bytes` as 64 hex digits (on-prem style checksum).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// SHA-256 of `bytes` in standard base64 (Cloud API style checksum).
pub fn sha256_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
}

/// A running simulated get.chat instance. Stops when dropped.
pub struct GetchatSim {
    shared: SimState,
    server: SimServer,
}

crate::sandbox::faults::fault_controls!(GetchatSim);

impl GetchatSim {
    /// Start on `127.0.0.1` and a free port.
    pub async fn start() -> std::io::Result<GetchatSim> {
        let (server, shared) = SimServer::start(0, &routes::PROFILE, |base_url| {
            let shared = Arc::new(Shared::new(base_url, USERNAME, PASSWORD));
            (routes::router(Arc::clone(&shared)), shared)
        })
        .await?;
        Ok(GetchatSim { shared, server })
    }

    /// The instance root for a channel's `base_url`: `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// `http://127.0.0.1:<port>/api/v1/`.
    pub fn api_url(&self) -> String {
        self.shared.api_url("")
    }

    pub fn address(&self) -> SocketAddr {
        self.server.address()
    }

    /// The token `POST auth/token/` hands out and every call must carry (for a channel's `token`).
    pub fn token(&self) -> String {
        self.shared.with(|data| data.token.clone())
    }

    /// Replace the token: calls with the old one get 401 until the client logs in again.
    pub fn expire_token(&self) {
        self.shared.with(|data| data.rotate_token());
    }

    // --- Files ------------------------------------------------------------------------------

    /// Store a file as if WhatsApp had delivered it; returns its media id. Use [`sha256_hex`] or
    /// [`sha256_base64`] for the checksum to announce.
    pub fn add_media(&self, bytes: impl Into<Vec<u8>>, mime_type: &str) -> String {
        let id = webhooks::new_id();
        let media = SimMedia {
            id: id.clone(),
            mime_type: mime_type.to_owned(),
            filename: None,
            bytes: bytes.into(),
        };
        self.shared
            .with(|data| data.media.insert(id.clone(), media));
        id
    }

    /// A stored file (added, or uploaded through `POST media/`).
    pub fn media(&self, id: &str) -> Option<SimMedia> {
        self.shared.with(|data| data.media.get(id).cloned())
    }

    /// Largest file `POST media/` accepts (default 100 MB); bigger uploads get 413.
    pub fn set_max_upload_bytes(&self, max: usize) {
        self.shared.with(|data| data.max_upload_bytes = max);
    }

    // --- Messages and chats -----------------------------------------------------------------

    /// Messages accepted by `POST messages/`, oldest first.
    pub fn sent_messages(&self) -> Vec<SimSentMessage> {
        self.shared.with(|data| data.sent.clone())
    }

    /// From now on `POST messages/` to `wa_id` answers 453 unless the type is `template`.
    pub fn close_window(&self, wa_id: &str) {
        self.shared
            .with(|data| data.closed_windows.insert(wa_id.to_owned()));
    }

    /// Undo [`Self::close_window`] (the customer wrote again).
    pub fn open_window(&self, wa_id: &str) {
        self.shared.with(|data| data.closed_windows.remove(wa_id));
    }

    /// Store an incoming text as a Message object that `GET messages/` lists (for reconciliation
    /// of missed webhooks); returns get.chat's id of it. `timestamp` is in Unix seconds.
    pub fn add_incoming_message(
        &self,
        wa_id: &str,
        name: &str,
        wamid: &str,
        text: &str,
        timestamp: i64,
    ) -> String {
        let id = webhooks::new_id();
        let payload = json!({
            "from": wa_id,
            "id": wamid,
            "timestamp": timestamp,
            "type": "text",
            "text": {"body": text},
        });
        let object = webhooks::message_object(&id, payload, wa_id, name, false);
        self.shared
            .with(|data| data.store_message(object, wa_id, timestamp as f64, false));
        id
    }

    /// Store any Message object for `GET messages/` (its `customer_wa_id`, `from_us` and
    /// `waba_payload.timestamp` are used for filtering).
    pub fn add_message_object(&self, object: serde_json::Value) {
        let wa_id = object["customer_wa_id"].as_str().unwrap_or("").to_owned();
        let from_us = object["from_us"].as_bool().unwrap_or(false);
        let timestamp = match &object["waba_payload"]["timestamp"] {
            serde_json::Value::String(s) => s.parse().unwrap_or(0.0),
            other => other.as_f64().unwrap_or(0.0),
        };
        self.shared
            .with(|data| data.store_message(object, &wa_id, timestamp, from_us));
    }

    /// The last `resolved` value set with `PATCH chats/{wa_id}/resolve`.
    pub fn chat_resolved(&self, wa_id: &str) -> Option<bool> {
        self.shared.with(|data| data.resolved.get(wa_id).copied())
    }

    /// Chats resolved (or reopened) through `PATCH chats/{wa_id}/resolve`, with their last
    /// value, sorted by wa_id.
    pub fn resolved_chats(&self) -> Vec<(String, bool)> {
        let mut chats: Vec<(String, bool)> = self
            .shared
            .with(|data| data.resolved.iter().map(|(k, v)| (k.clone(), *v)).collect());
        chats.sort();
        chats
    }

    /// The newest timestamp marked with `POST mark_as_received/` for this customer.
    pub fn received_mark(&self, wa_id: &str) -> Option<i64> {
        self.shared
            .with(|data| data.received_marks.get(wa_id).copied())
    }

    /// Files uploaded through `POST media/`, oldest first.
    pub fn uploaded_media(&self) -> Vec<SimMedia> {
        self.shared.with(|data| {
            data.uploads
                .iter()
                .filter_map(|id| data.media.get(id).cloned())
                .collect()
        })
    }

    /// When set, `POST messages/` answers 202 (stored, sent later) and the stored message has no
    /// WhatsApp id yet, as get.chat does while earlier messages to the customer are pending.
    pub fn queue_messages(&self, queue: bool) {
        self.shared.with(|data| data.queue_messages = queue);
    }
}
