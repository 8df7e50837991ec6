//! The one write path of an event: everything processing decided (links, states, delivery
//! statuses, the bridge's own effects, held helpdesk events) is written in the transaction that
//! re-checks the lease and completes the event.

use super::Engine;
use super::message::{LinkWrite, Processed};
use crate::domain::EventKind;
use crate::store::{ClaimedConversation, PendingEvent, Store, StoreError, Tx};

impl Engine {
    /// Write the outcome of a processed event and mark it finished, under the lease.
    pub(super) async fn commit_processed(
        &self,
        conversation: &ClaimedConversation,
        event: &PendingEvent,
        processed: &Processed,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_leased(conversation).await?;
        if let EventKind::Status(status) = &event.event.kind {
            Store::record_status_in_tx(&mut tx, &conversation.channel, status, event.id).await?;
        }
        for write in &processed.link_writes {
            apply_link_write(&mut tx, write).await?;
        }
        if let Some(update) = &processed.status_update {
            Store::apply_outbound_status_in_tx(
                &mut tx,
                update.outbound_id,
                update.current,
                update.status,
                update.error.as_deref(),
            )
            .await?;
        }
        for (vendor, remote_id, kind) in &processed.effects {
            Store::record_effect_in_tx(&mut tx, vendor, remote_id, *kind, event.id).await?;
        }
        Store::complete_event_in_tx(&mut tx, event.id, processed.state, &processed.outcome).await?;
        tx.commit().await
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
                link.helpdesk_ticket_id,
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
