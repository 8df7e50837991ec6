//! What a customer message becomes on the helpdesk: a new ticket (first message, or after a
//! closed ticket outside `reopen_within`), a reply on the open ticket, or a reopen + reply.
//!
//! Every helpdesk effect is idempotent: users are found by a deterministic address before being
//! created, tickets carry a deterministic external id, replies carry a marker; when `recovery` is
//! set (a retry, or a takeover after a crash) the effect is looked up before it is repeated.

use super::Engine;
use super::drain::ProcessError;
use super::render::{self, RenderedMessage};
use crate::connectors::{ChannelConnector, ConnectorError, NewReply, NewTicket, TicketConnector};
use crate::domain::TicketState;
use crate::domain::{CustomerMessage, ExternalId, MessageBody};
use crate::store::{
    ClaimedConversation, EffectKind, EventState, Link, LinkState, NewLink, PendingEvent, now_ms,
};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// The result of processing one event, written in the event's completing transaction.
pub(super) struct Processed {
    pub state: EventState,
    pub outcome: serde_json::Value,
    pub link_writes: Vec<LinkWrite>,
    /// Objects the bridge created, messages it sent.
    pub recorded: super::outcome::Recorded,
    /// A delivery status for a message the bridge sent.
    pub status_update: Option<super::activity::StatusUpdate>,
}

impl Processed {
    pub fn done(outcome: serde_json::Value) -> Self {
        Processed {
            state: EventState::Done,
            outcome,
            link_writes: Vec::new(),
            recorded: Default::default(),
            status_update: None,
        }
    }

    pub fn skipped(outcome: serde_json::Value) -> Self {
        Processed {
            state: EventState::Skipped,
            ..Processed::done(outcome)
        }
    }

    /// Events this version stores but does not act on.
    pub fn stored_only(event: &PendingEvent) -> Self {
        tracing::debug!(kind = %event.kind, "Event kept in the store; this version does not act on it.");
        Processed::skipped(json!({ "stored": event.kind }))
    }
}

pub(super) enum LinkWrite {
    Insert(OwnedLink),
    State {
        link_id: i64,
        state: LinkState,
        closed_at: Option<i64>,
    },
    Assignee {
        link_id: i64,
        assignee: Option<String>,
    },
    Tags {
        link_id: i64,
        tags_json: String,
    },
    ResolvedOnChannel {
        link_id: i64,
    },
}

pub(super) struct OwnedLink {
    channel: String,
    conversation_key: String,
    generation: i32,
    contact_name: Option<String>,
    contact_id: String,
    route: String,
    user_id: ExternalId,
    ticket_id: ExternalId,
    external_id: String,
}

impl OwnedLink {
    pub fn as_new_link(&self) -> NewLink<'_> {
        NewLink {
            channel: &self.channel,
            conversation_key: &self.conversation_key,
            generation: self.generation,
            contact_name: self.contact_name.as_deref(),
            contact_id: Some(&self.contact_id),
            route: &self.route,
            helpdesk_user_id: &self.user_id,
            helpdesk_ticket_id: &self.ticket_id,
            ticket_external_id: &self.external_id,
        }
    }
}

/// The route's decisions for a conversation.
struct TicketPlan {
    route: String,
    title: String,
    queue: Option<i64>,
    source: Option<i64>,
    reopen_within: Option<Duration>,
}

/// Where the message goes.
enum Target {
    Reply {
        link: Box<Link>,
        reopen: bool,
    },
    NewTicket {
        generation: i32,
        user_id: Option<ExternalId>,
    },
}

/// Everything posting one customer message to the helpdesk needs.
struct Posting<'a> {
    conversation: &'a ClaimedConversation,
    message: &'a CustomerMessage,
    plan: &'a TicketPlan,
    tickets: &'a Arc<dyn TicketConnector>,
    rendered: &'a RenderedMessage,
    marker: &'a str,
    recovery: bool,
}

impl Engine {
    pub(super) async fn process_customer_message(
        &self,
        conversation: &ClaimedConversation,
        event: &PendingEvent,
        message: &CustomerMessage,
        recovery: bool,
    ) -> Result<Processed, ProcessError> {
        let channel = self.channel_connector(&conversation.channel)?;
        let tickets = self.registry().tickets().clone();
        let plan = self.plan(&conversation.channel, message);
        let mut processed = Processed::done(serde_json::Value::Null);
        let target = self
            .choose_target(conversation, &plan, &tickets, &mut processed.link_writes)
            .await?;
        let rendered = self.render(&channel, &tickets, message).await?;
        let marker = render::marker(&conversation.channel, &event.event.dedupe_key);
        let posting = Posting {
            conversation,
            message,
            plan: &plan,
            tickets: &tickets,
            rendered: &rendered,
            marker: &marker,
            recovery,
        };
        processed.outcome = match target {
            Target::Reply { link, reopen } => {
                self.reply_on(&posting, &link, reopen, &mut processed)
                    .await?
            }
            Target::NewTicket {
                generation,
                user_id,
            } => {
                self.open_ticket(&posting, generation, user_id, &mut processed)
                    .await?
            }
        };
        Ok(processed)
    }

    /// Add the message to the link's ticket, reopening it first when asked.
    async fn reply_on(
        &self,
        posting: &Posting<'_>,
        link: &Link,
        reopen: bool,
        processed: &mut Processed,
    ) -> Result<serde_json::Value, ProcessError> {
        let tickets = posting.tickets;
        let ticket_id = link.ticket();
        let creator = link
            .helpdesk_user_id
            .clone()
            .unwrap_or_else(|| ExternalId::new(""));
        if reopen {
            tickets
                .set_ticket_state(&ticket_id, &TicketState::Open)
                .await?;
            processed.link_writes.push(LinkWrite::State {
                link_id: link.id,
                state: LinkState::Open,
                closed_at: None,
            });
        }
        let reply_id = self
            .post_reply(
                tickets,
                &ticket_id,
                creator,
                posting.rendered,
                posting.marker,
                posting.recovery,
            )
            .await?;
        let outcome = json!({ "action": if reopen { "reopened_and_replied" } else { "replied" }, "ticket_id": ticket_id, "reply_id": reply_id, "attachments": posting.rendered.attachments.len() });
        processed
            .recorded
            .effects
            .push((tickets.vendor(), reply_id, EffectKind::Reply));
        Ok(outcome)
    }

    /// Open a ticket for the conversation (found by its external id first when recovering).
    async fn open_ticket(
        &self,
        posting: &Posting<'_>,
        generation: i32,
        user_id: Option<ExternalId>,
        processed: &mut Processed,
    ) -> Result<serde_json::Value, ProcessError> {
        let (conversation, plan, tickets) = (posting.conversation, posting.plan, posting.tickets);
        let user_id = match user_id {
            Some(id) => id,
            None => {
                self.find_or_create_user(tickets, conversation, posting.message)
                    .await?
            }
        };
        let external_id = format!(
            "omnibridge:{}:{}:{}",
            conversation.channel, conversation.conversation_key, generation
        );
        let existing = if posting.recovery {
            tickets.find_ticket(&external_id).await?
        } else {
            None
        };
        let ticket_id = match existing {
            Some(id) => {
                tracing::info!(ticket_id = %id, "Ticket already existed (created before a crash or retry); not creating it again.");
                id
            }
            None => {
                let ticket = NewTicket {
                    title: plan.title.clone(),
                    creator: user_id.clone(),
                    message_html: format!("{}{}", posting.rendered.html, posting.marker),
                    queue: plan.queue,
                    source: plan.source,
                    attachments: posting.rendered.attachments.clone(),
                    external_id: external_id.clone(),
                };
                tickets.create_ticket(&ticket).await?
            }
        };
        let outcome = json!({ "action": "ticket_created", "ticket_id": ticket_id, "title": plan.title, "route": plan.route, "queue": plan.queue, "attachments": posting.rendered.attachments.len() });
        processed
            .recorded
            .effects
            .push((tickets.vendor(), ticket_id.clone(), EffectKind::Ticket));
        processed.link_writes.push(LinkWrite::Insert(OwnedLink {
            channel: conversation.channel.clone(),
            conversation_key: conversation.conversation_key.clone(),
            generation,
            contact_name: posting.message.contact.name.clone(),
            contact_id: posting.message.contact.id.clone(),
            route: plan.route.clone(),
            user_id,
            ticket_id,
            external_id,
        }));
        Ok(outcome)
    }

    fn plan(&self, channel: &str, message: &CustomerMessage) -> TicketPlan {
        let rules = self.rules().current();
        let text = message.body.text_for_matching();
        match rules.match_route(channel, text, &message.tags) {
            Some(route) => TicketPlan {
                route: route.name.clone(),
                title: route.render_title(&crate::mapping::TitleVars {
                    contact_name: message.contact.name.as_deref(),
                    contact_id: &message.contact.id,
                    channel,
                }),
                queue: route.queue,
                source: route.source,
                reopen_within: route.reopen_within,
            },
            None => TicketPlan {
                route: "built-in default".into(),
                title: crate::mapping::default_title(&crate::mapping::TitleVars {
                    contact_name: message.contact.name.as_deref(),
                    contact_id: &message.contact.id,
                    channel,
                }),
                queue: None,
                source: None,
                reopen_within: None,
            },
        }
    }

    /// Decide between replying on the current ticket, reopening it, or opening a new one.
    async fn choose_target(
        &self,
        conversation: &ClaimedConversation,
        plan: &TicketPlan,
        tickets: &Arc<dyn TicketConnector>,
        writes: &mut Vec<LinkWrite>,
    ) -> Result<Target, ProcessError> {
        let store = self.store();
        let Some(mut link) = store
            .current_link(&conversation.channel, &conversation.conversation_key)
            .await?
        else {
            return Ok(Target::NewTicket {
                generation: 1,
                user_id: None,
            });
        };
        let settings = &self.inner.settings;
        let stale = link.status_checked_at.is_none_or(|at| {
            now_ms() - at >= i64::try_from(settings.status_check_interval.as_millis()).unwrap_or(0)
        });
        if link.state == LinkState::Open
            && stale
            && let Some(ticket_id) = &link.helpdesk_ticket_id
        {
            let state = tickets.ticket_state(ticket_id).await?;
            if state == Some(TicketState::Closed) {
                let closed_at = now_ms();
                tracing::info!(ticket_id = %ticket_id, "Ticket was closed in the helpdesk.");
                link.state = LinkState::Closed;
                link.closed_at = Some(closed_at);
                writes.push(LinkWrite::State {
                    link_id: link.id,
                    state: LinkState::Closed,
                    closed_at: Some(closed_at),
                });
            } else {
                writes.push(LinkWrite::State {
                    link_id: link.id,
                    state: LinkState::Open,
                    closed_at: None,
                });
            }
        }
        if link.state == LinkState::Open {
            return Ok(Target::Reply {
                link: Box::new(link),
                reopen: false,
            });
        }
        let closed_for = now_ms() - link.closed_at.unwrap_or(link.updated_at);
        let within = plan.reopen_within.is_some_and(|window| {
            closed_for <= i64::try_from(window.as_millis()).unwrap_or(i64::MAX)
        });
        if within && link.helpdesk_ticket_id.is_some() {
            return Ok(Target::Reply {
                link: Box::new(link),
                reopen: true,
            });
        }
        Ok(Target::NewTicket {
            generation: link.generation + 1,
            user_id: link.helpdesk_user_id.clone(),
        })
    }

    async fn find_or_create_user(
        &self,
        tickets: &Arc<dyn TicketConnector>,
        conversation: &ClaimedConversation,
        message: &CustomerMessage,
    ) -> Result<ExternalId, ProcessError> {
        let address = self
            .inner
            .settings
            .user_address
            .replace("{wa_id}", &message.contact.id)
            .replace("{channel}", &conversation.channel);
        if let Some(id) = tickets.find_user(&address).await? {
            return Ok(id);
        }
        let id = tickets
            .create_user(message.contact.display_name(), &address)
            .await?;
        tracing::info!(user_id = %id, "Helpdesk user created for the customer.");
        Ok(id)
    }

    pub(super) async fn post_reply(
        &self,
        tickets: &Arc<dyn TicketConnector>,
        ticket_id: &ExternalId,
        creator: ExternalId,
        rendered: &RenderedMessage,
        marker: &str,
        recovery: bool,
    ) -> Result<ExternalId, ProcessError> {
        if recovery {
            let replies = tickets.list_replies(ticket_id).await?;
            if let Some(existing) = replies.iter().find(|r| r.message_html.contains(marker)) {
                tracing::info!(reply_id = %existing.id, "Reply already posted (before a crash or retry); not posting it again.");
                return Ok(existing.id.clone());
            }
        }
        let reply = NewReply {
            creator,
            message_html: format!("{}{}", rendered.html, marker),
            attachments: rendered.attachments.clone(),
        };
        Ok(tickets.add_reply(ticket_id, &reply).await?)
    }

    /// Render the message as HTML and move its file (if any) to the helpdesk.
    async fn render(
        &self,
        channel: &Arc<dyn ChannelConnector>,
        tickets: &Arc<dyn TicketConnector>,
        message: &CustomerMessage,
    ) -> Result<RenderedMessage, ProcessError> {
        let MessageBody::Media {
            kind,
            media,
            caption,
        } = &message.body
        else {
            return Ok(render::message_html(message));
        };
        let file = match channel.fetch_media(media).await {
            Ok(file) => file,
            Err(err @ (ConnectorError::NotFound { .. } | ConnectorError::Permanent { .. })) => {
                tracing::warn!(error = %err, "File could not be downloaded; the message carries a note instead.");
                let note = render::download_failed_note(*kind, media, &err);
                return Ok(render::media_html(message, caption.as_deref(), note, None));
            }
            Err(err) => return Err(err.into()),
        };
        if file.bytes.len() > tickets.max_attachment_bytes() {
            let note = render::too_large_note(*kind, &file, tickets.max_attachment_bytes());
            tracing::warn!(filename = %file.filename, bytes = file.bytes.len(), "File too large for the helpdesk; the message names it instead.");
            return Ok(render::media_html(message, caption.as_deref(), note, None));
        }
        let media_id = tickets.upload_media(&file).await?;
        let note = render::attached_note(*kind, &file);
        Ok(render::media_html(
            message,
            caption.as_deref(),
            note,
            Some(media_id),
        ))
    }
}
