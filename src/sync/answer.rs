//! Agent answers on a ticket → messages to the customer on the channel the conversation came
//! from. Every part (the text, each file) is recorded as it is sent, keyed by the helpdesk reply it
//! delivers, so a retry, a redrive or a crash never sends a part twice; after a crash the channel
//! is asked whether the part already went out before it is sent again.

use super::Engine;
use super::drain::ProcessError;
use super::render::RenderedMessage;
use super::whatsapp_text::html_to_whatsapp;
use crate::connectors::{
    ChannelConnector, ConnectorError, SentMessage, TicketAttachment, TicketConnector, TicketReply,
};
use crate::domain::{ExternalId, MediaKind, OutboundBody, Recipient, ReplyAuthor};
use crate::store::{
    ClaimedConversation, Link, NewOutbound, OutboundKind, OutboundMessage, OutboundStatus,
    PendingEvent,
};
use chrono::{TimeZone, Utc};
use std::collections::HashMap;
use std::sync::Arc;

/// Part number of the fallback template sent in place of an answer.
const TEMPLATE_PART: i32 = 1000;
/// Part number marking an answer parked with a dead letter: other events leave it alone (no
/// second dead letter, no second note); the dead letter's redrive sends it.
const PARKED_PART: i32 = -1;

/// What delivering the answers of one ticket did.
#[derive(Debug, Default)]
pub(super) struct Delivery {
    pub answers: usize,
    pub sent: Vec<String>,
    pub templates: usize,
}

/// What posting through the channel is: one part of one answer.
struct Part {
    number: i32,
    body: OutboundBody,
}

impl Engine {
    /// Send every agent answer of the link's ticket that has not gone out yet, oldest first.
    pub(super) async fn deliver_answers(
        &self,
        conversation: &ClaimedConversation,
        event: &PendingEvent,
        link: &Link,
        recovery: bool,
    ) -> Result<Delivery, ProcessError> {
        let channel = self.channel_connector(&link.channel)?;
        let tickets = self.registry().tickets().clone();
        let ticket_id = ExternalId::new(link.helpdesk_ticket_id.clone().unwrap_or_default());
        let mut replies = tickets.list_replies(&ticket_id).await?;
        replies.sort_by_key(|r| r.created_at);
        let bridge_user = self.bridge_user(&tickets).await?;
        let mut delivery = Delivery::default();
        for reply in replies {
            if !self.is_agent_answer(&tickets, &reply, &bridge_user).await? {
                continue;
            }
            delivery.answers += 1;
            self.deliver_answer(
                conversation,
                event,
                link,
                &channel,
                &tickets,
                &reply,
                recovery,
                &mut delivery,
            )
            .await?;
        }
        Ok(delivery)
    }

    /// An answer written by a person on the helpdesk (not the customer, not the bridge).
    async fn is_agent_answer(
        &self,
        tickets: &Arc<dyn TicketConnector>,
        reply: &TicketReply,
        bridge_user: &ExternalId,
    ) -> Result<bool, ProcessError> {
        if reply.author != ReplyAuthor::Agent {
            return Ok(false);
        }
        // Echo suppression: everything the bridge posts carries a marker and is recorded.
        if super::render::has_marker(&reply.message_html)
            || reply.creator.as_ref() == Some(bridge_user)
        {
            return Ok(false);
        }
        Ok(!self
            .store()
            .is_own_effect(tickets.vendor(), reply.id.as_str())
            .await?)
    }

    #[allow(clippy::too_many_arguments)]
    async fn deliver_answer(
        &self,
        conversation: &ClaimedConversation,
        event: &PendingEvent,
        link: &Link,
        channel: &Arc<dyn ChannelConnector>,
        tickets: &Arc<dyn TicketConnector>,
        reply: &TicketReply,
        recovery: bool,
        delivery: &mut Delivery,
    ) -> Result<(), ProcessError> {
        let source = format!("reply:{}", reply.id);
        let recorded: HashMap<i32, OutboundMessage> = self
            .store()
            .outbound_parts(&source)
            .await?
            .into_iter()
            .map(|m| (m.part, m))
            .collect();
        if recorded.contains_key(&TEMPLATE_PART) {
            return Ok(());
        }
        let parked = recorded.get(&PARKED_PART);
        if parked.is_some_and(|p| p.event_id != Some(event.id)) {
            tracing::debug!(reply_id = %reply.id, "Answer is parked with a dead letter; its redrive sends it.");
            return Ok(());
        }
        let recipient = recipient(link);
        let text = html_to_whatsapp(&reply.message_html);
        let mut numbers: Vec<i32> = Vec::new();
        if !text.trim().is_empty() {
            numbers.push(0);
        }
        numbers.extend((1..=reply.attachments.len()).filter_map(|n| i32::try_from(n).ok()));
        // Recovery looks for parts sent since shortly before this event was received.
        let since = Utc
            .timestamp_millis_opt(event.received_at - 120_000)
            .single()
            .unwrap_or_else(Utc::now);
        for number in numbers {
            if recorded.contains_key(&number) {
                continue;
            }
            let part = if number == 0 {
                Part {
                    number,
                    body: OutboundBody::Text { text: text.clone() },
                }
            } else {
                let attachment = &reply.attachments[usize::try_from(number - 1).unwrap_or(0)];
                Part {
                    number,
                    body: self.attachment_body(tickets, attachment).await?,
                }
            };
            let already = if recovery {
                channel.find_sent(&recipient, since, &part.body).await?
            } else {
                None
            };
            let sent = match already {
                Some(id) => {
                    tracing::info!(reply_id = %reply.id, part = number, message_id = %id, "Part already sent (before a crash or retry); not sending it again.");
                    SentMessage { id, alt_id: None }
                }
                None => match channel.send(&recipient, &part.body).await {
                    Ok(sent) => sent,
                    Err(ConnectorError::WindowClosed { message, .. }) => {
                        return self
                            .window_closed(
                                conversation,
                                event,
                                link,
                                channel,
                                tickets,
                                reply,
                                &text,
                                &message,
                                recovery,
                                since,
                                delivery,
                            )
                            .await;
                    }
                    Err(err) => return Err(err.into()),
                },
            };
            self.record_outbound(
                conversation,
                &NewOutbound {
                    channel: &link.channel,
                    conversation_key: &link.conversation_key,
                    link_id: Some(link.id),
                    source: &source,
                    part: part.number,
                    kind: OutboundKind::from(&part.body),
                    remote_id: Some(sent.id.as_str()),
                    alt_remote_id: sent.alt_id.as_ref().map(ExternalId::as_str),
                    status: OutboundStatus::Sent,
                    error: None,
                    event_id: event.id,
                },
            )
            .await?;
            tracing::info!(reply_id = %reply.id, part = number, kind = part.body.label(), message_id = %sent.id, "Agent answer sent to the customer.");
            delivery.sent.push(sent.id.to_string());
        }
        if parked.is_some() {
            self.store()
                .delete_outbound_part(&source, PARKED_PART)
                .await?;
        }
        Ok(())
    }

    /// Mark an answer as parked with this event's dead letter.
    async fn park(
        &self,
        conversation: &ClaimedConversation,
        event: &PendingEvent,
        link: &Link,
        source: &str,
        status: OutboundStatus,
        error: &str,
    ) -> Result<(), ProcessError> {
        self.record_outbound(
            conversation,
            &NewOutbound {
                channel: &link.channel,
                conversation_key: &link.conversation_key,
                link_id: Some(link.id),
                source,
                part: PARKED_PART,
                kind: OutboundKind::Parked,
                remote_id: None,
                alt_remote_id: None,
                status,
                error: Some(error),
                event_id: event.id,
            },
        )
        .await?;
        Ok(())
    }

    /// The channel refused a free-form message: send the channel's fallback template in its
    /// place, or park the answer and tell the agent on the ticket.
    #[allow(clippy::too_many_arguments)]
    async fn window_closed(
        &self,
        conversation: &ClaimedConversation,
        event: &PendingEvent,
        link: &Link,
        channel: &Arc<dyn ChannelConnector>,
        tickets: &Arc<dyn TicketConnector>,
        reply: &TicketReply,
        text: &str,
        vendor_message: &str,
        recovery: bool,
        since: chrono::DateTime<Utc>,
        delivery: &mut Delivery,
    ) -> Result<(), ProcessError> {
        let recipient = recipient(link);
        let Some(template) = self.channel_policy(&link.channel).fallback_template.clone() else {
            let marker =
                super::render::marker(&link.channel, &format!("window_closed:{}", reply.id));
            let note = RenderedMessage {
                html: format!(
                    "<p><strong>⚠️ Not delivered to WhatsApp.</strong> The customer could not be \
                     reached: the 24-hour window is closed and channel {} has no fallback template. \
                     The answer is parked; retry it with <code>omnibridge jobs retry</code> once the \
                     customer writes again.</p>",
                    super::render::escape(&link.channel)
                ),
                attachments: Vec::new(),
            };
            // Always looked up first: a redrive that meets the closed window again adds no
            // second note.
            self.post_note(tickets, link, &note, &marker, true).await?;
            let source = format!("reply:{}", reply.id);
            self.park(
                conversation,
                event,
                link,
                &source,
                OutboundStatus::WindowClosed,
                vendor_message,
            )
            .await?;
            return Err(ProcessError::Unprocessable(format!(
                "window_closed: answer {} was not sent to {}: {vendor_message}",
                reply.id, link.conversation_key
            )));
        };
        let parameters = template
            .parameters
            .iter()
            .map(|p| {
                p.replace("{reply.text}", text)
                    .replace("{contact.name}", link.contact_name.as_deref().unwrap_or(""))
                    .replace("{contact.wa_id}", link.contact_id.as_deref().unwrap_or(""))
            })
            .collect();
        let body = OutboundBody::Template {
            name: template.name.clone(),
            language: template.language.clone(),
            parameters,
        };
        let already = if recovery {
            channel.find_sent(&recipient, since, &body).await?
        } else {
            None
        };
        let sent = match already {
            Some(id) => SentMessage { id, alt_id: None },
            None => channel.send(&recipient, &body).await?,
        };
        let source = format!("reply:{}", reply.id);
        self.record_outbound(
            conversation,
            &NewOutbound {
                channel: &link.channel,
                conversation_key: &link.conversation_key,
                link_id: Some(link.id),
                source: &source,
                part: TEMPLATE_PART,
                kind: OutboundKind::Template,
                remote_id: Some(sent.id.as_str()),
                alt_remote_id: sent.alt_id.as_ref().map(ExternalId::as_str),
                status: OutboundStatus::Sent,
                error: None,
                event_id: event.id,
            },
        )
        .await?;
        tracing::info!(reply_id = %reply.id, template = %template.name, message_id = %sent.id, "24-hour window closed; the fallback template was sent instead.");
        delivery.templates += 1;
        delivery.sent.push(sent.id.to_string());
        Ok(())
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
}
