//! What the channel remembers about rooms it has seen in webhooks, polls and answers: the
//! session state (whether free-form messages may still be sent), the customer's phone and name
//! and the channel integration. Memory only; a room that is not known is read with
//! `GET rooms/{id}` when a send needs it.

use super::client::QontakClient;
use super::webhook::RoomLookup;
use super::wire::{Envelope, QRoom};
use crate::connectors::ConnectorError;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// Rooms remembered at most; the memory is emptied when it grows past this.
const MAX_ROOMS: usize = 20_000;

/// What is known about one room.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct RoomFacts {
    /// `open`, `expiring` or `expired`.
    pub(super) session: Option<String>,
    pub(super) phone: Option<String>,
    pub(super) name: Option<String>,
    pub(super) integration: Option<String>,
}

impl RoomFacts {
    pub(super) fn session_expired(&self) -> bool {
        self.session
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("expired"))
    }
}

#[derive(Default)]
struct Known {
    rooms: HashMap<String, RoomFacts>,
    by_phone: HashMap<String, String>,
}

#[derive(Default)]
pub(super) struct RoomCache {
    known: Mutex<Known>,
}

impl RoomCache {
    fn with<R>(&self, f: impl FnOnce(&mut Known) -> R) -> R {
        let mut known = self.known.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut known)
    }

    /// Remember (or update) what `room` says; fields it does not give are kept.
    pub(super) fn remember(&self, room: &QRoom) {
        let Some(id) = room.id.as_deref().filter(|id| !id.trim().is_empty()) else {
            return;
        };
        let phone = room
            .account_uniq_id
            .as_deref()
            .map(|p| p.trim().trim_start_matches('+').to_owned())
            .filter(|p| !p.is_empty());
        self.with(|known| {
            if known.rooms.len() >= MAX_ROOMS && !known.rooms.contains_key(id) {
                known.rooms.clear();
                known.by_phone.clear();
            }
            let facts = known.rooms.entry(id.to_owned()).or_default();
            if let Some(session) = room.session.clone().filter(|s| !s.trim().is_empty()) {
                facts.session = Some(session);
            }
            if let Some(name) = room.name.clone().filter(|n| !n.trim().is_empty()) {
                facts.name = Some(name);
            }
            if let Some(integration) = room.channel_integration_id.clone() {
                facts.integration = Some(integration);
            }
            if let Some(phone) = phone {
                facts.phone = Some(phone.clone());
                known.by_phone.insert(phone, id.to_owned());
            }
        });
    }

    pub(super) fn get(&self, room: &str) -> Option<RoomFacts> {
        self.with(|known| known.rooms.get(room).cloned())
    }

    /// Read `GET rooms/{id}` and remember it.
    pub(super) async fn fetch(
        &self,
        client: &QontakClient,
        room: &str,
    ) -> Result<RoomFacts, ConnectorError> {
        let url = client.room_endpoint(room, &[])?;
        let answer: Envelope<QRoom> = client
            .get(&format!("reading room {room}"), url, &[])
            .await?;
        let mut found = answer.data;
        if found.id.is_none() {
            found.id = Some(room.to_owned());
        }
        self.remember(&found);
        Ok(self.get(room).unwrap_or_default())
    }

    /// Known facts, else read from Qontak.
    pub(super) async fn facts(
        &self,
        client: &QontakClient,
        room: &str,
    ) -> Result<RoomFacts, ConnectorError> {
        match self.get(room) {
            Some(facts) if facts.phone.is_some() && facts.integration.is_some() => Ok(facts),
            _ => self.fetch(client, room).await,
        }
    }
}

/// Why `room` is not one of this channel's conversations: it belongs to another channel
/// integration than the configured one, or to another channel than WhatsApp. `None` when it is
/// ours (or nothing says otherwise).
pub(super) fn not_ours(room: &QRoom, integration: Option<&str>) -> Option<String> {
    if let Some(channel) = room.channel.as_deref().map(str::to_ascii_lowercase)
        && !channel.is_empty()
        && !channel.starts_with("wa")
        && !channel.starts_with("whatsapp")
    {
        return Some(format!("channel {channel}"));
    }
    let configured = integration.filter(|i| !i.trim().is_empty())?;
    let theirs = room.channel_integration_id.as_deref()?;
    (theirs != configured).then(|| format!("channel integration {theirs}"))
}

impl RoomLookup for RoomCache {
    fn room_for_phone(&self, phone: &str) -> Option<String> {
        self.with(|known| known.by_phone.get(phone).cloned())
    }
}
