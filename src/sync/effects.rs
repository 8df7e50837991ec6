//! Small pieces every event handler uses: the connectors of a conversation, the bridge's own
//! helpdesk user, notes on tickets.

use super::Engine;
use super::drain::ProcessError;
use super::render::RenderedMessage;
use crate::connectors::{ChannelConnector, TicketConnector};
use crate::domain::{ChannelId, ExternalId};
use crate::store::Link;
use std::sync::Arc;

/// What the bridge does for one channel beyond moving messages.
#[derive(Clone, Debug, Default)]
pub struct ChannelPolicy {
    /// Ticket closed ⇄ conversation resolved.
    pub sync_resolution: bool,
    /// Sent in place of an answer when the 24-hour window is closed.
    pub fallback_template: Option<crate::config::FallbackTemplate>,
}

impl Engine {
    pub(super) fn channel_connector(
        &self,
        channel: &str,
    ) -> Result<Arc<dyn ChannelConnector>, ProcessError> {
        self.registry()
            .channel(&ChannelId::new(channel))
            .cloned()
            .ok_or_else(|| {
                ProcessError::Unprocessable(format!(
                    "channel {channel:?} is not configured (or disabled); enable it and redrive"
                ))
            })
    }

    pub(super) fn channel_policy(&self, channel: &str) -> ChannelPolicy {
        self.inner
            .settings
            .channels
            .get(channel)
            .cloned()
            .unwrap_or_default()
    }

    /// The helpdesk user that authors the bridge's notes (found or created once per process).
    pub(super) async fn bridge_user(
        &self,
        tickets: &Arc<dyn TicketConnector>,
    ) -> Result<ExternalId, ProcessError> {
        let settings = &self.inner.settings;
        let id = self
            .inner
            .bridge_user
            .get_or_try_init(|| async {
                if let Some(id) = tickets.find_user(&settings.bridge_user_address).await? {
                    return Ok::<_, ProcessError>(id);
                }
                let id = tickets
                    .create_user(&settings.bridge_user_name, &settings.bridge_user_address)
                    .await?;
                tracing::info!(user_id = %id, name = %settings.bridge_user_name, "Helpdesk user for the bridge's notes created.");
                Ok(id)
            })
            .await?;
        Ok(id.clone())
    }

    /// Post a note from the bridge on the link's ticket (looked up by its marker first when
    /// recovering). Returns the reply id.
    pub(super) async fn post_note(
        &self,
        tickets: &Arc<dyn TicketConnector>,
        link: &Link,
        note: &RenderedMessage,
        marker: &str,
        recovery: bool,
    ) -> Result<ExternalId, ProcessError> {
        let ticket = link.ticket();
        let creator = self.bridge_user(tickets).await?;
        let id = self
            .post_reply(tickets, &ticket, creator, note, marker, recovery)
            .await?;
        tracing::info!(ticket_id = %ticket, reply_id = %id, "Note added to the ticket.");
        Ok(id)
    }
}
