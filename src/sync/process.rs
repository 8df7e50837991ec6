//! This process's presence in the database: a heartbeat row, so that the leases of a process that
//! crashed are taken over within seconds by the others, and on a single node (SQLite) the
//! takeover of every lease left behind at start.

use super::Engine;
use crate::store::{DbKind, HEARTBEAT_EVERY, StoreError};

impl Engine {
    /// Announce this process (first heartbeat), take over a crashed predecessor's leases on a
    /// single node, and keep beating until shutdown; the row is removed at a clean stop.
    pub async fn start_heartbeat(&self) -> Result<tokio::task::JoinHandle<()>, StoreError> {
        let store = self.store().clone();
        let owner = self.inner.owner.clone();
        store.heartbeat(&owner).await?;
        if store.kind() == DbKind::Sqlite {
            let freed = store.take_over_leases_at_start(&owner).await?;
            if freed > 0 {
                tracing::info!(
                    conversations = freed,
                    "Took over conversations a previous run left in flight; they resume now."
                );
            }
        }
        let shutdown = self.inner.shutdown.clone();
        Ok(tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => break,
                    _ = tokio::time::sleep(HEARTBEAT_EVERY) => {}
                }
                if let Err(err) = store.heartbeat(&owner).await {
                    tracing::warn!(error = ?err, "Could not write this process's heartbeat; will retry.");
                }
            }
            if let Err(err) = store.retire_process(&owner).await {
                tracing::debug!(error = ?err, "Could not remove this process's heartbeat row.");
            }
        }))
    }
}
