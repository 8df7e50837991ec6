//! Prometheus metrics (`omnibridge_` prefix), rendered at `GET /metrics`.
//!
//! Counters: `omnibridge_webhooks_received_total{channel,result}`,
//! `omnibridge_events_ingested_total{channel,kind}`, `omnibridge_events_processed_total{kind,result}`,
//! `omnibridge_vendor_calls_total{vendor,outcome}`. Gauge: `omnibridge_queue_depth`.

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
    metrics::describe_gauge!("omnibridge_queue_depth", "Events waiting to be processed.");
}

/// Count one vendor call.
pub fn vendor_call(vendor: &'static str, outcome: &'static str) {
    metrics::counter!("omnibridge_vendor_calls_total", "vendor" => vendor, "outcome" => outcome)
        .increment(1);
}
