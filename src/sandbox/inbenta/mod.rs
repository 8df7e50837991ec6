//! A simulated Inbenta (auth + Messenger ticketing API) on `127.0.0.1` and a random port, for
//! integration tests and `omnibridge sandbox`.
//!
//! It refuses what the real API refuses (wrong key or secret, missing or expired tokens, missing
//! fields, unknown users, tickets and media, bodies over 10 MB) and lets tests inspect what was
//! stored and inject failures. Ids follow Inbenta's examples: users and tickets are numbers,
//! media are uuids. The ticketing API lives under `{auth_url}/prod/ticketing`, as `/v1/apis`
//! reports.
//!
//! Replies are typed (`answer` unless written by the ticket's creator) and list their creation
//! time and attachments; uploaded files are served at `GET /v1/media/{uuid}`. Tickets carry a
//! `last_update` (unix seconds) that every reply and status change moves, and
//! `GET /v1/tickets` sorts and filters by it. Webhooks are registered after Inbenta's challenge
//! check, and every added reply and every ticket change is announced to them (unless
//! [`InbentaSim::pause_webhooks`] simulates an outage).

mod checks;
mod media;
mod routes;
mod state;
#[cfg(test)]
mod tests;
mod webhooks;

use crate::sandbox::server::SimServer;
use routes::SimState;
use state::Shared;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use webhooks::{Change, announce, change_event};

/// API key the simulator accepts in `x-inbenta-key`. Valid for the simulator only.
pub const API_KEY: &str = "sandbox-inbenta-key";
/// API secret the simulator accepts at `/v1/auth`. Valid for the simulator only.
pub const SECRET: &str = "sandbox-inbenta-secret";
/// User id of the simulated agent who writes the answers added with
/// [`InbentaSim::add_agent_answer`].
pub const AGENT_USER_ID: i64 = state::AGENT_USER_ID;

/// How the simulator behaves where the real API may vary.
#[derive(Clone, Debug)]
pub struct InbentaSimOptions {
    /// Lifetime of issued access tokens.
    pub token_lifetime: Duration,
    /// Whether `/v1/auth` answers carry `apis` (otherwise clients must call `/v1/apis`).
    pub apis_in_auth_answer: bool,
}

impl Default for InbentaSimOptions {
    fn default() -> Self {
        Self {
            token_lifetime: Duration::from_secs(3600),
            apis_in_auth_answer: true,
        }
    }
}

/// A user created through `POST /v1/users`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimUser {
    pub id: i64,
    pub name: String,
    pub address: String,
}

/// A ticket with everything posted to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimTicket {
    pub id: i64,
    pub title: String,
    /// User id of the customer who opened it.
    pub creator: i64,
    /// First message (HTML).
    pub message: String,
    pub queue: Option<i64>,
    pub source: Option<i64>,
    /// Media uuids attached to the first message.
    pub attachments: Vec<String>,
    pub external_id: Option<String>,
    /// 1 when created.
    pub status: i64,
    /// Unix seconds (simulator clock) of the last change: creation, a reply, a status change.
    pub last_update: i64,
    pub replies: Vec<SimReply>,
    /// When the simulator stored it (benchmarks measure latency with it).
    pub received_at: std::time::SystemTime,
}

/// A reply on a ticket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimReply {
    pub id: i64,
    /// `reply` when written by the ticket's creator, `answer` otherwise.
    pub kind: String,
    pub creator: i64,
    pub message: String,
    /// Media uuids.
    pub attachments: Vec<String>,
    /// Unix seconds (simulator clock), listed as `creation_date`.
    pub created_at: i64,
    /// When the simulator stored it.
    pub received_at: std::time::SystemTime,
}

/// A file uploaded through `POST /v1/media`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimMedia {
    /// The uuid answered to the upload (what attachments name).
    pub uuid: String,
    pub name: String,
    /// Guessed from the name's extension, as served by `GET /v1/media/{uuid}`.
    pub content_type: String,
    /// Size in bytes after base64 decoding.
    pub size_bytes: usize,
}

/// A webhook registration that passed the challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimWebhook {
    pub uuid: String,
    pub item: String,
    pub url: String,
}

/// One webhook POST the simulator made.
#[derive(Clone, Debug, PartialEq)]
pub struct SimDelivery {
    pub url: String,
    pub item: String,
    /// The JSON array of events sent.
    pub body: serde_json::Value,
    /// The receiver's HTTP status, `None` when it could not be reached.
    pub status: Option<u16>,
}

/// A running simulated Inbenta. Stops when dropped.
pub struct InbentaSim {
    shared: SimState,
    server: SimServer,
}

crate::sandbox::faults::fault_controls!(InbentaSim);

impl InbentaSim {
    /// API key the simulator accepts (same as the module's [`API_KEY`]).
    pub const API_KEY: &'static str = API_KEY;
    /// API secret the simulator accepts (same as the module's [`SECRET`]).
    pub const SECRET: &'static str = SECRET;

    /// Start with default options (tokens valid for an hour).
    pub async fn start() -> std::io::Result<InbentaSim> {
        Self::start_with(InbentaSimOptions::default()).await
    }

    /// Start on `127.0.0.1` and a free port.
    pub async fn start_with(options: InbentaSimOptions) -> std::io::Result<InbentaSim> {
        ensure_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(std::io::Error::other)?;
        let (server, shared) = SimServer::start(0, &routes::PROFILE, |base_url| {
            let shared = Arc::new(Shared::new(
                base_url,
                http,
                options.token_lifetime,
                options.apis_in_auth_answer,
            ));
            (routes::router(Arc::clone(&shared)), shared)
        })
        .await?;
        Ok(InbentaSim { shared, server })
    }

    /// What goes in `[inbenta] auth_url`: `http://127.0.0.1:<port>`.
    pub fn auth_url(&self) -> String {
        self.shared.base_url.clone()
    }

    /// The ticketing base URL `/v1/apis` reports.
    pub fn ticketing_url(&self) -> String {
        self.shared.ticketing_url()
    }

    pub fn address(&self) -> SocketAddr {
        self.server.address()
    }

    // --- Inspection -------------------------------------------------------------------------

    /// Every ticket, oldest first, with its replies.
    pub fn tickets(&self) -> Vec<SimTicket> {
        self.shared
            .with(|data| data.tickets.values().cloned().collect())
    }

    /// Tickets plus replies stored so far: a cheap progress counter for load tests.
    pub fn message_count(&self) -> usize {
        self.shared
            .with(|data| data.tickets.values().map(|t| 1 + t.replies.len()).sum())
    }

    pub fn ticket(&self, id: i64) -> Option<SimTicket> {
        self.shared.with(|data| data.tickets.get(&id).cloned())
    }

    /// Users created through the API (the simulated agent is not listed).
    pub fn users(&self) -> Vec<SimUser> {
        self.shared.with(|data| data.users.clone())
    }

    pub fn media(&self) -> Vec<SimMedia> {
        self.shared.with(|data| data.media.clone())
    }

    /// The bytes of an uploaded file.
    pub fn media_content(&self, uuid: &str) -> Option<Vec<u8>> {
        self.shared
            .with(|data| data.media_file(uuid).map(|(_, bytes)| bytes.to_vec()))
    }

    pub fn webhooks(&self) -> Vec<SimWebhook> {
        self.shared
            .with(|data| data.webhooks.iter().map(|h| h.public.clone()).collect())
    }

    /// Webhook POSTs made so far (see [`Self::add_agent_answer`]).
    pub fn deliveries(&self) -> Vec<SimDelivery> {
        self.shared.with(|data| data.deliveries.clone())
    }

    // --- Behaviour (faults and request counts: `sandbox::faults`) ---------------------------------------------------------------

    /// Make every token issued so far invalid (next calls get 401).
    pub fn expire_all_tokens(&self) {
        self.shared.with(|data| data.expire_all_tokens());
    }

    /// Lifetime of tokens issued from now on.
    pub fn set_token_lifetime(&self, lifetime: Duration) {
        self.shared.with(|data| data.set_token_lifetime(lifetime));
    }

    /// While `paused`, changes are not announced to webhooks: the deliveries are lost, as when
    /// the bridge is down, and only polling finds the changes.
    pub fn pause_webhooks(&self, paused: bool) {
        self.shared.with(|data| data.webhooks_paused = paused);
    }

    /// Move the simulator's clock forward (ticket `last_update`, reply `creation_date`, event
    /// timestamps and token expiry all follow it).
    pub fn advance_clock(&self, by: Duration) {
        self.shared.with(|data| data.advance_clock(by));
    }

    /// Change a ticket's status as an agent would (moving its `last_update`); false when the
    /// ticket does not exist. Notifies `ticket` webhooks in the background when called inside a
    /// Tokio runtime.
    pub fn set_ticket_status(&self, ticket_id: i64, status: i64) -> bool {
        let found = self.shared.with(|data| data.set_status(ticket_id, status));
        if found {
            let change = Change {
                id: ticket_id,
                item: "ticket",
                action: "update",
                parent: None,
                actor: AGENT_USER_ID,
            };
            announce(&self.shared, "ticket", change_event(&self.shared, change));
        }
        found
    }

    /// Add an agent answer (reply of type `answer`) to a ticket and return its id; `None` when
    /// the ticket does not exist. Notifies `reply` webhooks in the background when called
    /// inside a Tokio runtime.
    pub fn add_agent_answer(&self, ticket_id: i64, html: &str) -> Option<i64> {
        self.add_agent_reply(ticket_id, html, Vec::new())
    }

    /// Like [`Self::add_agent_answer`], with a file the agent attached (uploaded first, as the
    /// agent's app does). `None` when the ticket does not exist.
    pub fn add_agent_answer_with_attachment(
        &self,
        ticket_id: i64,
        html: &str,
        filename: &str,
        content_type: &str,
        bytes: impl Into<Vec<u8>>,
    ) -> Option<i64> {
        if !self
            .shared
            .with(|data| data.tickets.contains_key(&ticket_id))
        {
            return None;
        }
        let uuid = self.shared.with(|data| {
            data.add_media(filename.to_owned(), content_type.to_owned(), bytes.into())
        });
        self.add_agent_reply(ticket_id, html, vec![uuid])
    }

    fn add_agent_reply(&self, ticket_id: i64, html: &str, attachments: Vec<String>) -> Option<i64> {
        let reply_id = self
            .shared
            .with(|data| data.add_reply(ticket_id, AGENT_USER_ID, html.to_owned(), attachments))?;
        let change = Change {
            id: reply_id,
            item: "reply",
            action: "add",
            parent: Some(ticket_id),
            actor: AGENT_USER_ID,
        };
        announce(&self.shared, "reply", change_event(&self.shared, change));
        Some(reply_id)
    }
}

impl std::fmt::Debug for InbentaSim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InbentaSim")
            .field("address", &self.server.address())
            .finish_non_exhaustive()
    }
}

/// reqwest is built without a default TLS crypto provider; install ring's unless one is set.
fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}
