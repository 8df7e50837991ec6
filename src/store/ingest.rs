//! Ingest: new events get the next sequence numbers of their conversations, duplicates (same
//! dedupe key) are skipped, and conversations that were idle become due.
//!
//! A batch of webhooks is written with a fixed number of statements, whatever its size: one
//! lookup of the known dedupe keys, one upsert of the conversations touched (each claims a block
//! of sequence numbers), one insert of the new events (chunked to stay within the databases'
//! parameter limits).

use super::{IN_LIST_MAX, StoreError, Tx, now_ms, on_tx, placeholders};
use crate::domain::InboundEvent;
use std::collections::{BTreeMap, HashMap, HashSet};

/// What ingest did with one webhook's events.
#[derive(Debug, Default)]
pub struct IngestOutcome {
    pub stored: usize,
    pub duplicates: usize,
    /// Conversations that went from idle to due: each needs a drain trigger.
    pub woken: Vec<i64>,
}

/// Conversation rows per upsert statement (4 parameters each).
const CONVERSATIONS_PER_STATEMENT: usize = 500;
/// Event rows per insert statement (8 parameters each).
const EVENTS_PER_STATEMENT: usize = 250;

/// `VALUES` rows of `width` numbered parameters each, `row` shaping one row from its parameters.
fn values_rows(rows: usize, width: usize, row: impl Fn(&[String]) -> String) -> String {
    (0..rows)
        .map(|i| {
            let params: Vec<String> = (1..=width).map(|n| format!("${}", width * i + n)).collect();
            row(&params)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// `next_seq` is the last sequence number handed out. A batch bringing `n` events claims the
/// block `next_seq + 1 ..= next_seq + n`; `wake_seq` is the first number of the block when the
/// conversation was idle, so the batch that woke it knows it must trigger a drain.
fn upsert_conversations(rows: usize) -> String {
    let values = values_rows(rows, 4, |p| {
        format!(
            "({}, {}, {}, 1, {now}, {now}, {now})",
            p[0],
            p[1],
            p[2],
            now = p[3]
        )
    });
    format!(
        "INSERT INTO conversations (channel, conversation_key, next_seq, wake_seq, due_at, created_at, updated_at) \
         VALUES {values} \
         ON CONFLICT (channel, conversation_key) DO UPDATE SET \
             next_seq = conversations.next_seq + excluded.next_seq, \
             wake_seq = CASE WHEN conversations.due_at IS NULL THEN conversations.next_seq + 1 ELSE conversations.wake_seq END, \
             due_at = COALESCE(conversations.due_at, excluded.due_at), \
             updated_at = excluded.updated_at \
         RETURNING id, channel, conversation_key, next_seq, wake_seq"
    )
}

fn insert_events(rows: usize) -> String {
    let values = values_rows(rows, 8, |p| {
        format!("({}, 'pending', {}, {})", p[..6].join(", "), p[6], p[7])
    });
    format!(
        "INSERT INTO inbound_events (channel, dedupe_key, conversation_id, seq, kind, payload, state, received_at, occurred_at) \
         VALUES {values} ON CONFLICT (channel, dedupe_key) DO NOTHING RETURNING channel, dedupe_key"
    )
}

/// Dedupe keys by channel.
#[derive(Default)]
struct KeySet(HashMap<String, HashSet<String>>);

impl KeySet {
    fn insert(&mut self, channel: &str, key: String) {
        self.0.entry(channel.to_owned()).or_default().insert(key);
    }

    fn contains(&self, channel: &str, key: &str) -> bool {
        self.0.get(channel).is_some_and(|keys| keys.contains(key))
    }
}

/// One new event on its way in: which webhook brought it, and its place in its conversation.
struct NewEvent<'a> {
    request: usize,
    channel: &'a str,
    event: &'a InboundEvent,
}

/// The conversations a batch touches, in the order their rows are taken (sorted, so that two
/// batches on PostgreSQL never wait for each other's rows in a cycle).
type ByConversation<'a> = BTreeMap<(&'a str, &'a str), Vec<NewEvent<'a>>>;

impl super::Store {
    /// Store several webhooks' events inside `tx`; one outcome per webhook, in order. A
    /// duplicate costs its share of one lookup and touches no conversation: no sequence bump,
    /// no wake-up.
    pub async fn ingest_batch_in_tx(
        tx: &mut Tx,
        requests: &[(&str, &[InboundEvent])],
    ) -> Result<Vec<IngestOutcome>, StoreError> {
        let mut outcomes: Vec<IngestOutcome> =
            requests.iter().map(|_| IngestOutcome::default()).collect();
        let known = known_keys(tx, requests).await?;
        let mut seen: HashSet<(&str, &str)> = HashSet::new();
        let mut by_conversation: ByConversation = BTreeMap::new();
        for (request, (channel, events)) in requests.iter().enumerate() {
            for event in events.iter() {
                let key = (*channel, event.dedupe_key.as_str());
                if known.contains(channel, &event.dedupe_key) || !seen.insert(key) {
                    outcomes[request].duplicates += 1;
                    continue;
                }
                by_conversation
                    .entry((*channel, event.conversation.as_str()))
                    .or_default()
                    .push(NewEvent {
                        request,
                        channel,
                        event,
                    });
            }
        }
        if by_conversation.is_empty() {
            return Ok(outcomes);
        }
        let now = now_ms();
        let blocks = claim_sequences(tx, &by_conversation, now).await?;
        let mut rows = Vec::new();
        for (key, events) in &by_conversation {
            let block = blocks
                .get(key)
                .ok_or(StoreError::Database(sqlx::Error::RowNotFound))?;
            let first_seq = block.last_seq - events.len() as i64 + 1;
            if block.wake_seq == first_seq {
                outcomes[events[0].request].woken.push(block.id);
            }
            for (offset, new) in events.iter().enumerate() {
                rows.push((new, block.id, first_seq + offset as i64));
            }
        }
        let inserted = insert_new_events(tx, &rows, now).await?;
        for (new, _, _) in &rows {
            if inserted.contains(new.channel, &new.event.dedupe_key) {
                outcomes[new.request].stored += 1;
            } else {
                // Stored by a concurrent transaction since the lookup; its sequence number
                // stays unused (the drain orders by sequence and tolerates gaps).
                outcomes[new.request].duplicates += 1;
            }
        }
        Ok(outcomes)
    }

    /// Store one webhook's events inside `tx` (see [`Self::ingest_batch_in_tx`]).
    pub async fn ingest_in_tx(
        tx: &mut Tx,
        channel: &str,
        events: &[InboundEvent],
    ) -> Result<IngestOutcome, StoreError> {
        let mut outcomes = Self::ingest_batch_in_tx(tx, &[(channel, events)]).await?;
        Ok(outcomes.pop().unwrap_or_default())
    }
}

/// (channel, dedupe key) of the batch's events that are already stored.
async fn known_keys(
    tx: &mut Tx,
    requests: &[(&str, &[InboundEvent])],
) -> Result<KeySet, StoreError> {
    let mut by_channel: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (channel, events) in requests {
        let keys = by_channel.entry(channel).or_default();
        keys.extend(events.iter().map(|e| e.dedupe_key.as_str()));
    }
    let mut known = KeySet::default();
    for (channel, keys) in by_channel {
        for chunk in keys.chunks(IN_LIST_MAX) {
            let query = format!(
                "SELECT dedupe_key FROM inbound_events WHERE channel = $1 AND dedupe_key IN ({})",
                placeholders(2, chunk.len())
            );
            let found: Vec<String> = on_tx!(tx, conn => {
                let mut select = sqlx::query_scalar(sqlx::AssertSqlSafe(query)).bind(channel);
                for key in chunk {
                    select = select.bind(*key);
                }
                select.fetch_all(conn).await
            })?;
            for key in found {
                known.insert(channel, key);
            }
        }
    }
    Ok(known)
}

/// A conversation's row after its block of sequence numbers was claimed.
#[derive(sqlx::FromRow)]
struct SequenceBlock {
    id: i64,
    channel: String,
    conversation_key: String,
    /// The last number of the block.
    #[sqlx(rename = "next_seq")]
    last_seq: i64,
    wake_seq: i64,
}

async fn claim_sequences<'a>(
    tx: &mut Tx,
    by_conversation: &ByConversation<'a>,
    now: i64,
) -> Result<BTreeMap<(&'a str, &'a str), SequenceBlock>, StoreError> {
    let entries: Vec<_> = by_conversation.iter().collect();
    let mut blocks = BTreeMap::new();
    for chunk in entries.chunks(CONVERSATIONS_PER_STATEMENT) {
        let query = upsert_conversations(chunk.len());
        let rows: Vec<SequenceBlock> = on_tx!(tx, conn => {
            let mut upsert = sqlx::query_as(sqlx::AssertSqlSafe(query));
            for ((channel, conversation), events) in chunk {
                upsert = upsert.bind(*channel).bind(*conversation).bind(events.len() as i64).bind(now);
            }
            upsert.fetch_all(conn).await
        })?;
        for row in rows {
            // The batch's own key (it outlives the row), for this row's conversation.
            let key = chunk
                .iter()
                .map(|(key, _)| **key)
                .find(|(channel, conversation)| {
                    *channel == row.channel && *conversation == row.conversation_key
                });
            if let Some(key) = key {
                blocks.insert(key, row);
            }
        }
    }
    Ok(blocks)
}

async fn insert_new_events(
    tx: &mut Tx,
    rows: &[(&NewEvent<'_>, i64, i64)],
    now: i64,
) -> Result<KeySet, StoreError> {
    let mut inserted = KeySet::default();
    for chunk in rows.chunks(EVENTS_PER_STATEMENT) {
        let payloads = chunk
            .iter()
            .map(|(new, _, _)| serde_json::to_string(new.event))
            .collect::<Result<Vec<_>, _>>()?;
        let query = insert_events(chunk.len());
        let stored: Vec<(String, String)> = on_tx!(tx, conn => {
            let mut insert = sqlx::query_as(sqlx::AssertSqlSafe(query));
            for ((new, conversation_id, seq), payload) in chunk.iter().zip(&payloads) {
                insert = insert
                    .bind(new.channel)
                    .bind(new.event.dedupe_key.as_str())
                    .bind(*conversation_id)
                    .bind(*seq)
                    .bind(new.event.kind.name())
                    .bind(payload.as_str())
                    .bind(now)
                    .bind(new.event.occurred_at.timestamp_millis());
            }
            insert.fetch_all(conn).await
        })?;
        for (channel, key) in stored {
            inserted.insert(&channel, key);
        }
    }
    Ok(inserted)
}
