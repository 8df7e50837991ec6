//! Messages the bridge sent to customers: one row per part (an answer with text and two files is
//! three parts), keyed by what it delivers, so a retry or a crash never sends a part twice and a
//! delivery status finds its message.

use super::{
    IN_LIST_MAX, OutboundKind, OutboundStatus, Store, StoreError, Tx, now_ms, on_read, on_tx,
    placeholders,
};
use crate::domain::ExternalId;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct OutboundMessage {
    pub id: i64,
    pub channel: String,
    pub conversation_key: String,
    pub link_id: Option<i64>,
    /// What the message delivers, e.g. `reply:<helpdesk reply id>`.
    pub source: String,
    pub part: i32,
    pub kind: OutboundKind,
    pub remote_id: Option<ExternalId>,
    pub alt_remote_id: Option<ExternalId>,
    pub status: OutboundStatus,
    pub error: Option<String>,
    /// The event that sent (or parked) it.
    pub event_id: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A part that was just sent (or an answer given up on), to be recorded with its event.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOutbound {
    pub channel: String,
    pub conversation_key: String,
    pub link_id: Option<i64>,
    pub source: String,
    pub part: i32,
    pub kind: OutboundKind,
    pub remote_id: Option<ExternalId>,
    pub alt_remote_id: Option<ExternalId>,
    pub status: OutboundStatus,
    pub error: Option<String>,
    pub event_id: i64,
}

const OUTBOUND_COLUMNS: &str = "id, channel, conversation_key, link_id, source, part, kind, \
    remote_id, alt_remote_id, status, error, event_id, created_at, updated_at";

impl Store {
    /// Parts already recorded for these sources (what a retry must not send again), in one
    /// statement per [`IN_LIST_MAX`] sources.
    pub async fn outbound_parts(
        &self,
        sources: &[String],
    ) -> Result<Vec<OutboundMessage>, StoreError> {
        let mut rows = Vec::new();
        for chunk in sources.chunks(IN_LIST_MAX) {
            let query = format!(
                "SELECT {OUTBOUND_COLUMNS} FROM outbound_messages WHERE source IN ({}) \
                 ORDER BY source, part",
                placeholders(1, chunk.len())
            );
            let found = on_read!(self, pool => {
                let mut select = sqlx::query_as::<_, OutboundMessage>(sqlx::AssertSqlSafe(query));
                for source in chunk {
                    select = select.bind(source);
                }
                select.fetch_all(pool).await
            })?;
            rows.extend(found);
        }
        Ok(rows)
    }

    /// The message the bridge sent with this channel id (either of its ids), if any.
    pub async fn outbound_by_remote_id(
        &self,
        channel: &str,
        remote_id: &str,
    ) -> Result<Option<OutboundMessage>, StoreError> {
        let query = format!(
            "SELECT {OUTBOUND_COLUMNS} FROM outbound_messages \
             WHERE channel = $1 AND (remote_id = $2 OR alt_remote_id = $2) LIMIT 1"
        );
        let row = on_read!(self, pool => sqlx::query_as::<_, OutboundMessage>(sqlx::AssertSqlSafe(query))
            .bind(channel)
            .bind(remote_id)
            .fetch_optional(pool)
            .await)?;
        Ok(row)
    }

    /// Messages sent into a conversation, newest first.
    pub async fn list_outbound(
        &self,
        channel: Option<&str>,
        conversation_key: Option<&str>,
        limit: i64,
    ) -> Result<Vec<OutboundMessage>, StoreError> {
        let query = format!(
            "SELECT {OUTBOUND_COLUMNS} FROM outbound_messages \
             WHERE ($1 IS NULL OR channel = $1) AND ($2 IS NULL OR conversation_key = $2) \
             ORDER BY id DESC LIMIT $3"
        );
        let rows = on_read!(self, pool => sqlx::query_as::<_, OutboundMessage>(sqlx::AssertSqlSafe(query))
            .bind(channel)
            .bind(conversation_key)
            .bind(if limit > 0 { limit } else { 1000 })
            .fetch_all(pool)
            .await)?;
        Ok(rows)
    }

    pub async fn insert_outbound_in_tx(
        tx: &mut Tx,
        message: &NewOutbound,
    ) -> Result<(), StoreError> {
        let query = "INSERT INTO outbound_messages (channel, conversation_key, link_id, source, part, \
            kind, remote_id, alt_remote_id, status, error, event_id, created_at, updated_at) \
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12) \
            ON CONFLICT (source, part) DO NOTHING";
        on_tx!(tx, conn => sqlx::query(query)
            .bind(&message.channel)
            .bind(&message.conversation_key)
            .bind(message.link_id)
            .bind(&message.source)
            .bind(message.part)
            .bind(message.kind)
            .bind(&message.remote_id)
            .bind(&message.alt_remote_id)
            .bind(message.status)
            .bind(message.error.as_deref())
            .bind(message.event_id)
            .bind(now_ms())
            .execute(conn).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Forget a part (a parked answer that its redriven event has now delivered).
    pub async fn delete_outbound_part_in_tx(
        tx: &mut Tx,
        source: &str,
        part: i32,
    ) -> Result<(), StoreError> {
        on_tx!(tx, conn => sqlx::query("DELETE FROM outbound_messages WHERE source = $1 AND part = $2")
            .bind(source)
            .bind(part)
            .execute(conn)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Apply a delivery status to the matching outbound message. Returns the message when the
    /// status moved it forward (so the caller acts on a `failed` only once).
    pub async fn apply_outbound_status_in_tx(
        tx: &mut Tx,
        id: i64,
        current: OutboundStatus,
        status: OutboundStatus,
        error: Option<&str>,
    ) -> Result<bool, StoreError> {
        if status.rank() <= current.rank() {
            return Ok(false);
        }
        let query = "UPDATE outbound_messages SET status = $1, error = COALESCE($2, error), \
            updated_at = $3 WHERE id = $4 AND status = $5";
        let changed = on_tx!(tx, conn => sqlx::query(query)
            .bind(status)
            .bind(error)
            .bind(now_ms())
            .bind(id)
            .bind(current)
            .execute(conn).await.map(|r| r.rows_affected()))?;
        Ok(changed > 0)
    }
}
