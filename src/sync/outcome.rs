//! The one write path of an event: everything processing decided (links, states, delivery
//! statuses, the bridge's own effects, messages sent to customers, held helpdesk events) is
//! written in the transaction that re-checks the lease and completes the event. What an attempt
//! did before it failed ([`Recorded`], carried by [`ProcessError::AfterEffects`]) is written in
//! the transaction that records the failure, under the same lease.

use super::Engine;
use super::drain::ProcessError;
use super::message::{LinkWrite, Processed};
use crate::domain::{EventKind, ExternalId};
use crate::store::{
    ClaimedConversation, EffectKind, NewOutbound, PendingEvent, Store, StoreError, Tx,
};

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
        processed.recorded.write_in_tx(&mut tx, event.id).await?;
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
