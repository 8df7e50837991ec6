//! Catching up through `GET messages/`: finding a message the bridge already sent, polling for
//! messages whose webhooks were missed, and marking polled messages as received.
//!
//! `GET messages/` lists newest first (seed 001: no ordering parameter), `since_time` is
//! inclusive and `before_time` exclusive, both in whole Unix seconds. Pagination here uses
//! `limit`/`offset` computed locally rather than the answer's `next` link, which get.chat may
//! build with `http://` behind its proxy (seed 001 example) and would carry the token in clear.

use super::client::GetchatClient;
use super::convert::message_object_wa_id;
use super::outbound::{SentMatch, sent_match};
use super::webhook::message_object_event;
use super::wire::{GcMessage, MessagePage, NumberOrText, WaMessage};
use crate::connectors::{ConnectorError, PollBatch};
use crate::domain::{EventKind, ExternalId, InboundEvent, OutboundBody, Recipient};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Messages per `GET messages/` page.
pub(super) const PAGE_SIZE: usize = 100;
/// Pages `find_sent` reads at most (newest first) before concluding the message was not sent.
const FIND_SENT_MAX_PAGES: usize = 10;
/// Messages of one second read at once when a page ends inside that second.
const SAME_SECOND_LIMIT: usize = 1000;

/// The newest message sent to `to` since `since` that is `body`: its WhatsApp id when get.chat
/// has one (`waba_payload.id`), else get.chat's id. Files are compared byte for byte.
pub(super) async fn find_sent(
    client: &GetchatClient,
    to: &Recipient,
    since: DateTime<Utc>,
    body: &OutboundBody,
) -> Result<Option<ExternalId>, ConnectorError> {
    let wa_id = to.conversation.as_str();
    let since_time = since.timestamp();
    for page_number in 0..FIND_SENT_MAX_PAGES {
        let query = [
            ("wa_id", wa_id.to_owned()),
            ("from_us", "true".to_owned()),
            ("since_time", since_time.to_string()),
            ("limit", PAGE_SIZE.to_string()),
            ("offset", (page_number * PAGE_SIZE).to_string()),
        ];
        let page: MessagePage = client.get_json("messages/", &query).await?;
        for item in &page.results {
            let Some((message, sent)) = sent_message(item, wa_id, since_time) else {
                continue;
            };
            let found = match sent_match(&sent, body) {
                SentMatch::No => false,
                SentMatch::Yes => true,
                SentMatch::IfSameFile(media) => match client.fetch_media(&media).await {
                    Ok(fetched) => match body {
                        OutboundBody::Media { file, .. } => fetched.bytes == file.bytes,
                        _ => false,
                    },
                    Err(ConnectorError::NotFound { .. }) => false,
                    Err(err) => return Err(err),
                },
            };
            if found {
                let id = sent
                    .id
                    .filter(|id| !id.trim().is_empty())
                    .or(message.id)
                    .filter(|id| !id.trim().is_empty());
                if let Some(id) = id {
                    return Ok(Some(ExternalId::new(id)));
                }
            }
        }
        if page.next.is_none() || page.results.len() < PAGE_SIZE {
            return Ok(None);
        }
    }
    tracing::warn!(
        wa_id,
        pages = FIND_SENT_MAX_PAGES,
        "Gave up looking for an already sent message after the page limit."
    );
    Ok(None)
}

/// A listed message sent by us to `wa_id` at or after `since_time`, with its WhatsApp payload.
/// get.chat filters by these already; they are checked again in case a filter is ignored.
fn sent_message(item: &Value, wa_id: &str, since_time: i64) -> Option<(GcMessage, WaMessage)> {
    let message: GcMessage = serde_json::from_value(item.clone()).ok()?;
    if message.from_us == Some(false) || message_object_wa_id(&message).as_deref() != Some(wa_id) {
        return None;
    }
    let sent: WaMessage = serde_json::from_value(message.waba_payload.clone()?).ok()?;
    let timestamp = sent.timestamp.as_ref().and_then(NumberOrText::as_f64);
    if timestamp.is_some_and(|t| t.floor() < since_time as f64) {
        return None;
    }
    Some((message, sent))
}

/// One page of messages since `since`, oldest first, as the same events their webhooks make.
///
/// When more than a page is waiting, the oldest page is read: the set is frozen below the
/// newest message seen (`before_time`) and read from its far end (`offset = count - limit`). A
/// page that ends inside the second it started in is widened to that whole second, and the
/// cursor moves one second on, so a burst of messages in one second cannot stall the poll.
pub(super) async fn poll(
    client: &GetchatClient,
    since: DateTime<Utc>,
) -> Result<PollBatch, ConnectorError> {
    let since_time = since.timestamp();
    let first = list(client, since_time, None, PAGE_SIZE, 0).await?;
    let total = first.count.map_or(first.results.len(), |c| c as usize);
    let mut items = first.results;
    let mut more = false;
    if total > items.len() || (first.next.is_some() && items.len() >= PAGE_SIZE) {
        more = true;
        let before = items
            .iter()
            .filter_map(timestamp_of)
            .map(|t| t.floor() as i64 + 1)
            .max();
        let mut count = total;
        for _ in 0..3 {
            let offset = count.saturating_sub(PAGE_SIZE);
            let page = list(client, since_time, before, PAGE_SIZE, offset).await?;
            let listed = page.count.map_or(count, |c| c as usize);
            items = page.results;
            if listed == count {
                break;
            }
            // Messages arrived (or left) between the calls: aim at the far end again.
            count = listed;
        }
    }
    let mut newest = newest_time(&items);
    if more && newest.is_none_or(|t| t.timestamp() <= since_time) {
        let page = list(
            client,
            since_time,
            Some(since_time + 1),
            SAME_SECOND_LIMIT,
            0,
        )
        .await?;
        if page.count.is_some_and(|c| c as usize > page.results.len()) {
            tracing::warn!(
                second = since_time,
                listed = page.results.len(),
                "More messages in one second than can be read at once; some are skipped."
            );
        }
        items = page.results;
        newest = DateTime::from_timestamp(since_time + 1, 0);
    }
    Ok(PollBatch {
        events: events_oldest_first(items),
        more: more && newest.is_some(),
        newest,
    })
}

/// `GET messages/?since_time=&before_time=&limit=&offset=`.
async fn list(
    client: &GetchatClient,
    since_time: i64,
    before_time: Option<i64>,
    limit: usize,
    offset: usize,
) -> Result<MessagePage, ConnectorError> {
    let mut query = vec![
        ("since_time", since_time.to_string()),
        ("limit", limit.to_string()),
        ("offset", offset.to_string()),
    ];
    if let Some(before) = before_time {
        query.push(("before_time", before.to_string()));
    }
    client.get_json("messages/", &query).await
}

/// `waba_payload.timestamp` of a listed message, in Unix seconds.
fn timestamp_of(item: &Value) -> Option<f64> {
    let timestamp = item.get("waba_payload")?.get("timestamp")?;
    serde_json::from_value::<NumberOrText>(timestamp.clone())
        .ok()?
        .as_f64()
        .filter(|t| t.is_finite() && *t > 0.0)
}

fn newest_time(items: &[Value]) -> Option<DateTime<Utc>> {
    items
        .iter()
        .filter_map(timestamp_of)
        .max_by(f64::total_cmp)
        .and_then(|t| DateTime::from_timestamp_millis((t * 1000.0).round() as i64))
}

/// Convert a newest-first page into events, oldest first. A message that cannot be read is
/// logged and skipped: it will not become readable later, and it must not stall catch-up.
fn events_oldest_first(mut items: Vec<Value>) -> Vec<InboundEvent> {
    items.reverse();
    // Stable: messages of the same second keep get.chat's order (reversed to oldest first).
    items.sort_by(|a, b| {
        let key = |item: &Value| timestamp_of(item).unwrap_or(f64::MAX);
        key(a).total_cmp(&key(b))
    });
    let now = Utc::now();
    items
        .iter()
        .enumerate()
        .filter_map(|(i, item)| match message_object_event(item, &format!("results[{i}]"), now) {
            Ok(event) => Some(event),
            Err(err) => {
                let id = item.get("id").and_then(Value::as_str).unwrap_or("?");
                tracing::warn!(getchat_id = id, error = %err, "Skipped a polled get.chat message that cannot be read.");
                None
            }
        })
        .collect()
}

/// `POST mark_as_received/` once per customer, with the time of their newest polled message.
pub(super) async fn acknowledge(
    client: &GetchatClient,
    batch: &PollBatch,
) -> Result<(), ConnectorError> {
    let mut newest: BTreeMap<&str, i64> = BTreeMap::new();
    for event in &batch.events {
        if let EventKind::CustomerMessage(_) = event.kind {
            let time = event.occurred_at.timestamp();
            let entry = newest.entry(event.conversation.as_str()).or_insert(time);
            *entry = (*entry).max(time);
        }
    }
    let url = client.endpoint("mark_as_received/")?;
    for (wa_id, timestamp) in newest {
        let body = json!({"customer_wa_id": wa_id, "timestamp": timestamp});
        client
            .send_json(reqwest::Method::POST, url.clone(), &body)
            .await?;
    }
    Ok(())
}
