//! Simulated vendors that speak the real HTTP contracts (get.chat Integration API, Qontak open API,
//! Inbenta Messenger API). Used by the integration tests and by `omnibridge sandbox`; never
//! reachable from `serve`.
mod control;
pub mod getchat;
pub mod inbenta;
pub mod qontak;
mod run;
mod walkthrough;

pub use run::{SandboxOptions, run};
