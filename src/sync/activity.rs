//! Everything that is not a customer message: helpdesk activity (agent answers, a ticket closed),
//! messages written in the channel's own inbox, assignment/tags/resolution, delivery statuses.

use super::Engine;
use super::drain::ProcessError;
use super::message::{LinkWrite, Processed};
use super::render::{self, RenderedMessage};
use crate::domain::{
    ActivitySubject, AgentMessage, ConversationUpdate, DeliveryStatus, ExternalId, MessageBody,
    TicketActivity, TicketState,
};
use crate::store::{
    ClaimedConversation, EffectKind, Link, LinkState, OutboundStatus, PendingEvent, now_ms,
};
use serde_json::json;

/// A delivery status to apply to a recorded outbound message in the completing transaction.
pub(super) struct StatusUpdate {
    pub outbound_id: i64,
    pub current: OutboundStatus,
    pub status: OutboundStatus,
    pub error: Option<String>,
}

impl Engine {
    pub(super) async fn process_ticket_activity(
        &self,
        event: &PendingEvent,
        activity: &TicketActivity,
        recovery: bool,
    ) -> Result<Processed, ProcessError> {
        let Some(link) = self.store().link_by_ticket(&activity.ticket).await? else {
            return Ok(Processed::skipped(
                json!({ "reason": "ticket is not bridged", "ticket_id": activity.ticket }),
            ));
        };
        let delivery = self.deliver_answers(event, &link, recovery).await?;
        let mut processed = Processed::done(json!({
            "action": "answers_delivered",
            "ticket_id": activity.ticket,
            "answers": delivery.answers,
            "sent": delivery.sent,
            "templates": delivery.templates,
        }));
        processed.recorded = delivery.recorded;
        if activity.subject == ActivitySubject::Ticket
            && let Err(err) = self.follow_ticket_status(&link, &mut processed).await
        {
            // The answers already sent are recorded with the failure.
            return Err(err.after(processed.recorded));
        }
        Ok(processed)
    }

    /// A ticket changed on the helpdesk: if it is now closed, close the link and (when the
    /// channel syncs resolution) resolve the conversation on the channel.
    async fn follow_ticket_status(
        &self,
        link: &Link,
        processed: &mut Processed,
    ) -> Result<(), ProcessError> {
        if link.state != LinkState::Open {
            return Ok(());
        }
        let tickets = self.registry().tickets().clone();
        let ticket = link.ticket();
        if tickets.ticket_state(&ticket).await? != Some(TicketState::Closed) {
            return Ok(());
        }
        processed.link_writes.push(LinkWrite::State {
            link_id: link.id,
            state: LinkState::Closed,
            closed_at: Some(now_ms()),
        });
        let resolved = if self.channel_policy(&link.channel).sync_resolution {
            let channel = self.channel_connector(&link.channel)?;
            channel
                .resolve(&crate::domain::ConversationKey::new(
                    link.conversation_key.clone(),
                ))
                .await?;
            tracing::info!(ticket_id = %ticket, conversation = %link.conversation_key, "Ticket closed on the helpdesk; conversation resolved on the channel.");
            true
        } else {
            tracing::info!(ticket_id = %ticket, "Ticket closed on the helpdesk.");
            false
        };
        processed.outcome["ticket_closed"] = json!(true);
        processed.outcome["conversation_resolved"] = json!(resolved);
        Ok(())
    }

    /// A message written to the customer from the channel's inbox: shown on the ticket as an
    /// agent-side note, unless the bridge sent it (an echo).
    pub(super) async fn process_agent_message(
        &self,
        conversation: &ClaimedConversation,
        event: &PendingEvent,
        message: &AgentMessage,
        recovery: bool,
    ) -> Result<Processed, ProcessError> {
        let store = self.store();
        for id in std::iter::once(&message.remote_id).chain(message.alt_remote_id.iter()) {
            if store
                .outbound_by_remote_id(&conversation.channel, id.as_str())
                .await?
                .is_some()
            {
                return Ok(Processed::skipped(
                    json!({ "reason": "echo of a message the bridge sent", "message_id": id }),
                ));
            }
        }
        let Some(link) = self.open_link(conversation).await? else {
            return Ok(Processed::skipped(
                json!({ "reason": "no open ticket for this conversation" }),
            ));
        };
        let author = message.author.as_deref().unwrap_or("an agent");
        let mut html = format!(
            "<p><em>Sent to the customer on WhatsApp by {} (channel inbox):</em></p>",
            render::escape(author)
        );
        let text = match &message.body {
            MessageBody::Text { text } | MessageBody::Rendered { text } => text.clone(),
            MessageBody::Media { kind, caption, .. } => format!(
                "[{}]{}",
                kind.label(),
                caption
                    .as_deref()
                    .map(|c| format!(" {c}"))
                    .unwrap_or_default()
            ),
        };
        html.push_str(&render::text_html(&text));
        let marker = render::marker(&conversation.channel, &event.event.dedupe_key);
        let tickets = self.registry().tickets().clone();
        let note = RenderedMessage {
            html,
            attachments: Vec::new(),
        };
        let reply_id = self
            .post_note(&tickets, &link, &note, &marker, recovery)
            .await?;
        let mut processed = Processed::done(json!({
            "action": "agent_message_noted",
            "ticket_id": link.helpdesk_ticket_id,
            "reply_id": reply_id,
        }));
        processed
            .recorded
            .effects
            .push((tickets.vendor(), reply_id, EffectKind::Note));
        Ok(processed)
    }

    /// Assignment, tags and resolution on the channel, recorded on the link; a resolution
    /// closes the ticket.
    pub(super) async fn process_conversation_update(
        &self,
        conversation: &ClaimedConversation,
        update: &ConversationUpdate,
    ) -> Result<Processed, ProcessError> {
        let Some(link) = self
            .store()
            .current_link(&conversation.channel, &conversation.conversation_key)
            .await?
        else {
            return Ok(Processed::skipped(
                json!({ "reason": "conversation has no ticket" }),
            ));
        };
        let mut processed = Processed::done(json!({ "ticket_id": link.helpdesk_ticket_id }));
        match update {
            ConversationUpdate::Assigned { user, group } => {
                let assignee = match (user, group) {
                    (None, None) => None,
                    (Some(u), None) => Some(format!("user {u}")),
                    (None, Some(g)) => Some(format!("group {g}")),
                    (Some(u), Some(g)) => Some(format!("user {u}, group {g}")),
                };
                processed.outcome["action"] = json!("assignment_recorded");
                processed.outcome["assignee"] = json!(assignee);
                processed.link_writes.push(LinkWrite::Assignee {
                    link_id: link.id,
                    assignee,
                });
            }
            ConversationUpdate::Tagged { tag, added } => {
                let mut tags: Vec<String> = link
                    .tags
                    .as_deref()
                    .and_then(|t| serde_json::from_str(t).ok())
                    .unwrap_or_default();
                tags.retain(|t| t != tag);
                if *added {
                    tags.push(tag.clone());
                }
                processed.outcome["action"] = json!("tags_recorded");
                processed.outcome["tags"] = json!(tags);
                processed.link_writes.push(LinkWrite::Tags {
                    link_id: link.id,
                    tags_json: serde_json::to_string(&tags).unwrap_or_else(|_| "[]".into()),
                });
            }
            ConversationUpdate::Resolved { resolved } => {
                if !*resolved || link.state != LinkState::Open {
                    processed.outcome["action"] = json!("nothing_to_close");
                    return Ok(processed);
                }
                let tickets = self.registry().tickets().clone();
                let ticket = link.ticket();
                tickets
                    .set_ticket_state(&ticket, &TicketState::Closed)
                    .await?;
                tracing::info!(ticket_id = %ticket, "Conversation resolved on the channel; ticket closed.");
                processed.outcome["action"] = json!("ticket_closed");
                processed.link_writes.push(LinkWrite::State {
                    link_id: link.id,
                    state: LinkState::Closed,
                    closed_at: Some(now_ms()),
                });
                processed
                    .link_writes
                    .push(LinkWrite::ResolvedOnChannel { link_id: link.id });
            }
        }
        Ok(processed)
    }

    /// A delivery status: stored, matched to the message the bridge sent; `failed` adds a note
    /// on the ticket with WhatsApp's error.
    pub(super) async fn process_status(
        &self,
        conversation: &ClaimedConversation,
        status: &DeliveryStatus,
        recovery: bool,
    ) -> Result<Processed, ProcessError> {
        let store = self.store();
        let mut found = None;
        for id in std::iter::once(&status.message_id).chain(status.alt_message_id.iter()) {
            found = store
                .outbound_by_remote_id(&conversation.channel, id.as_str())
                .await?;
            if found.is_some() {
                break;
            }
        }
        let Some(outbound) = found else {
            return Ok(Processed::done(
                json!({ "stored": "status", "matched": false }),
            ));
        };
        let error = (!status.errors.is_empty()).then(|| status.errors.join("; "));
        let mut processed = Processed::done(json!({
            "stored": "status",
            "matched": true,
            "outbound_id": outbound.id,
            "status": status.status,
        }));
        let moved_to = OutboundStatus::of_delivery(&status.status);
        let moves_to_failed =
            moved_to == Some(OutboundStatus::Failed) && outbound.status != OutboundStatus::Failed;
        if moves_to_failed
            && let Some(link_id) = outbound.link_id
            && let Some(link) = store.link_by_id(link_id).await?
        {
            let tickets = self.registry().tickets().clone();
            let marker = render::marker(
                &conversation.channel,
                &format!(
                    "failed:{}",
                    outbound.remote_id.as_ref().map_or("-", ExternalId::as_str)
                ),
            );
            let note = RenderedMessage {
                html: format!(
                    "<p><strong>⚠️ WhatsApp could not deliver a message to the customer.</strong> {}</p>",
                    render::escape(error.as_deref().unwrap_or("No reason was given."))
                ),
                attachments: Vec::new(),
            };
            let reply_id = self
                .post_note(&tickets, &link, &note, &marker, recovery)
                .await?;
            processed
                .recorded
                .effects
                .push((tickets.vendor(), reply_id, EffectKind::Note));
        }
        processed.status_update = moved_to.map(|moved_to| StatusUpdate {
            outbound_id: outbound.id,
            current: outbound.status,
            status: moved_to,
            error,
        });
        Ok(processed)
    }

    /// The conversation's current link when its ticket is open.
    async fn open_link(
        &self,
        conversation: &ClaimedConversation,
    ) -> Result<Option<Link>, ProcessError> {
        Ok(self
            .store()
            .current_link(&conversation.channel, &conversation.conversation_key)
            .await?
            .filter(|l| l.state == LinkState::Open))
    }
}
