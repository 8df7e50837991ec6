//! Catch-up polling: rooms with activity since the cursor (`GET rooms`, newest `updated_at`
//! first, a bounded number of pages), then each room's history (`GET rooms/{id}/histories`),
//! turned into the same events (and dedupe keys) the webhooks give.
//!
//! A room's activity time is the latest of its `updated_at`, `session_at` (the customer's last
//! message), `resolved_at` and, when Qontak gives them, `last_activity_at` and
//! `last_message.created_at`: Qontak's samples show `updated_at` lagging behind messages.
//! Rooms are handed out oldest activity first, `ROOMS_PER_BATCH` at a time, so the cursor
//! (`PollBatch::newest`) only moves past rooms that were read.

use super::channel::QontakChannel;
use super::convert::{self, Author};
use super::rooms::not_ours;
use super::wire::{Envelope, QRoom};
use crate::connectors::{ConnectorError, PollBatch};
use crate::domain::InboundEvent;
use chrono::{DateTime, Utc};

const ROOM_PAGE: usize = 50;
/// Pages of rooms read per poll: more rooms than this changed since the cursor are noticed and
/// logged, and the newest are read.
const ROOM_PAGES: usize = 10;
const ROOMS_PER_BATCH: usize = 20;
const HISTORY_PAGES: usize = 4;

impl QontakChannel {
    pub(super) async fn poll_rooms(
        &self,
        since: DateTime<Utc>,
    ) -> Result<PollBatch, ConnectorError> {
        let (mut active, truncated) = self.rooms_active_since(since).await?;
        if truncated {
            tracing::warn!(channel = %self.id, since = %since, rooms = active.len(), "More Qontak rooms changed since the poll cursor than one poll reads; older changes may be missed.");
        }
        active.sort_by_key(|(at, _)| *at);
        let mut take = active.len().min(ROOMS_PER_BATCH);
        while take > 0 && take < active.len() {
            // Rooms with the same activity time go together, so the next cursor skips none...
            if active[take].0 == active[take - 1].0 {
                take += 1;
            // ...and a batch always gets past the cursor, so polling makes progress.
            } else if active[take - 1].0 <= since {
                take += 1;
            } else {
                break;
            }
        }
        let more = take < active.len();
        let batch: Vec<(DateTime<Utc>, QRoom)> = active.into_iter().take(take).collect();
        let now = Utc::now();
        let mut events = Vec::new();
        for (_, room) in &batch {
            events.extend(self.room_events(room, since, now).await?);
        }
        events.sort_by_key(|e| e.occurred_at);
        let last_room = batch.last().map(|(at, _)| *at);
        let newest = if more {
            last_room
        } else {
            events.iter().map(|e| e.occurred_at).chain(last_room).max()
        };
        Ok(PollBatch {
            events,
            newest,
            more,
        })
    }

    /// Rooms whose activity time is at or after `since`, and whether the page limit was hit.
    async fn rooms_active_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<(Vec<(DateTime<Utc>, QRoom)>, bool), ConnectorError> {
        let url = self.client.endpoint("rooms", &[])?;
        let mut cursor: Option<String> = None;
        let mut active = Vec::new();
        for _ in 0..ROOM_PAGES {
            let mut query = vec![
                ("limit", ROOM_PAGE.to_string()),
                ("order_by", "updated_at".to_owned()),
                ("order_direction", "desc".to_owned()),
            ];
            if let Some(cursor) = &cursor {
                query.push(("cursor", cursor.clone()));
                query.push(("cursor_direction", "after".to_owned()));
            }
            let page: Envelope<Vec<QRoom>> = self
                .client
                .get("listing rooms", url.clone(), &query)
                .await?;
            let count = page.data.len();
            let next = page.next_cursor();
            let mut any_recent = false;
            for room in page.data {
                let Some(at) = activity_time(&room).filter(|at| *at >= since) else {
                    continue;
                };
                any_recent = true;
                if not_ours(&room, self.integration.as_deref()).is_none() {
                    self.rooms.remember(&room);
                    active.push((at, room));
                }
            }
            if !any_recent || count < ROOM_PAGE || next.is_none() {
                return Ok((active, false));
            }
            cursor = next;
        }
        Ok((active, true))
    }

    /// The events of one room since `since`: its messages (and the statuses of ours), and its
    /// resolution when that happened since.
    async fn room_events(
        &self,
        room: &QRoom,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<InboundEvent>, ConnectorError> {
        let Some(room_id) = room.id.as_deref() else {
            return Ok(Vec::new());
        };
        let mut events = Vec::new();
        for message in self.history_since(room_id, since, HISTORY_PAGES).await? {
            let converted = match convert::author_of(&message) {
                Author::Customer => {
                    convert::customer_message(&message, Some(room), now).map(|e| vec![e])
                }
                Author::Agent | Author::Bot => convert::agent_message(&message, Some(room), now)
                    .and_then(|event| {
                        let mut pair = vec![event];
                        if message
                            .status
                            .as_deref()
                            .is_some_and(convert::is_delivery_status)
                        {
                            pair.extend(convert::status_event(&message, Some(room), now)?);
                        }
                        Ok(pair)
                    }),
                Author::Unknown => Ok(Vec::new()),
            };
            match converted {
                Ok(found) => events.extend(found),
                Err(reason) => {
                    tracing::warn!(channel = %self.id, room = room_id, reason = %reason, "Skipped an unusable message in a Qontak room history.");
                }
            }
        }
        let resolved_at = convert::parse_time(room.resolved_at.as_deref());
        let is_resolved = room
            .status
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("resolved"));
        if let Some(at) = resolved_at.filter(|at| is_resolved && *at >= since) {
            events.push(convert::room_resolved(room_id, Some(at), now));
        }
        Ok(events)
    }
}

fn activity_time(room: &QRoom) -> Option<DateTime<Utc>> {
    [
        room.updated_at.as_deref(),
        room.session_at.as_deref(),
        room.resolved_at.as_deref(),
        room.last_activity_at.as_deref(),
        room.last_message
            .as_ref()
            .and_then(|m| m.created_at.as_deref()),
    ]
    .into_iter()
    .filter_map(convert::parse_time)
    .max()
}
