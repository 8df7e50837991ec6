//! Reconciliation: poll every channel and the helpdesk for what happened since a stored cursor
//! (webhooks missed while the bridge was down or unreachable) and feed it through the same ingest
//! path as webhooks, so dedupe absorbs the overlap. One process polls a source at a time (the
//! cursor has a lease). A new cursor starts at "now": the first start does not flood; `omnibridge
//! backfill --since` moves cursors back on purpose.

use super::Engine;
use super::ingest::IngestError;
use crate::connectors::{ChannelConnector, ConnectorError, PollBatch};
use crate::store::{StoreError, now_ms};
use chrono::{DateTime, TimeZone, Utc};
use std::sync::Arc;
use std::time::Duration;

/// Pages polled per source and round, so one round always ends.
const MAX_PAGES: usize = 200;
/// Each poll reaches this far behind the cursor: vendors count time in whole seconds, and an
/// event stamped with the cursor's second may land after the poll. Dedupe absorbs the overlap.
const OVERLAP_MS: i64 = 5_000;

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Vendor(#[from] ConnectorError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Ingest(#[from] IngestError),
}

/// What one reconciliation of one source did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SourceReport {
    pub source: String,
    /// Events polled (before dedupe).
    pub polled: usize,
    /// Events that were new (webhooks had missed them).
    pub stored: usize,
    pub pages: usize,
    /// Another process holds this source's cursor.
    pub skipped: bool,
}

/// The cursor name of a channel, and of the helpdesk.
pub fn channel_cursor(channel: &str) -> String {
    format!("poll:channel:{channel}")
}
pub const HELPDESK_CURSOR: &str = "poll:helpdesk";

fn at_ms(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or_else(Utc::now)
}

impl Engine {
    /// Run reconciliation every `reconcile_interval` until shutdown.
    pub fn spawn_reconciler(&self) -> tokio::task::JoinHandle<()> {
        let engine = self.clone();
        tokio::spawn(async move {
            let period = engine.inner.settings.reconcile_interval;
            let mut ticker = tokio::time::interval(period);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = engine.inner.shutdown.cancelled() => return,
                    _ = ticker.tick() => {}
                }
                for report in engine.reconcile_once(None).await {
                    match report {
                        Ok(r) if r.stored > 0 => {
                            tracing::info!(source = %r.source, polled = r.polled, stored = r.stored, "Reconciliation found events the webhooks had missed.")
                        }
                        Ok(r) => {
                            tracing::debug!(source = %r.source, polled = r.polled, skipped = r.skipped, "Reconciliation: nothing missed.")
                        }
                        Err(err) => {
                            tracing::warn!(error = %err, "Reconciliation failed; the next round tries again.")
                        }
                    }
                }
            }
        })
    }

    /// Poll every source once. `progress` is told of every page (backfill's progress bar).
    pub async fn reconcile_once(
        &self,
        progress: Option<&(dyn Fn(&SourceReport) + Sync)>,
    ) -> Vec<Result<SourceReport, ReconcileError>> {
        let mut reports = Vec::new();
        for channel in self.registry().channels() {
            reports.push(self.reconcile_channel(&channel, progress).await);
        }
        reports.push(self.reconcile_helpdesk(progress).await);
        reports
    }

    fn cursor_ttl(&self) -> i64 {
        let ttl = self.inner.settings.reconcile_interval * 2 + Duration::from_secs(60);
        i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 4)
    }

    /// Claim a cursor; `None` when another process holds it or it was just started at "now".
    async fn claim(&self, name: &str) -> Result<Option<i64>, StoreError> {
        let owner = &self.inner.owner;
        match self
            .store()
            .claim_cursor(name, owner, self.cursor_ttl())
            .await?
        {
            None => Ok(None),
            Some(Some(position)) => Ok(Some(position)),
            Some(None) => {
                self.store().advance_cursor(name, owner, now_ms()).await?;
                self.store().release_cursor(name, owner).await?;
                tracing::info!(
                    source = name,
                    "Reconciliation starts from now (run `omnibridge backfill --since …` to fetch older history)."
                );
                Ok(None)
            }
        }
    }

    async fn reconcile_channel(
        &self,
        channel: &Arc<dyn ChannelConnector>,
        progress: Option<&(dyn Fn(&SourceReport) + Sync)>,
    ) -> Result<SourceReport, ReconcileError> {
        let name = channel_cursor(channel.channel_id().as_str());
        let mut report = SourceReport {
            source: name.clone(),
            ..SourceReport::default()
        };
        let Some(mut since) = self.claim(&name).await? else {
            report.skipped = true;
            return Ok(report);
        };
        let result = async {
            // The first page reaches back by the overlap; later pages go on from the newest
            // event of the page before, so a backlog inside the overlap cannot hold the poll.
            let mut request_from = since - OVERLAP_MS;
            while report.pages < MAX_PAGES {
                let batch = channel.poll(at_ms(request_from)).await?;
                report.pages += 1;
                report.polled += batch.events.len();
                if !batch.events.is_empty() {
                    let admitted = super::admit(channel.as_ref(), batch.events.clone());
                    let outcome = self.ingest(channel.channel_id(), &admitted.events).await?;
                    report.stored += outcome.stored;
                    acknowledge_stored(channel.as_ref(), &batch).await;
                }
                if let Some(progress) = progress {
                    progress(&report);
                }
                let newest = batch.newest.map(|t| t.timestamp_millis());
                if let Some(newest) = newest.filter(|n| *n > since) {
                    self.store()
                        .advance_cursor(&name, &self.inner.owner, newest)
                        .await?;
                    since = newest;
                }
                match newest.filter(|n| *n > request_from) {
                    Some(newest) if batch.more => request_from = newest,
                    _ => break,
                }
            }
            Ok::<_, ReconcileError>(())
        }
        .await;
        self.store()
            .release_cursor(&name, &self.inner.owner)
            .await?;
        result.map(|()| report)
    }

    async fn reconcile_helpdesk(
        &self,
        progress: Option<&(dyn Fn(&SourceReport) + Sync)>,
    ) -> Result<SourceReport, ReconcileError> {
        let name = HELPDESK_CURSOR.to_owned();
        let mut report = SourceReport {
            source: name.clone(),
            ..SourceReport::default()
        };
        let Some(since) = self.claim(&name).await? else {
            report.skipped = true;
            return Ok(report);
        };
        let result = async {
            // The connector keys each change, so that dedupe absorbs the overlap.
            let events = self
                .registry()
                .tickets()
                .updated_tickets(at_ms(since - OVERLAP_MS))
                .await?;
            report.pages = 1;
            report.polled = events.len();
            let outcome = self.ingest_helpdesk(&events).await?;
            report.stored = outcome.stored;
            if let Some(progress) = progress {
                progress(&report);
            }
            if let Some(newest) = events
                .iter()
                .map(|e| e.occurred_at.timestamp_millis())
                .max()
            {
                self.store()
                    .advance_cursor(&name, &self.inner.owner, newest)
                    .await?;
            }
            Ok::<_, ReconcileError>(())
        }
        .await;
        self.store()
            .release_cursor(&name, &self.inner.owner)
            .await?;
        result.map(|()| report)
    }
}

/// Confirm a committed batch to the channel, when the channel asks for that. A failure is only
/// logged: the events are stored, a repeat of them is absorbed by dedupe.
async fn acknowledge_stored(channel: &dyn ChannelConnector, batch: &PollBatch) {
    if !channel.capabilities().poll_acknowledgement {
        return;
    }
    if let Err(err) = channel.acknowledge(batch).await {
        tracing::warn!(channel = %channel.channel_id(), error = %err, "Could not mark polled messages as received; they are stored anyway.");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn polled_events_are_acknowledged_only_to_a_channel_that_asks_for_it() {
        use crate::connectors::ChannelCapabilities;
        use crate::connectors::fake::RecordingChannel;
        let batch = PollBatch::default();
        for (poll_acknowledgement, expected) in [(false, vec![]), (true, vec!["acknowledge"])] {
            let channel = RecordingChannel::new(ChannelCapabilities {
                webhook_registration: false,
                poll_acknowledgement,
            });
            acknowledge_stored(&channel, &batch).await;
            assert_eq!(channel.calls(), expected);
        }
    }
}
