//! The set of connectors built from the settings: one per enabled channel, plus the helpdesk.

use super::{ChannelConnector, TicketConnector};
use crate::domain::ChannelId;
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Clone)]
pub struct Registry {
    channels: HashMap<ChannelId, Arc<dyn ChannelConnector>>,
    tickets: Arc<dyn TicketConnector>,
}

impl Registry {
    pub fn new(
        channels: impl IntoIterator<Item = Arc<dyn ChannelConnector>>,
        tickets: Arc<dyn TicketConnector>,
    ) -> Self {
        let channels = channels
            .into_iter()
            .map(|c| (c.channel_id().clone(), c))
            .collect();
        Self { channels, tickets }
    }

    pub fn channel(&self, id: &ChannelId) -> Option<&Arc<dyn ChannelConnector>> {
        self.channels.get(id)
    }

    /// Every channel, in a stable order (by id).
    pub fn channels(&self) -> Vec<Arc<dyn ChannelConnector>> {
        let mut all: Vec<_> = self.channels.values().cloned().collect();
        all.sort_by(|a, b| a.channel_id().cmp(b.channel_id()));
        all
    }

    pub fn tickets(&self) -> &Arc<dyn TicketConnector> {
        &self.tickets
    }
}
