//! The channel refused a free-form message because the customer-service window is closed: the
//! channel's fallback template goes out in the answer's place, or the answer is parked with a
//! dead letter and the agent is told on the ticket.

use super::{Answering, Delivery, PARKED_PART, TEMPLATE_PART, source_of};
use crate::connectors::TicketReply;
use crate::domain::OutboundBody;
use crate::store::{EffectKind, NewOutbound, OutboundKind, OutboundStatus};
use crate::sync::Engine;
use crate::sync::drain::ProcessError;
use crate::sync::render::{self, RenderedMessage};

impl Engine {
    /// Send the fallback template in place of `reply`, or park it (an `Unprocessable` error
    /// whose note and parked mark are recorded with the dead letter).
    pub(super) async fn window_closed(
        &self,
        answering: &Answering<'_>,
        reply: &TicketReply,
        text: &str,
        vendor_message: &str,
        delivery: &mut Delivery,
    ) -> Result<(), ProcessError> {
        let link = answering.link;
        let Some(template) = self.channel_policy(&link.channel).fallback_template.clone() else {
            return Err(self
                .park(answering, reply, vendor_message, delivery)
                .await?);
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
        let sent = self.send_part(answering, &body).await?;
        tracing::info!(reply_id = %reply.id, template = %template.name, message_id = %sent.id, "24-hour window closed; the fallback template was sent instead.");
        delivery.templates += 1;
        delivery.record_sent(
            answering,
            reply,
            TEMPLATE_PART,
            OutboundKind::Template,
            sent,
        );
        Ok(())
    }

    /// Tell the agent on the ticket and mark the answer parked; returns the dead letter's error.
    async fn park(
        &self,
        answering: &Answering<'_>,
        reply: &TicketReply,
        vendor_message: &str,
        delivery: &mut Delivery,
    ) -> Result<ProcessError, ProcessError> {
        let link = answering.link;
        let marker = render::marker(&link.channel, &format!("window_closed:{}", reply.id));
        let note = RenderedMessage {
            html: format!(
                "<p><strong>⚠️ Not delivered to WhatsApp.</strong> The customer could not be \
                 reached: the 24-hour window is closed and channel {} has no fallback template. \
                 The answer is parked; retry it with <code>omnibridge jobs retry</code> once the \
                 customer writes again.</p>",
                render::escape(&link.channel)
            ),
            attachments: Vec::new(),
        };
        // Always looked up first: a redrive that meets the closed window again adds no second
        // note.
        let tickets = &answering.tickets;
        let note_id = self.post_note(tickets, link, &note, &marker, true).await?;
        let recorded = &mut delivery.recorded;
        recorded
            .effects
            .push((tickets.vendor(), note_id, EffectKind::Note));
        recorded.outbound.push(NewOutbound {
            channel: link.channel.clone(),
            conversation_key: link.conversation_key.clone(),
            link_id: Some(link.id),
            source: source_of(reply),
            part: PARKED_PART,
            kind: OutboundKind::Parked,
            remote_id: None,
            alt_remote_id: None,
            status: OutboundStatus::WindowClosed,
            error: Some(vendor_message.to_owned()),
            event_id: answering.event.id,
        });
        Ok(ProcessError::Unprocessable(format!(
            "window_closed: answer {} was not sent to {}: {vendor_message}",
            reply.id, link.conversation_key
        )))
    }
}
