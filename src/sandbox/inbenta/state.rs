//! The simulator's memory: tokens, users, tickets, media and webhooks (faults and request counts
//! live in `sandbox::faults`). One `std::sync::Mutex`, only ever taken inside [`Shared::with`], so it is
//! never held across an `.await`.

use super::{SimDelivery, SimMedia, SimReply, SimTicket, SimUser, SimWebhook};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// What every handler shares.
pub(super) struct Shared {
    data: Mutex<SimData>,
    /// `http://127.0.0.1:<port>`.
    pub(super) base_url: String,
    /// Client for webhook verification and deliveries.
    pub(super) http: reqwest::Client,
    pub(super) apis_in_auth_answer: bool,
}

impl Shared {
    pub(super) fn new(
        base_url: String,
        http: reqwest::Client,
        token_lifetime: Duration,
        apis_in_auth_answer: bool,
    ) -> Self {
        Self {
            data: Mutex::new(SimData::new(token_lifetime)),
            base_url,
            http,
            apis_in_auth_answer,
        }
    }

    /// Run `f` with the state locked. A panic in another handler does not poison the simulator.
    pub(super) fn with<R>(&self, f: impl FnOnce(&mut SimData) -> R) -> R {
        let mut data = self.data.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut data)
    }

    pub(super) fn ticketing_url(&self) -> String {
        format!("{}/prod/ticketing", self.base_url)
    }
}

/// A registered webhook with the secret it was registered with.
pub(super) struct WebhookRecord {
    pub(super) public: SimWebhook,
    pub(super) secret: String,
}

/// Author of agent answers added with `add_agent_answer`.
pub(super) const AGENT_USER_ID: i64 = 1;

pub(super) struct SimData {
    /// Seconds added to the wall clock (`InbentaSim::advance_clock`).
    clock_offset_secs: i64,
    token_lifetime_secs: i64,
    /// token → expiry (unix seconds).
    tokens: HashMap<String, i64>,
    pub(super) users: Vec<SimUser>,
    pub(super) tickets: BTreeMap<i64, SimTicket>,
    pub(super) media: Vec<SimMedia>,
    /// Uploaded file contents by media uuid.
    media_bytes: HashMap<String, Vec<u8>>,
    pub(super) webhooks: Vec<WebhookRecord>,
    /// While set, changes are not announced to webhooks (the deliveries are lost).
    pub(super) webhooks_paused: bool,
    pub(super) deliveries: Vec<SimDelivery>,
    next_user_id: i64,
    next_ticket_id: i64,
    next_reply_id: i64,
}

impl SimData {
    fn new(token_lifetime: Duration) -> Self {
        Self {
            clock_offset_secs: 0,
            token_lifetime_secs: secs(token_lifetime),
            tokens: HashMap::new(),
            users: Vec::new(),
            tickets: BTreeMap::new(),
            media: Vec::new(),
            media_bytes: HashMap::new(),
            webhooks: Vec::new(),
            webhooks_paused: false,
            deliveries: Vec::new(),
            next_user_id: 1001,
            next_ticket_id: 5001,
            next_reply_id: 9001,
        }
    }

    // --- clock ----------------------------------------------------------------------------------

    /// The simulator's time in unix seconds: the wall clock plus any advance.
    pub(super) fn now(&self) -> i64 {
        chrono::Utc::now().timestamp() + self.clock_offset_secs
    }

    pub(super) fn advance_clock(&mut self, by: Duration) {
        self.clock_offset_secs = self.clock_offset_secs.saturating_add(secs(by));
    }

    // --- tokens ---------------------------------------------------------------------------------

    /// A new token and its expiry.
    pub(super) fn issue_token(&mut self) -> (String, i64) {
        let token = random_hex();
        let expires_at = self.now() + self.token_lifetime_secs;
        self.tokens.insert(token.clone(), expires_at);
        (token, expires_at)
    }

    pub(super) fn token_lifetime_secs(&self) -> i64 {
        self.token_lifetime_secs
    }

    pub(super) fn set_token_lifetime(&mut self, lifetime: Duration) {
        self.token_lifetime_secs = secs(lifetime);
    }

    pub(super) fn token_is_valid(&self, token: &str) -> bool {
        let now = self.now();
        self.tokens.get(token).is_some_and(|&at| now < at)
    }

    pub(super) fn expire_all_tokens(&mut self) {
        for expiry in self.tokens.values_mut() {
            *expiry = 0;
        }
    }

    // --- users ----------------------------------------------------------------------------------

    pub(super) fn add_user(&mut self, name: String, address: String) -> i64 {
        let id = self.next_user_id;
        self.next_user_id += 1;
        self.users.push(SimUser { id, name, address });
        id
    }

    /// Customers created through the API, or the built-in agent.
    pub(super) fn user_exists(&self, id: i64) -> bool {
        id == AGENT_USER_ID || self.users.iter().any(|u| u.id == id)
    }

    // --- tickets and replies --------------------------------------------------------------------

    pub(super) fn next_ticket_id(&mut self) -> i64 {
        let id = self.next_ticket_id;
        self.next_ticket_id += 1;
        id
    }

    /// Add a reply, typed `reply` when written by the ticket's creator and `answer` otherwise;
    /// the ticket's `last_update` moves to now.
    pub(super) fn add_reply(
        &mut self,
        ticket_id: i64,
        creator: i64,
        message: String,
        attachments: Vec<String>,
    ) -> Option<i64> {
        let id = self.next_reply_id;
        let now = self.now();
        let ticket = self.tickets.get_mut(&ticket_id)?;
        let kind = if creator == ticket.creator {
            "reply"
        } else {
            "answer"
        };
        ticket.replies.push(SimReply {
            id,
            kind: kind.to_owned(),
            creator,
            message,
            attachments,
            created_at: now,
            received_at: std::time::SystemTime::now(),
        });
        ticket.last_update = now;
        self.next_reply_id += 1;
        Some(id)
    }

    /// Set a ticket's status (moving its `last_update`); false when there is no such ticket.
    pub(super) fn set_status(&mut self, ticket_id: i64, status: i64) -> bool {
        let now = self.now();
        match self.tickets.get_mut(&ticket_id) {
            Some(ticket) => {
                ticket.status = status;
                ticket.last_update = now;
                true
            }
            None => false,
        }
    }

    // --- media ----------------------------------------------------------------------------------

    /// Store an uploaded file and return its uuid.
    pub(super) fn add_media(
        &mut self,
        name: String,
        content_type: String,
        bytes: Vec<u8>,
    ) -> String {
        let uuid = uuid::Uuid::new_v4().to_string();
        self.media.push(SimMedia {
            uuid: uuid.clone(),
            name,
            content_type,
            size_bytes: bytes.len(),
        });
        self.media_bytes.insert(uuid.clone(), bytes);
        uuid
    }

    /// An uploaded file and its contents.
    pub(super) fn media_file(&self, uuid: &str) -> Option<(&SimMedia, &[u8])> {
        let media = self.media.iter().find(|m| m.uuid == uuid)?;
        Some((media, self.media_bytes.get(uuid)?.as_slice()))
    }

    /// The first attachment uuid that was never uploaded, if any.
    pub(super) fn unknown_media<'a>(&self, uuids: &'a [String]) -> Option<&'a str> {
        uuids
            .iter()
            .find(|uuid| !self.media.iter().any(|m| &m.uuid == *uuid))
            .map(String::as_str)
    }
}

/// 32 random hex characters: tokens, challenges, webhook ids.
pub(super) fn random_hex() -> String {
    format!("{:032x}", rand::random::<u128>())
}

fn secs(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}
