//! Qontak Omnichannel (seed 003, CONTRACTS §2): rooms as conversations, OAuth tokens that rotate.
//!
//! * `channel.rs` — [`QontakChannel`], the [`ChannelConnector`](super::ChannelConnector).
//! * `auth.rs` — access and refresh tokens: loaded from the credential store, refreshed one at a
//!   time, saved back (see [`credentials_key`]).
//! * `client.rs` — HTTP: Bearer token, one retry after a refresh on 401, Qontak's error envelope.
//! * `webhook.rs` / `convert.rs` — webhook bodies and room histories → the same domain events.
//! * `outbound.rs` / `templates.rs` — bot messages into rooms, direct-broadcast templates,
//!   recovery through the room history, resolving rooms.
//! * `media.rs` — downloads (Bearer only to Qontak's own host) and `file_uploader`.
//! * `poll.rs` — rooms changed since a cursor, then their histories.
//! * `rooms.rs` — what is known per room (session state, phone, integration), in memory.
//! * `wire.rs` — serde shapes, private to this folder.

mod auth;
mod channel;
mod client;
mod convert;
mod media;
mod outbound;
mod poll;
mod rooms;
mod templates;
mod webhook;
mod wire;

#[cfg(test)]
mod tests;

pub use auth::credentials_key;
pub use channel::{QontakBuildError, QontakChannel};
