//! The load generator: `POSTERS` clients posting get.chat text webhooks as fast as they are
//! answered, the same for the baseline and the bridge.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

pub const POSTERS: usize = 64;

/// When each webhook was answered 200 (index = message number).
pub type AcceptedAt = Arc<Vec<std::sync::Mutex<Option<SystemTime>>>>;

/// The webhook body of message `i`, in conversation `i % conversations`.
pub fn webhook(i: usize, conversations: usize) -> serde_json::Value {
    let wa_id = format!("49150{:05}", i % conversations);
    serde_json::json!({
        "contacts": [{ "profile": { "name": "Bench" }, "wa_id": wa_id }],
        "messages": [{ "from": wa_id, "id": format!("wamid.bench.{i}"),
            "timestamp": "1700000000", "type": "text", "text": { "body": format!("bench#{i}#") } }]
    })
}

/// Post `messages` webhooks to `url`; returns how long accepting them took, when each was
/// accepted, and every answer's latency sorted.
pub async fn post_all(
    url: &str,
    messages: usize,
    conversations: usize,
) -> (Duration, AcceptedAt, Vec<Duration>) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(POSTERS)
        .build()
        .expect("client");
    let accepted_at: AcceptedAt =
        Arc::new((0..messages).map(|_| std::sync::Mutex::new(None)).collect());
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut posters = Vec::new();
    for _ in 0..POSTERS {
        let (client, url, next, accepted_at) = (
            client.clone(),
            url.to_owned(),
            next.clone(),
            accepted_at.clone(),
        );
        posters.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= messages {
                    return latencies;
                }
                let sent = Instant::now();
                let response = client
                    .post(&url)
                    .json(&webhook(i, conversations))
                    .send()
                    .await
                    .expect("post");
                assert_eq!(response.status(), 200, "webhook refused");
                latencies.push(sent.elapsed());
                if let Ok(mut slot) = accepted_at[i].lock() {
                    *slot = Some(SystemTime::now());
                }
            }
        }));
    }
    let mut latencies = Vec::with_capacity(messages);
    for poster in posters {
        latencies.extend(poster.await.expect("poster"));
    }
    latencies.sort();
    (started.elapsed(), accepted_at, latencies)
}

/// The `p` quantile (0..1) of sorted durations.
pub fn quantile(sorted: &[Duration], p: f64) -> Duration {
    sorted
        .get(((sorted.len() as f64 * p) as usize).min(sorted.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default()
}
