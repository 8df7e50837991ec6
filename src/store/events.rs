//! Reading and redriving stored events: dead letters, delivery statuses, counts.

use super::{EventState, Store, StoreError, Tx, now_ms, on_read, on_tx};
use crate::domain::DeliveryStatus;
use serde::Serialize;

/// An event parked after a permanent failure or an exhausted retry budget.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct DeadLetter {
    pub id: i64,
    pub channel: String,
    pub conversation: String,
    pub kind: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub received_at: i64,
    pub processed_at: Option<i64>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct EventCounts {
    pub pending: i64,
    pub done: i64,
    pub skipped: i64,
    pub failed: i64,
}

impl Store {
    pub async fn dead_letters(&self, limit: i64) -> Result<Vec<DeadLetter>, StoreError> {
        let query = "SELECT e.id, e.channel, c.conversation_key AS conversation, e.kind, e.attempts, \
            e.last_error, e.received_at, e.processed_at \
            FROM inbound_events e JOIN conversations c ON c.id = e.conversation_id \
            WHERE e.state = 'failed' ORDER BY e.id LIMIT $1";
        Ok(
            on_read!(self, pool => sqlx::query_as::<_, DeadLetter>(query)
            .bind(limit)
            .fetch_all(pool)
            .await)?,
        )
    }

    pub async fn event_counts(&self) -> Result<EventCounts, StoreError> {
        let query = "SELECT state, COUNT(*) FROM inbound_events GROUP BY state";
        let rows: Vec<(String, i64)> =
            on_read!(self, pool => sqlx::query_as(query).fetch_all(pool).await)?;
        let mut counts = EventCounts::default();
        for (state, n) in rows {
            match state.parse() {
                Ok(EventState::Pending) => counts.pending = n,
                Ok(EventState::Done) => counts.done = n,
                Ok(EventState::Skipped) => counts.skipped = n,
                Ok(EventState::Failed) => counts.failed = n,
                Err(_) => {}
            }
        }
        Ok(counts)
    }

    /// Store a delivery status (idempotent per message and status).
    pub async fn record_status_in_tx(
        tx: &mut Tx,
        channel: &str,
        status: &DeliveryStatus,
        event_id: i64,
    ) -> Result<(), StoreError> {
        let query = "INSERT INTO message_statuses (channel, message_id, status, alt_message_id, \
            recipient, errors, event_id, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
            ON CONFLICT (channel, message_id, status) DO NOTHING";
        let errors = (!status.errors.is_empty()).then(|| status.errors.join("; "));
        on_tx!(tx, conn => sqlx::query(query)
            .bind(channel)
            .bind(status.message_id.as_str())
            .bind(&status.status)
            .bind(status.alt_message_id.as_ref().map(|id| id.as_str()))
            .bind(&status.recipient)
            .bind(errors)
            .bind(event_id)
            .bind(now_ms())
            .execute(conn).await.map(|r| r.rows_affected()))?;
        Ok(())
    }
}

impl Store {
    /// Put dead letters back in the queue at their original place in their conversation
    /// (`None`: every dead letter). Returns the conversations that became due.
    pub async fn redrive_dead_letters(
        &self,
        event_id: Option<i64>,
    ) -> Result<Vec<i64>, StoreError> {
        let now = now_ms();
        let mut tx = self.begin().await?;
        let query = "UPDATE inbound_events SET state = 'pending', attempts = 0, \
            next_attempt_at = NULL, processed_at = NULL \
            WHERE state = 'failed' AND ($1 IS NULL OR id = $1) RETURNING conversation_id";
        let mut conversations: Vec<i64> = on_tx!(&mut tx, conn => sqlx::query_scalar(query)
            .bind(event_id)
            .fetch_all(conn)
            .await)?;
        conversations.sort_unstable();
        conversations.dedup();
        // Bumping `next_seq` makes a worker that still holds the conversation (and saw nothing
        // pending) fail its release and look again, exactly as for a newly ingested event.
        let wake = "UPDATE conversations SET next_seq = next_seq + 1, \
            due_at = COALESCE(due_at, $1), updated_at = $1 WHERE id = $2";
        for id in &conversations {
            on_tx!(&mut tx, conn => sqlx::query(wake)
                .bind(now)
                .bind(id)
                .execute(conn)
                .await
                .map(|r| r.rows_affected()))?;
        }
        tx.commit().await?;
        Ok(conversations)
    }
}
