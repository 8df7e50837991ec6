//! Ingest: store a webhook's events durably (dedupe + per-conversation sequence) and trigger the
//! conversations that became due, in one transaction. Only after it commits may the webhook be
//! answered 200.
//!
//! Concurrent webhooks are written together ([`super::group_commit`]): up to [`MAX_BATCH`] in one
//! transaction, then each is answered. If a batch fails, its requests are retried one by one so a
//! single bad request cannot fail others.

use super::Engine;
use super::wake::LocalWakes;
use crate::domain::{ChannelId, InboundEvent};
use crate::jobs::{DrainQueue, JobError};
use crate::store::{DbKind, HeldEvent, IngestOutcome, Store, StoreError};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Most webhooks written in one transaction.
const MAX_BATCH: usize = 256;
/// Webhooks waiting for a writer before senders wait too (backpressure on the HTTP handlers).
const QUEUE_CAPACITY: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("could not store the events")]
    Store(#[from] StoreError),
    #[error("could not queue the events for processing")]
    Queue(#[from] JobError),
    #[error("the ingest writer stopped (shutting down)")]
    WriterGone,
}

/// One webhook's events waiting to be written.
pub(super) struct IngestRequest {
    channel: ChannelId,
    events: Vec<InboundEvent>,
    reply: oneshot::Sender<Result<IngestOutcome, IngestError>>,
}

/// Start `writers` writer tasks and return the queue that feeds them. They stop when every
/// sender is dropped.
pub(super) fn spawn_writers(
    store: Store,
    queue: DrainQueue,
    wakes: Arc<LocalWakes>,
    writers: usize,
) -> mpsc::Sender<IngestRequest> {
    let triggers = Triggers { queue, wakes };
    super::group_commit::spawn_writers(writers, QUEUE_CAPACITY, MAX_BATCH, move |batch| {
        let (store, triggers) = (store.clone(), triggers.clone());
        async move { write_batch(&store, &triggers, batch).await }
    })
}

/// How woken conversations reach a worker: on SQLite an in-process wake after the commit (its
/// `due_at` is the durable trigger), on PostgreSQL a job pushed in the ingest transaction.
#[derive(Clone)]
struct Triggers {
    queue: DrainQueue,
    wakes: Arc<LocalWakes>,
}

async fn write_batch(store: &Store, triggers: &Triggers, mut batch: Vec<IngestRequest>) {
    if batch.len() > 1 {
        // Take conversation rows in one order in every batch, so two batches on PostgreSQL
        // never wait for each other's rows in a cycle. Stable: a conversation's webhooks keep
        // their arrival order.
        batch.sort_by(|a, b| lock_order(a).cmp(&lock_order(b)));
        let all: Vec<(&ChannelId, &[InboundEvent])> = batch
            .iter()
            .map(|r| (&r.channel, r.events.as_slice()))
            .collect();
        match commit(store, triggers, &all).await {
            Ok(outcomes) => {
                for (request, outcome) in batch.into_iter().zip(outcomes) {
                    let _ = request.reply.send(Ok(outcome));
                }
                return;
            }
            Err(err) => {
                tracing::warn!(error = ?err, webhooks = batch.len(), "Batched ingest failed; storing its webhooks one by one.");
            }
        }
    }
    for request in batch {
        let result = commit(
            store,
            triggers,
            &[(&request.channel, request.events.as_slice())],
        )
        .await
        .map(|mut outcomes| outcomes.pop().unwrap_or_default());
        let _ = request.reply.send(result);
    }
}

/// The first conversation row a request's events take.
fn lock_order(request: &IngestRequest) -> (&str, Option<&str>) {
    let first = request.events.iter().map(|e| e.conversation.as_str()).min();
    (request.channel.as_str(), first)
}

/// Store several webhooks' events and their triggers in one transaction.
async fn commit(
    store: &Store,
    triggers: &Triggers,
    requests: &[(&ChannelId, &[InboundEvent])],
) -> Result<Vec<IngestOutcome>, IngestError> {
    let mut tx = store.begin().await?;
    let requests: Vec<(&str, &[InboundEvent])> = requests
        .iter()
        .map(|(channel, events)| (channel.as_str(), *events))
        .collect();
    let outcomes = Store::ingest_batch_in_tx(&mut tx, &requests).await?;
    let mut woken: Vec<i64> = outcomes
        .iter()
        .flat_map(|o| o.woken.iter().copied())
        .collect();
    woken.sort_unstable();
    woken.dedup();
    let local = store.kind() == DbKind::Sqlite;
    if !local {
        triggers.queue.push_in_tx(&mut tx, &woken).await?;
    }
    tx.commit().await?;
    if local {
        triggers.wakes.wake(&woken);
    }
    Ok(outcomes)
}

impl Engine {
    /// Store the events of one delivery; returns once they are committed. Duplicates (same dedupe
    /// key) change nothing.
    #[tracing::instrument(skip_all, fields(channel = %channel, events = events.len()))]
    pub async fn ingest(
        &self,
        channel: &ChannelId,
        events: &[InboundEvent],
    ) -> Result<IngestOutcome, IngestError> {
        let (reply, answer) = oneshot::channel();
        let request = IngestRequest {
            channel: channel.clone(),
            events: events.to_vec(),
            reply,
        };
        self.inner
            .ingest
            .send(request)
            .await
            .map_err(|_| IngestError::WriterGone)?;
        let outcome = answer.await.map_err(|_| IngestError::WriterGone)??;
        for event in events {
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

/// What storing a helpdesk delivery did.
#[derive(Debug, Default, serde::Serialize)]
pub struct HelpdeskIngestOutcome {
    pub stored: usize,
    pub duplicates: usize,
    /// Events about tickets the bridge has no link for (yet): held until the ticket's link
    /// commits (an answer written within moments of the ticket's creation), else dropped after
    /// an hour (tickets the bridge did not create).
    pub held: usize,
}

impl Engine {
    /// Store helpdesk events in the conversation of the ticket they concern, so an agent's
    /// answers reach the customer in order with everything else in that conversation. Events
    /// about tickets without a link are held for the link.
    pub async fn ingest_helpdesk(
        &self,
        events: &[crate::connectors::HelpdeskEvent],
    ) -> Result<HelpdeskIngestOutcome, IngestError> {
        let mut by_channel: std::collections::BTreeMap<String, Vec<InboundEvent>> =
            std::collections::BTreeMap::new();
        let mut outcome = HelpdeskIngestOutcome::default();
        let mut unlinked = Vec::new();
        for event in events {
            let link = self.store().link_by_ticket(&event.activity.ticket).await?;
            let Some(link) = link else {
                unlinked.push(HeldEvent {
                    dedupe_key: event.dedupe_key.clone(),
                    occurred_at: event.occurred_at,
                    activity: event.activity.clone(),
                });
                continue;
            };
            by_channel
                .entry(link.channel.clone())
                .or_default()
                .push(InboundEvent {
                    dedupe_key: event.dedupe_key.clone(),
                    conversation: crate::domain::ConversationKey::new(link.conversation_key),
                    occurred_at: event.occurred_at,
                    kind: crate::domain::EventKind::TicketActivity(event.activity.clone()),
                });
        }
        if !unlinked.is_empty() {
            outcome.held = unlinked.len();
            let newly = self.store().hold_helpdesk_events(&unlinked).await?;
            tracing::debug!(
                events = unlinked.len(),
                newly_held = newly,
                "Helpdesk events about tickets without a link yet; held until the link commits."
            );
        }
        for (channel, events) in by_channel {
            let stored = self.ingest(&ChannelId::new(channel), &events).await?;
            outcome.stored += stored.stored;
            outcome.duplicates += stored.duplicates;
        }
        Ok(outcome)
    }
}

/// A delivery's events after the edge rules: what may be stored, and what was refused.
#[derive(Debug, Default)]
pub struct Admitted {
    pub events: Vec<InboundEvent>,
    /// (the event's dedupe key, why), each already logged.
    pub refused: Vec<(String, crate::domain::admit::Refusal)>,
}

/// Apply the channel's identifier rules and make free text storable. A refused event is logged
/// with the field named and never stored; the others go on.
pub fn admit(
    channel: &dyn crate::connectors::ChannelConnector,
    events: Vec<InboundEvent>,
) -> Admitted {
    let rules = channel.id_rules();
    let mut admitted = Admitted::default();
    for event in events {
        let key: String = event.dedupe_key.chars().take(80).collect();
        match crate::domain::admit::admit(event, rules) {
            Ok(event) => admitted.events.push(event),
            Err(refusal) => {
                tracing::warn!(channel = %channel.channel_id(), event = %key.escape_debug(), field = refusal.field, reason = %refusal.reason, "Event refused at the edge; it is not stored.");
                metrics::counter!("omnibridge_events_refused_total", "field" => refusal.field)
                    .increment(1);
                admitted.refused.push((key, refusal));
            }
        }
    }
    admitted
}
