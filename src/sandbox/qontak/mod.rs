//! A faithful simulation of the Qontak Omnichannel open API on `127.0.0.1` and a random port,
//! for integration tests and `omnibridge sandbox`.
//!
//! It serves `POST /oauth/token` (refresh grant: expiring access tokens, a refresh token that
//! rotates and cannot be used twice) and, under `/api/open/v1/` behind `Authorization: Bearer`:
//! `GET rooms`, `GET rooms/{id}`, `GET rooms/{id}/histories`, `PUT rooms/{id}/resolve`,
//! `POST messages/whatsapp/bot` (JSON text, multipart files; refused into expired sessions),
//! `POST file_uploader`, `GET templates/whatsapp`, `POST broadcasts/whatsapp/direct`,
//! `PUT|GET message_interactions`, `PUT|GET room_interactions` and `GET integrations`. Files are
//! served under `/uploads/…` like Qontak's CDN. Tests build webhook bodies in Qontak's shapes,
//! deliver them, inspect what was sent and inject failures.

mod messages;
mod routes;
mod state;
#[cfg(test)]
mod tests;
mod webhooks;

pub use messages::SESSION_EXPIRED_MESSAGE;
pub use state::{SimBroadcast, SimFile, SimRegistrations, SimSentMessage, SimTemplate};
pub use webhooks::without_event_names;

use crate::connectors::{ConnectorError, CredentialStore};
use crate::sandbox::server::SimServer;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use routes::SimState;
use secrecy::SecretString;
use serde_json::Value;
use state::{Shared, SimRoom, new_id};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use webhooks::{MessageSpec, Writer};

/// OAuth client id the simulator accepts. Valid for the simulator only.
pub const CLIENT_ID: &str = "sandbox-qontak-client";
/// OAuth client secret the simulator accepts. Valid for the simulator only.
pub const CLIENT_SECRET: &str = "sandbox-qontak-client-secret";

/// A running simulated Qontak. Stops when dropped.
pub struct QontakSim {
    shared: SimState,
    server: SimServer,
}

crate::sandbox::faults::fault_controls!(QontakSim);

impl QontakSim {
    /// Start on `127.0.0.1` and a free port.
    pub async fn start() -> std::io::Result<QontakSim> {
        let (server, shared) = SimServer::start(0, &routes::PROFILE, |base_url| {
            let shared = Arc::new(Shared::new(base_url));
            (routes::router(Arc::clone(&shared)), shared)
        })
        .await?;
        Ok(QontakSim { shared, server })
    }

    /// The root for a channel's `base_url`: `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        self.shared.base_url.clone()
    }

    pub fn address(&self) -> SocketAddr {
        self.server.address()
    }

    /// The WhatsApp channel integration (for a channel's `channel_integration_id`).
    pub fn channel_integration_id(&self) -> String {
        self.shared.with(|data| data.integration_id.clone())
    }

    // --- OAuth ------------------------------------------------------------------------------

    /// The access token that works now (for a channel's `access_token`).
    pub fn access_token(&self) -> String {
        self.shared.with(|data| {
            data.current_access()
                .map(|t| t.token.clone())
                .unwrap_or_default()
        })
    }

    /// The refresh token that works now (for a channel's `refresh_token`).
    pub fn refresh_token(&self) -> String {
        self.shared
            .with(|data| data.refresh_token.clone().unwrap_or_default())
    }

    /// Access tokens handed out so far, the initial one included.
    pub fn tokens_issued(&self) -> usize {
        self.shared.with(|data| data.access_tokens.len())
    }

    /// The current access token stops working (401); the refresh token still works.
    pub fn expire_access_token(&self) {
        self.shared.with(|data| {
            for token in &mut data.access_tokens {
                token.revoked = true;
            }
        });
    }

    /// The refresh token stops working: refreshing fails with `invalid_grant`.
    pub fn revoke_refresh_token(&self) {
        self.shared.with(|data| {
            if let Some(old) = data.refresh_token.take() {
                data.used_refresh_tokens.push(old);
            }
        });
    }

    /// `expires_in` of tokens issued from now on.
    pub fn set_token_lifetime(&self, seconds: i64) {
        self.shared.with(|data| data.token_lifetime = seconds);
    }

    // --- Rooms ------------------------------------------------------------------------------

    /// A WhatsApp room with an open session; returns its id.
    pub fn add_room(&self, phone: &str, name: &str) -> String {
        self.add_room_at(phone, name, Utc::now())
    }

    /// Like [`Self::add_room`], for a room created (and last changed) at `at`.
    pub fn add_room_at(&self, phone: &str, name: &str, at: DateTime<Utc>) -> String {
        let now = at;
        let room = SimRoom {
            id: new_id(),
            name: name.to_owned(),
            phone: phone.to_owned(),
            status: "unassigned".into(),
            tags: Vec::new(),
            session: "open".into(),
            session_at: Some(now),
            created_at: now,
            updated_at: now,
            resolved_at: None,
            unread_count: 0,
        };
        let id = room.id.clone();
        self.shared.with(|data| data.rooms.push(room));
        id
    }

    /// The room as `GET rooms/{id}` shows it.
    pub fn room(&self, room: &str) -> Option<Value> {
        self.shared
            .with(|data| data.room(room).map(|r| data.room_json(r)))
    }

    /// `open`, `expiring` or `expired`: an expired room refuses bot messages.
    pub fn set_session(&self, room: &str, session: &str) {
        self.shared.with(|data| {
            if let Some(room) = data.room_mut(room) {
                room.session = session.to_owned();
            }
        });
    }

    pub fn set_room_tags(&self, room: &str, tags: &[&str]) {
        self.shared.with(|data| {
            if let Some(room) = data.room_mut(room) {
                room.tags = tags.iter().map(|t| (*t).to_owned()).collect();
            }
        });
    }

    /// The history of a room (as `GET rooms/{id}/histories` lists it), oldest first.
    pub fn history(&self, room: &str) -> Vec<Value> {
        self.shared.with(|data| {
            data.histories
                .get(room)
                .map(|h| h.iter().map(|m| m.object.clone()).collect())
                .unwrap_or_default()
        })
    }

    // --- Templates and files ----------------------------------------------------------------

    /// An approved WhatsApp template; `body` uses `{{1}}`, `{{2}}`… Returns its id.
    pub fn add_template(&self, name: &str, language: &str, body: &str) -> String {
        let template = SimTemplate {
            id: new_id(),
            name: name.to_owned(),
            language: language.to_owned(),
            body: body.to_owned(),
            status: "APPROVED".into(),
        };
        let id = template.id.clone();
        self.shared.with(|data| data.templates.push(template));
        id
    }

    /// Store a file on the simulated CDN; returns its public URL.
    pub fn add_file(&self, bytes: impl Into<Vec<u8>>, mime_type: &str, filename: &str) -> String {
        let path = format!(
            "/uploads/chat/{}/{}",
            new_id(),
            messages::url_safe(filename)
        );
        let file = SimFile {
            filename: filename.to_owned(),
            mime_type: mime_type.to_owned(),
            bytes: bytes.into(),
        };
        self.shared
            .with(|data| data.files.insert(path.clone(), file));
        format!("{}{path}", self.shared.base_url)
    }

    /// A file stored under this URL (uploaded, sent in a message or added).
    pub fn file_at(&self, url: &str) -> Option<SimFile> {
        let path = url.strip_prefix(&self.shared.base_url)?;
        self.shared.with(|data| data.files.get(path).cloned())
    }

    // --- Webhook bodies (each also updates the simulated state) -----------------------------

    /// The customer writes `text` now: stored in the history, the session reopens. Returns the
    /// `receive_message_from_customer` body.
    pub fn customer_text(&self, room: &str, text: &str) -> Value {
        self.customer_message(room, "text", Some(text), None, Utc::now())
    }

    /// Like [`Self::customer_text`], written at `at`.
    pub fn customer_text_at(&self, room: &str, text: &str, at: DateTime<Utc>) -> Value {
        self.customer_message(room, "text", Some(text), None, at)
    }

    /// The customer sends a file (`kind`: image, video, audio, document…). The file is put on
    /// the simulated CDN and named in the message's `file{url, filename, size}`.
    pub fn customer_media(
        &self,
        room: &str,
        kind: &str,
        file: SimFile,
        caption: Option<&str>,
    ) -> Value {
        let url = self.add_file(file.bytes.clone(), &file.mime_type, &file.filename);
        let file_json = serde_json::json!({
            "url": url, "filename": file.filename, "size": file.bytes.len(),
        });
        self.customer_message(room, kind, caption, Some(file_json), Utc::now())
    }

    fn customer_message(
        &self,
        room_id: &str,
        kind: &str,
        text: Option<&str>,
        file: Option<Value>,
        at: DateTime<Utc>,
    ) -> Value {
        self.shared.with(|data| {
            let Some(room) = data.room_mut(room_id) else {
                return Value::Null;
            };
            room.session = "open".into();
            room.session_at = Some(at);
            room.updated_at = room.updated_at.max(at);
            room.unread_count += 1;
            if room.status == "resolved" {
                room.status = "unassigned".into();
                room.resolved_at = None;
            }
            let room = room.clone();
            let spec = MessageSpec {
                id: new_id(),
                message_type: kind.to_owned(),
                text: text.map(str::to_owned),
                writer: Writer::Customer,
                status: "created".into(),
                file,
                is_campaign: false,
                at,
            };
            let object = webhooks::message_object(data, &room, &spec);
            data.store_message(room_id, object.clone(), at);
            let with_room = webhooks::with_room(data, object, &room);
            webhooks::message_webhook(with_room, "receive_message_from_customer")
        })
    }

    /// An agent writes `text` in Qontak's inbox. Returns the `receive_message_from_agent` body.
    pub fn agent_text(&self, room_id: &str, agent: &str, text: &str) -> Value {
        let at = Utc::now();
        self.shared.with(|data| {
            let Some(room) = data.room_mut(room_id) else {
                return Value::Null;
            };
            room.updated_at = at;
            room.status = "assigned".into();
            let room = room.clone();
            let spec = MessageSpec {
                id: new_id(),
                message_type: "text".into(),
                text: Some(text.to_owned()),
                writer: Writer::Agent(agent.to_owned()),
                status: "created".into(),
                file: None,
                is_campaign: false,
                at,
            };
            let object = webhooks::message_object(data, &room, &spec);
            data.store_message(room_id, object.clone(), at);
            let with_room = webhooks::with_room(data, object, &room);
            webhooks::message_webhook(with_room, "receive_message_from_agent")
        })
    }

    /// A stored message's status changes (`sent`, `delivered`, `read`, `failed`); it gets a
    /// wamid when it has none. Returns the `status_message` body, or `None` for an unknown id.
    pub fn message_status(&self, message_id: &str, status: &str) -> Option<Value> {
        let now = Utc::now();
        self.shared.with(|data| {
            let (room_id, object) = data.find_message_mut(message_id)?;
            let room_id = room_id.to_owned();
            object["status"] = Value::String(status.to_owned());
            object["updated_at"] = Value::String(state::time_text(now));
            if object["external_id"].is_null() {
                object["external_id"] = Value::String(webhooks::wamid());
            }
            let object = object.clone();
            let room = data.room(&room_id)?.clone();
            let with_room = webhooks::with_room(data, object, &room);
            Some(webhooks::message_webhook(with_room, "status_message"))
        })
    }

    /// An agent resolves the room in Qontak's inbox. Returns the `room_resolved` body.
    pub fn resolve_room_by_agent(&self, room_id: &str) -> Value {
        let now = Utc::now();
        self.shared.with(|data| {
            let Some(room) = data.room_mut(room_id) else {
                return Value::Null;
            };
            room.status = "resolved".into();
            room.resolved_at = Some(now);
            room.updated_at = now;
            webhooks::room_resolved_body(&room.clone())
        })
    }

    /// The `broadcast_log_status` body of a direct broadcast, or `None` for an unknown id.
    pub fn broadcast_log_status(&self, broadcast_id: &str, status: &str) -> Option<Value> {
        self.shared.with(|data| {
            let sent = data
                .broadcasts
                .iter()
                .find(|b| b.id == broadcast_id)?
                .clone();
            Some(webhooks::broadcast_log_body(
                data,
                &sent.id,
                &sent.template_id,
                &sent.to_number,
                &sent.to_name,
                status,
                &webhooks::wamid(),
            ))
        })
    }

    /// POST `body` to `url` as Qontak does (JSON, no signature); returns the answer's status.
    pub async fn deliver(&self, url: &str, body: &Value) -> Result<u16, reqwest::Error> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let response = reqwest::Client::new().post(url).json(body).send().await?;
        Ok(response.status().as_u16())
    }

    // --- What the bridge did ----------------------------------------------------------------

    /// Messages accepted by `POST messages/whatsapp/bot`, oldest first.
    pub fn sent_messages(&self) -> Vec<SimSentMessage> {
        self.shared.with(|data| data.sent.clone())
    }

    /// Templates accepted by `POST broadcasts/whatsapp/direct`, oldest first.
    pub fn direct_broadcasts(&self) -> Vec<SimBroadcast> {
        self.shared.with(|data| data.broadcasts.clone())
    }

    /// Rooms resolved through `PUT rooms/{id}/resolve`, in order (repeats included).
    pub fn resolved_rooms(&self) -> Vec<String> {
        self.shared.with(|data| data.resolved.clone())
    }

    pub fn registrations(&self) -> SimRegistrations {
        self.shared.with(|data| SimRegistrations {
            message_interactions: data.message_interactions.clone(),
            room_interactions: data.room_interactions.clone(),
        })
    }
}

/// A [`CredentialStore`] in memory, for tests and the sandbox. Values never leave the process.
#[derive(Default)]
pub struct MemoryCredentials {
    values: Mutex<HashMap<String, SecretString>>,
}

impl MemoryCredentials {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many keys hold a value.
    pub fn len(&self) -> usize {
        self.values
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[async_trait]
impl CredentialStore for MemoryCredentials {
    async fn load(&self, key: &str) -> Result<Option<SecretString>, ConnectorError> {
        let values = self.values.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(values.get(key).cloned())
    }

    async fn save(&self, key: &str, value: &SecretString) -> Result<(), ConnectorError> {
        let mut values = self.values.lock().unwrap_or_else(PoisonError::into_inner);
        values.insert(key.to_owned(), value.clone());
        Ok(())
    }
}
