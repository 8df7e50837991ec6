//! Ingest: store a webhook's events durably (dedupe + per-conversation sequence) and trigger the
//! conversations that became due, all in one transaction. Only after it commits may the webhook
//! be answered 200.

use super::Engine;
use crate::domain::{ChannelId, InboundEvent};
use crate::jobs::JobError;
use crate::store::{IngestOutcome, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("could not store the events")]
    Store(#[from] StoreError),
    #[error("could not queue the events for processing")]
    Queue(#[from] JobError),
}

impl Engine {
    /// Store the events of one delivery. Duplicates (same dedupe key) change nothing.
    #[tracing::instrument(skip_all, fields(channel = %channel, events = events.len()))]
    pub async fn ingest(
        &self,
        channel: &ChannelId,
        events: &[InboundEvent],
    ) -> Result<IngestOutcome, IngestError> {
        let store = &self.inner.store;
        let keys: Vec<&str> = events.iter().map(|e| e.dedupe_key.as_str()).collect();
        let known = store.known_dedupe_keys(channel.as_str(), &keys).await?;
        let fresh: Vec<InboundEvent> = events
            .iter()
            .filter(|e| !known.contains(&e.dedupe_key))
            .cloned()
            .collect();
        if fresh.is_empty() {
            return Ok(IngestOutcome {
                duplicates: events.len(),
                ..IngestOutcome::default()
            });
        }
        let mut tx = store.begin().await?;
        let mut outcome = Store::ingest_in_tx(&mut tx, channel.as_str(), &fresh).await?;
        self.inner.queue.push_in_tx(&mut tx, &outcome.woken).await?;
        tx.commit().await?;
        outcome.duplicates += known.len();
        for event in &fresh {
            metrics::counter!("omnibridge_events_ingested_total", "channel" => channel.to_string(), "kind" => event.kind.name().to_owned()).increment(1);
        }
        tracing::debug!(
            stored = outcome.stored,
            duplicates = outcome.duplicates,
            woken = outcome.woken.len(),
            "Events stored."
        );
        Ok(outcome)
    }
}
