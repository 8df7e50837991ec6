//! Inbenta Messenger API (seed 004, CONTRACTS §3): users, tickets, replies and media.
//!
//! `auth.rs` obtains and refreshes access tokens and learns the ticketing base URL;
//! `client.rs` is the [`TicketConnector`](crate::connectors::TicketConnector) itself;
//! `wire.rs` holds the tolerant JSON shapes, which never leave this folder.

mod auth;
mod client;
#[cfg(test)]
mod tests;
mod wire;

pub use client::{InbentaBuildError, InbentaClient, MAX_ATTACHMENT_BYTES};
