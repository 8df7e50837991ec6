//! Simulated vendors that speak the real HTTP contracts (get.chat Integration API, Qontak open API,
//! Inbenta Messenger API). Used by the integration tests and by `omnibridge sandbox`; never
//! reachable from `serve`.
//!
//! They share their start-up (`server.rs`) and their injected faults (`faults.rs`: fail the next
//! requests, lose answers, delay, count requests); `settings.rs` builds the bridge's configuration
//! against them for tests, benchmarks and the sandbox.
mod control;
mod faults;
pub mod getchat;
pub mod inbenta;
pub mod qontak;
mod run;
mod server;
pub mod settings;
mod walkthrough;

pub use faults::Fault;
pub use run::{SandboxOptions, run};
