//! The per-conversation queue: ingest (dedupe + sequence), leases, draining in order, retries.
//!
//! A conversation row is both the ordering authority (`next_seq`) and the lease. `due_at` says when
//! a worker should look at it (NULL = idle). Ingest sets it; a worker that drains everything clears
//! it on release, but only if no event arrived meanwhile (`next_seq` unchanged), so a wake-up can
//! never be lost between "nothing left" and "released".

use super::{EventState, Store, StoreError, Tx, alive_since, now_ms, on_db, on_read, on_tx};
use crate::domain::InboundEvent;

/// A conversation this worker now holds the lease on.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedConversation {
    pub id: i64,
    pub channel: String,
    pub conversation_key: String,
    /// The previous holder's lease expired while it held it (crash or stall): the first event may
    /// have been partly carried out, so effects must be looked up before they are repeated.
    pub recovering: i64,
}

/// An event waiting to be processed, in sequence order.
#[derive(Debug, Clone)]
pub struct PendingEvent {
    pub id: i64,
    pub seq: i64,
    pub kind: String,
    pub event: InboundEvent,
    pub attempts: i32,
    pub next_attempt_at: Option<i64>,
    /// When the event was stored (unix ms).
    pub received_at: i64,
}

/// A pending event as read from the store.
#[derive(Debug, Clone)]
pub enum Pending {
    Ready(Box<PendingEvent>),
    /// The stored payload does not deserialise (written by another version, or damaged).
    Unreadable {
        id: i64,
        seq: i64,
        kind: String,
        error: String,
    },
}

impl Pending {
    pub fn id(&self) -> i64 {
        match self {
            Pending::Ready(event) => event.id,
            Pending::Unreadable { id, .. } => *id,
        }
    }

    /// When a retry of this event is due (unix ms), if it is backing off.
    pub fn next_attempt_at(&self) -> Option<i64> {
        match self {
            Pending::Ready(event) => event.next_attempt_at,
            Pending::Unreadable { .. } => None,
        }
    }
}

#[derive(sqlx::FromRow)]
struct PendingRow {
    id: i64,
    seq: i64,
    kind: String,
    payload: String,
    attempts: i32,
    next_attempt_at: Option<i64>,
    received_at: i64,
}

/// How an attempt at an event ended badly.
#[derive(Debug, Clone)]
pub enum EventFailure {
    /// Try again at `retry_at` (unix ms); the conversation waits behind it.
    Retry { retry_at: i64, error: String },
    /// Park as a dead letter; the conversation goes on with its next event.
    DeadLetter { error: String },
}

#[derive(Debug, PartialEq, Eq)]
pub enum ReleaseOutcome {
    /// Released; the conversation's `due_at` now says when it needs a worker again.
    Released,
    /// New events arrived since the snapshot: keep draining.
    MoreWork,
}

/// A conversation nobody live holds: no lease, an expired lease, or a lease whose owner stopped
/// beating. `now` and `alive_since` name the parameters holding the current time and the oldest
/// heartbeat that still counts as alive. Owners without a heartbeat row are only taken over at
/// lease expiry.
fn unheld(now: &str, alive_since: &str) -> String {
    format!(
        "(lease_owner IS NULL OR lease_until < {now} OR EXISTS (SELECT 1 FROM bridge_processes p \
         WHERE p.owner = conversations.lease_owner AND p.heartbeat_at < {alive_since}))"
    )
}

const CLAIM: &str = "\
UPDATE conversations SET
    lease_owner = $1,
    lease_until = $2,
    recovering = CASE WHEN lease_owner IS NOT NULL THEN 1 ELSE 0 END,
    updated_at = $3
WHERE id = $4 AND due_at IS NOT NULL AND due_at <= $3 AND ";

impl Store {
    /// Take the lease on a due conversation, unless another live worker holds it.
    pub async fn claim_conversation(
        &self,
        conversation_id: i64,
        owner: &str,
        lease_until: i64,
    ) -> Result<Option<ClaimedConversation>, StoreError> {
        let query = format!(
            "{CLAIM}{} RETURNING id, channel, conversation_key, recovering",
            unheld("$3", "$5")
        );
        let claimed = on_db!(self, pool => sqlx::query_as::<_, ClaimedConversation>(sqlx::AssertSqlSafe(query.clone()))
            .bind(owner)
            .bind(lease_until)
            .bind(now_ms())
            .bind(conversation_id)
            .bind(alive_since())
            .fetch_optional(pool)
            .await)?;
        Ok(claimed)
    }

    /// Conversations that are due and not held by a live lease: their trigger was lost (crash,
    /// expired lease) or their backoff is over.
    pub async fn due_conversations(&self, limit: i64) -> Result<Vec<i64>, StoreError> {
        let query = format!(
            "SELECT id FROM conversations WHERE due_at IS NOT NULL AND due_at <= $1 AND {} \
             ORDER BY due_at LIMIT $3",
            unheld("$1", "$2")
        );
        let ids = on_read!(self, pool => sqlx::query_scalar(sqlx::AssertSqlSafe(query.clone()))
            .bind(now_ms())
            .bind(alive_since())
            .bind(limit)
            .fetch_all(pool)
            .await)?;
        Ok(ids)
    }

    /// The conversation's current `next_seq`, read before looking for pending events.
    pub async fn conversation_seq(&self, conversation_id: i64) -> Result<i64, StoreError> {
        let query = "SELECT next_seq FROM conversations WHERE id = $1";
        Ok(on_read!(self, pool => sqlx::query_scalar(query)
            .bind(conversation_id)
            .fetch_one(pool)
            .await)?)
    }

    /// The next pending events of a conversation, in the order they are applied: the vendor's
    /// event time, ties by arrival (`seq`). An event whose stored payload no longer reads is
    /// returned as [`Pending::Unreadable`] so the worker can park it and go on.
    pub async fn pending_events(
        &self,
        conversation_id: i64,
        limit: i64,
    ) -> Result<Vec<Pending>, StoreError> {
        let query = "SELECT id, seq, kind, payload, attempts, next_attempt_at, received_at FROM inbound_events \
            WHERE conversation_id = $1 AND state = 'pending' ORDER BY occurred_at, seq LIMIT $2";
        let rows: Vec<PendingRow> = on_read!(self, pool => sqlx::query_as(query)
            .bind(conversation_id)
            .bind(limit)
            .fetch_all(pool)
            .await)?;
        Ok(rows
            .into_iter()
            .map(|row| match serde_json::from_str(&row.payload) {
                Ok(event) => Pending::Ready(Box::new(PendingEvent {
                    id: row.id,
                    seq: row.seq,
                    kind: row.kind,
                    event,
                    attempts: row.attempts,
                    next_attempt_at: row.next_attempt_at,
                    received_at: row.received_at,
                })),
                Err(err) => Pending::Unreadable {
                    id: row.id,
                    seq: row.seq,
                    kind: row.kind,
                    error: err.to_string(),
                },
            })
            .collect())
    }

    /// Open a transaction that first re-checks and extends our lease. Everything an event changes
    /// is written in this transaction, so an event is only ever finished by the lease holder.
    pub async fn begin_leased(
        &self,
        conversation_id: i64,
        owner: &str,
        lease_until: i64,
    ) -> Result<Tx, StoreError> {
        let mut tx = self.begin().await?;
        match Store::extend_lease_in_tx(&mut tx, conversation_id, owner, lease_until).await {
            Ok(true) => Ok(tx),
            Ok(false) => {
                let _ = tx.rollback().await;
                Err(StoreError::LeaseLost(conversation_id))
            }
            Err(err) => {
                let _ = tx.rollback().await;
                Err(err)
            }
        }
    }

    /// Re-check and extend our lease inside a transaction; false when another worker has it.
    pub async fn extend_lease_in_tx(
        tx: &mut Tx,
        conversation_id: i64,
        owner: &str,
        lease_until: i64,
    ) -> Result<bool, StoreError> {
        let query = "UPDATE conversations SET lease_until = $1 WHERE id = $2 AND lease_owner = $3";
        let updated = on_tx!(tx, conn => sqlx::query(query)
            .bind(lease_until)
            .bind(conversation_id)
            .bind(owner)
            .execute(conn).await.map(|r| r.rows_affected()))?;
        Ok(updated == 1)
    }

    /// Mark an event processed (`done` or `skipped`) with a JSON outcome, inside a leased tx.
    pub async fn complete_event_in_tx(
        tx: &mut Tx,
        event_id: i64,
        state: EventState,
        outcome: &serde_json::Value,
    ) -> Result<(), StoreError> {
        let query = "UPDATE inbound_events SET state = $1, outcome = $2, processed_at = $3, \
            next_attempt_at = NULL WHERE id = $4";
        on_tx!(tx, conn => sqlx::query(query)
            .bind(state)
            .bind(outcome.to_string())
            .bind(now_ms())
            .bind(event_id)
            .execute(conn).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Record a failed attempt inside a leased tx.
    pub async fn fail_event_in_tx(
        tx: &mut Tx,
        event_id: i64,
        failure: &EventFailure,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        match failure {
            EventFailure::Retry { retry_at, error } => {
                let query = "UPDATE inbound_events SET attempts = attempts + 1, \
                    next_attempt_at = $1, last_error = $2 WHERE id = $3";
                on_tx!(tx, conn => sqlx::query(query)
                    .bind(retry_at)
                    .bind(error)
                    .bind(event_id)
                    .execute(conn).await.map(|r| r.rows_affected()))?;
            }
            EventFailure::DeadLetter { error } => {
                let query = "UPDATE inbound_events SET attempts = attempts + 1, state = 'failed', \
                    next_attempt_at = NULL, last_error = $1, processed_at = $2 WHERE id = $3";
                on_tx!(tx, conn => sqlx::query(query)
                    .bind(error)
                    .bind(now)
                    .bind(event_id)
                    .execute(conn).await.map(|r| r.rows_affected()))?;
            }
        }
        Ok(())
    }

    /// Give the lease back. `due_at` is when the conversation next needs a worker (None: nothing
    /// pending). Refused (MoreWork) when events arrived after `seq_snapshot` was read.
    pub async fn release_conversation(
        &self,
        conversation_id: i64,
        owner: &str,
        seq_snapshot: i64,
        due_at: Option<i64>,
    ) -> Result<ReleaseOutcome, StoreError> {
        let query = "UPDATE conversations SET lease_owner = NULL, lease_until = NULL, recovering = 0, \
            due_at = $1, updated_at = $2 WHERE id = $3 AND lease_owner = $4 AND next_seq = $5";
        let result = on_db!(self, pool => sqlx::query(query)
            .bind(due_at)
            .bind(now_ms())
            .bind(conversation_id)
            .bind(owner)
            .bind(seq_snapshot)
            .execute(pool).await.map(|r| r.rows_affected()))?;
        if result == 1 {
            Ok(ReleaseOutcome::Released)
        } else {
            Ok(ReleaseOutcome::MoreWork)
        }
    }

    /// Give the lease back at shutdown without touching `due_at`: another worker picks it up.
    pub async fn abandon_lease(&self, conversation_id: i64, owner: &str) -> Result<(), StoreError> {
        let query = "UPDATE conversations SET lease_owner = NULL, lease_until = NULL \
            WHERE id = $1 AND lease_owner = $2";
        on_db!(self, pool => sqlx::query(query)
            .bind(conversation_id)
            .bind(owner)
            .execute(pool).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Number of events still waiting to be processed (the queue depth metric).
    pub async fn pending_count(&self) -> Result<i64, StoreError> {
        let query = "SELECT COUNT(*) FROM inbound_events WHERE state = 'pending'";
        Ok(on_read!(self, pool => sqlx::query_scalar(query).fetch_one(pool).await)?)
    }
}
