//! Prometheus metrics (`omnibridge_` prefix), rendered at `GET /metrics`.
//!
//! Counters: `omnibridge_webhooks_received_total{channel,result}`,
//! `omnibridge_events_ingested_total{channel,kind}`, `omnibridge_events_processed_total{kind,result}`,
//! `omnibridge_vendor_calls_total{vendor,outcome}`, `omnibridge_connections_closed_total{reason}`,
//! `omnibridge_body_refusals_total{reason}`. Gauge: `omnibridge_queue_depth`.

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Install the process-wide recorder once and return its handle (tests start many apps).
pub fn handle() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Fails only if another recorder was installed first; then ours just stays unused.
            let _ = metrics::set_global_recorder(recorder);
            describe();
            handle
        })
        .clone()
}

fn describe() {
    metrics::describe_counter!(
        "omnibridge_webhooks_received_total",
        "Webhook deliveries by channel and result."
    );
    metrics::describe_counter!(
        "omnibridge_events_ingested_total",
        "Events in accepted webhooks (duplicates included), by channel and kind."
    );
    metrics::describe_counter!(
        "omnibridge_events_processed_total",
        "Events processed, by kind and result (done, skipped, retry, dead_letter)."
    );
    metrics::describe_counter!(
        "omnibridge_vendor_calls_total",
        "Calls to vendors, by vendor and outcome."
    );
    metrics::describe_counter!(
        "omnibridge_connections_closed_total",
        "Connections the bridge closed: evicted (the oldest idle one, at server.max_connections), refused (at the limit with none idle), deadline (header_read_timeout or idle_timeout)."
    );
    metrics::describe_counter!(
        "omnibridge_body_refusals_total",
        "Request bodies refused: too_large (413), timeout (408), busy (503, max_body_bytes_in_flight full)."
    );
    metrics::describe_gauge!("omnibridge_queue_depth", "Events waiting to be processed.");
}

/// Count one vendor call.
pub fn vendor_call(vendor: &'static str, outcome: &'static str) {
    metrics::counter!("omnibridge_vendor_calls_total", "vendor" => vendor, "outcome" => outcome)
        .increment(1);
}

/// Count one connection the bridge closed (`evicted`, `refused`, `deadline`).
pub fn connection_closed(reason: &'static str) {
    metrics::counter!("omnibridge_connections_closed_total", "reason" => reason).increment(1);
}

/// Count one refused request body (`too_large`, `timeout`, `busy`).
pub fn body_refused(reason: &'static str) {
    metrics::counter!("omnibridge_body_refusals_total", "reason" => reason).increment(1);
}
