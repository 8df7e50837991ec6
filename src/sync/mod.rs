//! The engine: ingest (dedupe, order, trigger), drain conversations in order, decide what each
//! event becomes on the helpdesk, retry or park failures. Names no vendor: it talks to connectors
//! only through the traits in `connectors`.

mod activity;
mod answer;
mod drain;
mod effects;
mod group_commit;
mod ingest;
mod message;
mod outcome;
mod process;
mod reconcile;
mod render;
mod retry;
mod sweeper;
mod wake;
pub(crate) mod whatsapp_text;

pub use drain::DrainReport;
pub use effects::ChannelPolicy;
pub use ingest::{Admitted, HelpdeskIngestOutcome, IngestError, admit};
pub use reconcile::{HELPDESK_CURSOR, ReconcileError, SourceReport, channel_cursor};
pub use retry::RetryPolicy;

use crate::connectors::Registry;
use crate::jobs::DrainQueue;
use crate::mapping::LiveRules;
use crate::store::Store;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Engine settings taken from the configuration.
#[derive(Clone, Debug)]
pub struct EngineSettings {
    /// Address template for helpdesk users: `{wa_id}` (the contact id) and `{channel}`.
    pub user_address: String,
    pub status_check_interval: Duration,
    pub lease_ttl: Duration,
    pub retry: RetryPolicy,
    pub sweep_interval: Duration,
    /// How often vendors are polled for what webhooks missed.
    pub reconcile_interval: Duration,
    /// How many conversations are drained at once (`worker.concurrency`).
    pub concurrency: usize,
    /// Per channel id.
    pub channels: std::collections::HashMap<String, ChannelPolicy>,
    /// The helpdesk user that authors the bridge's notes.
    pub bridge_user_name: String,
    pub bridge_user_address: String,
}

/// Everything the sync engine needs, cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<EngineInner>,
}

struct EngineInner {
    store: Store,
    registry: Registry,
    rules: Arc<LiveRules>,
    queue: DrainQueue,
    settings: EngineSettings,
    /// This process's lease owner name.
    owner: String,
    /// Fired at shutdown: drains stop after their current event and hand their lease back.
    shutdown: CancellationToken,
    /// The helpdesk user id of the bridge (notes), looked up once.
    bridge_user: tokio::sync::OnceCell<crate::domain::ExternalId>,
    /// Feeds the group-commit ingest writers.
    ingest: tokio::sync::mpsc::Sender<ingest::IngestRequest>,
    /// Feeds the group-commit writers of processed events.
    completions: tokio::sync::mpsc::Sender<outcome::Completion>,
    /// Conversations woken by this process's ingest (SQLite).
    wakes: Arc<wake::LocalWakes>,
}

impl Engine {
    /// Build the engine. Must run inside a Tokio runtime: it starts the group-commit writers.
    pub fn new(
        store: Store,
        registry: Registry,
        rules: Arc<LiveRules>,
        queue: DrainQueue,
        settings: EngineSettings,
        shutdown: CancellationToken,
    ) -> Self {
        let owner = format!("{}-{}", std::process::id(), uuid::Uuid::new_v4().simple());
        // SQLite has one writer anyway; PostgreSQL takes a few transactions at once.
        let writers = match store.kind() {
            crate::store::DbKind::Sqlite => 1,
            crate::store::DbKind::Postgres => 4,
        };
        let wakes = Arc::new(wake::LocalWakes::new());
        let ingest = ingest::spawn_writers(store.clone(), queue.clone(), wakes.clone(), writers);
        let completions = outcome::spawn_writers(store.clone(), owner.clone(), writers);
        Self {
            inner: Arc::new(EngineInner {
                ingest,
                completions,
                wakes,
                bridge_user: tokio::sync::OnceCell::new(),
                store,
                registry,
                rules,
                queue,
                settings,
                owner,
                shutdown,
            }),
        }
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    pub fn queue(&self) -> &DrainQueue {
        &self.inner.queue
    }

    pub fn rules(&self) -> &Arc<LiveRules> {
        &self.inner.rules
    }

    /// Start the safety-net sweeper (lost triggers, expired leases, finished backoffs).
    pub fn spawn_sweeper(&self) -> tokio::task::JoinHandle<()> {
        let engine = self.clone();
        tokio::spawn(async move { sweeper::run(engine).await })
    }
}

/// Put dead letters back in the queue (`None`: all of them) at their place in their conversation
/// and trigger those conversations. Returns how many conversations were woken.
pub async fn redrive(
    store: &Store,
    queue: &DrainQueue,
    event_id: Option<i64>,
) -> Result<usize, crate::store::StoreError> {
    let conversations = store.redrive_dead_letters(event_id).await?;
    for id in &conversations {
        if let Err(err) = queue.push_at(*id, crate::store::now_ms()).await {
            tracing::warn!(error = %err, conversation_id = id, "Could not trigger the conversation; the sweeper will.");
        }
    }
    if !conversations.is_empty() {
        tracing::info!(
            event_id,
            conversations = conversations.len(),
            "Dead letters queued again."
        );
    }
    Ok(conversations.len())
}

#[async_trait::async_trait]
impl crate::jobs::DrainHandler for Engine {
    async fn drain(&self, conversation_id: i64) -> anyhow::Result<()> {
        Engine::drain(self, conversation_id).await?;
        Ok(())
    }
}
