//! Agent answers on a ticket → messages to the customer on the channel the conversation came
//! from. Every part (the text, each file) is recorded with the event, keyed by the helpdesk
//! reply it delivers, so a retry or a redrive never sends a part twice: the parts an attempt
//! sent are written with its outcome, or with its failure when a later part fails. After a crash
//! (the event's parts were sent but never recorded) the channel is asked whether each part
//! already went out before it is sent again.
//!
//! What the store knows about the ticket's answers is read once per event (two statements,
//! however many answers the ticket has); only new answers cost vendor calls.

mod window;

use super::Engine;
use super::drain::ProcessError;
use super::outcome::Recorded;
use super::whatsapp_text::html_to_whatsapp;
use crate::connectors::{
    ChannelConnector, ConnectorError, SentMessage, TicketAttachment, TicketConnector, TicketReply,
};
use crate::domain::{ExternalId, MediaKind, OutboundBody, Recipient, ReplyAuthor};
use crate::store::{
    Link, NewOutbound, OutboundKind, OutboundMessage, OutboundStatus, PendingEvent,
};
use chrono::{DateTime, TimeZone, Utc};
use std::collections::HashMap;
use std::sync::Arc;

/// Part number of the fallback template sent in place of an answer.
const TEMPLATE_PART: i32 = 1000;
/// Part number marking an answer parked with a dead letter: other events leave it alone (no
/// second dead letter, no second note); the dead letter's redrive sends it.
pub(super) const PARKED_PART: i32 = -1;
/// Recovery looks for parts sent since this long before the event was received.
const RECOVERY_LOOKBACK_MS: i64 = 120_000;

/// What delivering the answers of one ticket did.
#[derive(Debug, Default)]
pub(super) struct Delivery {
    pub answers: usize,
    pub sent: Vec<String>,
    pub templates: usize,
    /// The parts sent (and answers parked), to be written with the event.
    pub recorded: Recorded,
}

/// Everything delivering one event's answers needs.
struct Answering<'a> {
    event: &'a PendingEvent,
    link: &'a Link,
    channel: Arc<dyn ChannelConnector>,
    tickets: Arc<dyn TicketConnector>,
    recipient: Recipient,
    /// Recovery looks for parts the channel shows as sent since then.
    since: DateTime<Utc>,
    recovery: bool,
}

/// The parts recorded for each answer (by source), read in one go.
type RecordedParts = HashMap<String, HashMap<i32, OutboundMessage>>;

/// What an answer's parts are recorded under.
fn source_of(reply: &TicketReply) -> String {
    format!("reply:{}", reply.id)
}

impl Engine {
    /// Send every agent answer of the link's ticket that has not gone out yet, oldest first.
    /// On failure, the parts already sent travel with the error, to be recorded with it.
    pub(super) async fn deliver_answers(
        &self,
        event: &PendingEvent,
        link: &Link,
        recovery: bool,
    ) -> Result<Delivery, ProcessError> {
        let answering = Answering {
            event,
            link,
            channel: self.channel_connector(&link.channel)?,
            tickets: self.registry().tickets().clone(),
            recipient: recipient(link),
            since: Utc
                .timestamp_millis_opt(event.received_at - RECOVERY_LOOKBACK_MS)
                .single()
                .unwrap_or_else(Utc::now),
            recovery,
        };
        let mut delivery = Delivery::default();
        match self.deliver_new_answers(&answering, &mut delivery).await {
            Ok(()) => Ok(delivery),
            Err(err) => Err(err.after(delivery.recorded)),
        }
    }

    async fn deliver_new_answers(
        &self,
        answering: &Answering<'_>,
        delivery: &mut Delivery,
    ) -> Result<(), ProcessError> {
        let tickets = &answering.tickets;
        let ticket_id = answering.link.ticket();
        let mut replies = tickets.list_replies(&ticket_id).await?;
        replies.sort_by_key(|r| r.created_at);
        let bridge_user = self.bridge_user(tickets).await?;
        replies.retain(|reply| is_agent_answer(reply, &bridge_user));
        let (answers, mut recorded) = self.known_answers(tickets.vendor(), replies).await?;
        delivery.answers = answers.len();
        for reply in &answers {
            let parts = recorded.remove(&source_of(reply)).unwrap_or_default();
            self.deliver_answer(answering, reply, &parts, delivery)
                .await?;
        }
        Ok(())
    }

    /// The answers the bridge did not write itself, and what is recorded for each: two
    /// statements for the whole ticket.
    async fn known_answers(
        &self,
        vendor: &str,
        mut answers: Vec<TicketReply>,
    ) -> Result<(Vec<TicketReply>, RecordedParts), ProcessError> {
        if answers.is_empty() {
            return Ok((answers, RecordedParts::new()));
        }
        let ids: Vec<&str> = answers.iter().map(|r| r.id.as_str()).collect();
        let own = self.store().own_effects(vendor, &ids).await?;
        answers.retain(|reply| !own.contains(reply.id.as_str()));
        let sources: Vec<String> = answers.iter().map(source_of).collect();
        let mut recorded = RecordedParts::new();
        for part in self.store().outbound_parts(&sources).await? {
            recorded
                .entry(part.source.clone())
                .or_default()
                .insert(part.part, part);
        }
        Ok((answers, recorded))
    }

    /// Send the parts of one answer that are not recorded yet.
    async fn deliver_answer(
        &self,
        answering: &Answering<'_>,
        reply: &TicketReply,
        recorded: &HashMap<i32, OutboundMessage>,
        delivery: &mut Delivery,
    ) -> Result<(), ProcessError> {
        if recorded.contains_key(&TEMPLATE_PART) {
            return Ok(());
        }
        let parked = recorded.get(&PARKED_PART);
        if parked.is_some_and(|p| p.event_id != Some(answering.event.id)) {
            tracing::debug!(reply_id = %reply.id, "Answer is parked with a dead letter; its redrive sends it.");
            return Ok(());
        }
        let text = html_to_whatsapp(&reply.message_html);
        for number in part_numbers(&text, reply.attachments.len()) {
            if recorded.contains_key(&number) {
                continue;
            }
            let body = match attachment_index(number) {
                None => OutboundBody::Text { text: text.clone() },
                Some(index) => {
                    self.attachment_body(&answering.tickets, &reply.attachments[index])
                        .await?
                }
            };
            let sent = match self.send_part(answering, &body).await {
                Ok(sent) => sent,
                Err(ConnectorError::WindowClosed { message, .. }) => {
                    return self
                        .window_closed(answering, reply, &text, &message, delivery)
                        .await;
                }
                Err(err) => return Err(err.into()),
            };
            tracing::info!(reply_id = %reply.id, part = number, kind = body.label(), message_id = %sent.id, "Agent answer sent to the customer.");
            delivery.record_sent(answering, reply, number, OutboundKind::from(&body), sent);
        }
        if parked.is_some() {
            delivery.recorded.unparked.push(source_of(reply));
        }
        Ok(())
    }

    /// Send a part, unless recovery finds the channel already shows it as sent.
    async fn send_part(
        &self,
        answering: &Answering<'_>,
        body: &OutboundBody,
    ) -> Result<SentMessage, ConnectorError> {
        let channel = &answering.channel;
        if answering.recovery
            && let Some(id) = channel
                .find_sent(&answering.recipient, answering.since, body)
                .await?
        {
            tracing::info!(message_id = %id, kind = body.label(), "Part already sent (before a crash); not sending it again.");
            return Ok(SentMessage { id, alt_id: None });
        }
        channel.send(&answering.recipient, body).await
    }

    /// Download an answer's file and say how the channel should send it.
    async fn attachment_body(
        &self,
        tickets: &Arc<dyn TicketConnector>,
        attachment: &TicketAttachment,
    ) -> Result<OutboundBody, ProcessError> {
        let file = tickets.fetch_attachment(attachment).await?;
        let kind = media_kind_for(&file.mime_type);
        Ok(OutboundBody::Media {
            kind,
            file,
            caption: None,
        })
    }
}

impl Delivery {
    /// Remember a part that went out, to be recorded with the event.
    fn record_sent(
        &mut self,
        answering: &Answering<'_>,
        reply: &TicketReply,
        part: i32,
        kind: OutboundKind,
        sent: SentMessage,
    ) {
        self.sent.push(sent.id.to_string());
        self.recorded.outbound.push(NewOutbound {
            channel: answering.link.channel.clone(),
            conversation_key: answering.link.conversation_key.clone(),
            link_id: Some(answering.link.id),
            source: source_of(reply),
            part,
            kind,
            remote_id: Some(sent.id),
            alt_remote_id: sent.alt_id,
            status: OutboundStatus::Sent,
            error: None,
            event_id: answering.event.id,
        });
    }
}

/// An answer written by a person on the helpdesk (not the customer, not the bridge: everything
/// the bridge posts carries a marker or is authored by its own user).
fn is_agent_answer(reply: &TicketReply, bridge_user: &ExternalId) -> bool {
    reply.author == ReplyAuthor::Agent
        && !super::render::has_marker(&reply.message_html)
        && reply.creator.as_ref() != Some(bridge_user)
}

/// The parts of an answer: 0 for its text (when it has any), then 1… for its files.
fn part_numbers(text: &str, attachments: usize) -> Vec<i32> {
    let text_part = (!text.trim().is_empty()).then_some(0);
    text_part
        .into_iter()
        .chain((1..=attachments).filter_map(|n| i32::try_from(n).ok()))
        .collect()
}

/// The attachment a part number sends (`None`: the text).
fn attachment_index(part: i32) -> Option<usize> {
    usize::try_from(part).ok()?.checked_sub(1)
}

/// The WhatsApp kind a content type is sent as; the connector falls back to a document when the
/// channel cannot take it natively.
pub(super) fn media_kind_for(mime_type: &str) -> MediaKind {
    let essence = mime_type.split(';').next().unwrap_or("").trim();
    match essence.split('/').next().unwrap_or("") {
        "image" => MediaKind::Image,
        "video" => MediaKind::Video,
        "audio" => MediaKind::Audio,
        _ => MediaKind::Document,
    }
}

pub(super) fn recipient(link: &Link) -> Recipient {
    Recipient {
        conversation: crate::domain::ConversationKey::new(link.conversation_key.clone()),
        phone: link.contact_id.clone(),
        name: link.contact_name.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_choose_the_whatsapp_kind() {
        assert_eq!(media_kind_for("image/png"), MediaKind::Image);
        assert_eq!(media_kind_for("video/mp4; codecs=avc1"), MediaKind::Video);
        assert_eq!(media_kind_for("audio/ogg"), MediaKind::Audio);
        assert_eq!(media_kind_for("application/pdf"), MediaKind::Document);
        assert_eq!(media_kind_for(""), MediaKind::Document);
    }

    #[test]
    fn an_answer_is_its_text_then_its_files() {
        assert_eq!(part_numbers("hello", 2), [0, 1, 2]);
        assert_eq!(part_numbers("  ", 1), [1]);
        assert_eq!(part_numbers("hello", 0), [0]);
        assert_eq!(attachment_index(0), None);
        assert_eq!(attachment_index(1), Some(0));
        assert_eq!(attachment_index(PARKED_PART), None);
    }
}
