//! Wiring: settings → store → connectors → rules → engine → workers + HTTP server. The only
//! module that knows every other one.

use crate::config::{ChannelKind, Settings};
use crate::connectors::getchat::GetchatChannel;
use crate::connectors::inbenta::InbentaClient;
use crate::connectors::qontak::QontakChannel;
use crate::connectors::{
    ChannelConnector, ConnectorError, CredentialStore, Registry, TicketConnector,
};
use crate::http::{AppState, BodyLimits, ListenerSettings, router};
use crate::jobs::{DrainHandler, DrainQueue};
use crate::mapping::LiveRules;
use crate::store::{ConnectOptions, Store};
use crate::sync::{Engine, EngineSettings, RetryPolicy};
use anyhow::Context;
use secrecy::SecretString;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How often mapping files are checked for changes.
const RULES_POLL: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// HTTP + workers.
    Serve,
    /// Workers only (extra processes when scaling out on PostgreSQL).
    Worker,
}

pub struct Application {
    port: Option<u16>,
    engine: Engine,
    shutdown: CancellationToken,
    server: Option<JoinHandle<std::io::Result<()>>>,
    tasks: Vec<JoinHandle<()>>,
}

/// Install the TLS crypto provider once (sqlx and reqwest both use rustls).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Connect to the database named in the settings and apply migrations.
pub async fn connect_and_migrate(settings: &Settings) -> anyhow::Result<Store> {
    let store = Store::connect(
        &settings.database.url,
        &ConnectOptions {
            max_connections: settings.database.max_connections,
            pg_schema: settings.database.schema.clone(),
        },
    )
    .await
    .context("connecting to the database (database.url)")?;
    store
        .migrate()
        .await
        .context("applying database migrations")?;
    Ok(store)
}

/// The apalis queue carrying drain triggers; one per database schema.
pub fn queue_name(settings: &Settings) -> String {
    format!(
        "omnibridge.drain_conversation.{}",
        settings.database.schema.as_deref().unwrap_or("main")
    )
}

/// Put dead letters back in the queue (`None`: all of them) and trigger their conversations.
/// Returns how many conversations were woken.
pub async fn redrive(
    store: &Store,
    settings: &Settings,
    event_id: Option<i64>,
) -> anyhow::Result<usize> {
    let queue = DrainQueue::setup(store, &queue_name(settings)).await?;
    Ok(crate::sync::redrive(store, &queue, event_id).await?)
}

/// Rotated vendor credentials kept in the database.
pub struct StoredCredentials(pub Store);

#[async_trait::async_trait]
impl CredentialStore for StoredCredentials {
    async fn load(&self, key: &str) -> Result<Option<SecretString>, ConnectorError> {
        self.0.load_credential(key).await.map_err(credential_error)
    }

    async fn save(&self, key: &str, value: &SecretString) -> Result<(), ConnectorError> {
        self.0
            .save_credential(key, value)
            .await
            .map_err(credential_error)
    }
}

fn credential_error(err: crate::store::StoreError) -> ConnectorError {
    ConnectorError::Transient {
        vendor: "omnibridge",
        message: format!("credential store: {err}"),
    }
}

/// For commands that never call a vendor (`mappings explain`): nothing is stored.
pub struct NoCredentials;

#[async_trait::async_trait]
impl CredentialStore for NoCredentials {
    async fn load(&self, _key: &str) -> Result<Option<SecretString>, ConnectorError> {
        Ok(None)
    }

    async fn save(&self, _key: &str, _value: &SecretString) -> Result<(), ConnectorError> {
        Ok(())
    }
}

/// Build one connector per enabled channel, plus the helpdesk client.
pub fn build_registry(
    settings: &Settings,
    credentials: Arc<dyn CredentialStore>,
) -> anyhow::Result<Registry> {
    let mut channels: Vec<Arc<dyn ChannelConnector>> = Vec::new();
    for channel in settings.channels.iter().filter(|c| c.enabled) {
        match channel.kind {
            ChannelKind::Getchat => {
                let connector = GetchatChannel::new(channel)
                    .with_context(|| format!("channel {:?}", channel.id))?;
                channels.push(Arc::new(crate::connectors::Metered::new(connector)));
            }
            ChannelKind::Qontak => {
                let connector = QontakChannel::new(channel, credentials.clone())
                    .with_context(|| format!("channel {:?}", channel.id))?;
                channels.push(Arc::new(crate::connectors::Metered::new(connector)));
            }
        }
    }
    let tickets: Arc<dyn TicketConnector> = Arc::new(crate::connectors::Metered::new(
        InbentaClient::new(&settings.inbenta).context("inbenta settings")?,
    ));
    Ok(Registry::new(channels, tickets))
}

/// The engine without workers or server (one-shot commands such as `backfill`). Cancel the
/// returned token when done.
pub async fn build_engine(settings: &Settings) -> anyhow::Result<(Engine, CancellationToken)> {
    install_crypto_provider();
    let shutdown = CancellationToken::new();
    let (engine, _) = engine_for(settings, shutdown.clone()).await?;
    Ok((engine, shutdown))
}

/// Store, connectors, rules, queue and engine, as configured.
async fn engine_for(
    settings: &Settings,
    shutdown: CancellationToken,
) -> anyhow::Result<(Engine, Arc<LiveRules>)> {
    let store = connect_and_migrate(settings).await?;
    let registry = build_registry(settings, Arc::new(StoredCredentials(store.clone())))?;
    let channel_ids: Vec<String> = settings.channels.iter().map(|c| c.id.clone()).collect();
    let rules = if settings.mappings.dir.is_dir() {
        crate::mapping::load_dir(&settings.mappings.dir, &channel_ids)
            .map_err(|errors| anyhow::anyhow!("{errors}"))
            .with_context(|| format!("mapping rules in {}", settings.mappings.dir.display()))?
    } else {
        tracing::warn!(dir = %settings.mappings.dir.display(), "Mapping directory not found; every conversation uses the built-in default route.");
        crate::mapping::RuleSet::empty()
    };
    let rules = Arc::new(LiveRules::new(rules));
    let queue = DrainQueue::setup(&store, &queue_name(settings))
        .await
        .context("setting up the job queue")?;
    let engine = Engine::new(
        store,
        registry,
        rules.clone(),
        queue,
        engine_settings(settings),
        shutdown,
    );
    Ok((engine, rules))
}

impl Application {
    pub async fn build(settings: Settings, mode: Mode) -> anyhow::Result<Self> {
        Self::build_with_routes(settings, mode, None).await
    }

    /// `build`, with extra HTTP routes merged in (the sandbox's control routes).
    pub async fn build_with_routes(
        settings: Settings,
        mode: Mode,
        extra_routes: Option<axum::Router>,
    ) -> anyhow::Result<Self> {
        settings.refuse_unusable_secrets()?;
        install_crypto_provider();
        let metrics = crate::metrics::handle();
        let shutdown = CancellationToken::new();
        let (engine, rules) = engine_for(&settings, shutdown.clone()).await?;
        let channel_ids: Vec<String> = settings.channels.iter().map(|c| c.id.clone()).collect();
        let queue = engine.queue().clone();
        let mut tasks = Vec::new();
        tasks.push(rules.clone().watch(
            settings.mappings.dir.clone(),
            channel_ids,
            RULES_POLL,
            shutdown.clone(),
        ));
        tasks.push(
            engine
                .start_heartbeat()
                .await
                .context("announcing this process in the database")?,
        );
        tasks.push(engine.spawn_sweeper());
        tasks.push(engine.spawn_local_drains());
        tasks.push(engine.spawn_reconciler());
        let handler: Arc<dyn DrainHandler> = Arc::new(engine.clone());
        let worker_cancel = shutdown.clone();
        let concurrency = settings.worker.concurrency;
        tasks.push(tokio::spawn(async move {
            if let Err(err) = queue.run(handler, concurrency, worker_cancel).await {
                tracing::error!(error = %err, "The job worker stopped with an error.");
            }
        }));
        let (port, server) = match mode {
            Mode::Worker => (None, None),
            Mode::Serve => {
                let listener_settings = listener_settings(&settings);
                let listener = tokio::net::TcpListener::bind(&settings.server.listen)
                    .await
                    .with_context(|| {
                        format!("binding server.listen = {}", settings.server.listen)
                    })?;
                let port = listener.local_addr()?.port();
                let mut app = router(
                    AppState::new(engine.clone(), &settings, metrics),
                    BodyLimits::from_settings(&settings),
                );
                if let Some(extra) = extra_routes {
                    app = app.merge(extra);
                }
                let server = tokio::spawn(crate::http::serve(
                    listener,
                    app,
                    listener_settings,
                    shutdown.clone(),
                ));
                tracing::info!(listen = %settings.server.listen, port, max_connections = listener_settings.max_connections, "HTTP server listening.");
                // Vendors verify the URL while we register it, so the server must listen first.
                tasks.push(tokio::spawn(register_webhooks(
                    engine.clone(),
                    settings.clone(),
                )));
                (Some(port), Some(server))
            }
        };
        Ok(Self {
            port,
            engine,
            shutdown,
            server,
            tasks,
        })
    }

    /// The bound HTTP port (None in worker mode).
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Cancelling it stops the application gracefully.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Run until the shutdown token fires (SIGTERM/Ctrl-C in `main`), then stop gracefully:
    /// the server stops accepting, workers finish their current event and hand leases back.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.shutdown.cancelled().await;
        if let Some(server) = self.server {
            match tokio::time::timeout(STOP_GRACE, server).await {
                Ok(result) => result.context("HTTP server task")?.context("HTTP server")?,
                Err(_) => {
                    tracing::warn!(grace = ?STOP_GRACE, "Requests still in progress after the grace period; stopping without them.")
                }
            }
        }
        for task in self.tasks {
            let _ = tokio::time::timeout(STOP_GRACE, task).await;
        }
        // Closing the pool waits for every connection to come back; a connection held by a
        // task that did not stop in time (a queue listener, say) must not hold the stop forever.
        if tokio::time::timeout(POOL_CLOSE_GRACE, self.engine.store().close())
            .await
            .is_err()
        {
            tracing::warn!(grace = ?POOL_CLOSE_GRACE, "Database connections still in use at stop; leaving them to the process exit.");
        }
        tracing::info!("Stopped.");
        Ok(())
    }
}

/// How long a stop waits for requests in progress and for each background task.
const STOP_GRACE: Duration = Duration::from_secs(30);
/// How long a stop waits for the database pool to get its connections back.
const POOL_CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Register the bridge's webhooks with the vendors that have a registration endpoint, when
/// `server.public_url` is set. A failure is a warning: reconciliation polling takes over.
async fn register_webhooks(engine: Engine, settings: Settings) {
    let Some(public_url) = settings.server.public_url.clone() else {
        tracing::info!(
            "server.public_url is not set: webhooks are not registered with the vendors; reconciliation polling keeps things in sync."
        );
        return;
    };
    let base = public_url.as_str().trim_end_matches('/').to_owned();
    match &settings.inbenta.webhook_secret {
        Some(secret) => {
            let url = format!("{base}/webhooks/inbenta");
            match engine
                .registry()
                .tickets()
                .register_webhook(&url, secret)
                .await
            {
                Ok(outcome) => {
                    tracing::info!(url = %url, outcome = ?outcome, "Helpdesk webhook registration checked.")
                }
                Err(err) => {
                    tracing::warn!(url = %url, error = %err, "Could not register the helpdesk webhook; agent answers arrive by polling (worker.reconcile_interval) instead.")
                }
            }
        }
        None => tracing::warn!(
            "inbenta.webhook_secret is not set: the helpdesk webhook is not registered; agent answers arrive by polling."
        ),
    }
    for channel in settings.channels.iter().filter(|c| c.enabled) {
        let Some(connector) = engine
            .registry()
            .channel(&crate::domain::ChannelId::new(&channel.id))
            .cloned()
        else {
            continue;
        };
        let mut url = format!("{base}/webhooks/{}/{}", channel.kind.as_str(), channel.id);
        if let Some(secret) = &channel.webhook_secret {
            use secrecy::ExposeSecret;
            url.push_str("?auth=");
            url.push_str(&url_encode(secret.expose_secret()));
        }
        register_channel_webhooks(connector.as_ref(), &url).await;
    }
}

/// Register one channel's webhook URL, when the channel has a registration API; else its
/// webhook is configured on the vendor's side and there is nothing to do.
async fn register_channel_webhooks(connector: &dyn ChannelConnector, url: &str) {
    let channel = connector.channel_id();
    if !connector.capabilities().webhook_registration {
        tracing::debug!(%channel, "The channel's webhooks are configured on the vendor's side.");
        return;
    }
    match connector.register_webhooks(url).await {
        Ok(outcome) => {
            tracing::info!(%channel, outcome = ?outcome, "Channel webhook registration checked.")
        }
        Err(err) => {
            tracing::warn!(%channel, error = %err, "Could not register the channel's webhooks; polling (worker.reconcile_interval) takes over.")
        }
    }
}

fn url_encode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Raise the open-file limit, then the listener's limits: `server.max_connections` lowered to
/// fit the open-file limit.
fn listener_settings(settings: &Settings) -> ListenerSettings {
    let open_files = match crate::http::raise_open_file_limit() {
        Ok(limit) => {
            tracing::info!(limit, "Open-file limit (connections) raised.");
            Some(limit)
        }
        Err(err) => {
            tracing::warn!(error = %err, "Could not raise the open-file limit.");
            None
        }
    };
    let server = &settings.server;
    let max_connections =
        crate::http::effective_max_connections(server.max_connections, open_files);
    if max_connections < server.max_connections {
        tracing::warn!(
            configured = server.max_connections,
            max_connections,
            open_file_limit = open_files,
            "server.max_connections lowered to leave file descriptors for the database and vendor calls; raise LimitNOFILE to allow more."
        );
    }
    ListenerSettings {
        max_connections,
        header_read_timeout: server.header_read_timeout,
        idle_timeout: server.idle_timeout,
    }
}

fn engine_settings(settings: &Settings) -> EngineSettings {
    EngineSettings {
        user_address: settings.inbenta.user_address.clone(),
        status_check_interval: settings.inbenta.status_check_interval,
        lease_ttl: settings.worker.lease_ttl,
        retry: RetryPolicy {
            delays: settings.worker.retry_delays.clone(),
            max_attempts: settings.worker.max_attempts,
        },
        sweep_interval: settings.worker.sweep_interval,
        reconcile_interval: settings.worker.reconcile_interval,
        concurrency: settings.worker.concurrency,
        channels: settings
            .channels
            .iter()
            .map(|c| {
                (
                    c.id.clone(),
                    crate::sync::ChannelPolicy {
                        sync_resolution: c.sync_resolution,
                        fallback_template: c.fallback_template.clone(),
                    },
                )
            })
            .collect(),
        bridge_user_name: settings.inbenta.bridge_user_name.clone(),
        bridge_user_address: bridge_user_address(&settings.inbenta.user_address),
    }
}

/// The bridge's own helpdesk user lives at the customers' address pattern with `omnibridge` as
/// the contact id, so it never collides with a customer.
fn bridge_user_address(user_address: &str) -> String {
    user_address
        .replace("{wa_id}", "omnibridge-bridge")
        .replace("{channel}", "omnibridge")
}

#[cfg(test)]
mod tests {
    use super::register_channel_webhooks;
    use crate::connectors::ChannelCapabilities;
    use crate::connectors::fake::RecordingChannel;

    fn channel(webhook_registration: bool) -> RecordingChannel {
        RecordingChannel::new(ChannelCapabilities {
            webhook_registration,
            poll_acknowledgement: false,
        })
    }

    #[tokio::test]
    async fn webhooks_are_registered_only_with_a_channel_that_offers_it() {
        let without = channel(false);
        register_channel_webhooks(&without, "https://bridge.example/webhooks/x/fake").await;
        assert!(without.calls().is_empty(), "{:?}", without.calls());

        let with = channel(true);
        register_channel_webhooks(&with, "https://bridge.example/webhooks/x/fake").await;
        assert_eq!(with.calls(), ["register_webhooks"]);
    }
}
