//! The HTTP surface: vendor webhooks, the admin API, health and metrics.

mod admin;
mod auth;
mod fd_limit;
mod health;
mod helpdesk;
mod refusal;
mod webhooks;

use crate::config::{ChannelKind, Settings};
use crate::domain::ChannelId;
use crate::sync::Engine;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use metrics_exporter_prometheus::PrometheusHandle;
use secrecy::SecretString;
use std::collections::HashMap;
use std::sync::Arc;
use tower_http::trace::TraceLayer;

pub(crate) use auth::secret_matches;
pub use fd_limit::raise_open_file_limit;

/// What a webhook route needs to know about a channel.
#[derive(Clone)]
pub struct ChannelAuth {
    pub kind: ChannelKind,
    pub webhook_secret: Option<SecretString>,
}

#[derive(Clone)]
pub struct AppState {
    pub engine: Engine,
    pub channels: Arc<HashMap<ChannelId, ChannelAuth>>,
    pub admin_token: Option<SecretString>,
    pub metrics: PrometheusHandle,
}

impl AppState {
    pub fn new(engine: Engine, settings: &Settings, metrics: PrometheusHandle) -> Self {
        let channels = settings
            .channels
            .iter()
            .filter(|c| c.enabled)
            .map(|c| {
                (
                    ChannelId::new(&c.id),
                    ChannelAuth {
                        kind: c.kind,
                        webhook_secret: c.webhook_secret.clone(),
                    },
                )
            })
            .collect();
        Self {
            engine,
            channels: Arc::new(channels),
            admin_token: settings.server.admin_token.clone(),
            metrics,
        }
    }
}

pub fn router(state: AppState, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/webhooks/getchat/{channel}", post(webhooks::getchat))
        .route("/webhooks/qontak/{channel}", post(webhooks::qontak))
        .route(
            "/webhooks/inbenta",
            get(helpdesk::verify).post(helpdesk::receive),
        )
        .route("/api/v1/links", get(admin::list_links))
        .route("/api/v1/messages", get(admin::list_messages))
        .route("/api/v1/jobs", get(admin::list_jobs))
        .route("/api/v1/jobs/{id}/retry", post(admin::retry_job))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(axum::middleware::map_response(refusal::json_refusals))
        // Spans carry the path only: webhook URLs hold their secret in the query string.
        .layer(TraceLayer::new_for_http().make_span_with(
            |request: &axum::http::Request<axum::body::Body>| {
                tracing::debug_span!("http", method = %request.method(), path = %request.uri().path())
            },
        ))
        .with_state(state)
}
