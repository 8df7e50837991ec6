//! The mapping table: which helpdesk ticket a conversation is on.
//!
//! One row per ticket: a conversation whose ticket was closed gets a new row with the next
//! `generation`, so the history of tickets for a customer stays visible.

use super::{
    EffectKind, IN_LIST_MAX, LinkState, Store, StoreError, Tx, now_ms, on_read, on_tx, placeholders,
};
use crate::domain::ExternalId;
use serde::Serialize;
use std::collections::HashSet;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Link {
    pub id: i64,
    pub channel: String,
    pub conversation_key: String,
    pub generation: i32,
    pub contact_name: Option<String>,
    /// The customer's id on the channel (wa_id, or the phone of a Qontak room).
    pub contact_id: Option<String>,
    pub route: Option<String>,
    /// The customer's user on the helpdesk (shown as `inbenta_user_id` by the admin API).
    #[serde(rename = "inbenta_user_id")]
    pub helpdesk_user_id: Option<ExternalId>,
    /// The ticket on the helpdesk (shown as `inbenta_ticket_id` by the admin API).
    #[serde(rename = "inbenta_ticket_id")]
    pub helpdesk_ticket_id: Option<ExternalId>,
    pub ticket_external_id: String,
    pub state: LinkState,
    pub status_checked_at: Option<i64>,
    pub closed_at: Option<i64>,
    /// Who the conversation is assigned to on the channel (user and/or group), as last reported.
    pub assignee: Option<String>,
    /// The conversation's tags on the channel (JSON array), as last reported.
    pub tags: Option<String>,
    /// When the channel last reported the conversation resolved.
    pub resolved_on_channel_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A ticket just created for a conversation.
#[derive(Debug, Clone)]
pub struct NewLink<'a> {
    pub channel: &'a str,
    pub conversation_key: &'a str,
    pub generation: i32,
    pub contact_name: Option<&'a str>,
    pub contact_id: Option<&'a str>,
    pub route: &'a str,
    pub helpdesk_user_id: &'a ExternalId,
    pub helpdesk_ticket_id: &'a ExternalId,
    pub ticket_external_id: &'a str,
}

#[derive(Debug, Clone, Default)]
pub struct LinkFilter {
    pub channel: Option<String>,
    pub conversation: Option<String>,
    pub limit: i64,
}

impl Link {
    /// The helpdesk ticket (empty for a link written without one, which no version does).
    pub fn ticket(&self) -> ExternalId {
        self.helpdesk_ticket_id
            .clone()
            .unwrap_or_else(|| ExternalId::new(""))
    }
}

const LINK_COLUMNS: &str = "id, channel, conversation_key, generation, contact_name, contact_id, route, \
    helpdesk_user_id, helpdesk_ticket_id, ticket_external_id, state, status_checked_at, closed_at, \
    assignee, tags, resolved_on_channel_at, created_at, updated_at";

impl Store {
    /// The newest link (highest generation) of a conversation.
    pub async fn current_link(
        &self,
        channel: &str,
        conversation_key: &str,
    ) -> Result<Option<Link>, StoreError> {
        let query = format!(
            "SELECT {LINK_COLUMNS} FROM links WHERE channel = $1 AND conversation_key = $2 \
             ORDER BY generation DESC LIMIT 1"
        );
        let link = on_read!(self, pool => sqlx::query_as::<_, Link>(sqlx::AssertSqlSafe(query))
            .bind(channel)
            .bind(conversation_key)
            .fetch_optional(pool)
            .await)?;
        Ok(link)
    }

    /// The link of a helpdesk ticket.
    pub async fn link_by_ticket(&self, ticket_id: &ExternalId) -> Result<Option<Link>, StoreError> {
        let query = format!(
            "SELECT {LINK_COLUMNS} FROM links WHERE helpdesk_ticket_id = $1 ORDER BY id DESC LIMIT 1"
        );
        let link = on_read!(self, pool => sqlx::query_as::<_, Link>(sqlx::AssertSqlSafe(query))
            .bind(ticket_id)
            .fetch_optional(pool)
            .await)?;
        Ok(link)
    }

    pub async fn link_by_id(&self, id: i64) -> Result<Option<Link>, StoreError> {
        let query = format!("SELECT {LINK_COLUMNS} FROM links WHERE id = $1");
        let link = on_read!(self, pool => sqlx::query_as::<_, Link>(sqlx::AssertSqlSafe(query))
            .bind(id)
            .fetch_optional(pool)
            .await)?;
        Ok(link)
    }

    /// Which of these vendor objects the bridge itself created (echo suppression), in one
    /// statement per [`IN_LIST_MAX`] ids.
    pub async fn own_effects(
        &self,
        vendor: &str,
        remote_ids: &[&str],
    ) -> Result<HashSet<String>, StoreError> {
        let mut own = HashSet::new();
        for chunk in remote_ids.chunks(IN_LIST_MAX) {
            let query = format!(
                "SELECT remote_id FROM bridge_effects WHERE vendor = $1 AND remote_id IN ({})",
                placeholders(2, chunk.len())
            );
            let found: Vec<String> = on_read!(self, pool => {
                let mut select = sqlx::query_scalar(sqlx::AssertSqlSafe(query)).bind(vendor);
                for id in chunk {
                    select = select.bind(*id);
                }
                select.fetch_all(pool).await
            })?;
            own.extend(found);
        }
        Ok(own)
    }

    pub async fn list_links(&self, filter: &LinkFilter) -> Result<Vec<Link>, StoreError> {
        let query = format!(
            "SELECT {LINK_COLUMNS} FROM links \
             WHERE ($1 IS NULL OR channel = $1) AND ($2 IS NULL OR conversation_key = $2) \
             ORDER BY id DESC LIMIT $3"
        );
        let limit = if filter.limit > 0 { filter.limit } else { 1000 };
        let links = on_read!(self, pool => sqlx::query_as::<_, Link>(sqlx::AssertSqlSafe(query))
            .bind(filter.channel.as_deref())
            .bind(filter.conversation.as_deref())
            .bind(limit)
            .fetch_all(pool)
            .await)?;
        Ok(links)
    }

    pub async fn insert_link_in_tx(tx: &mut Tx, link: &NewLink<'_>) -> Result<(), StoreError> {
        let now = now_ms();
        let query = "INSERT INTO links (channel, conversation_key, generation, contact_name, route, \
            helpdesk_user_id, helpdesk_ticket_id, ticket_external_id, state, status_checked_at, \
            created_at, updated_at, contact_id) \
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'open', $9, $9, $9, $10)";
        on_tx!(tx, conn => sqlx::query(query)
            .bind(link.channel)
            .bind(link.conversation_key)
            .bind(link.generation)
            .bind(link.contact_name)
            .bind(link.route)
            .bind(link.helpdesk_user_id)
            .bind(link.helpdesk_ticket_id)
            .bind(link.ticket_external_id)
            .bind(now)
            .bind(link.contact_id)
            .execute(conn).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Record what we learnt about the ticket's state (`open`/`closed`) and when we checked.
    pub async fn update_link_state_in_tx(
        tx: &mut Tx,
        link_id: i64,
        state: LinkState,
        closed_at: Option<i64>,
    ) -> Result<(), StoreError> {
        let query = "UPDATE links SET state = $1, closed_at = $2, status_checked_at = $3, \
            updated_at = $3 WHERE id = $4";
        on_tx!(tx, conn => sqlx::query(query)
            .bind(state)
            .bind(closed_at)
            .bind(now_ms())
            .bind(link_id)
            .execute(conn).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Record the channel's assignment of the conversation.
    pub async fn set_link_assignee_in_tx(
        tx: &mut Tx,
        link_id: i64,
        assignee: Option<&str>,
    ) -> Result<(), StoreError> {
        let query = "UPDATE links SET assignee = $1, updated_at = $2 WHERE id = $3";
        on_tx!(tx, conn => sqlx::query(query)
            .bind(assignee)
            .bind(now_ms())
            .bind(link_id)
            .execute(conn).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Record the channel's tags of the conversation (a JSON array).
    pub async fn set_link_tags_in_tx(
        tx: &mut Tx,
        link_id: i64,
        tags_json: &str,
    ) -> Result<(), StoreError> {
        let query = "UPDATE links SET tags = $1, updated_at = $2 WHERE id = $3";
        on_tx!(tx, conn => sqlx::query(query)
            .bind(tags_json)
            .bind(now_ms())
            .bind(link_id)
            .execute(conn).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Record that the channel resolved the conversation (and so the ticket was closed).
    pub async fn set_link_resolved_in_tx(tx: &mut Tx, link_id: i64) -> Result<(), StoreError> {
        let now = now_ms();
        let query = "UPDATE links SET resolved_on_channel_at = $1, updated_at = $1 WHERE id = $2";
        on_tx!(tx, conn => sqlx::query(query)
            .bind(now)
            .bind(link_id)
            .execute(conn).await.map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Remember a vendor object the bridge created (echo suppression, idempotency lookups).
    pub async fn record_effect_in_tx(
        tx: &mut Tx,
        vendor: &str,
        remote_id: &ExternalId,
        kind: EffectKind,
        event_id: i64,
    ) -> Result<(), StoreError> {
        let query = "INSERT INTO bridge_effects (vendor, remote_id, kind, event_id, created_at) \
            VALUES ($1, $2, $3, $4, $5) ON CONFLICT (vendor, remote_id) DO NOTHING";
        on_tx!(tx, conn => sqlx::query(query)
            .bind(vendor)
            .bind(remote_id)
            .bind(kind)
            .bind(event_id)
            .bind(now_ms())
            .execute(conn).await.map(|r| r.rows_affected()))?;
        Ok(())
    }
}
