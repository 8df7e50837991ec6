//! omnibridge: keeps WhatsApp conversations (get.chat, Qontak) in sync with Inbenta Messenger
//! tickets. See README.md for the big picture and `startup.rs` for how the parts fit together.

pub mod backfill;
pub mod cli;
pub mod config;
pub mod connectors;
pub mod domain;
#[cfg(test)]
mod engine_tests;
pub mod error;
pub mod http;
pub mod jobs;
pub mod mapping;
pub mod media;
pub mod metrics;
pub mod sandbox;
pub mod startup;
pub mod store;
pub mod sync;
pub mod telemetry;
