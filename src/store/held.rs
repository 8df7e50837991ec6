//! Helpdesk events about a ticket the bridge has no link for yet. A helpdesk can announce an
//! answer within milliseconds of the ticket's creation, before the bridge committed the ticket's
//! link; such an event is held here and moved into the ticket's conversation in the very
//! transaction that commits the link (and by the sweeper, as a safety net for a race between the
//! two). Held events for tickets that never get a link (tickets the bridge did not create) are
//! purged after [`HOLD_FOR`].

use super::{Store, StoreError, Tx, now_ms, on_db, on_read, on_tx};
use crate::domain::{ConversationKey, EventKind, InboundEvent, TicketActivity};
use chrono::{DateTime, Utc};
use std::time::Duration;

/// How long an event about an unknown ticket is kept in case its link commits.
pub const HOLD_FOR: Duration = Duration::from_secs(3600);

/// A helpdesk event waiting for its ticket's link.
#[derive(Debug, Clone)]
pub struct HeldEvent {
    pub dedupe_key: String,
    pub occurred_at: DateTime<Utc>,
    pub activity: TicketActivity,
}

#[derive(sqlx::FromRow)]
struct HeldRow {
    dedupe_key: String,
    occurred_at: i64,
    payload: String,
}

impl Store {
    /// Hold events until their ticket's link commits; a key already held is skipped.
    /// Returns how many were newly held.
    pub async fn hold_helpdesk_events(&self, events: &[HeldEvent]) -> Result<usize, StoreError> {
        let query = "INSERT INTO held_helpdesk_events (ticket_id, dedupe_key, occurred_at, payload, received_at) \
            VALUES ($1, $2, $3, $4, $5) ON CONFLICT (dedupe_key) DO NOTHING";
        let mut tx = self.begin().await?;
        let mut held = 0;
        for event in events {
            let payload = serde_json::to_string(&event.activity)?;
            held += on_tx!(&mut tx, conn => sqlx::query(query)
                .bind(event.activity.ticket.as_str())
                .bind(&event.dedupe_key)
                .bind(event.occurred_at.timestamp_millis())
                .bind(&payload)
                .bind(now_ms())
                .execute(conn)
                .await
                .map(|r| r.rows_affected()))?;
        }
        tx.commit().await?;
        Ok(usize::try_from(held).unwrap_or(usize::MAX))
    }

    /// Move the events held for `ticket_id` into the conversation, inside `tx` (the transaction
    /// that commits the ticket's link). Returns the conversations woken by them.
    pub async fn release_held_in_tx(
        tx: &mut Tx,
        channel: &str,
        conversation: &str,
        ticket_id: &str,
    ) -> Result<Vec<i64>, StoreError> {
        let query = "DELETE FROM held_helpdesk_events WHERE ticket_id = $1 \
            RETURNING dedupe_key, occurred_at, payload";
        let rows: Vec<HeldRow> = on_tx!(tx, conn => sqlx::query_as(query)
            .bind(ticket_id)
            .fetch_all(conn)
            .await)?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let mut events = Vec::with_capacity(rows.len());
        for row in rows {
            let activity: TicketActivity = serde_json::from_str(&row.payload)?;
            events.push(InboundEvent {
                dedupe_key: row.dedupe_key,
                conversation: ConversationKey::new(conversation),
                occurred_at: DateTime::from_timestamp_millis(row.occurred_at)
                    .unwrap_or_else(Utc::now),
                kind: EventKind::TicketActivity(activity),
            });
        }
        let outcome = Store::ingest_in_tx(tx, channel, &events).await?;
        tracing::info!(
            ticket_id,
            events = outcome.stored,
            "Helpdesk events that arrived before the ticket's link are now queued."
        );
        Ok(outcome.woken)
    }

    /// Safety net (the sweeper): move held events whose ticket has a link by now, and purge
    /// those older than [`HOLD_FOR`]. Returns the conversations woken.
    pub async fn release_held_with_links(&self) -> Result<Vec<i64>, StoreError> {
        let query = "SELECT DISTINCT h.ticket_id, l.channel, l.conversation_key \
            FROM held_helpdesk_events h JOIN links l ON l.helpdesk_ticket_id = h.ticket_id";
        let found: Vec<(String, String, String)> =
            on_read!(self, pool => sqlx::query_as(query).fetch_all(pool).await)?;
        let mut woken = Vec::new();
        for (ticket, channel, conversation) in found {
            let mut tx = self.begin().await?;
            woken.extend(
                Store::release_held_in_tx(&mut tx, &channel, &conversation, &ticket).await?,
            );
            tx.commit().await?;
        }
        let cutoff = now_ms() - i64::try_from(HOLD_FOR.as_millis()).unwrap_or(i64::MAX / 2);
        on_db!(self, pool => sqlx::query("DELETE FROM held_helpdesk_events WHERE received_at < $1")
            .bind(cutoff)
            .execute(pool)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(woken)
    }
}
