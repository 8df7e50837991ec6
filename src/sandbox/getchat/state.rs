//! What the simulated get.chat instance remembers: credentials, files, messages, windows and
//! chats (faults and request counts live in `sandbox::faults`).

use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};

/// Default cap of `POST media/` (WhatsApp's largest file, documents: 100 MB).
pub(super) const DEFAULT_MAX_UPLOAD_BYTES: usize = 100 * 1024 * 1024;

/// State behind one lock; handlers never hold it across an `.await`.
pub(super) struct Shared {
    /// `http://127.0.0.1:<port>`, the instance root.
    pub(super) base_url: String,
    data: Mutex<SimData>,
}

impl Shared {
    pub(super) fn new(base_url: String, username: &str, password: &str) -> Self {
        Self {
            base_url,
            data: Mutex::new(SimData {
                username: username.to_owned(),
                password: password.to_owned(),
                token: new_token(),
                media: HashMap::new(),
                sent: Vec::new(),
                closed_windows: HashSet::new(),
                messages: Vec::new(),
                next_sequence: 0,
                resolved: HashMap::new(),
                received_marks: HashMap::new(),
                uploads: Vec::new(),
                queue_messages: false,
                max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            }),
        }
    }

    /// Run `f` with the state locked. A panic in another holder does not make the state unusable.
    pub(super) fn with<R>(&self, f: impl FnOnce(&mut SimData) -> R) -> R {
        let mut data = self.data.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut data)
    }

    /// `{base}/api/v1/<path>`.
    pub(super) fn api_url(&self, path: &str) -> String {
        format!("{}/api/v1/{path}", self.base_url)
    }
}

/// A file stored by `POST media/` or [`super::GetchatSim::add_media`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimMedia {
    pub id: String,
    pub mime_type: String,
    /// The name sent with the upload, if any.
    pub filename: Option<String>,
    pub bytes: Vec<u8>,
}

/// A message accepted by `POST messages/`.
#[derive(Clone, Debug, PartialEq)]
pub struct SimSentMessage {
    pub wa_id: String,
    /// The request's `type` (`text`, `image`, `template`…).
    pub message_type: String,
    /// The whole request body.
    pub body: Value,
    /// The id answered (get.chat's message id).
    pub id: String,
}

/// A Message object listed by `GET messages/`.
pub(super) struct StoredMessage {
    pub(super) object: Value,
    pub(super) wa_id: String,
    pub(super) timestamp: f64,
    pub(super) from_us: bool,
    /// Insertion order, to order messages of the same second.
    pub(super) sequence: u64,
}

pub(super) struct SimData {
    pub(super) username: String,
    pub(super) password: String,
    /// The user's token; like Django REST Framework's `Token`, stable until rotated.
    pub(super) token: String,
    pub(super) media: HashMap<String, SimMedia>,
    pub(super) sent: Vec<SimSentMessage>,
    pub(super) closed_windows: HashSet<String>,
    pub(super) messages: Vec<StoredMessage>,
    next_sequence: u64,
    pub(super) resolved: HashMap<String, bool>,
    /// `POST mark_as_received/` marks: the newest timestamp per customer.
    pub(super) received_marks: HashMap<String, i64>,
    /// Ids of files uploaded through `POST media/`, oldest first.
    pub(super) uploads: Vec<String>,
    /// Answer `POST messages/` with 202 (stored, sent later) instead of 201.
    pub(super) queue_messages: bool,
    pub(super) max_upload_bytes: usize,
}

impl SimData {
    pub(super) fn rotate_token(&mut self) {
        self.token = new_token();
    }

    pub(super) fn store_message(
        &mut self,
        object: Value,
        wa_id: &str,
        timestamp: f64,
        from_us: bool,
    ) {
        self.next_sequence += 1;
        self.messages.push(StoredMessage {
            object,
            wa_id: wa_id.to_owned(),
            timestamp,
            from_us,
            sequence: self.next_sequence,
        });
    }
}

impl SimData {
    /// Record a received mark (never moving it back) and flag the customer's messages up to it.
    pub(super) fn mark_received(&mut self, wa_id: &str, timestamp: i64) {
        let mark = self
            .received_marks
            .entry(wa_id.to_owned())
            .or_insert(timestamp);
        *mark = (*mark).max(timestamp);
        let mark = *mark as f64;
        for message in self
            .messages
            .iter_mut()
            .filter(|m| m.wa_id == wa_id && m.timestamp <= mark)
        {
            message.object["received"] = serde_json::json!(true);
        }
    }
}

fn new_token() -> String {
    // 40 hex characters, like a DRF token.
    let mut token = uuid::Uuid::new_v4().simple().to_string();
    token.push_str(&uuid::Uuid::new_v4().simple().to_string()[..8]);
    token
}
