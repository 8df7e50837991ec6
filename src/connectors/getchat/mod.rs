//! get.chat WhatsApp Integration API (seed 001): webhook parsing, media download, and the
//! message/media calls the reply path needs.
//!
//! * `channel.rs` — [`GetchatChannel`], the [`ChannelConnector`](super::ChannelConnector).
//! * `client.rs` — HTTP: `Authorization: Token …`, login with username/password, re-login on 401.
//! * `webhook.rs` — finds the items of the three body shapes (on-prem, get.chat, Cloud API).
//! * `convert.rs` / `render.rs` — items → domain events; readable text for non-native types.
//! * `wire.rs` — serde shapes, private to this folder.

mod channel;
mod client;
mod convert;
mod render;
mod webhook;
mod wire;

#[cfg(test)]
mod tests;

pub use channel::{GetchatBuildError, GetchatChannel};
pub use client::{SentMessage, UploadedMedia, WINDOW_CLOSED_STATUS, is_window_closed};
