//! The safety net: every `sweep_interval`, conversations that are due but held by nobody (their
//! trigger was lost to a crash, their lease expired, their backoff is over) are drained.

use super::Engine;
use std::time::Duration;

/// How many due conversations one sweep picks up at most.
const SWEEP_BATCH: i64 = 200;

pub(super) async fn run(engine: Engine) {
    let interval = engine
        .inner
        .settings
        .sweep_interval
        .max(Duration::from_millis(50));
    let shutdown = engine.inner.shutdown.clone();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
        }
        let due = match engine.inner.store.due_conversations(SWEEP_BATCH).await {
            Ok(due) => due,
            Err(err) => {
                tracing::warn!(error = ?err, "Sweeper could not read due conversations; will retry.");
                continue;
            }
        };
        if !due.is_empty() {
            tracing::debug!(count = due.len(), "Sweeper found due conversations.");
        }
        for conversation_id in due {
            if shutdown.is_cancelled() {
                return;
            }
            if let Err(err) = engine.drain(conversation_id).await {
                tracing::warn!(conversation_id, error = ?err, "Sweeper drain failed; will retry.");
            }
        }
        if let Ok(depth) = engine.inner.store.pending_count().await {
            metrics::gauge!("omnibridge_queue_depth").set(depth as f64);
        }
    }
}
