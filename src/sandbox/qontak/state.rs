//! What the simulated Qontak remembers: OAuth tokens, rooms and their histories, templates, files,
//! what was sent and registrations (faults and request counts live in `sandbox::faults`).

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// Lifetime of issued access tokens unless changed (Qontak's sample: about 345 days).
pub(super) const DEFAULT_TOKEN_LIFETIME_SECS: i64 = 29_823_918;

/// State behind one lock; handlers never hold it across an `.await`.
pub(super) struct Shared {
    /// `http://127.0.0.1:<port>`.
    pub(super) base_url: String,
    data: Mutex<SimData>,
}

impl Shared {
    pub(super) fn new(base_url: String) -> Self {
        let mut data = SimData {
            organization_id: new_id(),
            integration_id: new_id(),
            access_tokens: Vec::new(),
            refresh_token: None,
            used_refresh_tokens: Vec::new(),
            token_lifetime: DEFAULT_TOKEN_LIFETIME_SECS,
            rooms: Vec::new(),
            histories: HashMap::new(),
            templates: Vec::new(),
            files: HashMap::new(),
            sent: Vec::new(),
            broadcasts: Vec::new(),
            resolved: Vec::new(),
            message_interactions: None,
            room_interactions: None,
        };
        data.issue_tokens(Utc::now());
        Self {
            base_url,
            data: Mutex::new(data),
        }
    }

    /// Run `f` with the state locked. A panic in another holder does not make it unusable.
    pub(super) fn with<R>(&self, f: impl FnOnce(&mut SimData) -> R) -> R {
        let mut data = self.data.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut data)
    }
}

pub(super) struct AccessToken {
    pub(super) token: String,
    pub(super) created_at: i64,
    pub(super) lifetime: i64,
    pub(super) revoked: bool,
}

/// A room (Qontak's `Models::CustomerServiceRoom`).
#[derive(Clone, Debug)]
pub(super) struct SimRoom {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) phone: String,
    /// `unassigned`, `assigned`, `resolved`, `campaign`.
    pub(super) status: String,
    pub(super) tags: Vec<String>,
    /// `open`, `expiring`, `expired`.
    pub(super) session: String,
    pub(super) session_at: Option<DateTime<Utc>>,
    pub(super) created_at: DateTime<Utc>,
    pub(super) updated_at: DateTime<Utc>,
    pub(super) resolved_at: Option<DateTime<Utc>>,
    pub(super) unread_count: u32,
}

/// A stored history message with its ordering key.
pub(super) struct StoredMessage {
    pub(super) object: Value,
    pub(super) created_at: DateTime<Utc>,
    pub(super) sequence: u64,
}

/// A template of `GET templates/whatsapp`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimTemplate {
    pub id: String,
    pub name: String,
    pub language: String,
    /// Text with `{{1}}`, `{{2}}`… placeholders.
    pub body: String,
    pub status: String,
}

impl SimTemplate {
    /// How many `{{n}}` placeholders the body has (the highest n).
    pub fn placeholder_count(&self) -> usize {
        (1..=20)
            .rev()
            .find(|n| self.body.contains(&format!("{{{{{n}}}}}")))
            .unwrap_or(0)
    }

    pub(super) fn to_json(&self) -> Value {
        json!({
            "id": self.id, "name": self.name, "language": self.language, "header": null,
            "body": self.body, "footer": null, "buttons": [], "status": self.status,
            "category": "UTILITY",
        })
    }
}

/// A file stored by `POST file_uploader`, a media message, or [`super::QontakSim::add_file`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimFile {
    pub filename: String,
    pub mime_type: String,
    pub bytes: Vec<u8>,
}

/// A message accepted by `POST messages/whatsapp/bot`.
#[derive(Clone, Debug, PartialEq)]
pub struct SimSentMessage {
    pub id: String,
    pub room_id: String,
    /// `text`, `image`, `video`, `audio`, `document`…
    pub message_type: String,
    pub text: Option<String>,
    /// The uploaded file of a media message.
    pub file: Option<SimFile>,
    /// `json` or `multipart`, how the request was sent.
    pub encoding: &'static str,
}

/// A template accepted by `POST broadcasts/whatsapp/direct`.
#[derive(Clone, Debug, PartialEq)]
pub struct SimBroadcast {
    pub id: String,
    pub to_number: String,
    pub to_name: String,
    pub template_id: String,
    pub language: String,
    /// `value_text` of each body parameter, in key order.
    pub parameters: Vec<String>,
    /// The whole request body.
    pub body: Value,
}

/// What the bridge registered with `PUT message_interactions` / `PUT room_interactions`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SimRegistrations {
    pub message_interactions: Option<Value>,
    pub room_interactions: Option<Value>,
}

pub(super) struct SimData {
    pub(super) organization_id: String,
    pub(super) integration_id: String,
    pub(super) access_tokens: Vec<AccessToken>,
    /// The one refresh token that works; `None` after [`super::QontakSim::revoke_refresh_token`].
    pub(super) refresh_token: Option<String>,
    pub(super) used_refresh_tokens: Vec<String>,
    pub(super) token_lifetime: i64,
    pub(super) rooms: Vec<SimRoom>,
    pub(super) histories: HashMap<String, Vec<StoredMessage>>,
    pub(super) templates: Vec<SimTemplate>,
    /// By URL path (`/uploads/…`).
    pub(super) files: HashMap<String, SimFile>,
    pub(super) sent: Vec<SimSentMessage>,
    pub(super) broadcasts: Vec<SimBroadcast>,
    pub(super) resolved: Vec<String>,
    pub(super) message_interactions: Option<Value>,
    pub(super) room_interactions: Option<Value>,
}

impl SimData {
    /// A new access and refresh token; every earlier token stops working.
    pub(super) fn issue_tokens(&mut self, now: DateTime<Utc>) -> (String, String) {
        for token in &mut self.access_tokens {
            token.revoked = true;
        }
        if let Some(old) = self.refresh_token.take() {
            self.used_refresh_tokens.push(old);
        }
        let access = token_text();
        let refresh = token_text();
        self.access_tokens.push(AccessToken {
            token: access.clone(),
            created_at: now.timestamp(),
            lifetime: self.token_lifetime,
            revoked: false,
        });
        self.refresh_token = Some(refresh.clone());
        (access, refresh)
    }

    pub(super) fn current_access(&self) -> Option<&AccessToken> {
        self.access_tokens.iter().rev().find(|t| !t.revoked)
    }

    pub(super) fn access_valid(&self, token: &str, now: i64) -> bool {
        self.access_tokens
            .iter()
            .any(|t| t.token == token && !t.revoked && now < t.created_at + t.lifetime)
    }

    pub(super) fn room(&self, id: &str) -> Option<&SimRoom> {
        self.rooms.iter().find(|r| r.id == id)
    }

    pub(super) fn room_mut(&mut self, id: &str) -> Option<&mut SimRoom> {
        self.rooms.iter_mut().find(|r| r.id == id)
    }

    pub(super) fn room_json(&self, room: &SimRoom) -> Value {
        json!({
            "id": room.id, "name": room.name, "description": "", "status": room.status,
            "type": "Models::CustomerServiceRoom", "tags": room.tags, "channel": "wa",
            "channel_account": "Qontak Sandbox", "organization_id": self.organization_id,
            "account_uniq_id": room.phone, "channel_integration_id": self.integration_id,
            "session": room.session, "session_at": room.session_at.map(time_text),
            "unread_count": room.unread_count, "created_at": time_text(room.created_at),
            "updated_at": time_text(room.updated_at), "avatar": null,
            "resolved_at": room.resolved_at.map(time_text), "external_id": null,
            "resolved_by_id": null, "resolved_by_type": null,
        })
    }

    /// Append a message (without its room) to a room's history.
    pub(super) fn store_message(&mut self, room_id: &str, object: Value, at: DateTime<Utc>) {
        let history = self.histories.entry(room_id.to_owned()).or_default();
        let sequence = history.len() as u64;
        history.push(StoredMessage {
            object,
            created_at: at,
            sequence,
        });
    }

    pub(super) fn find_message_mut(&mut self, id: &str) -> Option<(&str, &mut Value)> {
        self.histories.iter_mut().find_map(|(room, messages)| {
            messages
                .iter_mut()
                .find(|m| m.object["id"] == id)
                .map(|m| (room.as_str(), &mut m.object))
        })
    }
}

/// Qontak's time format: `2021-03-03T22:53:29.000Z`.
pub(super) fn time_text(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

pub(super) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// 43 URL-safe characters, like Doorkeeper's tokens.
fn token_text() -> String {
    use base64::Engine as _;
    let mut bytes = uuid::Uuid::new_v4().as_bytes().to_vec();
    bytes.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes[..32])
}
