//! get.chat WhatsApp Integration API (seed 001): webhook parsing, media download, sending,
//! chat resolution and catch-up polling.
//!
//! * `channel.rs` — [`GetchatChannel`], the [`ChannelConnector`](super::ChannelConnector).
//! * `client.rs` — HTTP: `Authorization: Token …`, login with username/password, re-login on 401.
//! * `files.rs` — checksums, content types and names of downloaded files.
//! * `outbound.rs` — `POST messages/` bodies (text, files, templates); recognising a sent message.
//! * `catchup.rs` — `GET messages/` for `find_sent` and `poll`; `POST mark_as_received/`.
//! * `webhook.rs` — finds the items of the three body shapes (on-prem, get.chat, Cloud API).
//! * `convert.rs` / `render.rs` — items → domain events; readable text for non-native types.
//! * `wire.rs` — serde shapes, private to this folder.

mod catchup;
mod channel;
mod client;
mod convert;
mod files;
mod outbound;
mod render;
mod webhook;
mod wire;

#[cfg(test)]
mod tests;

pub use channel::{GetchatBuildError, GetchatChannel};
