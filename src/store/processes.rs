//! Running bridge processes and their heartbeats. A conversation leased by a process that
//! stopped beating is taken over at once instead of at lease expiry, so a crash costs seconds.

use super::{Store, StoreError, now_ms, on_db};
use std::time::Duration;

/// How often a process writes its heartbeat.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(2);
/// A process whose heartbeat is older than this is dead; its leases are taken over.
pub const PROCESS_DEAD_AFTER: Duration = Duration::from_secs(10);

/// The oldest heartbeat (unix ms) that still counts as alive.
pub(super) fn alive_since() -> i64 {
    now_ms() - i64::try_from(PROCESS_DEAD_AFTER.as_millis()).unwrap_or(i64::MAX / 2)
}

impl Store {
    /// Write this process's heartbeat (insert on the first beat).
    pub async fn heartbeat(&self, owner: &str) -> Result<(), StoreError> {
        let query = "INSERT INTO bridge_processes (owner, started_at, heartbeat_at) VALUES ($1, $2, $2) \
            ON CONFLICT (owner) DO UPDATE SET heartbeat_at = excluded.heartbeat_at";
        on_db!(self, pool => sqlx::query(query)
            .bind(owner)
            .bind(now_ms())
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Remove this process's row at a clean stop, and rows of processes dead for a day.
    pub async fn retire_process(&self, owner: &str) -> Result<(), StoreError> {
        let query = "DELETE FROM bridge_processes WHERE owner = $1 OR heartbeat_at < $2";
        on_db!(self, pool => sqlx::query(query)
            .bind(owner)
            .bind(now_ms() - 24 * 3600 * 1000)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Single node (SQLite): the process starting now owns every lease it finds, because no
    /// other process can be draining this database. Leases left by a crash become claimable at
    /// once (the takeover looks effects up before repeating them). Returns how many were freed.
    pub async fn take_over_leases_at_start(&self, owner: &str) -> Result<u64, StoreError> {
        let query = "UPDATE conversations SET lease_until = 0 \
            WHERE lease_owner IS NOT NULL AND lease_owner <> $1";
        let freed = on_db!(self, pool => sqlx::query(query)
            .bind(owner)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(freed)
    }
}
