//! In-process drain wakes, for SQLite. SQLite serves one process, so a conversation woken by
//! ingest is drained by the process that stored its events, at once, without a job row: the
//! durable trigger is the conversation's `due_at` itself, which the sweeper (and the start-up
//! takeover) picks up if this process stops before the drain. PostgreSQL keeps apalis jobs, so
//! that any process on the database can take the work.

use super::Engine;
use futures::StreamExt;
use std::sync::Mutex;
use tokio::sync::mpsc;

/// Conversations woken in this process, waiting for a drain.
pub(super) struct LocalWakes {
    sender: mpsc::UnboundedSender<i64>,
    receiver: Mutex<Option<mpsc::UnboundedReceiver<i64>>>,
}

impl LocalWakes {
    pub fn new() -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        Self {
            sender,
            receiver: Mutex::new(Some(receiver)),
        }
    }

    /// Ask for these conversations to be drained (after the commit that made them due). A
    /// conversation is only woken when it goes from idle to due, so at most one wake per
    /// conversation waits here.
    pub fn wake(&self, conversation_ids: &[i64]) {
        for &id in conversation_ids {
            // Closed only when the engine is gone; the sweeper covers anything left.
            let _ = self.sender.send(id);
        }
    }

    fn take_receiver(&self) -> Option<mpsc::UnboundedReceiver<i64>> {
        self.receiver
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }
}

impl Engine {
    /// Drain conversations woken in this process, `worker.concurrency` at a time, until
    /// shutdown. Only the first call gets the wakes; later calls return at once.
    pub fn spawn_local_drains(&self) -> tokio::task::JoinHandle<()> {
        let engine = self.clone();
        let receiver = self.inner.wakes.take_receiver();
        tokio::spawn(async move {
            let Some(receiver) = receiver else {
                return;
            };
            let shutdown = engine.inner.shutdown.clone();
            let limit = engine.inner.settings.concurrency.max(1);
            futures::stream::unfold(receiver, |mut receiver| async move {
                receiver.recv().await.map(|id| (id, receiver))
            })
            .take_until(shutdown.cancelled_owned())
                .for_each_concurrent(limit, |id| {
                    let engine = engine.clone();
                    async move {
                        if let Err(err) = engine.drain(id).await {
                            tracing::warn!(conversation_id = id, error = ?err, "Drain failed; the sweeper will retry it.");
                        }
                    }
                })
                .await;
        })
    }
}
