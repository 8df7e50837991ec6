//! Background jobs on apalis 1.0: the "drain conversation X" trigger (pushed inside the ingest
//! transaction on PostgreSQL, so a committed event always has its trigger; on SQLite ingest wakes
//! its own process instead, see `sync::wake`, and jobs carry timed retries and redrives) and its
//! worker.
//!
//! apalis is only the trigger: the truth (events, order, leases) lives in our own tables, and a
//! sweeper in `sync` re-triggers anything whose job was lost. apalis and sqlx types stay inside
//! this module.
//!
//! - `drain`: the public [`DrainQueue`] (setup, push, worker) and the job itself.
//! - `db`: what differs between SQLite and PostgreSQL (apalis' migrations, enqueueing on a
//!   connection we already hold, purging finished rows).

mod db;
mod drain;
#[cfg(test)]
mod tests;

pub use drain::{DrainConversation, DrainHandler, DrainQueue, JobError};
