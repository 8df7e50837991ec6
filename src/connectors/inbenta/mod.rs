//! Inbenta Messenger API (seed 004, CONTRACTS §3): users, tickets, replies and media.
//!
//! `auth.rs` obtains and refreshes access tokens and learns the ticketing base URL;
//! `client.rs` is the [`TicketConnector`](crate::connectors::TicketConnector) itself;
//! `media.rs` downloads reply attachments; `webhook.rs` registers and parses webhooks;
//! `polling.rs` lists recently updated tickets; `convert.rs` maps Inbenta's words (reply types,
//! statuses, items, dedupe keys) to the bridge's; `wire.rs` and `loose_json.rs` hold the tolerant
//! JSON shapes, which never leave this folder.

mod auth;
mod client;
mod convert;
mod loose_json;
mod media;
mod polling;
#[cfg(test)]
mod tests;
mod webhook;
mod wire;

pub use client::{InbentaBuildError, InbentaClient, MAX_ATTACHMENT_BYTES};
pub use media::MAX_DOWNLOAD_BYTES;
