//! The one write path of an event: everything processing decided (links, states, delivery
//! statuses, the bridge's own effects, messages sent to customers, held helpdesk events) is
//! written in the transaction that re-checks the lease and completes the event. What an attempt
//! did before it failed ([`Recorded`], carried by [`ProcessError::AfterEffects`]) is written in
//! the transaction that records the failure, under the same lease.
//!
//! Completions from every worker are written together ([`super::group_commit`]): each worker
//! waits for its event's commit before it takes the next action on its conversation, so a crash
//! can never lose the record of an effect that a later effect depended on, while a busy bridge
//! pays one transaction for many events.

use super::Engine;
use super::drain::ProcessError;
use super::message::{LinkWrite, Processed};
use crate::domain::{DeliveryStatus, EventKind, ExternalId};
use crate::store::{
    ClaimedConversation, EffectKind, NewOutbound, PendingEvent, Store, StoreError, Tx, ms_after,
};
use tokio::sync::{mpsc, oneshot};

/// What an event did on vendors that the bridge keeps books of.
#[derive(Debug, Default)]
pub(super) struct Recorded {
    /// Parts sent to customers, and answers parked.
    pub outbound: Vec<NewOutbound>,
    /// Sources whose parked mark goes: their answer has now been sent.
    pub unparked: Vec<String>,
    /// (vendor, remote id, kind) of every helpdesk object the bridge created.
    pub effects: Vec<(&'static str, ExternalId, EffectKind)>,
}

impl Recorded {
    pub fn is_empty(&self) -> bool {
        self.outbound.is_empty() && self.unparked.is_empty() && self.effects.is_empty()
    }

    /// Add what another step of the same event recorded.
    pub fn extend(&mut self, other: Recorded) {
        self.outbound.extend(other.outbound);
        self.unparked.extend(other.unparked);
        self.effects.extend(other.effects);
    }

    /// Write it inside the event's leased transaction.
    pub(super) async fn write_in_tx(&self, tx: &mut Tx, event_id: i64) -> Result<(), StoreError> {
        for message in &self.outbound {
            Store::insert_outbound_in_tx(tx, message).await?;
        }
        for source in &self.unparked {
            Store::delete_outbound_part_in_tx(tx, source, super::answer::PARKED_PART).await?;
        }
        for (vendor, remote_id, kind) in &self.effects {
            Store::record_effect_in_tx(tx, vendor, remote_id, *kind, event_id).await?;
        }
        Ok(())
    }
}

impl ProcessError {
    /// This failure, with what the attempt did before it (recorded with the failure).
    pub(super) fn after(self, recorded: Recorded) -> Self {
        if recorded.is_empty() {
            return self;
        }
        match self {
            ProcessError::AfterEffects {
                failure,
                recorded: mut earlier,
            } => {
                let mut all = recorded;
                all.extend(std::mem::take(&mut *earlier));
                ProcessError::AfterEffects {
                    failure,
                    recorded: Box::new(all),
                }
            }
            failure => ProcessError::AfterEffects {
                failure: Box::new(failure),
                recorded: Box::new(recorded),
            },
        }
    }

    /// The failure itself, without what was done before it.
    pub(super) fn cause(&self) -> &ProcessError {
        match self {
            ProcessError::AfterEffects { failure, .. } => failure.cause(),
            other => other,
        }
    }

    /// What the attempt did before it failed, if anything.
    pub(super) fn recorded(&self) -> Option<&Recorded> {
        match self {
            ProcessError::AfterEffects { recorded, .. } => Some(recorded),
            _ => None,
        }
    }
}

/// Most completions written in one transaction on SQLite. PostgreSQL writes each on its own:
/// its row locks on several conversations, taken in another order by ingest, would deadlock,
/// and it commits concurrent transactions in parallel anyway.
const SQLITE_MAX_BATCH: usize = 128;
const QUEUE_CAPACITY: usize = 1024;

/// A processed event waiting to be written.
pub(super) struct Completion {
    conversation_id: i64,
    lease_until: i64,
    event_id: i64,
    channel: String,
    /// The delivery status the event carried, recorded with it.
    status: Option<DeliveryStatus>,
    processed: Processed,
    reply: oneshot::Sender<Result<(), StoreError>>,
}

/// Start the completion writers; `owner` is this process's lease owner name.
pub(super) fn spawn_writers(
    store: Store,
    owner: String,
    writers: usize,
) -> mpsc::Sender<Completion> {
    let max_batch = match store.kind() {
        crate::store::DbKind::Sqlite => SQLITE_MAX_BATCH,
        crate::store::DbKind::Postgres => 1,
    };
    super::group_commit::spawn_writers(writers, QUEUE_CAPACITY, max_batch, move |batch| {
        let (store, owner) = (store.clone(), owner.clone());
        async move { write_batch(&store, &owner, batch).await }
    })
}

async fn write_batch(store: &Store, owner: &str, batch: Vec<Completion>) {
    if batch.len() > 1 {
        match commit(store, owner, &batch).await {
            Ok(results) => {
                for (completion, result) in batch.into_iter().zip(results) {
                    let _ = completion.reply.send(result);
                }
                return;
            }
            Err(err) => {
                tracing::warn!(error = ?err, events = batch.len(), "Batched completion failed; writing its events one by one.");
            }
        }
    }
    for completion in batch {
        let result = commit(store, owner, std::slice::from_ref(&completion))
            .await
            .and_then(|mut results| results.pop().unwrap_or(Ok(())));
        let _ = completion.reply.send(result);
    }
}

/// Write several completions in one transaction. A completion whose lease was lost writes
/// nothing and answers `LeaseLost`; any other error fails the whole batch.
async fn commit(
    store: &Store,
    owner: &str,
    batch: &[Completion],
) -> Result<Vec<Result<(), StoreError>>, StoreError> {
    let mut tx = store.begin().await?;
    match write_all(&mut tx, owner, batch).await {
        Ok(results) => {
            tx.commit().await?;
            Ok(results)
        }
        Err(err) => {
            let _ = tx.rollback().await;
            Err(err)
        }
    }
}

async fn write_all(
    tx: &mut Tx,
    owner: &str,
    batch: &[Completion],
) -> Result<Vec<Result<(), StoreError>>, StoreError> {
    let mut results = Vec::with_capacity(batch.len());
    for completion in batch {
        let leased = Store::extend_lease_in_tx(
            tx,
            completion.conversation_id,
            owner,
            completion.lease_until,
        )
        .await?;
        if !leased {
            results.push(Err(StoreError::LeaseLost(completion.conversation_id)));
            continue;
        }
        apply(tx, completion).await?;
        results.push(Ok(()));
    }
    Ok(results)
}

async fn apply(tx: &mut Tx, completion: &Completion) -> Result<(), StoreError> {
    let processed = &completion.processed;
    if let Some(status) = &completion.status {
        Store::record_status_in_tx(tx, &completion.channel, status, completion.event_id).await?;
    }
    for write in &processed.link_writes {
        apply_link_write(tx, write).await?;
    }
    if let Some(update) = &processed.status_update {
        Store::apply_outbound_status_in_tx(
            tx,
            update.outbound_id,
            update.current,
            update.status,
            update.error.as_deref(),
        )
        .await?;
    }
    processed
        .recorded
        .write_in_tx(tx, completion.event_id)
        .await?;
    Store::complete_event_in_tx(tx, completion.event_id, processed.state, &processed.outcome).await
}

impl Engine {
    /// Write the outcome of a processed event and mark it finished, under the lease; returns
    /// once it is committed.
    pub(super) async fn commit_processed(
        &self,
        conversation: &ClaimedConversation,
        event: &PendingEvent,
        processed: Processed,
    ) -> Result<(), StoreError> {
        let status = match &event.event.kind {
            EventKind::Status(status) => Some(status.clone()),
            _ => None,
        };
        let (reply, answer) = oneshot::channel();
        let completion = Completion {
            conversation_id: conversation.id,
            lease_until: ms_after(self.inner.settings.lease_ttl),
            event_id: event.id,
            channel: conversation.channel.clone(),
            status,
            processed,
            reply,
        };
        let gone = || StoreError::Database(sqlx::Error::PoolClosed);
        self.inner
            .completions
            .send(completion)
            .await
            .map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

async fn apply_link_write(tx: &mut Tx, write: &LinkWrite) -> Result<(), StoreError> {
    match write {
        LinkWrite::Insert(link) => {
            let link = link.as_new_link();
            Store::insert_link_in_tx(tx, &link).await?;
            // Helpdesk events that arrived before this link existed join the conversation now,
            // behind the event that created the ticket.
            Store::release_held_in_tx(
                tx,
                link.channel,
                link.conversation_key,
                link.helpdesk_ticket_id.as_str(),
            )
            .await?;
        }
        LinkWrite::State {
            link_id,
            state,
            closed_at,
        } => Store::update_link_state_in_tx(tx, *link_id, *state, *closed_at).await?,
        LinkWrite::Assignee { link_id, assignee } => {
            Store::set_link_assignee_in_tx(tx, *link_id, assignee.as_deref()).await?
        }
        LinkWrite::Tags { link_id, tags_json } => {
            Store::set_link_tags_in_tx(tx, *link_id, tags_json).await?
        }
        LinkWrite::ResolvedOnChannel { link_id } => {
            Store::set_link_resolved_in_tx(tx, *link_id).await?
        }
    }
    Ok(())
}
