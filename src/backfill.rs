//! `omnibridge backfill --since …`: move the polling cursors back and fetch what happened since,
//! through the same ingest path as webhooks (dedupe absorbs what is already stored). The running
//! bridge (`serve`/`worker`) then processes what was fetched.

use crate::config::Settings;
use crate::sync::{HELPDESK_CURSOR, SourceReport, channel_cursor};
use anyhow::Context;
use chrono::{DateTime, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use std::time::Duration;

/// `--since` as an RFC 3339 time or a duration back from now ("2d", "36h").
pub fn parse_since(text: &str, now: DateTime<Utc>) -> anyhow::Result<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    if let Ok(date) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(date.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc());
    }
    let back = humantime::parse_duration(text).with_context(|| {
        format!("--since {text:?}: expected a time (2026-11-20T08:00:00Z, 2026-11-20) or a duration (2d, 36h)")
    })?;
    Ok(now - chrono::Duration::from_std(back).context("--since is too far back")?)
}

pub async fn run(settings: Settings, since: DateTime<Utc>) -> anyhow::Result<i32> {
    let (engine, shutdown) = crate::startup::build_engine(&settings).await?;
    let store = engine.store();
    let position = since.timestamp_millis();
    let channels: Vec<String> = settings
        .channels
        .iter()
        .filter(|c| c.enabled)
        .map(|c| c.id.clone())
        .collect();
    for channel in &channels {
        store.set_cursor(&channel_cursor(channel), position).await?;
    }
    store.set_cursor(HELPDESK_CURSOR, position).await?;
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    bar.set_message(format!("fetching since {}", since.to_rfc3339()));
    let show = |report: &SourceReport| {
        bar.set_message(format!(
            "{}: {} page(s), {} event(s) polled, {} new",
            report.source, report.pages, report.polled, report.stored
        ));
    };
    let reports = engine.reconcile_once(Some(&show)).await;
    bar.finish_and_clear();
    let mut failed = false;
    for report in reports {
        match report {
            Ok(r) if r.skipped => {
                println!(
                    "{}: skipped, another omnibridge process is polling it right now; run backfill again in a minute.",
                    r.source
                );
                failed = true;
            }
            Ok(r) => println!(
                "{}: {} event(s) polled, {} new, queued for the running bridge.",
                r.source, r.polled, r.stored
            ),
            Err(err) => {
                println!("failed: {err}");
                failed = true;
            }
        }
    }
    shutdown.cancel();
    engine.store().close().await;
    Ok(if failed { 1 } else { 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_times_dates_and_durations() {
        let now = DateTime::parse_from_rfc3339("2026-11-21T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            parse_since("2026-11-20T08:00:00Z", now)
                .unwrap()
                .to_rfc3339(),
            "2026-11-20T08:00:00+00:00"
        );
        assert_eq!(
            parse_since("2026-11-20", now).unwrap().to_rfc3339(),
            "2026-11-20T00:00:00+00:00"
        );
        assert_eq!(
            parse_since("36h", now).unwrap().to_rfc3339(),
            "2026-11-20T00:00:00+00:00"
        );
        let err = parse_since("yesterday-ish", now).unwrap_err().to_string();
        assert!(err.contains("--since"), "{err}");
    }
}
