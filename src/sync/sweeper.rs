//! The safety net: every `sweep_interval`, conversations that are due but held by nobody (their
//! trigger was lost to a crash, their lease expired or its owner stopped beating, their backoff
//! is over) are drained, up to `worker.concurrency` at a time; helpdesk events held for a ticket
//! whose link has committed meanwhile are queued.

use super::Engine;
use futures::StreamExt;
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
        if let Err(err) = engine.inner.store.release_held_with_links().await {
            tracing::warn!(error = ?err, "Sweeper could not queue held helpdesk events; will retry.");
        }
        sweep_once(&engine).await;
        if let Ok(depth) = engine.inner.store.pending_count().await {
            metrics::gauge!("omnibridge_queue_depth").set(depth as f64);
        }
    }
}

/// Drain every due, unheld conversation, `worker.concurrency` at a time.
async fn sweep_once(engine: &Engine) {
    let due = match engine.inner.store.due_conversations(SWEEP_BATCH).await {
        Ok(due) => due,
        Err(err) => {
            tracing::warn!(error = ?err, "Sweeper could not read due conversations; will retry.");
            return;
        }
    };
    if due.is_empty() {
        return;
    }
    tracing::debug!(count = due.len(), "Sweeper found due conversations.");
    let shutdown = engine.inner.shutdown.clone();
    futures::stream::iter(due)
        .take_while(|_| std::future::ready(!shutdown.is_cancelled()))
        .for_each_concurrent(engine.inner.settings.concurrency.max(1), |id| async move {
            if let Err(err) = engine.drain(id).await {
                tracing::warn!(conversation_id = id, error = ?err, "Sweeper drain failed; will retry.");
            }
        })
        .await;
}
