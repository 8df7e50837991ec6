//! Integration tests: the real application (HTTP, store, workers, connectors) against the
//! simulated vendors on loopback, on SQLite and on PostgreSQL.

mod admission;
mod helpers;

mod admin;
mod answers;
mod cli;
mod crash;
mod early_answers;
mod edge;
mod ingest;
mod listener;
mod media;
mod mutations;
mod processes;
mod qontak;
mod reconcile;
mod resilience;
mod sync;
