//! Draining one conversation: hold its lease, process pending events strictly in sequence order,
//! record each outcome in a transaction that re-checks the lease, back off or dead-letter on
//! failure, release only when nothing new arrived.

use super::Engine;
use super::message::Processed;
use crate::connectors::{ConnectorError, ErrorClass};
use crate::domain::EventKind;
use crate::store::{
    ClaimedConversation, EventFailure, Pending, PendingEvent, ReleaseOutcome, Store, StoreError,
    ms_after, now_ms,
};
use tracing::Instrument;

/// Events fetched per round.
const BATCH: i64 = 32;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct DrainReport {
    pub claimed: bool,
    pub processed: usize,
}

/// Why processing one event did not finish.
#[derive(Debug, thiserror::Error)]
pub(super) enum ProcessError {
    #[error(transparent)]
    Vendor(#[from] ConnectorError),
    /// Our own side: configuration or data the bridge cannot act on. Parked, never retried.
    #[error("{0}")]
    Unprocessable(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A failure after vendor effects, which are recorded with it (see `outcome.rs`).
    #[error("{failure}")]
    AfterEffects {
        failure: Box<ProcessError>,
        recorded: Box<super::outcome::Recorded>,
    },
}

impl Engine {
    /// Drain a conversation if it is due and nobody else holds it.
    #[tracing::instrument(skip(self), fields(owner = %self.inner.owner))]
    pub async fn drain(&self, conversation_id: i64) -> Result<DrainReport, StoreError> {
        let store = &self.inner.store;
        let lease_ttl = self.inner.settings.lease_ttl;
        let Some(conversation) = store
            .claim_conversation(conversation_id, &self.inner.owner, ms_after(lease_ttl))
            .await?
        else {
            return Ok(DrainReport::default());
        };
        let mut report = DrainReport {
            claimed: true,
            processed: 0,
        };
        let mut recovering = conversation.recovering != 0;
        if recovering {
            tracing::info!(
                channel = %conversation.channel,
                conversation = %conversation.conversation_key,
                "Took over a conversation whose previous worker stopped; effects are checked before they are repeated."
            );
        }
        'rounds: loop {
            if self.inner.shutdown.is_cancelled() {
                store
                    .abandon_lease(conversation.id, &self.inner.owner)
                    .await?;
                return Ok(report);
            }
            let snapshot = store.conversation_seq(conversation.id).await?;
            let events = store.pending_events(conversation.id, BATCH).await?;
            let Some(first) = events.first() else {
                match store
                    .release_conversation(conversation.id, &self.inner.owner, snapshot, None)
                    .await?
                {
                    ReleaseOutcome::Released => return Ok(report),
                    ReleaseOutcome::MoreWork => continue 'rounds,
                }
            };
            if let Some(retry_at) = first.next_attempt_at().filter(|at| *at > now_ms()) {
                // The oldest event is backing off: the whole conversation waits behind it.
                match store
                    .release_conversation(
                        conversation.id,
                        &self.inner.owner,
                        snapshot,
                        Some(retry_at),
                    )
                    .await?
                {
                    ReleaseOutcome::Released => {
                        if let Err(err) = self.inner.queue.push_at(conversation.id, retry_at).await
                        {
                            tracing::warn!(error = %err, "Could not schedule the retry trigger; the sweeper will pick it up.");
                        }
                        return Ok(report);
                    }
                    ReleaseOutcome::MoreWork => continue 'rounds,
                }
            }
            for pending in events {
                if self.inner.shutdown.is_cancelled() {
                    continue 'rounds;
                }
                let event = match pending {
                    Pending::Ready(event) => *event,
                    Pending::Unreadable {
                        id,
                        seq,
                        kind,
                        error,
                    } => {
                        self.park_unreadable(&conversation, id, seq, &kind, &error)
                            .await?;
                        report.processed += 1;
                        continue;
                    }
                };
                let recovery = recovering || event.attempts > 0;
                let finished = self.process_one(&conversation, &event, recovery).await?;
                recovering = false;
                report.processed += 1;
                if !finished {
                    // A retry was scheduled: stop here so later events wait behind it.
                    continue 'rounds;
                }
            }
        }
    }

    /// Process one event and record the result. Returns false when the event must be retried later.
    async fn process_one(
        &self,
        conversation: &ClaimedConversation,
        event: &PendingEvent,
        recovery: bool,
    ) -> Result<bool, StoreError> {
        let span = tracing::info_span!(
            "event",
            event_id = event.id,
            seq = event.seq,
            kind = %event.kind,
            channel = %conversation.channel,
            conversation = %conversation.conversation_key,
        );
        let result = self
            .handle_event(conversation, event, recovery)
            .instrument(span.clone())
            .await;
        let err = match result {
            Ok(processed) => {
                let (state, outcome) = (processed.state, processed.outcome.to_string());
                match self.commit_processed(conversation, event, processed).await {
                    Ok(()) => {
                        metrics::counter!("omnibridge_events_processed_total", "kind" => event.kind.clone(), "result" => state.as_str()).increment(1);
                        tracing::info!(parent: &span, state = %state, outcome, "Event processed.");
                        return Ok(true);
                    }
                    Err(err) => ProcessError::Store(err),
                }
            }
            Err(err) => err,
        };
        if let ProcessError::Store(StoreError::LeaseLost(id)) = err.cause() {
            return Err(StoreError::LeaseLost(*id));
        }
        self.record_failure(conversation, event, &err, &span).await
    }

    /// Run the handler for the event's kind.
    async fn handle_event(
        &self,
        conversation: &ClaimedConversation,
        event: &PendingEvent,
        recovery: bool,
    ) -> Result<Processed, ProcessError> {
        match &event.event.kind {
            EventKind::CustomerMessage(message) => {
                self.process_customer_message(conversation, event, message, recovery)
                    .await
            }
            EventKind::TicketActivity(activity) => {
                self.process_ticket_activity(event, activity, recovery)
                    .await
            }
            EventKind::AgentMessage(message) => {
                self.process_agent_message(conversation, event, message, recovery)
                    .await
            }
            EventKind::ConversationUpdate(update) => {
                self.process_conversation_update(conversation, update).await
            }
            EventKind::Status(status) => self.process_status(conversation, status, recovery).await,
            EventKind::Other { .. } => Ok(Processed::stored_only(event)),
        }
    }

    /// Record a failed attempt: a retry at a later time, or a dead letter. A database error is
    /// retried within the same budget as a vendor's temporary failure, so it can never wedge
    /// the conversation: once the budget is spent the event is parked and the events behind it
    /// go on.
    async fn record_failure(
        &self,
        conversation: &ClaimedConversation,
        event: &PendingEvent,
        err: &ProcessError,
        span: &tracing::Span,
    ) -> Result<bool, StoreError> {
        let failure = self.classify_failure(event, err);
        let mut tx = self.begin_leased(conversation).await?;
        Store::fail_event_in_tx(&mut tx, event.id, &failure).await?;
        if let Some(recorded) = err.recorded() {
            recorded.write_in_tx(&mut tx, event.id).await?;
        }
        tx.commit().await?;
        match &failure {
            EventFailure::Retry { retry_at, error } => {
                metrics::counter!("omnibridge_events_processed_total", "kind" => event.kind.clone(), "result" => "retry").increment(1);
                tracing::warn!(parent: span, attempt = event.attempts + 1, retry_in_ms = retry_at - now_ms(), error = %error, "Event failed; will retry.");
                Ok(false)
            }
            EventFailure::DeadLetter { error } => {
                metrics::counter!("omnibridge_events_processed_total", "kind" => event.kind.clone(), "result" => "dead_letter").increment(1);
                tracing::error!(parent: span, attempts = event.attempts + 1, error = %error, "Event parked as a dead letter; redrive it with `omnibridge jobs retry`.");
                Ok(true)
            }
        }
    }

    /// A stored event whose payload no longer reads: park it with the reason; the conversation
    /// goes on with the events behind it.
    async fn park_unreadable(
        &self,
        conversation: &ClaimedConversation,
        event_id: i64,
        seq: i64,
        kind: &str,
        error: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_leased(conversation).await?;
        let failure = EventFailure::DeadLetter {
            error: format!("stored event payload is unreadable: {error}"),
        };
        Store::fail_event_in_tx(&mut tx, event_id, &failure).await?;
        tx.commit().await?;
        metrics::counter!("omnibridge_events_processed_total", "kind" => kind.to_owned(), "result" => "dead_letter").increment(1);
        tracing::error!(event_id, seq, kind, channel = %conversation.channel, conversation = %conversation.conversation_key, error, "Stored event cannot be read; parked as a dead letter.");
        Ok(())
    }

    /// A transaction that re-checks and extends this worker's lease on the conversation.
    pub(super) async fn begin_leased(
        &self,
        conversation: &ClaimedConversation,
    ) -> Result<crate::store::Tx, StoreError> {
        let lease_until = ms_after(self.inner.settings.lease_ttl);
        self.inner
            .store
            .begin_leased(conversation.id, &self.inner.owner, lease_until)
            .await
    }

    fn classify_failure(&self, event: &PendingEvent, err: &ProcessError) -> EventFailure {
        let err = err.cause();
        let error = error_chain(err);
        let retry_after = match err {
            ProcessError::Vendor(vendor_err) if vendor_err.class() == ErrorClass::Retry => {
                vendor_err.retry_after()
            }
            ProcessError::Store(_) => None,
            _ => return EventFailure::DeadLetter { error },
        };
        let attempts = u32::try_from(event.attempts).unwrap_or(0) + 1;
        match self.inner.settings.retry.delay_after(attempts, retry_after) {
            Some(delay) => EventFailure::Retry {
                retry_at: ms_after(delay),
                error,
            },
            None => EventFailure::DeadLetter {
                error: format!("gave up after {attempts} attempts: {error}"),
            },
        }
    }
}

/// An error with its causes, for the event's `last_error` (a database error says which).
fn error_chain(err: &ProcessError) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        let line = cause.to_string();
        if !text.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        source = cause.source();
    }
    text
}
