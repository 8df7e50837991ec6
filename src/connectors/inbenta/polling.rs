//! Catch-up polling: tickets Inbenta reports as updated (a new reply, a status change, a new
//! classification all move `last_update`; CONTRACTS §3.3).
//!
//! `GET /v1/tickets?sort=last_update&order=asc&last_update_from=<unix s>&length=<n>&page=<k>`,
//! oldest change first. Pages are read by moving `last_update_from` to the newest change of the
//! page read (keyset paging), so tickets updated while paging cannot shift others out of view;
//! when a whole page shares one second (`last_update` has no finer grain), the next page of that
//! same second is asked for by number instead, so a burst of more than a page in one second is
//! read whole.
//! Deployments that ignore the sort or the filter are handled too: every answer is filtered and
//! sorted here again, and paging stops when a numbered page brings nothing new.

use super::client::{InbentaClient, VENDOR};
use super::convert::TicketSummary;
use super::loose_json::{first_id, first_instant};
use super::wire::{MaybeWrapped, RawStatus};
use crate::connectors::ConnectorError;
use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::Value;
use std::collections::HashSet;

/// Tickets asked for per page.
pub(super) const PAGE_LENGTH: usize = 100;
/// Pages read per call at most; what is left is read by the next call, from the newest change
/// returned.
pub(super) const MAX_PAGES: usize = 10;

impl InbentaClient {
    pub(super) async fn tickets_updated_after(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<TicketSummary>, ConnectorError> {
        let length = PAGE_LENGTH.to_string();
        let mut from = since.timestamp();
        // Page number within `from` (more than a page of tickets may share one second).
        let mut page_in_second: usize = 1;
        let mut seen = HashSet::new();
        let mut found = Vec::new();
        let mut unreadable = 0;
        for page in 1..=MAX_PAGES {
            let from_text = from.to_string();
            let page_text = page_in_second.to_string();
            let answer: MaybeWrapped<Vec<Value>> = self
                .call(
                    Method::GET,
                    &["tickets"],
                    &[
                        ("sort", "last_update"),
                        ("order", "asc"),
                        ("last_update_from", &from_text),
                        ("length", &length),
                        ("page", &page_text),
                    ],
                    None,
                )
                .await?;
            let entries = answer.into_inner();
            let listed = entries.len();
            let mut new = 0;
            let page_from = from;
            for entry in &entries {
                let Some(summary) = summary_of(entry) else {
                    unreadable += 1;
                    continue;
                };
                if !seen.insert(summary.id.clone()) {
                    continue;
                }
                new += 1;
                from = from.max(summary.last_update.timestamp());
                if summary.last_update > since {
                    found.push(summary);
                }
            }
            // A short page is the last; a page of nothing new while already paging by number
            // means the deployment ignores `page` (stop rather than read it again).
            if listed < PAGE_LENGTH || (new == 0 && page_in_second > 1) {
                break;
            }
            if from == page_from {
                page_in_second += 1;
            } else {
                page_in_second = 1;
            }
            if page == MAX_PAGES {
                tracing::warn!(
                    vendor = VENDOR,
                    read = seen.len(),
                    "More updated Inbenta tickets than one poll reads; the rest are read by the next poll."
                );
            }
        }
        if unreadable > 0 {
            tracing::warn!(
                vendor = VENDOR,
                skipped = unreadable,
                "Skipped listed Inbenta tickets without an id or a readable last_update."
            );
        }
        found.sort_by(|a, b| {
            a.last_update
                .cmp(&b.last_update)
                .then_with(|| a.id.cmp(&b.id))
        });
        Ok(found)
    }
}

/// `{id|uuid|full_uuid, status, last_update}`; `None` without an id or a readable time.
pub(super) fn summary_of(entry: &Value) -> Option<TicketSummary> {
    let entry = entry.as_object()?;
    let id = first_id(entry, &["id", "uuid", "full_uuid"])?;
    let last_update = first_instant(entry, &["last_update", "lastUpdate", "updated_at"])?;
    let status = entry
        .get("status")
        .cloned()
        .and_then(|status| serde_json::from_value::<RawStatus>(status).ok())
        .and_then(|status| status.as_number());
    Some(TicketSummary {
        id,
        status,
        last_update,
    })
}
